"""Cheap probing: narrow support runs, units found by layout, ERF grown only where clipped."""

from __future__ import annotations

import pytest
import torch
from probe_nets import Anisotropic, Residual, SeedCNN
from torch import nn

import rfzoo
from rfzoo.probe.api import prepare, probe_model
from rfzoo.probe.effective import axis_clipped
from rfzoo.probe.plan import narrow_widths, plan_axes
from rfzoo.probe.targets import NoWidthRuns, PlanError, StageUnit, runtime_target
from rfzoo.probe.verify import axis_plans, fallback_plan, measure_axis, verification_entry
from rfzoo.probe.weights import skipped_library_init


def stage(layout: str, size: tuple[int, int], prefix: int = 0) -> StageUnit:
    return StageUnit("s", "s", (5, 3), size, [(0, 9), (0, 9)], layout, prefix)


@pytest.mark.parametrize(
    ("layout", "shape", "prefix"),
    [("NCHW", (3, 8, 12, 1), 0), ("NHWC", (3, 12, 1, 8), 0), ("NLC", (3, 1 + 12 * 2, 8), 1)],
)
def test_runtime_target_reads_the_narrow_size_from_the_tensor(layout, shape, prefix) -> None:
    found = runtime_target(stage(layout, (12, 7), prefix), 0, shape)
    width = 2 if layout == "NLC" else 1
    assert found.output_size == (12, width)
    assert found.unit == (5, None)  # measured axis kept, every position across


def test_runtime_target_refuses_a_wrong_length_along_the_axis() -> None:
    with pytest.raises(PlanError):
        runtime_target(stage("NCHW", (12, 7)), 0, (3, 8, 11, 1))


def test_narrow_widths_start_at_one_and_end_at_the_default() -> None:
    analysis = rfzoo.analyze(SeedCNN(), 64)
    widths = narrow_widths(analysis, [s.name for s in analysis.stage_layers()], 0)
    assert widths[0] == 1 and widths[-1] == 64 and list(widths) == sorted(set(widths))


@pytest.mark.parametrize(("make", "samples"), [(SeedCNN, 16), (Anisotropic, 3), (Residual, 3)])
def test_narrow_runs_measure_the_same_box_as_the_default_width(make, samples) -> None:
    """The support along an axis does not depend on the width across it.

    SeedCNN's one-channel max pools need many samples for the union to fill the box.
    """
    model = make()
    analysis = rfzoo.analyze(model, 64)
    prepared = prepare(model)
    prepared.gm.to(torch.float64)
    from rfzoo.probe.runner import LocalRunner

    runner = LocalRunner(prepared.gm)
    for plan in axis_plans(prepared.analyze_at, analysis):
        narrow_width, narrow, _ = measure_axis(
            runner, plan, prepared.in_channels, samples=samples, seed=0
        )
        wide = plan.__class__(plan.axis, plan.full_size, plan.stages, (plan.full_size[0],))
        wide_width, full, _ = measure_axis(runner, wide, prepared.in_channels, samples=samples, seed=0)
        assert narrow_width < wide_width
        assert [s.box[plan.axis] for s in narrow] == [s.box[plan.axis] for s in full]
        assert [s.box[plan.axis] for s in narrow] == [s.box[plan.axis] for s in plan.stages]


def test_probe_model_verifies_on_width_one() -> None:
    model = Residual()
    out = probe_model(model, rfzoo.analyze(model, 64), erf=False)
    ver = out["verification"]
    assert ver["verified"] is True and ver["cross_size"] == [1, 1]


class Deep(nn.Module):
    """Twelve 5x5 convs (RF 49) after a 3x3 one (RF 3): only the deep stage is clipped at 32."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(1, 4, 3, padding=1)
        self.down = nn.Conv2d(4, 4, 2, stride=2)
        self.deep = nn.Sequential(*(nn.Conv2d(4, 4, 5, padding=2) for _ in range(12)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deep(self.down(torch.relu(self.first(x))))


def test_erf_grows_the_input_only_for_the_clipped_stage() -> None:
    model = Deep()
    out = probe_model(model, rfzoo.analyze(model, 32), verify=False)
    erf = out["erf"]
    first, *_, last = erf["stages"]
    assert first["measured_at"] == [32, 32]  # its whole RF fits: the default map is exact
    assert last["measured_at"] != [32, 32] and erf["input_size"] == last["measured_at"]
    # the default map is placed at the frame's unit: its heat map starts at that RF box
    assert first["heatmap"]["origin"] == [a for a, _ in first["rf_box"]]
    assert first["at_default"]["radius"] == first["radius"]


def test_axis_clipped() -> None:
    assert not axis_clipped((0, 31), 32, reach=100.0)  # whole RF inside: exact
    assert axis_clipped((-10, 41), 32, reach=20.0)  # square of 2*20+1 around 15.5
    assert not axis_clipped((-10, 41), 32, reach=10.0)


def test_skipped_library_init_restores_torch_init() -> None:
    before = nn.init.kaiming_uniform_
    with skipped_library_init():
        layer = nn.Linear(3, 3)
        assert nn.init.kaiming_uniform_ is not before
    assert nn.init.kaiming_uniform_ is before
    assert layer.weight.shape == (3, 3)


class PooledHead(nn.Module):
    """VGG's head in small: a conv as wide as the map (8x8 at a 32-pixel input), then global
    average pooling, which is local only while the map it pools is 1x1."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.down = nn.AvgPool2d(4)  # a max pool's support needs many samples to fill its box
        self.head = nn.Conv2d(4, 4, 8)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head(self.down(torch.relu(self.conv(x)))))


def _plans_and_reference(model: nn.Module, size: int, **kwargs) -> tuple:
    analysis = rfzoo.analyze(model, size)
    prepared = prepare(model)
    names = [*(s.name for s in analysis.stage_layers()), *kwargs.pop("extra", [])]
    return prepared, analysis, axis_plans(prepared.analyze_at, analysis, stages=names, **kwargs)


def test_a_stage_local_at_the_default_input_only_is_measured_there() -> None:
    """The plan's larger input would make the pooling global: the default input is
    measured instead, with the box cut to it (timm's VGG used to be left unmeasured)."""
    model = PooledHead()
    prepared, analysis, plans = _plans_and_reference(model, 32, extra=["pool"])
    (plan,) = plans
    assert plan.joint and plan.full_size == (32, 32)
    assert plan.at_default.startswith("pool is local at the default input only (global at ")
    ver = verification_entry(prepared.gm, analysis, plans, prepared.in_channels)
    assert ver["verified"] is True and ver["clipped"] == ["pool"]  # RF 34 on a 32-pixel input
    assert ver["at_default"] == plan.at_default and ver["input_size"] == [32, 32]


def test_rfs_past_the_probe_limit_are_measured_at_the_default_input() -> None:
    model = Deep()  # RF 51 with jump 2: a 32-pixel limit cannot hold it
    analysis = rfzoo.analyze(model, 32)
    prepared = prepare(model)
    plans = plan_axes(prepared.analyze_at, analysis, max_length=32)
    (plan,) = plans
    assert plan.at_default == "holding these RFs whole takes an input over 32 pixels, the probe's limit"
    ver = verification_entry(prepared.gm, analysis, plans, prepared.in_channels)
    assert ver["verified"] is True and "deep.11" in ver["clipped"]
    assert ver["clipped_reason"].startswith(plan.at_default + "; these stages' RFs reach past the 32x32 input")


class SizedTable(nn.Module):
    """A per-column scale from a table sized for a 16-pixel-wide input, read by a computed
    index: the analysis (meta tensors, no index checks) runs at any width, the real model
    only up to 16, as MViTv2's relative-position tables."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.Sequential(*(nn.Conv2d(1, 1, 3, padding=1) for _ in range(5)))
        self.table = nn.Parameter(torch.ones(16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convs(x)
        return y * self.table[torch.arange(y.shape[-1])]


def test_a_model_that_fails_at_the_planned_input_is_measured_at_the_default() -> None:
    model = SizedTable()
    meta = SizedTable().to("meta")
    analysis = rfzoo.analyze(model, 16)
    prepared = prepare(model)
    plans = axis_plans(lambda size: rfzoo.analyze(meta, size), analysis)
    assert plans[0].full_size[1] > 16 and not plans[0].at_default
    with pytest.raises(NoWidthRuns, match="IndexError"):
        verification_entry(prepared.gm, analysis, plans, prepared.in_channels)
    fallback = fallback_plan(plans, analysis, [s.name for s in analysis.stage_layers()], all_layers=False)
    assert fallback is not None and fallback.joint and fallback.full_size == (16, 16)
    ver = verification_entry(prepared.gm, analysis, [fallback], prepared.in_channels)
    assert ver["verified"] is True and ver["at_default"] == "the model fails at the planned larger input"

"""Cheap probing: narrow support runs, units found by layout, ERF grown only where clipped."""

from __future__ import annotations

import pytest
import torch
from probe_nets import Anisotropic, Residual, SeedCNN
from torch import nn

import rfzoo
from rfzoo.probe.api import prepare, probe_model
from rfzoo.probe.effective import axis_clipped
from rfzoo.probe.plan import PlanError, StageUnit, narrow_widths, runtime_target
from rfzoo.probe.verify import axis_plans, measure_axis
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

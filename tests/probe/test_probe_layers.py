"""The support check of every layer, leaky gates, and narrow runs that mix the positions across."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

import rfzoo
from rfzoo.probe.api import prepare, probe_model
from rfzoo.probe.plan import copied_layers
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import gradient_support
from rfzoo.probe.targets import StageUnit, runtime_target
from rfzoo.probe.units import unit_values
from rfzoo.probe.verify import axis_plans, verification_entry


class DeadBranch(nn.Module):
    """A 5x5 branch behind a ReLU that is dead for every input, plus a live 3x3 branch:
    the RF is 5 (the graph has the path), but plain gradients see only 3."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(1, 1, 5, padding=2)
        self.narrow = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.wide(x) - 1e6) + self.narrow(x)


def test_leaky_gates_reveal_a_path_that_a_dead_relu_hides() -> None:
    gm = torch.fx.symbolic_trace(DeadBranch().double().eval())
    out = next(n for n in gm.graph.nodes if n.op == "output").args[0].name
    plain = gradient_support(LocalRunner(gm), out, (1, 16, 16), (8, 8), samples=4)
    leaky = gradient_support(LocalRunner(gm, leak_gates=True), out, (1, 16, 16), (8, 8), samples=4)
    assert plain.box == [(7, 9), (7, 9)]  # the dead branch hides two pixels per side
    assert leaky.box == [(6, 10), (6, 10)]  # the analytic box of the 5x5 branch
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    assert torch.equal(LocalRunner(gm, leak_gates=True).run(x), gm(x))  # values unchanged


class SaturatedGate(nn.Module):
    """GhostNetV3's DFC attention in miniature: a 3x3 path times a sigmoid gate computed
    by a 5x5 branch whose pre-activations are huge, so the gate is exactly 0 or 1."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(1, 1, 5, padding=2)
        self.narrow = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.narrow(x) * torch.sigmoid(self.wide(x) * 1e12) + torch.tanh(self.narrow(x) * 1e12)


def test_leaky_gates_reveal_a_path_behind_a_saturated_sigmoid() -> None:
    gm = torch.fx.symbolic_trace(SaturatedGate().double().eval())
    out = next(n for n in gm.graph.nodes if n.op == "output").args[0].name
    plain = gradient_support(LocalRunner(gm), out, (1, 16, 16), (8, 8), samples=4)
    leaky = gradient_support(LocalRunner(gm, leak_gates=True), out, (1, 16, 16), (8, 8), samples=4)
    assert plain.box == [(7, 9), (7, 9)]  # the gate's 5x5 branch is hidden, its tanh too
    assert leaky.box == [(6, 10), (6, 10)]
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    assert torch.equal(LocalRunner(gm, leak_gates=True).run(x), gm(x))  # values unchanged


class PadToFour(nn.Module):
    """DaViT's stem: pad right/bottom to a multiple of 4, then a 4x4 stride-4 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 4, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, (-x.shape[-1]) % 4, 0, (-x.shape[-2]) % 4)))


def test_narrow_run_mixes_every_position_across_the_axis() -> None:
    stage = StageUnit("conv", "conv", (5, 5), (8, 8), [(20, 23), (20, 23)], layout="NCHW")
    found = runtime_target(stage, 0, (3, 2, 8, 1))
    assert found.unit == (5, None) and found.output_size == (8, 1)
    out = torch.arange(2 * 3 * 8 * 4, dtype=torch.float64).reshape(2, 3, 8, 4)
    assert unit_values(out, (8, 4), (5, None)).shape == (2, 12)
    assert torch.equal(unit_values(out, (8, 4), (5, None)), out[:, :, 5, :].reshape(2, -1))
    tokens = torch.randn(2, 1 + 8 * 4, 6)  # a class token first
    picked = unit_values(tokens, (8, 4), (None, 2))
    assert torch.equal(picked, tokens[:, 1 + torch.arange(8) * 4 + 2, :].reshape(2, -1))
    # one column of real input padded to 4 (DaViT): the middle position across is padding
    gm = torch.fx.symbolic_trace(PadToFour().double().eval())
    pad = next(n.name for n in gm.graph.nodes if n.op == "call_function" and n.target is F.pad)
    runner = LocalRunner(gm)
    middle = gradient_support(runner, pad, (1, 32, 1), (20, 1), (32, 4), samples=2)
    mixed = gradient_support(runner, pad, (1, 32, 1), (20, None), (32, 4), samples=2)
    assert middle.box == [None, None]
    assert mixed.box == [(20, 20), (0, 0)]


def test_every_layer_is_checked_and_copies_share_their_head() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 1),
        nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1),
    )
    analysis = rfzoo.analyze(model, 64)
    copies = copied_layers(analysis)
    assert {"1", "2", "4", "5"} <= set(copies)  # norm, activations and the 1x1 conv
    assert copies["2"] == "0" and copies["5"] == "3"
    result = probe_model(model, analysis, erf=False)
    ver = result["verification"]
    layers = ver["layers"]
    local = [ly for ly in analysis.layers if ly.kind != "input" and ly.rf is not None]
    assert layers["checked"] == len(local) == layers["agree"]
    stages = {st["node"] for st in ver["stages"]}  # a stage is measured even when a copy
    assert layers["copies"] == len(set(copies) - stages) > 0 and layers["disagree"] == []
    assert ver["verified"] is True


def test_a_wrong_box_at_any_layer_is_reported() -> None:
    """The check can fail: shift one non-stage layer's analytic box by a pixel."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1),
                          nn.Conv2d(4, 4, 5, padding=2), nn.Conv2d(4, 4, 3, stride=2, padding=1))
    analysis = rfzoo.analyze(model, 64)
    prepared = prepare(model)
    plans = axis_plans(prepared.analyze_at, analysis, all_layers=True)
    assert plans[0].layers, "the middle convs are not stages: they are the other layers"
    victim = plans[0].layers[0]
    (lo, hi) = victim.box[0]
    wrong = dataclasses.replace(victim, box=[(lo, hi + 1), victim.box[1]])
    plans = [dataclasses.replace(p, layers=[wrong, *p.layers[1:]]) for p in plans]
    prepared.gm.to(torch.float64)
    ver = verification_entry(prepared.gm, analysis, plans, 3)
    bad = ver["layers"]["disagree"]
    assert [b["node"] for b in bad] == [victim.name]
    assert bad[0]["analytic_box"][0] == [lo, hi + 1] and bad[0]["measured_box"][0] == [lo, hi]
    assert ver["verified"] is False

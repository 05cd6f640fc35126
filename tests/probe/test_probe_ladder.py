"""The catalog's stage check climbs a ladder (float32 on one input, float64 on one input,
float64 on all three) and stops where a stage's box equals the analytic one: the same
boxes as three inputs throughout, and each rung is taken only when the one below falls
short (max pooling's routing needs more inputs, a deep chain's edge needs float64)."""

from __future__ import annotations

from pathlib import Path

import torch
from probe_nets import DeepChain, SeedCNN
from torch import nn

import rfzoo
from rfzoo.probe.api import prepare
from rfzoo.probe.plan import plan_axes
from rfzoo.probe.targets import stage_names
from rfzoo.probe.verify import verification_entry


def both_ways(model: nn.Module, size: int, weights: Path | None = None) -> tuple[dict, dict]:
    """The stage verification with three inputs throughout, and with the ladder."""
    analysis = rfzoo.analyze(model, size)
    prepared = prepare(model, weights=weights)
    plans = plan_axes(prepared.analyze_at, analysis, stages=stage_names(analysis))
    boxes_from = prepared.analyze_at(plans[0].full_size)
    three = verification_entry(prepared.gm, boxes_from, plans, prepared.in_channels, float32_first=True)
    ladder = verification_entry(prepared.gm, boxes_from, plans, prepared.in_channels, float32_first=True,
                                first_samples=1)
    return three, ladder


def boxes(entry: dict) -> list:
    return [s["measured_box"] for s in entry["stages"]]


class PooledStack(nn.Module):
    """Two conv/max-pool pairs on one channel: one random input's argmaxes miss the box's
    edge, the union over three reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2, 2),
                                  nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_max_pooling_climbs_to_all_samples_and_ends_with_the_same_boxes() -> None:
    three, ladder = both_ways(PooledStack(), 96)
    assert three["verified"] and ladder["verified"]
    assert boxes(ladder) == boxes(three)
    assert ladder["first_samples"] == 1
    assert ladder["sample_rechecks"] >= 1  # one input fell short, in float64 too; three did not
    assert ladder["float64_rechecks"] >= ladder["sample_rechecks"]
    assert "first_samples" not in three and "sample_rechecks" not in three


def test_the_ladder_gives_the_verdict_of_three_inputs_when_three_fall_short() -> None:
    # the seed's net: the same disagreements (if any) and the same boxes either way
    three, ladder = both_ways(SeedCNN(), 32)
    assert boxes(ladder) == boxes(three)
    assert ladder["verified"] == three["verified"]


def test_a_deep_chain_takes_the_float64_rung_on_one_input(tmp_path: Path) -> None:
    model = DeepChain(60, edge=0.01)  # edge rows ~1e-120: below float32 even scaled by 2**64
    weights = tmp_path / "chain.pt"
    torch.save(model.state_dict(), weights)
    three, ladder = both_ways(model, 160, weights)
    assert three["verified"] and ladder["verified"]
    assert boxes(ladder) == boxes(three)
    assert ladder["float64_rechecks"] == three["float64_rechecks"] >= 1
    assert ladder["sample_rechecks"] == 0  # float64 on one input already reaches the edge

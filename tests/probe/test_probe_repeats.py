"""The stage check measures a run of repeated blocks at its ends only (`plan.repeated_stages`)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

import rfzoo
from rfzoo.probe.api import prepare
from rfzoo.probe.plan import plan_axes
from rfzoo.probe.targets import PlanError, StageUnit, runtime_target
from rfzoo.probe.verify import verification_entry


class Block(nn.Module):
    """A residual per-position MLP (a ViT block without its attention); `extra` adds one op."""

    def __init__(self, c: int, *, extra: bool = False, kernel: int = 1) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, 2 * c, kernel, padding=kernel // 2)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(2 * c, c, 1)
        self.extra = nn.GELU() if extra else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.act(self.fc1(x)))
        if self.extra is not None:
            y = self.extra(y)
        return x + y


class Blocks(nn.Module):
    """A 4x4 patch stem and 8 blocks, each a stage; block `odd` gets one more op."""

    def __init__(self, odd: int | None = None, kernel_at: int | None = None) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.blocks = nn.Sequential(*(Block(8, extra=i == odd, kernel=3 if i == kernel_at else 1)
                                      for i in range(8)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))


STAGES = [f"blocks.{i}.add" for i in range(8)]


def plans_of(model: nn.Module, *, all_layers: bool = False):
    analysis = rfzoo.analyze(model, 32)
    prepared = prepare(model)
    return prepared, analysis, plan_axes(prepared.analyze_at, analysis, stages=STAGES, all_layers=all_layers)


def test_a_run_of_repeated_blocks_is_measured_at_its_ends() -> None:
    prepared, analysis, plans = plans_of(Blocks())
    # blocks.1 is the block's first instance after blocks.0 (whose segment starts at the stem)
    assert plans[0].repeats == {f"blocks.{i}.add": ("blocks.1.add", "blocks.7.add") for i in range(2, 7)}
    ver = verification_entry(prepared.gm, analysis, plans, prepared.in_channels, float32_first=True)
    assert ver["verified"] is True
    assert [s["node"] for s in ver["stages"]] == STAGES  # every stage reported, in order
    implied = [s for s in ver["stages"] if s.get("implied_by")]
    assert len(implied) == 5
    assert all(s["measured_box"] is None and s["agree"] for s in implied)
    measured = [s for s in ver["stages"] if not s.get("implied_by")]
    assert [s["node"] for s in measured] == ["blocks.0.add", "blocks.1.add", "blocks.7.add"]
    assert all(s["measured_box"] == s["analytic_box"] for s in measured)


def test_the_every_layer_check_measures_each_stage() -> None:
    _, _, plans = plans_of(Blocks(), all_layers=True)
    assert plans[0].repeats == {}


def test_a_block_with_another_op_breaks_the_run() -> None:
    """Block 4 has one more op (same box): the runs stop before it and start again after it."""
    _, _, plans = plans_of(Blocks(odd=4))
    # blocks.5 follows the odd block (measured): the run after it starts at blocks.6
    assert plans[0].repeats == {"blocks.2.add": ("blocks.1.add", "blocks.3.add"),
                                "blocks.6.add": ("blocks.5.add", "blocks.7.add")}


def test_a_block_that_grows_the_box_is_no_repeat() -> None:
    """A 3x3 conv in block 5: the same kind of ops, another rule and a larger box."""
    _, analysis, plans = plans_of(Blocks(kernel_at=5))
    assert analysis.layer("blocks.5.add").rf != analysis.layer("blocks.4.add").rf
    assert "blocks.5.add" not in plans[0].repeats and "blocks.4.add" not in plans[0].repeats
    assert plans[0].repeats == {"blocks.2.add": ("blocks.1.add", "blocks.4.add"),
                                "blocks.3.add": ("blocks.1.add", "blocks.4.add")}


def test_an_implied_stage_disagrees_when_the_run_end_disagrees() -> None:
    """The implied stages stand on their bounds: a wrong box at the run's end fails them too."""
    prepared, analysis, plans = plans_of(Blocks())
    wrong = [replace(s, box=[(lo + 1, hi) for lo, hi in s.box]) if s.name == "blocks.7.add" else s
             for s in plans[0].stages]
    plans = [replace(p, stages=wrong) for p in plans]
    ver = verification_entry(prepared.gm, analysis, plans, prepared.in_channels, float32_first=True)
    assert ver["verified"] is False
    by_node = {s["node"]: s for s in ver["stages"]}
    assert by_node["blocks.7.add"]["agree"] is False and by_node["blocks.1.add"]["agree"] is True
    assert all(by_node[f"blocks.{i}.add"]["agree"] is False for i in range(2, 7))


def test_runtime_target_takes_every_axis_of_a_joint_run_of_tokens() -> None:
    """A joint run holds the whole input: a 3-axis token tensor (MViT's video tokens) is
    split by the analysis's sizes; a narrow run of it cannot be split."""
    stage = StageUnit("s", "s", (2, 3, 4), (4, 6, 8), [(0, 1), (0, 9), (0, 9)], "NLC", 1)
    found = runtime_target(stage, 1, (2, 1 + 4 * 6 * 8, 16))
    assert found.output_size == (4, 6, 8) and found.unit == (None, 3, None)
    with pytest.raises(PlanError, match="3 axes"):
        runtime_target(stage, 1, (2, 1 + 6 * 2, 16))

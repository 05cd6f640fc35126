"""Gradient support equals the hand-computed RF box; float32 and single samples do not."""

from __future__ import annotations

import pytest
import torch
import torch.fx
from probe_nets import (
    Anisotropic,
    Chain,
    DeepChain,
    FunctionalGroupNorm,
    Normed,
    Residual,
    SeedCNN,
    SqueezeExcite,
)
from torch import nn

from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import gradient_support
from rfzoo.probe.units import LayoutError, center_unit, unit_values
from rfzoo.probe.weights import randomize_


def traced(model: nn.Module, dtype: torch.dtype = torch.float64) -> torch.fx.GraphModule:
    return torch.fx.symbolic_trace(model.to(dtype).eval())


def out_node(gm: torch.fx.GraphModule) -> str:
    (output,) = [n for n in gm.graph.nodes if n.op == "output"]
    return output.args[0].name


@pytest.mark.parametrize(
    ("model", "in_shape", "unit", "box"),
    [
        (Chain(), (2, 32, 32), (4, 5), [(13, 19), (17, 23)]),
        (Anisotropic(), (1, 20, 24), (7, 11), [(6, 8), (7, 15)]),
        (Residual(), (1, 32, 32), (8, 7), [(12, 20), (10, 18)]),
        (SeedCNN(), (1, 32, 32), (4, 4), [(13, 22), (13, 22)]),
    ],
    ids=["chain", "anisotropic", "residual", "maxpool"],
)
def test_support_equals_hand_box(model, in_shape, unit, box) -> None:
    gm = traced(randomize_(model, seed=1))
    support = gradient_support(LocalRunner(gm), out_node(gm), in_shape, unit, samples=8)
    assert support.box == box


def test_center_unit_at_border_is_clipped_by_the_image() -> None:
    gm = traced(randomize_(Chain()))
    support = gradient_support(LocalRunner(gm), "c2", (2, 32, 32), (0, 0), samples=3)
    assert support.box == [(0, 3), (0, 3)]  # [-3, 3] cut at pixel 0


def test_one_sample_under_reports_max_pooling_and_the_union_does_not() -> None:
    gm = traced(randomize_(SeedCNN(), seed=0))
    runner = LocalRunner(gm)
    truth = [(13, 22), (13, 22)]
    short = 0
    for seed in range(6):
        support = gradient_support(runner, "pool2", (1, 32, 32), (4, 4), samples=16, seed=seed)
        assert support.box == truth
        short += sum(b != truth for b in support.sample_boxes)
    # each 2x2 max pool passes the gradient to one argmax: single samples fall short
    assert short >= 24


def test_float32_underflows_at_the_edge_where_float64_does_not() -> None:
    depth, rf = 60, 121
    model = DeepChain(depth, edge=0.1)
    unit = (10, 10)
    boxes = {}
    for dtype in (torch.float32, torch.float64):
        gm = traced(model, dtype)
        support = gradient_support(
            LocalRunner(gm), out_node(gm), (1, 150, 150), unit, samples=1, dtype=dtype
        )
        boxes[dtype] = support.box
    assert boxes[torch.float64] == [(10, 10 + rf - 1)] * 2
    lo, hi = boxes[torch.float32][0]
    # float32 loses the edge rows, where the gradient is below 1.4e-45
    assert 2 * 45 + 1 < hi - lo + 1 < rf
    assert (lo, hi) == boxes[torch.float32][1]


def test_squeeze_excite_gate_detached_gives_local_box() -> None:
    gm = traced(randomize_(SqueezeExcite()))
    node = out_node(gm)
    full = gradient_support(LocalRunner(gm), node, (2, 16, 16), (8, 8))
    assert full.box == [(0, 15), (0, 15)]  # the gate sees everything
    pooled = next(n.name for n in gm.graph.nodes if n.op == "call_method" and n.target == "mean")
    local = gradient_support(LocalRunner(gm, detach={pooled}), node, (2, 16, 16), (8, 8))
    assert local.box == [(7, 9), (7, 9)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Normed(nn.GroupNorm(2, 4)),
        lambda: Normed(nn.InstanceNorm2d(4, affine=True)),
        lambda: Normed(nn.LayerNorm([4, 16, 16])),
        FunctionalGroupNorm,
    ],
    ids=["groupnorm", "instancenorm", "layernorm-spatial", "functional-groupnorm"],
)
def test_norm_statistics_detached_gives_local_box(make) -> None:
    gm = traced(randomize_(make()))
    node = out_node(gm)
    full = gradient_support(
        LocalRunner(gm, detach_norm_statistics=False), node, (1, 16, 16), (8, 8)
    )
    assert full.box == [(0, 15), (0, 15)]
    local = gradient_support(LocalRunner(gm), node, (1, 16, 16), (8, 8))
    assert local.box == [(6, 10), (6, 10)]


def test_channel_layernorm_keeps_its_gradient() -> None:
    class ChannelsLast(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.norm = nn.LayerNorm(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(self.conv(x).permute(0, 2, 3, 1))

    gm = traced(randomize_(ChannelsLast()))
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    assert torch.equal(LocalRunner(gm).run(x), gm(x))  # per position: nothing detached
    support = gradient_support(LocalRunner(gm), "norm", (1, 8, 8), (4, 4), output_size=(8, 8))
    assert support.box == [(3, 5), (3, 5)]


def test_capture_stops_early_and_matches_the_full_run() -> None:
    gm = traced(randomize_(Residual()))
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    got = LocalRunner(gm).capture(x, names=["stem", "down"])
    assert torch.equal(got["down"], gm(x))
    assert torch.equal(got["stem"], gm.stem(x))


def test_unknown_nodes_are_refused() -> None:
    gm = traced(Chain())
    with pytest.raises(ValueError, match="not in the graph"):
        LocalRunner(gm, detach={"nope"})
    with pytest.raises(ValueError, match="not in the graph"):
        LocalRunner(gm).capture(torch.zeros(1, 2, 8, 8, dtype=torch.float64), names=["nope"])


def test_unit_values_layouts() -> None:
    nchw = torch.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    expect = nchw[:, :, 1, 2]
    assert torch.equal(unit_values(nchw, (4, 5), (1, 2)), expect)
    assert torch.equal(unit_values(nchw.permute(0, 2, 3, 1), (4, 5), (1, 2)), expect)
    tokens = nchw.flatten(2).transpose(1, 2)  # N, L, C
    assert torch.equal(unit_values(tokens, (4, 5), (1, 2)), expect)
    with_cls = torch.cat([torch.zeros(2, 1, 3, dtype=tokens.dtype), tokens], dim=1)
    assert torch.equal(unit_values(with_cls, (4, 5), (1, 2)), expect)
    with pytest.raises(LayoutError):
        unit_values(nchw, (4, 5), (4, 0))
    with pytest.raises(LayoutError):
        unit_values(nchw, (7, 7), (1, 1))
    assert center_unit((7, 8)) == (3, 3)

"""BoTNet's and HaloNet's relative-position logits, kept whole, against gradients."""

from __future__ import annotations

import torch
from oracle import assert_agree, compare, prepared
from timm.layers.bottleneck_attn import BottleneckAttn
from timm.layers.halo_attn import HaloAttn
from torch import nn


class WithAttn(nn.Module):
    def __init__(self, attn: nn.Module, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.attn = attn
        self.head = nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.head(self.attn(x) + x if self.residual else self.attn(x))


def test_halo_attention_reads_its_block_and_halo():
    analysis, runner = prepared(WithAttn(HaloAttn(16, 16, num_heads=2, block_size=4, halo_size=2)), 32)
    assert analysis.status == "exact"
    # a 4x4 block with a 2-pixel halo (8x8 keys) after a 3x3 stem, then a 3x3 head
    for unit in ((13, 14), (16, 16), (8, 23)):
        assert_agree(compare(analysis, runner, ["head"], {"head": unit}))


def test_bottleneck_attention_is_global_and_keeps_its_local_path():
    analysis, runner = prepared(WithAttn(BottleneckAttn(16, 16, feat_size=(16, 16), num_heads=2), residual=True), 16)
    assert analysis.status == "exact"
    assert analysis.layer("head").is_global and analysis.layer("head").rf == [5, 5]  # the residual's path
    assert_agree(compare(analysis, runner, ["head"]))


class MaxWithIndices(nn.Module):
    """max(dim) returns (values, indices): over channels it is per pixel, over tokens global."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.stem(x)
        per_pixel = self.head(y.max(1, keepdim=True)[0])
        pooled = y.flatten(2).max(2)[0]  # VOLO's aux head: the largest token
        return per_pixel, pooled


def test_reductions_that_return_indices():
    analysis, runner = prepared(MaxWithIndices(), 16)
    assert analysis.status == "exact"
    assert analysis.layer("head").rf == [5, 5]
    assert_agree(compare(analysis, runner, ["head"]))

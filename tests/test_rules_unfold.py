"""Unfold, fold, Tensor.unfold, pads of flattened tokens, and windows in unusual layouts:
analytic boxes against gradient support, and the timm models that use them.

Each module is small (a few channels, inputs under 64 pixels) so the float64 gradient
check runs in well under a second. Fold (stride 2) and per-block keys make a unit's RF
depend on its position, so those are checked over a period of positions.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from oracle import assert_agree, compare, prepared
from torch import nn

from rfzoo import analyze
from rfzoo.errors import UnsupportedOpError

# -- unfold and fold -------------------------------------------------------------------------


class Outlook(nn.Module):
    """VOLO's outlook attention in miniature: unfold k=3 s=2, per-position weights over the
    9 offsets (from a pooled map), a matmul over the offsets, fold back, a 3x3 head."""

    def __init__(self, stride: int = 2) -> None:
        super().__init__()
        self.stride = stride
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.unfold = nn.Unfold(3, padding=1, stride=stride)
        self.pool = nn.AvgPool2d(stride, stride)
        self.attn = nn.Conv2d(4, 81, 1)
        self.head = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        n = (h // self.stride) * (w // self.stride)
        v = self.unfold(x).reshape(b, c, 9, n).permute(0, 3, 2, 1)  # B, N, 9, C
        a = self.attn(self.pool(x)).reshape(b, 9, 9, n).permute(0, 3, 1, 2).softmax(dim=-1)  # B, N, 9, 9
        out = (a @ v).permute(0, 3, 2, 1).reshape(b, c * 9, n)
        out = F.fold(out, (h, w), 3, padding=1, stride=self.stride)
        return self.head(out)


@pytest.mark.parametrize("stride", [1, 2])
def test_unfold_offsets_are_channels_and_fold_is_a_transposed_window(stride: int) -> None:
    analysis, runner = prepared(Outlook(stride), 32)
    unfold = analysis.layer("unfold")
    assert unfold.rf == [5, 5] and unfold.jump == [stride, stride]  # stem 3 + a 3x3 window
    assert not any(layer.is_global for layer in analysis.layers)  # mixing offsets is per position
    fold = next(layer for layer in analysis.layers if layer.op.startswith("fold"))
    assert fold.jump == [1, 1] and fold.position_dependent == (stride > 1)
    for u in range(10, 10 + 2 * stride):
        assert_agree(compare(analysis, runner, ["head"], {"head": (u, 21 - u)}))


class Patches(nn.Module):
    """TNT's pixel embedding: unfold 4x4 patches into tokens, a conv inside each patch
    (its pixels are channel-like offsets), back to a patch grid, a 3x3 head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 1, 1)
        self.unfold = nn.Unfold(4, stride=4)
        self.inner = nn.Conv2d(1, 3, 3, padding=1)
        self.head = nn.Conv2d(48, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        t = self.unfold(x).transpose(1, 2).reshape(b * (h // 4) * (w // 4), c, 4, 4)
        t = self.inner(t).reshape(b, h // 4, w // 4, -1).permute(0, 3, 1, 2)
        return self.head(t)


def test_unfolded_patches_keep_their_pixels_inside_the_patch() -> None:
    analysis, runner = prepared(Patches(), 32)
    assert analysis.layer("inner").rf == [4, 4] and analysis.layer("inner").jump == [4, 4]
    assert analysis.layer("head").rf == [12, 12]
    assert_agree(compare(analysis, runner, ["head"]))


def test_fold_of_columns_that_are_not_the_block_grid_is_unsupported() -> None:
    class Bad(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            cols = x.flatten(2).transpose(1, 2).reshape(1, 16 * 16, 1)  # positions in the columns
            return F.fold(cols, (16, 16), 16)

    with pytest.raises(UnsupportedOpError, match="folding columns that hold positions"):
        analyze(Bad(), 16, in_channels=1)


# -- Tensor.unfold ---------------------------------------------------------------------------


class Halo(nn.Module):
    """HaloNet's key windows: pad, x.unfold twice (windows of 6 every 4), the offsets mixed
    per block; queries are per pixel, keys per 4x4 block (added by broadcasting)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.kv = nn.Conv2d(4, 4, 1)
        self.head = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        nh, nw = h // 4, w // 4
        q = x.reshape(b, c, nh, 4, nw, 4).permute(0, 2, 4, 3, 5, 1).reshape(b, nh * nw, 16, c)
        kv = F.pad(self.kv(x), [1, 1, 1, 1]).unfold(2, 6, 4).unfold(3, 6, 4)  # B, C, nh, nw, 6, 6
        k = kv.reshape(b, c, nh * nw, 36).permute(0, 2, 3, 1).amax(dim=2, keepdim=True)  # B, nB, 1, C
        out = (q + k).reshape(b, nh, nw, 4, 4, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)
        return self.head(out)


def test_tensor_unfold_windows_and_per_block_keys() -> None:
    analysis, runner = prepared(Halo(), 32)
    first = next(layer for layer in analysis.layers if layer.op.startswith("unfold"))
    assert first.op == "unfold(dim=2, size=6, step=4)"
    assert not any(layer.is_global for layer in analysis.layers)
    assert analysis.layer("head").position_dependent
    # a block's keys: stem 3 + window 6 = 8 px; the 3x3 head reads units that straddle blocks
    for u in range(8, 12):
        assert_agree(compare(analysis, runner, ["head"], {"head": (u, 19 - u)}))


def test_tensor_unfold_of_a_flattened_dim_is_unsupported() -> None:
    class Bad(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(2).unfold(2, 4, 4)

    with pytest.raises(UnsupportedOpError, match="not one spatial axis"):
        analyze(Bad(), 16, in_channels=1)


# -- pads of flattened tokens ------------------------------------------------------------------


class PrefixPad(nn.Module):
    """CoaT's conv position encoding: zero-pad the token dim in front where the class token
    sits, add it to tokens that carry a class token, slice the class token off again."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.cls = nn.Parameter(torch.zeros(1, 1, 4))
        self.head = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        tokens = torch.cat((self.cls.expand(b, -1, -1), t), dim=1)
        t = tokens + F.pad(t * 2, (0, 0, 1, 0))
        return self.head(t[:, 1:].transpose(1, 2).reshape(b, c, h, w))


def test_a_pad_in_front_of_flattened_tokens_adds_prefix_tokens() -> None:
    analysis, runner = prepared(PrefixPad(), 16)
    assert analysis.status == "exact" and analysis.layer("head").rf == [5, 5]
    assert_agree(compare(analysis, runner, ["head"]))


def test_a_pad_after_flattened_tokens_is_unsupported() -> None:
    class Skew(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.pad(x.flatten(2), (0, 3))

    with pytest.raises(UnsupportedOpError, match="padding a flattened spatial dim"):
        analyze(Skew(), 16, in_channels=1)


# -- windows in unusual layouts -----------------------------------------------------------------


class WindowPool(nn.Module):
    """Hiera (SAM2) q-pool: windows partitioned into the batch dim, a 2x2 max pool inside
    each window, the windows put back together at half the size."""

    def __init__(self, ws: int = 8) -> None:
        super().__init__()
        self.ws = ws
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.head = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).permute(0, 2, 3, 1)
        b, h, w, c = x.shape
        ws = self.ws
        win = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, c)
        win = self.pool(win.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        hs = ws // 2
        y = win.reshape(b, h // ws, w // ws, hs, hs, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, c)
        return self.head(y.permute(0, 3, 1, 2))


def test_pool_over_the_lowest_digit_of_partitioned_windows() -> None:
    analysis, runner = prepared(WindowPool(), 32)
    pool = analysis.layer("pool")
    assert pool.rf == [4, 4] and pool.jump == [2, 2]
    assert analysis.layer("head").rf == [8, 8] and analysis.layer("head").layout == "NCHW"
    assert_agree(compare(analysis, runner, ["head"]))


def space_to_depth(x: torch.Tensor, bs: int = 4) -> torch.Tensor:
    """timm's SpaceToDepth (TResNet's stem): the pixel phases go into channels."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // bs, bs, w // bs, bs).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(n, c * bs * bs, h // bs, w // bs)


class SpaceToDepthConv(nn.Module):
    def __init__(self, groups: int = 1) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 1, 1)
        self.conv = nn.Conv2d(16, 16, 3, padding=1, groups=groups)
        self.head = nn.Conv2d(16, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(space_to_depth(self.stem(x))))


def test_a_conv_after_space_to_depth_reads_whole_blocks() -> None:
    analysis, runner = prepared(SpaceToDepthConv(), 32)
    conv = analysis.layer("conv")
    assert conv.rf == [12, 12] and conv.jump == [4, 4] and conv.layout == "NCHW"
    assert analysis.layer("head").rf == [20, 20]
    assert_agree(compare(analysis, runner, ["conv", "head"]))


def test_a_depthwise_conv_after_space_to_depth_is_unsupported() -> None:
    with pytest.raises(UnsupportedOpError, match="window over a non-spatial dim"):
        analyze(SpaceToDepthConv(groups=16), 32)


def test_a_conv_whose_channels_are_the_tokens_mixes_all_positions() -> None:
    class TokenConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(1, 4, 3, padding=1)
            self.mix = nn.Conv1d(64, 64, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mix(self.stem(x).flatten(2).transpose(1, 2))

    analysis = analyze(TokenConv(), 8)
    assert analysis.layer("mix").is_global and analysis.status == "exact"


class TokenPool(nn.Module):
    """NextViT's key/value reduction: AvgPool1d over flattened H*W tokens."""

    def __init__(self, k: int, rows: bool) -> None:
        super().__init__()
        self.k, self.rows = k, rows  # rows: k divides the row length
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.sr = nn.AvgPool1d(k, k)
        self.head = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        t = self.sr(x.flatten(2))  # B, C, H*W/k
        return self.head(t.reshape(b, c, h, w // self.k) if self.rows else t.reshape(b, c, -1, 1))


def test_a_1d_pool_within_token_rows_pools_along_the_row() -> None:
    analysis, runner = prepared(TokenPool(4, rows=True), (16, 32))
    assert analysis.layer("sr").rf == [3, 6] and analysis.layer("sr").jump == [1, 4]
    assert analysis.layer("head").rf == [5, 14]
    assert_agree(compare(analysis, runner, ["head"]))


@pytest.mark.parametrize("k,size", [(8, 12), (12, 12)])  # runs across rows; whole rows
def test_a_1d_pool_that_straddles_token_rows_mixes_all_positions(k: int, size: int) -> None:
    analysis = analyze(TokenPool(k, rows=False), size)
    sr = analysis.layer("sr")
    assert sr.is_global and "across token rows" in sr.op
    assert analysis.status == "exact"


# -- timm models ----------------------------------------------------------------------------------


def test_timm_outlooker_block_against_gradients() -> None:
    from timm.models.volo import Outlooker

    class TimmWrapped(nn.Module):
        __module__ = "timm.rfzoo_test"  # analyze() traces timm modules with timm's leaf settings

        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(1, 8, 3, padding=1)
            self.block = Outlooker(8, kernel_size=3, padding=1, stride=2, num_heads=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.block(self.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    analysis, runner = prepared(TimmWrapped(), 32)
    assert analysis.status == "exact"
    last = analysis.summary()["node"]
    for u in range(14, 16):
        assert_agree(compare(analysis, runner, [last], {last: (u, u)}))


@pytest.mark.slow
@pytest.mark.parametrize("name,size", [
    ("tnt_s_patch16_224", 224),
    ("coat_lite_tiny", 224),  # a fixed input size
    ("hieradet_small", 128),
    ("tresnet_m", 64),
    ("nextvit_small", 64),
])
def test_timm_models_are_now_exact(name: str, size: int) -> None:
    analysis = analyze(f"timm/{name}", input_size=size)
    assert analysis.status == "exact"

"""Slicing, index lists, repeats, casts, flips and MViTv2's token reshapes: analytic boxes
against gradient support on small hand-made nets, and the timm models they unblock (slow).
"""

from __future__ import annotations

import pytest
import torch
from oracle import assert_agree, compare, prepared
from torch import nn

import rfzoo
from rfzoo.errors import UnsupportedOpError


class Stem(nn.Module):
    """A 3x3 conv stem and a 3x3 conv head around `body` (NCHW in and out)."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.head = nn.Conv2d(channels, 2, 3, padding=1)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))


def _exact(module: nn.Module, size: int, columns: range | None = None, layer: str = "head") -> rfzoo.Analysis:
    """Exact analysis, and the gradient agrees at the central unit (or the central row's
    units at `columns`: one period of a position-dependent RF)."""
    analysis, runner = prepared(module, size)
    assert analysis.status == "exact", analysis.reason
    row = analysis.layer(layer).output_size[0] // 2
    picks = [None] if columns is None else [{layer: (row, u)} for u in columns]
    for units in picks:
        assert_agree(compare(analysis, runner, [layer], units))
    return analysis


# -- getitem -------------------------------------------------------------------------------------


class EmptyPrefixSlice(Stem):
    """timm's AttentionRope without prefix tokens: cat(q[:, :, :0], rope(q[:, :, 0:]))."""

    def body(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        t = torch.cat([t[:, :0], t[:, 0:] * 2.0], dim=1)
        return t.transpose(1, 2).reshape(b, c, h, w)


def test_an_empty_slice_has_no_units_and_cat_keeps_the_tokens() -> None:
    analysis = _exact(EmptyPrefixSlice(), 16)
    assert analysis.layer("head").rf == [5, 5]


class RowSlice(Stem):
    """Flattened tokens, a slice that keeps whole rows 3..9, back to NCHW."""

    def body(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        t = x.flatten(2)[:, :, 3 * 16: 10 * 16]
        return t.reshape(b, c, 7, 16)


def test_slicing_whole_rows_of_flattened_tokens_crops_the_outer_axis() -> None:
    analysis = _exact(RowSlice(), 16)
    head = analysis.layer("head")
    assert head.output_size == [7, 16] and head.rf == [5, 5]
    assert analysis.unit_box("head", (0, 8)) == [(1, 5), (6, 10)]  # row 0 is input row 3


class PrefixRowSlice(Stem):
    """A class token in front, then the spatial tokens of rows 2.. only."""

    def __init__(self) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, 4))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        t = torch.cat([self.cls.expand(b, -1, -1), x.flatten(2).transpose(1, 2)], dim=1)
        return t[:, 1 + 2 * 16:].transpose(1, 2).reshape(b, c, 14, 16)


def test_slicing_past_the_prefix_tokens_crops_rows() -> None:
    analysis = _exact(PrefixRowSlice(), 16)
    assert analysis.unit_box("head", (0, 8))[0] == (0, 4)


class PartRowSlice(Stem):
    def body(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2)[:, :, 5:21].reshape(x.shape[0], x.shape[1], 1, 16)


def test_slicing_part_of_a_row_is_refused() -> None:
    with pytest.raises(UnsupportedOpError, match="not whole rows"):
        rfzoo.analyze(PartRowSlice(), 16)


class ChannelZigzag(Stem):
    """CSATv2's zigzag reorder of DCT coefficients: an index list along channels."""

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, [3, 0, 2, 1]]


class StridedColumns(Stem):
    """An index list of evenly spaced columns: a strided crop of W."""

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :, [1, 3, 5, 7, 9, 11]]


class ShuffledColumns(Stem):
    def body(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :, [2, 0, 1, 3]]


def test_index_list_along_channels_is_per_pixel() -> None:
    assert _exact(ChannelZigzag(), 16).layer("head").rf == [5, 5]


def test_index_list_of_evenly_spaced_columns_is_a_strided_crop() -> None:
    analysis = _exact(StridedColumns(), 16, columns=range(1, 5))
    head = analysis.layer("head")
    assert head.jump == [1, 2] and head.rf == [5, 7]
    assert analysis.unit_box("head", (8, 1)) == [(6, 10), (0, 6)]  # columns 1, 3, 5, each +-1


def test_index_list_that_reorders_positions_is_refused() -> None:
    with pytest.raises(UnsupportedOpError, match="gathering positions"):
        rfzoo.analyze(ShuffledColumns(), 16)


# -- repeat_interleave ------------------------------------------------------------------------------


class RepeatColumns(Stem):
    """repeat_interleave(3) along W: nearest upsampling by 3; along channels: per pixel."""

    def __init__(self) -> None:
        super().__init__(channels=4)
        self.head = nn.Conv2d(8, 2, 3, padding=1)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(3, dim=-1).repeat_interleave(2, dim=1)


def test_repeat_interleave_along_a_spatial_axis_is_nearest_upsampling() -> None:
    analysis = _exact(RepeatColumns(), 16, columns=range(21, 24))
    head = analysis.layer("head")
    assert head.output_size == [16, 48] and head.jump == [1, pytest.approx(1 / 3)]
    # a 3-column window at jump 1/3 reads one or two stem columns: RF 3 or 4 pixels
    assert head.rf == [5, 4] and head.rf_min == [5, 3]


class RepeatHeads(nn.Module):
    """Grouped-query attention's K/V heads repeated to the query heads, in windows of 4."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.q = nn.Linear(8, 8)
        self.kv = nn.Linear(8, 8)
        self.head = nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        t = x.reshape(b, c, h, w // 4, 4).permute(0, 2, 3, 4, 1).reshape(b * h * (w // 4), 4, c)
        q = self.q(t).reshape(-1, 4, 4, 2).transpose(1, 2)  # 4 heads
        k, v = self.kv(t).reshape(-1, 4, 2, 4).permute(2, 0, 1, 3).unbind(0)  # 2 heads of 4
        k = k.reshape(-1, 4, 2, 2).transpose(1, 2).repeat_interleave(2, dim=1)
        v = v.reshape(-1, 4, 2, 2).transpose(1, 2).repeat_interleave(2, dim=1)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, h, w // 4, 4, c)
        return self.head(out.permute(0, 4, 1, 2, 3).reshape(b, c, h, w))


def test_repeat_interleave_along_heads_is_per_pixel() -> None:
    analysis = _exact(RepeatHeads(), 32, columns=range(12, 16))
    # rows: 3 + 2; columns: the 3-wide head reads up to two windows of 4: 8 + 2
    assert analysis.layer("head").rf == [5, 10]


class GlobalQueryWindows(nn.Module):
    """GCViT's WindowAttentionGlobal: a coarse map of queries (a stride-4 conv) copied to
    every window of 4x4 tokens with repeat_interleave along the batch; keys and values
    come from the window."""

    def __init__(self) -> None:
        super().__init__()
        from timm.models.gcvit import WindowAttentionGlobal

        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.query = nn.Conv2d(8, 8, 4, stride=4)
        self.attn = WindowAttentionGlobal(8, 2, (4, 4), use_global=True)
        self.head = nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        q_global = self.query(x).permute(0, 2, 3, 1)  # (1, 4, 4, C): one query per window position
        t = x.permute(0, 2, 3, 1)
        b, h, w, c = t.shape
        windows = t.view(b, h // 4, 4, w // 4, 4, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 16, c)
        out = self.attn(windows, q_global)
        out = out.view(b, h // 4, w // 4, 4, 4, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        return self.head((t + out).permute(0, 3, 1, 2))


def test_a_query_map_copied_to_every_window_is_global_context() -> None:
    analysis = _exact(GlobalQueryWindows(), 32, columns=range(6, 10))
    assert any("over windows" in layer.op and layer.is_global for layer in analysis.layers)
    # stem RF 3 at jump 2; the 3x3 head reads units that can straddle two windows of 4: 3 + 7*2
    assert analysis.layer("head").rf == [17, 17] and analysis.layer("head").rf_min == [7, 7]


# -- casts and flips -------------------------------------------------------------------------------


class ConstantCast(Stem):
    """DiffAttention's lambda: a parameter cast to the activations' dtype (type_as)."""

    def __init__(self) -> None:
        super().__init__()
        self.lam = nn.Parameter(torch.zeros(()))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        lam = torch.exp(self.lam).type_as(x)
        return x * lam + x.to(x)


def test_type_as_follows_its_own_tensor_only() -> None:
    analysis = _exact(ConstantCast(), 16)
    assert analysis.layer("head").rf == [5, 5] and not analysis.global_context_nodes()


class ChannelFlip(Stem):
    def body(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flip(x, dims=[1]) + x.flip(0)


class ColumnFlip(Stem):
    def body(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fliplr(x.permute(2, 3, 0, 1)).permute(2, 3, 0, 1)


def test_flipping_channels_is_per_pixel() -> None:
    assert _exact(ChannelFlip(), 16).layer("head").rf == [5, 5]


def test_flipping_a_spatial_axis_is_refused_with_the_reason() -> None:
    with pytest.raises(UnsupportedOpError, match="decreasing map"):
        rfzoo.analyze(ColumnFlip(), 16)


# -- timm MViTv2 -----------------------------------------------------------------------------------


class MvitBlock(nn.Module):
    """timm's MultiScaleAttention (conv pooling of q, k, v with stride 2, a class token,
    spatial relative positions, residual pooling) between a conv stem and a conv head."""

    __module__ = "timm.rfzoo_test"  # traced with timm's autowrapped functions

    def __init__(self, cls_token: bool) -> None:
        super().__init__()
        from timm.models.mvitv2 import MultiScaleAttention

        self.cls_token = cls_token
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.cls = nn.Parameter(torch.zeros(1, 1, 8))
        self.attn = MultiScaleAttention(8, 8, (16, 16), num_heads=2, kernel_q=(3, 3), kernel_kv=(3, 3),
                                        stride_q=(2, 2), stride_kv=(2, 2), has_cls_token=cls_token)
        self.head = nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c = x.shape[:2]
        t = x.flatten(2).transpose(1, 2)
        if self.cls_token:
            t = torch.cat([self.cls.expand(b, -1, -1), t], dim=1)
        t, _ = self.attn(t, [16, 16])
        if self.cls_token:
            t = t[:, 1:]
        return self.head(t.transpose(1, 2).reshape(b, c, 8, 8))


@pytest.mark.parametrize("cls_token", [True, False])
def test_mvitv2_pools_tokens_through_its_reshapes(cls_token: bool) -> None:
    analysis = _exact(MvitBlock(cls_token), 16, columns=range(3, 5))
    assert any(layer.op == "reshape_pre_pool" for layer in analysis.layers)
    assert analysis.global_context_nodes()  # attention over all pooled keys
    head = analysis.layer("head")
    assert head.jump == [2, 2] and head.rf == [9, 9]  # stem 3, pool 3 at jump 1, head 3 at jump 2


# -- the timm models these rules unblock -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name,rf,jump", [
    ("qwen3_vit_88m", 16, 16),  # AttentionRope without prefix tokens: an empty slice
    ("vit_dlittle_patch16_reg1_gap_256", 16, 16),  # DiffAttention's lambda.type_as(q)
    ("vit_large_patch16_sapiens2", 16, 16),  # grouped-query K/V heads repeat_interleave'd
    ("mvitv2_tiny", 279, 32),  # reshape_pre_pool / reshape_post_pool / cal_rel_pos_type
    ("gcvit_xxtiny", 231, 32),  # the global query repeat_interleave'd to every window
])
def test_timm_models_are_exact(name: str, rf: int, jump: int) -> None:
    analysis = rfzoo.analyze(f"timm/{name}")
    assert analysis.status == "exact", analysis.reason
    summary = analysis.summary()
    assert summary["rf"] == [rf, rf] and summary["jump"] == [jump, jump]


@pytest.mark.slow
def test_csatv2_zigzag_index_is_per_pixel() -> None:
    analysis = rfzoo.analyze("timm/csatv2_21m")
    assert analysis.status == "exact", analysis.reason
    zigzag = next(layer for layer in analysis.layers if layer.name == "stem_dct.getitem_3")
    assert zigzag.rf == [8, 8] and zigzag.jump == [8, 8]  # the 8x8 DCT blocks

"""Window partitions, window attention, patch merging: analytic boxes against gradient support.

Each module is small (a few channels, inputs under 64 pixels) so the float64 gradient
check runs in well under a second. Units are checked over a whole period of positions:
window attention makes a unit's RF depend on where it sits in its window.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from oracle import assert_agree, compare, prepared
from torch import nn

from rfzoo import analyze


def partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, ws * ws, C), as timm's window_partition then a view."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def reverse(x: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    c = x.shape[-1]
    x = x.view(-1, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


class WindowBlock(nn.Module):
    """conv stem (jump 2), shifted window attention on NHWC tokens, residual, conv head."""

    def __init__(self, ws: int = 4, shift: int = 0, fused: bool = False, heads: int = 2) -> None:
        super().__init__()
        self.ws, self.shift, self.fused, self.heads = ws, shift, fused, heads
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.qkv = nn.Linear(8, 24)
        self.proj = nn.Linear(8, 8)
        self.head = nn.Conv2d(8, 4, 3, padding=1)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        bw, n, c = x.shape
        q, k, v = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = (q @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).permute(0, 2, 3, 1)
        _, h, w, _ = x.shape
        y = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2)) if self.shift else x
        y = reverse(self.attend(partition(y, self.ws)), self.ws, h, w)
        y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2)) if self.shift else y
        return self.head((x + y).permute(0, 3, 1, 2))


@pytest.mark.parametrize("shift,fused", [(0, False), (2, False), (0, True), (2, True)])
def test_window_attention_blocks_match_gradients_over_a_period(shift: int, fused: bool) -> None:
    analysis, runner = prepared(WindowBlock(4, shift, fused), 32)
    attn = next(layer for layer in analysis.layers if "within windows" in layer.op)
    assert attn.position_dependent and not attn.is_global
    # stem RF 3 at jump 2; a 3x3 head reads 3 units that can straddle two windows of 4: 3 + 7*2
    assert analysis.layer("head").rf == [17, 17]
    assert analysis.layer("head").rf_min == [7, 7]  # the residual path: 3 + 2*2
    for u in range(6, 10):  # one period of the window grid, shifted or not
        assert_agree(compare(analysis, runner, ["head"], {"head": (u, 15 - u)}))


def test_window_reverse_joins_the_axis_back() -> None:
    analysis = analyze(WindowBlock(4), 48)
    head = analysis.layer("head")
    assert head.layout == "NCHW" and head.output_size == [24, 24]


class GridBlock(WindowBlock):
    """MaxViT's grid partition: tokens of a window are strided across the whole map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).permute(0, 2, 3, 1)
        b, h, w, c = x.shape
        g = self.ws
        y = x.view(b, g, h // g, g, w // g, c).permute(0, 2, 4, 1, 3, 5).reshape(-1, g * g, c)
        y = self.attend(y).view(b, h // g, w // g, g, g, c).permute(0, 3, 1, 4, 2, 5).reshape(b, h, w, c)
        return self.head((x + y).permute(0, 3, 1, 2))


def test_grid_attention_is_global_and_the_residual_stays_local() -> None:
    analysis, runner = prepared(GridBlock(4), 32)
    assert analysis.global_context_nodes()  # strided tokens span the map
    assert analysis.layer("head").rf == [7, 7]  # stem 3 + 3x3 conv at jump 2
    assert_agree(compare(analysis, runner, ["head"]))


class EinsumWindows(nn.Module):
    """torchvision MaxViT's attention: einsum over windows of a (B, G, P, C) partition."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.qkv = nn.Linear(4, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        p = 4
        t = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p, c)
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        att = torch.einsum("B G I D, B G J D -> B G I J", q, k).softmax(dim=-1)
        out = torch.einsum("B G I J, B G J D -> B G I D", att, v)
        out = out.reshape(b, h // p, w // p, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)
        return out + x


def test_einsum_window_attention() -> None:
    analysis, runner = prepared(EinsumWindows(), 32)
    assert any(layer.op.startswith("einsum") and "B" in layer.op for layer in analysis.layers)
    assert analysis.summary()["rf"] == [6, 6]  # a 4-unit window of RF-3 units
    for u in range(12, 16):
        assert_agree(compare(analysis, runner, ["add"], {"add": (u, u)}))


class PatchMerge(nn.Module):
    """timm's PatchMerging: reshape the 2x2 neighbours into channels, LayerNorm, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.LayerNorm(16)
        self.reduction = nn.Linear(16, 8)
        self.head = nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).permute(0, 2, 3, 1)
        b, h, w, c = x.shape
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)
        x = self.reduction(self.norm(x))
        return self.head(x.permute(0, 3, 1, 2))


def test_reshape_patch_merging_is_a_2x2_space_to_depth() -> None:
    analysis, runner = prepared(PatchMerge(), 32)
    reduction = analysis.layer("reduction")
    assert reduction.jump == [2, 2] and reduction.rf == [4, 4] and reduction.layout == "NHWC"
    assert analysis.layer("head").rf == [8, 8]
    assert_agree(compare(analysis, runner, ["reduction", "head"], {"reduction": (4, 5)}))


class TorchvisionMerge(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.swin_transformer import PatchMerging

        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.merge = PatchMerging(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge(self.stem(x).permute(0, 2, 3, 1))


@pytest.mark.parametrize("size", [32, 31])
def test_torchvision_patch_merging_pad(size: int) -> None:
    analysis, runner = prepared(TorchvisionMerge(), size)
    merged = next(layer for layer in analysis.layers if layer.op.startswith("patch merging"))
    assert merged.rf == [4, 4] and merged.jump == [2, 2] and merged.aligned
    assert_agree(compare(analysis, runner, ["merge.reduction"]))


class ClassTokenPool(nn.Module):
    """MViT-style: a class token in front, split off, pool the spatial tokens, put it back."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.cls = nn.Parameter(torch.zeros(1, 1, 4))
        self.pool = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        t = torch.cat((self.cls.expand(b, -1, -1), x.flatten(2).transpose(1, 2)), dim=1)
        t = self.fc(t)
        cls_tok, sp = torch.tensor_split(t, (1,), dim=1)
        sp = self.pool(sp.transpose(1, 2).reshape(b, c, h, w))
        t = torch.cat((cls_tok, sp.flatten(2).transpose(1, 2)), dim=1)
        return t[:, 1:].transpose(1, 2).reshape(b, c, h // 2, w // 2)


def test_class_token_split_and_cat_keep_the_spatial_tokens() -> None:
    analysis, runner = prepared(ClassTokenPool(), 32)
    assert analysis.status == "exact"
    assert analysis.summary()["rf"] == [5, 5] and analysis.summary()["jump"] == [2, 2]
    assert_agree(compare(analysis, runner, [analysis.summary()["node"]]))


def test_timm_swin_block_replays_window_reverse() -> None:
    """timm keeps window_reverse opaque (a notrace function): the rule replays its views."""
    from timm.models.swin_transformer import SwinTransformerBlock

    class TimmWrapped(nn.Module):
        __module__ = "timm.rfzoo_test"  # analyze() traces timm modules with timm's leaf settings

        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
            self.block = SwinTransformerBlock(8, (16, 16), num_heads=2, window_size=4, shift_size=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.block(self.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    analysis, runner = prepared(TimmWrapped(), 32)
    assert any(layer.op == "window_reverse" for layer in analysis.layers)
    last = analysis.summary()["node"]
    assert analysis.layer(last).layout == "NCHW"
    for u in range(6, 10):
        assert_agree(compare(analysis, runner, [last], {last: (u, u)}))


class PooledQueryBlock(nn.Module):
    """Hiera in miniature: tokens unrolled so the 2x2 q-stride digits lead, mask-unit
    attention whose queries are max-pooled over those digits while keys and values are
    not, a max-pooled residual, then back to NCHW for a 3x3 head."""

    def __init__(self, mu: int = 8) -> None:
        super().__init__()
        self.mu = mu  # mask unit side, in stem tokens
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.qkv = nn.Linear(8, 24)
        self.proj = nn.Linear(8, 8)
        self.head = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        mu, half = self.mu, self.mu // 2
        # fine y = Wy*mu + iy*2 + sy: the unroll puts (sy, sx) first, then (iy, ix)
        t = x.permute(0, 2, 3, 1).view(b, h // mu, half, 2, w // mu, half, 2, c)
        t = t.permute(0, 3, 6, 2, 5, 1, 4, 7)
        nw = (h // mu) * (w // mu)
        t = t.reshape(b, 4 * half * half, nw, c)
        q, k, v = self.qkv(t).reshape(b, -1, nw, 3, c).permute(3, 0, 2, 1, 4).unbind(0)
        q = q.view(b, nw, 4, -1, c).amax(dim=2)  # max over the 2x2 q-stride digits
        out = self.proj(F.scaled_dot_product_attention(q, k, v))  # (B, nW, half*half, C)
        out = out.view(b, h // mu, w // mu, half, half, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h // 2, w // 2)
        return self.head(out + F.max_pool2d(x, 2))


def test_pooled_queries_attend_to_unpooled_mask_units() -> None:
    analysis, runner = prepared(PooledQueryBlock(), 96)
    pooled = [layer for layer in analysis.layers if "over 2x2 blocks" in layer.op]
    assert pooled and not any(layer.is_global for layer in analysis.layers)
    assert analysis.layer("head").jump == [4, 4]
    # stem RF 3 at jump 2; a mask unit is 8 stem tokens (17 px); the 3x3 head at jump 4
    # reads units that can straddle two mask units
    assert analysis.layer("head").rf == [33, 33]
    for u in range(0, 4):  # one period: a mask unit is 4 head units
        assert_agree(compare(analysis, runner, ["head"], {"head": (u + 8, 15 - u)}))

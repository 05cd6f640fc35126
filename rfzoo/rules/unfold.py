"""Unfold and fold: sliding windows copied into channels, and scattered back.

`F.unfold` (im2col) gives column l the k x k neighbourhood of output position l, spread
over the channel dim as (C, ky, kx): a window like a conv's. The in-window offsets are
not positions of their own: since a tensor's RF is the largest over its channels, the
offsets are channel-like (a plain factor), and an op that mixes them (VOLO's attention
over the k*k offsets, TNT's inner conv over a patch's pixels) mixes within one position.

`F.fold` (col2im) adds each kernel offset back onto its pixel: pixel y receives column l
when l*s - p + t*d = y for some offset t, a transposed window (a transposed conv).

`Tensor.unfold(dim, size, step)` makes the dim the window index (a window of `size`, stride
`step`) and appends a dim of `size` in-window offsets, channel-like as above (HaloNet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import tuple_arg
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.rules.windows import conv_label
from rfzoo.transforms import IDENTITY, Transform, Transposed, Window


def _params(kernel: Any, dilation: Any, padding: Any, stride: Any) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple_arg(x, 2) for x in (kernel, dilation, padding, stride))


def _unfold(ctx: RuleContext, kernel: Sequence[int], dilation: Sequence[int], padding: Sequence[int],
            stride: Sequence[int], name: str) -> NodeSpec:
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    lead = len(lay) - 3  # batch dims before C, H, W
    if lay[lead].is_spatial or lay[lead].prefix:
        raise UnsupportedOpError(name, ctx.where, "unfolding channels that hold positions")
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    factors: list[L.Factor] = []
    in_sizes = tuple(ctx.values[src].shape[-2:])
    for i, d in enumerate(lay[-2:]):
        axis = d.single_axis
        if axis is None:
            raise UnsupportedOpError(name, ctx.where, f"unfolding a dim that is not one spatial axis {d}")
        span = dilation[i] * (kernel[i] - 1) + 1
        maps[axis] = Window(span, stride[i], padding[i])
        factors.append(L.Factor(axis, (in_sizes[i] + 2 * padding[i] - span) // stride[i] + 1))
    out = (*lay[:lead], L.plain(shape[-2]), L.Dim(tuple(factors)))
    return NodeSpec("conv", conv_label(name, kernel, stride, dilation, padding), [(src, tuple(maps))], out)


@rule(nn.Unfold)
def unfold_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    return _unfold(ctx, *_params(m.kernel_size, m.dilation, m.padding, m.stride), "Unfold")


@rule(F.unfold)
def unfold_function(ctx: RuleContext) -> NodeSpec:
    c = ctx.concrete
    params = _params(c(ctx.arg(1, "kernel_size")), c(ctx.arg(2, "dilation", 1)), c(ctx.arg(3, "padding", 0)),
                     c(ctx.arg(4, "stride", 1)))
    return _unfold(ctx, *params, "unfold")


def _fold(ctx: RuleContext, output_size: Sequence[int], kernel: Sequence[int], dilation: Sequence[int],
          padding: Sequence[int], stride: Sequence[int], name: str) -> NodeSpec:
    """Columns (N, C*k*k, L) back to (N, C, H, W): L must be the block grid in raster order."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    cols, blocks = lay[-2], lay[-1]
    if cols.is_spatial or cols.prefix:
        raise UnsupportedOpError(name, ctx.where, f"folding columns that hold positions {cols}")
    spans = [dilation[i] * (kernel[i] - 1) + 1 for i in range(2)]
    counts = [(output_size[i] + 2 * padding[i] - spans[i]) // stride[i] + 1 for i in range(2)]
    grid = [(f.axis, f.size) for f in blocks.factors if f.axis is not None or f.size > 1]
    whole = all(f.whole for f in blocks.factors) and not blocks.prefix
    axes = [a for a, _ in grid]
    if not whole or len(grid) != 2 or None in axes or [n for _, n in grid] != counts or len(set(axes)) != 2:
        raise UnsupportedOpError(name, ctx.where, f"folding blocks {blocks} that are not a {counts[0]}x{counts[1]} grid")
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    out_dims = [*lay[:-2], L.plain(shape[-3])]
    for i, axis in enumerate(axes):
        # stride 1 is an ordinary window with mirrored padding, as for a transposed conv
        maps[axis] = (Window(spans[i], 1, spans[i] - 1 - padding[i]) if stride[i] == 1
                      else Transposed(spans[i], stride[i], padding[i]))
        out_dims.append(L.Dim((L.Factor(axis, shape[-2 + i]),)))
    label = conv_label(name, kernel, stride, dilation, padding)
    return NodeSpec("upsample", label, [(src, tuple(maps))], tuple(out_dims))


@rule(nn.Fold)
def fold_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    return _fold(ctx, tuple_arg(m.output_size, 2), *_params(m.kernel_size, m.dilation, m.padding, m.stride), "Fold")


@rule(F.fold)
def fold_function(ctx: RuleContext) -> NodeSpec:
    c = ctx.concrete
    params = _params(c(ctx.arg(2, "kernel_size")), c(ctx.arg(3, "dilation", 1)), c(ctx.arg(4, "padding", 0)),
                     c(ctx.arg(5, "stride", 1)))
    return _fold(ctx, tuple_arg(c(ctx.arg(1, "output_size")), 2), *params, "fold")


@rule("Tensor.unfold")
def tensor_unfold(ctx: RuleContext) -> NodeSpec:
    """x.unfold(dim, size, step): dim -> window index, plus a trailing dim of offsets."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    c = ctx.concrete
    dim = c(ctx.arg(1, "dimension")) % len(lay)
    size, step = c(ctx.arg(2, "size")), c(ctx.arg(3, "step"))
    d = lay[dim]
    n = ctx.out_shape()[dim]
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    if d.single_axis is not None:
        maps[d.single_axis] = Window(size, step, 0)
        d = L.Dim((L.Factor(d.single_axis, n),))
    elif d.is_spatial or d.prefix:
        raise UnsupportedOpError("Tensor.unfold", ctx.where, f"unfolding a dim that is not one spatial axis {d}")
    else:
        d = L.plain(n)
    out = tuple(d if i == dim else x for i, x in enumerate(lay)) + (L.plain(size),)
    return NodeSpec("conv", f"unfold(dim={dim}, size={size}, step={step})", [(src, tuple(maps))], out)

"""Building blocks shared by the rules: layouts, per-pixel maps, windows, mixing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import fx

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.registry import AxisMaps, NodeSpec, RuleContext, describe
from rfzoo.transforms import (
    IDENTITY,
    BlockBroadcast,
    PooledBlocks,
    Resample,
    Transform,
    Window,
)

# -- shared building blocks ---------------------------------------------------------


def same_layout_maps(ctx: RuleContext, src: fx.Node, out_layout: L.Layout) -> AxisMaps:
    """Identity on every axis the input carries at the output's size.

    A spatial axis of size 1 broadcast over a larger output is not local: the value
    is spread to every position, so that input only contributes global context.
    """
    in_sizes = L.axis_sizes(ctx.in_layout(src), ctx.naxes)
    out_sizes = L.axis_sizes(out_layout, ctx.naxes)
    maps: list[Transform | None] = []
    for k in range(ctx.naxes):
        if in_sizes[k] is None or out_sizes[k] is None:
            maps.append(IDENTITY if in_sizes[k] is not None and out_sizes[k] is None else None)
        elif in_sizes[k] == out_sizes[k]:
            maps.append(IDENTITY)
        else:
            maps.append(_block_index_map(ctx.in_layout(src), out_layout, k))
    return tuple(maps)


def _block_index_map(lay: L.Layout, out_layout: L.Layout, axis: int) -> Transform | None:
    """The input holds `axis` whole, n units, in the dim where the output holds it as the
    block index digit of n blocks of r (right-aligned dims): each fine output unit reads
    its block's unit (HaloNet's unfolded keys, one per block, against queries per pixel)."""
    offset = len(out_layout) - len(lay)
    for j, d in enumerate(lay):
        held = [f for f in d.factors if f.axis == axis and f.size > 1]
        if not held:
            continue
        outs = [f for f in out_layout[j + offset].factors if f.axis == axis and f.size > 1] if j + offset >= 0 else []
        if len(held) != 1 or not held[0].whole or len(outs) != 1:
            return None
        n, out = held[0].size, outs[0]
        if out.whole or out.size != n or out.full != n * out.step:
            return None
        return Resample(n, n * out.step, "nearest", False, 1 / out.step)
    return None


def _broadcasts_space(ctx: RuleContext, src: fx.Node, out_layout: L.Layout) -> bool:
    in_sizes = L.axis_sizes(ctx.in_layout(src), ctx.naxes)
    out_sizes = L.axis_sizes(out_layout, ctx.naxes)
    maps = same_layout_maps(ctx, src, out_layout)
    return any(
        i is not None and o is not None and i != o and m is None
        for i, o, m in zip(in_sizes, out_sizes, maps, strict=True)
    )


def broadcast_layout(ctx: RuleContext, inputs: Sequence[fx.Node]) -> L.Layout:
    """Layout of an elementwise result: right-aligned broadcast, the larger dim wins."""
    shape = ctx.out_shape()
    result: list[L.Dim] = [L.plain(s) for s in shape]
    chosen: list[int] = [1] * len(shape)
    for n in inputs:
        lay = ctx.in_layout(n)
        offset = len(shape) - len(lay)
        for i, d in enumerate(lay):
            j = i + offset
            if d.size == shape[j] and (d.is_spatial or d.prefix or d.single_axis is not None) and chosen[j] == 1:
                result[j] = d
                chosen[j] = d.size
    return tuple(result)


def pointwise(ctx: RuleContext, kind: str = "pointwise", op: str | None = None) -> NodeSpec:
    inputs = ctx.tensor_inputs()
    out_layout = broadcast_layout(ctx, inputs)
    edges = [(n, same_layout_maps(ctx, n, out_layout)) for n in inputs]
    spread = [n for n in inputs if _broadcasts_space(ctx, n, out_layout)]
    kind = "merge" if len(inputs) > 1 else kind
    return NodeSpec(
        kind,
        op or describe(ctx.node, ctx.module),
        edges,
        out_layout,
        mixes_all=any(ctx.depends[n] for n in spread) and len(spread) > 0,
    )


def mixed_maps(ctx: RuleContext, src: fx.Node, dims: Sequence[int], out_layout: L.Layout) -> AxisMaps | None:
    """Maps from `src` for an op that combines every position along `dims` of src.

    Mixing an axis's lowest digits while its other digits stay in other dims (window
    attention after a partition) reads the aligned block that holds each unit:
    BlockBroadcast. None when a whole axis, a strided set of positions (grid attention)
    or prefix tokens get mixed: the op is global.
    """
    lay = ctx.in_layout(src)
    mixed_dims = {d % len(lay) for d in dims}
    if any(lay[d].prefix for d in mixed_dims):
        return None
    maps = list(same_layout_maps(ctx, src, out_layout))
    in_sizes, out_sizes = L.axis_sizes(lay, ctx.naxes), L.axis_sizes(out_layout, ctx.naxes)
    for k in range(ctx.naxes):
        found = L.digits(lay, k)
        mixed = [f for i, f in found if i in mixed_dims]
        if not mixed:
            continue
        block = L.low_block(mixed, [f for _, f in found])
        if block is None:
            return None
        if maps[k] is None:  # the output (pooled queries) is coarser than src by `pool`
            pool = in_sizes[k] // out_sizes[k] if in_sizes[k] and out_sizes[k] else 0
            if pool < 2 or in_sizes[k] != pool * out_sizes[k] or block % pool:
                return None
            maps[k] = PooledBlocks(pool, block)
        else:
            maps[k] = BlockBroadcast(block)
    return tuple(maps)


def holds_space(lay: L.Layout, dims: Sequence[int]) -> bool:
    return any(lay[d % len(lay)].is_spatial or lay[d % len(lay)].prefix for d in dims)


def mixing(ctx: RuleContext, dims: Sequence[int], op: str, kind: str = "global", folds: bool = False) -> NodeSpec:
    """An op that combines positions along `dims`: global when those dims hold a whole axis,
    a window op when they hold the inner digits of partitioned axes.

    `folds`: the op turns `dims` into new channels (a Linear): the inner digits are gone
    and the remaining digits index blocks (see `layout.coarsen`).
    """
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    out_layout = same_rank_layout(ctx, lay)
    if not holds_space(lay, dims):
        return NodeSpec("pointwise", op, [(src, same_layout_maps(ctx, src, out_layout))], out_layout)
    nd = len(lay)
    if folds and len(out_layout) == nd:
        folded = L.coarsen(lay, {d % nd for d in dims}, ctx.out_shape())
        if folded is not None:
            new, blocks = folded
            maps = tuple(Window(blocks[k], blocks[k], 0) if k in blocks else m
                         for k, m in enumerate(same_layout_maps(ctx, src, lay)))
            return NodeSpec("pool", f"{op} over {'x'.join(str(blocks[k]) for k in sorted(blocks))} blocks",
                            [(src, maps)], new)
    maps = mixed_maps(ctx, src, dims, out_layout) if len(out_layout) == nd else None
    if maps is not None and all(out_layout[d % nd] == lay[d % nd] for d in dims):
        return NodeSpec("attention", f"{op} within windows", [(src, maps)], out_layout)
    return NodeSpec(kind, op, [(src, same_layout_maps(ctx, src, out_layout))], out_layout,
                    mixes_all=True, keeps_local=False)


def same_rank_layout(ctx: RuleContext, lay: L.Layout) -> L.Layout:
    """The input's layout where sizes match (a Linear changes only the channel dim)."""
    value = ctx.value
    if not isinstance(value, torch.Tensor):
        return lay
    shape = tuple(value.shape)
    if len(shape) != len(lay):
        return L.non_spatial(shape)
    return tuple(d if d.size == s else L.plain(s) for d, s in zip(lay, shape, strict=True))


def tuple_arg(x: Any, n: int) -> tuple[Any, ...]:
    if isinstance(x, (int, float)):
        return (x,) * n
    x = tuple(x)
    return x * n if len(x) == 1 else x


def window_spec(
    ctx: RuleContext,
    kind: str,
    op: str,
    src: fx.Node,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pad_left: Sequence[int],
    n_window_dims: int,
    mixes_channels: bool = False,
) -> NodeSpec:
    """Conv/pool over the last `n_window_dims` dims of an N, C, spatial... tensor.

    `mixes_channels` (a conv with one group): channels holding an axis's lowest digits
    (pixel phases after a space-to-depth) are folded into the window: the conv reads
    whole blocks (see `layout.coarsen`); channels holding whole axes make it global. Leading dims that keep their size keep their
    layout (the window index of a partition in the batch dim).
    """
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    lead = len(lay) - n_window_dims
    blocks: dict[int, int] = {}
    if mixes_channels and lead >= 1 and lay[lead - 1].is_spatial:
        folded = L.coarsen(lay, {lead - 1}, shape)
        if folded is None:  # channels hold whole axes or strided digits (token-mixing convs)
            out = L.non_spatial(shape)
            return NodeSpec("global", f"{op} over channels that hold positions", [(src, (None,) * ctx.naxes)],
                            out, mixes_all=True, keeps_local=False)
        lay, blocks = folded
    out_dims = [_kept(ctx, op, d, s) for d, s in zip(lay[:lead], shape[:lead], strict=False)]
    maps: list[Transform | None] = [None] * ctx.naxes
    pooled: list[tuple[int, int]] = []  # (axis, k): windows over an axis's lowest digit
    for i, d in enumerate(lay[lead:]):
        size = shape[lead + i]
        axis = d.single_axis
        span = dilation[i] * (kernel[i] - 1) + 1
        if axis is None and d.size == 1:  # a size-1 dim: look for the trivial factor's axis
            axis = next((f.axis for f in d.factors if f.axis is not None), None)
        if axis is None and span == stride[i] == 1 and pad_left[i] == 0 and d.size == size:
            out_dims.append(d)  # a 1x1 window reads one element: whatever the dim holds stays put
        elif axis is None and not (d.is_spatial or d.prefix):
            out_dims.append(L.plain(size))  # a window along channels (ECA's conv1d): per position
        elif axis is None:
            low = _lowest_digit_pool(d, span, stride[i], pad_left[i], size)
            if low is None and len(d.spatial_axes) > 1 and all(f.whole for f in d.factors) and not d.prefix:
                return _across_rows(ctx, op, src, d)
            if low is None:
                raise UnsupportedOpError(op, ctx.where, f"window over a non-spatial dim {d}")
            maps[low] = Window(span, span, 0)
            pooled.append((low, span))
            out_dims.append(d)
        else:
            b = blocks.get(axis, 1)  # a window of coarse blocks reads whole fine blocks
            maps[axis] = Window(span * b, stride[i] * b, pad_left[i] * b)
            out_dims.append(L.Dim((L.Factor(axis, size),)))
    out_layout = tuple(out_dims)
    for axis, k in pooled:
        out_layout = L.pool_lowest(out_layout, axis, k)
    for k in range(ctx.naxes):  # axes carried in other dims (none for NCHW convs)
        if maps[k] is None and k in blocks:
            maps[k] = Window(blocks[k], blocks[k], 0)
        elif maps[k] is None and k in L.spatial_axes(lay):
            maps[k] = IDENTITY
    return NodeSpec(kind, op, [(src, tuple(maps))], out_layout)


def _kept(ctx: RuleContext, op: str, d: L.Dim, size: int) -> L.Dim:
    """A leading dim (batch, channels) keeps its layout when the window keeps its size."""
    if d.size == size:
        return d
    if d.is_spatial or d.prefix:
        raise UnsupportedOpError(op, ctx.where, f"a window changes the size of a dim holding space {d}")
    return L.plain(size)


def _lowest_digit_pool(d: L.Dim, span: int, stride: int, pad: int, out_size: int) -> int | None:
    """The axis when a window of k, stride k, pools the dim's lowest factor, an axis's lowest
    digit that k divides (Hiera's q-pool within windows, a 1D pool along token rows)."""
    real = [f for f in d.factors if f.size > 1]
    low = real[-1] if real else None
    if (low is None or low.axis is None or low.step != 1 or d.prefix or span != stride or pad
            or low.size % span or out_size * span != d.size):
        return None
    if low.whole and low.size == span:  # pools a whole axis: global, as in `mixing`
        return None
    return low.axis


def _across_rows(ctx: RuleContext, op: str, src: fx.Node, d: L.Dim) -> NodeSpec:
    """A 1D window over flattened tokens that straddles rows or covers whole rows (NextViT's
    AvgPool1d of 16 over 28x28 tokens): each output averages a run of tokens that is no box,
    or a whole axis. Like grid attention (a strided set), the op counts as mixing all positions."""
    out = L.non_spatial(ctx.out_shape())
    note = f"{op} pools runs of tokens across the rows of {d}: counted as global"
    return NodeSpec("global", f"{op} across token rows", [(src, same_layout_maps(ctx, src, out))], out,
                    mixes_all=True, keeps_local=False, notes=[note])


def padding_left(padding: Any, n: int, kernel: Sequence[int], stride: Sequence[int],
                  dilation: Sequence[int], in_sizes: Sequence[int]) -> tuple[int, ...]:
    if padding == "valid":
        return (0,) * n
    if padding == "same":
        # PyTorch puts the odd pixel of 'same' padding on the right.
        return tuple((dilation[i] * (kernel[i] - 1)) // 2 for i in range(n))
    return tuple_arg(padding, n)


def tf_same_left(in_size: int, kernel: int, stride: int, dilation: int) -> int:
    """Left padding of TensorFlow-style 'SAME' (timm's pad_same): the odd pixel goes right."""
    out = math.ceil(in_size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    return total // 2


def spatial_in_sizes(ctx: RuleContext, src: fx.Node, n: int) -> tuple[int, ...]:
    return tuple(ctx.values[src].shape[-n:])



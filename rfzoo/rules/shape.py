"""Layout and indexing: permute, reshape, getitem, split, cat, roll, repeat_interleave, flip."""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
from torch import fx, nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import holds_space, pointwise, same_layout_maps
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.transforms import (
    IDENTITY,
    Transform,
    Transposed,
    Window,
)

# -- layout ops ------------------------------------------------------------------------------------


def _relayout(ctx: RuleContext, new_layout: L.Layout, op: str) -> NodeSpec:
    src = ctx.first_input()
    maps = tuple(IDENTITY if k in L.spatial_axes(ctx.in_layout(src)) else None for k in range(ctx.naxes))
    return NodeSpec("reshape", op, [(src, maps)], new_layout)


def _permute_dims(ctx: RuleContext) -> list[int]:
    args = ctx.concrete(list(ctx.node.args[1:]))
    if not args:
        args = ctx.concrete(ctx.node.kwargs.get("dims", []))
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = list(args[0])
    return list(args)


@rule("Tensor.permute", torch.permute)
def permute(ctx: RuleContext) -> NodeSpec:
    lay = ctx.in_layout()
    order = _permute_dims(ctx)
    return _relayout(ctx, tuple(lay[d % len(lay)] for d in order), "permute")


@rule("Tensor.transpose", torch.transpose, "Tensor.swapaxes", torch.swapaxes)
def transpose(ctx: RuleContext) -> NodeSpec:
    lay = list(ctx.in_layout())
    d0, d1 = (ctx.concrete(a) % len(lay) for a in ctx.node.args[1:3])
    lay[d0], lay[d1] = lay[d1], lay[d0]
    return _relayout(ctx, tuple(lay), "transpose")


@rule(
    "Tensor.view", "Tensor.reshape", torch.reshape, "Tensor.flatten", torch.flatten, "Tensor.unflatten",
    torch.unflatten, "Tensor.squeeze", torch.squeeze, "Tensor.unsqueeze", torch.unsqueeze, "Tensor.view_as",
    "Tensor.reshape_as", nn.Flatten, nn.Unflatten, "Tensor.expand", "Tensor.expand_as",
)
def reshape(ctx: RuleContext) -> NodeSpec:
    src = ctx.first_input()
    in_shape = tuple(ctx.values[src].shape)
    out_shape = ctx.out_shape()
    name = str(ctx.node.target) if ctx.node.op != "call_module" else type(ctx.module).__name__
    if name.startswith("expand") or "expand" in name:
        return pointwise(ctx, kind="reshape", op="expand")
    new = L.reshape(ctx.in_layout(src), in_shape, out_shape, ctx.where)
    return _relayout(ctx, new, getattr(ctx.node.target, "__name__", name))


def _slices(index: Any) -> list[Any]:
    return list(index) if isinstance(index, tuple) else [index]


@rule(operator.getitem)
def getitem(ctx: RuleContext) -> NodeSpec:
    src = ctx.node.args[0]
    index = ctx.concrete(ctx.node.args[1])
    lay_in = ctx.layouts[src]
    if not isinstance(ctx.values[src], torch.Tensor):  # element of a tuple-valued node
        lay = lay_in[index] if isinstance(index, int) else lay_in
        maps = tuple(IDENTITY if lay is not None and k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
        return NodeSpec("reshape", f"[{index}]", [(src, maps)], lay)
    lay = list(lay_in)
    shape_in = tuple(ctx.values[src].shape)
    items = _slices(index)
    if any(i is Ellipsis for i in items):
        at = items.index(Ellipsis)
        fill = len(lay) - (len([i for i in items if i is not None]) - 1)
        items = items[:at] + [slice(None)] * fill + items[at + 1:]
    if sum(_is_index_list(i) for i in items) > 1:
        raise UnsupportedOpError("getitem", ctx.where, "several index lists (broadcast advanced indexing)")
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay_in) else None for k in range(ctx.naxes)]
    out: list[L.Dim] = []
    dim = 0
    for item in items:
        if item is None:
            out.append(L.Dim(()))
            continue
        d = lay[dim]
        size = shape_in[dim]
        if isinstance(item, slice):
            start, stop, step = item.indices(size)
            new_size = len(range(start, stop, step))
            if new_size == size:
                out.append(d)
            elif new_size == 0:
                out.append(L.plain(0))  # an empty slice (no prefix tokens to keep): no units at all
                maps = [None] * ctx.naxes
            elif d.prefix and step == 1 and stop <= d.prefix:
                out.append(L.plain(new_size))  # only the constant prefix tokens: no local RF left
                maps = [None] * ctx.naxes
            elif d.single_axis is not None:
                maps[d.single_axis] = Window(1, step, -start)
                out.append(L.Dim((L.Factor(d.single_axis, new_size),)))
            elif d.is_spatial or d.prefix:
                out.append(_slice_rows(ctx, d, start, stop, step, maps))
            else:
                out.append(L.plain(new_size))
        elif isinstance(item, int):
            if d.prefix and 0 <= item < d.prefix:
                maps = [None] * ctx.naxes  # a class token: constant until attention mixes it
            elif d.is_spatial or d.prefix:
                raise UnsupportedOpError("getitem", ctx.where, "indexing one position of a spatial dim")
        elif _is_index_list(item):
            out.append(_gather(ctx, d, size, item, maps))
        else:
            raise UnsupportedOpError("getitem", ctx.where, f"index {type(item).__name__}")
        dim += 1
    out.extend(lay[dim:])
    return NodeSpec("reshape", f"getitem{_short(index)}", [(src, tuple(maps))], tuple(out))


def _slice_rows(ctx: RuleContext, d: L.Dim, start: int, stop: int, step: int, maps: list[Transform | None]) -> L.Dim:
    """A slice of flattened tokens that keeps whole rows: a crop of the outermost axis.

    Prefix tokens sliced off count as rows too (dropping a class token is start = prefix).
    Anything else (part of a row, a stride across rows) selects no box of positions.
    """
    real = [f for f in d.factors if f.size > 1]
    inner = math.prod(f.size for f in real[1:])
    first, last = start - d.prefix, stop - d.prefix
    outer = real[0] if real else None
    if (step != 1 or first < 0 or outer is None or outer.axis is None or not outer.whole
            or first % inner or last % inner):
        raise UnsupportedOpError("getitem", ctx.where, f"slicing {start}:{stop}:{step} of a flattened "
                                 f"spatial dim {d}: not whole rows of its outer axis")
    rows = (last - first) // inner
    if rows == outer.size:
        return L.Dim(d.factors)  # only prefix tokens sliced off
    maps[outer.axis] = Window(1, 1, -(first // inner))
    return L.Dim((L.Factor(outer.axis, rows), *real[1:]))


def _is_index_list(item: Any) -> bool:
    return isinstance(item, (list, tuple)) or (isinstance(item, torch.Tensor) and item.dtype != torch.bool)


def _gather(ctx: RuleContext, d: L.Dim, size: int, item: Any, maps: list[Transform | None]) -> L.Dim:
    """x[..., [i0, i1, ...]]: along channels a reordering per pixel (CSATv2's zigzag of DCT
    coefficients); along one spatial axis an evenly spaced increasing list is a strided crop."""
    if isinstance(item, torch.Tensor) and item.dim() != 1:
        raise UnsupportedOpError("getitem", ctx.where, f"an index tensor of {item.dim()} dims")
    count = len(item)
    if not (d.is_spatial or d.prefix):
        return L.plain(count)
    if isinstance(item, torch.Tensor) and item.device.type == "meta":
        raise UnsupportedOpError("getitem", ctx.where, "index tensor values unknown (meta device)")
    positions = [int(i) % size for i in item]
    steps = {b - a for a, b in zip(positions, positions[1:], strict=False)}
    if d.single_axis is None or len(steps) > 1 or (steps and min(steps) < 1):
        raise UnsupportedOpError("getitem", ctx.where, f"gathering positions {positions[:8]}... of spatial dim "
                                 f"{d}: not an increasing evenly spaced run of one axis, so no window maps them")
    step = steps.pop() if steps else 1
    maps[d.single_axis] = Window(1, step, -positions[0])
    return L.Dim((L.Factor(d.single_axis, count),))


def _short(index: Any) -> str:
    def one(i: Any) -> str:
        if isinstance(i, slice):
            return f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}" + (
                f":{i.step}" if i.step not in (None, 1) else "")
        return "..." if i is Ellipsis else str(i)

    return "[" + ", ".join(one(i) for i in _slices(index)) + "]"


def _split_like(ctx: RuleContext, name: str) -> NodeSpec:
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    if name in ("unbind",):
        dim = ctx.concrete(ctx.arg(1, "dim", 0)) % len(lay)
    else:
        dim = ctx.concrete(ctx.arg(2, "dim", 0)) % len(lay)
    d = lay[dim]
    if (d.is_spatial or d.prefix) and name != "unbind":
        return _split_prefix(ctx, src, lay, dim, name)
    if d.is_spatial or d.prefix:
        raise UnsupportedOpError(name, ctx.where, "splitting a spatial dim")
    parts = []
    for v in ctx.value:
        if name == "unbind":
            parts.append(tuple(d for i, d in enumerate(lay) if i != dim))
        else:
            parts.append(tuple(L.plain(v.shape[i]) if i == dim else d for i, d in enumerate(lay)))
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("reshape", name, [(src, maps)], tuple(parts))


def _split_prefix(ctx: RuleContext, src: fx.Node, lay: L.Layout, dim: int, name: str) -> NodeSpec:
    """Splitting the class tokens off the spatial tokens (MViT): only at the prefix boundary."""
    d = lay[dim]
    parts, start = [], 0
    for v in ctx.value:
        size = v.shape[dim]
        if start + size <= d.prefix:
            part = L.plain(size)  # prefix tokens only: no spatial position
        elif start == d.prefix and size == d.size - d.prefix:
            part = L.Dim(d.factors)
        else:
            raise UnsupportedOpError(name, ctx.where, "splitting a spatial dim")
        parts.append(tuple(part if i == dim else x for i, x in enumerate(lay)))
        start += size
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("reshape", name, [(src, maps)], tuple(parts))


rule("Tensor.split", torch.split, "Tensor.chunk", torch.chunk, "Tensor.unbind", torch.unbind,
     "Tensor.split_with_sizes", torch.tensor_split, "Tensor.tensor_split")(
    lambda ctx: _split_like(ctx, str(getattr(ctx.node.target, "__name__", ctx.node.target)).replace("Tensor.", ""))
)


@rule(torch.cat, torch.concat, torch.concatenate, torch.stack)
def concatenate(ctx: RuleContext) -> NodeSpec:
    tensors = ctx.node.args[0]
    dim = ctx.concrete(ctx.arg(1, "dim", 0))
    stack = ctx.node.target is torch.stack
    local = [t for t in tensors if isinstance(t, fx.Node) and ctx.depends.get(t)]
    ref = ctx.in_layout(local[0])
    nd = len(ref) + (1 if stack else 0)
    dim %= nd
    out_shape = ctx.out_shape()
    if stack:
        out_layout = tuple(list(ref[:dim]) + [L.plain(out_shape[dim])] + list(ref[dim:]))
    elif any(holds_space(ctx.in_layout(t), [dim]) for t in local):
        # Tokens put in front of the spatial ones (class tokens) become prefix tokens.
        spatial = [t for t in local if holds_space(ctx.in_layout(t), [dim])]
        if len(spatial) != 1:
            raise UnsupportedOpError("cat", ctx.where, "concatenating feature maps along a spatial dim")
        ref = ctx.in_layout(spatial[0])
        extra = out_shape[dim] - ref[dim].size
        if tensors[-1] is not spatial[0]:
            raise UnsupportedOpError("cat", ctx.where, "constant tokens appended after spatial tokens")
        out_layout = tuple(L.Dim(d.factors, d.prefix + extra) if i == dim else d for i, d in enumerate(ref))
        edges = [(t, same_layout_maps(ctx, t, out_layout) if t is spatial[0] else (None,) * ctx.naxes)
                 for t in local]
        return NodeSpec("merge" if len(local) > 1 else "reshape", "cat", edges, out_layout)
    else:
        out_layout = tuple(L.plain(out_shape[dim]) if i == dim else d for i, d in enumerate(ref))
    edges = [(t, same_layout_maps(ctx, t, out_layout)) for t in local]
    return NodeSpec("merge" if len(local) > 1 else "reshape", "stack" if stack else "cat", edges, out_layout)


@rule(torch.roll, "Tensor.roll")
def roll(ctx: RuleContext) -> NodeSpec:
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    shifts = ctx.concrete(ctx.arg(1, "shifts"))
    dims = ctx.concrete(ctx.arg(2, "dims"))
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    for shift, d in zip(shifts, dims, strict=True):
        axis = lay[d % len(lay)].single_axis
        if axis is None:
            raise UnsupportedOpError("roll", ctx.where, "rolling a non-spatial or flattened dim")
        maps[axis] = Window(1, 1, shift)  # interior units; the wrap-around only touches the border
    return NodeSpec("pad", f"roll({shifts})", [(src, tuple(maps))], lay)




# -- repeats and reversals ------------------------------------------------------------------------


def _repeat_count(ctx: RuleContext, repeats: Any) -> int:
    if isinstance(repeats, torch.Tensor):
        if repeats.numel() != 1 or repeats.device.type == "meta":
            raise UnsupportedOpError("repeat_interleave", ctx.where, "per-element repeat counts")
        repeats = repeats.item()
    return int(repeats)


@rule("Tensor.repeat_interleave", torch.repeat_interleave)
def repeat_interleave(ctx: RuleContext) -> NodeSpec:
    """Each element copied r times in a row along one dim.

    Along one spatial axis it is nearest upsampling by r: output unit o reads input unit
    o // r, which is a transposed window of span r, stride r (exact integer arithmetic,
    unlike a float scale). Along channels or heads (grouped-query attention's K/V) it is
    per pixel.
    """
    src = ctx.node.args[0]
    if not (isinstance(src, fx.Node) and ctx.depends.get(src)):
        raise UnsupportedOpError("repeat_interleave", ctx.where, "repeat counts that depend on the input")
    lay = ctx.in_layout(src)
    r = _repeat_count(ctx, ctx.concrete(ctx.arg(1, "repeats")))
    dim = ctx.concrete(ctx.arg(2, "dim"))
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    if dim is None:  # repeats the flattened tensor
        if L.spatial_axes(lay) or any(d.prefix for d in lay):
            raise UnsupportedOpError("repeat_interleave", ctx.where, "repeating a flattened tensor that holds space")
        return NodeSpec("pointwise", f"repeat_interleave({r})", [(src, tuple(maps))], L.non_spatial(ctx.out_shape()))
    dim %= len(lay)
    d, out = lay[dim], list(lay)
    kind = "pointwise"
    if r == 1:
        pass
    elif d.single_axis is not None:
        maps[d.single_axis] = Transposed(r, r, 0)
        out[dim] = L.Dim((L.Factor(d.single_axis, d.size * r),))
        kind = "upsample"
    elif d.is_spatial or d.prefix:
        raise UnsupportedOpError("repeat_interleave", ctx.where, f"repeating along a flattened spatial dim {d}")
    elif dim == 0 and (L.spatial_axes(lay) or any(d_.prefix for d_ in lay)):
        return _spread_over_batch(ctx, src, r)
    else:
        out[dim] = L.plain(d.size * r)
    return NodeSpec(kind, f"repeat_interleave({r}, dim={dim})", [(src, tuple(maps))], tuple(out))


def _spread_over_batch(ctx: RuleContext, src: fx.Node, r: int) -> NodeSpec:
    """Copies of a map along the batch go to other samples, which after a window partition
    are other windows (GCViT's global query): row n of every window reads position n of the
    map, so unit p reads p mod the window size, no window of the input. Like a size-1 axis
    broadcast over the map, the copies are global context: no positions, no local RF."""
    note = "a feature map copied to every sample of the batch (every window): counted as global context"
    return NodeSpec("global", f"repeat_interleave({r}, dim=0) over windows", [(src, (None,) * ctx.naxes)],
                    L.non_spatial(ctx.out_shape()), mixes_all=True, keeps_local=False, notes=[note])


def _flip_dims(ctx: RuleContext) -> list[int]:
    name = str(getattr(ctx.node.target, "__name__", ctx.node.target))
    if name.endswith("fliplr"):
        return [1]
    if name.endswith("flipud"):
        return [0]
    dims = ctx.concrete(list(ctx.node.args[1:]) or ctx.node.kwargs.get("dims", []))
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = list(dims[0])
    return list(dims)


@rule(torch.flip, "Tensor.flip", torch.fliplr, "Tensor.fliplr", torch.flipud, "Tensor.flipud")
def flip(ctx: RuleContext) -> NodeSpec:
    """Reversing channels is per pixel. Reversing a spatial axis maps unit i to n-1-i: the
    transforms are increasing maps (the engine takes a range's hull from its two ends), so
    a reversal has no exact form there and is refused."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    for dim in _flip_dims(ctx):
        d = lay[dim % len(lay)]
        if (d.is_spatial or d.prefix) and d.size > 1:
            raise UnsupportedOpError("flip", ctx.where, f"reversing spatial dim {dim % len(lay)}: unit i reads "
                                     "n-1-i, a decreasing map the engine's transforms cannot express")
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("pointwise", "flip", [(src, maps)], lay)

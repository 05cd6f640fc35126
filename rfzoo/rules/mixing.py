"""Ops along whole dims: linear layers, softmax, reductions, matmul, attention, einsum."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import holds_space, mixed_maps, mixing, same_layout_maps
from rfzoo.rules.registry import AxisMaps, NodeSpec, RuleContext, rule
from rfzoo.transforms import (
    BlockBroadcast,
    PooledBlocks,
    Window,
)

# -- ops along one dim ---------------------------------------------------------------------------


@rule(nn.Linear, nn.Bilinear)
def linear_module(ctx: RuleContext) -> NodeSpec:
    return mixing(ctx, [-1], "Linear", kind="global-linear", folds=True)


@rule(F.linear, torch._C._nn.linear)
def linear_function(ctx: RuleContext) -> NodeSpec:
    return mixing(ctx, [-1], "linear", kind="global-linear", folds=True)


@rule(nn.Softmax, nn.LogSoftmax, nn.Softmin)
def softmax_module(ctx: RuleContext) -> NodeSpec:
    dim = ctx.module.dim if ctx.module.dim is not None else -1
    return mixing(ctx, [dim], type(ctx.module).__name__)


@rule(F.softmax, F.log_softmax, torch.softmax, torch.log_softmax, "Tensor.softmax", "Tensor.log_softmax")
def softmax_function(ctx: RuleContext) -> NodeSpec:
    return mixing(ctx, [ctx.concrete(ctx.arg(1, "dim", -1))], "softmax")


def lay_sizes(lay: L.Layout) -> tuple[int, ...]:
    return tuple(d.size for d in lay)


def _reduce(ctx: RuleContext, name: str) -> NodeSpec:
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    dim = ctx.concrete(ctx.arg(1, "dim", None))
    dims = list(range(len(lay))) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    dims = [d % len(lay) for d in dims]
    keep = bool(ctx.concrete(ctx.arg(2, "keepdim", False)))
    if not any(lay[d].is_spatial or lay[d].prefix for d in dims):
        out = [L.plain(1) if d in dims else dim_ for d, dim_ in enumerate(lay) if keep or d not in dims]
        return NodeSpec("pointwise", name, [(src, same_layout_maps(ctx, src, tuple(out)))],
                        _per_element(ctx, tuple(out)))
    if dim is not None and isinstance(ctx.value, torch.Tensor):
        # Reducing only an axis's lowest digits pools aligned blocks (Hiera's max over the
        # unrolled 2x2 q-stride): a Window(B, B, 0), not a global op.
        folded = L.coarsen(lay, set(dims), tuple(1 if d in dims else n for d, n in enumerate(lay_sizes(lay))))
        if folded is not None:
            new, blocks = folded
            new = tuple(d_ for d, d_ in enumerate(new) if keep or d not in dims)
            maps = tuple(Window(blocks[k], blocks[k], 0) if k in blocks else m
                         for k, m in enumerate(same_layout_maps(ctx, src, lay)))
            return NodeSpec("pool", f"{name} over {'x'.join(str(blocks[k]) for k in sorted(blocks))} blocks",
                            [(src, maps)], new)
    if isinstance(ctx.value, torch.Tensor):
        out_layout = L.non_spatial(ctx.out_shape())
    else:  # max(dim) and friends: (values, indices), one layout each
        out_layout = tuple(L.non_spatial(tuple(v.shape)) for v in ctx.value)
    return NodeSpec("global", f"{name} over space", [(src, (None,) * ctx.naxes)], out_layout,
                    mixes_all=True, keeps_local=False)


def _per_element(ctx: RuleContext, layout: L.Layout) -> Any:
    """A reduction that returns (values, indices) (max(dim), std_mean): the layout for each."""
    if isinstance(ctx.value, (tuple, list)):
        return tuple(layout for _ in ctx.value)
    return layout


for _name in ("mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp", "norm", "prod", "any", "all"):
    rule(f"Tensor.{_name}")(lambda ctx, _n=_name: _reduce(ctx, _n))
rule(torch.mean, torch.sum, torch.amax, torch.amin, torch.std, torch.var, torch.logsumexp, torch.max,
     torch.min, torch.std_mean, torch.var_mean)(lambda ctx: _reduce(ctx, ctx.node.target.__name__))


def _batch_dims(ctx: RuleContext, inputs: Sequence[fx.Node], shape: tuple[int, ...], skip: int) -> list[L.Dim]:
    """Broadcast batch dims (all but the last `skip`) of several operands."""
    out: list[L.Dim] = [L.plain(s) for s in shape[: len(shape) - skip]]
    for n in inputs:
        lay = ctx.in_layout(n)[: -skip or None]
        offset = len(out) - len(lay)
        for i, d in enumerate(lay):
            taken = out[offset + i].is_spatial or out[offset + i].prefix if offset + i >= 0 else True
            if not taken and d.size == shape[offset + i] and (d.is_spatial or d.prefix):
                out[offset + i] = d  # the first operand (queries) wins: its grid is the output's
    return out


def _matmul(ctx: RuleContext) -> NodeSpec:
    """a @ b: output (i, j) reads row i of a and column j of b along the contracted dim.

    The result keeps one set of positions: a's rows when they hold space, else b's
    columns. b's columns next to spatial rows (the keys of q @ k^T) become a
    channel-like dim, and b is mixed over them, so each query reads all keys of its
    window (or of the whole map: global).
    """
    a, b = ctx.node.args[0], ctx.node.args[1]
    shape = ctx.out_shape()
    # argument order, not a set: the first operand's batch dims must win, run after run
    dep = [n for n in dict.fromkeys((a, b)) if isinstance(n, fx.Node) and ctx.depends.get(n)]
    la = ctx.in_layout(a) if a in dep else None
    lb = ctx.in_layout(b) if b in dep else None
    rows = la[-2] if la is not None and len(la) >= 2 and la[-2].size == shape[-2] else L.plain(shape[-2])
    cols = lb[-1] if lb is not None and lb[-1].size == shape[-1] else L.plain(shape[-1])
    rows_space = rows.is_spatial or bool(rows.prefix)
    keep_cols = not rows_space and (cols.is_spatial or bool(cols.prefix))
    if not rows_space and not keep_cols and lb is not None and _window_tokens(lb, shape[-2]):
        rows = lb[-2]  # rows with no position each read b's whole window: give them its positions
    layout = tuple(_batch_dims(ctx, list(dep), shape, 2) + [rows, cols if keep_cols else L.plain(shape[-1])])
    edges: list[tuple[fx.Node, AxisMaps]] = []
    for n, mixed in ((a, [-1]), (b, [-2] if keep_cols else [-2, -1])):
        if n not in dep:
            continue
        maps = mixed_maps(ctx, n, mixed, layout) if holds_space(ctx.in_layout(n), mixed) else \
            same_layout_maps(ctx, n, layout)
        if maps is None:
            return NodeSpec("global", "matmul over positions", [(m, (None,) * ctx.naxes) for m in dep],
                            layout, mixes_all=True, keeps_local=False)
        edges.append((n, maps))
    windowed = any(isinstance(t, (BlockBroadcast, PooledBlocks)) for _, maps in edges for t in maps)
    kind = "attention" if windowed else ("merge" if len(edges) > 1 else "pointwise")
    return NodeSpec(kind, "matmul within windows" if windowed else "matmul", edges, layout)


def _window_tokens(lb: L.Layout, rows: int) -> bool:
    """b's rows hold the lowest digits of their axes (a window's tokens; the window index
    sits in the batch) and as many positions as the output has rows.

    attn @ v with queries that have no position (GCViT's global query, shared by every
    window): output row n of window w reads all of window w, whatever n is, so labelling
    the rows with the window's positions is exact and puts them back where window_reverse
    expects them.
    """
    d = lb[-2]
    if d.size != rows or d.prefix or not d.is_spatial:
        return False
    for axis in d.spatial_axes:
        found = L.digits(lb, axis)
        inner = [f for i, f in found if i == len(lb) - 2]
        if L.low_block(inner, [f for _, f in found]) is None:
            return False
    return True


rule(torch.matmul, operator.matmul, torch.bmm, "Tensor.matmul", "Tensor.bmm", torch.baddbmm)(_matmul)


@rule(F.scaled_dot_product_attention)
def attention_function(ctx: RuleContext) -> NodeSpec:
    """Each query row reads every key and value of its batch entry: global over tokens,
    or within windows when the token dim holds the inner digits of a partition."""
    q, k, v = (ctx.arg(i, name) for i, name in enumerate(("query", "key", "value")))
    dep = [n for n in (q, k, v) if isinstance(n, fx.Node) and ctx.depends.get(n)]
    shape = ctx.out_shape()
    lq = ctx.in_layout(q) if q in dep else None
    rows = lq[-2] if lq is not None else L.plain(shape[-2])
    layout = tuple(_batch_dims(ctx, dep, shape, 2) + [rows, L.plain(shape[-1])])
    edges: list[tuple[fx.Node, AxisMaps]] = []
    for n in dep:
        maps = same_layout_maps(ctx, n, layout) if n is q else mixed_maps(ctx, n, [-2], layout)
        if maps is None or (n is not q and not holds_space(ctx.in_layout(n), [-2])
                            and L.spatial_axes(ctx.in_layout(n))):
            maps = None
        if maps is None:
            return NodeSpec("global", "attention", [(m, (None,) * ctx.naxes) for m in dep], layout,
                            mixes_all=True, keeps_local=False)
        edges.append((n, maps))
    return NodeSpec("attention", "attention within windows", edges, layout)


@rule(nn.MultiheadAttention)
def mha_module(ctx: RuleContext) -> NodeSpec:
    inputs = ctx.tensor_inputs()
    lay = ctx.in_layout(inputs[0])
    out = (lay, L.non_spatial(tuple(ctx.value[1].shape)) if ctx.value[1] is not None else None)
    return NodeSpec("global", "MultiheadAttention", [(n, (None,) * ctx.naxes) for n in inputs], out,
                    mixes_all=True, keeps_local=False)


# -- einsum ----------------------------------------------------------------------------------------


def _factor_keys(d: L.Dim) -> set[tuple[Any, ...]]:
    keys = {(f.axis, f.step, f.size) for f in d.factors if f.axis is not None and f.size > 1}
    return keys | ({("prefix",)} if d.prefix else set())


@rule(torch.einsum, "einsum")
def einsum(ctx: RuleContext) -> NodeSpec:
    """Output positions come from the first operand that holds them; an operand whose spatial
    dim is summed over (or whose positions are already taken, like the keys of q.k) is mixed
    along it: within windows (BlockBroadcast) or globally."""
    equation = str(ctx.concrete(ctx.node.args[0])).replace(" ", "")
    operands = list(ctx.node.args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    if "." in equation or "->" not in equation:
        raise UnsupportedOpError("einsum", ctx.where, f"equation {equation!r} (ellipsis or implicit output)")
    lhs, rhs = equation.split("->")
    terms = lhs.split(",")
    shape = ctx.out_shape()
    dep = [(t, n) for t, n in zip(terms, operands, strict=True) if isinstance(n, fx.Node) and ctx.depends.get(n)]
    out: list[L.Dim] = []
    taken: set[tuple[Any, ...]] = set()
    for i, letter in enumerate(rhs):
        chosen = L.plain(shape[i])
        for term, n in dep:
            d = ctx.in_layout(n)[term.index(letter)] if letter in term else None
            if d is not None and d.size == shape[i] and _factor_keys(d) and not _factor_keys(d) & taken:
                chosen = d
                taken |= _factor_keys(d)
                break
        out.append(chosen)
    layout = tuple(out)
    edges: list[tuple[fx.Node, AxisMaps]] = []
    for term, n in dep:
        lay = ctx.in_layout(n)
        mixed = [j for j, letter in enumerate(term)
                 if _factor_keys(lay[j]) and (letter not in rhs or layout[rhs.index(letter)] != lay[j])]
        maps = mixed_maps(ctx, n, mixed, layout) if mixed else same_layout_maps(ctx, n, layout)
        if maps is None:
            return NodeSpec("global", f"einsum({equation}) over positions", [(m, (None,) * ctx.naxes) for _, m in dep],
                            layout, mixes_all=True, keeps_local=False)
        edges.append((n, maps))
    windowed = any(isinstance(t, (BlockBroadcast, PooledBlocks)) for _, maps in edges for t in maps)
    kind = "attention" if windowed else ("merge" if len(edges) > 1 else "pointwise")
    return NodeSpec(kind, f"einsum({equation})", edges, layout)



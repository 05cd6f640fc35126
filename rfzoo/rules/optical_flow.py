"""RAFT's correlation: the all-pairs volume and its lookup at the current flow.

Both are the functions `rfzoo.optical_flow` keeps whole (torchvision's CorrBlock runs
Python shape checks that fx cannot trace):

- `all_pairs_correlation` dots every position of frame 1's features with every position
  of frame 2's: each entry of the volume depends on all of frame 2's positions, so the
  op mixes all positions (global), like the q.k product of attention over all tokens,
  and no local path goes through it (rfzoo's convention for attention: the query's own
  position is not a local path either).
- `correlation_lookup` samples position p's row of that volume (bilinear grid_sample)
  around coords[p], the current flow target, which depends on the data. From the volume
  it adds only what the volume already is, global context; from the coordinates it reads
  position p alone (the sampled row and the grid point are both p's): per position.

- torchvision's `upsample_flow` takes the flow from 1/8 resolution to the input's: RAFT-small
  interpolates it (bilinear, corners aligned); RAFT-large takes, for each 8x8 block of
  output pixels, a convex combination of the 3x3 coarse flow vectors around the block's
  coarse unit, weighted by 9 mask channels of that unit (softmax over the 9).

A lookup of anything but the correlation volume (a grid_sample of a feature map that
still holds local positions would read data-dependent positions of it: global) is not
what RAFT does, and is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import fx

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.optical_flow import all_pairs_correlation, correlation_lookup, upsample_flow
from rfzoo.rules.common import same_layout_maps
from rfzoo.rules.registry import AxisMaps, NodeSpec, RuleContext, rule
from rfzoo.transforms import Resample, Transform, Transposed


def _feature_map_positions(ctx: RuleContext, fmap: fx.Node, op: str) -> tuple[L.Dim, L.Dim]:
    """The (h, w) dims of an (N, C, h, w) feature map, each one spatial axis."""
    lay = ctx.in_layout(fmap)
    if len(lay) != 4 or lay[0].is_spatial or lay[1].is_spatial or lay[2].single_axis is None \
            or lay[3].single_axis is None:
        raise UnsupportedOpError(op, ctx.where, f"a feature map not in (N, C, h, w) layout: {lay}")
    return lay[2], lay[3]


@rule(all_pairs_correlation)
def all_pairs_correlation_rule(ctx: RuleContext) -> NodeSpec:
    op = "all-pairs correlation"
    fmap1, fmap2 = ctx.node.args[0], ctx.node.args[1]
    for fmap in (fmap1, fmap2):
        if isinstance(fmap, fx.Node) and ctx.depends.get(fmap):
            _feature_map_positions(ctx, fmap, op)
    levels = tuple(L.non_spatial(tuple(level.shape)) for level in ctx.value)
    note = "every position of frame 1's features dotted with every position of frame 2's"
    return NodeSpec("global", op, [(n, (None,) * ctx.naxes) for n in ctx.tensor_inputs()], levels,
                    mixes_all=True, keeps_local=False, notes=[note])


@rule(correlation_lookup)
def correlation_lookup_rule(ctx: RuleContext) -> NodeSpec:
    op = "correlation lookup (grid_sample at the flow)"
    pyramid, coords = ctx.node.args[0], ctx.node.args[1]
    if not (isinstance(pyramid, fx.Node) and pyramid.target is all_pairs_correlation):
        raise UnsupportedOpError(op, ctx.where, "sampling something other than RAFT's correlation volume")
    fmap1 = pyramid.args[0]
    if not (isinstance(fmap1, fx.Node) and ctx.depends.get(fmap1)):
        raise UnsupportedOpError(op, ctx.where, "a correlation volume of constant features")
    # position p of the output is row p of the volume: frame 1's feature-map positions
    rows = _feature_map_positions(ctx, fmap1, op)
    shape = ctx.out_shape()
    if tuple(d.size for d in rows) != shape[2:]:
        raise UnsupportedOpError(op, ctx.where, f"output {shape} not at the feature map's positions")
    out = (L.plain(shape[0]), L.plain(shape[1]), *rows)
    edges = [(pyramid, (None,) * ctx.naxes)]
    if isinstance(coords, fx.Node) and ctx.depends.get(coords):  # constant at the first iteration
        if _feature_map_positions(ctx, coords, op) != rows:
            raise UnsupportedOpError(op, ctx.where, "coordinates not at the feature map's positions")
        edges.append((coords, same_layout_maps(ctx, coords, out)))
    return NodeSpec("merge" if len(edges) > 1 else "reshape", op, edges, out)


@rule(upsample_flow)
def upsample_flow_rule(ctx: RuleContext) -> NodeSpec:
    op = "upsample_flow"
    flow, up_mask = ctx.arg(0, "flow"), ctx.arg(1, "up_mask")
    factor = ctx.concrete(ctx.arg(2, "factor", 8))
    rows = _feature_map_positions(ctx, flow, op)
    coarse = tuple(d.size for d in rows)
    shape = ctx.out_shape()
    if shape[2:] != tuple(factor * n for n in coarse):
        raise UnsupportedOpError(op, ctx.where, f"output {shape} is not {factor}x the flow's {coarse}")
    out = (L.plain(shape[0]), L.plain(shape[1]),
           *(L.Dim((L.Factor(d.single_axis, factor * d.size),)) for d in rows))
    if up_mask is None:
        # factor * F.interpolate(flow, size=(factor*h, factor*w), bilinear, align_corners=True)
        maps = _per_axis(ctx, rows, lambda n: Resample(n, factor * n, "bilinear", True))
        return NodeSpec("upsample", f"upsample_flow(bilinear x{factor})", [(flow, maps)], out)
    if _feature_map_positions(ctx, up_mask, op) != rows:
        raise UnsupportedOpError(op, ctx.where, "mask not at the flow's positions")
    # output pixel o reads the coarse unit c = o // factor of the mask, and units c-1..c+1
    # of the flow (the 3x3 unfold, padding 1): coarse unit i writes outputs
    # factor*(i-1) .. factor*(i+2)-1 of the flow's combination, factor*i .. factor*(i+1)-1 of the mask's.
    flow_maps = _per_axis(ctx, rows, lambda n: Transposed(3 * factor, factor, factor))
    mask_maps = _per_axis(ctx, rows, lambda n: Transposed(factor, factor, 0))
    edges = [(n, maps) for n, maps in ((flow, flow_maps), (up_mask, mask_maps)) if ctx.depends.get(n)]
    return NodeSpec("upsample", f"upsample_flow(convex 3x3, x{factor})", edges, out)


def _per_axis(ctx: RuleContext, rows: tuple[L.Dim, L.Dim], transform: Callable[[int], Transform]) -> AxisMaps:
    maps: list[Transform | None] = [None] * ctx.naxes
    for d in rows:
        maps[d.single_axis] = transform(d.size)
    return tuple(maps)

"""Padding, cropping, interpolation and pixel (un)shuffle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import spatial_in_sizes, tf_same_left, tuple_arg
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.transforms import (
    IDENTITY,
    Resample,
    Transform,
    Window,
)

# -- padding, cropping, resampling -----------------------------------------------------------


def _pad(ctx: RuleContext, pads: Sequence[int], mode: str) -> NodeSpec:
    """F.pad's list runs from the last dim backwards: (left, right, top, bottom, ...)."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    out_dims = list(lay)
    for i in range(len(pads) // 2):
        dim = len(lay) - 1 - i
        left = pads[2 * i]
        d = lay[dim]
        right = pads[2 * i + 1]
        if d.single_axis is None and (d.is_spatial or d.prefix) and (left, right) != (0, 0):
            if mode != "constant" or right or left < 0:
                # BoTNet's rel_logits_1d pads a flattened (query, relative index) dim at the end,
                # then a reshape skews the rows: no factor layout follows that.
                raise UnsupportedOpError("pad", ctx.where, f"padding a flattened spatial dim {d} by ({left}, {right})"
                                         + ("" if mode == "constant" else f" in {mode} mode"))
            # Constants in front of flattened tokens are prefix tokens (CoaT's class-token slot).
            out_dims[dim] = L.Dim(d.factors, d.prefix + left)
            continue
        if d.single_axis is None:
            if d.is_spatial or d.prefix:
                out_dims[dim] = d  # a zero pad leaves the dim as it is
                continue
            out_dims[dim] = L.plain(shape[dim])
            continue
        maps[d.single_axis] = Window(1, 1, left)
        out_dims[dim] = L.Dim((L.Factor(d.single_axis, shape[dim]),))
    label = f"pad({', '.join(map(str, pads))}{'' if mode == 'constant' else ', ' + mode})"
    return NodeSpec("pad", label, [(src, tuple(maps))], tuple(out_dims))


@rule(F.pad, torch._C._nn.pad)
def pad_function(ctx: RuleContext) -> NodeSpec:
    return _pad(ctx, ctx.concrete(ctx.arg(1, "pad")), ctx.concrete(ctx.arg(2, "mode", "constant")))


@rule(nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d,
      nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d, nn.ReplicationPad1d,
      nn.ReplicationPad2d, nn.ReplicationPad3d, nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d)
def pad_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    mode = {"Reflection": "reflect", "Replication": "replicate", "Circular": "circular"}
    name = type(m).__name__
    # Reflection pads read mirrored interior pixels, which are inside the window's hull anyway.
    return _pad(ctx, m.padding, next((v for k, v in mode.items() if name.startswith(k)), "constant"))


@rule("pad_same")
def timm_pad_same(ctx: RuleContext) -> NodeSpec:
    src = ctx.node.args[0]
    kernel = ctx.concrete(ctx.arg(1, "kernel_size"))
    stride = ctx.concrete(ctx.arg(2, "stride"))
    dilation = ctx.concrete(ctx.arg(3, "dilation", (1, 1)))
    sizes = spatial_in_sizes(ctx, src, len(kernel))
    shape_in = ctx.values[src].shape
    pads: list[int] = []
    for i in reversed(range(len(kernel))):
        left = tf_same_left(sizes[i], kernel[i], stride[i], dilation[i])
        total = ctx.out_shape()[len(shape_in) - len(kernel) + i] - sizes[i]
        pads += [left, total - left]
    return _pad(ctx, pads, "constant")


def resample(ctx: RuleContext, src: fx.Node, mode: str, align_corners: bool | None,
              scale_factor: Any, label: str) -> NodeSpec:
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    in_shape = tuple(ctx.values[src].shape)
    n = len(shape) - 2
    factors = tuple_arg(scale_factor, n) if scale_factor is not None else None
    maps: list[Transform | None] = [None] * ctx.naxes
    out_dims = [L.plain(s) for s in shape[:2]]
    for i, d in enumerate(lay[2:]):
        axis = d.single_axis
        if axis is None and d.size > 1:
            raise UnsupportedOpError(label, ctx.where, "interpolating a non-spatial dim")
        if axis is None:
            axis = next((f.axis for f in d.factors if f.axis is not None), None)
        if axis is None:
            out_dims.append(L.plain(shape[2 + i]))
            continue
        src_scale = 1.0 / factors[i] if factors else None
        if in_shape[2 + i] == shape[2 + i] and (src_scale in (None, 1.0)):
            maps[axis] = IDENTITY
        elif in_shape[2 + i] == 1:
            maps[axis] = Resample(1, shape[2 + i], "nearest", False, 0.0)
        else:
            maps[axis] = Resample(in_shape[2 + i], shape[2 + i], mode, bool(align_corners), src_scale)
        out_dims.append(L.Dim((L.Factor(axis, shape[2 + i]),)))
    return NodeSpec("upsample", label, [(src, tuple(maps))], tuple(out_dims))


@rule(F.interpolate, F.upsample, F.upsample_bilinear, F.upsample_nearest)
def interpolate_function(ctx: RuleContext) -> NodeSpec:
    c = ctx.concrete
    name = ctx.node.target.__name__
    mode = {"upsample_bilinear": "bilinear", "upsample_nearest": "nearest"}.get(name)
    align = True if name == "upsample_bilinear" else c(ctx.arg(4, "align_corners", None))
    mode = mode or c(ctx.arg(3, "mode", "nearest"))
    scale = c(ctx.arg(2, "scale_factor", None))
    if c(ctx.node.kwargs.get("recompute_scale_factor")):
        scale = None
    return resample(ctx, ctx.node.args[0], mode, align, scale, f"interpolate({mode})")


@rule(nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)
def upsample_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    align = True if isinstance(m, nn.UpsamplingBilinear2d) else m.align_corners
    scale = None if m.recompute_scale_factor else m.scale_factor
    return resample(ctx, ctx.first_input(), m.mode, align, scale, f"Upsample({m.mode})")


def _pixel_shuffle(ctx: RuleContext, r: int, inverse: bool) -> NodeSpec:
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    n = len(shape) - 2
    maps: list[Transform | None] = [None] * ctx.naxes
    out_dims = [L.plain(s) for s in shape[: len(shape) - n]]
    for i, d in enumerate(lay[len(lay) - n:]):
        axis = d.single_axis
        if axis is None:
            raise UnsupportedOpError("pixel_shuffle", ctx.where, "non-spatial dims")
        in_size = ctx.values[src].shape[len(lay) - n + i]
        maps[axis] = Window(r, r, 0) if inverse else Resample(in_size, in_size * r, "nearest", False, 1 / r)
        out_dims.append(L.Dim((L.Factor(axis, shape[len(shape) - n + i]),)))
    label = f"{'PixelUnshuffle' if inverse else 'PixelShuffle'}({r})"
    return NodeSpec("pool" if inverse else "upsample", label, [(src, tuple(maps))], tuple(out_dims))


@rule(nn.PixelShuffle)
def pixel_shuffle_module(ctx: RuleContext) -> NodeSpec:
    return _pixel_shuffle(ctx, ctx.module.upscale_factor, inverse=False)


@rule(nn.PixelUnshuffle)
def pixel_unshuffle_module(ctx: RuleContext) -> NodeSpec:
    return _pixel_shuffle(ctx, ctx.module.downscale_factor, inverse=True)


@rule(F.pixel_shuffle, torch.pixel_shuffle)
def pixel_shuffle_function(ctx: RuleContext) -> NodeSpec:
    return _pixel_shuffle(ctx, ctx.concrete(ctx.arg(1, "upscale_factor")), inverse=False)


@rule(F.pixel_unshuffle, torch.pixel_unshuffle)
def pixel_unshuffle_function(ctx: RuleContext) -> NodeSpec:
    return _pixel_shuffle(ctx, ctx.concrete(ctx.arg(1, "downscale_factor")), inverse=True)



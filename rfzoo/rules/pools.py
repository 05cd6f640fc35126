"""Pooling: fixed windows, TF-"same" windows, adaptive pooling."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import same_layout_maps, tuple_arg, window_spec
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.rules.windows import conv_label, same_pad_window
from rfzoo.transforms import (
    IDENTITY,
    Resample,
    Transform,
    Window,
)

# -- pooling ---------------------------------------------------------------------------


def _pool(ctx: RuleContext, name: str, n: int, kernel: Any, stride: Any, padding: Any,
          dilation: Any = 1) -> NodeSpec:
    k = tuple_arg(kernel, n)
    s = tuple_arg(stride if stride not in (None, ()) else kernel, n)
    d = tuple_arg(dilation, n)
    p = tuple_arg(padding, n)
    src = ctx.first_input()
    # ceil_mode only adds output units at the end; a window's start never moves.
    return window_spec(ctx, "pool", conv_label(name, k, s, d, p), src, k, s, d, p, n)


@rule(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def maxpool_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    n = int(type(m).__name__[-2])
    return _pool(ctx, type(m).__name__, n, m.kernel_size, m.stride, m.padding, m.dilation)


@rule(nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.LPPool1d, nn.LPPool2d, nn.LPPool3d)
def avgpool_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    n = int(type(m).__name__[-2])
    return _pool(ctx, type(m).__name__, n, m.kernel_size, m.stride, getattr(m, "padding", 0))


@rule("MaxPool2dSame", "AvgPool2dSame")
def pool_same_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    k, s = tuple_arg(m.kernel_size, 2), tuple_arg(m.stride, 2)
    d = tuple_arg(getattr(m, "dilation", 1), 2)
    return same_pad_window(ctx, "pool", type(m).__name__, k, s, d)


@rule(F.max_pool1d, F.max_pool2d, F.max_pool3d, torch.max_pool1d, torch.max_pool2d, torch.max_pool3d,
      F.max_pool1d_with_indices, F.max_pool2d_with_indices, F.max_pool3d_with_indices)
def maxpool_function(ctx: RuleContext) -> NodeSpec:
    name = getattr(ctx.node.target, "__name__", "max_pool")
    n = int(name.split("_pool")[1][0])
    c = ctx.concrete
    return _pool(ctx, name, n, c(ctx.arg(1, "kernel_size")), c(ctx.arg(2, "stride", None)),
                 c(ctx.arg(3, "padding", 0)), c(ctx.arg(4, "dilation", 1)))


@rule(F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.lp_pool1d, F.lp_pool2d, torch.avg_pool1d)
def avgpool_function(ctx: RuleContext) -> NodeSpec:
    name = getattr(ctx.node.target, "__name__", "avg_pool")
    n = int(name.split("_pool")[1][0])
    c = ctx.concrete
    if name.startswith("lp_pool"):
        return _pool(ctx, name, n, c(ctx.arg(2, "kernel_size")), c(ctx.arg(3, "stride", None)), 0)
    return _pool(ctx, name, n, c(ctx.arg(1, "kernel_size")), c(ctx.arg(2, "stride", None)), c(ctx.arg(3, "padding", 0)))


def _adaptive(ctx: RuleContext, name: str) -> NodeSpec:
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    value_in = ctx.values[src]
    n = len([d for d in name if d.isdigit()]) and int(name.rstrip("d")[-1])
    in_sp, out_sp = tuple(value_in.shape[-n:]), tuple(shape[-n:])
    if all(o == 1 for o in out_sp) and any(i > 1 for i in in_sp):
        return NodeSpec("global", f"{name}(1) global", [(src, same_layout_maps(ctx, src, L.non_spatial(shape)))],
                        L.non_spatial(shape), mixes_all=True, keeps_local=False)
    maps: list[Transform | None] = [None] * ctx.naxes
    out_dims = [L.plain(s) for s in shape[: len(shape) - n]]
    for i, d in enumerate(lay[len(lay) - n:]):
        axis = d.single_axis
        if axis is None and d.size > 1:
            raise UnsupportedOpError(name, ctx.where, "adaptive pooling over a non-spatial dim")
        if axis is not None:
            if in_sp[i] == out_sp[i]:
                maps[axis] = IDENTITY
            elif in_sp[i] % out_sp[i] == 0:
                f = in_sp[i] // out_sp[i]
                maps[axis] = Window(f, f, 0)
            else:
                maps[axis] = Resample(in_sp[i], out_sp[i], "area")
            out_dims.append(L.Dim((L.Factor(axis, out_sp[i]),)))
        else:
            out_dims.append(L.plain(out_sp[i]))
    return NodeSpec("pool", f"{name}({'x'.join(map(str, out_sp))})", [(src, tuple(maps))], tuple(out_dims))


@rule(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
      nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
def adaptive_module(ctx: RuleContext) -> NodeSpec:
    return _adaptive(ctx, type(ctx.module).__name__)


@rule(F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, F.adaptive_max_pool1d,
      F.adaptive_max_pool2d, F.adaptive_max_pool3d, torch.adaptive_avg_pool1d)
def adaptive_function(ctx: RuleContext) -> NodeSpec:
    return _adaptive(ctx, ctx.node.target.__name__)



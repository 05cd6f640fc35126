"""Convolutions and transposed convolutions: windows over each spatial axis."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import fx, nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import padding_left, spatial_in_sizes, tf_same_left, tuple_arg, window_spec
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.transforms import (
    Transform,
    Transposed,
    Window,
)

# -- convolutions ---------------------------------------------------------------------


def conv_label(name: str, k: Sequence[int], s: Sequence[int], d: Sequence[int], p: Sequence[int]) -> str:
    def f(v: Sequence[int]) -> str:
        return str(v[0]) if len(set(v)) == 1 else "x".join(map(str, v))

    label = f"{name}(k={f(k)}, s={f(s)}, p={f(p)}"
    return label + (f", d={f(d)})" if any(x != 1 for x in d) else ")")


@rule(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def conv_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    assert isinstance(m, nn.modules.conv._ConvNd)
    n = len(m.kernel_size)
    src = ctx.first_input()
    pad = padding_left(m.padding, n, m.kernel_size, m.stride, m.dilation, spatial_in_sizes(ctx, src, n))
    label = conv_label(type(m).__name__, m.kernel_size, m.stride, m.dilation, pad)
    return window_spec(ctx, "conv", label, src, m.kernel_size, m.stride, m.dilation, pad, n, m.groups == 1)


def same_pad_window(ctx: RuleContext, kind: str, name: str, kernel: Sequence[int],
                     stride: Sequence[int], dilation: Sequence[int], mixes_channels: bool = False) -> NodeSpec:
    n = len(kernel)
    src = ctx.first_input()
    sizes = spatial_in_sizes(ctx, src, n)
    pad = tuple(tf_same_left(sizes[i], kernel[i], stride[i], dilation[i]) for i in range(n))
    label = conv_label(name, kernel, stride, dilation, pad) + " same"
    return window_spec(ctx, kind, label, src, kernel, stride, dilation, pad, n, mixes_channels)


@rule("Conv2dSame", "StdConv2dSame", "ScaledStdConv2dSame")
def conv_same_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    assert isinstance(m, nn.Conv2d)
    return same_pad_window(ctx, "conv", type(m).__name__, m.kernel_size, m.stride, m.dilation, m.groups == 1)


@rule("CondConv2d")
def cond_conv(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    k, s, d = tuple_arg(m.kernel_size, 2), tuple_arg(m.stride, 2), tuple_arg(m.dilation, 2)
    if getattr(m, "dynamic_padding", False):
        return same_pad_window(ctx, "conv", "CondConv2d", k, s, d)
    pad = tuple_arg(m.padding, 2)
    return window_spec(ctx, "conv", conv_label("CondConv2d", k, s, d, pad), ctx.first_input(), k, s, d, pad, 2)


@rule(F.conv1d, F.conv2d, F.conv3d, torch.conv1d, torch.conv2d, torch.conv3d)
def conv_function(ctx: RuleContext) -> NodeSpec:
    src = ctx.node.args[0]
    weight = ctx.concrete(ctx.arg(1, "weight"))
    n = weight.dim() - 2
    kernel = tuple(weight.shape[2:])
    stride = tuple_arg(ctx.concrete(ctx.arg(3, "stride", 1)), n)
    padding = ctx.concrete(ctx.arg(4, "padding", 0))
    dilation = tuple_arg(ctx.concrete(ctx.arg(5, "dilation", 1)), n)
    pad = padding_left(padding, n, kernel, stride, dilation, spatial_in_sizes(ctx, src, n))
    label = conv_label(f"conv{n}d", kernel, stride, dilation, pad)
    groups = ctx.concrete(ctx.arg(6, "groups", 1))
    return window_spec(ctx, "conv", label, src, kernel, stride, dilation, pad, n, groups == 1)


def _transposed(ctx: RuleContext, src: fx.Node, kernel: Sequence[int], stride: Sequence[int],
                dilation: Sequence[int], padding: Sequence[int], name: str) -> NodeSpec:
    n = len(kernel)
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    maps: list[Transform | None] = [None] * ctx.naxes
    out_dims = [L.plain(s) for s in shape[: len(shape) - n]]
    for i, d in enumerate(lay[len(lay) - n:]):
        axis = d.single_axis
        size = shape[len(shape) - n + i]
        span = dilation[i] * (kernel[i] - 1) + 1
        if axis is None:
            raise UnsupportedOpError(name, ctx.where, "transposed conv over a non-spatial dim")
        if stride[i] == 1:  # stride 1 is an ordinary window with mirrored padding
            maps[axis] = Window(span, 1, span - 1 - padding[i])
        else:
            maps[axis] = Transposed(span, stride[i], padding[i])
        out_dims.append(L.Dim((L.Factor(axis, size),)))
    label = conv_label(name, kernel, stride, dilation, padding)
    return NodeSpec("upsample", label, [(src, tuple(maps))], tuple(out_dims))


@rule(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def conv_transpose_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    assert isinstance(m, nn.modules.conv._ConvTransposeNd)
    return _transposed(ctx, ctx.first_input(), m.kernel_size, m.stride, m.dilation, m.padding, type(m).__name__)


@rule(F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)
def conv_transpose_function(ctx: RuleContext) -> NodeSpec:
    weight = ctx.concrete(ctx.arg(1, "weight"))
    n = weight.dim() - 2
    stride = tuple_arg(ctx.concrete(ctx.arg(3, "stride", 1)), n)
    padding = tuple_arg(ctx.concrete(ctx.arg(4, "padding", 0)), n)
    dilation = tuple_arg(ctx.concrete(ctx.arg(7, "dilation", 1)), n)
    return _transposed(ctx, ctx.node.args[0], tuple(weight.shape[2:]), stride, dilation, padding, f"conv_transpose{n}d")



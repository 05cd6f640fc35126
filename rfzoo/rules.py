"""One small handler per op kind: what an fx node does to the receptive field.

Each handler gets a `RuleContext` for one node (its module, arguments, traced input
and output values, and input layouts) and returns a `NodeSpec`: the per-axis
transform from each input, the output layout, and whether the op mixes all
positions. The registry maps module classes, functions and method names to
handlers; registering a key twice is an error. An op without a handler raises
`UnsupportedOpError` naming it: nothing is ever treated as identity by default.

Known limitation: an RF is per tensor, the largest over its channels. A channel
slice or split that keeps only the channels of one branch (x[:, :c] after a cat, a
chunk of a concatenation) keeps the tensor's RF, so the reported RF can be larger
than that of any channel the slice holds. Tracking RFs per channel group would fix
it; no model in the zoo relies on it for its summary.

Opaque timm leaves that mix all positions (`GLOBAL_LEAVES`) count as global context
as a whole, with a note saying why: their internal local paths are not visible.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.transforms import (
    IDENTITY,
    BlockBroadcast,
    PooledBlocks,
    Resample,
    Transform,
    Transposed,
    Window,
)

AxisMaps = tuple[Transform | None, ...]


@dataclass
class NodeSpec:
    kind: str
    op: str
    edges: list[tuple[fx.Node, AxisMaps]]
    layout: Any  # Layout, or a tuple of Layouts for tuple-valued nodes
    mixes_all: bool = False
    keeps_local: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class RuleContext:
    node: fx.Node
    module: nn.Module | None
    naxes: int
    values: dict[fx.Node, Any]
    layouts: dict[fx.Node, Any]
    depends: dict[fx.Node, bool]

    @property
    def where(self) -> str:
        target = self.node.target if self.node.op == "call_module" else self.node.name
        return str(target)

    @property
    def value(self) -> Any:
        return self.values[self.node]

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        if len(self.node.args) > index:
            return self.node.args[index]
        return self.node.kwargs.get(name, default)

    def concrete(self, x: Any) -> Any:
        """The traced value of an argument (nodes replaced by what they computed)."""
        return fx.node.map_arg(x, lambda n: self.values[n])

    def tensor_inputs(self) -> list[fx.Node]:
        """Input nodes that depend on the network input, in argument order, without repeats."""
        seen: list[fx.Node] = []
        for n in self.node.all_input_nodes:
            if self.depends.get(n) and n not in seen:
                seen.append(n)
        return seen

    def first_input(self) -> fx.Node:
        inputs = self.tensor_inputs()
        if not inputs:
            raise UnsupportedOpError(describe(self.node, self.module), self.where, "no input tensor")
        return inputs[0]

    def in_layout(self, n: fx.Node | None = None) -> L.Layout:
        lay = self.layouts[n if n is not None else self.first_input()]
        if isinstance(lay, tuple) and lay and not isinstance(lay[0], L.Dim):
            raise UnsupportedOpError(describe(self.node, self.module), self.where, "tuple input")
        return lay

    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)


Handler = Callable[[RuleContext], NodeSpec]
_RULES: dict[Any, Handler] = {}


def rule(*keys: Any) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for key in dict.fromkeys(keys):  # aliases (F.conv2d is torch.conv2d) count once
            if key in _RULES:
                raise ValueError(f"duplicate rule for {key!r}")
            _RULES[key] = fn
        return fn

    return register


def register_rule(key: Any, handler: Handler) -> None:
    """Public hook for a user's own module or function."""
    rule(key)(handler)


def describe(node: fx.Node, module: nn.Module | None) -> str:
    if node.op == "call_module" and module is not None:
        return type(module).__qualname__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    mod = getattr(target, "__module__", "") or ""
    return f"{mod}.{getattr(target, '__name__', str(target))}".lstrip(".")


def find_handler(node: fx.Node, module: nn.Module | None) -> Handler | None:
    if node.op == "call_module":
        assert module is not None
        for cls in type(module).__mro__:
            if cls in _RULES:
                return _RULES[cls]
            if cls.__qualname__ in _RULES:  # registered by name (optional libraries)
                return _RULES[cls.__qualname__]
        return None
    if node.op == "call_method":
        return _RULES.get(f"Tensor.{node.target}")
    found = _RULES.get(node.target)
    if found is None:  # functions fx keeps opaque (autowrapped), registered by name
        found = _RULES.get(getattr(node.target, "__name__", None))
    return found


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
            maps.append(None)
    return tuple(maps)


def _broadcasts_space(ctx: RuleContext, src: fx.Node, out_layout: L.Layout) -> bool:
    in_sizes = L.axis_sizes(ctx.in_layout(src), ctx.naxes)
    out_sizes = L.axis_sizes(out_layout, ctx.naxes)
    return any(
        i is not None and o is not None and i != o for i, o in zip(in_sizes, out_sizes, strict=True)
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


def _holds_space(lay: L.Layout, dims: Sequence[int]) -> bool:
    return any(lay[d % len(lay)].is_spatial or lay[d % len(lay)].prefix for d in dims)


def mixing(ctx: RuleContext, dims: Sequence[int], op: str, kind: str = "global", folds: bool = False) -> NodeSpec:
    """An op that combines positions along `dims`: global when those dims hold a whole axis,
    a window op when they hold the inner digits of partitioned axes.

    `folds`: the op turns `dims` into new channels (a Linear): the inner digits are gone
    and the remaining digits index blocks (see `layout.coarsen`).
    """
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    out_layout = _same_rank_layout(ctx, lay)
    if not _holds_space(lay, dims):
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


def _same_rank_layout(ctx: RuleContext, lay: L.Layout) -> L.Layout:
    """The input's layout where sizes match (a Linear changes only the channel dim)."""
    value = ctx.value
    if not isinstance(value, torch.Tensor):
        return lay
    shape = tuple(value.shape)
    if len(shape) != len(lay):
        return L.non_spatial(shape)
    return tuple(d if d.size == s else L.plain(s) for d, s in zip(lay, shape, strict=True))


def _tuple_arg(x: Any, n: int) -> tuple[Any, ...]:
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
) -> NodeSpec:
    """Conv/pool over the last `n_window_dims` dims of an N, C, spatial... tensor."""
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    windowed = lay[len(lay) - n_window_dims:]
    maps: list[Transform | None] = [None] * ctx.naxes
    out_dims = list(lay[: len(lay) - n_window_dims])
    out_dims = [L.plain(s) for s in shape[: len(shape) - n_window_dims]] if len(out_dims) == len(shape) - n_window_dims else out_dims
    for i, d in enumerate(windowed):
        size = shape[len(shape) - n_window_dims + i]
        axis = d.single_axis
        span = dilation[i] * (kernel[i] - 1) + 1
        if axis is None and d.size == 1:  # a size-1 dim: look for the trivial factor's axis
            axis = next((f.axis for f in d.factors if f.axis is not None), None)
        if axis is None and span == stride[i] == 1 and pad_left[i] == 0 and d.size == size:
            out_dims.append(d)  # a 1x1 window reads one element: whatever the dim holds stays put
            continue
        if axis is None and not (d.is_spatial or d.prefix):
            out_dims.append(L.plain(size))  # a window along channels (ECA's conv1d): per position
            continue
        if axis is None:
            raise UnsupportedOpError(op, ctx.where, f"window over a non-spatial dim {d}")
        if axis is not None:
            maps[axis] = Window(span, stride[i], pad_left[i])
            out_dims.append(L.Dim((L.Factor(axis, size),)))
        else:
            out_dims.append(L.plain(size))
    for k in range(ctx.naxes):  # axes carried in other dims (none for NCHW convs)
        if maps[k] is None and k in L.spatial_axes(lay):
            maps[k] = IDENTITY
    return NodeSpec(kind, op, [(src, tuple(maps))], tuple(out_dims))


def _padding_left(padding: Any, n: int, kernel: Sequence[int], stride: Sequence[int],
                  dilation: Sequence[int], in_sizes: Sequence[int]) -> tuple[int, ...]:
    if padding == "valid":
        return (0,) * n
    if padding == "same":
        # PyTorch puts the odd pixel of 'same' padding on the right.
        return tuple((dilation[i] * (kernel[i] - 1)) // 2 for i in range(n))
    return _tuple_arg(padding, n)


def tf_same_left(in_size: int, kernel: int, stride: int, dilation: int) -> int:
    """Left padding of TensorFlow-style 'SAME' (timm's pad_same): the odd pixel goes right."""
    out = math.ceil(in_size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    return total // 2


def _spatial_in_sizes(ctx: RuleContext, src: fx.Node, n: int) -> tuple[int, ...]:
    return tuple(ctx.values[src].shape[-n:])


# -- convolutions ---------------------------------------------------------------------


def _conv_label(name: str, k: Sequence[int], s: Sequence[int], d: Sequence[int], p: Sequence[int]) -> str:
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
    pad = _padding_left(m.padding, n, m.kernel_size, m.stride, m.dilation, _spatial_in_sizes(ctx, src, n))
    label = _conv_label(type(m).__name__, m.kernel_size, m.stride, m.dilation, pad)
    return window_spec(ctx, "conv", label, src, m.kernel_size, m.stride, m.dilation, pad, n)


def _same_pad_window(ctx: RuleContext, kind: str, name: str, kernel: Sequence[int],
                     stride: Sequence[int], dilation: Sequence[int]) -> NodeSpec:
    n = len(kernel)
    src = ctx.first_input()
    sizes = _spatial_in_sizes(ctx, src, n)
    pad = tuple(tf_same_left(sizes[i], kernel[i], stride[i], dilation[i]) for i in range(n))
    label = _conv_label(name, kernel, stride, dilation, pad) + " same"
    return window_spec(ctx, kind, label, src, kernel, stride, dilation, pad, n)


@rule("Conv2dSame", "StdConv2dSame", "ScaledStdConv2dSame")
def conv_same_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    assert isinstance(m, nn.Conv2d)
    return _same_pad_window(ctx, "conv", type(m).__name__, m.kernel_size, m.stride, m.dilation)


@rule("CondConv2d")
def cond_conv(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    k, s, d = _tuple_arg(m.kernel_size, 2), _tuple_arg(m.stride, 2), _tuple_arg(m.dilation, 2)
    if getattr(m, "dynamic_padding", False):
        return _same_pad_window(ctx, "conv", "CondConv2d", k, s, d)
    pad = _tuple_arg(m.padding, 2)
    return window_spec(ctx, "conv", _conv_label("CondConv2d", k, s, d, pad), ctx.first_input(), k, s, d, pad, 2)


@rule(F.conv1d, F.conv2d, F.conv3d, torch.conv1d, torch.conv2d, torch.conv3d)
def conv_function(ctx: RuleContext) -> NodeSpec:
    src = ctx.node.args[0]
    weight = ctx.concrete(ctx.arg(1, "weight"))
    n = weight.dim() - 2
    kernel = tuple(weight.shape[2:])
    stride = _tuple_arg(ctx.concrete(ctx.arg(3, "stride", 1)), n)
    padding = ctx.concrete(ctx.arg(4, "padding", 0))
    dilation = _tuple_arg(ctx.concrete(ctx.arg(5, "dilation", 1)), n)
    pad = _padding_left(padding, n, kernel, stride, dilation, _spatial_in_sizes(ctx, src, n))
    label = _conv_label(f"conv{n}d", kernel, stride, dilation, pad)
    return window_spec(ctx, "conv", label, src, kernel, stride, dilation, pad, n)


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
    label = _conv_label(name, kernel, stride, dilation, padding)
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
    stride = _tuple_arg(ctx.concrete(ctx.arg(3, "stride", 1)), n)
    padding = _tuple_arg(ctx.concrete(ctx.arg(4, "padding", 0)), n)
    dilation = _tuple_arg(ctx.concrete(ctx.arg(7, "dilation", 1)), n)
    return _transposed(ctx, ctx.node.args[0], tuple(weight.shape[2:]), stride, dilation, padding, f"conv_transpose{n}d")


# -- pooling ---------------------------------------------------------------------------


def _pool(ctx: RuleContext, name: str, n: int, kernel: Any, stride: Any, padding: Any,
          dilation: Any = 1) -> NodeSpec:
    k = _tuple_arg(kernel, n)
    s = _tuple_arg(stride if stride not in (None, ()) else kernel, n)
    d = _tuple_arg(dilation, n)
    p = _tuple_arg(padding, n)
    src = ctx.first_input()
    # ceil_mode only adds output units at the end; a window's start never moves.
    return window_spec(ctx, "pool", _conv_label(name, k, s, d, p), src, k, s, d, p, n)


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
    k, s = _tuple_arg(m.kernel_size, 2), _tuple_arg(m.stride, 2)
    d = _tuple_arg(getattr(m, "dilation", 1), 2)
    return _same_pad_window(ctx, "pool", type(m).__name__, k, s, d)


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
        if d.single_axis is None:
            if d.is_spatial or d.prefix:
                raise UnsupportedOpError("pad", ctx.where, "padding a flattened spatial dim")
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
    sizes = _spatial_in_sizes(ctx, src, len(kernel))
    shape_in = ctx.values[src].shape
    pads: list[int] = []
    for i in reversed(range(len(kernel))):
        left = tf_same_left(sizes[i], kernel[i], stride[i], dilation[i])
        total = ctx.out_shape()[len(shape_in) - len(kernel) + i] - sizes[i]
        pads += [left, total - left]
    return _pad(ctx, pads, "constant")


def _resample(ctx: RuleContext, src: fx.Node, mode: str, align_corners: bool | None,
              scale_factor: Any, label: str) -> NodeSpec:
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    in_shape = tuple(ctx.values[src].shape)
    n = len(shape) - 2
    factors = _tuple_arg(scale_factor, n) if scale_factor is not None else None
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
    return _resample(ctx, ctx.node.args[0], mode, align, scale, f"interpolate({mode})")


@rule(nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)
def upsample_module(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    align = True if isinstance(m, nn.UpsamplingBilinear2d) else m.align_corners
    scale = None if m.recompute_scale_factor else m.scale_factor
    return _resample(ctx, ctx.first_input(), m.mode, align, scale, f"Upsample({m.mode})")


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


# -- per-pixel ops ---------------------------------------------------------------------------

PER_PIXEL_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.Threshold, nn.LogSigmoid, nn.GLU, nn.Identity,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.LocalResponseNorm,
    nn.CrossMapLRN2d, nn.ChannelShuffle,
)
rule(*PER_PIXEL_MODULES)(lambda ctx: pointwise(ctx, op=type(ctx.module).__name__))

# timm leaf modules that act per pixel (norm + activation fused, inplace ABN)
rule("BatchNormAct2d", "FrozenBatchNormAct2d", "SyncBatchNormAct", "InplaceAbn", "FrozenBatchNorm2d")(
    lambda ctx: pointwise(ctx, op=type(ctx.module).__name__)
)

PER_PIXEL_FUNCTIONS: tuple[Any, ...] = (
    F.relu, F.relu_, F.relu6, F.leaky_relu, F.leaky_relu_, F.elu, F.selu, F.celu, F.gelu, F.silu,
    F.mish, F.hardswish, F.hardsigmoid, F.hardtanh, F.sigmoid, F.tanh, F.softplus, F.prelu,
    F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.batch_norm, F.threshold,
    F.logsigmoid, F.glu, F.local_response_norm, F.channel_shuffle, F.hardtanh_,
    torch.relu, torch.relu_, torch.sigmoid, torch.tanh, torch.exp, torch.log, torch.sqrt, torch.rsqrt,
    torch.abs, torch.clamp, torch.clip, torch.erf, torch.sign, torch.square, torch.batch_norm,
    torch.channel_shuffle, torch.pow, torch.neg, torch.reciprocal, torch.nan_to_num,
    torch.add, torch.sub, torch.mul, torch.div, torch.maximum, torch.minimum, torch.where,
    torch.addcmul, torch.lerp, torch.true_divide, torch.floor_divide, torch.sigmoid_,
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.pow,
    operator.neg, operator.iadd, operator.imul, operator.isub, operator.itruediv, operator.mod,
)
rule(*PER_PIXEL_FUNCTIONS)(pointwise)

PER_PIXEL_METHODS = (
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "exp", "log", "sqrt", "rsqrt", "abs",
    "clamp", "clamp_", "clamp_min", "clamp_max", "clip", "pow", "neg", "add", "add_", "sub", "sub_",
    "mul", "mul_", "div", "div_", "contiguous", "to", "type", "float", "double", "half", "bfloat16",
    "clone", "type_as", "masked_fill", "sign", "erf", "square", "reciprocal", "addcmul", "lerp",
    "maximum", "minimum", "where", "hardswish", "gelu", "silu", "softplus", "requires_grad_",
    "detach", "exp_", "nan_to_num", "float_power", "__and__", "__or__", "logical_not",
)
rule(*(f"Tensor.{m}" for m in PER_PIXEL_METHODS))(pointwise)


# -- normalization -------------------------------------------------------------------------------


def _norm_over(ctx: RuleContext, ndims: int, name: str) -> NodeSpec:
    """A norm over the last `ndims` dims: per pixel unless those dims hold space.

    Statistics over space keep the local path (x - mean) and add global context.
    """
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    spec = pointwise(ctx, op=name)
    dims = list(range(len(lay) - ndims, len(lay)))
    if _holds_space(lay, dims):
        windowed = mixed_maps(ctx, src, dims, spec.layout)
        if windowed is not None and len(spec.edges) == 1:  # statistics over each block of a partition
            spec.edges = [(src, windowed)]
            return spec
        spec.kind, spec.mixes_all = "norm-global", True
        spec.notes.append(f"{name} statistics span all positions")
    return spec


@rule(nn.LayerNorm)
def layernorm_module(ctx: RuleContext) -> NodeSpec:
    return _norm_over(ctx, len(ctx.module.normalized_shape), "LayerNorm")


@rule(F.layer_norm, torch.layer_norm, F.rms_norm)
def layernorm_function(ctx: RuleContext) -> NodeSpec:
    return _norm_over(ctx, len(ctx.concrete(ctx.arg(1, "normalized_shape"))), ctx.node.target.__name__)


@rule(nn.RMSNorm)
def rmsnorm_module(ctx: RuleContext) -> NodeSpec:
    return _norm_over(ctx, len(ctx.module.normalized_shape), "RMSNorm")


def _stat_norm(ctx: RuleContext, name: str) -> NodeSpec:
    spec = pointwise(ctx, op=name)
    if L.spatial_axes(ctx.in_layout(ctx.first_input())):
        spec.kind, spec.mixes_all = "norm-global", True
        spec.notes.append(f"{name} statistics span all positions")
    return spec


@rule(nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
def groupnorm_module(ctx: RuleContext) -> NodeSpec:
    return _stat_norm(ctx, type(ctx.module).__name__)


@rule(F.group_norm, F.instance_norm, torch.group_norm)
def groupnorm_function(ctx: RuleContext) -> NodeSpec:
    return _stat_norm(ctx, ctx.node.target.__name__)


@rule(F.normalize)
def normalize_function(ctx: RuleContext) -> NodeSpec:
    dim = ctx.concrete(ctx.arg(2, "dim", 1))
    return mixing(ctx, [dim], "normalize")


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
        return NodeSpec("pointwise", name, [(src, same_layout_maps(ctx, src, tuple(out)))], tuple(out))
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
    out_layout = L.non_spatial(ctx.out_shape()) if isinstance(ctx.value, torch.Tensor) else ()
    return NodeSpec("global", f"{name} over space", [(src, (None,) * ctx.naxes)], out_layout,
                    mixes_all=True, keeps_local=False)


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
    dep = {n for n in (a, b) if isinstance(n, fx.Node) and ctx.depends.get(n)}
    la = ctx.in_layout(a) if a in dep else None
    lb = ctx.in_layout(b) if b in dep else None
    rows = la[-2] if la is not None and len(la) >= 2 and la[-2].size == shape[-2] else L.plain(shape[-2])
    cols = lb[-1] if lb is not None and lb[-1].size == shape[-1] else L.plain(shape[-1])
    rows_space = rows.is_spatial or bool(rows.prefix)
    keep_cols = not rows_space and (cols.is_spatial or bool(cols.prefix))
    layout = tuple(_batch_dims(ctx, list(dep), shape, 2) + [rows, cols if keep_cols else L.plain(shape[-1])])
    edges: list[tuple[fx.Node, AxisMaps]] = []
    for n, mixed in ((a, [-1]), (b, [-2] if keep_cols else [-2, -1])):
        if n not in dep:
            continue
        maps = mixed_maps(ctx, n, mixed, layout) if _holds_space(ctx.in_layout(n), mixed) else \
            same_layout_maps(ctx, n, layout)
        if maps is None:
            return NodeSpec("global", "matmul over positions", [(m, (None,) * ctx.naxes) for m in dep],
                            layout, mixes_all=True, keeps_local=False)
        edges.append((n, maps))
    windowed = any(isinstance(t, (BlockBroadcast, PooledBlocks)) for _, maps in edges for t in maps)
    kind = "attention" if windowed else ("merge" if len(edges) > 1 else "pointwise")
    return NodeSpec(kind, "matmul within windows" if windowed else "matmul", edges, layout)


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
        if maps is None or (n is not q and not _holds_space(ctx.in_layout(n), [-2])
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
            elif d.prefix and step == 1 and start == d.prefix and stop == size:
                out.append(L.Dim(d.factors))  # prefix tokens sliced off
            elif d.prefix and step == 1 and stop <= d.prefix:
                out.append(L.plain(new_size))  # only the constant prefix tokens: no local RF left
                maps = [None] * ctx.naxes
            elif d.single_axis is not None:
                maps[d.single_axis] = Window(1, step, -start)
                out.append(L.Dim((L.Factor(d.single_axis, new_size),)))
            elif d.is_spatial or d.prefix:
                raise UnsupportedOpError("getitem", ctx.where, "slicing a flattened spatial dim")
            else:
                out.append(L.plain(new_size))
        elif isinstance(item, int):
            if d.prefix and 0 <= item < d.prefix:
                maps = [None] * ctx.naxes  # a class token: constant until attention mixes it
            elif d.is_spatial or d.prefix:
                raise UnsupportedOpError("getitem", ctx.where, "indexing one position of a spatial dim")
        else:
            raise UnsupportedOpError("getitem", ctx.where, f"index {type(item).__name__}")
        dim += 1
    out.extend(lay[dim:])
    return NodeSpec("reshape", f"getitem{_short(index)}", [(src, tuple(maps))], tuple(out))


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
    elif any(_holds_space(ctx.in_layout(t), [dim]) for t in local):
        # Tokens put in front of the spatial ones (class tokens) become prefix tokens.
        spatial = [t for t in local if _holds_space(ctx.in_layout(t), [dim])]
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


# Ops on non-tensor values of a dependent tensor (shapes) are constants; the builder skips them.
SHAPE_OPS = {"Tensor.size", "Tensor.dim", "Tensor.numel", "Tensor.shape", getattr, len, "Tensor.__len__"}


def _drop_path(ctx: RuleContext) -> NodeSpec:
    """Stochastic depth scales whole samples (identity in eval): per pixel."""
    return pointwise(ctx, op="stochastic_depth")


rule("stochastic_depth", "drop_path")(_drop_path)


@rule("shifted_window_attention", "shifted_window_attention_3d")
def shifted_window_attention(ctx: RuleContext) -> NodeSpec:
    """torchvision Swin: attention inside windows of a shifted grid on (B, H, W, C) tokens
    (or (B, T, H, W, C) for the video Swin).

    Token p reads the window that holds p - shift, shifted back by `shift`; a window
    as large as the feature map makes the attention global along that axis.
    """
    src = ctx.node.args[0]
    lay = ctx.in_layout(src)
    window = list(ctx.concrete(ctx.arg(4, "window_size")))
    shift = list(ctx.concrete(ctx.arg(6, "shift_size")))
    maps: list[Transform | None] = [None] * ctx.naxes
    covered = []
    op = ctx.node.target.__name__
    for i, d in enumerate(lay[1 : 1 + len(window)]):
        axis = d.single_axis
        if axis is None:
            raise UnsupportedOpError(op, ctx.where, "tokens not in (B, [T,] H, W, C) layout")
        size = d.size
        if window[i] >= size:
            window[i], shift[i] = size, 0  # as torchvision does: no shift when one window covers it
        covered.append(window[i] >= size)
        maps[axis] = BlockBroadcast(window[i], shift[i])
    label = f"window attention(ws={'x'.join(map(str, window))}, shift={'x'.join(map(str, shift))})"
    # One window spans the whole map: attention over all tokens (global), as timm's generic
    # path says. A window spanning only some axes (the video Swin's 8 frames) is an exact
    # block along those: the whole axis at this input size.
    if all(covered):
        return NodeSpec("global", label, [(src, (None,) * ctx.naxes)], lay, mixes_all=True, keeps_local=False)
    return NodeSpec("attention", label, [(src, tuple(maps))], lay)


# -- window partitions ---------------------------------------------------------------------------


@rule("window_reverse", "grid_reverse", "window_reverse_nchw", "grid_reverse_nchw", "deblockify")
def replay_rearrangement(ctx: RuleContext) -> NodeSpec:
    """timm's opaque window/grid/block reversals are views and permutes: replay them on the layout.

    Each pixel goes back to its position, so the maps are identities; the replay checks
    that the digits of every split axis join up again (else a later op fails loudly).
    """
    src = ctx.node.args[0]
    lay = ctx.in_layout(src)
    tracked = L.Tracked(tuple(ctx.values[src].shape), lay, ctx.where)
    args = ctx.concrete(tuple(ctx.node.args[1:]))
    kwargs = ctx.concrete(dict(ctx.node.kwargs))
    out = ctx.node.target(tracked, *args, **kwargs)
    if not isinstance(out, L.Tracked) or out.shape != ctx.out_shape():
        raise UnsupportedOpError(ctx.node.target.__name__, ctx.where, "replay did not give the traced shape")
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("reshape", ctx.node.target.__name__, [(src, maps)], out.layout)


@rule("_patch_merging_pad")
def patch_merging_pad(ctx: RuleContext) -> NodeSpec:
    """torchvision Swin: pad H, W to even, then the four 2x2 phases concatenated on channels:
    a 2x2 space-to-depth on (..., H, W, C)."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    shape = ctx.out_shape()
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    out = list(lay[:-3])
    for i, d in enumerate(lay[-3:-1]):
        axis = d.single_axis
        if axis is None:
            raise UnsupportedOpError("_patch_merging_pad", ctx.where, "tokens not in (..., H, W, C) layout")
        maps[axis] = Window(2, 2, 0)
        out.append(L.Dim((L.Factor(axis, shape[len(shape) - 3 + i]),)))
    out.append(L.plain(shape[-1]))
    return NodeSpec("pool", "patch merging (2x2 space-to-depth)", [(src, tuple(maps))], tuple(out))


# -- torchvision MViT ----------------------------------------------------------------------------


@rule("_unsqueeze")
def mvit_unsqueeze(ctx: RuleContext) -> NodeSpec:
    """MViT's (x.unsqueeze(dim) if needed, x.dim()): a tensor and an int."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    target, dim = ctx.concrete(ctx.node.args[1]), ctx.concrete(ctx.node.args[2])
    if len(lay) == target - 1:
        lay = tuple(list(lay[:dim]) + [L.Dim(())] + list(lay[dim:]))
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("reshape", "unsqueeze", [(src, maps)], (lay, None))


@rule("_squeeze")
def mvit_squeeze(ctx: RuleContext) -> NodeSpec:
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    target, dim, had = (ctx.concrete(a) for a in ctx.node.args[1:4])
    if had == target - 1:
        lay = tuple(d for i, d in enumerate(lay) if i != dim % len(lay))
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("reshape", "squeeze", [(src, maps)], lay)


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


@rule("_add_rel_pos")
def mvit_add_rel_pos(ctx: RuleContext) -> NodeSpec:
    """torchvision MViT: attn[:, :, q, k] += bias computed from query q alone: per query row."""
    attn, q = ctx.node.args[0], ctx.node.args[1]
    layout = ctx.in_layout(attn)
    edges = [(n, same_layout_maps(ctx, n, layout)) for n in (attn, q) if ctx.depends.get(n)]
    return NodeSpec("merge", "add relative position bias", edges, layout)


@rule("_add_shortcut")
def mvit_add_shortcut(ctx: RuleContext) -> NodeSpec:
    """torchvision MViT v2: x + shortcut (the class token row may keep x alone): a residual add."""
    return pointwise(ctx, op="add shortcut")


@rule("scale_image")
def crossvit_scale_image(ctx: RuleContext) -> NodeSpec:
    """timm CrossViT: the image as is, center-cropped, or bicubic-resized to `ss`."""
    src = ctx.node.args[0]
    ss = ctx.concrete(ctx.arg(1, "ss"))
    crop = bool(ctx.concrete(ctx.arg(2, "crop_scale", False)))
    h, w = ctx.values[src].shape[-2:]
    if (h, w) == tuple(ss):
        return pointwise(ctx, op="scale_image (unchanged)")
    if crop and ss[0] <= h and ss[1] <= w:
        cu, cl = int(round((h - ss[0]) / 2.0)), int(round((w - ss[1]) / 2.0))
        lay = ctx.in_layout(src)
        maps = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
        out = list(lay[:-2])
        for start, d, size in ((cu, lay[-2], ss[0]), (cl, lay[-1], ss[1])):
            if d.single_axis is None:
                raise UnsupportedOpError("scale_image", ctx.where, "image not in NCHW layout")
            maps[d.single_axis] = Window(1, 1, -start)
            out.append(L.Dim((L.Factor(d.single_axis, size),)))
        return NodeSpec("pad", f"scale_image(crop {ss[0]}x{ss[1]})", [(src, tuple(maps))], tuple(out))
    return _resample(ctx, src, "bicubic", False, None, f"scale_image(bicubic {ss[0]}x{ss[1]})")


# -- timm leaf modules (fx never sees inside them) -------------------------------------------------


@rule("ConvMlp")
def timm_conv_mlp(ctx: RuleContext) -> NodeSpec:
    """timm VGG's pre-logits: fc1 (k x k conv, no padding) then a 1x1 conv: one k x k window.

    Below k x k it first resizes with adaptive pooling: not a fixed window, so refuse.
    """
    m = ctx.module
    fc1, fc2 = m.fc1, m.fc2
    src = ctx.first_input()
    if tuple(ctx.values[src].shape[-2:]) < tuple(fc1.kernel_size) or any(
            s < k for s, k in zip(ctx.values[src].shape[-2:], fc1.kernel_size, strict=True)):
        raise UnsupportedOpError("ConvMlp", ctx.where, "input smaller than the kernel is resized first")
    if any(p != 0 for p in _tuple_arg(fc1.padding, 2)) or fc2.kernel_size != (1, 1) or fc1.stride != (1, 1):
        raise UnsupportedOpError("ConvMlp", ctx.where, "unexpected fc1/fc2 configuration")
    label = _conv_label("ConvMlp", fc1.kernel_size, (1, 1), fc1.dilation, (0, 0))
    return window_spec(ctx, "conv", label, src, fc1.kernel_size, (1, 1), fc1.dilation, (0, 0), 2)


# Opaque timm leaves whose output mixes every position: attention over all tokens (GPSA,
# MobileViT's transformer over unfolded patches, EfficientViT's linear attention,
# non-local blocks). Their local paths are hidden inside the leaf, so the whole output
# counts as global context: the local RF continues through the model's own residuals.
GLOBAL_LEAVES = {
    "GPSA": "gated positional self-attention over all tokens",
    "MobileVitBlock": "transformer over all unfolded patches",
    "MobileVitV2Block": "linear attention over all unfolded patches",
    "LiteMLA": "linear attention over all positions",
    "BilinearAttnTransform": "bilinear attention over the whole map",
}


def _global_leaf(ctx: RuleContext) -> NodeSpec:
    name = type(ctx.module).__name__
    src = ctx.first_input()
    lay = _same_rank_layout(ctx, ctx.in_layout(src))
    spec = NodeSpec("global", f"{name} (global)", [(src, (None,) * ctx.naxes)], lay, mixes_all=True, keeps_local=False)
    spec.notes.append(f"opaque timm module: {GLOBAL_LEAVES[name]}; treated as global context")
    return spec


rule(*GLOBAL_LEAVES)(_global_leaf)

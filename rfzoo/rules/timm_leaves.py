"""timm leaf modules with a local structure inside: window attention (EfficientViT-MSRA,
TinyViT, Twins), MobileNetV5's multi-scale fusion adapter, NaFlexViT's patch embedding.

timm keeps these opaque to fx (their forward branches on the input size), so each rule
reads the module's configuration and the traced sizes and states, per axis, exactly
which input units an output unit reads. A window that holds the whole map is attention
over all tokens: global, as `GLOBAL_LEAVES` says for opaque global modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from torch import fx, nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.registry import AxisMaps, NodeSpec, RuleContext, rule
from rfzoo.transforms import IDENTITY, BlockBroadcast, Resample, Transform, Window

# -- a composition of transforms -----------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """Several transforms applied in a row inside one leaf, `parts` listed from the output
    back to the input: unit i reads parts[-1].back(... parts[0].back(i)).

    Each part maps a range of units to the hull of what it reads, so the composition does
    too; it is monotone when every part is. The engine treats it like any other
    position-dependent transform (mapping concrete units back).
    """

    parts: tuple[Any, ...]

    @property
    def affine(self) -> bool:
        return all(p.affine for p in self.parts)

    @property
    def monotone(self) -> bool:
        return all(getattr(p, "monotone", True) for p in self.parts)

    def back(self, lo: int, hi: int) -> tuple[int, int]:
        for p in self.parts:
            lo, hi = p.back(lo, hi)
        return lo, hi

    @property
    def scale(self) -> Fraction:
        return math.prod((Fraction(p.scale) for p in self.parts), start=Fraction(1))

    @property
    def period(self) -> int:
        """Input shift after which the pattern repeats: a shift every part allows, in input
        units (a part's own period times the scales between it and the input)."""
        num, den, inward = 1, 0, Fraction(1)
        for p in reversed(self.parts):
            q = Fraction(getattr(p, "period", 1)) * inward
            num, den = math.lcm(num, q.numerator), math.gcd(den, q.denominator)
            inward *= Fraction(p.scale)
        return Fraction(num, den).numerator


def chain(*parts: Any) -> Any:
    """The composition of `parts` (output side first), identities left out."""
    real = tuple(p for p in parts if p != IDENTITY)
    return real[0] if len(real) == 1 else (Chain(real) if real else IDENTITY)


def windows(size: int, ws: int) -> BlockBroadcast:
    """Attention within windows of `ws`, the map padded at the end to a multiple of ws:
    a unit reads its aligned block. A window past the map's end holds the whole axis."""
    return BlockBroadcast(min(ws, size))


def _axes_at(ctx: RuleContext, lay: L.Layout, dims: Sequence[int], name: str) -> list[int]:
    axes = [lay[d].single_axis for d in dims]
    if any(a is None for a in axes):
        raise UnsupportedOpError(name, ctx.where, f"spatial axes not in dims {tuple(dims)} of {lay}")
    return axes  # type: ignore[return-value]


def _window_attention(ctx: RuleContext, src: fx.Node, lay: L.Layout, axes: list[int], sizes: Sequence[int],
                      ws: int, name: str) -> NodeSpec:
    """A leaf that is window attention and per-token ops only (no residual inside)."""
    label = f"{name}(window attention ws={ws})"
    if all(s <= ws for s in sizes):
        spec = NodeSpec("global", f"{label} (global)", [(src, (None,) * ctx.naxes)], lay,
                        mixes_all=True, keeps_local=False)
        spec.notes.append(f"{name}: one {ws}x{ws} window holds the whole {'x'.join(map(str, sizes))} map: "
                          "attention over all tokens, global")
        return spec
    maps: list[Transform | None] = [IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)]
    for axis, size in zip(axes, sizes, strict=True):
        maps[axis] = windows(size, ws)
    return NodeSpec("attention", label, [(src, tuple(maps))], lay)


# -- window attention leaves -----------------------------------------------------------------------


@rule("LocalWindowAttention")
def efficientvit_msra_window_attention(ctx: RuleContext) -> NodeSpec:
    """EfficientViT-MSRA: (B, C, H, W) padded at the end to multiples of ws, then cascaded
    group attention inside each ws x ws window (its q depthwise conv is padded per window,
    so it never crosses one)."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    axes = _axes_at(ctx, lay, (2, 3), "LocalWindowAttention")
    sizes = tuple(ctx.values[src].shape[2:])
    return _window_attention(ctx, src, lay, axes, sizes, int(ctx.module.attn.resolution), "LocalWindowAttention")


@rule("LocallyGroupedAttn")
def twins_locally_grouped_attention(ctx: RuleContext) -> NodeSpec:
    """Twins LSA: (B, H*W, C) tokens padded at the end to multiples of ws, attention inside
    each ws x ws group, then a Linear per token."""
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    size = tuple(ctx.concrete(ctx.arg(1, "size")))
    tokens = lay[1]
    real = [f for f in tokens.factors if f.size > 1]
    if len(lay) != 3 or tokens.prefix or [f.axis for f in real] != list(range(ctx.naxes)) \
            or not all(f.whole for f in real) or tuple(f.size for f in real) != size:
        raise UnsupportedOpError("LocallyGroupedAttn", ctx.where, f"tokens not in raster order of {size}")
    return _window_attention(ctx, src, lay, list(range(ctx.naxes)), size, int(ctx.module.ws),
                             "LocallyGroupedAttn")


@rule("TinyVitBlock")
def tiny_vit_block(ctx: RuleContext) -> NodeSpec:
    """TinyViT on (B, H, W, C): x + window attention (padded to multiples of ws), then a
    depthwise k x k conv, then x + MLP per token.

    Two paths reach the output: the shortcut through the conv, and the windows through
    the conv. When one window holds the whole map the attention is global and only the
    shortcut path is local.
    """
    m = ctx.module
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    axes = _axes_at(ctx, lay, (1, 2), "TinyVitBlock")
    sizes = tuple(ctx.values[src].shape[1:3])
    conv = m.local_conv.conv
    if tuple(conv.stride) != (1, 1) or tuple(conv.dilation) != (1, 1) or isinstance(conv.padding, str):
        raise UnsupportedOpError("TinyVitBlock", ctx.where, "local conv is not a stride-1 padded window")
    ws = int(m.window_size)
    local: list[Transform | None] = [None] * ctx.naxes
    windowed: list[Transform | None] = [None] * ctx.naxes
    for i, axis in enumerate(axes):
        window = Window(conv.kernel_size[i], 1, conv.padding[i])
        local[axis] = window
        windowed[axis] = chain(window, windows(sizes[i], ws))
    k = "x".join(map(str, conv.kernel_size))
    label = f"TinyVitBlock(window attention ws={ws}, conv k={k})"
    if all(s <= ws for s in sizes):
        spec = NodeSpec("attention", f"{label} (global)", [(src, tuple(local))], lay, mixes_all=True)
        spec.notes.append(f"TinyVitBlock: one {ws}x{ws} window holds the whole map: attention over all "
                          "tokens is global; the local RF is the shortcut through the conv")
        return spec
    return NodeSpec("attention", label, [(src, tuple(local)), (src, tuple(windowed))], lay)


# -- MobileNetV5 multi-scale fusion ------------------------------------------------------------------

# Modules that act on each position alone (over channels): the adapter's FFN may hold only these.
_PER_POSITION = ("RmsNorm2d", "RmsNormAct2d", "GELU", "Identity", "LayerScale2d", "DropPath", "Dropout",
                 "ConvNormAct", "UniversalInvertedResidual", "Sequential")


def _pointwise_only(module: nn.Module) -> str | None:
    """Why `module` is not per position (None when every part is a 1x1 conv or per-position op)."""
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Conv2d):
            if tuple(sub.kernel_size) != (1, 1) or tuple(sub.stride) != (1, 1):
                return f"{name} is a {tuple(sub.kernel_size)} conv"
        elif type(sub).__name__ not in _PER_POSITION:
            return f"{name} is a {type(sub).__name__}"
    return None


@rule("MobileNetV5MultiScaleFusionAdapter")
def mobilenetv5_fusion(ctx: RuleContext) -> NodeSpec:
    """MobileNetV5's MSFA: smaller maps resized to the first (largest) map, concatenated,
    a FFN of 1x1 convs and per-position norms, then average pooling (or a bilinear
    resize) to the output resolution and an RMS norm over channels."""
    m = ctx.module
    why = _pointwise_only(m.ffn) or _pointwise_only(m.norm)
    if why is not None:
        raise UnsupportedOpError("MobileNetV5MultiScaleFusionAdapter", ctx.where, f"not per position: {why}")
    inputs = ctx.tensor_inputs()
    high = tuple(ctx.values[inputs[0]].shape[-2:])
    out = tuple(m.output_resolution)
    if high != out:
        if high[0] % out[0] or high[1] % out[1]:
            final = [Resample(h, o, "bilinear") for h, o in zip(high, out, strict=True)]
        else:
            final = [Window(h // o, h // o, 0) for h, o in zip(high, out, strict=True)]
    else:
        final = [IDENTITY, IDENTITY]
    edges: list[tuple[fx.Node, AxisMaps]] = []
    for n in inputs:
        lay = ctx.in_layout(n)
        axes = _axes_at(ctx, lay, (2, 3), "MobileNetV5MultiScaleFusionAdapter")
        size = tuple(ctx.values[n].shape[-2:])
        resized = size[0] < high[0] or size[1] < high[1]
        maps: list[Transform | None] = [None] * ctx.naxes
        for i, axis in enumerate(axes):
            first = Resample(size[i], high[i], m.interpolation_mode) if resized and size[i] != high[i] else IDENTITY
            maps[axis] = chain(final[i], first)
        edges.append((n, tuple(maps)))
    shape = ctx.out_shape()
    axes = _axes_at(ctx, ctx.in_layout(inputs[0]), (2, 3), "MobileNetV5MultiScaleFusionAdapter")
    layout = (L.plain(shape[0]), L.plain(shape[1]), *(L.Dim((L.Factor(a, s),)) for a, s in zip(axes, shape[2:],
                                                                                                  strict=True)))
    label = f"MSFA({len(inputs)} maps -> {high[0]}x{high[1]} -> {out[0]}x{out[1]})"
    return NodeSpec("merge" if len(edges) > 1 else "pool", label, edges, tuple(layout))


# -- NaFlexViT patch embedding ---------------------------------------------------------------------


@rule("NaFlexEmbeds")
def naflex_embeds(ctx: RuleContext) -> NodeSpec:
    """NaFlexViT on a plain (B, C, H, W) image: non-overlapping patches (a Linear over each
    flattened patch, or a conv), a norm per token, a learned position table added (a
    constant), prefix tokens in front. Returns (tokens, grid size).

    The NaFlex mode (pre-patchified tokens with coordinates) is not what the model runs
    on an image, and is not traced here.
    """
    m = ctx.module
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    axes = _axes_at(ctx, lay, (2, 3), "NaFlexEmbeds")
    tokens = ctx.value[0]
    if m.is_linear:
        if m.enable_patch_interpolator and m.patch_interpolator is not None and tokens.dim() == 5:
            raise UnsupportedOpError("NaFlexEmbeds", ctx.where, "patch resizing")
        kernel = stride = tuple(m.patch_size)
        pad = (0, 0)  # the dynamic padding goes at the end
    else:
        proj = m.proj
        if not isinstance(proj, nn.Conv2d) or isinstance(proj.padding, str) or not m.flatten:
            raise UnsupportedOpError("NaFlexEmbeds", ctx.where, "an unexpected projection")
        kernel, stride, pad = tuple(proj.kernel_size), tuple(proj.stride), tuple(proj.padding)
    grid = tuple(int(g) for g in ctx.value[1])
    prefix = tokens.shape[1] - math.prod(grid)
    maps: list[Transform | None] = [None] * ctx.naxes
    for i, axis in enumerate(axes):
        maps[axis] = Window(kernel[i], stride[i], pad[i])
    factors = tuple(L.Factor(a, g) for a, g in zip(axes, grid, strict=True))
    layout = (L.plain(tokens.shape[0]), L.Dim(factors, prefix), L.plain(tokens.shape[2]))
    label = f"NaFlexEmbeds(patch {'x'.join(map(str, kernel))}, s={'x'.join(map(str, stride))})"
    return NodeSpec("conv", label, [(src, tuple(maps))], (layout, None))


@rule("global_pool_naflex")
def naflex_global_pool(ctx: RuleContext) -> NodeSpec:
    """NaFlexViT's pooling of (B, N, C) tokens without a validity mask (timm's global_pool_nlc):
    the first prefix token, or an average/max over the patch tokens (global)."""
    src = ctx.node.args[0]
    lay = ctx.in_layout(src)
    if ctx.concrete(ctx.arg(1, "patch_valid")) is not None:
        raise UnsupportedOpError("global_pool_naflex", ctx.where, "masked pooling (NaFlex mode)")
    pool = ctx.concrete(ctx.arg(2, "pool_type", "token"))
    if not pool:
        maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
        return NodeSpec("pointwise", "global_pool_naflex (none)", [(src, maps)], lay)
    out = L.non_spatial(ctx.out_shape())
    if pool == "token":
        if not lay[1].prefix:
            raise UnsupportedOpError("global_pool_naflex", ctx.where, "token pooling without a prefix token")
        return NodeSpec("reshape", "global_pool_naflex (prefix token)", [(src, (None,) * ctx.naxes)], out)
    return NodeSpec("global", f"global_pool_naflex ({pool} over tokens)", [(src, (None,) * ctx.naxes)], out,
                    mixes_all=True, keeps_local=False)

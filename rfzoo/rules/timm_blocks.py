"""timm-specific blocks: CrossViT image scaling, ConvMlp, opaque global leaves."""

from __future__ import annotations

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import pointwise, same_rank_layout, tuple_arg, window_spec
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.rules.resampling import resample
from rfzoo.rules.windows import conv_label
from rfzoo.transforms import (
    IDENTITY,
    Window,
)


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
    return resample(ctx, src, "bicubic", False, None, f"scale_image(bicubic {ss[0]}x{ss[1]})")


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
    if any(p != 0 for p in tuple_arg(fc1.padding, 2)) or fc2.kernel_size != (1, 1) or fc1.stride != (1, 1):
        raise UnsupportedOpError("ConvMlp", ctx.where, "unexpected fc1/fc2 configuration")
    label = conv_label("ConvMlp", fc1.kernel_size, (1, 1), fc1.dilation, (0, 0))
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
    # CPUBone's and LowFormer's: attention over all tokens of a strided conv projection,
    # upsampled back (LowFormer's would trace, CPUBone's pads on a shape test: both global)
    "ConvAttention": "attention over all tokens of a strided projection",
}


def _global_leaf(ctx: RuleContext) -> NodeSpec:
    name = type(ctx.module).__name__
    src = ctx.first_input()
    lay = same_rank_layout(ctx, ctx.in_layout(src))
    spec = NodeSpec("global", f"{name} (global)", [(src, (None,) * ctx.naxes)], lay, mixes_all=True, keeps_local=False)
    spec.notes.append(f"opaque timm module: {GLOBAL_LEAVES[name]}; treated as global context")
    return spec


rule(*GLOBAL_LEAVES)(_global_leaf)

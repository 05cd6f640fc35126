"""timm-specific blocks: CrossViT image scaling, ConvMlp, opaque global leaves, Gemma4's
soft-token pooling."""

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


@rule("rel_logits_1d")
def timm_rel_logits_1d(ctx: RuleContext) -> NodeSpec:
    """BoTNet/HaloNet relative-position logits: q (B, X, Y, dim) times relative key embeddings
    (parameters), re-indexed from relative to absolute key offsets and broadcast over the
    other key axis: a (B, X, keys, Y, keys) tensor, permuted by the mask. Logit (x, y, .., ..)
    reads query (x, y) alone, so the query dims keep their positions and the key dims are
    channel-like (the softmax over them and attn @ v say what the keys read)."""
    q = ctx.node.args[0]
    lay = ctx.in_layout(q)
    mask = list(ctx.concrete(ctx.arg(2, "permute_mask")))
    shape = ctx.out_shape()
    if len(lay) != 4 or len(mask) != 5 or sorted(mask) != list(range(5)):
        raise UnsupportedOpError("rel_logits_1d", ctx.where, "expected q as (B, X, Y, dim) and a 5-dim permute")
    before = [0] * 5  # the shape before the permute
    for out_dim, in_dim in enumerate(mask):
        before[in_dim] = shape[out_dim]
    unpermuted = (lay[0], lay[1], L.plain(before[2]), lay[2], L.plain(before[4]))
    if [d.size for d in unpermuted] != before:
        raise UnsupportedOpError("rel_logits_1d", ctx.where, "query dims do not match the logits")
    out = tuple(unpermuted[i] for i in mask)
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("attention", "relative-position logits", [(q, maps)], out)


@rule("Gemma4VisionPooler._avg_pool_by_positions")
def gemma4_soft_tokens(ctx: RuleContext) -> NodeSpec:
    """Gemma4's soft-token pooler (traced as one call, `rfzoo.opaque`): token (y, x) of the
    patch grid goes to cell (y // k, x // k), the cells in raster order, each the mean of its
    k x k tokens: a k x k window with stride k on both axes. Returns (cells, cell mask).

    The coordinates are the default grid of an image input (the only input rfzoo gives);
    the model itself requires both grid sides to be multiples of k.
    """
    src = ctx.node.args[0]
    lay = ctx.in_layout(src)
    owner = getattr(ctx.node.target, "rfzoo_owner", None)
    k = int(getattr(owner, "pooling_kernel_size", 0))
    tokens = lay[1] if len(lay) == 3 else None
    real = [f for f in tokens.factors if f.size > 1] if tokens is not None else []
    if tokens is None or tokens.prefix or [f.axis for f in real] != list(range(ctx.naxes)) \
            or not all(f.whole for f in real) or k < 1 or any(f.size % k for f in real):
        raise UnsupportedOpError("Gemma4VisionPooler", ctx.where, f"tokens not a raster grid of {k}x{k} cells: {lay}")
    maps = tuple(Window(k, k, 0) for _ in range(ctx.naxes))
    cells = L.Dim(tuple(L.Factor(f.axis, f.size // k) for f in real))
    out = (lay[0], cells, lay[2])
    return NodeSpec("pool", f"Gemma4 soft tokens (mean of {k}x{k} patches)", [(src, maps)], (out, None))

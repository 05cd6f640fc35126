"""torchvision-specific functions: Swin window attention and patch merging, MViT helpers,
timm's window/grid reversals replayed on the layout, and timm MViTv2's token reshapes."""

from __future__ import annotations

from torch import fx

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import pointwise, same_layout_maps
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.transforms import (
    IDENTITY,
    BlockBroadcast,
    Transform,
    Window,
)


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




# -- timm MViTv2 (autowrapped token reshapes around the pooling convs) ---------------------------


@rule("reshape_pre_pool")
def mvitv2_reshape_pre_pool(ctx: RuleContext) -> NodeSpec:
    """(B, heads, [cls +] H*W, C) -> ((B*heads, C, H, W), cls tokens or None): the class token
    is sliced off (no position: no local RF), the spatial tokens are replayed as views."""
    src = ctx.node.args[0]
    lay = ctx.in_layout(src)
    has_cls = bool(ctx.concrete(ctx.arg(2, "has_cls_token", True)))
    tokens = lay[2]
    if tokens.prefix != (1 if has_cls else 0):
        raise UnsupportedOpError("reshape_pre_pool", ctx.where, f"{tokens.prefix} prefix tokens, class token {has_cls}")
    in_shape = list(ctx.values[src].shape)
    in_shape[2] -= tokens.prefix
    h, w = ctx.concrete(ctx.arg(1, "feat_size"))
    tracked = L.Tracked(tuple(in_shape), (*lay[:2], L.Dim(tokens.factors), *lay[3:]), ctx.where)
    out = tracked.reshape(-1, h, w, in_shape[-1]).permute(0, 3, 1, 2)
    image, cls_tok = ctx.value
    if out.shape != tuple(image.shape):
        raise UnsupportedOpError("reshape_pre_pool", ctx.where, "replay did not give the traced shape")
    cls_layout = L.non_spatial(tuple(cls_tok.shape)) if cls_tok is not None else None
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("reshape", "reshape_pre_pool", [(src, maps)], (out.layout, cls_layout))


@rule("reshape_post_pool")
def mvitv2_reshape_post_pool(ctx: RuleContext) -> NodeSpec:
    """(B*heads, C, H, W) -> ((B, heads, [cls +] H*W, C), [H, W]): views, then the class
    tokens put back in front as prefix tokens."""
    src, cls_tok = ctx.node.args[0], ctx.arg(2, "cls_tok")
    lay = ctx.in_layout(src)
    heads = ctx.concrete(ctx.arg(1, "num_heads"))
    b, c, h, w = ctx.values[src].shape
    tokens = L.Tracked((b, c, h, w), lay, ctx.where).reshape(-1, heads, c, h * w).transpose(2, 3).layout
    edges = [(src, tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes)))]
    if isinstance(cls_tok, fx.Node) and ctx.values[cls_tok] is not None:
        extra = ctx.values[cls_tok].shape[2]
        tokens = (*tokens[:2], L.Dim(tokens[2].factors, tokens[2].prefix + extra), *tokens[3:])
        if ctx.depends.get(cls_tok):
            edges.append((cls_tok, (None,) * ctx.naxes))
    if tuple(d.size for d in tokens) != tuple(ctx.value[0].shape):
        raise UnsupportedOpError("reshape_post_pool", ctx.where, "replay did not give the traced shape")
    return NodeSpec("merge" if len(edges) > 1 else "reshape", "reshape_post_pool", edges, (tokens, None))


@rule("cal_rel_pos_type")
def mvitv2_rel_pos(ctx: RuleContext) -> NodeSpec:
    """timm MViTv2: attn[:, :, q, k] += a bias computed from query q alone: per query row
    (torchvision's `_add_rel_pos`)."""
    return mvit_add_rel_pos(ctx)

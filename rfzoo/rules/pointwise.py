"""Ops that act on each position alone: activations, arithmetic, per-channel norms."""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from rfzoo import layout as L
from rfzoo.rules.common import pointwise
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.transforms import IDENTITY

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
    "mul", "mul_", "div", "div_", "contiguous", "type", "float", "double", "half", "bfloat16",
    "clone", "masked_fill", "sign", "erf", "square", "reciprocal", "addcmul", "lerp",
    "maximum", "minimum", "where", "hardswish", "gelu", "silu", "softplus", "requires_grad_",
    "detach", "exp_", "nan_to_num", "float_power", "__and__", "__or__", "logical_not",
)

rule(*(f"Tensor.{m}" for m in PER_PIXEL_METHODS))(pointwise)


@rule("Tensor.type_as", "Tensor.to")
def cast(ctx: RuleContext) -> NodeSpec:
    """x.type_as(other), x.to(other): only x's values flow on; `other` gives a dtype.

    A constant x (DiffAttention's lambda cast to the queries' dtype) stays a constant.
    """
    src = ctx.node.args[0]
    if not (isinstance(src, fx.Node) and ctx.depends.get(src)):
        return NodeSpec("pointwise", f"Tensor.{ctx.node.target} (constant)", [], L.non_spatial(ctx.out_shape()))
    lay = ctx.in_layout(src)
    maps = tuple(IDENTITY if k in L.spatial_axes(lay) else None for k in range(ctx.naxes))
    return NodeSpec("pointwise", f"Tensor.{ctx.node.target}", [(src, maps)], lay)




def _drop_path(ctx: RuleContext) -> NodeSpec:
    """Stochastic depth scales whole samples (identity in eval): per pixel."""
    return pointwise(ctx, op="stochastic_depth")


rule("stochastic_depth", "drop_path")(_drop_path)


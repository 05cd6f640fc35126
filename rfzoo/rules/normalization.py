"""Norms over the last dims or over space (statistics add global context)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rfzoo import layout as L
from rfzoo.rules.common import holds_space, mixed_maps, mixing, pointwise
from rfzoo.rules.registry import NodeSpec, RuleContext, rule

# -- normalization -------------------------------------------------------------------------------


def _norm_over(ctx: RuleContext, ndims: int, name: str) -> NodeSpec:
    """A norm over the last `ndims` dims: per pixel unless those dims hold space.

    Statistics over space keep the local path (x - mean) and add global context.
    """
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    spec = pointwise(ctx, op=name)
    dims = list(range(len(lay) - ndims, len(lay)))
    if holds_space(lay, dims):
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



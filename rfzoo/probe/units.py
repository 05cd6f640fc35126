"""Find one output unit in a node's tensor, whatever the layout.

rfzoo's analysis reports a node's spatial ``output_size``; the tensor itself may
be channels-first (``N, C, H, W``), channels-last (``N, H, W, C``, timm's
ConvNeXt and Swin internals) or tokens (``N, L, C`` with ``L = H*W`` plus any
prefix tokens such as a class token, which come first). `unit_values` returns
the values of all channels at one spatial position as an ``(N, C)`` tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class LayoutError(ValueError):
    """The tensor's shape does not show where the spatial axes are."""


def unit_values(
    out: torch.Tensor, output_size: Sequence[int] | None, unit: Sequence[int | None]
) -> torch.Tensor:
    """All channels of spatial position `unit` in `out`, shape ``(N, C)``.

    A None in `unit` takes every position along that axis (shape ``(N, C * n)``).
    """
    rank = len(unit)
    shape = tuple(out.shape)
    size = tuple(output_size) if output_size is not None else shape[-rank:]
    if any(u is not None and not 0 <= u < s for u, s in zip(unit, size, strict=True)):
        raise LayoutError(f"unit {tuple(unit)} outside output size {size}")
    index = tuple(slice(None) if u is None else u for u in unit)
    if out.dim() == rank + 2 and shape[2:] == size:  # channels first
        return out[(slice(None), slice(None), *index)].reshape(shape[0], -1)
    if out.dim() == rank + 2 and shape[1:-1] == size:  # channels last
        return out[(slice(None), *index)].reshape(shape[0], -1)
    if out.dim() == 3 and shape[1] >= math.prod(size):  # tokens, prefix tokens first
        flat = torch.arange(math.prod(size)).reshape(size)[index].reshape(-1)
        return out[:, shape[1] - math.prod(size) + flat, :].reshape(shape[0], -1)
    if out.dim() == rank + 1 and shape[1:] == size:  # no channel dim
        return out[(slice(None), *index)].reshape(shape[0], -1)
    raise LayoutError(f"cannot find spatial axes {size} in a tensor of shape {shape}")


def center_unit(output_size: Sequence[int]) -> tuple[int, ...]:
    """The middle unit per axis (the lower middle for even sizes)."""
    return tuple((n - 1) // 2 for n in output_size)

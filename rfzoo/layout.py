"""Which tensor dimensions hold which spatial axes, through permutes and reshapes.

A tensor's layout lists, per dimension, its factors in row-major order: a spatial
axis (0 = first spatial axis of the input) with its size, or a non-spatial factor
(batch, channels, heads). ViT tokens are one dimension with factors (H, W);
channels-last ConvNeXt blocks have H and W in dims 1 and 2. Prefix tokens
(a class token concatenated in front) are counted separately so slicing them
off gives the spatial layout back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rfzoo.errors import UnsupportedOpError


@dataclass(frozen=True)
class Factor:
    axis: int | None  # spatial axis index, or None for batch/channel-like factors
    size: int


@dataclass(frozen=True)
class Dim:
    factors: tuple[Factor, ...]
    prefix: int = 0  # constant tokens in front of the spatial positions

    @property
    def size(self) -> int:
        return self.prefix + math.prod(f.size for f in self.factors)

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        return tuple(f.axis for f in self.factors if f.axis is not None and f.size > 1)

    @property
    def is_spatial(self) -> bool:
        return bool(self.spatial_axes)

    @property
    def single_axis(self) -> int | None:
        """The spatial axis when this dim is exactly one spatial axis, else None."""
        real = [f for f in self.factors if f.size > 1]
        if self.prefix == 0 and len(real) == 1 and real[0].axis is not None:
            return real[0].axis
        return None


Layout = tuple[Dim, ...]


def plain(size: int) -> Dim:
    return Dim((Factor(None, size),)) if size != 1 else Dim(())


def input_layout(shape: tuple[int, ...], n_spatial: int) -> Layout:
    """N, C, then the spatial axes in order (NCHW / NCTHW)."""
    lead = len(shape) - n_spatial
    dims = [plain(s) for s in shape[:lead]]
    dims += [Dim((Factor(k, s),)) if s != 1 else Dim((Factor(k, 1),)) for k, s in enumerate(shape[lead:])]
    return tuple(dims)


def non_spatial(shape: tuple[int, ...]) -> Layout:
    return tuple(plain(s) for s in shape)


def spatial_axes(layout: Layout) -> set[int]:
    return {a for d in layout for a in d.spatial_axes}


def axis_sizes(layout: Layout, naxes: int) -> tuple[int | None, ...]:
    """Each spatial axis's size in this layout (None when the axis is not present)."""
    sizes: list[int | None] = [None] * naxes
    for d in layout:
        for f in d.factors:
            if f.axis is not None and f.axis < naxes:
                sizes[f.axis] = f.size
    return tuple(sizes)


def layout_name(layout: Layout, naxes: int) -> str:
    """NCHW-style name for standard layouts, 'NLC' for tokens, 'other' otherwise."""
    singles = [d.single_axis for d in layout]
    letters = "HW" if naxes == 2 else ("THW" if naxes == 3 else "L")
    if sorted(a for a in singles if a is not None) == list(range(naxes)) and len(layout) == naxes + 2:
        spatial_positions = [i for i, a in enumerate(singles) if a is not None]
        if spatial_positions == list(range(2, naxes + 2)):
            return "NC" + letters
        if spatial_positions == list(range(1, naxes + 1)):
            return "N" + letters + "C"
    if len(layout) == 3 and set(layout[1].spatial_axes) == set(range(naxes)) and not layout[2].is_spatial:
        return "NLC"
    return "other"


def _merge(dims: list[Dim]) -> Dim:
    prefix = sum(d.prefix for d in dims)
    if prefix and len([d for d in dims if d.size != 1]) > 1:
        raise ValueError("prefix tokens merged with other dims")
    factors = tuple(f for d in dims for f in d.factors if f.size != 1 or f.axis is not None)
    return Dim(factors, prefix)


def _split(dim: Dim, sizes: list[int]) -> list[Dim]:
    """Split one dim into dims of the given sizes, following its factors."""
    if dim.prefix:
        raise ValueError("cannot split a dim with prefix tokens")
    factors = [f for f in dim.factors if f.size != 1]
    out: list[Dim] = []
    fi = 0
    for size in sizes:
        if size == 1:
            out.append(Dim(()))
            continue
        if fi < len(factors) and factors[fi].size == size:
            out.append(Dim((factors[fi],)))
            fi += 1
            continue
        # group several whole factors, or cut a non-spatial factor
        prod, group = 1, []
        while fi < len(factors) and prod < size and size % (prod * factors[fi].size) == 0:
            prod *= factors[fi].size
            group.append(factors[fi])
            fi += 1
        if prod == size:
            out.append(Dim(tuple(group)))
            continue
        rest = factors[fi] if fi < len(factors) else None
        if not group and rest is not None and rest.axis is None and rest.size % size == 0:
            out.append(plain(size))
            factors[fi] = Factor(None, rest.size // size)
            continue
        raise ValueError(f"a reshape to {sizes} splits a spatial axis")
    if fi != len(factors):
        raise ValueError(f"a reshape to {sizes} does not match the tensor's factors")
    return out


def reshape(layout: Layout, in_shape: tuple[int, ...], out_shape: tuple[int, ...], where: str) -> Layout:
    """Layout after view/reshape/flatten: group dims whose sizes multiply to the same value."""
    out: list[Dim] = []
    i = o = 0
    try:
        while i < len(in_shape) or o < len(out_shape):
            if o < len(out_shape) and out_shape[o] == 1 and (i >= len(in_shape) or in_shape[i] != 1):
                out.append(Dim(()))
                o += 1
                continue
            if i < len(in_shape) and in_shape[i] == 1 and (o >= len(out_shape) or out_shape[o] != 1):
                i += 1  # a size-1 dim disappears (its factors are trivial)
                continue
            gi, go = [i], [o]
            pin, pout = in_shape[i], out_shape[o]
            while pin != pout:
                if pin < pout:
                    i += 1
                    gi.append(i)
                    pin *= in_shape[i]
                else:
                    o += 1
                    go.append(o)
                    pout *= out_shape[o]
            merged = _merge([layout[k] for k in gi])
            if len(go) == 1:
                out.append(merged)
            else:
                out.extend(_split(merged, [out_shape[k] for k in go]))
            i, o = gi[-1] + 1, go[-1] + 1
    except (ValueError, IndexError) as err:
        raise UnsupportedOpError("reshape", where, f"{tuple(in_shape)} -> {tuple(out_shape)}: {err}") from None
    return tuple(out)

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
from typing import Any

from rfzoo.errors import UnsupportedOpError


@dataclass(frozen=True)
class Factor:
    """A row-major factor of a dim. A spatial axis split by a reshape (window partition)
    becomes digits: position = sum(digit * step) over the axis's factors."""

    axis: int | None  # spatial axis index, or None for batch/channel-like factors
    size: int
    step: int = 1  # positions between consecutive values of this digit
    full: int = 0  # the whole axis's size when this factor is one digit of it; 0: the whole axis

    @property
    def whole(self) -> bool:
        return self.full == 0


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
        if self.prefix == 0 and len(real) == 1 and real[0].axis is not None and real[0].whole:
            return real[0].axis
        # an axis shrunk to one unit is still that axis (SSD's last 1x1 map, narrow inputs)
        axes = [f for f in self.factors if f.axis is not None]
        if self.prefix == 0 and not real and len(axes) == 1 and axes[0].whole:
            return axes[0].axis
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
                sizes[f.axis] = f.full or f.size
    return tuple(sizes)


def digits(layout: Layout, axis: int) -> list[tuple[int, Factor]]:
    """(dim index, factor) of every factor of `axis` with more than one value."""
    return [(i, f) for i, d in enumerate(layout) for f in d.factors if f.axis == axis and f.size > 1]


def low_block(mixed: list[Factor], all_digits: list[Factor]) -> int | None:
    """Block size when `mixed` are exactly an axis's lowest digits and some digit is left out.

    An op that combines positions along those digits only mixes within aligned blocks
    of that many positions (window attention); None when it mixes a strided set or the
    whole axis (grid attention, global attention).
    """
    if not mixed or len(mixed) == len(all_digits):
        return None
    block = 1
    for f in sorted(mixed, key=lambda f: f.step):
        if f.step != block:
            return None
        block *= f.size
    return block


def pool_lowest(layout: Layout, axis: int, k: int) -> Layout:
    """Layout after a non-overlapping window of k pools `axis`'s lowest digit (k divides it).

    The axis gets k times coarser wherever its digits are: the lowest digit keeps size/k
    values, every higher digit (a window index in the batch dim) keeps its values at
    step/k. Hiera's q-pool over windows, or a 1D pool along the rows of flattened tokens.
    """
    def scaled(f: Factor) -> Factor:
        if f.axis != axis:
            return f
        if f.whole:
            return Factor(axis, f.size // k)
        size, step = (f.size // k, 1) if f.step == 1 else (f.size, f.step // k)
        full = f.full // k
        return Factor(axis, size) if step == 1 and size == full else Factor(axis, size, step, full)

    return tuple(Dim(tuple(scaled(f) for f in d.factors), d.prefix) for d in layout)


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
    if len(layout) == 3 and not layout[2].is_spatial:
        # tokens in raster order only: whole axes, outer first (Hiera's unrolled order is not)
        real = [f for f in layout[1].factors if f.size > 1]
        if all(f.whole for f in real) and [f.axis for f in real] == sorted(set(range(naxes)) & {f.axis for f in real}) \
                and set(layout[1].spatial_axes) == set(range(naxes)):
            return "NLC"
    return "other"


def _join(factors: list[Factor]) -> tuple[Factor, ...]:
    """Adjacent digits of one axis (outer then inner) become one factor again."""
    out: list[Factor] = []
    for f in factors:
        prev = out[-1] if out else None
        if (prev is not None and f.axis is not None and prev.axis == f.axis and not prev.whole
                and prev.full == f.full and prev.step == f.step * f.size):
            size = prev.size * f.size
            out[-1] = Factor(f.axis, size) if f.step == 1 and size == f.full else Factor(f.axis, size, f.step, f.full)
        else:
            out.append(f)
    return tuple(out)


def _merge(dims: list[Dim]) -> Dim:
    prefix = sum(d.prefix for d in dims)
    if prefix and len([d for d in dims if d.size != 1]) > 1:
        raise ValueError("prefix tokens merged with other dims")
    factors = [f for d in dims for f in d.factors if f.size != 1 or f.axis is not None]
    return Dim(_join(factors), prefix)


def _cut(f: Factor, outer: int) -> tuple[Factor, Factor]:
    """Split a factor into an outer part of `outer` values and the inner rest (row-major)."""
    inner = f.size // outer
    if f.axis is None:
        return Factor(None, outer), Factor(None, inner)
    full = f.full or f.size
    return Factor(f.axis, outer, f.step * inner, full), Factor(f.axis, inner, f.step, full)


def _split(dim: Dim, sizes: list[int]) -> list[Dim]:
    """Split one dim into dims of the given sizes, following its factors.

    A size that cuts a factor takes its outer digit: (H*W) -> (H/ws, ws*W) keeps
    H's block index first, so window partitions keep track of every pixel.
    """
    if dim.prefix:
        raise ValueError("cannot split a dim with prefix tokens")
    factors = [f for f in dim.factors if f.size != 1]
    out: list[Dim] = []
    fi = 0
    for size in sizes:
        if size == 1:
            out.append(Dim(()))
            continue
        prod, group = 1, []
        while prod < size:
            if fi >= len(factors):
                raise ValueError(f"a reshape to {sizes} does not match the tensor's factors")
            f = factors[fi]
            if size % (prod * f.size) == 0:
                group.append(f)
                prod *= f.size
                fi += 1
            elif size % prod == 0 and f.size % (size // prod) == 0:
                head, factors[fi] = _cut(f, size // prod)
                group.append(head)
                prod = size
            else:
                raise ValueError(f"a reshape to {sizes} splits a factor of size {f.size} unevenly")
        out.append(Dim(_join(group)))
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


class Tracked:
    """Stands in for a tensor inside a pure rearrangement function (timm's window_reverse,
    grid_reverse, deblockify): views and permutes update the layout, so a function that
    fx keeps opaque is replayed exactly instead of trusted by its name."""

    def __init__(self, shape: tuple[int, ...], layout: Layout, where: str) -> None:
        self.shape = tuple(shape)
        self.layout = layout
        self.where = where

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    def contiguous(self) -> Tracked:
        return self

    def view(self, *shape: Any) -> Tracked:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        sizes = [int(s) for s in shape]
        if -1 in sizes:
            known = math.prod(s for s in sizes if s != -1)
            sizes[sizes.index(-1)] = math.prod(self.shape) // known
        new = tuple(sizes)
        return Tracked(new, reshape(self.layout, self.shape, new, self.where), self.where)

    reshape = view

    def permute(self, *dims: Any) -> Tracked:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        order = [d % len(self.shape) for d in dims]
        return Tracked(tuple(self.shape[d] for d in order), tuple(self.layout[d] for d in order), self.where)

    def transpose(self, a: int, b: int) -> Tracked:
        order = list(range(len(self.shape)))
        a, b = a % len(order), b % len(order)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    def flatten(self, start: int = 0, end: int = -1) -> Tracked:
        start, end = start % len(self.shape), end % len(self.shape)
        return self.view(*self.shape[:start], math.prod(self.shape[start:end + 1]), *self.shape[end + 1:])


def coarsen(layout: Layout, dims: set[int], out_shape: tuple[int, ...]) -> tuple[Layout, dict[int, int]] | None:
    """Layout after an op folds `dims` into new channel-like dims (a Linear over a dim that
    holds the 2x2 digits of a patch merge plus channels).

    Every axis with digits in `dims` must lose exactly its lowest block of B positions:
    its remaining digits then index blocks, a Window(B, B, 0) of the old axis. Returns
    the new layout and B per axis, or None when an op folds a whole axis or a strided set.
    """
    blocks: dict[int, int] = {}
    for axis in {f.axis for i in dims for f in layout[i].factors if f.axis is not None and f.size > 1}:
        found = digits(layout, axis)
        block = low_block([f for i, f in found if i in dims], [f for _, f in found])
        if block is None:
            return None
        blocks[axis] = block
    out: list[Dim] = []
    for i, d in enumerate(layout):
        if i in dims:
            out.append(plain(out_shape[i]) if i < len(out_shape) else plain(1))
            continue
        factors = []
        for f in d.factors:
            b = blocks.get(f.axis) if f.axis is not None else None
            if b is None:
                factors.append(f)
                continue
            step, full = f.step // b, f.full // b
            factors.append(Factor(f.axis, f.size) if step == 1 and f.size == full else Factor(f.axis, f.size, step, full))
        out.append(Dim(tuple(factors), d.prefix))
    return tuple(out), blocks

"""How one op maps output units to input units along one spatial axis.

Every transform answers one question exactly: which input units (an inclusive
range, its hull) can affect the output units ``lo..hi``? Transforms that do the
same thing for every unit position (convolution, pooling, cropping) are
*affine*; the engine composes those in closed form. Upsampling is not: there
the answer depends on the unit's position, and the engine maps concrete units.

Positions are on an infinite canvas: output units outside the feature map and
input units in the padding are allowed, so a unit's RF is never clipped here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Window:
    """Unit i reads input units ``i*stride - pad .. i*stride - pad + span - 1``.

    Covers convolution and pooling (span = dilation*(kernel-1)+1), explicit padding
    and cropping (span 1, negative pad for a crop), strided slicing and
    space-to-depth.
    """

    span: int
    stride: int = 1
    pad: int = 0

    affine = True

    def back(self, lo: int, hi: int) -> tuple[int, int]:
        return lo * self.stride - self.pad, hi * self.stride - self.pad + self.span - 1

    monotone = True

    @property
    def scale(self) -> Fraction:
        """Output jump divided by input jump."""
        return Fraction(self.stride)


IDENTITY = Window(span=1)


@dataclass(frozen=True)
class Transposed:
    """Transposed convolution: input unit i writes output units ``i*stride - pad + t``, t in 0..span-1."""

    span: int
    stride: int
    pad: int

    affine = False
    monotone = True

    def back(self, lo: int, hi: int) -> tuple[int, int]:
        first = -((-(lo + self.pad - (self.span - 1))) // self.stride)  # ceil division
        last = (hi + self.pad) // self.stride
        return first, last

    @property
    def scale(self) -> Fraction:
        return Fraction(1, self.stride)


@dataclass(frozen=True)
class Resample:
    """Interpolation from ``in_size`` to ``out_size`` units (nearest, linear, cubic).

    ``source_scale`` is input units per output unit as PyTorch computes it (1/scale_factor
    when a factor is given, in/out otherwise). A tap whose weight is exactly zero is not a
    dependency: bilinear at an integral source coordinate reads one unit, not two.
    """

    in_size: int
    out_size: int
    mode: str
    align_corners: bool = False
    source_scale: float | None = None

    affine = False

    def _scale(self) -> float:
        if self.align_corners:
            return (self.in_size - 1) / (self.out_size - 1) if self.out_size > 1 else 0.0
        if self.source_scale is not None:
            return self.source_scale
        return self.in_size / self.out_size

    def _taps(self, o: int) -> tuple[int, int]:
        scale = self._scale()
        if self.mode == "nearest":
            i = math.floor(o * scale)
            return i, i
        if self.mode == "nearest-exact":
            i = math.floor((o + 0.5) * scale)
            return i, i
        src = o * scale if self.align_corners else (o + 0.5) * scale - 0.5
        i0 = math.floor(src)
        exact = src == i0
        if self.mode in ("linear", "bilinear", "trilinear"):
            return (i0, i0) if exact else (i0, i0 + 1)
        if self.mode == "bicubic":
            return (i0, i0) if exact else (i0 - 1, i0 + 2)
        if self.mode == "area":  # adaptive average pooling windows
            start = math.floor(o * self.in_size / self.out_size)
            end = math.ceil((o + 1) * self.in_size / self.out_size) - 1
            return start, end
        raise ValueError(f"unknown interpolation mode {self.mode!r}")

    def back(self, lo: int, hi: int) -> tuple[int, int]:
        # Bicubic reads one tap at an integral source and four just past it, so the end
        # taps of a range can come from its second or second-to-last unit (not monotone).
        first = min(self._taps(o)[0] for o in range(lo, min(lo + 1, hi) + 1))
        last = max(self._taps(o)[1] for o in range(max(hi - 1, lo), hi + 1))
        return first, last

    @property
    def monotone(self) -> bool:
        """Do the end taps of a unit move monotonically with its position?"""
        return self.mode != "bicubic"

    @property
    def scale(self) -> Fraction:
        """Input units between the sources of adjacent output units: the jump ratio.

        Not always in/out: with align_corners the end units map to the end units, so
        the spacing is (in-1)/(out-1) (17 -> 65 steps by exactly 1, not 17/65 * 4);
        with a scale_factor PyTorch steps by 1/factor even when out = floor(in*factor).
        """
        if self.align_corners and self.out_size > 1 and self.in_size > 1:
            return Fraction(self.in_size - 1, self.out_size - 1)
        if self.source_scale and self.mode != "area":
            return Fraction(self.source_scale).limit_denominator(1 << 16)
        return Fraction(self.in_size, self.out_size)


@dataclass(frozen=True)
class BlockBroadcast:
    """Unit i reads every unit of its block: blocks of ``size`` units start at ``offset``
    (window attention: each token sees the whole window that holds it; shifted
    windows have their grid moved by the shift)."""

    size: int
    offset: int = 0

    affine = False
    monotone = True

    def back(self, lo: int, hi: int) -> tuple[int, int]:
        first = ((lo - self.offset) // self.size) * self.size + self.offset
        last = ((hi - self.offset) // self.size) * self.size + self.offset + self.size - 1
        return first, last

    @property
    def scale(self) -> Fraction:
        return Fraction(1)

    @property
    def period(self) -> int:
        """Output positions after which the pattern repeats (the engine samples one period)."""
        return self.size


@dataclass(frozen=True)
class PooledBlocks:
    """Unit i is ``pool`` units of a finer grid, and reads every unit of the fine block of
    ``size`` that holds them: window attention whose queries were pooled and whose keys
    and values were not (Hiera's first block of each stage)."""

    pool: int
    size: int

    affine = False
    monotone = True

    def back(self, lo: int, hi: int) -> tuple[int, int]:
        return BlockBroadcast(self.size).back(lo * self.pool, hi * self.pool + self.pool - 1)

    @property
    def scale(self) -> Fraction:
        return Fraction(self.pool)

    @property
    def period(self) -> int:
        return self.size


Transform = Window | Transposed | Resample | BlockBroadcast | PooledBlocks

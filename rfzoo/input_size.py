"""Check the input a caller asks for (sizes, channels) before any model is built.

Every bad value gets one line naming it: a size of 0 used to send the search for the
smallest working input into an endless loop, and a string "32" was read as 3x2.
"""

from __future__ import annotations

import operator
from typing import Any

from rfzoo.errors import RfzooError

AXIS_NAMES = {1: "L", 2: "H W", 3: "T H W"}


class InputSizeError(RfzooError):
    """An input size or channel count that is not a positive whole number, or has the wrong length."""


def parse_input_size(size: Any) -> tuple[int, ...]:
    """`size` (one int, or one int per spatial axis) as a tuple of positive ints."""
    if isinstance(size, (str, bytes)):
        raise InputSizeError(f"input size must be an int or a sequence of ints, not the string {size!r}")
    values = list(size) if _is_sequence(size) else [size]
    if not values:
        raise InputSizeError("input size is empty: give N, or one size per spatial axis")
    return tuple(_positive_int(v, "input size") for v in values)


def fit_axes(sizes: tuple[int, ...], naxes: int) -> tuple[int, ...]:
    """One size per spatial axis: a single size is used on every axis."""
    if len(sizes) == 1:
        return sizes * naxes
    if len(sizes) == naxes:
        return sizes
    if naxes == 3 and len(sizes) == 2:
        raise InputSizeError("this model takes a clip: give T H W")
    given = "x".join(map(str, sizes))
    raise InputSizeError(
        f"input size {given} has {len(sizes)} axes; this model has {naxes} spatial "
        f"axes: give N or {AXIS_NAMES.get(naxes, f'{naxes} sizes')}"
    )


def check_in_channels(channels: Any) -> int:
    """`in_channels` as a positive int."""
    return _positive_int(channels, "in_channels")


def _is_sequence(value: Any) -> bool:
    # tuples, lists, torch.Size, numpy arrays; a 0-d array is a single number
    return hasattr(value, "__len__") and hasattr(value, "__iter__") and getattr(value, "ndim", 1) > 0


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool):  # True is an int to Python, never a size
        raise InputSizeError(f"{what} must be a whole number, not {value!r}")
    try:
        number = operator.index(value)  # int, numpy and torch integers; floats refuse
    except TypeError:
        raise InputSizeError(
            f"{what} must be a whole number, not {value!r} ({type(value).__name__})"
        ) from None
    if number < 1:
        raise InputSizeError(f"{what} must be positive, not {number}")
    return number

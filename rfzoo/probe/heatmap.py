"""Compact, deterministic storage of a gradient map (the schema's ``heatmap`` entry).

Encoding of ``{"shape": [h, w], "scale": s, "origin": [y0, x0], "data": ...}``:

* the map is cropped to a box (the probed unit's theoretical RF, clipped to
  the input), whose first pixel is ``origin`` (input pixel coordinates);
* cells of ``scale x scale`` input pixels (the last cells may be partial) hold
  the *sum* of the map over their pixels; ``scale`` is the smallest integer
  that keeps every side at most ``max_cells``;
* values are quantized linearly, ``round(255 * cell / max(cells))``, so 255 is
  the strongest cell and only relative values are kept;
* ``data`` is the base64 of the uint8 cells in row-major (C) order.

The same map gives the same bytes: no floating-point nondeterminism survives
the rounding step except at exact .5 ties, which `numpy.rint` breaks evenly.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence

import numpy as np


def encode_heatmap(
    grad_map: np.ndarray, box: Sequence[tuple[int, int]], max_cells: int = 64
) -> dict[str, object]:
    """Crop `grad_map` to `box` (inclusive, per axis), block-sum, quantize to uint8."""
    crop = grad_map[tuple(slice(a, b + 1) for a, b in box)]
    scale = max(1, max(math.ceil(n / max_cells) for n in crop.shape))
    cells_shape = tuple(math.ceil(n / scale) for n in crop.shape)
    padded = np.zeros(tuple(c * scale for c in cells_shape), dtype=np.float64)
    padded[tuple(slice(0, n) for n in crop.shape)] = crop
    split: list[int] = []
    for c in cells_shape:
        split += [c, scale]
    cells = padded.reshape(split).sum(axis=tuple(range(1, 2 * len(cells_shape), 2)))
    peak = float(cells.max()) if cells.size else 0.0
    quant = np.rint(cells / peak * 255) if peak > 0 else np.zeros_like(cells)
    data = quant.clip(0, 255).astype(np.uint8)
    return {
        "shape": list(cells_shape),
        "scale": scale,
        "origin": [int(a) for a, _ in box],
        "data": base64.b64encode(data.tobytes(order="C")).decode("ascii"),
    }


def decode_heatmap(heatmap: dict[str, object]) -> np.ndarray:
    """The uint8 cells of an encoded heat map, shaped ``heatmap["shape"]``."""
    shape = tuple(int(n) for n in heatmap["shape"])  # type: ignore[union-attr]
    raw = base64.b64decode(str(heatmap["data"]))
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)

"""Write a 2-D map as a colored PNG with the standard library only (zlib + struct).

No matplotlib dependency: the map is normalized to its maximum, colored with a
small perceptual ramp (black -> purple -> orange -> light yellow, close to
"inferno"), and enlarged by pixel repetition so that small maps stay visible.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

# anchor colors of the ramp, evenly spaced on [0, 1]
_RAMP = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float64,
)


def colorize(values: np.ndarray) -> np.ndarray:
    """Map a 2-D array to uint8 RGB ``(h, w, 3)``, 0 -> black, max -> light yellow."""
    peak = float(values.max()) if values.size else 0.0
    t = values / peak if peak > 0 else np.zeros_like(values, dtype=np.float64)
    pos = np.clip(t, 0, 1) * (len(_RAMP) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_RAMP) - 2)
    frac = (pos - lo)[..., None]
    rgb = _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac
    return np.rint(rgb).astype(np.uint8)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode uint8 RGB ``(h, w, 3)`` as PNG (8-bit truecolor, no interlace)."""
    h, w, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))  # filter type 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def write_png(values: np.ndarray, path: str | Path, min_side: int = 256) -> Path:
    """Colorize `values`, enlarge to at least `min_side` pixels, write a PNG to `path`."""
    rgb = colorize(np.asarray(values, dtype=np.float64))
    factor = max(1, -(-min_side // max(1, max(rgb.shape[:2]))))
    rgb = rgb.repeat(factor, axis=0).repeat(factor, axis=1)
    path = Path(path)
    path.write_bytes(png_bytes(rgb))
    return path

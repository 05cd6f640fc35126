"""ERF maps and metrics: Luo et al.'s sqrt(n) law, metric definitions, heat map encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.fx
from probe_nets import UniformStack

from rfzoo.probe.erf import erf_map, erf_metrics, mass_radius
from rfzoo.probe.heatmap import decode_heatmap, encode_heatmap
from rfzoo.probe.png import png_bytes, write_png
from rfzoo.probe.runner import LocalRunner

DEPTHS = (2, 4, 8, 16, 32)


def luo_std(n: int, size: int = 96) -> tuple[float, int]:
    gm = torch.fx.symbolic_trace(UniformStack(n).eval())
    out = size - 2 * n
    unit = ((out - 1) // 2,) * 2
    grad_map = erf_map(LocalRunner(gm), f"convs_{n - 1}", (1, size, size), unit, samples=2)
    rf = 2 * n + 1
    center = [u + n for u in unit]
    metrics = erf_metrics(grad_map, center, [rf, rf])
    assert metrics["offset"] == [0, 0]
    return float(np.mean(metrics["std"])), rf


def test_luo_erf_std_grows_as_sqrt_n_while_trf_grows_linearly() -> None:
    stds, rfs = zip(*(luo_std(n) for n in DEPTHS), strict=True)
    log_n = np.log(DEPTHS)
    erf_exponent = np.polyfit(log_n, np.log(stds), 1)[0]
    trf_exponent = np.polyfit(log_n, np.log(np.array(rfs) - 1), 1)[0]
    assert erf_exponent == pytest.approx(0.5, abs=0.03)
    assert trf_exponent == pytest.approx(1.0, abs=1e-9)
    # a 3-tap uniform kernel has variance 2/3 per layer: std = sqrt(2 n / 3) exactly
    assert stds == pytest.approx([np.sqrt(2 * n / 3) for n in DEPTHS], rel=0.02)


def test_mass_radius_of_a_point_and_of_a_square() -> None:
    point = np.zeros((9, 9))
    point[4, 4] = 1.0
    assert mass_radius(point, (4, 4), (20, 99)) == {"20": 0.0, "99": 0.0}
    square = np.zeros((20, 20))
    square[5:15, 5:15] = 1.0  # 10x10 around center 9.5
    radius = mass_radius(square, (9.5, 9.5), (20, 50, 99))
    assert radius["99"] == 4.5  # side 2r + 1 = 10 pixels
    assert radius["20"] == 2.5  # side 4: 16 % of the mass, side 6: 36 %
    metrics = erf_metrics(square, (9.5, 9.5), (10, 10))
    assert metrics["offset"] == [0, 0]


def test_heatmap_is_deterministic_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    grad_map = rng.random((100, 80))
    a = encode_heatmap(grad_map, [(10, 89), (5, 74)], max_cells=32)
    b = encode_heatmap(grad_map.copy(), [(10, 89), (5, 74)], max_cells=32)
    assert a == b
    assert a["scale"] == 3 and a["shape"] == [27, 24] and a["origin"] == [10, 5]
    cells = decode_heatmap(a)
    assert cells.shape == (27, 24) and cells.max() == 255


def test_png_is_valid(tmp_path) -> None:
    data = png_bytes(np.zeros((2, 3, 3), dtype=np.uint8))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    path = write_png(np.outer(np.hanning(20), np.hanning(30)), tmp_path / "m.png")
    image = pytest.importorskip("PIL.Image").open(path)
    assert image.size == (270, 180)  # enlarged 9x to reach 256 pixels

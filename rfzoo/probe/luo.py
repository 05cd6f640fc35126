"""Luo et al. (NIPS 2016), reproduced: n stacked 3x3 convolutions with uniform weights and
no nonlinearity. The theoretical RF grows linearly (2n + 1); the effective RF, measured as
the standard deviation of the input-gradient map of the center unit, grows like sqrt(n)
(for a 3-tap uniform kernel, exactly sqrt(2n/3) by the central limit theorem).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rfzoo.probe.erf import erf_map, erf_metrics
from rfzoo.probe.runner import LocalRunner
from rfzoo.schema import round_float

DEPTHS: tuple[int, ...] = (1, 2, 4, 8, 16, 32)


class UniformStack(nn.Module):
    """n 3x3 convolutions with every weight 1/9 and no bias or nonlinearity."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(*(nn.Conv2d(1, 1, 3, bias=False) for _ in range(n)))
        with torch.no_grad():
            for conv in self.convs:
                conv.weight.fill_(1.0 / 9.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


def erf_std(n: int) -> float:
    """Std (pixels, mean over axes) of the center unit's gradient map after n layers."""
    size = 2 * n + 33  # the whole RF fits with a margin
    gm = torch.fx.symbolic_trace(UniformStack(n).eval())
    out = size - 2 * n
    unit = ((out - 1) // 2,) * 2
    grad_map = erf_map(LocalRunner(gm), f"convs_{n - 1}", (1, size, size), unit, samples=2)
    metrics = erf_metrics(grad_map, [u + n for u in unit], [2 * n + 1] * 2)
    return float(np.mean(metrics["std"]))


def luo_curve(depths: Sequence[int] = DEPTHS) -> dict[str, Any]:
    """ERF std and TRF per depth, and the exponents of power-law fits (0.5 and 1)."""
    stds = [erf_std(n) for n in depths]
    trfs = [2 * n + 1 for n in depths]
    log_n = np.log(np.asarray(depths, dtype=float))
    erf_exponent = float(np.polyfit(log_n, np.log(stds), 1)[0])
    trf_exponent = float(np.polyfit(log_n, np.log(np.asarray(trfs) - 1.0), 1)[0])
    return {
        "depths": list(depths),
        "erf_std": [round_float(s, 3) for s in stds],
        "erf_std_theory": [round_float(float(np.sqrt(2 * n / 3)), 3) for n in depths],
        "trf": trfs,
        "erf_exponent": round_float(erf_exponent, 3),
        "trf_exponent": round_float(trf_exponent, 3),
    }

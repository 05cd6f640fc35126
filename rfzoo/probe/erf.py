"""Effective receptive field (Luo et al., NIPS 2016) of one unit, and its metrics.

Conventions (the site's method page repeats them):

* unit: the center position of the node's output (``(n - 1) // 2`` per axis),
  all channels summed, as in RepLKNet's ERF script;
* map: ``mean over samples of sum over input channels of |d unit / d input|``,
  inputs N(0, 1), parameters from the documented random init (`weights`) or the
  user's weights; global-context paths are detached like in the support check,
  so the ERF is the effective part of the local RF the catalog reports;
* float32 (the mass metrics do not depend on the far tails that underflow);
* the map is normalized to total mass 1 for the metrics.

Metrics, in input pixels:

* ``radius[t]`` for t in 20/30/50/99 %: the smallest r such that the square of
  pixels within Chebyshev distance r of the RF center holds t of the mass; its
  side is ``2 r + 1`` pixels (r is a half-integer when the center is);
* ``std``: standard deviation of the mass along each axis (Luo's ERF scale);
* ``erf_trf_ratio``: ERF extent ``4 * std`` (about 95 % of a Gaussian) over the
  theoretical RF size, geometric mean over axes;
* ``offset``: center of mass minus the RF center, per axis.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import Target
from rfzoo.probe.units import unit_values
from rfzoo.schema import round_float

MASS_LEVELS: tuple[int, ...] = (20, 30, 50, 99)


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush float32 denormals to zero (ERF only, never the float64 support check).

    The far tails of deep nets' gradients are denormal floats, which the CPU
    handles tens of times slower; they hold no measurable share of the mass.
    torch has no getter for the flag: it is off unless someone set it, so it is
    switched off again afterwards.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


def erf_maps(
    runner: LocalRunner,
    targets: Sequence[Target],
    input_shape: Sequence[int],
    *,
    samples: int = 8,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> list[np.ndarray]:
    """`erf_map` for several targets: one forward pass, one backward per target."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((samples, *input_shape), generator=gen, dtype=dtype)
    x.requires_grad_(True)
    outs = runner.capture(x, names={t.node for t in targets})
    maps: list[np.ndarray] = []
    for k, target in enumerate(targets):
        objective = unit_values(outs[target.node], target.output_size, target.unit).sum()
        (grad,) = torch.autograd.grad(objective, x, retain_graph=k < len(targets) - 1)
        maps.append(grad.abs().sum(dim=1).mean(dim=0).to(torch.float64).numpy())
    return maps


def erf_map(
    runner: LocalRunner,
    node: str,
    input_shape: Sequence[int],
    unit: Sequence[int],
    output_size: Sequence[int] | None = None,
    *,
    samples: int = 8,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> np.ndarray:
    """Mean over `samples` N(0,1) inputs of |d unit/d x| summed over channels (float64 array)."""
    target = Target(node, tuple(unit), tuple(output_size) if output_size is not None else None)
    (grad_map,) = erf_maps(runner, [target], input_shape, samples=samples, dtype=dtype, seed=seed)
    return grad_map


def mass_radius(
    grad_map: np.ndarray, center: Sequence[float], levels: Sequence[int]
) -> dict[str, float]:
    """Smallest Chebyshev radius around `center` holding each level (percent) of the mass."""
    grids = np.meshgrid(*(np.arange(n) for n in grad_map.shape), indexing="ij")
    dist = np.max([np.abs(g - c) for g, c in zip(grids, center, strict=True)], axis=0).ravel()
    order = np.argsort(dist, kind="stable")
    cum = np.cumsum(grad_map.ravel()[order])
    total = cum[-1]
    radius: dict[str, float] = {}
    for level in levels:
        if total <= 0:
            radius[str(level)] = math.nan
            continue
        k = int(np.searchsorted(cum, total * level / 100.0 * (1 - 1e-12)))
        radius[str(level)] = float(dist[order[min(k, cum.size - 1)]])
    return radius


def erf_metrics(
    grad_map: np.ndarray, center: Sequence[float], rf: Sequence[int]
) -> dict[str, object]:
    """Radius per mass level, ERF/TRF ratio, offset and std of a gradient map.

    `center` is the RF center of the probed unit and `rf` its theoretical RF
    size per axis, both in input pixels.
    """
    total = float(grad_map.sum())
    if not total > 0:
        raise ValueError("the gradient map is zero: nothing reaches the input")
    means: list[float] = []
    stds: list[float] = []
    for axis in range(grad_map.ndim):
        other = tuple(a for a in range(grad_map.ndim) if a != axis)
        marginal = grad_map.sum(axis=other) / total
        pos = np.arange(marginal.size)
        mean = float((marginal * pos).sum())
        means.append(mean)
        stds.append(float(math.sqrt(max(0.0, (marginal * (pos - mean) ** 2).sum()))))
    ratios = [4 * s / r for s, r in zip(stds, rf, strict=True)]
    ratio = math.exp(sum(math.log(max(r, 1e-12)) for r in ratios) / len(ratios))
    radius = mass_radius(grad_map, center, MASS_LEVELS)
    return {
        "radius": {k: round_float(v, 2) for k, v in radius.items()},
        "erf_trf_ratio": round_float(ratio),
        "offset": [round_float(m - c, 2) for m, c in zip(means, center, strict=True)],
        "std": [round_float(s, 2) for s in stds],
    }

"""The schema's ``erf`` entry: effective RF metrics and heat map per stage.

All maps are float32 with the conventions of `erf`, denormals flushed. Per stage:

* ``at_default``: the center unit at the model's default input size;
* the whole ERF (the stage's main metrics and heat map): the default map when
  it is not clipped by the border, else a map on a larger input. A map is
  *not clipped* when the unit's whole theoretical RF lies inside the input (the
  map is then exact: no path reaches the padding), or when the centered square
  holding 99 % of the mass, widened by one standard deviation, stays inside.
  Clipped stages (only those) are measured again on an input grown to hold
  that square with a margin, and, if still clipped, on the input that holds
  every stage's whole theoretical RF (the support check's lengths);
* all stages are reported in one frame, the largest input measured
  (``input_size``): a map measured on a smaller input is placed at the frame's
  unit of the same stage (``unit``, ``rf_box`` and the heat map's origin are in
  frame coordinates; ``measured_at`` says which input the map came from). The
  metrics are relative to the RF center, so they do not move.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx

from rfzoo.errors import RfzooError
from rfzoo.probe.erf import erf_maps, erf_metrics, flush_denormals
from rfzoo.probe.heatmap import encode_heatmap
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import Target
from rfzoo.probe.targets import (
    AnalysisLike,
    Analyzer,
    AxisPlan,
    StageUnit,
    detach_names,
    fitting_unit,
    node_shapes,
    round_up,
    stage_names,
)
from rfzoo.probe.units import center_unit

UNIT_CONVENTION = (
    "center unit, all channels summed; mean over inputs N(0,1) of |d unit/d input| "
    "summed over input channels; global-context paths and norm statistics detached"
)
GROWTH = 1.3  # margin on the default map's (underestimated) 99 % square when it is clipped
CHEAPER = 0.6  # grow only to inputs below this share of the full input's pixels


@dataclass
class Measured:
    """One stage's map on one input: the unit, its analytic box and the metrics."""

    unit: StageUnit
    input_size: tuple[int, ...]
    map: np.ndarray
    metrics: dict[str, Any]


def default_stage_units(
    reference: AnalysisLike, stages: Sequence[str] | None = None
) -> list[StageUnit]:
    """The center unit of every stage at the reference (default) input size."""
    units = []
    for name in stage_names(reference, stages):
        size = tuple(int(n) for n in reference.layer(name).output_size)
        unit = center_unit(size)
        box = reference.unit_box(name, unit)
        units.append(StageUnit(name, reference.fx_node(name), unit, size, box))
    return units


def combine_axes(plans: Sequence[AxisPlan]) -> tuple[tuple[int, ...], list[StageUnit]]:
    """The input that holds every stage's whole RF (shared by the plans) and the units there."""
    return plans[0].full_size, plans[0].stages


def _metrics(grad_map: np.ndarray, box: Sequence[tuple[int, int] | None]) -> dict[str, Any]:
    if any(b is None for b in box):
        raise ValueError("a stage without a local RF box")
    center = [(a + b) / 2 for a, b in box]  # type: ignore[misc]
    rf = [b - a + 1 for a, b in box]  # type: ignore[misc]
    return erf_metrics(grad_map, center, rf)


def _reach(metrics: dict[str, Any]) -> float:
    """Half side of the square that must fit: the 99 % radius plus one std."""
    return float(metrics["radius"]["99"]) + max(float(s) for s in metrics["std"])


def axis_clipped(box: tuple[int, int], length: int, reach: float) -> bool:
    """Whether the ERF of a unit with RF `box` may be cut by the border along one axis."""
    a, b = box
    if a >= 0 and b <= length - 1:  # the whole theoretical RF is inside: exact
        return False
    center = (a + b) / 2
    return center - reach < 0 or center + reach > length - 1


def clipped_axes(m: Measured) -> list[bool]:
    reach = _reach(m.metrics)
    return [
        axis_clipped(box, n, reach)  # type: ignore[arg-type]
        for box, n in zip(m.unit.box, m.input_size, strict=True)
    ]


def measure(
    runner: LocalRunner,
    units: Sequence[StageUnit],
    size: tuple[int, ...],
    in_channels: int,
    *,
    samples: int,
    seed: int,
) -> list[Measured]:
    """The ERF maps of `units` on one input size (one forward, one backward per unit)."""
    with flush_denormals():
        maps = erf_maps(
            runner,
            [Target(u.node, u.unit, u.output_size) for u in units],
            (in_channels, *size),
            samples=samples,
            dtype=torch.float32,
            seed=seed,
        )
    return [Measured(u, size, m, _metrics(m, u.box)) for u, m in zip(units, maps, strict=True)]


def grown_size(
    clipped: Sequence[Measured], current: tuple[int, ...], limit: tuple[int, ...], step: int = 32
) -> tuple[int, ...]:
    """An input holding the clipped maps' 99 % squares with a margin, at most `limit`."""
    size = list(current)
    for m in clipped:
        reach = _reach(m.metrics) * GROWTH
        for axis, cut in enumerate(clipped_axes(m)):
            if cut:
                size[axis] = max(size[axis], round_up(2 * reach + 1, step))
    return tuple(
        min(n, cap) if n > c else c for n, c, cap in zip(size, current, limit, strict=True)
    )


def _frame_unit(analysis: AnalysisLike, name: str) -> StageUnit:
    return fitting_unit(analysis, name, [None] * len(analysis.input_size))


def _movable(m: Measured, target: StageUnit) -> bool:
    """Same RF size per axis: the map can be placed at `target` by a shift."""
    return all(
        a is not None and b is not None and a[1] - a[0] == b[1] - b[0]
        for a, b in zip(m.unit.box, target.box, strict=True)
    )


def _stage_entry(
    m: Measured, frame: StageUnit, default: Measured, max_cells: int
) -> dict[str, Any]:
    """The JSON of one stage; the map (measured on `m.input_size`) is placed at `frame`'s unit."""
    shift = [f[0] - b[0] for f, b in zip(frame.box, m.unit.box, strict=True)]  # type: ignore[index]
    clipped = [
        (max(a, 0), min(b, n - 1))
        for (a, b), n in zip(m.unit.box, m.map.shape, strict=True)  # type: ignore[misc]
    ]
    heatmap = encode_heatmap(m.map, clipped, max_cells=max_cells)
    heatmap["origin"] = [o + s for o, s in zip(heatmap["origin"], shift, strict=True)]  # type: ignore[call-overload]
    return {
        "node": frame.name,
        "unit": list(frame.unit),
        "rf_box": [list(b) for b in frame.box],  # type: ignore[arg-type]
        "measured_at": list(m.input_size),
        **m.metrics,
        "heatmap": heatmap,
        "at_default": {"unit": list(default.unit.unit), **default.metrics},
    }


def _larger_runs(
    runner: LocalRunner,
    analyze_at: Analyzer,
    pending: list[Measured],
    reference: AnalysisLike,
    full: tuple[int, ...],
    in_channels: int,
    *,
    samples: int,
    seed: int,
    skipped: dict[tuple[int, ...], int],
) -> dict[str, Measured]:
    """Measure the clipped stages again: on a grown input, then on `full` if still clipped.

    An input whose activations would not fit `memory_budget()` is not run (3D
    video models at the full input); its size and estimated bytes go to `skipped`.
    """
    best: dict[str, Measured] = {}
    size = tuple(reference.input_size)
    per_pixel = activation_bytes(reference, samples) / math.prod(size)  # grows with the area
    full = tuple(max(f, n) for f, n in zip(full, size, strict=True))
    while pending:
        size = grown_size(pending, size, full)
        if math.prod(size) >= CHEAPER * math.prod(full):
            size = full  # not much cheaper, and may need a second run: go to the full input
        try:
            analysis = analyze_at(size)
        except RfzooError:
            if size == full:
                raise
            size = full
            analysis = analyze_at(size)
        need = int(per_pixel * math.prod(size))
        if need > memory_budget():
            skipped[tuple(size)] = need
            break  # keep the default maps of the pending stages (reported as clipped)
        units = [_frame_unit(analysis, m.unit.name) for m in pending]
        again = measure(runner, units, size, in_channels, samples=samples, seed=seed)
        best.update({m.unit.name: m for m in again})
        if size == full:
            break
        pending = [m for m in again if any(clipped_axes(m))]
    return best


def memory_budget() -> int:
    """Bytes one ERF run may use: $RFZOO_PROBE_MEMORY_GB (default 4 GB)."""
    return int(float(os.environ.get("RFZOO_PROBE_MEMORY_GB", "4")) * 2**30)


# Measured peak of an ERF run over the sum of its nodes' float32 outputs: 0.65 to 1.4 on
# six convnets at 416-448 pixels (benchmarks/erf_memory.py); the estimate stays above it.
PEAK_PER_OUTPUT_BYTE = 1.5


def activation_bytes(analysis: AnalysisLike, samples: int) -> int:
    """Estimated peak of one float32 forward+backward at the analysis's input: every
    node's output (kept for the backward, or a gradient in flight), scaled by the
    measured `PEAK_PER_OUTPUT_BYTE`."""
    shapes = node_shapes(analysis)
    outputs = 4 * samples * sum(math.prod(s[1:]) for s in shapes.values() if len(s) > 1)
    return int(PEAK_PER_OUTPUT_BYTE * outputs)


def erf_entry(
    gm: torch.fx.GraphModule,
    reference: AnalysisLike,
    in_channels: int,
    *,
    analyze_at: Analyzer,
    full_size: tuple[int, ...] | None,
    weights: str,
    init: str,
    samples: int = 8,
    seed: int = 0,
    max_cells: int = 64,
    stages: Sequence[str] | None = None,
) -> dict[str, Any]:
    """ERF metrics per stage; `gm` must hold float32 parameters.

    `full_size` is the input that holds every stage's whole theoretical RF (the
    support check's lengths, `combine_axes`), the last resort for a clipped
    map; None keeps clipped stages at the default size. `analyze_at` analyzes
    the model at another input size.
    """
    runner = LocalRunner(gm, detach=detach_names(reference))
    default = measure(
        runner,
        default_stage_units(reference, stages),
        tuple(reference.input_size),
        in_channels,
        samples=samples,
        seed=seed,
    )
    best = {m.unit.name: m for m in default}
    pending = [m for m in default if any(clipped_axes(m))]
    skipped: dict[tuple[int, ...], int] = {}
    if pending and full_size is not None:
        best.update(
            _larger_runs(
                runner,
                analyze_at,
                pending,
                reference,
                full_size,
                in_channels,
                samples=samples,
                seed=seed,
                skipped=skipped,
            )
        )
    entry = _entry(
        runner,
        best,
        default,
        reference,
        analyze_at,
        in_channels,
        weights=weights,
        init=init,
        samples=samples,
        seed=seed,
        max_cells=max_cells,
    )
    clipped = [m.unit.name for m in best.values() if m.input_size == tuple(reference.input_size)
               and any(clipped_axes(m))]
    if clipped:
        entry["clipped"] = clipped
        if skipped:
            size, need = next(iter(skipped.items()))
            entry["clipped_reason"] = (
                f"the input {'x'.join(map(str, size))} that holds the whole ERF needs about "
                f"{need / 2**30:.0f} GB (budget {memory_budget() / 2**30:g} GB, "
                f"$RFZOO_PROBE_MEMORY_GB): these maps are cut by the image border"
            )
    return entry


def _entry(
    runner: LocalRunner,
    best: dict[str, Measured],
    default: list[Measured],
    reference: AnalysisLike,
    analyze_at: Analyzer,
    in_channels: int,
    *,
    weights: str,
    init: str,
    samples: int,
    seed: int,
    max_cells: int,
) -> dict[str, Any]:
    """Place every stage in the largest input measured and build the JSON entry."""
    frame_size = tuple(
        max(m.input_size[a] for m in best.values()) for a in range(len(reference.input_size))
    )
    frame = reference if frame_size == tuple(reference.input_size) else analyze_at(frame_size)
    frame_units = {m.unit.name: _frame_unit(frame, m.unit.name) for m in default}
    if frame is reference:  # the default's own center units: no shift at all
        frame_units = {m.unit.name: m.unit for m in default}
    unmovable = [
        frame_units[name]
        for name, m in best.items()
        if m.input_size != frame_size and not _movable(m, frame_units[name])
    ]
    if unmovable:  # position-dependent RFs: measure those stages in the frame itself
        again = measure(runner, unmovable, frame_size, in_channels, samples=samples, seed=seed)
        best.update({m.unit.name: m for m in again})
    stages = [
        _stage_entry(best[d.unit.name], frame_units[d.unit.name], d, max_cells) for d in default
    ]
    return {
        "weights": weights,
        "init": init,
        "input_size": list(frame_size),
        "default_input_size": list(reference.input_size),
        "samples": samples,
        "dtype": "float32",
        "unit": UNIT_CONVENTION,
        "stages": stages,
    }

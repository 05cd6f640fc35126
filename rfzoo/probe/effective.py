"""The schema's ``erf`` entry: effective RF metrics and heat map per stage.

Two measurements per stage, both float32 with the conventions of `erf`:

* at the model's default input size, on the center unit (``at_default``);
* on the input that the support check found large enough to hold every
  stage's whole theoretical RF (``input_size``), on the unit nearest the
  middle: this is the whole ERF, and the stored heat map comes from it,
  cropped to that unit's RF box.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.fx

from rfzoo.probe.erf import erf_maps, erf_metrics
from rfzoo.probe.heatmap import encode_heatmap
from rfzoo.probe.plan import AnalysisLike, AxisPlan, StageUnit, stage_names
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import Target
from rfzoo.probe.units import center_unit
from rfzoo.probe.verify import detach_names

UNIT_CONVENTION = (
    "center unit, all channels summed; mean over inputs N(0,1) of |d unit/d input| "
    "summed over input channels; global-context paths and norm statistics detached"
)


def default_stage_units(reference: AnalysisLike) -> list[StageUnit]:
    """The center unit of every stage at the reference (default) input size."""
    units = []
    for name in stage_names(reference):
        size = tuple(int(n) for n in reference.layer(name).output_size)
        unit = center_unit(size)
        box = reference.unit_box(name, unit)
        units.append(StageUnit(name, reference.fx_node(name), unit, size, box))
    return units


def combine_axes(plans: Sequence[AxisPlan]) -> tuple[tuple[int, ...], list[StageUnit]]:
    """The large input (each axis from its own plan) and each stage's unit there.

    Output length, unit and box along one axis depend only on the input length
    along that axis, so the per-axis plans compose.
    """
    size = tuple(p.input_size[p.axis] for p in plans)
    units = []
    for per_axis in zip(*(p.stages for p in plans), strict=True):
        first = per_axis[0]
        units.append(
            StageUnit(
                first.name,
                first.node,
                tuple(s.unit[p.axis] for s, p in zip(per_axis, plans, strict=True)),
                tuple(s.output_size[p.axis] for s, p in zip(per_axis, plans, strict=True)),
                [s.box[p.axis] for s, p in zip(per_axis, plans, strict=True)],
            )
        )
    return size, units


def _metrics(grad_map: np.ndarray, box: Sequence[tuple[int, int] | None]) -> dict[str, Any]:
    if any(b is None for b in box):
        raise ValueError("a stage without a local RF box")
    center = [(a + b) / 2 for a, b in box]  # type: ignore[misc]
    rf = [b - a + 1 for a, b in box]  # type: ignore[misc]
    return erf_metrics(grad_map, center, rf)


def erf_entry(
    gm: torch.fx.GraphModule,
    reference: AnalysisLike,
    plans: Sequence[AxisPlan] | None,
    in_channels: int,
    *,
    weights: str,
    init: str,
    samples: int = 8,
    seed: int = 0,
    max_cells: int = 64,
) -> dict[str, Any]:
    """ERF metrics per stage; `gm` must hold float32 parameters."""
    runner = LocalRunner(gm, detach=detach_names(reference))
    default_units = default_stage_units(reference)
    default_maps = erf_maps(
        runner,
        [Target(u.node, u.unit, u.output_size) for u in default_units],
        (in_channels, *reference.input_size),
        samples=samples,
        dtype=torch.float32,
        seed=seed,
    )
    if plans:
        size, big_units = combine_axes(plans)
        big_maps = erf_maps(
            runner,
            [Target(u.node, u.unit, u.output_size) for u in big_units],
            (in_channels, *size),
            samples=samples,
            dtype=torch.float32,
            seed=seed,
        )
    else:  # no larger input possible: the default size is all there is
        size, big_units, big_maps = tuple(reference.input_size), default_units, default_maps
    stages = []
    for small, small_map, big, big_map in zip(
        default_units, default_maps, big_units, big_maps, strict=True
    ):
        metrics = _metrics(big_map, big.box)
        clipped = [
            (max(a, 0), min(b, n - 1))
            for (a, b), n in zip(big.box, big_map.shape, strict=True)  # type: ignore[misc]
        ]
        stages.append(
            {
                "node": big.name,
                "unit": list(big.unit),
                "rf_box": [list(b) for b in big.box],  # type: ignore[arg-type]
                **metrics,
                "heatmap": encode_heatmap(big_map, clipped, max_cells=max_cells),
                "at_default": {"unit": list(small.unit), **_metrics(small_map, small.box)},
            }
        )
    return {
        "weights": weights,
        "init": init,
        "input_size": list(size),
        "default_input_size": list(reference.input_size),
        "samples": samples,
        "dtype": "float32",
        "unit": UNIT_CONVENTION,
        "stages": stages,
    }

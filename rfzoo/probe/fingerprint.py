"""What a probe result depends on besides the model, its library and the probe code.

The probe measures fixed units on fixed inputs and compares them with analytic boxes;
everything it takes from the analysis is the *plan* (stages, units, boxes, input sizes,
nodes to detach) and, for the ERF, the layer table at the catalog's input size. Its
fingerprint is stored with the verification. When an engine change re-analyzes the
catalog and a model's new fingerprint equals the stored one, a new probe would repeat
the same computation (same seed) and reach the same verdicts: the catalog build carries
the stored results over instead of measuring again (`rfzoo.catalog.probe_step`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from rfzoo.probe.targets import (
    AnalysisLike,
    Analyzer,
    AxisPlan,
    detach_names,
    memoized,
    stage_names,
    statistics_nodes,
)
from rfzoo.probe.units import center_unit
from rfzoo.probe.verify import axis_plans, fallback_plan


def plan_fingerprint(
    plans: Sequence[AxisPlan], boxes_from: AnalysisLike, analysis: AnalysisLike, names: Sequence[str],
    fallback: AxisPlan | None = None,
) -> str:
    """A hash of the plans (and the fallback at the default input), the nodes the runs
    detach, and the catalog-size layer table."""
    payload = {
        "plans": [dataclasses.asdict(p) for p in plans],
        "fallback": dataclasses.asdict(fallback) if fallback is not None else None,
        "detach": sorted(detach_names(boxes_from)),
        "statistics": sorted(statistics_nodes(boxes_from)),
        "input_size": list(analysis.input_size),
        "layers": [_layer_row(layer) for layer in analysis.layers],  # type: ignore[attr-defined]
        "center_boxes": {n: _center_box(analysis, n) for n in names},
    }
    blob = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _layer_row(layer: Any) -> list[Any]:
    return [layer.name, layer.kind, layer.layout, layer.output_size, layer.rf, layer.rf_min,
            layer.jump, layer.center, layer.effective_padding, layer.is_global,
            layer.position_dependent]


def _center_box(analysis: AnalysisLike, name: str) -> Any:
    """The box of the center unit the ERF measures (position-dependent layers included)."""
    size = tuple(int(n) for n in analysis.layer(name).output_size)
    return analysis.unit_box(name, center_unit(size))


def fingerprint_without_model(
    analyze_at: Analyzer, analysis: AnalysisLike, stages: Sequence[str] | None, *, all_layers: bool
) -> str:
    """The fingerprint `probe_model` would store, from analyses alone (no model is built)."""
    analyze_at = memoized(analyze_at)
    names = stage_names(analysis, stages)
    plans = axis_plans(analyze_at, analysis, stages=names, all_layers=all_layers)
    boxes_from = analyze_at(plans[0].full_size) if plans else analysis
    fallback = fallback_plan(plans, analysis, names, all_layers=all_layers)
    return plan_fingerprint(plans, boxes_from, analysis, names, fallback)

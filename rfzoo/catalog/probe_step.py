"""The catalog build's gradient-probe step: which checks a model gets, and running them.

Two levels. ``full`` (the default catalog, and models named on the command line): every
stage and every other layer with a local RF checked in float64 (float32 first for the
layers), plus the ERF maps. ``stages`` (the rest of the full catalog): one unit of every
stage and of the summary node, float32 with the scaled backward first and float64 where
it differs from the analytic box, no ERF: several times cheaper, so the whole zoo is
verified routinely. This file is hashed into the probe's cache key, not the analysis's.
"""

from __future__ import annotations

from typing import Any

LEVELS = ("full", "stages")


def stage_nodes(doc: dict[str, Any]) -> list[str]:
    """The stages' nodes and the summary node (usually the last stage), in order."""
    nodes = [s["node"] for s in doc.get("stages") or [] if s.get("node")]
    summary = (doc.get("summary") or {}).get("node")
    if summary and summary not in nodes:
        nodes.append(summary)
    return nodes


def probe_document(doc: dict[str, Any], spec: Any, analysis: Any, level: str) -> None:
    """Add the probe's `verification` (and, at level full, `erf`) entries to `doc`.

    Raises what the probe raises; the caller records it as the model's probe_error.
    """
    from rfzoo.probe import probe_model

    if level not in LEVELS:
        raise ValueError(f"unknown probe level {level!r}: expected one of {', '.join(LEVELS)}")
    names = stage_nodes(doc) or None
    if level == "full":
        doc.update(probe_model(spec, analysis, stages=names))
        return
    doc.update(probe_model(spec, analysis, stages=names, erf=False, all_layers=False, float32_first=True))
    doc["verification"]["level"] = "stages"

"""The catalog build's gradient-probe step: which checks a model gets, and running them.

Two levels. ``full`` (the default catalog, and models named on the command line): every
stage and every other layer with a local RF checked in float64 (float32 first for the
layers), plus the ERF maps. ``stages`` (the rest of the full catalog): one unit of every
stage and of the summary node, float32 with the scaled backward on one random input
first, float64 and then three inputs where it differs from the analytic box, no ERF:
several times cheaper, so the whole zoo is verified routinely. This file is hashed into the probe's cache key, not the analysis's.

After an engine change, `carry_over` keeps a model's stored probe results when the new
analysis gives the probe the same plan (see `rfzoo.probe.fingerprint`): re-analyzing the
catalog then costs minutes, not the hours of measuring it again.
"""

from __future__ import annotations

from typing import Any

LEVELS = ("full", "stages")
# The stage level measures each stage on one random input first (float32, then float64)
# and on all three only where one input's box differs: the verdicts of three inputs at
# a third of the cost (benchmarks/probe_cost.py --stages).
STAGES_FIRST_SAMPLES = 1


def stage_nodes(doc: dict[str, Any]) -> list[str]:
    """The stages' nodes and the summary node (usually the last stage), in order."""
    nodes = [s["node"] for s in doc.get("stages") or [] if s.get("node")]
    summary = (doc.get("summary") or {}).get("node")
    if summary and summary not in nodes:
        nodes.append(summary)
    return nodes


def carry_over(previous: dict[str, Any] | None, doc: dict[str, Any], spec: Any, analysis: Any,
               level: str) -> bool:
    """Copy `previous`'s verification (and ERF) into `doc` when they still hold: the same
    model, library versions and input size, a stored result at `level` or above, and
    the plan fingerprint the new analysis gives. False (nothing copied) otherwise."""
    ver = (previous or {}).get("verification") or {}
    stored = ver.get("plan_fingerprint")
    if not stored or previous is None or spec is None or spec.source == "user":
        return False
    same = ("source", "name", "versions", "input_size")
    if any(previous.get(k) != doc.get(k) for k in same) or previous.get("probe_error"):
        return False
    had = ver.get("level", "full")
    if level == "full" and had != "full":
        return False
    from rfzoo.analysis import analyze
    from rfzoo.probe.fingerprint import fingerprint_without_model

    def analyze_at(size: tuple[int, ...]) -> Any:
        return analyze(spec.full_name, size, in_channels=spec.in_channels)

    try:
        now = fingerprint_without_model(analyze_at, analysis, stage_nodes(doc) or None,
                                        all_layers=had == "full")
    except Exception:  # noqa: BLE001 - no plan now: measure again, which reports why
        return False
    if now != stored:
        return False
    doc["verification"] = ver
    doc["erf"] = previous.get("erf") if had == "full" else None
    return True


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
    doc.update(probe_model(spec, analysis, stages=names, erf=False, all_layers=False, float32_first=True,
                           first_samples=STAGES_FIRST_SAMPLES))
    doc["verification"]["level"] = "stages"

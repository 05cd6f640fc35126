"""The catalog index's rows: one pure function of a model document.

Kept apart from the analysis code on purpose: this file is not part of the analysis
cache key (rfzoo.catalog.cache), so a new or changed column re-derives the rows from the
committed documents (`cache.current_row`) instead of re-analyzing 1,500 models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rfzoo.schema import round_float

INDEX_COLUMNS: tuple[str, ...] = (
    "source",
    "name",
    "family",
    "task",
    "input_size",
    "rf",
    "jump",
    "rf_ratio",
    "rf_ratio_time",
    "whole_input_from",
    "params",
    "status",
    "reason",
    "verified",
    "verify_note",
)

# Rows cached by an older version of this file are re-derived from their documents.
ROW_VERSION = hashlib.sha256(Path(__file__).read_bytes().replace(b"\r\n", b"\n")).hexdigest()[:12]


def index_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The index row of a model document (columns of INDEX_COLUMNS, plain JSON values)."""
    summary = doc.get("summary") or {}
    input_size = doc.get("input_size")
    rf = summary.get("rf")
    ratios = rf_ratios(rf, input_size)
    time_axes = time_axis_count(input_size)
    verification = doc.get("verification") or {}
    row = {
        "source": doc.get("source"),
        "name": doc.get("name"),
        "family": doc.get("family"),
        "task": doc.get("task"),
        "input_size": _plain(input_size),
        "rf": _plain(rf),
        "jump": _plain(summary.get("jump")),
        "rf_ratio": max((r for r in ratios[time_axes:] if r is not None), default=None),
        "rf_ratio_time": ratios[0] if time_axes else None,
        "whole_input_from": (summary.get("global_from") or "") if summary.get("global") else "",
        "params": doc.get("params"),
        "status": doc.get("status"),
        "reason": doc.get("reason") or "",
        "verified": verification.get("verified") if verification else None,
        "verify_note": verify_note(doc),
    }
    assert tuple(row) == INDEX_COLUMNS, "index_row out of sync with INDEX_COLUMNS"
    return row


def verify_note(doc: Mapping[str, Any]) -> str:
    """Why a model is not verified, in a few words; empty when it is (or failed to analyze),
    except for a model whose stage boxes were checked inside the image only: why."""
    if doc.get("status") == "failed":
        return ""
    verification = doc.get("verification") or {}
    if doc.get("probe_error"):
        return f"not measured: {doc['probe_error']}"
    if not verification:
        return "not measured yet"
    if verification.get("verified"):
        if verification.get("clipped"):
            return f"verified inside the image only: {verification.get('clipped_reason') or ''}"
        return ""
    bad = [s.get("node") for s in verification.get("stages") or [] if s.get("agree") is False]
    bad += [b.get("node") for b in (verification.get("layers") or {}).get("disagree") or []]
    if bad:
        shown = ", ".join(str(n) for n in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        return f"disagrees at {shown}"
    return f"not verified: {verification.get('reason') or 'no stage measured'}"


def time_axis_count(input_size: Any) -> int:
    """1 for a video input ([T, H, W]: the first axis is time), else 0."""
    return 1 if isinstance(input_size, list | tuple) and len(input_size) == 3 else 0


def rf_ratios(rf: Any, input_size: Any) -> list[float | int | None]:
    """RF / input per axis (None where unknown); empty when the two do not pair up."""
    if not rf or not input_size or len(rf) != len(input_size):
        return []
    return [round_float(r / n) if r is not None and n else None for r, n in zip(rf, input_size, strict=True)]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value

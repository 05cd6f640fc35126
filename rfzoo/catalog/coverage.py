"""Coverage: how many models of each library are exact, partial or failed, and why."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any


def reason_class(reason: str) -> str:
    """Group reasons that differ only in where they happened.

    "unsupported op aten.roll at layers.0.blocks.1.attn" -> "unsupported op aten.roll";
    "timed out after 600 s while analyzing; ..." -> "timed out while analyzing".
    """
    if not reason:
        return ""
    text = reason.split(";")[0]
    match = re.match(r"unsupported op (.+?)(?: at \S+|$)", text)
    if match:
        return f"unsupported op {match.group(1)}"
    match = re.match(r"timed out after [\d.]+ s (while .*)", text)
    if match:
        return f"timed out {match.group(1)}"
    text = re.split(r" at [\w.\[\]]+", text)[0]
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", text)
    text = re.sub(r"\d+", "N", text)
    return text[:120]


def coverage_lines(rows: Iterable[Mapping[str, Any]], max_reasons: int = 20) -> list[str]:
    """Per source: exact / partial / failed and the share analyzed; reasons by count."""
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        status = str(row.get("status"))
        by_source[str(row.get("source"))][status] += 1
        if status != "exact":
            reasons[status][reason_class(str(row.get("reason") or ""))] += 1
    lines = []
    for source in sorted(by_source):
        counts = by_source[source]
        total = sum(counts.values())
        ok = counts["exact"] + counts["partial"]
        lines.append(
            f"coverage {source}: {ok}/{total} analyzed ({100 * ok / total:.1f}%): "
            f"exact {counts['exact']}, partial {counts['partial']}, failed {counts['failed']}"
        )
    for status in ("partial", "failed"):
        if not reasons[status]:
            continue
        lines.append(f"{status} by reason:")
        for reason, n in reasons[status].most_common(max_reasons):
            lines.append(f"  {n:5d}  {reason or '(no reason given)'}")
        rest = len(reasons[status]) - max_reasons
        if rest > 0:
            lines.append(f"  ... and {rest} more reasons")
    return lines

"""Coverage: how many models of each library are exact, partial or failed, and why; and how
many exact ones the gradient probe verified, and why the others are not."""

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


def verification_lines(rows: Iterable[Mapping[str, Any]], max_reasons: int = 20) -> list[str]:
    """Per source: exact models verified by the gradient probe; the others by `verify_note`."""
    verified: Counter[str] = Counter()
    exact: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for row in rows:
        if row.get("status") != "exact":
            continue
        source = str(row.get("source"))
        exact[source] += 1
        if row.get("verified") is True:
            verified[source] += 1
            inside[source] += bool(row.get("verify_note"))  # see rows.verify_note
        else:
            notes[_note_class(str(row.get("verify_note") or ""))] += 1
    lines = [f"verified {source}: {verified[source]}/{exact[source]} exact models "
             f"({100 * verified[source] / exact[source]:.1f}%)"
             + (f", {inside[source]} of them inside the image only" if inside[source] else "")
             for source in sorted(exact)]
    if notes:
        lines.append("not verified, by reason:")
        for note, n in notes.most_common(max_reasons):
            lines.append(f"  {n:5d}  {note or '(no reason given)'}")
    return lines


def _note_class(note: str) -> str:
    """"disagrees at a, b" -> "disagrees"; limits and sizes -> N."""
    text = note.split(";")[0]
    if text.startswith("disagrees at"):
        return "disagrees (the model page shows the boxes)"
    return re.sub(r"\d+(\.\d+)?", "N", text)[:120]

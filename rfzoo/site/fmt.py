"""Format catalog values for pages: per-axis lists, counts, flags. Missing values show as a dash."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rfzoo.markup import html_text as esc  # text and attribute values in raw HTML

DASH = "—"


def num(value: Any) -> str:
    """A number as the data has it: ints plain, floats without trailing zeros."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def axes(values: Sequence[Any] | None) -> str:
    """Per-axis values as `427×427`; a dash when missing or all null."""
    if not values or all(v is None for v in values):
        return DASH
    return "×".join(num(v) for v in values)


def params(value: Any) -> str:
    """Parameter count in millions, e.g. `25.6 M`."""
    if value is None:
        return DASH
    return f"{value / 1e6:.1f} M"


def ratio(value: Any) -> str:
    return DASH if value is None else f"{float(value):.2f}"


def verified(value: Any, note: str = "") -> str:
    """The index's verified flag (true, false or empty: not measured) and, where the index's
    verify_note gives one, why: a box checked inside the image only, or no measurement."""
    if value is True or value == "true":
        if note:
            return f'<span class="rfz-ok" title="{esc(note)}">✓ verified inside the image only</span>'
        return '<span class="rfz-ok" title="verified: measured support equals the analytic RF">✓ verified</span>'
    if value is False or value == "false":
        return '<span class="rfz-bad" title="a stage disagrees with the measured support">✗ disagrees</span>'
    reason = note.removeprefix("not measured: ") if note and note != "not measured yet" else ""
    if reason:
        return f'<span class="rfz-muted">not measured</span>: {esc(reason)}'
    return '<span class="rfz-muted" title="not measured yet">not measured</span>'


def status(value: str | None) -> str:
    value = value or "unknown"
    return f'<span class="rfz-status rfz-status-{esc(value)}">{esc(value)}</span>'


def sort_key(value: Any) -> str:
    """A `data-sort` attribute value: the first axis of a list, numbers as numbers, else text."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return esc(value)

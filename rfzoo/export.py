"""JSON, CSV, Markdown and terminal renderings of an analysis. Deterministic bytes."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from rfzoo.markup import markdown_text

if TYPE_CHECKING:
    from rfzoo.analysis import Analysis, Layer


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _axes(values: list[Any] | None) -> str:
    if values is None:
        return "-"
    if all(v == values[0] for v in values):
        return _num(values[0])
    return "x".join(_num(v) for v in values)


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:g}"
    return str(v)


def _flags(layer: Layer) -> str:
    flags = []
    if layer.is_global:
        flags.append("global")
    if not layer.aligned:
        flags.append("misaligned")
    if layer.position_dependent:
        flags.append("pos-dep")
    return ",".join(flags)


# rf_min_path: the RF of the smallest path through the graph (the shortcut chain of a ResNet),
# not the smallest RF over unit positions (that is `rf` everywhere but after upsampling).
COLUMNS = ("layer", "op", "size", "rf", "rf_min_path", "jump", "center", "eff_pad", "flags")


def rows(analysis: Analysis) -> list[list[str]]:
    return [
        [
            layer.name,
            layer.op,
            _axes(layer.output_size),
            _axes(layer.rf),
            _axes(layer.rf_min),
            _axes(layer.jump),
            _axes(layer.center),
            _axes(layer.effective_padding),
            _flags(layer),
        ]
        for layer in analysis.layers
    ]


def to_csv(analysis: Analysis) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(analysis))
    return out.getvalue()


def _summary_line(analysis: Analysis) -> str:
    s = analysis.summary()
    parts = [f"{analysis.model} at {'x'.join(map(str, analysis.input_size))}"]
    bound = ">=" if analysis.status == "partial" else ""  # part of the graph is not analyzed
    if s["node"] and s.get("global"):
        parts.append(f"sees the whole input from {s['global_from']} on; local-path RF {bound}{_axes(s['rf'])}, "
                     f"jump {_axes(s['jump'])} at {s['node']}")
    elif s["node"]:
        parts.append(f"RF {bound}{_axes(s['rf'])}, jump {_axes(s['jump'])} at {s['node']}")
        if s.get("global_from"):
            parts.append(f"global context only after it, from {s['global_from']}")
    elif s.get("global_from"):
        parts.append(f"global from {s['global_from']}")
    parts.append(f"status {analysis.status}" + (f" ({analysis.reason})" if analysis.reason else ""))
    return "; ".join(parts)


def to_markdown(analysis: Analysis) -> str:
    """A Markdown table; layer names, ops and reasons are escaped (a user's module can be
    named anything, `<img onerror=...>` and `a|b` included)."""
    lines = [f"**{markdown_text(_summary_line(analysis))}**", "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for row in rows(analysis):
        lines.append("| " + " | ".join(markdown_text(c) or " " for c in row) + " |")
    return "\n".join(lines) + "\n"


def to_table(analysis: Analysis, width: int = 100) -> str:
    """Fixed-width table that fits `width` columns: long layer and op names are shortened."""
    table = rows(analysis)
    numeric = [max(len(COLUMNS[i]), *(len(r[i]) for r in table)) if table else len(COLUMNS[i]) for i in range(2, 9)]
    room = width - sum(numeric) - 2 * 8
    name_w = max(12, min(max((len(r[0]) for r in table), default=5), room * 3 // 5))
    op_w = max(8, room - name_w)
    widths = [name_w, op_w, *numeric]

    def fit(text: str, w: int) -> str:
        return text if len(text) <= w else "…" + text[-(w - 1):]

    def line(cells: list[str]) -> str:
        out = [fit(cells[0], widths[0]).ljust(widths[0]), fit(cells[1], widths[1]).ljust(widths[1])]
        out += [c.rjust(w) for c, w in zip(cells[2:8], widths[2:8], strict=True)]
        out.append(cells[8].ljust(widths[8]))
        return "  ".join(out).rstrip()

    lines = [_summary_line(analysis), line(list(COLUMNS)), "-" * min(width, sum(widths) + 16)]
    lines += [line(r) for r in table]
    return "\n".join(lines) + "\n"

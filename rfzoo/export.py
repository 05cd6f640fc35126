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


# -- exact per-unit boxes of position-dependent layers ------------------------------------
# After upsampling a unit's box depends on its position, so `center + i*jump ± rf/2` is not
# its box. The document stores every unit's interval per axis, compactly: most axes repeat
# with a period (the upsampling factor, a window) shifted by a whole number of pixels, apart
# from a few units at each border (clamped interpolation taps, padding).

Box = tuple[int, int]


def unit_boxes(analysis: Analysis) -> dict[str, Any] | None:
    """The schema's `unit_boxes`: per position-dependent layer and axis, an index into a table
    of distinct encoded axes (layers on an identity chain share one). None when no layer
    depends on position."""
    axes: list[dict[str, Any]] = []
    index_of: dict[str, int] = {}  # an encoded axis as JSON -> its index in `axes`
    layers: dict[str, list[int | None]] = {}
    for layer in analysis.layers:
        if not layer.position_dependent:
            continue
        refs: list[int | None] = []
        for k in range(len(layer.output_size)):
            boxes = axis_unit_boxes(analysis, layer, k)
            if boxes is None:
                refs.append(None)
                continue
            encoded = encode_boxes(boxes)
            key = json.dumps(encoded, sort_keys=True)
            if key not in index_of:
                index_of[key] = len(axes)
                axes.append(encoded)
            refs.append(index_of[key])
        layers[layer.name] = refs
    return {"axes": axes, "layers": layers} if layers else None


def axis_unit_boxes(analysis: Analysis, layer: Layer, k: int) -> list[Box] | None:
    """Every unit's inclusive input interval along axis k; None where the axis has no units
    or no local RF. The engine maps each axis on its own, so the other coordinates are held at
    0 (tests check every unit's full box against `Analysis.unit_box`). The engine's own
    `unit_box`: `Analysis.unit_box` finds the layer by name first, a scan per unit."""
    n = layer.output_size[k]
    if n is None:
        return None
    unit = [0] * len(layer.output_size)
    boxes: list[Box] = []
    for u in range(n):
        unit[k] = u
        box = analysis.engine.unit_box(layer.name, unit)[k]
        if box is None:
            return None
        boxes.append((int(box[0]), int(box[1])))
    return boxes


def encode_boxes(boxes: list[Box]) -> dict[str, Any]:
    """`{"head", "cycle", "shift", "tail"}`: the first units as they are, then units that repeat
    `cycle` shifted by `shift` pixels per period, then the last units as they are (see
    `decode_boxes`). The period is the one that stores the fewest boxes; with no period every
    box is in `head`."""
    n = len(boxes)
    best = {"head": [list(b) for b in boxes], "cycle": [], "shift": 0, "tail": []}
    best_cost = n
    for period in range(1, n):
        if period >= best_cost:  # a cycle this long stores at least as many boxes
            break
        start, stop, shift = _longest_periodic_run(boxes, period)
        cost = start + period + (n - stop)
        if stop - start > period and cost < best_cost:
            best_cost = cost
            best = {"head": [list(b) for b in boxes[:start]],
                    "cycle": [list(b) for b in boxes[start:start + period]],
                    "shift": shift, "tail": [list(b) for b in boxes[stop:]]}
    return best


def _longest_periodic_run(boxes: list[Box], period: int) -> tuple[int, int, int]:
    """The longest range of units [start, stop) in which each box is the box one period earlier
    moved by the same number of pixels on both ends; and that number."""
    best = (0, 0, 0)
    run_start, run_shift = 0, None
    for u in range(len(boxes) - period):
        (lo, hi), (lo2, hi2) = boxes[u], boxes[u + period]
        shift = lo2 - lo if lo2 - lo == hi2 - hi else None
        if shift is None or shift != run_shift:
            run_start, run_shift = u, shift
        if shift is not None and u + 1 + period - run_start > best[1] - best[0]:
            best = (run_start, u + 1 + period, shift)
    return best


def decode_boxes(encoded: dict[str, Any], n: int) -> list[Box]:
    """The `n` boxes `encode_boxes` encoded (rfzoo-units.js decodes the same way)."""
    head, cycle, tail, shift = encoded["head"], encoded["cycle"], encoded["tail"], encoded["shift"]
    boxes = [(lo, hi) for lo, hi in head]
    for v in range(n - len(head) - len(tail)):
        periods, phase = divmod(v, len(cycle))
        lo, hi = cycle[phase]
        boxes.append((lo + periods * shift, hi + periods * shift))
    boxes += [(lo, hi) for lo, hi in tail]
    return boxes

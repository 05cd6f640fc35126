"""What a model page says a model sees: the headline, the summary card and the description.

The one rule: never overstate (nor understate) what the summary node sees.

* `summary.global` true: a global op (attention, token mixing, an SE gate, GroupNorm
  statistics) lies on a path into the node, so it sees the *whole input* from
  `summary.global_from` on; the RF numbers are the local path's only.
* `summary.global` false with a `global_from`: a global op that comes *after* the node
  (ResNet's avgpool); the numbers stand. Older data may name a global op anywhere: one
  before the node that does not reach it is said so.
* `partial` status: part of the graph is not analyzed, so every RF is a lower bound (≥).
* `[T, H, W]` inputs: time in frames apart from the spatial pixels.
"""

from __future__ import annotations

import re
from typing import Any

from rfzoo.catalog.rows import verify_note
from rfzoo.markup import yaml_string
from rfzoo.site.fmt import DASH, axes, esc, num, params, status, verified

Doc = dict[str, Any]
GE = "≥ "  # lower-bound mark of a partial model's RFs


def is_video(doc: Doc) -> bool:
    return len(doc.get("input_size") or []) == 3


def lower_bound(doc: Doc) -> bool:
    return doc.get("status") == "partial"


def spatial(values: list | None, doc: Doc) -> list | None:
    """The spatial axes of a per-axis list (drops time of a [T, H, W] model)."""
    if not values:
        return values
    return list(values[1:]) if is_video(doc) and len(values) == 3 else list(values)


def time(values: list | None, doc: Doc) -> Any:
    return values[0] if values and is_video(doc) and len(values) == 3 else None


def size_text(values: list | None, doc: Doc, *, bound: bool = False) -> str:
    """`427×427 px`, `time 109 frames × 219×219 px` (video), `≥ 51×51 px` (lower bound)."""
    if not values or all(v is None for v in values):
        return DASH
    mark = GE if bound else ""
    if is_video(doc) and len(values) == 3:
        return f"time {mark}{num(values[0])} frames × {mark}{axes(values[1:])} px"
    return f"{mark}{axes(values)} px"


def global_state(doc: Doc) -> tuple[str, str | None]:
    """('whole', layer): the node sees the whole input from layer; ('after', layer): a global
    op comes only after the node; ('elsewhere', layer): a global op that does not reach it
    (older data); ('local', None): no global op."""
    s = doc.get("summary") or {}
    gf = s.get("global_from")
    if s.get("global"):
        return "whole", gf
    if not gf:
        return "local", None
    names = [lay.get("name") for lay in doc.get("layers") or []]
    if gf in names and s.get("node") in names and names.index(gf) < names.index(s["node"]):
        return "elsewhere", gf
    return "after", gf


def headline_text(doc: Doc) -> str:
    """One plain-text line: what the summary node sees (front matter, search, aria)."""
    s = doc.get("summary") or {}
    if doc.get("status") == "failed" or not s:
        return "Receptive field: not analyzed (the analysis failed)."
    bound = lower_bound(doc)
    rf = size_text(s.get("rf"), doc, bound=bound)
    state, gf = global_state(doc)
    if state == "whole":
        where = f" from {gf}" if gf else ""
        return f"Receptive field: whole input (global{where}); local-path RF {rf}."
    text = f"Receptive field: {rf} at {s.get('node')}"
    if state == "after":
        text += f"; global context only after this node, from {gf}"
    if bound:
        text += " (a lower bound: part of the graph is not analyzed)"
    return text + "."


def headline(doc: Doc) -> str:
    """The page's headline as raw HTML: the receptive field in words and numbers."""
    s = doc.get("summary") or {}
    if doc.get("status") == "failed" or not s:
        return ('<p class="rfz-headline"><strong>Receptive field: not analyzed</strong> '
                "(the analysis failed, see below).</p>\n")
    bound = lower_bound(doc)
    rf = esc(size_text(s.get("rf"), doc, bound=bound))
    node = f"<code>{esc(s.get('node') or DASH)}</code>"
    state, gf = global_state(doc)
    if state == "whole":
        where = f" from <code>{esc(gf)}</code>" if gf else ""
        return (f'<p class="rfz-headline"><strong>Receptive field: whole input</strong> '
                f"(global{where}) at {node} · local-path RF {rf}</p>\n")
    extra = ""
    if state == "after":
        extra = f" · global context only after this node, from <code>{esc(gf)}</code>"
    elif state == "elsewhere":
        extra = f" · the global op at <code>{esc(gf)}</code> does not lie on a path into this node"
    if bound:
        extra += ' · <span class="rfz-bound">lower bound: part of the graph is not analyzed</span>'
    return f'<p class="rfz-headline"><strong>Receptive field: {rf}</strong> at {node}{extra}</p>\n'


def description(doc: Doc) -> str:
    """The page's meta description (front matter): the headline with the model and input."""
    size = axes(doc.get("input_size"))
    line = headline_text(doc).removeprefix("Receptive field: ").rstrip(".")
    return f"Receptive field of {doc['source']} {doc['name']} at input {size}: {line}."


def ratio_text(doc: Doc) -> str:
    """RF / input per spatial axis, time apart: `1.91 (H) · 1.91 (W) · time 6.81`."""
    s = doc.get("summary") or {}
    rf, size = s.get("rf"), doc.get("input_size")
    if not rf or not size or len(rf) != len(size):
        return DASH
    names = ["T", "H", "W"] if is_video(doc) else (["H", "W"] if len(size) == 2 else ["L"])
    parts = []
    for i, (r, n) in enumerate(zip(rf, size, strict=True)):
        if r is None or not n:
            continue
        val = f"{GE if lower_bound(doc) else ''}{r / n:.2f}"
        parts.append(f"time {val}" if is_video(doc) and i == 0 else f"{val} ({names[i]})")
    if not is_video(doc) and len(parts) > 1 and len({p.split(" (")[0] for p in parts}) == 1:
        return parts[0].split(" (")[0] + " (each axis)"
    return " · ".join(parts) or DASH


def card(doc: Doc) -> str:
    s = doc.get("summary") or {}
    ver = doc.get("verification")
    bound = lower_bound(doc)
    state, gf = global_state(doc)
    sees = DASH
    if s:
        sees = {"whole": f"<strong>whole input</strong> from <code>{esc(gf)}</code> on" if gf
                else "<strong>whole input</strong>",
                "after": f"local; global only after this node (<code>{esc(gf)}</code>)",
                "elsewhere": f"local (the global op <code>{esc(gf)}</code> does not reach it)",
                "local": "local: no global op"}[state]
    rf_label = "Local-path RF" if state == "whole" else "Receptive field"
    items = [
        ("Sees", sees),
        (rf_label, f"<strong>{esc(size_text(s.get('rf'), doc, bound=bound))}</strong>"),
        ("RF / input", esc(ratio_text(doc))),
        ("Jump (stride)", esc(size_text(s.get("jump"), doc))),
        ("Smallest-path RF", esc(size_text(s.get("rf_min"), doc))),
        ("Effective padding", esc(size_text(s.get("effective_padding"), doc))),
        ("Center of unit 0", axes(s.get("center"))),
        ("Input size", esc(size_text(doc.get("input_size"), doc))),
        ("Feature map", f"{axes(s.get('output_size'))} at <code>{esc(s.get('node') or DASH)}</code>"),
        ("Status", status(doc.get("status"))),
        ("Verified", verified(None if not ver else ver.get("verified"), verify_note(doc))),
        ("Parameters", params(doc.get("params"))),
    ]
    if not s:  # not analyzed (failed): only what is known, not a card of dashes
        items = [(k, v) for k, v in items if k in ("Input size", "Status", "Parameters") and v != DASH]
    # spaces between the items: the search index reads the card as text
    cells = " ".join(f"<div><dt>{k}</dt> <dd>{v}</dd></div>" for k, v in items)
    return f'<dl class="rfz-card">{cells}</dl>\n'


def search_boost(name: str) -> float:
    """The page's search boost: model pages above pages that merely mention a name, and a name
    of fewer words above the longer names that contain it (`resnet50` above `fcn_resnet50` for
    the query resnet50; the query fcn_resnet50 matches all words of the longer name only)."""
    words = [w for w in re.split(r"[\s\-,:!=\[\]()\"/_.]+", name) if w]
    return round(2 + 2 / max(len(words), 1), 3)


def front_matter(doc: Doc) -> str:
    # search: the h1 section (title, headline, card) is the page's whole search text
    return (f"---\ntitle: {yaml_string(doc['name'])}\ndescription: {yaml_string(description(doc))}\n"
            f"hide:\n  - navigation\nsearch:\n  boost: {search_boost(str(doc['name']))}\n---\n")

"""A model page's lazily loaded data: the per-layer table (columnar) and the chart figures.

The page itself holds only the card, the stages and the text; rfzoo-model.js fetches this
file (`<stem>.page.json.gz`, next to the page) and draws the charts and the layer table.
Gzip with a fixed header (mtime 0) keeps the bytes deterministic; the browser inflates it
with DecompressionStream unless a server already did (it checks the 1f 8b magic).

Layout::

    {"v": 1, "model": "timm/x", "axes": ["H", "W"], "lower_bound": false,
     "layers": {"name": [...], "op": [...], "kind": [...], "output_size": [[h, w], ...],
                "rf": [...], "rf_min": [...], "jump": [...], "center": [...],
                "effective_padding": [...], "border_units": [...],
                "flags": [bits: 1 global, 2 misaligned, 4 position-dependent, 8 stage end],
                "check": [1 agrees, 0 differs, null not measured]},
     "charts": {"rf-depth": figure, "rf-ratio": figure, "border": figure, "grad-0": figure, ...},
     "colors": {"light colour": "dark-scheme colour"},
     "erf_maps": {"node": {"shape", "scale", "origin", "data", "unit", "input"}},  (rfzoo.site.unit_picker)
     "unit_boxes": {"axes": [...], "layers": {"node": [axis refs]}}}  (the document's, as is)
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from rfzoo.site import figures, unit_picker

Doc = dict[str, Any]
VERSION = 1
LAYER_KEYS = ("output_size", "rf", "rf_min", "jump", "center", "effective_padding", "border_units")
GLOBAL, MISALIGNED, POSITION_DEPENDENT, STAGE_END = 1, 2, 4, 8


def layer_checks(doc: Doc) -> dict[str, bool]:
    """Per layer name: True when its measured support agrees, False when not; absent when
    the layer was not measured. Read from the probe's own lists, never re-derived."""
    ver = doc.get("verification") or {}
    marks = {st.get("node"): bool(st.get("agree")) for st in ver.get("stages") or []}
    lay = ver.get("layers") or {}
    marks.update({name: True for name in lay.get("agreed") or []})
    marks.update({b.get("node"): False for b in lay.get("disagree") or []})
    return marks


def columns(doc: Doc) -> dict[str, list[Any]]:
    layers = doc.get("layers") or []
    checks = layer_checks(doc)
    stage_nodes = {st.get("node") for st in doc.get("stages") or []}
    cols: dict[str, list[Any]] = {"name": [], "op": [], "kind": []}
    cols.update({k: [] for k in LAYER_KEYS})
    cols["flags"], cols["check"] = [], []
    for lay in layers:
        cols["name"].append(str(lay.get("name")))
        cols["op"].append(str(lay.get("op") or ""))
        cols["kind"].append(str(lay.get("kind") or ""))
        for k in LAYER_KEYS:
            cols[k].append(lay.get(k))
        cols["flags"].append(GLOBAL * bool(lay.get("global")) + MISALIGNED * (lay.get("aligned") is False)
                             + POSITION_DEPENDENT * bool(lay.get("position_dependent"))
                             + STAGE_END * (lay.get("name") in stage_nodes))
        check = checks.get(lay.get("name"))
        cols["check"].append(None if check is None else int(check))
    return cols


def page_data(doc: Doc, charts: dict[str, Any]) -> dict[str, Any]:
    n = len(doc.get("input_size") or [])
    return {
        "v": VERSION,
        "model": f"{doc['source']}/{doc['name']}",
        "axes": figures.axis_names(n),
        "lower_bound": doc.get("status") == "partial",
        "layers": columns(doc),
        "charts": charts,
        "colors": figures.DARK_OF,
        **unit_picker.page_data(doc),  # the unit picker's ERF maps and exact boxes, when there are any
    }


def encode(data: dict[str, Any]) -> bytes:
    """Compact JSON, gzip with no timestamp or file name: same data, same bytes."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False, ensure_ascii=False)
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


def decode(raw: bytes) -> dict[str, Any]:
    """The inverse of `encode` (tests, tools); plain JSON is accepted too."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)

"""A model page's "Trained vs random-init ERF" section, from the model's trained-ERF file
(``<data>/trained/<source>/<stem>.json.gz``, written by ``rfzoo erf-trained``).

The two heat maps of one stage sit side by side (a stage picker switches both); their figures
go to the page data under ``charts["trained"]`` and rfzoo-trained.js draws them. A table
gives the area-ratio metrics of every stage for both weights. A page whose model has no
trained file gets nothing. No torch: the site is built from stored data only.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

from rfzoo.catalog.naming import model_file
from rfzoo.markup import markdown_code as code
from rfzoo.markup import markdown_text as md
from rfzoo.site import figures
from rfzoo.site.catalog import data_dir
from rfzoo.site.fmt import DASH, axes, esc, num
from rfzoo.site.model_charts import EXCLUDE, Charts

Doc = dict[str, Any]
CHART_KEY = "trained"
WEIGHTS = (("pretrained", "pretrained"), ("random", "random init"))  # map key, label


def trained_file(doc: Doc, data: Path | None = None) -> Path:
    return (data or data_dir()) / "trained" / model_file(doc["source"], doc["name"], ".json.gz")


def load(doc: Doc, data: Path | None = None) -> Doc | None:
    """The model's trained-ERF document, or None when it has none (or it cannot be read)."""
    path = trained_file(doc, data)
    if not path.is_file():
        return None
    try:
        return json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError, EOFError) as err:
        print(f"rfzoo site: skipping unreadable {path}: {err}", file=sys.stderr)
        return None


def paired_stages(trained: Doc) -> list[tuple[Doc, Doc]]:
    """(pretrained, random) stage entries of the nodes both maps hold, in graph order."""
    maps = trained.get("maps") or {}
    random = {st.get("node"): st for st in maps.get("random") or []}
    return [(st, random[st.get("node")]) for st in maps.get("pretrained") or [] if st.get("node") in random]


def section(doc: Doc, charts: Charts, trained: Doc | None = None) -> str:
    trained = trained if trained is not None else load(doc)
    pairs = paired_stages(trained) if trained else []
    if not trained or not pairs:
        return ""
    size = trained.get("input_size")
    charts.add(CHART_KEY, {
        "stages": [p.get("node") for p, _ in pairs],
        "pretrained": [figures.gradient_map(p, p.get("rf_box"), None, None, size) for p, _ in pairs],
        "random": [figures.gradient_map(r, r.get("rf_box"), None, None, size) for _, r in pairs],
    })
    images = trained.get("images") or []
    vers = trained.get("versions") or {}
    libs = ", ".join(f"{k} {v}" for k, v in sorted(vers.items()) if v)
    intro = (f"The effective RF of the library's pretrained weights ({code(trained.get('weights_id') or DASH)}) "
             f"beside the documented random init, both averaged over the same {len(images)} photographs "
             f"({', '.join(code(n) for n in images)}) through the model's own preprocessing "
             f"({md(trained.get('preprocessing') or DASH)}), at input {axes(size)}. Each map's colour "
             "scale is its own peak; the orange box is the unit's theoretical RF. Computed with "
             f"{md(libs) or 'unrecorded versions'}.\n")
    return "\n".join([f"## Trained vs random-init ERF {EXCLUDE}\n", intro, picker(pairs), metrics_table(pairs)])


def picker(pairs: list[tuple[Doc, Doc]]) -> str:
    last = len(pairs) - 1
    options = "".join(f'<option value="{i}"{" selected" if i == last else ""}>{esc(p.get("node"))}</option>'
                      for i, (p, _) in enumerate(pairs))
    frames = "".join(
        f'<figure class="rfz-mfig rfz-mfig-grad"><div class="rfz-mchart" data-rfz-trained="{key}" role="img" '
        f'aria-label="Heat map of the effective RF of {esc(pairs[last][0].get("node"))}, {label} weights." '
        f'style="height:340px"></div><figcaption>{label}</figcaption></figure>'
        for key, label in WEIGHTS)
    return (f'<div class="rfz-trained" data-search-exclude><p><label>Stage <select class="rfz-trained-stage">'
            f'{options}</select></label></p><div class="rfz-mgrid">{frames}</div></div>\n')


def metrics_table(pairs: list[tuple[Doc, Doc]]) -> str:
    out = ["| stage node | weights | ERF / TRF | r 20% | r 30% | r 50% | r 99% | std (px) |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for pretrained, random in pairs:
        for (key, label), st in zip(WEIGHTS, (pretrained, random), strict=True):
            r = st.get("radius") or {}
            node = code(st.get("node")) if key == "pretrained" else ""
            out.append(f"| {node} | {label} | {num(st.get('erf_trf_ratio'))} | {num(r.get('20'))} | "
                       f"{num(r.get('30'))} | {num(r.get('50'))} | {num(r.get('99'))} | {axes(st.get('std'))} |")
    # defined here too: a page whose random-weight probe has not run has no gradient maps above
    return ("\n".join(out) + "\n\n*ERF / TRF*: 4 standard deviations of the gradient mass over the "
            "theoretical RF's size (geometric mean over the axes). *r t%*: radius in pixels of the "
            "centered square holding t% of the gradient mass. *std*: the gradient mass's standard "
            "deviation per axis.\n")

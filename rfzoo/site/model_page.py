"""One model's page: the Markdown (headline, card, stages, chart frames, gradient checks,
how to reproduce and cite) and its lazily loaded data (charts and the per-layer table).

The page stays small at any model size: the per-layer table and the chart figures live in
`<stem>.page.json.gz` next to the page (rfzoo.site.model_data), which rfzoo-model.js fetches.
Only the h1 section (title, headline, card) is searchable: every h2 carries
`data-search-exclude`, so the search index stays small over ~1,500 models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from rfzoo.catalog.naming import model_stem
from rfzoo.markup import markdown_text as md
from rfzoo.site import (
    model_card,
    model_charts,
    model_checks,
    model_data,
    model_trained,
    unit_picker,
)
from rfzoo.site.fmt import DASH, axes, esc, num
from rfzoo.site.paths import family_md, family_title, model_md, rel_link, rel_url

Doc = dict[str, Any]
EXCLUDE = "{ data-search-exclude }"  # attr_list on a heading: the section stays out of search


@dataclass(frozen=True)
class ModelPage:
    markdown: str
    data: dict[str, Any]  # the page data (model_data layout), written as <stem>.page.json.gz


def data_file(doc: Doc) -> str:
    """The page data's docs path, next to the page: models/<source>/<stem>.page.json.gz."""
    return model_md(doc)[: -len(".md")] + ".page.json.gz"


def record_file(doc: Doc) -> str:
    """The full record's docs path: models/<source>/<stem>.json.gz (the catalog document)."""
    return model_md(doc)[: -len(".md")] + ".json.gz"


def build(doc: Doc, *, directory_urls: bool = True, date: str | None = None,
          site_url: str | None = None) -> ModelPage:
    src = model_md(doc)
    charts = model_charts.Charts(doc)
    parts = [model_card.front_matter(doc), header(doc, src), model_card.headline(doc),
             model_card.card(doc), fractional_note(doc), status_note(doc)]
    if doc.get("status") != "failed":
        data_url = rel_url(src, data_file(doc), directory_urls)
        parts += [f'<div class="rfz-model" data-rfz-data="{esc(quote(data_url))}" hidden></div>\n',
                  stages(doc), unit_picker.section(doc, src, directory_urls), charts.markdown(),
                  model_checks.section(doc, charts), model_trained.section(doc, charts), layers(doc)]
    parts += [reproduce(doc), cite(doc, date, site_url, directory_urls),
              links(doc, src, directory_urls), footnotes(doc)]
    markdown = "\n".join(p for p in parts if p).rstrip() + "\n"
    return ModelPage(markdown, model_data.page_data(doc, charts.figures))


def render(doc: Doc, *, directory_urls: bool = True, date: str | None = None,
           site_url: str | None = None) -> str:
    """The page's Markdown (golden files, tests)."""
    return build(doc, directory_urls=directory_urls, date=date, site_url=site_url).markdown


def header(doc: Doc, src: str) -> str:
    fam = doc.get("family") or "other"
    return (
        f"# {md(doc['name'])}\n\n"
        f"{md(doc['source'])} · [{md(family_title(fam))} family]({rel_link(src, family_md(fam))})"
        f" · {md(doc.get('task') or DASH)} · [catalog]({rel_link(src, 'catalog/index.md')})\n"
    )


def fractional(doc: Doc) -> float | None:
    """A fractional jump of the model (summary first, then any layer), else None."""
    cands = [(doc.get("summary") or {}).get("jump") or []]
    cands += [lay.get("jump") or [] for lay in doc.get("layers") or []]
    for values in cands:
        for v in values:
            if isinstance(v, float) and not v.is_integer():
                return v
    return None


def fractional_note(doc: Doc) -> str:
    v = fractional(doc)
    if v is None:
        return ""
    return (f"Some jumps here are fractional ({num(v)} px)[^fractional-jump]: adjacent units are "
            "that far apart on average, not a whole number of pixels.\n")


def footnotes(doc: Doc) -> str:
    if fractional(doc) is None:
        return ""
    return ("[^fractional-jump]: A jump (the distance in input pixels between adjacent units) is "
            "fractional after resampling (upsampling by a non-integer factor, `interpolate` to a "
            "fixed size) or adaptive pooling whose output size does not divide its input: e.g. "
            "an adaptive pool from 19 to 7 positions multiplies the jump by 19/7. The RF is still "
            "exact; the units' positions are then not on a whole-pixel grid.\n")


def status_note(doc: Doc) -> str:
    st, reason = doc.get("status"), (doc.get("reason") or "").strip()
    if st == "partial":
        return (f'!!! warning "Partial analysis: every RF on this page is a lower bound (≥)"\n'
                f"    {md(reason) or 'Part of the graph is not analyzed.'}\n")
    if st == "failed":
        return (f'!!! failure "Analysis failed"\n    {md(reason) or "No reason recorded."}\n\n'
                "    The catalog keeps the model and its reason; nothing below can be computed.\n")
    return ""


def anchor(name: Any) -> str:
    """A link to a layer's row in the per-layer table (ids are the layer names)."""
    return f'<a href="#{esc(quote(str(name), safe=""))}" class="rfz-layer-link"><code>{esc(name)}</code></a>'


def rf_cell(values: list | None, doc: Doc, glob: bool = False) -> str:
    text = axes(values)
    if text != DASH and model_card.lower_bound(doc):
        text = model_card.GE + text
    if glob:
        text = f"whole input (local {text})"
    return text


def html_table(head: list[str], rows: list[list[str]], right: set[int]) -> str:
    """A raw-HTML table (one block: Markdown leaves it alone, fast at hundreds of rows)."""
    def cell(tag: str, k: int, text: str) -> str:
        return f'<{tag} align="right">{text}</{tag}>' if k in right else f"<{tag}>{text}</{tag}>"

    out = ["<table><thead><tr>", *(cell("th", k, h) for k, h in enumerate(head)), "</tr></thead><tbody>"]
    for row in rows:
        out += ["<tr>", *(cell("td", k, c) for k, c in enumerate(row)), "</tr>"]
    return "".join(out + ["</tbody></table>"]) + "\n"


def stages(doc: Doc) -> str:
    rows = doc.get("stages") or []
    if not rows:
        return f"## Stages {EXCLUDE}\n\nNo stages recorded.\n"
    declared = any(st.get("declared_reduction") is not None for st in rows)
    unit = "T×H×W: frames × px" if model_card.is_video(doc) else "px"
    head = ["stage", "node", f"RF ({unit})", "smallest-path RF", "jump", "output"]
    if declared:
        head.append("declared reduction (timm <code>feature_info</code>)")
    glob = {lay.get("name"): bool(lay.get("global")) for lay in doc.get("layers") or []}
    body = []
    for st in rows:
        cells = [esc(st.get("name")), anchor(st.get("node")),
                 rf_cell(st.get("rf"), doc, bool(st.get("global", glob.get(st.get("node"))))),
                 axes(st.get("rf_min")), axes(st.get("jump")), axes(st.get("output_size"))]
        if declared:
            dec, match = st.get("declared_reduction"), st.get("reduction_matches")
            if dec is None:
                cells.append(DASH)
            elif match is False:
                cells.append(f'<span class="rfz-bad">✗ declares {num(dec)}, computed {axes(st.get("jump"))}</span>')
            else:
                cells.append(f"✓ {num(dec)}")
        body.append(cells)
    out = [f"## Stages {EXCLUDE}\n",
           "Where a feature map of a new resolution ends. A stage that a global op reaches sees the "
           "whole input; its local-path RF is in parentheses.\n", html_table(head, body, {2, 3, 4, 5})]
    if declared:
        out.append("*Declared reduction*: the stride the library itself declares for the stage "
                   "(timm's `feature_info` reduction), checked against the computed jump.")
    mism = doc.get("feature_info_mismatches") or []
    if mism:
        out.append("\n!!! danger \"The library's declared reductions disagree with the computed jumps\"")
        for m in mism:
            text = ", ".join(f"{k}: {v}" for k, v in sorted(m.items())) if isinstance(m, dict) else str(m)
            out.append(f"    - {md(text)}")
    return "\n".join(out) + "\n"


def layers(doc: Doc) -> str:
    rows = doc.get("layers") or []
    if not rows:
        return ""
    checked = bool(model_data.layer_checks(doc))
    bound = (" RFs are lower bounds (≥): part of the graph is not analyzed."
             if model_card.lower_bound(doc) else "")
    note = ("*checked*: ✓ where the measured gradient support of the layer's middle unit equals "
            "its analytic RF box, ✗ where it differs, blank where it was not measured."
            if checked else "No layer's RF has been measured yet (the gradient probe has not run).")
    return (
        f"## All layers {EXCLUDE}\n\n"
        f"{len(rows)} nodes with a tensor output, in graph order.{bound} {note} "
        "Each row has a permanent link: the page's URL with `#` and the layer name.\n\n"
        '<div class="rfz-layers-box" data-search-exclude>'
        '<div class="rfz-layers-tools"><input type="search" class="rfz-layers-filter" '
        'placeholder="Filter layers by name, op or kind" aria-label="Filter layers">'
        '<span class="rfz-layers-count"></span>'
        '<button type="button" class="md-button rfz-layers-csv">Download CSV</button></div>'
        f'<div class="rfz-layers-table" aria-live="polite"><p class="rfz-loading">Loading the '
        f"per-layer table ({len(rows)} nodes)…</p></div>"
        '<noscript><p>The per-layer table needs JavaScript; the full record (JSON, linked '
        "below) holds the same numbers.</p></noscript></div>\n"
    )


def input_args(doc: Doc) -> tuple[str, str]:
    size = [int(v) for v in doc.get("input_size") or []]
    return " ".join(map(str, size)), "(" + ", ".join(map(str, size)) + ("," if len(size) == 1 else "") + ")"


def reproduce(doc: Doc) -> str:
    if doc.get("source") == "user" or not doc.get("input_size"):
        return ""
    ref = f"{doc['source']}/{doc['name']}"
    if any(c in ref for c in "`\n\r\"\\'"):
        return ""
    cli, api = input_args(doc)
    vers = doc.get("versions") or {}
    libs = ", ".join(f"{k} {v}" for k, v in sorted(vers.items()) if v)
    return (
        f"## Reproduce these numbers {EXCLUDE}\n\n"
        f"With the same library versions ({md(libs) or 'see the record'}), the command line:\n\n"
        f"```console\nrfzoo show {ref} --input-size {cli}\n```\n\n"
        f"or the Python API:\n\n"
        f"```python\nimport rfzoo\n\nrfzoo.analyze(\"{ref}\", input_size={api}).summary()\n```\n"
    )


def bibtex_text(value: str) -> str:
    out = []
    for ch in value:
        out.append("\\" + ch if ch in "_&%$#{}" else ch)
    return "".join(out)


def cite(doc: Doc, date: str | None, site_url: str | None, directory_urls: bool) -> str:
    ref = f"{doc['source']}/{doc['name']}"
    key = "rfzoo-" + "".join(c if c.isalnum() else "-" for c in f"{doc['source']}-{model_stem(doc['source'], doc['name'])}")
    vers = doc.get("versions") or {}
    libs = ", ".join(f"{k} {v}" for k, v in sorted(vers.items()) if v and k != "rfzoo")
    page = model_md(doc)[: -len(".md")] + ("/" if directory_urls else ".html")
    url = (site_url.rstrip("/") + "/" + page) if site_url else page
    size = "x".join(str(v) for v in doc.get("input_size") or [])
    lines = [f"@misc{{{key},",
             f"  title        = {{Receptive field of {bibtex_text(ref)} at input {size}}},",
             "  author       = {{rfzoo contributors}},",
             f"  howpublished = {{\\url{{{url}}}}},"]
    if date:
        lines.append(f"  year         = {{{date[:4]}}},")
    note = f"rfzoo {vers.get('rfzoo') or 'unknown version'}"
    if libs:
        note += f"; {libs}"
    note += f"; catalog data of {date or 'unknown date'}"
    lines.append(f"  note         = {{{bibtex_text(note)}}},")
    lines.append("}")
    body = esc("\n".join(lines))
    return (f"## Cite this page {EXCLUDE}\n\n"
            "The numbers depend on the library versions and the catalog data they were computed from:\n\n"
            f'<pre class="rfz-cite"><code>{body}</code></pre>\n')


def links(doc: Doc, src: str, directory_urls: bool = True) -> str:
    out = [f"## Links and data {EXCLUDE}\n"]
    lk = doc.get("links") or {}
    for key, label in (("source", "Source"), ("paper", "Paper"), ("docs", "Documentation")):
        if lk.get(key):
            out.append(f"- {label}: <{lk[key]}>")
    stem = quote(src.rsplit("/", 1)[-1].removesuffix(".md"))  # the downloads sit next to the page
    out.append(f"- Data: [{md(doc['name'])}.json.gz]({stem}.json.gz) (this page's full record: the "
               "catalog document, gzip JSON)")
    if doc.get("status") != "failed":
        href = rel_url(src, "compare/", directory_urls) + f"#{doc['source']}/{doc['name']}"
        out.append(f'- <a href="{esc(href)}">Compare with other models</a>')
    return "\n".join(out) + "\n"

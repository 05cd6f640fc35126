"""The catalog index page and the model table it shares with family pages.

The table is plain HTML (every row links to its model page with JavaScript off, and crawlers
follow the links); rfzoo.js sorts and filters it in place and keeps the state in the address.
Its markup is lean on purpose: 1,500 rows make the page, so every byte of a row counts.
The table is excluded from the search index (each model's page is its search hit).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from rfzoo.markup import markdown_text as md
from rfzoo.site.fmt import DASH, esc, num, sort_key
from rfzoo.site.paths import (
    family_md,
    family_of,
    family_title,
    is_test_net,
    model_md,
    rel_link,
    rel_url,
)

Row = dict[str, Any]
WHOLE_SORT = 1_000_000_000  # whole-input RFs sort after (ascending) every local RF

# (key in the address, header, title, CSS class: rfz-cN columns hide on narrow screens)
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("model", "model", "Model name: links to its page", ""),
    ("source", "source", "Library", "rfz-c3"),
    ("family", "family", "Architecture family", "rfz-c2"),
    ("task", "task", "Task", "rfz-c4"),
    ("input", "input", "Input size analyzed (spatial; frames apart for video)", "rfz-c2"),
    ("rf", "RF", "Receptive field of the last spatial node, px; 'whole input' when a global op "
     "reaches it (the local-path RF below); ≥ marks a lower bound", ""),
    ("jump", "jump", "Jump (effective stride) of that node, px", "rfz-c1"),
    ("ratio", "RF / input", "Largest spatial RF over the input size (the local path's)", "rfz-c2"),
    ("params", "params", "Parameters, millions", "rfz-c3"),
    ("status", "status", "exact, partial (RF is a lower bound) or failed", ""),
    ("verified", "verified", "Gradient check of the stages: ✓ the measured support equals the "
     "analytic RF, ✗ a stage disagrees, — not measured yet", "rfz-c1"),
)


def is_video(row: Row) -> bool:
    size = row.get("input_size")
    return row.get("task") == "video" or (isinstance(size, list) and len(size) == 3)


def spatial(row: Row, values: Any) -> tuple[list[Any] | None, Any]:
    """(spatial axes, time axis or None) of a per-axis list; video lists are [T, H, W]."""
    if not isinstance(values, list) or not values:
        return None, None
    if is_video(row) and len(values) == 3:
        return values[1:], values[0]
    return values, None


def dims(values: list[Any] | None) -> str:
    if not values or all(v is None for v in values):
        return DASH
    return "×".join(num(v) for v in values)


def sub(text: str) -> str:
    """A second, smaller line in a cell."""
    return f'<small class="rfz-sub">{text}</small>'


def time_ratio(row: Row) -> float | None:
    value = row.get("rf_ratio_time")
    if value not in (None, ""):
        return float(value)
    rf, size = row.get("rf"), row.get("input_size")
    if is_video(row) and isinstance(rf, list) and isinstance(size, list) and len(rf) == len(size) == 3:
        if rf[0] is not None and size[0]:
            return round(rf[0] / size[0], 4)
    return None


def rf_cell(row: Row) -> tuple[str, str]:
    """(sort key, cell HTML) of the RF: whole input first, else the local RF (≥ when partial)."""
    rf, t = spatial(row, row.get("rf"))
    local = dims(rf)
    if local == DASH:
        return "", DASH
    first = next(v for v in rf or [] if v is not None)
    whole = str(row.get("whole_input_from") or "")
    partial = row.get("status") == "partial"
    time = sub(f"time {num(t)}") if t is not None else ""
    if whole:
        return (num(WHOLE_SORT + first), '<b class="rfz-whole">whole input</b>'
                + sub(f"from <code>{esc(whole)}</code>; local {local}") + time)
    if partial:
        return num(first), f'<span title="a lower bound: part of the model is not analyzed">≥ {local}</span>' + time
    return num(first), local + time


def ratio_cell(row: Row) -> tuple[str, str]:
    value = row.get("rf_ratio")
    tr = time_ratio(row)
    time = sub(f"time {tr:.2f}") if tr is not None else ""
    if value in (None, ""):
        return "", DASH + time
    text = f"{float(value):.2f}"
    if row.get("whole_input_from"):
        return num(WHOLE_SORT + float(value)), f'<span class="rfz-muted">{text}</span>' + time
    if row.get("status") == "partial":
        text = "≥ " + text
    return esc(value), text + time


def verified_cell(value: Any, note: str = "") -> tuple[str, str]:
    """Sort key and cell: verified (inside the image only, why), disagrees (where), or not
    measured (why: the index's verify_note, as a tooltip so 1,500 rows stay one line each)."""
    title = f' title="{esc(note)}"' if note else ""
    if value is True or value == "true":
        if note:  # boxes cut to the image: a model that takes one size, or RFs past the probe's limit
            return "2", f'<span class="rfz-ok"{title}>✓ in image</span>'
        return "2", '<span class="rfz-ok">✓ yes</span>'
    if value is False or value == "false":
        return "1", f'<span class="rfz-bad"{title}>✗ no</span>'
    return "0", f'<span class="rfz-muted"{title}>not measured</span>' if note else DASH


def verified_word(value: Any) -> str:
    if value is True or value == "true":
        return "verified"
    if value is False or value == "false":
        return "disagrees"
    return "not measured"


def page_href(src: str, target_md: str, directory_urls: bool) -> str:
    stem = target_md[: -len(".md")]
    return rel_url(src, stem + ("/" if directory_urls else ".html"), directory_urls)


def model_table(rows: list[Row], src: str, has_page: set[str], *, directory_urls: bool = True,
                table_id: str = "rfz-models", lazy: bool = False) -> str:
    """A sortable HTML table of index rows; names link to their model pages.

    lazy (the catalog's 1,500 rows): the rows sit in a <template> (parsed, never laid out) and
    rfzoo.js moves them into the table a window at a time, so the page is interactive at once;
    a <noscript> list keeps every model's link for readers and crawlers without JavaScript.
    """
    head = "".join(
        f'<th scope="col" data-key="{key}" title="{esc(title)}"'
        + (f' class="{css}"' if css else "") + f">{esc(label)}</th>"
        for key, label, title, css in COLUMNS)
    body = "\n".join(table_row(r, src, has_page, directory_urls) for r in rows)
    table = f'<table id="{table_id}" class="rfz-table" data-rfz-sortable><thead><tr>{head}</tr></thead>'
    if not lazy:
        return f'<div class="rfz-table-wrap" data-search-exclude>{table}<tbody>\n{body}\n</tbody></table></div>'
    links = " · ".join(
        f'<a href="{esc(page_href(src, model_md(r), directory_urls))}">{esc(r["source"])}/{esc(r["name"])}</a>'
        if f"{r['source']}/{r['name']}" in has_page else f"{esc(r['source'])}/{esc(r['name'])}"
        for r in rows)
    return (f'<div class="rfz-table-wrap" data-search-exclude>{table}<tbody></tbody></table>'
            f'<template id="{table_id}-rows">\n{body}\n</template>'
            '<button type="button" class="md-button rfz-more" hidden></button>'
            f"<noscript><p>The table needs JavaScript; here is every model:</p><p>{links}</p></noscript></div>")


def table_row(row: Row, src: str, has_page: set[str], directory_urls: bool) -> str:
    key = f"{row['source']}/{row['name']}"
    name = esc(row["name"])
    if key in has_page:
        name = f'<a href="{esc(page_href(src, model_md(row), directory_urls))}">{name}</a>'
    fam = family_of(row)
    fam_href = page_href(src, family_md(fam), directory_urls)
    reason = esc(row.get("reason") or "")
    st_value = str(row.get("status") or "unknown")
    st = f'<span class="rfz-status rfz-status-{esc(st_value)}"'
    st += f' title="{reason}">' if reason else ">"
    st += f"{esc(st_value)}</span>"
    size, frames = spatial(row, row.get("input_size"))
    jump, jump_t = spatial(row, row.get("jump"))
    v_key, v_html = verified_cell(row.get("verified"), str(row.get("verify_note") or ""))
    p = row.get("params")
    cells: list[tuple[str | None, str]] = [
        (None, name),
        (None, esc(row["source"])),
        (None, f'<a href="{esc(fam_href)}">{esc(family_title(fam))}</a>'),
        (None, esc(row.get("task") or DASH)),
        (sort_key(size), dims(size) + (sub(f"{num(frames)} frames") if frames is not None else "")),
        rf_cell(row),
        (sort_key(jump), dims(jump) + (sub(f"time {num(jump_t)}") if jump_t is not None else "")),
        ratio_cell(row),
        (sort_key(p), DASH if p is None else f"{p / 1e6:.1f}"),
        (None, st),
        (v_key, v_html),
    ]
    tds = "".join(
        f"<td>{html}</td>" if k is None or k == html else f'<td data-sort="{k}">{html}</td>'
        for k, html in cells)
    data = (f' data-source="{esc(row["source"])}" data-status="{esc(st_value)}"'
            f' data-task="{esc(row.get("task") or "")}" data-verified="{verified_word(row.get("verified"))}"'
            f' data-family="{esc(fam)}"')
    return f"<tr{data}>{tds}</tr>"


def filters(rows: list[Row], table_id: str) -> str:
    """Text filter plus selects for source, status, task and verified."""
    def select(col: str, label: str, values: list[str]) -> str:
        opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
        return (f'<label>{label} <select class="rfz-filter-select" data-col="{col}">'
                f'<option value="">all</option>{opts}</select></label>')

    sources = sorted({str(r["source"]) for r in rows})
    statuses = sorted({str(r.get("status") or "") for r in rows} - {""})
    tasks = sorted({str(r.get("task") or "") for r in rows} - {""})
    return (
        f'<div class="rfz-filters" data-table="{table_id}" data-search-exclude>'
        '<input type="search" class="rfz-filter" placeholder="Filter by name or family" '
        'aria-label="Filter models">'
        + select("source", "source", sources) + select("status", "status", statuses)
        + select("task", "task", tasks)
        + select("verified", "verified", ["verified", "disagrees", "not measured"])
        + '<span class="rfz-count" aria-live="polite"></span></div>'
    )


def render(rows: list[Row], has_page: set[str], mismatches: list[tuple[str, Any]], *,
           directory_urls: bool = True) -> str:
    src = "catalog/index.md"
    archs = [r for r in rows if not is_test_net(r)]
    tests = [r for r in rows if is_test_net(r)]
    n = len(archs)
    counts = {s: sum(1 for r in archs if r.get("status") == s) for s in ("exact", "partial", "failed")}
    n_ver = sum(1 for r in archs if r.get("verified") in (True, "true"))
    n_whole = sum(1 for r in archs if r.get("whole_input_from"))
    out = [
        "---\ntitle: Catalog\ndescription: Receptive field, jump and status of every cataloged "
        "torchvision and timm model.\nhide:\n  - navigation\n  - toc\n---\n",
        "# Catalog\n",
        f"{n} models: {counts['exact']} exact, {counts['partial']} partial (their RF is a lower "
        f"bound, marked ≥), {counts['failed']} failed; {n_ver} verified by gradients. RF and jump are "
        "those of the last node that still has spatial resolution (the feature map a classifier's "
        "global pooling reads). When a global op (attention over all tokens, a squeeze-excitation "
        f"gate) reaches that node, it sees the **whole input** ({n_whole} models): the table says from "
        "which layer on, and gives the local-path RF below it. Video models give the spatial RF; "
        "the time axis is the second line. Click a column to sort (whole-input RFs sort above "
        "every local RF); the filter and the order are kept in the page address.\n",
        "Download the index: [index.csv](index.csv) · [index.json](index.json)\n",
        filters(archs, "rfz-models"),
        "",
        model_table(archs, src, has_page, directory_urls=directory_urls, lazy=True),
        "",
    ]
    missing = sum(1 for r in rows if f"{r['source']}/{r['name']}" not in has_page)
    if missing:
        out.append(f"{missing} {'model is' if missing == 1 else 'models are'} in the index without a "
                   "page: the per-model data is not in this build of the site.\n")
    if tests:
        out += ["## timm's test nets\n",
                f"{len(tests)} tiny nets that timm registers to test its code (`test_*`): not "
                "architectures, so they are kept out of the table above and of the family charts.\n",
                model_table(tests, src, has_page, directory_urls=directory_urls, table_id="rfz-test-nets"),
                ""]
    if mismatches:
        out += ["## Declared and computed reductions disagree\n",
                "Stages whose reduction declared by the library (timm's `feature_info`) differs "
                "from the computed jump.\n", "| model | mismatch |", "| --- | --- |"]
        for key, m in mismatches:
            text = ", ".join(f"{k}: {v}" for k, v in sorted(m.items())) if isinstance(m, dict) else str(m)
            source, _, name = key.partition("/")
            page = quote(rel_link(src, model_md({"source": source, "name": name})))
            out.append(f"| [{md(key)}]({page}) | {md(text)} |")
        out.append("")
    return "\n".join(out)

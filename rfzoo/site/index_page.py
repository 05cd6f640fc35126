"""The catalog index page and the model table it shares with family pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from rfzoo.markup import markdown_text as md
from rfzoo.site.fmt import DASH, axes, esc, params, ratio, sort_key, status, verified
from rfzoo.site.paths import family_md, family_title, model_md, rel_link, rel_url

Row = dict[str, Any]
COLUMNS = ("model", "source", "family", "task", "input", "RF", "jump", "RF / input", "params",
           "status", "verified")


def model_table(rows: list[Row], src: str, has_page: set[str], *, directory_urls: bool = True,
                table_id: str = "rfz-models") -> str:
    """A sortable HTML table of index rows; names link to model pages that exist."""
    head = "".join(f'<th scope="col">{c}</th>' for c in COLUMNS)
    body = "".join(table_row(r, src, has_page, directory_urls) for r in rows)
    return (f'<table id="{table_id}" data-rfz-sortable><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def table_row(row: Row, src: str, has_page: set[str], directory_urls: bool) -> str:
    key = f"{row['source']}/{row['name']}"
    name = esc(row["name"])
    if key in has_page:
        href = rel_url(src, model_md(row)[: -len(".md")] + "/", directory_urls)
        if not directory_urls:
            href = rel_url(src, model_md(row)[: -len(".md")] + ".html", directory_urls)
        name = f'<a href="{esc(href)}">{name}</a>'
    fam = row.get("family") or "other"
    fam_href = rel_url(src, family_md(fam)[: -len(".md")] + ("/" if directory_urls else ".html"),
                       directory_urls)
    reason = esc(row.get("reason") or "")
    st = status(row.get("status"))
    if reason:
        st = f'<span title="{reason}">{st}</span>'
    cells: list[tuple[str | None, str]] = [
        (None, name),
        (None, esc(row["source"])),
        (None, f'<a href="{esc(fam_href)}">{esc(family_title(fam))}</a>'),
        (None, esc(row.get("task") or DASH)),
        (sort_key(row.get("input_size")), axes(row.get("input_size"))),
        (sort_key(row.get("rf")), axes(row.get("rf"))),
        (sort_key(row.get("jump")), axes(row.get("jump"))),
        (sort_key(row.get("rf_ratio")), ratio(row.get("rf_ratio"))),
        (sort_key(row.get("params")), params(row.get("params"))),
        (None, st),
        (sort_key(row.get("verified")), verified(row.get("verified"))),
    ]
    tds = "".join(f"<td>{v}</td>" if k is None else f'<td data-sort="{k}">{v}</td>' for k, v in cells)
    attrs = {"source": row["source"], "status": row.get("status"), "task": row.get("task"),
             "verified": verified_word(row.get("verified"))}
    data = "".join(f' data-{k}="{esc(v or "")}"' for k, v in attrs.items())
    return f"<tr{data}>{tds}</tr>"


def verified_word(value: Any) -> str:
    if value is True or value == "true":
        return "verified"
    if value is False or value == "false":
        return "disagrees"
    return "not measured"


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
        + '<span class="rfz-count"></span></div>'
    )


def render(rows: list[Row], has_page: set[str], mismatches: list[tuple[str, Any]], *,
           directory_urls: bool = True) -> str:
    src = "catalog/index.md"
    n = len(rows)
    counts = {s: sum(1 for r in rows if r.get("status") == s) for s in ("exact", "partial", "failed")}
    n_ver = sum(1 for r in rows if r.get("verified") in (True, "true"))
    out = [
        "---\ntitle: Catalog\ndescription: Receptive field, jump and status of every cataloged "
        "torchvision and timm model.\nhide:\n  - navigation\n  - toc\n---\n",
        "# Catalog\n",
        f"{n} models: {counts['exact']} exact, {counts['partial']} partial, {counts['failed']} failed; "
        f"{n_ver} verified by gradients. RF and jump are those of the last node that still has "
        "spatial resolution (the feature map a classifier's global pooling reads). Click a column "
        "to sort; the RF column sorts by the first axis.\n",
        "Download the index: [index.csv](index.csv) · [index.json](index.json)\n",
        filters(rows, "rfz-models"),
        "",
        model_table(rows, src, has_page, directory_urls=directory_urls),
        "",
    ]
    if n > len(has_page):
        missing = n - len(has_page)
        out.append(f"{missing} {'model is' if missing == 1 else 'models are'} in the index without a "
                   "page: the per-model data is not in this build of the site.\n")
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


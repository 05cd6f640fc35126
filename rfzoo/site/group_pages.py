"""Pages over several models: the families index, one page per family, compare, changelog."""

from __future__ import annotations

import re
from typing import Any

from rfzoo.markup import markdown_code as code
from rfzoo.markup import markdown_text as md
from rfzoo.markup import yaml_string
from rfzoo.site import embed, figures
from rfzoo.site.index_page import model_table, page_href
from rfzoo.site.paths import (
    TEST_FAMILY,
    curve_json,
    family_md,
    family_of,
    family_title,
    model_md,
    rel_link,
    slug,
)

Row = dict[str, Any]
Doc = dict[str, Any]


def group_families(rows: list[Row]) -> dict[str, list[Row]]:
    """Family -> its index rows, sorted by family id; timm's test nets are the family "test"."""
    out: dict[str, list[Row]] = {}
    for row in rows:
        out.setdefault(family_of(row), []).append(row)
    return dict(sorted(out.items()))


def families_index(families: dict[str, list[Row]]) -> str:
    src = "families/index.md"
    archs = {f: rows for f, rows in families.items() if f != TEST_FAMILY}
    out = ["---\ntitle: Families\ndescription: Model families in the rfzoo catalog.\n---\n",
           "# Families\n",
           f"{len(archs)} families. Each page lists its models with their receptive fields "
           "and draws every model's RF against depth on one chart. The RF range is the local-path "
           "RF (first spatial axis); models whose last spatial node sees the whole input are "
           "counted apart.\n",
           "| family | models | exact | whole input | RF range (first axis) |",
           "| --- | ---: | ---: | ---: | --- |"]
    for fam, rows in sorted(archs.items(), key=lambda kv: (family_title(kv[0]).lower(), kv[0])):
        rfs = [first_spatial(r) for r in rows]
        rfs = [v for v in rfs if v is not None]
        span = f"{min(rfs)} – {max(rfs)}" if rfs else "—"
        exact = sum(1 for r in rows if r.get("status") == "exact")
        whole = sum(1 for r in rows if r.get("whole_input_from"))
        out.append(f"| [{md(family_title(fam))}]({rel_link(src, family_md(fam))}) | {len(rows)} | "
                   f"{exact} | {whole or ''} | {span} |")
    if TEST_FAMILY in families:
        out += ["", f"Not an architecture: [timm's test nets]({rel_link(src, family_md(TEST_FAMILY))}) "
                f"({len(families[TEST_FAMILY])} tiny `test_*` models that timm registers to test its code)."]
    return "\n".join(out) + "\n"


def first_spatial(row: Row) -> Any:
    rf, size = row.get("rf"), row.get("input_size")
    if not isinstance(rf, list) or not rf:
        return None
    if (row.get("task") == "video" or (isinstance(size, list) and len(size) == 3)) and len(rf) == 3:
        return rf[1]
    return rf[0]


def family_page(fam: str, rows: list[Row], docs: list[Doc], has_page: set[str], *,
                directory_urls: bool = True) -> str:
    """The family's table and one chart of every member's RF against depth (the compact
    running-maximum curves of the compare page, embedded: a few kB per model)."""
    src = family_md(fam)
    title = family_title(fam)
    desc = f"Receptive fields of the {title} models ({fam}) in torchvision and timm."
    intro = f"Family {code(fam)}: {len(rows)} models."
    if fam == TEST_FAMILY:
        desc = "timm's tiny test nets: not architectures, kept apart from the families."
        intro = (f"{len(rows)} tiny nets that timm registers to test its code (`test_*`): not "
                 "architectures, so they are listed apart from the families.")
    out = [f"---\ntitle: {yaml_string(title if fam == TEST_FAMILY else title + ' family')}\n"
           f"description: {yaml_string(desc)}\nhide:\n  - navigation\n---\n",
           f"# {md(title)}\n",
           f"{intro} [All families]({rel_link(src, 'families/index.md')})"
           f" · [catalog]({rel_link(src, 'catalog/index.md')})\n",
           model_table(rows, src, has_page, directory_urls=directory_urls,
                       table_id=f"rfz-family-{slug(fam)}"), ""]
    curves = []
    for doc in docs:
        curve = figures.curve(doc) if doc.get("layers") else None
        if curve and curve["x"]:
            href = page_href(src, model_md(doc), directory_urls)
            curves.append([curve["model"], curve["depth"], curve["x"], curve["y"], href])
    if curves and fam != TEST_FAMILY:
        out += ["## Receptive field against depth\n",
                f"All {len(curves)} models with layer data: the largest RF so far on the first "
                "spatial axis, against the node index. Hover a line for its model, click it to open "
                "the model's page; the [compare page]" f"({rel_link(src, 'compare.md')}) draws any "
                "models together.\n",
                f'<div class="rfz-figure" data-search-exclude>'
                f'<div class="rfz-chart rfz-curves" id="rfz-family-{slug(fam)}-rf-depth" '
                f'style="height:460px"></div>'
                f"{embed.data_script({'curves': curves})}</div>\n"]
    return "\n".join(out)


def compare_page(models: list[str]) -> str:
    """The picker and chart for every model with layer data ("source/name" keys); each
    model's curve is fetched on demand from compare/curves/ (the page stays small)."""
    paths = {m: curve_json(m).removeprefix("compare/") for m in models}
    odd = {m: p for m, p in paths.items() if p != f"curves/{m}.json"}  # user models' stems
    default = [m for m in ("torchvision/resnet50", "timm/vit_base_patch16_224") if m in paths]
    if not default:
        default = models[:2]
    config = {"models": models, "paths": odd, "default": default}
    return (
        "---\ntitle: Compare\ndescription: Receptive field against depth for the models you pick.\n"
        "hide:\n  - navigation\n  - toc\n---\n\n"
        "# Compare models\n\n"
        f"Pick any of the {len(models)} models to draw their receptive field (first spatial axis) "
        "against depth on one chart. The selection is kept in the page address, so a comparison "
        "can be shared as a link (`compare/#timm/convnext_base,torchvision/resnet50`).\n\n"
        '<div class="rfz-compare" data-search-exclude>'
        '<div class="rfz-compare-controls">'
        '<input type="search" list="rfz-compare-options" class="rfz-compare-input" '
        'placeholder="Add a model: type a name, e.g. resnet50" aria-label="Add a model">'
        '<button type="button" class="md-button rfz-compare-add">Add</button>'
        '<label><input type="checkbox" class="rfz-compare-normalize"> depth as a fraction of the network</label>'
        '</div><datalist id="rfz-compare-options"></datalist>'
        '<p class="rfz-compare-error" role="alert" hidden></p>'
        '<ul class="rfz-compare-chips"></ul>'
        '<div class="rfz-chart rfz-compare-chart" id="rfz-compare-chart" style="height:460px"></div>'
        f"{embed.data_script(config)}</div>\n"
    )


CATALOG_PAIR = re.compile(r"Catalog `([^`]*)` → `([^`]*)`")


def catalog_label(ref: str, which: str) -> str:
    """`git:HEAD:data` or `data` as people say it: the previous catalog, this catalog."""
    if ref.startswith("git:"):
        rev = ref.split(":")[1] if ref.count(":") >= 2 else ""
        return "the previous catalog" + (f" (commit {code(rev)})" if rev and rev != "HEAD" else "")
    return "this catalog" if which == "new" else f"catalog {code(ref)}"


def changelog_page(text: str | None) -> str:
    head = "---\ntitle: Changelog\ndescription: What changed in the catalog between library versions.\n---\n\n"
    if text is None:
        return (head + "# Changelog\n\nNo catalog diff yet. When the catalog is rebuilt for new "
                "versions of torch, torchvision or timm, `rfzoo diff` writes what changed "
                "(models added or removed, RFs that moved, status changes) and it shows here.\n")
    if not text.lstrip().startswith("# "):
        text = "# Changelog\n\n" + text
    text = CATALOG_PAIR.sub(lambda m: f"From {catalog_label(m.group(1), 'old')} to "
                            f"{catalog_label(m.group(2), 'new')}", text)
    return head + text.rstrip() + "\n"

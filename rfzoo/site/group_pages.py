"""Pages over several models: the families index, one page per family, compare, changelog."""

from __future__ import annotations

from typing import Any

from rfzoo.markup import markdown_code as code
from rfzoo.markup import markdown_text as md
from rfzoo.markup import yaml_string
from rfzoo.site import embed, figures
from rfzoo.site.fmt import esc
from rfzoo.site.index_page import model_table
from rfzoo.site.paths import curve_json, family_md, family_title, rel_link, slug

Row = dict[str, Any]
Doc = dict[str, Any]
MAX_FAMILY_CURVES = 40  # beyond this a chart is unreadable; the compare page takes over


def families_index(families: dict[str, list[Row]]) -> str:
    src = "families/index.md"
    out = ["---\ntitle: Families\ndescription: Model families in the rfzoo catalog.\n---\n",
           "# Families\n",
           f"{len(families)} families. Each page lists its models with their receptive fields "
           "and draws their RF against depth on one chart.\n",
           "| family | models | exact | RF range (first axis) |", "| --- | ---: | ---: | --- |"]
    for fam, rows in families.items():
        rfs = [r["rf"][0] for r in rows if r.get("rf") and r["rf"][0] is not None]
        span = f"{min(rfs)} – {max(rfs)}" if rfs else "—"
        exact = sum(1 for r in rows if r.get("status") == "exact")
        out.append(f"| [{md(family_title(fam))}]({rel_link(src, family_md(fam))}) | {len(rows)} | "
                   f"{exact} | {span} |")
    return "\n".join(out) + "\n"


def family_page(fam: str, rows: list[Row], docs: list[Doc], has_page: set[str], *,
                directory_urls: bool = True) -> str:
    src = family_md(fam)
    title = family_title(fam)
    desc = f"Receptive fields of the {title} models ({fam}) in torchvision and timm."
    out = [f"---\ntitle: {yaml_string(title + ' family')}\ndescription: {yaml_string(desc)}\n"
           "hide:\n  - navigation\n---\n",
           f"# {md(title)}\n",
           f"Family {code(fam)}: {len(rows)} models. [All families]({rel_link(src, 'families/index.md')})"
           f" · [catalog]({rel_link(src, 'catalog/index.md')})\n",
           model_table(rows, src, has_page, directory_urls=directory_urls,
                       table_id=f"rfz-family-{slug(fam)}"), ""]
    drawn = [d for d in docs if d.get("layers")][:MAX_FAMILY_CURVES]
    fig = figures.family_curves(drawn)
    if fig:
        more = (f" The first {MAX_FAMILY_CURVES} are drawn; use the compare page for others."
                if len(docs) > MAX_FAMILY_CURVES else "")
        out += ["## Receptive field against depth\n",
                f"Click a legend entry to hide a model, double-click to isolate it.{more}\n",
                embed.chart(f"rfz-family-{slug(fam)}-rf-depth", fig, height=440)]
    return "\n".join(out)


def compare_page(docs: list[Doc], directory_urls: bool = True) -> str:
    """The picker and chart; each model's curve is fetched on demand (page stays small)."""
    del directory_urls  # curve URLs are relative to the compare page itself
    models = [[f"{d['source']}/{d['name']}", d.get("family") or "", curve_json(f"{d['source']}/{d['name']}")
               .removeprefix("compare/")] for d in docs if d.get("layers")]
    default = [m[0] for m in models if m[0] in ("torchvision/resnet50", "timm/vit_base_patch16_224")]
    if not default:
        default = [m[0] for m in models[:2]]
    config = {"models": models, "default": default}
    options = "".join(f'<option value="{esc(m[0])}"></option>' for m in models)
    return (
        "---\ntitle: Compare\ndescription: Receptive field against depth for the models you pick.\n"
        "hide:\n  - navigation\n  - toc\n---\n\n"
        "# Compare models\n\n"
        "Pick models to draw their receptive field (first axis) against depth on one chart. "
        "The selection is kept in the page address, so a comparison can be shared as a link.\n\n"
        '<div class="rfz-compare" data-search-exclude>'
        '<div class="rfz-compare-controls">'
        '<input type="search" list="rfz-compare-options" class="rfz-compare-input" '
        'placeholder="Add a model: type a name, e.g. resnet50" aria-label="Add a model">'
        '<button type="button" class="md-button rfz-compare-add">Add</button>'
        '<label><input type="checkbox" class="rfz-compare-normalize"> depth as a fraction of the network</label>'
        f'</div><datalist id="rfz-compare-options">{options}</datalist>'
        '<ul class="rfz-compare-chips"></ul>'
        '<div class="rfz-chart rfz-compare-chart" id="rfz-compare-chart" style="height:460px"></div>'
        f"{embed.data_script(config)}</div>\n"
    )


def changelog_page(text: str | None) -> str:
    head = "---\ntitle: Changelog\ndescription: What changed in the catalog between library versions.\n---\n\n"
    if text is None:
        return (head + "# Changelog\n\nNo catalog diff yet. When the catalog is rebuilt for new "
                "versions of torch, torchvision or timm, `rfzoo diff` writes what changed "
                "(models added or removed, RFs that moved, status changes) and it shows here.\n")
    if not text.lstrip().startswith("# "):
        text = "# Changelog\n\n" + text
    return head + text.rstrip() + "\n"

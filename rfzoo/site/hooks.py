"""mkdocs hooks (mkdocs.yml `hooks:`): generate the catalog's pages at build time.

on_config loads the data and sets the footer; on_files adds the generated pages and
downloads as virtual files; on_page_markdown fills figure placeholders in the static
pages (`<!-- rfzoo:figure NAME -->`). The data directory is $RFZOO_DATA_DIR or data/.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

try:
    import rfzoo.site  # noqa: F401
except ModuleNotFoundError:  # mkdocs run from a checkout where rfzoo is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mkdocs.config.defaults import MkDocsConfig  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402
from mkdocs.structure.pages import Page  # noqa: E402

from rfzoo.catalog import store  # noqa: E402
from rfzoo.schema import INDEX_COLUMNS  # noqa: E402
from rfzoo.site import (  # noqa: E402
    embed,
    figures,
    group_pages,
    guide,
    index_page,
    method_charts,
    model_data,
    model_page,
)
from rfzoo.site.catalog import Catalog, load_catalog, model_key, row_from_doc  # noqa: E402
from rfzoo.site.fmt import esc  # noqa: E402
from rfzoo.site.paths import curve_json, family_md, model_md  # noqa: E402

FIGURE_MARK = re.compile(r"<!--\s*rfzoo:(figure|table)\s+([\w-]+)\s*-->")
_catalog: Catalog | None = None


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _catalog
    _catalog = load_catalog()
    config["copyright"] = footer(_catalog)
    return config


def footer(cat: Catalog) -> str:
    versions = cat.versions()
    libs = " · ".join(f"{lib} {', '.join(v)}" for lib, v in versions.items()) or "no catalog data"
    date = cat.date or "unknown date"
    return esc(f"Catalog data of {date}, built with {libs}.")  # the theme inserts it unescaped


def on_files(files: Files, config: MkDocsConfig) -> Files:
    cat = _catalog or load_catalog()
    dirs = bool(config["use_directory_urls"])
    has_page = set(cat.models)

    def add(path: str, content: str | bytes) -> None:
        if files.get_file_from_path(path) is None:  # a real file in docs/ wins
            files.append(File.generated(config, path, content=content))

    site_url = config.get("site_url") or None
    for key, doc in cat.models.items():
        page = model_page.build(doc, directory_urls=dirs, date=cat.date, site_url=site_url)
        add(model_md(doc), page.markdown)
        if doc.get("status") != "failed":
            add(model_page.data_file(doc), model_data.encode(page.data))
        add_record(files, config, model_page.record_file(doc), cat.paths.get(key), doc)
        if doc.get("layers"):
            add(curve_json(key), embed.json_for_script(figures.curve(doc)))
    mismatches = [(k, m) for k, d in cat.models.items() for m in d.get("feature_info_mismatches") or []]
    add("catalog/index.md", index_page.render(cat.rows, has_page, mismatches, directory_urls=dirs))
    add("catalog/index.json", index_json(cat))
    add("catalog/index.csv", index_csv(cat))
    families = group_pages.group_families(cat.rows)  # timm's test nets apart, as "test"
    add("families/index.md", group_pages.families_index(families))
    for fam, rows in families.items():
        fam_docs = [cat.models[model_key(r)] for r in rows if model_key(r) in cat.models]
        add(family_md(fam), group_pages.family_page(fam, rows, fam_docs, has_page, directory_urls=dirs))
    add("compare.md", group_pages.compare_page([k for k, d in cat.models.items() if d.get("layers")]))
    add("changelog.md", group_pages.changelog_page(cat.changelog))
    return files


def add_record(files: Files, config: MkDocsConfig, path: str, source: Path | None, doc: dict[str, Any]) -> None:
    """A model's full record, gzip JSON: the data's own .json.gz file copied as it is, or an
    older plain .json document compressed (deterministic: no timestamp)."""
    if files.get_file_from_path(path) is not None:
        return
    if source is not None and source.name.endswith(".gz"):
        files.append(File.generated(config, path, abs_src_path=str(source)))
    else:
        files.append(File.generated(config, path, content=gzip.compress(store.dumps(doc).encode(), mtime=0)))


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.generated_by is not None:
        return markdown
    return FIGURE_MARK.sub(lambda m: placeholder(m.group(1), m.group(2)), markdown)


def placeholder(kind: str, name: str) -> str:
    if name in method_charts.SECTIONS:
        return method_charts.SECTIONS[name](_catalog or load_catalog()) + "\n"
    if kind == "table":
        return guide.table(guide.GUIDE_5X5 if name == "guide-5x5" else guide.FOUR_LAYERS)
    if name == "four-layers-growth":
        return embed.chart("rfz-home-four-layers-growth", guide.growth_figure(), height=300)
    height = 330 if name == "guide-5x5" else 420
    return embed.chart(f"rfz-home-{name}", guide.figure(name), height=height)


def index_json(cat: Catalog) -> str:
    src = cat.data_dir / "index.json"
    if src.is_file():
        return src.read_text()
    return json.dumps(cat.rows, indent=1, sort_keys=True) + "\n"


def index_csv(cat: Catalog) -> str:
    src = cat.data_dir / "index.csv"
    if src.is_file():
        return src.read_text()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    for row in cat.rows or [row_from_doc(d) for d in cat.models.values()]:
        writer.writerow([csv_cell(row.get(c)) for c in INDEX_COLUMNS])
    return buf.getvalue()


def layers_csv(doc: dict[str, Any]) -> str:
    cols = ("name", "op", "kind", "output_size", "rf", "rf_min", "jump", "center",
            "effective_padding", "global", "aligned", "position_dependent", "border_units")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for lay in doc.get("layers") or []:
        writer.writerow([csv_cell(lay.get(c)) for c in cols])
    return buf.getvalue()


def csv_cell(value: Any) -> str:
    """The index CSV's conventions: lists as HxW, booleans lowercase, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "x".join("" if v is None else str(v) for v in value)
    return str(value)

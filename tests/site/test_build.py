"""The site builds strictly, deterministically, offline, from the fixtures and from data/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sitebuild import FIXTURE_DATA, REPO, build_site

from rfzoo.site.catalog import load_catalog


def test_generated_pages_exist(fixture_site: Path) -> None:
    for page in ("index.html", "method/index.html", "catalog/index.html", "catalog/index.csv",
                 "catalog/index.json", "families/index.html", "families/resnet/index.html",
                 "compare/index.html", "changelog/index.html",
                 "models/torchvision/resnet50/index.html", "models/torchvision/resnet50.json",
                 "models/torchvision/resnet50.csv", "models/timm/tnt_s_patch16_224/index.html",
                 "compare/curves/torchvision/resnet50.json",
                 "assets/vendor/plotly/plotly-cartesian-4.1.1.min.js"):
        assert (fixture_site / page).is_file(), page
    # the index downloads are the data's own files
    assert (fixture_site / "catalog/index.csv").read_bytes() == (FIXTURE_DATA / "index.csv").read_bytes()


def test_index_row_without_model_file_has_no_link(fixture_site: Path) -> None:
    html = (fixture_site / "catalog/index.html").read_text()
    assert "<td>resnet18</td>" in html  # in the index, not in the models/ of this build
    assert 'href="../models/torchvision/resnet50/"' in html


def test_offline_no_external_assets(fixture_site: Path) -> None:
    """No script, stylesheet or font from another host: the site works offline."""
    for page in fixture_site.rglob("*.html"):
        html = page.read_text()
        for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", html):
            url = re.search(r'(?:src|href)="([^"]+)"', tag)
            if url and re.match(r"(https?:)?//", url.group(1)):
                assert 'rel="canonical"' in tag, f"{page}: external asset {tag}"
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html


def test_deterministic_bytes(fixture_site: Path, site_env: dict[str, str], tmp_path: Path) -> None:
    """Same data, same bytes: every file of a second build is identical."""
    again = tmp_path / "again"
    build_site(FIXTURE_DATA, again, site_env)
    first = {p.relative_to(fixture_site): p.read_bytes() for p in fixture_site.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_chart_ids_deterministic_and_unique(fixture_site: Path) -> None:
    html = (fixture_site / "models/torchvision/resnet50/index.html").read_text()
    ids = re.findall(r'class="rfz-chart" id="([^"]+)"', html)
    assert ids[:3] == ["rfz-torchvision-resnet50-rf-depth", "rfz-torchvision-resnet50-rf-ratio",
                       "rfz-torchvision-resnet50-border"]
    assert len(ids) == len(set(ids)) == 7  # 3 charts + 4 stage gradient maps


def test_failed_model_page_degrades(fixture_site: Path) -> None:
    html = (fixture_site / "models/timm/tnt_s_patch16_224/index.html").read_text()
    assert "Analysis failed" in html and "untraceable" in html
    assert "rfz-chart" not in html


def test_disagreement_shown_in_red(fixture_site: Path) -> None:
    html = (fixture_site / "models/timm/vit_base_patch16_224/index.html").read_text()
    assert html.count('class="rfz-bad"') >= 3  # verified mark, table row, chart caption


def test_footer_has_versions_and_date(fixture_site: Path) -> None:
    html = (fixture_site / "index.html").read_text()
    assert "Catalog data of 2025-01-01" in html and "timm 1.0.15" in html


def test_search_index_has_models_and_families(fixture_site: Path) -> None:
    index = json.loads((fixture_site / "search/search_index.json").read_text())
    titles = {d["location"]: d["title"] for d in index["docs"]}
    assert titles["models/torchvision/resnet50/"] == "resnet50"
    assert titles["families/resnet/"] == "ResNet"
    # the family is in the model page's searchable text too
    text = next(d["text"] for d in index["docs"] if d["location"] == "models/torchvision/resnet50/")
    assert "ResNet family" in text


def test_changelog_page_uses_data_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "models" / "torchvision").mkdir(parents=True)
    src = FIXTURE_DATA / "models" / "torchvision" / "resnet50.json"
    (data / "models" / "torchvision" / "resnet50.json").write_bytes(src.read_bytes())
    (data / "changelog.md").write_text("## timm 1.0.15 → 1.0.16\n\n- `resnet50`: RF 427 → 435\n")
    out = tmp_path / "site"
    build_site(data, out)  # no index.json: rows are derived from the documents
    html = (out / "changelog/index.html").read_text()
    assert "RF 427 → 435" in html
    assert "resnet50" in (out / "catalog/index.csv").read_text()


def test_page_weight(fixture_site: Path) -> None:
    """Per-page data stays small; plotly.js is one shared file."""
    biggest = max((p.stat().st_size, str(p.relative_to(fixture_site)))
                  for p in fixture_site.rglob("*.html"))
    print(f"largest page: {biggest[1]} {biggest[0] / 1024:.0f} KiB")
    assert biggest[0] < 400_000


@pytest.mark.skipif(not any((REPO / "data" / "models").glob("*/*.json")),
                    reason="data/ has no model documents yet (the catalog build writes them)")
def test_strict_build_on_committed_catalog(tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(REPO / "data", out)
    cat = load_catalog(REPO / "data")
    for key in cat.models:
        assert (out / "models" / key / "index.html").is_file(), key

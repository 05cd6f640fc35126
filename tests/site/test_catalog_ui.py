"""The catalog, family and compare renderers on real rows: whole-input RFs, lower bounds, video
time axes, test nets apart, family names for every family id, changelog labels."""

from __future__ import annotations

import json
import re

from sitebuild import FIXTURE_DATA, REPO

from rfzoo.site import group_pages, index_page, paths
from rfzoo.site.catalog import load_catalog

VIT = {"source": "timm", "name": "vit_base_patch16_224", "family": "vision_transformer",
       "task": "classification", "input_size": [224, 224], "rf": [16, 16], "jump": [16, 16],
       "rf_ratio": 0.0714, "params": 86567656, "status": "exact", "reason": "", "verified": None,
       "whole_input_from": "blocks.0.attn.softmax", "rf_ratio_time": None}
RESNET = {**VIT, "name": "resnet50", "family": "resnet", "rf": [427, 427], "jump": [32, 32],
          "rf_ratio": 1.9062, "whole_input_from": ""}
RAFT = {**RESNET, "source": "torchvision", "name": "raft_small", "family": "raft", "rf": [51, 51],
        "status": "partial", "reason": "only the feature encoder is analyzed"}
R3D = {**RESNET, "source": "torchvision", "name": "r3d_18", "task": "video", "input_size": [16, 112, 112],
       "rf": [109, 219, 219], "jump": [8, 16, 16], "rf_ratio": 1.9554, "rf_ratio_time": 6.8125}
OLD_VIDEO = {k: v for k, v in R3D.items() if k not in ("rf_ratio_time", "whole_input_from")}
TEST_NET = {**RESNET, "name": "test_resnet", "family": "resnet"}  # an older index: family of its arch


def cells(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", html)


def test_whole_input_rf_shows_layer_and_local_rf_and_sorts_above_local() -> None:
    key, html = index_page.rf_cell(VIT)
    assert "whole input" in html and "blocks.0.attn.softmax" in html and "local 16×16" in html
    assert float(key) > float(index_page.rf_cell({**RESNET, "rf": [100000, 100000]})[0])
    assert index_page.rf_cell(RESNET) == ("427", "427×427")


def test_partial_rf_is_a_lower_bound() -> None:
    key, html = index_page.rf_cell(RAFT)
    assert key == "51" and "≥ 51×51" in html
    assert index_page.ratio_cell(RAFT)[1].startswith("≥ ")


def test_video_time_axis_apart() -> None:
    for row in (R3D, OLD_VIDEO):  # with and without the new rf_ratio_time column
        key, html = index_page.rf_cell(row)
        assert key == "219" and html.startswith("219×219") and "time 109" in html
        assert index_page.ratio_cell(row)[1].startswith("1.96") and "time 6.81" in index_page.ratio_cell(row)[1]
    tds = cells(index_page.table_row(R3D, "catalog/index.md", set(), True))
    assert tds[4].startswith("112×112") and "16 frames" in tds[4]


def test_every_row_links_to_its_page_and_test_nets_are_apart() -> None:
    rows = [RESNET, VIT, TEST_NET, {**TEST_NET, "name": "test_vit", "family": "test"}]
    keys = {f"{r['source']}/{r['name']}" for r in rows}
    page = index_page.render(rows, keys, [])
    main, _, tests = page.partition("## timm's test nets")
    assert main.count('href="../models/timm/') == 2 * 2  # table rows and the <noscript> list
    assert "test_resnet" not in main and "test_resnet" in tests and "test_vit" in tests
    assert "2 models:" in main
    fams = group_pages.group_families(rows)
    assert [r["name"] for r in fams["test"]] == ["test_resnet", "test_vit"]
    assert [r["name"] for r in fams["resnet"]] == ["resnet50"]
    assert "test" not in group_pages.families_index(fams).split("Not an architecture")[0].split("|---")[0]


def test_catalog_table_is_lazy_with_noscript_links() -> None:
    page = index_page.render([RESNET], {"timm/resnet50"}, [])
    assert '<template id="rfz-models-rows">' in page and "<noscript>" in page
    assert 'data-search-exclude' in page.split("<table")[0].rsplit("<div", 1)[1]


def test_columns_match_the_css_that_hides_them() -> None:
    """rfzoo.css hides columns by position (nth-child); it must follow COLUMNS' classes."""
    css = (REPO / "docs/assets/css/rfzoo.css").read_text()
    for level in ("rfz-c1", "rfz-c2", "rfz-c3", "rfz-c4"):
        want = sorted(i + 1 for i, c in enumerate(index_page.COLUMNS) if c[3] == level)
        width = {"rfz-c4": 1399, "rfz-c3": 1099, "rfz-c2": 799, "rfz-c1": 559}[level]
        block = css.split(f"(max-width: {width}px)")[1].split("}")[0]
        assert sorted(int(n) for n in re.findall(r"nth-child\((\d+)\)", block)) == want, level


def test_every_family_has_a_display_name() -> None:
    fams = {r.get("family") for r in json.loads((FIXTURE_DATA / "index.json").read_text())}
    data = REPO / "data" / "index.json"
    if data.is_file():
        try:
            raw = json.loads(data.read_text())
        except ValueError:  # being rewritten by a catalog build
            raw = []
        fams |= {r.get("family") for r in (raw.get("models", []) if isinstance(raw, dict) else raw)}
    missing = sorted(f for f in fams if f and f not in paths.FAMILY_NAMES)
    assert missing == []
    assert paths.family_title("inception_v3") == "Inception v3"
    assert paths.family_title("faster_rcnn") == "Faster R-CNN"
    assert paths.family_title("mobilenetv2") == "MobileNetV2"
    assert paths.family_title("beit") == "BEiT"


def test_family_page_charts_every_member() -> None:
    cat = load_catalog(FIXTURE_DATA)
    docs = [cat.models["torchvision/resnet50"]] * 60  # more than any old cap
    page = group_pages.family_page("resnet", cat.rows, docs, set(cat.models))
    data = json.loads(re.search(r'<script type="application/json">(.*?)</script>', page.split("rfz-curves")[1]).group(1))
    assert len(data[0]["curves"]) == 60
    assert data[0]["curves"][0][4] == "../../models/torchvision/resnet50/"


def test_compare_page_takes_every_model() -> None:
    models = [f"timm/m{i}" for i in range(1500)]
    page = group_pages.compare_page(models)
    config = json.loads(re.search(r'<script type="application/json">(.*?)</script>', page).group(1))[0]
    assert config["models"] == models and config["paths"] == {}
    assert len(page) < 60_000
    assert "rfz-compare-error" in page


def test_changelog_labels_catalogs() -> None:
    text = "# Changelog\n\n## 2026-12-02 · update\n\nCatalog `git:HEAD:data` → `data`: 0 added.\n"
    out = group_pages.changelog_page(text)
    assert "git:HEAD" not in out
    assert "From the previous catalog to this catalog: 0 added." in out


def test_verified_cell_says_why_a_model_is_not_verified() -> None:
    from rfzoo.site.index_page import verified_cell

    assert verified_cell(True)[1].count("✓ yes") == 1
    key, html = verified_cell(None, "not measured: out of memory at 9.6 GB")
    assert "not measured" in html and 'title="not measured: out of memory at 9.6 GB"' in html
    key, html = verified_cell(False, "disagrees at layer4")
    assert "✗ no" in html and "disagrees at layer4" in html


def test_a_model_verified_inside_the_image_only_says_so() -> None:
    from rfzoo.catalog.coverage import verification_lines
    from rfzoo.catalog.rows import verify_note
    from rfzoo.site.index_page import verified_cell

    why = "the model takes one input size 224x224; these stages' RFs reach past the 224x224 input"
    doc = {"status": "exact", "verification": {"verified": True, "clipped": ["blocks.11"],
                                               "clipped_reason": why}}
    note = verify_note(doc)
    assert note == f"verified inside the image only: {why}"
    assert verify_note({"status": "exact", "verification": {"verified": True}}) == ""
    key, html = verified_cell(True, note)
    assert key == "2" and "✓ in image" in html and "224x224" in html
    rows = [{"source": "timm", "status": "exact", "verified": True, "verify_note": note},
            {"source": "timm", "status": "exact", "verified": True, "verify_note": ""}]
    assert verification_lines(rows)[0] == "verified timm: 2/2 exact models (100.0%), 1 of them inside the image only"


def test_the_support_check_says_where_it_was_measured() -> None:
    from rfzoo.site.model_checks import verification_table

    stage = {"node": "s", "unit": [3, 3], "analytic_box": [[0, 9], [0, 9]],
             "measured_box": [[0, 9], [0, 9]], "agree": True}
    ver = {"verified": True, "dtype": "float64", "samples": 3, "input_size": [224, 224],
           "stages": [stage], "at_default": "the model fails at the planned larger input (IndexError)"}
    html = verification_table(ver)
    assert "Measured at the default input" in html and "the model fails at the planned larger input" in html
    clipped = verification_table({**ver, "clipped": ["s"], "clipped_reason": "cut: inside it only"})
    assert "Checked inside the image only: 1 stage(s)" in clipped and "Measured at the default" not in clipped


def test_the_support_check_names_the_stages_an_implied_stage_stands_on() -> None:
    from rfzoo.site.model_checks import verification_table

    box = [[0, 9], [0, 9]]
    measured = [{"node": f"b{i}", "unit": [3, 3], "analytic_box": box, "measured_box": box, "agree": True}
                for i in (1, 4)]
    implied = {"node": "b2", "unit": [3, 3], "analytic_box": box, "measured_box": None,
               "implied_by": ["b1", "b4"], "agree": True}
    ver = {"verified": True, "dtype": "float32", "samples": 3, "input_size": [32, 32],
           "stages": [measured[0], implied, measured[1]]}
    html = verification_table(ver)
    row = next(line for line in html.splitlines() if line.startswith("| <code>b2</code>"))
    assert "implied: repeats the block of <code>b1</code>, up to <code>b4</code>" in row and "✓" in row
    assert "*implied*: a stage that repeats the block before it" in html
    bad = verification_table({**ver, "verified": False, "stages": [measured[0], {**implied, "agree": False}]})
    assert '<span class="rfz-bad">implied: repeats' in bad
    assert "*implied*" not in verification_table({**ver, "stages": measured})


def test_the_model_card_says_why_a_model_is_not_verified() -> None:
    from rfzoo.site.model_card import card

    base = {"status": "exact", "summary": {"rf": [427, 427], "node": "layer4"}, "input_size": [224, 224]}
    oom = card({**base, "probe_error": "verifying stages: out of memory at the 9.4 GB per-worker limit"})
    assert "not measured</span>: verifying stages: out of memory at the 9.4 GB per-worker limit" in oom
    assert ">not measured</span></dd>" in card(base)  # not measured yet: no reason to give
    inside = card({**base, "verification": {"verified": True, "clipped": ["layer4"],
                                            "clipped_reason": "the model takes one input size 224x224"}})
    assert "✓ verified inside the image only" in inside and "one input size 224x224" in inside


def test_the_support_check_says_how_many_inputs_measured_it() -> None:
    from rfzoo.site.model_checks import verification_table

    box = [[0, 9], [0, 9]]
    stage = {"node": "s", "unit": [3, 3], "analytic_box": box, "measured_box": box, "agree": True}
    ver = {"verified": True, "dtype": "float32, float64 where it differed", "samples": 3,
           "input_size": [32, 32], "stages": [stage]}
    assert "float64 where it differed, 3 random inputs, input" in verification_table(ver)
    ladder = verification_table({**ver, "first_samples": 1, "sample_rechecks": 2})
    assert "1 random input first, all 3 where it fell short: 2 stage-axes, input" in ladder

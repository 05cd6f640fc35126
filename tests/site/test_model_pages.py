"""Model pages at zoo scale: what the headline claims, lower bounds, time axes, anchors,
citations, the lazily loaded page data, and a page size that does not grow with the model."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from sitebuild import FIXTURE_DATA

from rfzoo.site import figures, model_card, model_data, model_page
from rfzoo.site.catalog import load_catalog

CATALOG = load_catalog(FIXTURE_DATA)
DATE = "2025-01-01"
RESNET = CATALOG.models["torchvision/resnet50"]
VIT = CATALOG.models["timm/vit_base_patch16_224"]
FCN = CATALOG.models["torchvision/fcn_resnet50"]
TNT = CATALOG.models["timm/tnt_s_patch16_224"]


def page(doc: dict[str, Any]) -> model_page.ModelPage:
    return model_page.build(doc, date=DATE)


def front(text: str) -> dict[str, Any]:
    return yaml.safe_load(text.split("---\n")[1])


def lay(name: str, rf: list, jump: list, size: list, kind: str = "conv", glob: bool = False,
        rf_min: list | None = None) -> dict[str, Any]:
    n = len(rf)
    return {"name": name, "op": kind, "kind": kind, "output_size": size, "rf": rf,
            "rf_min": rf_min or rf, "jump": jump, "center": [0] * n, "effective_padding": [0] * n,
            "global": glob, "aligned": True, "position_dependent": False, "border_units": [0] * n}


def video_doc() -> dict[str, Any]:
    """A [T, H, W] model as the catalog stores torchvision's r3d_18 (numbers from its data)."""
    layers = [lay("x", [1, 1, 1], [1, 1, 1], [16, 112, 112], "input"),
              lay("stem.0", [3, 7, 7], [1, 2, 2], [16, 56, 56]),
              lay("layer2.0.conv1", [25, 51, 51], [2, 4, 4], [8, 28, 28]),
              lay("layer4.1.relu", [109, 219, 219], [8, 16, 16], [2, 7, 7], "pointwise",
                  rf_min=[3, 7, 7]),
              lay("avgpool", [None] * 3, [None] * 3, [1, 1, 1], "global", glob=True)]
    last = layers[3]
    return {
        "schema": 1, "source": "torchvision", "name": "r3d_18", "model": "torchvision/r3d_18",
        "family": "video", "task": "video", "input_size": [16, 112, 112], "params": 33371472,
        "versions": {"rfzoo": "0.1.0", "torch": "2.6.0", "torchvision": "0.21.0"},
        "status": "exact", "reason": "", "layers": layers, "feature_info_mismatches": [], "links": {},
        "stages": [{"name": "layer4", "node": "layer4.1.relu", "rf": last["rf"], "jump": last["jump"],
                    "output_size": last["output_size"], "declared_reduction": None,
                    "reduction_matches": None}],
        "summary": {"node": "layer4.1.relu", "rf": last["rf"], "rf_min": [3, 7, 7],
                    "jump": last["jump"], "center": [0, 0, 0], "effective_padding": [54, 109, 109],
                    "output_size": [2, 7, 7], "global": False, "global_from": "avgpool"},
        "verification": None, "erf": None,
    }


def test_global_model_headline_says_whole_input() -> None:
    text = page(VIT).markdown
    head = re.search(r'<p class="rfz-headline">.*</p>', text).group(0)
    assert "Receptive field: whole input</strong> (global from <code>blocks.0.attn</code>)" in head
    assert "local-path RF 16×16 px" in head
    assert "Receptive field: 16" not in text  # the local number is never the headline
    desc = front(text)["description"]
    assert "whole input (global from blocks.0.attn); local-path RF 16×16 px" in desc
    assert "<dt>Local-path RF</dt>" in text and "<dt>Sees</dt> <dd><strong>whole input</strong>" in text


def test_global_only_after_the_node_keeps_the_numbers() -> None:
    text = page(RESNET).markdown
    assert ("<strong>Receptive field: 427×427 px</strong> at <code>layer4.2.relu_2</code> · global "
            "context only after this node, from <code>avgpool</code>") in text
    assert "whole input" not in re.search(r'<p class="rfz-headline">.*</p>', text).group(0)
    assert front(text)["description"].endswith(
        "427×427 px at layer4.2.relu_2; global context only after this node, from avgpool.")


def test_old_data_global_op_before_the_node_that_does_not_reach_it() -> None:
    doc = copy.deepcopy(RESNET)
    doc["summary"]["global_from"] = "conv1"  # older data: the first global op anywhere
    assert model_card.global_state(doc) == ("elsewhere", "conv1")
    assert "does not lie on a path into this node" in model_card.headline(doc)


def test_partial_model_marks_lower_bounds_everywhere() -> None:
    built = page(FCN)
    text = built.markdown
    assert "<strong>Receptive field: ≥ 155×155 px</strong>" in text
    assert "<dt>Receptive field</dt> <dd><strong>≥ 155×155 px</strong>" in text
    assert "every RF on this page is a lower bound (≥)" in text
    stage_rows = re.findall(r"<tr><td>(?:stem|layer4)</td>.*?</tr>", text)
    assert len(stage_rows) == 2 and all('<td align="right">≥ ' in row for row in stage_rows)
    assert built.data["lower_bound"] is True  # the layer table prints "≥ " before every RF
    assert "lower bound" in front(text)["description"]
    assert model_data.page_data(RESNET, {})["lower_bound"] is False


def test_video_model_keeps_time_apart() -> None:
    doc = video_doc()
    text = page(doc).markdown
    assert "<strong>Receptive field: time 109 frames × 219×219 px</strong>" in text
    assert "<dt>RF / input</dt> <dd>time 6.81 · 1.96 (H) · 1.96 (W)</dd>" in text
    assert "--input-size 16 112 112" in text and "input_size=(16, 112, 112)" in text
    depth = figures.rf_depth(doc)
    names = [t["name"] for t in depth["data"]]
    assert "RF, time (frames, largest so far)" in names
    assert names[0] == "RF (px, largest so far)"  # spatial: H and W are equal, one line
    assert depth["data"][0]["y"][-1] == 219
    ratio = figures.rf_ratio(doc)
    labels = [t["name"] for t in ratio["data"]]
    assert labels == ["RF H / input H (112 px)", "RF time / input time (16 frames)"]
    assert model_page.build(doc).data["axes"] == ["T", "H", "W"]


def test_layer_anchors_are_layer_names() -> None:
    built = page(RESNET)
    names = built.data["layers"]["name"]
    assert names == [x["name"] for x in RESNET["layers"]]
    assert len(set(names)) == len(names)  # one row id each
    # stage nodes link to their rows; the JS gives each row id=<layer name>
    assert '<a href="#layer4.2.relu_2" class="rfz-layer-link"><code>layer4.2.relu_2</code></a>' in built.markdown
    flags = built.data["layers"]["flags"]
    assert flags[names.index("layer4.2.relu_2")] & model_data.STAGE_END
    assert flags[names.index("avgpool")] & model_data.GLOBAL


def test_cite_block_has_versions_and_date() -> None:
    text = model_page.render(VIT, date=DATE, site_url="https://example.org/rfzoo/")
    cite = re.search(r'<pre class="rfz-cite"><code>(.*?)</code></pre>', text, re.S).group(1)
    assert cite.startswith("@misc{rfzoo-timm-vit-base-patch16-224,")
    assert "howpublished = {\\url{https://example.org/rfzoo/models/timm/vit_base_patch16_224/}}" in cite
    assert "year         = {2025}" in cite
    assert "note         = {rfzoo 0.1.0; timm 1.0.15, torch 2.6.0, torchvision 0.21.0; catalog data of 2025-01-01}" in cite
    assert "timm/vit\\_base\\_patch16\\_224" in cite  # BibTeX-escaped underscores


def test_reproduce_snippet() -> None:
    text = page(RESNET).markdown
    assert "```console\nrfzoo show torchvision/resnet50 --input-size 224 224\n```" in text
    assert 'rfzoo.analyze("torchvision/resnet50", input_size=(224, 224)).summary()' in text


def test_page_data_roundtrip_and_deterministic() -> None:
    built = page(RESNET)
    raw = model_data.encode(built.data)
    assert raw[:2] == b"\x1f\x8b" and raw == model_data.encode(page(RESNET).data)
    assert model_data.decode(raw) == built.data
    assert set(built.data["charts"]) >= {"rf-depth", "rf-ratio", "border", "grad-0"}
    for key in built.data["charts"]:  # every figure has its frame on the page
        assert f'data-rfz-chart="{key}" role="img" aria-label="' in built.markdown


def test_search_text_is_the_h1_section_only() -> None:
    text = page(RESNET).markdown
    h2 = [line for line in text.splitlines() if line.startswith("## ")]
    assert h2 and all(line.endswith("{ data-search-exclude }") for line in h2)
    assert front(text)["search"]["boost"] == 4  # one word
    assert model_card.search_boost("fcn_resnet50") == 3 < model_card.search_boost("resnet50")


def big_doc(n: int) -> dict[str, Any]:
    doc = copy.deepcopy(RESNET)
    base = doc["layers"]
    doc["layers"] = [dict(base[i % len(base)], name=f"blocks.{i}.op") for i in range(n)]
    return doc


def test_page_size_does_not_grow_with_the_model() -> None:
    sizes = {k: len(page(d).markdown.encode()) for k, d in CATALOG.models.items()}
    assert max(sizes.values()) < 40_000, sizes
    big = page(big_doc(4000))
    assert len(big.markdown.encode()) < 40_000  # the layers go to the page data
    assert len(model_data.encode(big.data)) < 200_000


def test_charts_never_dip_at_side_branches() -> None:
    doc = copy.deepcopy(RESNET)
    # a shortcut conv after the main branch: its own RF is small (graph order interleaves)
    doc["layers"].insert(20, lay("layer2.0.downsample.0", [7, 7], [8, 8], [28, 28]))
    fig = figures.rf_depth(doc)
    rf = next(t for t in fig["data"] if t["name"].startswith("RF"))
    assert rf["y"] == sorted(rf["y"])
    xs = [x["name"] for x in doc["layers"]]
    assert xs.index("layer2.0.downsample.0") not in rf["x"]


def test_empty_border_chart_is_omitted_with_a_reason() -> None:
    built = page(VIT)
    assert "border" not in built.data["charts"]
    assert "No chart: at this input size no unit's receptive field reaches past the image border" in built.markdown


def test_same_gradient_maps_are_drawn_once() -> None:
    doc = copy.deepcopy(VIT)
    box = [[96, 111], [96, 111]]
    heat = {"shape": [2, 2], "scale": 8, "origin": [96, 96], "data": "AAEC/w=="}
    doc["verification"] = None
    doc["erf"] = {"weights": "random", "samples": 2, "input_size": [224, 224], "stages": [
        {"node": f"blocks.{i}.add_1", "radius": {"20": 3.5, "30": 4.5, "50": 5.5, "99": 7.5},
         "erf_trf_ratio": 1.16, "offset": [0, 0], "rf_box": box, "heatmap": heat} for i in range(12)]}
    built = page(doc)
    assert [k for k in built.data["charts"] if k.startswith("grad")] == ["grad-0"]
    assert "12 stages with the same RF box and ERF radii, one map shown" in built.markdown
    assert "These maps show the local path only" in built.markdown
    assert "a ratio of 1.16 means an even spread" in built.markdown
    heatmap = built.data["charts"]["grad-0"]["data"][0]
    assert heatmap["showscale"] is True and heatmap["colorbar"]["title"]["text"]


def test_labels_say_what_they_are() -> None:
    resnet = page(RESNET).markdown
    assert "unit position" in resnet and "(row, col) = (" in resnet
    assert "declared reduction (timm <code>feature_info</code>)" in resnet
    fcn = page(FCN).markdown  # torchvision: no declared reductions, no column
    assert "declared reduction" not in fcn
    frac = copy.deepcopy(RESNET)
    frac["layers"][-4]["jump"] = [17.2727, 17.2727]
    text = page(frac).markdown
    assert "fractional (17.2727 px)[^fractional-jump]" in text and "[^fractional-jump]: " in text
    assert "[^fractional-jump]" not in resnet


def relative_luminance(color: str) -> float:
    c = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("light", sorted(figures.DARK_OF))
def test_line_colours_have_contrast_in_both_schemes(light: str) -> None:
    assert contrast(light, "#ffffff") >= 3, light
    assert contrast(figures.DARK_OF[light], "#1e2129") >= 3, figures.DARK_OF[light]


def test_failed_model_page() -> None:
    built = page(TNT)
    assert "Receptive field: not analyzed" in built.markdown
    assert 'class="rfz-model"' not in built.markdown and "rfz-mchart" not in built.markdown

"""The method page's ERF sections: definitions (erf_stats), numbers in the text, charts,
and the trained-weight section read from data/trained/ files."""

from __future__ import annotations

import gzip
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from test_model_pages import contrast

from rfzoo.site import erf_stats, hooks, method_charts
from rfzoo.site.catalog import Catalog, load_catalog

Doc = dict[str, Any]


def stage(node: str, trf: int, std: float, **extra: Any) -> Doc:
    return {"node": node, "rf_box": [[0, trf - 1], [0, trf - 1]], "std": [std, std],
            "erf_trf_ratio": round(4 * std / trf, 4), **extra}


def stack_doc(name: str, depths: list[int], *, erf_exponent: float = 0.5) -> Doc:
    """A chain whose layer n has RF 4n, with ERF stages at `depths` whose σ is n^erf_exponent:
    RF slope 1, ERF slope erf_exponent against growth depth, by construction."""
    n_max = max(depths)
    layers = [{"name": f"conv{n}", "rf": [4 * n, 4 * n]} for n in range(1, n_max + 1)]
    layers.insert(0, {"name": "x", "rf": [1, 1]})  # the input: one pixel, no growth
    stages = [stage(f"conv{n}", 4 * n, n**erf_exponent) for n in depths]
    return {"source": "timm", "name": name, "input_size": [224, 224], "layers": layers,
            "erf": {"stages": stages}}


def catalog(docs: list[Doc], luo: dict[str, Any] | None = None,
            trained: dict[str, Doc] | None = None) -> Catalog:
    return Catalog(data_dir=Path("."), models={f"{d['source']}/{d['name']}": d for d in docs},
                   luo=luo, trained=trained or {})


def figure_of(html: str) -> dict[str, Any]:
    return json.loads(re.search(r'<script type="application/json">(.*?)</script>', html).group(1))[0]


# --- definitions ---------------------------------------------------------------------------


def test_growth_depth_counts_rf_growth_on_the_widest_path_only() -> None:
    layers = [{"name": "x", "rf": [1, 1]}, {"name": "conv1", "rf": [3, 3]}, {"name": "bn", "rf": [3, 3]},
              {"name": "conv2", "rf": [5, 5]}, {"name": "shortcut", "rf": [3, 3]},
              {"name": "add", "rf": [5, 5]}, {"name": "conv3", "rf": [5, 7]}]
    depths = erf_stats.growth_depths(layers, [0, 1])
    # the input is depth 0; the shortcut, below the largest RF so far, is off the path
    assert depths == {"x": 0, "conv1": 1, "bn": 1, "conv2": 2, "add": 2, "conv3": 3}


def test_sizes_are_geometric_means_over_the_spatial_axes() -> None:
    st = {"std": [5.0, 2.0, 8.0], "rf_box": [[0, 2], [0, 9], [10, 49]]}  # (T, H, W): time left out
    assert erf_stats.erf_size(st, [1, 2]) == pytest.approx(16.0)
    assert erf_stats.trf_size(st, [1, 2]) == pytest.approx(20.0)
    assert erf_stats.erf_size({"rf_box": st["rf_box"]}, [1, 2]) is None  # an older document
    video = {"source": "torchvision", "name": "v", "input_size": [16, 112, 112],
             "layers": [{"name": "s", "rf": [3, 10, 40]}], "erf": {"stages": [{"node": "s", **st}]}}
    (p,) = erf_stats.stage_points(video)
    assert (p.erf, p.trf, p.depth) == (pytest.approx(16.0), pytest.approx(20.0), 1)


def test_loglog_fit_recovers_a_power_law() -> None:
    xs = [1, 2, 4, 8, 16]
    slope, icpt = erf_stats.loglog_fit(xs, [3 * x**0.5 for x in xs])
    assert slope == pytest.approx(0.5) and math.exp(icpt) == pytest.approx(3)
    assert erf_stats.loglog_fit([4, 4], [1, 2]) is None


def test_one_point_per_model_and_depth_and_slopes_need_three_depths() -> None:
    vit = stack_doc("vit", [1])
    vit["erf"]["stages"] = [stage("conv1", 4, 1.0, ) for _ in range(12)]
    points = erf_stats.catalog_points([vit, stack_doc("short", [1, 4]), stack_doc("long", [1, 2, 4, 8])])
    assert len(points) == 12 + 2 + 4
    assert len(erf_stats.one_per_depth(points)) == 1 + 2 + 4
    (slopes,) = erf_stats.model_slopes(points)
    assert (slopes.model, slopes.depths, slopes.trf, slopes.erf) == (
        "timm/long", (1, 8), pytest.approx(1.0), pytest.approx(0.5))


# --- sections --------------------------------------------------------------------------------


def test_fraction_section_states_the_medians_it_measures() -> None:
    # per model: stack fractions n^-0.5 at n = 1, 4, 16 -> 1, 0.5, 0.25 (median 0.5);
    # a flat model whose fraction is 0.8 at both stages
    flat = stack_doc("flat", [1, 4], erf_exponent=1.0)
    for st in flat["erf"]["stages"]:
        st["std"] = [0.2 * (st["rf_box"][0][1] + 1)] * 2
    html = method_charts.fraction_section(catalog([stack_doc("stack", [1, 4, 16]), flat]))
    assert "median **0.65** of the theoretical RF" in html  # median of 0.5 and 0.8
    assert "(0.80 over all 5 stages" in html
    assert "1 stage sit above" not in html and "sit above the line" not in html  # none is above 1
    assert "deepest measured stage the median is **0.53** (from 0.25 to 0.80)" in html
    assert 'role="img" aria-label="Scatter plot, log-log: ERF size against theoretical RF for 5 stages' in html
    fig = figure_of(html)
    assert sum(len(t["x"]) for t in fig["data"] if t["mode"] == "markers") == 5


def test_stages_above_the_line_are_explained() -> None:
    doc = stack_doc("patch", [1, 2])
    doc["erf"]["stages"][0]["std"] = [1.15, 1.15]  # 4σ = 4.6 over an RF of 4
    html = method_charts.fraction_section(catalog([doc]))
    assert "1 stage sits above the line" in html and "1 models" not in html


def test_fraction_section_without_erf_data_draws_nothing() -> None:
    doc = stack_doc("old", [1, 2])
    for st in doc["erf"]["stages"]:
        del st["std"]  # a document from before the std was stored
    html = method_charts.fraction_section(catalog([doc]))
    assert "rfz-chart" not in html and "No stage of this catalog has a measured ERF" in html


def test_depth_section_fits_slopes_and_folds_in_the_synthetic_stack() -> None:
    luo = {"depths": [1, 2, 4], "trf": [3, 5, 9], "erf_std": [0.82, 1.15, 1.63], "erf_exponent": 0.5,
           "trf_exponent": 1.0}
    docs = [stack_doc("a", [1, 2, 4, 8]), stack_doc("b", [2, 4, 16], erf_exponent=0.75)]
    html = method_charts.depth_section(catalog(docs, luo))
    assert "Within each model (median over 2): RF ∝ depth<sup>1.00</sup>, ERF ∝ depth<sup>0.62</sup>" in html
    assert "Real networks are not that stack" not in html  # RF slope 1: no downsampling here
    assert "falls like depth<sup>−0.38</sup> (median per model, from −0.50 to −0.25)" in html
    assert "| timm/b | 3 | 2–16 | 1.00 | 0.75 | −0.25 |" in html
    names = [t["name"] for t in figure_of(html)["data"]]
    assert "synthetic stack: ERF 4σ (slope 0.50)" in names and "fit: RF ∝ depth<sup>1.00</sup>" in names


def test_depth_section_with_only_the_synthetic_stack() -> None:
    luo = {"depths": [1, 2, 4], "trf": [3, 5, 9], "erf_std": [0.82, 1.15, 1.63], "erf_exponent": 0.5,
           "trf_exponent": 1.0}
    html = method_charts.depth_section(catalog([], luo))
    assert "the chart shows the synthetic stack" in html and "??? note" not in html
    assert len(figure_of(html)["data"]) == 2
    assert "rfz-chart" not in method_charts.depth_section(catalog([]))


def test_colours_are_readable_on_both_schemes() -> None:
    for color in method_charts.BOTH_SCHEMES:
        assert contrast(color, "#ffffff") >= 3, color
        assert contrast(color, "#1e2129") >= 3, color
    luo = {"depths": [1, 2], "trf": [3, 5], "erf_std": [0.8, 1.2], "erf_exponent": 0.5, "trf_exponent": 1.0}
    cat = catalog([stack_doc("a", [1, 2, 4])], luo)
    for section in (method_charts.fraction_section, method_charts.depth_section):
        for trace in figure_of(section(cat))["data"]:
            assert (trace.get("marker") or trace.get("line"))["color"] in method_charts.BOTH_SCHEMES


# --- how training changes it: data/trained/ files --------------------------------------------


def trained_file(root: Path, name: str, pairs: list[tuple[float, float]]) -> None:
    """A trained-ERF file: stage i has fraction random[i] and pretrained[i] (RF side 100)."""
    maps = {"random": [stage(f"s{i}", 100, r * 25) for i, (r, _) in enumerate(pairs)],
            "pretrained": [stage(f"s{i}", 100, p * 25) for i, (_, p) in enumerate(pairs)]}
    doc = {"source": "torchvision", "name": name, "model": f"torchvision/{name}", "input_size": [224, 224],
           "images": ["a.jpg", "b.jpg", "c.jpg"], "preprocessing": "resize 256, center crop 224",
           "versions": {"torch": "2.6.0"}, "maps": maps, "weights_id": "IMAGENET1K_V1"}
    path = root / "trained" / "torchvision" / f"{name}.json.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(doc).encode(), mtime=0))


def test_training_section_reads_trained_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    trained_file(tmp_path, "resnet18", [(0.5, 0.6), (0.4, 0.6)])
    trained_file(tmp_path, "vgg16", [(0.8, 0.4)])
    cat = load_catalog(tmp_path)
    assert list(cat.trained) == ["torchvision/resnet18", "torchvision/vgg16"]
    html = method_charts.training_section(cat)
    assert "For 3 stages of 2 models, the pretrained ERF is a median **1.20×**" in html
    assert "larger in 2 of 3 stages" in html and "the same 3 photographs" in html
    fig = figure_of(html)
    assert fig["data"][0]["x"] == pytest.approx([0.5, 0.4, 0.8])
    assert fig["data"][0]["y"] == pytest.approx([0.6, 0.6, 0.4])
    assert 'role="img"' in html


def test_no_trained_files_says_so_and_draws_no_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    monkeypatch.setattr(hooks, "_catalog", load_catalog(tmp_path))
    page = hooks.FIGURE_MARK.sub(lambda m: hooks.placeholder(m.group(1), m.group(2)),
                                 "<!-- rfzoo:figure erf-training -->")
    assert page.strip() == method_charts.NO_TRAINED
    assert "none yet in this catalog" in page and "rfz-chart" not in page

"""Unit tests of the site's pure helpers: the guide's arithmetic, formatting, embedding, steps."""

from __future__ import annotations

import json

import sitebuild  # noqa: F401  (puts the repository on sys.path)

from rfzoo.site import embed, figures, fmt, guide, paths


def test_guide_5x5_example() -> None:
    states = guide.chain(*guide.GUIDE_5X5)
    assert [(s.n, s.j, s.r, s.start) for s in states[1:]] == [(3, 2, 3, 0), (2, 4, 7, 0)]  # pixel i: center i


def test_four_layer_example_rf_10_jump_4() -> None:
    last = guide.chain(*guide.FOUR_LAYERS)[-1]
    assert (last.n, last.r, last.j) == (8, 10, 4)


def test_guide_figure_has_one_step_per_unit() -> None:
    fig = guide.figure("guide-5x5")
    assert len(fig["layout"]["sliders"][0]["steps"]) == 9 + 4
    assert fig["layout"]["sliders"][0]["steps"][9]["value"] == "2:0:0"


def test_steps_keep_changes_and_last() -> None:
    xs, ys, ts = figures.steps([0, 1, 2, 3, 4], [1, 1, 3, 3, 3], list("abcde"))
    assert (xs, ys, ts) == ([0, 2, 4], [1, 3, 3], ["a", "c", "e"])


def test_json_for_script_cannot_close_the_script() -> None:
    text = embed.json_for_script({"t": "</script><!-- & "})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"t": "</script><!-- & "}


def test_format_axes_and_missing() -> None:
    assert fmt.axes([427, 427]) == "427×427"
    assert fmt.axes([None, None]) == fmt.DASH
    assert fmt.axes([2.5, 0.125]) == "2.5×0.125"
    assert fmt.params(25557032) == "25.6 M"


def test_relative_urls() -> None:
    assert paths.rel_url("models/timm/x.md", "compare/") == "../../../compare/"
    assert paths.rel_url("catalog/index.md", "models/a/b/") == "../models/a/b/"
    assert paths.rel_link("models/timm/x.md", "catalog/index.md") == "../../catalog/index.md"
    assert paths.slug("timm/vit_base_patch16_224") == "timm-vit-base-patch16-224"


def test_charts_degrade_without_layers() -> None:
    doc = {"source": "timm", "name": "x", "input_size": [224, 224], "layers": [], "summary": None}
    assert figures.rf_depth(doc) is None
    assert figures.rf_ratio(doc) is None
    assert figures.border_share(doc) is None


def test_stage_ticks_never_print_labels_over_each_other() -> None:
    # Inception's stem ends two stages a node apart: one label for both, the deepest stage kept
    layers = [{"name": f"n{i}"} for i in range(200)]
    doc = {"stages": [{"name": f"s{d}", "node": f"n{d}"} for d in (3, 4, 60, 120, 195, 199)]}
    layout = {"xaxis": {"title": {"text": ""}}}
    figures.stage_ticks(doc, layers, layout)
    vals = layout["xaxis"]["tickvals"]
    assert vals == [3, 60, 120, 199], vals  # 4 too close to 3, 195 to the last stage (199)
    assert layout["xaxis"]["ticktext"][-1] == "s199"

"""The model page's "Trained vs random-init ERF" section and the method page's training chart in
real headless Chromium, on a strict build of a fixture catalog that has one model with a
trained-ERF file (squeezenet1_1) and models without one (resnet50, fcn_resnet50).

The trained file is made by the real code: `rfzoo erf-trained` loads "pretrained" weights
through torchvision's own loader from torch.hub's cache, where the test saved a random state
dict under torchvision's file name (nothing is downloaded), and averages both maps over two
bundled photos. squeezenet1_1's catalog document is the catalog worker's own (no probe).

Checked: the section is on that page only; both heat maps render the file's own maps (decoded
pixels, RF box, aria label); the stage picker switches both; zooming one zooms the other; the
metrics table holds the file's numbers; all of it after material's instant navigation too; the
dark scheme redraws both maps in its colours; the method page's chart plots the file's stages,
and says "none yet" on a catalog without trained files. Console errors, page errors and
rfzoo's own "not drawn" warnings fail the test.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sitebuild import FIXTURE_DATA, REPO, build_site
from test_browser import ARTIFACTS, CHROMIUM, browser, page  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]
MODEL = "torchvision/squeezenet1_1"
SQUEEZENET = "models/torchvision/squeezenet1_1/"
WITHOUT = ("models/torchvision/resnet50/", "models/torchvision/fcn_resnet50/")
PHOTOS = ("astronaut.jpg", "chelsea.jpg")
HEADING = "h2#trained-vs-random-init-erf"
MAPS = "[data-rfz-trained]"
KEYS = ("pretrained", "random")


# --- the fixture catalog with a trained file ----------------------------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def trained_catalog(data: Path, work: Path) -> Path:
    """FIXTURE_DATA plus squeezenet1_1's catalog document and its trained-ERF file."""
    import torch
    import torchvision

    from rfzoo.catalog.sources import ModelRef
    from rfzoo.catalog.worker import build_document
    from rfzoo.cli import main

    shutil.copytree(FIXTURE_DATA, data, dirs_exist_ok=True)
    doc = build_document(ModelRef("torchvision", "squeezenet1_1"), None, probe=False)
    assert doc["status"] == "exact", doc["reason"]
    (data / "models" / "torchvision" / "squeezenet1_1.json").write_text(json.dumps(doc))

    images = work / "photos"
    images.mkdir()
    for name in PHOTOS:
        shutil.copy(REPO / "docs" / "assets" / "photos" / name, images / name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(work / "torch"))
        mp.delenv("RFZOO_TORCHVISION_MIRROR", raising=False)
        # the "pretrained" weights: a random state dict where torch.hub caches torchvision's file
        url = torchvision.models.get_model_weights("squeezenet1_1").DEFAULT.url
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        cache.mkdir(parents=True)
        torch.manual_seed(1)
        torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), cache / url.rsplit("/", 1)[1])
        code = main(["erf-trained", MODEL, "--out", str(data / "trained"), "--images", str(images)])
    assert code == 0
    return data


@pytest.fixture(scope="module")
def trained_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """That catalog's site (strict build), served on a port of its own, and the trained file."""
    from rfzoo.catalog import store

    data = trained_catalog(tmp_path_factory.mktemp("trained-data"), tmp_path_factory.mktemp("trained-work"))
    trained = store.read_json(data / "trained" / "torchvision" / "squeezenet1_1.json.gz")
    out = tmp_path_factory.mktemp("trained-site")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    url = f"http://127.0.0.1:{srv.server_address[1]}/"
    build_site(data, out, {"RFZOO_SITE_URL": url})
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield url, trained
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def pg(page):  # type: ignore[no-untyped-def]  # noqa: F811
    """test_browser's page (errors fail the test), where rfzoo's "not drawn" warnings fail it too."""
    page.on("console", lambda m: page.watch.errors.append(m.text)
            if m.type == "warning" and m.text.startswith("rfzoo") else None)
    return page


# --- helpers ------------------------------------------------------------------------------------


def pairs(trained: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    random = {st["node"]: st for st in trained["maps"]["random"]}
    return [(st, random[st["node"]]) for st in trained["maps"]["pretrained"]]


def pixels(stage: dict[str, Any]) -> list[int]:
    return list(base64.b64decode(stage["heatmap"]["data"]))


def wait_maps(pg, scheme: str = "default") -> None:  # type: ignore[no-untyped-def]
    pg.wait_for_function(f"document.querySelectorAll('{MAPS}[data-rfz-rendered=\"{scheme}\"]').length === 2",
                         timeout=15000)


def shows(pg, key: str, stage: dict[str, Any]) -> bool:  # type: ignore[no-untyped-def]
    """Whether the `key` map holds `stage`'s own pixels, at its place, under its RF box."""
    return pg.evaluate("""([key, flat, shape, origin, scale, box]) => {
        const el = document.querySelector('[data-rfz-trained="' + key + '"]');
        if (!el || !el.data || !el.layout) return false;
        const heat = el.data.find(t => t.type === 'heatmap');
        if (!heat || heat.z.length !== shape[0] || heat.z[0].length !== shape[1]) return false;
        const z = heat.z.flat();
        if (!z.every((v, i) => v === flat[i])) return false;
        if (heat.y0 !== origin[0] + (scale - 1) / 2 || heat.x0 !== origin[1] + (scale - 1) / 2 || heat.dx !== scale) return false;
        const rf = (el.layout.shapes || []).find(s => s.name === 'analytic RF');
        return !!rf && rf.x0 === box[1][0] - 0.5 && rf.x1 === box[1][1] + 0.5
          && rf.y0 === box[0][0] - 0.5 && rf.y1 === box[0][1] + 0.5;
    }""", [key, pixels(stage), stage["heatmap"]["shape"], stage["heatmap"]["origin"], stage["heatmap"]["scale"],
           stage["rf_box"]])


def wait_stage(pg, trained: dict[str, Any], index: int) -> None:  # type: ignore[no-untyped-def]
    pre, rand = pairs(trained)[index]
    for key, stage in zip(KEYS, (pre, rand), strict=True):
        pg.wait_for_function("([k, n]) => (document.querySelector('[data-rfz-trained=\"' + k + '\"]')"
                             ".getAttribute('aria-label') || '').includes(' of ' + n + ',')",
                             arg=[key, stage["node"]], timeout=10000)
        deadline = 50
        while not shows(pg, key, stage) and deadline:
            pg.wait_for_timeout(100)
            deadline -= 1
        assert shows(pg, key, stage), f"the {key} map does not show {stage['node']}"


def check_maps_drawn(pg) -> None:  # type: ignore[no-untyped-def]
    """Both maps drawn whole: heat map, colour bar, legend and RF box inside the frame. Without
    plotly.js's stylesheet its layers stack below each other and all but the heat map fall out."""
    for key in KEYS:
        sel = f"[data-rfz-trained='{key}']"
        assert pg.locator(f"{sel} .heatmaplayer image, {sel} .hm image").count() >= 1, key
        assert pg.locator(f"{sel} .colorbar").count() == 1, key
        box = pg.locator(sel).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 200, (key, box)
        outside = pg.eval_on_selector(sel, """el => { const f = el.getBoundingClientRect();
            const rf = el.layout.shapes.findIndex(s => s.name === 'analytic RF');
            const parts = [['colour bar', '.colorbar'], ['legend', '.legend'],
                           ['RF box', '.shapelayer path[data-index="' + rf + '"]'],
                           ['x title', '.g-xtitle'], ['y title', '.g-ytitle']];
            return parts.filter(([name, q]) => { const e = el.querySelector(q); if (!e) return true;
                const r = e.getBoundingClientRect();
                return !(r.width > 0 && r.left >= f.left - 1 && r.right <= f.right + 1
                         && r.top >= f.top - 1 && r.bottom <= f.bottom + 1); }).map(p => p[0]); }""")
        assert outside == [], f"{key} map: {outside} missing or outside the frame"


def pick_stage(pg, index: int) -> None:  # type: ignore[no-untyped-def]
    pg.select_option(".rfz-trained-stage", str(index))


def section_text(pg) -> str:  # type: ignore[no-untyped-def]
    return pg.evaluate(f"""() => {{ let out = '', e = document.querySelector('{HEADING}');
        for (e = e && e.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling) out += e.innerText + '\\n';
        return out; }}""")


def metrics_rows(pg) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The cells of the section's metrics table (the first table after the heading)."""
    return pg.evaluate(f"""() => {{ let e = document.querySelector('{HEADING}');
        for (e = e.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling) {{
            const t = e.tagName === 'TABLE' ? e : e.querySelector('table');
            if (t) return [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent.trim()));
        }}
        return null; }}""")


def same(cell: str, value: float) -> bool:
    """A table cell shows `value` (to the digits it shows)."""
    shown = float(cell)
    digits = len(cell.split(".", 1)[1]) if "." in cell else 0
    return abs(shown - value) <= 0.5 * 10 ** -digits + 1e-9 and digits <= 4


# --- tests --------------------------------------------------------------------------------------


def test_section_maps_picker_zoom_and_metrics(pg, trained_site) -> None:  # type: ignore[no-untyped-def]
    url, trained = trained_site
    stages = pairs(trained)
    assert len(stages) >= 3
    pg.goto(url + SQUEEZENET)
    assert pg.locator(HEADING).count() == 1 and pg.locator(".rfz-trained").count() == 1
    text = section_text(pg)
    assert trained["weights_id"] in text and all(p in text for p in PHOTOS), text
    assert "centered square holding t% of the gradient mass" in text  # the metrics defined here
    # both maps, the last stage first
    options = pg.eval_on_selector_all(".rfz-trained-stage option", "os => os.map(o => o.textContent)")
    assert options == [p["node"] for p, _ in stages]
    wait_maps(pg)
    wait_stage(pg, trained, len(stages) - 1)
    check_maps_drawn(pg)
    # the picker switches both maps, forth and back
    for index in (0, 1, len(stages) - 1):
        pick_stage(pg, index)
        wait_stage(pg, trained, index)
    check_maps_drawn(pg)
    # zoom (and reset) one map: the other follows
    initial = pg.evaluate("k => document.querySelector('[data-rfz-trained=\"' + k + '\"]')._fullLayout.yaxis.range.slice()",
                          KEYS[0])
    assert initial[0] > initial[1]  # image rows run down
    for key, other in (KEYS, KEYS[::-1]):
        pg.evaluate("k => Plotly.relayout(document.querySelector('[data-rfz-trained=\"' + k + '\"]'),"
                    " {'xaxis.range': [60, 120], 'yaxis.range': [130, 70]})", key)
        pg.wait_for_function("""k => { const l = document.querySelector('[data-rfz-trained="' + k + '"]').layout;
            return l.xaxis.range[0] === 60 && l.xaxis.range[1] === 120 && l.yaxis.range[0] === 130; }""",
                             arg=other, timeout=5000)
    # double-clicks return to the first view, rows still running down (plotly's default, reset
    # then autoscale, turned the map upside down on the second)
    for _ in range(2):
        pg.locator(f'[data-rfz-trained="{KEYS[0]}"] .nsewdrag').first.dblclick()
        pg.wait_for_timeout(300)
    pg.wait_for_function("""([k, y0]) => { const r = document.querySelector('[data-rfz-trained="' + k + '"]')._fullLayout.yaxis.range;
        return Math.abs(r[0] - y0) < 1e-6 && r[0] > r[1]; }""", arg=[KEYS[0], initial[0]], timeout=5000)
    # the metrics table: two rows a stage, the file's numbers
    rows = metrics_rows(pg)
    assert rows is not None and len(rows) == 2 * len(stages)
    for k, (pre, rand) in enumerate(stages):
        for row, label, st in ((rows[2 * k], "pretrained", pre), (rows[2 * k + 1], "random init", rand)):
            assert row[0] == (st["node"] if label == "pretrained" else ""), row
            assert row[1] == label, row
            assert same(row[2], st["erf_trf_ratio"]), (row, st["erf_trf_ratio"])
            for col, r in zip(row[3:7], ("20", "30", "50", "99"), strict=True):
                assert same(col, st["radius"][r]), (row, st["radius"])
            std = row[7].split("×")
            assert len(std) == len(st["std"]) and all(same(c, v) for c, v in zip(std, st["std"], strict=True)), row
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator(".rfz-trained").screenshot(path=str(ARTIFACTS / "trained-squeezenet-light.png"))


def test_stage_picked_while_plotly_loads(pg, trained_site) -> None:  # type: ignore[no-untyped-def]
    """A stage picked before the maps can be drawn is the one they show when they are."""
    url, trained = trained_site
    held: list[Any] = []
    pg.route("**/plotly-*.js", lambda r: held.append(r))  # page routes go before the context's
    pg.goto(url + SQUEEZENET, wait_until="domcontentloaded")
    for _ in range(100):
        if held:
            break
        pg.wait_for_timeout(50)
    assert held, "plotly.js was not requested"
    pick_stage(pg, 0)
    held[0].continue_()
    wait_maps(pg)
    wait_stage(pg, trained, 0)


def test_only_on_the_page_with_a_trained_file(pg, trained_site) -> None:  # type: ignore[no-untyped-def]
    url, _ = trained_site
    for path in WITHOUT:
        pg.goto(url + path)
        pg.wait_for_selector("[data-rfz-layers=ready]", timeout=15000)
        assert pg.locator(HEADING).count() == 0 and pg.locator(".rfz-trained, [data-rfz-trained]").count() == 0
        assert pg.locator("a[href='#trained-vs-random-init-erf']").count() == 0  # nor in the contents


def test_after_instant_navigation_and_in_the_dark_scheme(pg, trained_site) -> None:  # type: ignore[no-untyped-def]
    url, trained = trained_site
    stages = pairs(trained)
    pg.goto(url + "catalog/")
    pg.evaluate("window.__rfzMarker = 1")
    pg.click("#rfz-models a:text-is('squeezenet1_1')")
    pg.wait_for_url("**/" + SQUEEZENET)
    wait_maps(pg)
    assert pg.evaluate("window.__rfzMarker") == 1, "navigation was a full page load"
    wait_stage(pg, trained, len(stages) - 1)
    pick_stage(pg, 1)
    wait_stage(pg, trained, 1)
    # away to a page without the section and back (instant navigation both ways)
    pg.click("a:text-is('catalog')")
    pg.wait_for_url("**/catalog/")
    pg.click("#rfz-models a:text-is('resnet50')")
    pg.wait_for_url("**/" + WITHOUT[0])
    pg.wait_for_selector("[data-rfz-layers=ready]", timeout=15000)
    assert pg.locator(".rfz-trained").count() == 0
    pg.go_back()
    pg.go_back()
    pg.wait_for_url("**/" + SQUEEZENET)
    wait_maps(pg)
    stage = int(pg.eval_on_selector(".rfz-trained-stage", "s => s.value"))
    wait_stage(pg, trained, stage)  # the maps show the stage the picker shows
    assert pg.evaluate("window.__rfzMarker") == 1
    # the dark scheme: both maps redrawn in its colours, the picked stage kept
    pick_stage(pg, 2)
    wait_stage(pg, trained, 2)
    pg.click("label.md-header__button[for^='__palette']:visible")
    pg.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    wait_maps(pg, "slate")
    wait_stage(pg, trained, 2)
    fg = pg.evaluate("getComputedStyle(document.body).getPropertyValue('--md-default-fg-color').trim()")
    colors = pg.evaluate("""() => fetch(document.querySelector('.rfz-model').getAttribute('data-rfz-data'))
        .then(r => r.arrayBuffer())
        .then(b => new Response(new Blob([b]).stream().pipeThrough(new DecompressionStream('gzip'))).json())
        .then(d => [d.colors, d.charts.trained.pretrained[2].layout.shapes.find(s => s.name === 'analytic RF').line.color])""")
    dark_of, light_box = colors
    assert light_box in dark_of
    for key in KEYS:
        layout = pg.eval_on_selector(f"[data-rfz-trained='{key}']", "e => e.layout")
        assert layout["font"]["color"] == fg
        box = next(s for s in layout["shapes"] if s.get("name") == "analytic RF")
        assert box["line"]["color"] == dark_of[light_box], (key, box["line"])
    check_maps_drawn(pg)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator(".rfz-trained").screenshot(path=str(ARTIFACTS / "trained-squeezenet-dark.png"))


def training_chart(pg):  # type: ignore[no-untyped-def]
    pg.wait_for_function("(() => { const e = document.getElementById('rfz-method-erf-training');"
                         " return e && e.getAttribute('data-rfz-rendered'); })()", timeout=15000)
    return pg.eval_on_selector("#rfz-method-erf-training", """e => e.data.map(t => ({name: t.name,
        x: t.x, y: t.y, text: t.text}))""")


def test_method_page_training_chart(pg, trained_site) -> None:  # type: ignore[no-untyped-def]
    url, trained = trained_site
    pg.goto(url + "method/")
    traces = training_chart(pg)
    points = next(t for t in traces if t["name"] == "stage")
    stages = pairs(trained)
    assert len(points["x"]) == len(stages)
    for (pre, rand), x, y, text in zip(stages, points["x"], points["y"], points["text"], strict=True):
        assert MODEL in text and pre["node"] in text
        # ERF / RF from the stored std and RF box: the file's ratios up to the std's rounding
        assert x == pytest.approx(rand["erf_trf_ratio"], rel=0.02) and y == pytest.approx(pre["erf_trf_ratio"], rel=0.02)
    assert pg.locator("#rfz-method-erf-training .scatterlayer .point").count() >= len(stages)
    assert "none yet" not in pg.inner_text("article")


def test_method_page_without_trained_files(pg, site_url: str) -> None:  # type: ignore[no-untyped-def]
    pg.goto(site_url + "method/")
    section = pg.evaluate("""() => { let out = '', e = document.getElementById('erf-training');
        for (e = e.nextElementSibling; e && !/^H[1-3]$/.test(e.tagName); e = e.nextElementSibling) out += e.innerText;
        return out; }""")
    assert "none yet in this catalog" in section, section
    assert pg.locator("#rfz-method-erf-training").count() == 0

"""The unit picker ("What a unit sees") in real headless Chromium: the box the page computes for
units picked with the mouse (corners and center of the summary layer and of an early layer)
equals the engine's `Analysis.unit_box`; the padding count and its hatched region; the arrow
keys; the ERF heat map of a default-catalog page where it belongs; position-dependent and
global layers say what the box is; after upsampling, the boxes the page decodes from the
engine's own document equal `unit_box` at the corners, the center and between them; the photos
load from the site itself."""

from __future__ import annotations

import functools
import json
import math
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sitebuild import ARTIFACTS, FIXTURE_DATA, build_site
from test_browser import CHROMIUM, browser, page  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]
RESNET = "models/torchvision/resnet50/"
SUMMARY, EARLY = "layer4.2.relu_2", "layer1.0.conv2"
FCN = "models/torchvision/fcn_resnet50/"
FCN_SIZE = (64, 48)  # not square: an axis mixed up in the page data shows


@pytest.fixture(scope="module")
def resnet() -> Any:
    rfzoo = pytest.importorskip("rfzoo")
    return rfzoo.analyze("torchvision/resnet50", input_size=224)


def doc(ref: str) -> dict[str, Any]:
    return json.loads((FIXTURE_DATA / "models" / f"{ref}.json").read_text())


def wait_picker(pg) -> None:  # type: ignore[no-untyped-def]
    pg.wait_for_selector(".rfz-units[data-rfz-units-ready]", timeout=15000)


def choose_layer(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    value = pg.eval_on_selector(".rfz-units-layer", """(s, name) => {
        const o = [...s.options].find(o => o.textContent.startsWith(name + " —")); return o ? o.value : null; }""", name)
    assert value is not None, f"{name} is not in the layer select"
    pg.select_option(".rfz-units-layer", value)
    assert pg.get_attribute(".rfz-units", "data-layer") == name


def hover_unit(pg, unit: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """Move the real mouse over the unit's center (page data -> SVG user space -> screen)."""
    pg.eval_on_selector(".rfz-units-stage", "e => e.scrollIntoView({block: 'center'})")
    x, y = pg.evaluate("""([i, j]) => {
        const root = document.querySelector('.rfz-units'), svg = root.querySelector('svg');
        const layer = root.getAttribute('data-layer');
        return fetch(document.querySelector('.rfz-model').getAttribute('data-rfz-data')).then(r => r.arrayBuffer())
          .then(b => new Response(new Blob([b]).stream().pipeThrough(new DecompressionStream('gzip'))).json())
          .then(d => { const L = d.layers, k = L.name.indexOf(layer);
            const p = svg.createSVGPoint();
            p.x = L.center[k][1] + j * L.jump[k][1] + 0.5; p.y = L.center[k][0] + i * L.jump[k][0] + 0.5;
            const s = p.matrixTransform(svg.getScreenCTM()); return [s.x, s.y]; }); }""", list(unit))
    pg.mouse.move(x, y)
    pg.wait_for_function("u => document.querySelector('.rfz-units').getAttribute('data-unit') === u", arg=f"{unit[0]},{unit[1]}")


def shown_box(pg) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    a, b, c, d = (int(v) for v in pg.get_attribute(".rfz-units", "data-box").split(","))
    return [(a, b), (c, d)]


def shot(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    """A screenshot of the picker alone (tests/artifacts/, gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator(".rfz-units").screenshot(path=str(ARTIFACTS / f"{name}.png"))


def padding(box: list[tuple[int, int]], size: tuple[int, int]) -> int:
    area, inside = 1, 1
    for (lo, hi), n in zip(box, size, strict=True):
        area *= hi - lo + 1
        inside *= max(0, min(hi, n - 1) - max(lo, 0) + 1)
    return area - inside


def test_picked_boxes_equal_engine_unit_box(page, site_url: str, resnet: Any) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + RESNET)
    wait_picker(page)
    assert page.get_attribute(".rfz-units", "data-layer") == SUMMARY  # the summary node by default
    for name in (SUMMARY, EARLY):
        choose_layer(page, name)
        h, w = resnet.layer(name).output_size
        for unit in [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, w // 2)]:
            hover_unit(page, unit)
            expected = [tuple(ax) for ax in resnet.unit_box(name, unit)]
            assert shown_box(page) == expected, (name, unit)
            pad = padding(expected, (224, 224))
            assert int(page.get_attribute(".rfz-units", "data-padding")) == pad
            (a, b), (c, d) = expected
            assert page.inner_text(".rfz-units-readout") == (
                f"unit (row, col) = ({unit[0]}, {unit[1]}): rows {a}..{b}, cols {c}..{d} ({pad} px in padding)")
            assert page.get_attribute(".rfz-units", "data-exact") == "1"
    shot(page, "units-resnet50-early")


def test_padding_region_and_keyboard(page, site_url: str, resnet: Any) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + RESNET)
    wait_picker(page)
    choose_layer(page, EARLY)  # 56x56 units, RF 19, jump 4: unit (0, 0) sees rows and cols -9..9
    page.focus(".rfz-units-stage")
    page.keyboard.press("PageUp")
    page.keyboard.press("Home")
    assert page.get_attribute(".rfz-units", "data-unit") == "0,0"
    assert shown_box(page) == [(-9, 9), (-9, 9)]
    assert page.get_attribute(".rfz-units", "data-padding") == str(19 * 19 - 10 * 10)
    # the hatched region is the box minus the image: an outer and an inner (hole) rectangle
    d = page.get_attribute(".rfz-units-pad", "d")
    assert d.count("M") == 2 and "M-9 -9" in d and "M0 0" in d
    # its painted area lies outside the photo: the hole is exactly the image part of the box
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert page.get_attribute(".rfz-units", "data-unit") == "1,1"
    assert shown_box(page) == [tuple(ax) for ax in resnet.unit_box(EARLY, (1, 1))]
    for _ in range(3):
        page.keyboard.press("Shift+ArrowRight")  # 5 units a press
    assert page.get_attribute(".rfz-units", "data-unit") == "1,16"
    page.keyboard.press("End")
    page.keyboard.press("PageDown")
    assert page.get_attribute(".rfz-units", "data-unit") == "55,55"
    assert shown_box(page) == [tuple(ax) for ax in resnet.unit_box(EARLY, (55, 55))]
    page.keyboard.press("ArrowRight")  # clamped at the edge
    assert page.get_attribute(".rfz-units", "data-unit") == "55,55"
    # an interior unit reads no padding: the hatched path is the box with the same box as hole
    for _ in range(10):
        page.keyboard.press("Shift+ArrowUp")
        page.keyboard.press("Shift+ArrowLeft")
    assert page.get_attribute(".rfz-units", "data-unit") == "5,5"
    assert page.get_attribute(".rfz-units", "data-padding") == "0"
    # the neighbours' centers: 8 dots one jump apart around the unit
    assert page.locator(".rfz-units-nb").count() == 8
    centers = page.eval_on_selector_all(".rfz-units-nb, .rfz-units-me", "cs => cs.map(c => [+c.getAttribute('cx'), +c.getAttribute('cy')])")
    xs, ys = sorted({x for x, _ in centers}), sorted({y for _, y in centers})
    assert [b - a for a, b in zip(xs, xs[1:], strict=False)] == [4, 4] and [b - a for a, b in zip(ys, ys[1:], strict=False)] == [4, 4]
    shot(page, "units-resnet50-keyboard")


def test_erf_overlay_on_a_default_catalog_page(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    d = doc("torchvision/resnet50")
    stages = {st["node"]: st for st in d["erf"]["stages"]}
    page.goto(site_url + RESNET)
    wait_picker(page)
    assert page.get_attribute(".rfz-units", "data-erf") == "shown"  # the summary node is an ERF stage
    heat = page.locator(".rfz-units-heat")
    assert (heat.get_attribute("href") or "").startswith("data:image/png")
    assert "ERF heat map" in page.inner_text(".rfz-units-note")
    # placed by the map's origin and scale, moved from the probe's unit to the chosen unit
    lay = next(x for x in d["layers"] if x["name"] == SUMMARY)
    hm, size = stages[SUMMARY]["heatmap"], d["erf"]["input_size"]
    probe = [round(((n - 1) / 2 - c) / j) for n, c, j in zip(size, lay["center"], lay["jump"], strict=True)]
    unit = [int(v) for v in page.get_attribute(".rfz-units", "data-unit").split(",")]
    x = hm["origin"][1] + (unit[1] - probe[1]) * lay["jump"][1]
    y = hm["origin"][0] + (unit[0] - probe[0]) * lay["jump"][0]
    assert float(heat.get_attribute("x")) == x and float(heat.get_attribute("y")) == y
    assert float(heat.get_attribute("width")) == hm["shape"][1] * hm["scale"]
    # the map's peak sits inside the chosen unit's box, and the overlay is drawn over the photo
    box = shown_box(page)
    assert box[1][0] <= x + hm["shape"][1] * hm["scale"] / 2 <= box[1][1]
    rect = heat.bounding_box()
    assert rect and rect["width"] > 50 and rect["height"] > 50
    shot(page, "units-resnet50-erf")
    # an early layer that is not an ERF stage has none; the checkbox hides it
    choose_layer(page, EARLY)
    assert page.get_attribute(".rfz-units", "data-erf") is None
    assert page.get_attribute(".rfz-units-heat", "display") == "none"
    choose_layer(page, "layer1.2.relu_2")
    assert page.get_attribute(".rfz-units", "data-erf") == "shown"
    page.uncheck(".rfz-units-erf")
    assert page.get_attribute(".rfz-units", "data-erf") is None


def test_position_dependent_and_global_layers_say_what_the_box_is(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + "models/torchvision/fcn_resnet50/")
    wait_picker(page)
    d = doc("torchvision/fcn_resnet50")
    assert page.get_attribute(".rfz-units", "data-layer") == d["summary"]["node"]
    assert page.get_attribute(".rfz-units", "data-exact") == "0"  # a document without unit_boxes
    note = page.inner_text(".rfz-units-note")
    assert "Position-dependent layer: box shown is the largest over positions; exact per-unit boxes are not in this catalog yet." in note
    (a, b), (c, e) = shown_box(page)
    assert [b - a + 1, e - c + 1] == d["summary"]["rf"]  # the largest RF, at the unit
    assert "lower bound" in note  # a partial model
    # a ViT: global from the first attention, the box is the local path; no ERF maps here
    page.goto(site_url + "models/timm/vit_base_patch16_224/")
    wait_picker(page)
    assert "the unit sees the whole input; the box is its local path" in page.inner_text(".rfz-units-note")
    assert page.locator(".rfz-units-erf").is_hidden()
    hover_unit(page, (13, 0))
    assert shown_box(page) == [(208, 223), (0, 15)]  # one 16-px patch
    assert page.get_attribute(".rfz-units", "data-padding") == "0"


def test_photos_load_from_the_site_and_switch(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + RESNET)
    wait_picker(page)
    urls = page.eval_on_selector_all(".rfz-units-photo option", "os => os.map(o => new URL(o.value, location.href).href)")
    assert len(urls) == 3
    for url in urls:
        assert url.startswith(site_url)
        resp = page.request.get(url)
        assert resp.ok and resp.headers["content-type"] == "image/jpeg" and len(resp.body()) < 80_000
    img = page.locator(".rfz-units-svg image").first
    first = img.get_attribute("href")
    assert first in urls
    other = next(i for i, u in enumerate(urls) if u != first)
    page.select_option(".rfz-units-photo", index=other)
    assert img.get_attribute("href") == urls[other]
    # the picture is drawn: the photo's pixels are not the page background
    page.wait_for_function("""() => { const i = document.querySelector('.rfz-units-svg image');
        return i.getBBox().width > 0; }""")


def test_picker_after_instant_navigation(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + "catalog/")
    page.evaluate("window.__rfzMarker = 1")
    page.click("#rfz-models a:text-is('resnet50')")
    page.wait_for_url("**/" + RESNET)
    wait_picker(page)
    assert page.evaluate("window.__rfzMarker") == 1, "navigation was a full page load"
    assert page.get_attribute(".rfz-units", "data-layer") == SUMMARY


def test_phone_tap_and_dark_scheme(browser, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(site_url + RESNET)
    wait_picker(pg)
    choose_layer(pg, EARLY)
    pg.eval_on_selector(".rfz-units-stage", "e => e.scrollIntoView({block: 'center'})")
    rect = pg.locator(".rfz-units-svg image").first.bounding_box()
    assert rect and rect["width"] > 200  # the photo fills the phone's width, not a thumbnail
    pg.touchscreen.tap(rect["x"] + 2, rect["y"] + 2)  # the top-left corner of the photo
    pg.wait_for_function("document.querySelector('.rfz-units').getAttribute('data-unit') === '0,0'")
    assert not pg.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    pg.click("label.md-header__button[for^='__palette']:visible")
    pg.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator(".rfz-units").screenshot(path=str(ARTIFACTS / "units-resnet50-phone-dark.png"))
    context.close()
    assert errors == []


def even_box(lay: Any, unit: tuple[int, int]) -> list[tuple[int, int]]:
    """The box of one RF moved one jump per unit: what a position-dependent layer's unit does
    not see."""
    out = []
    for ax, u in enumerate(unit):
        lo = math.floor(lay.center[ax] + u * lay.jump[ax] - (lay.rf[ax] - 1) / 2)
        out.append((lo, lo + lay.rf[ax] - 1))
    return out


@pytest.fixture(scope="module")
def fcn() -> Any:
    rfzoo = pytest.importorskip("rfzoo")
    return rfzoo.analyze("torchvision/fcn_resnet50", input_size=FCN_SIZE, allow_partial=True)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def engine_catalog(fcn: Any, data: Path) -> Path:
    """The fixture catalog with fcn_resnet50's document replaced by the engine's own (its exact
    per-unit boxes included), keeping the catalog's identity keys as the catalog build does."""
    shutil.copytree(FIXTURE_DATA, data, dirs_exist_ok=True)
    path = data / "models" / "torchvision" / "fcn_resnet50.json"
    old = json.loads(path.read_text())
    new = {**old, **fcn.to_dict(), "verification": None, "erf": None}
    for key in ("source", "name", "model", "family", "task", "links", "versions"):
        new[key] = old[key]
    path.write_text(json.dumps(new))
    return data


@pytest.fixture(scope="module")
def engine_site(fcn: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """That catalog's site, built and served on a port of its own (the shared site stays the
    fixture catalog's)."""
    data = engine_catalog(fcn, tmp_path_factory.mktemp("engine-data"))
    out = tmp_path_factory.mktemp("engine-site")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    url = f"http://127.0.0.1:{srv.server_address[1]}/"
    build_site(data, out, {"RFZOO_SITE_URL": url})
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield url
    srv.shutdown()
    srv.server_close()


def test_boxes_after_upsampling_are_the_engines(page, engine_site: str, fcn: Any) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The final bilinear resize (x8, align_corners False): boxes move 8 pixels every 8 units
    (2 at the border), not one jump per unit; the page shows each unit's own, as it does on a
    layer before the resize."""
    pos_dep = [lay.name for lay in fcn.layers if lay.position_dependent]
    assert pos_dep == ["interpolate"]
    page.goto(engine_site + FCN)
    wait_picker(page)
    before = "backbone.layer4.2.relu_2"  # stride 8, RF by the closed form
    for name in (*pos_dep, before):
        choose_layer(page, name)
        h, w = fcn.layer(name).output_size
        corners = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)]
        # a whole period of the resize past the center (fewer units on the small layer)
        between = list(dict.fromkeys((min(h - 1, h // 2 + d), min(w - 1, w // 2 + d)) for d in range(1, 9)))
        lay = fcn.layer(name)
        uneven = 0  # units whose box is not the layer's RF centred one jump per unit
        for unit in [*corners, (h // 2, w // 2), *between]:
            hover_unit(page, unit)
            expected = [tuple(ax) for ax in fcn.unit_box(name, unit)]
            assert shown_box(page) == expected, (name, unit)
            assert page.get_attribute(".rfz-units", "data-exact") == "1"
            assert int(page.get_attribute(".rfz-units", "data-padding")) == padding(expected, FCN_SIZE)
            assert "largest over positions" not in page.inner_text(".rfz-units-readout")
            uneven += expected != even_box(lay, unit)
        note = page.inner_text(".rfz-units-note")
        if name in pos_dep:
            assert uneven >= 8  # no formula of one RF and one jump gives these boxes
            assert "the box shown is this unit's own" in note
            shot(page, "units-fcn-resnet50-interpolate")
        else:
            assert uneven == 0 and "Position-dependent" not in note

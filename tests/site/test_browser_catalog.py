"""The catalog side of the site in headless Chromium, on a catalog of zoo size.

The data directory is made here: the fixture catalog's documents, one more model outside the
default catalog (a copy of ResNet-50's document as timm/convnext_base), and 1,500 synthetic
index rows (whole-input, partial, video and test-net rows among them). The site is built
WITHOUT RFZOO_SITE_URL, as a local build is: instant navigation must work on whatever port
serves it.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import QuietHandler
from sitebuild import ARTIFACTS, FIXTURE_DATA, build_site
from test_browser import ARGS, CHROMIUM, pytestmark  # noqa: F401  (same markers and skip)

N_SYNTHETIC = 1500
N_FAMILY = 45
# search's near misses: the bare name in the other library, and longer names that a prefix query
# for "resnet50" matches with rarer (so higher-scoring) words
NEAR_NAMES = ("resnet50", "resnet50t", "resnet50d")


def make_data(root: Path) -> None:
    shutil.copytree(FIXTURE_DATA / "models", root / "models")
    doc = json.loads((FIXTURE_DATA / "models/torchvision/resnet50.json").read_text())
    doc.update(source="timm", name="convnext_base", model="timm/convnext_base", family="convnext")
    (root / "models/timm/convnext_base.json").write_text(json.dumps(doc))
    rows = json.loads((FIXTURE_DATA / "index.json").read_text())
    rows.append({**rows[-1], "source": "timm", "name": "convnext_base", "family": "convnext"})
    names = [f"resnet_copy_{i:02d}" for i in range(N_FAMILY)] + list(NEAR_NAMES)
    for name in names:  # a family larger than any chart cap: every member is drawn
        doc.update(name=name, model=f"timm/{name}", family="resnet")
        (root / f"models/timm/{name}.json").write_text(json.dumps(doc))
        rows.append({**rows[-1], "name": name, "family": "resnet"})
    for i in range(N_SYNTHETIC):
        kind = i % 5
        row = {"source": "timm", "name": f"zz_net_{i:04d}", "family": f"fam{i % 40}", "task": "classification",
               "input_size": [224, 224], "rf": [50 + i, 50 + i], "jump": [32, 32], "rf_ratio": round((50 + i) / 224, 4),
               "params": 1000000 + i, "status": "exact", "reason": "", "verified": None,
               "whole_input_from": "", "rf_ratio_time": None}
        if kind == 1:
            row["whole_input_from"] = "blocks.0.attn.softmax"
            row["rf"] = [16, 16]
        elif kind == 2:
            row.update(status="partial", reason="part of it is not analyzed")
        elif kind == 3:
            row.update(task="video", input_size=[16, 112, 112], rf=[7, 60 + i, 60 + i], jump=[1, 16, 16],
                       rf_ratio_time=0.4375)
        if i < 18:
            row.update(name=f"test_net_{i}", family="test")
        rows.append(row)
    (root / "index.json").write_text(json.dumps(rows))


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
    make_data(data)
    out = tmp_path_factory.mktemp("bigsite")
    build_site(data, out, {"RFZOO_SITE_URL": ""})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def new_page(browser, width: int = 1366, height: int = 900, scheme: str = "light"):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.errors = errors  # type: ignore[attr-defined]
    return pg


def shown(pg) -> int:  # type: ignore[no-untyped-def]
    return int(pg.inner_text(".rfz-filters .rfz-count").split()[0])


def wait_ready(pg) -> None:  # type: ignore[no-untyped-def]
    pg.wait_for_selector(".rfz-filters .rfz-count:not(:empty)", timeout=15000)


def test_catalog_interactive_quickly_and_row_opens_its_page(browser, big_site: str) -> None:  # type: ignore[no-untyped-def]
    pg = new_page(browser)
    t0 = time.perf_counter()
    pg.goto(big_site + "catalog/", wait_until="commit")
    wait_ready(pg)
    pg.fill(".rfz-filter", "resnet50")
    pg.wait_for_function(f"document.querySelectorAll('#rfz-models tbody tr').length === {2 + len(NEAR_NAMES)}")
    elapsed = time.perf_counter() - t0
    print(f"catalog: navigation to a responding filter in {elapsed:.2f} s")
    assert elapsed < 4, elapsed  # 2 s is the goal on an idle machine; CI shares its cores
    pg.evaluate("window.__rfzMarker = 1")
    pg.click("#rfz-models a[href$='torchvision/resnet50/']")
    pg.wait_for_url("**/models/torchvision/resnet50/")
    assert pg.evaluate("window.__rfzMarker") == 1, "a full page load: instant navigation failed on this port"
    assert pg.errors == []


def test_test_nets_apart_and_whole_input_sorts_above_local(browser, big_site: str) -> None:  # type: ignore[no-untyped-def]
    pg = new_page(browser)
    pg.goto(big_site + "catalog/")
    wait_ready(pg)
    total = N_SYNTHETIC - 18 + 6 + N_FAMILY + len(NEAR_NAMES)
    assert pg.inner_text(".rfz-count") == f"{total} of {total} shown"
    assert pg.locator("#rfz-test-nets tbody tr").count() == 18
    pg.click("#rfz-models th[data-key=rf]")
    pg.click("#rfz-models th[data-key=rf]")  # descending
    first = pg.inner_text("#rfz-models tbody tr:first-child td:nth-child(6)")
    assert first.startswith("whole input"), first
    assert "sort=rf" in pg.url and "dir=desc" in pg.url
    pg.fill(".rfz-filter", "zz_net_0022")  # a partial model: a lower bound
    pg.wait_for_function("document.querySelectorAll('#rfz-models tbody tr').length === 1")
    assert pg.inner_text("#rfz-models tbody td:nth-child(6)").startswith("≥ 72×72")
    pg.fill(".rfz-filter", "zz_net_0023")  # video: spatial RF, time apart
    pg.wait_for_function("document.querySelector('#rfz-models tbody td').textContent === 'zz_net_0023'")
    assert pg.inner_text("#rfz-models tbody td:nth-child(6)").split() == ["83×83", "time", "7"]
    # scrolling near the end draws more rows
    pg.fill(".rfz-filter", "")
    n0 = pg.locator("#rfz-models tbody tr").count()
    assert n0 < total
    pg.locator(".rfz-more").scroll_into_view_if_needed()
    pg.wait_for_function(f"document.querySelectorAll('#rfz-models tbody tr').length > {n0}")


def test_filter_kept_across_back_navigation_and_reload(browser, big_site: str) -> None:  # type: ignore[no-untyped-def]
    pg = new_page(browser)
    pg.goto(big_site + "catalog/")
    wait_ready(pg)
    pg.fill(".rfz-filter", "resnet")
    pg.select_option('select[data-col="source"]', "torchvision")
    pg.click("#rfz-models th[data-key=rf]")
    assert "q=resnet" in pg.url and "source=torchvision" in pg.url and "sort=rf" in pg.url
    assert shown(pg) == 2
    pg.evaluate("window.__rfzMarker = 1")
    pg.click("#rfz-models a:text-is('fcn_resnet50')")
    pg.wait_for_url("**/models/torchvision/fcn_resnet50/")
    pg.go_back()
    pg.wait_for_url("**/catalog/?*")
    wait_ready(pg)
    pg.wait_for_function("document.querySelector('.rfz-filter').value === 'resnet'")
    assert shown(pg) == 2
    assert pg.input_value('select[data-col="source"]') == "torchvision"
    assert pg.get_attribute("#rfz-models th[data-key=rf]", "aria-sort") == "ascending"
    assert pg.evaluate("window.__rfzMarker") == 1
    pg.reload()
    wait_ready(pg)
    assert pg.input_value(".rfz-filter") == "resnet" and shown(pg) == 2
    names = pg.eval_on_selector_all("#rfz-models tbody td:first-child", "tds => tds.map(t => t.textContent)")
    assert names == ["fcn_resnet50", "resnet50"]  # 427 (with the fixture's ordering) by RF ascending
    assert pg.errors == []


@pytest.mark.parametrize("width", [1366, 1920, 390])
def test_table_fits_and_header_sticks(browser, big_site: str, width: int) -> None:  # type: ignore[no-untyped-def]
    pg = new_page(browser, width=width)
    pg.goto(big_site + "catalog/")
    wait_ready(pg)
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    box = pg.eval_on_selector("#rfz-models", "t => t.getBoundingClientRect().right")
    assert box <= width
    visible = pg.eval_on_selector_all(
        "#rfz-models th", "ths => ths.filter(t => t.offsetParent !== null).map(t => t.dataset.key)")
    for key in ("model", "rf", "status"):
        assert key in visible, (width, visible)
    if width >= 1366:
        assert "verified" in visible and "jump" in visible
    pg.evaluate("window.scrollTo(0, 2500)")
    pg.wait_for_timeout(100)
    top = pg.eval_on_selector("#rfz-models th[data-key=rf]", "t => t.getBoundingClientRect().top")
    header = pg.eval_on_selector(".md-header", "h => h.getBoundingClientRect().bottom")
    assert abs(top - header) < 2, (top, header)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"catalog-{width}.png"))


def test_compare_any_model_and_unknown_names(browser, big_site: str) -> None:  # type: ignore[no-untyped-def]
    pg = new_page(browser)
    pg.goto(big_site + "compare/#timm/convnext_base,xyz")
    pg.wait_for_selector("#rfz-compare-chart[data-rfz-rendered]")
    assert pg.locator("#rfz-compare-chart .scatterlayer .trace").count() == 1
    assert pg.inner_text(".rfz-compare-error") == "unknown model: xyz"
    pg.fill(".rfz-compare-input", "nope_net")
    pg.press(".rfz-compare-input", "Enter")
    assert "unknown model: nope_net" in pg.inner_text(".rfz-compare-error")
    pg.fill(".rfz-compare-input", "resnet50")
    pg.press(".rfz-compare-input", "Enter")
    pg.wait_for_function("document.querySelectorAll('#rfz-compare-chart .scatterlayer .trace').length == 2")
    assert "torchvision/resnet50" in pg.evaluate("decodeURIComponent(location.hash)")
    assert pg.errors == [], pg.errors


def test_family_chart_draws_every_member(browser, big_site: str) -> None:  # type: ignore[no-untyped-def]
    pg = new_page(browser)
    pg.goto(big_site + "families/resnet/")
    pg.wait_for_selector(".rfz-curves[data-rfz-rendered]", timeout=15000)
    n = pg.locator(".rfz-curves .scatterlayer .trace").count()
    assert n == 1 + N_FAMILY + len(NEAR_NAMES)  # resnet50, the copies and timm's near names (resnet18 has no document here)
    assert pg.errors == []


def test_search_ranks_exact_model_name_first(browser, big_site: str) -> None:  # type: ignore[no-untyped-def]
    # lunr alone ranks resnet50t and resnet50d above resnet50 (each query word is a prefix, rarer
    # words score higher): rfzoo-search.js puts the pages the query names exactly first
    pg = new_page(browser)
    pg.goto(big_site)
    for query, page in (("resnet50", "models/torchvision/resnet50/"),  # a bare name: torchvision's
                        ("timm/resnet50", "models/timm/resnet50/"),
                        ("TorchVision/ResNet50", "models/torchvision/resnet50/"),
                        ("resnet50t", "models/timm/resnet50t/"),
                        ("vit_base_patch16_224", "models/timm/vit_base_patch16_224/"),
                        ("convnext_base", "models/timm/convnext_base/")):
        pg.click(".md-search__input")
        pg.fill(".md-search__input", "")
        pg.locator(".md-search__input").press_sequentially(query, delay=20)
        pg.wait_for_selector(".md-search-result__item a", timeout=15000)
        pg.wait_for_timeout(300)
        first = pg.eval_on_selector(".md-search-result__item a", "a => a.href")
        assert first.split("#")[0].split("?")[0].endswith(page), (query, first)
        text = pg.inner_text(".md-search-result__list")
        assert "field1" not in text and "pxJump" not in text, text[:300]
        pg.keyboard.press("Escape")


CONTRAST_JS = """() => {
  function rgb(c) { const m = c.match(/[\\d.]+/g).map(Number); return m.length > 3 ? m : m.concat([1]); }
  function lum(c) { return 0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2]); }
  function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
  function bg(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c[3] > 0.5) return c;
    }
    return rgb(getComputedStyle(document.body).backgroundColor);
  }
  const out = [];
  for (const sel of [".rfz-ok", ".rfz-bad", ".rfz-muted", ".rfz-sub", ".rfz-count", ".md-typeset a", ".rfz-status"]) {
    const el = document.querySelector(sel);
    if (!el) continue;
    const f = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    out.push([sel, (Math.max(f, b) + 0.05) / (Math.min(f, b) + 0.05)]);
  }
  return out;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_ui_contrast(browser, big_site: str, scheme: str) -> None:  # type: ignore[no-untyped-def]
    pg = new_page(browser, scheme=scheme)
    pg.goto(big_site + "catalog/?verified=disagrees")
    wait_ready(pg)
    if scheme == "dark":
        pg.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
    pg.select_option('select[data-col="verified"]', "")
    ratios = dict(pg.evaluate(CONTRAST_JS))
    pg.goto(big_site + "catalog/?verified=disagrees")
    wait_ready(pg)
    if scheme == "dark":
        pg.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
    ratios.update(dict(pg.evaluate(CONTRAST_JS)))
    low = {k: round(v, 2) for k, v in ratios.items() if v < 4.5}
    assert ".rfz-bad" in ratios and ".md-typeset a" in ratios
    assert low == {}, f"{scheme}: contrast below 4.5:1: {low}"

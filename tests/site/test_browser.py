"""The built site in real headless Chromium (Debian's `chromium`, driven by Playwright).

Screenshots go to tests/artifacts/ (gitignored). Every request is intercepted: anything
that is not on 127.0.0.1 is recorded and aborted, and the test fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sitebuild import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    # scripts/test.sh installs chromium and sets RFZOO_REQUIRE_BROWSER: there, a missing
    # browser is a failure, not a skip that could hide a broken site.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("RFZOO_REQUIRE_BROWSER"),
        reason="needs Debian's chromium: apt-get install -y chromium",
    ),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class Watch:
    """Console errors, page errors and off-host requests seen by one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []

    def check(self) -> None:
        assert self.foreign == [], f"requests left localhost: {self.foreign}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, site_url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    watch = Watch()

    def route(r) -> None:  # type: ignore[no-untyped-def]
        if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            watch.foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: watch.errors.append(str(e)))
    pg.watch = watch  # type: ignore[attr-defined]
    yield pg
    watch.check()
    context.close()


def shot(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


CHARTS = ".rfz-chart, .rfz-mchart"  # static pages' figures; model pages' charts (from the page data)


def wait_charts(pg, n_min: int, scheme: str | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    """Wait until at least n_min charts have rendered (for `scheme`), return their boxes."""
    attr = "[data-rfz-rendered]" if scheme is None else f'[data-rfz-rendered="{scheme}"]'
    sel = ", ".join(c.strip() + attr for c in CHARTS.split(","))
    pg.wait_for_function(f"document.querySelectorAll('{sel}').length >= {n_min}", timeout=15000)
    return pg.eval_on_selector_all(CHARTS, """els => els.map(e => ({
        id: e.id || e.dataset.rfzChart, w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height,
        svg: e.querySelectorAll('.main-svg').length, rendered: e.getAttribute('data-rfz-rendered')}))""")


def assert_drawn(charts: list[dict]) -> None:
    for c in charts:
        assert c["svg"] > 0 and c["w"] > 100 and c["h"] > 100, c


def test_index_loads_sorts_filters(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site_url + "catalog/")
    rows = page.locator("#rfz-models tbody tr")
    assert rows.count() == 5
    names = lambda: page.eval_on_selector_all(  # noqa: E731
        "#rfz-models tbody tr:not([hidden]) td:first-child", "tds => tds.map(t => t.textContent)")
    rf_header = page.locator("#rfz-models th", has_text="RF").first
    rf_header.click()
    assert names()[:2] == ["vit_base_patch16_224", "fcn_resnet50"]  # ascending RF, empties last
    assert names()[-1] == "tnt_s_patch16_224"
    rf_header.click()
    assert names()[0] == "resnet18"  # 435 > 427
    page.fill(".rfz-filters .rfz-filter", "resnet")
    assert names() == ["resnet18", "resnet50", "fcn_resnet50"]  # name or family matches, RF order
    page.fill(".rfz-filters .rfz-filter", "")
    page.select_option('select[data-col="status"]', "failed")
    assert names() == ["tnt_s_patch16_224"]
    page.select_option('select[data-col="status"]', "")
    page.select_option('select[data-col="verified"]', "disagrees")
    assert names() == ["vit_base_patch16_224"]
    assert "1 of 5 shown" in page.inner_text(".rfz-count")
    shot(page, "catalog-filtered")


def test_model_page_charts_render(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site_url + "models/torchvision/resnet50/")
    charts = wait_charts(page, 7)
    assert len(charts) == 7  # RF and jump, RF / input, border, 4 gradient maps
    assert_drawn(charts)
    # each chart fills its column (material's figures shrink to their content: a short caption
    # made the border chart and the gradient maps narrow strips)
    fill = page.eval_on_selector_all(".rfz-mchart", """els => els.map(e => {
        const fig = e.closest('figure'), box = fig.parentElement, grid = box.classList.contains('rfz-mgrid');
        const col = grid ? parseFloat(getComputedStyle(box).gridTemplateColumns) : box.getBoundingClientRect().width;
        return [e.dataset.rfzChart, e.getBoundingClientRect().width, col]; })""")
    assert all(w >= 0.95 * col for _, w, col in fill), fill
    # the ERF heat maps were decoded into real heat map layers
    assert page.locator(".rfz-mgrid .heatmaplayer image, .rfz-mgrid .hm image").count() >= 1
    # the per-layer table arrives with the page data; its filter works
    page.wait_for_selector("[data-rfz-layers=ready] table.rfz-layer-table tbody tr", timeout=15000)
    page.fill(".rfz-layers-filter", "layer4")
    visible = page.locator("table.rfz-layer-table tbody tr:not([hidden])").count()
    assert 0 < visible < 20
    shot(page, "model-resnet50")


def test_instant_navigation_then_charts(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site_url + "catalog/")
    page.evaluate("window.__rfzMarker = 1")  # survives only if no full page load happens
    page.click("#rfz-models a:text-is('vit_base_patch16_224')")
    page.wait_for_url("**/models/timm/vit_base_patch16_224/")
    # RF and jump, RF / input and 3 stage maps (no border chart: no unit reaches the border)
    charts = wait_charts(page, 5)
    assert len(charts) == 5
    assert page.evaluate("window.__rfzMarker") == 1, "navigation was a full page load"
    assert_drawn(charts)
    # the disagreement is drawn in red in its gradient map
    assert page.locator(".rfz-mgrid .rfz-bad").count() == 1
    # and back to the home page by the tab: the guide's figures render as well
    page.click("a.md-tabs__link:text-is('Home')")
    page.wait_for_url(site_url)
    # the URL changes before material swaps the content: wait until the model page's charts are gone
    page.wait_for_function("!document.querySelector('.rfz-mchart')", timeout=15000)
    assert_drawn(wait_charts(page, 3))
    assert page.evaluate("window.__rfzMarker") == 1
    shot(page, "home-after-instant-nav")


def test_dark_mode_rerenders(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site_url + "models/torchvision/resnet50/")
    wait_charts(page, 7, scheme="default")
    page.click("label.md-header__button[for^='__palette']:visible")
    charts = wait_charts(page, 7, scheme="slate")
    assert all(c["rendered"] == "slate" for c in charts)
    color = page.eval_on_selector(".rfz-mchart[data-rfz-chart='rf-depth'] .xtick text", "t => getComputedStyle(t).fill")
    assert color not in ("rgb(0, 0, 0)", "rgb(68, 68, 68)"), color  # light text on the dark theme
    shot(page, "model-resnet50-dark")


def test_search_finds_resnet50(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site_url)
    page.click(".md-search__input")
    search = page.locator(".md-search__input")
    search.press_sequentially("resnet50", delay=20)  # material searches on key events, not fill()
    result = page.locator(".md-search-result__item a[href*='models/torchvision/resnet50']").first
    result.wait_for(timeout=15000)
    search.fill("")
    search.press_sequentially("transformer", delay=20)
    page.locator(".md-search-result__item a[href*='vit_base_patch16_224']").first.wait_for(timeout=15000)
    shot(page, "search-transformer")


def test_compare_page(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site_url + "compare/#torchvision/resnet50")
    page.wait_for_selector("#rfz-compare-chart[data-rfz-rendered]")
    assert page.locator("#rfz-compare-chart .scatterlayer .trace").count() == 1
    page.fill(".rfz-compare-input", "fcn_resnet50")
    page.click(".rfz-compare-add")
    page.wait_for_function("document.querySelectorAll('#rfz-compare-chart .scatterlayer .trace').length == 2")
    assert "fcn_resnet50" in page.evaluate("location.hash")
    shot(page, "compare")


def test_phone_width(browser, site_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    pg = context.new_page()
    pg.goto(site_url + "models/torchvision/resnet50/")
    charts = wait_charts(pg, 7)
    assert_drawn(charts)
    assert all(c["w"] <= 390 for c in charts)
    pg.wait_for_selector("[data-rfz-layers=ready] table.rfz-layer-table tbody tr", timeout=15000)
    overflow = pg.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    assert not overflow, "the page scrolls sideways on a phone"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "model-resnet50-phone.png"))
    context.close()

"""Model pages in real headless Chromium: the lazily loaded layer table and its anchors, the
headline of a global model, lower bounds, chart contrast in both colour schemes, the heat
map's colour bar, phones. Reuses test_browser's page fixture (requests stay on localhost,
JavaScript errors fail the test)."""

from __future__ import annotations

import re

import pytest
from test_browser import ARTIFACTS, CHROMIUM, browser, page, shot  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]
RESNET = "models/torchvision/resnet50/"
LINE_CHARTS = ".rfz-mchart[data-rfz-chart='rf-depth'], .rfz-mchart[data-rfz-chart='rf-ratio'], .rfz-mchart[data-rfz-chart='border']"


def wait_table(pg) -> None:  # type: ignore[no-untyped-def]
    pg.wait_for_selector("[data-rfz-layers=ready] table.rfz-layer-table tbody tr", timeout=15000)


def wait_model_charts(pg, n: int, scheme: str) -> None:  # type: ignore[no-untyped-def]
    pg.wait_for_function(
        f"document.querySelectorAll('.rfz-mchart[data-rfz-rendered=\"{scheme}\"]').length >= {n}", timeout=15000)


def in_view(pg, selector: str) -> bool:  # type: ignore[no-untyped-def]
    return pg.eval_on_selector(selector, """e => { const r = e.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight; }""")


def test_layer_table_loads_and_anchor_highlights_row(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + RESNET + "#layer4.1.conv2")
    wait_table(page)
    assert page.locator("table.rfz-layer-table tbody tr").count() == 56
    page.wait_for_selector("tr.rfz-target")
    assert page.eval_on_selector("tr.rfz-target", "e => e.id") == "layer4.1.conv2"
    assert in_view(page, "tr.rfz-target")
    assert "56 of 56 shown" in page.inner_text(".rfz-layers-count")
    # a later hash change (a link to another row) moves the highlight
    page.click("a.rfz-layer-link[href$='#layer2.3.relu_2']")  # material makes hrefs absolute
    page.wait_for_function("document.querySelector('tr.rfz-target').id === 'layer2.3.relu_2'")
    assert page.locator("tr.rfz-target").count() == 1
    assert in_view(page, "tr.rfz-target")
    # each row's own link is its permanent anchor
    href = page.eval_on_selector("tr[id='layer2.3.relu_2'] a.rfz-row-link", "a => a.getAttribute('href')")
    assert href.endswith("#layer2.3.relu_2")
    # filter, then a hash to a filtered-out row clears the filter
    page.fill(".rfz-layers-filter", "layer1")
    assert page.locator("table.rfz-layer-table tbody tr:not([hidden])").count() < 20
    page.evaluate("location.hash = '#layer3.0.conv2'")
    page.wait_for_function("document.querySelector('tr.rfz-target').id === 'layer3.0.conv2'")
    assert page.eval_on_selector("tr.rfz-target", "e => !e.hidden")
    shot(page, "model-resnet50-anchor")


def test_table_after_instant_navigation(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The data URL is relative to the page: it resolves after material swaps the page in."""
    page.goto(site_url + "catalog/")
    page.evaluate("window.__rfzMarker = 1")
    page.click("#rfz-models a:text-is('resnet50')")
    page.wait_for_url("**/" + RESNET)
    wait_table(page)
    wait_model_charts(page, 7, "default")
    assert page.evaluate("window.__rfzMarker") == 1, "navigation was a full page load"


def test_global_model_headline_and_partial_bounds(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + "models/timm/vit_base_patch16_224/")
    head = page.inner_text(".rfz-headline")
    assert head.startswith("Receptive field: whole input (global from blocks.0.attn)"), head
    assert "local-path RF 16×16 px" in head
    wait_table(page)
    flags = page.inner_text("tr[id='blocks.0.attn'] td:last-child")
    assert "sees whole input" in flags
    page.goto(site_url + "models/torchvision/fcn_resnet50/")
    assert "Receptive field: ≥ 155×155 px" in page.inner_text(".rfz-headline")
    wait_table(page)
    rf_cells = page.eval_on_selector_all("table.rfz-layer-table tbody td:nth-child(6)",
                                         "tds => tds.map(t => t.textContent)")
    assert rf_cells and all(c.startswith("≥ ") for c in rf_cells), rf_cells
    assert "lower bound" in page.inner_text("table.rfz-layer-table th:nth-child(6)")


def rgb(text: str) -> tuple[float, float, float]:
    vals = [float(v) for v in re.findall(r"[\d.]+", text)[:3]]
    return vals[0], vals[1], vals[2]


def luminance(color: tuple[float, float, float]) -> float:
    c = [v / 255 for v in color]
    c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def line_contrasts(pg) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    """Every drawn line's stroke in the line charts against the page background."""
    bg = rgb(pg.evaluate("getComputedStyle(document.body).backgroundColor"))
    strokes = pg.eval_on_selector_all(
        ", ".join(f"{sel.strip()} .scatterlayer path.js-line" for sel in LINE_CHARTS.split(",")),
        "ps => ps.map(p => getComputedStyle(p).stroke).filter(s => s && s !== 'none')")
    assert strokes
    return [(s, contrast(rgb(s), bg)) for s in strokes]


def test_chart_lines_contrast_in_both_schemes(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + RESNET)
    wait_model_charts(page, 7, "default")
    low = [(s, round(c, 2)) for s, c in line_contrasts(page) if c < 3]
    assert low == [], f"light scheme: lines under 3:1 {low}"
    page.click("label.md-header__button[for^='__palette']:visible")
    wait_model_charts(page, 7, "slate")
    low = [(s, round(c, 2)) for s, c in line_contrasts(page) if c < 3]
    assert low == [], f"dark scheme: lines under 3:1 {low}"
    shot(page, "model-resnet50-dark-contrast")


def test_heat_map_has_colour_bar_and_charts_have_text(page, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url + RESNET)
    wait_model_charts(page, 7, "default")
    grad = ".rfz-mchart[data-rfz-chart='grad-0']"
    assert page.locator(f"{grad} .heatmaplayer image, {grad} .hm image").count() >= 1
    assert page.locator(f"{grad} .colorbar").count() == 1
    assert "% of peak" in page.eval_on_selector(f"{grad} .colorbar", "g => g.textContent")
    labels = page.eval_on_selector_all(".rfz-mchart", "els => els.map(e => [e.getAttribute('role'), e.getAttribute('aria-label')])")
    assert len(labels) == 7 and all(role == "img" and label and len(label) > 40 for role, label in labels)


def test_phone_hides_toolbar(browser, site_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(site_url + RESNET)
    wait_model_charts(pg, 7, "default")
    wait_table(pg)
    assert pg.locator(".rfz-mchart .modebar").count() == 0  # no toolbar over the legend
    assert not pg.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "model-resnet50-phone-charts.png"), full_page=True)
    context.close()
    assert errors == []


@pytest.mark.parametrize(("query", "first"), [("resnet50", RESNET),
                                              ("vit_base_patch16_224", "models/timm/vit_base_patch16_224/"),
                                              ("fcn_resnet50", "models/torchvision/fcn_resnet50/")])
def test_exact_model_name_searches_to_its_page_first(page, site_url: str, query: str, first: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(site_url)
    page.click(".md-search__input")
    page.locator(".md-search__input").press_sequentially(query, delay=20)  # material searches on key events
    page.locator(".md-search-result__item").first.wait_for(timeout=15000)
    page.wait_for_timeout(500)  # results of the last keystroke
    href = page.eval_on_selector(".md-search-result__item a", "a => a.href").split("?")[0]
    assert href.endswith(first), href

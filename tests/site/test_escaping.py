"""Hostile module names never become markup: a user's model can name a submodule almost
anything (torch refuses only "" and names with a dot), and those names reach the model
pages, the charts and `rfzoo show --format markdown`."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import markdown
import pytest
import yaml
from sitebuild import REPO, build_site

from rfzoo.catalog import naming
from rfzoo.cli import main
from rfzoo.markup import markdown_text
from rfzoo.site import group_pages, index_page, model_page
from rfzoo.site.catalog import row_from_doc
from rfzoo.site.paths import curve_json, model_md

# one Conv2d each, in this order: every name is a layer and ends a stage (a new resolution).
# Newlines and double quotes are not here: torch.fx cannot trace such module names, so they
# are tested in the reason texts and with the helpers alone.
NAMES = [
    "<img src=x onerror=alert(1)>",
    "a|b`c`*d*_e_",
    "[x](javascript:alert(2))",
    "p{: onclick=alert(3) }",
    "</script><script>alert(4)</script>",
    "q'&amp;\\|",
]
REASON = "cut\n\n[z](javascript:alert(5))\n\n<img src=x onerror=alert(6)>|\n!!! danger"
FAMILY = "<img src=x onerror=alert(7)>|fam"

MODEL_SOURCE = f'''
from torch import nn

NAMES = {NAMES!r}


class Hostile(nn.Module):
    def __init__(self):
        super().__init__()
        for name in NAMES:
            self.add_module(name, nn.Conv2d(3, 3, 3))

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x
'''


class Parsed(HTMLParser):
    """Elements, script bodies, <code> texts and the cell count of every table row."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.codes: list[str] = []
        self.tables: list[list[list[str]]] = []  # table -> rows -> cell texts
        self._open: list[str] = []  # tags whose text is being collected: script, code, cell
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            self.scripts.append((attributes, ""))
        elif tag == "code":
            self.codes.append("")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self.tables[-1][-1].append("")
        if tag in ("script", "code", "td", "th"):
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for tag in self._open:
            if tag == "script":
                attrs, text = self.scripts[-1]
                self.scripts[-1] = (attrs, text + data)
            elif tag == "code":
                self.codes[-1] += data
            elif self.tables and self.tables[-1] and self.tables[-1][-1]:
                self.tables[-1][-1][-1] += data


def assert_inert(html: str) -> Parsed:
    """No payload became an element, an attribute, a link or a script."""
    page = Parsed(html)
    for tag, attrs in page.elements:
        assert not (tag == "img" and attrs.get("src") == "x"), attrs
        handlers = {k: v for k, v in attrs.items() if k.startswith("on")}
        assert not any("alert" in v for v in handlers.values()), (tag, handlers)
        assert not attrs.get("href", "").strip().lower().startswith("javascript:"), attrs
    for attrs, text in page.scripts:
        if attrs.get("type") == "application/json":
            json.loads(text)  # the whole figure: no name closed the element early
        else:
            assert "alert(" not in text, text
    for table in page.tables:
        widths = {len(row) for row in table}
        assert len(widths) == 1, f"rows of different widths (a | split a cell): {table}"
    return page


def render_markdown(text: str) -> str:
    """Markdown to HTML with the site's extensions (mkdocs.yml)."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # !ENV and the like
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=Loader)  # noqa: S506
    names, options = [], {}
    for ext in config["markdown_extensions"]:
        name = ext if isinstance(ext, str) else next(iter(ext))
        names.append(name)
        if isinstance(ext, dict):
            options[name] = ext[name]
    return markdown.markdown(text, extensions=names, extension_configs=options)


def body(page: str) -> str:
    """A generated page without its front matter."""
    return page.split("\n---\n", 1)[1] if page.startswith("---\n") else page


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("usermodel") / "hostile.py"
    path.write_text(MODEL_SOURCE)
    return path


@pytest.fixture(scope="module")
def doc(model_file: Path) -> dict[str, Any]:
    """The catalog document of the hostile model, with probe results that name its nodes."""
    import rfzoo

    doc = rfzoo.analyze(f"{model_file}:Hostile", input_size=32).to_dict()
    nodes = [st["node"] for st in doc["stages"]]
    assert nodes == NAMES
    box = [[0, 2], [0, 2]]
    doc.update(source="user", name="Hostile", model="user/Hostile", status="partial", reason=REASON, family=FAMILY, task=NAMES[0],
               feature_info_mismatches=[{"stage": NAMES[1], "declared": 4}])
    doc["verification"] = {
        "verified": False, "dtype": "float64", "samples": 2, "input_size": [32, 32],
        "clipped": nodes[:2], "clipped_reason": REASON,
        "stages": [{"node": n, "unit": [5, 5], "analytic_box": box, "measured_box": box,
                    "agree": n != nodes[0]} for n in nodes],
        "layers": {"checked": 6, "agree": 5, "agreed": nodes[1:],
                   "disagree": [{"node": nodes[0], "analytic_box": box, "measured_box": box}],
                   "unchecked": [{"node": "input", "reason": REASON}]},
    }
    doc["erf"] = {
        "weights": NAMES[2], "init": NAMES[3], "unit": NAMES[4], "samples": 2,
        "input_size": [32, 32], "clipped": nodes, "clipped_reason": REASON,
        "stages": [{"node": n, "radius": {"20": 1, "30": 1, "50": 2, "99": 5},
                    "erf_trf_ratio": 0.5, "offset": [0, 0]} for n in nodes],
    }
    return doc


def test_helpers_escape_every_special_character() -> None:
    text = markdown_text("<a href='x'>|`*_[]{}\\&\n\r")
    assert text == ("&lt;a href=&#x27;x&#x27;&gt;\\|\\`\\*\\_\\[\\]\\{\\}\\\\&amp;&#10;&#13;")
    html = render_markdown(f"| a |\n| --- |\n| {markdown_text(REASON)} |\n")
    page = assert_inert(html)
    assert [row[0] for row in page.tables[0]] == ["a", REASON]


def test_model_page_shows_names_as_text(doc: dict[str, Any]) -> None:
    text = model_page.render(doc)
    for raw in ("<img src=x", "</script><script>"):  # charts' JSON included: Plotly reads HTML
        assert raw not in body(text).replace("\\u003c", "<"), raw
    assert yaml.safe_load(text.split("---\n")[1])["title"] == "Hostile"
    html = render_markdown(body(text))
    page = assert_inert(html)
    # the reason's blank lines did not end its admonition: its `!!! danger` is text
    assert html.count('class="admonition danger"') == 1
    for name in NAMES:  # shown exactly: escaped, not mangled
        assert name in page.codes, name
    stages = next(t for t in page.tables if t[0][:2] == ["stage", "node"])
    assert [row[1] for row in stages[1:]] == NAMES
    charts = model_page.build(doc).data["charts"].values()  # loaded lazily by the page
    hover = [t for fig in charts for trace in fig["data"] for t in trace.get("text") or []]
    assert any(t.startswith("&lt;img src=x onerror=alert(1)&gt;<br>Conv2d(k=3, s=1, p=0)") for t in hover)


def test_index_and_family_pages(doc: dict[str, Any]) -> None:
    key = f"{doc['source']}/{doc['name']}"
    rows = [row_from_doc(doc)]
    pages = [
        index_page.render(rows, {key}, [(key, m) for m in doc["feature_info_mismatches"]]),
        group_pages.families_index({FAMILY: rows}),
        group_pages.family_page(FAMILY, rows, [doc], {key}),
    ]
    for text in pages:
        front = yaml.safe_load(text.split("---\n")[1])
        assert "<" not in front.get("title", ""), front
        assert "<img src=x" not in body(text).replace("\\u003c", "<")
        assert_inert(render_markdown(body(text)))


def test_markdown_export_escapes_names(model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", f"{model_file}:Hostile", "--input-size", "32", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "<img" not in out and "</script>" not in out and "[x](javascript:" not in out
    page = assert_inert(render_markdown(out))
    (table,) = page.tables
    assert {len(row) for row in table} == {9}
    assert [row[0] for row in table[1:]] == ["input", *NAMES]


def test_built_site_has_no_injected_elements(doc: dict[str, Any], tmp_path: Path) -> None:
    """The real mkdocs build: theme templates put titles and descriptions in unescaped."""
    data = tmp_path / "data"
    stored = data / "models" / naming.model_file(doc["source"], doc["name"], ".json")  # as the store names it
    stored.parent.mkdir(parents=True)
    stored.write_text(json.dumps(doc))
    out = tmp_path / "site"
    build_site(data, out)
    page = out / model_md(doc).removesuffix(".md") / "index.html"
    html = page.read_text()
    parsed = assert_inert(html)
    assert not any(tag == "img" and "onerror" in attrs for tag, attrs in parsed.elements)
    for name in NAMES:
        assert name in parsed.codes, name
    others = [p for p in out.rglob("*.html") if p != page]
    assert len(others) > 3
    for other in others:
        assert_inert(other.read_text())
    curve = json.loads((out / curve_json(f"{doc['source']}/{doc['name']}")).read_text())
    assert "<img" not in json.dumps(curve["text"], ensure_ascii=False)


"""Golden files for generated Markdown (tests/golden/site/).

After an intended change of the generated pages, regenerate and review the diff:

    RFZOO_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/site/test_golden.py
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from sitebuild import FIXTURE_DATA, REPO

from rfzoo.site import group_pages, index_page, model_page
from rfzoo.site.catalog import load_catalog

GOLDEN = REPO / "tests" / "golden" / "site"
UPDATE = os.environ.get("RFZOO_UPDATE_GOLDEN") == "1"
CATALOG = load_catalog(FIXTURE_DATA)
DATE = "2025-01-01"  # the fixture's SOURCE_DATE_EPOCH; the catalog's own date follows git


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.is_file(), f"{path} missing: run with RFZOO_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file (RFZOO_UPDATE_GOLDEN=1 to accept)"


PAGES: dict[str, Callable[[], str]] = {
    "resnet50.md": lambda: model_page.render(CATALOG.models["torchvision/resnet50"], date=DATE),
    "vit_base_patch16_224.md": lambda: model_page.render(CATALOG.models["timm/vit_base_patch16_224"],
                                                         date=DATE),
    "tnt_s_patch16_224.md": lambda: model_page.render(CATALOG.models["timm/tnt_s_patch16_224"], date=DATE),
    "catalog_index.md": lambda: index_page.render(CATALOG.rows, set(CATALOG.models), []),
    "families_index.md": lambda: group_pages.families_index(CATALOG.families),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_generated_markdown_matches_golden(name: str) -> None:
    check(name, PAGES[name]())


def test_generation_is_pure() -> None:
    """Rendering twice gives the same text (no hidden state, no time, no randomness)."""
    for render in PAGES.values():
        assert render() == render()

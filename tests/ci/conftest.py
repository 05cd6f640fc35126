"""Fixtures of the CI tests: two synthetic catalogs, before and after a library update."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_fixtures import new_docs, old_docs, write_catalog


@pytest.fixture
def old_catalog(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "old", old_docs())


@pytest.fixture
def new_catalog(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "new", new_docs())

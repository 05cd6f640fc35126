"""The committed default catalog matches the code: a fresh clone's `scripts/build.sh`
recomputes nothing, and every committed RF was verified by the gradient probe."""

from __future__ import annotations

from pathlib import Path

from rfzoo.catalog import cache
from rfzoo.catalog.sources import default_refs

DATA = Path(__file__).resolve().parents[2] / "data"


def test_default_catalog_is_fresh_and_probed():
    stale = []
    for ref in default_refs():
        entry = cache.read_entry(DATA, ref)
        if not cache.is_fresh(DATA, ref, entry, cache.model_key(ref, None), want_probe=True):
            stale.append(ref.id)
    assert not stale, f"rebuild and commit: rfzoo build --default ({len(stale)} stale: {stale[:5]})"

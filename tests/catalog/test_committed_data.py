"""The committed default catalog matches the code: a fresh clone's `scripts/build.sh`
recomputes nothing, and every committed RF was verified by the gradient probe."""

from __future__ import annotations

import re
from pathlib import Path

from rfzoo.catalog import cache, store
from rfzoo.catalog.sources import ModelRef, default_refs

DATA = Path(__file__).resolve().parents[2] / "data"


def test_default_catalog_is_fresh_and_probed():
    stale = []
    for ref in default_refs():
        entry = cache.read_entry(DATA, ref)
        if not cache.is_fresh(DATA, ref, entry, cache.model_key(ref, None), want_probe=True):
            stale.append(ref.id)
    assert not stale, f"rebuild and commit: rfzoo build --default ({len(stale)} stale: {stale[:5]})"


def test_every_model_of_the_index_has_its_committed_document_within_the_size_budget():
    rows = store.read_index(DATA / "index.json")
    assert len(rows) > 1400  # the whole zoo, not only the default catalog
    missing = [f"{r['source']}/{r['name']}" for r in rows
               if not store.model_path(DATA, ModelRef(r["source"], r["name"])).is_file()]
    assert not missing, f"index rows without a document: {missing[:5]}"
    total = sum(p.stat().st_size for p in store.document_paths(DATA))
    assert total <= 40 * 2**20, f"model documents take {total / 2**20:.1f} MB, over the 40 MB budget"
    assert not list((DATA / "models").glob("*/*.json")), "plain .json documents left beside the .json.gz"


def test_the_readme_states_the_committed_verification_counts():
    """The README's sentence "N of the M exact models are verified by gradients" and its
    count of models not measured yet are the committed index's, so neither goes stale."""
    rows = [r for r in store.read_index(DATA / "index.json") if r["status"] == "exact"]
    verified = sum(1 for r in rows if r.get("verified") is True)
    disagree = sum(1 for r in rows if r.get("verified") is False)
    text = " ".join((DATA.parent / "README.md").read_text().split())
    said = re.search(r"([\d,]+) of the ([\d,]+) exact models are verified by gradients", text)
    assert said, "the README no longer states the verification count"
    assert [int(g.replace(",", "")) for g in said.groups()] == [verified, len(rows)]
    unmeasured = re.search(r"the other ([\d,]+) are not measured yet", text)
    assert unmeasured and int(unmeasured.group(1).replace(",", "")) == len(rows) - verified - disagree

"""A catalog rebuild after an engine change keeps a model's stored probe results when the
new analysis gives the probe the same plan, and measures again when it does not."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rfzoo.catalog import cache, store
from rfzoo.catalog.runner import BuildOptions, build
from rfzoo.catalog.sources import ModelRef

REF = ModelRef("timm", "test_resnet")


def _build(data: Path, probe: bool = True, retry_failed: bool = False) -> bool:
    """Build REF at stage level (or without the probe); True if it was rebuilt (not
    served from the cache)."""
    report = build([REF], BuildOptions(data_dir=data, jobs=1, timeout=300, probe_level="stages",
                                       probe=probe, retry_failed=retry_failed,
                                       stream=io.StringIO()))
    (outcome,) = report.outcomes
    return not outcome.cached


def _engine_changed(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    """What an edit to the engine does to the cache: every model key changes."""
    monkeypatch.setattr(cache, "ANALYSIS_VERSION", version)
    cache.analysis_version.cache_clear()


def _mark(data: Path, **changes: object) -> None:
    """Edit the stored verification, to see whether the next build keeps or remeasures it."""
    path = store.model_path(data, REF)
    doc = store.read_json(path)
    doc["verification"].update(changes)
    store.write_json(path, doc)


def test_probe_results_survive_an_engine_change_only_when_the_plan_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        assert _build(tmp_path)
        first = store.read_json(store.model_path(tmp_path, REF))["verification"]
        assert first["verified"] is True and len(first["plan_fingerprint"]) == 24

        _mark(tmp_path, marker="kept")
        _engine_changed(monkeypatch, 1001)
        assert _build(tmp_path)  # re-analyzed ...
        kept = store.read_json(store.model_path(tmp_path, REF))["verification"]
        assert kept.get("marker") == "kept"  # ... and the stored measurement carried over
        _engine_changed(monkeypatch, 1005)
        assert _build(tmp_path, retry_failed=True)  # a retry of failed probes keeps good ones
        assert store.read_json(store.model_path(tmp_path, REF))["verification"].get("marker") == "kept"

        # a build without the probe (the quick re-analysis after an engine change) keeps
        # them too, and says so in the cache: the next stage build has nothing to measure
        _engine_changed(monkeypatch, 1003)
        assert _build(tmp_path, probe=False)
        assert store.read_json(store.model_path(tmp_path, REF))["verification"].get("marker") == "kept"
        entry = cache.read_entry(tmp_path, REF)
        assert entry is not None and entry.probe_key == cache.probe_key("stages")
        assert not _build(tmp_path)

        # a stored probe failure (same probe and plan code) stands too, until a probe build
        # retries it; one from other plan code is dropped: a plan fix may have mended it
        path = store.model_path(tmp_path, REF)
        doc = store.read_json(path)
        saved = doc.pop("verification")
        failed = {**doc, "probe_error": "out of memory while verifying stages"}
        store.write_json(path, {**failed, "probe_error_plan": cache.plan_version()})
        _engine_changed(monkeypatch, 1004)
        assert _build(tmp_path, probe=False)
        (row,) = store.read_index(tmp_path / "index.json")
        assert row["verify_note"] == "not measured: out of memory while verifying stages"
        store.write_json(path, {**failed, "probe_error_plan": "older plan code"})
        _engine_changed(monkeypatch, 1006)
        assert _build(tmp_path, probe=False)
        (row,) = store.read_index(tmp_path / "index.json")
        assert row["verify_note"] == "not measured yet"
        store.write_json(path, {**doc, "verification": saved})

        _mark(tmp_path, marker="stale", plan_fingerprint="a plan the new analysis does not give")
        _engine_changed(monkeypatch, 1002)
        assert _build(tmp_path)
        again = store.read_json(store.model_path(tmp_path, REF))["verification"]
        assert "marker" not in again  # measured again
        assert again["plan_fingerprint"] == first["plan_fingerprint"]
        assert again["stages"] == first["stages"]
    finally:
        cache.analysis_version.cache_clear()

"""Probe levels of the catalog build: the full catalog gets stage verification, the
default catalog the full probe; the cache tells them apart."""

from __future__ import annotations

import io
from pathlib import Path

from build_helpers import user

from rfzoo.catalog import cache, store
from rfzoo.catalog.probe_step import stage_nodes
from rfzoo.catalog.runner import BuildOptions, build
from rfzoo.catalog.sources import ModelRef


def test_a_full_probe_answers_a_stages_request_but_not_the_reverse() -> None:
    full, stages = cache.probe_key("full"), cache.probe_key("stages")
    assert stages == f"{full}:stages"
    assert cache.probe_satisfies(full, "stages") and cache.probe_satisfies(full, True)
    assert not cache.probe_satisfies(stages, "full") and not cache.probe_satisfies(None, "stages")
    assert cache.probe_satisfies(None, False)


def test_stage_nodes_include_the_summary_node() -> None:
    doc = {"stages": [{"node": "a"}, {"node": "b"}], "summary": {"node": "c"}}
    assert stage_nodes(doc) == ["a", "b", "c"]
    assert stage_nodes({"stages": [{"node": "a"}], "summary": {"node": "a"}}) == ["a"]


def _build(data: Path, ref: ModelRef, level: str) -> str:
    """"built 1" or "cached 1"."""
    report = build([ref], BuildOptions(data_dir=data, jobs=1, timeout=300, probe_level=level,
                                       stream=io.StringIO()))
    (outcome,) = report.outcomes
    return "cached 1" if outcome.cached else "built 1"


def test_stage_verification_then_a_full_probe(tmp_path: Path) -> None:
    ref = user("TinyA")
    assert "built 1" in _build(tmp_path, ref, "stages")
    doc = store.read_json(store.model_path(tmp_path, ref))
    ver = doc["verification"]
    assert ver["level"] == "stages" and ver["verified"] is True and "layers" not in ver
    assert doc["erf"] is None
    assert [s["node"] for s in ver["stages"]] == stage_nodes(doc)
    assert all(s["measured_box"] == s["analytic_box"] for s in ver["stages"])
    (row,) = store.read_index(tmp_path / "index.json")
    assert row["verified"] is True and row["verify_note"] == ""
    assert "cached 1" in _build(tmp_path, ref, "stages")
    assert "built 1" in _build(tmp_path, ref, "full")  # a stages entry does not answer full
    doc = store.read_json(store.model_path(tmp_path, ref))
    assert "level" not in doc["verification"] and doc["verification"]["layers"]["checked"] > 0
    assert "cached 1" in _build(tmp_path, ref, "stages")  # and full answers stages

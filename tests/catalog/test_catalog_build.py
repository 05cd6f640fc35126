"""End to end: tiny and deliberately broken models built in worker processes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_helpers import BROKEN, GOOD, ZOO, build_options, tree_bytes, user

from rfzoo.catalog import cache, store
from rfzoo.catalog.merge import merge
from rfzoo.catalog.runner import REPO_ROOT, BuildOptions, build
from rfzoo.catalog.sources import ModelRef, shard
from rfzoo.schema import INDEX_COLUMNS

ALL = GOOD + [user(name) for name in BROKEN]


def options(data_dir: Path, **kw) -> BuildOptions:
    return build_options(data_dir, 2, 3.0, **kw)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, str]:
    data = tmp_path_factory.mktemp("catalog") / "data"
    opts = options(data)
    report = build(ALL, opts)
    return data, report, opts.stream.getvalue()


def test_every_model_has_a_document_and_an_index_row(built) -> None:
    data, report, _ = built
    assert not report.interrupted
    index = store.read_json(data / "index.json")
    assert index["columns"] == list(INDEX_COLUMNS)
    names = [row["name"] for row in index["models"]]
    assert names == sorted(ref.name for ref in ALL)
    for ref in ALL:
        doc = store.read_json(store.model_path(data, ref))
        assert doc["source"] == "user" and doc["name"] == ref.name
        assert doc["status"] in ("exact", "partial", "failed")
    rows = list(csv.reader((data / "index.csv").read_text().splitlines()))
    assert tuple(rows[0]) == INDEX_COLUMNS and len(rows) == len(ALL) + 1


def test_good_models_are_exact_with_stages(built) -> None:
    data, _, _ = built
    doc = store.read_json(store.model_path(data, user("TinyA")))
    assert doc["status"] == "exact" and doc["reason"] == ""
    assert doc["summary"]["rf"] == [17, 17] and doc["summary"]["jump"] == [4, 4]
    assert doc["params"] == (3 * 4 * 9 + 4) + 2 * (4 * 4 * 9 + 4)
    assert [s["jump"] for s in doc["stages"]] == [[2, 2], [4, 4]]
    assert doc["stages"][-1]["node"] == doc["summary"]["node"]


@pytest.mark.parametrize("factory", sorted(BROKEN))
def test_broken_models_are_recorded_with_a_reason(built, factory: str) -> None:
    data, _, _ = built
    status, fragment = BROKEN[factory]
    doc = store.read_json(store.model_path(data, user(factory)))
    assert doc["status"] == status
    assert fragment in doc["reason"] and "\n" not in doc["reason"]
    if status == "partial":
        assert "fft" in doc["reason"] and doc["layers"]


def test_progress_and_summary(built) -> None:
    _, report, log = built
    assert f"[{len(ALL)}/{len(ALL)}]" in log
    summary = "\n".join(report.summary_lines())
    assert f"built {len(ALL)}, cached 0" in summary
    assert "exact 3, partial 1, failed 3" in summary
    assert "coverage user: 4/7" in summary


def test_second_run_recomputes_nothing_and_changes_no_byte(built) -> None:
    data, _, _ = built
    before = tree_bytes(data)
    report = build(ALL, options(data))
    # only the model that timed out is tried again: a timeout is not the model's result
    assert {o.ref for o in report.outcomes if not o.cached} == {user("Hangs")}
    assert tree_bytes(data) == before


@pytest.mark.slow
def test_changed_key_rebuilds_only_that_model(tmp_path: Path) -> None:
    copy = tmp_path / "zoo_copy.py"
    shutil.copy(ZOO, copy)
    refs = [ModelRef("user", f"{copy}:TinyA"), ModelRef("user", f"{copy}:TinyB")]
    other = tmp_path / "other.py"
    other.write_text("from torch import nn\n\ndef Net():\n    return nn.Conv2d(3, 1, 3)\n")
    refs.append(ModelRef("user", f"{other}:Net"))
    data = tmp_path / "data"
    assert build(refs, options(data, jobs=1)).count(cached=False) == 3
    other.write_text(other.read_text().replace("3)", "5)"))  # the user's model changed
    report = build(refs, options(data, jobs=1))
    rebuilt = {o.ref.name for o in report.outcomes if not o.cached}
    assert rebuilt == {f"{other}:Net"}
    assert store.read_json(store.model_path(data, refs[2]))["summary"]["rf"] == [5, 5]


def test_atomic_writes_leave_no_temporary_files(built) -> None:
    data, _, _ = built
    assert not [p for p in data.rglob("*") if p.name.endswith(".tmp")]


def test_cli_build_and_coverage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "rfzoo", "build", f"{ZOO}:TinyB", f"{ZOO}:Raises",
           "--data-dir", str(data), "--no-probe"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # progress and summary go to stderr
    assert "exact 1, partial 0, failed 1" in done.stderr
    cov = subprocess.run([sys.executable, "-m", "rfzoo", "coverage", "--data-dir", str(data)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert cov.returncode == 0 and "coverage user: 1/2 analyzed (50.0%)" in cov.stdout
    bad = subprocess.run([sys.executable, "-m", "rfzoo", "build", "--shard", "3/2"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_sharded_builds_merge_to_the_unsharded_bytes(built, tmp_path: Path) -> None:
    data, _, _ = built
    parts = []
    for i in (1, 2):
        part = tmp_path / f"shard{i}"
        build(shard(ALL, i, 2), options(part, jobs=1))
        parts.append(part)
    merged = tmp_path / "merged"
    assert merge(parts, merged) == len(ALL)
    assert tree_bytes(merged) == tree_bytes(data)  # also: two separate builds, same bytes


@pytest.mark.slow
def test_interrupted_build_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    names = [f"{ZOO}:{f}" for f in ("TinyA", "TinyB", "TinyC", "Hangs")]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "rfzoo", "build", *names, "--data-dir", str(data),
           "--no-probe", "--jobs", "2", "--timeout", "300"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        entries = data / "cache" / "user"
        while time.monotonic() < deadline and len(list(entries.glob("*.json"))) < 3:
            time.sleep(0.2)
        assert len(list(entries.glob("*.json"))) == 3  # the tiny ones; one worker is stuck on Hangs
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the build itself; its worker dies with it
        proc.wait()
    # The killed worker follows its parent (PR_SET_PDEATHSIG): nothing is left running.
    report = build([ModelRef("user", n) for n in names], options(data, jobs=1, timeout=3))
    assert {o.ref.name: o.cached for o in report.outcomes} == {
        names[0]: True, names[1]: True, names[2]: True, names[3]: False}
    index = json.loads((data / "index.json").read_text())
    assert [r["status"] for r in index["models"]] == ["failed", "exact", "exact", "exact"]


def test_cache_entries_hold_the_key(built) -> None:
    data, _, _ = built
    ref = GOOD[0]
    entry = cache.read_entry(data, ref)
    assert entry is not None and entry.key == cache.model_key(ref, None)
    assert entry.row == store.index_row(store.read_json(store.model_path(data, ref)))


@pytest.mark.slow
def test_a_probe_that_hangs_keeps_the_analysis(tmp_path: Path) -> None:
    ref = user("HangsOnCpu")
    report = build([ref], options(tmp_path, jobs=1, probe=True))
    doc = store.read_json(store.model_path(tmp_path, ref))
    assert doc["status"] == "exact" and doc["summary"]["rf"] == [17, 17]
    assert doc["probe_error"].startswith("timed out after 3 s while probing gradients")
    assert report.outcomes[0].status == "exact"
    assert report.probe_failures == [ref.id]
    assert any("probe failed for 1" in line and ref.id in line for line in report.summary_lines())
    assert build([ref], options(tmp_path, jobs=1, probe=True)).count(cached=True) == 1
    # --retry-failed tries the probe again; a build without the probe has nothing to retry
    assert build([ref], options(tmp_path, jobs=1, probe=False, retry_failed=True)).count(cached=True) == 1
    retried = build([ref], options(tmp_path, jobs=1, probe=True, retry_failed=True))
    assert retried.count(cached=False) == 1 and retried.probe_failures == [ref.id]


def test_a_probe_out_of_memory_beside_other_workers_runs_again_alone(tmp_path: Path) -> None:
    """One build verifies a model that needs more than a worker's share of the memory: it
    runs out of memory at 6.5 GB beside another worker, then alone with 13 GB, and is
    recorded once."""
    ref, other = user("NeedsMemoryOnCpu"), user("TinyA")
    stream = io.StringIO()
    report = build([ref, other], options(tmp_path, jobs=2, probe=True, probe_level="stages",
                                         memory_gb=6.5, timeout=300, stream=stream))
    log = stream.getvalue()
    assert "out of memory at 6.5 GB per worker: measuring each alone with 13.0 GB" in log
    assert log.count(f"] {ref.id} exact") == 2  # the first run, then the one alone
    doc = store.read_json(store.model_path(tmp_path, ref))
    assert "probe_error" not in doc and doc["verification"]["verified"] is True
    assert [o.ref for o in report.outcomes].count(ref) == 1 and report.probe_failures == []
    (row,) = [r for r in store.read_index(tmp_path / "index.json") if r["name"] == ref.name]
    assert row["verified"] is True and row["verify_note"] == ""


def test_a_resumed_build_measures_alone_what_an_earlier_one_left_out_of_memory(tmp_path: Path) -> None:
    """A build stopped before its alone phase leaves "out of memory at the 6.5 GB per-worker
    limit" in the index (as does a build whose workers all had 6.5 GB); the next build with
    more memory for one worker measures that model alone, then has nothing left to do."""
    ref, other = user("NeedsMemoryOnCpu"), user("TinyA")
    small = dict(probe=True, probe_level="stages", memory_gb=6.5, timeout=300)
    build([ref, other], options(tmp_path, jobs=1, **small))
    (row,) = [r for r in store.read_index(tmp_path / "index.json") if r["name"] == ref.name]
    assert row["verified"] is None and "out of memory at the 6.5 GB per-worker limit" in row["verify_note"]

    stream = io.StringIO()
    report = build([ref, other], options(tmp_path, jobs=2, stream=stream, **small))
    log = stream.getvalue()
    assert ("1 model(s) ran out of memory at 6.5 GB per worker (1 in an earlier build): "
            "measuring each alone with 13.0 GB") in log
    assert {o.ref: o.cached for o in report.outcomes} == {ref: False, other: True}
    (row,) = [r for r in store.read_index(tmp_path / "index.json") if r["name"] == ref.name]
    assert row["verified"] is True and row["verify_note"] == ""

    stream = io.StringIO()
    report = build([ref, other], options(tmp_path, jobs=2, stream=stream, **small))
    assert report.count(cached=True) == 2 and "measuring each alone" not in stream.getvalue()

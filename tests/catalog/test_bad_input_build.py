"""Issue #12 for `rfzoo build`, `merge` and `coverage`: bad input and hostile conditions
answer in one line, never hang, and never lose or mix up a result."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_helpers import ZOO, build_options, tree_bytes, user

from rfzoo.catalog import lock, runner, store
from rfzoo.catalog.merge import merge
from rfzoo.catalog.runner import BuildOptions, build, worker_count
from rfzoo.catalog.sources import ModelRef
from rfzoo.cli import main
from rfzoo.errors import RfzooError
from rfzoo.site.paths import model_md

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(REPO))


def options(data_dir: Path, **kw) -> BuildOptions:
    return build_options(data_dir, 1, 60.0, **kw)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit code and stderr of `rfzoo ARGS` run in this process."""
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def one_line_error(err: str) -> str:
    """The single line an error prints, checked to be `rfzoo: error: ...` and alone."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rfzoo: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def tiny_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TinyA and TinyB built once; tests copy it before changing anything."""
    data = tmp_path_factory.mktemp("tiny") / "data"
    report = build([user("TinyA"), user("TinyB")], options(data, jobs=2))
    assert report.count(status="exact") == 2
    return data


# ---- 1. --jobs above what the models and the RAM allow -----------------------------------


def test_workers_are_capped_by_the_models_and_the_memory_floor(monkeypatch) -> None:
    monkeypatch.setattr(runner, "usable_ram_gb", lambda: 18.7)  # 80% of 24 GB
    assert worker_count(64, 3, None) == (3, "only 3 models to build")
    count, why = worker_count(64, 1000, None)
    assert count == 3 and "needs 6 GB" in why  # 18.7 GB / 6 GB
    assert runner.default_memory_gb(count) >= runner.WORKER_FLOOR_GB
    assert worker_count(2, 1000, None) == (2, "")
    assert worker_count(8, 1000, 2.0)[0] == 8  # an explicit --memory-gb is the user's call


def test_jobs_64_builds_with_fewer_workers_and_says_why(tmp_path: Path) -> None:
    opts = options(tmp_path / "data", jobs=64)
    report = build([user("TinyA"), user("TinyB")], opts)
    assert report.count(status="exact") == 2
    assert "rfzoo: --jobs 64 lowered to 2: only 2 models to build" in opts.stream.getvalue()


# ---- 2. timeouts and memory limits --------------------------------------------------------


@pytest.mark.parametrize(("flag", "value"), [("--timeout", "0"), ("--timeout", "-5"),
                                              ("--timeout", "nan"), ("--memory-gb", "-1")])
def test_non_positive_limits_are_refused(capsys, tmp_path: Path, flag: str, value: str) -> None:
    code, err = cli(capsys, "build", f"{ZOO}:TinyA", "--data-dir", tmp_path / "d", flag, value)
    assert code == 1 and flag in one_line_error(err)
    assert not (tmp_path / "d").exists()


def test_a_timed_out_model_is_tried_again_by_the_next_build(tmp_path: Path) -> None:
    data, ref = tmp_path / "data", user("Hangs")
    for _ in range(2):
        report = build([ref], options(data, timeout=1.0))
        assert [(o.status, o.cached) for o in report.outcomes] == [("failed", False)]
        (row,) = store.read_json(data / "index.json")["models"]
        assert row["reason"].startswith("timed out after 1 s")  # the index says so meanwhile


# ---- 3. unknown names and sizes ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "message"), [
    ("torchvision/nonexistent", "unknown model 'torchvision/nonexistent'"),
    ("timm/", "unknown model 'timm/'"),
    ("timm/resnet5O", "closest: timm/resnet50"),
    ("missing/net.py:Net", "no such file 'missing/net.py'"),
])
def test_unknown_names_are_refused_before_any_work(capsys, tmp_path: Path, name: str,
                                                   message: str) -> None:
    code, err = cli(capsys, "build", name, "--data-dir", tmp_path / "d", "--no-probe")
    assert code == 2 and message in one_line_error(err)
    assert not (tmp_path / "d").exists()


def test_names_of_the_committed_catalog_are_known_without_torch() -> None:
    code = ("import sys; from rfzoo.catalog.sources import parse_ref, ModelRef\n"
            "assert parse_ref('alexnet') == ModelRef('torchvision', 'alexnet')\n"
            "assert parse_ref('timm/dla34') == ModelRef('timm', 'dla34')\n"
            "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("size", [["0"], ["-3"], ["224", "-1"], ["1", "2", "3", "4"]])
def test_bad_input_sizes_are_refused(capsys, tmp_path: Path, size: list[str]) -> None:
    code, err = cli(capsys, "build", f"{ZOO}:TinyA", "--data-dir", tmp_path / "d",
                    "--input-size", *size)
    assert code == 1 and "--input-size takes 1 to 3 positive integers" in one_line_error(err)


# ---- 4. one build per data directory ----------------------------------------------------------


def test_a_second_build_into_the_same_directory_is_refused(capsys, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = subprocess.Popen(
        [sys.executable, "-m", "rfzoo", "build", f"{ZOO}:Hangs", "--data-dir", str(data),
         "--no-probe", "--timeout", "300"],
        env=ENV, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (data / lock.LOCK_NAME).is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        code, err = cli(capsys, "build", f"{ZOO}:TinyA", "--data-dir", data, "--no-probe")
        assert time.monotonic() - started < 1.0
        line = one_line_error(err)
        assert code == 1 and f"pid {first.pid}: " in line and "rfzoo build" in line
        os.killpg(first.pid, signal.SIGINT)  # Ctrl-C
        assert first.wait(timeout=60) == 130
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert not (data / lock.LOCK_NAME).exists()  # released and removed
    assert not list(Path(lock.tempfile.gettempdir()).glob(f"rfzoo-build-{first.pid}-*"))
    with lock.hold_data_dir(data):  # free again
        pass


def test_a_lock_file_left_by_a_killed_build_blocks_nothing(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from rfzoo.catalog.lock import hold_data_dir\n"
         "with hold_data_dir(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(300)",
         str(tmp_path)], env=ENV, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with pytest.raises(RfzooError, match=f"in use by another rfzoo process \\(pid {holder.pid}"):
        with lock.hold_data_dir(tmp_path):
            pass
    holder.kill()  # no cleanup runs: the lock file stays, the kernel drops the lock
    holder.wait()
    assert (tmp_path / lock.LOCK_NAME).is_file()
    with lock.hold_data_dir(tmp_path):
        pass


# ---- 5. the index and temporary files -----------------------------------------------------------


def test_a_failed_index_write_changes_neither_file(tiny_catalog: Path, tmp_path: Path,
                                                   monkeypatch) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_catalog, data)
    before = tree_bytes(data)
    real_mkstemp, calls = store.tempfile.mkstemp, []

    def mkstemp_then_fail(*args, **kwargs):  # the second temporary file cannot be made
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(store.tempfile, "mkstemp", mkstemp_then_fail)
    with pytest.raises(KeyboardInterrupt):
        store.write_index(data, [])
    assert tree_bytes(data) == before  # both files as they were, no temporary file left


def test_the_next_build_repairs_an_index_csv_left_behind(tiny_catalog: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_catalog, data)
    good = (data / "index.csv").read_text()
    (data / "index.csv").write_text(good.splitlines()[0] + "\n")  # killed between the renames
    opts = options(data)
    build([], opts)  # a build repairs the pair first, whatever it then builds
    assert "index.csv disagreed with index.json" in opts.stream.getvalue()
    assert (data / "index.csv").read_text() == good


def test_stale_temporary_files_are_removed_when_a_build_starts(
    tiny_catalog: Path, tmp_path: Path, monkeypatch
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_catalog, data)
    strays = [data / ".index.json.abc123.tmp", data / "models" / "user" / ".x.json.abc123.tmp",
              data / "cache" / "user" / ".x.json.merge.tmp"]
    for path in strays:
        path.write_text("half")
    tmp = tmp_path / "tmp"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale, live = tmp / f"rfzoo-build-{dead.pid}-x1", tmp / f"rfzoo-build-{os.getpid()}-x2"
    for folder in (stale, live):
        folder.mkdir(parents=True)
    monkeypatch.setattr(lock.tempfile, "tempdir", str(tmp))
    report = build([user("TinyA")], options(data))
    assert report.count(cached=True) == 1
    assert not [p for p in strays if p.exists()]
    assert not stale.exists() and live.is_dir()  # a running build's folder stays


# ---- 6. merge -------------------------------------------------------------------------------------


def split(catalog: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two shard-like directories: TinyA only and TinyB only."""
    parts = []
    for keep, drop in (("TinyA", "TinyB"), ("TinyB", "TinyA")):
        part = tmp_path / keep
        shutil.copytree(catalog, part)
        for path in (store.model_path(part, user(drop)), store.cache_path(part, user(drop))):
            path.unlink()
        parts.append(part)
    return parts[0], parts[1]


def test_merge_replaces_the_models_of_an_earlier_merge(tiny_catalog: Path, tmp_path: Path) -> None:
    only_a, only_b = split(tiny_catalog, tmp_path)
    out = tmp_path / "out"
    assert merge([only_a, only_b], out) == 2
    assert merge([only_a], out) == 1
    assert tree_bytes(out) == tree_bytes(only_a) | {
        "index.json": (out / "index.json").read_bytes(), "index.csv": (out / "index.csv").read_bytes()}
    assert [r["name"] for r in store.read_index(out / "index.json")] == [user("TinyA").name]


def test_merge_refuses_an_output_that_is_not_a_catalog(capsys, tiny_catalog: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, err = cli(capsys, "merge", tiny_catalog, "-o", out)
    assert code == 1 and "not empty and not a catalog data directory" in one_line_error(err)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_merge_conflict_writes_nothing(capsys, tiny_catalog: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_catalog, other)
    doc_path = store.model_path(other, user("TinyB"))
    store.write_json(doc_path, {**store.read_json(doc_path), "reason": "built elsewhere"})
    out = tmp_path / "out"
    code, err = cli(capsys, "merge", tiny_catalog, other, "-o", out)
    line = one_line_error(err)
    assert code == 1 and f"{user('TinyB').id} differs between" in line
    assert not out.exists() or not any(out.iterdir())


# ---- 8. tracebacks that must be one line ----------------------------------------------------------


def test_a_data_dir_that_is_a_file_is_refused(capsys, tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("not a directory")
    code, err = cli(capsys, "build", f"{ZOO}:TinyA", "--data-dir", path, "--no-probe")
    assert code == 1 and "is a file, not a directory" in one_line_error(err)


@pytest.mark.parametrize(("content", "message"), [
    ("[1, 2]", "row 1 is not an object"),
    ("null", "not a catalog index"),
    ('{"models": [{"name": "x", "status": "exact"}]}', "row 1 has no 'source'"),
    ("{not json", "cannot read"),
])
def test_coverage_of_a_malformed_index_is_one_line(capsys, tmp_path: Path, content: str,
                                                   message: str) -> None:
    (tmp_path / "index.json").write_text(content)
    code, err = cli(capsys, "coverage", "--data-dir", tmp_path)
    assert code == 1 and message in one_line_error(err)


def test_coverage_reads_an_index_that_is_a_list_of_rows(capsys, tmp_path: Path) -> None:
    rows = [{"source": "timm", "name": "a", "status": "exact", "reason": ""}]
    (tmp_path / "index.json").write_text(json.dumps(rows))
    assert main(["coverage", "--data-dir", str(tmp_path)]) == 0
    assert "coverage timm: 1/1" in capsys.readouterr().out


# ---- 9. user models: one naming function, no collisions, a site page --------------------------------


def test_user_models_whose_paths_flatten_alike_get_different_files(tmp_path: Path) -> None:
    one, two = ModelRef("user", "a/x/m.py:F"), ModelRef("user", "a/x_m.py:F")
    assert store.model_path(tmp_path, one) != store.model_path(tmp_path, two)
    assert store.cache_path(tmp_path, one) != store.cache_path(tmp_path, two)
    for ref in (one, two, user("TinyA"), ModelRef("user", "pkg.mod:make_net")):
        stem = store.model_path(tmp_path, ref).name.removesuffix(".json.gz")
        assert stem.replace("-", "").replace("_", "").isalnum(), stem  # a safe file name and URL


def test_store_and_site_name_a_model_alike(tmp_path: Path) -> None:
    refs = [ModelRef("timm", "resnet50"), ModelRef("torchvision", "vit_b_16"), user("TinyA")]
    for ref in refs:
        stored = store.model_path(tmp_path, ref).relative_to(tmp_path).as_posix()
        assert model_md({"source": ref.source, "name": ref.name}) == stored.removesuffix(".json.gz") + ".md"
    assert store.model_path(tmp_path, refs[0]) == tmp_path / "models/timm/resnet50.json.gz"  # as committed


@pytest.mark.slow
def test_a_user_model_gets_a_page_in_the_site(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "tests" / "site"))
    from sitebuild import build_site

    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "rfzoo", "build", f"{ZOO}:TinyA", "--data-dir",
                           str(data), "--no-probe"], env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    build_site(data, tmp_path / "site")
    page = tmp_path / "site" / model_md({"source": "user", "name": str(ZOO) + ":TinyA"})
    assert (page.with_suffix("") / "index.html").is_file()
    published = page.with_name(page.name.removesuffix(".md") + ".json.gz")  # the full record
    assert store.read_json(published) == store.read_json(store.model_path(data, user("TinyA")))


def test_a_user_model_gets_its_axes_and_channels_from_its_graph(tmp_path: Path) -> None:
    """A Conv1d net on 2 channels: the catalog does not force a 3-channel 224x224 image on it."""
    path = tmp_path / "net1d.py"
    path.write_text("from torch import nn\n\n\ndef Net():\n"
                    "    return nn.Sequential(nn.Conv1d(2, 4, 5, padding=2), nn.ReLU(), nn.Conv1d(4, 4, 3, stride=2))\n")
    report = build([ModelRef("user", f"{path}:Net")], options(tmp_path / "data", probe=False))
    assert report.count(status="exact") == 1
    row = store.read_json(tmp_path / "data" / "index.json")["models"][0]
    assert row["rf"] == [7] and row["jump"] == [2] and len(row["input_size"]) == 1

"""The catalog workflow's job scripts, run locally end to end on a small model list: two
shards, merge (byte-identical to an unsharded build), diff against a modified copy of the
catalog, changelog entry, data directory update."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rfzoo.catalog import store

REPO = Path(__file__).resolve().parents[2]
MODELS = ["torchvision/alexnet", "torchvision/resnet18", "timm/mobilenetv1_100"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("rfzoo.catalog") is None
        or importlib.util.find_spec("rfzoo.catalog.cli") is None,
        reason="catalog build not available",
    ),
]


def script(name: str, *args: str | Path, **env: str | Path) -> str:
    """Run scripts/ci/NAME.sh as the workflow does; return its combined output."""
    # settings come from catalog.env and this call only, never from the caller's environment
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "GITHUB_"))}
    environ = {**inherited, "RFZOO_PYTHON": sys.executable, **{k: str(v) for k, v in env.items()}}
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "ci" / f"{name}.sh"), *map(str, args)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def edit_json(path: Path, edit) -> None:
    data = store.read_json(path)
    edit(data)
    store.write_json(path, data)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("catalog-job")
    env = {"CATALOG_DATA_DIR": tmp / "data"}  # never the repository's data/
    script("catalog_shard", 1, 2, tmp / "s1", *MODELS, CATALOG_WARM_DIR=tmp / "warm1", **env)
    script("catalog_shard", 2, 2, tmp / "s2", *MODELS, **env)
    script("catalog_merge", tmp / "merged", tmp / "s1", tmp / "s2", **env)
    script("catalog_shard", 1, 1, tmp / "full", *MODELS, **env)
    return {"tmp": tmp, **{name: tmp / name for name in ("s1", "s2", "merged", "full", "warm1")}}


def test_shards_split_the_list(built: dict[str, Path]) -> None:
    ids = [
        {
            row["source"] + "/" + row["name"]
            for row in json.loads((built[s] / "index.json").read_text())["models"]
        }
        for s in ("s1", "s2")
    ]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert ids[0] | ids[1] == set(MODELS)


def test_merge_is_byte_identical_to_unsharded_build(built: dict[str, Path]) -> None:
    merged, full = tree(built["merged"]), tree(built["full"])
    assert merged.keys() == full.keys()
    assert [name for name in merged if merged[name] != full[name]] == []


def test_warm_cache_rebuilds_nothing(built: dict[str, Path]) -> None:
    again = built["tmp"] / "s1-again"
    out = script(
        "catalog_shard",
        1,
        2,
        again,
        *MODELS,
        CATALOG_WARM_DIR=built["warm1"],
        CATALOG_DATA_DIR=built["tmp"] / "data",
    )
    assert "built 0" in out
    assert tree(again) == tree(built["s1"])


def test_update_diff_and_changelog(built: dict[str, Path]) -> None:
    """Against a modified copy: one model missing, one with another RF, another timm."""
    tmp, merged = built["tmp"], built["merged"]
    old = tmp / "old"
    shutil.copytree(merged, old)
    (old / "models" / "torchvision" / "alexnet.json.gz").unlink()
    shutil.rmtree(old / "cache")  # the diff reads the index and the documents
    edit_json(
        old / "index.json",
        lambda d: d.update(models=[r for r in d["models"] if r["name"] != "alexnet"]),
    )

    def shrink(doc: dict) -> None:
        doc["summary"]["rf"] = [r - 10 for r in doc["summary"]["rf"]]
        doc["versions"]["timm"] = "0.9.0"

    edit_json(old / "models" / "torchvision" / "resnet18.json.gz", shrink)
    edit_json(
        old / "index.json",
        lambda d: [
            r.update(rf=[v - 10 for v in r["rf"]]) for r in d["models"] if r["name"] == "resnet18"
        ],
    )

    data, reports = tmp / "update-data", tmp / "reports"
    shutil.copytree(old, data)
    env = {"CATALOG_DATA_DIR": data, "CATALOG_REPORT_DIR": reports, "CATALOG_DATE": "2026-01-05"}
    script("catalog_update", merged, old, **env)

    body = (reports / "catalog-diff.md").read_text()
    assert "### Added (1)" in body and "`torchvision/alexnet`" in body
    assert "### Changed (1)" in body and "(+10)" in body and "`torchvision/resnet18`" in body
    assert "| timm | 0.9.0," in body  # the old catalog mixed two timm versions
    diff = json.loads((reports / "catalog-diff.json").read_text())
    assert [c["model"] for c in diff["changed"]] == ["torchvision/resnet18"]

    changelog = (data / "changelog.md").read_text()
    assert changelog.startswith("# Changelog\n") and "## 2026-01-05 · " in changelog
    assert body.split("\n", 1)[1] in changelog  # the same entry as the PR body (no rows capped)
    assert {k: v for k, v in tree(data).items() if k != "changelog.md"} == tree(merged)

    # nothing changed since: no second entry
    script("catalog_update", merged, data, **env)
    assert (data / "changelog.md").read_text() == changelog
    assert "No changes." in (reports / "catalog-diff.md").read_text()

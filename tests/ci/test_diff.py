"""`rfzoo diff` on synthetic catalogs. Regenerate the golden files with RFZOO_REGEN_GOLDEN=1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from catalog_fixtures import VERSIONS, model_doc, write_catalog

from rfzoo.cli import main
from rfzoo.diff import (
    CHANGELOG_TITLE,
    add_to_changelog,
    diff_catalogs,
    format_delta,
    read_catalog,
    to_markdown,
)

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RFZOO_REGEN_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"regenerate with RFZOO_REGEN_GOLDEN=1: {path}"


def run_cli(*args: str) -> tuple[int, str]:
    out = subprocess.run(
        [sys.executable, "-m", "rfzoo", "diff", *args], capture_output=True, text=True, cwd=REPO
    )
    return out.returncode, out.stdout + out.stderr


def test_added_removed_changed(old_catalog: Path, new_catalog: Path) -> None:
    diff = diff_catalogs(read_catalog(old_catalog), read_catalog(new_catalog), "old", "new")
    assert [e.model for e in diff.added] == ["timm/new_net"]
    assert [e.model for e in diff.removed] == ["timm/old_net"]
    changed = {c.entry.model: c.fields for c in diff.changed}
    assert set(changed) == {"timm/convnext_tiny", "timm/gemma4_vit", "timm/pit_ti_224"}
    assert changed["timm/convnext_tiny"] == {"rf": ([1955, 1955], [2011, 1987])}
    assert changed["timm/pit_ti_224"]["status"] == ("partial", "exact")
    assert changed["timm/gemma4_vit"]["rf"] == (None, [16, 16])
    assert diff.unchanged == 2
    assert diff.versions == {"timm": (["1.0.31"], ["1.0.32"])}


def test_identical_catalogs_are_empty(old_catalog: Path) -> None:
    diff = diff_catalogs(read_catalog(old_catalog), read_catalog(old_catalog), "a", "b")
    assert diff.is_empty and diff.unchanged == 6
    assert "No changes." in to_markdown(diff)


def test_index_only_catalog(old_catalog: Path, new_catalog: Path) -> None:
    """The full catalog may commit only its index: the diff works from rows alone."""
    shutil.rmtree(new_catalog / "models")
    diff = diff_catalogs(read_catalog(old_catalog), read_catalog(new_catalog), "old", "new")
    assert [e.model for e in diff.added] == ["timm/new_net"]
    assert diff.versions == {}  # versions live in the per-model documents


def test_delta_formatting() -> None:
    assert format_delta([427, 427], [483, 483]) == "+56"
    assert format_delta([1955, 1955], [2011, 1987]) == "+56x+32"
    assert format_delta([4, 4], [2.5, 2.5]) == "-1.5"
    assert format_delta(None, [3, 3]) == ""


def test_markdown_golden(old_catalog: Path, new_catalog: Path) -> None:
    code, out = run_cli(str(old_catalog), str(new_catalog), "--title", "timm 1.0.32")
    assert code == 0
    check_golden("diff.md", out.replace(str(old_catalog.parent), "TMP"))


def test_json_output(old_catalog: Path, new_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "diff.json"
    assert (
        main(["diff", str(old_catalog), str(new_catalog), "--format", "json", "--output", str(out)])
        == 0
    )
    data = json.loads(out.read_text())
    assert data["changed"][0] == {
        "model": "timm/convnext_tiny",
        "changes": {"rf": {"old": [1955, 1955], "new": [2011, 1987]}},
    }
    assert data["versions"] == {"timm": {"new": ["1.0.32"], "old": ["1.0.31"]}}


def test_deterministic(old_catalog: Path, new_catalog: Path, tmp_path: Path) -> None:
    outputs = set()
    for i in range(2):
        out = tmp_path / f"{i}.md"
        main(["diff", str(old_catalog), str(new_catalog), "--output", str(out)])
        outputs.add(out.read_bytes())
    assert len(outputs) == 1


def test_max_rows_truncates(tmp_path: Path, old_catalog: Path) -> None:
    many = [model_doc("timm", f"net{i:03d}", [3, 3], [1, 1]) for i in range(12)]
    new = write_catalog(tmp_path / "many", many)
    diff = diff_catalogs(read_catalog(old_catalog), read_catalog(new), "old", "new")
    text = to_markdown(diff, max_rows=5)
    assert "`timm/net004`" in text and "`timm/net005`" not in text
    assert "… and 7 more" in text


def test_changelog_newest_first(old_catalog: Path, new_catalog: Path, tmp_path: Path) -> None:
    changelog = tmp_path / "changelog.md"
    args = ["diff", str(old_catalog), str(new_catalog), "--output", str(tmp_path / "pr.md")]
    main([*args, "--changelog", str(changelog), "--title", "first"])
    main([*args, "--changelog", str(changelog), "--title", "second", "--max-rows", "1"])
    text = changelog.read_text()
    assert text.startswith(CHANGELOG_TITLE + "\n")
    assert text.index("## second") < text.index("## first")
    assert "`timm/pit_ti_224`" in text.split("## first")[0]  # the changelog is never truncated
    assert add_to_changelog(text, "## third\n").count(CHANGELOG_TITLE) == 1


def test_no_changelog_entry_without_changes(old_catalog: Path, tmp_path: Path) -> None:
    changelog = tmp_path / "changelog.md"
    main(["diff", str(old_catalog), str(old_catalog), "--changelog", str(changelog)])
    assert not changelog.exists()


def test_exit_code_flag(old_catalog: Path, new_catalog: Path) -> None:
    assert main(["diff", str(old_catalog), str(old_catalog), "--exit-code"]) == 0
    assert main(["diff", str(old_catalog), str(new_catalog), "--exit-code"]) == 1


def test_not_a_catalog_is_one_line_error(tmp_path: Path) -> None:
    code, out = run_cli(str(tmp_path), str(tmp_path))
    assert code == 2
    assert out.strip().count("\n") == 0 and "not a catalog directory" in out


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def test_git_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "before the catalog")
    write_catalog(repo / "data", [model_doc("timm", "a", [3, 3], [1, 1])])
    git(repo, "add", "data")
    git(repo, "commit", "-q", "-m", "catalog")
    write_catalog(
        repo / "data", [model_doc("timm", "a", [5, 5], [1, 1], versions={**VERSIONS, "timm": "9"})]
    )
    monkeypatch.chdir(repo)

    assert main(["diff", "git:HEAD", "data", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["changed"][0]["changes"]["rf"] == {"old": [3, 3], "new": [5, 5]}

    assert main(["diff", "git:HEAD~1", "git:HEAD", "--format", "json"]) == 0  # no data/ yet: empty
    assert [e["model"] for e in json.loads(capsys.readouterr().out)["added"]] == ["timm/a"]

    code, out = run_cli("git:nosuchrev", "data")
    assert code != 0  # run_cli runs in the rfzoo repo, where the revision is unknown too
    assert "unknown git revision" in out


def test_catalogs_are_labelled_by_date_not_by_spec() -> None:
    import re

    from rfzoo.diff import catalog_label

    assert re.fullmatch(r"catalog of \d{4}-\d{2}-\d{2} \(commit [0-9a-f]{7,}\)", catalog_label("git:HEAD:data"))
    assert catalog_label("data", "2026-12-02") == "catalog of 2026-12-02"
    assert catalog_label("some/dir") == "some/dir"

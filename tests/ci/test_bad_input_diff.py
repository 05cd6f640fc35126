"""Issue #12 for `rfzoo diff`: a missing catalog, a malformed index or a bad option is an
error of one line, never an empty catalog, a wrong count or a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from catalog_fixtures import model_doc, write_catalog

from rfzoo.cli import main


def diff(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `rfzoo diff ARGS` run in this process."""
    code = main(["diff", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rfzoo: error: "), err
    return lines[0]


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository: one commit without the catalog, then one with data/ and a README."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "before the catalog")
    write_catalog(repo / "data", [model_doc("timm", "a", [3, 3], [1, 1])])
    (repo / "README").write_text("not a catalog\n")
    git(repo, "add", "data", "README")
    git(repo, "commit", "-q", "-m", "catalog")
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize("spec", ["git:HEAD:typo", "git:HEAD~1:typo"])
def test_a_git_path_that_does_not_exist_is_an_error(capsys, repo: Path, spec: str) -> None:
    code, out, err = diff(capsys, spec, "data")
    assert code == 2 and out == ""
    assert "no 'typo' at HEAD" in one_line_error(err)


def test_a_git_path_that_is_no_catalog_is_an_error(capsys, repo: Path) -> None:
    code, _, err = diff(capsys, "git:HEAD:README", "data")
    assert code == 2 and "is not a catalog directory" in one_line_error(err)


def test_a_revision_from_before_the_catalog_is_still_empty(capsys, repo: Path) -> None:
    for old in ("git:HEAD~1", "git:HEAD~1:data"):  # data/ is missing there, but not at HEAD
        code, out, _ = diff(capsys, old, "data", "--format", "json")
        assert code == 0 and [e["model"] for e in json.loads(out)["added"]] == ["timm/a"]


def test_negative_max_rows_is_refused_and_zero_lists_counts_only(
    capsys, old_catalog: Path, new_catalog: Path
) -> None:
    code, out, err = diff(capsys, old_catalog, new_catalog, "--max-rows", "-1")
    assert code == 1 and out == "" and "--max-rows must be 0 or more" in one_line_error(err)
    code, out, _ = diff(capsys, old_catalog, new_catalog, "--max-rows", "0")
    assert code == 0 and "`timm/new_net`" not in out
    assert "… and 1 more" in out and "1 added, 1 removed" in out


@pytest.mark.parametrize(("content", "message"), [
    ("null", "is not a catalog index"),
    ("[1, 2]", "row 1 is not an object"),
    ('[{"name": "x", "status": "exact"}]', "row 1 has no 'source'"),
    ('{"models": [{"name": "x"}]}', "row 1 has no 'source'"),
    ('[{"source": "timm", "name": "x", "rf": "abc"}]', "row 1 is malformed"),
    ("{not json", "cannot read"),
])
def test_a_malformed_index_is_one_line(capsys, tmp_path: Path, old_catalog: Path, content: str,
                                       message: str) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "index.json").write_text(content)
    for args in ((old_catalog, bad), (bad, old_catalog)):
        code, out, err = diff(capsys, *args)
        assert code == 2 and out == "" and message in one_line_error(err)


@pytest.mark.parametrize("content", ["[]", '{"source": "timm"}', '{"source": "timm", "name": 3}'])
def test_a_malformed_model_document_is_one_line(capsys, tmp_path: Path, old_catalog: Path,
                                                content: str) -> None:
    (old_catalog / "models" / "timm" / "broken.json").write_text(content)
    code, _, err = diff(capsys, old_catalog, old_catalog)
    assert code == 2 and "broken.json is not a model entry" in one_line_error(err)


def test_an_output_that_is_a_directory_is_one_line(capsys, tmp_path: Path, old_catalog: Path) -> None:
    code, _, err = diff(capsys, old_catalog, old_catalog, "--output", tmp_path)
    assert code == 1 and f"cannot write {tmp_path}" in one_line_error(err)
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.tmp"))

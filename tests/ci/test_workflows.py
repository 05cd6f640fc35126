"""The GitHub workflows and the Dependabot config: schema-valid, audited, pinned, and calling
the scripts a maintainer runs locally."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
SEVERITIES = ("Unknown", "Informational", "Low", "Medium", "High")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"uses: (\S+) # v\d+(\.\d+)*$")


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (it is in requirements/lock.txt)")
    return path


def load(path: Path) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1): read it back under its name
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_expected_workflows() -> None:
    assert {p.name for p in WORKFLOWS} == {"test.yml", "catalog.yml", "pages.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_schema(path: Path) -> None:
    out = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_dependabot_schema() -> None:
    path = GITHUB / "dependabot.yml"
    out = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def zizmor_findings(target: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        cwd=target.parent,
    )
    assert out.stdout.strip(), out.stderr  # exit codes 11-14 mean findings, not failure
    return json.loads(out.stdout)


def serious(findings: list[dict[str, Any]]) -> list[str]:
    medium = SEVERITIES.index("Medium")
    return [
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
        f"{f['locations'][0]['symbolic']['key']['Local']['verbatim_path']}"
        for f in findings
        if SEVERITIES.index(f["determinations"]["severity"]) >= medium
    ]


def test_zizmor_no_medium_or_worse() -> None:
    """The workflows and dependabot.yml: no finding of medium severity or above."""
    assert serious(zizmor_findings(GITHUB)) == []


def test_zizmor_catches_a_bad_workflow(tmp_path: Path) -> None:
    """Guards the test above: zizmor runs offline and reports what it should."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    found = "\n".join(serious(zizmor_findings(tmp_path / ".github")))
    assert "unpinned-uses" in found and "template-injection" in found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_with_version_comment(path: Path) -> None:
    for step in steps(load(path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} is not a commit SHA"
    for line in path.read_text().splitlines():
        if line.strip().startswith(("uses:", "- uses:")):
            assert VERSION_COMMENT.search(line), f"{path.name}: no version comment: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(path: Path) -> None:
    workflow = load(path)
    assert "permissions" in workflow, "top-level permissions: the default token is too broad"
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_caches_keyed_on_the_lock(path: Path) -> None:
    for step in steps(load(path)):
        if step.get("uses", "").startswith("actions/cache@"):
            assert "hashFiles('requirements/lock.txt')" in step["with"]["key"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_steps_call_existing_scripts(path: Path) -> None:
    """Local parity: a job's work is in scripts a maintainer can run, and they exist."""
    for step in steps(load(path)):
        for script in re.findall(r"bash (scripts/\S+\.sh)", step.get("run", "")):
            if script != "scripts/test.sh":  # the README's test command, the lead's file
                assert (REPO / script).is_file(), f"{path.name} calls missing {script}"


def test_shard_count_defined_once() -> None:
    """N lives in scripts/ci/catalog.env; the matrix reads it from the plan job."""
    catalog = load(GITHUB / "workflows" / "catalog.yml")
    matrix = catalog["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    assert matrix == "${{ fromJSON(needs.plan.outputs.shards) }}"
    text = "\n".join(p.read_text() for p in [*WORKFLOWS, *REPO.glob("scripts/ci/*.sh")])
    assert not re.search(r"--shard \d|/8\b|SHARDS=\d", text)
    out = subprocess.run(
        ["bash", str(REPO / "scripts/ci/catalog_plan.sh")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=True,
    )
    shards = re.search(r"^shards=(.*)$", out.stdout, re.M)
    env = (REPO / "scripts/ci/catalog.env").read_text()
    count = int(re.search(r"^CATALOG_SHARDS=(\d+)$", env, re.M).group(1))
    assert shards and json.loads(shards.group(1)) == list(range(1, count + 1))


def test_catalog_triggers() -> None:
    triggers = load(GITHUB / "workflows" / "catalog.yml")["on"]
    assert {"schedule", "workflow_dispatch", "pull_request"} <= set(triggers)
    assert triggers["pull_request"]["paths"] == ["requirements/lock.txt"]


def test_dependabot_groups_the_model_libraries() -> None:
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"pip", "github-actions"}
    for update in ecosystems.values():
        assert update["cooldown"]["default-days"] >= 1
    group = ecosystems["pip"]["groups"]["model-libraries"]["patterns"]
    assert {"torch", "torchvision", "timm"} <= set(group)

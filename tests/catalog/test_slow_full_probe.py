"""scripts/ci/catalog_slow_full.py on a real build: which models catalog_shard.sh measures
again, alone, with the longer limit of a full probe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from build_helpers import build_options, user

from rfzoo.catalog import sources, store
from rfzoo.catalog.runner import REPO_ROOT, build

SCRIPT = REPO_ROOT / "scripts" / "ci" / "catalog_slow_full.py"


def listed(data: Path) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    out = subprocess.run([sys.executable, str(SCRIPT), str(data)], capture_output=True, text=True,
                         env=env, check=True)
    return out.stdout.split()


@pytest.mark.slow
def test_only_default_models_whose_full_probe_timed_out_are_measured_again(tmp_path: Path) -> None:
    default = sources.parse_ref("torchvision/resnet18")
    assert default in sources.default_refs()
    hangs, quick = user("HangsOnCpu"), user("TinyA")
    assert listed(tmp_path) == []  # no build yet: nothing to do
    # every layer of ResNet-18 and its ERF take longer than 4 s; HangsOnCpu's probe never ends
    build([default, hangs, quick], build_options(tmp_path, 2, 4.0, probe=True))
    notes = {r["name"]: r["verify_note"] for r in store.read_index(tmp_path / "index.json")}
    assert notes[default.name].startswith("not measured: timed out after 4 s while probing")
    assert notes[hangs.name].startswith("not measured: timed out after 4 s while probing")
    assert notes[quick.name] == ""
    assert listed(tmp_path) == ["torchvision/resnet18"]  # a user model keeps the stage checks' limit

"""Build the site for tests: paths and a strict `mkdocs build` helper."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # rfzoo importable from a checkout that is not installed

FIXTURE_DATA = REPO / "tests" / "fixtures" / "catalog"
ARTIFACTS = REPO / "tests" / "artifacts"


def build_site(data_dir: Path, out: Path, extra_env: dict[str, str] | None = None) -> str:
    """`mkdocs build --strict` into `out`; returns the log. Fails the test on any warning."""
    env = {**os.environ, "RFZOO_DATA_DIR": str(data_dir), "NO_MKDOCS_2_WARNING": "1",
           "SOURCE_DATE_EPOCH": "1735689600", **(extra_env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"),
         "-d", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "WARNING" not in log, log
    return log



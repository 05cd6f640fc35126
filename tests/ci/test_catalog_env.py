"""scripts/ci/lib.sh reads scripts/ci/catalog.env as data: KEY=value lines whose values are
taken literally, never evaluated by the shell."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "scripts" / "ci" / "lib.sh"
ENV_FILE = REPO / "scripts" / "ci" / "catalog.env"
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}


def source(lib: Path, keys: list[str], env: dict[str, str] | None = None
           ) -> tuple[subprocess.CompletedProcess[str], dict[str, str | None]]:
    """Source `lib` in a fresh bash; the run and the values it leaves in `keys` (None: unset)."""
    script = 'source "$1"; shift; for k; do if [ -n "${!k+set}" ]; then printf "%s=%s\\0" "$k" "${!k}"; fi; done'
    out = subprocess.run(["bash", "-c", script, "bash", str(lib), *keys], capture_output=True,
                         text=True, env={**CLEAN_ENV, **(env or {})})
    found = dict(item.split("=", 1) for item in out.stdout.split("\0") if item)
    return out, {k: found.get(k) for k in keys}


def load(lib: Path, keys: list[str], env: dict[str, str] | None = None) -> dict[str, str | None]:
    out, values = source(lib, keys, env)
    assert out.returncode == 0, out.stderr
    return values


def fake_repo(tmp_path: Path, env_text: str) -> Path:
    """A copy of lib.sh in a scratch repository whose catalog.env is `env_text`."""
    ci = tmp_path / "scripts" / "ci"
    ci.mkdir(parents=True)
    shutil.copy(LIB, ci / "lib.sh")
    (ci / "catalog.env").write_text(env_text)
    return ci / "lib.sh"


def test_committed_values_load_as_the_shell_would_read_them() -> None:
    keys = re.findall(r"^([A-Z_][A-Z0-9_]*)=", ENV_FILE.read_text(), re.M)
    assert "CATALOG_SHARDS" in keys and "CATALOG_BUILD_ARGS" in keys
    # the committed file is trusted, so the shell's own reading of it is the reference
    shell = subprocess.run(
        ["bash", "-c", 'source "$1"; shift; for k; do printf "%s=%s\\0" "$k" "${!k}"; done',
         "bash", str(ENV_FILE), *keys],
        capture_output=True, text=True, env=CLEAN_ENV, check=True,
    ).stdout
    expected = dict(item.split("=", 1) for item in shell.split("\0") if item)
    assert load(LIB, keys) == expected
    assert expected["CATALOG_BUILD_ARGS"].startswith("--")  # quotes stripped, no eval needed


def test_values_are_literal_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    victim = tmp_path / "y"
    victim.write_text("keep me")
    lines = {
        "CATALOG_SUBST": f"$(touch {marker})",
        "CATALOG_BACKTICK": f"`touch {marker}`",
        "CATALOG_CHAIN": "x; rm -rf y",
        "CATALOG_QUOTED": f'"a $(touch {marker}) b"',
        "CATALOG_SINGLE": "'--jobs 2'",
        "CATALOG_EQUALS": "a=b=c",
        "CATALOG_VAR": "$HOME",
        "CATALOG_EMPTY": "",
    }
    text = "# a comment\n\n" + "".join(f"{k}={v}\n" for k, v in lines.items())
    out, values = source(fake_repo(tmp_path, text), list(lines))
    assert not marker.exists()
    assert victim.is_file()
    assert out.returncode == 0, out.stderr
    assert values == {
        "CATALOG_SUBST": f"$(touch {marker})",
        "CATALOG_BACKTICK": f"`touch {marker}`",
        "CATALOG_CHAIN": "x; rm -rf y",
        "CATALOG_QUOTED": f"a $(touch {marker}) b",
        "CATALOG_SINGLE": "--jobs 2",
        "CATALOG_EQUALS": "a=b=c",
        "CATALOG_VAR": "$HOME",
        "CATALOG_EMPTY": "",
    }


def test_environment_wins(tmp_path: Path) -> None:
    lib = fake_repo(tmp_path, "CATALOG_SHARDS=16\nCATALOG_DATA_DIR=data\n")
    values = load(lib, ["CATALOG_SHARDS", "CATALOG_DATA_DIR"], {"CATALOG_SHARDS": "3"})
    assert values == {"CATALOG_SHARDS": "3", "CATALOG_DATA_DIR": "data"}


def test_bad_key_is_an_error(tmp_path: Path) -> None:
    for i, line in enumerate(("lower_case=1", "export CATALOG_X=1", "1ABC=1", "CATALOG_X")):
        lib = fake_repo(tmp_path / str(i), f"CATALOG_OK=1\n{line}\n")
        out = subprocess.run(["bash", "-c", 'source "$1"', "bash", str(lib)], capture_output=True,
                             text=True, env=CLEAN_ENV)
        assert out.returncode != 0 and "not a KEY=value line" in out.stderr, line

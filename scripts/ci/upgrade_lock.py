"""Rewrite requirements/lock.txt with the newest releases of some libraries (torch, torchvision,
timm), keeping every other pin when pip can resolve that, else re-resolving the whole lock.

Resolves with `pip install --dry-run --ignore-installed --report`, which reads package metadata
only: nothing is installed. Run it on the platform the lock is for (Linux, Python 3.11).
Usage: python scripts/ci/upgrade_lock.py LOCK LIBRARY...
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# pins that follow torch's release: freed together with it
FOLLOWS_TORCH = re.compile(r"^(nvidia-|cuda-|triton$)")
# what `pip freeze` leaves out of a lock, so the rewritten lock does too
FREEZE_SKIPS = {"pip", "setuptools", "wheel", "distribute"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, tuple[str, str]]:
    """canonical name -> (name as spelled in the lock, version)."""
    pins = {}
    for line in path.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            pins[canonical(name)] = (name, version)
    return pins


def resolve(requirements: list[str]) -> dict[str, tuple[str, str]] | None:
    """What pip would install for these requirements, or None when they do not resolve."""
    with tempfile.TemporaryDirectory() as tmp:
        reqs, report = Path(tmp, "requirements.txt"), Path(tmp, "report.json")
        reqs.write_text("\n".join(requirements) + "\n")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--report",
            str(report),
            "-r",
            str(reqs),
        ]
        if subprocess.run(cmd, check=False).returncode:
            return None
        installs = json.loads(report.read_text())["install"]
    return {
        canonical(i["metadata"]["name"]): (i["metadata"]["name"], i["metadata"]["version"])
        for i in installs
    }


def upgrade(pins: dict[str, tuple[str, str]], libraries: list[str]) -> dict[str, tuple[str, str]]:
    freed = {canonical(lib) for lib in libraries}
    freed |= {key for key in pins if "torch" in freed and FOLLOWS_TORCH.match(key)}
    keep = [f"{name}=={version}" for key, (name, version) in pins.items() if key not in freed]
    unpinned = [pins[key][0] if key in pins else key for key in sorted(freed)]
    resolved = resolve(keep + unpinned)
    if resolved is None:  # a new release needs newer dependencies: re-resolve everything
        print(
            "keeping the other pins does not resolve; re-resolving the whole lock", file=sys.stderr
        )
        resolved = resolve([name for name, _ in pins.values()])
    if resolved is None:
        raise SystemExit("pip cannot resolve the lock with the new releases")
    # keep the lock's spelling of names, so that the diff shows versions only
    return {
        key: (pins.get(key, (name, ""))[0], version)
        for key, (name, version) in resolved.items()
        if key in pins or key not in FREEZE_SKIPS
    }


def write_lock(path: Path, pins: dict[str, tuple[str, str]]) -> None:
    ordered = sorted(pins.values(), key=lambda pin: pin[0].lower())  # pip freeze's order
    path.write_text("".join(f"{name}=={version}\n" for name, version in ordered))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path, libraries = Path(argv[0]), argv[1:]
    old = read_lock(path)
    new = upgrade(old, libraries)
    write_lock(path, new)
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, ("", "none"))[1], new.get(key, ("", "none"))[1]
        if before != after:
            print(f"{key}: {before} -> {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

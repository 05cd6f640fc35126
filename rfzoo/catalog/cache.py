"""Cache keys: a model is recomputed only when something its document depends on changed.

The key hashes the model id, the requested input size, the versions of torch,
torchvision and timm, and the analysis code version: a hash of the source files of
every rfzoo module that shapes a document (everything except the command line, the
catalog's own scheduling code and the site), plus ANALYSIS_VERSION for changes no
source hash sees. The probe (verification + ERF) has its own key, so a `--no-probe`
build reuses documents that carry probe results, and a probe build upgrades documents
that do not.

Cache entries live beside the data (``cache/<source>/<stem>.json``) so a committed
data directory is a warm cache for a fresh clone with the locked versions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfzoo.catalog import rows, store
from rfzoo.catalog.sources import ModelRef

# Bump to invalidate every cached document without a code change (e.g. a data fix).
ANALYSIS_VERSION = 1

PACKAGE_DIR = Path(__file__).resolve().parent.parent
_PROBE_STEP = "catalog/probe_step.py"  # part of the probe's key, not the analysis's
# Paths under rfzoo/ that never change a model document: hashing them would rebuild the
# whole catalog for an edit to the CLI or the site.
_NOT_ANALYSIS = (
    "__main__.py",
    "cli.py",
    "commands/",
    "site/",
    "diff.py",
    "diff/",
    "catalog/cli.py",
    "catalog/runner.py",
    "catalog/progress.py",
    "catalog/cache.py",
    "catalog/coverage.py",
    "catalog/merge.py",
    "catalog/lock.py",
    "catalog/naming.py",  # where a document is stored, not what it says
    "catalog/rows.py",  # index rows are re-derived from documents (cache.current_row)
    "probe/cli.py",
    "trained/",  # trained-weight ERFs: their own files under data/trained, not documents
    _PROBE_STEP,
)
_PROBE_PREFIX = "probe/"
# The probe code that only *chooses* a plan from analyses. Every choice it makes is in the
# plan fingerprint stored with a verification, and a re-analysis compares fingerprints
# before it keeps stored results (`probe_step.carry_over`); so these files belong to the
# analysis's key, and a plan fix costs a re-analysis, not a re-measurement of the zoo.
# Code that runs while measuring (`probe/targets.py`, `probe/verify.py`, ...) may call
# only `plan.plan_axes` from them (tests/catalog/test_cache_keys.py checks it).
PLAN_CODE = ("probe/plan.py", "probe/fingerprint.py")


def _source_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        if not any(rel == skip or rel.startswith(skip) for skip in _NOT_ANALYSIS if skip):
            files.append(path)
    return files


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def analysis_version() -> str:
    files = [p for p in _source_files() if not _rel(p).startswith(_PROBE_PREFIX) or _rel(p) in PLAN_CODE]
    return f"{ANALYSIS_VERSION}-{_hash_files(files)}"


@functools.cache
def plan_version() -> str:
    """The plan code's hash: stored with a probe failure, which is kept only while it holds."""
    return _hash_files([PACKAGE_DIR / rel for rel in PLAN_CODE])


def note_probe_error(doc: dict[str, Any], reason: str) -> None:
    """Record why the probe failed, with the plan code it failed under."""
    doc["probe_error"] = reason
    doc["probe_error_plan"] = plan_version()


@functools.cache
def probe_version() -> str:
    return _hash_files([p for p in sorted(PACKAGE_DIR.rglob("*.py")) if _is_probe_code(p)])


def _is_probe_code(path: Path) -> bool:
    rel = _rel(path)
    return rel.startswith(_PROBE_PREFIX) and rel != "probe/cli.py" and rel not in PLAN_CODE or rel == _PROBE_STEP


def probe_key(level: bool | str | None) -> str | None:
    """The probe part of a cache entry: None (no probe), the probe code's version (full),
    or that version marked ":stages" (stage verification only)."""
    if not level:
        return None
    return probe_version() if level in (True, "full") else f"{probe_version()}:{level}"


def probe_satisfies(have: str | None, want: bool | str) -> bool:
    """A full probe answers a stages request too; anything answers no request."""
    if not want:
        return True
    return have == probe_key(True) or (want not in (True, "full") and have == probe_key(want))


def same_probe_code(have: str | None, want: bool | str) -> bool:
    """Stored probe results that this probe code made and that answer `want` (any level
    when no probe is asked for: a build without the probe keeps what still holds)."""
    if not want:
        return have is not None and have.split(":")[0] == probe_version()
    return probe_satisfies(have, want)


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE_DIR).as_posix()


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def library_versions() -> dict[str, str | None]:
    """Versions recorded in documents and keys (read from metadata: no torch import)."""
    from rfzoo.version import __version__

    return {
        "torch": _dist_version("torch"),
        "torchvision": _dist_version("torchvision"),
        "timm": _dist_version("timm"),
        "rfzoo": __version__,
    }


def _user_source_hash(name: str) -> str | None:
    """A user model's file contents belong in its key: editing the file must rebuild."""
    module, _, _ = name.rpartition(":")
    path: Path | None = None
    if module.endswith(".py"):
        path = Path(module)
    else:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            path = Path(spec.origin)
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def model_key(ref: ModelRef, input_size: list[int] | None) -> str:
    parts: dict[str, Any] = {
        "model": ref.id,
        "input_size": input_size,
        "versions": library_versions(),
        "analysis": analysis_version(),
    }
    if ref.source == "user":
        parts["user_source"] = _user_source_hash(ref.name)
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


# The key of an entry that only carries a model's index row for the build that wrote it
# (the model timed out): it matches no model key, so the next build tries the model again.
RETRY_KEY = "retry"


@dataclass(frozen=True)
class CacheEntry:
    key: str
    probe_key: str | None  # None: the document has no probe results
    row: dict[str, Any]
    row_version: str = rows.ROW_VERSION  # the rows.py that derived `row`

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "probe_key": self.probe_key, "row": self.row, "row_version": self.row_version}


def read_entry(data_dir: Path, ref: ModelRef) -> CacheEntry | None:
    path = store.cache_path(data_dir, ref)
    try:
        raw = store.read_json(path)
        return _entry(raw)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or unreadable: recompute


def _entry(raw: dict[str, Any]) -> CacheEntry:
    return CacheEntry(raw["key"], raw.get("probe_key"), raw["row"], str(raw.get("row_version")))


def current_row(data_dir: Path, ref: ModelRef, entry: CacheEntry) -> dict[str, Any]:
    """The entry's index row, re-derived from the model's document (and the entry
    rewritten) when an older rfzoo.catalog.rows made it: a new column costs a read of
    each document, not a rebuild. A missing or unreadable document keeps the old row."""
    if entry.row_version == rows.ROW_VERSION:
        return entry.row
    try:
        row = rows.index_row(store.read_json(store.model_path(data_dir, ref)))
    except (OSError, ValueError, EOFError, TypeError, AttributeError):
        return entry.row
    write_entry(data_dir, ref, CacheEntry(entry.key, entry.probe_key, row))
    return row


def current_rows(data_dir: Path) -> list[dict[str, Any]]:
    """Every cached model's index row, up to date with rfzoo.catalog.rows."""
    return [current_row(data_dir, ref, entry) for ref, entry in iter_entries(data_dir)]


def write_entry(data_dir: Path, ref: ModelRef, entry: CacheEntry) -> None:
    store.write_json(store.cache_path(data_dir, ref), entry.to_dict())


def is_fresh(
    data_dir: Path, ref: ModelRef, entry: CacheEntry | None, key: str, want_probe: bool | str
) -> bool:
    """A hit needs the same key, the document on disk, and probe results if asked for."""
    if entry is None or entry.key != key:
        return False
    if not probe_satisfies(entry.probe_key, want_probe):
        return False
    return store.model_path(data_dir, ref).is_file()


def iter_entries(data_dir: Path) -> list[tuple[ModelRef, CacheEntry]]:
    found = []
    root = data_dir / "cache"
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*/*.json")):
        try:
            raw = store.read_json(path)
            entry = _entry(raw)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        row = entry.row
        found.append((ModelRef(str(row["source"]), str(row["name"])), entry))
    return found

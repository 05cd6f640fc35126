"""`rfzoo merge`: join the data directories of sharded builds into one.

Model documents and cache entries are copied as they are (byte for byte) and the index
is rewritten from the merged cache entries, so the result is byte-identical to one
unsharded build of the same models. The output's models, cache entries and index are
replaced: a model that no input has is removed, so merging into an earlier merge's
directory leaves no stale entries. Every input is read and checked before anything is
written, so a conflict (one model, two different results) changes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rfzoo.catalog import cache, lock, store
from rfzoo.errors import RfzooError

CATALOG_FILES = ("models/*/*.json", "models/*/*.json.gz", "cache/*/*.json")


def merge(dirs: list[Path], output: Path) -> int:
    _check_output(output)
    plan = plan_merge(dirs)
    with lock.hold_data_dir(output):
        for rel, data_dir in plan.items():
            _copy(data_dir / rel, output / rel)
        for pattern in CATALOG_FILES:
            for path in output.glob(pattern):
                if path.relative_to(output) not in plan:
                    path.unlink()  # a model none of the inputs has
        rows = cache.current_rows(output)
        store.write_index(output, rows)
    return len(rows)


def plan_merge(dirs: list[Path]) -> dict[Path, Path]:
    """Path in the output -> the input directory to copy it from; an error on a conflict."""
    plan: dict[Path, Path] = {}
    for data_dir in dirs:
        if not (data_dir / "cache").is_dir():
            raise RfzooError(f"{data_dir} is not a catalog data directory (no cache/)")
        for ref, _entry in cache.iter_entries(data_dir):
            for src in (store.cache_path(data_dir, ref), store.model_path(data_dir, ref)):
                if not src.is_file():
                    continue
                rel = src.relative_to(data_dir)
                first = plan.setdefault(rel, data_dir)
                if first != data_dir and (first / rel).read_bytes() != src.read_bytes():
                    raise RfzooError(f"{ref.id} differs between {first} and {data_dir}: "
                                     "nothing was written")
    return plan


def _check_output(output: Path) -> None:
    """The output is new, empty, or a catalog data directory (whose models are replaced)."""
    if output.exists() and not output.is_dir():
        raise RfzooError(f"output {output} is a file, not a directory")
    is_catalog = (output / "cache").is_dir() or (output / "index.json").is_file()
    if output.is_dir() and any(output.iterdir()) and not is_catalog:
        raise RfzooError(f"output {output} is not empty and not a catalog data directory: "
                         "merge into a new directory")


def _copy(src: Path, dst: Path) -> None:
    if src.resolve() == dst.resolve():
        return  # the output is one of the inputs
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.merge.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)  # atomic, like every other write of the catalog

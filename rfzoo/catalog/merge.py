"""`rfzoo merge`: join the data directories of sharded builds into one.

Model documents and cache entries are copied as they are (byte for byte) and the index
is rewritten from the merged cache entries, so the result is byte-identical to one
unsharded build of the same models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rfzoo.catalog import cache, store
from rfzoo.errors import RfzooError


def merge(dirs: list[Path], output: Path) -> int:
    seen: dict[str, Path] = {}
    for data_dir in dirs:
        if not (data_dir / "cache").is_dir():
            raise RfzooError(f"{data_dir} is not a catalog data directory (no cache/)")
        for ref, _entry in cache.iter_entries(data_dir):
            for src, dst in (
                (store.cache_path(data_dir, ref), store.cache_path(output, ref)),
                (store.model_path(data_dir, ref), store.model_path(output, ref)),
            ):
                if not src.is_file():
                    continue
                owner = seen.get(str(dst))
                if owner is not None and owner != data_dir and src.read_bytes() != dst.read_bytes():
                    raise RfzooError(f"{ref.id} differs between {owner} and {data_dir}")
                if src.resolve() != dst.resolve():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    tmp = dst.with_name(f".{dst.name}.merge.tmp")
                    shutil.copyfile(src, tmp)
                    tmp.replace(dst)  # atomic, like every other write of the catalog
                seen[str(dst)] = data_dir
    rows = [entry.row for _, entry in cache.iter_entries(output)]
    store.write_index(output, rows)
    return len(rows)

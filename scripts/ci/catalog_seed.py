"""Seed a shard's fresh output directory with the cache entries of that shard's models only.

A warm cache (the CI cache of an earlier run, the committed data directory) may hold models
of other shards, or models a library has since dropped: `rfzoo build` indexes every entry of
its data directory, so copying a whole warm directory would put them in the shard's output.
Stale entries are harmless: their cache key no longer matches and the build recomputes them.

Usage: python scripts/ci/catalog_seed.py OUT I N WARM_DIR... [-- NAMES...]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rfzoo.catalog import sources, store
from rfzoo.catalog.sources import ModelRef


def shard_refs(index: int, count: int, names: list[str]) -> list[ModelRef]:
    refs = [sources.parse_ref(n) for n in names] if names else sources.all_refs()
    return sources.shard(refs, index, count)


def seed(out: Path, refs: list[ModelRef], warm_dirs: list[Path]) -> int:
    """Copy each model's cache entry and document from the first warm dir that has both."""
    seeded = 0
    for ref in refs:
        for warm in warm_dirs:
            pair = [
                (store.cache_path(warm, ref), store.cache_path(out, ref)),
                (store.model_path(warm, ref), store.model_path(out, ref)),
            ]
            if all(src.is_file() for src, _ in pair):
                for src, dst in pair:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)
                seeded += 1
                break
    return seeded


def main(argv: list[str]) -> int:
    args, names = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, index, count = Path(args[0]), int(args[1]), int(args[2])
    refs = shard_refs(index, count, names)
    seeded = seed(out, refs, [Path(w) for w in args[3:] if Path(w).is_dir()])
    print(f"seeded {seeded} of {len(refs)} models of shard {index}/{count}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

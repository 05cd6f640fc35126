"""The default catalog's models whose full probe passed a shard build's per-model time limit,
one `source/name` per line: catalog_shard.sh measures them again, alone, with a longer one.

The 5-minute limit (CATALOG_BUILD_ARGS) is sized for the stage checks of the rest of the zoo;
a default model's full probe (every layer and the ERF maps) is heavier: Inception-ResNet-v2's
took 528 s alone on 2 cores. Without this second pass every library update would leave it
"timed out" and unverified in the catalog pull request.

Usage: python scripts/ci/catalog_slow_full.py DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from rfzoo.catalog import sources, store
from rfzoo.catalog.sources import ModelRef

TIMED_OUT = "not measured: timed out"  # the verify_note of a probe that timed out (runner.py)


def slow_default_models(data_dir: Path) -> list[str]:
    index = data_dir / "index.json"
    if not index.is_file():
        return []
    defaults = {ref.id for ref in sources.default_refs()}
    return [ref_id for row in store.read_index(index)
            if (ref_id := ModelRef(row["source"], row["name"]).id) in defaults
            and str(row.get("verify_note") or "").startswith(TIMED_OUT)]


if __name__ == "__main__":
    print("\n".join(slow_default_models(Path(sys.argv[1]))))

"""Full-catalog build time for N = 1, 8 and 16 shards, from one build's per-model times.

    .venv/bin/rfzoo build --all --no-probe --jobs 2 --data-dir /tmp/full 2> full.log
    .venv/bin/python benchmarks/shard_times.py full.log [--jobs 2] [--shards 1 8 16]

A build that is not on a terminal logs one line per computed model with its seconds.
Each shard gets `rfzoo.catalog.sources.shard`'s model list (the split CI uses), and its
wall time is simulated as the build runs it: `--jobs` workers, each taking the next
model of the shard when it finishes one. Prints, per N, the slowest and the median
shard, the sum over shards (machine time) and the ratio to N = 1 in one run.
"""

from __future__ import annotations

import argparse
import heapq
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rfzoo.catalog import sources  # noqa: E402

LINE = re.compile(r"^\[\d+/\d+\] (\S+) (exact|partial|failed) ([0-9.]+)s")


def model_seconds(log: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    for line in log.read_text().splitlines():
        m = LINE.match(line)
        if m:
            times[m.group(1)] = float(m.group(3))
    return times


def wall_time(seconds: list[float], jobs: int) -> float:
    """List scheduling in order on `jobs` workers, as the build's worker pool does."""
    free = [0.0] * jobs
    for s in seconds:
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 8, 16])
    args = parser.parse_args()
    times = model_seconds(args.log)
    refs = [r for r in sources.all_refs() if r.id in times]
    print(f"{len(times)} models timed in {args.log}; {sum(times.values()) / 60:.1f} min of model time")
    base = None
    for n in args.shards:
        walls = [wall_time([times[r.id] for r in sources.shard(refs, i, n)], args.jobs) for i in range(1, n + 1)]
        slowest = max(walls)
        base = base or slowest
        print(f"N={n}: slowest shard {slowest / 60:.1f} min, median {statistics.median(walls) / 60:.1f} min, "
              f"machine time {sum(walls) / 60:.1f} min, speed-up {base / slowest:.2f}x vs N={args.shards[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

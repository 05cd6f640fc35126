"""Full-catalog build time for N = 1, 8 and 16 shards, from one build's per-model times.

    .venv/bin/rfzoo build --all --no-probe --jobs 2 --data-dir /tmp/full 2> full.log
    .venv/bin/python benchmarks/shard_times.py full.log [--jobs 2] [--shards 1 8 16]
    .venv/bin/python benchmarks/shard_times.py default.log shard*.log --shards 8 --per-shard

A build that is not on a terminal logs one line per computed model with its seconds.
Each shard gets `rfzoo.catalog.sources.shard`'s model list (the split CI uses), and its
wall time is simulated as the build runs it: `--jobs` workers, each taking the next
model of the shard when it finishes one, then the models that ran out of memory beside
another worker measured again one at a time (their second line in the log). Prints, per N, the slowest and the median
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


def model_seconds(log: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per model in the worker pool, and in the run alone after it (a model's
    second line: it ran out of memory beside another worker)."""
    pooled: dict[str, float] = {}
    alone: dict[str, float] = {}
    for line in log.read_text().splitlines():
        m = LINE.match(line)
        if m:
            (alone if m.group(1) in pooled else pooled)[m.group(1)] = float(m.group(3))
    return pooled, alone


def wall_time(seconds: list[float], jobs: int) -> float:
    """List scheduling in order on `jobs` workers, as the build's worker pool does."""
    free = [0.0] * jobs
    for s in seconds:
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


def shard_seconds(ids: list[str], pooled: dict[str, float], alone: dict[str, float], jobs: int) -> float:
    """A shard's wall time: its models on `jobs` workers, then the alone ones in turn."""
    return wall_time([pooled[i] for i in ids if i in pooled], jobs) + sum(alone.get(i, 0.0) for i in ids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("logs", type=Path, nargs="+", help="build logs (several: their times are merged)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--per-shard", action="store_true",
                        help="list every shard of the whole catalog's split: its timed models and wall time")
    args = parser.parse_args()
    times: dict[str, float] = {}
    alone: dict[str, float] = {}
    for log in args.logs:
        pooled, again = model_seconds(log)
        times.update(pooled)
        alone.update(again)
    print(f"{len(times)} models timed in {', '.join(map(str, args.logs))}; "
          f"{(sum(times.values()) + sum(alone.values())) / 60:.1f} min of model time, "
          f"{sum(alone.values()) / 60:.1f} of it alone ({len(alone)} models measured again)")

    def shard_wall(members: list) -> float:
        return shard_seconds([r.id for r in members], times, alone, args.jobs)

    if args.per_shard:
        # the split CI runs (over every model), each shard's wall from its timed models; a
        # partly timed shard is also scaled up to its size (a rough figure, marked ~)
        everything = sources.all_refs()
        for n in args.shards:
            for i in range(1, n + 1):
                members = sources.shard(everything, i, n)
                timed = [times[r.id] for r in members if r.id in times]
                wall = shard_wall(members)
                scaled = "" if len(timed) == len(members) or not timed else \
                    f", ~{wall * len(members) / len(timed) / 60:.1f} min scaled to all"
                print(f"N={n} shard {i}: {len(timed)}/{len(members)} models timed, "
                      f"{wall / 60:.1f} min at {args.jobs} workers{scaled}")
        return 0
    refs = [r for r in sources.all_refs() if r.id in times]
    base = None
    for n in args.shards:
        walls = [shard_wall(sources.shard(refs, i, n)) for i in range(1, n + 1)]
        slowest = max(walls)
        base = base or slowest
        print(f"N={n}: slowest shard {slowest / 60:.1f} min, median {statistics.median(walls) / 60:.1f} min, "
              f"machine time {sum(walls) / 60:.1f} min, speed-up {base / slowest:.2f}x vs N={args.shards[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

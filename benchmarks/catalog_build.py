"""Default catalog build time, cold (empty data dir) and warm (nothing changed), in one run.

    .venv/bin/python benchmarks/catalog_build.py [--jobs 2] [--no-probe] [NAMES...]

Prints the two wall times and their ratio; also the per-model time distribution of the
cold build (median, 90th percentile, slowest), which says where a build's time goes.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rfzoo.catalog import sources  # noqa: E402
from rfzoo.catalog.runner import BuildOptions, build  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-probe", action="store_true")
    args = parser.parse_args()
    refs = [sources.parse_ref(n) for n in args.names] or sources.default_refs()
    with tempfile.TemporaryDirectory() as tmp:
        opts = BuildOptions(data_dir=Path(tmp), jobs=args.jobs, probe=not args.no_probe,
                            stream=io.StringIO())
        t0 = time.perf_counter()
        cold = build(refs, opts)
        t1 = time.perf_counter()
        warm = build(refs, opts)
        t2 = time.perf_counter()
    per_model = sorted((o.seconds or 0.0, o.ref.id) for o in cold.outcomes)
    times = [s for s, _ in per_model]
    print(f"models: {len(refs)}  jobs: {args.jobs}  probe: {not args.no_probe}")
    print(f"cold build: {t1 - t0:7.1f} s  ({cold.count(cached=False)} built)")
    print(f"warm build: {t2 - t1:7.1f} s  ({warm.count(cached=True)} cached)")
    print(f"warm/cold:  {(t2 - t1) / (t1 - t0):7.3f}")
    if times:
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        print(f"per model (in worker): median {statistics.median(times):.2f} s, "
              f"p90 {p90:.2f} s, slowest {per_model[-1][0]:.1f} s ({per_model[-1][1]})")
    for line in cold.summary_lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

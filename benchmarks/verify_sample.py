"""Gradient verification over the full catalog, one model per family (the smallest).

    .venv/bin/python benchmarks/verify_sample.py [--index data/index.json] [--timeout 300]
        [--per-family 1] [--jobs 2] [--out verify_sample.json]

The catalog build probes the default catalog; probing all ~1,500 models takes hours on
two cores, so this samples the families of the full index (exact and partial models),
runs the support check alone (float64, no ERF) in a subprocess per model with a time
and memory limit, and prints the share of stages verified, the models that disagree
with their stages, and the models that could not be measured, with reasons.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
import rfzoo
from rfzoo.probe.api import probe_model
name = sys.argv[1]
analysis = rfzoo.analyze(name)
entry = probe_model(name, analysis, erf=False)["verification"]
print(json.dumps(entry))
"""


def sample(index: dict, per_family: int) -> list[str]:
    by_family: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in index["models"]:
        if row["status"] in ("exact", "partial"):
            by_family[(row["source"], row["family"])].append(row)
    picked = []
    for rows in by_family.values():
        rows.sort(key=lambda r: (r["params"] or 0, r["name"]))
        picked += [f"{r['source']}/{r['name']}" for r in rows[:per_family]]
    return sorted(picked)


def limit_memory(gb: float) -> None:
    cap = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def verify(name: str, timeout: float, memory_gb: float) -> dict:
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, name], capture_output=True, text=True, timeout=timeout,
            preexec_fn=lambda: limit_memory(memory_gb), cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"model": name, "error": f"timed out after {timeout:.0f} s", "seconds": timeout}
    seconds = round(time.monotonic() - start, 1)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        why = lines[-1][:200] if lines else f"exit code {done.returncode} (killed: out of memory?)"
        return {"model": name, "error": why, "seconds": seconds}
    return {"model": name, "entry": json.loads(done.stdout.strip().splitlines()[-1]), "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=ROOT / "data" / "index.json")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--memory-gb", type=float, default=10)
    parser.add_argument("--per-family", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("verify_sample.json"))
    args = parser.parse_args()
    names = sample(json.loads(args.index.read_text()), args.per_family)
    results = []
    with ThreadPoolExecutor(args.jobs) as pool:  # threads wait on subprocesses
        futures = [pool.submit(verify, name, args.timeout, args.memory_gb) for name in names]
        for i, future in enumerate(as_completed(futures), 1):
            result = future.result()
            results.append(result)
            status = ("verified" if result["entry"]["verified"] else "DISAGREES") if "entry" in result else "not measured"
            print(f"[{i}/{len(names)}] {result['model']} {status} {result['seconds']}s", file=sys.stderr, flush=True)
            args.out.write_text(json.dumps(sorted(results, key=lambda r: r["model"]), indent=1, sort_keys=True))
    results.sort(key=lambda r: r["model"])
    measured = [r for r in results if "entry" in r]
    stages = [s for r in measured for s in r["entry"]["stages"]]
    agree = sum(s["agree"] for s in stages)
    print(f"models sampled {len(results)}, measured {len(measured)}, "
          f"verified {sum(r['entry']['verified'] for r in measured)}")
    print(f"stages measured {len(stages)}, agree {agree} ({100 * agree / max(1, len(stages)):.1f}%)")
    for r in measured:
        for s in r["entry"]["stages"]:
            if not s["agree"]:
                print(f"  DISAGREE {r['model']} {s['node']}: analytic {s['analytic_box']} measured {s['measured_box']}")
    for r in results:
        if "error" in r:
            print(f"  not measured {r['model']}: {r['error']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The ERF memory estimate against the measured peak, per model and input size.

The probe skips an ERF run whose `effective.activation_bytes` estimate exceeds
$RFZOO_PROBE_MEMORY_GB. This runs the probe's own ERF measurement (`effective.measure`,
every stage, the catalog's 2 samples, float32) in a fresh process per case and reads the
peak resident memory the run added (Linux: VmHWM after resetting it through
/proc/self/clear_refs, minus the resident memory before the run). Prints estimate,
measured and their ratio; one thread, like a catalog worker.

    .venv/bin/python benchmarks/erf_memory.py [MODEL@SIZE ...]
"""

from __future__ import annotations

import json
import subprocess
import sys

DEFAULT_CASES = (
    "torchvision/resnet18@448",
    "torchvision/resnet50@448",
    "torchvision/resnet152@416",
    "torchvision/mobilenet_v3_large@448",
    "torchvision/convnext_tiny@448",
    "torchvision/densenet121@448",
)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def one_case(name: str, size: int) -> dict[str, float]:
    """Run in the child process: the probe's ERF measurement at `size`, with its memory."""
    import torch

    from rfzoo.probe.api import prepare
    from rfzoo.probe.effective import activation_bytes, default_stage_units, measure
    from rfzoo.probe.runner import LocalRunner
    from rfzoo.probe.targets import detach_names

    torch.set_num_threads(1)
    prepared = prepare(name)
    analysis = prepared.analyze_at((size,) * len(prepared.default_size))
    units = default_stage_units(analysis)
    runner = LocalRunner(prepared.gm, detach=detach_names(analysis))
    estimate = activation_bytes(analysis, samples=2)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident set
    before = _status_kb("VmRSS")
    measure(runner, units, tuple(analysis.input_size), prepared.in_channels, samples=2, seed=0)
    peak = _status_kb("VmHWM")
    return {"estimate_gb": estimate / 2**30, "measured_gb": (peak - before) / 2**20}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        name, size = argv[1], int(argv[2])
        print(json.dumps(one_case(name, size)))
        return 0
    cases = argv or list(DEFAULT_CASES)
    print(f"{'model':36} {'input':>6} {'estimate':>9} {'measured':>9} {'ratio':>6}")
    for case in cases:
        name, _, size = case.partition("@")
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, size],
            capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            print(f"{name:36} {size:>6} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:36} {size:>6} {r['estimate_gb']:8.2f}G {r['measured_gb']:8.2f}G "
              f"{r['estimate_gb'] / r['measured_gb']:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

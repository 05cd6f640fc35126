"""Cost of the gradient probe per model, against one forward + backward pass.

For each model: the time of `probe_model` (support check and ERF, split into
planning, verification and ERF), and the time of one float32 forward+backward
at the default input size, batch 1, on the same randomly initialized model.
Prints the ratios measured in one run (absolute times depend on the machine
and its load; the ratios much less).

    .venv/bin/python benchmarks/probe_cost.py [MODEL ...] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch

DEFAULT_MODELS = (
    "torchvision/resnet18",
    "torchvision/resnet50",
    "torchvision/mobilenet_v3_small",
)


def measure(name: str) -> dict[str, float]:
    import rfzoo
    from rfzoo.models import resolve
    from rfzoo.probe.api import prepare
    from rfzoo.probe.effective import erf_entry
    from rfzoo.probe.verify import axis_plans, verification_entry
    from rfzoo.probe.weights import INIT_DESCRIPTION

    spec = resolve(name)
    analysis = rfzoo.analyze(spec.full_name)
    clock = time.perf_counter
    t0 = clock()
    prepared = prepare(spec)
    t1 = clock()
    plans = axis_plans(prepared.analyze_at, analysis)
    t2 = clock()
    prepared.gm.to(torch.float64)
    verification_entry(prepared.gm, analysis, plans, prepared.in_channels)
    t3 = clock()
    prepared.gm.to(torch.float32)
    erf_entry(
        prepared.gm,
        analysis,
        plans,
        prepared.in_channels,
        weights="random",
        init=INIT_DESCRIPTION,
        samples=4,
    )
    t4 = clock()
    x = torch.randn(1, prepared.in_channels, *analysis.input_size, requires_grad=True)
    prepared.gm(x).sum().backward()  # warm-up
    t5 = clock()
    prepared.gm(x).sum().backward()
    t6 = clock()
    return {
        "prepare": t1 - t0,
        "plan": t2 - t1,
        "verify": t3 - t2,
        "erf": t4 - t3,
        "total": t4 - t0,
        "fwd_bwd": t6 - t5,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=list(DEFAULT_MODELS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"{'model':<34} {'fwd+bwd s':>9} {'probe s':>8} {'ratio':>7}  "
        f"{'prep':>5} {'plan':>5} {'verify':>6} {'erf':>5}  (ratios to fwd+bwd)"
    )
    for name in args.models:
        t = measure(name)
        base = t["fwd_bwd"]
        parts = "  ".join(f"{t[k] / base:>5.1f}" for k in ("prepare", "plan", "verify", "erf"))
        print(f"{name:<34} {base:>9.3f} {t['total']:>8.2f} {t['total'] / base:>7.1f}  {parts}")


if __name__ == "__main__":
    main()

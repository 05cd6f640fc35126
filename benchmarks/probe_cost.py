"""Cost of the gradient probe per model, against one forward + backward pass.

For each model, in one run: one float32 forward+backward at the default input
size, batch 1, on the same randomly initialized traced model (the best of 3,
after a warm-up), and the parts of `probe_model`: prepare (build, randomize,
trace), plan (the tall inputs of the support check), verify (float64 support
of the stages), layers (the support check of every other layer, on top of the
stages: the catalog runs both) and ERF (float32 maps). Prints seconds and the ratios to fwd+bwd (absolute
times depend on the machine and its load; the ratios much less). Threads
default to 1, like a catalog worker.

    .venv/bin/python benchmarks/probe_cost.py [MODEL ...] [--threads N] [--erf-samples N]
    .venv/bin/python benchmarks/probe_cost.py --stages [MODEL ...]   # the full catalog's check
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

DEFAULT_MODELS = (
    "torchvision/resnet18",
    "torchvision/resnet50",
    "torchvision/mobilenet_v3_small",
)
PARTS = ("prepare", "plan", "verify", "layers", "erf")


def fwd_bwd_seconds(gm: torch.nn.Module, shape: tuple[int, ...], repeats: int = 3) -> float:
    """Best of `repeats` float32 forward+backward passes of batch 1 (after a warm-up)."""
    x = torch.randn(1, *shape, requires_grad=True)
    best = float("inf")
    for k in range(repeats + 1):
        t0 = time.perf_counter()
        out = gm(x)
        out = out if isinstance(out, torch.Tensor) else _first_tensor(out)
        out.float().sum().backward()
        if k:  # the first pass is the warm-up
            best = min(best, time.perf_counter() - t0)
    return best


def _first_tensor(out: Any) -> torch.Tensor:
    values = out.values() if isinstance(out, dict) else out
    return next(v for v in values if isinstance(v, torch.Tensor))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def measure(name: str, erf_samples: int) -> dict[str, Any]:
    import rfzoo
    from rfzoo.models import resolve
    from rfzoo.probe.api import prepare
    from rfzoo.probe.effective import combine_axes, erf_entry
    from rfzoo.probe.verify import axis_plans, verification_entry
    from rfzoo.probe.weights import INIT_DESCRIPTION

    spec = resolve(name)
    analysis = rfzoo.analyze(spec.full_name)
    t: dict[str, Any] = {}
    prepared, t["prepare"] = timed(lambda: prepare(spec))
    gm = prepared.gm
    plans, t["plan"] = timed(lambda: axis_plans(prepared.analyze_at, analysis))
    gm.to(torch.float64)
    ver, t["verify"] = timed(lambda: verification_entry(gm, analysis, plans, prepared.in_channels))
    every = axis_plans(prepared.analyze_at, analysis, all_layers=True)
    ver, both = timed(lambda: verification_entry(gm, analysis, every, prepared.in_channels))
    t["layers"] = max(0.0, both - t["verify"])
    t["checked"] = (ver.get("layers") or {}).get("checked")
    gm.to(torch.float32)
    erf, t["erf"] = timed(
        lambda: erf_entry(
            gm,
            analysis,
            prepared.in_channels,
            analyze_at=prepared.analyze_at,
            full_size=combine_axes(plans)[0],
            weights="random",
            init=INIT_DESCRIPTION,
            samples=erf_samples,
        )
    )
    t["fwd_bwd"] = fwd_bwd_seconds(gm, (prepared.in_channels, *analysis.input_size))
    t["total"] = sum(t[k] for k in PARTS)
    t["verified"] = f"{ver['verified']} ({t['checked']} layers)"
    t["sizes"] = f"{ver['input_size']}x{ver['cross_size']} erf {erf['input_size']}"
    return t


def catalog_stages(spec: Any) -> list[str] | None:
    """The stage nodes the catalog checks (its committed document's), or None (the analysis's)."""
    from pathlib import Path

    from rfzoo.catalog import store
    from rfzoo.catalog.probe_step import stage_nodes
    from rfzoo.catalog.sources import ModelRef

    path = store.model_path(Path(__file__).resolve().parents[1] / "data", ModelRef(spec.source, spec.name))
    if not path.is_file():
        return None
    return stage_nodes(store.read_json(path)) or None


def measure_stages(name: str, now_first: bool = False) -> dict[str, Any]:
    """The catalog's stage verification (probe level "stages") as the last stop ran it
    (float32 first, float64 where it differs, three random inputs throughout) and now
    (one random input first, all three only where one input's box differs: see
    `rfzoo.probe.verify._stages_float32_first`), on the same prepared model."""
    import rfzoo
    from rfzoo.catalog.probe_step import STAGES_FIRST_SAMPLES
    from rfzoo.models import resolve
    from rfzoo.probe.api import prepare
    from rfzoo.probe.verify import axis_plans, verification_entry

    spec = resolve(name)
    analysis = rfzoo.analyze(spec.full_name)
    t: dict[str, Any] = {}
    prepared, t["prepare"] = timed(lambda: prepare(spec))
    gm = prepared.gm
    names = catalog_stages(spec)
    plans, t["plan"] = timed(lambda: axis_plans(prepared.analyze_at, analysis, stages=names))
    boxes_from = prepared.analyze_at(plans[0].full_size)
    runs = {
        "before": lambda: verification_entry(gm, boxes_from, plans, prepared.in_channels, float32_first=True),
        "now": lambda: verification_entry(gm, boxes_from, plans, prepared.in_channels, float32_first=True,
                                          first_samples=STAGES_FIRST_SAMPLES),
    }
    entries = {}
    for key in sorted(runs, reverse=now_first):  # alternate which runs first: no warm-up bias
        entries[key], t[key] = timed(runs[key])
    before, now = entries["before"], entries["now"]
    gm.to(torch.float32)
    t["fwd_bwd"] = fwd_bwd_seconds(gm, (prepared.in_channels, *analysis.input_size), repeats=1)
    t["same"] = [s["measured_box"] for s in before["stages"]] == [s["measured_box"] for s in now["stages"]]
    t["stages"] = sum(not s.get("implied_by") for s in now["stages"])
    t["rechecks"] = (before.get("float64_rechecks", 0), now.get("float64_rechecks", 0),
                     now.get("sample_rechecks", 0))
    t["verified"] = (before["verified"], now["verified"])
    return t


def main_stages(models: list[str]) -> None:
    print("stage verification (probe level stages), threads 1; ratios to one float32 fwd+bwd "
          "at the default size; prepare and plan counted in both")
    print(f"{'model':<44} {'fwd+bwd s':>9} {'before':>7} {'now':>6} {'speedup':>7}  measured  "
          "same boxes  rechecks (f64 before; f64, samples now)  verified (before, now)")
    totals = [0.0, 0.0]
    for k, name in enumerate(models):
        t = measure_stages(name, now_first=k % 2 == 1)
        base = t["fwd_bwd"]
        fixed = t["prepare"] + t["plan"]
        costs = [fixed + t["before"], fixed + t["now"]]
        totals = [a + b for a, b in zip(totals, costs, strict=True)]
        b64, n64, nsamples = t["rechecks"]
        print(f"{name:<44} {base:>9.3f} {costs[0] / base:>7.1f} {costs[1] / base:>6.1f} "
              f"{costs[0] / costs[1]:>7.2f}  {t['stages']:>8}  {str(t['same']):>10}  "
              f"{b64:>3}; {n64:>3}, {nsamples:>3}{'':>26}  {t['verified']}", flush=True)
    print(f"all: {totals[0]:.1f} s before, {totals[1]:.1f} s now ({totals[0] / totals[1]:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=list(DEFAULT_MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--erf-samples", type=int, default=None)
    parser.add_argument("--stages", action="store_true",
                        help="the catalog's stage verification: three random inputs throughout (before) "
                             "against one input first (now)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.stages:
        main_stages(args.models)
        return
    import inspect

    from rfzoo.probe.api import probe_model

    samples = args.erf_samples or inspect.signature(probe_model).parameters["erf_samples"].default
    print(f"threads {args.threads}, ERF samples {samples}; ratios to one fwd+bwd")
    print(
        f"{'model':<32} {'fwd+bwd s':>9} {'probe s':>8} {'ratio':>6}  "
        + "  ".join(f"{k:>7}" for k in PARTS)
        + "  verified  sizes (verify long x cross, erf)"
    )
    for name in args.models:
        t = measure(name, samples)
        base = t["fwd_bwd"]
        parts = "  ".join(f"{t[k] / base:>7.1f}" for k in PARTS)
        print(
            f"{name:<32} {base:>9.3f} {t['total']:>8.2f} {t['total'] / base:>6.1f}  {parts}"
            f"  {t['verified']:>16}  {t['sizes']}",
            flush=True,
        )


if __name__ == "__main__":
    main()

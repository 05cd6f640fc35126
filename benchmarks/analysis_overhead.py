"""Analysis overhead: analyze() against just building and tracing the model, from one run.

(a) build on the meta device + fx trace + shape propagation (what any tool pays);
(b) the full `rfzoo.analyze()` (the same, plus rules, engine, border counts, records).
Overhead = (b - a) / a; the target is at most 0.5x. Best of `--repeat` runs each.

    .venv/bin/python benchmarks/analysis_overhead.py [--repeat 3] [--profile NAME]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import torch

import rfzoo
from rfzoo.analysis import _build_and_trace
from rfzoo.models import resolve

MODELS = [
    "torchvision/resnet50", "torchvision/densenet121", "torchvision/efficientnet_b0",
    "torchvision/mobilenet_v3_large", "torchvision/convnext_tiny", "torchvision/vit_b_16",
    "torchvision/swin_t", "torchvision/maxvit_t", "torchvision/mvit_v2_s",
    "timm/resnet50", "timm/efficientnet_b0", "timm/convnext_tiny", "timm/vit_base_patch16_224",
    "timm/swin_tiny_patch4_window7_224", "timm/maxvit_tiny_tf_224", "timm/davit_tiny",
]


def build_trace(name: str) -> None:
    spec = resolve(name)
    _build_and_trace(spec, spec.default_input_size(), spec.in_channels)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="cProfile analyze() of this model and print the top functions")
    parser.add_argument("models", nargs="*", default=MODELS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.profile:
        rfzoo.analyze(args.profile)
        prof = cProfile.Profile()
        prof.runcall(rfzoo.analyze, args.profile)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        return
    print(f"{'model':42} {'build+trace s':>13} {'analyze s':>10} {'overhead':>9}")
    totals = [0.0, 0.0]
    for name in args.models:
        build_trace(name)  # warm caches (imports, registries) outside the timing
        a = best(lambda n=name: build_trace(n), args.repeat)
        b = best(lambda n=name: rfzoo.analyze(n), args.repeat)
        totals[0] += a
        totals[1] += b
        print(f"{name:42} {a:13.3f} {b:10.3f} {(b - a) / a:8.2f}x", flush=True)
    print(f"{'total':42} {totals[0]:13.3f} {totals[1]:10.3f} {(totals[1] - totals[0]) / totals[0]:8.2f}x")


if __name__ == "__main__":
    main()

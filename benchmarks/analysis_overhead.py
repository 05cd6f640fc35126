"""Analysis overhead: analyze() against just building and tracing the model, from one run.

(a) build on the meta device + fx trace + shape propagation (what any tool pays);
(b) the full `rfzoo.analyze()` (the same, plus rules, engine, border counts, records).
Ratio = b / a; the target is at most 1.5x in total and 3x for any model. Best of `--repeat`
runs each.

    .venv/bin/python benchmarks/analysis_overhead.py [--repeat 3] [--profile NAME]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import torch

import rfzoo
from rfzoo.analysis import _shapes_or_explain, library_input
from rfzoo.errors import RfzooError
from rfzoo.models import resolve
from rfzoo.trace import trace

MODELS = [
    "torchvision/resnet50", "torchvision/densenet121", "torchvision/efficientnet_b0",
    "torchvision/mobilenet_v3_large", "torchvision/convnext_tiny", "torchvision/vit_b_16",
    "torchvision/swin_t", "torchvision/maxvit_t", "torchvision/mvit_v2_s",
    "timm/resnet50", "timm/efficientnet_b0", "timm/convnext_tiny", "timm/vit_base_patch16_224",
    "timm/swin_tiny_patch4_window7_224", "timm/maxvit_tiny_tf_224", "timm/davit_tiny",
]


def build_trace(name: str) -> None:
    """What analyze() does before the rules: build (meta, else CPU), trace, propagate shapes."""
    spec = resolve(name)
    size, channels = library_input(spec, None, None)
    for device in ("meta", "cpu"):
        try:
            gm = trace(spec.build(device), spec.source)
            _shapes_or_explain(gm, size, channels, torch.device(device))
            return
        except RfzooError:
            continue


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
    print(f"{'model':42} {'build+trace s':>13} {'analyze s':>10} {'ratio':>7}")
    totals = [0.0, 0.0]
    for name in args.models:
        build_trace(name)  # warm caches (imports, registries) outside the timing
        a = best(lambda n=name: build_trace(n), args.repeat)
        b = best(lambda n=name: rfzoo.analyze(n), args.repeat)
        totals[0] += a
        totals[1] += b
        print(f"{name:42} {a:13.3f} {b:10.3f} {b / a:6.2f}x", flush=True)
    print(f"{'total':42} {totals[0]:13.3f} {totals[1]:10.3f} {totals[1] / totals[0]:6.2f}x")


if __name__ == "__main__":
    main()

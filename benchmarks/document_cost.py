"""A catalog document's analysis cost, now against the previous worker, in one run.

Before this stop the worker built every timm model a second time for its parameter count
and feature_info, and a model whose factory computes with tensors (torchvision's RegNets)
was built and shape-propagated on the CPU at full size. "before" re-enables both per model
(the same process, interleaved with "now"), so the ratio is taken under the same load.

    .venv/bin/python benchmarks/document_cost.py [--sample N] [--seed S] [MODEL ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rfzoo import models  # noqa: E402
from rfzoo.catalog import worker  # noqa: E402
from rfzoo.catalog.sources import ModelRef  # noqa: E402


@contextlib.contextmanager
def previous_worker() -> Iterator[None]:
    """The metadata built again, and no meta build for factories that compute with tensors."""
    params_and_features = worker._params_and_features
    on_meta = models._parameters_on_meta

    @contextlib.contextmanager
    def refuse() -> Iterator[None]:
        raise RuntimeError("the previous worker built such models on the CPU")
        yield

    worker._params_and_features = lambda ref, spec, built=None: params_and_features(ref, spec)  # type: ignore[assignment]
    models._parameters_on_meta = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        worker._params_and_features = params_and_features  # type: ignore[assignment]
        models._parameters_on_meta = on_meta  # type: ignore[assignment]


def seconds(ref: ModelRef) -> float:
    t0 = time.perf_counter()
    doc = worker.build_document(ref, None, probe=False)
    assert doc["status"] != "failed", doc.get("reason")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*")
    parser.add_argument("--sample", type=int, default=30, help="random timm and torchvision models")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)  # like a catalog worker
    names = args.models
    if not names:
        index = json.loads((ROOT / "data" / "index.json").read_text())
        rows = index["models"] if isinstance(index, dict) else index
        names = random.Random(args.seed).sample(sorted(f"{r['source']}/{r['name']}" for r in rows), args.sample)
    seconds(ModelRef("timm", "resnet18"))  # imports and first-call costs, outside the figures
    print(f"{'model':<48} {'before s':>8} {'now s':>7} {'ratio':>6}")
    totals = [0.0, 0.0]
    for k, name in enumerate(names):
        ref = ModelRef(*name.split("/", 1))
        if k % 2:  # alternate which goes first: the second run finds the first one's caches warm
            now = seconds(ref)
        with previous_worker():
            before = seconds(ref)
        if not k % 2:
            now = seconds(ref)
        totals = [totals[0] + before, totals[1] + now]
        print(f"{name:<48} {before:>8.2f} {now:>7.2f} {before / now:>6.2f}", flush=True)
    print(f"all {len(names)}: {totals[0]:.1f} s before, {totals[1]:.1f} s now ({totals[0] / totals[1]:.2f}x)")


if __name__ == "__main__":
    main()

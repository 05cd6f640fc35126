"""The engine alone, this checkout's against another version's, on the same graphs in one run.

    .venv/bin/python benchmarks/engine_ab.py OLD_ENGINE.py timm/ghostnetv3_100 ...

OLD_ENGINE.py is a copy of rfzoo/engine.py from another commit (`git show REV:rfzoo/engine.py`).
Prints both times and their ratio, and checks that both give the same RFs.
"""

from __future__ import annotations

import importlib.util
import sys
import time

import torch

import rfzoo
from rfzoo.engine import ReceptiveFieldEngine


def load(path: str):
    spec = importlib.util.spec_from_file_location("engine_other", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["engine_other"] = module
    spec.loader.exec_module(module)
    return module.ReceptiveFieldEngine


def timed(cls, nodes, size):
    start = time.perf_counter()
    results = cls(nodes, size).run()
    return time.perf_counter() - start, results


def main() -> None:
    torch.set_num_threads(1)
    other = load(sys.argv[1])
    print(f"{'model':36} {'other s':>8} {'this s':>8} {'ratio':>6}")
    for name in sys.argv[2:]:
        analysis = rfzoo.analyze(name)
        nodes, size = analysis.built.nodes, analysis.input_size
        t_old, old = timed(other, nodes, size)
        t_new, new = timed(ReceptiveFieldEngine, nodes, size)
        same = all(
            [(a.rf, a.rf_min, a.lo, a.hi, a.jump) if a else None for a in old[n].axes]
            == [(a.rf, a.rf_min, a.lo, a.hi, a.jump) if a else None for a in new[n].axes]
            for n in new
        )
        print(f"{name:36} {t_old:8.2f} {t_new:8.2f} {t_old / t_new:6.2f}x {'same' if same else 'DIFFERENT'}",
              flush=True)


if __name__ == "__main__":
    main()

"""Gradient oracle for tests: the analytic box of a unit against the measured gradient support.

Uses the probe's measurement (float64, several random inputs, parameters re-randomized
so no path is zero, global-context paths detached).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from rfzoo.analysis import Analysis, analyze
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import gradient_support
from rfzoo.probe.weights import randomize_


def center_unit(size: Sequence[int]) -> tuple[int, ...]:
    return tuple(s // 2 for s in size)


def prepared(model: nn.Module, input_size: int | Sequence[int],
             in_channels: int | None = None) -> tuple[Analysis, LocalRunner]:
    model = model.to("cpu").double().eval()
    randomize_(model)
    model.double()
    analysis = analyze(model, input_size if isinstance(input_size, int) else tuple(input_size),
                       in_channels=in_channels)
    detach = {analysis.fx_node(n) for n in analysis.global_context_nodes()}
    return analysis, LocalRunner(analysis.graph_module, detach=detach)


def compare(
    analysis: Analysis,
    runner: LocalRunner,
    layers: Iterable[str],
    units: dict[str, Sequence[int]] | None = None,
    samples: int = 32,
    max_rounds: int = 10,
) -> list[tuple[str, tuple[int, ...], list, list]]:
    """(layer, unit, analytic box, measured box) for each layer; boxes are per-axis (lo, hi).

    Max pooling passes the gradient to one argmax per window, so stacked max pools
    need many samples before the union covers the window: draw batches of `samples`
    until two batches in a row add nothing (at most `max_rounds` batches).
    """
    out = []
    input_shape = (analysis.in_channels, *analysis.input_size)
    for name in layers:
        layer = analysis.layer(name)
        unit = tuple((units or {}).get(name) or center_unit(layer.output_size))
        analytic = analysis.unit_box(name, unit)
        measured: list = []
        quiet = 0  # batches in a row that added nothing
        for seed in range(max_rounds):
            box = gradient_support(
                runner, analysis.fx_node(name), input_shape, unit, layer.output_size, samples=samples, seed=seed
            ).box
            grown = _union(measured, box) if measured else box
            quiet = quiet + 1 if measured and grown == measured else 0
            measured = grown
            if quiet == 2:
                break
        out.append((name, unit, analytic, measured))
    return out


def _union(a: list, b: list) -> list:
    out = []
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            out.append(x if y is None else y)
        else:
            out.append((min(x[0], y[0]), max(x[1], y[1])))
    return out


def assert_agree(rows: list) -> None:
    def norm(box: list) -> list:
        return [tuple(b) if b is not None else None for b in box]

    bad = [r for r in rows if norm(r[2]) != norm(r[3])]
    assert not bad, "analytic != measured:\n" + "\n".join(
        f"  {name} unit {unit}: analytic {a} measured {m}" for name, unit, a, m in bad
    )


def fits(box: Sequence[tuple[int, int] | None], size: Sequence[int]) -> bool:
    return all(b is not None and b[0] >= 0 and b[1] < s for b, s in zip(box, size, strict=True))


torch.set_num_threads(2)

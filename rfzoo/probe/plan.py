"""Choose where to probe: which stage nodes, which unit, which input sizes.

Sizes are multiples of ``step`` (32) so that multi-resolution models (HRNet,
DLA) can merge their branches. The support check measures one axis at a time
on a tall, narrow input: ``L`` pixels along the measured axis, just enough to
hold the whole RF of the chosen unit of every stage, and the narrowest
multiple of ``step`` the model accepts across (the gradient's support along
one axis does not depend on the size of the other). The unit is, per axis,
the one whose RF center is nearest the middle of the input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rfzoo.errors import InputTooSmallError, RfzooError


class AnalysisLike(Protocol):
    """What the probe reads from `rfzoo.analysis.Analysis`."""

    input_size: tuple[int, ...]

    def layer(self, name: str) -> Any: ...
    def fx_node(self, name: str) -> str: ...
    def unit_box(self, name: str, unit: Sequence[int]) -> list[tuple[int, int] | None]: ...
    def global_context_nodes(self) -> set[str]: ...
    def stage_layers(self) -> list[Any]: ...


Analyzer = Callable[[tuple[int, ...]], AnalysisLike]


@dataclass(frozen=True)
class StageUnit:
    """One stage's probed unit at one input size, with its analytic box."""

    name: str  # layer name in the analysis
    node: str  # fx node name in the graph module
    unit: tuple[int, ...]
    output_size: tuple[int, ...]
    box: list[tuple[int, int] | None]  # analytic, inclusive, per axis


@dataclass(frozen=True)
class AxisPlan:
    """Measure `axis` on an input of `input_size` (long along `axis`)."""

    axis: int
    input_size: tuple[int, ...]
    stages: list[StageUnit]


class PlanError(RfzooError):
    """No input size lets the probe hold the RF (the model needs a fixed size, say)."""


def round_up(n: float, step: int) -> int:
    return max(step, int(math.ceil(n / step)) * step)


def stage_names(analysis: AnalysisLike) -> list[str]:
    """Stage layers that have a local RF on every axis."""
    return [s.name for s in analysis.stage_layers() if s.rf is not None]


def fitting_unit(analysis: AnalysisLike, name: str, axis_units: Sequence[int | None]) -> StageUnit:
    """The unit nearest the input's middle on the axes where `axis_units` is None."""
    layer = analysis.layer(name)
    size = tuple(int(n) for n in layer.output_size)
    unit: list[int] = []
    for a, fixed in enumerate(axis_units):
        if fixed is not None:
            unit.append(min(fixed, size[a] - 1))
            continue
        middle = (analysis.input_size[a] - 1) / 2
        guess = round((middle - float(layer.center[a])) / float(layer.jump[a]))
        unit.append(min(max(guess, 0), size[a] - 1))
    box = analysis.unit_box(name, unit)
    return StageUnit(name, analysis.fx_node(name), tuple(unit), size, box)


def fits(box: tuple[int, int] | None, length: int) -> bool:
    return box is not None and box[0] >= 0 and box[1] <= length - 1


def plan_axis(
    analyze_at: Analyzer,
    reference: AnalysisLike,
    names: Sequence[str],
    axis: int,
    *,
    step: int = 32,
    max_length: int = 4096,
) -> AxisPlan:
    """Smallest tall input (multiple of `step`) whose stages' units hold their RF on `axis`."""
    naxes = len(reference.input_size)
    rf = max(int(reference.layer(n).rf[axis]) for n in names)
    jump = max(float(reference.layer(n).jump[axis]) for n in names)
    length = round_up(rf + jump, step)
    across = _narrow_sizes(reference, axis, step)
    while length <= max_length:
        analysis, size = _analyze_tall(analyze_at, axis, length, across, naxes, names)
        stages = [fitting_unit(analysis, n, [None] * naxes) for n in names]
        if all(fits(s.box[axis], length) for s in stages):
            return AxisPlan(axis, size, stages)
        length += step
    raise PlanError(f"no input up to {max_length} pixels holds the RF along axis {axis}")


def _usable(analysis: AnalysisLike, names: Sequence[str]) -> bool:
    """Every stage keeps a local RF and all its spatial axes at this size."""
    try:
        layers = [analysis.layer(n) for n in names]
    except KeyError:
        return False
    return all(
        layer.rf is not None and all(n is not None for n in layer.output_size) for layer in layers
    )


def _narrow_sizes(reference: AnalysisLike, axis: int, step: int) -> list[int]:
    """Candidate sizes across the measured axis, narrowest first, ending at the default."""
    default = min(n for a, n in enumerate(reference.input_size) if a != axis)
    return sorted({*(step * 2**k for k in range(8) if step * 2**k < default), default})


def _analyze_tall(
    analyze_at: Analyzer,
    axis: int,
    length: int,
    across: list[int],
    naxes: int,
    names: Sequence[str],
) -> tuple[AnalysisLike, tuple[int, ...]]:
    """The narrowest input (from `across`) at which every stage keeps its spatial axes."""
    last = "every stage collapses"
    for width in across:
        size = tuple(length if a == axis else width for a in range(naxes))
        try:
            analysis = analyze_at(size)
        except InputTooSmallError as err:
            last = str(err)
            continue
        if _usable(analysis, names):
            return analysis, size
    raise PlanError(f"no narrow input works along axis {axis}: {last}")

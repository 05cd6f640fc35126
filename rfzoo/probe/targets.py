"""What a probe measures and how a run finds it: units, plans, layouts.

The plan's data types (`StageUnit`, `AxisPlan`), how a unit is placed (`fitting_unit`)
and found in a narrow run's tensor (`runtime_target`), which nodes are detached and
which layers have a local RF. Everything here runs while measuring, so this module is
part of the probe's cache key. `rfzoo.probe.plan` only *chooses* the plan from
analyses; every choice it makes is stored in the plan fingerprint (see
`rfzoo.probe.fingerprint`), so it belongs to the analysis's key instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from rfzoo.errors import RfzooError
from rfzoo.probe.support import Target


class AnalysisLike(Protocol):
    """What the probe reads from `rfzoo.analysis.Analysis`."""

    input_size: tuple[int, ...]

    def layer(self, name: str) -> Any: ...
    def fx_node(self, name: str) -> str: ...
    def unit_box(self, name: str, unit: Sequence[int]) -> list[tuple[int, int] | None]: ...
    def global_context_nodes(self) -> set[str]: ...
    def stage_layers(self) -> list[Any]: ...


Analyzer = Callable[[tuple[int, ...]], AnalysisLike]


def memoized(analyze_at: Analyzer) -> Analyzer:
    """`analyze_at` that analyzes each size once (errors are cached too)."""
    done: dict[tuple[int, ...], AnalysisLike | RfzooError] = {}

    def cached(size: tuple[int, ...]) -> AnalysisLike:
        key = tuple(int(n) for n in size)
        if key not in done:
            try:
                done[key] = analyze_at(key)
            except RfzooError as err:
                done[key] = err
        hit = done[key]
        if isinstance(hit, RfzooError):
            raise hit
        return hit

    return cached


@dataclass(frozen=True)
class StageUnit:
    """One stage's probed unit at one input size, with its analytic box."""

    name: str  # layer name in the analysis
    node: str  # fx node name in the graph module
    unit: tuple[int, ...]
    output_size: tuple[int, ...]
    box: list[tuple[int, int] | None]  # analytic, inclusive, per axis
    layout: str = ""  # "NCHW"-style, "NHWC"-style or "NLC" (tokens)
    prefix: int = 0  # tokens before the spatial ones (class token), NLC only
    clipped: bool = False  # `box` is cut to the input (see `AxisPlan.at_default`)
    fixed_size: bool = False  # placed at the default input (see `AxisPlan.at_default`)


@dataclass(frozen=True)
class AxisPlan:
    """Measure `axis` on tall inputs ``full_size[axis]`` long, `widths` narrowest first."""

    axis: int
    full_size: tuple[int, ...]  # the analysis behind `stages` (every axis long)
    stages: list[StageUnit]
    widths: tuple[int, ...]
    # Every other layer whose unit's RF fits the same input (checked too), and the
    # layers that could not be placed there, with why.
    layers: list[StageUnit] = field(default_factory=list)
    unplaced: dict[str, str] = field(default_factory=dict)
    copies: dict[str, str] = field(default_factory=dict)  # see `copied_layers`
    # Stages left unmeasured inside a run of repeated blocks: name -> the measured stages
    # that bound the run (see `plan.repeated_stages`).
    repeats: dict[str, tuple[str, str]] = field(default_factory=dict)
    # The model takes one input size (ViT, timm's Swin): no narrow run exists, so one
    # run over the whole input measures every axis at once, at the unit itself.
    joint: bool = False
    # Why the plan measures at the default input, with the boxes cut to it (`clipped`),
    # instead of one holding the whole RFs: "" when it does not.
    at_default: str = ""

    @property
    def length(self) -> int:
        return self.full_size[self.axis]

    @property
    def axes(self) -> tuple[int, ...]:
        """The axes one run of this plan measures."""
        return tuple(range(len(self.full_size))) if self.joint else (self.axis,)

    def tall_size(self, width: int) -> tuple[int, ...]:
        if self.joint:
            return self.full_size
        return tuple(n if a == self.axis else width for a, n in enumerate(self.full_size))


class ProbeError(RfzooError):
    """The probe cannot measure this model or layer."""


class PlanError(RfzooError):
    """No input size lets the probe hold the RF (the model needs a fixed size, say)."""


class NoWidthRuns(PlanError):
    """The real model fails at every width of a plan (see `plan.default_size_plan`)."""


def round_up(n: float, step: int) -> int:
    return max(step, int(math.ceil(n / step)) * step)


def stage_names(analysis: AnalysisLike, wanted: Sequence[str] | None = None) -> list[str]:
    """Stage layers that have a local RF on every axis.

    `wanted` (the catalog's stages, say) replaces the analysis's own choice (the
    last layer of each resolution); names without a local RF are left out.
    """
    if wanted is None:
        return [s.name for s in analysis.stage_layers() if s.rf is not None]
    return [n for n in dict.fromkeys(wanted) if has_local_rf(analysis, n)]


def layer_names(analysis: AnalysisLike) -> list[str]:
    """Every layer that has a local RF on every axis in a layout the probe can read."""
    return [ly.name for ly in analysis.layers if has_local_rf(analysis, ly.name)]  # type: ignore[attr-defined]


def has_local_rf(analysis: AnalysisLike, name: str) -> bool:
    try:
        layer = analysis.layer(name)
    except KeyError:
        return False
    return (
        layer.rf is not None
        and layer.kind != "input"
        and str(layer.layout) != "other"
        and all(n is not None for n in layer.output_size)
        and all(r is not None for r in layer.rf)
    )


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
    return StageUnit(name, analysis.fx_node(name), tuple(unit), size, box, str(layer.layout))


def fits(box: tuple[int, int] | None, length: int) -> bool:
    return box is not None and box[0] >= 0 and box[1] <= length - 1


# Pixels times layers one axis's layer checks may cost: every layer of a model that runs
# one pixel wide (most convnets) or 32 wide (DenseNet-121, 123 layers at 2112 x 32); a model
# whose unpadded stem needs a wide input (Inception-v4: 2112 x 128) gets an even sample.
LAYER_PIXEL_BUDGET = 10_000_000


def within_budget(layers: list[StageUnit], pixels: int) -> tuple[set[str], dict[str, str]]:
    """The layers to measure on a `pixels`-pixel input (all, or an even sample in graph
    order when over budget), and the ones sampled out, with why."""
    most = max(1, LAYER_PIXEL_BUDGET // max(1, pixels))
    if len(layers) <= most:
        return {u.name for u in layers}, {}
    picked = {layers[round(i * (len(layers) - 1) / max(1, most - 1))].name for i in range(most)}
    why = (f"sampled out: {most} of {len(layers)} layers fit the probe's budget at a "
           f"{pixels}-pixel input")
    return picked, {u.name: why for u in layers if u.name not in picked}


def node_shapes(analysis: AnalysisLike) -> dict[str, tuple[int, ...]]:
    """fx node name -> output shape at the analysis's input (meta device where possible)."""
    import torch

    from rfzoo.trace import propagate

    gm = analysis.graph_module  # type: ignore[attr-defined]
    tensor = next(iter(gm.parameters()), None)
    if tensor is None:
        tensor = next(iter(gm.buffers()), None)
    device = tensor.device if tensor is not None else torch.device("meta")
    channels = int(getattr(analysis, "in_channels", 3))
    values = propagate(gm, torch.zeros(1, channels, *analysis.input_size, device=device))
    return {n.name: tuple(v.shape) for n, v in values.items() if isinstance(v, torch.Tensor)}


def runtime_target(stage: StageUnit, axis: int, shape: Sequence[int]) -> StageUnit:
    """`stage` in a narrow run's tensor of `shape`: the sizes across `axis` come from the tensor.

    The measured axis keeps the full analysis's length, unit and box; across it
    the unit is None, all positions: the box along `axis` is the same for every
    position across (the engine is separable per axis), and their union cannot
    miss it because one position happens to be padding.
    """
    naxes = len(stage.output_size)
    if stage.layout.startswith("NC"):
        size = list(shape[2 : 2 + naxes])
    elif stage.layout.startswith("N") and stage.layout.endswith("C") and stage.layout != "NLC":
        size = list(shape[1 : 1 + naxes])
    elif stage.layout == "NLC" and len(shape) == 3:
        tokens = int(shape[1]) - stage.prefix
        if tokens == math.prod(stage.output_size):  # every axis at full length (a joint run)
            size = list(stage.output_size)
        elif naxes != 2:  # two unknown narrow axes in one token count
            raise PlanError(f"token layout with {naxes} axes: cannot split {tuple(shape)}")
        else:
            size = [tokens // max(1, stage.output_size[axis])] * 2
            size[axis] = stage.output_size[axis]
    else:
        raise PlanError(f"unknown layout {stage.layout!r} of {stage.name} for shape {tuple(shape)}")
    if size[axis] != stage.output_size[axis]:
        raise PlanError(
            f"{stage.name}: length {size[axis]} along axis {axis}, expected "
            f"{stage.output_size[axis]}"
        )
    # Across the axis, every position (mixed by the objective): a single one could be
    # padding with no input behind it (DaViT pads a 1-pixel-wide input to 4).
    unit = tuple(stage.unit[a] if a == axis else None for a in range(naxes))
    return replace(stage, unit=unit, output_size=tuple(size))  # type: ignore[arg-type]


def detach_names(analysis: AnalysisLike) -> set[str]:
    """fx names of the analysis's global-context layers."""
    return {analysis.fx_node(name) for name in analysis.global_context_nodes()}


def statistics_nodes(analysis: AnalysisLike) -> set[str]:
    """fx names of layers mixing a local path with global statistics (GroupNorm, ...)."""
    names = getattr(analysis, "global_statistics_nodes", lambda: set())()
    return {analysis.fx_node(name) for name in names}


@dataclass
class CenterTarget:
    """The center unit of one layer, where an ERF map is measured, and its RF box."""

    name: str  # layer name of the analysis
    target: Target
    rf_box: list[tuple[int, int]]


def center_targets(
    analysis: AnalysisLike,
    nodes: Sequence[str] | None,
    *,
    label: str,
    traced_nodes: set[str] | None = None,
    error: type[RfzooError] = ProbeError,
) -> list[CenterTarget]:
    """The center unit of each stage (or of each layer in `nodes`) and its RF box; `error`
    names a layer that is unknown, has no local RF, or is missing from `traced_nodes`."""
    from rfzoo.probe.units import center_unit

    names = stage_names(analysis)
    if nodes is None:
        if not names:
            raise error(f"{label} has no stage with a local receptive field")
        nodes = names
    out = []
    for node in nodes:
        try:
            layer = analysis.layer(node)
        except KeyError:
            hint = f"; stages: {', '.join(names)}" if names else ""
            raise error(f"no layer {node!r} in {label}{hint}") from None
        if layer.rf is None or any(n is None for n in layer.output_size):
            raise error(f"layer {node!r} has no local receptive field (global context only)")
        if traced_nodes is not None and analysis.fx_node(node) not in traced_nodes:
            raise error(f"the traced graph of {label} lacks {analysis.fx_node(node)!r}")
        size = tuple(int(n) for n in layer.output_size)
        unit = center_unit(size)
        box = [(int(a), int(b)) for a, b in analysis.unit_box(node, unit)]  # type: ignore[misc]
        out.append(CenterTarget(node, Target(analysis.fx_node(node), unit, size), box))
    return out

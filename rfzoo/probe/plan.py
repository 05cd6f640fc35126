"""Choose where to probe: which stage nodes, which unit, which input sizes.

One analysis (meta device, cheap) at the *full* input ``(L_0, L_1, ...)``
gives every unit and analytic box: ``L_a`` pixels along axis ``a`` (a multiple
of ``step`` = 32, so that multi-resolution models such as HRNet and DLA can
merge their branches), just enough to hold the whole RF of the chosen unit of
every stage; the unit is, per axis, the one whose RF center is nearest the
middle. The support check then measures one axis at a time on a tall, narrow
input: ``L_a`` along axis ``a`` and a few pixels across. The engine composes
transforms per axis, so the box along ``a`` depends only on ``L_a``; the run's
width only changes the cost (linear in it). Widths are tried narrowest first
(`narrow_widths`): 1 for padded conv nets, then the stages' largest jump and
its doublings (patch embeddings, branches that must merge), then the default.
A narrow run finds its units in the stage tensors by the layout the analysis
reports (`runtime_target`), since the engine does not analyze an axis that
collapses to one unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from rfzoo.errors import RfzooError


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
    clipped: bool = False  # `box` is cut to the input (a model that takes one size only)
    fixed_size: bool = False  # placed at the default input: the model takes that size only


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
    # The model takes one input size (ViT, timm's Swin): no narrow run exists, so one
    # run over the whole input measures every axis at once, at the unit itself.
    joint: bool = False

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


class PlanError(RfzooError):
    """No input size lets the probe hold the RF (the model needs a fixed size, say)."""


def round_up(n: float, step: int) -> int:
    return max(step, int(math.ceil(n / step)) * step)


def stage_names(analysis: AnalysisLike, wanted: Sequence[str] | None = None) -> list[str]:
    """Stage layers that have a local RF on every axis.

    `wanted` (the catalog's stages, say) replaces the analysis's own choice (the
    last layer of each resolution); names without a local RF are left out.
    """
    if wanted is None:
        return [s.name for s in analysis.stage_layers() if s.rf is not None]
    return [n for n in dict.fromkeys(wanted) if _has_local_rf(analysis, n)]


def layer_names(analysis: AnalysisLike) -> list[str]:
    """Every layer that has a local RF on every axis in a layout the probe can read."""
    return [ly.name for ly in analysis.layers if _has_local_rf(analysis, ly.name)]  # type: ignore[attr-defined]


def _has_local_rf(analysis: AnalysisLike, name: str) -> bool:
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


def full_input(
    analyze_at: Analyzer,
    reference: AnalysisLike,
    names: Sequence[str],
    *,
    step: int = 32,
    max_length: int = 4096,
) -> tuple[AnalysisLike, list[StageUnit]]:
    """The smallest input (multiples of `step`) whose stages' middle units hold their whole RF."""
    naxes = len(reference.input_size)
    lengths = [
        round_up(
            max(int(reference.layer(n).rf[a]) for n in names)
            + max(float(reference.layer(n).jump[a]) for n in names),
            step,
        )
        for a in range(naxes)
    ]
    while max(lengths) <= max_length:
        try:
            analysis = analyze_at(tuple(lengths))
        except RfzooError as err:
            # a model that takes one size only (ViT, timm's Swin): measure at that size,
            # against the boxes cut to the input where an RF is larger than the image
            fixed = _at_default(reference, names)
            if fixed is None:
                raise PlanError(f"no input {tuple(lengths)} to hold the RF: {err}") from None
            return reference, [replace(s, fixed_size=True) for s in fixed]
        if not _usable(analysis, names):
            raise PlanError(f"a stage loses its local RF at input {tuple(lengths)}")
        stages = [fitting_unit(analysis, n, [None] * naxes) for n in names]
        short = [a for a in range(naxes) if not all(fits(s.box[a], lengths[a]) for s in stages)]
        if not short:
            return analysis, _with_prefixes(analysis, stages)
        for a in short:
            lengths[a] += step
    raise PlanError(f"no input up to {max_length} pixels holds the RF")


def _at_default(reference: AnalysisLike, names: Sequence[str]) -> list[StageUnit] | None:
    """The stages' middle units at the default input, their boxes cut to it where an RF
    is larger than the image (marked `clipped`); None if a stage has no box."""
    naxes = len(reference.input_size)
    out = []
    for s in (fitting_unit(reference, n, [None] * naxes) for n in names):
        if any(b is None for b in s.box):
            return None
        box = [(max(lo, 0), min(hi, n - 1)) for (lo, hi), n in zip(s.box, reference.input_size, strict=True)]  # type: ignore[misc]
        out.append(replace(s, box=box, clipped=box != s.box))
    return _with_prefixes(reference, out)


def plan_axes(
    analyze_at: Analyzer,
    reference: AnalysisLike,
    *,
    stages: Sequence[str] | None = None,
    all_layers: bool = False,
    step: int = 32,
    max_length: int = 4096,
) -> list[AxisPlan]:
    """One plan per spatial axis, sharing the full input's units and boxes.

    The input is sized to hold the stages' RFs; with `all_layers`, every other
    layer with a local RF is measured on it too, at its own middle unit (a layer
    whose RF is larger than every stage's is listed in ``unplaced``).
    """
    names = stage_names(reference, stages)
    full, units = full_input(analyze_at, reference, names, step=step, max_length=max_length)
    size = tuple(full.input_size)
    extra: list[StageUnit] = []
    unplaced: dict[str, str] = {}
    copies: dict[str, str] = {}
    if all_layers:
        copies = {k: v for k, v in copied_layers(full).items() if k not in names}
        extra, unplaced = _other_layers(full, set(names), copies)
    if units and all(u.fixed_size for u in units):
        across = min(size[1:], default=size[0])
        return [AxisPlan(0, size, units, (across,), extra, unplaced, copies, joint=True)]
    return [
        AxisPlan(a, size, units, narrow_widths(reference, names, a), extra, unplaced, copies)
        for a in range(len(size))
    ]


def copied_layers(analysis: AnalysisLike) -> dict[str, str]:
    """Layers that apply a per-pixel op to one input (norm, activation, dropout, scale) and
    so share its units and boxes: name -> the first layer of the chain they copy.

    Measuring them again would repeat the same backward pass for the same box, which
    is most of the cost on deep nets (DenseNet: ~60 % of the layers); a change of
    layout (permute, reshape to tokens) is not a copy and is measured.
    """
    from rfzoo.transforms import IDENTITY

    engine = analysis.engine  # type: ignore[attr-defined]
    copies: dict[str, str] = {}
    for name in layer_names(analysis):
        node = engine.nodes.get(name)
        if node is None or node.mixes_all or len(node.edges) != 1:
            continue
        (edge,) = node.edges
        src = edge.source
        if not _has_local_rf(analysis, src) or any(m != IDENTITY for m in edge.maps):
            continue
        mine, theirs = analysis.layer(name), analysis.layer(src)
        if (mine.layout, mine.output_size) != (theirs.layout, theirs.output_size):
            continue
        copies[name] = copies.get(src, src)
    return copies


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


def _other_layers(
    full: AnalysisLike, skip: set[str], copies: dict[str, str]
) -> tuple[list[StageUnit], dict[str, str]]:
    units: list[StageUnit] = []
    unplaced: dict[str, str] = {}
    naxes = len(full.input_size)
    for name in layer_names(full):
        if name in skip or name in copies:
            continue
        unit = fitting_unit(full, name, [None] * naxes)
        if all(fits(unit.box[a], full.input_size[a]) for a in range(naxes)):
            units.append(unit)
        else:
            unplaced[name] = f"RF larger than the probe input {tuple(full.input_size)}"
    return _with_prefixes(full, units), unplaced


def _usable(analysis: AnalysisLike, names: Sequence[str]) -> bool:
    """Every stage keeps a local RF and all its spatial axes at this size."""
    try:
        layers = [analysis.layer(n) for n in names]
    except KeyError:
        return False
    return all(
        layer.rf is not None and all(n is not None for n in layer.output_size) for layer in layers
    )


def narrow_widths(reference: AnalysisLike, names: Sequence[str], axis: int) -> tuple[int, ...]:
    """Candidate sizes across the measured axis, narrowest first, ending at the default."""
    others = [a for a in range(len(reference.input_size)) if a != axis]
    default = min(reference.input_size[a] for a in others)
    jump = max((float(reference.layer(n).jump[a]) for n in names for a in others), default=1.0)
    base = 2 ** math.ceil(math.log2(max(jump, 1.0)))
    return tuple(sorted({1, *(base * 2**k for k in range(12) if base * 2**k < default), default}))


def _with_prefixes(analysis: AnalysisLike, stages: list[StageUnit]) -> list[StageUnit]:
    """Token layouts: how many tokens precede the spatial ones, from the traced shapes."""
    if all(s.layout != "NLC" for s in stages):
        return stages
    shapes = node_shapes(analysis)
    out = []
    for s in stages:
        if s.layout == "NLC" and s.node in shapes:
            s = replace(s, prefix=int(shapes[s.node][1]) - math.prod(s.output_size))
        out.append(s)
    return out


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
        if naxes != 2:  # two unknown narrow axes in one token count
            raise PlanError(f"token layout with {naxes} axes: cannot split {tuple(shape)}")
        rest = (int(shape[1]) - stage.prefix) // max(1, stage.output_size[axis])
        size = [rest, rest]
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

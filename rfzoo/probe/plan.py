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
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rfzoo.errors import RfzooError
from rfzoo.probe.targets import (
    AnalysisLike,
    Analyzer,
    AxisPlan,
    PlanError,
    StageUnit,
    fits,
    fitting_unit,
    has_local_rf,
    layer_names,
    node_shapes,
    round_up,
    stage_names,
)


def full_input(
    analyze_at: Analyzer,
    reference: AnalysisLike,
    names: Sequence[str],
    *,
    step: int = 32,
    max_length: int = 4096,
) -> tuple[AnalysisLike, list[StageUnit], str]:
    """The smallest input (multiples of `step`) whose stages' middle units hold their whole RF,
    its units, and "" ; or, where no such input can be measured, the default input, its
    units with their boxes cut to it, and why (see `_at_default`)."""
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
            # a model that takes one size only (ViT, timm's Swin)
            why = f"the model takes one input size {_size(reference.input_size)}"
            return _default_or_raise(reference, names, why, f"no input {tuple(lengths)} to hold the RF: {err}")
        lost = _not_local(analysis, names)
        if lost:
            # VGG's final pooling is local only while the map it pools is 1x1
            why = f"{lost} is local at the default input only (global at {_size(lengths)})"
            return _default_or_raise(reference, names, why, f"a stage loses its local RF at input {tuple(lengths)}")
        stages = [fitting_unit(analysis, n, [None] * naxes) for n in names]
        short = [a for a in range(naxes) if not all(fits(s.box[a], lengths[a]) for s in stages)]
        if not short:
            return analysis, _with_prefixes(analysis, stages), ""
        for a in short:
            lengths[a] += step
    why = f"holding these RFs whole takes an input over {max_length} pixels, the probe's limit"
    return _default_or_raise(reference, names, why, f"no input up to {max_length} pixels holds the RF")


def _size(lengths: Sequence[int]) -> str:
    return "x".join(str(int(n)) for n in lengths)


def _default_or_raise(
    reference: AnalysisLike, names: Sequence[str], why: str, error: str
) -> tuple[AnalysisLike, list[StageUnit], str]:
    units = _at_default(reference, names)
    if units is None:
        raise PlanError(error)
    return reference, units, why


def _at_default(reference: AnalysisLike, names: Sequence[str]) -> list[StageUnit] | None:
    """The stages' middle units placed at the default input (`fixed_size`), their boxes cut
    to it where an RF is larger than the image (marked `clipped`); None if a stage has no box."""
    naxes = len(reference.input_size)
    out = []
    for s in (fitting_unit(reference, n, [None] * naxes) for n in names):
        if any(b is None for b in s.box):
            return None
        box = [(max(lo, 0), min(hi, n - 1)) for (lo, hi), n in zip(s.box, reference.input_size, strict=True)]  # type: ignore[misc]
        out.append(replace(s, box=box, clipped=box != s.box, fixed_size=True))
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
    whose RF is larger than every stage's is listed in ``unplaced``). Where no such
    input can be measured, one joint plan at the default input (`AxisPlan.at_default`).
    """
    names = stage_names(reference, stages)
    full, units, why = full_input(analyze_at, reference, names, step=step, max_length=max_length)
    if why:
        return [_joint_plan(full, units, names, why, all_layers)]
    size = tuple(full.input_size)
    layers = _layer_checks(full, names, all_layers)
    repeats = {} if all_layers else repeated_stages(full, units)
    return [AxisPlan(a, size, units, narrow_widths(reference, names, a), *layers, repeats=repeats)
            for a in range(len(size))]


def default_size_plan(reference: AnalysisLike, names: Sequence[str], all_layers: bool) -> AxisPlan | None:
    """The joint plan at the default input, for a model that fails on the real run at the
    planned larger input although its analysis there succeeds (meta tensors do not check
    indices: MViTv2's relative-position tables are sized for the default input)."""
    units = _at_default(reference, stage_names(reference, names))
    if units is None:
        return None
    return _joint_plan(reference, units, names, "the model fails at the planned larger input", all_layers)


def _joint_plan(
    reference: AnalysisLike, units: list[StageUnit], names: Sequence[str], why: str, all_layers: bool
) -> AxisPlan:
    """One run over the whole default input measures every axis at once, at the unit itself."""
    size = tuple(reference.input_size)
    extra, unplaced, copies = _layer_checks(reference, names, all_layers)
    across = min(size[1:], default=size[0])
    repeats = {} if all_layers else repeated_stages(reference, units)
    return AxisPlan(0, size, units, (across,), extra, unplaced, copies, repeats=repeats, joint=True,
                    at_default=why)


def repeated_stages(analysis: AnalysisLike, units: list[StageUnit]) -> dict[str, tuple[str, str]]:
    """The stages a stage check leaves unmeasured: name -> the two measured stages around them.

    A ViT lists each of its 12-48 blocks as a stage, and measuring stage k costs a backward
    pass through k blocks: most of a deep transformer's probe. Stage k *repeats* stage k-1
    when the engine sees the same block again (the ops from k-1 to k, with their per-axis
    rules and their edges, equal those from k-2 to k-1) and gives it the same unit and box.
    Of a run of repeats only the last is measured, with the stage before the run (the
    block's first instance, whose ops the run repeats): a box growing along the run shows
    at its end, since a block's residual path carries its input's support on. The stages
    between are reported as implied by the two (`verify`); the every-layer check measures
    them all.
    """
    engine = analysis.engine  # type: ignore[attr-defined]
    nodes = list(engine.nodes)
    order = {name: k for k, name in enumerate(nodes)}
    segments: list[tuple[Any, ...] | None] = [None]
    for before, after in zip(units, units[1:], strict=False):
        segments.append(_segment(engine, nodes, order, before.name, after.name))
    repeat = [
        k >= 2 and segments[k] is not None and segments[k] == segments[k - 1]
        and _same_place(units[k], units[k - 1])
        for k in range(len(units))
    ]
    implied: dict[str, tuple[str, str]] = {}
    k = 0
    while k < len(units):
        if not repeat[k]:
            k += 1
            continue
        end = k
        while end + 1 < len(units) and repeat[end + 1]:
            end += 1
        for j in range(k, end):  # the run k..end repeats stage k-1: measure k-1 and end
            implied[units[j].name] = (units[k - 1].name, units[end].name)
        k = end + 1
    return implied


def _same_place(a: StageUnit, b: StageUnit) -> bool:
    return (a.unit, a.output_size, a.box, a.layout, a.prefix) == (b.unit, b.output_size, b.box, b.layout, b.prefix)


def _segment(engine: Any, nodes: list[str], order: dict[str, int], start: str, end: str) -> tuple[Any, ...] | None:
    """The engine's ops after `start` up to `end`, as rules and edges that do not depend on
    the names (an input from `start` is "start"; one inside the segment, its position);
    None when `end` does not come after `start`."""
    if start not in order or end not in order or order[end] <= order[start]:
        return None
    names = nodes[order[start] + 1 : order[end] + 1]
    where = {name: k for k, name in enumerate(names)}
    out = []
    for name in names:
        node = engine.nodes[name]
        edges = tuple(("start" if e.source == start else where.get(e.source, e.source), e.maps)
                      for e in node.edges)
        out.append((node.op, node.kind, node.mixes_all, node.keeps_local, node.output_size, edges))
    return tuple(out)


def _layer_checks(
    full: AnalysisLike, names: Sequence[str], all_layers: bool
) -> tuple[list[StageUnit], dict[str, str], dict[str, str]]:
    """With `all_layers`: the other layers measured on `full`'s input, the ones that cannot
    be placed there (with why) and the copies (`copied_layers`); else nothing."""
    if not all_layers:
        return [], {}, {}
    copies = {k: v for k, v in copied_layers(full).items() if k not in names}
    extra, unplaced = _other_layers(full, set(names), copies)
    return extra, unplaced, copies


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
        if not has_local_rf(analysis, src) or any(m != IDENTITY for m in edge.maps):
            continue
        mine, theirs = analysis.layer(name), analysis.layer(src)
        if (mine.layout, mine.output_size) != (theirs.layout, theirs.output_size):
            continue
        copies[name] = copies.get(src, src)
    return copies


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


def _not_local(analysis: AnalysisLike, names: Sequence[str]) -> str:
    """The first stage without a local RF or with an axis lost at this size, else ""."""
    for name in names:
        try:
            layer = analysis.layer(name)
        except KeyError:
            return name
        if layer.rf is None or any(n is None for n in layer.output_size):
            return name
    return ""


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

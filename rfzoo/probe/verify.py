"""The schema's ``verification`` entry: analytic RF box == measured gradient support.

Per stage and per spatial axis, the probe measures the support of the input
gradient of one unit (see `support`) on a tall, narrow input chosen by `plan`,
in float64, over ``samples`` random inputs (the narrowest width the model
runs at, see `plan`), with global-context nodes detached
and norm statistics detached, after re-randomizing the parameters (`weights`).
It stores the measured and the analytic box (inclusive input pixels per axis)
and whether they agree. ``input_size`` holds, per axis, the length of the input
along that axis in the run that measured it; ``cross_size`` the narrow length across
it (the width used).

Every other layer with a local RF is measured on the same input (`_check_layers`);
``layers`` holds the counts (``checked``, ``agree``, ``measured``, ``copies``,
``float64_rechecks``), the names of the non-stage layers that agree (``agreed``),
every disagreement (``disagree``) and every layer not checked with why
(``unchecked``). ``verified`` is true when every stage and every checked layer agrees
on every axis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import torch
import torch.fx

from rfzoo.probe.erf import flush_denormals
from rfzoo.probe.plan import default_size_plan, plan_axes
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import Support, Target, gradient_supports
from rfzoo.probe.targets import (
    AnalysisLike,
    Analyzer,
    AxisPlan,
    NoWidthRuns,
    PlanError,
    StageUnit,
    detach_names,
    runtime_target,
    statistics_nodes,
    within_budget,
)


def axis_plans(
    analyze_at: Analyzer,
    reference: AnalysisLike,
    *,
    stages: Sequence[str] | None = None,
    all_layers: bool = False,
    step: int = 32,
) -> list[AxisPlan]:
    return plan_axes(analyze_at, reference, stages=stages, all_layers=all_layers, step=step)


def fallback_plan(
    plans: list[AxisPlan], reference: AnalysisLike, names: Sequence[str], *, all_layers: bool
) -> AxisPlan | None:
    """The joint plan at the default input to measure when the real model fails at every
    width of `plans` (None when `plans` measure there already)."""
    if not plans or plans[0].at_default:
        return None
    return default_size_plan(reference, names, all_layers)


def measure_axis(
    runner: LocalRunner,
    plan: AxisPlan,
    in_channels: int,
    *,
    samples: int,
    seed: int,
    dtype: torch.dtype = torch.float64,
    scale: float = 1.0,
) -> tuple[int, list[Support], list[Support | None]]:
    """Supports of every stage (and of `plan.layers`) along `plan.axis`, on the narrowest
    width the model runs at. A layer the narrow run cannot locate gets None; a stage
    that cannot be located makes the width fail."""
    by_node = {s.node: s for s in [*plan.layers, *plan.stages]}
    stage_nodes = {s.node for s in plan.stages}

    def locate(target: Target, out: torch.Tensor) -> Target | None:
        try:
            stage = runtime_target(by_node[target.node], plan.axis, tuple(out.shape))
        except PlanError:
            if target.node in stage_nodes:
                raise
            return None
        if plan.joint:  # the whole input: the unit itself, on every axis
            stage = replace(stage, unit=by_node[target.node].unit)
        return Target(stage.node, stage.unit, stage.output_size)

    targets = [Target(s.node, s.unit, s.output_size) for s in [*plan.stages, *plan.layers]]
    failures: list[str] = []
    for width in plan.widths:
        try:
            supports = gradient_supports(
                runner,
                targets,
                (in_channels, *plan.tall_size(width)),
                samples=samples,
                dtype=dtype,
                seed=seed,
                locate=locate,
                scale=scale,
            )
        except Exception as err:  # noqa: BLE001 - too narrow for this model: try wider
            failures.append(f"{width}: {type(err).__name__}: {_first_line(err)}")
            continue
        found = supports[: len(plan.stages)]
        if any(s is None for s in found):  # a stage's tensor at this width: try wider
            failures.append(f"{width}: a stage not found in the narrow run")
            continue
        return width, found, supports[len(plan.stages) :]  # type: ignore[return-value]
    raise NoWidthRuns(f"no width runs along axis {plan.axis}: {'; '.join(failures[-2:])}")


def _first_line(err: BaseException) -> str:
    """The message's first line, short (an assert's message can be empty)."""
    lines = str(err).splitlines()
    return lines[0][:120] if lines else "(no message)"


def verification_entry(
    gm: torch.fx.GraphModule,
    reference: AnalysisLike,
    plans: list[AxisPlan],
    in_channels: int,
    *,
    samples: int = 3,
    seed: int = 0,
    float32_first: bool = False,
    first_samples: int | None = None,
) -> dict[str, Any]:
    """Measure every stage on every axis. Converts `gm`'s parameters to the dtype each pass
    needs (float64 for the float64 passes only: a 1B-parameter model's float64 copy alone
    takes 8 GB) and leaves them in the last one's.

    `float32_first` measures the stages in float32 with the scaled backward first and
    again in float64 only on the axes where float32 differs from the analytic box (the
    catalog's stage verification: several times cheaper, the same verdicts). With
    `first_samples` below `samples`, those rungs use that many random inputs, and only the
    stages still differing are measured on all `samples` (see `_stages_float32_first`).
    """
    with one_thread():
        return _verification_entry(gm, reference, plans, in_channels, samples=samples, seed=seed,
                                   float32_first=float32_first, first_samples=first_samples)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Narrow runs are tiny tensors: thread start-up costs more than it saves (10x here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _verification_entry(
    gm: torch.fx.GraphModule,
    reference: AnalysisLike,
    plans: list[AxisPlan],
    in_channels: int,
    *,
    samples: int,
    seed: int,
    float32_first: bool = False,
    first_samples: int | None = None,
) -> dict[str, Any]:
    runner = LocalRunner(gm, detach=detach_names(reference), leak_gates=True)
    unsupported = sorted(
        n for n in statistics_nodes(reference) if not runner.detaches_statistics(n)
    )
    per_stage: dict[str, dict[str, Any]] = {}
    unchecked: dict[str, str] = dict(plans[0].unplaced) if plans else {}
    widths = []
    rechecks = {"float64": 0, "samples": 0}
    for plan in plans:
        stages_only = replace(plan, layers=[], stages=[s for s in plan.stages if s.name not in plan.repeats])
        if float32_first:
            width, supports, redone = _stages_float32_first(runner, gm, stages_only, in_channels,
                                                            samples=samples, seed=seed,
                                                            first_samples=first_samples)
            rechecks = {k: rechecks[k] + redone[k] for k in rechecks}
        else:
            gm.to(torch.float64)
            width, supports, _ = measure_axis(runner, stages_only, in_channels, samples=samples, seed=seed)
        widths.append(width)
        for stage, support in zip(stages_only.stages, supports, strict=True):
            for axis in plan.axes:
                _record(per_stage, stage, axis, support)
    per_layer, rechecked = _check_layers(
        runner, gm, plans, widths, in_channels, unchecked, samples=samples, seed=seed
    )
    for entry in per_stage.values():
        entry["agree"] = entry["measured_box"] == entry["analytic_box"]
    stages = _with_implied(per_stage, plans)
    checked = [e for name, e in per_layer.items() if name not in unchecked]
    for entry in checked:
        entry["agree"] = entry["measured_box"] == entry["analytic_box"]
    layers: dict[str, Any] | None = None
    if plans and (plans[0].layers or plans[0].unplaced or plans[0].copies):
        measured = {e["node"]: e for e in [*checked, *stages]}
        agreed = [e["node"] for e in checked if e["agree"]]
        copies_bad = []
        for name, head in sorted(plans[0].copies.items()):
            if head not in measured:
                unchecked[name] = f"copies {head}: " + unchecked.get(head, "not measured")
            elif measured[head]["agree"]:
                agreed.append(name)
            else:
                copies_bad.append({**measured[head], "node": name, "copy_of": head})
        disagree = [e for e in checked if not e["agree"]] + copies_bad
        stages_agree = sum(e["agree"] for e in stages)
        layers = {
            "checked": len(stages) + len(agreed) + len(disagree),
            "agree": stages_agree + len(agreed),
            "measured": len(checked) + len(stages),
            "copies": sum(n not in unchecked for n in plans[0].copies),
            "float64_rechecks": rechecked,
            # the site's per-layer marks read these names (stages have their own entries)
            "agreed": sorted(agreed),
            "disagree": disagree,
            "unchecked": [{"node": n, "reason": r} for n, r in sorted(unchecked.items())],
        }
    result: dict[str, Any] = {
        "dtype": "float32, float64 where it differed" if float32_first else "float64",
        "samples": samples,
        "input_size": _input_sizes(plans),
        "cross_size": _cross_sizes(plans, widths),
        "stages": stages,
        "verified": bool(stages)
        and all(s["agree"] for s in stages)
        and not (layers and layers["disagree"]),
    }
    if layers is not None:
        result["layers"] = layers
    if float32_first:
        result["float64_rechecks"] = rechecks["float64"]  # stage-axes measured again in float64
    if float32_first and first_samples and first_samples < samples:
        result["first_samples"] = first_samples  # the ladder's first rungs (see _stages_float32_first)
        result["sample_rechecks"] = rechecks["samples"]  # stage-axes measured again on all samples
    if plans and plans[0].at_default:
        result["at_default"] = plans[0].at_default
    cut = [s.name for s in (plans[0].stages if plans else []) if s.clipped]
    if cut:
        result["clipped"] = cut
        result["clipped_reason"] = (
            f"{plans[0].at_default}; these stages' RFs reach past the "
            f"{'x'.join(map(str, plans[0].full_size))} input, so their boxes are checked inside it only"
        )
    if unsupported:
        result["reason"] = f"statistics of {', '.join(unsupported[:3])} not detached"
    return result


# The float32 pass starts its backward at 2**64 instead of 1: gradients are linear in it,
# and deep nets' RF edges sit ~2**-150 below their center, under float32's smallest
# normal (2**-126); shifted, they stay representable while the center (~2**64) is far
# from overflow (2**128). Measured on DenseNet-121: float64 rechecks 88 -> see notes.
FLOAT32_SCALE = 2.0**64


def _stages_float32_first(
    runner: LocalRunner,
    gm: torch.fx.GraphModule,
    plan: AxisPlan,
    in_channels: int,
    *,
    samples: int,
    seed: int,
    first_samples: int | None = None,
) -> tuple[int, list[Support], dict[str, int]]:
    """The stages along one axis, each measured up a ladder of rungs until its box equals
    the analytic one. Without `first_samples`: float32 (scaled backward), then float64, on
    `samples` random inputs. With it: float32 and float64 on `first_samples` inputs first,
    then those two rungs on all `samples`, so a stage the cheap rungs do not settle is
    measured as it was without them (the same inputs and width), and that measurement
    decides every disagreement.

    Why a cheap rung cannot accept a wrong box: a measured support lies inside the true
    one (float32 errs by underflow, one input by a path that input leaves at a zero
    derivative, such as max pooling's routing), so a box equal to the analytic one shows
    that box is reached; a rung only accepts equality. What fewer inputs weaken is the
    other direction, a true support wider than the analytic box, which one input shows
    too unless max pooling routes the wider path away in it.

    Returns the width, the supports and how many stage-axes were measured again in
    float64 and on all samples.
    """
    first = min(first_samples or samples, samples)
    rungs = [(torch.float32, first), (torch.float64, first)]
    if first < samples:
        rungs += [(torch.float32, samples), (torch.float64, samples)]
    counts = {"float64": 0, "samples": 0}
    width, supports, todo = 0, [], list(range(len(plan.stages)))
    for dtype, n in rungs:
        if not todo:
            break
        if width:  # a recheck, on the width the first rung found, of the stages still differing
            if dtype == torch.float64:
                counts["float64"] += len(todo)
            if n > first and dtype == torch.float32:
                counts["samples"] += len(todo)
        gm.to(dtype)
        step = replace(plan, stages=[plan.stages[k] for k in todo], widths=(width,) if width else plan.widths)
        scale = FLOAT32_SCALE if dtype == torch.float32 else 1.0
        with flush_denormals() if dtype == torch.float32 else contextlib.nullcontext():
            width, found, _ = measure_axis(runner, step, in_channels, samples=n, seed=seed,
                                           dtype=dtype, scale=scale)
        if not supports:
            supports = list(found)
        for k, support in zip(todo, found, strict=True):
            supports[k] = support
        todo = [k for k in todo if any(supports[k].box[a] != plan.stages[k].box[a] for a in plan.axes)]
    return width, supports, counts


def _check_layers(
    runner: LocalRunner,
    gm: torch.fx.GraphModule,
    plans: list[AxisPlan],
    widths: list[int],
    in_channels: int,
    unchecked: dict[str, str],
    *,
    samples: int,
    seed: int,
) -> tuple[dict[str, dict[str, Any]], int]:
    """Every other layer: float32 first (8x cheaper), float64 again where float32 disagrees.

    Float32 can only err by underflow (a support too small) or by a rounding residue
    where the exact derivative cancels (too large); either way its box differs from a
    correct analytic box, and the float64 measurement decides.
    """
    per_layer: dict[str, dict[str, Any]] = {}
    redo: dict[int, list[StageUnit]] = {}
    pixels = max((p.length * w for p, w in zip(plans, widths, strict=True)), default=1)
    chosen, sampled_out = within_budget(plans[0].layers if plans else [], pixels)
    unchecked.update(sampled_out)
    for plan, width in zip(plans, widths, strict=True):  # denormals would cost 10x more
        plan = replace(plan, layers=[u for u in plan.layers if u.name in chosen])
        if not plan.layers:
            continue
        layers_only = replace(plan, stages=[], widths=(width,))
        gm.to(torch.float32)
        with flush_denormals():
            _, _, found = measure_axis(
                runner, layers_only, in_channels, samples=samples, seed=seed,
                dtype=torch.float32, scale=FLOAT32_SCALE,
            )
        for layer, support in zip(plan.layers, found, strict=True):
            if support is None:
                unchecked[layer.name] = f"not found in the narrow run along axis {plan.axis}"
            elif any(support.box[a] != layer.box[a] for a in plan.axes):
                redo.setdefault(plan.axis, []).append(layer)
            else:
                for axis in plan.axes:
                    _record(per_layer, layer, axis, support)
    rechecked = 0
    for plan, width in zip(plans, widths, strict=True):
        if not redo.get(plan.axis):
            continue
        gm.to(torch.float64)
        again = replace(plan, stages=[], layers=redo[plan.axis], widths=(width,))
        _, _, found = measure_axis(runner, again, in_channels, samples=samples, seed=seed)
        for layer, support in zip(again.layers, found, strict=True):
            rechecked += 1
            if support is None:
                unchecked[layer.name] = f"not found in the narrow run along axis {plan.axis}"
            else:
                for axis in plan.axes:
                    _record(per_layer, layer, axis, support)
    # a layer measured on one axis only is incomplete: report it unchecked
    for name, entry in per_layer.items():
        if None in entry["unit"] and name not in unchecked:
            unchecked[name] = "measured on some axes only"
    return per_layer, rechecked


def _with_implied(per_stage: dict[str, dict[str, Any]], plans: list[AxisPlan]) -> list[dict[str, Any]]:
    """The stage entries in plan order, the unmeasured repeats included: each names the two
    measured stages that imply it and agrees when both agree (see `plan.repeated_stages`)."""
    if not plans:
        return list(per_stage.values())
    out = []
    for stage in plans[0].stages:
        bounds = plans[0].repeats.get(stage.name)
        if bounds is None:
            out.append(per_stage[stage.name])
            continue
        out.append({
            "node": stage.name,
            "unit": list(stage.unit),
            "measured_box": None,
            "analytic_box": [list(b) if b else None for b in stage.box],
            "implied_by": list(bounds),
            "agree": all(per_stage[b]["agree"] for b in bounds),
        })
    return out


def _input_sizes(plans: list[AxisPlan]) -> list[int]:
    """Per axis, the input's length along it in the run that measured it."""
    if plans and plans[0].joint:
        return list(plans[0].full_size)
    return [plan.length for plan in plans]


def _cross_sizes(plans: list[AxisPlan], widths: list[int]) -> list[int]:
    """Per axis, the run's width across it (a joint run: the input's other length)."""
    if plans and plans[0].joint:
        size = plans[0].full_size
        return [min((n for b, n in enumerate(size) if b != a), default=n) for a, n in enumerate(size)]
    return widths


def _record(table: dict[str, dict[str, Any]], unit: StageUnit, axis: int, support: Support) -> None:
    """Store one axis's measurement at its place (axes may be measured out of order)."""
    naxes = len(unit.unit)
    entry = table.setdefault(
        unit.name,
        {"node": unit.name, "unit": [None] * naxes, "measured_box": [None] * naxes,
         "analytic_box": [None] * naxes},
    )
    entry["unit"][axis] = unit.unit[axis]
    measured = support.box[axis]
    analytic = unit.box[axis]
    entry["measured_box"][axis] = list(measured) if measured else None
    entry["analytic_box"][axis] = list(analytic) if analytic else None

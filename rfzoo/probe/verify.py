"""The schema's ``verification`` entry: analytic RF box == measured gradient support, per stage.

Per stage and per spatial axis, the probe measures the support of the input
gradient of one unit (see `support`) on a tall, narrow input chosen by `plan`,
in float64, over ``samples`` random inputs (the narrowest width the model
runs at, see `plan`), with global-context nodes detached
and norm statistics detached, after re-randomizing the parameters (`weights`).
It stores the measured and the analytic box (inclusive input pixels per axis)
and whether they agree; ``verified`` is true when every stage agrees on every
axis. ``input_size`` holds, per axis, the length of the input along that axis
in the run that measured it; ``cross_size`` the narrow length across it (the width used).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx

from rfzoo.probe.plan import (
    AnalysisLike,
    Analyzer,
    AxisPlan,
    PlanError,
    plan_axes,
    runtime_target,
)
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.support import Support, Target, gradient_supports


def detach_names(analysis: AnalysisLike) -> set[str]:
    """fx names of the analysis's global-context layers."""
    return {analysis.fx_node(name) for name in analysis.global_context_nodes()}


def statistics_nodes(analysis: AnalysisLike) -> set[str]:
    """fx names of layers mixing a local path with global statistics (GroupNorm, ...)."""
    names = getattr(analysis, "global_statistics_nodes", lambda: set())()
    return {analysis.fx_node(name) for name in names}


def axis_plans(analyze_at: Analyzer, reference: AnalysisLike, *, step: int = 32) -> list[AxisPlan]:
    return plan_axes(analyze_at, reference, step=step)


def measure_axis(
    runner: LocalRunner,
    plan: AxisPlan,
    in_channels: int,
    *,
    samples: int,
    seed: int,
) -> tuple[int, list[Support]]:
    """Supports of every stage along `plan.axis`, on the narrowest width the model runs at."""
    by_node = {s.node: s for s in plan.stages}

    def locate(target: Target, out: torch.Tensor) -> Target:
        stage = runtime_target(by_node[target.node], plan.axis, tuple(out.shape))
        return Target(stage.node, stage.unit, stage.output_size)

    targets = [Target(s.node, s.unit, s.output_size) for s in plan.stages]
    failures: list[str] = []
    for width in plan.widths:
        try:
            supports = gradient_supports(
                runner,
                targets,
                (in_channels, *plan.tall_size(width)),
                samples=samples,
                dtype=torch.float64,
                seed=seed,
                locate=locate,
            )
        except Exception as err:  # noqa: BLE001 - too narrow for this model: try wider
            failures.append(f"{width}: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
            continue
        return width, supports
    raise PlanError(f"no width runs along axis {plan.axis}: {'; '.join(failures[-2:])}")


def verification_entry(
    gm: torch.fx.GraphModule,
    reference: AnalysisLike,
    plans: list[AxisPlan],
    in_channels: int,
    *,
    samples: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure every stage on every axis; `gm` must hold float64 parameters."""
    runner = LocalRunner(gm, detach=detach_names(reference))
    unsupported = sorted(
        n for n in statistics_nodes(reference) if not runner.detaches_statistics(n)
    )
    per_stage: dict[str, dict[str, Any]] = {}
    widths = []
    for plan in plans:
        width, supports = measure_axis(runner, plan, in_channels, samples=samples, seed=seed)
        widths.append(width)
        for stage, support in zip(plan.stages, supports, strict=True):
            entry = per_stage.setdefault(
                stage.name, {"node": stage.name, "unit": [], "measured_box": [], "analytic_box": []}
            )
            entry["unit"].append(stage.unit[plan.axis])
            measured = support.box[plan.axis]
            analytic = stage.box[plan.axis]
            entry["measured_box"].append(list(measured) if measured else None)
            entry["analytic_box"].append(list(analytic) if analytic else None)
    stages = []
    for entry in per_stage.values():
        entry["agree"] = entry["measured_box"] == entry["analytic_box"]
        stages.append(entry)
    result: dict[str, Any] = {
        "dtype": "float64",
        "samples": samples,
        "input_size": [plan.length for plan in plans],
        "cross_size": widths,
        "stages": stages,
        "verified": bool(stages) and all(s["agree"] for s in stages),
    }
    if unsupported:
        result["reason"] = f"statistics of {', '.join(unsupported[:3])} not detached"
    return result

"""Library entry points: `gradient_map` for one model and node, `probe_model` for the catalog.

Both build the model on the CPU without library weights, then re-randomize it
with the documented init (`weights.INIT_DESCRIPTION`) unless the caller gives
a state dict file, trace it with rfzoo's tracer (so fx node names match the
analysis) and run it with global-context paths detached (`runner`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.fx
from torch import nn

from rfzoo.input_size import check_in_channels, fit_axes, parse_input_size
from rfzoo.probe.effective import combine_axes, erf_entry
from rfzoo.probe.erf import erf_maps, erf_metrics
from rfzoo.probe.fingerprint import plan_fingerprint
from rfzoo.probe.heatmap import encode_heatmap
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.targets import (
    AnalysisLike,
    Analyzer,
    NoWidthRuns,
    ProbeError,
    center_targets,
    detach_names,
    memoized,
    stage_names,
)
from rfzoo.probe.verify import axis_plans, fallback_plan, verification_entry

__all__ = ["GradientMap", "ProbeError", "Prepared", "gradient_map", "gradient_maps", "prepare", "probe_model"]
from rfzoo.probe.weights import INIT_DESCRIPTION, prepare_weights_, skipped_library_init


@dataclass
class Prepared:
    """A model ready to probe: CPU parameters set, traced, with its analyzer."""

    label: str
    gm: torch.fx.GraphModule
    in_channels: int
    analyze_at: Analyzer
    weights: str  # "random" or "file:NAME"
    default_size: tuple[int, ...]


def prepare(
    model_or_name: nn.Module | str | Any,
    *,
    weights: str | Path | None = None,
    seed: int = 0,
    in_channels: int | None = None,
) -> Prepared:
    """Build (CPU), set the parameters, trace. Accepts a name, a `ModelSpec` or an `nn.Module`.

    A module given by the caller is deep-copied first: the probe re-randomizes
    parameters and must not touch the caller's model.
    """
    from rfzoo.analysis import analyze, graph_input, library_input
    from rfzoo.models import ModelSpec, resolve
    from rfzoo.trace import trace

    spec = None
    if isinstance(model_or_name, nn.Module):
        model = copy.deepcopy(model_or_name).to("cpu").eval()
        source = "timm" if type(model).__module__.startswith("timm.") else "user"
        label = f"user/{type(model).__name__}"
        target: nn.Module | str = model
    else:
        spec = model_or_name if isinstance(model_or_name, ModelSpec) else resolve(model_or_name)
        model = _build(spec, random=weights is None)
        source, label = spec.source, spec.full_name
        target = spec.name if spec.source == "user" else spec.full_name

    label_weights = prepare_weights_(model, weights, seed)
    model.eval().requires_grad_(False)  # only input gradients are measured
    gm = trace(model, source)
    if spec is None or spec.source == "user":  # no metadata: read the input from the graph
        default_size, channels = graph_input(gm, None, in_channels)
    else:
        default_size, channels = library_input(spec, None, in_channels)

    def analyze_at(size: tuple[int, ...]) -> AnalysisLike:
        return analyze(target, size, in_channels=channels)

    return Prepared(label, gm, channels, memoized(analyze_at), label_weights, tuple(default_size))


def _build(spec: Any, *, random: bool) -> nn.Module:
    """The model on the CPU; without its library's random init when `randomize_` redraws it."""
    if not random:
        return spec.build("cpu")
    with skipped_library_init():
        model = spec.build("cpu")
    buffers = [b for b in model.buffers() if b.is_floating_point()]
    if all(bool(torch.isfinite(b).all()) for b in buffers):
        return model
    return spec.build("cpu")  # a buffer came from a skipped init: build it the usual way


def probe_model(
    name_or_spec: Any,
    analysis: AnalysisLike,
    *,
    verify: bool = True,
    erf: bool = True,
    weights: str | Path | None = None,
    seed: int = 0,
    samples: int = 3,
    erf_samples: int = 2,
    stages: Sequence[str] | None = None,
    all_layers: bool = True,
    float32_first: bool = False,
    first_samples: int | None = None,
) -> dict[str, Any]:
    """The schema's ``verification`` and ``erf`` entries for one model.

    `analysis` is the model's analysis at its catalog input size (the ERF's
    default size). `stages` names the layers whose boxes and ERFs are stored
    (default: the last layer of each resolution); with `all_layers`, the support
    check also measures every other layer with a local RF and stores the count
    that agree and every disagreement; `float32_first` measures the stages in float32
    first, on `first_samples` random inputs when given (see `verification_entry`).
    Entries not asked for are None. Raises `ProbeError` (or another `RfzooError`) when the model cannot be probed.
    """
    result: dict[str, Any] = {"verification": None, "erf": None}
    if not (verify or erf):
        return result
    names = stage_names(analysis, stages)
    if not names:
        raise ProbeError("no stage with a local receptive field to probe")
    prepared = prepare(name_or_spec, weights=weights, seed=seed)
    _check_nodes(prepared.gm, analysis, names)
    plans = axis_plans(prepared.analyze_at, analysis, stages=names, all_layers=all_layers and verify)
    fallback = fallback_plan(plans, analysis, names, all_layers=all_layers and verify)
    try:
        if verify:
            # detach what is global at the size the boxes come from: a window that covers
            # the whole map at the default size (global there) is local on the larger input
            boxes_from = prepared.analyze_at(plans[0].full_size) if plans else analysis
            try:
                entry = verification_entry(
                    prepared.gm, boxes_from, plans, prepared.in_channels, samples=samples, seed=seed,
                    float32_first=float32_first, first_samples=first_samples,
                )
            except NoWidthRuns as err:
                if fallback is None:
                    raise
                entry = verification_entry(
                    prepared.gm, analysis, [fallback], prepared.in_channels, samples=samples, seed=seed,
                    float32_first=float32_first, first_samples=first_samples,
                )
                entry["at_default"] = f"{entry['at_default']} ({err})"
            entry["plan_fingerprint"] = plan_fingerprint(plans, boxes_from, analysis, names, fallback)
            result["verification"] = entry
        if erf:
            prepared.gm.to(torch.float32)
            result["erf"] = erf_entry(
                prepared.gm,
                analysis,
                prepared.in_channels,
                analyze_at=prepared.analyze_at,
                full_size=combine_axes(plans)[0],
                weights=prepared.weights,
                init=INIT_DESCRIPTION if prepared.weights == "random" else "",
                samples=erf_samples,
                seed=seed,
                stages=names,
            )
    finally:
        prepared.gm.to(torch.float32)
    return result


def _check_nodes(gm: torch.fx.GraphModule, analysis: AnalysisLike, names: Sequence[str]) -> None:
    known = {n.name for n in gm.graph.nodes}
    wanted = {analysis.fx_node(n) for n in names} | detach_names(analysis)
    missing = sorted(wanted - known)
    if missing:
        raise ProbeError(
            f"the re-traced graph lacks nodes of the analysis: {', '.join(missing[:3])}"
        )


@dataclass
class GradientMap:
    """The ERF of one unit: the map, its RF box and metrics, and the stored heat map."""

    model: str
    node: str
    input_size: tuple[int, ...]
    unit: tuple[int, ...]
    rf_box: list[tuple[int, int]]
    map: np.ndarray  # mean |gradient| per input pixel, float64
    metrics: dict[str, Any]
    heatmap: dict[str, Any]
    weights: str
    init: str

    def crop(self) -> np.ndarray:
        """The map inside the RF box (clipped to the input)."""
        clipped = tuple(
            slice(max(a, 0), min(b, n - 1) + 1)
            for (a, b), n in zip(self.rf_box, self.map.shape, strict=True)
        )
        return self.map[clipped]


def gradient_map(
    model_or_name: nn.Module | str | Any,
    node: str | None = None,
    input_size: int | tuple[int, ...] | list[int] | None = None,
    *,
    weights: str | Path | None = None,
    samples: int = 8,
    seed: int = 0,
    detach_global: bool = True,
    max_cells: int = 64,
    in_channels: int | None = None,
) -> GradientMap:
    """Effective RF of the center unit of `node` (default: the last stage) at `input_size`.

    `node` is a layer name of the analysis (see ``rfzoo show``). Conventions: see `erf`.
    """
    (result,) = gradient_maps(
        model_or_name,
        [node] if node is not None else None,
        input_size,
        weights=weights,
        samples=samples,
        seed=seed,
        detach_global=detach_global,
        max_cells=max_cells,
        last_stage_only=node is None,
        in_channels=in_channels,
    )
    return result


def gradient_maps(
    model_or_name: nn.Module | str | Any,
    nodes: list[str] | None = None,
    input_size: int | tuple[int, ...] | list[int] | None = None,
    *,
    weights: str | Path | None = None,
    samples: int = 8,
    seed: int = 0,
    detach_global: bool = True,
    max_cells: int = 64,
    last_stage_only: bool = False,
    in_channels: int | None = None,
) -> list[GradientMap]:
    """`gradient_map` for several layers (default: every stage) from one forward pass."""
    sizes = None if input_size is None else parse_input_size(input_size)  # before the model is built
    if in_channels is not None:
        in_channels = check_in_channels(in_channels)
    prepared = prepare(model_or_name, weights=weights, seed=seed, in_channels=in_channels)
    analysis = prepared.analyze_at(fit_axes(sizes, len(prepared.default_size)) if sizes else prepared.default_size)
    if nodes is None and last_stage_only:
        nodes = stage_names(analysis)[-1:] or None
    found = center_targets(analysis, nodes, label=prepared.label)
    targets = [c.target for c in found]
    detach = detach_names(analysis) if detach_global else set()
    runner = LocalRunner(prepared.gm, detach=detach, detach_norm_statistics=detach_global)
    grad_maps = erf_maps(
        runner,
        targets,
        (prepared.in_channels, *analysis.input_size),
        samples=samples,
        seed=seed,
    )
    results = []
    for c, grad_map in zip(found, grad_maps, strict=True):
        rf_box = c.rf_box
        center = [(a + b) / 2 for a, b in rf_box]
        metrics = erf_metrics(grad_map, center, [b - a + 1 for a, b in rf_box])
        clipped = [
            (max(a, 0), min(b, n - 1)) for (a, b), n in zip(rf_box, grad_map.shape, strict=True)
        ]
        results.append(
            GradientMap(
                model=prepared.label,
                node=c.name,
                input_size=tuple(analysis.input_size),
                unit=c.target.unit,
                rf_box=rf_box,
                map=grad_map,
                metrics=metrics,
                heatmap=encode_heatmap(grad_map, clipped, max_cells=max_cells),
                weights=prepared.weights,
                init=INIT_DESCRIPTION if prepared.weights == "random" else "",
            )
        )
    return results

"""Gradient maps averaged over given inputs (real images or noise), for any weights.

The conventions are the random-init ERF's (`rfzoo.probe.erf`): the center unit of each stage,
all its channels summed, ``|d unit / d input|`` summed over input channels and averaged over
the inputs, global-context paths and norm statistics detached by `LocalRunner` (as
`rfzoo.probe.api.gradient_maps` runs it), float32 with denormals flushed, metrics from
`erf_metrics` and heat maps from `encode_heatmap`.

The analysis comes from the very module that is traced, so that its fx node names are the
graph's own even where pretrained weights change the graph (torchvision's Inception v3
normalizes its input in the graph when built with weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx
from torch import nn

from rfzoo.probe.erf import erf_metrics, flush_denormals
from rfzoo.probe.heatmap import encode_heatmap
from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.targets import AnalysisLike, CenterTarget, ProbeError, center_targets, detach_names
from rfzoo.probe.units import unit_values

MAX_CELLS = 64  # heat map cells per side, as the catalog's ERF
BATCH_PIXELS = 4 * 224 * 224  # inputs per forward pass: four 224x224 images' worth of pixels


class TrainedErfError(ProbeError):
    """The model or layer cannot be measured this way."""


@dataclass
class Traced:
    """A model ready for gradient maps: its fx graph and the analysis of that same module."""

    gm: torch.fx.GraphModule
    analysis: AnalysisLike
    in_channels: int


StageTarget = CenterTarget  # one stage's center unit and RF box (rfzoo.probe.targets)


def trace_for_maps(model: nn.Module, source: str, input_size: Sequence[int], in_channels: int) -> Traced:
    """Trace `model` (eval, no parameter gradients) and analyze it at `input_size`."""
    from rfzoo.analysis import analyze
    from rfzoo.trace import trace

    model.eval().requires_grad_(False)  # only input gradients are measured
    analysis = analyze(model, tuple(input_size), in_channels=in_channels)
    return Traced(trace(model, source), analysis, in_channels)


def stage_targets(traced: Traced, nodes: Sequence[str] | None = None, label: str = "the model") -> list[StageTarget]:
    """The center unit of each stage (or of each layer in `nodes`) and its RF box."""
    known = {n.name for n in traced.gm.graph.nodes}
    return center_targets(traced.analysis, nodes, label=label, traced_nodes=known, error=TrainedErfError)


def noise_inputs(traced: Traced, samples: int, seed: int) -> torch.Tensor:
    """N(0, 1) inputs, the same draws as the random-init ERF's (`erf_maps`) for a seed."""
    gen = torch.Generator().manual_seed(seed)
    shape = (samples, traced.in_channels, *traced.analysis.input_size)
    return torch.randn(shape, generator=gen, dtype=torch.float32)


def averaged_maps(traced: Traced, targets: Sequence[StageTarget], inputs: torch.Tensor,
                  batch: int | None = None) -> list[np.ndarray]:
    """Per target, the mean over `inputs` of ``|d unit / d input|`` summed over channels.

    Inputs run `batch` at a time (default: about four 224x224 images' worth of pixels), so
    memory stays bounded at any number of images; the sum is kept in float64.
    """
    if len(inputs) == 0:
        raise TrainedErfError("no inputs to average over")
    if batch is None:
        batch = max(1, BATCH_PIXELS // max(1, math.prod(inputs.shape[2:])))
    runner = LocalRunner(traced.gm, detach=detach_names(traced.analysis), detach_norm_statistics=True)
    sums = [np.zeros(tuple(inputs.shape[2:]), dtype=np.float64) for _ in targets]
    names = {t.target.node for t in targets}
    with flush_denormals():
        for chunk in inputs.split(batch):
            x = chunk.detach().clone().requires_grad_(True)
            outs = runner.capture(x, names=names)
            for k, st in enumerate(targets):
                t = st.target
                objective = unit_values(outs[t.node], t.output_size, t.unit).sum()
                (grad,) = torch.autograd.grad(objective, x, retain_graph=k < len(targets) - 1)
                sums[k] += grad.abs().sum(dim=1).sum(dim=0).to(torch.float64).numpy()
            del outs
    return [s / len(inputs) for s in sums]


def stage_entry(st: StageTarget, grad_map: np.ndarray, input_size: Sequence[int]) -> dict[str, Any]:
    """One stage in the catalog document's ``erf.stages[i]`` layout."""
    center = [(a + b) / 2 for a, b in st.rf_box]
    metrics = erf_metrics(grad_map, center, [b - a + 1 for a, b in st.rf_box])
    clipped = [(max(a, 0), min(b, n - 1)) for (a, b), n in zip(st.rf_box, grad_map.shape, strict=True)]
    return {
        "node": st.name,
        "unit": list(st.target.unit),
        "rf_box": [list(b) for b in st.rf_box],
        **metrics,
        "heatmap": encode_heatmap(grad_map, clipped, max_cells=MAX_CELLS),
        "measured_at": [int(n) for n in input_size],
    }

"""The numbers behind the method page's ERF charts, taken from the catalog's documents.

Definitions (the method page repeats them):

* **ERF size** of a stage: 4σ, with σ the standard deviation of its gradient map, the
  geometric mean over the spatial axes. 4σ holds about 95% of a Gaussian's mass, and it is
  the numerator of the `erf_trf_ratio` every model page shows, so the charts and the model
  pages agree. A flat map (a patch embedding, a first convolution) has 4σ = 1.15 times its
  width, so early stages can sit slightly above ERF = RF.
* **Theoretical RF** (TRF) of a stage: the side of its analytic RF box (`rf_box`, the box of
  the unit the ERF was measured at), geometric mean over the spatial axes. A video model's
  time axis is left out of both.
* **Growth depth** of a node: the number of layers, in graph order up to the node, at which
  the largest RF so far grows (on the sum of the spatial axes, starting from one pixel).
  On a plain chain it is the number of spatial layers (kernel > 1); on a residual or
  multi-branch net it counts the spatial layers of the widest path, the one that sets the
  RF. The documents have no edges, so the count is only meaningful for a node on that path:
  a node whose own RF is below the largest so far (an FPN output, a high-resolution branch)
  gets no depth.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rfzoo.site.figures import spatial_axes

Doc = dict[str, Any]
ERF_SIGMAS = 4  # ERF size = 4σ: about 95% of a Gaussian, and erf_trf_ratio's numerator


@dataclass(frozen=True)
class StagePoint:
    """One measured stage of one model: its ERF and TRF sizes in input pixels."""

    model: str  # "source/name"
    stage: str  # the stage's node
    erf: float
    trf: float
    depth: int | None  # growth depth; None off the widest path
    is_global: bool  # the node sees the whole input: the TRF shown is its local path's

    @property
    def fraction(self) -> float:
        return self.erf / self.trf


@dataclass(frozen=True)
class TrainedPair:
    """One stage's ERF fraction (ERF size / TRF) with random and with pretrained weights."""

    model: str
    stage: str
    random: float
    pretrained: float


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def erf_size(stage: Doc, axes: Sequence[int]) -> float | None:
    """4σ of the stage's gradient map (geometric mean over `axes`); None when not measured."""
    std = stage.get("std")
    if not std or any(a >= len(std) or not std[a] or std[a] <= 0 for a in axes):
        return None
    return ERF_SIGMAS * geomean([float(std[a]) for a in axes])


def trf_size(stage: Doc, axes: Sequence[int]) -> float | None:
    """Side of the stage's analytic RF box (geometric mean over `axes`); None without a box."""
    box = stage.get("rf_box")
    if not box or any(a >= len(box) or box[a] is None or None in box[a] for a in axes):
        return None
    return geomean([float(box[a][1] - box[a][0] + 1) for a in axes])


def growth_depths(layers: Sequence[Doc], axes: Sequence[int]) -> dict[str, int]:
    """Growth depth of every node on the widest path (whose RF is the largest so far)."""
    largest = len(axes)  # one pixel per axis: the input itself
    grown = 0
    out: dict[str, int] = {}
    for lay in layers:
        rf = lay.get("rf")
        if not rf or any(a >= len(rf) or rf[a] is None for a in axes):
            continue
        size = sum(rf[a] for a in axes)
        if size > largest:
            largest, grown = size, grown + 1
        if size == largest:
            out[lay["name"]] = grown
    return out


def stage_points(doc: Doc) -> list[StagePoint]:
    """The document's measured ERF stages (random weights) as points."""
    axes = spatial_axes(len(doc.get("input_size") or [0, 0]))
    layers = doc.get("layers") or []
    depths = growth_depths(layers, axes)
    is_global = {lay["name"]: bool(lay.get("global")) for lay in layers}
    model = f"{doc['source']}/{doc['name']}"
    points = []
    for st in (doc.get("erf") or {}).get("stages") or []:
        erf, trf = erf_size(st, axes), trf_size(st, axes)
        if erf is not None and trf is not None:
            points.append(StagePoint(model, st["node"], erf, trf, depths.get(st["node"]),
                                     is_global.get(st["node"], False)))
    return points


def catalog_points(docs: Iterable[Doc]) -> list[StagePoint]:
    return [p for doc in docs for p in stage_points(doc)]


def deepest_stages(points: Sequence[StagePoint]) -> list[StagePoint]:
    """Each model's last measured stage (stages are stored in network order)."""
    last: dict[str, StagePoint] = {}
    for p in points:
        last[p.model] = p
    return list(last.values())


def model_medians(points: Sequence[StagePoint]) -> dict[str, float]:
    """Each model's median stage fraction: every model weighs the same, however many stages."""
    by_model: dict[str, list[float]] = {}
    for p in points:
        by_model.setdefault(p.model, []).append(p.fraction)
    return {m: statistics.median(fr) for m, fr in by_model.items()}


def one_per_depth(points: Sequence[StagePoint]) -> list[StagePoint]:
    """Points with a depth, one per model and depth: a ViT's twelve blocks all have the patch
    embedding's depth and would otherwise weigh twelve times in a fit."""
    seen: set[tuple[str, int]] = set()
    out = []
    for p in points:
        if p.depth is not None and p.depth > 0 and (p.model, p.depth) not in seen:
            seen.add((p.model, p.depth))
            out.append(p)
    return out


def loglog_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (slope, intercept) of log y against log x: y = e^intercept · x^slope.
    None with fewer than two distinct x."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    if len(set(lx)) < 2:
        return None
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    slope = sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / sum((x - mx) ** 2 for x in lx)
    return slope, my - slope * mx


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    fit = loglog_fit(xs, ys)
    return None if fit is None else fit[0]


@dataclass(frozen=True)
class ModelSlopes:
    model: str
    n_depths: int
    depths: tuple[int, int]  # smallest and largest growth depth measured
    trf: float
    erf: float


MIN_DEPTHS_FOR_SLOPE = 3  # two points always fit a line: ask for one more


def model_slopes(points: Sequence[StagePoint]) -> list[ModelSlopes]:
    """Per model with at least three stage depths: TRF and ERF slopes against depth, log-log."""
    by_model: dict[str, list[StagePoint]] = {}
    for p in one_per_depth(points):
        by_model.setdefault(p.model, []).append(p)
    out = []
    for model, pts in by_model.items():
        if len(pts) < MIN_DEPTHS_FOR_SLOPE:
            continue
        ds = [float(p.depth or 0) for p in pts]
        trf = loglog_slope(ds, [p.trf for p in pts])
        erf = loglog_slope(ds, [p.erf for p in pts])
        if trf is not None and erf is not None:
            out.append(ModelSlopes(model, len(pts), (min(p.depth or 0 for p in pts),
                                                     max(p.depth or 0 for p in pts)), trf, erf))
    return out


def stage_fraction(stage: Doc, axes: Sequence[int]) -> float | None:
    erf, trf = erf_size(stage, axes), trf_size(stage, axes)
    return None if erf is None or trf is None else erf / trf


def trained_pairs(doc: Doc) -> list[TrainedPair]:
    """A trained-ERF file's stages measured with both weights, matched by node."""
    axes = spatial_axes(len(doc.get("input_size") or [0, 0]))
    maps = doc.get("maps") or {}
    random = {st.get("node"): stage_fraction(st, axes) for st in maps.get("random") or []}
    model = f"{doc['source']}/{doc['name']}"
    pairs = []
    for st in maps.get("pretrained") or []:
        before, after = random.get(st.get("node")), stage_fraction(st, axes)
        if before is not None and after is not None:
            pairs.append(TrainedPair(model, st["node"], before, after))
    return pairs

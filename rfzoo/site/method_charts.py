"""The method page's ERF sections (Luo et al., 2016) from the catalog's own measurements:
the ERF as a fraction of the theoretical RF, its growth with depth, and what training does
to it. Each section is a paragraph whose numbers are computed here, at build time, and a
chart; `erf_stats` holds the definitions.

The generic chart renderer draws these figures as they are (no dark-scheme twins as on the
model pages), so every colour here keeps 3:1 contrast on both the light background and the
dark one (#1e2129).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from rfzoo.site import embed, erf_stats
from rfzoo.site.catalog import Catalog
from rfzoo.site.erf_stats import ModelSlopes, StagePoint, TrainedPair
from rfzoo.site.figures import base_layout
from rfzoo.site.fmt import esc

Fig = dict[str, Any]

ERF_C = "#1e88e5"
TRF_C = "#e65100"
GLOBAL_C = "#d81b60"
TRAINED_C = "#00897b"
REF_C = "#808080"
BOTH_SCHEMES = (ERF_C, TRF_C, GLOBAL_C, TRAINED_C, REF_C)
NO_TRAINED = ("Trained-weight ERFs are computed by the scheduled catalog workflow, which has "
              "internet; none yet in this catalog.")


def accessible_chart(chart_id: str, figure: Fig, *, label: str, caption: str, height: int) -> str:
    """embed.chart's markup, with the plot announced as one image that says what it shows."""
    return (
        f'<div class="rfz-figure" data-search-exclude>'
        f'<div class="rfz-chart" id="{esc(chart_id)}" role="img" aria-label="{esc(label)}" '
        f'style="height:{height}px"></div>'
        f'{embed.data_script(figure)}<p class="rfz-caption">{caption}</p></div>\n'
    )


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def power(x: float) -> str:
    return f"<sup>{signed(x) if x < 0 else f2(x)}</sup>"


def f2(x: float) -> str:
    return f"{x:.2f}"


def signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def point_text(p: StagePoint) -> str:
    depth = "—" if p.depth is None else str(p.depth)
    return (f"{esc(p.model)}<br>{esc(p.stage)}<br>growth depth {depth}<br>"
            f"ERF {p.erf:.1f} px, RF {p.trf:.0f} px: {p.fraction:.2f}")


def markers(name: str, xs: Sequence[float], ys: Sequence[float], text: Sequence[str], color: str,
            symbol: str = "circle") -> Fig:
    return {"type": "scatter", "mode": "markers", "name": name, "x": list(xs), "y": list(ys),
            "text": list(text), "marker": {"color": color, "size": 7, "symbol": symbol, "opacity": 0.8},
            "hovertemplate": "%{text}<extra></extra>"}


def ref_line(name: str, xs: Sequence[float], ys: Sequence[float], color: str, dash: str) -> Fig:
    return {"type": "scatter", "mode": "lines", "name": name, "x": list(xs), "y": [round(y, 3) for y in ys],
            "line": {"color": color, "dash": dash, "width": 2}, "hoverinfo": "skip"}


def fit_line(name: str, xs: Sequence[float], ys: Sequence[float], color: str) -> Fig | None:
    """The least-squares power law through (xs, ys), drawn over their x range."""
    fit = erf_stats.loglog_fit(xs, ys)
    if fit is None:
        return None
    slope, icpt = fit
    ends = [min(xs), max(xs)]
    return ref_line(name.format(slope=f2(slope)), ends, [math.exp(icpt) * x ** slope for x in ends],
                    color, "dash")


def loglog_layout(xtitle: str, ytitle: str) -> dict[str, Any]:
    layout = base_layout(xtitle, ytitle, ylog=True)
    layout["xaxis"].update(type="log", dtick=1)
    return layout


def doublings(axis: dict[str, Any], largest: float) -> None:
    """Ticks at 1, 2, 4, ... on a log axis: depths are small integers, decades too coarse."""
    ticks = [2**k for k in range(int(math.log2(max(largest, 1))) + 2)]
    axis.update(tickmode="array", tickvals=ticks, ticktext=[str(t) for t in ticks])


def synthetic_erf(luo: dict[str, Any]) -> list[float]:
    """The synthetic stack's ERF size on the catalog's scale: 4σ."""
    return [erf_stats.ERF_SIGMAS * s for s in luo["erf_std"]]


# --- the ERF is a fraction of the theoretical RF ------------------------------------------


def fraction_figure(points: Sequence[StagePoint], luo: dict[str, Any] | None) -> Fig:
    """ERF size against TRF per stage, log-log, with ERF = RF and the pooled power law."""
    traces: list[Fig] = []
    for name, color, pts in (("stage", ERF_C, [p for p in points if not p.is_global]),
                             ("stage seeing the whole input (its local path)", GLOBAL_C,
                              [p for p in points if p.is_global])):
        if pts:
            traces.append(markers(name, [p.trf for p in pts], [p.erf for p in pts],
                                  [point_text(p) for p in pts], color))
    lo = min(p.trf for p in points)
    hi = max(p.trf for p in points)
    traces.append(ref_line("ERF = theoretical RF", [lo, hi], [lo, hi], REF_C, "dot"))
    fit = fit_line("fit over the stages: ERF ∝ RF<sup>{slope}</sup>", [p.trf for p in points],
                   [p.erf for p in points], TRF_C)
    if fit:
        traces.append(fit)
    if luo:
        slope = erf_stats.loglog_slope(luo["trf"], synthetic_erf(luo)) or 0.0
        traces.append(ref_line(f"synthetic 3×3 stack: ERF ∝ RF<sup>{f2(slope)}</sup>", luo["trf"], synthetic_erf(luo),
                               REF_C, "dashdot"))
    return {"data": traces, "layout": loglog_layout("theoretical RF (px, log scale)",
                                                    "ERF size 4σ (px, log scale)")}


def fraction_section(cat: Catalog) -> str:
    points = erf_stats.catalog_points(cat.models.values())
    if not points:
        return "*(No stage of this catalog has a measured ERF yet.)*\n"
    last = erf_stats.deepest_stages(points)
    models = len({p.model for p in points})
    per_model = statistics.median(erf_stats.model_medians(points).values())
    all_median = statistics.median(p.fraction for p in points)
    last_fr = [p.fraction for p in last]
    slope = erf_stats.loglog_slope([p.trf for p in points], [p.erf for p in points])
    above = sum(p.fraction > 1 for p in points)
    text = (
        f"The ERF is a median **{f2(per_model)}** of the theoretical RF: the median over the "
        f"{plural(models, 'model')} of each model's median stage ({f2(all_median)} over all "
        f"{len(points)} stages, which weighs a model by its number of stages). At each model's "
        f"deepest measured stage the median is **{f2(statistics.median(last_fr))}** (from "
        f"{f2(min(last_fr))} to {f2(max(last_fr))})."
    )
    if above:
        verb = "sits" if above == 1 else "sit"
        text += (f" {plural(above, 'stage')} {verb} above the line: a nearly flat gradient map over a "
                 f"small RF (a first convolution, a patch) has a 4σ of 1.15 times its width.")
    if slope is not None:
        text += f" Across all stages the ERF grows like RF{power(slope)} (a plain stack's: RF{power(0.5)})."
    label = (f"Scatter plot, log-log: ERF size against theoretical RF for {len(points)} stages of "
             f"{plural(models, 'model')}; median ERF/RF {f2(per_model)}.")
    chart = accessible_chart("rfz-method-erf-fraction", fraction_figure(points, cat.luo), label=label,
                             height=420, caption=(
                                 "One point per model and stage, random weights; hover a point for the "
                                 "model and stage. ERF size 4σ and RF side: geometric means over the "
                                 "spatial axes."))
    return f"{text}\n\n{chart}"


# --- the ERF grows like sqrt(depth) -------------------------------------------------------


def depth_figure(points: Sequence[StagePoint], luo: dict[str, Any] | None) -> Fig | None:
    """TRF and ERF against growth depth, log-log, pooled fits; the synthetic stack for scale."""
    traces: list[Fig] = []
    if points:
        depths = [float(p.depth or 0) for p in points]
        text = [point_text(p) for p in points]
        traces.append(markers("theoretical RF", depths, [p.trf for p in points], text, TRF_C, "diamond"))
        traces.append(markers("ERF size 4σ", depths, [p.erf for p in points], text, ERF_C))
        for name, ys, color in (("fit: RF ∝ depth<sup>{slope}</sup>", [p.trf for p in points], TRF_C),
                                ("fit: ERF ∝ depth<sup>{slope}</sup>", [p.erf for p in points], ERF_C)):
            fit = fit_line(name, depths, ys, color)
            if fit:
                traces.append(fit)
    if luo:
        traces.append(ref_line(f"synthetic stack: RF 2n + 1 (slope {f2(luo['trf_exponent'])})",
                               luo["depths"], luo["trf"], REF_C, "dot"))
        traces.append(ref_line(f"synthetic stack: ERF 4σ (slope {f2(luo['erf_exponent'])})",
                               luo["depths"], synthetic_erf(luo), REF_C, "dashdot"))
    if not traces:
        return None
    layout = loglog_layout("growth depth: layers that grow the RF (log scale)", "pixels (log scale)")
    doublings(layout["xaxis"], max(max(t["x"]) for t in traces if t["x"]))
    return {"data": traces, "layout": layout}


def slopes_table(slopes: Sequence[ModelSlopes]) -> str:
    rows = [f"| {esc(s.model)} | {s.n_depths} | {s.depths[0]}–{s.depths[1]} | {f2(s.trf)} | {f2(s.erf)} | "
            f"{signed(s.erf - s.trf)} |" for s in slopes]
    head = ("| model | depths | range | RF slope | ERF slope | ERF/RF slope |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: |")
    body = "\n".join(f"    {line}" for line in [*head.splitlines(), *rows])
    return f'??? note "Slopes per model ({len(slopes)} models with three or more depths)"\n\n{body}\n'


def depth_text(points: Sequence[StagePoint], slopes: Sequence[ModelSlopes]) -> str:
    depths = [float(p.depth or 0) for p in points]
    trf = erf_stats.loglog_slope(depths, [p.trf for p in points])
    erf = erf_stats.loglog_slope(depths, [p.erf for p in points])
    models = len({p.model for p in points})
    if trf is None or erf is None:
        return f"The catalog's {len(points)} stage depths are too few to fit a slope."
    text = (f"Fitted over {len(points)} stages of {plural(models, 'model')} (one per model and "
            f"depth), the theoretical RF grows like depth{power(trf)} and the ERF like depth{power(erf)}.")
    if slopes:
        med_trf = statistics.median(s.trf for s in slopes)
        med_erf = statistics.median(s.erf for s in slopes)
        gaps = [s.erf - s.trf for s in slopes]
        text += (f" Within each model (median over {len(slopes)}): RF ∝ depth{power(med_trf)}, "
                 f"ERF ∝ depth{power(med_erf)}; the plain stack's exponents are 1 and 0.5.")
        if med_trf > 1 and med_erf > 0.5:
            text += (" Real networks are not that stack: every downsampling multiplies the jump, so "
                     "later layers add more pixels each, to both.")
        text += (f" Luo et al.'s law says the fraction ERF/RF falls like depth{power(-0.5)}; here it "
                 f"falls like depth{power(statistics.median(gaps))} (median per model, from "
                 f"{signed(min(gaps))} to {signed(max(gaps))}).")
    return text


def depth_section(cat: Catalog) -> str:
    points = erf_stats.one_per_depth(erf_stats.catalog_points(cat.models.values()))
    fig = depth_figure(points, cat.luo)
    if fig is None:
        return "*(No ERF measurement yet: run `scripts/make_luo_data.py` or build the catalog.)*\n"
    slopes = erf_stats.model_slopes(points)
    parts = [depth_text(points, slopes)] if points else [
        "*(No stage of this catalog has a measured ERF yet: the chart shows the synthetic stack.)*"]
    label = ("Scatter plot, log-log: theoretical RF and ERF size against growth depth"
             + (f", {len(points)} stages" if points else "") + ", with the synthetic stack's lines.")
    caption = "Random weights; hover a point for the model and stage."
    if cat.luo:
        caption += (f" Grey: a synthetic stack of n 3×3 convolutions with uniform weights, measured by "
                    f"rfzoo's gradient maps (ERF σ exponent {cat.luo['erf_exponent']}, √(2n/3) in theory).")
    parts.append(accessible_chart("rfz-method-erf-depth", fig, label=label, caption=caption, height=440))
    if slopes:
        parts.append(slopes_table(slopes))
    return "\n\n".join(parts)


# --- how training changes it ----------------------------------------------------------------


def training_figure(pairs: Sequence[TrainedPair]) -> Fig:
    """Per stage: the ERF fraction with pretrained weights against the one with random weights."""
    text = [f"{esc(p.model)}<br>{esc(p.stage)}<br>random {p.random:.2f} → pretrained {p.pretrained:.2f}"
            for p in pairs]
    lo = min(min(p.random, p.pretrained) for p in pairs)
    hi = max(max(p.random, p.pretrained) for p in pairs)
    layout = loglog_layout("ERF / RF, random weights (log scale)", "ERF / RF, pretrained weights (log scale)")
    return {"data": [markers("stage", [p.random for p in pairs], [p.pretrained for p in pairs], text,
                             TRAINED_C),
                     ref_line("no change", [lo, hi], [lo, hi], REF_C, "dot")],
            "layout": layout}


def image_counts(trained: Sequence[dict[str, Any]]) -> str:
    counts = sorted({len(t.get("images") or []) for t in trained})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def training_section(cat: Catalog) -> str:
    files = list(cat.trained.values())
    pairs = [p for t in files for p in erf_stats.trained_pairs(t)]
    if not pairs:
        return NO_TRAINED + "\n"
    change = [p.pretrained / p.random for p in pairs]
    larger = sum(c > 1 for c in change)
    models = len({p.model for p in pairs})
    text = (f"For {len(pairs)} stages of {plural(models, 'model')}, the pretrained ERF is a median "
            f"**{f2(statistics.median(change))}×** the random one's, as a fraction of the RF; it is "
            f"larger in {larger} of {len(pairs)} stages.")
    label = (f"Scatter plot, log-log: ERF/RF with pretrained against random weights for {len(pairs)} "
             f"stages of {plural(models, 'model')}; median ratio {f2(statistics.median(change))}.")
    caption = (f"Both maps of a model average the same {image_counts(files)} photographs (the same "
               f"preprocessing); above the dotted line, training widened the ERF.")
    chart = accessible_chart("rfz-method-erf-training", training_figure(pairs), label=label,
                             caption=caption, height=400)
    return f"{text}\n\n{chart}"


SECTIONS: dict[str, Callable[[Catalog], str]] = {
    "erf-fraction": fraction_section,
    "erf-depth": depth_section,
    "erf-training": training_section,
}

"""The arithmetic guide's worked examples as interactive figures and tables for the home page.

Chains of (kernel, stride, padding) layers are computed here with the guide's four
equations (no import of the engine: the site stays independent of the analysis code).
A slider picks one output unit; its receptive field is drawn on the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rfzoo.site.figures import ANALYTIC, PALETTE, RED

Fig = dict[str, Any]


@dataclass(frozen=True)
class Layer:
    name: str
    k: int
    s: int
    p: int


@dataclass(frozen=True)
class State:
    n: int  # output length
    j: float  # jump
    r: float  # RF size
    start: float  # center of unit 0's RF; rfzoo's convention everywhere: pixel i has center i


def chain(n_in: int, layers: list[Layer]) -> list[State]:
    """The guide's four equations, layer by layer, starting from the input."""
    out = [State(n_in, 1, 1, 0)]
    for lay in layers:
        prev = out[-1]
        n = math.floor((prev.n + 2 * lay.p - lay.k) / lay.s) + 1
        out.append(State(n, prev.j * lay.s, prev.r + (lay.k - 1) * prev.j,
                         prev.start + ((lay.k - 1) / 2 - lay.p) * prev.j))
    return out


GUIDE_5X5 = (5, [Layer("conv 1", 3, 2, 1), Layer("conv 2", 3, 2, 1)])
FOUR_LAYERS = (32, [Layer("conv 3×3, p=1", 3, 1, 1), Layer("max pool 2×2, s=2", 2, 2, 0),
                    Layer("conv 3×3, p=1", 3, 1, 1), Layer("max pool 2×2, s=2", 2, 2, 0)])


def table(example: tuple[int, list[Layer]]) -> str:
    n_in, layers = example
    states = chain(n_in, layers)
    out = ["| layer | k | s | p | n (output) | j (jump) | r (RF) | start |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
           f"| input | | | | {n_in} | 1 | 1 | 0 |"]
    for lay, st in zip(layers, states[1:], strict=True):
        out.append(f"| {lay.name} | {lay.k} | {lay.s} | {lay.p} | {st.n} | {fmt(st.j)} | "
                   f"{fmt(st.r)} | {fmt(st.start)} |")
    return "\n".join(out) + "\n"


def fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# Drawing coordinates: cell i of a map spans [x0 + i, x0 + i + 1], so input pixel i (center i in
# rfzoo's coordinates) is drawn centered at i + DRAW; only the drawing shifts, never the numbers.
DRAW = 0.5


def grid(n: int, x0: float, name: str, value: int) -> dict[str, Any]:
    """An n×n map drawn as a heat map whose cells sit on [x0 + i, x0 + i + 1]."""
    return {
        "type": "heatmap", "z": [[value] * n for _ in range(n)], "x0": x0 + 0.5, "dx": 1,
        "y0": 0.5, "dy": 1, "xgap": 1.5, "ygap": 1.5, "showscale": False, "zmin": 0, "zmax": 2,
        # 0: input (blue), 1: first map (green), 2: deeper map (orange)
        "colorscale": [[0, "#90caf9"], [0.25, "#90caf9"], [0.25, "#a5d6a7"], [0.75, "#a5d6a7"],
                       [0.75, "#ffcc80"], [1, "#ffcc80"]],
        "name": name, "hovertemplate": name + " (%{y:.0f}, %{x:.0f})<extra></extra>",
    }


def unit_figure(example: tuple[int, list[Layer]], *, show_layers: list[int], cell: float = 1,
                default_layer: int | None = None) -> Fig:
    """Input on the left, the chosen layers' maps to the right; a slider picks a unit."""
    n_in, layers = example
    states = chain(n_in, layers)
    traces = [grid(n_in, 0, "input", 0)]
    offsets: dict[int, float] = {}
    x = n_in + max(3.0, n_in * 0.25)
    for li in show_layers:
        offsets[li] = x
        traces.append(grid(states[li].n, x, f"layer {li} ({layers[li - 1].name})", min(li, 2)))
        x += states[li].n + max(2.0, n_in * 0.15)
    steps = []
    active = 0
    for trace, li in enumerate(show_layers, start=1):
        st = states[li]
        if li == (default_layer or show_layers[-1]):
            active = len(steps)
        for uy in range(st.n):
            for ux in range(st.n):
                step = unit_step(li, uy, ux, st, offsets[li], n_in)
                step["value"] = f"{trace}:{uy}:{ux}"  # rfzoo.js: a click on this cell picks it
                steps.append(step)
    layout = {
        "margin": {"l": 8, "r": 8, "t": 30, "b": 8},
        "xaxis": {"visible": False, "range": [-0.5 - pad(states, n_in), x], "constrain": "domain"},
        "yaxis": {"visible": False, "range": [n_in + pad(states, n_in) + 0.5, -pad(states, n_in) - 0.5],
                  "scaleanchor": "x"},
        "showlegend": False,
        "shapes": steps[active]["args"][0]["shapes"],
        "annotations": steps[active]["args"][0]["annotations"],
        "sliders": [{"active": active, "steps": steps, "pad": {"t": 4, "b": 4},
                     "currentvalue": {"prefix": "unit (or click a cell): ", "font": {"size": 13}},
                     "len": 1, "x": 0}],
    }
    return {"data": traces, "layout": layout}


def pad(states: list[State], n_in: int) -> float:
    """How far the widest RF reaches past the image: the plot shows that much padding."""
    last = states[-1]
    lo = last.start + DRAW - last.r / 2
    hi = last.start + DRAW + (last.n - 1) * last.j + last.r / 2
    return max(0.0, -lo, hi - n_in)


def unit_step(li: int, uy: int, ux: int, st: State, x0: float, n_in: int) -> dict[str, Any]:
    cy, cx = st.start + uy * st.j, st.start + ux * st.j  # centers, rfzoo's coordinates
    dy, dx, half = cy + DRAW, cx + DRAW, st.r / 2  # where they are drawn
    shapes = [
        {"type": "rect", "x0": 0, "x1": n_in, "y0": 0, "y1": n_in,
         "line": {"color": "#607d8b", "width": 1}},
        {"type": "rect", "x0": dx - half, "x1": dx + half, "y0": dy - half, "y1": dy + half,
         "line": {"color": ANALYTIC, "width": 3}, "fillcolor": "rgba(255,152,0,0.18)"},
        {"type": "rect", "x0": x0 + ux, "x1": x0 + ux + 1, "y0": uy, "y1": uy + 1,
         "line": {"color": RED, "width": 3}},
        {"type": "line", "x0": x0 + ux + 0.5, "y0": uy + 0.5, "x1": dx, "y1": dy,
         "line": {"color": RED, "width": 1, "dash": "dot"}},
    ]
    lo, hi = cx - (st.r - 1) / 2, cx + (st.r - 1) / 2  # first and last pixel of the field on x
    text = (f"layer {li} unit ({uy}, {ux}): RF {fmt(st.r)}×{fmt(st.r)} centered at ({fmt(cy)}, {fmt(cx)}), "
            f"pixels {fmt(lo)} to {fmt(hi)} on x")
    if lo < 0 or hi > n_in - 1:
        text += ", partly padding"
    annotations = [{"x": 0, "y": 1, "xref": "paper", "yref": "paper", "xanchor": "left",
                    "yanchor": "bottom", "text": text, "showarrow": False,
                    "font": {"size": 12}}]
    return {"label": f"L{li} ({uy},{ux})", "method": "relayout",
            "args": [{"shapes": shapes, "annotations": annotations}]}


def figure(name: str) -> Fig:
    if name == "guide-5x5":
        return unit_figure(GUIDE_5X5, show_layers=[1, 2])
    if name == "four-layers":
        return unit_figure(FOUR_LAYERS, show_layers=[4])
    raise KeyError(f"unknown guide figure {name!r}")


def growth_figure() -> Fig:
    """RF and jump after each layer of the 4-layer example (RF 10, jump 4)."""
    n_in, layers = FOUR_LAYERS
    states = chain(n_in, layers)
    names = ["input", *[f"{i}: {lay.name}" for i, lay in enumerate(layers, 1)]]
    traces = [
        {"type": "bar", "name": "r (RF)", "x": names, "y": [s.r for s in states],
         "marker": {"color": PALETTE[0]}, "text": [fmt(s.r) for s in states], "textposition": "outside"},
        {"type": "bar", "name": "j (jump)", "x": names, "y": [s.j for s in states],
         "marker": {"color": PALETTE[3]}, "text": [fmt(s.j) for s in states], "textposition": "outside"},
    ]
    layout = {"barmode": "group", "margin": {"l": 40, "r": 8, "t": 30, "b": 60},
              "yaxis": {"title": {"text": "pixels"}, "range": [0, 12]},
              "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}}
    return {"data": traces, "layout": layout}

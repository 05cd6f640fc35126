"""Plotly figure dicts for a model page: RF and jump against depth, RF relative to the
input, border-affected share, gradient maps. Plain data only; rfzoo.js adds the theme.

Curves are step functions of depth (pointwise ops keep the RF), so only the points where
a value changes are kept: the page stays small and hovering a point names the layer that
grew the RF.

Plotly reads a subset of HTML in chart text (hover text, legend names, annotations), links
and `onclick` handlers included, so every layer, stage and model name is HTML-escaped there.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from rfzoo.site.fmt import esc

Doc = dict[str, Any]
Fig = dict[str, Any]

PALETTE = ("#3f51b5", "#e91e63", "#009688", "#ff9800", "#9c27b0", "#795548", "#00bcd4",
           "#8bc34a", "#607d8b", "#f44336")
RED = "#e53935"
ANALYTIC = "#ff9800"
AGREE = "#00bcd4"  # measured support that agrees: visible on the heat map and on both themes


def axis_names(n: int) -> list[str]:
    return {1: ["L"], 2: ["H", "W"], 3: ["T", "H", "W"]}.get(n, [f"axis {i}" for i in range(n)])


def steps(xs: Sequence[Any], ys: Sequence[Any], text: Sequence[str]) -> tuple[list, list, list]:
    """Keep the first point, every point whose y changes, and the last point."""
    ox: list = []
    oy: list = []
    ot: list = []
    for i, (x, y, t) in enumerate(zip(xs, ys, text, strict=True)):
        if not oy or y != oy[-1] or i == len(xs) - 1:
            ox.append(x)
            oy.append(y)
            ot.append(t)
    return ox, oy, ot


def base_layout(xtitle: str, ytitle: str, *, ylog: bool = False) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 16, "t": 36, "b": 48},
        "xaxis": {"title": {"text": xtitle}, "zeroline": False},
        "yaxis": {"title": {"text": ytitle}, "zeroline": False},
        "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
    }
    if ylog:
        layout["yaxis"].update(type="log", dtick=1)  # label decades only: 1, 10, 100
    return layout


def layer_text(lay: Doc) -> str:
    return f"{esc(lay['name'])}<br>{esc(lay.get('op', ''))}"


def axis_series(layers: list[Doc], key: str, ax: int) -> tuple[list[int], list[Any], list[str]]:
    """(depth, value, hover) for layers that have a non-null value on that axis."""
    xs, ys, ts = [], [], []
    for depth, lay in enumerate(layers):
        vals = lay.get(key)
        if vals and ax < len(vals) and vals[ax] is not None:
            xs.append(depth)
            ys.append(vals[ax])
            ts.append(layer_text(lay))
    return xs, ys, ts


def line(name: str, xs: list, ys: list, text: list, color: str, *, dash: str = "solid",
         shape: str = "hv") -> dict[str, Any]:
    return {
        "type": "scatter", "mode": "lines+markers", "name": name, "x": xs, "y": ys, "text": text,
        "line": {"color": color, "dash": dash, "shape": shape, "width": 2},
        "marker": {"size": 5, "color": color},
        "hovertemplate": "%{text}<br>" + name + ": %{y}<extra></extra>",
    }


def value(lay: Doc, key: str, ax: int) -> Any:
    vals = lay.get(key)
    return vals[ax] if vals and ax < len(vals) else None


def differs(layers: list[Doc], a: tuple[str, int], b: tuple[str, int]) -> bool:
    """Whether (key, axis) a and b differ on any layer, e.g. RF H against RF W."""
    return any(value(lay, *a) != value(lay, *b) for lay in layers)


def global_marker(doc: Doc, layers: list[Doc], layout: dict[str, Any]) -> None:
    """A vertical line where global context first reaches the network."""
    node = (doc.get("summary") or {}).get("global_from")
    names = [lay["name"] for lay in layers]
    if not node or node not in names:
        return
    x = names.index(node)
    layout["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x,
                         "y0": 0, "y1": 1, "line": {"color": RED, "dash": "dot", "width": 1.5}}]
    layout["annotations"] = [{"x": x, "y": 0.02, "xref": "x", "yref": "paper", "yanchor": "bottom",
                              "text": f" global from {esc(node)}", "showarrow": False,
                              "font": {"color": RED, "size": 11}, "xanchor": "left"}]


def rf_depth(doc: Doc) -> Fig | None:
    layers = doc.get("layers") or []
    n_axes = len(doc.get("input_size") or [0, 0])
    names = axis_names(n_axes)
    traces = []
    square = not any(differs(layers, ("rf", ax), ("rf", 0)) for ax in range(1, n_axes))
    for ax in range(n_axes):
        if ax and square:
            continue  # square RFs: one curve says it all
        label = "RF" if square else f"RF {names[ax]}"
        xs, ys, ts = steps(*axis_series(layers, "rf", ax))
        traces.append(line(label, xs, ys, ts, PALETTE[ax]))
        if differs(layers, ("rf", ax), ("rf_min", ax)):
            xs, ys, ts = steps(*axis_series(layers, "rf_min", ax))
            traces.append(line(f"smallest-path {label}", xs, ys, ts, PALETTE[ax], dash="dash"))
    square_jump = not any(differs(layers, ("jump", ax), ("jump", 0)) for ax in range(1, n_axes))
    for ax in range(n_axes):
        if ax and square_jump:
            continue
        xs, ys, ts = steps(*axis_series(layers, "jump", ax))
        label = "jump" if square_jump else f"jump {names[ax]}"
        traces.append(line(label, xs, ys, ts, PALETTE[3 + ax], dash="dot"))
    if not any(t["x"] for t in traces):
        return None
    stage_x, stage_y, stage_t = stage_points(doc, layers)
    if stage_x:
        traces.append({
            "type": "scatter", "mode": "markers+text", "name": "stage ends", "x": stage_x,
            "y": stage_y, "text": stage_t, "textposition": "top left",
            "marker": {"symbol": "diamond", "size": 9, "color": PALETTE[2]},
            "hovertemplate": "stage %{text}: RF %{y}<extra></extra>",
        })
    layout = base_layout("depth (node index in graph order)", "pixels (log scale)", ylog=True)
    global_marker(doc, layers, layout)
    return {"data": traces, "layout": layout}


def stage_points(doc: Doc, layers: list[Doc]) -> tuple[list, list, list]:
    where = {lay["name"]: i for i, lay in enumerate(layers)}
    xs, ys, ts = [], [], []
    for st in doc.get("stages") or []:
        rf = st.get("rf") or [None]
        if st.get("node") in where and rf[0] is not None:
            xs.append(where[st["node"]])
            ys.append(rf[0])
            ts.append(esc(st.get("name") or st["node"]))
    return xs, ys, ts


def rf_ratio(doc: Doc) -> Fig | None:
    layers = doc.get("layers") or []
    size = doc.get("input_size") or []
    names = axis_names(len(size))
    traces = []
    first_cover: int | None = None
    for ax, n in enumerate(size):
        if not n or (ax and not differs(layers, ("rf", ax), ("rf", 0)) and size[ax] == size[0]):
            continue
        xs, ys, ts = axis_series(layers, "rf", ax)
        ratios = [round(y / n, 4) for y in ys]
        cover = next((x for x, r in zip(xs, ratios, strict=True) if r >= 1), None)
        if cover is not None:
            first_cover = cover if first_cover is None else max(first_cover, cover)
        sx, sy, st = steps(xs, ratios, ts)
        traces.append(line(f"RF {names[ax]} / input {names[ax]} ({n} px)", sx, sy, st, PALETTE[ax]))
    if not any(t["x"] for t in traces):
        return None
    layout = base_layout("depth (node index in graph order)", "RF / input size (log scale)", ylog=True)
    layout["shapes"] = [{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 1,
                         "y1": 1, "line": {"color": RED, "dash": "dash", "width": 1.5}}]
    layout["annotations"] = []
    if first_cover is not None:
        lay = layers[first_cover]
        layout["shapes"].append({"type": "line", "xref": "x", "yref": "paper", "x0": first_cover,
                                 "x1": first_cover, "y0": 0, "y1": 1,
                                 "line": {"color": RED, "dash": "dot", "width": 1}})
        layout["annotations"].append({
            # a log axis places annotations in log10 units: 0 is the ratio 1
            "x": first_cover, "y": 0, "xref": "x", "yref": "y", "yanchor": "bottom",
            "xanchor": "right", "showarrow": True, "ax": -30, "ay": -30,
            "text": f"covers the whole input at {esc(lay['name'])}", "font": {"size": 11, "color": RED},
        })
    return {"data": traces, "layout": layout}


def first_cover_layer(doc: Doc) -> str | None:
    """Name of the first layer whose RF is at least the input size on every axis."""
    size = doc.get("input_size") or []
    for lay in doc.get("layers") or []:
        rf = lay.get("rf")
        if rf and len(rf) == len(size) and all(
            r is not None and n and r >= n for r, n in zip(rf, size, strict=True)
        ):
            return str(lay["name"])
    return None


def border_share(doc: Doc) -> Fig | None:
    """Share of output units per layer whose RF reaches past the image border."""
    xs, ys, ts = [], [], []
    for depth, lay in enumerate(doc.get("layers") or []):
        units, size = lay.get("border_units"), lay.get("output_size")
        if not units or not size or any(u is None for u in units) or any(not n for n in size):
            continue
        inner = 1.0
        for u, n in zip(units, size, strict=False):
            inner *= 1 - min(u, n) / n
        xs.append(depth)
        ys.append(round(100 * (1 - inner), 2))
        ts.append(layer_text(lay) + f"<br>border units {units} of {size}")
    if not xs:
        return None
    sx, sy, st = steps(xs, ys, ts)
    trace = line("border-affected units", sx, sy, st, PALETTE[1])
    trace["fill"] = "tozeroy"
    trace["hovertemplate"] = "%{text}<br>%{y}% of units<extra></extra>"
    layout = base_layout("depth (node index in graph order)", "units whose RF is cut by the border (%)")
    layout["yaxis"]["range"] = [0, 105]
    layout["showlegend"] = False
    return {"data": [trace], "layout": layout}


def rect(box: Sequence[Sequence[float]], color: str, *, dash: str = "solid", width: float = 2,
         name: str = "") -> dict[str, Any]:
    """A box [[y0, y1], [x0, x1]] of pixel indices drawn over pixel edges."""
    (y0, y1), (x0, x1) = box[0], box[1]
    shape = {"type": "rect", "xref": "x", "yref": "y", "x0": x0 - 0.5, "x1": x1 + 0.5,
             "y0": y0 - 0.5, "y1": y1 + 0.5, "line": {"color": color, "dash": dash, "width": width}}
    if name:
        shape["name"] = name
    return shape


def middle_frame(heat: Doc | None) -> Doc | None:
    """A video model's (T, H, W) heat map as its middle frame in time (the center unit's)."""
    if not heat or not heat.get("data") or len(heat.get("shape") or []) != 3:
        return heat
    t, h, w = heat["shape"]
    raw = base64.b64decode(heat["data"])
    k = t // 2
    frame = raw[k * h * w:(k + 1) * h * w]
    origin = (heat.get("origin") or [0, 0, 0])[-2:]
    return {**heat, "shape": [h, w], "origin": origin, "data": base64.b64encode(frame).decode()}


def gradient_map(stage: Doc, analytic: list | None, measured: list | None, agree: bool | None,
                 input_size: Sequence[int] | None) -> Fig:
    """One stage: the ERF heat map (when measured) under the analytic and measured RF boxes."""
    traces: list[dict[str, Any]] = []
    xs: list[float] = []
    ys: list[float] = []
    heat = middle_frame(stage.get("heatmap"))
    if heat and heat.get("data"):
        h, w = heat["shape"]
        scale = heat.get("scale") or 1
        oy, ox = heat.get("origin") or [0, 0]
        # cell [i, j] covers pixels origin + i*scale .. origin + (i+1)*scale - 1: center below
        y0, x0 = oy + (scale - 1) / 2, ox + (scale - 1) / 2
        traces.append({
            "type": "heatmap", "rfzB64": {"shape": [h, w], "data": heat["data"]},
            "x0": x0, "dx": scale, "y0": y0, "dy": scale, "colorscale": "Viridis",
            "showscale": False, "zmin": 0, "zmax": 255, "name": "ERF",
            "hovertemplate": "y %{y}, x %{x}: %{z}/255<extra>ERF</extra>",
        })
        xs += [ox - 0.5, ox + w * scale - 0.5]
        ys += [oy - 0.5, oy + h * scale - 0.5]
    shapes = []
    if input_size and len(input_size) >= 2:
        H, W = input_size[-2], input_size[-1]
        # the input's outline; the view is fitted to the map and boxes, not to the input
        shapes.append(rect([[0, H - 1], [0, W - 1]], "#9e9e9e", dash="dot", width=1, name="input"))
    if analytic:
        shapes.append(rect(analytic[-2:], ANALYTIC, width=2.5, name="analytic RF"))
        xs += [analytic[-1][0] - 0.5, analytic[-1][1] + 0.5]
        ys += [analytic[-2][0] - 0.5, analytic[-2][1] + 0.5]
    if measured:
        color = RED if agree is False else AGREE
        shapes.append(rect(measured[-2:], color, dash="dash", width=3 if agree is False else 1.5,
                           name="measured support"))
        xs += [measured[-1][0] - 0.5, measured[-1][1] + 0.5]
        ys += [measured[-2][0] - 0.5, measured[-2][1] + 0.5]
    # legend entries for the boxes (shapes have none)
    for label, color, dash in (("analytic RF box", ANALYTIC, "solid"),
                               ("measured support", RED if agree is False else AGREE, "dash")):
        if (label.startswith("analytic") and analytic) or (label.startswith("measured") and measured):
            traces.append({"type": "scatter", "mode": "lines", "x": [None], "y": [None],
                           "name": label, "line": {"color": color, "dash": dash},
                           "hoverinfo": "skip"})
    if not xs and input_size and len(input_size) >= 2:
        xs, ys = [-0.5, input_size[-1] - 0.5], [-0.5, input_size[-2] - 0.5]
    pad = 0.06 * max((max(xs) - min(xs)) if xs else 1, 1)
    layout = {
        "margin": {"l": 48, "r": 8, "t": 8, "b": 36},
        "xaxis": {"range": [min(xs, default=0) - pad, max(xs, default=1) + pad],
                  "zeroline": False, "constrain": "domain"},
        "yaxis": {"range": [max(ys, default=1) + pad, min(ys, default=0) - pad],
                  "zeroline": False, "scaleanchor": "x",
                  "constrain": "domain"},
        "shapes": shapes,
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": -0.08, "yanchor": "top"},
        "hovermode": "closest",
    }
    return {"data": traces, "layout": layout}


def family_curves(docs: list[Doc]) -> Fig | None:
    """RF (first axis) against depth for several models on one log chart."""
    traces = []
    for i, doc in enumerate(docs):
        xs, ys, ts = steps(*axis_series(doc.get("layers") or [], "rf", 0))
        if xs:
            traces.append(line(esc(doc["name"]), xs, ys, ts, PALETTE[i % len(PALETTE)]))
    if not traces:
        return None
    layout = base_layout("depth (node index in graph order)", "RF, first axis (px, log scale)",
                         ylog=True)
    layout["legend"] = {"orientation": "v", "x": 1.02, "y": 1, "xanchor": "left"}
    return {"data": traces, "layout": layout}


def curve(doc: Doc) -> dict[str, Any]:
    """Compact RF-against-depth data for the compare page (fetched on demand)."""
    layers = doc.get("layers") or []
    xs, ys, ts = steps(*axis_series(layers, "rf", 0))
    return {"model": esc(f"{doc['source']}/{doc['name']}"), "depth": len(layers), "x": xs, "y": ys,
            "text": [t.split("<br>")[0] for t in ts]}


LOG10_2 = 0.30103  # one tick per doubling on a log axis


def luo_law(luo: dict[str, Any]) -> Fig:
    """ERF std (measured and sqrt(2n/3)) and TRF against depth, log-log: slopes 1/2 and 1."""
    n = luo["depths"]
    layout = base_layout("number of 3x3 layers n", "pixels", ylog=True)
    layout["xaxis"].update(type="log", dtick=LOG10_2)
    return {
        "data": [
            line("theoretical RF 2n + 1", n, luo["trf"], [f"n={d}" for d in n], "#1f77b4", shape="linear"),
            line(f"ERF std, measured (slope {luo['erf_exponent']})", n, luo["erf_std"],
                 [f"n={d}" for d in n], "#d62728", shape="linear"),
            line("sqrt(2n/3)", n, luo["erf_std_theory"], [f"n={d}" for d in n], "#7f7f7f", dash="dot", shape="linear"),
        ],
        "layout": layout,
    }


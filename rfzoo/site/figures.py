"""Plotly figure dicts for a model page: RF and jump against depth, RF relative to the
input, border-affected share, gradient maps. Plain data only; the page's script adds the
theme and swaps each light-scheme colour for its dark-scheme twin (`DARK_OF`).

Nodes are in graph order, where side branches (a ResNet's shortcut convolutions) come
between the main path's nodes: a node's own RF dips there and the smallest-path RF
zig-zags between merges. The depth charts therefore draw the *largest RF reached so far*
(a running maximum: it never dips at a branch), the jump along the nodes that reach it,
and the smallest-path RF at stage ends only, where every path has merged. Only the points
where a value changes are kept: the data stays small and hovering a point names the layer
that grew the RF.

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

# Model-page colours: every line colour has >= 3:1 contrast against the light scheme's white
# background, and its twin in DARK_OF against the dark scheme's background (#1e2129).
LIGHT = ("#3949ab", "#c2185b", "#00796b", "#b45309", "#7b1fa2", "#0277bd", "#2e7d32")
DARK = ("#8c9eff", "#f48fb1", "#4db6ac", "#ffb74d", "#ce93d8", "#4fc3f7", "#81c784")
M_RED, M_RED_DARK = "#c62828", "#ef9a9a"
M_GRAY, M_GRAY_DARK = "#616161", "#bdbdbd"
DARK_OF = {**dict(zip(LIGHT, DARK, strict=True)), M_RED: M_RED_DARK, M_GRAY: M_GRAY_DARK}
RF_C, RFMIN_C, JUMP_C, TIME_C, STAGE_C = LIGHT[0], LIGHT[1], LIGHT[3], LIGHT[4], LIGHT[2]
MAX_STAGE_TICKS = 14
STAGE_TICK_GAP = 0.04  # of the depth axis: rotated stage labels closer than that overlap


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
    (ka, ia), (kb, ib) = a, b
    for lay in layers:
        va, vb = lay.get(ka), lay.get(kb)
        if (va[ia] if va and ia < len(va) else None) != (vb[ib] if vb and ib < len(vb) else None):
            return True
    return False


def spatial_axes(n_axes: int) -> list[int]:
    """Indices of the spatial axes: [T, H, W] inputs keep time (axis 0) apart."""
    return [1, 2] if n_axes == 3 else list(range(n_axes))


def running_max(layers: list[Doc], key: str, ax: int) -> tuple[list[int], list[Any], list[str]]:
    """(depth, largest value so far, the layer that set it) over layers with a value."""
    xs, ys, ts = [], [], []
    best: Any = None
    who = ""
    for depth, lay in enumerate(layers):
        vals = lay.get(key)
        v = vals[ax] if vals and ax < len(vals) else None
        if v is None:
            continue
        if best is None or v > best:  # the hover text only where the maximum grows
            best, who = v, layer_text(lay) + f"<br>node #{depth}"
        xs.append(depth)
        ys.append(best)
        ts.append(who)
    return xs, ys, ts


def trunk(layers: list[Doc], ax: int) -> list[int]:
    """Depths of the nodes whose RF reaches the largest RF so far: the main path."""
    out, best = [], None
    for depth, lay in enumerate(layers):
        vals = lay.get("rf")
        v = vals[ax] if vals and ax < len(vals) else None
        if v is None:
            continue
        if best is None or v >= best:
            best = v
            out.append(depth)
    return out


def stage_depths(doc: Doc, layers: list[Doc]) -> list[tuple[int, Doc]]:
    """(depth, stage) of the stages whose node is in the layer list, in depth order."""
    where = {lay["name"]: i for i, lay in enumerate(layers)}
    found = [(where[st["node"]], st) for st in doc.get("stages") or [] if st.get("node") in where]
    return sorted(found, key=lambda p: p[0])


def summary_depth(doc: Doc, layers: list[Doc]) -> int | None:
    node = (doc.get("summary") or {}).get("node")
    return next((i for i, lay in enumerate(layers) if lay["name"] == node), None)


def stage_ticks(doc: Doc, layers: list[Doc], layout: dict[str, Any]) -> None:
    """Stage names as x tick labels at their depth (thinned), so long names are never clipped."""
    st = stage_depths(doc, layers)
    if not st:
        return
    every = max(1, -(-len(st) // MAX_STAGE_TICKS))
    keep = st[::every]
    if keep[-1] is not st[-1]:
        keep.append(st[-1])
    # stages a few nodes apart (Inception's stem: features.2, features.3) would print their labels
    # over each other: keep one label per STAGE_TICK_GAP of the depth, the deepest stage always
    gap = STAGE_TICK_GAP * max(len(layers) - 1, 1)
    spaced: list[tuple[int, Doc]] = []
    for d, s in keep:
        if spaced and d - spaced[-1][0] < gap:
            if s is keep[-1][1]:
                spaced[-1] = (d, s)
            continue
        spaced.append((d, s))
    keep = spaced
    layout["xaxis"].update(tickmode="array", tickvals=[d for d, _ in keep],
                           ticktext=[esc(s.get("name") or s["node"]) for _, s in keep],
                           tickangle=-40, automargin=True)
    layout["xaxis"]["title"]["text"] = "depth in graph order (ticks: stage ends)"


def global_lines(doc: Doc, layers: list[Doc], traces: list[dict[str, Any]], layout: dict[str, Any],
                 whole: float | None) -> None:
    """Where global context reaches the summary node: a 'sees the whole input' line from
    that layer on; a global op only after the summary node: a marked vertical line."""
    s = doc.get("summary") or {}
    node = s.get("global_from")
    names = [lay["name"] for lay in layers]
    if not node or node not in names:
        return
    x = names.index(node)
    if s.get("global") and whole:
        end = len(layers) - 1
        traces.append({
            "type": "scatter", "mode": "lines", "name": f"sees the whole input, from {esc(node)}",
            "x": [x, end], "y": [whole, whole], "line": {"color": M_RED, "dash": "dot", "width": 2.5},
            "hovertemplate": f"from {esc(node)} on, every unit sees the whole input<extra></extra>",
        })
        return
    after = summary_depth(doc, layers)
    label = " global from " + esc(node) + (" (after the summary node)" if after is not None and x > after
                                           else "")
    layout["shapes"] = [*layout.get("shapes", []),
                        {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
                         "line": {"color": M_RED, "dash": "dot", "width": 1.5}}]
    layout["annotations"] = [*layout.get("annotations", []),
                             {"x": x, "y": 0.02, "xref": "x", "yref": "paper", "yanchor": "bottom",
                              "xanchor": "right", "text": label + " ", "showarrow": False,
                              "font": {"color": M_RED, "size": 11}}]


def rf_depth(doc: Doc) -> Fig | None:
    """RF (running maximum), jump along the main path and smallest-path RF at stage ends."""
    layers = doc.get("layers") or []
    n_axes = len(doc.get("input_size") or [0, 0])
    names = axis_names(n_axes)
    sp = spatial_axes(n_axes)
    traces: list[dict[str, Any]] = []
    square = not any(differs(layers, ("rf", ax), ("rf", sp[0])) for ax in sp[1:])
    shown = sp[:1] if square else sp
    for i, ax in enumerate(shown):
        label = "RF" if square else f"RF {names[ax]}"
        xs, ys, ts = steps(*running_max(layers, "rf", ax))
        traces.append(line(f"{label} (px, largest so far)", xs, ys, ts, LIGHT[0] if i == 0 else LIGHT[5]))
    stages = stage_depths(doc, layers)
    last = summary_depth(doc, layers)
    marks = sorted({0, *(d for d, _ in stages), *([last] if last is not None else [])})
    ax0 = sp[0]
    if differs(layers, ("rf", ax0), ("rf_min", ax0)) and len(marks) > 1:
        xs = [d for d in marks if value(layers[d], "rf_min", ax0) is not None]
        traces.append(line("smallest-path RF (px, at stage ends)", xs,
                           [value(layers[d], "rf_min", ax0) for d in xs],
                           [layer_text(layers[d]) for d in xs], RFMIN_C, dash="dash", shape="linear"))
    main = trunk(layers, ax0)
    jx = [d for d in main if value(layers[d], "jump", ax0) is not None]
    if jx:
        xs, ys, ts = steps(jx, [value(layers[d], "jump", ax0) for d in jx], [layer_text(layers[d]) for d in jx])
        traces.append(line("jump (px, along the main path)", xs, ys, ts, JUMP_C, dash="dot"))
    if n_axes == 3:
        xs, ys, ts = steps(*running_max(layers, "rf", 0))
        traces.append(line("RF, time (frames, largest so far)", xs, ys, ts, TIME_C, dash="dashdot"))
    if not any(t["x"] for t in traces):
        return None
    if stages:
        traces.append({
            "type": "scatter", "mode": "markers", "name": "stage ends",
            "x": [d for d, _ in stages], "y": [value(layers[d], "rf", ax0) for d, _ in stages],
            "text": [esc(st.get("name") or st["node"]) for _, st in stages],
            "marker": {"symbol": "diamond", "size": 9, "color": STAGE_C},
            "hovertemplate": "stage %{text}: RF %{y}<extra></extra>",
        })
    size = doc.get("input_size") or []
    whole = max((size[a] for a in sp if a < len(size) and size[a]), default=None)
    layout = base_layout("depth (node index in graph order)",
                         "pixels" + (" / frames" if n_axes == 3 else "") + " (log scale)", ylog=True)
    global_lines(doc, layers, traces, layout, whole)
    stage_ticks(doc, layers, layout)
    return {"data": traces, "layout": layout}


def stage_points(doc: Doc, layers: list[Doc]) -> tuple[list, list, list]:
    xs, ys, ts = [], [], []
    for d, st in stage_depths(doc, layers):
        rf = st.get("rf") or [None]
        if rf[0] is not None:
            xs.append(d)
            ys.append(rf[-1])
            ts.append(esc(st.get("name") or st["node"]))
    return xs, ys, ts


def rf_ratio(doc: Doc) -> Fig | None:
    """Largest RF so far over the input size, per spatial axis; time apart (video)."""
    layers = doc.get("layers") or []
    size = doc.get("input_size") or []
    names = axis_names(len(size))
    sp = spatial_axes(len(size))
    traces = []
    first_cover: int | None = None
    axes_drawn = [ax for i, ax in enumerate(sp) if ax < len(size) and size[ax] and not (
        i and not differs(layers, ("rf", ax), ("rf", sp[0])) and size[ax] == size[sp[0]])]
    if len(size) == 3 and size[0]:
        axes_drawn.append(0)
    for i, ax in enumerate(axes_drawn):
        n = size[ax]
        xs, ys, ts = running_max(layers, "rf", ax)
        ratios = [round(y / n, 4) for y in ys]
        cover = next((x for x, r in zip(xs, ratios, strict=True) if r >= 1), None)
        if cover is not None and ax in sp:
            first_cover = cover if first_cover is None else max(first_cover, cover)
        sx, sy, st = steps(xs, ratios, ts)
        unit = "frames" if ax == 0 and len(size) == 3 else "px"
        label = "time" if unit == "frames" else names[ax]
        color = TIME_C if unit == "frames" else (LIGHT[0] if i == 0 else LIGHT[5])
        traces.append(line(f"RF {label} / input {label} ({n} {unit})", sx, sy, st, color,
                           dash="dashdot" if unit == "frames" else "solid"))
    if not any(t["x"] for t in traces):
        return None
    layout = base_layout("depth (node index in graph order)", "largest RF so far / input size (log scale)",
                         ylog=True)
    layout["shapes"] = [{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 1,
                         "y1": 1, "line": {"color": M_GRAY, "dash": "dash", "width": 1.5}}]
    layout["annotations"] = []
    if first_cover is not None:
        lay = layers[first_cover]
        layout["shapes"].append({"type": "line", "xref": "x", "yref": "paper", "x0": first_cover,
                                 "x1": first_cover, "y0": 0, "y1": 1,
                                 "line": {"color": M_GRAY, "dash": "dot", "width": 1}})
        layout["annotations"].append({
            # a log axis places annotations in log10 units: 0 is the ratio 1
            "x": first_cover, "y": 0, "xref": "x", "yref": "y", "yanchor": "bottom",
            "xanchor": "right", "showarrow": True, "ax": -30, "ay": -30,
            "text": f"covers the input at {esc(lay['name'])}", "font": {"size": 11, "color": M_RED},
        })
    stage_ticks(doc, layers, layout)
    return {"data": traces, "layout": layout}


def first_cover_layer(doc: Doc) -> str | None:
    """Name of the first layer whose RF is at least the input size on every spatial axis."""
    size = doc.get("input_size") or []
    sp = spatial_axes(len(size))
    for lay in doc.get("layers") or []:
        rf = lay.get("rf")
        if rf and len(rf) == len(size) and all(
            rf[a] is not None and size[a] and rf[a] >= size[a] for a in sp
        ):
            return str(lay["name"])
    return None


def border_share(doc: Doc) -> Fig | None:
    """Share of output units per layer whose RF reaches past the image border; None when no
    unit's RF ever does (the chart would be an empty band)."""
    xs, ys = [], []
    layers = doc.get("layers") or []
    for depth, lay in enumerate(layers):
        units, size = lay.get("border_units"), lay.get("output_size")
        if not units or not size or any(u is None for u in units) or any(not n for n in size):
            continue
        inner = 1.0
        for u, n in zip(units, size, strict=False):
            inner *= 1 - min(u, n) / n
        xs.append(depth)
        ys.append(round(100 * (1 - inner), 2))
    if not xs or not any(ys):
        return None
    sx, sy, _ = steps(xs, ys, xs)
    st = [layer_text(layers[d]) + f"<br>border units {layers[d]['border_units']} of {layers[d]['output_size']}"
          for d in sx]
    trace = line("border-affected units", sx, sy, st, LIGHT[1])
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
    """One stage: the ERF heat map (when measured, with its colour scale) under the analytic
    and measured RF boxes."""
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
            "showscale": True, "zmin": 0, "zmax": 255, "name": "ERF",
            "colorbar": {"title": {"text": "gradient<br>(% of peak)", "side": "right"},
                         "tickvals": [0, 64, 128, 191, 255], "ticktext": ["0", "25", "50", "75", "100"],
                         "thickness": 10, "len": 0.9, "x": 1.02, "xpad": 2},
            "hovertemplate": "y %{y}, x %{x}: %{z}/255 of the peak<extra>ERF</extra>",
        })
        xs += [ox - 0.5, ox + w * scale - 0.5]
        ys += [oy - 0.5, oy + h * scale - 0.5]
    shapes = []
    if input_size and len(input_size) >= 2:
        H, W = input_size[-2], input_size[-1]
        # the input's outline; the view is fitted to the map and boxes, not to the input
        shapes.append(rect([[0, H - 1], [0, W - 1]], M_GRAY, dash="dot", width=1, name="input"))
    measured_color = M_RED if agree is False else LIGHT[5]
    if analytic:
        shapes.append(rect(analytic[-2:], LIGHT[3], width=2.5, name="analytic RF"))
        xs += [analytic[-1][0] - 0.5, analytic[-1][1] + 0.5]
        ys += [analytic[-2][0] - 0.5, analytic[-2][1] + 0.5]
    if measured:
        shapes.append(rect(measured[-2:], measured_color, dash="dash", width=3 if agree is False else 1.5,
                           name="measured support"))
        xs += [measured[-1][0] - 0.5, measured[-1][1] + 0.5]
        ys += [measured[-2][0] - 0.5, measured[-2][1] + 0.5]
    # legend entries for the boxes (shapes have none)
    for label, color, dash, shown in (("analytic RF box", LIGHT[3], "solid", analytic),
                                      ("measured support", measured_color, "dash", measured)):
        if shown:
            traces.append({"type": "scatter", "mode": "lines", "x": [None], "y": [None],
                           "name": label, "line": {"color": color, "dash": dash},
                           "hoverinfo": "skip"})
    if not xs and input_size and len(input_size) >= 2:
        xs, ys = [-0.5, input_size[-1] - 0.5], [-0.5, input_size[-2] - 0.5]
    pad = 0.06 * max((max(xs) - min(xs)) if xs else 1, 1)
    layout = {
        "margin": {"l": 48, "r": 8, "t": 8, "b": 36},
        "xaxis": {"range": [min(xs, default=0) - pad, max(xs, default=1) + pad],
                  "zeroline": False, "constrain": "domain", "title": {"text": "x (input px)"}},
        "yaxis": {"range": [max(ys, default=1) + pad, min(ys, default=0) - pad],
                  "zeroline": False, "scaleanchor": "x", "constrain": "domain",
                  "title": {"text": "y (input px)"}},
        "shapes": shapes,
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top"},
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
    """Compact RF-against-depth data for the compare page (fetched on demand): the largest RF
    so far on the first spatial axis, so side branches do not draw dips."""
    layers = doc.get("layers") or []
    xs, ys, ts = steps(*running_max(layers, "rf", spatial_axes(len(doc.get("input_size") or [0, 0]))[0]))
    return {"model": esc(f"{doc['source']}/{doc['name']}"), "depth": len(layers), "x": xs, "y": ys,
            "text": [t.split("<br>")[0] for t in ts]}

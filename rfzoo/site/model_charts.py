"""A model page's chart frames: the figures go to the page data, the page gets an empty
frame per chart (role="img", an aria-label that says what the chart shows), a caption,
and a sentence in place of a chart that would carry no information."""

from __future__ import annotations

from typing import Any

from rfzoo.markup import markdown_code as code
from rfzoo.site import figures, model_card
from rfzoo.site.fmt import esc, num

Doc = dict[str, Any]
EXCLUDE = "{ data-search-exclude }"
DATA_NOTE = "The numbers behind it are in the per-layer table below (and its CSV)."


def frame(key: str, label: str, height: int, caption: str = "", css: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    extra = f" {css}" if css else ""
    return (f'<figure class="rfz-mfig{extra}" data-search-exclude>'
            f'<div class="rfz-mchart" data-rfz-chart="{esc(key)}" role="img" aria-label="{esc(label)}" '
            f'style="height:{height}px"></div>{cap}</figure>\n')


class Charts:
    """Figures by key (for the page data) and their frames' Markdown."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.figures: dict[str, Any] = {}

    def add(self, key: str, fig: dict[str, Any]) -> str:
        self.figures[key] = fig
        return key

    def markdown(self) -> str:
        return "\n".join(p for p in (self.depth(), self.ratio(), self.border()) if p)

    def depth(self) -> str:
        doc = self.doc
        fig = figures.rf_depth(doc)
        if not fig:
            return ""
        self.add("rf-depth", fig)
        layers = doc.get("layers") or []
        sp = figures.spatial_axes(len(doc.get("input_size") or [0, 0]))
        rfs = [figures.value(lay, "rf", sp[0]) for lay in layers]
        rfs = [v for v in rfs if v is not None]
        state, gf = model_card.global_state(doc)
        label = (f"Line chart, log scale: the largest receptive field reached in graph order grows "
                 f"from {num(min(rfs))} to {num(max(rfs))} px over {len(layers)} nodes")
        jump = figures.value((doc.get("summary") or {}), "jump", sp[0])
        if jump is not None:
            label += f"; the jump is {num(jump)} px at the summary node"
        if state == "whole":
            label += f"; from {gf} on every unit sees the whole input"
        cap = ("Nodes are in graph order, where side branches (shortcut convolutions, parallel "
               "branches) interleave with the main path: a side node's own RF is smaller, so the "
               "RF line is the <em>largest RF reached so far</em> (a running maximum, it never dips "
               "at a branch), the jump follows the nodes that reach it, and the smallest-path RF is "
               "drawn at stage ends only, where every path has merged. Diamonds mark stage ends; "
               "hover a point for the node that grew the RF. ")
        if state == "whole":
            cap += (f"The dotted red line: from <code>{esc(gf)}</code> on, a global op (attention, "
                    "token mixing, an SE gate) lets every unit see the whole input; the lines below "
                    "it are the local path only. ")
        if model_card.is_video(doc):
            cap += "Time (frames) is drawn apart from the spatial axes (pixels). "
        if model_card.lower_bound(doc):
            cap += "Partial analysis: every RF is a lower bound. "
        flat = self.flat_from()
        if flat:
            cap += (f"The local-path RF stops growing at <code>{esc(flat)}</code>: after it only "
                    "global ops widen what a unit sees. ")
        return (f"## Receptive field and jump against depth {EXCLUDE}\n\n"
                + frame("rf-depth", label + ".", 420, cap + DATA_NOTE))

    def flat_from(self) -> str | None:
        """The layer where the RF last grows, when that is in the first fifth of the graph."""
        layers = self.doc.get("layers") or []
        sp = figures.spatial_axes(len(self.doc.get("input_size") or [0, 0]))
        xs, _, _ = figures.steps(*figures.running_max(layers, "rf", sp[0]))
        if len(xs) < 2 or len(layers) < 20:
            return None
        last_growth = xs[-2] if xs[-1] == len(layers) - 1 else xs[-1]
        return str(layers[last_growth]["name"]) if last_growth < len(layers) / 5 else None

    def ratio(self) -> str:
        doc = self.doc
        fig = figures.rf_ratio(doc)
        if not fig:
            return ""
        self.add("rf-ratio", fig)
        cover = figures.first_cover_layer(doc)
        state, gf = model_card.global_state(doc)
        where = (f"The local RF covers the whole input from {code(cover)} on."
                 if cover else "The local RF never covers the whole input at this size.")
        if state == "whole":
            where += f" Global context reaches the summary node from {code(gf)} on: it sees the whole input."
        elif state == "after":
            where += f" Global context comes only after the summary node, from {code(gf)}."
        ratio = model_card.ratio_text(doc)
        label = (f"Line chart, log scale: the largest RF so far divided by the input size, "
                 f"per spatial axis{', time apart' if model_card.is_video(doc) else ''}; "
                 f"{ratio} at the summary node; the dashed line is 1 (the whole input). "
                 + where.replace("<code>", "").replace("</code>", ""))
        return (f"## Receptive field relative to the input {EXCLUDE}\n\n{where}\n\n"
                + frame("rf-ratio", label, 340, "Above the dashed line the RF is larger than the "
                        "input: it reaches into the padding on every side. " + DATA_NOTE))

    def border(self) -> str:
        doc = self.doc
        fig = figures.border_share(doc)
        head = f"## Border effects {EXCLUDE}\n\n"
        if not fig:
            if not doc.get("layers"):
                return ""
            return head + ("No chart: at this input size no unit's receptive field reaches past "
                           "the image border at any node (no padding is ever read), so every "
                           "share is 0.\n")
        self.add("border", fig)
        ys = fig["data"][0]["y"]
        label = (f"Area chart: the share of each node's output units whose RF is cut by the image "
                 f"border, from {num(ys[0])}% to {num(ys[-1])}%, at most {num(max(ys))}%.")
        return (head + "Share of each node's output units whose receptive field reaches past the "
                "image border, into padding, at this input size.\n\n"
                + frame("border", label, 300, DATA_NOTE))

"""A model page's unit picker ("What a unit sees"): a photograph at the model's input size, a
layer select, and the exact RF box of the unit under the pointer (rfzoo-units.js draws it).

The page carries only the frame (photos, input size, default layer); the numbers come from
the page data (rfzoo.site.model_data): per layer `output_size`, `rf`, `jump`, `center` and
the position-dependent flag are enough for the box of any unit, per axis

    unit u sees [center + u*jump - (rf-1)/2, center + u*jump + (rf-1)/2]   (pixel i's center is i)

which is `rfzoo.Analysis.unit_box` for a layer whose RF does not depend on position. For a
position-dependent layer (after upsampling) the document's `unit_boxes` hold every unit's
interval per axis (rfzoo.export.encode_boxes); the page data ships them and the browser decodes
the chosen unit's. A document without them (schema 1) has only the largest RF over positions,
so the page says the box is that, not the unit's own.

Models with gradient maps also ship their ERF stages' heat maps (`page_data`): the map of the
probe's unit, with that unit and the probe's input size, so the browser can move it to the
chosen unit (the same shift the probe uses to place maps measured on another input).
"""

from __future__ import annotations

import zlib
from typing import Any

from rfzoo.site import figures, model_checks
from rfzoo.site.fmt import esc
from rfzoo.site.paths import rel_link, rel_url

Doc = dict[str, Any]
EXCLUDE = "{ data-search-exclude }"
# (file in docs/assets/photos/, what it shows); licenses in docs/assets/photos/LICENSE.txt
PHOTOS = (("astronaut.jpg", "astronaut (NASA, public domain)"),
          ("coffee.jpg", "coffee cup (CC0)"),
          ("chelsea.jpg", "Chelsea the cat (CC0)"))


def spatial_size(doc: Doc) -> list[int] | None:
    """The input's (H, W): the last two axes (a video's spatial axes); None for 1-D inputs."""
    size = doc.get("input_size") or []
    if len(size) < 2 or not all(isinstance(v, int) and v > 0 for v in size[-2:]):
        return None
    return [int(v) for v in size[-2:]]


def photo_index(doc: Doc) -> int:
    """The page's photo, the same on every build: a hash of the model's reference."""
    return zlib.crc32(f"{doc.get('source')}/{doc.get('name')}".encode()) % len(PHOTOS)


def has_picker(doc: Doc) -> bool:
    return (doc.get("status") != "failed" and spatial_size(doc) is not None
            and any(local_2d(lay, len(doc.get("input_size") or [])) for lay in doc.get("layers") or []))


def local_2d(lay: Doc, naxes: int) -> bool:
    """A local RF and an output size on both spatial axes (what the picker can draw)."""
    sp = figures.spatial_axes(naxes)[-2:]
    return all(figures.value(lay, k, ax) is not None for k in ("rf", "jump", "center", "output_size") for ax in sp)


def section(doc: Doc, src: str, directory_urls: bool = True) -> str:
    if not has_picker(doc):
        return ""
    h, w = spatial_size(doc) or [0, 0]
    pick = photo_index(doc)
    options = "".join(
        f'<option value="{esc(rel_url(src, "assets/photos/" + f, directory_urls))}"'
        f'{" selected" if i == pick else ""}>{esc(label)}</option>'
        for i, (f, label) in enumerate(PHOTOS))
    default = (doc.get("summary") or {}).get("node") or ""
    erf = bool(erf_maps(doc))
    erf_text = (" On a layer marked ERF (a stage of the gradient maps below), the heat map is that "
                "stage's effective RF (random weights), moved with the unit." if erf else "")
    video = " (the spatial axes of a video model: every frame alike)" if len(doc.get("input_size") or []) == 3 else ""
    return (
        f"## What a unit sees {EXCLUDE}\n\n"
        f"A photograph resized to the model's input, {h}×{w} px{video}. Choose a layer, then hover or "
        "tap a unit (or focus the picture and use the arrow keys; Home/End and Page Up/Down jump to "
        "the edges): the orange box is the unit's receptive field in input pixels, hatched where it "
        "falls beyond the image (padding), and the dots are the centers of its neighbours, one jump "
        f"apart.{erf_text} Photos: scikit-image sample data, public domain and CC0 "
        f"([licenses]({rel_link(src, 'assets/photos/LICENSE.txt')})).\n\n"
        f'<div class="rfz-units" data-rfz-units data-input="{h},{w}" data-default-layer="{esc(default)}" '
        'data-search-exclude><div class="rfz-units-tools">'
        '<label>Layer <select class="rfz-units-layer" aria-label="Layer"><option>Loading…</option></select></label>'
        f'<label>Photo <select class="rfz-units-photo" aria-label="Photo">{options}</select></label>'
        + ('<label><input type="checkbox" class="rfz-units-erf" checked> ERF heat map</label>' if erf else "")
        + '</div>'
        '<div class="rfz-units-stage" tabindex="0" role="group" aria-roledescription="unit picker" '
        'aria-label="Photograph with the chosen unit\'s receptive field; arrow keys move the unit" '
        'aria-describedby="rfz-units-readout"></div>'
        '<p class="rfz-units-readout" id="rfz-units-readout" aria-live="polite"></p>'
        '<p class="rfz-units-note"></p>'
        "<noscript><p>The unit picker needs JavaScript; the per-layer table below holds each "
        "layer's RF, jump and center.</p></noscript></div>\n"
    )


def erf_maps(doc: Doc) -> dict[str, Any]:
    """Per ERF stage node: its heat map (the middle frame for video: spatial axes only), the
    probe's unit and the input the map's coordinates refer to (spatial axes)."""
    erf = doc.get("erf") or {}
    frame_size = erf.get("input_size") or []
    out: dict[str, Any] = {}
    for st in erf.get("stages") or []:
        heat = figures.middle_frame(st.get("heatmap"))
        node = st.get("node")
        if not heat or not heat.get("data") or not node or len(heat.get("shape") or []) != 2:
            continue
        unit = st.get("unit")
        if not unit:  # older records: the probe's unit is the one nearest the input's center
            box = model_checks.analytic_box(doc, node, frame_size)
            lay = next((x for x in doc.get("layers") or [] if x.get("name") == node), None)
            if not box or lay is None:
                continue
            unit = [round((((a + b) / 2) - figures.value(lay, "center", ax)) / figures.value(lay, "jump", ax))
                    for ax, (a, b) in enumerate(box)]
        out[str(node)] = {"shape": heat["shape"], "scale": heat.get("scale") or 1,
                          "origin": list(heat.get("origin") or [0, 0])[-2:], "data": heat["data"],
                          "unit": list(unit)[-2:], "input": list(frame_size)[-2:]}
    return out


def page_data(doc: Doc) -> dict[str, Any]:
    """What the picker adds to the page data: the ERF stages' maps and the position-dependent
    layers' exact boxes, when the page has any."""
    if not has_picker(doc):
        return {}
    extra = {"erf_maps": erf_maps(doc), "unit_boxes": doc.get("unit_boxes")}
    return {k: v for k, v in extra.items() if v}

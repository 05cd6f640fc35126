"""The gradient checks of a model page: the support check (analytic RF box against the
measured gradient support, every stage and every layer) and the effective RF (ERF) maps.

Only the default catalog's models carry them (`verification`, `erf` in the document).
Stages whose maps say the same (same RF box and same ERF radii: a ViT's blocks, whose
local path is one patch) share one map, labelled with the stages it stands for."""

from __future__ import annotations

from typing import Any

from rfzoo.markup import markdown_code as code
from rfzoo.markup import markdown_text as md
from rfzoo.site import figures, model_card
from rfzoo.site.fmt import DASH, axes, esc, num
from rfzoo.site.model_charts import EXCLUDE, Charts, frame

Doc = dict[str, Any]


def section(doc: Doc, charts: Charts) -> str:
    ver, erf = doc.get("verification"), doc.get("erf")
    head = f"## Gradient maps {EXCLUDE}\n"
    if not ver and not erf:
        return head + ("\nNot measured yet: the gradient probe (`rfzoo erf`) has run on the default "
                       "catalog's models only.\n")
    out = [head]
    if ver:
        out.append(verification_table(ver))
    if erf:
        out.append(erf_table(doc, erf))
    maps = gradient_maps(doc, charts)
    if maps:
        out.append(maps)
    return "\n".join(out)


def unit_text(unit: list | None) -> str:
    """A unit's position: `(row, col) = (120, 120)`; `(t, row, col) = ...` for video."""
    if not unit:
        return DASH
    names = {1: "(i)", 2: "(row, col)", 3: "(t, row, col)"}.get(len(unit), "")
    return f"{names} = ({', '.join(num(u) for u in unit)})"


def box_text(box: list | None) -> str:
    if not box:
        return DASH
    return "; ".join(f"{num(a)}..{num(b)}" for a, b in box)


def verification_table(ver: Doc) -> str:
    ok = ver.get("verified")
    head = ("All stages agree: the measured gradient support equals the analytic RF."
            if ok else '<span class="rfz-bad">At least one stage disagrees: shown in red below.</span>')
    clipped = ""
    if ver.get("clipped"):
        names = ", ".join(code(n) for n in ver["clipped"])
        clipped = (f'!!! note "Checked inside the image only: {len(ver["clipped"])} stage(s)"\n'
                   f"    {md(ver.get('clipped_reason') or '')} ({names}).\n")
    elif ver.get("at_default"):
        clipped = (f'!!! note "Measured at the default input"\n'
                   f"    {md(ver['at_default'])}; every stage's box fits inside it.\n")
    axes_note = "(t; y; x)" if len(ver.get("input_size") or []) == 3 else "(y; x)"
    inputs = f"{num(ver.get('samples'))} random inputs"
    if ver.get("first_samples"):  # the stage level's ladder (rfzoo.probe.verify)
        inputs = (f"{num(ver['first_samples'])} random input first, all {num(ver.get('samples'))} "
                  f"where it fell short: {num(ver.get('sample_rechecks') or 0)} stage-axes")
    out = [f"**Support check** ({md(ver.get('dtype'))}, {inputs}, "
           f"input {axes(ver.get('input_size'))}, global-context paths detached). {head}\n", clipped,
           layers_check(ver),
           f"| stage node | unit position | analytic box {axes_note} | measured box {axes_note} | agrees |",
           "| --- | --- | --- | --- | --- |"]
    for st in ver.get("stages") or []:
        agree = st.get("agree")
        mark = '<span class="rfz-ok">✓</span>' if agree else '<span class="rfz-bad">✗ no</span>'
        measured = box_text(st.get("measured_box"))
        if st.get("implied_by"):  # a repeated block between two measured stages
            first, last = st["implied_by"]
            measured = f"implied: repeats the block of {code(first)}, up to {code(last)}"
        if agree is False:
            measured = f'<span class="rfz-bad">{measured}</span>'
        out.append(f"| {code(st.get('node'))} | {unit_text(st.get('unit'))} | "
                   f"{box_text(st.get('analytic_box'))} | {measured} | {mark} |")
    out.append("\n*unit position*: the output unit whose gradient was measured, as its index in the "
               "feature map; boxes are inclusive input-pixel ranges.")
    if any(st.get("implied_by") for st in ver.get("stages") or []):
        out.append("\n*implied*: a stage that repeats the block before it (the same ops with the same "
                   "rules, the same unit and box) is not measured again: the stage before the run "
                   "and the run's last stage are, and it agrees when both do.")
    return "\n".join(out) + "\n"


def layers_check(ver: Doc) -> str:
    """The every-layer part of the support check: counts and each disagreement."""
    lay = ver.get("layers")
    if not lay:
        return ""
    checked, agree = lay.get("checked") or 0, lay.get("agree") or 0
    text = (f"Every layer with a local RF was measured the same way: **{num(agree)} of "
            f"{num(checked)}** agree (float32 first, float64 where float32 differed: "
            f"{num(lay.get('float64_rechecks') or 0)} layer-axes).")
    skipped = lay.get("unchecked") or []
    if skipped:
        text += f" Not measured: {len(skipped)} ({md(skipped[0].get('reason'))}, ...)."
    out = [text + "\n"]
    bad = lay.get("disagree") or []
    if bad:
        out.append('<span class="rfz-bad">Layers whose measured support differs:</span>\n')
        out += [f"- {code(b.get('node'))}: analytic {box_text(b.get('analytic_box'))}, "
                f'<span class="rfz-bad">measured {box_text(b.get("measured_box"))}</span>'
                for b in bad[:20]]
        if len(bad) > 20:
            out.append(f"- ... and {len(bad) - 20} more (see the JSON)")
    return "\n".join(out).rstrip("\n") + "\n"


def erf_table(doc: Doc, erf: Doc) -> str:
    weights = erf.get("weights") or "random"
    label = "random weights" if weights == "random" else f"weights: {md(weights)}"
    out = [f"**Effective receptive field** ({label}; init: {md(erf.get('init') or DASH)}; "
           f"{num(erf.get('samples'))} samples; input {axes(erf.get('input_size'))}"
           + (f"; unit: {md(erf['unit'])}" if isinstance(erf.get("unit"), str) else "") + ").\n",
           "*r t%*: radius in pixels of the centered square holding t% of the gradient mass. "
           "*ERF / TRF*: the ERF's extent, 4 standard deviations of the gradient mass (about 95% "
           "of a Gaussian), over the theoretical RF's size (geometric mean over the axes). Well "
           "below 1 the gradient concentrates in the RF's middle, as Luo et al. found for deep "
           "convolutional nets; near or above 1 it is spread evenly over the whole RF (a flat map "
           "over n pixels has 4 std = 1.15 n, so a ratio of 1.16 means an even spread).\n"]
    if model_card.global_state(doc)[0] == "whole":
        out.append('!!! note "These maps show the local path only"\n'
                   "    The probe detaches the global-context paths (attention, token mixing, SE "
                   "gates), whose gradient covers the whole input evenly. What remains is the ERF "
                   "of the local path: for a model whose local path stops growing early (a ViT's "
                   "patch), every stage's map is that same patch.\n")
    out += ["| stage node | r 20% | r 30% | r 50% | r 99% | ERF / TRF | center offset |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for st in erf.get("stages") or []:
        r = st.get("radius") or {}
        out.append(f"| {code(st.get('node'))} | {num(r.get('20'))} | {num(r.get('30'))} | "
                   f"{num(r.get('50'))} | {num(r.get('99'))} | {num(st.get('erf_trf_ratio'))} | "
                   f"{axes(st.get('offset'))} |")
    if erf.get("clipped"):
        out.append(f"\n!!! note \"ERF maps cut by the border: {', '.join(md(n) for n in erf['clipped'])}\"\n"
                   f"    {md(erf.get('clipped_reason') or 'The input holding the whole ERF was not run.')}")
    return "\n".join(out) + "\n"


def same_size(ver: Doc | None, erf: Doc | None) -> bool:
    return bool(ver and erf and ver.get("input_size") == erf.get("input_size"))


def analytic_box(doc: Doc, node: str, size: list[int] | None) -> list[list[float]] | None:
    """RF box of the unit whose RF center is nearest the input's center (the probe's unit)."""
    lay = next((x for x in doc.get("layers") or [] if x.get("name") == node), None)
    if not lay or not size:
        return None
    box = []
    for ax, n in enumerate(size):
        rf, jump, center = (figures.value(lay, k, ax) for k in ("rf", "jump", "center"))
        if rf is None or not jump or center is None:
            return None
        unit = round(((n - 1) / 2 - center) / jump)
        c = center + unit * jump
        box.append([c - (rf - 1) / 2, c + (rf - 1) / 2])
    return box


def map_key(est: Doc, chk: Doc) -> tuple:
    """What a map says: stages with the same key draw the same picture."""
    if chk.get("agree") is False:
        return ("disagree", chk.get("node"))
    box = est.get("rf_box") or chk.get("analytic_box")
    size = [b - a for a, b in box] if box else None
    return (repr(size), repr(est.get("radius")), repr(chk.get("measured_box") is not None))


def gradient_maps(doc: Doc, charts: Charts) -> str:
    ver, erf = doc.get("verification"), doc.get("erf")
    checks = {st.get("node"): st for st in (ver or {}).get("stages") or []}
    erf_stages = {st.get("node"): st for st in (erf or {}).get("stages") or []}
    groups: list[tuple[tuple, list[str]]] = []
    for node in dict.fromkeys([*erf_stages, *checks]):
        key = map_key(erf_stages.get(node, {}), checks.get(node, {}))
        if groups and groups[-1][0] == key:
            groups[-1][1].append(node)
        else:
            groups.append((key, [node]))
    boxes = []
    for i, (_, nodes) in enumerate(groups):
        node = nodes[0]
        est, chk = erf_stages.get(node, {}), checks.get(node, {})
        size = (erf or {}).get("input_size") if est else (ver or {}).get("input_size")
        analytic = chk.get("analytic_box") if (chk and (not est or same_size(ver, erf))) else None
        if est and analytic is None:  # the probe's own box for the ERF unit, else computed
            analytic = est.get("rf_box") or analytic_box(doc, node, size)
        measured = chk.get("measured_box") if analytic is chk.get("analytic_box") else None
        key = charts.add(f"grad-{i}", figures.gradient_map(est, analytic, measured, chk.get("agree"), size))
        cap = f"<code>{esc(node)}</code>"
        if len(nodes) > 1:
            cap = (f"<code>{esc(nodes[0])}</code> … <code>{esc(nodes[-1])}</code>: {len(nodes)} stages "
                   "with the same RF box and ERF radii, one map shown")
        if chk.get("agree") is False:
            cap += ' <span class="rfz-bad">✗ measured support differs</span>'
        label = (f"Heat map of the effective RF of {node}" if est.get("heatmap") else f"RF boxes of {node}")
        if analytic:
            label += f"; analytic RF box {box_text(analytic[-2:])} (y; x)"
        if measured:
            label += f"; measured support {box_text(measured[-2:])}"
            label += " (differs)" if chk.get("agree") is False else " (agrees)"
        boxes.append(frame(key, label + ".", 340, cap, css="rfz-mfig-grad").strip())
    if not boxes:
        return ""
    what = ("The ERF heat map (random weights; colour scale: share of the peak gradient) under the"
            if erf else "The")
    return (f"{what} analytic RF box (orange) and the measured gradient support (dashed; red where "
            "it disagrees), in input pixels.\n\n" + '<div class="rfz-mgrid">' + "".join(boxes) + "</div>\n")

"""The Markdown of one model's page: summary card, stages, charts, gradient maps, layers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from rfzoo.markup import markdown_code as code
from rfzoo.markup import markdown_text as md
from rfzoo.markup import yaml_string
from rfzoo.site import embed, figures
from rfzoo.site.fmt import DASH, axes, esc, num, params, status, verified
from rfzoo.site.paths import family_md, family_title, model_md, rel_link, rel_url, slug

Doc = dict[str, Any]

COLLAPSE_OVER = 30  # layer tables longer than this start collapsed
LAYER_COLUMNS = ("#", "node", "op", "kind", "output", "RF", "smallest-path RF", "jump", "center",
                 "eff. padding", "border units", "checked", "flags")
CHECK_MARKS = {
    True: '<span class="rfz-ok" title="gradient support equals the analytic box">✓</span>',
    False: '<span class="rfz-bad" title="gradient support differs from the analytic box">✗</span>',
    None: "",
}


def render(doc: Doc, *, directory_urls: bool = True) -> str:
    src = model_md(doc)
    ident = slug(f"{doc['source']}-{doc['name']}")
    parts = [front_matter(doc), header(doc, src), card(doc), status_note(doc)]
    if doc.get("status") != "failed":
        parts += [stages(doc), charts(doc, ident), gradient_maps(doc, ident), layers(doc)]
    parts.append(links(doc, src, directory_urls))
    return "\n".join(p for p in parts if p).rstrip() + "\n"


def front_matter(doc: Doc) -> str:
    rf = axes((doc.get("summary") or {}).get("rf"))
    desc = f"Receptive field of {doc['source']} {doc['name']}: {rf} px at input {axes(doc.get('input_size'))}."
    return (f"---\ntitle: {yaml_string(doc['name'])}\ndescription: {yaml_string(desc)}\n"
            "hide:\n  - navigation\n---\n")


def header(doc: Doc, src: str) -> str:
    fam = doc.get("family") or "other"
    return (
        f"# {md(doc['name'])}\n\n"
        f"{md(doc['source'])} · [{md(family_title(fam))} family]({rel_link(src, family_md(fam))})"
        f" · {md(doc.get('task') or DASH)} · [catalog]({rel_link(src, 'catalog/index.md')})\n"
    )


def card(doc: Doc) -> str:
    s = doc.get("summary") or {}
    glob = DASH
    if s:
        glob = f"from <code>{esc(s.get('global_from'))}</code> on" if s.get("global_from") else "none"
    ver = doc.get("verification")
    items = [
        ("Receptive field", f"<strong>{axes(s.get('rf'))}</strong> px"),
        ("Jump (stride)", axes(s.get("jump"))),
        ("Effective padding", axes(s.get("effective_padding"))),
        ("Smallest-path RF", axes(s.get("rf_min"))),
        ("Center of unit 0", axes(s.get("center"))),
        ("Input size", axes(doc.get("input_size"))),
        ("Feature map", f"{axes(s.get('output_size'))} at <code>{esc(s.get('node') or DASH)}</code>"),
        ("Global context", glob),
        ("Status", status(doc.get("status"))),
        ("Verified", verified(None if not ver else ver.get("verified"))),
        ("Parameters", params(doc.get("params"))),
        ("Versions", " · ".join(f"{esc(k)} {esc(v)}" for k, v in sorted((doc.get("versions") or {}).items()))
         or DASH),
    ]
    cells = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in items)
    return f'<dl class="rfz-card">{cells}</dl>\n'


def status_note(doc: Doc) -> str:
    st, reason = doc.get("status"), (doc.get("reason") or "").strip()
    if st == "partial":
        return f'!!! warning "Partial analysis"\n    {md(reason) or "Part of the graph is not analyzed."}\n'
    if st == "failed":
        return (f'!!! failure "Analysis failed"\n    {md(reason) or "No reason recorded."}\n\n'
                "    The catalog keeps the model and its reason; nothing below can be computed.\n")
    return ""


def stages(doc: Doc) -> str:
    rows = doc.get("stages") or []
    if not rows:
        return "## Stages\n\nNo stages recorded.\n"
    out = ["## Stages\n", "Where a feature map of a new resolution ends.\n",
           "| stage | node | RF | jump | output | declared reduction |",
           "| --- | --- | ---: | ---: | ---: | --- |"]
    for st in rows:
        declared = st.get("declared_reduction")
        match = st.get("reduction_matches")
        if declared is None:
            dec = DASH
        elif match is False:
            dec = f'<span class="rfz-bad">✗ declares {num(declared)}, computed {axes(st.get("jump"))}</span>'
        else:
            dec = f"✓ {num(declared)}"
        out.append(f"| {md(st.get('name'))} | {code(st.get('node'))} | {axes(st.get('rf'))} | "
                   f"{axes(st.get('jump'))} | {axes(st.get('output_size'))} | {dec} |")
    mism = doc.get("feature_info_mismatches") or []
    if mism:
        out.append("\n!!! danger \"The library's declared reductions disagree with the computed jumps\"")
        for m in mism:
            text = ", ".join(f"{k}: {v}" for k, v in sorted(m.items())) if isinstance(m, dict) else str(m)
            out.append(f"    - {md(text)}")
    return "\n".join(out) + "\n"


def charts(doc: Doc, ident: str) -> str:
    out = []
    fig = figures.rf_depth(doc)
    if fig:
        out += ["## Receptive field and jump against depth\n",
                embed.chart(f"rfz-{ident}-rf-depth", fig, height=400,
                            caption="Step curves: only the nodes where a value changes are plotted. "
                                    "Hover a point for the node that grew the RF.")]
    fig = figures.rf_ratio(doc)
    if fig:
        cover = figures.first_cover_layer(doc)
        where = (f"The RF covers the whole input from {code(cover)} on."
                 if cover else "The local RF never covers the whole input at this size.")
        glob = (doc.get("summary") or {}).get("global_from")
        if glob:
            where += f" Global context reaches every unit from {code(glob)} on."
        out += ["## Receptive field relative to the input\n", where + "\n",
                embed.chart(f"rfz-{ident}-rf-ratio", fig, height=340)]
    fig = figures.border_share(doc)
    if fig:
        out += ["## Border effects\n",
                "Share of each node's output units whose receptive field reaches past the image "
                "border, into padding, at this input size.\n",
                embed.chart(f"rfz-{ident}-border", fig, height=300)]
    return "\n".join(out)


def gradient_maps(doc: Doc, ident: str) -> str:
    ver, erf = doc.get("verification"), doc.get("erf")
    out = ["## Gradient maps\n"]
    if not ver and not erf:
        out.append("Not measured yet: the gradient probe (`rfzoo erf`) has not run on this model.\n")
        return "\n".join(out)
    checks = {st.get("node"): st for st in (ver or {}).get("stages") or []}
    if ver:
        out.append(verification_table(ver))
    if erf:
        out.append(erf_table(erf))
    boxes = []
    erf_stages = {st.get("node"): st for st in (erf or {}).get("stages") or []}
    for i, node in enumerate(dict.fromkeys([*erf_stages, *checks])):
        est, chk = erf_stages.get(node, {}), checks.get(node, {})
        size = (erf or {}).get("input_size") if est else (ver or {}).get("input_size")
        analytic = chk.get("analytic_box") if (chk and (not est or same_size(ver, erf))) else None
        if est and analytic is None:  # the probe's own box for the ERF unit, else computed
            analytic = est.get("rf_box") or analytic_box(doc, node, size)
        measured = chk.get("measured_box") if analytic is chk.get("analytic_box") else None
        fig = figures.gradient_map(est, analytic, measured, chk.get("agree"), size)
        cap = f"<code>{esc(node)}</code>"
        if chk.get("agree") is False:
            cap += ' <span class="rfz-bad">✗ measured support differs</span>'
        boxes.append(embed.chart(f"rfz-{ident}-grad-{i}", fig, height=320, caption=cap).strip())
    if boxes:
        what = "The ERF heat map (random weights) under the" if erf else "The"
        out.append(f"{what} analytic RF box (orange) and the measured gradient support "
                   "(dashed; red where it disagrees), in input pixels.\n")
        out.append('<div class="rfz-grid">' + "".join(boxes) + "</div>\n")
    return "\n".join(out)


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


def verification_table(ver: Doc) -> str:
    ok = ver.get("verified")
    head = ("All stages agree: the measured gradient support equals the analytic RF."
            if ok else '<span class="rfz-bad">At least one stage disagrees: shown in red below.</span>')
    clipped = ""
    if ver.get("clipped"):
        names = ", ".join(code(n) for n in ver["clipped"])
        clipped = f'!!! note "Checked inside the image only: {len(ver["clipped"])} stage(s)"\n' \
                  f"    {md(ver.get('clipped_reason') or '')} ({names}).\n"
    out = [f"**Support check** ({md(ver.get('dtype'))}, {num(ver.get('samples'))} random inputs, "
           f"input {axes(ver.get('input_size'))}). {head}\n", clipped, layers_check(ver),
           "| stage node | unit | analytic box (y; x) | measured box (y; x) | agrees |",
           "| --- | --- | --- | --- | --- |"]
    for st in ver.get("stages") or []:
        agree = st.get("agree")
        mark = '<span class="rfz-ok">✓</span>' if agree else '<span class="rfz-bad">✗ no</span>'
        measured = box_text(st.get("measured_box"))
        if agree is False:
            measured = f'<span class="rfz-bad">{measured}</span>'
        out.append(f"| {code(st.get('node'))} | {axes(st.get('unit'))} | {box_text(st.get('analytic_box'))} "
                   f"| {measured} | {mark} |")
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


def layer_checks(doc: Doc) -> dict[str, bool]:
    """Per layer name: True when its measured support agrees, False when not; absent when
    the layer was not measured. Read from the probe's own lists, never re-derived."""
    ver = doc.get("verification") or {}
    marks = {st.get("node"): bool(st.get("agree")) for st in ver.get("stages") or []}
    lay = ver.get("layers") or {}
    marks.update({name: True for name in lay.get("agreed") or []})
    marks.update({b.get("node"): False for b in lay.get("disagree") or []})
    return marks


def box_text(box: list | None) -> str:
    if not box:
        return DASH
    return "; ".join(f"{num(a)}..{num(b)}" for a, b in box)


def erf_table(erf: Doc) -> str:
    return erf_rows(erf) + (
        f"\n!!! note \"ERF maps cut by the border: {', '.join(md(n) for n in erf['clipped'])}\"\n"
        f"    {md(erf.get('clipped_reason') or 'The input holding the whole ERF was not run.')}\n"
        if erf.get("clipped") else "")


def erf_rows(erf: Doc) -> str:
    weights = erf.get("weights") or "random"
    label = "random weights" if weights == "random" else f"weights: {md(weights)}"
    out = [f"**Effective receptive field** ({label}; init: {md(erf.get('init') or DASH)}; "
           f"{num(erf.get('samples'))} samples; input {axes(erf.get('input_size'))}"
           + (f"; unit: {md(erf['unit'])}" if isinstance(erf.get("unit"), str) else "")
           + "). Radius of the centered square holding that share of the gradient mass, in pixels.\n",
           "| stage node | r 20% | r 30% | r 50% | r 99% | ERF / TRF | center offset |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for st in erf.get("stages") or []:
        r = st.get("radius") or {}
        out.append(f"| {code(st.get('node'))} | {num(r.get('20'))} | {num(r.get('30'))} | "
                   f"{num(r.get('50'))} | {num(r.get('99'))} | {num(st.get('erf_trf_ratio'))} | "
                   f"{axes(st.get('offset'))} |")
    return "\n".join(out) + "\n"


def layers(doc: Doc) -> str:
    rows = doc.get("layers") or []
    if not rows:
        return ""
    is_open = "" if len(rows) > COLLAPSE_OVER else " open"
    head = "".join(f"<th>{c}</th>" for c in LAYER_COLUMNS)
    checks = layer_checks(doc)
    body = "".join(layer_row(i, lay, checks.get(lay.get("name"))) for i, lay in enumerate(rows))
    return (
        f"## All layers\n\n{len(rows)} nodes with a tensor output, in graph order. "
        f"{checked_note(checks)}\n\n"
        f'<details class="rfz-layers abstract"{is_open} data-search-exclude>'
        f"<summary>Per-layer table ({len(rows)} nodes)</summary>"
        '<input type="search" class="rfz-filter" placeholder="Filter layers by name, op or kind" '
        'aria-label="Filter layers">'
        f'<table data-rfz-sortable><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</details>\n"
    )


def checked_note(checks: dict[str, bool]) -> str:
    if not checks:
        return "No layer's RF has been measured yet (the gradient probe has not run)."
    return ("*checked*: ✓ where the measured gradient support of the layer's middle unit "
            "equals its analytic RF box, ✗ where it differs, blank where it was not measured.")


def layer_row(i: int, lay: Doc, check: bool | None = None) -> str:
    flags = []
    if lay.get("global"):
        flags.append("global")
    if lay.get("aligned") is False:
        flags.append('<span class="rfz-bad">misaligned</span>')
    if lay.get("position_dependent"):
        flags.append("position-dependent")
    cells = [str(i), f"<code>{esc(lay.get('name'))}</code>", esc(lay.get("op")), esc(lay.get("kind")),
             axes(lay.get("output_size")), axes(lay.get("rf")), axes(lay.get("rf_min")),
             axes(lay.get("jump")), axes(lay.get("center")), axes(lay.get("effective_padding")),
             axes(lay.get("border_units")), CHECK_MARKS[check], " ".join(flags)]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def links(doc: Doc, src: str, directory_urls: bool) -> str:
    out = ["## Links and data\n"]
    lk = doc.get("links") or {}
    if lk.get("source"):
        out.append(f"- Source: <{lk['source']}>")
    if lk.get("paper"):
        out.append(f"- Paper: <{lk['paper']}>")
    name = doc["name"]
    stem = quote(src.rsplit("/", 1)[-1].removesuffix(".md"))  # the downloads sit next to the page
    out.append(f"- Data: [{md(name)}.json]({stem}.json) (this page's full record), "
               f"[{md(name)}.csv]({stem}.csv) (the layer table)")
    if doc.get("status") != "failed":
        href = rel_url(src, "compare/", directory_urls) + f"#{doc['source']}/{name}"
        out.append(f'- <a href="{esc(href)}">Compare with other models</a>')
    return "\n".join(out) + "\n"

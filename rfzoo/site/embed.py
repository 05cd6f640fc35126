"""Embed chart figures and data in a page so that rfzoo.js can render them.

The figure JSON sits in a `<script type="application/json">` next to the chart element.
mkdocs-material's instant navigation re-inserts inline scripts *without their
attributes*, which turns them into JavaScript: wrapping the figure in a JSON array
makes that re-run a harmless array expression instead of a syntax error. rfzoo.js
finds the data by position (the script inside the chart's figure wrapper), not by
attributes that the re-run drops.
"""

from __future__ import annotations

import json
from typing import Any

from rfzoo.site.fmt import esc


def json_for_script(value: Any) -> str:
    """JSON safe inside <script>: no `<`, `>` or `&` can end the element or open a comment."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def data_script(value: Any) -> str:
    return f'<script type="application/json">[{json_for_script(value)}]</script>'


def chart(chart_id: str, figure: dict[str, Any], *, height: int = 360, caption: str = "",
          css: str = "") -> str:
    """A raw-HTML block: the figure wrapper, the plot element, its data and a caption."""
    cap = f'<p class="rfz-caption">{caption}</p>' if caption else ""
    extra = f" {css}" if css else ""
    return (
        f'<div class="rfz-figure{extra}" data-search-exclude>'
        f'<div class="rfz-chart" id="{esc(chart_id)}" style="height:{height}px"></div>'
        f"{data_script(figure)}{cap}</div>\n"
    )

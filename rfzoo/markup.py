"""Escape untrusted text (module and node names, reasons, paths) for HTML and Markdown.

A user's model can name a submodule almost anything (`<img src=x onerror=...>`,
`[x](javascript:...)`, `a|b`, newlines), and those names reach the site's pages and
`--format markdown`. Every such name goes through one of these helpers.
"""

from __future__ import annotations

import html
import json
from typing import Any

# Markdown punctuation that can open markup in a name: code spans, emphasis, links, attribute
# lists (`{: onclick=...}`) and table cells. Escaped with a backslash (CommonMark, GFM and
# Python-Markdown with its tables extension all read these escapes).
MARKDOWN_SPECIAL = frozenset("\\`*_{}[]|")


def html_text(value: Any) -> str:
    """Text or an attribute value inside HTML: `<>&"'` and line breaks as character references
    (a raw newline could end a Markdown raw-HTML block and expose the rest to Markdown)."""
    text = html.escape("" if value is None else str(value), quote=True)
    return text.replace("\r", "&#13;").replace("\n", "&#10;")


def markdown_text(value: Any) -> str:
    """Text in Markdown (a paragraph, heading, list item or table cell): Markdown punctuation
    backslash-escaped, HTML characters and line breaks as character references. Not for
    code spans (backslashes are literal there): wrap the result in `<code>` instead."""
    text = "" if value is None else str(value)
    return html_text("".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in text))


def markdown_code(value: Any) -> str:
    """A name shown as code in Markdown text."""
    return f"<code>{markdown_text(value)}</code>"


def yaml_string(value: Any) -> str:
    """A front-matter value: a double-quoted YAML scalar holding the HTML-escaped text (the
    theme puts `title` and `description` into the page without escaping them)."""
    return json.dumps(html_text(value), ensure_ascii=False)

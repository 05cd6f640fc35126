"""rfzoo: exact, gradient-verified receptive fields of vision models.

`import rfzoo` stays light (no torch) so the site generator can use the package;
the analysis API loads on first use.
"""

from __future__ import annotations

from typing import Any

from rfzoo.version import __version__

__all__ = ["__version__", "analyze", "gradient_map", "resolve"]


def __getattr__(name: str) -> Any:
    if name == "analyze":
        from rfzoo.analysis import analyze

        return analyze
    if name == "resolve":
        from rfzoo.models import resolve

        return resolve
    if name == "gradient_map":
        from rfzoo.probe import gradient_map

        return gradient_map
    raise AttributeError(f"module 'rfzoo' has no attribute {name!r}")

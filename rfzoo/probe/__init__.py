"""Gradient probes: verify analytic RFs by gradient support, measure effective RFs.

Modules, one job each: `weights` (documented random init, user state dicts),
`runner` (fx interpreter that detaches global-context paths and norm
statistics), `units` (find a unit in any layout), `support` (float64 gradient
support), `erf` (ERF map and metrics), `heatmap` (compact encoding), `png`
(PNG writer), `targets` (what a run measures: units, plans, layouts), `plan`
(chooses the stages, units and input sizes) and `fingerprint` (a hash of that choice,
stored with the results), `verify` / `effective` (the schema's ``verification`` /
``erf`` entries), `api`, `cli`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GradientMap", "gradient_map", "probe_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rfzoo.probe import api

        return getattr(api, name)
    raise AttributeError(f"module 'rfzoo.probe' has no attribute {name!r}")

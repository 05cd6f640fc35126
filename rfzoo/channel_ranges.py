"""Which RF each channel range of a tensor has, where a concatenation made them differ.

An RF is per tensor: the largest over its channels. After `cat([b3, b7], 1)` channels
0..7 see what b3 sees and 8..15 what b7 sees, so a later slice `[:, :8]` (or a split,
or a chunk) that keeps only b3's channels sees only b3's field. The graph builder asks
this module, for such a slice, which upstream nodes its channels come from, and links
the slice to those nodes instead of to the whole concatenation.

Ranges survive only ops that keep every channel where it is and every unit where it is:
single-input per-pixel ops (activations, batch norm, scaling by a constant, dtype
casts). Anything else (convolutions, merges of two tensors, reshapes) ends the
tracking, and the tensor's RF is again the largest over its channels: never smaller
than the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import fx

from rfzoo.engine import Edge
from rfzoo.transforms import IDENTITY

CONCATENATIONS = (torch.cat, torch.concat, torch.concatenate)
SPLITS = {"split", "chunk", "tensor_split", "split_with_sizes"}


@dataclass(frozen=True)
class Segment:
    """Channels start..stop-1 (along the tracked dim) have the RF of engine node `source`
    (None: a constant that depends on no input pixel)."""

    start: int
    stop: int
    source: str | None


@dataclass(frozen=True)
class Ranges:
    dim: int
    segments: tuple[Segment, ...]


class ChannelRanges:
    def __init__(self) -> None:
        self._ranges: dict[fx.Node, Ranges] = {}
        self._parts: dict[fx.Node, tuple[Ranges | None, ...]] = {}  # split/chunk: per element

    def edges_for(self, node: fx.Node, spec: Any, values: dict[fx.Node, Any]) -> list[Edge] | None:
        """Edges straight to the sources of the channels `node` keeps, or None (use the rule's)."""
        if node.op != "call_function" or node.target.__name__ != "getitem" or len(spec.edges) != 1:
            return None
        src, maps = spec.edges[0]
        if not _identity(maps):
            return None
        kept = self._selected(node, src, values)
        if kept is None:
            return None
        sources = list(dict.fromkeys(s.source for s in kept.segments if s.source is not None))
        self._keep(node, kept)
        return [Edge(name, maps) for name in sources]

    def record(self, node: fx.Node, spec: Any, values: dict[fx.Node, Any], names: dict[fx.Node, str]) -> None:
        """Remember the channel ranges of `node`'s output, if they differ by source."""
        if node.op == "call_function" and node.target in CONCATENATIONS:
            self._record_cat(node, spec, values, names)
        elif _split_name(node) in SPLITS:
            self._record_split(node, spec, values)
        elif spec.kind == "pointwise" and len(spec.edges) == 1 and _identity(spec.edges[0][1]):
            src = spec.edges[0][0]
            if src in self._ranges and _same_shape(values.get(src), values.get(node)):
                self._ranges[node] = self._ranges[src]

    # -- recording -----------------------------------------------------------------------

    def _record_cat(self, node: fx.Node, spec: Any, values: dict[fx.Node, Any], names: dict[fx.Node, str]) -> None:
        tensors = node.args[0] if node.args else node.kwargs.get("tensors", ())
        out = values.get(node)
        if not isinstance(out, torch.Tensor) or not all(_identity(maps) for _, maps in spec.edges):
            return
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        if not isinstance(dim, int):
            return
        dim %= out.dim()
        linked = {src for src, _ in spec.edges}
        segments: list[Segment] = []
        offset = 0
        for t in tensors:
            value = values.get(t) if isinstance(t, fx.Node) else t
            if not isinstance(value, torch.Tensor) or value.dim() != out.dim():
                return
            size = value.shape[dim]
            inner = self._ranges.get(t) if isinstance(t, fx.Node) else None
            if inner is not None and inner.dim == dim:
                segments += [Segment(s.start + offset, s.stop + offset, s.source) for s in inner.segments]
            else:
                source = names.get(t) if isinstance(t, fx.Node) and t in linked else None
                segments.append(Segment(offset, offset + size, source))
            offset += size
        self._keep(node, Ranges(dim, tuple(segments)))

    def _record_split(self, node: fx.Node, spec: Any, values: dict[fx.Node, Any]) -> None:
        src = spec.edges[0][0] if len(spec.edges) == 1 else None
        whole = self._ranges.get(src) if src is not None else None
        parts = values.get(node)
        if whole is None or not isinstance(parts, (tuple, list)) or not _identity(spec.edges[0][1]):
            return
        offset, found = 0, []
        for part in parts:
            if not isinstance(part, torch.Tensor) or part.dim() != values[src].dim():
                return
            size = part.shape[whole.dim]
            found.append(_cut(whole, offset, offset + size))
            offset += size
        if offset == values[src].shape[whole.dim]:  # a split along the tracked dim
            self._parts[node] = tuple(found)

    def _keep(self, node: fx.Node, ranges: Ranges | None) -> None:
        if ranges is not None and len({s.source for s in ranges.segments}) > 1:
            self._ranges[node] = ranges

    # -- selecting ------------------------------------------------------------------------

    def _selected(self, node: fx.Node, src: fx.Node, values: dict[fx.Node, Any]) -> Ranges | None:
        index = node.args[1]
        if src in self._parts:  # an element of a split
            return self._parts[src][index] if isinstance(index, int) else None
        whole = self._ranges.get(src)
        before, after = values.get(src), values.get(node)
        if whole is None or not isinstance(after, torch.Tensor) or after.dim() != before.dim():
            return None
        items = index if isinstance(index, tuple) else (index,)
        if len(items) <= whole.dim or not all(isinstance(i, slice) for i in items):
            return None
        for k, item in enumerate(items):  # every other dim kept whole
            if k != whole.dim and item.indices(before.shape[k]) != (0, before.shape[k], 1):
                return None
        start, stop, step = items[whole.dim].indices(before.shape[whole.dim])
        return _cut(whole, start, stop) if step == 1 else None


def _cut(ranges: Ranges, start: int, stop: int) -> Ranges:
    """The segments of channels start..stop-1, renumbered from 0."""
    kept = [Segment(max(s.start, start) - start, min(s.stop, stop) - start, s.source)
            for s in ranges.segments if s.start < stop and s.stop > start]
    return Ranges(ranges.dim, tuple(kept))


def _identity(maps: tuple) -> bool:
    return all(m is None or m == IDENTITY for m in maps)


def _same_shape(a: Any, b: Any) -> bool:
    return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape


def _split_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    if node.op == "call_function":
        return getattr(node.target, "__name__", "")
    return ""

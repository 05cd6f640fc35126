"""`rfzoo.analyze`: model (or name) in, per-layer receptive-field table out."""

from __future__ import annotations

import contextlib
import difflib
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from rfzoo import layout as L
from rfzoo.engine import NodeRF, ReceptiveFieldEngine
from rfzoo.errors import InputTooSmallError, ModelRejectsInputError, RfzooError
from rfzoo.graph_builder import BuiltGraph, build_graph
from rfzoo.input_size import InputSizeError, check_in_channels, fit_axes, parse_input_size
from rfzoo.models import DEFAULT_IMAGE_SIZE, ModelSpec, resolve
from rfzoo.schema import SCHEMA_VERSION, round_float
from rfzoo.trace import (
    _NodeFailure,
    input_axes,
    input_channels,
    looks_too_small,
    node_path,
    propagate,
    trace,
)
from rfzoo.version import __version__


@dataclass
class Layer:
    """One row of the table: per-axis lists, None where an axis has no local RF."""

    name: str
    op: str
    kind: str
    output_size: list[int | None]
    rf: list[int] | None
    rf_min: list[int] | None
    jump: list[float] | None
    center: list[float] | None
    effective_padding: list[float] | None
    is_global: bool
    aligned: bool
    misalignment: str
    position_dependent: bool
    border_units: list[int | None]
    layout: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "op": self.op,
            "kind": self.kind,
            "output_size": self.output_size,
            "rf": self.rf,
            "rf_min": self.rf_min,
            "jump": _numbers(self.jump),
            "center": _numbers(self.center),
            "effective_padding": _numbers(self.effective_padding),
            "global": self.is_global,
            "aligned": self.aligned,
            "position_dependent": self.position_dependent,
            "border_units": self.border_units,
            "layout": self.layout,
        }
        if self.misalignment:
            d["misalignment"] = self.misalignment
        if self.notes:
            d["notes"] = self.notes
        return d


class UnknownLayerError(RfzooError, KeyError):
    """A layer name the analysis does not have (a KeyError too, for `except KeyError` callers)."""

    __str__ = RfzooError.__str__  # KeyError's would quote the message


def _unit_in(layer: Layer, unit: Any) -> list[int]:
    """`unit` as one index per axis of the layer's output, each inside it."""
    shape = "x".join("-" if n is None else str(n) for n in layer.output_size)
    try:
        coords = [operator.index(u) for u in unit]
    except TypeError:
        raise RfzooError(f"a unit is one whole number per axis of layer {layer.name!r} ({shape}), "
                         f"not {unit!r}") from None
    if len(coords) != len(layer.output_size):
        raise RfzooError(f"unit {tuple(coords)} has {len(coords)} coordinates; layer {layer.name!r} "
                         f"has {len(layer.output_size)} axes ({shape})")
    if any(n is not None and not 0 <= u < n for u, n in zip(coords, layer.output_size, strict=True)):
        raise RfzooError(f"unit {tuple(coords)} is outside layer {layer.name!r}, whose output is {shape}")
    return coords


def _numbers(values: list[float] | None) -> list[float | int] | None:
    return None if values is None else [round_float(v) for v in values]


@dataclass
class Analysis:
    model: str
    source: str
    input_size: tuple[int, ...]
    in_channels: int
    layers: list[Layer]
    graph_module: fx.GraphModule
    engine: ReceptiveFieldEngine
    built: BuiltGraph
    status: str
    reason: str
    # The module as built (a library model on the meta device), for its metadata: the
    # catalog reads timm's feature_info and the parameter count here instead of building it
    # again. None for a module the caller passed in.
    module: nn.Module | None = field(default=None, repr=False, compare=False)

    # -- queries -----------------------------------------------------------------------

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        close = difflib.get_close_matches(str(name), [layer.name for layer in self.layers], n=3)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise UnknownLayerError(f"no layer {name!r} in {self.model}{hint}")

    def fx_node(self, name: str) -> str:
        """The fx node name of a layer (for running the GraphModule up to it)."""
        return self.built.fx_names[name]

    def unit_box(self, name: str, unit: tuple[int, ...] | list[int]) -> list[tuple[int, int] | None]:
        """Inclusive input-pixel box per axis of one unit of a layer (local RF, global paths ignored)."""
        layer = self.layer(name)
        return self.engine.unit_box(name, _unit_in(layer, unit))

    def global_context_nodes(self) -> set[str]:
        """Layers whose output depends on every position only (global pooling, attention, ...)."""
        return {n.name for n in self.engine.nodes.values() if n.mixes_all and not n.keeps_local}

    def global_statistics_nodes(self) -> set[str]:
        """Layers that keep a local path but add global statistics (GroupNorm, InstanceNorm, ...)."""
        return {n.name for n in self.engine.nodes.values() if n.mixes_all and n.keeps_local}

    def summary_layer(self) -> Layer | None:
        """The last layer that still has spatial resolution and a local RF on every axis."""
        for layer in reversed(self.layers):
            if layer.rf is not None and layer.layout != "other" and all(s is not None for s in layer.output_size):
                return layer
        return None

    def stage_layers(self) -> list[Layer]:
        """The last layer of each resolution, in order of first appearance (the stages)."""
        last_at: dict[tuple[Any, ...], Layer] = {}
        order: list[tuple[Any, ...]] = []
        for layer in self.layers:
            if layer.rf is None or layer.layout == "other" or layer.kind == "input":
                continue
            key = (tuple(layer.output_size), tuple(layer.jump or ()))
            if key not in last_at:
                order.append(key)
            last_at[key] = layer
        return [last_at[k] for k in order]

    def global_from(self) -> str | None:
        """The first layer whose output depends on every input position (anywhere in the graph)."""
        return next((layer.name for layer in self.layers if layer.is_global), None)

    def global_origin(self, name: str) -> str | None:
        """Where whole-input context enters the paths into layer `name`: the first op, in
        graph order, that mixes all positions and feeds it. None when `name` is local."""
        return self.engine.global_origin(name) if self.layer(name).is_global else None

    # -- export ------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        layer = self.summary_layer()
        if layer is None:
            return {"node": None, "rf": None, "jump": None, "global_from": self.global_from()}
        return {
            "node": layer.name,
            "rf": layer.rf,
            "rf_min": layer.rf_min,
            "jump": _numbers(layer.jump),
            "center": _numbers(layer.center),
            "effective_padding": _numbers(layer.effective_padding),
            "output_size": layer.output_size,
            "global": layer.is_global,
            # global: the op from which this node sees the whole input; else the first global
            # op after it (ResNet's avgpool), which leaves the node's own RF local
            "global_from": self.global_origin(layer.name) if layer.is_global else self.global_from(),
        }

    def to_dict(self) -> dict[str, Any]:
        from rfzoo.export import unit_boxes

        source, _, name = self.model.rpartition("/")
        return {
            "schema": SCHEMA_VERSION,
            "source": source or self.source,
            "name": name,
            "model": self.model,
            "input_size": list(self.input_size),
            "status": self.status,
            "reason": self.reason,
            "summary": self.summary(),
            "layers": [layer.to_dict() for layer in self.layers],
            "stages": [
                {"name": s.name, "node": s.name, "rf": s.rf, "jump": _numbers(s.jump), "output_size": s.output_size}
                for s in self.stage_layers()
            ],
            "versions": library_versions(),
            "unit_boxes": unit_boxes(self),
        }

    def to_json(self) -> str:
        from rfzoo.export import to_json

        return to_json(self.to_dict())

    def to_csv(self) -> str:
        from rfzoo.export import to_csv

        return to_csv(self)

    def to_markdown(self) -> str:
        from rfzoo.export import to_markdown

        return to_markdown(self)

    def to_table(self, width: int = 100) -> str:
        from rfzoo.export import to_table

        return to_table(self, width)


def library_versions() -> dict[str, str]:
    import torchvision

    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__, "rfzoo": __version__}
    try:
        import timm

        versions["timm"] = timm.__version__
    except ImportError:
        pass
    return versions


def analyze(
    model_or_name: nn.Module | str,
    input_size: int | tuple[int, ...] | list[int] | None = None,
    *,
    allow_partial: bool = False,
    in_channels: int | None = None,
) -> Analysis:
    """Per-layer receptive fields of a model, exact on branching graphs.

    `model_or_name` is an nn.Module or a name `rfzoo.models.resolve` understands.
    `input_size` is one int (square/cubic) or the spatial sizes; default from the
    library's metadata (224 per axis for other models). `in_channels` defaults to the
    library's metadata, else to what the layer that reads the input expects. With
    `allow_partial`, an op no rule knows ends the analysis of the layers that depend on
    it (status "partial") instead of raising. The caller's module keeps its training flags.
    """
    sizes = None if input_size is None else parse_input_size(input_size)
    channels = None if in_channels is None else check_in_channels(in_channels)
    if isinstance(model_or_name, str):
        return _analyze_named(resolve(model_or_name), sizes, channels, allow_partial)
    if not isinstance(model_or_name, nn.Module):
        raise RfzooError(f"analyze takes an nn.Module or a model name, not {type(model_or_name).__name__}")
    with _training_flags_kept(model_or_name):
        model = model_or_name.eval()
        source = "timm" if type(model).__module__.startswith("timm.") else "user"
        # the input's rank where the size says it (one number may be one axis or a square)
        gm = trace(model, source, 2 + len(sizes) if sizes is not None and len(sizes) > 1 else None)
        size, channels = graph_input(gm, sizes, channels)
        device, dtype = _device_of(model)
        values = _shapes_or_explain(gm, size, channels, device, dtype)
        return _analyze_traced(f"user/{type(model).__name__}", source, gm, values, size, channels, allow_partial)


def _analyze_named(spec: ModelSpec, sizes: tuple[int, ...] | None, in_channels: int | None,
                   allow_partial: bool) -> Analysis:
    """Build on the meta device (no memory, no init cost); fall back to CPU where meta fails."""
    if spec.source != "user":  # the library's metadata: sizes are checked before building
        size, channels = library_input(spec, sizes, in_channels)
    last_error: Exception | None = None
    for device in ("meta", "cpu"):
        try:
            model = spec.build(device)
        except RfzooError as err:
            last_error = err
            continue
        gm = trace(model, spec.source, None if spec.source == "user" else 2 + len(size))
        if spec.source == "user":
            size, channels = graph_input(gm, sizes, in_channels)
        try:
            values = _shapes_or_explain(gm, size, channels, torch.device(device))
        except (InputTooSmallError, ModelRejectsInputError):
            raise  # would fail on the CPU too, after building the model there for nothing
        except RfzooError as err:
            last_error = err
            continue
        analysis = _analyze_traced(spec.full_name, spec.source, gm, values, size, channels, allow_partial)
        analysis.module = model
        return analysis
    assert last_error is not None
    raise last_error


def library_input(spec: ModelSpec, sizes: tuple[int, ...] | None,
                  in_channels: int | None) -> tuple[tuple[int, ...], int]:
    """Input size and channels of a torchvision or timm model: the caller's, else its metadata."""
    default = spec.default_input_size()
    size = fit_axes(sizes, len(default)) if sizes else default
    return size, in_channels if in_channels is not None else spec.in_channels


def graph_input(gm: fx.GraphModule, sizes: tuple[int, ...] | None,
                in_channels: int | None) -> tuple[tuple[int, ...], int]:
    """Input size and channels of a model without metadata: the caller's, else read from
    the layers that take the input (224 per spatial axis)."""
    naxes = input_axes(gm)
    size = fit_axes(sizes, naxes) if sizes else (DEFAULT_IMAGE_SIZE,) * naxes
    return size, in_channels if in_channels is not None else input_channels(gm, naxes)


@contextlib.contextmanager
def _training_flags_kept(model: nn.Module) -> Iterator[None]:
    """The analysis runs the model in eval mode; the caller's flags come back afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def _analyze_traced(label: str, source: str, gm: fx.GraphModule, values: dict[fx.Node, Any],
                    size: tuple[int, ...], channels: int, allow_partial: bool) -> Analysis:
    built = build_graph(gm, values, len(size), allow_partial)
    engine = ReceptiveFieldEngine(built.nodes, size)
    results = engine.run()
    layers = [_layer(engine, results[n.name], built, len(size)) for n in built.nodes]
    status, reason = "exact", ""
    if built.unsupported:
        first = built.unsupported[0]
        status = "partial"
        others = f" (+{len(built.unsupported) - 1} more)" if len(built.unsupported) > 1 else ""
        reason = f"{first}{others}; {len(built.skipped) + len(built.unsupported)} layers after it not analyzed"
    return Analysis(label, source, size, channels, layers, gm, engine, built, status, reason)


def _layer(engine: ReceptiveFieldEngine, rec: NodeRF, built: BuiltGraph, naxes: int) -> Layer:
    node = engine.nodes[rec.name]
    lay = built.layouts.get(rec.name)
    first = lay[0] if isinstance(lay, tuple) and lay and not isinstance(lay[0], L.Dim) else lay
    has_local = all(a is not None for a in rec.axes)
    axes = rec.axes if has_local else None
    return Layer(
        name=rec.name,
        op=node.op,
        kind=node.kind,
        output_size=list(node.output_size),
        rf=[a.rf for a in axes] if axes else None,
        rf_min=[a.rf_min for a in axes] if axes else None,
        jump=[float(a.jump) for a in axes] if axes else None,
        center=[float(a.center) for a in axes] if axes else None,
        effective_padding=[float(a.effective_padding) for a in axes] if axes else None,
        is_global=rec.is_global,
        aligned=rec.aligned,
        misalignment=rec.misalignment,
        position_dependent=bool(axes) and any(not a.affine for a in axes),
        border_units=rec.border_units if axes else [None] * naxes,
        # a tuple-valued node (a split, NaFlexViT's embeds) is no tensor the probe can read
        layout=L.layout_name(first, naxes) if isinstance(first, tuple) and first is lay else "other",
        notes=built.notes.get(rec.name, []),
    )


def _device_of(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def _example(size: tuple[int, ...], channels: int, device: torch.device,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.zeros(1, channels, *size, device=device, dtype=dtype)


# The meta device only computes shapes; on a real device a huge input runs for minutes or
# exhausts memory (1 GiB of float32 input, and the activations are larger still).
MAX_REAL_INPUT_ELEMENTS = 2**28


def _shapes_or_explain(gm: fx.GraphModule, size: tuple[int, ...], channels: int,
                       device: torch.device, dtype: torch.dtype = torch.float32) -> dict[fx.Node, Any]:
    if device.type != "meta" and channels * math.prod(size) > MAX_REAL_INPUT_ELEMENTS:
        raise InputSizeError(f"input {channels}x{'x'.join(map(str, size))} is too large to run on "
                             f"the {device.type} (over {MAX_REAL_INPUT_ELEMENTS:,} values): give a smaller input size")
    try:
        return propagate(gm, _example(size, channels, device, dtype))
    except _NodeFailure as failure:
        if not looks_too_small(failure.err):
            # an assert in the model's code checks shapes, which the meta device has too
            kind = ModelRejectsInputError if isinstance(failure.err, AssertionError) else RfzooError
            raise kind(f"running {node_path(failure.node)} failed: {failure.err}".split("\n")[0]) from None
        smallest = _smallest_working(gm, size, channels, device, dtype)
        hint = f"; the smallest input that works is {'x'.join(map(str, smallest))}" if smallest else ""
        raise InputTooSmallError(
            f"input {'x'.join(map(str, size))} is too small: the output of {node_path(failure.node)} collapses{hint}"
        ) from None


def _smallest_working(gm: fx.GraphModule, size: tuple[int, ...], channels: int,
                      device: torch.device, dtype: torch.dtype) -> tuple[int, ...] | None:
    def works(scale_to: int) -> bool:
        trial = tuple(max(s, scale_to) for s in size)
        try:
            propagate(gm, _example(trial, channels, device, dtype))
            return True
        except _NodeFailure:
            return False

    hi = max(size)
    while not works(hi):
        hi *= 2
        if hi > 4096:
            return None
    lo = max(1, min(size))
    while lo < hi:
        mid = (lo + hi) // 2
        if works(mid):
            hi = mid
        else:
            lo = mid + 1
    return tuple(max(s, hi) for s in size)

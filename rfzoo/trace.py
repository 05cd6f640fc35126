"""Trace a model with torch.fx and record every node's output on the meta device.

Tracer settings are explicit: timm's registered leaf modules and autowrapped
functions for timm models, plain fx defaults otherwise. torchvision's feature
extraction tracer is deliberately not used: by default it makes every
`torchvision.ops` module a leaf, which hides the convolutions inside.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import fx, nn

from rfzoo.errors import InputTooSmallError, UntraceableModelError

# timm notrace modules that rfzoo traces through anyway, each with why that is exact.
TRACED_THROUGH = {
    # timm's reason: fx drops the in-place skipinit `out.mul_(gain)` from the data flow
    # (pytorch#68301). The node still runs in place, and a scalar gain never moves a
    # dependency, so the traced graph (convs, residual add, downsample shortcut) is exact.
    "NormFreeBlock": "in-place scalar skipinit gain",
}


def tracer_for(source: str) -> fx.Tracer:
    if source == "timm":
        from timm.layers import _fx as timm_fx

        leaves = tuple(m for m in timm_fx.get_notrace_modules() if m.__name__ not in TRACED_THROUGH)
        functions = tuple(f for f in timm_fx.get_notrace_functions() if callable(f))

        class TimmTracer(fx.Tracer):
            def __init__(self) -> None:
                super().__init__(autowrap_functions=functions)

            def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
                return isinstance(m, leaves) or super().is_leaf_module(m, qualname)

        return TimmTracer()
    return fx.Tracer()


def trace(model: nn.Module, source: str = "user") -> fx.GraphModule:
    """Symbolically trace `model`; an untraceable model raises a one-line error saying where."""
    tracer = tracer_for(source)
    try:
        graph = tracer.trace(model, concrete_args=_plain_default_args(model))
    except Exception as err:  # fx raises many types; all mean "cannot trace"
        raise UntraceableModelError(f"torch.fx cannot trace {type(model).__name__}: {_one_line(err)}") from None
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


def _plain_default_args(model: nn.Module) -> dict[str, Any] | None:
    """forward's extra arguments with a plain default (None, a flag, a number) are traced
    at that default.

    Left symbolic, `if mask is not None:` is taken as true and the graph reads a mask
    that never comes (timm's Hiera); given only some, fx makes the rest proxies and a
    flag such as `is_causal` breaks the trace (timm's ViT).
    """
    try:
        params = list(inspect.signature(model.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    plain = (type(None), bool, int, float, str)
    extra = {p.name: p.default for p in params if p.kind in kinds and isinstance(p.default, plain)
             and p.default is not inspect.Parameter.empty}
    return extra or None


def _thaw(value: Any) -> Any:
    """fx stores list arguments as immutable lists; wrapped library functions may mutate
    theirs (torchvision's 3D Swin `_get_window_and_shift_size`), so each call gets a copy."""
    if isinstance(value, fx.immutable_collections.immutable_list):
        return [_thaw(v) for v in value]
    if isinstance(value, fx.immutable_collections.immutable_dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


class _Recorder(fx.Interpreter):
    """Runs the graph once and keeps every node's value (meta tensors: shapes only)."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm, garbage_collect_values=False)
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        try:
            value = super().run_node(n)
        except Exception as err:
            raise _NodeFailure(n, err) from None
        self.values[n] = value
        return value

    def call_function(self, target: Any, args: tuple, kwargs: dict) -> Any:
        return super().call_function(target, tuple(_thaw(a) for a in args), {k: _thaw(v) for k, v in kwargs.items()})


class _NodeFailure(Exception):
    def __init__(self, node: fx.Node, err: Exception) -> None:
        super().__init__(str(err))
        self.node = node
        self.err = err


def node_path(node: fx.Node) -> str:
    return str(node.target) if node.op == "call_module" else node.name


def propagate(gm: fx.GraphModule, example: torch.Tensor) -> dict[fx.Node, Any]:
    """Every node's output for `example`. Raises _NodeFailure naming the failing node."""
    rec = _Recorder(gm)
    with torch.no_grad():
        rec.run(example)
    return rec.values


def run_shapes(gm: fx.GraphModule, example: torch.Tensor) -> dict[fx.Node, Any]:
    try:
        return propagate(gm, example)
    except _NodeFailure as failure:
        raise InputTooSmallError(
            f"input {tuple(example.shape[2:])} fails at {node_path(failure.node)}: {_one_line(failure.err)}"
        ) from None


def looks_too_small(err: Exception) -> bool:
    text = str(err).lower()
    return any(
        s in text
        for s in ("too small", "kernel size can't be greater", "non-positive", "output size is",
                  "padding should be", "input size", "must be greater", "calculated output size")
    )


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    name = type(err).__name__
    return f"{name}: {text[:300]}" if text else name

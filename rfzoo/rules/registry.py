"""The rule registry: what a handler gets (RuleContext), what it returns (NodeSpec),
and the map from module classes, functions and method names to handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import fx, nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.transforms import (
    Transform,
)

AxisMaps = tuple[Transform | None, ...]



@dataclass
class NodeSpec:
    kind: str
    op: str
    edges: list[tuple[fx.Node, AxisMaps]]
    layout: Any  # Layout, or a tuple of Layouts for tuple-valued nodes
    mixes_all: bool = False
    keeps_local: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class RuleContext:
    node: fx.Node
    module: nn.Module | None
    naxes: int
    values: dict[fx.Node, Any]
    layouts: dict[fx.Node, Any]
    depends: dict[fx.Node, bool]

    @property
    def where(self) -> str:
        target = self.node.target if self.node.op == "call_module" else self.node.name
        return str(target)

    @property
    def value(self) -> Any:
        return self.values[self.node]

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        if len(self.node.args) > index:
            return self.node.args[index]
        return self.node.kwargs.get(name, default)

    def concrete(self, x: Any) -> Any:
        """The traced value of an argument (nodes replaced by what they computed)."""
        return fx.node.map_arg(x, lambda n: self.values[n])

    def tensor_inputs(self) -> list[fx.Node]:
        """Input nodes that depend on the network input, in argument order, without repeats."""
        seen: list[fx.Node] = []
        for n in self.node.all_input_nodes:
            if self.depends.get(n) and n not in seen:
                seen.append(n)
        return seen

    def first_input(self) -> fx.Node:
        inputs = self.tensor_inputs()
        if not inputs:
            raise UnsupportedOpError(describe(self.node, self.module), self.where, "no input tensor")
        return inputs[0]

    def in_layout(self, n: fx.Node | None = None) -> L.Layout:
        lay = self.layouts[n if n is not None else self.first_input()]
        if isinstance(lay, tuple) and lay and not isinstance(lay[0], L.Dim):
            raise UnsupportedOpError(describe(self.node, self.module), self.where, "tuple input")
        return lay

    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)


Handler = Callable[[RuleContext], NodeSpec]
_RULES: dict[Any, Handler] = {}


def rule(*keys: Any) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for key in dict.fromkeys(keys):  # aliases (F.conv2d is torch.conv2d) count once
            if key in _RULES:
                raise ValueError(f"duplicate rule for {key!r}")
            _RULES[key] = fn
        return fn

    return register


def register_rule(key: Any, handler: Handler) -> None:
    """Public hook for a user's own module or function."""
    rule(key)(handler)


def describe(node: fx.Node, module: nn.Module | None) -> str:
    if node.op == "call_module" and module is not None:
        return type(module).__qualname__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    mod = getattr(target, "__module__", "") or ""
    return f"{mod}.{getattr(target, '__name__', str(target))}".lstrip(".")


def find_handler(node: fx.Node, module: nn.Module | None) -> Handler | None:
    if node.op == "call_module":
        assert module is not None
        for cls in type(module).__mro__:
            if cls in _RULES:
                return _RULES[cls]
            if cls.__qualname__ in _RULES:  # registered by name (optional libraries)
                return _RULES[cls.__qualname__]
        return None
    if node.op == "call_method":
        return _RULES.get(f"Tensor.{node.target}")
    found = _RULES.get(node.target)
    if found is None:  # functions fx keeps opaque (autowrapped), registered by name
        found = _RULES.get(getattr(node.target, "__name__", None))
    return found



"""Turn a traced fx graph into the engine's abstract graph, one rule per node."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx

from rfzoo import layout as L
from rfzoo.channel_ranges import ChannelRanges
from rfzoo.engine import Edge, GraphNode
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules import RuleContext, describe, find_handler
from rfzoo.trace import node_path


@dataclass
class BuiltGraph:
    nodes: list[GraphNode]
    fx_names: dict[str, str]  # layer name -> fx node name
    layouts: dict[str, Any]  # layer name -> output layout
    notes: dict[str, list[str]]
    unsupported: list[UnsupportedOpError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # layers downstream of an unsupported op


def _is_tensorish(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)) and value:
        # (tensor, int) pairs too (MViT's _unsqueeze): dropping them would silently cut the graph
        return any(isinstance(v, torch.Tensor) for v in value)
    return False


class _Namer:
    """Readable, unique layer names: module paths, and scope.op for functions."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def __call__(self, node: fx.Node) -> str:
        if node.op == "call_module":
            base = node_path(node)
        else:
            stack = node.meta.get("nn_module_stack") or {}
            scope = next(reversed(stack.values()))[0] if stack else ""
            op = re.sub(r"_\d+$", "", node.name)
            base = f"{scope}.{op}" if scope else op
        count = self.used.get(base, 0)
        self.used[base] = count + 1
        return base if count == 0 else f"{base}_{count}"


def build_graph(gm: fx.GraphModule, values: dict[fx.Node, Any], naxes: int, allow_partial: bool) -> BuiltGraph:
    depends: dict[fx.Node, bool] = {}
    layouts: dict[fx.Node, Any] = {}
    names: dict[fx.Node, str] = {}
    unknown: set[fx.Node] = set()
    namer = _Namer()
    channels = ChannelRanges()  # slices of a concatenation link to the branches they keep
    built = BuiltGraph([], {}, {}, {})
    seen_input = False
    for node in gm.graph.nodes:
        if node.op == "output":
            continue
        if node.op == "placeholder":
            value = values.get(node)
            is_input = not seen_input and isinstance(value, torch.Tensor)
            depends[node] = is_input
            if is_input:
                seen_input = True
                layouts[node] = L.input_layout(tuple(value.shape), naxes)
                names[node] = "input"
                built.nodes.append(GraphNode("input", "input", "input", [], L.axis_sizes(layouts[node], naxes),
                                             is_input=True))
                built.fx_names["input"] = node.name
                built.layouts["input"] = layouts[node]
            continue
        inputs = node.all_input_nodes
        if any(i in unknown for i in inputs):
            unknown.add(node)
            depends[node] = True
            built.skipped.append(node.name)
            continue
        value = values.get(node)
        dep = any(depends.get(i, False) for i in inputs)
        if node.op == "get_attr" or not dep or not _is_tensorish(value):
            depends[node] = False  # constants, parameters and shape arithmetic
            continue
        depends[node] = True
        module = gm.get_submodule(str(node.target)) if node.op == "call_module" else None
        handler = find_handler(node, module)
        try:
            if handler is None:
                raise UnsupportedOpError(describe(node, module), node_path(node))
            ctx = RuleContext(node, module, naxes, values, layouts, depends)
            spec = handler(ctx)
        except UnsupportedOpError as err:
            if not allow_partial:
                raise
            built.unsupported.append(err)
            unknown.add(node)
            continue
        except Exception as err:  # a rule that cannot read this node's arguments
            error = UnsupportedOpError(describe(node, module), node_path(node), f"{type(err).__name__}: {err}")
            if not allow_partial:
                raise error from err
            built.unsupported.append(error)
            unknown.add(node)
            continue
        name = namer(node)
        names[node] = name
        layouts[node] = spec.layout
        first_layout = spec.layout[0] if _is_tuple_layout(spec.layout) else spec.layout
        sizes = L.axis_sizes(first_layout or (), naxes)
        edges = channels.edges_for(node, spec, values)
        if edges is None:
            edges = [Edge(names[src], maps) for src, maps in spec.edges if src in names]
        channels.record(node, spec, values, names)
        built.nodes.append(
            GraphNode(name, spec.op, spec.kind, edges, sizes, mixes_all=spec.mixes_all, keeps_local=spec.keeps_local)
        )
        built.fx_names[name] = node.name
        built.layouts[name] = spec.layout
        if spec.notes:
            built.notes[name] = spec.notes
    return built


def _is_tuple_layout(lay: Any) -> bool:
    return isinstance(lay, tuple) and bool(lay) and not isinstance(lay[0], L.Dim)

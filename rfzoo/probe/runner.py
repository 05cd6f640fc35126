"""Run a traced model so that only *local* paths carry gradient.

The analytic RF that rfzoo reports for a node is its local RF: the input pixels
that reach the node without passing through a global-context op (global pooling,
a reduction over space, attention over all tokens, the pooled tensor of a
squeeze-excitation gate). To measure that RF with gradients, the global paths
must be held constant. `LocalRunner` is a `torch.fx.Interpreter` that

* detaches the outputs of the fx nodes named in ``detach`` (the analysis's
  ``global_context_nodes()``): their values are used, their gradient is not;
* evaluates normalizations whose statistics span spatial positions (GroupNorm,
  InstanceNorm with input statistics, LayerNorm over more than one trailing dim)
  with detached statistics, so that ``y = (x - mean.detach()) / std.detach()``:
  the per-pixel path stays, the global statistics path goes. LayerNorm over the
  channel dim only (ConvNeXt's LayerNorm2d, ViT token norms) is per position and
  is left alone;
* can stop as soon as the requested nodes are computed (``capture``), so that a
  stage early in the network is measured without running the rest.

Batch-norm must be in eval mode (the probe always calls ``model.eval()``): in
training mode its statistics would mix the samples of the batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.utils._pytree import tree_map

# the originals, captured before any patching, to recognize traced call_function nodes
_GROUP_NORM = F.group_norm
_LAYER_NORM = F.layer_norm
_INSTANCE_NORM = F.instance_norm


def _normalize_detached(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    with torch.no_grad():
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=False)
        inv_std = torch.rsqrt(var + eps)
    return (x - mean) * inv_std


def group_norm_detached(
    x: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """`F.group_norm` whose mean and variance carry no gradient."""
    n, c = x.shape[:2]
    y = _normalize_detached(x.reshape(n, num_groups, -1), (2,), eps).reshape(x.shape)
    shape = (1, c) + (1,) * (x.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def layer_norm_detached(
    x: torch.Tensor,
    normalized_shape: Iterable[int],
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """`F.layer_norm`; statistics detached only when they span more than one dim."""
    shape = (
        tuple(normalized_shape) if not isinstance(normalized_shape, int) else (normalized_shape,)
    )
    if len(shape) <= 1:  # over channels only: per position, keeps its real gradient
        return _LAYER_NORM(x, shape, weight, bias, eps)
    y = _normalize_detached(x, tuple(range(-len(shape), 0)), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def instance_norm_detached(
    x: torch.Tensor,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """`F.instance_norm`; with input statistics, those are detached."""
    if not use_input_stats:  # running statistics: a per-pixel affine map
        return _INSTANCE_NORM(
            x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
        )
    y = _normalize_detached(x, tuple(range(2, x.dim())), eps)
    shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


DETACHED_NORMS: dict[Callable[..., Any], Callable[..., Any]] = {
    _GROUP_NORM: group_norm_detached,
    _LAYER_NORM: layer_norm_detached,
    _INSTANCE_NORM: instance_norm_detached,
}

_NORM_MODULES = (nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


@contextlib.contextmanager
def detached_norm_functions() -> Iterator[None]:
    """Patch `torch.nn.functional`'s norms for the duration of one leaf module call.

    Leaf norm modules (torch's and timm's) look the functions up on the module
    object at call time, so patching the attributes reaches them.
    """
    saved = (F.group_norm, F.layer_norm, F.instance_norm)
    F.group_norm, F.layer_norm, F.instance_norm = (  # type: ignore[assignment]
        group_norm_detached,
        layer_norm_detached,
        instance_norm_detached,
    )
    try:
        yield
    finally:
        F.group_norm, F.layer_norm, F.instance_norm = saved  # type: ignore[assignment]


# Activations whose derivative is exactly zero on whole regions (ReLU below 0, ReLU6 and
# Hardtanh when saturated, Hardswish below -3): a unit whose only path to an input pixel
# runs through such a region in every sample hides that pixel from the support, and
# on narrow probe inputs (3 taps of a 3x3 kernel) whole channels are dead that way.
# Sigmoid and tanh belong here too: their derivative rounds to exactly zero once |x|
# passes ~40 (float64) or ~17 (float32), and randomly initialized nets get there.
# GhostNetV3's five summed branches reach 1e10 by block 8, so every DFC attention gate
# was exactly 0 or 1 and hid its branch.
_GATED_MODULES = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh)
_GATED_FUNCTIONS = frozenset({
    F.relu, torch.relu, F.relu6, F.hardtanh, F.hardswish, F.hardsigmoid,
    torch.clamp, torch.clamp_min, torch.clip,
    torch.sigmoid, F.sigmoid, torch.tanh, F.tanh,
})
_GATED_METHODS = frozenset({
    "relu", "relu_", "clamp", "clamp_", "clamp_min", "clamp_min_", "clip",
    "sigmoid", "sigmoid_", "tanh", "tanh_",
})
GATE_LEAK = 0.1  # gradient added through gated activations (values unchanged)


def _leaky(call: Callable[[torch.Tensor], Any], x: Any) -> Any:
    """`call(x)` with the same value but a derivative of at least GATE_LEAK everywhere.

    ``x - x.detach()`` is exactly zero, so the forward value is untouched; its
    derivative adds GATE_LEAK, which can only reveal paths the graph has, never
    invent one. The clone keeps in-place activations off `x`.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        return call(x)
    y = call(x.clone())
    return y + GATE_LEAK * (x - x.detach())


def _detach(value: Any) -> Any:
    return value.detach() if isinstance(value, torch.Tensor) else value


class LocalRunner(torch.fx.Interpreter):
    """An fx Interpreter that cuts global-context paths from the gradient."""

    def __init__(
        self,
        gm: torch.fx.GraphModule,
        detach: Iterable[str] = (),
        detach_norm_statistics: bool = True,
        leak_gates: bool = False,
    ) -> None:
        """`leak_gates` (the support check, not the ERF): gated activations pass at
        least GATE_LEAK of gradient everywhere, so no dead activation hides a path."""
        super().__init__(gm, garbage_collect_values=True)
        self.detach = frozenset(detach)
        self.detach_norm_statistics = detach_norm_statistics
        self.leak_gates = leak_gates
        known = {node.name for node in gm.graph.nodes}
        missing = self.detach - known
        if missing:
            raise ValueError(f"nodes to detach not in the graph: {sorted(missing)[:5]}")

    def run_node(self, n: torch.fx.Node) -> Any:
        out = super().run_node(n)
        if n.name in self.detach:
            out = tree_map(_detach, out)
        return out

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        if self.detach_norm_statistics and target in DETACHED_NORMS:
            return DETACHED_NORMS[target](*args, **kwargs)
        if self.leak_gates and target in _GATED_FUNCTIONS and args:
            return _leaky(lambda x: target(x, *args[1:], **kwargs), args[0])
        return super().call_function(target, args, kwargs)

    def call_method(self, target: Any, args: Any, kwargs: Any) -> Any:
        if self.leak_gates and target in _GATED_METHODS and args:
            return _leaky(lambda x: getattr(x, target)(*args[1:], **kwargs), args[0])
        return super().call_method(target, args, kwargs)

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        module = self.fetch_attr(target)
        if self.detach_norm_statistics and isinstance(module, _NORM_MODULES):
            with detached_norm_functions():
                return module(*args, **kwargs)
        if self.leak_gates and isinstance(module, _GATED_MODULES) and len(args) == 1:
            return _leaky(lambda x: module(x, **kwargs), args[0])
        return super().call_module(target, args, kwargs)

    def detaches_statistics(self, name: str) -> bool:
        """Whether node `name` is a norm this runner evaluates with detached statistics."""
        node = next((n for n in self.graph.nodes if n.name == name), None)
        if node is None:
            return False
        if node.op == "call_module":
            return isinstance(self.fetch_attr(node.target), _NORM_MODULES)
        return node.op == "call_function" and node.target in DETACHED_NORMS

    def capture(self, *args: Any, names: Iterable[str]) -> dict[str, Any]:
        """Run the graph until every node in `names` is computed; return their values."""
        wanted = set(names)
        known = {node.name for node in self.graph.nodes}
        if wanted - known:
            raise ValueError(f"nodes not in the graph: {sorted(wanted - known)[:5]}")
        self.env = {}
        self.args_iter = iter(args)
        captured: dict[str, Any] = {}
        for node in self.graph.nodes:
            if node.op == "output":
                break
            self.env[node] = self.run_node(node)
            if node.name in wanted:
                captured[node.name] = self.env[node]
                wanted.discard(node.name)
                if not wanted:
                    break
            # free what no later node reads (captured values are kept in `captured`)
            for dead in self.user_to_last_uses.get(node, []):
                del self.env[dead]
        self.env = {}
        return captured

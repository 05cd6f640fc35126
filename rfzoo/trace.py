"""Trace a model with torch.fx and record every node's output on the meta device.

Tracer settings are explicit: timm's registered leaf modules and autowrapped
functions for timm models, plain fx defaults otherwise. torchvision's feature
extraction tracer is deliberately not used: by default it makes every
`torchvision.ops` module a leaf, which hides the convolutions inside.
"""

from __future__ import annotations

import functools
import inspect
import re
from fractions import Fraction
from typing import Any

import torch
from torch import fx, nn

from rfzoo.errors import InputTooSmallError, RfzooError, UntraceableModelError
from rfzoo.opaque import opaque_methods

# timm notrace modules that rfzoo traces through anyway, each with why that is exact.
TRACED_THROUGH = {
    # timm's reason: fx drops the in-place skipinit `out.mul_(gain)` from the data flow
    # (pytorch#68301). `_thread_in_place_writes` puts it back, and a scalar gain never moves
    # a dependency, so the traced graph (convs, residual add, downsample shortcut) is exact.
    "NormFreeBlock": "in-place scalar skipinit gain",
}


def _opaque_timm_functions() -> tuple[Any, ...]:
    """timm functions rfzoo keeps whole, with a rule of their own (rfzoo/rules/timm_blocks.py):
    BoTNet's and HaloNet's relative-position logits shift rows through a padded flat view,
    which is exact only as a whole (each query row reads that query alone)."""
    from timm.layers import bottleneck_attn, halo_attn

    return (bottleneck_attn.rel_logits_1d, halo_attn.rel_logits_1d)


class _RankedProxy(fx.Proxy):
    """A proxy whose `ndim` is known when it is the model's input: `if x.ndim == 4:` picks
    the image branch instead of stopping the trace (timm's Gemma4 patch embedding)."""

    @property
    def ndim(self) -> Any:
        rank = self.node.meta.get("rfzoo_rank")
        if rank is not None:
            return rank
        return self.tracer.create_proxy("call_function", getattr, (self, "ndim"), {})


class RfzooTracer(fx.Tracer):
    """fx's tracer, with the input's rank known when the caller knows it (`input_rank`)."""

    input_rank: int | None = None
    _names_of: tuple[nn.Module, dict[int, str]] | None = None

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _RankedProxy(node, self)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        """fx's proxy for a parameter, found by identity in one dict: fx scans all the
        root's parameters on every access (MViTv2-H: 0.9 M steps, half its trace)."""
        if isinstance(attr_val, nn.Parameter):
            name = self._parameter_names().get(id(attr_val))
            if name is not None:
                if name not in parameter_proxy_cache:
                    factory = (None if not self.param_shapes_constant
                               else lambda node: fx.proxy.ParameterProxy(self, node, name, attr_val))
                    parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {},
                                                                    proxy_factory_fn=factory)
                return parameter_proxy_cache[name]
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def _parameter_names(self) -> dict[int, str]:
        """id -> the name fx would find first (named_parameters yields a shared one once)."""
        if self._names_of is None or self._names_of[0] is not self.root:
            self._names_of = (self.root, {id(p): n for n, p in self.root.named_parameters()})
        return self._names_of[1]

    def create_proxy(self, kind: str, target: Any, args: Any, kwargs: Any, name: str | None = None,
                     type_expr: Any = None, proxy_factory_fn: Any = None) -> fx.Proxy:
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        if kind == "placeholder" and not any(n.op == "placeholder" for n in self.graph.nodes if n is not proxy.node):
            proxy.node.meta["rfzoo_rank"] = self.input_rank
        return proxy


def tracer_for(source: str) -> RfzooTracer:
    if source == "timm":
        from timm.layers import _fx as timm_fx

        leaves = tuple(m for m in timm_fx.get_notrace_modules() if m.__name__ not in TRACED_THROUGH)
        functions = tuple(f for f in timm_fx.get_notrace_functions() if callable(f)) + _opaque_timm_functions()

        class TimmTracer(RfzooTracer):
            def __init__(self) -> None:
                super().__init__(autowrap_functions=functions)

            def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
                return isinstance(m, leaves) or super().is_leaf_module(m, qualname)

        return TimmTracer()
    return RfzooTracer()


def _holds_timm_modules(model: nn.Module) -> bool:
    """A user's model built from timm blocks traces as timm models do (its leaves, its
    wrapped functions): a timm attention block is the same block in any model."""
    return any(type(m).__module__.startswith("timm.") for m in model.modules())


def trace(model: nn.Module, source: str = "user", input_rank: int | None = None) -> fx.GraphModule:
    """Symbolically trace `model`; an untraceable model raises a one-line error saying where.

    `input_rank` (4 for images: N, C, H, W) answers the model's `x.ndim`; by default a timm
    model's declared input size gives it.
    """
    tracer = tracer_for("timm" if source == "timm" or _holds_timm_modules(model) else source)
    tracer.input_rank = input_rank if input_rank is not None else _declared_rank(model)
    try:
        with opaque_methods(model, tracer):
            graph = tracer.trace(model, concrete_args=_plain_default_args(model))
    except Exception as err:  # fx raises many types; all mean "cannot trace"
        raise UntraceableModelError(f"torch.fx cannot trace {type(model).__name__}: {_one_line(err)}") from None
    _thread_in_place_writes(graph)
    _copy_list_arguments(graph)
    root = _codegen_safe_root(tracer.root, graph)
    try:
        gm = fx.GraphModule(root, graph, type(model).__name__)
    except Exception as err:  # fx generates and compiles python code for the graph
        raise UntraceableModelError(f"torch.fx cannot compile {type(model).__name__}: {_one_line(err)}") from None
    gm.training = tracer.root.training
    return gm


# Library functions fx keeps whole that write into their first argument and return it.
IN_PLACE_FUNCTIONS = {
    # torchvision MViT v2's residual pooling: x[:, :, 1:] += q[:, :, 1:] (or x.add_(q)),
    # whose caller then reads x, not the call's result
    ("torchvision.models.video.mvit", "_add_shortcut"),
}


def _writes_in_place(node: fx.Node) -> bool:
    """Whether `node` writes its result into its first argument and returns that tensor:
    a tensor method such as `add_` (trailing underscore) or a known library function."""
    if not node.args or not isinstance(node.args[0], fx.Node):
        return False
    if node.op == "call_method":
        name = str(node.target)
        return name.endswith("_") and not name.startswith("_")
    if node.op == "call_function":
        target = node.target
        return (getattr(target, "__module__", None), getattr(target, "__name__", None)) in IN_PLACE_FUNCTIONS
    return False


def _thread_in_place_writes(graph: fx.Graph) -> None:
    """Make every later reader of a tensor written in place read the write's node.

    fx records `y.add_(z); w = f(y)` as f reading `y`'s node, so z's path would be missing
    from the data flow (pytorch#68301). The write returns that same tensor, so reading its
    node instead runs the same code and puts z on the path.
    """
    order = {node: i for i, node in enumerate(graph.nodes)}
    for node in list(graph.nodes):
        if not _writes_in_place(node):
            continue
        written = node.args[0]
        for user in list(written.users):
            if user is not node and order[user] > order[node]:
                user.replace_input_with(written, node)


def _copy_list_arguments(graph: fx.Graph) -> None:
    """Give each call of a library function fx kept whole fresh copies of its list arguments.

    fx stores list arguments as immutable lists, and every run of the graph (the shape
    recorder's and the probe's) would pass those: torchvision's 3D Swin
    `_get_window_and_shift_size` writes into its window list when the input is narrower than
    a window, which then raises TypeError. The copying shim keeps the function's name and
    module, so rules, layer names and labels are unchanged.
    """
    for node in graph.nodes:
        if node.op != "call_function" or not inspect.isfunction(node.target):
            continue
        package = (getattr(node.target, "__module__", "") or "").split(".")[0]
        if package in ("torch", "rfzoo") or not _holds_lists([*node.args, *node.kwargs.values()]):
            continue
        node.target = _copying(node.target)


def _holds_lists(values: list[Any]) -> bool:
    return any(isinstance(v, (list, dict)) for v in values)  # fx's immutable ones subclass these


_COPYING: dict[Any, Any] = {}


def _copying(fn: Any) -> Any:
    """`fn`, called with mutable copies of its list and dict arguments (one shim per function)."""
    if fn not in _COPYING:
        @functools.wraps(fn)
        def shim(*args: Any, **kwargs: Any) -> Any:
            return fn(*(_thaw(a) for a in args), **{k: _thaw(v) for k, v in kwargs.items()})

        _COPYING[fn] = shim
    return _COPYING[fn]


def _thaw(value: Any) -> Any:
    """A mutable copy of fx's immutable lists and dicts, nested ones included."""
    if isinstance(value, fx.immutable_collections.immutable_list):
        return [_thaw(v) for v in value]
    if isinstance(value, fx.immutable_collections.immutable_dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


def _declared_rank(model: nn.Module) -> int | None:
    """1 + len(input_size) of a timm model's pretrained config ((3, H, W): 4), else None."""
    cfg = getattr(model, "pretrained_cfg", None)
    size = cfg.get("input_size") if isinstance(cfg, dict) else None
    return 1 + len(size) if isinstance(size, (tuple, list)) and size else None


def _codegen_safe_root(root: nn.Module, graph: fx.Graph) -> nn.Module | dict[str, Any]:
    """fx writes submodule paths into its generated code between double quotes, so a path
    holding a quote or a backslash (`add_module('say "hi"', ...)`) is a SyntaxError. Such
    nodes get a plain target; the original path stays in meta for layer names."""
    refs = [n for n in graph.nodes if n.op in ("call_module", "get_attr")]
    if all(_codegen_safe(str(n.target)) for n in refs):
        return root
    attributes: dict[str, Any] = {}
    taken = {str(n.target) for n in refs}
    for node in refs:
        value = _attr(root, str(node.target))
        if not _codegen_safe(str(node.target)):
            node.meta["rfzoo_target"] = str(node.target)
            plain = re.sub(r"\W", "_", str(node.target))  # one flat name: no new nested attributes
            while plain in taken:
                plain += "_"
            node.target = plain
            taken.add(plain)
        attributes[str(node.target)] = value
    return attributes


def _codegen_safe(path: str) -> bool:
    return path.isprintable() and '"' not in path and "\\" not in path


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

    def call_module(self, target: Any, args: tuple, kwargs: dict) -> Any:
        module = self.fetch_attr(target)
        if isinstance(module, nn.RNNBase) and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            return rnn_shapes(module, args[0])
        return super().call_module(target, args, kwargs)


def rnn_shapes(rnn: nn.RNNBase, x: torch.Tensor) -> Any:
    """What an LSTM/GRU/RNN returns for `x`, as empty meta tensors: torch runs a recurrence
    on meta step by step through decompositions (Sequencer2d-L: 14 s of a 15 s analysis)."""
    directions = 2 if rnn.bidirectional else 1
    out_size = rnn.proj_size if getattr(rnn, "proj_size", 0) else rnn.hidden_size
    batched = x.dim() == 3
    batch = () if not batched else (x.shape[0] if rnn.batch_first else x.shape[1],)
    output = x.new_empty((*x.shape[:-1], directions * out_size))
    h = x.new_empty((directions * rnn.num_layers, *batch, out_size))
    if isinstance(rnn, nn.LSTM):
        return output, (h, x.new_empty((directions * rnn.num_layers, *batch, rnn.hidden_size)))
    return output, h


class _NodeFailure(Exception):
    def __init__(self, node: fx.Node, err: Exception) -> None:
        super().__init__(str(err))
        self.node = node
        self.err = err


def node_path(node: fx.Node) -> str:
    """A module's path as the user wrote it, else the fx node's name."""
    if node.op == "call_module":
        return str(node.meta.get("rfzoo_target", node.target))
    return node.name


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


# -- what the model's input is: its spatial axes and channels, read from the graph --------------

# Ops after which a tensor's channels are no longer a multiple of the input's we can follow.
_CHANNEL_MIXERS = frozenset({
    "view", "reshape", "flatten", "unflatten", "permute", "transpose", "movedim", "moveaxis",
    "swapaxes", "squeeze", "unsqueeze", "stack", "einsum", "matmul", "bmm", "mm", "unfold", "fold",
    "split", "chunk", "tensorsplit", "unbind", "expand", "expandas", "repeat", "narrow", "indexselect",
    "gather", "sum", "mean", "amax", "amin", "max", "min", "prod", "std", "var", "norm", "logsumexp",
    "multiheadattention", "lstm", "gru", "rnn", "embedding", "embeddingbag", "bilinear", "transformer",
    "transformerencoder", "transformerdecoder", "transformerencoderlayer", "transformerdecoderlayer",
})
# Convolutions as functions; one whose weight cannot be found hides the input's channels.
_FUNCTIONAL_CONVS = frozenset({"conv1d", "conv2d", "conv3d"})
# Ops that read the input's shape, not its values: they carry no channels.
_SHAPE_QUERIES = frozenset({"getattr", "size", "dim", "numel"})

_GIVE_CHANNELS = "pass in_channels= (--in-channels N)"
# A tensor's channels as a multiple of the input's, or (str) the op after which that is unknown.
Factor = Fraction | str


def input_axes(gm: fx.GraphModule) -> int:
    """Spatial axes of the input: those of the first op on its path that has a dimension
    (Conv1d, max_pool3d, BatchNorm2d, ...); 2 when none does."""
    reached: set[fx.Node] = set()
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if not reached:
                reached.add(node)
            continue
        if not any(n in reached for n in node.all_input_nodes):
            continue
        reached.add(node)
        dims = _op_dims(gm, node)
        if dims:
            return dims
    return 2


def input_channels(gm: fx.GraphModule, naxes: int) -> int:
    """The input's channels, from the first op on its path that expects a known number
    (a convolution or a norm layer), accounting for channel-changing ops on the way
    (pixel_unshuffle, a space-to-depth cat of slices). Raises a one-line error
    naming `in_channels=` when the path hides the count; 3 when nothing reads it."""
    factors: dict[fx.Node, Factor] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if not factors:
                factors[node] = Fraction(1)
            continue
        if not any(n in factors for n in node.all_input_nodes) or _op_name(gm, node) in _SHAPE_QUERIES:
            continue
        data = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        expected = _expected_channels(gm, node)
        if expected is not None and data in factors:
            return _channels_from(expected, factors[data], _describe(gm, node))
        features = _linear_features(gm, node)
        if features is not None and data in factors:
            raise _not_an_image(features, factors[data], _describe(gm, node))
        factors[node] = _factor(gm, node, factors, naxes)
    return 3


def _op_name(gm: fx.GraphModule, node: fx.Node) -> str:
    """Normalized op name: Conv2d, conv2d and conv_2d all read "conv2d"."""
    if node.op == "call_module":
        name = type(gm.get_submodule(str(node.target))).__name__
    elif node.op == "call_method":
        name = str(node.target)
    else:
        name = getattr(node.target, "__name__", str(node.target))
    return name.lower().replace("_", "")


def _describe(gm: fx.GraphModule, node: fx.Node) -> str:
    if node.op == "call_module":
        return f"{type(gm.get_submodule(str(node.target))).__name__} {str(node.target)!r}"
    return repr(node.name)


def _op_dims(gm: fx.GraphModule, node: fx.Node) -> int | None:
    if node.op == "call_module":
        module = gm.get_submodule(str(node.target))
        if isinstance(module, nn.modules.conv._ConvNd):
            return len(module.kernel_size)
    name = _op_name(gm, node)
    if name in ("pixelshuffle", "pixelunshuffle"):
        return 2
    found = re.search(r"([123])d$", name)
    return int(found.group(1)) if found else None


def _expected_channels(gm: fx.GraphModule, node: fx.Node) -> int | None:
    """The channels `node` requires of its input, when it says."""
    if node.op == "call_module":
        module = gm.get_submodule(str(node.target))
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
        if isinstance(module, nn.modules.batchnorm._NormBase):  # BatchNorm, InstanceNorm
            return module.num_features
        if isinstance(module, nn.GroupNorm):
            return module.num_channels
        return None
    if node.op == "call_function" and _op_name(gm, node) in _FUNCTIONAL_CONVS:
        weight = _functional_conv_weight(gm, node)
        if weight is not None:
            groups = node.args[6] if len(node.args) > 6 else node.kwargs.get("groups", 1)
            return int(weight.shape[1]) * int(groups)
    return None


def _functional_conv_weight(gm: fx.GraphModule, node: fx.Node) -> torch.Tensor | None:
    weight = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
    if isinstance(weight, fx.Node) and weight.op == "get_attr":
        return _attr(gm, str(weight.target))
    # a computed weight (timm's standardized convs): the parameter of the conv module around it
    stack = node.meta.get("nn_module_stack") or {}
    path, cls = next(reversed(stack.values()), ("", None))
    if isinstance(cls, type) and issubclass(cls, nn.modules.conv._ConvNd):
        return _attr(gm, f"{path}.weight")
    return None


def _linear_features(gm: fx.GraphModule, node: fx.Node) -> int | None:
    if node.op == "call_module":
        module = gm.get_submodule(str(node.target))
        return module.in_features if isinstance(module, nn.Linear) else None
    if node.op == "call_function" and _op_name(gm, node) == "linear":
        weight = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
        if isinstance(weight, fx.Node) and weight.op == "get_attr":
            return int(_attr(gm, str(weight.target)).shape[1])
    return None


def _attr(root: nn.Module, path: str) -> Any:
    value: Any = root
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _channels_from(expected: int, factor: Factor, reader: str) -> int:
    if isinstance(factor, str):
        raise RfzooError(
            f"cannot tell how many channels the model's input has: it reaches {reader} "
            f"(which expects {expected}) through {factor}; {_GIVE_CHANNELS}"
        )
    channels = Fraction(expected) / factor
    if channels.denominator != 1 or channels < 1:
        raise RfzooError(
            f"cannot tell how many channels the model's input has: {reader} expects {expected}, "
            f"which is not {factor} times a whole number; {_GIVE_CHANNELS}"
        )
    return int(channels)


def _not_an_image(features: int, factor: Factor, reader: str) -> RfzooError:
    if isinstance(factor, str):  # flattened (or reshaped) on the way
        return RfzooError(
            f"the model's input reaches {reader} ({features} features) through {factor} before any "
            f"convolution: {_GIVE_CHANNELS} and an input size whose channels x pixels make {features}"
        )
    return RfzooError(
        f"the model's input goes into the linear layer {reader} ({features} features) before any convolution, "
        "so its last axis holds features, not pixels: rfzoo needs an image input (batch, channels, spatial axes)"
    )


def _factor(gm: fx.GraphModule, node: fx.Node, factors: dict[fx.Node, Factor], naxes: int) -> Factor:
    """`node`'s channels as a multiple of the input's."""
    known = [factors[n] for n in node.all_input_nodes if n in factors]
    lost = next((f for f in known if isinstance(f, str)), None)
    if lost is not None:
        return lost
    name = _op_name(gm, node)
    first = known[0]
    if name in ("pixelunshuffle", "pixelshuffle"):
        scale = _pixel_shuffle_scale(gm, node)
        if scale is None:
            return _describe(gm, node)
        return first * scale**2 if name == "pixelunshuffle" else first / scale**2
    if name in ("cat", "concat", "concatenate"):
        return _cat_factor(gm, node, factors, naxes)
    if name == "getitem":
        return first if _keeps_channel_axis(node.args[1], naxes) else _describe(gm, node)
    if name in _CHANNEL_MIXERS | _FUNCTIONAL_CONVS or any(f != first for f in known) or _foreign_leaf(gm, node):
        return _describe(gm, node)
    return first  # elementwise and per-channel ops keep the channels


def _foreign_leaf(gm: fx.GraphModule, node: fx.Node) -> bool:
    """A module fx did not trace into that is not torch.nn's (a timm leaf): it may do anything."""
    if node.op != "call_module":
        return False
    return not type(gm.get_submodule(str(node.target))).__module__.startswith("torch.nn")


def _pixel_shuffle_scale(gm: fx.GraphModule, node: fx.Node) -> int | None:
    if node.op == "call_module":
        module = gm.get_submodule(str(node.target))
        return getattr(module, "downscale_factor", None) or getattr(module, "upscale_factor", None)
    scale = node.args[1] if len(node.args) > 1 else next(iter(node.kwargs.values()), None)
    return scale if isinstance(scale, int) else None


def _cat_factor(gm: fx.GraphModule, node: fx.Node, factors: dict[fx.Node, Factor], naxes: int) -> Factor:
    tensors = node.args[0] if node.args else node.kwargs.get("tensors", ())
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    parts = [factors.get(t) if isinstance(t, fx.Node) else None for t in tensors]
    if not isinstance(dim, int) or any(p is None for p in parts):
        return _describe(gm, node)  # a constant's channels join in, or the axis is unknown
    if dim % (naxes + 2) == 1:  # along channels: a space-to-depth stem (Focus) adds them up
        return sum(parts, Fraction(0))  # type: ignore[arg-type]
    return parts[0] if all(p == parts[0] for p in parts) else _describe(gm, node)


def _keeps_channel_axis(index: Any, naxes: int) -> bool:
    """Whether `x[index]` keeps every channel of an input with `naxes` spatial axes."""
    if isinstance(index, slice):
        return True  # slices the batch
    if not isinstance(index, tuple) or any(i is None or isinstance(i, fx.Node) for i in index):
        return False
    if Ellipsis in index:
        at = index.index(Ellipsis)
        filler = (slice(None),) * max(0, naxes + 2 - (len(index) - 1))
        index = index[:at] + filler + index[at + 1:]
    return len(index) < 2 or index[1] == slice(None)

"""Library methods traced as one opaque call each: Python control flow on shapes inside them
stops torch.fx, so the tracer records a single node that runs the method when the graph runs.

A method that reads only shapes, dtypes and devices (or checks them) gives a constant: its
node does not depend on the input's values. A method that computes from the input has a
rule of its own under the name its node gets here, ``Class.method``
(`rfzoo/rules/timm_blocks.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from torch import fx, nn

Record = Callable[..., Any]  # record(target, *args): the node calling target(*args)
Adapter = Callable[[Callable[..., Any], str, Record], Callable[..., Any]]


def whole(method: Callable[..., Any], name: str, record: Record) -> Callable[..., Any]:
    """The method itself, called with its own arguments."""
    def target(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    target.__name__ = target.__qualname__ = name
    target.rfzoo_owner = getattr(method, "__self__", None)  # type: ignore[attr-defined] # its rule reads it
    return lambda *args, **kwargs: record(target, *args, **kwargs)


def from_positions(method: Callable[..., Any], name: str, record: Record) -> Callable[..., Any]:
    """Gemma4's 2D rotary table reads its first argument for its dtype and device only: the
    node takes those, so it depends on the patch coordinates (shape arithmetic) alone."""
    import torch

    def target(position_ids: Any, dtype: torch.dtype, device: torch.device) -> Any:
        return method(torch.empty(0, dtype=dtype, device=device), position_ids)

    target.__name__ = target.__qualname__ = name
    return lambda x, position_ids: record(target, position_ids, x.dtype, x.device)


# class name -> method -> how its call is recorded. timm's Gemma4 (gemma4_vit): a shape check,
# the default patch grid and the rotary table are shape arithmetic; the soft-token pooler bins
# tokens by their coordinates after an `if N % k**2` check (its rule: k x k cells).
OPAQUE: dict[str, dict[str, Adapter]] = {
    "Gemma4VitEncoder": {"_assert_raw_img_conformant": whole},
    "Gemma4PatchEmbed": {"_default_patch_coord": whole},
    "Gemma4RotaryEmbedding2D": {"forward": from_positions},
    "Gemma4VisionPooler": {"_avg_pool_by_positions": whole},
}


@contextlib.contextmanager
def opaque_methods(model: nn.Module, tracer: fx.Tracer) -> Iterator[None]:
    """While `model` is traced, each OPAQUE method of its modules records one call node."""
    def record(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # the node is named after the method: layer "pooler.avg_pool_by_positions"
        method = target.__name__.rsplit(".", 1)[-1].lstrip("_")
        return tracer.create_proxy("call_function", target, args, kwargs, name=method)

    patched: list[tuple[nn.Module, str]] = []
    try:
        for module in model.modules():
            for name, adapt in OPAQUE.get(type(module).__name__, {}).items():
                stand_in = adapt(getattr(module, name), f"{type(module).__name__}.{name}", record)
                setattr(module, name, stand_in)
                patched.append((module, name))
        yield
    finally:
        for module, name in patched:
            delattr(module, name)  # the class's method shows through again

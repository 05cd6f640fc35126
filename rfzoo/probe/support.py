"""Measure the nonzero support of the input gradient of one output unit.

The RF is a claim about gradients: input pixel x can change unit y iff some
path carries a nonzero derivative. The measurement, and why each part is there:

* float64: in float32 the gradient at the edge of a deep network's RF is a
  product of hundreds of factors and underflows to exactly zero;
* several random N(0, 1) inputs, union of supports: max pooling routes the
  gradient to one argmax per window and ReLU zeroes inactive paths, so one
  sample under-reports the box;
* all channels of the unit's position, mixed with random N(0, 1) coefficients:
  a dead channel cannot hide the position, and no symmetric cancellation;
* global-context paths detached (see `runner.LocalRunner`), so the support is
  the local RF that the analysis reports;
* parameters re-randomized beforehand (see `weights`), so no zero weight hides
  a branch.

A box is ``(first, last)`` input index per axis, inclusive; ``None`` when the
gradient is zero on that axis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rfzoo.probe.runner import LocalRunner
from rfzoo.probe.units import unit_values

Box = list[tuple[int, int] | None]


@dataclass(frozen=True)
class Support:
    """Result of one support measurement."""

    box: Box  # union over samples, per spatial axis
    sample_boxes: list[Box]  # per sample, to show what one sample would have said
    mask: np.ndarray  # bool, spatial input shape: any sample's gradient is nonzero


def mask_box(mask: np.ndarray) -> Box:
    """Bounding box of the True entries of `mask`, per axis."""
    box: Box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other) if other else mask)
        box.append((int(hits[0]), int(hits[-1])) if hits.size else None)
    return box


@dataclass(frozen=True)
class Target:
    """One output unit to probe: fx node, unit index and the node's spatial output size."""

    node: str
    unit: tuple[int, ...]
    output_size: tuple[int, ...] | None = None


def gradient_supports(
    runner: LocalRunner,
    targets: Sequence[Target],
    input_shape: Sequence[int],
    *,
    samples: int = 3,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    locate: Callable[[Target, torch.Tensor], Target | None] | None = None,
    scale: float = 1.0,
) -> list[Support | None]:
    """Like `gradient_support` for several targets: one forward pass, one backward per target.

    `locate`, when given, maps a target and its node's output tensor to the
    target to use (a narrow run learns its sizes across from the tensor), or None
    to skip it (its entry in the result is None). `scale` multiplies the objective:
    the backward pass is linear in it, so a float32 run can shift its gradients away
    from the underflow range (see `verify`).
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((samples, *input_shape), generator=gen, dtype=dtype)
    x.requires_grad_(True)
    outs = runner.capture(x, names={t.node for t in targets})
    results: list[Support | None] = []
    for k, target in enumerate(targets):
        out = outs[target.node]
        if locate is not None:
            found = locate(target, out)
            if found is None:
                results.append(None)
                continue
            target = found
        values = unit_values(out, target.output_size, target.unit)
        coeffs = torch.randn(values.shape[1], generator=gen, dtype=torch.float64)
        objective = (values * coeffs.to(values.dtype)).sum() * scale
        (grad,) = torch.autograd.grad(objective, x, retain_graph=k < len(targets) - 1)
        per_sample = (grad != 0).any(dim=1).numpy()  # (samples, *spatial)
        mask = per_sample.any(axis=0)
        boxes = [mask_box(m) for m in per_sample]
        results.append(Support(box=mask_box(mask), sample_boxes=boxes, mask=mask))
    return results


def gradient_support(
    runner: LocalRunner,
    node: str,
    input_shape: Sequence[int],
    unit: Sequence[int],
    output_size: Sequence[int] | None = None,
    *,
    samples: int = 3,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> Support:
    """Support of d(unit)/d(input) over `samples` random inputs of shape ``(C, *spatial)``.

    The graph module behind `runner` must already hold parameters of `dtype`.
    """
    target = Target(node, tuple(unit), tuple(output_size) if output_size is not None else None)
    (support,) = gradient_supports(
        runner, [target], input_shape, samples=samples, dtype=dtype, seed=seed
    )
    assert support is not None
    return support

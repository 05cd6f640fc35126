"""Parameters for gradient probes: a documented random init (the default) or the user's weights.

Why re-randomize: library inits zero some paths on purpose. timm's
``zero_init_last`` zeroes the last norm of each residual branch and ConvNeXt's
layer scale starts at 1e-6; a zero weight hides a whole branch from the
gradient, so the measured support would under-report the RF. The probe
therefore draws every parameter from one generic, seeded distribution in which
no entry is zero:

* tensors with 2+ dims (conv, linear, embeddings): ``N(0, 1/fan_in)`` with
  ``fan_in = numel / shape[0]`` (in-channels/groups x kernel area for a conv);
* 1-dim tensors named ``*bias`` / ``*beta``: ``U(-0.1, 0.1)``;
* every other 1-dim or scalar tensor (norm weights, layer scales, gammas):
  ``U(0.5, 1.5)``, so layer scales are O(1) instead of 1e-6;
* exact zeros drawn by chance are replaced by ``1/sqrt(fan_in)``;
* BatchNorm running statistics: mean 0, variance 1 (with ``model.eval()`` a
  BatchNorm is then the per-channel affine map ``weight * x + bias``).

Parameters are visited in sorted name order from a ``torch.Generator`` seeded
with ``seed``, so the same model and seed give the same weights.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from rfzoo.errors import RfzooError

INIT_DESCRIPTION = (
    "random: weights N(0, 1/fan_in), biases U(-0.1, 0.1), norm weights and layer scales "
    "U(0.5, 1.5), no zero entries; BatchNorm eval with running mean 0, var 1"
)
RANDOM_LABEL = "random"


class WeightsError(RfzooError):
    """A weights file that cannot be read or does not fit the model."""


_LIBRARY_INITS = (
    "normal_",
    "uniform_",
    "trunc_normal_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "orthogonal_",
)


@contextlib.contextmanager
def skipped_library_init() -> Iterator[None]:
    """Make `torch.nn.init`'s random fills no-ops while a model is built.

    `randomize_` redraws every parameter afterwards, so the library's own init
    (about a second for ResNet-50) is wasted work. Only random fills are
    skipped: constants (zeros, ones) still run, and buffers are not set by them.
    """
    saved = {name: getattr(nn.init, name) for name in _LIBRARY_INITS}
    for name in _LIBRARY_INITS:
        setattr(nn.init, name, _keep)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


def _keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    return tensor


@torch.no_grad()
def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Re-draw every parameter of `model` in place from the documented init; returns `model`."""
    gen = torch.Generator().manual_seed(seed)
    for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        _draw_(name, param, gen)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
            if module.running_mean is not None:
                module.running_mean.zero_()
            if module.running_var is not None:
                module.running_var.fill_(1.0)
    return model


def _draw_(name: str, param: torch.Tensor, gen: torch.Generator) -> None:
    """Fill `param` in place (drawn in float32 on the CPU: fast, and a fixed stream per seed)."""
    shape = tuple(param.shape)
    leaf = name.rsplit(".", 1)[-1]
    values = torch.empty(shape, dtype=torch.float32)
    if len(shape) >= 2:
        fan_in = max(1, math.prod(shape) // shape[0])
        values.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=gen)
        fill = 1.0 / math.sqrt(fan_in)
    elif leaf.endswith("bias") or leaf.endswith("beta"):
        values.uniform_(-0.1, 0.1, generator=gen)
        fill = 0.05
    else:
        values.uniform_(0.5, 1.5, generator=gen)
        fill = 1.0
    if not bool(values.all()):
        values[values == 0] = fill
    param.copy_(values)


def load_weights_(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a state dict saved with `torch.save` into `model` (strict); returns `model`.

    Accepts a bare state dict or a checkpoint dict holding one under
    ``state_dict`` / ``model`` / ``state_dict_ema``.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user error
        raise WeightsError(f"cannot read weights {path}: {type(err).__name__}: {err}") from None
    if isinstance(state, dict):
        for key in ("state_dict", "model", "state_dict_ema"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state dict")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:2])
        raise WeightsError(f"weights {path} do not fit the model: {detail[:300]}") from None
    _check_finite(model, path)
    return model


def _check_finite(model: nn.Module, path: Path) -> None:
    """NaN or infinite weights would make every gradient map NaN: say so before computing."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() or tensor.is_complex():
            if bool(torch.isnan(tensor).any()):
                raise WeightsError(f"weights {path} hold NaN in {name}")
            if bool(torch.isinf(tensor).any()):
                raise WeightsError(f"weights {path} hold infinite values in {name}")


def prepare_weights_(model: nn.Module, weights: str | Path | None, seed: int = 0) -> str:
    """Randomize (default) or load `weights` into `model`; returns the label for the JSON."""
    if weights is None:
        randomize_(model, seed)
        return RANDOM_LABEL
    load_weights_(model, weights)
    return f"file:{Path(weights).name}"

"""Find a model by name and build it without weights.

Names: ``torchvision/resnet50``, ``timm/convnext_tiny``, a bare name when only one
library has it, or a user's own ``path/to/file.py:Factory`` / ``package.module:Factory``.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfzoo.errors import RfzooError, UnknownModelError

if TYPE_CHECKING:  # torch is imported where a model is built: naming a model stays fast
    from torch import nn

DEFAULT_IMAGE_SIZE = 224


@dataclass(frozen=True)
class ModelSpec:
    source: str  # "torchvision", "timm" or "user"
    name: str

    @property
    def full_name(self) -> str:
        """The model's label: `user/nets.py:Net` for `path/to/nets.py:Net` (no path, no `//`)."""
        if self.source == "user":
            target, _, attr = self.name.rpartition(":")
            return f"user/{Path(target).name}:{attr}" if _is_path(target) else f"user/{self.name}"
        return f"{self.source}/{self.name}"

    def build(self, device: str = "meta") -> nn.Module:
        """The module to analyze, in eval mode, randomly initialized (never downloads weights)."""
        from torch import nn

        factory = _factory(self)
        try:
            model = _run_factory(factory, device)
        except RfzooError:
            raise
        except Exception as err:
            raise RfzooError(f"building {self.full_name} failed: {type(err).__name__}: {err}") from None
        if not isinstance(model, nn.Module):
            raise RfzooError(f"{self.full_name}: factory returned {type(model).__name__}, not an nn.Module")
        return model.eval()

    def default_input_size(self) -> tuple[int, ...]:
        """Spatial input size: timm's pretrained_cfg, torchvision's weights metadata, else 224."""
        if self.source == "timm":
            import timm

            cfg = timm.get_pretrained_cfg(self.name)
            size = getattr(cfg, "input_size", None) if cfg else None
            return tuple(size[1:]) if size else (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
        if self.source == "torchvision":
            return _torchvision_input_size(self.name)
        return (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)

    @property
    def in_channels(self) -> int:
        if self.source == "timm":
            import timm

            cfg = timm.get_pretrained_cfg(self.name)
            size = getattr(cfg, "input_size", None) if cfg else None
            return int(size[0]) if size else 3
        if self.source == "torchvision" and _torchvision_task_module(self.name) == "optical_flow":
            from rfzoo.optical_flow import FRAME_CHANNELS

            return 2 * FRAME_CHANNELS  # RAFT's two RGB frames, stacked (rfzoo/optical_flow.py)
        return 3


@functools.cache
def torchvision_names() -> tuple[str, ...]:
    import torchvision

    return tuple(sorted(torchvision.models.list_models()))


@functools.cache
def timm_names() -> tuple[str, ...]:
    import timm

    return tuple(sorted(timm.list_models()))


REPO_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def _indexed_names() -> dict[str, frozenset[str]] | None:
    """Every torchvision and timm name, from the committed full index, when the installed
    libraries are the versions the lock file pins (the ones that index was built with).
    Answers "is this a model?" in milliseconds, where importing the libraries takes seconds;
    None (ask the libraries) in any other setting, such as an installed rfzoo."""
    from importlib import metadata

    try:
        lock = (REPO_ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
        for lib in ("torchvision", "timm"):
            if f"\n{lib}=={metadata.version(lib)}\n" not in f"\n{lock}\n":
                return None
        rows = json.loads((REPO_ROOT / "data" / "index.json").read_text(encoding="utf-8"))["models"]
        names: dict[str, set[str]] = {"torchvision": set(), "timm": set()}
        for row in rows:
            names[row["source"]].add(row["name"])
    except (OSError, ValueError, KeyError, TypeError, metadata.PackageNotFoundError):
        return None
    if not names["torchvision"] or not names["timm"]:
        return None
    return {lib: frozenset(found) for lib, found in names.items()}


def _names(source: str) -> frozenset[str] | tuple[str, ...]:
    indexed = _indexed_names()
    if indexed is not None:
        return indexed[source]
    return torchvision_names() if source == "torchvision" else timm_names()


def resolve(name: str) -> ModelSpec:
    """A ModelSpec for a name; unknown names raise UnknownModelError with the closest names."""
    if ":" in name and not name.startswith(("torchvision/", "timm/")):
        return ModelSpec("user", name)
    source, _, bare = name.rpartition("/")
    if source in ("torchvision", "timm"):
        names = sorted(_names(source))
        if bare in names:
            return ModelSpec(source, bare)
        raise UnknownModelError(_unknown(name, [f"{source}/{n}" for n in names]))
    if source:
        raise UnknownModelError(f"unknown library {source!r} in {name!r}: use torchvision/NAME or timm/NAME")
    in_tv, in_timm = name in _names("torchvision"), name in _names("timm")
    if in_tv and in_timm:
        raise UnknownModelError(f"{name!r} is in both libraries: say torchvision/{name} or timm/{name}")
    if in_tv:
        return ModelSpec("torchvision", name)
    if in_timm:
        return ModelSpec("timm", name)
    everything = [f"torchvision/{n}" for n in sorted(_names("torchvision"))]
    everything += [f"timm/{n}" for n in sorted(_names("timm"))]
    raise UnknownModelError(_unknown(name, everything))


def _unknown(name: str, candidates: list[str]) -> str:
    by_bare: dict[str, list[str]] = {}
    for c in candidates:
        by_bare.setdefault(c.rpartition("/")[2], []).append(c)
    close = difflib.get_close_matches(name.rpartition("/")[2], list(by_bare), n=4, cutoff=0.6)
    names = [full for c in close for full in by_bare[c]][:6]
    hint = f"; closest: {', '.join(names)}" if names else ""
    return f"unknown model {name!r}{hint}"


def _run_factory(factory: Callable[[], Any], device: str) -> Any:
    import torch

    try:
        with torch.device(device):
            return factory()
    except Exception:
        if device != "meta":
            raise
    # A factory that computes with tensors (RegNet's block widths) cannot run on meta; run
    # it on the CPU with only its parameters and buffers on meta: no init, and no full-size
    # forward pass on the CPU later.
    with _parameters_on_meta():
        return factory()


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Every parameter and buffer a module registers goes to the meta device."""
    from torch import nn

    register_parameter, register_buffer = nn.Module.register_parameter, nn.Module.register_buffer

    def parameter_on_meta(module: nn.Module, name: str, param: Any) -> None:
        if param is not None:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(module, name, param)

    def buffer_on_meta(module: nn.Module, name: str, tensor: Any, persistent: bool = True) -> None:
        register_buffer(module, name, None if tensor is None else tensor.to("meta"), persistent)

    nn.Module.register_parameter = parameter_on_meta  # type: ignore[method-assign]
    nn.Module.register_buffer = buffer_on_meta  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
        nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]


def _factory(spec: ModelSpec) -> Callable[[], Any]:
    if spec.source == "torchvision":
        import torchvision

        builder = torchvision.models.get_model_builder(spec.name)
        kwargs: dict[str, Any] = {"weights": None}
        if "weights_backbone" in inspect.signature(builder).parameters:
            kwargs["weights_backbone"] = None  # segmentation/detection default to a pretrained backbone
        task = _torchvision_task_module(spec.name)
        if task == "optical_flow":  # two frames stacked as one input, the final flow out
            from rfzoo.optical_flow import two_frame_raft

            return functools.partial(two_frame_raft, functools.partial(builder, **kwargs))
        part = _TASK_PARTS.get(task)
        if part is not None:
            return functools.partial(_build_part, functools.partial(builder, **kwargs), part[0])
        return functools.partial(builder, **kwargs)
    if spec.source == "timm":
        import timm

        return functools.partial(timm.create_model, spec.name, pretrained=False)
    return _user_factory(spec.name)


def _user_factory(ref: str) -> Callable[[], Any]:
    target, _, attr = ref.rpartition(":")
    try:
        module = _load_file(target) if _is_path(target) else importlib.import_module(target)
    except RfzooError:
        raise
    except (Exception, SystemExit) as err:  # a user file may raise anything, sys.exit() included
        raise UnknownModelError(f"cannot import {target!r}: {_first_line(err)}") from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise UnknownModelError(f"{target!r} has no attribute {attr!r}")
    return factory


def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target


def _load_file(target: str) -> Any:
    """Run a python file as a fresh module (whatever its suffix: the loader is explicit)."""
    path = Path(target)
    if not path.is_file():
        raise UnknownModelError(f"no such file {target!r}")
    module_name = f"rfzoo_user_{abs(hash(path.resolve()))}"
    loader = importlib.machinery.SourceFileLoader(module_name, str(path))
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    loader.exec_module(module)
    return module


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def _torchvision_input_size(name: str) -> tuple[int, ...]:
    import torchvision

    task = _torchvision_task_module(name)
    if task == "detection":
        return _torchvision_detection_size(name)
    if task == "optical_flow":
        return OPTICAL_FLOW_INPUT_SIZE
    if torchvision.models.get_model_builder(name).__module__.endswith(".vision_transformer"):
        # ViTs built without weights take their builder's image_size (224), whatever the
        # first weights' crop: vit_h_14's first weights are 518 and the model asserts.
        import torch

        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None)
        return (int(model.image_size), int(model.image_size))

    try:
        weights = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        return (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
    first = next(iter(weights))
    keywords = getattr(first.transforms, "keywords", {}) or {}
    size = keywords.get("crop_size") or keywords.get("resize_size")
    if isinstance(size, int):
        spatial: tuple[int, ...] = (size, size)
    elif isinstance(size, (list, tuple)) and size:
        spatial = (size[0], size[0]) if len(size) == 1 else tuple(size)
    else:
        spatial = (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
    if name in _torchvision_video_names():
        return (VIDEO_CLIP_LENGTH, *spatial)  # video models take (T, H, W) clips
    return spatial


VIDEO_CLIP_LENGTH = 16

# Task models whose whole forward is not a receptive-field question: analyze the part
# the task heads read. torchvision submodule -> (attribute, what it is).
_TASK_PARTS = {
    "detection": ("backbone", "backbone and FPN (or SSD extra layers): the feature maps the heads read"),
}
# Sintel frames (436x1024) padded to a multiple of 8, as RAFT evaluates them.
OPTICAL_FLOW_INPUT_SIZE = (440, 1024)


def _torchvision_task_module(name: str) -> str:
    """torchvision.models submodule of a builder: "detection", "video", ... or ""."""
    import torchvision

    parts = torchvision.models.get_model_builder(name).__module__.split(".")
    return parts[2] if len(parts) > 3 else ""


def _build_part(build: Callable[[], nn.Module], attribute: str) -> nn.Module:
    return getattr(build(), attribute)


def analyzed_part(spec: ModelSpec) -> str | None:
    """What part of the model `build` returns, when it is not the whole model."""
    if spec.source != "torchvision":
        return None
    part = _TASK_PARTS.get(_torchvision_task_module(spec.name))
    return part[1] if part else None


def _torchvision_detection_size(name: str) -> tuple[int, int]:
    """The size GeneralizedRCNNTransform resizes a square image to (min_size)."""
    import torch
    import torchvision

    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None}
    with torch.device("meta"):
        model = torchvision.models.get_model_builder(name)(**kwargs)
    size = model.transform.min_size
    side = int(size[-1] if isinstance(size, (list, tuple)) else size)
    return (side, side)


@functools.cache
def _torchvision_video_names() -> frozenset[str]:
    import torchvision

    return frozenset(torchvision.models.list_models(module=torchvision.models.video))

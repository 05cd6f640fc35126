"""Which models the catalog holds: every torchvision and timm name, the curated default set, tasks.

Model ids are ``<source>/<name>`` strings; the source is ``torchvision``, ``timm`` or
``user`` (a ``path/to/file.py:Factory`` or ``package.module:Factory`` name). Listing
imports torchvision/timm lazily so a warm build of qualified names never imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCES = ("torchvision", "timm")

# The curated default catalog: every idea of the source documents appears at least once
# (plain chains, branching, dilation, upsampling heads, 3D, same-padding, transformers,
# declared-stride mismatches, multi-resolution merges).
DEFAULT_CATALOG: tuple[str, ...] = (
    "torchvision/alexnet",
    "torchvision/vgg16",
    "torchvision/resnet18",
    "torchvision/resnet50",
    "torchvision/resnet101",
    "torchvision/resnet152",
    "torchvision/googlenet",
    "torchvision/inception_v3",
    "torchvision/densenet121",
    "torchvision/mobilenet_v2",
    "torchvision/mobilenet_v3_large",
    "torchvision/efficientnet_b0",
    "torchvision/regnet_y_400mf",
    "torchvision/convnext_tiny",
    "torchvision/deeplabv3_resnet50",  # dilation + bilinear upsampling head
    "torchvision/fcn_resnet50",
    "torchvision/r3d_18",  # 3D video: time axis
    "torchvision/vit_b_16",
    "torchvision/swin_t",
    "torchvision/fasterrcnn_resnet50_fpn",  # detection: backbone + FPN feature maps
    "timm/inception_v4",
    "timm/inception_resnet_v2",
    "timm/mobilenetv1_100",
    "timm/tf_efficientnet_b0",  # TF "same" padding: asymmetric
    "timm/vit_base_patch16_224",
    "timm/swin_tiny_patch4_window7_224",
    "timm/mixer_b16_224",
    "timm/pit_ti_224",  # feature_info declares strides that are not the real ones
    "timm/hrnet_w18_small",  # multi-resolution branches merged by upsampling
    "timm/dla34",
)

# torchvision.models sub-module -> task
_TORCHVISION_TASK_MODULES = {
    "segmentation": "segmentation",
    "detection": "detection",
    "video": "video",
    "optical_flow": "optical_flow",
    "quantization": "quantized",
}

@dataclass(frozen=True, order=True)
class ModelRef:
    """One catalog entry: where the model comes from and the name its library uses."""

    source: str
    name: str

    @property
    def id(self) -> str:
        """`torchvision/resnet50`; a user model's id is its `file.py:Factory` name."""
        return self.name if self.source == "user" else f"{self.source}/{self.name}"

    @property
    def resolve_name(self) -> str:
        """The name to hand to `rfzoo.models.resolve`."""
        return self.id

    @property
    def file_stem(self) -> str:
        """A file-system-safe stem, stable for a given name."""
        return safe_stem(self.name)


def safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"
    return stem[:150]


def is_user_name(name: str) -> bool:
    """`path/to/file.py:Factory` or `package.module:Factory`."""
    module, sep, factory = name.rpartition(":")
    return bool(sep and module and factory.isidentifier())


def torchvision_names() -> list[str]:
    import torchvision.models

    return sorted(torchvision.models.list_models())


def timm_names() -> list[str]:
    import timm

    return sorted(timm.list_models())


def all_refs() -> list[ModelRef]:
    refs = [ModelRef("torchvision", n) for n in torchvision_names()]
    refs += [ModelRef("timm", n) for n in timm_names()]
    return sorted(refs)


def default_refs() -> list[ModelRef]:
    return [parse_ref(n) for n in DEFAULT_CATALOG]


def parse_ref(name: str) -> ModelRef:
    """`torchvision/x`, `timm/x`, a user `file.py:Factory`, or a bare name (looked up).

    Bare names are resolved against both libraries: a name both libraries ship is an
    error that lists both, as `rfzoo show` does.
    """
    from rfzoo.errors import UnknownModelError

    if is_user_name(name):
        return ModelRef("user", name)
    source, sep, rest = name.partition("/")
    if sep and source in SOURCES:
        return ModelRef(source, rest)
    matches = [s for s, names in (("torchvision", torchvision_names()), ("timm", timm_names()))
               if name in names]
    if len(matches) == 1:
        return ModelRef(matches[0], name)
    if len(matches) > 1:
        raise UnknownModelError(
            f"{name} is in both libraries: use torchvision/{name} or timm/{name}"
        )
    import difflib

    pool = [f"torchvision/{n}" for n in torchvision_names()] + [f"timm/{n}" for n in timm_names()]
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6) or difflib.get_close_matches(
        name, [p.split("/", 1)[1] for p in pool], n=3, cutoff=0.6
    )
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise UnknownModelError(f"unknown model {name}{hint}")


def task_of(ref: ModelRef) -> str:
    """classification, segmentation, detection, keypoint, video, optical_flow, quantized, user."""
    if ref.source == "user":
        return "user"
    if ref.source == "timm":
        return "classification"  # timm ships image backbones/classifiers only
    import torchvision.models

    builder = torchvision.models.get_model_builder(ref.name)
    parts = builder.__module__.split(".")
    sub = parts[2] if len(parts) > 3 else ""
    task = _TORCHVISION_TASK_MODULES.get(sub, "classification")
    if task == "detection" and ref.name.startswith("keypointrcnn"):
        return "keypoint"
    return task


def float_twin(ref: ModelRef) -> ModelRef | None:
    """The float model a torchvision quantized model is the quantizable copy of."""
    if ref.source == "torchvision" and ref.name.startswith("quantized_"):
        return ModelRef("torchvision", ref.name.removeprefix("quantized_"))
    return None


def shard(refs: list[ModelRef], index: int, count: int) -> list[ModelRef]:
    """Shard `index` (1-based) of `count`: every count-th model of the sorted list.

    Round-robin over the sorted ids balances neighbours of one family (similar cost)
    across shards; the split only has to be deterministic, since every shard reads the
    same committed cache.
    """
    return sorted(refs)[index - 1 :: count]

"""Which models the catalog holds: every torchvision and timm name, the curated default set, tasks.

Model ids are ``<source>/<name>`` strings; the source is ``torchvision``, ``timm`` or
``user`` (a ``path/to/file.py:Factory`` or ``package.module:Factory`` name). Listing
imports torchvision/timm lazily, and names the committed index holds are known without
them, so a warm build of such names never imports torch.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from rfzoo.catalog.naming import model_stem

SOURCES = ("torchvision", "timm")
COMMITTED_INDEX = Path(__file__).resolve().parents[2] / "data" / "index.json"

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
        """The stem of its files, safe in a path and a URL (rfzoo.catalog.naming)."""
        return model_stem(self.source, self.name)


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
    return [ModelRef(*name.split("/", 1)) for name in DEFAULT_CATALOG]


def parse_ref(name: str) -> ModelRef:
    """`torchvision/x`, `timm/x`, a user `file.py:Factory`, or a bare name; unknown names raise.

    Library names resolve as in `rfzoo show` (rfzoo.models.resolve): an unknown name lists
    the closest ones, a bare name both libraries ship lists both.
    """
    if is_user_name(name):
        return ModelRef("user", name)
    known = _committed_ref(name)
    if known is not None:
        return known
    from rfzoo.errors import UnknownModelError
    from rfzoo.models import resolve

    spec = resolve(name)  # imports torch and timm (7 s here) to list their names
    if spec.source == "user":  # a colon, but no `module:Factory`
        raise UnknownModelError(
            f"{name!r} is no model name: use torchvision/NAME, timm/NAME or path/file.py:Factory"
        )
    return ModelRef(spec.source, spec.name)


def _committed_ref(name: str) -> ModelRef | None:
    """The model a name means when the committed full index holds it; None when it does
    not, or when the bare name is in both libraries (rfzoo.models says so, with the names)."""
    ids = committed_ids()
    if name in ids:
        source, _, bare = name.partition("/")
        return ModelRef(source, bare)
    sources = [s for s in SOURCES if f"{s}/{name}" in ids]
    return ModelRef(sources[0], name) if len(sources) == 1 else None


@functools.cache
def committed_ids() -> frozenset[str]:
    """Ids in the committed full index (every torchvision and timm model of the locked
    versions): a name found there needs no torch import to be known. A library update
    may remove a name it lists; the build then records that model as failed."""
    try:
        with open(COMMITTED_INDEX, encoding="utf-8") as handle:
            rows = json.load(handle)["models"]
        return frozenset(f"{r['source']}/{r['name']}" for r in rows if r["source"] in SOURCES)
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()


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

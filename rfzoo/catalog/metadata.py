"""What the libraries say about a model (no weight downloads) and the stages of its RF table.

- family: timm's model module (``resnet``, ``vision_transformer``), torchvision's builder
  module (``resnet``, ``deeplabv3``);
- links: library docs and source, paper (timm ``paper_ids``, else the first arXiv link of
  the module docstring; torchvision: the builder docstring's first link), weights page,
  training recipe;
- params: torchvision weights metadata, else counted on the meta device;
- declared features: timm ``feature_info`` (``module``, ``reduction``);
- stages: from ``feature_info`` modules for timm, otherwise the nodes where a feature
  map of a new (coarser) resolution ends; each checked against the declared reduction.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rfzoo.catalog.cache import library_versions
from rfzoo.catalog.sources import ModelRef, float_twin

_URL = re.compile(r"https?://[^\s<>`'\")]+")


def _first_url(text: str | None, *, prefer: str = "arxiv.org") -> str | None:
    urls = [u.rstrip(".,;") for u in _URL.findall(text or "")]
    for url in urls:
        if prefer in url:
            return url
    return urls[0] if urls else None


def _tag(version: str | None) -> str:
    return f"v{version.split('+')[0]}" if version else "main"


# ---- torchvision --------------------------------------------------------------------


def _tv_builder(name: str) -> Any:
    import torchvision.models

    return torchvision.models.get_model_builder(name)


def _tv_weights(name: str) -> Any | None:
    import torchvision.models

    try:
        return torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError, KeyError):
        return None


def _tv_family(name: str) -> str:
    return _tv_builder(name).__module__.rsplit(".", 1)[-1]


def _tv_links(name: str) -> dict[str, str]:
    builder = _tv_builder(name)
    module = builder.__module__  # torchvision.models.segmentation.fcn
    public = module.rsplit(".", 1)[0] if module.count(".") >= 3 else "torchvision.models"
    links = {
        "docs": f"https://pytorch.org/vision/stable/models/generated/{public}.{builder.__name__}.html",
        "source": "https://github.com/pytorch/vision/blob/"
        f"{_tag(library_versions()['torchvision'])}/{module.replace('.', '/')}.py",
    }
    paper = _first_url(builder.__doc__)
    if paper:
        links["paper"] = paper
    weights = _tv_weights(name)
    recipe = weights.meta.get("recipe") if weights is not None else None
    if recipe:
        links["recipe"] = recipe
    return links


def _tv_params(name: str) -> int | None:
    weights = _tv_weights(name)
    if weights is not None and isinstance(weights.meta.get("num_params"), int):
        return int(weights.meta["num_params"])
    import torch
    import torchvision.models

    with torch.device("meta"):
        model = torchvision.models.get_model(name, weights=None)
    return count_params(model)


# ---- timm ---------------------------------------------------------------------------


def _timm_module(name: str) -> str | None:
    import timm.models._registry as registry

    return registry._model_to_module.get(name)


def _timm_links(name: str) -> dict[str, str]:
    from timm.models import get_pretrained_cfg

    module = _timm_module(name)
    links: dict[str, str] = {}
    if module:
        links["source"] = (
            "https://github.com/huggingface/pytorch-image-models/blob/"
            f"{_tag(library_versions()['timm'])}/timm/models/{module}.py"
        )
    cfg = get_pretrained_cfg(name)
    paper = None
    if cfg is not None and cfg.paper_ids:
        first = str(cfg.paper_ids).split(",")[0].strip()
        if first.lower().startswith("arxiv:"):
            paper = f"https://arxiv.org/abs/{first.split(':', 1)[1]}"
        elif first.startswith("http"):
            paper = first
    if paper is None and module:
        try:
            doc = importlib.import_module(f"timm.models.{module}").__doc__
        except ImportError:
            doc = None
        url = _first_url(doc)
        if url and "arxiv.org" in url:
            paper = url
    if paper:
        links["paper"] = paper
    if cfg is not None and cfg.hf_hub_id:
        links["weights"] = f"https://huggingface.co/{cfg.hf_hub_id.rstrip('/')}"
    return links


def build_timm_meta(name: str) -> Any | None:
    """The timm model on the meta device (no memory, no weights), or None."""
    import timm
    import torch

    try:
        with torch.device("meta"):
            return timm.create_model(name, pretrained=False)
    except Exception:  # noqa: BLE001 - metadata is best effort; the analysis reports errors
        return None


def timm_feature_info(model: Any) -> list[dict[str, Any]] | None:
    info = getattr(model, "feature_info", None)
    if not info:
        return None
    entries = info.get_dicts() if hasattr(info, "get_dicts") else list(info)
    out = []
    for entry in entries:
        if isinstance(entry, Mapping) and "module" in entry:
            out.append({"module": str(entry["module"]), "reduction": entry.get("reduction")})
    return out or None


# ---- common -------------------------------------------------------------------------


def count_params(model: Any) -> int:
    # Shared parameters are counted once, as nn.Module.parameters() yields them once.
    return int(sum(p.numel() for p in model.parameters()))


# torchvision module -> the family id timm gives the same architecture, so the two
# libraries' models of one architecture share a family page
_TV_FAMILY_AS_TIMM = {"inception": "inception_v3"}
TEST_FAMILY = "test"  # timm's tiny `test_*` nets: unit-test fixtures, not architectures


def family(ref: ModelRef) -> str | None:
    if ref.source == "torchvision":
        module = _tv_family(ref.name)
        return _TV_FAMILY_AS_TIMM.get(module, module)
    if ref.source == "timm":
        return TEST_FAMILY if ref.name.startswith("test_") else _timm_module(ref.name)
    return None


def links(ref: ModelRef) -> dict[str, str]:
    if ref.source == "torchvision":
        out = _tv_links(ref.name)
        twin = float_twin(ref)
        if twin is not None:
            out["float_model"] = twin.id
        return out
    if ref.source == "timm":
        return _timm_links(ref.name)
    return {}


def describe(ref: ModelRef) -> dict[str, Any]:
    """Cheap metadata (no model build): what a failed document still shows."""
    from rfzoo.catalog.sources import task_of

    meta: dict[str, Any] = {"family": None, "task": task_of(ref), "links": {}}
    try:
        meta["family"] = family(ref)
        meta["links"] = links(ref)
    except Exception:  # noqa: BLE001 - best effort; never fail a model for its links
        pass
    twin = float_twin(ref)
    if twin is not None:
        meta["alias_of"] = twin.id
    return meta


# ---- stages -------------------------------------------------------------------------


def _usable(layer: Mapping[str, Any]) -> bool:
    """A node with a local RF on every spatial axis."""
    for key in ("output_size", "rf", "jump"):
        value = layer.get(key)
        if not value or any(v is None for v in value):
            return False
    return True


def _level(jump: Sequence[float]) -> float:
    return math.prod(float(j) for j in jump)


def _under(name: str, module: str) -> bool:
    if not module:
        return True
    return name == module or name.startswith(module + ".")


def _stage_record(name: str, layer: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "node": layer["name"],
        "rf": layer["rf"],
        "rf_min": layer.get("rf_min"),
        "jump": layer["jump"],
        "output_size": layer["output_size"],
        "global": bool(layer.get("global")),
        "declared_reduction": None,
        "reduction_matches": None,
    }


def _jump_stages(layers: Sequence[Mapping[str, Any]], summary_node: str | None) -> list[dict]:
    """One stage per resolution: the end of the largest module that stays at that jump.

    Walking the graph in order, a new segment starts at the first node of a coarser
    jump. Within a segment, the stage is the module (dotted name prefix) holding the most
    nodes whose every node is at most that jump, e.g. ``layer1`` for a ResNet, a single
    ``features.3`` for VGG; its last node is where that resolution's feature map ends.
    """
    usable = [(i, layer) for i, layer in enumerate(layers) if _usable(layer)]
    starts: list[tuple[int, tuple]] = []
    top = -1.0
    for i, layer in usable:
        level = _level(layer["jump"])
        if level > top * (1 + 1e-9):
            starts.append((i, tuple(layer["jump"])))
            top = level
    stages = []
    for k, (start, jump) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(layers)
        members = [(i, ly) for i, ly in usable if start <= i < end and tuple(ly["jump"]) == jump]
        if all(ly.get("kind") == "input" for _, ly in members):
            continue
        level = _level(jump)
        best: tuple[int, int, str] | None = None  # (node count, last index, module)
        for _, layer in members:
            parts = layer["name"].split(".")
            for depth in range(1, len(parts) + 1):
                prefix = ".".join(parts[:depth])
                inside = [(j, ly) for j, ly in usable if _under(ly["name"], prefix)]
                if all(_level(ly["jump"]) <= level * (1 + 1e-9) and j < end for j, ly in inside):
                    score = (len(inside), inside[-1][0], prefix)
                    if best is None or score[:2] > best[:2]:
                        best = score
                    break
        if best is not None:
            stages.append(_stage_record(best[2], layers[best[1]]))
    by_name = {layer["name"]: layer for layer in layers}
    summary = by_name.get(summary_node or "")
    if summary is not None and _usable(summary):
        if stages and tuple(stages[-1]["jump"]) == tuple(summary["jump"]):
            if layers.index(summary) > layers.index(by_name[stages[-1]["node"]]):
                stages[-1] = _stage_record(summary["name"], summary)
        elif not stages or stages[-1]["node"] != summary["name"]:
            stages.append(_stage_record("output", summary))
    return stages


def _matches(jump: Sequence[float], reduction: Any) -> bool | None:
    if not isinstance(reduction, int | float):
        return None
    return all(math.isclose(float(j), float(reduction)) for j in jump)


def stages(
    layers: Sequence[Mapping[str, Any]],
    summary_node: str | None,
    feature_info: Sequence[Mapping[str, Any]] | None = None,
    outputs: Sequence[tuple[str, str]] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(stages, feature_info_mismatches) for a model's layer table.

    Stages come from, in order of preference: the library's declared features (timm
    feature_info); the model's own outputs when it returns several feature maps (a
    detection backbone's FPN levels, labelled by their keys); the jumps.
    """
    if not feature_info:
        by_name = {layer["name"]: layer for layer in layers}
        maps = [(label, by_name[n]) for label, n in outputs if n in by_name and _usable(by_name[n])]
        if len(maps) >= 2:
            return [_stage_record(label, layer) for label, layer in maps], []
        return _jump_stages(layers, summary_node), []
    usable = [layer for layer in layers if _usable(layer)]
    out, mismatches = [], []
    for entry in feature_info:
        module = str(entry["module"])
        inside = [ly for ly in usable if _under(ly["name"], module)]
        if not inside:  # fx may flatten names with underscores
            flat = module.replace(".", "_")
            inside = [ly for ly in usable if ly["name"] == flat or ly["name"].startswith(flat + "_")]
        reduction = entry.get("reduction")
        if not inside:
            out.append({"name": module, "node": None, "rf": None, "rf_min": None, "jump": None,
                        "output_size": None, "global": None, "declared_reduction": reduction,
                        "reduction_matches": None})
            continue
        record = _stage_record(module, inside[-1])
        record["declared_reduction"] = reduction
        record["reduction_matches"] = _matches(record["jump"], reduction)
        out.append(record)
        if record["reduction_matches"] is False:
            mismatches.append({"name": module, "node": record["node"],
                               "declared_reduction": reduction, "jump": record["jump"]})
    return out, mismatches

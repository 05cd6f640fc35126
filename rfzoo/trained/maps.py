"""`rfzoo erf` with real images or library weights: the model, its inputs, its gradient maps.

Weights: ``random`` (the probe's documented init, `rfzoo.probe.weights`), ``pretrained``
(the library's own, `rfzoo.trained.weights`) or a state dict file. Inputs: the images of a
folder through the model's own preprocessing (`rfzoo.trained.images`), or N(0, 1) noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from rfzoo.errors import RfzooError
from rfzoo.models import ModelSpec, resolve
from rfzoo.probe.api import GradientMap
from rfzoo.probe.weights import INIT_DESCRIPTION, load_weights_, randomize_
from rfzoo.trained.erf import (
    averaged_maps,
    noise_inputs,
    stage_entry,
    stage_targets,
    trace_for_maps,
)
from rfzoo.trained.images import (
    PHOTO_DIR,
    Preprocessing,
    image_files,
    load_images,
    preprocessing_for,
    to_batch,
)
from rfzoo.trained.weights import load_pretrained

RANDOM, PRETRAINED = "random", "pretrained"


@dataclass
class ImageSet:
    folder: Path
    names: list[str]  # file names, sorted
    images: list[Any]  # RGB PIL images

    @classmethod
    def read(cls, folder: str | Path | None = None) -> ImageSet:
        """The images of `folder` (default: the bundled photos), read now."""
        files = image_files(PHOTO_DIR if folder is None else folder)
        return cls(files[0].parent, [f.name for f in files], load_images(files))


@dataclass
class Weighted:
    model: nn.Module
    label: str  # "random", "pretrained:<weights id>", "file:<name>"
    weights_id: str | None


def with_weights(spec: ModelSpec, weights: str, seed: int = 0) -> Weighted:
    """`spec` on the CPU with random, pretrained or file weights."""
    if weights == PRETRAINED:
        pre = load_pretrained(spec)
        return Weighted(pre.model, f"{PRETRAINED}:{pre.weights_id}", pre.weights_id)
    model = spec.build("cpu")
    if weights == RANDOM:
        randomize_(model, seed)
        return Weighted(model, RANDOM, None)
    load_weights_(model, weights)
    return Weighted(model, f"file:{Path(weights).name}", None)


def measure(
    name: str,
    *,
    weights: str = RANDOM,
    images: ImageSet | None = None,
    samples: int = 8,
    seed: int = 0,
    nodes: Sequence[str] | None = None,
    input_size: Sequence[int] | None = None,
    in_channels: int | None = None,
) -> tuple[list[GradientMap], Preprocessing | None]:
    """Gradient maps of a library model's stages (or `nodes`) over `images`, else noise."""
    from rfzoo.analysis import library_input

    spec = resolve(name)
    if spec.source == "user":
        raise RfzooError(f"{spec.full_name}: --weights pretrained and --images need a torchvision or "
                         "timm model (its weights and preprocessing)")
    if images is not None and input_size:
        raise RfzooError("--input-size does not apply to --images: the model's preprocessing sets the size")
    size, channels = library_input(spec, tuple(input_size) if input_size else None, in_channels)
    weighted = with_weights(spec, weights, seed)
    prep = None
    if images is not None:
        prep = preprocessing_for(spec, weighted.model)
        batch = to_batch(images.images, prep)
        size = prep.input_size
    traced = trace_for_maps(weighted.model, spec.source, size, channels)
    inputs = batch if images is not None else noise_inputs(traced, samples, seed)
    targets = stage_targets(traced, nodes, label=spec.full_name)
    maps = averaged_maps(traced, targets, inputs)
    init = INIT_DESCRIPTION if weights == RANDOM else ""
    out = []
    for st, grad_map in zip(targets, maps, strict=True):
        entry = stage_entry(st, grad_map, size)
        metrics = {k: entry[k] for k in ("radius", "erf_trf_ratio", "offset", "std")}
        out.append(GradientMap(spec.full_name, st.name, tuple(size), st.target.unit, st.rf_box,
                               grad_map, metrics, entry["heatmap"], weighted.label, init))
    return out, prep


def both_maps(spec: ModelSpec, images: ImageSet, seed: int = 0) -> dict[str, Any]:
    """Pretrained and random-init maps of every stage on the same preprocessed images.

    The pretrained model is measured first, then re-drawn in place with the documented random
    init (one copy of the weights in memory) and measured again on the same batch.
    """
    from rfzoo.trace import trace

    pre = load_pretrained(spec)
    prep = preprocessing_for(spec, pre.model)
    batch = to_batch(images.images, prep)
    traced = trace_for_maps(pre.model, spec.source, prep.input_size, spec.in_channels)
    targets = stage_targets(traced, label=spec.full_name)
    maps = {PRETRAINED: [stage_entry(st, m, prep.input_size)
                         for st, m in zip(targets, averaged_maps(traced, targets, batch), strict=True)]}
    randomize_(pre.model, seed)
    traced.gm = trace(pre.model, spec.source)
    maps[RANDOM] = [stage_entry(st, m, prep.input_size)
                    for st, m in zip(targets, averaged_maps(traced, targets, batch), strict=True)]
    return {
        "input_size": list(prep.input_size),
        "preprocessing": prep.description,
        "weights_id": pre.weights_id,
        "maps": maps,
    }

"""The images an ERF is averaged over, and the model's own preprocessing of them.

Default image set: the bundled photographs (``docs/assets/photos/*.jpg``, the unit picker's
photos). Preprocessing is the library's evaluation transform of the model's pretrained
weights, so random-init and pretrained maps see the same pixels:

* timm: ``create_transform(**resolve_model_data_config(model))`` (resize, center crop,
  normalize with the weights' mean and std);
* torchvision classification and video: ``weights.transforms()`` of the default weights (a
  video model gets a still clip: the photo repeated over the clip's frames);
* torchvision segmentation: ``weights.transforms()`` (shorter side resized, normalized), then
  a center crop to the catalog's square input size, so the images stack into one batch;
* torchvision detection: what ``GeneralizedRCNNTransform`` hands the backbone (ImageNet
  normalization, shorter side resized to ``min_size``), center-cropped to a square.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rfzoo.errors import RfzooError
from rfzoo.models import REPO_ROOT, ModelSpec

PHOTO_DIR = REPO_ROOT / "docs" / "assets" / "photos"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImagesError(RfzooError):
    """An image folder that is missing, empty or holds an unreadable image."""


@dataclass
class Preprocessing:
    description: str  # one line, stored with the maps
    input_size: tuple[int, ...]  # spatial size of a preprocessed image (T, H, W for video)
    transform: Callable[[Any], torch.Tensor]  # PIL image -> (C, *input_size) float tensor


def image_files(folder: str | Path) -> list[Path]:
    """The images in `folder` (not recursive), sorted by name."""
    path = Path(folder)
    if not path.is_dir():
        raise ImagesError(f"--images {folder}: not a folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImagesError(f"--images {folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def load_images(files: Sequence[Path]) -> list[Any]:
    """RGB PIL images, read in full now: an unreadable file fails before any model is built."""
    from PIL import Image

    images = []
    for file in files:
        try:
            with Image.open(file) as img:
                images.append(img.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise ImagesError(f"cannot read image {file}: {err}") from None
    return images


def preprocessing_for(spec: ModelSpec, model: nn.Module) -> Preprocessing:
    if spec.source == "timm":
        return _timm(model)
    if spec.source == "torchvision":
        return _torchvision(spec)
    raise ImagesError(f"{spec.full_name}: real images need a torchvision or timm model (its "
                      "preprocessing); use noise inputs for your own model")


def to_batch(images: Sequence[Any], prep: Preprocessing) -> torch.Tensor:
    """The preprocessed images stacked as one float32 batch ``(N, C, *input_size)``."""
    tensors = [prep.transform(img).to(torch.float32) for img in images]
    for t in tensors:
        if tuple(t.shape[1:]) != prep.input_size:
            raise ImagesError(f"preprocessing gave {tuple(t.shape)}, not {prep.input_size}: "
                              f"{prep.description}")
    return torch.stack(tensors)


def _numbers(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in values) + ")"


def _timm(model: nn.Module) -> Preprocessing:
    from timm.data import create_transform, resolve_model_data_config

    cfg = resolve_model_data_config(model)
    size = tuple(int(n) for n in cfg["input_size"][1:])
    text = (f"timm create_transform(resolve_model_data_config): input {'x'.join(map(str, size))}, "
            f"crop_pct {cfg.get('crop_pct')} ({cfg.get('crop_mode')}), {cfg.get('interpolation')}, "
            f"mean {_numbers(cfg['mean'])}, std {_numbers(cfg['std'])}")
    return Preprocessing(text, size, create_transform(**cfg, is_training=False))


def _torchvision(spec: ModelSpec) -> Preprocessing:
    import torchvision
    from torchvision.transforms import functional as F

    from rfzoo.models import _torchvision_task_module

    task = _torchvision_task_module(spec.name)
    size = tuple(int(n) for n in spec.default_input_size())
    if task == "detection":
        return _detection(size)
    try:
        weights = torchvision.models.get_model_weights(spec.name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        raise ImagesError(f"torchvision has no weights, hence no preprocessing, for {spec.full_name}") from None
    preset = weights.transforms()
    text = f"torchvision {weights!r}.transforms(): {_preset_text(preset)}"
    if task == "video":
        frames = size[0]

        def still_clip(img: Any) -> torch.Tensor:
            frame = F.pil_to_tensor(img)
            return preset(frame.unsqueeze(0).expand(frames, *frame.shape).contiguous())

        return Preprocessing(f"{text}; a still clip of {frames} frames", size, still_clip)
    if task == "segmentation":
        def cropped(img: Any) -> torch.Tensor:
            return F.center_crop(preset(img), list(size))

        return Preprocessing(f"{text}; center crop {'x'.join(map(str, size))}", size, cropped)
    crop = getattr(preset, "crop_size", None)
    if crop:
        size = (int(crop[0]), int(crop[-1]))
    return Preprocessing(text, size, preset)


def _preset_text(preset: Any) -> str:
    parts = []
    for key in ("resize_size", "crop_size"):
        value = getattr(preset, key, None)
        if value:
            parts.append(f"{key.replace('_size', '')} {'x'.join(str(v) for v in value)}")
    interpolation = getattr(preset, "interpolation", None)
    if interpolation is not None:
        parts.append(str(getattr(interpolation, "value", interpolation)))
    for key in ("mean", "std"):
        value = getattr(preset, key, None)
        if value:
            parts.append(f"{key} {_numbers(value)}")
    return ", ".join(parts)


def _detection(size: tuple[int, ...]) -> Preprocessing:
    """What GeneralizedRCNNTransform feeds the backbone, center-cropped to the square `size`."""
    from torchvision.transforms import functional as F

    def transform(img: Any) -> torch.Tensor:
        x = F.convert_image_dtype(F.pil_to_tensor(img), torch.float)
        x = F.resize(x, [min(size)], antialias=False)  # bilinear, as the detection transform
        x = F.center_crop(x, list(size))
        return F.normalize(x, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))

    text = (f"torchvision detection (GeneralizedRCNNTransform): shorter side {min(size)}, bilinear, "
            f"mean {_numbers(IMAGENET_MEAN)}, std {_numbers(IMAGENET_STD)}; center crop "
            f"{'x'.join(map(str, size))}")
    return Preprocessing(text, size, transform)

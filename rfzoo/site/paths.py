"""Where each generated page and download lives in the docs tree, and names for families."""

from __future__ import annotations

import re
from typing import Any

from rfzoo.catalog.naming import model_file

# family ids as the libraries spell them -> how people write them
FAMILY_NAMES = {
    "alexnet": "AlexNet", "convnext": "ConvNeXt", "deeplabv3": "DeepLabv3", "densenet": "DenseNet",
    "efficientnet": "EfficientNet", "fcn": "FCN", "googlenet": "GoogLeNet",
    "inception": "Inception", "inception_v3": "Inception v3", "inception_v4": "Inception v4",
    "inception_resnet_v2": "Inception-ResNet v2", "mnasnet": "MnasNet", "mobilenet": "MobileNet",
    "mobilenetv2": "MobileNet v2", "mobilenetv3": "MobileNet v3", "regnet": "RegNet",
    "resnet": "ResNet", "resnext": "ResNeXt", "shufflenetv2": "ShuffleNet v2",
    "squeezenet": "SqueezeNet", "swin_transformer": "Swin Transformer", "vgg": "VGG",
    "vision_transformer": "Vision Transformer", "vit": "ViT", "wide_resnet": "Wide ResNet",
    "tnt": "TNT", "video": "Video",
}


def slug(text: str) -> str:
    """A lowercase id fragment: letters, digits and dashes only (deterministic element ids)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def family_title(family: str) -> str:
    return FAMILY_NAMES.get(family, family.replace("_", " "))


def model_md(row: dict[str, Any]) -> str:
    """The model's page: the same file name as its document in the data directory."""
    return f"models/{model_file(row['source'], row['name'], '.md')}"


def family_md(family: str) -> str:
    return f"families/{slug(family) or 'other'}.md"


def curve_json(key: str) -> str:
    """Compare-page data for one model ("source/name"): "compare/curves/<source>/<stem>.json"."""
    source, _, name = key.partition("/")
    return f"compare/curves/{model_file(source, name, '.json')}"


def rel_link(from_md: str, to_md: str) -> str:
    """A Markdown link target from one docs file to another (mkdocs resolves and checks it)."""
    up = from_md.count("/")
    return "../" * up + to_md


def page_url(src_md: str, directory_urls: bool = True) -> str:
    """The URL path mkdocs gives a Markdown file, relative to the site root."""
    stem = src_md[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return stem[: -len("index")]
    return f"{stem}/" if directory_urls else f"{stem}.html"


def rel_url(from_md: str, to_path: str, directory_urls: bool = True) -> str:
    """A raw-HTML href from a page to a site path (raw HTML is not rewritten by mkdocs)."""
    base = page_url(from_md, directory_urls)
    depth = base.count("/")
    return "../" * depth + to_path

"""Where each generated page and download lives in the docs tree, and names for families."""

from __future__ import annotations

import re
from typing import Any

from rfzoo.catalog.naming import model_file

# family ids as the libraries spell them -> the architecture's name as its paper writes it
FAMILY_NAMES = {
    "alexnet": "AlexNet", "beit": "BEiT", "byoanet": "BYOANet", "byobnet": "BYOBNet",
    "cait": "CaiT", "coat": "CoaT", "convit": "ConViT", "convmixer": "ConvMixer",
    "convnext": "ConvNeXt", "cpubone": "CPUBone", "crossvit": "CrossViT", "csatv2": "CSATv2",
    "cspnet": "CSPNet", "cspnext": "CSPNeXt", "davit": "DaViT", "deeplabv3": "DeepLabV3",
    "deepseek_vit": "DeepSeek ViT", "deit": "DeiT", "densenet": "DenseNet", "dla": "DLA",
    "dpn": "DPN", "edgenext": "EdgeNeXt", "efficientformer": "EfficientFormer",
    "efficientformer_v2": "EfficientFormerV2", "efficientnet": "EfficientNet",
    "efficientvim": "EfficientViM", "efficientvit_mit": "EfficientViT (MIT)",
    "efficientvit_msra": "EfficientViT (MSRA)", "eva": "EVA", "faster_rcnn": "Faster R-CNN",
    "fasternet": "FasterNet", "fastvit": "FastViT", "fcn": "FCN", "fcos": "FCOS",
    "focalnet": "FocalNet", "gcvit": "GC ViT", "gemma4_vit": "Gemma 4 ViT", "ghostnet": "GhostNet",
    "googlenet": "GoogLeNet", "hardcorenas": "HardCoRe-NAS", "hgnet": "HGNet", "hiera": "Hiera",
    "hieradet_sam2": "HieraDet (SAM 2)", "hrnet": "HRNet", "iformer": "iFormer",
    "inception": "Inception v3", "inception_next": "InceptionNeXt",
    "inception_resnet_v2": "Inception-ResNet v2", "inception_v3": "Inception v3",
    "inception_v4": "Inception v4", "keypoint_rcnn": "Keypoint R-CNN", "lcnetv2": "LCNetV2",
    "levit": "LeViT", "lowformer": "LowFormer", "lraspp": "LR-ASPP", "mambaout": "MambaOut",
    "mask_rcnn": "Mask R-CNN", "maxvit": "MaxViT", "maxxvit": "MaxViT and CoAtNet",
    "metaformer": "MetaFormer", "mlp_mixer": "MLP-Mixer", "mnasnet": "MnasNet",
    "mobilenet": "MobileNet", "mobilenetv2": "MobileNetV2", "mobilenetv3": "MobileNetV3",
    "mobilenetv5": "MobileNetV5", "mobilevit": "MobileViT", "mvit": "MViT", "mvitv2": "MViTv2",
    "naflexvit": "NaFlexViT", "nasnet": "NASNet", "nest": "NesT", "nextvit": "Next-ViT",
    "nfnet": "NFNet", "pit": "PiT", "pnasnet": "PNASNet", "pvt_v2": "PVTv2",
    "qwen3_vit": "Qwen3 ViT", "raft": "RAFT", "rdnet": "RDNet", "regnet": "RegNet",
    "repghost": "RepGhost", "repvit": "RepViT", "res2net": "Res2Net", "resnest": "ResNeSt",
    "resnet": "ResNet", "resnetv2": "ResNetV2", "resnext": "ResNeXt", "retinanet": "RetinaNet",
    "rexnet": "ReXNet", "s3d": "S3D", "selecsls": "SelecSLS", "senet": "SENet",
    "sequencer": "Sequencer", "shufflenetv2": "ShuffleNetV2", "shvit": "SHViT", "sknet": "SKNet",
    "squeezenet": "SqueezeNet", "ssd": "SSD", "ssdlite": "SSDlite", "starnet": "StarNet",
    "swiftformer": "SwiftFormer", "swin_transformer": "Swin Transformer",
    "swin_transformer_v2": "Swin Transformer V2", "swin_transformer_v2_cr": "Swin Transformer V2 (CR)",
    "test": "timm test nets", "tiny_vit": "TinyViT", "tnt": "TNT", "tresnet": "TResNet",
    "twins": "Twins", "vgg": "VGG", "video": "Video", "visformer": "Visformer",
    "vision_transformer": "Vision Transformer", "vision_transformer_hybrid": "Vision Transformer hybrid",
    "vision_transformer_relpos": "Vision Transformer (relative position)",
    "vision_transformer_sam": "Vision Transformer (SAM)",
    "vit": "ViT", "vitamin": "ViTamin", "volo": "VOLO", "vovnet": "VoVNet",
    "wide_resnet": "Wide ResNet", "xception": "Xception", "xception_aligned": "Aligned Xception",
    "xcit": "XCiT",
}
TEST_FAMILY = "test"  # timm's tiny test_* nets: not architectures, kept apart from the families


def slug(text: str) -> str:
    """A lowercase id fragment: letters, digits and dashes only (deterministic element ids)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def family_title(family: str) -> str:
    return FAMILY_NAMES.get(family, family.replace("_", " "))


def is_test_net(row: dict[str, Any]) -> bool:
    """timm's test_* nets (family "test"; older indexes filed them under their architecture)."""
    return row.get("family") == TEST_FAMILY or (
        row.get("source") == "timm" and str(row.get("name", "")).startswith("test_"))


def family_of(row: dict[str, Any]) -> str:
    """The family a row is listed under: "test" for the test nets, "other" when none."""
    return TEST_FAMILY if is_test_net(row) else (row.get("family") or "other")


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

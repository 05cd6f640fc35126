"""Every torchvision family's stage RFs against the gradient (slow).

Per model and axis, the probe picks a tall, narrow input that holds the RF of a
central unit of every stage (`rfzoo.probe.plan`), re-randomizes the parameters,
detaches global-context paths (squeeze-excitation gates) and measures the input
gradient's support in float64: it must equal the analytic box of every stage.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import rfzoo
from rfzoo.models import resolve

pytestmark = pytest.mark.slow

FAMILIES = [
    "alexnet", "vgg11", "resnet18", "resnext50_32x4d", "wide_resnet50_2", "densenet121", "googlenet",
    "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5", "shufflenet_v2_x0_5",
    "squeezenet1_1", "efficientnet_b0", "regnet_x_400mf", "convnext_tiny", "swin_t",
]


# Kernels that are not square (Inception's 1x7 and 7x1) need both axes; elsewhere one will do.
BOTH_AXES = {"inception_v3", "googlenet"}


def verify(model: str | torch.nn.Module, analysis: Any, both_axes: bool = False) -> dict[str, Any]:
    """The probe's verification entry, with global paths detached as the analysis *at the
    measured size* says: whether a window spans the map (Swin's last stage) depends on it."""
    from rfzoo.probe.api import prepare
    from rfzoo.probe.verify import axis_plans, verification_entry

    prepared = prepare(resolve(f"torchvision/{model}") if isinstance(model, str) else model)
    plans = axis_plans(prepared.analyze_at, analysis)
    full = prepared.analyze_at(plans[0].full_size)
    prepared.gm.to(torch.float64)
    return verification_entry(prepared.gm, full, plans if both_axes else plans[:1], prepared.in_channels)


def _report(entry: dict[str, Any]) -> str:
    return "\n".join(
        f"  {s['node']}: analytic {s['analytic_box']} measured {s['measured_box']}"
        for s in entry["stages"] if not s["agree"]
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_stage_boxes_match_gradient_support(name: str) -> None:
    analysis = rfzoo.analyze(f"torchvision/{name}")
    assert analysis.status == "exact", analysis.reason
    entry = verify(name, analysis, both_axes=name in BOTH_AXES)
    assert entry["verified"], f"{name}:\n{_report(entry)}"
    assert len(entry["stages"]) >= 3


def test_dilated_segmentation_backbone() -> None:
    """DeepLabv3's MobileNetV3 backbone: the last stages trade stride for dilation."""
    from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

    backbone = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None).backbone
    analysis = rfzoo.analyze(backbone, 224)
    dilated = [layer for layer in analysis.layers if "d=" in layer.op]
    assert dilated and analysis.summary()["jump"] == [16, 16]
    entry = verify(backbone, analysis)
    assert entry["verified"], _report(entry)


@pytest.mark.parametrize("name,rf,jump", [("resnet50", 427, 32), ("vgg16", 212, 32), ("alexnet", 195, 32)])
def test_known_values(name: str, rf: int, jump: int) -> None:
    summary = rfzoo.analyze(f"torchvision/{name}").summary()
    assert summary["rf"] == [rf, rf] and summary["jump"] == [jump, jump]


def test_hiera_pools_queries_inside_mask_units() -> None:
    """timm's Hiera unrolls its tokens, pools queries with a max over the q-stride digits
    and attends inside 32-pixel mask units until stage 3: jump 32, local RF 35."""
    from rfzoo.probe.api import probe_model

    analysis = rfzoo.analyze("timm/hiera_tiny_224")
    assert analysis.status == "exact", analysis.reason
    summary = analysis.summary()
    assert summary["rf"] == [35, 35] and summary["jump"] == [32, 32]
    # stage 3's first block still attends in mask units (Hiera lags the switch by a block)
    assert summary["global_from"] == "blocks.4.attn.scaled_dot_product_attention"
    entry = probe_model("timm/hiera_tiny_224", analysis, erf=False)["verification"]
    assert entry["verified"], _report(entry)


def test_video_swin_windows_span_the_clip() -> None:
    """torchvision's 3D Swin: 8-frame windows cover the whole time axis at 16 frames, so
    time is one block while space keeps shifted 7x7 windows (the image Swin's 952)."""
    analysis = rfzoo.analyze("torchvision/swin3d_t")
    assert analysis.status == "exact", analysis.reason
    summary = analysis.summary()
    assert summary["rf"] == [16, 952, 952] and summary["jump"] == [2, 32, 32]
    assert summary["global_from"].startswith("features.6.0.attn")

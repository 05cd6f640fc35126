"""Stage verification of a model that takes one input size (ViT): one run over the whole
input measures every axis at the probed unit itself, in float32 only when it agrees."""

from __future__ import annotations

import torch

import rfzoo
from rfzoo.probe.api import prepare
from rfzoo.probe.targets import stage_names
from rfzoo.probe.verify import axis_plans, verification_entry

NAME = "timm/vit_tiny_patch16_224"


def test_a_fixed_size_model_is_measured_once_on_both_axes_in_float32() -> None:
    analysis = rfzoo.analyze(NAME)
    prepared = prepare(NAME)
    plans = axis_plans(prepared.analyze_at, analysis, stages=stage_names(analysis))
    assert len(plans) == 1 and plans[0].joint and plans[0].axes == (0, 1)
    assert plans[0].tall_size(1) == (224, 224)  # no narrow run exists for a ViT

    dtypes: list[torch.dtype] = []
    leaf = next(m for m in prepared.gm.modules() if isinstance(m, torch.nn.Linear))
    leaf.register_forward_pre_hook(lambda mod, args: dtypes.append(next(mod.parameters()).dtype))
    ver = verification_entry(prepared.gm, analysis, plans, prepared.in_channels, float32_first=True)

    assert set(dtypes) == {torch.float32}  # no float64 copy of the weights when none is needed
    assert next(leaf.parameters()).dtype == torch.float32
    assert ver["verified"] and ver["float64_rechecks"] == 0
    assert ver["input_size"] == [224, 224] and ver["cross_size"] == [224, 224]
    (stage,) = ver["stages"]
    # the unit itself on both axes: its 16-pixel patch, not the union of a whole row
    (lo0, hi0), (lo1, hi1) = stage["measured_box"]
    assert (hi0 - lo0 + 1, hi1 - lo1 + 1) == (16, 16)
    assert stage["measured_box"] == stage["analytic_box"]

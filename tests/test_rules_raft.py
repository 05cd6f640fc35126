"""torchvision's RAFT analyzed as a whole model (rfzoo/optical_flow.py, rules/optical_flow.py).

RAFT takes two frames stacked on the channels and returns the final flow. Its all-pairs
correlation mixes every position (global) and the flow iterations give the output a
local path far larger than the image: the analytic boxes of that local path are checked
against the input-gradient support, with global-context nodes detached, by the probe's
own machinery (float64, re-randomized parameters, three random inputs).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torchvision.models.optical_flow import raft_large, raft_small

import rfzoo
from rfzoo import optical_flow
from rfzoo.errors import UnsupportedOpError
from rfzoo.optical_flow import TwoFrameRaft
from rfzoo.trace import trace

BUILDERS = {"raft_small": raft_small, "raft_large": raft_large}
# The feature encoder's first InstanceNorm is the first op that mixes all positions; the
# correlation it feeds is global too (all pairs).
GLOBAL_FROM = "feature_encoder.convnormrelu.1"


@pytest.mark.parametrize("name,rf", [("raft_small", 1707), ("raft_large", 2155)])
def test_whole_model_is_exact_and_sees_the_whole_input(name: str, rf: int) -> None:
    analysis = rfzoo.analyze(f"torchvision/{name}")
    assert analysis.status == "exact", analysis.reason
    assert analysis.input_size == (440, 1024) and analysis.in_channels == 6
    summary = analysis.summary()
    assert summary["node"] == "upsample_flow" and summary["output_size"] == [440, 1024]
    assert summary["global"] and summary["global_from"] == GLOBAL_FROM
    assert summary["rf"] == [rf, rf]  # the local path: 12 iterations at stride 8
    assert "all_pairs_correlation" in analysis.global_context_nodes()
    assert analysis.layer("correlation_lookup_11").is_global


@pytest.mark.parametrize("name,updates", [("raft_small", 3), ("raft_large", 2)])
def test_wrapper_computes_rafts_own_final_flow(name: str, updates: int) -> None:
    torch.manual_seed(0)
    raft = BUILDERS[name](weights=None).eval()
    frames = torch.randn(1, 6, 128, 128)
    with torch.no_grad():
        expected = raft(frames[:, :3], frames[:, 3:], num_flow_updates=updates)[-1]
        got = trace(TwoFrameRaft(raft, updates).eval(), "torchvision")(frames)
    assert torch.equal(got, expected)


class LookupOfAFeatureMap(nn.Module):
    """grid_sample of a feature map that still holds positions: not RAFT's lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(x)
        coords = features[:, :2]
        # through the module: fx keeps the function whole where rfzoo.optical_flow calls it
        volume = features.permute(0, 2, 3, 1).reshape(-1, 1, 2, 2)  # a 2x2 map per position
        return optical_flow.correlation_lookup((volume,), coords, 1)


def test_lookup_of_anything_but_the_correlation_volume_is_refused() -> None:
    with pytest.raises(UnsupportedOpError, match="RAFT's correlation volume"):
        rfzoo.analyze(LookupOfAFeatureMap(), 16, in_channels=3)


def _verify(model: nn.Module | str, both_axes: bool, samples: int = 3) -> dict[str, Any]:
    """The probe's verification entry for a TwoFrameRaft module or a catalog name, as
    tests/test_rules_real_models.py runs it (boxes from the analysis at the measured size).
    A name is analyzed on the meta device: a module on the CPU, where a full-size
    all-pairs volume of a 1728-pixel input would take gigabytes."""
    from rfzoo.probe.api import prepare
    from rfzoo.probe.verify import axis_plans, verification_entry

    prepared = prepare(model, in_channels=6)
    reference = prepared.analyze_at((440, 1024))
    plans = axis_plans(prepared.analyze_at, reference)
    full = prepared.analyze_at(plans[0].full_size)
    prepared.gm.to(torch.float64)
    return verification_entry(prepared.gm, full, plans if both_axes else plans[:1], 6, samples=samples)


def _report(entry: dict[str, Any]) -> str:
    return "\n".join(f"  {s['node']}: analytic {s['analytic_box']} measured {s['measured_box']}"
                     for s in entry["stages"] if not s["agree"])


@pytest.mark.slow
@pytest.mark.parametrize("name,updates,both_axes", [("raft_small", 2, True), ("raft_large", 2, False)])
def test_local_path_matches_gradient_support(name: str, updates: int, both_axes: bool) -> None:
    """A few flow updates: the encoders, the motion encoder, the GRU, the flow head and
    both upsamplings (bilinear for small, convex 3x3 for large)."""
    entry = _verify(TwoFrameRaft(BUILDERS[name](weights=None), updates), both_axes)
    assert entry["verified"], _report(entry)
    assert {s["node"] for s in entry["stages"]} >= {"upsample_flow"}


@pytest.mark.slow
def test_default_twelve_updates_match_gradient_support() -> None:
    """RAFT-small as the catalog analyzes it: 12 updates, RF 1707 at 440x1024, measured on
    1728-pixel inputs along each axis. One sample keeps the batch's all-pairs volume under
    a gigabyte; no max pooling routes the gradient, and the probe leaks gated activations."""
    entry = _verify("torchvision/raft_small", both_axes=True, samples=1)
    assert entry["verified"], _report(entry)
    boxes = {s["node"]: s["analytic_box"] for s in entry["stages"]}
    assert boxes["upsample_flow"] == [[7, 1713], [7, 1713]]

"""The gradient check on real models (slow): every stage's support equals the analytic box."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.slow


def probe(name: str, *, erf: bool = False, all_layers: bool = True) -> dict:
    import rfzoo
    from rfzoo.models import resolve
    from rfzoo.probe import probe_model

    spec = resolve(name)
    return probe_model(spec, rfzoo.analyze(spec.full_name), verify=True, erf=erf,
                       all_layers=all_layers)


def disagreements(verification: dict) -> list:
    return [s for s in verification["stages"] if not s["agree"]]


def test_resnet18_every_stage_verified_and_erf_stored() -> None:
    out = probe("torchvision/resnet18", erf=True)
    assert disagreements(out["verification"]) == []
    layers = out["verification"]["layers"]
    assert layers["checked"] == layers["agree"] > 60 and layers["disagree"] == []
    assert out["verification"]["verified"] is True
    last = out["verification"]["stages"][-1]
    assert [b - a + 1 for a, b in last["measured_box"]] == [435, 435]
    erf = out["erf"]
    assert erf["weights"] == "random" and erf["init"]
    ratios = [s["erf_trf_ratio"] for s in erf["stages"]]
    assert ratios[-1] < ratios[1]  # the ERF fills less of the TRF as depth grows


def test_mobilenet_v3_small_with_squeeze_excitation_detached() -> None:
    out = probe("torchvision/mobilenet_v3_small")
    assert disagreements(out["verification"]) == []


def test_densenet121_float64_reaches_the_rf_edge() -> None:
    out = probe("torchvision/densenet121", all_layers=False)  # its 428 layers: the catalog build
    assert disagreements(out["verification"]) == []


def test_densenet121_float32_loses_the_edge() -> None:
    """The same measurement in float32 reports a smaller RF than float64 (underflow)."""
    import rfzoo
    from rfzoo.models import resolve
    from rfzoo.probe.api import prepare
    from rfzoo.probe.runner import LocalRunner
    from rfzoo.probe.support import Target, gradient_supports
    from rfzoo.probe.targets import detach_names, runtime_target
    from rfzoo.probe.verify import axis_plans

    spec = resolve("torchvision/densenet121")
    analysis = rfzoo.analyze(spec.full_name)
    prepared = prepare(spec)
    (plan, _) = axis_plans(prepared.analyze_at, analysis)
    last = plan.stages[-1]

    def locate(target: Target, out: torch.Tensor) -> Target:
        found = runtime_target(last, plan.axis, tuple(out.shape))
        return Target(found.node, found.unit, found.output_size)

    width = 32  # the narrowest width DenseNet's unpadded pools accept
    sizes = {}
    for dtype in (torch.float32, torch.float64):
        prepared.gm.to(dtype)
        runner = LocalRunner(prepared.gm, detach=detach_names(analysis))
        (support,) = gradient_supports(
            runner,
            [Target(last.node, last.unit, last.output_size)],
            (3, *plan.tall_size(width)),
            samples=3,
            dtype=dtype,
            locate=locate,
        )
        a, b = support.box[0]
        sizes[dtype] = b - a + 1
    a, b = last.box[0]
    assert sizes[torch.float64] == b - a + 1
    assert sizes[torch.float32] < sizes[torch.float64]

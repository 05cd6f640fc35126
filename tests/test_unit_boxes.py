"""The document's exact per-unit boxes (`unit_boxes`) of position-dependent layers: every unit of
every such layer, read back from the JSON, equals `Analysis.unit_box`; the per-axis encoding
round-trips any list of boxes and finds the period of an upsampled axis."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rfzoo import analyze
from rfzoo.analysis import Analysis
from rfzoo.export import decode_boxes, encode_boxes


class Upsamplers(nn.Module):
    """Bilinear (align_corners False, then a conv; and True, to an odd size) and nearest
    (a different factor per axis) after a stride-4 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(1, 2, 5, stride=4, padding=2)
        self.after = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        y = self.down(x)
        a = self.after(F.interpolate(y, scale_factor=4, mode="bilinear", align_corners=False))
        b = F.interpolate(y, size=(37, 33), mode="bilinear", align_corners=True)
        c = F.interpolate(y, scale_factor=(3, 2), mode="nearest")
        return a, b, c


def document_boxes(doc: dict[str, Any], layer: dict[str, Any]) -> list[list[tuple[int, int]] | None]:
    """Per axis, every unit's interval as the document stores it (None: no local RF)."""
    table = doc["unit_boxes"]
    return [None if ref is None else decode_boxes(table["axes"][ref], n)
            for ref, n in zip(table["layers"][layer["name"]], layer["output_size"], strict=True)]


def assert_every_unit_matches(analysis: Analysis) -> int:
    """Every unit of every position-dependent layer: the document's box is unit_box's (the full
    product of axes, so a box that is not separable per axis would fail here). Returns how many
    layers were checked."""
    doc = json.loads(analysis.to_json())
    pos_dep = [lay for lay in doc["layers"] if lay["position_dependent"]]
    assert set(doc["unit_boxes"]["layers"]) == {lay["name"] for lay in pos_dep}
    for lay in pos_dep:
        axes = document_boxes(doc, lay)
        for unit in itertools.product(*(range(n) for n in lay["output_size"])):
            want = analysis.unit_box(lay["name"], unit)
            got = [None if ax is None else ax[u] for ax, u in zip(axes, unit, strict=True)]
            assert got == want, (lay["name"], unit)
    return len(pos_dep)


def test_every_unit_after_bilinear_and_nearest_upsampling_matches_unit_box() -> None:
    analysis = analyze(Upsamplers(), input_size=(40, 36))
    assert assert_every_unit_matches(analysis) == 4  # three resizes and the conv after one


def test_upsampled_axes_are_stored_as_one_period() -> None:
    doc = analyze(Upsamplers(), input_size=(40, 36)).to_dict()
    table = doc["unit_boxes"]
    cycles = {name: [len(table["axes"][ref]["cycle"]) for ref in refs] for name, refs in table["layers"].items()}
    assert cycles["interpolate"] == [4, 4]  # bilinear x4: four phases, 40 and 36 units
    assert cycles["interpolate_2"] == [3, 2]  # nearest x3 on rows, x2 on columns
    shifts = {table["axes"][ref]["shift"] for refs in table["layers"].values() for ref in refs}
    assert shifts == {4}  # one period later, a box moves by one source unit: 4 input pixels


def test_a_model_without_upsampling_has_no_unit_boxes() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ReLU(), nn.Conv2d(2, 2, 3))
    assert analyze(net, input_size=32).to_dict()["unit_boxes"] is None


@pytest.mark.parametrize("seed", range(40))
def test_encoding_round_trips_any_boxes(seed: int) -> None:
    """Periodic middles with irregular borders, pure noise, short and empty lists."""
    rng = random.Random(seed)
    period, shift = rng.randint(1, 9), rng.randint(-3, 12)
    cycle = [(lo, lo + rng.randint(0, 20)) for lo in (rng.randint(-30, 30) for _ in range(period))]
    middle = [(lo + q * shift, hi + q * shift) for q in range(rng.randint(0, 12)) for lo, hi in cycle]
    noise = [(lo, lo + rng.randint(0, 9)) for lo in (rng.randint(-50, 50) for _ in range(rng.randint(0, 5)))]
    boxes = noise[:2] + middle + noise[2:]
    encoded = json.loads(json.dumps(encode_boxes(boxes)))
    assert decode_boxes(encoded, len(boxes)) == boxes
    stored = len(encoded["head"]) + len(encoded["cycle"]) + len(encoded["tail"])
    assert stored <= min(len(boxes), len(noise) + period)


def test_an_arithmetic_progression_is_one_box_and_a_shift() -> None:
    boxes = [(8 * u - 3, 8 * u + 3) for u in range(50)]
    assert encode_boxes(boxes) == {"head": [], "cycle": [[-3, 3]], "shift": 8, "tail": []}


@pytest.mark.slow
def test_every_unit_of_lraspp_matches_unit_box() -> None:
    """A real segmentation head: bilinear upsampling merged with a stride-8 branch, then the
    final resize to the input."""
    assert assert_every_unit_matches(analyze("torchvision/lraspp_mobilenet_v3_large", input_size=64)) == 4

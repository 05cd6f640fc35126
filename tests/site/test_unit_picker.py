"""The unit picker's Markdown and data (rfzoo.site.unit_picker): which pages get it, its photos
and their licenses, the ERF maps it ships, and that the page data's per-layer numbers give the
engine's exact box for every unit of every layer whose RF does not depend on position, and
the shipped per-unit boxes give it for every unit of the layers whose RF does."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sitebuild import FIXTURE_DATA, REPO

from rfzoo.site import model_data, model_page, unit_picker
from rfzoo.site.paths import model_md

PHOTOS = REPO / "docs" / "assets" / "photos"


def doc(ref: str) -> dict[str, Any]:
    return json.loads((FIXTURE_DATA / "models" / f"{ref}.json").read_text())


RESNET = doc("torchvision/resnet50")


def test_section_frame_on_a_model_page() -> None:
    text = model_page.render(RESNET)
    assert "## What a unit sees { data-search-exclude }" in text
    sec = unit_picker.section(RESNET, model_md(RESNET))
    assert 'data-input="224,224"' in sec and 'data-default-layer="layer4.2.relu_2"' in sec
    # photo URLs are relative to the page's URL (raw HTML is not rewritten by mkdocs)
    assert '"../../../assets/photos/astronaut.jpg"' in sec
    assert sec.count(" selected>") == 1
    assert "](../../assets/photos/LICENSE.txt)" in sec  # a Markdown link: mkdocs checks it
    # before the charts, after the stages
    assert text.index("## Stages") < text.index("## What a unit sees") < text.index("## Receptive field and jump")


def test_photos_are_small_and_licensed() -> None:
    lic = (PHOTOS / "LICENSE.txt").read_text()
    for name, label in unit_picker.PHOTOS:
        path = PHOTOS / name
        assert path.read_bytes()[:3] == b"\xff\xd8\xff", name  # JPEG
        assert path.stat().st_size < 80_000, name
        assert name in lic
        assert "CC0" in label or "public domain" in label
    assert "public domain" in lic and "CC0" in lic and "scikit-image" in lic


def test_photo_choice_is_deterministic_and_varies() -> None:
    picks = {unit_picker.photo_index({"source": "timm", "name": f"m{i}"}) for i in range(40)}
    assert picks == set(range(len(unit_picker.PHOTOS)))
    assert unit_picker.photo_index(RESNET) == unit_picker.photo_index(copy.deepcopy(RESNET))


def test_no_picker_for_failed_one_dimensional_or_layerless_models() -> None:
    failed = {**RESNET, "status": "failed"}
    one_d = {**RESNET, "input_size": [16000],
             "layers": [{**lay, "rf": lay["rf"][:1] if lay.get("rf") else None,
                         "output_size": lay["output_size"][:1]} for lay in RESNET["layers"]]}
    empty = {**RESNET, "layers": []}
    for d in (failed, one_d, empty):
        assert unit_picker.section(d, model_md(d)) == ""
        assert unit_picker.page_data(d) == {}


def test_video_uses_the_spatial_axes() -> None:
    video = copy.deepcopy(RESNET)
    video["input_size"] = [16, 224, 224]
    for lay in video["layers"]:
        for key in ("rf", "jump", "center", "output_size", "rf_min", "effective_padding"):
            if lay.get(key) is not None:
                lay[key] = [1, *lay[key]]
    sec = unit_picker.section(video, model_md(video))
    assert 'data-input="224,224"' in sec and "video" in sec


def test_erf_maps_ship_each_stage_with_its_probe_unit() -> None:
    maps = unit_picker.page_data(RESNET)["erf_maps"]
    stages = RESNET["erf"]["stages"]
    assert list(maps) == [st["node"] for st in stages]
    size = RESNET["erf"]["input_size"]
    layers = {lay["name"]: lay for lay in RESNET["layers"]}
    for st in stages:
        m, lay = maps[st["node"]], layers[st["node"]]
        assert m["data"] == st["heatmap"]["data"] and m["input"] == size
        # the probe's unit: the one whose RF center is nearest the probe input's center
        for ax in (0, 1):
            c = lay["center"][ax] + m["unit"][ax] * lay["jump"][ax]
            assert abs(c - (size[ax] - 1) / 2) <= lay["jump"][ax] / 2
            # the map is centred on that unit (the fixture's maps, like an unclipped probe map)
            assert abs(m["origin"][ax] + m["shape"][ax] * m["scale"] / 2 - c) <= m["scale"]


def test_erf_maps_use_the_records_own_probe_unit() -> None:
    d = copy.deepcopy(RESNET)
    st = d["erf"]["stages"][-1]
    st["unit"] = [3, 4]
    assert unit_picker.erf_maps(d)[st["node"]]["unit"] == [3, 4]


def test_page_data_stays_small() -> None:
    for ref in ("torchvision/resnet50", "torchvision/fcn_resnet50", "timm/vit_base_patch16_224",
                "timm/tnt_s_patch16_224"):
        d = doc(ref)
        page = model_page.build(d)
        total = len(model_data.encode(page.data))
        without = len(model_data.encode({k: v for k, v in page.data.items() if k != "erf_maps"}))
        assert total < 200_000
        assert total - without < 8_000, (ref, total - without)


@pytest.fixture(scope="module")
def resnet_analysis() -> Any:
    rfzoo = pytest.importorskip("rfzoo")
    pytest.importorskip("torch")
    return rfzoo.analyze("torchvision/resnet50", input_size=224)


def box_from_page_data(cols: dict[str, list], k: int, unit: tuple[int, int]) -> list[tuple[int, int]]:
    """rfzoo-units.js's arithmetic for a layer whose RF does not depend on position."""
    out = []
    for ax, u in enumerate(unit):
        c = cols["center"][k][ax] + u * cols["jump"][k][ax]
        half = (cols["rf"][k][ax] - 1) / 2
        out.append((int(c - half), int(c + half)))
    return out


def test_page_data_gives_engine_boxes_for_every_layer(resnet_analysis: Any) -> None:
    """Every layer of the engine's own document (the record the catalog stores, through JSON)."""
    cols = model_data.page_data(json.loads(resnet_analysis.to_json()), {})["layers"]
    checked = 0
    for k, name in enumerate(cols["name"]):
        if cols["rf"][k] is None or cols["flags"][k] & model_data.POSITION_DEPENDENT:
            continue
        h, w = cols["output_size"][k]
        for unit in [(0, 0), (h - 1, w - 1), (h // 2, w // 3), (0, w - 1)]:
            assert box_from_page_data(cols, k, unit) == [tuple(b) for b in resnet_analysis.unit_box(name, unit)], (name, unit)
            checked += 1
    assert checked > 150 * 4


@pytest.fixture(scope="module")
def upsampling_analysis() -> Any:
    """Bilinear x4 after a stride-4 conv, a conv after it, and nearest x2 (on a 40x36 input)."""
    rfzoo = pytest.importorskip("rfzoo")
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.down = nn.Conv2d(1, 2, 5, stride=4, padding=2)
            self.after = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x: Any) -> Any:
            y = self.down(x)
            up = self.after(F.interpolate(y, scale_factor=4, mode="bilinear", align_corners=False))
            return up + F.interpolate(y, scale_factor=4, mode="nearest")

    return rfzoo.analyze(Decoder(), input_size=(40, 36))


def stored_box(data: dict[str, Any], name: str, unit: tuple[int, int]) -> list[tuple[int, int]]:
    """rfzoo-units.js's storedRange: head, a cycle moved by `shift` per period, tail."""
    out = []
    table = data["unit_boxes"]
    n_axes = data["layers"]["output_size"][data["layers"]["name"].index(name)]
    for ref, u, n in zip(table["layers"][name], unit, n_axes, strict=True):
        enc = table["axes"][ref]
        head, cycle, tail = enc["head"], enc["cycle"], enc["tail"]
        if u < len(head):
            out.append(tuple(head[u]))
        elif u >= n - len(tail):
            out.append(tuple(tail[u - (n - len(tail))]))
        else:
            periods, phase = divmod(u - len(head), len(cycle))
            out.append(tuple(v + periods * enc["shift"] for v in cycle[phase]))
    return out


def test_page_data_ships_exact_boxes_of_position_dependent_layers(upsampling_analysis: Any) -> None:
    data = model_data.page_data(json.loads(upsampling_analysis.to_json()), {})
    cols = data["layers"]
    pos_dep = [name for k, name in enumerate(cols["name"]) if cols["flags"][k] & model_data.POSITION_DEPENDENT]
    assert sorted(pos_dep) == sorted(data["unit_boxes"]["layers"]) and len(pos_dep) == 4
    for name in pos_dep:
        h, w = upsampling_analysis.layer(name).output_size
        for unit in ((i, j) for i in range(h) for j in range(w)):
            assert stored_box(data, name, unit) == [tuple(b) for b in upsampling_analysis.unit_box(name, unit)], (name, unit)


def test_page_data_without_unit_boxes_ships_none() -> None:
    """A document written before schema 2 (the fixture's fcn_resnet50): the picker falls back
    to the largest RF and says so."""
    d = doc("torchvision/fcn_resnet50")
    assert "unit_boxes" not in d and "unit_boxes" not in unit_picker.page_data(d)
    assert unit_picker.page_data({**d, "unit_boxes": None}) == {}

"""The model page's "Trained vs random-init ERF" section: present with a trained file, absent
without one, and the site code that renders it never imports torch."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from rfzoo.catalog import store
from rfzoo.site import model_page
from rfzoo.site.model_trained import trained_file

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Trained vs random-init ERF"


@pytest.fixture
def doc():
    import gzip
    import json

    return json.loads(gzip.decompress((ROOT / "data/models/torchvision/resnet18.json.gz").read_bytes()))


def trained_doc(doc: dict) -> dict:
    stages = [{k: st[k] for k in ("node", "unit", "rf_box", "erf_trf_ratio", "radius", "std", "offset",
                                  "heatmap", "measured_at")} for st in doc["erf"]["stages"]]
    pretrained = copy.deepcopy(stages)
    for st in pretrained:
        st["erf_trf_ratio"] = 0.1234
    return {"source": "torchvision", "name": "resnet18", "model": "torchvision/resnet18",
            "input_size": [224, 224], "images": ["astronaut.jpg", "chelsea.jpg"],
            "preprocessing": "torchvision ResNet18_Weights.IMAGENET1K_V1.transforms(): resize 256",
            "versions": {"torch": "2.14.1", "rfzoo": "0.1.0"}, "weights_id": "ResNet18_Weights.IMAGENET1K_V1",
            "maps": {"random": stages, "pretrained": pretrained}}


def test_section_with_trained_data(doc, tmp_path, monkeypatch):
    monkeypatch.setenv("RFZOO_DATA_DIR", str(tmp_path))
    trained = trained_doc(doc)
    store.write_json(trained_file(doc), trained)
    page = model_page.build(doc)
    assert page.markdown.count(HEADING) == 1
    section = page.markdown.split(HEADING, 1)[1].split("\n## ", 1)[0]
    assert r"<code>ResNet18\_Weights.IMAGENET1K\_V1</code>" in section  # Markdown-escaped inside <code>
    assert "<code>astronaut.jpg</code>" in section
    assert 'data-rfz-trained="pretrained"' in section and 'data-rfz-trained="random"' in section
    nodes = [st["node"] for st in trained["maps"]["random"]]
    assert section.count("<option ") == len(nodes) and f'selected>{nodes[-1]}</option>' in section
    assert section.count("| pretrained | 0.1234 |") == len(nodes)  # one metrics row per stage and weights
    spec = page.data["charts"]["trained"]
    assert spec["stages"] == nodes
    assert len(spec["pretrained"]) == len(spec["random"]) == len(nodes)
    heat = spec["pretrained"][-1]["data"][0]
    assert heat["type"] == "heatmap" and heat["rfzB64"]["data"] == trained["maps"]["pretrained"][-1]["heatmap"]["data"]
    # the section sits with the other gradient-map sections, before the per-layer table
    assert page.markdown.index(HEADING) < page.markdown.index("## All layers")


def test_no_section_without_trained_data(doc, tmp_path, monkeypatch):
    monkeypatch.setenv("RFZOO_DATA_DIR", str(tmp_path))
    page = model_page.build(doc)
    assert HEADING not in page.markdown and "rfz-trained" not in page.markdown
    assert "trained" not in page.data["charts"]


def test_site_does_not_import_torch():
    code = ("import sys, rfzoo.site.model_page, rfzoo.site.model_trained; "
            "print(sorted(m for m in ('torch', 'torchvision', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_the_page_registers_the_script():
    assert "assets/js/rfzoo-trained.js" in (ROOT / "mkdocs.yml").read_text()
    assert (ROOT / "docs/assets/js/rfzoo-trained.js").is_file()

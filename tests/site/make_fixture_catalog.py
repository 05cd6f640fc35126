"""Write the site's fixture catalog (tests/fixtures/catalog/) following rfzoo/schema.py.

Run `.venv/bin/python tests/site/make_fixture_catalog.py` after changing it; the output is
committed so the site tests do not depend on the analysis. The RF numbers come from the
chain arithmetic of DESIGN.md, so they are internally consistent (resnet50 ends at 427 / 32).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout, uninstalled

from rfzoo.schema import INDEX_COLUMNS, SCHEMA_VERSION, round_float

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"
VERSIONS = {"rfzoo": "0.1.0", "timm": "1.0.15", "torch": "2.6.0", "torchvision": "0.21.0"}


class Chain:
    """Per-axis (a, b, j) of unit 0 through a chain of layers, as DESIGN.md's arithmetic."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.n = size
        self.a, self.b, self.j = 0.0, 0.0, 1.0
        self.layers: list[dict] = []
        self.global_from: str | None = None

    def record(self, name: str, op: str, kind: str, *, glob: bool = False, spatial: bool = True,
               aligned: bool = True, position_dependent: bool = False) -> dict:
        if glob and self.global_from is None:
            self.global_from = name
        is_global = self.global_from is not None
        rf = round_float(self.b - self.a + 1)
        lay = {
            "name": name,
            "op": op,
            "kind": kind,
            "output_size": [self.n, self.n] if spatial else [None, None],
            "rf": [rf, rf],
            "rf_min": [rf, rf],
            "jump": [round_float(self.j)] * 2,
            "center": [round_float((self.a + self.b) / 2)] * 2,
            "effective_padding": [round_float(-self.a)] * 2,
            "global": is_global,
            "aligned": aligned,
            "position_dependent": position_dependent,
            "border_units": [self.border_units()] * 2 if spatial else [None, None],
        }
        self.layers.append(lay)
        return lay

    def border_units(self) -> int:
        return sum(
            1 for i in range(self.n)
            if self.a + i * self.j < 0 or self.b + i * self.j > self.size - 1
        )

    def layer(self, name: str, op: str, kind: str, k: int, s: int, p: int, d: int = 1) -> dict:
        self.n = (self.n + 2 * p - d * (k - 1) - 1) // s + 1
        self.a, self.b, self.j = self.a - p * self.j, self.b + (d * (k - 1) - p) * self.j, self.j * s
        return self.record(name, op, kind)

    def upsample(self, name: str, factor: int) -> dict:
        # bilinear x factor: jump divides, support widens by one input step on each side
        self.n *= factor
        self.a, self.b, self.j = self.a - self.j, self.b + self.j, self.j / factor
        return self.record(name, f"Upsample(x{factor}, bilinear)", "resample", position_dependent=True)


def conv(k: int, s: int, p: int) -> str:
    return f"Conv2d(k={k}, s={s}, p={p})"


def resnet50() -> dict:
    c = Chain(224)
    c.record("x", "input", "input")
    c.layer("conv1", conv(7, 2, 3), "conv", 7, 2, 3)
    c.layer("bn1", "BatchNorm2d", "pointwise", 1, 1, 0)
    c.layer("relu", "ReLU", "pointwise", 1, 1, 0)
    c.layer("maxpool", "MaxPool2d(k=3, s=2, p=1)", "pool", 3, 2, 1)
    stages = []
    for stage, blocks in zip(range(1, 5), (3, 4, 6, 3), strict=True):
        for blk in range(blocks):
            s = 2 if (stage > 1 and blk == 0) else 1
            prefix = f"layer{stage}.{blk}"
            c.layer(f"{prefix}.conv2", conv(3, s, 1), "conv", 3, s, 1)
            c.record(f"{prefix}.add", "add", "merge")
            last = c.record(f"{prefix}.relu_2", "ReLU", "pointwise")
        stages.append({
            "name": f"layer{stage}", "node": last["name"], "rf": last["rf"], "jump": last["jump"],
            "output_size": last["output_size"], "declared_reduction": int(last["jump"][0]),
            "reduction_matches": True,
        })
    final = c.layers[-1]
    c.n = 1
    c.record("avgpool", "AdaptiveAvgPool2d(1)", "global", glob=True)
    c.record("flatten", "flatten", "reshape", spatial=False)
    c.record("fc", "Linear(2048, 1000)", "pointwise", spatial=False)
    for lay in c.layers[-2:]:
        lay["rf"] = lay["rf_min"] = lay["center"] = lay["effective_padding"] = [None, None]
        lay["jump"] = [None, None]
    doc = base_doc("torchvision", "resnet50", "resnet", 224, 25557032)
    doc.update(
        summary=summary(final, global_from="avgpool"),
        layers=c.layers,
        stages=stages,
        links={"source": "https://github.com/pytorch/vision/blob/main/torchvision/models/resnet.py",
               "paper": "https://arxiv.org/abs/1512.03385"},
        verification=verification(stages, c, 480, disagree=None),
        erf=erf(stages, c),
    )
    return doc


def vit() -> dict:
    c = Chain(224)
    c.record("x", "input", "input")
    c.layer("patch_embed.proj", conv(16, 16, 0), "conv", 16, 16, 0)
    c.record("patch_embed.flatten", "flatten(2).transpose", "reshape")
    c.record("cat", "cat(cls_token)", "merge")
    c.record("pos_drop", "add(pos_embed)", "pointwise")
    for blk in range(12):
        c.record(f"blocks.{blk}.norm1", "LayerNorm", "pointwise")
        c.record(f"blocks.{blk}.attn", "Attention(heads=12)", "global", glob=True)
        c.record(f"blocks.{blk}.add", "add", "merge")
        c.record(f"blocks.{blk}.mlp.fc1", "Linear(768, 3072)", "pointwise")
        last = c.record(f"blocks.{blk}.add_1", "add", "merge")
    c.record("norm", "LayerNorm", "pointwise")
    stages = [{
        "name": f"blocks.{i}", "node": f"blocks.{i}.add_1", "rf": [16, 16], "jump": [16, 16],
        "output_size": [14, 14], "declared_reduction": 16, "reduction_matches": True,
    } for i in (3, 7, 11)]
    doc = base_doc("timm", "vit_base_patch16_224", "vision_transformer", 224, 86567656)
    doc.update(
        summary=summary(c.layers[-1], global_from="blocks.0.attn"),
        layers=c.layers,
        stages=stages,
        links={"source": "https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/vision_transformer.py",
               "paper": "https://arxiv.org/abs/2010.11929"},
        # one stage disagrees on purpose: the site must show it in red
        verification=verification(stages, c, 224, disagree=1),
        erf=None,
    )
    del last
    return doc


def fcn() -> dict:
    """A segmentation model whose upsampling head makes the RF position dependent: partial."""
    c = Chain(520)
    c.record("x", "input", "input")
    c.layer("backbone.conv1", conv(7, 2, 3), "conv", 7, 2, 3)
    c.layer("backbone.maxpool", "MaxPool2d(k=3, s=2, p=1)", "pool", 3, 2, 1)
    c.layer("backbone.layer1.0.conv2", conv(3, 1, 1), "conv", 3, 1, 1)
    c.layer("backbone.layer2.0.conv2", conv(3, 2, 1), "conv", 3, 2, 1)
    c.layer("backbone.layer3.0.conv2", "Conv2d(k=3, s=1, p=2, d=2)", "conv", 3, 1, 2, d=2)
    c.layer("backbone.layer4.0.conv2", "Conv2d(k=3, s=1, p=4, d=4)", "conv", 3, 1, 4, d=4)
    feat = c.layers[-1]
    c.layer("classifier.0", conv(3, 1, 1), "conv", 3, 1, 1)
    c.upsample("interpolate", 8)
    stages = [{"name": n, "node": lay["name"], "rf": lay["rf"], "jump": lay["jump"],
               "output_size": lay["output_size"], "declared_reduction": None,
               "reduction_matches": None}
              for n, lay in (("stem", c.layers[2]), ("layer4", feat))]
    doc = base_doc("torchvision", "fcn_resnet50", "fcn", 520, 35322218, task="segmentation")
    doc.update(
        status="partial",
        reason="aux_classifier branch not analyzed: its output is not returned in eval mode",
        summary=summary(c.layers[-1], global_from=None),
        layers=c.layers,
        stages=stages,
        links={"source": "https://github.com/pytorch/vision/blob/main/torchvision/models/segmentation/fcn.py"},
    )
    return doc


def failed() -> dict:
    doc = base_doc("timm", "tnt_s_patch16_224", "tnt", 224, None)
    doc.update(
        status="failed",
        reason="untraceable: torch.fx cannot trace data-dependent control flow in tnt.PixelEmbed.forward",
        summary=None,
        layers=[],
        stages=[],
        links={},
    )
    return doc


def base_doc(source: str, name: str, family: str, size: int, params: int | None,
             task: str = "classification") -> dict:
    return {
        "schema": SCHEMA_VERSION, "source": source, "name": name, "model": f"{source}/{name}",
        "family": family, "task": task, "input_size": [size, size], "params": params,
        "versions": VERSIONS, "status": "exact", "reason": "", "summary": None, "layers": [],
        "stages": [], "feature_info_mismatches": [], "links": {}, "verification": None,
        "erf": None,
    }


def summary(lay: dict, global_from: str | None) -> dict:
    return {
        "node": lay["name"], "rf": lay["rf"], "rf_min": lay["rf_min"], "jump": lay["jump"],
        "center": lay["center"], "effective_padding": lay["effective_padding"],
        "output_size": lay["output_size"], "global": lay["global"],
        "global_from": global_from,
    }


def stage_box(stage: dict, c: Chain, size: int) -> tuple[list[int], list[list[int]]]:
    """The unit whose RF center is nearest the input's center, and its analytic box."""
    lay = next(x for x in c.layers if x["name"] == stage["node"])
    u = round(((size - 1) / 2 - lay["center"][0]) / lay["jump"][0])
    a = -lay["effective_padding"][0] + u * lay["jump"][0]
    b = a + lay["rf"][0] - 1
    return [u, u], [[int(a), int(b)], [int(a), int(b)]]


def verification(stages: list[dict], c: Chain, size: int, disagree: int | None) -> dict:
    out = []
    for i, st in enumerate(stages):
        unit, box = stage_box(st, c, size)
        measured = [list(ax) for ax in box]
        if i == disagree:
            measured[1] = [box[1][0] + 2, box[1][1]]
        out.append({"node": st["node"], "unit": unit, "measured_box": measured,
                    "analytic_box": box, "agree": measured == box})
    local = [lay for lay in c.layers if lay["kind"] != "input" and lay["rf"][0] is not None]
    stage_names = {s["node"] for s in stages}
    bad = []
    if disagree is not None:  # and one layer outside the stages, also shown in red
        other = next(lay for lay in local if lay["name"] not in stage_names)
        bad.append({"node": other["name"], "unit": [0, 0], "agree": False,
                    "analytic_box": [[0, 6], [0, 6]], "measured_box": [[0, 6], [0, 4]]})
    not_agreed = stage_names | {b["node"] for b in bad}
    agreed = sorted(lay["name"] for lay in local if lay["name"] not in not_agreed)
    layers = {"checked": len(local), "agree": len(local) - len(bad) - (disagree is not None),
              "float64_rechecks": 2, "agreed": agreed, "disagree": bad, "unchecked": []}
    return {"dtype": "float64", "samples": 3, "input_size": [size, size], "stages": out,
            "layers": layers, "verified": all(s["agree"] for s in out) and not bad}


def erf(stages: list[dict], c: Chain) -> dict:
    out = []
    for st in stages:
        unit, box = stage_box(st, c, 480)
        rf = box[0][1] - box[0][0] + 1
        cells = 32
        scale = max(1, math.ceil(rf / cells))
        center = (box[0][0] + box[0][1]) / 2
        origin = int(center - cells * scale / 2)
        sigma = 0.12 * rf
        data = bytearray()
        for y in range(cells):
            for x in range(cells):
                py, px = origin + (y + 0.5) * scale, origin + (x + 0.5) * scale
                g = math.exp(-((py - center - 1.5) ** 2 + (px - center) ** 2) / (2 * sigma**2))
                data.append(round(255 * g))
        radius = {q: round_float(sigma * f) for q, f in (("20", 0.67), ("30", 0.85), ("50", 1.18), ("99", 3.03))}
        out.append({
            "node": st["node"], "radius": radius,
            "erf_trf_ratio": round_float((2 * radius["50"]) ** 2 / rf**2),
            "offset": [1.5, 0],
            "heatmap": {"shape": [cells, cells], "scale": scale, "origin": [origin, origin],
                        "data": base64.b64encode(bytes(data)).decode("ascii")},
        })
    return {"weights": "random", "init": "kaiming_normal(fan_in), no zero weights, layer scale 1",
            "input_size": [480, 480], "samples": 8, "stages": out}


def index_row(doc: dict) -> dict:
    s = doc["summary"] or {}
    rf, jump = s.get("rf"), s.get("jump")
    ver = doc["verification"]
    return {
        "source": doc["source"], "name": doc["name"], "family": doc["family"], "task": doc["task"],
        "input_size": doc["input_size"], "rf": rf, "jump": jump,
        "rf_ratio": round_float(rf[0] / doc["input_size"][0]) if rf else None,
        "params": doc["params"], "status": doc["status"], "reason": doc["reason"],
        "verified": None if ver is None else ver["verified"],
    }


def csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "x".join(str(v) for v in value)
    return str(value)


def main() -> None:
    docs = [resnet50(), vit(), fcn(), failed()]
    rows = [index_row(d) for d in docs]
    # a row without a per-model file: the full catalog's index is committed alone
    rows.append({"source": "timm", "name": "resnet18", "family": "resnet", "task": "classification",
                 "input_size": [224, 224], "rf": [435, 435], "jump": [32, 32], "rf_ratio": 1.942,
                 "params": 11689512, "status": "exact", "reason": "", "verified": None})
    rows.sort(key=lambda r: (r["source"], r["name"]))
    for d in docs:
        path = OUT / "models" / d["source"] / f"{d['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(d, indent=1, sort_keys=True) + "\n")
    (OUT / "index.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    for r in rows:
        writer.writerow([csv_cell(r[c]) for c in INDEX_COLUMNS])
    (OUT / "index.csv").write_text(buf.getvalue())


if __name__ == "__main__":
    main()

"""Synthetic catalog directories for the diff tests: just the fields `rfzoo diff` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERSIONS = {"torch": "2.14.1", "torchvision": "0.29.1", "timm": "1.0.31", "rfzoo": "0.1.0"}


def model_doc(
    source: str,
    name: str,
    rf: list[float] | None,
    jump: list[float] | None,
    status: str = "exact",
    reason: str = "",
    versions: dict[str, str] | None = None,
) -> dict[str, Any]:
    summary = None if rf is None else {"node": "out", "rf": rf, "jump": jump}
    return {
        "schema": 1,
        "source": source,
        "name": name,
        "model": f"{source}/{name}",
        "family": name.rstrip("0123456789_"),
        "task": "classification",
        "input_size": [224, 224],
        "status": status,
        "reason": reason,
        "summary": summary,
        "versions": versions or VERSIONS,
    }


def index_row(doc: dict[str, Any]) -> dict[str, Any]:
    summary = doc["summary"] or {}
    return {
        "source": doc["source"],
        "name": doc["name"],
        "family": doc["family"],
        "task": doc["task"],
        "input_size": doc["input_size"],
        "rf": summary.get("rf"),
        "jump": summary.get("jump"),
        "status": doc["status"],
        "reason": doc["reason"],
    }


def write_catalog(root: Path, docs: list[dict[str, Any]]) -> Path:
    """Write per-model documents and an index (a list of rows) like the catalog build does."""
    for doc in docs:
        path = root / "models" / doc["source"] / f"{doc['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    rows = sorted((index_row(d) for d in docs), key=lambda r: (r["source"], r["name"]))
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    return root


def old_docs() -> list[dict[str, Any]]:
    return [
        model_doc("torchvision", "resnet50", [427, 427], [32, 32]),
        model_doc("torchvision", "alexnet", [195, 195], [32, 32]),
        model_doc("timm", "convnext_tiny", [1955, 1955], [32, 32]),
        model_doc("timm", "pit_ti_224", [99, 99], [4, 4], "partial", "stage 3 after attention"),
        model_doc("timm", "gemma4_vit", None, None, "failed", "torch.fx cannot trace rotary"),
        model_doc("timm", "old_net", [35, 35], [4, 4]),
    ]


def new_docs() -> list[dict[str, Any]]:
    """The old catalog after a timm upgrade: one added, one removed, four changed."""
    bumped = {**VERSIONS, "timm": "1.0.32"}
    return [
        model_doc("torchvision", "resnet50", [427, 427], [32, 32], versions=bumped),
        model_doc("torchvision", "alexnet", [195, 195], [32, 32], versions=bumped),
        model_doc("timm", "convnext_tiny", [2011, 1987], [32, 32], versions=bumped),
        model_doc("timm", "pit_ti_224", [99, 99], [4, 4], "exact", versions=bumped),
        model_doc(
            "timm",
            "gemma4_vit",
            [16, 16],
            [16, 16],
            "partial",
            "global from blocks.0 | attn",
            versions=bumped,
        ),
        model_doc("timm", "new_net", [51, 51], [2.5, 2.5], versions=bumped),
    ]

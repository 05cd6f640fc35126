"""The catalog's trained-ERF files: ``<out>/<source>/<stem>.json.gz``, one per model.

Layout (gzip JSON through `rfzoo.catalog.store.write_json`: same data, same bytes)::

    {"source", "name", "model", "input_size", "images": [file names],
     "preprocessing": "<one line>", "versions": {torch, torchvision, timm, rfzoo},
     "weights_id": "<timm architecture.tag or torchvision enum>",
     "maps": {"random": [stage, ...], "pretrained": [stage, ...]}}

Each stage has the keys of a catalog document's ``erf.stages[i]`` (no ``at_default``: the
maps are measured once, at the preprocessing's size). Both maps come from the same images
and preprocessing, so they compare fairly. A batch goes on past a failing model, and a rerun
skips every model whose file holds the same versions and image names (resumable).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfzoo.catalog import store
from rfzoo.catalog.cache import library_versions
from rfzoo.catalog.naming import model_file
from rfzoo.errors import RfzooError
from rfzoo.models import resolve

DEFAULT_OUT = Path("data") / "trained"


def trained_path(out_dir: str | Path, source: str, name: str) -> Path:
    return Path(out_dir) / model_file(source, name, ".json.gz")


def read_trained(path: Path) -> dict[str, Any] | None:
    """A trained-ERF file, or None when it is missing or unreadable."""
    try:
        return json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError, EOFError):
        return None


def up_to_date(path: Path, versions: dict[str, Any], image_names: Sequence[str]) -> bool:
    doc = read_trained(path)
    return bool(doc) and doc.get("versions") == versions and doc.get("images") == list(image_names)


def trained_document(name: str, images: Any, seed: int = 0) -> dict[str, Any]:
    from rfzoo.trained.maps import both_maps

    spec = resolve(name)
    return {
        "source": spec.source,
        "name": spec.name,
        "model": spec.full_name,
        "images": list(images.names),
        "versions": dict(library_versions()),
        **both_maps(spec, images, seed),
    }


@dataclass
class BatchReport:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # model -> one-line reason


def build_trained(names: Sequence[str], out_dir: str | Path, images: Any, *, seed: int = 0,
                  log: Callable[[str], None] | None = None) -> BatchReport:
    """Write the trained-ERF file of every model in `names`; one failure never stops the batch."""
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    versions = dict(library_versions())
    report = BatchReport()
    for k, name in enumerate(names, 1):
        head = f"[{k}/{len(names)}] {name}"
        try:
            spec = resolve(name)
            path = trained_path(out_dir, spec.source, spec.name)
            if up_to_date(path, versions, images.names):
                report.skipped.append(spec.full_name)
                say(f"{head}: up to date, skipped")
                continue
            store.write_json(path, trained_document(spec.full_name, images, seed))
        except RfzooError as err:
            report.failed[name] = str(err)
            say(f"{head}: failed: {err}")
            continue
        except (RuntimeError, ValueError, MemoryError) as err:  # a model the maps cannot handle
            report.failed[name] = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
            say(f"{head}: failed: {report.failed[name]}")
            continue
        report.written.append(spec.full_name)
        say(f"{head}: wrote {path}")
    return report

"""Load the catalog data the site is built from: model documents, index rows, changelog."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfzoo.catalog import store
from rfzoo.schema import INDEX_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_ENV = "RFZOO_DATA_DIR"

Doc = dict[str, Any]
Row = dict[str, Any]


@dataclass
class Catalog:
    data_dir: Path
    models: dict[str, Doc] = field(default_factory=dict)  # "source/name" -> document, sorted
    paths: dict[str, Path] = field(default_factory=dict)  # "source/name" -> its document file
    rows: list[Row] = field(default_factory=list)  # index rows, sorted by source, name
    changelog: str | None = None
    luo: dict[str, Any] | None = None  # data/luo.json: Luo et al.'s ERF law, measured
    trained: dict[str, Doc] = field(default_factory=dict)  # "source/name" -> data/trained/ ERF file
    date: str | None = None  # YYYY-MM-DD of the data, None when unknown

    @property
    def families(self) -> dict[str, list[Row]]:
        """Family -> its index rows, families sorted by name."""
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.get("family") or "other", []).append(row)
        return dict(sorted(out.items()))

    def versions(self) -> dict[str, list[str]]:
        """Library -> versions seen in the model documents, most common first."""
        counts: dict[str, Counter[str]] = {}
        for doc in self.models.values():
            for lib, ver in (doc.get("versions") or {}).items():
                if ver:
                    counts.setdefault(lib, Counter())[str(ver)] += 1
        return {
            lib: [v for v, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
            for lib, c in sorted(counts.items())
        }


def data_dir() -> Path:
    """The data directory: $RFZOO_DATA_DIR, else data/ at the repository root."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).resolve() if env else REPO_ROOT / "data"


def model_key(doc_or_row: Doc) -> str:
    return f"{doc_or_row['source']}/{doc_or_row['name']}"


def load_catalog(root: Path | None = None) -> Catalog:
    root = root or data_dir()
    cat = Catalog(data_dir=root)
    found = sorted(((store.read_json(p), p) for p in store.document_paths(root)),
                   key=lambda dp: (dp[0]["source"], dp[0]["name"]))
    docs = [d for d, _ in found]
    cat.models = {model_key(d): d for d in docs}
    cat.paths = {model_key(d): p for d, p in found}
    cat.rows = load_rows(root, docs)
    log = root / "changelog.md"
    cat.changelog = log.read_text() if log.is_file() else None
    luo = root / "luo.json"
    cat.luo = json.loads(luo.read_text()) if luo.is_file() else None
    cat.trained = load_trained(root)
    cat.date = data_date(root)
    return cat


def load_trained(root: Path) -> dict[str, Doc]:
    """Trained-weight ERF files (data/trained/<source>/<stem>.json.gz, or plain .json), by model,
    sorted; none when the directory is missing (weights are downloaded by the scheduled build)."""
    folder = root / "trained"
    found = {p.relative_to(folder).as_posix(): p for p in folder.glob("*/*.json")}
    found.update({p.relative_to(folder).as_posix().removesuffix(".gz"): p for p in folder.glob("*/*.json.gz")})
    docs = [store.read_json(p) for _, p in sorted(found.items())]
    return {model_key(d): d for d in sorted(docs, key=lambda d: (d["source"], d["name"]))}


def load_rows(root: Path, docs: list[Doc]) -> list[Row]:
    """Index rows from index.json; rows for documents the index lacks are derived from them."""
    path = root / "index.json"
    raw: Any = json.loads(path.read_text()) if path.is_file() else []
    if isinstance(raw, dict):  # tolerate {"models": [...]} as well as a bare list
        raw = raw.get("models") or raw.get("rows") or []
    rows = {model_key(r): r for r in raw}
    for doc in docs:
        rows.setdefault(model_key(doc), row_from_doc(doc))
    return [rows[k] for k in sorted(rows, key=lambda k: tuple(k.split("/", 1)))]


def row_from_doc(doc: Doc) -> Row:
    summary = doc.get("summary") or {}
    rf, size = summary.get("rf"), doc.get("input_size")
    ratio = None
    if rf and size and rf[-1] is not None and size[-1]:
        ratio = round(rf[-1] / size[-1], 4)
    verification = doc.get("verification")
    row = {col: doc.get(col) for col in INDEX_COLUMNS}
    row.update(
        rf=rf,
        jump=summary.get("jump"),
        rf_ratio=ratio,
        verified=None if not verification else verification.get("verified"),
    )
    return row


def data_date(root: Path) -> str | None:
    """Date of the data: SOURCE_DATE_EPOCH, else the last commit touching it (deterministic)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%d")
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%cs", "--", "."],
            cwd=root, capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None

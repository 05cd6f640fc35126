"""Deterministic, atomic storage of the catalog: per-model documents and the index.

Layout of a data directory::

    models/<source>/<stem>.json.gz one document per model, gzip-compressed JSON (rfzoo.schema;
                                   stem: rfzoo.catalog.naming); every analyzed model is committed
    cache/<source>/<stem>.json     cache entry: key, index row (see rfzoo.catalog.cache)
    index.json                     {"schema", "columns", "models": [row, ...]}
    index.csv                      the same rows, rf/jump/input_size as HxW strings

Same inputs, same bytes: sorted keys, floats through `round_float`, a trailing newline,
no timestamps. Every write goes to a temporary file in the same directory and is moved
into place with `os.replace`, so a killed build never leaves a half-written file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rfzoo.catalog.naming import model_file
from rfzoo.catalog.rows import INDEX_COLUMNS, index_row  # noqa: F401 - index_row: the store's API
from rfzoo.catalog.sources import ModelRef
from rfzoo.errors import RfzooError
from rfzoo.schema import SCHEMA_VERSION, round_float

DOC_SUFFIX = ".json.gz"


def normalize(value: Any) -> Any:
    """Plain JSON types with rounded floats; tuples become lists; NaN/inf become null."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return round_float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if hasattr(value, "item"):  # numpy / torch scalars
        return normalize(value.item())
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def dumps(data: Any) -> str:
    """One top-level key per line, and one line per item of top-level lists.

    A layer table then diffs line by line when a library changes one layer, and the
    file stays about as small as compact JSON.
    """
    data = normalize(data)
    if not isinstance(data, dict):
        return _compact(data) + "\n"
    lines = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            items = ",\n  ".join(_compact(v) for v in value)
            lines.append(f"{_compact(key)}:[\n  {items}\n]")
        else:
            lines.append(f"{_compact(key)}:{_compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_text(path: Path, text: str | bytes) -> None:
    """Atomic: the file is either the old one or the complete new one."""
    tmp = _write_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_temp(path: Path, text: str | bytes) -> Path:
    """A complete temporary sibling of path, ready to be moved into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make committed data unreadable to others
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_json(path: Path, data: Any) -> None:
    """`dumps(data)`; gzip-compressed when the path ends in .gz (model documents).

    Writing `<stem>.json.gz` removes a `<stem>.json` left by an older rfzoo, so a data
    directory never holds two documents of one model.
    """
    if path.suffix != ".gz":
        write_text(path, dumps(data))
        return
    write_text(path, gzip_bytes(dumps(data)))
    path.with_suffix("").unlink(missing_ok=True)


def gzip_bytes(text: str) -> bytes:
    """Same text, same bytes: no time stamp or file name in the header."""
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def read_json(path: Path) -> Any:
    """A JSON file, or a gzip-compressed one (.gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def model_path(data_dir: Path, ref: ModelRef) -> Path:
    """A model's document: gzip-compressed JSON (30-40x smaller; the whole zoo is ~8 MB)."""
    return data_dir / "models" / model_file(ref.source, ref.name, DOC_SUFFIX)


def document_paths(data_dir: Path) -> list[Path]:
    """Every model document under data_dir/models, compressed or (hand-made, older) plain: one per
    model, keyed by source and stem (torchvision/resnet50 and timm/resnet50 are two models)."""
    models = data_dir / "models"
    found = {p.relative_to(models).as_posix(): p for p in models.glob("*/*.json")}
    found.update({p.relative_to(models).as_posix().removesuffix(".gz"): p for p in models.glob("*/*.json.gz")})
    return sorted(found.values())


def cache_path(data_dir: Path, ref: ModelRef) -> Path:
    return data_dir / "cache" / model_file(ref.source, ref.name, ".json")


# ---- index ---------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "x".join("" if v is None else str(v) for v in value)
    return str(value)


def index_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row.get(col)) for col in INDEX_COLUMNS])
    return out.getvalue()


def write_index(data_dir: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """index.json and index.csv, both written out in full before either is replaced.

    A failure while writing changes neither. Two renames cannot be one atomic step: a
    kill between them leaves index.csv one build behind index.json, which the next build
    finds and repairs before anything else (`repair_index_csv`).
    """
    ordered = sorted(rows, key=lambda r: (str(r["source"]), str(r["name"])))
    index = {"schema": SCHEMA_VERSION, "columns": list(INDEX_COLUMNS), "models": ordered}
    texts = {data_dir / "index.json": dumps(index), data_dir / "index.csv": index_csv(ordered)}
    temps: dict[Path, Path] = {}
    try:
        for path, text in texts.items():
            temps[path] = _write_temp(path, text)
        for path, tmp in temps.items():  # index.json first: the csv is derived from it
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)  # already moved unless something failed


def repair_index_csv(data_dir: Path) -> bool:
    """Rewrite index.csv from index.json when they disagree; True when it did."""
    try:
        rows = read_index(data_dir / "index.json")
    except RfzooError:
        return False  # no readable index: the build writes both at its end
    expected = index_csv(rows)
    csv_path = data_dir / "index.csv"
    try:
        if csv_path.read_text(encoding="utf-8") == expected:
            return False
    except (OSError, ValueError):
        pass
    write_text(csv_path, expected)
    return True


def read_index(path: Path) -> list[dict[str, Any]]:
    """The rows of an index.json, checked; any problem is one line naming the file."""
    if not path.is_file():
        raise RfzooError(f"no catalog index at {path}: run rfzoo build first")
    try:
        data = read_json(path)
    except (OSError, ValueError) as err:
        raise RfzooError(f"cannot read {path}: {_one_line(str(err))}") from None
    return index_rows(data, path)


def index_rows(data: Any, where: Path | str) -> list[dict[str, Any]]:
    """Rows of a parsed index: {"models": [row, ...]} as the build writes it, or a bare
    list of rows (hand-made indexes). Each row needs a string `source` and `name`."""
    rows = data.get("models", data.get("rows")) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise RfzooError(f"{where} is not a catalog index: expected a list of rows "
                         'or {"models": [...]}')
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise RfzooError(f"{where}: row {number} is not an object")
        for column in ("source", "name"):
            if not isinstance(row.get(column), str) or not row[column]:
                raise RfzooError(f"{where}: row {number} has no {column!r}")
    return rows


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]

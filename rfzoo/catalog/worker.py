"""One model in, one document out: the per-model step of the catalog build.

`build_document` does the work (metadata, analysis, stages, probe) and never raises
for a model's own problems: every failure becomes a document with status ``failed``
and a one-line reason. `python -m rfzoo.catalog.worker` runs it for a stream of
requests from the build (one JSON line each on stdin) in a process with a memory limit,
reporting on a private pipe: ``step`` events (so a hang or crash can say what it was
doing), ``meta`` (cheap metadata for a document the parent may have to write), and
``done`` with the result. The model's own prints go to stderr, never into the protocol.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rfzoo.catalog import metadata, store
from rfzoo.catalog.cache import library_versions, note_probe_error, plan_version, probe_key
from rfzoo.catalog.probe_step import carry_over, probe_document
from rfzoo.catalog.sources import ModelRef, float_twin
from rfzoo.schema import SCHEMA_VERSION

Emit = Callable[[dict[str, Any]], None]

_OOM_MARKERS = (
    "can't allocate memory",
    "std::bad_alloc",
    "out of memory",
    "cannot allocate memory",
    "could not create a primitive",  # oneDNN's allocation failure under RLIMIT_AS
)


def base_document(
    ref: ModelRef, meta: dict[str, Any], input_size: list[int] | None, status: str, reason: str
) -> dict[str, Any]:
    """Every key of the schema, filled with what is known without an analysis."""
    doc = {
        "schema": SCHEMA_VERSION,
        "source": ref.source,
        "name": ref.name,
        "model": ref.id,
        "family": meta.get("family"),
        "task": meta.get("task"),
        "input_size": input_size,
        "params": meta.get("params"),
        "versions": library_versions(),
        "status": status,
        "reason": reason,
        "summary": None,
        "layers": [],
        "stages": [],
        "feature_info_mismatches": [],
        "links": meta.get("links") or {},
        "verification": None,
        "erf": None,
    }
    if meta.get("alias_of"):
        doc["alias_of"] = meta["alias_of"]
    return doc


def one_line(err: BaseException, step: str, memory_gb: float | None = None) -> str:
    """A reason a person can act on: what failed, where, and what to try."""
    from rfzoo.errors import RfzooError

    text = " ".join(str(err).split()) or type(err).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    if isinstance(err, MemoryError) or any(m in text.lower() for m in _OOM_MARKERS):
        # The limit is this build's setting (80% of the RAM / --jobs by default): the
        # document records what happened, and the same settings give the same text.
        limit = f" at the {memory_gb:g} GB per-worker limit" if memory_gb else ""
        return (f"out of memory{limit} while {step}; rerun it with --jobs 1 (a worker may then "
                "use most of the RAM) or a larger --memory-gb")
    if not isinstance(err, RfzooError):
        text = f"{type(err).__name__}: {text}"
    return f"{step}: {text}" if not isinstance(err, RfzooError) else text


def _cap(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _analyzed_part(spec: Any) -> str | None:
    try:
        from rfzoo.models import analyzed_part
    except ImportError:
        return None
    return analyzed_part(spec)


def _outputs(analysis: Any) -> list[tuple[str, str]]:
    """(label, layer name) of each tensor the model returns, e.g. a backbone's FPN levels."""
    try:
        graph = analysis.graph_module.graph
        by_fx = {fx: layer for layer, fx in analysis.built.fx_names.items()}
    except AttributeError:
        return []
    found: list[tuple[str, str]] = []

    def walk(value: Any, label: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                walk(item, f"{label}[{i}]" if label else str(i))
        elif getattr(value, "name", None) in by_fx:
            found.append((label or "output", by_fx[value.name]))

    for node in graph.nodes:
        if node.op == "output":
            walk(node.args[0], "")
    return found


def _analyze_fn() -> Callable[..., Any]:
    import rfzoo

    return rfzoo.analyze  # type: ignore[attr-defined]


def _probe_fn() -> Callable[..., dict[str, Any]] | None:
    try:
        from rfzoo.probe import probe_model  # type: ignore[attr-defined]
    except ImportError:
        return None  # probe not in this checkout: skip the step
    return probe_model


def _params_and_features(ref: ModelRef, spec: Any, built: Any = None) -> tuple[int | None, list | None]:
    """The parameter count and timm's feature_info, from `built` (the module the analysis
    built) when given: building a timm model again took a sixth of a model's analysis.
    torchvision's count is its weights' metadata (the analysis may build one part only)."""
    if ref.source == "torchvision":
        return metadata._tv_params(ref.name), None
    model = built
    if model is None and ref.source == "timm":
        model = metadata.build_timm_meta(ref.name)
    elif model is None:
        try:
            model = spec.build("meta")
        except Exception:  # noqa: BLE001 - some user models only build on CPU
            model = spec.build("cpu")
    if model is None:
        return None, None
    features = metadata.timm_feature_info(model) if ref.source == "timm" else None
    return metadata.count_params(model), features


def build_document(
    ref: ModelRef,
    input_size: list[int] | None,
    *,
    probe: bool | str,
    emit: Emit | None = None,
    memory_gb: float | None = None,
    save: Callable[[dict[str, Any]], None] | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The model's document; failures are documents with status "failed".

    `probe` is False, or the probe level (rfzoo.catalog.probe_step.LEVELS; True: full).
    `save` receives the analyzed document before the probe runs, so a probe that hangs
    or crashes the process does not lose the analysis. `previous` is the model's last
    document: its probe results are carried over when they still hold (`carry_over`).
    """
    level = "full" if probe is True else str(probe)
    emit = emit or (lambda event: None)
    step = "reading metadata"
    emit({"event": "step", "step": step})
    meta: dict[str, Any] = {}
    try:
        meta = metadata.describe(ref)
    except Exception as err:  # noqa: BLE001
        return base_document(ref, meta, input_size, "failed", one_line(err, step, memory_gb))
    spec = None
    try:
        from rfzoo.models import resolve

        step = "resolving the model"
        spec = resolve(ref.resolve_name)
        if input_size is None and spec.source != "user":  # a user model's axes come from its graph
            input_size = list(spec.default_input_size())
    except Exception as err:  # noqa: BLE001
        emit({"event": "meta", "meta": meta, "input_size": input_size})
        return base_document(ref, meta, input_size, "failed", one_line(err, step, memory_gb))
    emit({"event": "meta", "meta": meta, "input_size": input_size})

    try:
        step = "analyzing"
        emit({"event": "step", "step": step})
        analyze = _analyze_fn()
        analyzed_as = None
        try:
            analysis = analyze(ref.resolve_name, input_size, allow_partial=True)
        except Exception:
            twin = float_twin(ref)
            if twin is None:
                raise
            # A quantized model that does not analyze: its float twin has the same RF.
            analysis = analyze(twin.id, input_size, allow_partial=True)
            analyzed_as = twin.id
        input_size = input_size or list(analysis.input_size)
        base = base_document(ref, meta, input_size, "exact", "")
        doc = {**base, **analysis.to_dict()}
        # The catalog's identity and metadata win over what the analysis guessed.
        for key in ("source", "name", "model", "family", "task", "links", "versions"):
            doc[key] = base[key]
        if analyzed_as:
            doc["analyzed_as"] = analyzed_as
        part = _analyzed_part(spec)
        if part:
            doc["analyzed_part"] = part
        doc["reason"] = _cap(doc.get("reason") or "")

        step = "counting parameters"
        emit({"event": "step", "step": step})
        params, feature_info = _params_and_features(ref, spec, None if analyzed_as else analysis.module)
        doc["params"] = params
        summary = doc.get("summary") or {}
        doc["stages"], doc["feature_info_mismatches"] = metadata.stages(
            doc.get("layers") or [], summary.get("node"), feature_info, _outputs(analysis)
        )
    except Exception as err:  # noqa: BLE001
        return base_document(ref, meta, input_size, "failed", one_line(err, step, memory_gb))

    if previous is not None and doc.get("layers"):
        emit({"event": "step", "step": "checking the stored probe"})
        # without a probe request: keep the stored results at whatever level they hold
        wanted = level if probe else str((previous.get("verification") or {}).get("level", "full"))
        try:
            if carry_over(previous, doc, spec, analysis, wanted):
                return doc
        except Exception:  # noqa: BLE001 - a broken old document is measured again
            pass
        if not probe and previous.get("probe_error") and not previous.get("verification") \
                and previous.get("probe_error_plan") == plan_version():
            # the same probe code failed on it, with the same plan code (a plan fix
            # drops the failure: the model is measured again)
            note_probe_error(doc, previous["probe_error"])
    if not probe:
        return doc
    if _probe_fn() is not None and doc.get("layers"):
        if save is not None:
            save(doc)
        step = "probing gradients" if level == "full" else "verifying stages"
        emit({"event": "step", "step": step})
        try:
            probe_document(doc, spec, analysis, level)
        except Exception as err:  # noqa: BLE001 - a probe failure keeps the analysis
            note_probe_error(doc, one_line(err, step, memory_gb))
    return doc


def _kept_probe_key(doc: dict[str, Any], previous_key: str | None) -> str | None:
    """A build without a probe request: the stored probe's key when its results (or its
    failure) were kept, else None (no probe results)."""
    return previous_key if doc.get("verification") or doc.get("probe_error") else None


def _previous(path: Path) -> dict[str, Any] | None:
    """The model's last document, if readable (read before the new one overwrites it)."""
    try:
        return store.read_json(path)
    except (OSError, ValueError, EOFError):
        return None


def _die_with_parent(parent_pid: int | None) -> None:
    """Linux: get SIGKILL when the build dies, so a killed build leaves no worker behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before prctl took effect


def _protocol_stream() -> Any:
    """A private copy of stdout for messages; fd 1 then points at stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rfzoo.catalog.worker")
    parser.add_argument("--memory-gb", type=float, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parent", type=int, default=None)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    if args.memory_gb:
        limit = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = _protocol_stream()
    faulthandler.enable()  # a segfault prints the Python stack: the crash reason says where

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event, sort_keys=True) + "\n")
        out.flush()

    import torch

    torch.set_num_threads(max(1, args.threads))
    # Import the heavy modules before saying ready: the per-model time limit then
    # measures the model, not the first import.
    import timm  # noqa: F401
    import torchvision  # noqa: F401

    import rfzoo.analysis  # noqa: F401

    emit({"event": "ready"})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        ref = ModelRef(request["source"], request["name"])
        start = time.perf_counter()
        torch.manual_seed(0)  # the same model gives the same bytes in any worker
        out_path = Path(request["out"])

        def save(doc: dict[str, Any], out_path: Path = out_path) -> None:
            store.write_json(out_path, doc)
            emit({"event": "saved"})

        doc = build_document(
            ref, request.get("input_size"), probe=request.get("probe") or False, emit=emit,
            memory_gb=args.memory_gb, save=save,
            previous=_previous(out_path) if request.get("previous_probe_key") else None,
        )
        store.write_json(out_path, doc)
        emit({
            "event": "done",
            "status": doc["status"],
            "reason": doc["reason"],
            "row": store.index_row(doc),
            # The probe code's version even when that code has no probe yet, failed,
            # or the model failed before it: the same code gives the same document.
            "probe_key": (probe_key(request["probe"]) if request.get("probe")
                          else _kept_probe_key(doc, request.get("previous_probe_key"))),
            "seconds": time.perf_counter() - start,
            # A failure can leave the process broken (after a MemoryError under the
            # address-space limit, oneDNN "could not create a primitive" for every later
            # model): the next model gets a fresh worker.
            "recycle": doc["status"] == "failed" or "probe_error" in doc,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())

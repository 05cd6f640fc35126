"""The timm half of test_pretrained_loading, in a fresh interpreter: huggingface_hub reads
HF_ENDPOINT when it is imported, so the loopback server starts and the variable is set before
timm (and with it huggingface_hub) is imported.

Saves a randomly initialized timm/test_resnet as the Hub serves it (``model.safetensors``),
loads it back with timm's own ``create_model(pretrained=True)``, compares, measures the ERF
over one bundled photo, then asks `rfzoo erf` for timm/test_vit's weights, which the server
does not hold (the error goes to stderr). Prints one line of JSON.

    python hub_probe.py WORKDIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.trained.loopback import serve  # noqa: E402 - stdlib only: before huggingface_hub

REPO_FILE = "/timm/test_resnet.r160_in1k/resolve/main/model.safetensors"  # the Hub's URL scheme
work = Path(sys.argv[1])
files: dict[str, bytes] = {}
with serve(files) as (url, requests):
    os.environ.update(HF_ENDPOINT=url, HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="0",
                      HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    import safetensors.torch
    import timm
    import torch

    from rfzoo.cli import main
    from rfzoo.models import resolve
    from rfzoo.trained.erf import averaged_maps, stage_entry, stage_targets, trace_for_maps
    from rfzoo.trained.images import (
        PHOTO_DIR,
        image_files,
        load_images,
        preprocessing_for,
        to_batch,
    )
    from rfzoo.trained.weights import load_pretrained

    saved = {k: v.contiguous() for k, v in timm.create_model("test_resnet").state_dict().items()}
    safetensors.torch.save_file(saved, str(work / "model.safetensors"))
    files[REPO_FILE] = (work / "model.safetensors").read_bytes()

    spec = resolve("timm/test_resnet")
    loaded = load_pretrained(spec)
    state = loaded.model.state_dict()
    prep = preprocessing_for(spec, loaded.model)
    batch = to_batch(load_images(image_files(PHOTO_DIR)[:1]), prep)
    traced = trace_for_maps(loaded.model, spec.source, prep.input_size, spec.in_channels)
    targets = stage_targets(traced)
    maps = averaged_maps(traced, targets, batch)
    missing_exit = main(["erf", "timm/test_vit", "--weights", "pretrained"])
    print(json.dumps({
        "url": url,
        "requests": requests,
        "equal": sorted(k for k, v in saved.items() if k in state and torch.equal(state[k], v)),
        "saved": sorted(saved),
        "weights_id": loaded.weights_id,
        "origin": loaded.origin,
        "preprocessing": prep.description,
        "input_size": list(prep.input_size),
        "ratios": [stage_entry(st, m, prep.input_size)["erf_trf_ratio"] for st, m in zip(targets, maps, strict=True)],
        "missing_exit": missing_exit,
    }))

"""Pretrained weights come through the libraries' real loaders, served by a loopback server:
timm through huggingface_hub (HF_ENDPOINT), torchvision through torch.hub (the mirror variable).
No loader is mocked: the server serves a state dict saved here in each library's format."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rfzoo.cli import main
from rfzoo.models import resolve
from rfzoo.trained.images import PHOTO_DIR
from rfzoo.trained.weights import MIRROR_ENV, MIRROR_HASH_ENV, WeightsUnavailable, load_pretrained
from tests.trained.loopback import closed_port_url, serve

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SQUEEZENET_FILE = "squeezenet1_1-b8a52dc0.pth"  # torchvision's file name: its hash prefix is checked
SQUEEZENET_PATH = f"/models/{SQUEEZENET_FILE}"
REPO_FILE = "/timm/test_resnet.r160_in1k/resolve/main/model.safetensors"  # the Hub's URL scheme
PHOTOS = sorted(p.name for p in PHOTO_DIR.glob("*.jpg"))


def test_timm_weights_through_the_hub_layout(tmp_path):
    """Served: test_resnet's weights. Not served: test_vit's, whose error is one line (the
    server's 404 is huggingface_hub's EntryNotFound; with no network at all, huggingface_hub
    retries for about a minute before the same one-line error). See hub_probe.py."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    proc = subprocess.run([sys.executable, str(HERE / "hub_probe.py"), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    url = got["url"]
    assert ["GET", REPO_FILE] in got["requests"]
    assert got["equal"] == got["saved"] and len(got["saved"]) > 10
    assert got["weights_id"] == "test_resnet.r160_in1k" and got["origin"] == f"{url}/timm/test_resnet.r160_in1k"
    assert got["preprocessing"].startswith("timm create_transform") and got["input_size"] == [160, 160]
    assert got["ratios"] and all(r > 0 for r in got["ratios"])
    # the model whose weights are missing: one line naming it and the repo, a non-zero exit
    assert got["missing_exit"] != 0 and "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("rfzoo: error")]
    assert "timm/test_vit" in line and f"{url}/timm/test_vit." in line, line


def saved_squeezenet(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    import torchvision

    torch.manual_seed(1)
    state = torchvision.models.squeezenet1_1(weights=None).state_dict()
    path = tmp_path / SQUEEZENET_FILE
    torch.save(state, path)
    return path, state


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def test_torchvision_weights_through_the_mirror(tmp_path, torch_home, monkeypatch, capsys):
    path, state = saved_squeezenet(tmp_path)
    with serve({SQUEEZENET_PATH: path.read_bytes()}) as (url, requests):
        monkeypatch.setenv(MIRROR_ENV, url)
        monkeypatch.setenv(MIRROR_HASH_ENV, "0")  # a re-saved file: its hash is not torchvision's
        loaded = load_pretrained(resolve("torchvision/squeezenet1_1"))
    assert requests == [("GET", SQUEEZENET_PATH)]
    assert loaded.weights_id == "SqueezeNet1_1_Weights.IMAGENET1K_V1"
    assert loaded.origin == url + SQUEEZENET_PATH
    got = loaded.model.state_dict()
    assert got.keys() == state.keys() and all(torch.equal(got[k], v) for k, v in state.items())
    assert (torch_home / "hub" / "checkpoints" / SQUEEZENET_FILE).is_file()  # torch.hub's own cache
    # the CLI loads from that cache (the mirror is gone) and averages over the bundled photos
    assert main(["erf", "torchvision/squeezenet1_1", "--weights", "pretrained", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["weights"] == "pretrained:SqueezeNet1_1_Weights.IMAGENET1K_V1"
    assert doc["inputs"]["images"] == PHOTOS and doc["input_size"] == [224, 224]


def test_mirror_checks_torchvision_hash(tmp_path, torch_home, monkeypatch, capsys):
    path, _ = saved_squeezenet(tmp_path)
    with serve({SQUEEZENET_PATH: path.read_bytes()}) as (url, _):
        monkeypatch.setenv(MIRROR_ENV, url)
        code = main(["erf", "torchvision/squeezenet1_1", "--weights", "pretrained"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "torchvision/squeezenet1_1" in err and url + SQUEEZENET_PATH in err and "hash" in err
    assert not (torch_home / "hub" / "checkpoints" / SQUEEZENET_FILE).exists()


def test_unreachable_mirror_names_model_and_url(torch_home, monkeypatch):
    url = closed_port_url()
    monkeypatch.setenv(MIRROR_ENV, url)
    with pytest.raises(WeightsUnavailable, match=f"torchvision/squeezenet1_1 from {url}{SQUEEZENET_PATH}"):
        load_pretrained(resolve("torchvision/squeezenet1_1"))


def test_batch_writes_resumes_and_survives_a_failure(tmp_path, torch_home, capsys):
    path, _ = saved_squeezenet(tmp_path)
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    shutil.copy(path, torch_home / "hub" / "checkpoints" / SQUEEZENET_FILE)  # as a download leaves it
    out = tmp_path / "trained"
    user = f"{HERE / 'tiny_net.py'}:Net"
    args = ["erf-trained", user, "torchvision/squeezenet1_1", "--out", str(out)]
    assert main(args) == 1  # the user model has no library weights; squeezenet is still written
    printed = capsys.readouterr().out
    assert "1 written, 0 up to date, 1 failed" in printed and "tiny_net.py:Net" in printed
    file = out / "torchvision" / "squeezenet1_1.json.gz"
    from rfzoo.trained.catalog import read_trained

    doc = read_trained(file)
    assert doc is not None
    assert set(doc) == {"source", "name", "model", "input_size", "images", "preprocessing", "versions",
                        "maps", "weights_id"}
    assert doc["weights_id"] == "SqueezeNet1_1_Weights.IMAGENET1K_V1" and doc["images"] == PHOTOS
    random, pretrained = doc["maps"]["random"], doc["maps"]["pretrained"]
    assert [s["node"] for s in random] == [s["node"] for s in pretrained]
    keys = {"node", "unit", "rf_box", "erf_trf_ratio", "radius", "std", "offset", "heatmap", "measured_at"}
    assert all(set(s) == keys for s in random + pretrained)
    assert random[-1]["heatmap"]["data"] != pretrained[-1]["heatmap"]["data"]
    before = file.read_bytes()
    assert main(["erf-trained", "torchvision/squeezenet1_1", "--out", str(out)]) == 0
    assert "0 written, 1 up to date, 0 failed" in capsys.readouterr().out
    assert file.read_bytes() == before

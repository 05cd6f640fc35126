"""Documented random init, and the --weights path with a state dict saved locally."""

from __future__ import annotations

import pytest
import torch
from probe_nets import Chain
from torch import nn

from rfzoo.probe.api import gradient_map
from rfzoo.probe.weights import RANDOM_LABEL, WeightsError, prepare_weights_, randomize_


class LayerScaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.gamma = nn.Parameter(torch.full((4,), 1e-6))  # ConvNeXt-style layer scale
        with torch.no_grad():
            self.bn.weight.zero_()  # timm's zero_init_last
            self.bn.running_var.fill_(7.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x)) * self.gamma[:, None, None]


def test_randomize_leaves_no_zero_and_scales_of_order_one() -> None:
    model = randomize_(LayerScaled(), seed=3)
    for name, p in model.named_parameters():
        assert torch.all(p != 0), name
    assert torch.all((model.gamma >= 0.5) & (model.gamma <= 1.5))
    assert torch.all((model.bn.weight >= 0.5) & (model.bn.weight <= 1.5))
    assert torch.all(model.bn.bias.abs() <= 0.1)
    assert torch.equal(model.bn.running_var, torch.ones(4))
    std = model.conv.weight.std().item()
    assert 0.5 / 27**0.5 < std < 2 / 27**0.5  # N(0, 1/fan_in), fan_in = 3*3*3


def test_randomize_is_deterministic_per_seed() -> None:
    a = randomize_(LayerScaled(), seed=1).state_dict()
    b = randomize_(LayerScaled(), seed=1).state_dict()
    c = randomize_(LayerScaled(), seed=2).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv.weight"], c["conv.weight"])


def test_weights_file_is_loaded_and_labelled(tmp_path) -> None:
    trained = Chain()
    torch.save(trained.state_dict(), tmp_path / "chain.pt")
    torch.save({"state_dict": trained.state_dict()}, tmp_path / "ckpt.pth")
    for file in ("chain.pt", "ckpt.pth"):
        model = Chain()
        label = prepare_weights_(model, tmp_path / file)
        assert label == f"file:{file}"
        assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.state_dict().items())
    assert prepare_weights_(Chain(), None) == RANDOM_LABEL


def test_bad_weights_files_are_user_errors(tmp_path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        prepare_weights_(Chain(), tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        prepare_weights_(Chain(), tmp_path / "junk.pt")
    torch.save({"other.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="do not fit"):
        prepare_weights_(Chain(), tmp_path / "other.pt")


def test_gradient_map_uses_the_given_weights(tmp_path) -> None:
    trained = randomize_(Chain(), seed=11)
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    kwargs = {"input_size": 64, "samples": 2}
    loaded = gradient_map(trained, weights=tmp_path / "w.pt", **kwargs)
    random = gradient_map(trained, **kwargs)
    assert loaded.weights == "file:w.pt" and random.weights == "random"
    # the ERF with the file's weights is the ERF of `trained` itself
    direct = gradient_map(trained, weights=tmp_path / "w.pt", **kwargs)
    assert (loaded.map == direct.map).all()
    assert not (loaded.map == random.map).all()

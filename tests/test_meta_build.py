"""A factory that computes with tensors builds with its parameters on meta (RegNet's widths)."""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

import rfzoo
from rfzoo.models import _parameters_on_meta, resolve

FACTORY = textwrap.dedent('''
    import torch
    from torch import nn

    def Widths():
        """Channel widths computed with tensors, read back as ints: fails under torch.device("meta")."""
        widths = (torch.arange(1, 4) * 8).tolist()
        layers, c = [], 3
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
            c = w
        return nn.Sequential(*layers)
''')


@pytest.fixture
def widths(tmp_path):
    path = tmp_path / "widths.py"
    path.write_text(FACTORY)
    return f"{path}:Widths"


def test_the_factory_fails_on_meta_and_builds_with_its_parameters_there(widths) -> None:
    spec = resolve(widths)
    with pytest.raises(NotImplementedError), torch.device("meta"):
        (torch.arange(3) * 8).tolist()
    model = spec.build("meta")
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert {b.device.type for b in model.buffers()} == {"meta"}
    assert [m.out_channels for m in model if isinstance(m, nn.Conv2d)] == [8, 16, 24]


def test_the_analysis_on_meta_equals_the_one_on_the_cpu(widths) -> None:
    spec = resolve(widths)
    on_meta = rfzoo.analyze(widths, 64)
    on_cpu = rfzoo.analyze(spec.build("cpu"), 64)
    assert [ly.rf for ly in on_meta.layers] == [ly.rf for ly in on_cpu.layers]
    assert on_meta.layers[-1].rf == [15, 15]  # three 3x3 stride-2 convs: 1 + 2 + 4 + 8


def test_registration_is_restored_after_the_build() -> None:
    with _parameters_on_meta():
        inside = nn.Linear(2, 2)
    outside = nn.Linear(2, 2)
    assert inside.weight.device.type == "meta" and outside.weight.device.type == "cpu"
    with pytest.raises(ValueError), _parameters_on_meta():
        raise ValueError("a factory error")
    assert nn.Linear(2, 2).weight.device.type == "cpu"

"""Bad input to the library API (issue #12): one clear RfzooError at once, and the
caller's model left as it was. Small hand-made nets keep these quick."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rfzoo.analysis import analyze
from rfzoo.errors import RfzooError
from rfzoo.probe.api import gradient_map


class DeadlinePassed(BaseException):
    """Not an Exception: code under test that catches every Exception cannot swallow it."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block takes longer than `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise DeadlinePassed(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3))


class PixelUnshuffleStem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(12, 4, 3)  # 3 input channels, 4x after the 2x2 space-to-depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pixel_unshuffle(x, 2))


class FocusStem(nn.Module):
    """YOLOv5's Focus: four interleaved slices concatenated along channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(12, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slices = [x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]]
        return self.conv(torch.cat(slices, 1))


class GrayToColor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x, x, x], 1))


class Transposed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 2, 1, 3))  # the channels of the conv are not the input's


@pytest.mark.parametrize("size", [(0, 0), 0, -3, (16, 0)])
def test_non_positive_sizes_answer_at_once(size):
    with deadline(20), pytest.raises(RfzooError, match="input size must be positive"):
        analyze(small_net(), size)


@pytest.mark.parametrize(
    ("model", "size", "needle"),
    [
        (small_net(), (8, 8, 8, 8, 8), "has 5 axes; this model has 2 spatial axes"),
        (nn.Conv1d(2, 2, 3), (8, 8, 8), "has 3 axes; this model has 1 spatial axes"),
        (nn.Conv3d(2, 2, 3), (8, 8), "this model takes a clip: give T H W"),
    ],
)
def test_one_size_per_spatial_axis(model, size, needle):
    with pytest.raises(RfzooError, match=needle):
        analyze(model, size)


@pytest.mark.parametrize("size", ["32", True, 32.0, 32.5, (32.7, 32.2), (16, None), []])
def test_sizes_must_be_whole_numbers(size):
    with pytest.raises(RfzooError, match="input size (must be|is empty)"):
        analyze(small_net(), size)


def test_a_huge_input_is_refused_before_it_runs_on_the_cpu(monkeypatch):
    import rfzoo.analysis

    monkeypatch.setattr(rfzoo.analysis, "MAX_REAL_INPUT_ELEMENTS", 3 * 32 * 32)
    assert analyze(small_net(), 32).input_size == (32, 32)
    with pytest.raises(RfzooError, match="input 3x33x32 is too large to run on the cpu"):
        analyze(small_net(), (33, 32))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (np.int64(16), (16, 16)),
        ((np.int32(12), np.int64(14)), (12, 14)),
        (np.array([10, 11]), (10, 11)),
        (torch.tensor(9), (9, 9)),
        (torch.Size([8, 9]), (8, 9)),
    ],
)
def test_numpy_and_torch_integers_are_sizes(size, expected):
    assert analyze(small_net(), size).input_size == expected


@pytest.mark.parametrize("channels", [0, -1, True, 3.0])
def test_in_channels_must_be_a_positive_whole_number(channels):
    with pytest.raises(RfzooError, match="in_channels must be"):
        analyze(small_net(), 16, in_channels=channels)


def test_analyze_keeps_the_callers_training_flags():
    model = small_net().train()
    model[1].eval()  # a frozen BatchNorm inside a model in training
    before = [m.training for m in model.modules()]
    analyze(model, 16)
    assert [m.training for m in model.modules()] == before
    with pytest.raises(RfzooError, match="too small"):
        analyze(model, 3)  # an error half way keeps them too
    assert [m.training for m in model.modules()] == before


@pytest.mark.parametrize(
    ("name", "unit", "needle"),
    [
        ("3", (12, 12), r"unit \(12, 12\) is outside layer '3', whose output is 12x12"),
        ("3", (0, -1), "is outside layer '3'"),
        ("3", (1,), "has 1 coordinates; layer '3' has 2 axes"),
        ("3", (1.5, 2), "one whole number per axis"),
        ("nope", (0, 0), "no layer 'nope' in user/Sequential"),
    ],
)
def test_unit_box_of_a_unit_the_layer_lacks(name, unit, needle):
    analysis = analyze(small_net(), 16)  # layer "3" is 12x12
    assert analysis.unit_box("3", (11, 11)) == [(11, 15), (11, 15)]
    with pytest.raises(RfzooError, match=needle):
        analysis.unit_box(name, unit)


def test_an_unknown_layer_is_still_a_key_error():
    analysis = analyze(small_net(), 16)
    with pytest.raises(KeyError):  # the probe relies on `except KeyError`
        analysis.layer("nope")


@pytest.mark.parametrize(
    ("model", "channels", "rf"),
    [(PixelUnshuffleStem(), 3, 6), (FocusStem(), 3, 6), (GrayToColor(), 1, 3)],
)
def test_channels_come_from_what_the_input_feeds(model, channels, rf):
    analysis = analyze(model, 16)
    assert analysis.in_channels == channels
    assert analysis.layers[-1].rf == [rf, rf]


def test_channels_hidden_by_a_permute_ask_for_in_channels():
    with pytest.raises(RfzooError, match=r"through 'permute'; pass in_channels="):
        analyze(Transposed(), 16)


def test_linear_models_say_their_input_is_not_an_image():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(RfzooError, match=r"through Flatten '0'.*in_channels=.*make 784"):
        analyze(mlp)
    with pytest.raises(RfzooError, match="last axis holds features, not pixels"):
        analyze(nn.Linear(16, 4))
    analysis = analyze(mlp, 28, in_channels=1)  # as told: the linear layer sees every pixel
    assert analysis.layer("1").is_global


def test_a_module_name_with_a_double_quote():
    model = nn.Sequential()
    model.add_module("it's", nn.Conv2d(3, 4, 3))
    model.add_module('say "hi"', nn.Conv2d(4, 4, 3))
    analysis = analyze(model, 16)
    assert [layer.name for layer in analysis.layers] == ["input", "it's", 'say "hi"']
    assert analysis.unit_box('say "hi"', (0, 0)) == [(0, 4), (0, 4)]
    assert model._modules.keys() == {"it's", 'say "hi"'}  # the caller's model is not renamed


def test_analyze_takes_a_module_or_a_name():
    with pytest.raises(RfzooError, match="an nn.Module or a model name, not int"):
        analyze(42)  # type: ignore[arg-type]


def test_gradient_map_checks_the_size_first():
    with deadline(20), pytest.raises(RfzooError, match="input size must be positive"):
        gradient_map(small_net(), input_size=0)


def test_gradient_map_refuses_nan_weights(tmp_path):
    model = small_net()
    state = model.state_dict()
    state["3.bias"][1] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(RfzooError, match=r"weights .*nan.pt hold NaN in 3.bias"):
        gradient_map(model, input_size=16, weights=tmp_path / "nan.pt", samples=1)

"""The source documents' worked examples, reproduced exactly."""

from __future__ import annotations

import math

import pytest
from torch import nn

from rfzoo import analyze


def _last(model: nn.Module, size: int):
    return analyze(model, size).layers[-1]


def test_guide_5x5_k3_s2_p1_gives_rf_3_then_7():
    one = nn.Conv2d(1, 1, 3, stride=2, padding=1)
    two = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 3, stride=2, padding=1))
    first = _last(one, 5)
    assert first.output_size == [3, 3] and first.rf == [3, 3] and first.jump == [2, 2]
    second = _last(two, 5)
    assert second.output_size == [2, 2] and second.rf == [7, 7] and second.jump == [4, 4]


def test_four_layer_example_rf_10_jump_4_on_32x32():
    model = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2, 2), nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2, 2)
    )
    layers = analyze(model, 32).layers
    assert [lay.rf[0] for lay in layers[1:]] == [3, 4, 8, 10]
    assert [lay.jump[0] for lay in layers[1:]] == [1, 2, 2, 4]
    assert layers[-1].output_size == [8, 8]


def test_dilated_3x3_with_dilation_2_covers_5x5():
    layer = _last(nn.Conv2d(1, 1, 3, dilation=2, padding=2), 16)
    assert layer.rf == [5, 5] and layer.output_size == [16, 16]


def test_non_square_kernels_are_per_axis():
    layer = _last(nn.Conv2d(1, 1, (1, 7), stride=(1, 2), padding=(0, 3)), 32)
    assert layer.rf == [1, 7] and layer.jump == [1, 2] and layer.output_size == [32, 16]


# The guide's program on AlexNet at 227x227: (k, s, p) per layer and its printed table.
ALEXNET_GUIDE = [
    ("conv1", 11, 4, 0), ("pool1", 3, 2, 0), ("conv2", 5, 1, 2), ("pool2", 3, 2, 0),
    ("conv3", 3, 1, 1), ("conv4", 3, 1, 1), ("conv5", 3, 1, 1), ("pool5", 3, 2, 0),
    ("fc6-conv", 6, 1, 0), ("fc7-conv", 1, 1, 0),
]


def out_from_in(conv: tuple[int, int, int], layer_in: tuple[float, float, float, float]):
    """The guide's outFromIn, transcribed: (n, j, r, start) after one layer."""
    n_in, j_in, r_in, start_in = layer_in
    k, s, p = conv
    n_out = math.floor((n_in - k + 2 * p) / s) + 1
    actual_p = (n_out - 1) * s - n_in + k
    p_left = math.floor(actual_p / 2)
    return n_out, j_in * s, r_in + (k - 1) * j_in, start_in + ((k - 1) / 2 - p_left) * j_in


def test_alexnet_table_of_the_guides_program():
    layers = []
    for name, k, s, p in ALEXNET_GUIDE:
        layers.append(nn.Conv2d(1, 1, k, s, p) if "pool" not in name else nn.MaxPool2d(k, s, p))
    result = analyze(nn.Sequential(*layers), 227).layers[1:]
    expected = (227, 1, 1, 0.5)
    table = []
    for (name, k, s, p), layer in zip(ALEXNET_GUIDE, result, strict=True):
        expected = out_from_in((k, s, p), expected)
        # The guide's "start" puts pixel 0's center at 0.5; rfzoo puts it at 0.
        table.append((name, layer.output_size[0], layer.jump[0], layer.rf[0], layer.center[0] + 0.5))
        assert table[-1][1:] == pytest.approx(expected), name
    assert [row[3] for row in table] == [11, 19, 51, 67, 99, 131, 163, 195, 355, 355]
    assert [row[4] for row in table] == [5.5, 9.5, 9.5, 17.5, 17.5, 17.5, 17.5, 33.5, 113.5, 113.5]


def test_effective_padding_is_how_far_unit_0_reaches_before_pixel_0():
    model = nn.Sequential(nn.Conv2d(1, 1, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
    layer = analyze(model, 224).layers[-1]
    # Araujo et al.: P = p1 + p2 * s1 = 3 + 1 * 2
    assert layer.effective_padding == [5, 5] and layer.rf == [11, 11] and layer.center == [0, 0]


def test_border_units_count_rfs_cut_by_the_image_border():
    layer = analyze(nn.Conv2d(1, 1, 5, 1, 2), 10).layers[-1]
    assert layer.border_units == [4, 4]  # two units at each side reach into the padding

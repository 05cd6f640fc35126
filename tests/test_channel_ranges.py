"""A slice of a concatenation sees only the branches whose channels it keeps."""

from __future__ import annotations

import torch
from oracle import assert_agree, compare, prepared
from torch import nn


class SliceOfCat(nn.Module):
    """cat([3x3 branch (8 ch), 7x7 branch (8 ch)]), per-pixel ops, then a slice or split, then 1x1 convs."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.b3 = nn.Conv2d(1, 8, 3, padding=1)
        self.b7 = nn.Conv2d(1, 8, 7, padding=3)
        self.bn = nn.BatchNorm2d(16)
        self.head3 = nn.Conv2d(8, 4, 1)
        self.head7 = nn.Conv2d(4, 4, 1)
        self.both = nn.Conv2d(6, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(torch.cat([self.b3(x), self.b7(x)], 1))) * 2
        if self.how == "slice":
            first, last, middle = y[:, :8], y[:, 12:], y[:, 5:11]
        elif self.how == "chunk":
            first, second = y.chunk(2, dim=1)
            last, middle = second[:, 4:], torch.cat([first[:, 5:], second[:, :3]], 1)
        else:
            first, middle, last = torch.split(y, [8, 4, 4], dim=1)
            middle = torch.cat([first[:, 5:], middle[:, :3]], 1)
        return self.head3(first) + self.head7(last) + self.both(middle)


def test_slices_and_splits_of_a_concatenation_keep_their_branches_rf():
    for how in ("slice", "chunk", "split"):
        analysis, runner = prepared(SliceOfCat(how), 32)
        assert analysis.layer("head3").rf == [3, 3], how  # the 3x3 branch only, not 7
        assert analysis.layer("head7").rf == [7, 7], how
        assert analysis.layer("both").rf == [7, 7], how  # channels of both branches
        assert_agree(compare(analysis, runner, ["head3", "head7", "both"]))


class MixedThenSliced(nn.Module):
    """A 1x1 conv over the concatenation mixes the branches: every channel sees 7x7 after it."""

    def __init__(self) -> None:
        super().__init__()
        self.b3 = nn.Conv2d(1, 8, 3, padding=1)
        self.b7 = nn.Conv2d(1, 8, 7, padding=3)
        self.mix = nn.Conv2d(16, 16, 1)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mix(torch.cat([self.b3(x), self.b7(x)], 1))[:, :8])


def test_channel_mixing_ends_the_ranges():
    analysis, runner = prepared(MixedThenSliced(), 32)
    assert analysis.layer("head").rf == [7, 7]
    assert_agree(compare(analysis, runner, ["head"]))

"""A tensor written in place is read later under its old fx node: the write's path counts.

fx records `y.add_(z); w = f(y)` as f reading y's node (pytorch#68301), so z's path was
missing from the analysis while the gradient sees it. torchvision's MViT v2 does this in
its residual pooling (`_add_shortcut(x, q)`, then reads x): its analysis missed the pooled
query path of every block and the stage check of `mvit_v2_s` disagreed.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rfzoo
from tests.oracle import assert_agree, compare, prepared


class WriteThenRead(nn.Module):
    """A 3x3 path whose tensor a 7x7 path is added to in place, then read by its old name."""

    def __init__(self) -> None:
        super().__init__()
        self.small = nn.Conv2d(1, 2, 3, padding=1)
        self.large = nn.Conv2d(1, 2, 7, padding=3)
        self.after = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.small(x)
        before = y + 1.0  # read before the write (a copy): sees the 3x3 path only
        y.add_(self.large(x))
        y.mul_(2.0)
        return self.after(y) + before


def test_later_readers_see_an_in_place_write() -> None:
    analysis, runner = prepared(WriteThenRead(), 32)
    # `after` reads y after add_: the 7x7 path then 3x3 = 9 (it was 5 without the write)
    assert analysis.layer("add").rf == [3, 3]
    assert analysis.layer("after").rf == [9, 9]
    assert analysis.layer("add_1").rf == [9, 9]
    assert_agree(compare(analysis, runner, ["add", "after", "add_1"], samples=4))


def test_a_read_before_the_write_keeps_the_old_value() -> None:
    gm = rfzoo.analyze(WriteThenRead(), 32).graph_module
    readers = {n.name: [a.name for a in n.args if hasattr(a, "name")] for n in gm.graph.nodes}
    assert readers["add"] == ["small"]
    assert readers["after"] == ["mul_"]
    assert readers["mul_"] == ["add_"]


@pytest.mark.slow
def test_mvit_v2_residual_pooling_is_on_the_local_path() -> None:
    """Block 0 of mvit_v2_s: the pooled query (a 3x3x3 conv over the 3x7x7 patch embedding)
    is added to the attention output in place: local RF 7x15x15, as the gradient measures."""
    from torchvision.models.video import mvit_v2_s

    model = mvit_v2_s(weights=None)
    analysis, runner = prepared(model, (16, 224, 224), in_channels=3)
    assert analysis.layer("blocks.0.add").rf == [7, 15, 15]
    assert_agree(compare(analysis, runner, ["blocks.0.add"], units={"blocks.0.add": (4, 28, 28)},
                         samples=1, max_rounds=2))

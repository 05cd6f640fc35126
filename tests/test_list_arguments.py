"""A library function fx keeps whole may write into a list it is given.

fx stores a call's list arguments as immutable lists. torchvision's 3D Swin
(`_get_window_and_shift_size`) shrinks its window list in place when the input is narrower
than a window, so the probe's run of the traced graph raised TypeError and swin3d_b could
not be measured. Each such call now gets fresh copies, as eager code would.
"""

from __future__ import annotations

import torch
from torch import fx, nn

from tests.oracle import assert_agree, compare, prepared


def clip_window(window: list[int], size: list[int]) -> list[int]:
    """Writes into `window`, as torchvision's 3D Swin helper does."""
    for i in range(len(window)):
        if size[i] < window[i]:
            window[i] = size[i]
    return window


fx.wrap("clip_window")


class ClippedWindow(nn.Module):
    """A 3x3 conv, then average-pooled over a window clipped to an eighth of the map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.window = [5, 5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        window = clip_window(self.window, [y.shape[2] // 8, y.shape[3] // 8])
        return nn.functional.avg_pool2d(y, window, stride=1, padding=2)


def test_the_graph_runs_a_function_that_writes_into_its_list() -> None:
    analysis, runner = prepared(ClippedWindow(), 32)
    out = runner.run(torch.randn(1, 1, 32, 32, dtype=torch.float64))  # raised TypeError before
    assert out.shape == (1, 2, 33, 33)  # the window clipped to 4
    node = next(n for n in analysis.graph_module.graph.nodes if n.name == "clip_window")
    assert node.target.__name__ == "clip_window"  # same name: rules and labels unchanged
    assert node.target.__wrapped__ is clip_window
    assert analysis.layer("avg_pool2d").rf == [6, 6]
    assert_agree(compare(analysis, runner, ["conv", "avg_pool2d"], samples=4))


def test_swin3d_window_helper_gets_a_mutable_list() -> None:
    """The real helper, called the way the traced 3D Swin calls it at a narrow input."""
    from torchvision.models.video import swin3d_t

    from rfzoo.trace import trace

    gm = trace(swin3d_t(weights=None).eval(), "torchvision")
    helpers = [n for n in gm.graph.nodes if getattr(n.target, "__name__", "") == "_get_window_and_shift_size"]
    assert helpers and all(n.target.__wrapped__.__module__ == "torchvision.models.video.swin_transformer"
                           for n in helpers)
    window, shift = helpers[0].target(fx.immutable_collections.immutable_list([4, 3, 3]), [2, 7, 7],
                                      fx.immutable_collections.immutable_list([8, 7, 7]))
    assert (window, shift) == ([2, 7, 7], [0, 0, 0])

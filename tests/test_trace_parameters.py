"""The tracer finds parameters by identity, with the names fx's own scan gives."""

from __future__ import annotations

import torch
from torch import fx, nn

from rfzoo.trace import RfzooTracer


class Shared(nn.Module):
    """A parameter read directly, a module used twice and a weight tied under two names."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, 4, 1, 1))
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.other = nn.Conv2d(4, 4, 3, padding=1)
        self.other.weight = self.conv.weight  # tied: fx names it after its first owner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.conv(x)) * self.scale
        return torch.nn.functional.conv2d(y, self.other.weight, padding=1) + self.scale.sum()


class ScanningTracer(RfzooTracer):
    def getattr(self, attr, attr_val, parameter_proxy_cache):  # fx's own: a scan per access
        return fx.Tracer.getattr(self, attr, attr_val, parameter_proxy_cache)


class Leafless(RfzooTracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return False  # trace into the convs: their weights are read as attributes


class LeaflessScanning(ScanningTracer, Leafless):
    pass


def test_parameter_nodes_equal_fxs() -> None:
    model = Shared()
    for fast, slow in ((RfzooTracer(), ScanningTracer()), (Leafless(), LeaflessScanning())):
        ours, theirs = fast.trace(model), slow.trace(model)
        assert str(ours) == str(theirs)
        assert [n.target for n in ours.nodes if n.op == "get_attr"] == \
               [n.target for n in theirs.nodes if n.op == "get_attr"]
    got = [n.target for n in Leafless().trace(model).nodes if n.op == "get_attr"]
    assert "conv.weight" in got and "other.weight" not in got and got.count("scale") == 1

"""Small models for catalog tests, named as `path/to/zoo.py:Factory`: good ones and broken ones."""

from __future__ import annotations

import os
import signal
import time

import torch
from torch import nn


class _Tiny(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, stride=2, padding=1)
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.down = nn.MaxPool2d(2)
        self.head = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.down(self.body(self.stem(x))))


def TinyA() -> nn.Module:
    return _Tiny(4)


def TinyB() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 2, 5, stride=2), nn.ReLU(), nn.Conv2d(2, 2, 3, dilation=2))


def TinyC() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.AvgPool2d(3, stride=2, padding=1))


def Raises() -> nn.Module:
    raise RuntimeError("this factory is broken on purpose")


def Hangs() -> nn.Module:
    time.sleep(3600)
    raise AssertionError("unreachable")


def Crashes() -> nn.Module:
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(60)
    raise AssertionError("unreachable")


class _Fourier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft2(self.conv(x)).abs()


def Unsupported() -> nn.Module:
    """An op no rule knows (a 2D FFT): the analysis must stop there and say so."""
    return _Fourier()


def HangsOnCpu() -> nn.Module:
    """Builds on the meta device (the analysis) but hangs on the CPU (the gradient probe)."""
    if torch.empty(0).device.type == "cpu":
        time.sleep(3600)
    return _Tiny(2)


def NeedsMemoryOnCpu() -> nn.Module:
    """Builds on the meta device (the analysis); on the CPU (the probe) it holds 4 GB of
    address space, never touched (no RAM): over a 6.5 GB worker limit, under twice that."""
    model = _Tiny(2)
    if torch.empty(0).device.type == "cpu":
        model.ballast = torch.empty(4 * 2**30, dtype=torch.uint8)  # a plain attribute: never converted
    return model

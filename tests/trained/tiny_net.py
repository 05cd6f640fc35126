"""A user model for the trained-ERF tests: no library weights, no library preprocessing."""

from torch import nn


def Net() -> nn.Module:  # noqa: N802 - a factory named like the class it builds
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))

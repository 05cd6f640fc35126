"""Small hand-made networks whose receptive fields are known by hand."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Chain(nn.Module):
    """Two k=3, s=2, p=1 convs: unit i sees [4i - 3, 4i + 3] (the guide's RF 7, jump 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 3, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(3, 4, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(torch.relu(self.c1(x)))


class Anisotropic(nn.Module):
    """Kernel (3, 5) with dilation (1, 2), padding (1, 4): unit (i, j) sees
    rows [i - 1, i + 1] and columns [j - 4, j + 4]; then a 1x1 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 2, (3, 5), dilation=(1, 2), padding=(1, 4))
        self.c2 = nn.Conv2d(2, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(self.c1(x))


class Residual(nn.Module):
    """conv3 -> (conv3 -> conv3) + identity -> stride-2 conv3: unit i sees [2i - 4, 2i + 4]."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        y = s + self.b(F.relu(self.a(F.relu(s))))
        return self.down(y)


class SeedCNN(nn.Module):
    """The seed's conv/pool/conv/pool net: RF 10, jump 4; unit i sees [4i - 3, 4i + 6]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 3, padding=1)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(1, 1, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool2(self.conv2(self.pool1(self.conv1(x))))


class DeepChain(nn.Module):
    """`depth` 3x3 convs, one channel, no padding: RF 2*depth + 1.

    Every kernel is ``outer(v, v)`` with ``v = [edge, 1, edge]``: the center
    carries the signal, the RF edge is reached only through `edge` taps. The
    gradient at distance d from the center is about C(depth, d) * edge**d: with
    edge 0.1 and depth 60 the last rows get 1e-60 .. 1e-49, below float32's
    smallest subnormal (1.4e-45) but far above float64's (4.9e-324).
    """

    def __init__(self, depth: int, edge: float) -> None:
        super().__init__()
        self.convs = nn.Sequential(*(nn.Conv2d(1, 1, 3, bias=False) for _ in range(depth)))
        v = torch.tensor([edge, 1.0, edge])
        with torch.no_grad():
            for conv in self.convs:
                conv.weight.copy_(torch.outer(v, v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


class SqueezeExcite(nn.Module):
    """conv3 gated by sigmoid(fc(global mean)): local RF [i - 1, i + 1], full RF everything."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        pooled = y.mean((2, 3), keepdim=True)
        return y * torch.sigmoid(self.fc(pooled))


class Normed(nn.Module):
    """conv3 -> norm -> conv3: local RF [i - 2, i + 2]; the norm's statistics see everything."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = norm
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(self.norm(self.c1(x)))


class FunctionalGroupNorm(nn.Module):
    """Like `Normed` with a traced `F.group_norm` call instead of a leaf module."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(F.group_norm(self.c1(x), 2))


class UniformStack(nn.Module):
    """Luo et al.'s setting: n 3x3 convs with uniform weights 1/9, no nonlinearity."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(*(nn.Conv2d(1, 1, 3, bias=False) for _ in range(n)))
        with torch.no_grad():
            for conv in self.convs:
                conv.weight.fill_(1.0 / 9.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)

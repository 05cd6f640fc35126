"""timm's opaque leaf modules and functions, and windows along non-spatial dims."""

from __future__ import annotations

import torch
from oracle import assert_agree, compare, prepared
from torch import nn

from rfzoo import analyze


class TimmVggHead(nn.Module):
    __module__ = "timm.rfzoo_test"  # analyze() traces timm modules with timm's leaf settings

    def __init__(self) -> None:
        super().__init__()
        from timm.models.vgg import ConvMlp

        self.stem = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.pre_logits = ConvMlp(4, 8, kernel_size=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_logits(self.stem(x))


def test_timm_conv_mlp_is_one_window() -> None:
    analysis, runner = prepared(TimmVggHead(), 32)
    layer = analysis.layer("pre_logits")
    assert layer.op.startswith("ConvMlp") and layer.rf == [7, 7] and layer.output_size == [14, 14]
    assert_agree(compare(analysis, runner, ["pre_logits"]))


class TimmMobileVit(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self) -> None:
        super().__init__()
        from timm.models.mobilevit import MobileVitBlock

        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.block = MobileVitBlock(8, 8, transformer_dim=8, transformer_depth=1, patch_size=2, num_heads=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x) + self.block(self.stem(x))


def test_attention_leaf_is_global_with_a_stated_reason() -> None:
    analysis, runner = prepared(TimmMobileVit(), 32)
    block = analysis.layer("block")
    assert block.is_global and block.rf is None and any("global" in n for n in block.notes)
    assert analysis.layer("add").rf == [3, 3]  # the residual carries the local RF
    assert_agree(compare(analysis, runner, ["add"]))


class ChannelConv(nn.Module):
    """ECA: a conv1d along the channels of a pooled vector; a 1x1 conv over an attention map."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.eca = nn.Conv1d(1, 1, 3, padding=1)
        self.talk = nn.Conv2d(1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        gate = self.eca(x.mean((2, 3)).view(b, 1, c)).view(b, c, 1, 1).sigmoid()
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        attn = self.talk((tokens @ tokens.transpose(1, 2)).unsqueeze(1)).squeeze(1)
        return x * gate + (attn.softmax(-1) @ tokens).transpose(1, 2).reshape(b, c, h, w)


def test_windows_along_channels_and_1x1_over_attention_maps() -> None:
    analysis = analyze(ChannelConv(), 16)
    assert analysis.status == "exact"
    assert analysis.layer("eca").kind == "conv" and analysis.layer("eca").rf is None  # after global pooling
    assert analysis.layer("mul").rf == [3, 3] and analysis.layer("mul").is_global


class OptionalArguments(nn.Module):
    """forward(x, mask=None, pooled=True): traced at the defaults, as it runs by default."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, pooled: bool = True) -> torch.Tensor:
        if mask is not None:
            x = x * mask
        x = self.conv(x)
        return torch.nn.functional.max_pool2d(x, 2) if pooled else x


def test_optional_arguments_are_traced_at_their_defaults() -> None:
    analysis = analyze(OptionalArguments(), 16)
    assert analysis.status == "exact"
    assert analysis.summary()["rf"] == [4, 4] and analysis.summary()["jump"] == [2, 2]
    assert not any("mask" in layer.name for layer in analysis.layers)


class MutatesItsListArgument(nn.Module):
    """A wrapped function that edits a list argument in place (torchvision's 3D Swin)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = _shrink_to([3, 3], [x.shape[2], x.shape[3]])
        return torch.nn.functional.avg_pool2d(x, size, stride=1)


def _shrink_to(window: list[int], size: list[int]) -> list[int]:
    for i in range(2):
        if size[i] < window[i]:
            window[i] = size[i]
    return window


torch.fx.wrap("_shrink_to")


def test_wrapped_functions_may_mutate_their_list_arguments() -> None:
    analysis = analyze(MutatesItsListArgument(), 16)
    assert analysis.summary()["rf"] == [3, 3]

"""timm's fx leaves with local structure inside, proved against gradient supports: small nets
around the real timm modules, and the real models (slow)."""

from __future__ import annotations

import pytest
import torch
from oracle import assert_agree, compare, prepared
from torch import nn

from rfzoo import analyze
from rfzoo.rules.timm_leaves import Chain
from rfzoo.transforms import BlockBroadcast, Resample, Window


def assert_agree_in_image(rows: list, size: int) -> None:
    """Analytic boxes reach the canvas past the map (a padded window's padding units);
    the gradient can only show the part inside the image."""
    assert_agree([(name, unit, [(max(lo, 0), min(hi, size - 1)) for lo, hi in analytic], measured)
                  for name, unit, analytic, measured in rows])


class NormFree(nn.Module):
    __module__ = "timm.rfzoo_test"  # analyze() traces timm modules with timm's leaf settings

    def __init__(self) -> None:
        super().__init__()
        from timm.models.nfnet import NormFreeBlock

        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.block = NormFreeBlock(8, 16, stride=2, skipinit=True, act_layer=nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.stem(x))


def test_norm_free_block_is_traced_through() -> None:
    analysis, runner = prepared(NormFree(), 32)
    names = [layer.name for layer in analysis.layers]
    assert {"block.downsample.pool", "block.conv2.conv2d", "block.mul_"} <= set(names)  # shortcut, branch, gain
    add = analysis.layer("block.add")
    assert add.kind == "merge" and add.rf == [5, 5] and analysis.status == "exact"
    assert_agree(compare(analysis, runner, ["block.downsample.conv.conv2d", "block.conv3.conv2d", "block.add"]))


class EfficientVitWindows(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self) -> None:
        super().__init__()
        from timm.models.efficientvit_msra import LocalWindowAttention

        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.attn = LocalWindowAttention(16, 4, num_heads=2, attn_ratio=2, resolution=16, window_resolution=5,
                                         kernels=(3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return x + self.attn(x)


def test_efficientvit_local_window_attention_is_padded_windows() -> None:
    analysis, runner = prepared(EfficientVitWindows(), 22)  # 22 = 4 windows of 5 + a padded one
    assert analysis.layer("attn").kind == "attention" and not analysis.layer("attn").is_global
    rows = compare(analysis, runner, ["attn", "add"], units={"attn": (11, 21), "add": (11, 21)})
    assert rows[0][2] == [(9, 15), (19, 25)]  # windows [10, 14] and [20, 24] widened by the 3x3 stem
    assert_agree_in_image(rows, 22)  # the padded window's units past the map are padding


def test_efficientvit_window_over_the_whole_map_is_global() -> None:
    analysis, runner = prepared(EfficientVitWindows(), 5)
    attn = analysis.layer("attn")
    assert attn.is_global and attn.rf is None and any("whole" in n for n in attn.notes)
    assert analysis.layer("add").rf == [3, 3]
    assert_agree(compare(analysis, runner, ["add"]))


class TwinsGroups(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self) -> None:
        super().__init__()
        from timm.models.twins import LocallyGroupedAttn

        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.attn = LocallyGroupedAttn(8, num_heads=2, ws=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        return self.attn(tokens, (h, w)).transpose(1, 2).reshape(b, c, h, w)


def test_twins_locally_grouped_attention_is_windows() -> None:
    analysis, runner = prepared(TwinsGroups(), 14)  # 3 groups of 4 and a padded one
    assert analysis.layer("attn").kind == "attention"
    rows = compare(analysis, runner, ["reshape"], units={"reshape": (5, 13)})
    assert rows[0][2] == [(3, 8), (11, 16)]
    assert_agree_in_image(rows, 14)


class TinyVit(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self, window: int = 4) -> None:
        super().__init__()
        from timm.models.tiny_vit import TinyVitBlock

        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.block = TinyVitBlock(8, num_heads=2, window_size=window, mlp_ratio=2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def test_tiny_vit_block_is_windows_then_a_conv_with_the_shortcut() -> None:
    analysis, runner = prepared(TinyVit(), 14)
    block = analysis.layer("block")
    assert block.kind == "attention" and not block.is_global and block.rf_min == [5, 5]  # shortcut + 3x3
    units = {"block": (5, 8), "permute_1": (8, 13)}  # window edges, the padded last window
    rows = compare(analysis, runner, ["block", "permute_1"], units=units)
    assert rows[0][2] == [(3, 8), (3, 12)]  # the 3x3 conv reaches into the next window at 8
    assert_agree_in_image(rows, 14)


def test_tiny_vit_block_over_one_window_is_global_with_its_local_shortcut() -> None:
    analysis = analyze(TinyVit(window=8), 8)
    block = analysis.layer("block")
    assert block.is_global and block.rf == [5, 5] and any("global" in n for n in block.notes)


class Fusion(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self, out: int) -> None:
        super().__init__()
        from timm.models.mobilenetv5 import MobileNetV5MultiScaleFusionAdapter

        self.fine = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.coarse = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.msfa = MobileNetV5MultiScaleFusionAdapter([4, 4], 8, output_resolution=out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.fine(x)
        return self.msfa([fine, self.coarse(fine)])


@pytest.mark.parametrize("out", [8, 4, 6])  # the same size, average pooling, bilinear
def test_mobilenetv5_fusion_resizes_merges_and_pools(out: int) -> None:
    analysis, runner = prepared(Fusion(out), 32)
    assert analysis.layer("msfa").output_size == [out, out] and analysis.status == "exact"
    units = {"msfa": (out // 2, out // 2 + 1)}
    assert_agree(compare(analysis, runner, ["msfa"], units=units))


class Sequencer(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self) -> None:
        super().__init__()
        from timm.models.sequencer import LSTM2d

        self.stem = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.rnn = LSTM2d(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(self.stem(x).permute(0, 2, 3, 1))


def test_lstm_along_rows_and_columns_reads_the_whole_row_and_column() -> None:
    analysis, runner = prepared(Sequencer(), 16)
    lstm = analysis.layer("rnn.rnn_v")
    assert lstm.op.startswith("LSTM(bidirectional") and not lstm.is_global
    assert analysis.layer("rnn.rnn_v").rf == [17, 3] and analysis.layer("rnn.fc").rf == [17, 17]
    rows = compare(analysis, runner, ["rnn.permute_1", "rnn.reshape_3", "rnn.fc"], units={
        "rnn.permute_1": (3, 2), "rnn.reshape_3": (2, 3), "rnn.fc": (3, 3)})
    assert rows[0][2] == [(-1, 15), (3, 5)]  # the whole column, widened by the stem's padding
    assert_agree_in_image(rows, 16)


def test_one_direction_lstm_is_refused() -> None:
    class Rows(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(1, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.rnn(x.flatten(0, 2).unsqueeze(-1))[0]

    with pytest.raises(Exception, match="prefix"):
        analyze(Rows(), (4, 4))


class CpuBoneAttention(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self) -> None:
        super().__init__()
        from timm.models.cpubone import ConvAttention

        self.stem = nn.Conv2d(1, 32, 3, padding=1)
        self.attn = ConvAttention(32, att_stride=2, small_kernels=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return x + self.attn(x)


def test_conv_attention_is_global_and_the_residual_keeps_the_local_path() -> None:
    analysis, runner = prepared(CpuBoneAttention(), 15)
    assert analysis.layer("attn").is_global and analysis.layer("attn").rf is None
    assert analysis.layer("add").rf == [3, 3]
    assert_agree(compare(analysis, runner, ["add"]))


class NaFlex(nn.Module):
    __module__ = "timm.rfzoo_test"

    def __init__(self, proj_type: str) -> None:
        super().__init__()
        from timm.models.naflexvit import NaFlexEmbeds

        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.embeds = NaFlexEmbeds(patch_size=4, in_chans=2, embed_dim=8, proj_type=proj_type, reg_tokens=2,
                                   pos_embed_grid_size=(3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, grid = self.embeds(self.stem(x))
        return tokens[:, 3:].transpose(1, 2).reshape(x.shape[0], 8, grid[0], grid[1])


@pytest.mark.parametrize("proj_type", ["linear", "conv"])
def test_naflex_embeds_are_patches_after_prefix_tokens(proj_type: str) -> None:
    analysis, runner = prepared(NaFlex(proj_type), 24)
    assert analysis.layer("embeds").rf == [6, 6] and analysis.status == "exact"
    assert_agree(compare(analysis, runner, ["reshape"], units={"reshape": (2, 3)}))


def test_chain_composes_from_the_output_back() -> None:
    conv_after_windows = Chain((Window(3, 1, 1), BlockBroadcast(4)))
    assert conv_after_windows.back(4, 4) == (0, 7) and conv_after_windows.period == 4
    pool_after_upsample = Chain((Window(3, 3, 0), Resample(4, 8, "nearest")))
    assert pool_after_upsample.back(1, 1) == (1, 2) and pool_after_upsample.scale == Window(3, 3).scale / 2
    assert pool_after_upsample.period == 1 and not pool_after_upsample.affine


REAL = [
    ("test_nfnet", 64),  # NormFreeBlock, traced through
    ("nf_resnet26", 64),
    ("efficientvit_m0", 224),  # LocalWindowAttention
    ("tiny_vit_5m_224", 224),  # TinyVitBlock
    ("twins_svt_small", 224),  # LocallyGroupedAttn
    ("mobilenetv5_300m", 256),  # MobileNetV5MultiScaleFusionAdapter
    ("cpubone_t0", 224),  # ConvAttention
    ("lowformer_b0", 224),
    ("sequencer2d_s", 224),  # LSTM along rows and columns
    ("naflexvit_base_patch16_gap", 64),  # NaFlexEmbeds, global_pool_naflex
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "size"), REAL)
def test_real_models_are_exact(name: str, size: int) -> None:
    analysis = analyze(f"timm/{name}", input_size=size)
    assert analysis.status == "exact"

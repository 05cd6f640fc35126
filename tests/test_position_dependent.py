"""After upsampling, a unit's RF depends on its position: max and min over one period."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from oracle import assert_agree, compare, prepared
from torch import nn

from rfzoo import analyze


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class SmallUNet(nn.Module):
    """Bottleneck RF 26 at jump 4, a 3x3/stride-2 transposed conv, concatenated skip, 3x3 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 7, padding=3)
        self.enc = block(4, 4)
        self.pool = nn.MaxPool2d(2)
        self.mid = nn.Conv2d(4, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.dec = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.enc(self.pool(self.stem(x)))  # jump 2
        up = self.up(self.mid(self.pool(skip)))  # jump 4 -> 2
        return self.dec(torch.cat([up, skip], 1))


def test_unet_rf_alternates_30_34_and_matches_gradients_over_a_period():
    analysis, runner = prepared(SmallUNet(), 128)
    assert analysis.layer("mid").rf == [26, 26] and analysis.layer("mid").jump == [4, 4]
    dec = analysis.layer("dec")
    assert dec.position_dependent
    assert dec.rf == [34, 34]  # the largest over positions; a fractional recursion says 32
    sizes = set()
    for u in (30, 31, 32, 33):
        rows = compare(analysis, runner, ["up", "dec"], {"up": (u, u), "dec": (u, u)})
        assert_agree(rows)
        lo, hi = rows[-1][3][0]
        sizes.add(hi - lo + 1)
    assert sizes == {30, 34}


class FPNTop(nn.Module):
    """A coarse map bilinearly upsampled and added to a fine path, then a 3x3 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.fine = nn.Conv2d(1, 2, 3, padding=1)
        self.down = nn.Conv2d(2, 2, 3, stride=2, padding=1)
        self.coarse = nn.Conv2d(2, 2, 3, stride=2, padding=1)
        self.smooth = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.fine(x)
        coarse = self.coarse(self.down(fine))
        top = F.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return self.smooth(fine + top)


def test_fpn_bilinear_merge_max_and_min_over_positions_match_gradients():
    analysis, runner = prepared(FPNTop(), 96)
    smooth = analysis.layer("smooth")
    assert smooth.position_dependent
    measured = []
    for u in range(44, 48):  # the 4x upsample repeats every 4 units
        rows = compare(analysis, runner, ["add", "smooth"], {"add": (u, u), "smooth": (u, u)})
        assert_agree(rows)
        lo, hi = rows[-1][3][0]
        measured.append(hi - lo + 1)
    assert max(measured) == smooth.rf[0]
    # rf_min is the fine path alone: 3x3 then 3x3
    assert smooth.rf_min == [5, 5]


def test_nearest_upsample_by_factor_and_pixel_shuffle():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 4, 3, stride=2, padding=1)
            self.shuffle = nn.PixelShuffle(2)
            self.b = nn.Conv2d(1, 1, 3, padding=1)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.c = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.c(self.up(self.b(self.shuffle(self.a(x)))))

    analysis, runner = prepared(Net(), 64)
    assert analysis.layer("c").output_size == [128, 128]
    for u in (30, 31, 32, 33):
        units = {"shuffle": (u, u), "b": (u, u), "up": (2 * u, 2 * u + 1), "c": (2 * u + 1, 2 * u)}
        assert_agree(compare(analysis, runner, list(units), units))


def test_transposed_conv_jump_is_fractional():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=4, padding=1), nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1))
    layer = analyze(model, 64).layers[-1]
    assert layer.jump == [2, 2] and layer.output_size == [32, 32]


class PooledGate(nn.Module):
    """GhostNetV2's DFC gate twice on a 7-unit map: pool to 4 units, resize back to 7.

    The 4 -> 7 resize repeats every 7 units and the second gate's pattern every 49: longer
    than the map, so the RF is the largest over the 7 units there are, not over a period.
    """

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Sequential(*[nn.Conv2d(1, 1, 3, stride=2, padding=1) for _ in range(3)])
        self.gate1 = nn.Conv2d(1, 1, 3, padding=1)
        self.gate2 = nn.Conv2d(1, 1, 5, padding=2)
        self.head = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.down(x)  # 56 -> 7 units at jump 8
        g = F.avg_pool2d(a, 2, ceil_mode=True)
        b = a + F.interpolate(self.gate1(g), size=a.shape[-2:], mode="nearest")
        g = F.avg_pool2d(b, 2, ceil_mode=True)
        c = b + F.interpolate(self.gate2(g), size=b.shape[-2:], mode="nearest")
        return self.head(c)


def test_pattern_longer_than_the_map_takes_the_largest_rf_of_its_units():
    analysis, runner = prepared(PooledGate(), 56)
    head = analysis.layer("head")
    assert head.output_size == [7, 7] and head.position_dependent
    sizes = []
    for u in range(7):
        (lo, hi), _ = analysis.unit_box("head", (u, u))
        sizes.append(hi - lo + 1)
        if lo >= 0 and hi <= 55:  # inside the image: the gradient sees the whole box
            assert_agree(compare(analysis, runner, ["head"], {"head": (u, u)}))
    assert head.rf == [max(sizes)] * 2


class AlignCornersUp(nn.Module):
    """A stride-4 map of 17 units resized to 65 with align_corners=True, then a 3x3 conv."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.down = nn.Conv2d(1, 2, 4, stride=4)
        self.smooth = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(self.down(x), size=(65, 65), mode=self.mode, align_corners=True)
        return self.smooth(up)


def test_align_corners_jump_is_the_spacing_of_the_unit_boxes():
    for mode in ("bilinear", "bicubic"):
        analysis, runner = prepared(AlignCornersUp(mode), 68)
        layer = analysis.layer("smooth")
        # (17-1)/(65-1) input units of jump 4 per output unit; in/out would say 1.0462
        assert layer.jump == [1, 1], mode
        centers = [sum(analysis.unit_box("smooth", (u, u))[0]) / 2 for u in range(65)]
        # the pattern repeats every 4 units and moves by 4 * jump: no drift at the far side
        assert all(centers[u + 4] - centers[u] == 4 for u in range(61)), mode
        assert abs(centers[64] - (centers[0] + 64 * layer.jump[0])) < 2, mode
        fits = [u for u in range(65) if 0 <= analysis.unit_box("smooth", (u, u))[0][0]
                and analysis.unit_box("smooth", (u, u))[0][1] <= 67]
        assert len(fits) >= 55
        for u in fits[:4] + fits[len(fits) // 2 :][:4] + fits[-4:]:  # a period at each side and the middle
            assert_agree(compare(analysis, runner, ["smooth"], {"smooth": (u, u)}))


class AdaptiveGate(nn.Module):
    """CSATv2's spatial gate in small: a 64-unit map pooled to 7 cells of 9 or 10 units,
    resized back with align_corners=True and added to the map, twice, then a stride-2
    conv. Cells of two sizes repeat no sooner than the map ends."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 1, 4, stride=4)
        self.gates = nn.ModuleList(nn.Conv2d(1, 1, 3, padding=1) for _ in range(2))
        self.down = nn.Conv2d(1, 1, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.stem(x)  # 256 -> 64 units at jump 4
        for gate in self.gates:
            g = gate(F.adaptive_avg_pool2d(a, 7))
            a = a + F.interpolate(g, size=a.shape[-2:], mode="bilinear", align_corners=True)
        return self.down(a)


def test_a_merge_of_mismatched_jumps_keeps_the_maps_grid():
    """The gate's path comes back on a grid of (7-1)/(64-1) cells per unit (align_corners),
    not the residual's: the merged map's jump is the residual's stride (4 px, 256 / 64), not
    the finer of the two, which compounded from block to block (CSATv2's summary said 20.4
    where its last map's stride is 64)."""
    analysis = analyze(AdaptiveGate(), 256)
    for name, stride in (("add", 4), ("add_1", 4), ("down", 8)):
        layer = analysis.layer(name)
        assert layer.position_dependent and layer.jump == [stride, stride], name
        # each unit's own box is exact: the first unit's is where the center says
        box = analysis.unit_box(name, (0, 0))
        assert layer.center[0] == sum(box[0]) / 2
    # a single resize keeps its own spacing: FCN's 8x upsampling moves 1 pixel per unit
    fcn = analyze(Upsampled8(), 64)
    up = fcn.layer("interpolate")
    centers = [sum(fcn.unit_box("interpolate", (u, u))[0]) / 2 for u in range(64)]
    assert up.jump == [1, 1] and centers[40] - centers[32] == 8


class Upsampled8(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(1, 1, 8, stride=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.down(x), scale_factor=8, mode="bilinear", align_corners=False)

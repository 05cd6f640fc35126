"""The image-averaged ERF against a hand-written oracle, and the CLI's image errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rfzoo.cli import main
from rfzoo.trained.erf import averaged_maps, stage_targets, trace_for_maps
from tests.trained.tiny_net import Net


def one_image_map(model: torch.nn.Module, image: torch.Tensor, unit: tuple[int, int]) -> np.ndarray:
    """|d (sum of channels at `unit` of the output) / d image|, summed over input channels."""
    x = image[None].clone().requires_grad_(True)
    out = model(x)
    (grad,) = torch.autograd.grad(out[0, :, unit[0], unit[1]].sum(), x)
    return grad.abs().sum(dim=1)[0].double().numpy()


def test_averaged_map_is_the_mean_of_per_image_maps():
    torch.manual_seed(0)
    model = Net().eval()
    images = torch.rand(5, 3, 20, 20)
    traced = trace_for_maps(model, "user", (20, 20), 3)
    targets = stage_targets(traced, ["4"])  # the last conv: output 10x10, center unit (4, 4)
    assert targets[0].target.unit == (4, 4)
    for batch in (1, 2, 5):  # however the images are split into forward passes
        (avg,) = averaged_maps(traced, targets, images, batch=batch)
        expected = np.mean([one_image_map(model, img, (4, 4)) for img in images], axis=0)
        np.testing.assert_allclose(avg, expected, rtol=1e-5, atol=1e-9)
    assert avg.sum() > 0 and (avg[:, :3] == 0).all()  # rows far from the unit's RF get nothing


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_empty_image_folder(tmp_path, capsys):
    code, err = run(capsys, "erf", "torchvision/resnet18", "--images", str(tmp_path))
    assert code != 0 and err.startswith("rfzoo: error: --images") and "no images" in err
    assert len(err.strip().splitlines()) == 1


def test_unreadable_image(tmp_path, capsys):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    code, err = run(capsys, "erf", "torchvision/resnet18", "--images", str(tmp_path))
    assert code != 0 and "cannot read image" in err and "broken.jpg" in err
    assert len(err.strip().splitlines()) == 1


def test_images_folder_missing(tmp_path, capsys):
    code, err = run(capsys, "erf", "torchvision/resnet18", "--images", str(tmp_path / "nope"))
    assert code != 0 and "not a folder" in err


def test_user_model_has_no_pretrained_weights(capsys):
    from pathlib import Path

    net = f"{Path(__file__).with_name('tiny_net.py')}:Net"
    code, err = run(capsys, "erf", net, "--weights", "pretrained")
    assert code != 0 and "torchvision or timm model" in err and "Traceback" not in err


def test_noise_and_images_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["erf", "torchvision/resnet18", "--images", str(tmp_path), "--noise"])

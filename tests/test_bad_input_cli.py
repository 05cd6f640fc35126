"""Bad input to `rfzoo show` and `rfzoo erf` (issue #12): one line on stderr and a
non-zero exit, at once; user models get the input they take; stdout holds only output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_bad_input_api import deadline

from rfzoo.cli import main

USER_MODELS = '''
import torch
from torch import nn

def Gray():
    """The classic 4-layer example on a gray image."""
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 4, 3))


def Signal():
    return nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Conv1d(4, 4, 3))


def Mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def Quoted():
    model = nn.Sequential()
    model.add_module("it's", nn.Conv2d(3, 4, 3))
    model.add_module('say "hi"', nn.Conv2d(4, 4, 3))
    return model
'''


NOISY_MODEL = '''
from torch import nn

print("user module imported")


class Chatty(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        print("forward called")
        return self.conv(x)


def Noisy():
    print("factory called")
    return Chatty()
'''


@pytest.fixture(scope="module")
def nets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "nets.py"
    path.write_text(USER_MODELS)
    return path


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    path = tmp_path / "noisy.py"
    path.write_text(NOISY_MODEL)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, needle: str) -> None:
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rfzoo: error: ") and needle in lines[0], err


def test_show_input_size_zero_answers_at_once():
    proc = subprocess.run(
        [sys.executable, "-m", "rfzoo", "show", "torchvision/resnet18", "--input-size", "0"],
        capture_output=True, text=True, timeout=300,
    )
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, "input size must be positive, not 0")


def test_erf_input_size_zero_answers_at_once(capsys, nets):
    with deadline(60):
        code, out, err = run(capsys, "erf", f"{nets}:Gray", "--input-size", "0")
    assert_one_line_error(code, out, err, "input size must be positive, not 0")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["show", "torchvision/resnet18", "--input-size", "-3"], "input size must be positive, not -3"),
        (["show", "torchvision/resnet18", "--input-size", "1", "2", "3", "4", "5"], "has 5 axes"),
        (["show", "torchvision/resnet18", "--in-channels", "0"], "in_channels must be positive"),
        (["erf", "torchvision/resnet18", "--input-size", "8", "8", "8"], "has 3 axes"),
    ],
)
def test_bad_sizes_are_one_line(capsys, args, needle):
    with deadline(60):
        code, out, err = run(capsys, *args)
    assert_one_line_error(code, out, err, needle)


def test_a_gray_image_model_from_a_file(capsys, nets):
    code, out, _ = run(capsys, "show", f"{nets}:Gray", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["input_size"] == [224, 224]
    assert doc["summary"]["rf"] == [10, 10] and doc["summary"]["jump"] == [2, 2]


def test_a_conv1d_model_from_a_file(capsys, nets):
    code, out, _ = run(capsys, "show", f"{nets}:Signal", "--input-size", "32", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["input_size"] == [32] and doc["summary"]["rf"] == [5]


def test_in_channels_reaches_the_analysis(capsys, nets):
    code, out, err = run(capsys, "show", f"{nets}:Gray", "--in-channels", "3")
    assert_one_line_error(code, out, err, "expected input[1, 3, 224, 224] to have 1 channels")
    code, out, _ = run(capsys, "show", f"{nets}:Mlp", "--in-channels", "1", "--input-size", "28",
                       "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["input_size"] == [28, 28] and doc["summary"]["global_from"] == "1"


def test_erf_of_a_gray_image_model(capsys, nets):
    code, out, _ = run(capsys, "erf", f"{nets}:Gray", "--input-size", "24", "--samples", "1", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["input_size"] == [24, 24]
    assert [[b - a + 1 for a, b in stage["rf_box"]] for stage in doc["stages"]][-1] == [10, 10]


def test_a_linear_model_is_not_an_image(capsys, nets):
    code, out, err = run(capsys, "show", f"{nets}:Mlp")
    assert_one_line_error(code, out, err, "(784 features) through Flatten '0' before any convolution")
    assert "--in-channels" in err


def test_prints_of_user_code_go_to_stderr(capsys, noisy):
    code, out, err = run(capsys, "show", f"{noisy}:Noisy", "--input-size", "8", "--format", "json")
    assert code == 0 and json.loads(out)["model"] == "user/noisy.py:Noisy"
    for said in ("user module imported", "factory called", "forward called"):
        assert said in err


def test_labels_of_user_models_are_clean(capsys, nets):
    assert str(nets).startswith("/")  # an absolute path used to give user//tmp/...
    code, out, _ = run(capsys, "show", f"{nets}:Gray")
    assert code == 0 and out.splitlines()[0].startswith("user/nets.py:Gray at 224x224")
    code, out, _ = run(capsys, "show", f"{nets}:Gray", "--format", "json")
    doc = json.loads(out)
    assert (doc["model"], doc["source"], doc["name"]) == ("user/nets.py:Gray", "user", "nets.py:Gray")


def test_a_file_that_is_not_python(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("these are notes, not python\n")
    code, out, err = run(capsys, "show", f"{notes}:Net")
    assert_one_line_error(code, out, err, f"cannot import '{notes}': SyntaxError: invalid syntax")


def test_module_names_with_quotes(capsys, nets):
    code, out, _ = run(capsys, "show", f"{nets}:Quoted", "--input-size", "16", "--format", "json")
    layers = json.loads(out)["layers"]
    assert code == 0 and [ly["name"] for ly in layers] == ["input", "it's", 'say "hi"']
    assert layers[-1]["rf"] == [5, 5]


@pytest.mark.parametrize(("make", "needle"), [("missing folder", "does not exist"), ("folder", "is a folder")])
def test_erf_png_path_is_checked_before_computing(capsys, nets, tmp_path, make, needle):
    png = tmp_path / "no" / "map.png" if make == "missing folder" else tmp_path
    with deadline(60):
        code, out, err = run(capsys, "erf", f"{nets}:Gray", "--input-size", "16", "--samples", "1", "--png", png)
    assert_one_line_error(code, out, err, needle)
    assert "weights:" not in out  # nothing was computed


def test_erf_weights_with_nan(capsys, nets, tmp_path):
    from torch import nn

    state = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 4, 3)).state_dict()
    state["2.weight"][0, 0, 1, 1] = float("nan")
    torch.save(state, tmp_path / "gray.pt")
    code, out, err = run(capsys, "erf", f"{nets}:Gray", "--input-size", "16", "--samples", "1",
                         "--weights", tmp_path / "gray.pt")
    assert_one_line_error(code, out, err, "gray.pt hold NaN in 2.weight")


@pytest.mark.parametrize("argv", [["show", "torchvision/nonexistent"], ["show", "resnet5"],
                                  ["erf", "timm/nope"], ["build", "timm/", "--data-dir", "DATA"],
                                  ["show", "BADFILE:Net"], ["erf", "BADFILE:Net"], ["show", "MISSING:Net"]])
def test_unknown_names_answer_without_importing_torch(argv: list[str], tmp_path) -> None:
    """Importing torch takes seconds: unknown names (from the committed index) and broken files are
    answered without it."""
    (tmp_path / "bad.py").write_text("def Net(:\n")
    places = {"DATA": tmp_path / "d", "BADFILE:Net": f"{tmp_path / 'bad.py'}:Net",
              "MISSING:Net": f"{tmp_path / 'missing.py'}:Net"}
    argv = [str(places.get(a, a)) for a in argv]
    code = (f"import sys; from rfzoo.cli import main; code = main({argv!r}); "
            "sys.exit(10 + code if 'torch' in sys.modules else code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr  # UnknownModelError, and torch never imported
    assert done.stderr.startswith(("rfzoo: error: unknown", "rfzoo: error: cannot import", "rfzoo: error: no such"))
    assert len(done.stderr.splitlines()) == 1

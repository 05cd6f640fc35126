"""The `rfzoo show` command: formats, names, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rfzoo.cli import main

NETS = Path(__file__).parent / "fixtures" / "usermodels" / "nets.py"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_stdout_is_only_the_document(capsys):
    code, out, err = run(capsys, "show", "torchvision/resnet18", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["model"] == "torchvision/resnet18" and doc["input_size"] == [224, 224]
    assert doc["summary"]["rf"] == [435, 435] and doc["summary"]["jump"] == [32, 32]
    keys = {"name", "op", "output_size", "rf", "rf_min", "jump", "center", "effective_padding", "global", "aligned"}
    assert keys <= set(doc["layers"][1])


def test_table_fits_100_columns(capsys):
    code, out, _ = run(capsys, "show", "timm/efficientnet_b0", "--input-size", "256")
    assert code == 0
    assert max(len(line) for line in out.splitlines()[1:]) <= 100
    assert "at 256x256" in out.splitlines()[0]


def test_csv_and_markdown(capsys):
    code, out, _ = run(capsys, "show", "torchvision/alexnet", "--format", "csv", "--input-size", "227", "227")
    assert code == 0 and out.startswith("layer,op,size,rf")
    code, out, _ = run(capsys, "show", "alexnet", "--format", "markdown")
    assert code == 0 and "| layer | op |" in out and "RF 195" in out


def test_user_model_from_a_file(capsys):
    code, out, _ = run(capsys, "show", f"{NETS}:Tiny", "--input-size", "32", "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["rf"] == [8, 8]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["show", "resnet5O"], 2, "closest: torchvision/resnet50"),
        (["show", "resnet50"], 2, "is in both libraries"),
        (["show", "torchvision/notamodel"], 2, "unknown model"),
        (["show", f"{NETS}:Nope"], 2, "has no attribute 'Nope'"),
        (["show", f"{NETS}:Raises"], 1, "broken on purpose"),
        (["show", f"{NETS}:Deep", "--input-size", "40"], 3, "smallest input that works is 63x63"),
        (["show", f"{NETS}:DataDependentNet"], 4, "cannot trace"),
        (["show", f"{NETS}:UnsupportedOp"], 5, "unsupported op torch._C._fft.fft_fft2"),
    ],
)
def test_user_errors_are_one_line_with_an_exit_code(capsys, args, code, needle):
    got, out, err = run(capsys, *args)
    assert got == code
    assert out == ""
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_partial_analysis_names_the_op(capsys):
    code, out, err = run(capsys, "show", f"{NETS}:UnsupportedOp", "--partial", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "partial" and "fft2" in doc["reason"]
    assert doc["layers"][1]["rf"] == [3, 3]


def test_python_dash_m_and_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "rfzoo", "show", "torchvision/resnet5"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "closest" in proc.stderr


def test_summary_line_says_when_the_summary_node_sees_the_whole_input(capsys) -> None:
    from rfzoo.cli import main

    assert main(["show", "timm/vit_tiny_patch16_224", "--format", "table"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "sees the whole input from blocks.0.attn" in first and "local-path RF 16, jump 16" in first
    assert main(["show", "torchvision/resnet18"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "RF 435, jump 32 at layer4.1.relu_1; global context only after it, from avgpool" in first

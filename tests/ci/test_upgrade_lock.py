"""scripts/ci/upgrade_lock.py with pip's resolver stubbed: which pins are freed, the fallback,
and a lock written back in pip freeze's order and spelling."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("upgrade_lock", REPO / "scripts/ci/upgrade_lock.py")
upgrade_lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(upgrade_lock)

LOCK = "Jinja2==3.1.6\njsonschema==4.26.0\njsonschema-specifications==2025.9.1\nnvidia-cublas==13.1.1.3\ntimm==1.0.31\ntorch==2.14.1\n"


def test_lock_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "lock.txt"
    upgrade_lock.write_lock(path, upgrade_lock.read_lock(REPO / "requirements/lock.txt"))
    assert path.read_text() == (REPO / "requirements/lock.txt").read_text()


def test_frees_the_libraries_and_torchs_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[str]] = []

    def resolve(requirements: list[str]):
        asked.append(requirements)
        return {
            "jinja2": ("Jinja2", "3.1.6"),
            "jsonschema": ("jsonschema", "4.26.0"),
            "jsonschema-specifications": ("jsonschema-specifications", "2025.9.1"),
            "nvidia-cublas": ("nvidia_cublas", "13.2.0"),
            "timm": ("timm", "1.0.32"),
            "torch": ("torch", "2.15.0"),
            "setuptools": ("setuptools", "80.0"),
        }

    monkeypatch.setattr(upgrade_lock, "resolve", resolve)
    path = tmp_path / "lock.txt"
    path.write_text(LOCK)
    assert upgrade_lock.main([str(path), "torch", "timm"]) == 0
    assert sorted(asked[0]) == sorted(
        [
            "Jinja2==3.1.6",
            "jsonschema==4.26.0",
            "jsonschema-specifications==2025.9.1",
            "nvidia-cublas",
            "timm",
            "torch",
        ]
    )
    assert path.read_text() == LOCK.replace("13.1.1.3", "13.2.0").replace(
        "1.0.31", "1.0.32"
    ).replace("2.14.1", "2.15.0")  # no setuptools: pip freeze omits it


def test_re_resolves_everything_when_pins_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([None, {"torch": ("torch", "2.15.0")}])
    asked: list[list[str]] = []
    monkeypatch.setattr(upgrade_lock, "resolve", lambda reqs: asked.append(reqs) or next(answers))
    path = tmp_path / "lock.txt"
    path.write_text("torch==2.14.1\n")
    upgrade_lock.main([str(path), "torch"])
    assert asked[1] == ["torch"] and path.read_text() == "torch==2.15.0\n"

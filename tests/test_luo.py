"""Luo et al.'s ERF law as the site shows it: data/luo.json is what rfzoo measures today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rfzoo.probe.luo import luo_curve

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "luo.json"


def test_erf_std_grows_as_sqrt_n_and_the_committed_data_is_reproducible():
    curve = luo_curve()
    assert curve["erf_exponent"] == pytest.approx(0.5, abs=0.03)
    assert curve["trf_exponent"] == pytest.approx(1.0, abs=1e-9)
    assert curve["erf_std"] == pytest.approx(curve["erf_std_theory"], rel=0.02)
    assert json.loads(COMMITTED.read_text()) == curve, "regenerate: python scripts/make_luo_data.py"

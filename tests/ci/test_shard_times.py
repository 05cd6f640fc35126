"""benchmarks/shard_times.py plans the catalog workflow's shards from a build log: a model
that ran out of memory is measured again alone after the pool, so its second run adds to
the shard's wall time serially, not on a free worker."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _shard_times():
    spec = importlib.util.spec_from_file_location("shard_times", ROOT / "benchmarks" / "shard_times.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_second_line_of_a_model_is_its_alone_run(tmp_path: Path) -> None:
    log = tmp_path / "s1.log"
    log.write_text(
        "[1/3] timm/a exact 10.0s (ETA 20s)\n"
        "[2/3] timm/b exact 30.0s (ETA 10s)\n"
        "[3/3] timm/c exact 20.0s (ETA 0s)\n"
        "rfzoo: 1 model(s) ran out of memory at 9.4 GB per worker: measuring each alone with 18.8 GB\n"
        "[4/4] timm/b exact 100.0s (ETA 0s)\n"
    )
    st = _shard_times()
    pooled, alone = st.model_seconds(log)
    assert pooled == {"timm/a": 10.0, "timm/b": 30.0, "timm/c": 20.0}
    assert alone == {"timm/b": 100.0}
    # pool on 2 workers: a (0-10) then c (10-30) beside b (0-30): 30 s; then b alone, 100 s
    assert st.shard_seconds(["timm/a", "timm/b", "timm/c"], pooled, alone, 2) == 130.0
    assert st.shard_seconds(["timm/a", "timm/c"], pooled, alone, 2) == 20.0

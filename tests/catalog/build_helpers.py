from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rfzoo.catalog.runner import BuildOptions
from rfzoo.catalog.sources import ModelRef

ZOO = Path(__file__).with_name("catalog_zoo.py").resolve()


def user(factory: str) -> ModelRef:
    return ModelRef("user", f"{ZOO}:{factory}")


GOOD = [user("TinyA"), user("TinyB"), user("TinyC")]
BROKEN = {
    "Raises": ("failed", "this factory is broken on purpose"),
    "Hangs": ("failed", "timed out after"),
    "Crashes": ("failed", "SIGSEGV"),
    "Unsupported": ("partial", "unsupported op"),
}


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}




def build_options(data_dir: Path, default_jobs: int, default_timeout: float, **kw: Any) -> BuildOptions:
    """Quick test builds: no probe, progress into a buffer, unless a test says otherwise."""
    kw.setdefault("jobs", default_jobs)
    kw.setdefault("timeout", default_timeout)
    kw.setdefault("probe", False)
    kw.setdefault("stream", io.StringIO())
    return BuildOptions(data_dir=data_dir, **kw)

from __future__ import annotations

from pathlib import Path

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



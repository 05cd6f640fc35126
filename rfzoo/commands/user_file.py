"""A name that cannot work is refused before torch is imported (that import takes seconds)."""

from __future__ import annotations

from pathlib import Path

from rfzoo.errors import UnknownModelError
from rfzoo.models import _is_path, resolve


def check_name(name: str) -> None:
    """Unknown library names (rfzoo.models.resolve) and user files that are missing or do not
    compile raise here. Anything subtler (an import error, a failing factory) is found later."""
    if resolve(name).source != "user":
        return
    target, _, attr = name.rpartition(":")
    if not _is_path(target):
        return  # package.module:Factory: importing it is the only check
    path = Path(target)
    if not path.is_file():
        raise UnknownModelError(f"no such file {target!r}")
    try:
        compile(path.read_bytes(), target, "exec")
    except (SyntaxError, ValueError) as err:
        raise UnknownModelError(f"cannot import {target!r}: {type(err).__name__}: {err}") from None
    except OSError as err:
        raise UnknownModelError(f"cannot read {target!r}: {err.strerror}") from None
    if not attr:
        raise UnknownModelError(f"{name!r}: say which factory, as {target}:Factory")

"""A user model file that cannot work is refused before torch is imported (seconds)."""

from __future__ import annotations

from pathlib import Path

from rfzoo.errors import UnknownModelError


def check_user_file(ref: str) -> None:
    """`path/file.py:Factory`: the file exists and compiles, and names the factory at top level
    or imports it. Anything subtler (an import error, a factory that fails) is found later."""
    target, _, attr = ref.rpartition(":")
    if not (target.endswith(".py") or "/" in target):
        return  # package.module:Factory: importing it is the only check
    path = Path(target)
    if not path.is_file():
        raise UnknownModelError(f"no such file {target!r}")
    try:
        source = path.read_bytes()
        compile(source, target, "exec")
    except (SyntaxError, ValueError) as err:
        raise UnknownModelError(f"cannot import {target!r}: {type(err).__name__}: {err}") from None
    except OSError as err:
        raise UnknownModelError(f"cannot read {target!r}: {err.strerror}") from None
    if not attr:
        raise UnknownModelError(f"{ref!r}: say which factory, as {target}:Factory")

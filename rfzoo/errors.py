"""Errors that reach the user as one line and a non-zero exit code, never a traceback."""

from __future__ import annotations


class RfzooError(Exception):
    """A problem with the user's input or model; `str(err)` is the one-line message."""

    exit_code = 1


class UnknownModelError(RfzooError):
    exit_code = 2


class InputTooSmallError(RfzooError):
    exit_code = 3


class ModelRejectsInputError(RfzooError):
    """The model's own check (an assert on the input's shape) fails: the same on any device."""


class UntraceableModelError(RfzooError):
    exit_code = 4


class UnsupportedOpError(RfzooError):
    """An op no rule knows. Never treated as identity."""

    exit_code = 5

    def __init__(self, op: str, node: str, detail: str = "") -> None:
        self.op = op
        self.node = node
        message = f"unsupported op {op} at {node}"
        super().__init__(message + (f": {detail}" if detail else ""))

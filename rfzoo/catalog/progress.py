"""A progress line on stderr: counts, the models in flight, and an ETA.

On a terminal the line is redrawn in place; otherwise (CI logs, tests) one line is
printed per finished model, so logs stay readable.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    def __init__(self, total: int, to_build: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.to_build = to_build
        self.done = 0
        self.built = 0
        self.failed = 0
        self.current: list[str] = []
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last_draw = 0.0

    def eta(self) -> str:
        if not self.built:
            return "?"
        elapsed = time.monotonic() - self.start
        return format_duration(elapsed / self.built * (self.to_build - self.built))

    def _line(self) -> str:
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        now = ", ".join(self.current) or "-"
        return (
            f"[{bar}] {self.done}/{self.total} failed {self.failed} "
            f"ETA {self.eta()} | {now}"
        )

    def draw(self, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        columns = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r\x1b[K" + self._line()[: columns - 1])
        self.stream.flush()

    def started(self, model: str) -> None:
        self.current.append(model)
        self.draw(force=True)

    def finished(self, model: str, status: str, seconds: float | None, cached: bool) -> None:
        if model in self.current:
            self.current.remove(model)
        self.done += 1
        if not cached:
            self.built += 1
        if status == "failed":
            self.failed += 1
        if self.tty:
            self.draw(force=True)
        elif not cached:
            took = f" {seconds:.1f}s" if seconds is not None else ""
            self.stream.write(
                f"[{self.done}/{self.total}] {model} {status}{took} (ETA {self.eta()})\n"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def note(self, text: str) -> None:
        """A message above the progress line."""
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.draw(force=True)

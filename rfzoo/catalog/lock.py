"""One writer per data directory, and no temporary files left behind.

`hold_data_dir` takes an exclusive flock on ``<data dir>/.rfzoo.lock`` and writes the
holder's pid and command line into it, so a second build or merge into the same
directory is refused with a message naming the first. The kernel drops a flock when its
process exits, crashes or is killed, so a lock file left by a killed build blocks nothing.

While the lock is held nobody else writes in the directory, so every temporary file
found there is stale (left by a killed build or worker): they are removed when the lock
is taken and again when it is released. Worker log folders in the system's temporary
directory carry the build's pid, and those of dead builds are removed too.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rfzoo.errors import RfzooError

LOCK_NAME = ".rfzoo.lock"
LOG_DIR_PREFIX = "rfzoo-build-"
# store.write_text's `.NAME.XXXXXXXX.tmp` and merge's `.NAME.merge.tmp`, where they are written
TEMP_GLOBS = (".index.*.tmp", "models/*/.*.tmp", "cache/*/.*.tmp")


@contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[None]:
    """Exclusive use of a data directory (created if missing) for a build or a merge."""
    lock_path = _prepare(data_dir) / LOCK_NAME
    fd = _acquire(lock_path)
    try:
        remove_temp_files(data_dir)
        yield
    finally:
        remove_temp_files(data_dir)
        lock_path.unlink(missing_ok=True)  # before the unlock: see _acquire
        os.close(fd)


def _prepare(data_dir: Path) -> Path:
    if data_dir.exists() and not data_dir.is_dir():
        raise RfzooError(f"data directory {data_dir} is a file, not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RfzooError(f"cannot create data directory {data_dir}: {err.strerror}") from None
    return data_dir


def _acquire(lock_path: Path) -> int:
    """The open, locked lock file; an error naming the holder when another process has it."""
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise RfzooError(f"cannot write in {lock_path.parent}: {err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RfzooError(
                f"{lock_path.parent} is in use by another rfzoo process ({_one_line(holder)}); "
                "wait for it to finish or stop it"
            ) from None
        # The holder unlinks the file before unlocking it: a lock won on an unlinked file
        # is no lock (a third process may have created a new file meanwhile), so retry.
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock_path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}: {shlex.join(sys.orig_argv)}\n".encode())
    return fd


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def remove_temp_files(data_dir: Path) -> None:
    for pattern in TEMP_GLOBS:
        for path in data_dir.glob(pattern):
            path.unlink(missing_ok=True)


# ---- worker log folders --------------------------------------------------------------


def log_dir_prefix() -> str:
    """`rfzoo-build-<pid>-`: a folder left by a killed build says whose it was."""
    return f"{LOG_DIR_PREFIX}{os.getpid()}-"


def remove_stale_log_dirs(root: Path | None = None) -> None:
    """Remove the worker log folders of builds that are no longer running."""
    root = root or Path(tempfile.gettempdir())
    for path in root.glob(f"{LOG_DIR_PREFIX}*"):
        match = re.match(rf"{LOG_DIR_PREFIX}(\d+)-", path.name)
        if match and path.is_dir() and not _running(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True

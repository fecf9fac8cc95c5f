"""One writer per output folder, and a folder checked writable before the work starts.

Two ``deltaprop train`` runs on one ``--out`` used to both exit 0 and leave one run's model
beside the other's checkpoint; a read-only ``--out`` was found out only when the model was
written, after the whole training. Here:

* :class:`OutLock` — an advisory lock (``flock``) on ``<out>/.deltaprop.lock``, taken before
  training and held to the end; a second run on the same folder is refused at once with a
  message naming the process that holds it (its pid and command line, which the holder
  writes into the lock file). The lock file is removed on release; the lock is released by
  the kernel when the holder dies, however it dies, so a stale lock file never blocks.
  Where ``fcntl`` does not exist (Windows) the lock is not taken.
* :func:`check_writable` — creates and removes a small file in the folder, so a folder the
  user cannot write to is an error before training, not after.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

LOCK_NAME = ".deltaprop.lock"


class OutFolderError(ValueError):
    """The output folder is in use by another run, or cannot be written."""


def check_writable(folder: str | Path, option: str = "--out") -> None:
    """Raise :class:`OutFolderError` unless a file can be created in ``folder``."""
    folder = Path(folder)
    probe = folder / f".deltaprop-write-check.{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise OutFolderError(
            f"{option} {folder}: cannot write there ({e.strerror}); nothing was trained"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


class OutLock:
    """``with OutLock(folder):`` — hold the folder's advisory lock (see the module docstring).

    Raises :class:`OutFolderError` on entry if another process holds it.
    """

    def __init__(self, folder: str | Path, option: str = "--out") -> None:
        self.folder, self.option = Path(folder), option
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> OutLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here
            return
        for _ in range(10):  # retried only if the file was replaced while we waited
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise OutFolderError(
                    f"{self.option} {self.folder}: cannot write there ({e.strerror}); "
                    f"nothing was trained"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(fd)
                os.close(fd)
                raise OutFolderError(
                    f"{self.option} {self.folder} is in use by another deltaprop run "
                    f"({holder}); wait for it to finish or choose another {self.option}"
                ) from None
            # the holder before us may have removed the file between our open and our lock:
            # the lock counts only if it is on the file that is there now
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except OSError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n{_command_line()}\n".encode())
                self._fd = fd
                return
            os.close(fd)
        raise OutFolderError(f"{self.option} {self.folder}: cannot take its lock file")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still holding the lock (see acquire)
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """``process 1234: deltaprop train ...`` from the lock file, as far as it can be read."""
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        pid, _, command = text.partition("\n")
        from ._safetext import visible

        command = visible(command.strip())
        if len(command) > 120:
            command = command[:117] + "..."
        if pid.strip().isdigit():
            return f"process {int(pid)}: {command}" if command else f"process {int(pid)}"
    return "another process"


def _command_line() -> str:
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    if program in ("__main__.py", "-c", "-m"):
        program = "deltaprop"
    args = [program, *sys.argv[1:]]
    return " ".join(args).replace("\n", " ")


__all__ = ["LOCK_NAME", "OutFolderError", "OutLock", "check_writable"]

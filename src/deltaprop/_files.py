"""Opening a file that may be hostile: a regular file only, of bounded size.

Every reader of a user-supplied path (model files and checkpoints in :mod:`deltaprop.io`,
CSV files in :mod:`deltaprop.data`) opens it with :func:`open_regular`, which

* opens without blocking (``O_NONBLOCK``), so a FIFO or a terminal cannot hang the open;
* refuses anything that is not a regular file once opened (``fstat`` on the open
  descriptor, so a symbolic link is judged by what it points at and nothing can be swapped
  in between the check and the read): FIFOs, ``/dev/zero`` and other devices, sockets,
  process substitution (``<(cmd)`` is a pipe);
* refuses a file larger than the caller's bound before reading a byte of it.

:func:`read_bounded` then reads at most the size ``fstat`` reported (a file that grows while
it is read is refused rather than read without end). Errors are ``ValueError`` naming the
path and the problem, as every loader's errors are.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_KIND = (
    (stat.S_ISFIFO, "a FIFO or pipe (process substitution is one)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def _size_text(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def open_regular(path: str | Path, max_bytes: int, what: str = "file") -> tuple[BinaryIO, int]:
    """Open ``path`` for binary reading if it is a regular file of at most ``max_bytes``.

    Returns ``(file, size)``; the caller closes the file. Raises ``FileNotFoundError``,
    ``IsADirectoryError`` or ``PermissionError`` (naming the path) as ``open`` does, and
    ``ValueError`` for a file that is not a regular one or is larger than ``max_bytes``.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise IsADirectoryError(f"cannot read {path}: it is a folder") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot read {path}: no such file") from None
    except PermissionError:
        raise PermissionError(f"cannot read {path}: permission denied") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((text for test, text in _KIND if test(st.st_mode)), "not a regular file")
            if kind == "a folder":
                raise IsADirectoryError(f"cannot read {path}: it is a folder")
            raise ValueError(f"cannot read {path}: it is {kind}, not a regular file")
        if st.st_size > max_bytes:
            raise ValueError(
                f"cannot read {path}: the {what} is {_size_text(st.st_size)}, more than the "
                f"{_size_text(max_bytes)} this reader accepts"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return f, st.st_size


def read_bounded(f: BinaryIO, size: int, path: str | Path) -> bytes:
    """The ``size`` bytes of an :func:`open_regular` file; refuses one that grew meanwhile."""
    data = f.read(size + 1)
    if len(data) > size:
        raise ValueError(f"cannot read {path}: the file grew while it was being read")
    return data


def read_regular(path: str | Path, max_bytes: int, what: str = "file") -> bytes:
    """The whole of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    f, size = open_regular(path, max_bytes, what)
    with f:
        return read_bounded(f, size, path)

"""The signals that end a run, and the sections they must not cut in two.

Three signals stop a training run: SIGINT (Ctrl-C), SIGTERM (``kill``, a batch system's
time limit) and SIGHUP (the terminal closed). Python turns only SIGINT into an exception
(``KeyboardInterrupt``); the other two kill the process at once, saving nothing. Here:

* :func:`stop_signals_raise` — within it, all three raise :class:`SignalInterrupt` (a
  ``KeyboardInterrupt``, so every ``except KeyboardInterrupt`` handles them alike), carrying
  the signal's name for the message.
* :func:`deferred` — a section no stop signal may interrupt: the epoch's commit (weights,
  optimiser state and generator state move together or not at all), a rollback, a
  checkpoint write. A signal that arrives inside is recorded and delivered when the section
  ends, so it lands before or after the section, never inside. With ``deliver=False`` the
  recorded signals are dropped instead (the interrupt's own checkpoint: a second Ctrl-C
  waits for the write, then the run exits as the first one asked).

Both only act in the main thread (where Python runs signal handlers); elsewhere they do
nothing, which is also what Python does with signals there.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that end a run: SIGINT, SIGTERM and SIGHUP (those this platform has)."""


class SignalInterrupt(KeyboardInterrupt):
    """A stop signal turned into an exception; ``signum`` and ``name`` say which."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(self.name)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise(signum: int, frame: Any) -> None:
    raise SignalInterrupt(signum)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise :class:`SignalInterrupt`; the previous handlers
    are put back on the way out."""
    if not _main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred(deliver: bool = True) -> Iterator[list[int]]:
    """A section that stop signals cannot interrupt; yields the list of those that arrived.

    On the way out the previous handlers are put back and, with ``deliver``, the first
    recorded signal is raised again (``signal.raise_signal``), so it is handled as it would
    have been had it come a moment later: an enclosing :func:`deferred` records it, an
    enclosing :func:`stop_signals_raise` raises :class:`SignalInterrupt`.
    """
    pending: list[int] = []
    if not _main_thread():
        yield pending
        return

    def record(signum: int, frame: Any) -> None:
        pending.append(signum)

    previous: dict[int, Any] = {}
    try:
        for s in STOP_SIGNALS:
            previous[s] = signal.signal(s, record)
        yield pending
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if deliver and pending:
            signal.raise_signal(pending[0])


__all__ = ["STOP_SIGNALS", "SignalInterrupt", "deferred", "stop_signals_raise"]

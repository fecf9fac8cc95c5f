"""Signals and the output folder: the primitives the training workflow builds on.

Real signals, sent to this very process with ``os.kill`` (Python runs the handler at the
next bytecode boundary, inside the section under test), and a real second process for the
output-folder lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from deltaprop._outlock import LOCK_NAME, OutFolderError, OutLock, check_writable
from deltaprop._signals import STOP_SIGNALS, SignalInterrupt, deferred, stop_signals_raise

posix = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


def _wait_for_handler():
    for _ in range(100):  # a few bytecodes are enough; a short loop makes sure
        time.sleep(0)


@posix
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_every_stop_signal_raises_interrupted_inside_stop_signals_raise(sig):
    signum = getattr(signal, sig)
    before = signal.getsignal(signum)
    with pytest.raises(SignalInterrupt) as info, stop_signals_raise():
        os.kill(os.getpid(), signum)
        _wait_for_handler()
    assert info.value.signum == signum and info.value.name == sig
    assert isinstance(info.value, KeyboardInterrupt)
    assert signal.getsignal(signum) is before  # handlers put back


@posix
def test_deferred_section_is_not_cut_and_the_signal_lands_after():
    done = []
    with pytest.raises(SignalInterrupt) as info, stop_signals_raise():
        with deferred() as pending:
            os.kill(os.getpid(), signal.SIGTERM)
            _wait_for_handler()
            done.append("the rest of the section ran")
            assert pending == [signal.SIGTERM]
        done.append("not reached")
    assert done == ["the rest of the section ran"] and info.value.name == "SIGTERM"


@posix
def test_nested_deferred_sections_deliver_once_at_the_outermost_end():
    order = []
    with pytest.raises(KeyboardInterrupt):
        with deferred():
            with deferred():
                os.kill(os.getpid(), signal.SIGINT)
                _wait_for_handler()
            order.append("between")  # the inner end re-raised into the outer recorder
        order.append("not reached")
    assert order == ["between"]


@posix
def test_deferred_without_delivery_drops_a_second_signal():
    with deferred(deliver=False) as pending:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        _wait_for_handler()
    assert pending and set(pending) == {signal.SIGINT}
    assert set(STOP_SIGNALS) == {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def test_out_lock_refuses_a_second_writer_naming_it(tmp_path):
    with OutLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().startswith(f"{os.getpid()}\n")
        with pytest.raises(
            OutFolderError, match=rf"is in use by another deltaprop run \(process {os.getpid()}"
        ):
            OutLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # removed on release
    with OutLock(tmp_path):  # and free again
        pass


def test_out_lock_held_by_another_process(tmp_path):
    code = (
        "import sys, time\n"
        "from deltaprop._outlock import OutLock\n"
        "with OutLock(sys.argv[1]):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(OutFolderError, match=rf"\(process {child.pid}: deltaprop "):
            OutLock(tmp_path).acquire()
    finally:
        child.kill()  # SIGKILL: the kernel releases the lock; the file stays behind
        child.wait()
    assert (tmp_path / LOCK_NAME).exists()
    with OutLock(tmp_path):  # a stale lock file never blocks
        pass


def test_check_writable(tmp_path):
    check_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutFolderError, match=r"--out /proc: cannot write there"):
        check_writable("/proc")

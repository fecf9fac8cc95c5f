"""Periodic checkpoints cost O(epoch state), not O(history), and resume bit for bit (issue 16).

A periodic checkpoint (:class:`deltaprop.io.CheckpointEvery`) holds the epoch's state; the
history's rows since the last write are appended to ``checkpoint.history`` beside it (flushed
to disk first), and the checkpoint records how many rows it covers and their SHA-256. Here:
the bytes one write costs do not grow with the epochs done (counted on disk, not timed); a
resume from such a checkpoint ends as a run never stopped, also after a real SIGKILL between
the append and the replace, and after a SIGINT at any line of the write; a missing, short,
tampered, foreign, oversized or FIFO history file is refused naming it, echoing nothing.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import io
from deltaprop.cli import main
from deltaprop.io import CheckpointEvery, history_path, load_checkpoint, save_checkpoint
from deltaprop.training import TrainingInterrupted, TrainState, fit

_HEADER = 16


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, 40))
    return X, np.sin(X[:1]) + X[1:] ** 2


def _fit(net, state, epochs, callbacks=(), on_line=None):
    X, Y = _data()
    kw = dict(optimizer="adam", lr=0.01, batch_size=16, seed=3, epochs=epochs)
    kw.update(validation_data=(X[:, :8], Y[:, :8]), early_stopping=True, n_iter_no_change=1000)
    previous = sys.gettrace()
    if on_line is not None:
        sys.settrace(on_line)
    try:
        fit(net, X, Y, state=state, callbacks=list(callbacks), **kw)
    finally:
        sys.settrace(previous)
    return net, state


def _fingerprint(net, state):
    arrays, meta = state.to_arrays()
    return (
        [a.tobytes() for a in (*net.W, *net.b)],
        {k: v.tobytes() for k, v in arrays.items()},
        meta,
    )


def _width(L=2, validation=True):
    return 2 + 2 * validation + L + L - 1


@pytest.fixture()
def quick_dir(tmp_path):
    """A folder in memory (/dev/shm) where there is one, so the many writes of a test of the
    write's logic do not wait on fsync; elsewhere tmp_path."""
    if not os.access("/dev/shm", os.W_OK):
        yield tmp_path
        return
    folder = tempfile.mkdtemp(dir="/dev/shm", prefix="deltaprop-test-")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _StopError(Exception):
    """Ends a run at once, as a crash would: no rollback, no checkpoint of its own."""


class _StopAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, net):
        if state.epoch == self.epoch:
            raise _StopError


def test_a_periodic_write_costs_the_same_bytes_at_any_epoch(quick_dir, monkeypatch):
    """Bytes written per periodic write, counted on disk: the checkpoint (rewritten whole)
    plus what the history file grew by. With at most 30 rows kept in the checkpoint (the
    file is fsync-ed when more are pending), a write every 10 epochs cycles through 0, 10,
    20 and 30 rows in the checkpoint, and appends 10 rows, whatever the epoch."""
    monkeypatch.setattr(io, "_TAIL_ROWS", 30)
    path = quick_dir / "checkpoint.safetensors"
    written = []

    class OnDisk:  # after CheckpointEvery: what the write left
        def on_epoch_end(self, state, net):
            if state.epoch % 10 == 0:
                written.append((path.stat().st_size, history_path(path).stat().st_size))

    callbacks = [CheckpointEvery(path, 10), OnDisk()]
    net, state = _fit(dp.Network([2, 4, 1], seed=1), TrainState(), 200, callbacks)
    row = _width() * 8
    sizes = [c for c, _ in written]
    appended = [b - a for (_, a), (_, b) in itertools.pairwise(written)]
    assert written[0][1] == _HEADER + 10 * row  # the first write: the file whole (10 rows)
    assert appended == [10 * row] * 19  # then 10 rows per write, whatever the epoch
    for k in range(4):  # writes 1, 5, 9, ...: the same bytes (but for digits of counters)
        cycle = sizes[k::4]
        assert max(cycle) - min(cycle) <= 32, (k, cycle)
        assert abs(sizes[k] - sizes[0] - 10 * k * row) <= 64  # k × 10 rows held in it
    # what the same checkpoint with the whole history (the old periodic write) would cost
    save_checkpoint(quick_dir / "whole.safetensors", net, state)
    assert (quick_dir / "whole.safetensors").stat().st_size > max(sizes) + 160 * row


@pytest.mark.parametrize("tail_rows", [0, 64])
def test_a_resume_from_a_periodic_checkpoint_is_bit_for_bit(tmp_path, monkeypatch, tail_rows):
    """With every row in the history file (tail 0: fsync-ed at every write), and with the
    last rows in the checkpoint itself (the default)."""
    monkeypatch.setattr(io, "_TAIL_ROWS", tail_rows)
    expected = _fingerprint(*_fit(dp.Network([2, 4, 1], seed=1), TrainState(), 30))
    path = tmp_path / "checkpoint.safetensors"
    with pytest.raises(_StopError):  # stopped hard after epoch 17: the checkpoint of epoch 15
        _fit(
            dp.Network([2, 4, 1], seed=1), TrainState(), 30, [CheckpointEvery(path, 5), _StopAt(17)]
        )
    ckpt = load_checkpoint(path)
    assert ckpt.state.epoch == 15 and len(ckpt.state.history.loss) == 15
    resumed = _fit(ckpt.model.net, ckpt.state, 30, [CheckpointEvery(path, 5)])
    assert _fingerprint(*resumed) == expected
    final = load_checkpoint(path)  # epoch 30's periodic checkpoint: every array of the run
    assert _fingerprint(final.model.net, final.state)[1] == expected[1]


# the code of a periodic write: the checkpoint's state, the append, the atomic replace
_WRITE = {"on_epoch_end", "_write_checkpoint", "append", "_same", "_write_all", "_write"}
_WRITE |= {"write_atomic"}


def _tracer(counter, inject_at=None, seen=None):
    """Counts line events in the periodic write's functions of deltaprop.io (and notes in
    ``seen`` the line number of each); at event ``inject_at`` raises a real SIGINT (handled
    inside that line's code)."""

    def local(frame, event, arg):
        if event == "line":
            counter[0] += 1
            if seen is not None:
                seen.append(frame.f_lineno)
            if counter[0] == inject_at:
                signal.raise_signal(signal.SIGINT)
        return local

    def global_(frame, event, arg):
        code = frame.f_code
        return local if code.co_filename == io.__file__ and code.co_name in _WRITE else None

    return global_


class _Mark:
    def __init__(self, counter, marks):
        self.counter, self.marks = counter, marks

    def on_epoch_end(self, state, net):
        self.marks.append(self.counter[0])


def test_a_signal_at_every_line_of_a_periodic_write_resumes_bit_for_bit(quick_dir, monkeypatch):
    """Epochs 1 to 3 of 4 each end in a periodic write (epoch 1: the history file written
    whole; 2: a row appended, kept in the checkpoint too; 3: appended and fsync-ed, as more
    than one row, ``_TAIL_ROWS`` here, would be pending). A SIGINT at each of their lines (the first time each runs:
    a loop's later rounds add nothing); then both ways out must end as the run never
    stopped: the files as they are at that moment (a SIGKILL there), and the interrupt's own
    checkpoint (what ``deltaprop train`` writes)."""
    monkeypatch.setattr(io, "_TAIL_ROWS", 1)
    epochs = 4
    expected = _fingerprint(*_fit(dp.Network([2, 4, 1], seed=1), TrainState(), epochs))
    counter, marks, seen = [0], [], []
    path = quick_dir / "run" / "checkpoint.safetensors"
    path.parent.mkdir()
    callbacks = [_Mark(counter, marks), CheckpointEvery(path, 1), _Mark(counter, marks)]
    _fit(
        dp.Network([2, 4, 1], seed=1), TrainState(), epochs, callbacks, _tracer(counter, None, seen)
    )
    lines = []
    for start, stop in ((marks[0], marks[1]), (marks[2], marks[3]), (marks[4], marks[5])):
        first = {}  # line number -> its first event in this write
        for k in range(start + 1, stop + 1):
            first.setdefault(seen[k - 1], k)
        lines += sorted(first.values())
    assert len(lines) > 40
    failures = []
    for k in lines:
        shutil.rmtree(path.parent)
        path.parent.mkdir()
        net, state = dp.Network([2, 4, 1], seed=1), TrainState()
        try:
            _fit(net, state, epochs, [CheckpointEvery(path, 1)], _tracer([0], inject_at=k))
        except TrainingInterrupted as e:
            interrupted = e.state
        else:
            failures.append((k, "not interrupted"))
            continue
        if path.exists():  # as a SIGKILL at this line leaves the files
            ckpt = load_checkpoint(path)
            if _fingerprint(*_fit(ckpt.model.net, ckpt.state, epochs)) != expected:
                failures.append((k, "resumed from the files on disk"))
        save_checkpoint(path, net, interrupted)  # the interrupt's checkpoint
        ckpt = load_checkpoint(path)
        assert not history_path(path).exists()
        if _fingerprint(*_fit(ckpt.model.net, ckpt.state, epochs)) != expected:
            failures.append((k, "resumed from the interrupt's checkpoint"))
    assert not failures, f"{len(failures)} of {len(lines)} lines: {failures[:5]}"


# --- a real SIGKILL between the append and the replace -------------------------------------------

_KILLED_AT_THIRD_WRITE = """
import os, signal, sys
import deltaprop.io as io

_write_atomic, writes = io.write_atomic, []
def write_atomic(path, data, **kwargs):
    if os.path.basename(str(path)) == "checkpoint.safetensors":
        writes.append(path)
        if len(writes) == 3:  # the rows of epochs 7-9 are appended, the checkpoint not replaced
            os.kill(os.getpid(), signal.SIGKILL)
    return _write_atomic(path, data, **kwargs)
io.write_atomic = write_atomic

from deltaprop.cli import main
main(sys.argv[1:])
"""

_RUN = [
    "--data", "diabetes", "--hidden", "4", "--epochs", "12", "--patience", "0", "--seed", "2",
    "--batch-size", "64", "--checkpoint-every", "3", "--no-plots",
]  # fmt: skip


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_sigkill_between_the_append_and_the_replace_resumes_bit_for_bit(tmp_path, capsys):
    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_AT_THIRD_WRITE, "train", *_RUN, "--out", killed],
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    checkpoint, rows = killed / "checkpoint.safetensors", killed / "checkpoint.history"
    width = int.from_bytes(rows.read_bytes()[8:16], "little")
    assert rows.stat().st_size == _HEADER + 9 * width * 8  # 9 epochs appended ...
    assert load_checkpoint(checkpoint).state.epoch == 6  # ... the checkpoint says 6
    # a tampered history file is refused by name, in one line, before anything is written
    tampered = tmp_path / "tampered"
    shutil.copytree(killed, tampered)
    data = bytearray((tampered / "checkpoint.history").read_bytes())
    data[_HEADER + 3] ^= 0x40
    (tampered / "checkpoint.history").write_bytes(bytes(data))
    code, _, err = _cli(capsys, "train", "--out", tampered, "--resume")
    assert code == 2 and err.count("\n") == 1, err
    assert "checkpoint.history does not match it" in err and "tampered" in err

    assert _cli(capsys, "train", "--out", killed, "--resume")[0] == 0
    assert _cli(capsys, "train", *_RUN, "--out", tmp_path / "whole")[0] == 0
    for name in ("model.safetensors", "checkpoint.safetensors"):
        assert (killed / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert not rows.exists()  # the final checkpoint holds the whole history


# --- hostile history files ------------------------------------------------------------------------


@pytest.fixture()
def periodic(tmp_path):
    """A run stopped hard after epoch 12 with a checkpoint of epoch 10 (rows in its file).
    (The oversized file is sparse: 4 GiB of holes after the rows, nothing written.)"""
    path = tmp_path / "checkpoint.safetensors"
    with pytest.raises(_StopError):
        _fit(
            dp.Network([2, 4, 1], seed=1), TrainState(), 20, [CheckpointEvery(path, 5), _StopAt(12)]
        )
    return path


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


_SECRET = b"SECRET-ROW-BYTES"


def _foreign(rows, tmp_path):
    other = tmp_path / "other" / "checkpoint.safetensors"
    other.parent.mkdir()
    with pytest.raises(_StopError):
        _fit(
            dp.Network([2, 4, 1], seed=9),
            TrainState(),
            20,
            [CheckpointEvery(other, 5), _StopAt(12)],
        )
    shutil.copy(history_path(other), rows)


@pytest.mark.parametrize(
    "harm, message",
    [
        (lambda rows, tmp: rows.unlink(), "is missing (a periodic checkpoint keeps"),
        (lambda rows, tmp: os.truncate(rows, _HEADER + 8 * 7 * 2), "is short: "),
        (lambda rows, tmp: _flip(rows, _HEADER + 8 * 7 * 3), "does not match it"),
        (_foreign, "does not match it"),
        (lambda rows, tmp: rows.write_bytes(_SECRET * 100), "is not a history file of this"),
        (lambda rows, tmp: (rows.unlink(), os.mkfifo(rows)), "it is a FIFO or pipe"),
        (lambda rows, tmp: os.truncate(rows, io.MAX_FILE_BYTES + 1), "more than the 4 GiB"),
    ],
    ids=["missing", "short", "tampered", "another-run", "garbage", "fifo", "oversized"],
)
def test_a_bad_history_file_is_refused_by_name(periodic, tmp_path, harm, message):
    if "FIFO" in message and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    rows = history_path(periodic)
    harm(rows, tmp_path)
    with pytest.raises(ValueError) as info:
        load_checkpoint(periodic)
    text = str(info.value)
    assert text.startswith(f"cannot load {periodic}: ") and message in text, text
    assert str(rows) in text and "SECRET" not in text and "\n" not in text


def test_rows_beyond_those_the_checkpoint_covers_are_ignored(periodic):
    """What a crash between the append and the replace leaves (and a write cut short)."""
    before = load_checkpoint(periodic).state
    with open(history_path(periodic), "ab") as f:
        f.write(b"\x00" * 8 * 7 * 2 + b"partial")
    after = load_checkpoint(periodic).state
    assert after.epoch == before.epoch == 10
    assert _fingerprint(dp.Network([2, 4, 1]), after) == _fingerprint(dp.Network([2, 4, 1]), before)

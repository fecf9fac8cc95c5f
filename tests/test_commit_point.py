"""The epoch's commit point is atomic with respect to signals: resume is bit for bit.

A real SIGINT (``signal.raise_signal``) is injected at every line that the training package
and the optimisers execute during an epoch (found with ``sys.settrace``: line event k of the
run, for every k of epoch 2), the interrupted run is saved as the command saves it
(``save_checkpoint`` of the rolled-back network and state, loaded back; in memory through
``TrainState.to_arrays``/``from_arrays`` for most lines, to keep the test fast) and resumed; the final weights and training state must equal those of a run never interrupted.
An interrupt inside the commit itself (weights, optimiser state and generator state) would
otherwise roll back to new weights with old optimiser state (issue 16).
"""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.io import load_checkpoint, save_checkpoint
from deltaprop.training import TrainingInterrupted, TrainState, fit

pytestmark = pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signals")

_PACKAGE = os.path.dirname(dp.__file__)
_TRACED = (os.path.join(_PACKAGE, "training"), os.path.join(_PACKAGE, "optim.py"))

EPOCHS = 4
KW = dict(optimizer="adam", lr=0.01, epochs=EPOCHS, batch_size=20, seed=3)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 20))
    return X, np.sin(X[:1]) + X[1:] ** 2


def _run(state=None, net=None, on_line=None):
    X, Y = _data()
    net = net or dp.Network([2, 4, 1], seed=1)
    state = state or TrainState()
    validation = (X[:, :5], Y[:, :5])
    if on_line is None:
        fit(net, X, Y, state=state, validation_data=validation, early_stopping=True, **KW)
        return net, state
    previous = sys.gettrace()
    sys.settrace(on_line)
    try:
        fit(net, X, Y, state=state, validation_data=validation, early_stopping=True, **KW)
    finally:
        sys.settrace(previous)
    return net, state


def _tracer(counter, inject_at=None):
    """A trace function counting line events in the traced files; at event ``inject_at``
    it raises SIGINT (handled at the next bytecode boundary, inside that line's code)."""

    def local(frame, event, arg):
        if event == "line":
            counter[0] += 1
            if counter[0] == inject_at:
                signal.raise_signal(signal.SIGINT)
        return local

    def global_(frame, event, arg):
        if frame.f_code.co_filename.startswith(_TRACED):
            return local
        return None

    return global_


def _fingerprint(net, state):
    arrays, meta = state.to_arrays()
    return (
        [W.tobytes() for W in net.W] + [b.tobytes() for b in net.b],
        {k: v.tobytes() for k, v in arrays.items()},
        meta,
    )


def _epoch_line_range():
    """Line events (counted from the start of fit) of epoch 2."""
    marks = []

    class Mark:
        def on_epoch_end(self, state, net):
            marks.append(counter[0])

    counter = [0]
    X, Y = _data()
    previous = sys.gettrace()
    sys.settrace(_tracer(counter))
    try:
        fit(
            dp.Network([2, 4, 1], seed=1),
            X,
            Y,
            state=TrainState(),
            validation_data=(X[:, :5], Y[:, :5]),
            early_stopping=True,
            callbacks=[Mark()],
            **KW,
        )
    finally:
        sys.settrace(previous)
    return range(marks[0] + 1, marks[1] + 1)


def test_a_signal_at_every_line_of_an_epoch_resumes_bit_for_bit(tmp_path):
    expected = _fingerprint(*_run())
    path = tmp_path / "checkpoint.safetensors"
    lines = _epoch_line_range()
    assert len(lines) > 50
    mismatches = []
    for k in lines:
        net, state = dp.Network([2, 4, 1], seed=1), TrainState()
        try:
            _run(state, net, on_line=_tracer([0], inject_at=k))
        except TrainingInterrupted as e:
            if k == lines[0] or k % 50 == 0:  # through a real file now and then
                save_checkpoint(path, net, e.state)
                ckpt = load_checkpoint(path)
                net, state = ckpt.model.net, ckpt.state
            else:  # what the file holds: the state's arrays and the network's parameters
                state = TrainState.from_arrays(*e.state.to_arrays())
            net, state = _run(state, net)
        except KeyboardInterrupt:
            mismatches.append((k, "a bare KeyboardInterrupt escaped fit"))
            continue
        if _fingerprint(net, state) != expected:
            mismatches.append((k, "other weights or state after resuming"))
    assert not mismatches, f"{len(mismatches)} of {len(lines)} lines: {mismatches[:5]}"

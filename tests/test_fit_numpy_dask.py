"""One loop: a full-batch fit on Dask gives the same History as the same fit in memory.

``deltaprop.fit`` on Dask arrays runs the very loop of the in-memory path, with the whole data
set as one batch whose gradient comes from ``deltaprop.distributed.gradients``. The reference
here is the in-memory fit with one batch of all samples per epoch and no shuffling: the two
differ only by the rounding of the blocks' sums (well under 1e-12 relative on these sizes), so
every recorded quantity agrees to 1e-12: costs, learning rates under every schedule, validation
losses and scores with a custom scorer, the stop reason and epoch, the best epoch, and the epoch
named by a divergence error. Dask runs on its synchronous scheduler, with one block of samples
and with several of unequal size.
"""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.training import NonFiniteLossError, TrainState

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

TOL = 1e-12


@pytest.fixture(autouse=True)
def _sync():
    with dask.config.set(scheduler="synchronous"):
        yield


def _data(m, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, m))
    Y = np.sin(X[:1] - 0.5 * X[1:2]) + 0.1 * rng.normal(size=(1, m))
    return X, Y


def _neg_mae(A, Y):
    """A custom scorer (higher is better): minus the mean absolute error."""
    return -float(np.mean(np.abs(A - Y)))


def _both(chunk, seed=0, **kwargs):
    """(History in memory, History on Dask, the two networks) for the same full-batch fit."""
    X, Y = _data(90, seed)
    net = dp.Network([3, 7, 1], hidden="tanh", seed=seed + 1)
    ref = net.copy()
    h_ref = dp.fit(ref, X, Y, batch_size=X.shape[1], shuffle=False, **kwargs)
    Xd, Yd = da.from_array(X, chunks=(3, chunk)), da.from_array(Y, chunks=(1, chunk))
    h = dp.fit(net, Xd, Yd, **kwargs)
    return h_ref, h, ref, net


def _assert_same_history(h, h_ref):
    for name in ("loss", "lr", "val_loss", "val_score"):
        got, want = getattr(h, name), getattr(h_ref, name)
        assert len(got) == len(want), name
        np.testing.assert_allclose(got, want, rtol=TOL, atol=0, err_msg=name)
    np.testing.assert_allclose(
        [list(r) for r in h.grad_norm], [list(r) for r in h_ref.grad_norm], rtol=1e-10
    )
    assert h.stopped_reason == h_ref.stopped_reason
    assert h.n_iter == h_ref.n_iter and h.t == h_ref.t
    assert h.best_epoch == h_ref.best_epoch
    assert h.score_name == h_ref.score_name


@pytest.mark.parametrize("chunk", [90, 25], ids=["one-block", "four-blocks"])
@pytest.mark.parametrize(
    "schedule",
    [
        dict(learning_rate="constant", n_iter_no_change=None),
        dict(learning_rate="invscaling", power_t=0.25, n_iter_no_change=None),
        # every epoch fails to improve by tol = 10: η is divided by 5 every third epoch
        dict(learning_rate="adaptive", n_iter_no_change=2, tol=10.0),
    ],
    ids=["constant", "invscaling", "adaptive"],
)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_schedules_give_the_same_history(chunk, schedule, optimizer):
    h_ref, h, ref, net = _both(chunk, optimizer=optimizer, lr=0.05, epochs=8, **schedule)
    _assert_same_history(h, h_ref)
    assert len(set(h.lr)) > 1 or schedule["learning_rate"] == "constant"
    for l in (1, 2):
        np.testing.assert_allclose(net.W[l], ref.W[l], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("chunk", [90, 40], ids=["one-block", "three-blocks"])
def test_custom_scorer_and_early_stopping_give_the_same_history(chunk):
    Xv, Yv = _data(30, seed=7)
    h_ref, h, ref, net = _both(
        chunk,
        optimizer="adam",
        lr=0.05,
        epochs=60,
        early_stopping=True,
        validation_data=(Xv, Yv),
        n_iter_no_change=3,
        tol=1e-3,
        scoring=_neg_mae,
    )
    assert h.score_name == h_ref.score_name == "_neg_mae"
    assert h_ref.stopped_reason == "early_stopping" and h_ref.n_iter < 60
    _assert_same_history(h, h_ref)
    for l in (1, 2):  # both restored the best validation epoch's weights
        np.testing.assert_allclose(net.W[l], ref.W[l], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("chunk", [90, 25], ids=["one-block", "four-blocks"])
def test_divergence_names_the_same_epoch(chunk):
    X, Y = _data(90, seed=3)
    Y = 1e3 * Y
    errors, states = [], []
    for dask_input in (False, True):
        net = dp.Network([3, 7, 1], seed=4)
        Xi, Yi = (X, Y) if not dask_input else (da.from_array(X, chunks=(3, chunk)), None)
        if dask_input:
            Yi = da.from_array(Y, chunks=(1, chunk))
        kwargs = {} if dask_input else dict(batch_size=90, shuffle=False)
        with np.errstate(all="ignore"), pytest.raises(NonFiniteLossError) as info:
            dp.fit(net, Xi, Yi, optimizer="sgd", lr=1.0, momentum=0.0, epochs=100, **kwargs)
        errors.append(info.value)
        states.append(info.value.state)
    assert errors[0].epoch == errors[1].epoch > 1
    assert states[0].epoch == states[1].epoch == errors[0].epoch - 1
    np.testing.assert_allclose(states[1].history.loss, states[0].history.loss, rtol=TOL)


def test_a_dask_run_resumes_like_one_that_never_stopped():
    # The state (and so a checkpoint) of a Dask run is the loop's: resuming continues it.
    X, Y = _data(90, seed=5)
    Xd, Yd = da.from_array(X, chunks=(3, 30)), da.from_array(Y, chunks=(1, 30))
    once = dp.Network([3, 7, 1], seed=6)
    h_once = dp.fit(once, Xd, Yd, epochs=6, optimizer=dp.optim.Adam(lr=0.02), n_iter_no_change=None)
    twice, state = dp.Network([3, 7, 1], seed=6), TrainState()
    for epochs in (3, 6):  # a new optimiser object each time: the state carries its moments
        h = dp.fit(
            twice,
            Xd,
            Yd,
            epochs=epochs,
            state=state,
            optimizer="adam",
            lr=0.02,
            n_iter_no_change=None,
        )
    assert h.loss == h_once.loss and h.n_iter == 6
    for l in (1, 2):
        np.testing.assert_array_equal(twice.W[l], once.W[l])

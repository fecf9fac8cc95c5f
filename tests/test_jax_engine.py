"""The compiled engine (backend="jax", deltaprop._jax) equals the NumPy backend to rounding.

Issue 14: the same Network.backward traced and compiled, the optimiser's rule as the same
operations, an epoch as one lax.scan; same seed and same batches give float64 weights within
1e-10 of NumPy's after an epoch and the same final loss to 1e-10 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.optim import SGD, Adam

jax = pytest.importorskip("jax")

from deltaprop import _jax  # noqa: E402


def _data(n0=5, nL=1, n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n0, n))
    Y = np.sin(X[:nL]) + 0.5 * X[1 : 1 + nL]
    return X, Y


def _max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(hidden="tanh", alpha=0.01),
        dict(hidden="elu", output="sigmoid", loss="binary_cross_entropy"),
        dict(hidden="softplus", output="softmax", loss="cross_entropy"),
    ],
)
def test_compiled_gradients_equal_the_reference(kwargs):
    nL = 3 if kwargs.get("output") == "softmax" else 1
    X, Y = _data(nL=nL, n=40)
    if kwargs.get("loss") == "binary_cross_entropy":
        Y = (Y > 0).astype(float)
    if kwargs.get("loss") == "cross_entropy":
        Y = np.eye(nL)[:, np.argmax(Y, axis=0)]
    net = dp.Network([5, 7, 6, nL], seed=3, **kwargs)
    J, dW, db = net._reference_gradients(X, Y)
    nj = net.to("jax")
    Jj, dWj, dbj = nj._gradients(nj._asarray(X), nj._asarray(Y))
    assert isinstance(Jj, jax.Array)
    assert abs(float(Jj) - float(J)) <= 1e-12 * abs(float(J))
    assert _max_diff(dWj, dW) < 1e-12
    assert _max_diff(dbj, db) < 1e-12


@pytest.mark.parametrize(
    "optimizer",
    [dict(optimizer="adam", lr=1e-2), dict(optimizer="sgd", lr=1e-2, momentum=0.9)],
    ids=["adam", "sgd-nesterov"],
)
def test_fit_on_jax_equals_numpy(optimizer):
    X, Y = _data()
    net = dp.Network([5, 16, 8, 1], seed=0)
    nj = net.to("jax")
    h = dp.fit(net, X, Y, epochs=2, batch_size=64, seed=1, **optimizer)  # 5 batches, last 44
    hj = dp.fit(nj, X, Y, epochs=2, batch_size=64, seed=1, **optimizer)
    assert all(isinstance(W, jax.Array) for W in nj.W)
    assert _max_diff(nj.W, net.W) < 1e-10 and _max_diff(nj.b, net.b) < 1e-10
    np.testing.assert_allclose(hj.loss, h.loss, rtol=1e-10)
    np.testing.assert_allclose(hj.grad_norm, h.grad_norm, rtol=1e-9)
    assert hj.dead_fraction == h.dead_fraction


@pytest.mark.parametrize("make", [lambda: Adam(lr=1e-2), lambda: SGD(lr=0.05)], ids=["adam", "sgd"])
def test_compiled_epoch_equals_the_numpy_loop(make):
    X, Y = _data(n=300)
    perm = np.random.default_rng(7).permutation(300)
    Xs, Ys = X[:, perm], Y[:, perm]
    net = dp.Network([5, 16, 8, 1], seed=0)
    nj = net.to("jax")
    opt, optj = make(), make()
    Js, sq, alive = [], [], [None, None]
    for s in range(0, 300, 64):  # the NumPy loop's inner part: 4 full batches and one of 44
        J, dW, db = net._gradients(Xs[:, s : s + 64], Ys[:, s : s + 64])
        Js.append(float(J))
        sq.append([float(np.sum(g * g)) for g in dW])
        alive = [(d != 0) if a is None else a | (d != 0) for a, d in zip(alive, list(db)[:-1])]
        opt.step(net, dW, db)
    Jj, sqj, alivej, widths = _jax.epoch(nj, optj, nj._asarray(X), nj._asarray(Y), 64, perm)
    assert widths == [64, 64, 64, 64, 44]
    np.testing.assert_allclose(Jj, Js, rtol=1e-10)
    np.testing.assert_allclose(sqj, sq, rtol=1e-9)
    for a, b in zip(alivej, alive):
        np.testing.assert_array_equal(np.asarray(a), b)
    assert _max_diff(nj.W, net.W) < 1e-10 and _max_diff(nj.b, net.b) < 1e-10
    assert getattr(optj, "t", 0) == getattr(opt, "t", 0)
    sd, sdj = opt.state_dict(), optj.state_dict()
    for k, v in sd.items():
        np.testing.assert_allclose(sdj[k], v, rtol=1e-9, atol=1e-14)


def test_float32_stays_float32_and_trains():
    X, Y = _data()
    nj = dp.Network([5, 16, 1], seed=0, dtype="float32").to("jax")
    h = dp.fit(nj, X.astype(np.float32), Y.astype(np.float32), epochs=3, batch_size=100)
    assert all(W.dtype == np.float32 for W in nj.W)
    assert h.loss[-1] < h.loss[0]


def test_fit_runs_each_epoch_as_one_compiled_program(monkeypatch):
    calls = []
    epoch = _jax.epoch

    def counted(*args, **kwargs):
        calls.append(args[4])  # the batch size
        return epoch(*args, **kwargs)

    monkeypatch.setattr(_jax, "epoch", counted)
    X, Y = _data()
    nj = dp.Network([5, 16, 8, 1], seed=0).to("jax")
    h = dp.fit(nj, X, Y, epochs=2, batch_size=64, seed=1, optimizer="adam", lr=1e-2)
    assert calls == [64, 64] and h.n_iter == 2

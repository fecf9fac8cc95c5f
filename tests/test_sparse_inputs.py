"""A scipy.sparse X through the core (issue 15: sparse X in fit/predict, as scikit-learn's
MLPs take it): layer 1's products W^[1] X and δ^[1] Xᵀ at the cost of the non-zeros, the rest
dense. Checked against the dense reference path on the same numbers, and by memory: a matrix
whose dense form would take 800 MB trains in a few MB."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import deltaprop as dp
from deltaprop.training import fit


def _data(n0=30, n=200, seed=0, density=0.1):
    rng = np.random.default_rng(seed)
    X = sp.random(n0, n, density=density, format="csc", random_state=seed)
    Y = rng.normal(size=(2, n))
    return X, Y


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_equal_the_dense_reference(hidden, dtype):
    X, Y = _data()
    X, Y = X.astype(dtype), Y.astype(dtype)
    net = dp.Network([30, 7, 2], hidden=hidden, dtype=dtype, alpha=0.1, seed=1)
    Z, A = net.forward_pass(X.toarray())
    _, dW_ref, db_ref = net.backward(Z, A, Y)  # the equations as written, dense
    for given in (X, X.tocsr(), sp.csr_array(X)):
        J, dW, db = net.gradients(given, Y)
        tol = 1e-12 if dtype == "float64" else 1e-5
        for got, want in zip([*dW, *db], [*dW_ref, *db_ref]):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        np.testing.assert_allclose(net.forward(given), A[net.L], rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"optimizer": "adam", "batch_size": 32, "early_stopping": True},
        {"optimizer": "sgd", "batch_size": 50},
        {"optimizer": "lbfgs"},
    ],
)
def test_fit_on_sparse_equals_fit_on_the_dense_matrix(kwargs):
    X, Y = _data(seed=2)
    w = np.random.default_rng(3).uniform(0, 2, size=X.shape[1])
    nets = []
    for inputs in (X, X.toarray()):
        net = dp.Network([30, 6, 2], seed=4)
        weights = None if kwargs["optimizer"] == "lbfgs" else w
        fit(net, inputs, Y, epochs=6, seed=5, sample_weight=weights, **kwargs)
        nets.append(net)
    for a, b in zip([*nets[0].W, *nets[0].b], [*nets[1].W, *nets[1].b]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_a_matrix_800_mb_dense_trains_in_a_few_mb():
    n0, n = 50_000, 2_000  # dense float64: 800 MB
    X = sp.random(n0, n, density=0.001, format="csc", random_state=0)
    Y = np.asarray(X.sum(axis=0)).reshape(1, n)
    net = dp.Network([n0, 8, 1], seed=0)  # W^[1]: 3.2 MB
    tracemalloc.start()
    try:
        fit(net, X, Y, epochs=2, batch_size=100, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"
    assert np.isfinite(net.forward(X[:, :5])).all()


def test_bad_sparse_inputs_are_named():
    X, Y = _data()
    net = dp.Network([30, 4, 2], seed=0)
    bad = X.copy()
    bad.data[3] = np.nan
    row, col = bad.tocoo().row[3], bad.tocoo().col[3]
    with pytest.raises(
        ValueError, match=f"X must be finite; found a NaN or infinity at row {row}, column {col}"
    ):
        net.forward(bad)
    with pytest.raises(TypeError, match=r"only X \(the inputs\) can be sparse"):
        net.gradients(X, sp.csc_matrix(Y))
    with pytest.raises(TypeError, match="float32"):
        net.forward(X.astype(np.float32))
    with pytest.raises(ValueError, match="n_0 = 30 rows"):
        net.forward(X.T)
    pytest.importorskip("jax")
    with pytest.raises(TypeError, match="only X on the NumPy backend can be sparse"):
        dp.Network([30, 4, 2], backend="jax").forward(X)


def test_the_estimator_keeps_csr_sparse(monkeypatch):
    from deltaprop import DeltaPropRegressor

    X, Y = _data(n0=12, n=120, seed=6)
    rows, y = X.T.tocsr(), Y[0]
    seen = []
    real = dp.Network._gradients

    def spy(self, X_B, *args, **kwargs):
        seen.append(sp.issparse(X_B))
        return real(self, X_B, *args, **kwargs)

    monkeypatch.setattr(dp.Network, "_gradients", spy)
    est = DeltaPropRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(rows, y)
    assert seen and all(seen)
    dense = DeltaPropRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    dense.fit(rows.toarray(), y)
    np.testing.assert_allclose(est.predict(rows), dense.predict(rows.toarray()), rtol=1e-10)

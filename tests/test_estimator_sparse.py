"""Sparse ``X`` (scipy.sparse) in the estimators: the same training as scikit-learn's MLPs on
the same sparse matrix from the same parameters, and the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from test_estimator import _continue_both  # the dense tests' set-up, on sparse X here

from deltaprop import DeltaPropClassifier, DeltaPropRegressor


def _sparsify(X, seed=0):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < 0.6] = 0.0  # 60 % zeros
    return sp.csr_matrix(X)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_regressor_on_csr_trains_like_mlp_regressor_on_csr(solver):
    X, y = make_regression(n_samples=96, n_features=6, noise=0.1, random_state=0)
    Xs, eta = _sparsify(X), 0.01
    y = y / np.std(y)
    ours = DeltaPropRegressor(
        hidden_layer_sizes=(8,),
        solver=solver,
        alpha=0.0,
        batch_size=32,
        learning_rate_init=eta,
        random_state=0,
    )
    mlp = _continue_both(
        ours,
        MLPRegressor,
        Xs,
        y,
        4,
        solver=solver,
        alpha=0.0,
        batch_size=32,
        learning_rate_init=2 * eta if solver == "sgd" else eta,
        epsilon=0.5e-8,
    )
    np.testing.assert_allclose(ours.predict(Xs), mlp.predict(Xs), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.predict(Xs.tocsc()), mlp.predict(Xs), rtol=1e-9, atol=1e-12)


def test_classifier_on_csr_trains_like_mlp_classifier_on_csr():
    X, y = make_classification(n_samples=90, n_features=6, n_informative=3, random_state=1)
    Xs = _sparsify(X, seed=1)
    ours = DeltaPropClassifier(
        hidden_layer_sizes=(7,), alpha=0.0, batch_size=30, learning_rate_init=0.01, random_state=0
    )
    mlp = _continue_both(
        ours, MLPClassifier, Xs, y, 4, alpha=0.0, batch_size=30, learning_rate_init=0.01
    )
    np.testing.assert_allclose(ours.predict_proba(Xs), mlp.predict_proba(Xs), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(Xs), mlp.predict(Xs))


def test_float32_csr_stays_float32():
    X, y = make_regression(n_samples=40, n_features=4, random_state=0)
    Xs = _sparsify(X).astype(np.float32)
    reg = DeltaPropRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(Xs, y / np.std(y))
    assert reg.network_.dtype_name == "float32" and reg.predict(Xs).dtype == np.float32

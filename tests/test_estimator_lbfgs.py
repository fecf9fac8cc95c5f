"""``solver="lbfgs"`` in the estimators: the same iterations as scikit-learn's MLPs from the
same parameters, and scikit-learn's meanings of ``max_iter``, ``max_fun`` and ``tol``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from deltaprop import DeltaPropClassifier, DeltaPropRegressor


def _continue_both(ours, sk_cls, X, y, iters, sample_weight=None, **sk_kwargs):
    """One L-BFGS iteration of ours, its parameters given to scikit-learn's MLP, then both
    ``iters`` iterations on (warm start: a fresh L-BFGS on each side, as scikit-learn's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.set_params(solver="lbfgs", max_iter=1, warm_start=True)
        ours.fit(X, y, sample_weight=sample_weight)
        mlp = sk_cls(
            hidden_layer_sizes=ours.hidden_layer_sizes, solver="lbfgs", max_iter=1, **sk_kwargs
        )
        mlp.fit(X, y, sample_weight=sample_weight)
        mlp.coefs_ = [c.copy() for c in ours.coefs_]
        mlp.intercepts_ = [c.copy() for c in ours.intercepts_]
        mlp.set_params(warm_start=True, max_iter=iters)
        mlp.fit(X, y, sample_weight=sample_weight)
        ours.set_params(max_iter=iters)
        ours.fit(X, y, sample_weight=sample_weight)
    assert ours.n_iter_ == mlp.n_iter_
    for p, q in zip(ours.coefs_ + ours.intercepts_, mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    return mlp


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_lbfgs_like_mlp_classifier(n_classes):
    # the same log loss; full batch: alpha = alpha_sk / n
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=3, n_classes=n_classes, random_state=1
    )
    ours = DeltaPropClassifier(hidden_layer_sizes=(7,), alpha=1e-2 / 90, random_state=0)
    mlp = _continue_both(ours, MLPClassifier, X, y, 10, alpha=1e-2)
    assert ours.loss_ == pytest.approx(mlp.loss_, rel=1e-12)
    np.testing.assert_array_equal(ours.predict(X), mlp.predict(X))


def test_regressor_lbfgs_with_weights_like_mlp_regressor():
    # our cost is twice scikit-learn's (one output): L-BFGS-B takes the same steps on a scaled
    # cost; scikit-learn's penalty is over the total weight: alpha = 2 alpha_sk / sum(w)
    X, y = make_regression(n_samples=80, n_features=4, noise=0.1, random_state=0)
    y = y / np.std(y)
    w = np.random.default_rng(0).uniform(0.2, 2.0, size=80)
    w[:4] = 0.0
    ours = DeltaPropRegressor(hidden_layer_sizes=(6,), alpha=2e-3 / w.sum(), random_state=0)
    mlp = _continue_both(ours, MLPRegressor, X, y, 10, sample_weight=w, alpha=1e-3)
    assert ours.loss_ == pytest.approx(2 * mlp.loss_, rel=1e-10)


def test_max_iter_and_max_fun_mean_what_they_mean_in_scikit_learn():
    X, y = make_regression(n_samples=60, n_features=3, noise=0.1, random_state=2)
    y = y / np.std(y)
    for params in (dict(max_iter=7), dict(max_iter=500, max_fun=12)):
        ours = DeltaPropRegressor(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0, **params)
        with pytest.warns(ConvergenceWarning, match="lbfgs"):
            ours.fit(X, y)
        mlp = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0, **params)
        with pytest.warns(ConvergenceWarning):
            mlp.fit(X, y)
        if "max_fun" not in params:
            assert ours.n_iter_ == mlp.n_iter_ == 7
        else:  # at most about max_fun evaluations: far fewer than max_iter iterations
            assert ours.n_iter_ <= 12 and mlp.n_iter_ <= 12
    # a loose tol stops before max_iter without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        loose = DeltaPropRegressor(hidden_layer_sizes=(5,), solver="lbfgs", tol=1.0, random_state=0)
        assert loose.fit(X, y).n_iter_ < 200


def test_lbfgs_has_no_partial_fit():
    X, y = make_regression(n_samples=20, n_features=3, random_state=0)
    with pytest.raises(AttributeError, match="stochastic"):
        DeltaPropRegressor(solver="lbfgs").partial_fit(X, y)

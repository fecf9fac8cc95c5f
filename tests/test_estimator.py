"""The scikit-learn estimators: scikit-learn's own checks, and the same weights as its MLPs."""

from __future__ import annotations

import os
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from deltaprop import DeltaPropClassifier, DeltaPropRegressor


# scikit-learn's own battery, no expected failures. The defaults train (100,) hidden units for up
# to 200 epochs; the checks fit ~120 times on tiny data, so they run with the defaults.
@parametrize_with_checks([DeltaPropRegressor(), DeltaPropClassifier()])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _regression(n=120, n_features=5, n_targets=1, seed=0):
    X, y = make_regression(
        n_samples=n, n_features=n_features, n_targets=n_targets, noise=0.1, random_state=seed
    )
    return X, y / np.std(y)


def _continue_both(ours, sk_cls, X, y, epochs, **sk_kwargs):
    """Train ``ours`` one epoch, give scikit-learn's MLP those weights, then train both on.

    Both continue with ``warm_start`` (a fresh optimiser on each side, as scikit-learn does).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.set_params(max_iter=1, warm_start=True, shuffle=False, n_iter_no_change=1000)
        ours.fit(X, y)
        mlp = sk_cls(
            hidden_layer_sizes=ours.hidden_layer_sizes,
            max_iter=1,
            shuffle=False,
            n_iter_no_change=1000,
            **sk_kwargs,
        )
        mlp.fit(X, y)  # builds scikit-learn's structures
        mlp.coefs_ = [c.copy() for c in ours.coefs_]
        mlp.intercepts_ = [c.copy() for c in ours.intercepts_]
        mlp.set_params(warm_start=True, max_iter=epochs)
        mlp.fit(X, y)
        ours.set_params(max_iter=epochs)
        ours.fit(X, y)
    for W_ours, W_sk in zip(ours.coefs_ + ours.intercepts_, mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_allclose(W_ours, W_sk, rtol=1e-9, atol=1e-12)
    return mlp


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_regressor_trains_like_mlp_regressor(solver):
    # Our alpha = 2 alpha_sk / batch_size; scikit-learn differentiates half our cost, so its SGD
    # takes 2 eta and its Adam epsilon / 2 for the same steps (derivation: tests/test_training.py).
    X, y = _regression(n=96, n_targets=2)
    alpha_sk, m, eta = 1e-3, 32, 0.01
    ours = DeltaPropRegressor(
        hidden_layer_sizes=(8, 6),
        solver=solver,
        alpha=2 * alpha_sk / m,
        batch_size=m,
        learning_rate_init=eta,
        random_state=0,
    )
    mlp = _continue_both(
        ours,
        MLPRegressor,
        X,
        y,
        4,
        solver=solver,
        alpha=alpha_sk,
        batch_size=m,
        learning_rate_init=2 * eta if solver == "sgd" else eta,
        epsilon=0.5e-8,
    )
    assert ours.n_iter_ == mlp.n_iter_ == 4 and ours.t_ == mlp.t_ == 5 * 96
    np.testing.assert_allclose(ours.predict(X), mlp.predict(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_trains_like_mlp_classifier(n_classes):
    # The log losses are the same on both sides (sum over outputs, mean over samples), so the
    # gradients are equal: same learning rate and epsilon, alpha = alpha_sk / batch_size.
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=3, n_classes=n_classes, random_state=1
    )
    alpha_sk, m = 1e-2, 30
    ours = DeltaPropClassifier(
        hidden_layer_sizes=(7,),
        alpha=alpha_sk / m,
        batch_size=m,
        learning_rate_init=0.01,
        random_state=0,
    )
    mlp = _continue_both(
        ours, MLPClassifier, X, y, 4, alpha=alpha_sk, batch_size=m, learning_rate_init=0.01
    )
    assert ours.out_activation_ == mlp.out_activation_  # logistic for 2 classes, softmax for 3
    np.testing.assert_allclose(ours.predict_proba(X), mlp.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), mlp.predict(X))


def test_comparison_with_scikit_learn_can_fail():
    X, y = _regression(n=60)
    ours = DeltaPropRegressor(
        hidden_layer_sizes=(5,),
        solver="sgd",
        alpha=0.0,
        batch_size=20,
        learning_rate_init=0.01,
        random_state=0,
    )
    with pytest.raises(AssertionError):  # the same learning rate is NOT the same training
        _continue_both(
            ours,
            MLPRegressor,
            X,
            y,
            3,
            solver="sgd",
            alpha=0.0,
            batch_size=20,
            learning_rate_init=0.01,
        )


# --- fitted attributes and conventions ---------------------------------------------------------


def test_fitted_attributes_follow_scikit_learn():
    X, y = _regression()
    reg = DeltaPropRegressor(hidden_layer_sizes=(6, 4), max_iter=20, random_state=0).fit(X, y)
    net = reg.network_
    assert [c.shape for c in reg.coefs_] == [(5, 6), (6, 4), (4, 1)]
    for i, (c, b) in enumerate(zip(reg.coefs_, reg.intercepts_), start=1):
        np.testing.assert_array_equal(c, net.W[i].T)  # row-major: coefs_[i-1] = W^[i]ᵀ
        np.testing.assert_array_equal(b, net.b[i].ravel())
    assert reg.n_features_in_ == 5 and reg.n_outputs_ == 1 and reg.n_layers_ == 4
    assert len(reg.loss_curve_) == reg.n_iter_ <= 20
    assert reg.t_ == 120 * reg.n_iter_ and reg.best_loss_ == min(reg.loss_curve_)
    assert reg.validation_scores_ is None and reg.out_activation_ == "identity"
    # predictions are the network's forward pass on the transposed input
    np.testing.assert_allclose(reg.predict(X), net.forward(X.T).ravel(), rtol=1e-15)


def test_float32_input_stays_float32():
    X, y = _regression()
    reg = DeltaPropRegressor(hidden_layer_sizes=(6,), max_iter=5).fit(X.astype(np.float32), y)
    assert reg.network_.dtype_name == "float32"
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    assert reg.predict(X).dtype == np.float32  # the network's dtype decides
    assert all(c.dtype == np.float32 for c in reg.coefs_)
    clf = DeltaPropClassifier(hidden_layer_sizes=(6,), max_iter=5)
    clf.fit(X.astype(np.float32), y > 0)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_feature_names_and_pandas():
    pd = pytest.importorskip("pandas")
    X, y = _regression()
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    reg = DeltaPropRegressor(hidden_layer_sizes=(4,), max_iter=5).fit(df, y)
    assert list(reg.feature_names_in_) == list(df.columns)


def test_early_stopping_attributes():
    X, y = _regression(n=200)
    reg = DeltaPropRegressor(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        max_iter=40,
        learning_rate_init=0.01,
        random_state=0,
    ).fit(X, y)
    assert reg.best_loss_ is None and len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_) > 0.5
    assert reg.t_ == 180 * reg.n_iter_  # 10% held out


def test_partial_fit_one_epoch_per_call_continues_the_optimiser():
    X, y = _regression()
    reg = DeltaPropRegressor(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)
    losses = []
    for _ in range(15):
        reg.partial_fit(X, y)
        losses.append(reg.loss_)
    assert reg.n_iter_ == 15 and reg.t_ == 15 * 120 and losses[-1] < 0.5 * losses[0]
    # the same as one fit of 15 epochs (one optimiser, one shuffling generator throughout)
    full = DeltaPropRegressor(
        hidden_layer_sizes=(8,),
        learning_rate_init=0.01,
        random_state=0,
        max_iter=15,
        n_iter_no_change=1000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full.fit(X, y)
    for a, b in zip(reg.coefs_, full.coefs_):
        np.testing.assert_array_equal(a, b)


def test_classifier_partial_fit_needs_classes_first():
    X, y = make_classification(
        n_samples=60, n_features=4, n_classes=3, n_informative=3, n_redundant=0, random_state=0
    )
    clf = DeltaPropClassifier(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:10], y[:10], classes=[0, 1, 2])
    clf.partial_fit(X[10:], y[10:])
    assert list(clf.classes_) == [0, 1, 2] and clf.n_iter_ == 2
    with pytest.raises(ValueError, match=r"classes \[7\]"):
        clf.partial_fit(X[:5], np.full(5, 7))


def test_warm_start_continues_from_the_fitted_weights():
    X, y = _regression()
    reg = DeltaPropRegressor(
        hidden_layer_sizes=(8,), max_iter=5, warm_start=True, n_iter_no_change=1000, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
        first = [c.copy() for c in reg.coefs_]
        reg.fit(X, y)
    assert reg.n_iter_ == 5 and len(reg.loss_curve_) == 10 and reg.t_ == 10 * 120
    assert not np.array_equal(first[0], reg.coefs_[0])


def test_classifier_outputs():
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = DeltaPropClassifier(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0
    ).fit(X, labels)
    assert clf.out_activation_ == "softmax" and clf.network_.loss.name == "cross_entropy"
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(P, axis=1)])
    assert clf.score(X, labels) > 0.8
    # binary: one sigmoid output with binary cross-entropy, probabilities as two columns
    binary = DeltaPropClassifier(hidden_layer_sizes=(8,), max_iter=30).fit(X, y == 1)
    assert binary.n_outputs_ == 1 and binary.network_.loss.name == "binary_cross_entropy"
    P2 = binary.predict_proba(X)
    assert P2.shape == (200, 2)
    np.testing.assert_allclose(P2.sum(axis=1), 1.0)
    # multi-label: one sigmoid per label
    Y = np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int)
    multi = DeltaPropClassifier(hidden_layer_sizes=(8,), max_iter=30).fit(X, Y)
    assert multi.out_activation_ == "logistic" and multi.predict(X).shape == (200, 3)
    assert multi.predict_proba(X).shape == (200, 3)


def test_weight_init_follows_scikit_learn_or_the_network():
    # scikit-learn: W and b uniform on +-sqrt(6 / (fan_in + fan_out)); 100 hidden units, 5 inputs
    X, y = _regression()
    reg = DeltaPropRegressor(max_iter=1, learning_rate_init=1e-12, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)  # one epoch at a negligible rate: the weights are the initial ones
        he = DeltaPropRegressor(
            max_iter=1, learning_rate_init=1e-12, weight_init="he", random_state=0
        ).fit(X, y)
    r1, r2 = np.sqrt(6 / 105), np.sqrt(6 / 101)
    for c, b, r in zip(reg.coefs_, reg.intercepts_, (r1, r2)):
        assert np.abs(c).max() <= r and np.abs(b).max() <= r
        assert (
            np.abs(c).max() > 0.9 * r and np.abs(b).max() > 0.5 * r
        )  # the whole range, biases too
    assert np.abs(he.intercepts_[0]).max() < 1e-9  # He: zero biases, N(0, 2/5) weights
    assert 0.5 < np.std(he.coefs_[0]) / np.sqrt(2 / 5) < 1.5


def test_pickle_round_trip():
    X, y = _regression()
    reg = DeltaPropRegressor(hidden_layer_sizes=(4,), activation="tanh", max_iter=5).fit(X, y)
    back = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(back.predict(X), reg.predict(X))
    assert back.network_.hidden.name == "tanh"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(hidden_layer_sizes=(4, 0)), "hidden_layer_sizes must be a sequence of ints >= 1"),
        (dict(activation="softmax"), "activation must be one of"),
        (dict(solver="newton"), "solver must be 'sgd', 'adam' or 'lbfgs'"),
        (dict(solver="lbfgs", max_fun=0), "max_fun must be an int >= 1"),
        (dict(alpha=-1.0), "alpha must be a number >= 0"),
        (dict(batch_size=0), "batch_size must be 'auto' or an int >= 1"),
        (dict(learning_rate="cosine"), "learning_rate must be one of"),
        (dict(learning_rate_init=0.0), "learning_rate_init must be a number > 0"),
        (dict(max_iter=0), "max_iter must be an int >= 1"),
        (dict(momentum=1.5), "momentum must be a number in"),
        (dict(beta_2=1.0), "beta_2 must be a number in"),
        (dict(epsilon=0.0), "epsilon must be a number > 0"),
        (dict(validation_fraction=1.0), "validation_fraction must be a number in"),
        (dict(n_iter_no_change=0), "n_iter_no_change must be an int >= 1"),
        (dict(early_stopping="yes"), "early_stopping must be True or False"),
    ],
)
def test_bad_parameters_are_reported_at_fit(params, match):
    X, y = _regression(n=20)
    reg = DeltaPropRegressor(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes; got 1 class"):
        DeltaPropClassifier().fit(np.ones((5, 2)), np.zeros(5))


@pytest.mark.slow
def test_torch_backend():
    if not os.environ.get("DELTAPROP_SLOW"):
        pytest.skip("importing torch is slow; DELTAPROP_SLOW=1")
    pytest.importorskip("torch")
    X, y = _regression(n=60)
    kw = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0, n_iter_no_change=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = DeltaPropRegressor(**kw).fit(X, y)
        reg = DeltaPropRegressor(backend="torch", **kw).fit(X, y)
    assert reg.network_.backend == "torch"
    pred = reg.predict(X)
    assert isinstance(pred, np.ndarray)
    np.testing.assert_allclose(pred, ref.predict(X), rtol=1e-10, atol=1e-12)

"""``sample_weight`` in the estimators, against independent references: duplicated rows (full
batch), dropped rows, and scikit-learn's own MLPs on the same weights from the same parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from deltaprop import DeltaPropClassifier, DeltaPropRegressor


def _data(kind, n=40):
    if kind == "regressor":
        X, y = make_regression(n_samples=n, n_features=4, noise=0.1, random_state=0)
        return X, y / np.std(y)
    X, y = make_classification(
        n_samples=n, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    return X, y


def _make(kind, **kw):
    cls = DeltaPropRegressor if kind == "regressor" else DeltaPropClassifier
    params = dict(hidden_layer_sizes=(6,), batch_size=10_000, max_iter=15, alpha=1e-3)
    params.update(kw, random_state=0, n_iter_no_change=1000)
    return cls(**params)


def _fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kw)


def _assert_same_parameters(a, b, rtol=1e-10):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_integer_weights_equal_duplicated_rows_full_batch(kind, solver):
    X, y = _data(kind)
    w = np.random.default_rng(1).integers(1, 4, size=len(y))
    idx = np.repeat(np.arange(len(y)), w)
    weighted = _fit(_make(kind, solver=solver, learning_rate_init=0.01), X, y, sample_weight=w)
    repeated = _fit(_make(kind, solver=solver, learning_rate_init=0.01), X[idx], y[idx])
    _assert_same_parameters(weighted, repeated)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_zero_weights_equal_dropped_rows(kind):
    X, y = _data(kind)
    w = np.ones(len(y))
    w[::3] = 0.0
    keep = w > 0
    weighted = _fit(_make(kind, solver="adam"), X, y, sample_weight=w)
    dropped = _fit(_make(kind, solver="adam"), X[keep], y[keep])
    _assert_same_parameters(weighted, dropped)
    # and partial_fit takes the weights too (one epoch each)
    a = _make(kind).partial_fit(X, y, sample_weight=w, **_classes(kind, y))
    b = _make(kind).partial_fit(X[keep], y[keep], **_classes(kind, y))
    _assert_same_parameters(a, b)


def _classes(kind, y):
    return {} if kind == "regressor" else {"classes": np.unique(y)}


def test_unit_weights_change_nothing_with_mini_batches():
    X, y = _data("regressor", n=50)
    a = _fit(_make("regressor", batch_size=16), X, y, sample_weight=np.full(50, 3.0))
    b = _fit(_make("regressor", batch_size=16), X, y)
    _assert_same_parameters(a, b)


def test_bad_weights_are_refused():
    X, y = _data("regressor")
    with pytest.raises(ValueError, match="sample_weight"):
        _make("regressor").fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="(?i)negative"):
        _make("regressor").fit(X, y, sample_weight=-np.ones(len(y)))


def _both_weighted(ours, sk_cls, X, y, w, epochs, **sk_kwargs):
    """As tests/test_estimator.py's ``_continue_both``, with ``sample_weight`` on both sides."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.set_params(max_iter=1, warm_start=True, shuffle=False, n_iter_no_change=1000)
        ours.fit(X, y, sample_weight=w)
        mlp = sk_cls(
            hidden_layer_sizes=ours.hidden_layer_sizes,
            max_iter=1,
            shuffle=False,
            n_iter_no_change=1000,
            **sk_kwargs,
        )
        mlp.fit(X, y, sample_weight=w)
        mlp.coefs_ = [c.copy() for c in ours.coefs_]
        mlp.intercepts_ = [c.copy() for c in ours.intercepts_]
        mlp.set_params(warm_start=True, max_iter=epochs)
        mlp.fit(X, y, sample_weight=w)
        ours.set_params(max_iter=epochs)
        ours.fit(X, y, sample_weight=w)
    _assert_same_parameters(ours, mlp, rtol=1e-9)
    return mlp


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_regressor_weights_like_mlp_regressor(solver):
    # alpha = 0: scikit-learn divides its penalty by the batch's total weight, ours is per batch
    # (the module docstring of deltaprop.estimator); 2 eta and epsilon / 2 as in test_estimator.py
    X, y = make_regression(n_samples=96, n_features=5, n_targets=2, noise=0.1, random_state=0)
    y = y / np.std(y)
    w = np.random.default_rng(0).uniform(0.0, 2.0, size=96)
    w[:5] = 0.0
    eta = 0.01
    ours = DeltaPropRegressor(
        hidden_layer_sizes=(8, 6),
        solver=solver,
        alpha=0.0,
        batch_size=32,
        learning_rate_init=eta,
        random_state=0,
    )
    mlp = _both_weighted(
        ours,
        MLPRegressor,
        X,
        y,
        w,
        4,
        solver=solver,
        alpha=0.0,
        batch_size=32,
        learning_rate_init=2 * eta if solver == "sgd" else eta,
        epsilon=0.5e-8,
    )
    np.testing.assert_allclose(ours.predict(X), mlp.predict(X), rtol=1e-9, atol=1e-12)


def test_classifier_weights_like_mlp_classifier():
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=3, n_classes=3, random_state=1
    )
    w = np.random.default_rng(2).uniform(0.1, 3.0, size=90)
    ours = DeltaPropClassifier(
        hidden_layer_sizes=(7,), alpha=0.0, batch_size=30, learning_rate_init=0.01, random_state=0
    )
    mlp = _both_weighted(
        ours, MLPClassifier, X, y, w, 4, alpha=0.0, batch_size=30, learning_rate_init=0.01
    )
    np.testing.assert_allclose(ours.predict_proba(X), mlp.predict_proba(X), rtol=1e-9, atol=1e-12)


def test_comparison_with_weights_can_fail():
    # the same set-up, ours without the weights: not scikit-learn's weighted training
    X, y = _data("regressor", n=60)
    w = np.random.default_rng(0).uniform(0.0, 2.0, size=60)
    ours = DeltaPropRegressor(
        hidden_layer_sizes=(5,), solver="adam", alpha=0.0, batch_size=20, random_state=0
    )
    with pytest.raises(AssertionError):
        _mismatch(ours, X, y, w)


def _mismatch(ours, X, y, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.set_params(max_iter=1, warm_start=True, shuffle=False, n_iter_no_change=1000)
        ours.fit(X, y)
        mlp = MLPRegressor(
            hidden_layer_sizes=(5,),
            max_iter=1,
            shuffle=False,
            alpha=0.0,
            batch_size=20,
            epsilon=0.5e-8,
        ).fit(X, y, sample_weight=w)
        mlp.coefs_ = [c.copy() for c in ours.coefs_]
        mlp.intercepts_ = [c.copy() for c in ours.intercepts_]
        mlp.set_params(warm_start=True, max_iter=3)
        mlp.fit(X, y, sample_weight=w)
        ours.set_params(max_iter=3)
        ours.fit(X, y)
    _assert_same_parameters(ours, mlp, rtol=1e-9)


@pytest.mark.parametrize(
    ("output", "loss", "n"),
    [
        ("identity", "mse", 2),
        ("sigmoid", "binary_cross_entropy", 2),
        ("softmax", "cross_entropy", 3),
        ("sigmoid", "mse", 2),  # no vectorised form: one column at a time
    ],
)
def test_per_sample_costs_are_the_costs_of_each_column_alone(output, loss, n):
    import deltaprop as dp
    from deltaprop.losses import sample_costs

    net = dp.Network([3, n], output=output, loss=loss, seed=0)
    rng = np.random.default_rng(3)
    Z = rng.normal(scale=30.0, size=(n, 40))  # saturating logits too
    A = net.output.g(Z)
    Y = rng.random((n, 40))
    if output == "softmax":
        Y = Y / Y.sum(axis=0)
    got = sample_costs(net.output, net.loss, Z, A, Y)
    ref = [net._cost(A[:, i : i + 1], Y[:, i : i + 1], Z[:, i : i + 1]) for i in range(40)]
    assert got.shape == (1, 40)
    np.testing.assert_allclose(got.ravel(), ref, rtol=1e-13, atol=1e-300)


# --- the early-stopping validation score, weighted as scikit-learn's -----------------------------


def _early(kind, **kw):
    cls = DeltaPropRegressor if kind == "regressor" else DeltaPropClassifier
    params = dict(hidden_layer_sizes=(8,), batch_size=20, max_iter=100, learning_rate_init=0.01)
    params.update(validation_fraction=0.3, n_iter_no_change=3, early_stopping=True)
    params.update(kw)
    return cls(random_state=0, **params)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_zero_weight_validation_rows_change_no_score_nor_the_stopping_epoch(kind):
    # every fourth row gets weight 0 and a target far off: rows of weight 0 train nothing, and
    # held out, they must score nothing either (zero weights equal dropping the rows)
    X, y = _data(kind, n=120)
    w = np.random.default_rng(3).uniform(0.5, 2.0, size=len(y))
    w[::4] = 0.0
    y_off = y.copy()
    y_off[::4] = y[::4] + 50.0 if kind == "regressor" else (y[::4] + 1) % 3
    a = _fit(_early(kind), X, y, sample_weight=w)
    b = _fit(_early(kind), X, y_off, sample_weight=w)
    assert a.validation_scores_ == b.validation_scores_
    assert a.n_iter_ == b.n_iter_ < 100  # stopped early, at the same epoch
    _assert_same_parameters(a, b, rtol=0)
    # the check can fail: with the weights all 1 the changed rows are scored (some are held out)
    ones = np.ones(len(y))
    c = _fit(_early(kind), X, y, sample_weight=ones)
    d = _fit(_early(kind), X, y_off, sample_weight=ones)
    assert c.validation_scores_ != d.validation_scores_


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_validation_score_is_scikit_learns_weighted_score_of_the_held_out_rows(loss):
    # deltaprop.fit with a scorer that records what it is given: the held-out columns (every
    # target is unique, so each column names its row) come with their own rows' weights, and
    # the default scorer's numbers are scikit-learn's r2_score/accuracy_score of those columns
    # with those weights: what MLPRegressor/MLPClassifier._score compute from their held-out
    # rows' weights (sklearn/neural_network/_multilayer_perceptron.py,
    # _update_no_improvement_count)
    from sklearn.metrics import accuracy_score, r2_score

    import deltaprop as dp

    rng = np.random.default_rng(4)
    n = 60
    X = rng.normal(size=(3, n))
    w = rng.uniform(0.0, 2.0, size=n)
    if loss == "mse":
        Y = rng.normal(size=(1, n))

        def net():
            return dp.Network([3, 5, 1], seed=0)

        def reference(A, Y_val, w_val):
            return r2_score(Y_val.T, A.T, sample_weight=w_val)

    else:
        Y = rng.dirichlet(np.ones(3), size=n).T  # soft labels: unique columns

        def net():
            return dp.Network([3, 5, 3], output="softmax", loss="cross_entropy", seed=0)

        def reference(A, Y_val, w_val):
            return accuracy_score(Y_val.argmax(0), A.argmax(0), sample_weight=w_val)

    seen = []

    def record(A, Y_val, sample_weight=None):
        seen.append((A.copy(), Y_val.copy(), sample_weight.copy()))
        return 0.0

    kw = dict(epochs=3, early_stopping=True, validation_fraction=0.25, sample_weight=w, seed=5)
    dp.fit(net(), X, Y, scoring=record, n_iter_no_change=None, **kw)
    h = dp.fit(net(), X, Y, n_iter_no_change=None, **kw)
    assert len(seen) == len(h.val_score) == 3
    for (A, Y_val, w_val), score in zip(seen, h.val_score):
        rows = [int(np.flatnonzero(Y[0] == v)[0]) for v in Y_val[0]]
        assert len(set(rows)) == len(rows) == 15
        np.testing.assert_array_equal(w_val, w[rows])
        assert score == pytest.approx(reference(A, Y_val, w_val), rel=1e-12)


def test_validation_data_is_not_weighted_and_keeps_its_targets():
    # sample_weight weighs the training columns; validation_data (no weights) is scored whole
    from sklearn.metrics import r2_score

    import deltaprop as dp

    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(3, 40)), rng.normal(size=(2, 40))
    X_val, Y_val = rng.normal(size=(3, 10)), rng.normal(size=(2, 10))
    net = dp.Network([3, 4, 2], seed=0)
    w = rng.uniform(0.5, 1.5, size=40)
    h = dp.fit(net, X, Y, epochs=2, validation_data=(X_val, Y_val), sample_weight=w)
    assert h.val_score[-1] == pytest.approx(r2_score(Y_val.T, net.forward(X_val).T), rel=1e-12)


def test_held_out_rows_all_of_weight_zero_are_refused():
    # one row of weight 1, the others 0: refused exactly when that row is one of the 10
    # training rows (the 10 held out then weigh 0 in all)
    X, y = _data("regressor", n=20)
    refused = 0
    for r in range(20):
        w = np.zeros(20)
        w[r] = 1.0
        try:
            _fit(_early("regressor", validation_fraction=0.5, max_iter=1), X, y, sample_weight=w)
        except ValueError as e:
            assert "held-out" in str(e)
            refused += 1
    assert refused == 10

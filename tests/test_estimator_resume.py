"""A saved and loaded estimator continues training as the one that was saved (issue 15).

``dp.save(est)`` stores the state ``partial_fit`` continues from (the optimiser's moments and
step count, the shuffling generator, the history), so ``partial_fit`` after ``dp.load`` is bit
for bit the ``partial_fit`` of the estimator never saved (the reference), as a pickled
scikit-learn MLP continues; files written before (``tests/fixtures/estimator-74862f8``) load
with a fresh optimiser. The stored state is checked like every hostile file.
"""

from __future__ import annotations

import json
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.exceptions import ConvergenceWarning

import deltaprop as dp

FIXTURES = Path(__file__).parent / "fixtures" / "estimator-74862f8"

SOLVERS = {
    "adam": dict(solver="adam"),
    "sgd-nesterov-invscaling": dict(solver="sgd", momentum=0.9, learning_rate="invscaling"),
    "sgd-momentum": dict(solver="sgd", momentum=0.8, nesterovs_momentum=False),
}


def _data(kind):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(45, 4))
    if kind == "regressor":
        return X, X @ [1.0, -0.5, 0.25, 2.0], {}
    return X, np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5]), {"classes": [0, 1, 2]}


def _make(kind, solver, dtype=np.float64):
    cls = dp.DeltaPropRegressor if kind == "regressor" else dp.DeltaPropClassifier
    kw = dict(hidden_layer_sizes=(7,), batch_size=10, learning_rate_init=0.01, random_state=3)
    return cls(**kw, **SOLVERS[solver])


def _params(est):
    return [*est.coefs_, *est.intercepts_]


def _assert_bitwise(a, b):
    for p, q in zip(_params(a), _params(b), strict=True):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p, q)
    assert a.loss_curve_ == b.loss_curve_ and a.n_iter_ == b.n_iter_ and a.t_ == b.t_


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_partial_fit_after_save_and_load_is_bit_for_bit_the_unsaved_one(tmp_path, kind, solver):
    X, y, classes = _data(kind)
    if kind == "classifier" and solver == "adam":
        X = X.astype(np.float32)  # and in float32 (the moments keep the network's dtype)
    ref, est = _make(kind, solver), _make(kind, solver)
    for k in range(4):
        ref.partial_fit(X, y, **classes)
        est.partial_fit(X, y, **classes)
        est = dp.load(dp.save(est, tmp_path / f"e{k}.safetensors"))
        _assert_bitwise(est, ref)
    # pickling (scikit-learn's way of keeping an estimator) continues the same way
    ref.partial_fit(X, y)
    pickled = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    pickled.partial_fit(X, y)
    _assert_bitwise(est, ref)
    _assert_bitwise(pickled, ref)


def test_the_comparison_can_fail_without_the_state(tmp_path):
    # the same calls from a file whose training state is removed: a fresh optimiser, other weights
    X, y, _ = _data("regressor")
    ref, est = _make("regressor", "adam"), _make("regressor", "adam")
    ref.partial_fit(X, y).partial_fit(X, y)
    path = dp.save(est.partial_fit(X, y), tmp_path / "e.safetensors")
    tensors, meta = _read(path)
    meta["estimator"]["train_state"] = None
    tensors = {k: v for k, v in tensors.items() if not k.startswith("state.")}
    save_file(tensors, str(path), metadata={"deltaprop": json.dumps(meta)})
    fresh = dp.load(path).partial_fit(X, y)
    with pytest.raises(AssertionError):
        _assert_bitwise(fresh, ref)


def test_fit_with_warm_start_after_load_is_the_unsaved_ones(tmp_path):
    # fit starts a fresh optimiser (as scikit-learn's, warm_start or not) from the stored seed
    X, y, _ = _data("regressor")
    ref, est = _make("regressor", "adam"), _make("regressor", "adam")
    for e in (ref, est):
        e.set_params(max_iter=3, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y).fit(X, y)
        est = dp.load(dp.save(est.fit(X, y), tmp_path / "e.safetensors")).fit(X, y)
    _assert_bitwise(est, ref)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_files_without_the_state_still_load_with_a_fresh_optimiser(kind):
    sys.path.insert(0, str(FIXTURES))
    try:
        from make import data
    finally:
        sys.path.remove(str(FIXTURES))
    X, y_reg, y_cls = data()
    y = y_reg if kind == "regressor" else y_cls
    old = dp.load(FIXTURES / f"{kind}.safetensors")
    assert old._state is None and old.n_iter_ == 3
    before = [p.copy() for p in _params(old)]
    old.partial_fit(X, y)  # trains on, from a fresh optimiser
    assert old.n_iter_ == 4 and old._state.epoch == 1
    assert any(not np.array_equal(p, q) for p, q in zip(before, _params(old)))


def _read(path):
    with safe_open(str(path), framework="np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        meta = json.loads(f.metadata()["deltaprop"])
    return tensors, meta


def _tampered(tmp_path, change):
    X, y, _ = _data("regressor")
    est = _make("regressor", "adam").partial_fit(X, y).partial_fit(X, y)
    path = dp.save(est, tmp_path / "e.safetensors")
    tensors, meta = _read(path)
    change(tensors, meta["estimator"]["train_state"])
    save_file(tensors, str(path), metadata={"deltaprop": json.dumps(meta)})
    return path


def _set(key, value):
    def change(tensors, state):
        state[key] = value

    return change


def _set_tensor(key, value):
    def change(tensors, state):
        tensors[key] = value(tensors[key])

    return change


def _hyper(key, value):
    def change(tensors, state):
        state["optimizer_hyper"][key] = value

    return change


EVIL = "\x1b[2J\x1b[31mEVIL"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (_set("optimizer", "sgd"), "train_state.optimizer"),
        (_set("optimizer", EVIL), "train_state.optimizer"),
        (_set("format", EVIL), "train_state.format"),
        (_set("version", 99), "train_state.version"),
        (_set("seed", EVIL), "train_state.seed"),
        (_set("history", {"stopped_reason": EVIL, "score_name": "r2"}), "stopped_reason"),
        (_set("t", -1), "t must be >= 0"),
        (_hyper("beta_1", 1.0), "beta_1"),
        (_hyper("t", -3), "optimizer t must be"),
        (_hyper("lr", float("inf")), "lr"),
        (_hyper("epsilon", None), "lacks 'epsilon'"),
        (_set("rng_state", {"bit_generator": "PCG64", "state": EVIL}), "rng_state"),
        (_set_tensor("state.optimizer.m.W.1", lambda a: a * np.nan), "m.W.1 holds NaN"),
        (_set_tensor("state.optimizer.v.W.1", lambda a: -a - 1), "v.W.1 (a second moment)"),
        (_set_tensor("state.optimizer.m.b.1", lambda a: a[:-1]), "m.b.1 must be"),
        (_set_tensor("state.optimizer.m.W.2", lambda a: a.astype(np.float32)), "dtype"),
        (_set_tensor("state.history.loss", lambda a: a[:1]), "history"),
    ],
)
def test_a_tampered_state_is_refused_naming_the_field(tmp_path, change, names):
    path = _tampered(tmp_path, change)
    with pytest.raises(ValueError, match=f"cannot load {path}") as info:
        dp.load(path)
    message = str(info.value)
    assert names in message and "EVIL" not in message and "\x1b" not in message


def test_state_tensors_without_the_state_field_are_refused(tmp_path):
    path = _tampered(tmp_path, lambda tensors, state: None)
    tensors, meta = _read(path)
    meta["estimator"]["train_state"] = None
    save_file(tensors, str(path), metadata={"deltaprop": json.dumps(meta)})
    with pytest.raises(ValueError, match="unexpected tensor.*'state.best.W.1'"):
        dp.load(path)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_partial_fit_after_fit_continues_its_optimiser_as_scikit_learns(tmp_path, kind):
    # scikit-learn's partial_fit after fit continues the optimiser (MLP._optimizer.t goes on);
    # so fit for 2 epochs, then 2 partial_fit calls (saved and loaded between) is the
    # uninterrupted 4-epoch fit, bit for bit (the shuffling generator continues too)
    from sklearn.neural_network import MLPRegressor

    X, y, classes = _data(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, batch_size=45).fit(X, X[:, 0])
        t = mlp._optimizer.t
        assert mlp.partial_fit(X, X[:, 0])._optimizer.t == t + 1
        whole = _make(kind, "adam").set_params(max_iter=4, n_iter_no_change=100).fit(X, y)
        est = _make(kind, "adam").set_params(max_iter=2, n_iter_no_change=100).fit(X, y)
    est.partial_fit(X, y)
    est = dp.load(dp.save(est, tmp_path / "e.safetensors")).partial_fit(X, y)
    for p, q in zip(_params(est), _params(whole), strict=True):
        np.testing.assert_array_equal(p, q)
    assert est.loss_curve_ == whole.loss_curve_ and est.t_ == whole.t_


def test_after_lbfgs_or_early_stopping_partial_fit_starts_fresh():
    X, y, _ = _data("regressor")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = _make("regressor", "adam").set_params(solver="lbfgs", max_iter=3).fit(X, y)
        assert est._state is None
        est.set_params(solver="adam").partial_fit(X, y)
        assert est._state.epoch == 1
        est = _make("regressor", "adam").set_params(early_stopping=True, max_iter=3).fit(X, y)
        assert est._state is None

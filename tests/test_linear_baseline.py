"""The linear baseline beside every `deltaprop train` table (issue 15: "the table shows a
linear baseline (ridge / logistic regression) beside the constant one"), checked against
scikit-learn models fitted here, independently, on the very split the run used."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.preprocessing import StandardScaler

from deltaprop.cli import main
from deltaprop.data import Labels, linear_baseline, load_dataset, split, target_labels


def _train_json(capsys, tmp_path, *args):
    with pytest.raises(SystemExit) as info:
        main(["train", *args, "--epochs", "3", "--no-plots", "--json", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    return json.loads(out)["metrics"]


def _rows(data, seed=0):
    parts = split(data, seed=seed)
    scaler = StandardScaler().fit(parts.train[0].T)
    return parts, scaler


def test_ridge_beside_the_mean_on_diabetes(capsys, tmp_path):
    metrics = _train_json(capsys, tmp_path, "--data", "diabetes")
    parts, scaler = _rows(load_dataset("diabetes"))
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(
        scaler.transform(parts.train[0].T), parts.train[1][0]
    )
    for name, (X, Y) in zip(("train", "validation", "test"), parts):
        want = r2_score(Y[0], ridge.predict(scaler.transform(X.T)))
        assert metrics[name]["linear"]["r2"] == pytest.approx(want, abs=1e-12)
    assert metrics["test"]["linear"]["r2"] > 0.4 > metrics["test"]["baseline"]["r2"]
    capsys.readouterr()


def test_logistic_regression_beside_the_majority_class_on_wine(capsys, tmp_path):
    metrics = _train_json(capsys, tmp_path, "--data", "wine")
    data = load_dataset("wine")
    labels = Labels.fit(data)
    y = labels.indices(target_labels(data))
    parts, scaler = _rows(data._replace(Y=y[None, :].astype(float)))
    model = LogisticRegression(max_iter=5000).fit(
        scaler.transform(parts.train[0].T), parts.train[1][0].astype(int)
    )
    for name, (X, Y) in zip(("train", "validation", "test"), parts):
        rows = scaler.transform(X.T)
        got = metrics[name]["linear"]
        assert got["accuracy"] == pytest.approx(accuracy_score(Y[0], model.predict(rows)))
        P = model.predict_proba(rows)
        assert got["log_loss"] == pytest.approx(log_loss(Y[0], P, labels=[0, 1, 2]), rel=1e-9)
    assert metrics["test"]["linear"]["accuracy"] > 0.9 > metrics["test"]["baseline"]["accuracy"]


def test_binary_and_multilabel_outputs_and_a_class_absent_from_training():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 60))
    y = (X[0] + 0.3 * rng.normal(size=60) > 0).astype(float)
    # binary: one row, the probability of the second class, as the sigmoid network's output
    binary = Labels("binary", ["no", "yes"])
    A = linear_baseline(X, y[None, :], binary)(X)
    want = LogisticRegression(max_iter=5000).fit(StandardScaler().fit_transform(X.T), y)
    assert A.shape == (1, 60)
    np.testing.assert_allclose(
        A[0], want.predict_proba(StandardScaler().fit(X.T).transform(X.T))[:, 1], rtol=1e-12
    )
    # multi-label: one row per label; a label never 1 in training predicts probability 0
    Y = np.vstack([y, np.zeros(60)])
    A = linear_baseline(X, Y, Labels("multilabel", ["a", "b"]))(X)
    assert A.shape == (2, 60) and np.all(A[1] == 0.0) and np.all((A[0] > 0) & (A[0] < 1))
    # multiclass with class 2 absent from training: its column is 0, the rest sum to 1
    onehot = np.zeros((3, 60))
    onehot[y.astype(int), np.arange(60)] = 1.0
    A = linear_baseline(X, onehot, Labels("multiclass", ["p", "q", "r"]))(X[:, :7])
    assert A.shape == (3, 7) and np.all(A[2] == 0.0)
    np.testing.assert_allclose(A.sum(axis=0), 1.0, rtol=1e-12)

"""One model file for every path (issue 15): what is saved loads back as what it was.

- ``deltaprop train``'s model file loads with ``dp.load`` as a Model whose ``predict`` takes
  rows and answers in the data's units, equal to ``deltaprop predict`` to the last bit;
- a bare Network saved with ``dp.save`` loads as a Network; a version-1 file still loads;
- checkpoints are refused by ``dp.load`` and ``deltaprop predict``, naming the model file;
- fitted estimators save as safetensors and load as fitted estimators predicting identically;
- a classifier Model predicts its labels and per-class probabilities.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.data import Labels, Standardization
from deltaprop.io import Model, load_model

FIXTURES = Path(__file__).parent / "fixtures" / "ckpt-467ce05"


def cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short default run on diabetes (the wrong-numbers case of the issue)."""
    out = tmp_path_factory.mktemp("run")
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(out), "--epochs", "3", "--no-plots", "--json"])
    assert info.value.code == 0
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame.drop(columns="target")
    csv = out / "rows.csv"
    frame.iloc[:25].to_csv(csv, index=False)
    return out, csv, frame.iloc[:25]


def test_train_model_loads_in_one_call_and_equals_predict_to_the_last_bit(capsys, trained):
    out, csv, frame = trained
    model = dp.load(out / "model.safetensors")
    assert isinstance(model, Model) and model.standardization is not None
    rows = frame.to_numpy()
    y = model.predict(rows)  # rows, as scikit-learn
    assert y.shape == (25,)
    assert 100 < y.mean() < 200  # disease progression units (mean 152), not standardised
    code, text, err = cli(capsys, "predict", "--model", out / "model.safetensors", "--data", csv)
    assert code == 0, err
    from_cli = np.array([float(line) for line in text.splitlines()[1:]])
    assert np.array_equal(y, from_cli)  # bit for bit
    assert np.array_equal(model.predict(frame[frame.columns[::-1]]), y)  # columns by name
    assert np.array_equal(model.forward(rows.T)[0], y)  # the core's samples-as-columns view
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 10\)"):
        model.predict(rows.T)


def test_checkpoints_are_refused_naming_the_model_file(capsys, trained):
    out, csv, _ = trained
    ckpt = out / "checkpoint.safetensors"
    with pytest.raises(ValueError, match="this is a checkpoint") as info:
        dp.load(ckpt)
    assert str(out / "model.safetensors") in str(info.value)
    code, text, err = cli(capsys, "predict", "--model", ckpt, "--data", csv)
    assert code == 2 and "this is a checkpoint" in err and str(out / "model.safetensors") in err
    assert len(err.strip().splitlines()) == 1


def test_a_bare_network_still_loads_as_a_network(tmp_path):
    net = dp.Network([3, 4, 2], seed=1)
    path = dp.save(net, tmp_path / "net.safetensors")
    back = dp.load(path)
    assert isinstance(back, dp.Network)
    assert all(np.array_equal(net.W[l], back.W[l]) for l in range(1, 3))
    # the same network with its standardisation is a Model
    std = Standardization(np.zeros(3), np.ones(3), np.zeros(2), np.ones(2))
    assert isinstance(dp.load(dp.save(net, tmp_path / "m.safetensors", standardization=std)), Model)


def test_version_1_files_of_the_previous_session_still_load():
    model = dp.load(FIXTURES / "adam" / "model.safetensors")
    assert isinstance(model, Model) and model.labels is None
    X = np.zeros((4, model.net.sizes[0]))
    assert model.predict(X).shape == (4,)


def test_a_classifier_model_predicts_labels_and_named_probabilities(tmp_path):
    net = dp.Network([2, 5, 3], output="softmax", loss="cross_entropy", seed=0)
    labels = Labels("multiclass", ["barbera", "barolo", "grignolino"])
    path = dp.save(net, tmp_path / "c.safetensors", labels=labels, feature_names=["a", "b"])
    model = dp.load(path)
    X = np.random.default_rng(0).normal(size=(7, 2))
    P = model.predict_proba(X)
    assert P.shape == (7, 3) and np.allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(P, net.forward(X.T).T)
    assert model.predict(X).tolist() == [labels.classes[i] for i in P.argmax(axis=1)]
    assert model.classes_.tolist() == labels.classes
    binary = dp.Network([2, 3, 1], output="sigmoid", loss="binary_cross_entropy", seed=0)
    path = dp.save(binary, tmp_path / "b.safetensors", labels=Labels("binary", [0, 1]))
    model = dp.load(path)
    a = net_out = binary.forward(X.T)[0]
    np.testing.assert_array_equal(model.predict_proba(X), np.column_stack([1 - net_out, a]))
    np.testing.assert_array_equal(model.predict(X), (a >= 0.5).astype(int))
    with pytest.raises(ValueError, match="does not fit 3 output"):
        dp.save(net, tmp_path / "x.safetensors", labels=Labels("binary", [0, 1]))


# --- estimators as safetensors ---------------------------------------------------------------


def _data(kind, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 4))
    if kind == "regression":
        return X, X @ [1.0, -2.0, 0.5, 0.0] + 0.1 * rng.normal(size=120)
    if kind == "regression-2d":
        return X, np.column_stack([X[:, 0], X[:, 1] - X[:, 2]])
    if kind == "binary-text":
        return X, np.where(X[:, 0] > 0, "yes", "no")
    if kind == "multiclass-int":
        return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int) * 2 + 5
    if kind == "multilabel":
        return X, np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 1]).astype(int)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["regression", "regression-2d", "binary-text", "multiclass-int", "multilabel"]
)
def test_fitted_estimators_save_and_load_predicting_identically(tmp_path, kind):
    from sklearn.exceptions import ConvergenceWarning

    X, y = _data(kind)
    cls = dp.DeltaPropRegressor if kind.startswith("regression") else dp.DeltaPropClassifier
    est = cls(hidden_layer_sizes=(8, 6), max_iter=15, random_state=0, alpha=1e-3)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    path = dp.save(est, tmp_path / "est.safetensors")
    raw = path.read_bytes()
    assert b"pickle" not in raw[:200] and raw[8:9] == b"{"  # a safetensors header, no pickle
    back = dp.load(path)
    assert type(back) is cls and back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.predict(X).dtype == est.predict(X).dtype
    if cls is dp.DeltaPropClassifier:
        np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.loss_curve_ == est.loss_curve_ and back.n_iter_ == est.n_iter_
    assert back.score(X, y) == est.score(X, y)
    back.set_params(max_iter=2, warm_start=True)  # still an estimator that can be fitted
    with pytest.warns(ConvergenceWarning):
        back.fit(X, y)


def test_estimators_with_feature_names_and_refusals(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = _data("regression")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = dp.DeltaPropRegressor(hidden_layer_sizes=4, max_iter=3, random_state=1)
    with pytest.warns(Warning):
        est.fit(frame, y)
    back = dp.load(dp.save(est, tmp_path / "e.safetensors"))
    assert back.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(back.predict(frame), est.predict(frame))
    with pytest.raises(ValueError, match="not fitted yet"):
        dp.save(dp.DeltaPropRegressor(), tmp_path / "u.safetensors")
    # a tampered estimator field is refused with the file's name
    from safetensors import safe_open
    from safetensors.numpy import save_file

    path = tmp_path / "e.safetensors"
    with safe_open(str(path), framework="np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        meta = json.loads(f.metadata()["deltaprop"])
    meta["estimator"]["fitted"]["n_features_in_"] = 7
    save_file(tensors, str(path), metadata={"deltaprop": json.dumps(meta)})
    with pytest.raises(ValueError, match=f"cannot load {path}: invalid estimator"):
        dp.load(path)


def test_load_model_reads_every_kind_as_a_model(tmp_path, trained):
    out, _, _ = trained
    assert isinstance(load_model(out / "checkpoint.safetensors"), Model)  # resume needs it
    with pytest.raises(ValueError, match="this is a checkpoint"):
        load_model(out / "checkpoint.safetensors", checkpoints=False)
    shutil.copy(out / "model.safetensors", tmp_path / "copy.safetensors")
    assert load_model(tmp_path / "copy.safetensors").feature_names[:2] == ["age", "sex"]

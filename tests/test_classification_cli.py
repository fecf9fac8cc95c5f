"""Classification and real CSV files through `deltaprop train / predict / evaluate` and the
workflow API (issue 15): the task read from the target, labels and per-class probabilities
out, scikit-learn's metrics beside a majority-class baseline, the CSV dialect, an id column
carried to the predictions, predictions that never overwrite an input, runs that extend.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.workflow import TrainSettings, predict, train

FAST = ["--hidden", "16", "--epochs", "15", "--no-plots", "--json"]


def cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def _wine_csv(path, sep=",", decimal="."):
    """scikit-learn's wine data with its class names as text, a pandas index column."""
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = [str(bunch.target_names[t]) for t in bunch.target]
    frame.index = [f"w{i}" for i in range(len(frame))]
    frame.to_csv(path, sep=sep, decimal=decimal)
    return frame


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wine")
    frame = _wine_csv(folder / "wine.csv", sep=";", decimal=",")  # a European spreadsheet
    out = folder / "run"
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", str(folder / "wine.csv"), "--decimal", ",", "--out", str(out)])
    assert info.value.code == 0
    return folder, frame, out


def test_text_labels_train_a_softmax_classifier_with_metrics_and_plots(wine_run):
    folder, frame, out = wine_run
    model = dp.load(out / "model.safetensors")
    assert model.labels.task == "multiclass" and model.net.output.name == "softmax"
    assert model.net.loss.name == "cross_entropy" and model.net.sizes[-1] == 3
    assert model.classes_.tolist() == ["class_0", "class_1", "class_2"]
    assert (out / "confusion.png").stat().st_size > 1000
    stored = json.loads(json.dumps(model.metadata["metrics"]))
    test = stored["test"]
    assert set(test) >= {"accuracy", "balanced_accuracy", "log_loss", "confusion_matrix"}
    assert test["accuracy"] > test["baseline"]["accuracy"] and test["accuracy"] > 0.85
    assert np.sum(test["confusion_matrix"]) == test["m"] == 36


def test_predict_writes_labels_ids_and_named_probabilities(capsys, wine_run):
    folder, frame, out = wine_run
    rows = frame.drop(columns="target")
    code, text, err = cli(
        capsys,
        "predict",
        "--model",
        out / "model.safetensors",
        "--data",
        folder / "wine.csv",
        "--decimal",
        ",",
        "--proba",
    )
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == "id,target,class_0,class_1,class_2"  # the index column is the id
    cells = [line.split(",") for line in lines[1:]]
    assert [c[0] for c in cells] == list(frame.index)
    model = dp.load(out / "model.safetensors")
    # the labels and probabilities from Python equal the file's to the last bit
    assert [c[1] for c in cells] == model.predict(rows.to_numpy()).tolist()
    P = np.array([[float(v) for v in c[2:]] for c in cells])
    assert np.array_equal(P, model.predict_proba(rows.to_numpy()))
    accuracy = np.mean(np.array([c[1] for c in cells]) == frame["target"].to_numpy())
    assert accuracy > 0.85


def test_evaluate_scores_a_classifier_like_scikit_learn(capsys, wine_run):
    folder, frame, out = wine_run
    path = folder / "wine.csv"
    code, text, err = cli(
        capsys, "evaluate", "--model", out / "model.safetensors", "--data", path,
        "--decimal", ",", "--json",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(text)["metrics"]
    model = dp.load(out / "model.safetensors")
    rows, true = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    pred = model.predict(rows)
    assert got["accuracy"] == metrics.accuracy_score(true, pred)
    assert got["balanced_accuracy"] == metrics.balanced_accuracy_score(true, pred)
    assert got["log_loss"] == pytest.approx(
        metrics.log_loss(true, model.predict_proba(rows), labels=model.classes_), rel=1e-9
    )
    assert got["confusion_matrix"] == metrics.confusion_matrix(true, pred).tolist()
    assert got["baseline"]["accuracy"] < got["accuracy"]
    code, text, err = cli(capsys, "evaluate", "--model", out / "model.safetensors", "--data",
                          path, "--decimal", ",")  # fmt: skip
    assert code == 0 and "majority class" in text and "confusion matrix" in text


def test_predictions_never_overwrite_an_input_file(capsys, wine_run, tmp_path):
    folder, _, out = wine_run
    data = tmp_path / "copy.csv"
    data.write_bytes((folder / "wine.csv").read_bytes())
    before = data.read_bytes()
    args = ["predict", "--model", out / "model.safetensors", "--data", data, "--decimal", ","]
    code, _, err = cli(capsys, *args, "--out", data)
    assert code == 2 and "never overwrite an input" in err and "--force" in err
    assert data.read_bytes() == before
    code, _, err = cli(capsys, *args, "--out", out / "model.safetensors")
    assert code == 2 and "never overwrite" in err
    code, _, err = cli(capsys, *args, "--out", data, "--force")
    assert code == 0 and data.read_text().startswith("id,target\n")


def test_binary_labels_get_one_sigmoid_output(capsys, tmp_path):
    # 15 epochs of a 16-unit network: a lighter penalty than the default's 30/398 to converge
    args = ("--data", "breast_cancer", "--alpha", "0.01", "--out", tmp_path, *FAST)
    code, text, err = cli(capsys, "train", *args)
    assert code == 0, err
    model = dp.load(tmp_path / "model.safetensors")
    assert model.net.sizes[-1] == 1 and model.net.output.name == "sigmoid"
    assert model.net.loss.name == "binary_cross_entropy"
    assert model.classes_.tolist() == ["benign", "malignant"]
    test = json.loads(text)["metrics"]["test"]
    assert test["accuracy"] > 0.9 > test["baseline"]["accuracy"]
    assert np.array(test["confusion_matrix"]).shape == (2, 2)


def test_several_0_1_targets_are_multi_label(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0]).astype(int)
    lines = ["a\tb\tc\tp\tq"] + [
        "\t".join([*map(repr, x.tolist()), *map(str, y)]) for x, y in zip(X, Y)
    ]
    path = tmp_path / "ml.tsv"
    path.write_text("\n".join(lines) + "\n")  # tab separated: sniffed
    code, text, err = cli(capsys, "train", "--data", path, "--target", "p,q", "--lr", "0.01",
                          "--out", tmp_path / "run", *FAST)  # fmt: skip
    assert code == 0, err
    model = dp.load(tmp_path / "run" / "model.safetensors")
    assert model.labels.task == "multilabel" and model.net.output.name == "sigmoid"
    assert model.predict(X).shape == (300, 2)
    assert json.loads(text)["metrics"]["test"]["accuracy"] > 0.6


def test_integer_labels_and_the_task_option(capsys, tmp_path):
    code, text, err = cli(capsys, "train", "--data", "digits", "--out", tmp_path / "d", *FAST)
    assert code == 0, err
    assert dp.load(tmp_path / "d" / "model.safetensors").classes_.tolist() == list(range(10))
    # --task regression on digits' integer labels: a regression, R² reported
    code, text, err = cli(capsys, "train", "--data", "digits", "--task", "regression",
                          "--out", tmp_path / "r", *FAST)  # fmt: skip
    assert code == 0 and "r2" in json.loads(text)["metrics"]["test"]
    code, _, err = cli(capsys, "train", "--data", "wine", "--task", "regression",
                       "--out", tmp_path / "w", *FAST)  # fmt: skip
    assert code == 2 and "text labels" in err
    code, _, err = cli(capsys, "train", "--task", "clustering", "--out", tmp_path / "x")
    assert code == 2 and "auto, regression, classification, multilabel" in err


def test_network_options_reach_the_network(capsys, tmp_path):
    args = ["--activation", "tanh", "--alpha", "0.01", "--validation-fraction", "0.2"]
    code, text, err = cli(capsys, "train", "--data", "wine", *args, "--out", tmp_path, *FAST)
    assert code == 0, err
    model = dp.load(tmp_path / "model.safetensors")
    assert model.net.hidden.name == "tanh" and model.net.alpha == 0.01
    assert json.loads(text)["metrics"]["validation"]["m"] == round(0.2 * 178)
    code, _, err = cli(capsys, "train", "--data", "wine", "--output", "sigmoid", "--loss",
                       "binary_cross_entropy", "--out", tmp_path / "s", *FAST)  # fmt: skip
    assert code == 0, err
    assert dp.load(tmp_path / "s" / "model.safetensors").net.output.name == "sigmoid"


def test_too_little_data_says_how_many_rows_are_needed(capsys, tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("a,y\n1,2\n3,4\n5,6\n")
    code, _, err = cli(capsys, "train", "--data", path, "--out", tmp_path / "run")
    assert code == 2 and "3 row(s) are too few" in err and "at least 6 rows are needed" in err


def test_resume_with_more_epochs_extends_a_finished_run(capsys, tmp_path):
    base = ["train", "--data", "wine", "--hidden", "8", "--patience", "0", "--no-plots"]
    code, _, err = cli(capsys, *base, "--epochs", "4", "--out", tmp_path / "a", "--json")
    assert code == 0, err
    code, text, err = cli(capsys, "train", "--out", tmp_path / "a", "--resume", "--epochs", "7",
                          "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(text)["epochs"] == 7
    code, _, err = cli(capsys, *base, "--epochs", "7", "--out", tmp_path / "b", "--json")
    extended = dp.load(tmp_path / "a" / "model.safetensors").net
    straight = dp.load(tmp_path / "b" / "model.safetensors").net
    for l in range(1, extended.L + 1):  # the same weights as seven epochs in one go
        np.testing.assert_array_equal(extended.W[l], straight.W[l])


def test_the_workflow_api_classifies_too(tmp_path):
    _wine_csv(tmp_path / "wine.csv")
    result = train(
        TrainSettings(data=str(tmp_path / "wine.csv"), hidden=(8,), epochs=5),
        out=tmp_path / "run",
        plots=False,
    )
    assert result.model.labels.classes == ["class_0", "class_1", "class_2"]
    assert result.settings.task == "auto" and "accuracy" in result.metrics["test"]
    p = predict(tmp_path / "run" / "model.safetensors", tmp_path / "wine.csv", proba=True)
    assert [name for name, _ in p.columns] == ["id", "target", "class_0", "class_1", "class_2"]
    assert len(p.labels) == 178 and set(p.labels) <= set(result.model.labels.classes)

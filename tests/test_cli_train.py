"""`deltaprop train / predict / evaluate` end to end in a temporary folder.

Predictions are checked against a forward pass written here in NumPy from the model file read
with the safetensors library (not deltaprop's loader); metrics against scikit-learn's; resume
after a real SIGINT against an uninterrupted run, bit for bit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors import safe_open
from sklearn.metrics import mean_absolute_error, r2_score

from deltaprop.cli import main


def cli(capsys, *args):
    """Run the command in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def _write_csv(path, m, seed=0, extra_text=False):
    """y = 2 x0 − x1 + 0.5 x2 + 10 + small noise: a network should fit it well."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + 10 + 0.05 * rng.normal(size=m)
    header = (["id"] if extra_text else []) + ["x0", "x1", "x2", "y"]
    lines = [",".join(header)]
    for i in range(m):
        cells = ([f"s{i}"] if extra_text else []) + [repr(float(v)) for v in (*X[i], y[i])]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return X, y


def _reference_predict(model_path, X_rows):
    """ReLU hidden layers, identity output, standardisation from the JSON header, by hand."""
    with safe_open(str(model_path), framework="np") as f:
        meta = json.loads(f.metadata()["deltaprop"])
        L = len(meta["sizes"]) - 1
        W = {l: f.get_tensor(f"W.{l}") for l in range(1, L + 1)}
        b = {l: f.get_tensor(f"b.{l}") for l in range(1, L + 1)}
    assert meta["hidden"]["name"] == "relu" and meta["output"]["name"] == "identity"
    s = meta["standardization"]
    A = (X_rows.T - np.array(s["x_mean"])[:, None]) / np.array(s["x_scale"])[:, None]
    for l in range(1, L + 1):
        Z = W[l] @ A + b[l]
        A = np.maximum(Z, 0) if l < L else Z
    return (A * np.array(s["y_scale"])[:, None] + np.array(s["y_mean"])[:, None]).T


def test_train_predict_evaluate_end_to_end(tmp_path, capsys):
    data = tmp_path / "data.csv"
    _write_csv(data, 400)
    out = tmp_path / "run"
    code, stdout, err = cli(
        capsys,
        "train",
        "--data",
        data,
        "--hidden",
        "16,8",
        "--epochs",
        40,
        "--lr",
        0.01,
        "--out",
        out,
        "--json",
    )
    assert code == 0, err
    report = json.loads(stdout)
    assert report["sizes"] == [3, 16, 8, 1] and 1 <= report["epochs"] <= 40
    for key in ("model", "loss_plot", "gradients_plot", "checkpoint"):
        assert os.path.getsize(report["files"][key]) > 0
    with open(report["files"]["loss_plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    test = report["metrics"]["test"]
    # split of 400 samples: 80 test, 40 validation, 280 train
    assert [report["metrics"][p]["m"] for p in ("train", "validation", "test")] == [280, 40, 80]
    assert test["r2"] > 0.95 and abs(test["baseline"]["r2"]) < 0.1 and test["rmse"] < 0.5

    # predict: a CSV with an extra text column, read by name; --out writes a CSV
    new = tmp_path / "new.csv"
    X_new, y_new = _write_csv(new, 50, seed=7, extra_text=True)
    preds = tmp_path / "preds.csv"
    model = out / "model.safetensors"
    code, stdout, err = cli(
        capsys, "predict", "--model", model, "--data", new, "--out", preds, "--json"
    )
    assert code == 0, err
    assert json.loads(stdout)["m"] == 50
    lines = preds.read_text().splitlines()
    assert lines[0] == "y" and len(lines) == 51
    predicted = np.array([float(v) for v in lines[1:]])
    assert np.allclose(predicted, _reference_predict(model, X_new)[:, 0], rtol=1e-12, atol=1e-12)
    # without --out and --json the CSV goes to stdout, the same numbers
    code, stdout, _ = cli(capsys, "predict", "--model", model, "--data", new)
    assert code == 0 and stdout == preds.read_text()

    # evaluate agrees with scikit-learn on predict's numbers
    code, stdout, err = cli(capsys, "evaluate", "--model", model, "--data", new, "--json")
    assert code == 0, err
    metrics = json.loads(stdout)["metrics"]
    assert metrics["m"] == 50
    assert metrics["r2"] == pytest.approx(r2_score(y_new, predicted), rel=1e-12)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y_new, predicted), rel=1e-12)
    # the baseline predicts the training targets' mean, stored in the model file
    assert metrics["baseline"]["r2"] < 0.05
    code, stdout, _ = cli(capsys, "evaluate", "--model", model, "--data", new, "--target", "y")
    assert code == 0 and "baseline (training mean)" in stdout and "R²" in stdout


def test_train_table_on_the_bundled_data(tmp_path, capsys):
    code, stdout, err = cli(capsys, "train", "--epochs", 3, "--out", tmp_path / "r", "--no-plots")
    assert code == 0, err
    for word in (
        "diabetes",
        "train",
        "validation",
        "test",
        "RMSE",
        "MAE",
        "ridge R²",
        "mean R²",
        str(tmp_path / "r" / "model.safetensors"),
    ):
        assert word in stdout
    assert not (tmp_path / "r" / "gradients.png").exists()


def _one_line_error(code, err, message):
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "nowhere.csv"], "is neither a bundled data set nor an existing file"),
        (["--data", "diabetis"], "bundled data sets: diabetes, friedman1"),
        (["--data", "{bad}"], "bad.csv, line 3, column 'x1': missing value"),
        (["--data", "{bad}", "--target", "z"], "no target column named 'z'; columns: x0, x1, y"),
        (["--hidden", "4,x"], "--hidden must be comma-separated integers"),
        (["--optimizer", "rmsprop"], "--optimizer must be sgd or adam"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--lr", "-1"], "--lr must be > 0"),
        (["--resume"], "there is no checkpoint"),
        (["--checkpoint-every", "0"], "--checkpoint-every must be >= 1"),
    ],
)
def test_train_usage_errors(tmp_path, capsys, args, message):
    bad = tmp_path / "bad.csv"
    bad.write_text("x0,x1,y\n1,2,3\n4,,6\n")
    args = [a.replace("{bad}", str(bad)) for a in args]
    code, _, err = cli(capsys, "train", "--out", tmp_path / "out", "--no-plots", *args)
    _one_line_error(code, err, message)


def test_a_failed_run_keeps_the_previous_model(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 200)
    out = tmp_path / "run"
    assert (
        cli(capsys, "train", "--data", data, "--epochs", 2, "--out", out, "--json", "--no-plots")[0]
        == 0
    )
    before = (out / "model.safetensors").read_bytes()
    # SGD with a huge step diverges at once: a NonFiniteLossError, exit 2, one line
    code, _, err = cli(
        capsys,
        "train",
        "--data",
        data,
        "--epochs",
        5,
        "--optimizer",
        "sgd",
        "--lr",
        1e6,
        "--patience",
        0,
        "--out",
        out,
        "--no-plots",
    )
    _one_line_error(code, err, "try a smaller learning rate")
    assert (out / "model.safetensors").read_bytes() == before


def test_predict_and_evaluate_errors(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 100)
    out = tmp_path / "run"
    assert (
        cli(capsys, "train", "--data", data, "--epochs", 1, "--out", out, "--json", "--no-plots")[0]
        == 0
    )
    model = out / "model.safetensors"
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(os.urandom(100))
    missing = tmp_path / "m.csv"
    missing.write_text("x0,x2\n1,2\n")
    for args, message in [
        (["predict", "--model", junk, "--data", data], f"cannot load {junk}"),
        (["predict", "--model", model, "--data", missing], "no feature column named 'x1'"),
        (["evaluate", "--model", model, "--data", data, "--target", "q"], "no target column"),
        (["predict", "--model", tmp_path / "none.safetensors", "--data", data], "none.safetensors"),
        (["predict", "--data", data], "Missing option '--model'"),
    ]:
        code, _, err = cli(capsys, *args)
        _one_line_error(code, err, message)


def _tensors(path):
    with safe_open(str(path), framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def test_resume_after_a_real_sigint_gives_the_same_weights(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 600)
    # early stopping on: the best weights so far travel in the checkpoint too
    settings = [
        "--data",
        data,
        "--hidden",
        "16",
        "--epochs",
        40,
        "--patience",
        5,
        "--seed",
        3,
        "--batch-size",
        16,
        "--no-plots",
    ]
    # the uninterrupted run
    code, stdout, err = cli(
        capsys, "train", *settings, "--out", tmp_path / "A", "--json", "--checkpoint-every", 1000
    )
    assert code == 0, err
    epochs_A = json.loads(stdout)["epochs"]

    # the same run in a subprocess, interrupted by SIGINT as soon as its first checkpoint exists
    out = tmp_path / "B"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deltaprop",
            "train",
            *map(str, settings),
            "--out",
            str(out),
            "--checkpoint-every",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.safetensors").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"resume with: deltaprop train --out {out} --resume" in err
    assert not (out / "model.safetensors").exists()
    from deltaprop.io import load_checkpoint

    stopped_at = load_checkpoint(out / "checkpoint.safetensors").state.epoch
    assert 1 <= stopped_at < epochs_A  # interrupted part-way

    # resume (options come from the checkpoint) and compare the final weights bit for bit
    code, stdout, err = cli(capsys, "train", "--out", out, "--resume", "--json", "--no-plots")
    assert code == 0, err
    A, B = _tensors(tmp_path / "A" / "model.safetensors"), _tensors(out / "model.safetensors")
    assert sorted(A) == sorted(B) == ["W.1", "W.2", "b.1", "b.2"]
    for name in A:
        assert A[name].dtype == B[name].dtype and np.array_equal(A[name], B[name]), name
    assert json.loads(stdout)["epochs"] == epochs_A

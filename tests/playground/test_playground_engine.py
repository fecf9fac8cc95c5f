"""The playground's engine and data, without a server or a browser.

The session must train with deltaprop's own Network and optimisers, its step-mode numbers must
be Network.backward's on that very batch (checked here against an independent recomputation
and central differences), and its model file must predict like the session in the data's units.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.io import load_model
from deltaprop.web.playground import datasets
from deltaprop.web.playground.engine import (
    LIMITS,
    Session,
    Settings,
    SettingsError,
    validate_settings,
)


@pytest.mark.parametrize("name", datasets.CLASSIFICATION + datasets.REGRESSION)
def test_every_data_set_has_the_documented_shapes_and_is_seeded(name):
    X, Y = datasets.generate(name, 50, 0.3, seed=4)
    n_0 = 2 if name in datasets.CLASSIFICATION else 1
    assert X.shape == (n_0, 50) and Y.shape == (1, 50)
    assert np.isfinite(X).all() and np.isfinite(Y).all()
    if name in datasets.CLASSIFICATION:
        assert set(np.unique(Y)) == {0.0, 1.0}
    X2, Y2 = datasets.generate(name, 50, 0.3, seed=4)
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2)
    X3, _ = datasets.generate(name, 50, 0.3, seed=5)
    assert not np.array_equal(X, X3)


def test_split_keeps_every_sample_once():
    X = np.arange(20.0)[None, :]
    Xa, _, Xb, _ = datasets.split(X, X, 0.25, seed=0)
    assert Xa.shape[1] == 15 and Xb.shape[1] == 5
    assert sorted(np.concatenate([Xa[0], Xb[0]])) == list(range(20))


def test_csv_two_and_three_columns_with_or_without_header():
    kind, X, Y = datasets.parse_csv("x,y\n1,2\n2,4\n3,6\n4,8\n")
    assert kind == "regression" and X.tolist() == [[1, 2, 3, 4]] and Y.tolist() == [[2, 4, 6, 8]]
    kind, X, Y = datasets.parse_csv("0,0,0\n1,1,1\n0,1,0\n1,0,1\n")
    assert kind == "classification" and X.shape == (2, 4) and Y.tolist() == [[0, 1, 0, 1]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("a,b,c,d\n1,2,3,4\n", "2 columns"),
        ("1,2\n3,4\n5,SECRET\n7,8\n", "line 3, column 2: not a number"),
        ("1,2\n3,4\n5,6,7\n", "line 3: expected 2 columns"),
        ("1,2\n3,inf\n5,6\n7,8\n", "line 2, column 2: not a finite"),
        ("1,2\n3,1e9\n5,6\n7,8\n", "magnitude"),
        ("1,2\n3,4\n", "at least 4"),
        ("0,0,0\n1,1,2\n0,1,0\n1,0,1\n", "0 or 1"),
        ("0,0,1\n1,1,1\n0,1,1\n1,0,1\n", "only one class"),
        ("1,2\n" * (datasets.CSV_MAX_ROWS + 1), "more than"),
        ("1," + "2" * datasets.CSV_MAX_BYTES + "\n", "larger than"),
    ],
)
def test_csv_errors_name_the_place_and_never_echo_the_contents(text, expected):
    with pytest.raises(ValueError, match=expected) as info:
        datasets.parse_csv(text)
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"bogus": 1}, "unknown setting 'bogus'"),
        ({"hidden": [4] * 7}, "at most 6"),
        ({"hidden": [17]}, r"hidden\[0\] must be in \[1, 16\]"),
        ({"hidden": ["4"]}, r"hidden\[0\] must be an integer"),
        ({"hidden": "4,4"}, "hidden must be a list"),
        ({"samples": 10**9}, "samples must be in"),
        ({"samples": True}, "samples must be an integer"),
        ({"lr": float("nan")}, "lr must be a number"),
        ({"lr": 0}, "lr must be a number in"),
        ({"speed": 10**6}, "speed must be in"),
        ({"batch_size": 0}, "batch_size"),
        ({"dataset": "../../etc/passwd"}, "dataset must be one of"),
        ({"activation": "softmax"}, "activation must be one of"),
        ({"output": "identity"}, "needs output sigmoid"),
        ("not an object", "settings must be an object"),
    ],
)
def test_settings_are_validated_with_a_message_naming_the_field(raw, expected):
    with pytest.raises(SettingsError, match=expected):
        validate_settings(raw)


def test_a_refused_configure_leaves_the_session_as_it_was():
    s = Session()
    s.train(5)
    with pytest.raises(SettingsError):
        s.configure({"dataset": "sine"})  # binary cross-entropy on a curve: refused
    assert s.settings == Settings() and s.steps == 5
    with pytest.raises(SettingsError, match="upload a CSV"):
        s.configure({"dataset": "csv"})


def test_training_lowers_the_cost_with_every_optimiser():
    for optimizer, lr in (("sgd", 0.5), ("momentum", 0.1), ("adam", 0.03)):
        s = Session()
        s.configure({"optimizer": optimizer, "lr": lr})
        first = s.frame()["train_cost"]
        assert s.train(300) == 300
        last = s.frame()["train_cost"]
        assert last < 0.7 * first, optimizer


def test_a_step_is_net_gradients_then_the_optimisers_step():
    s = Session()
    s.configure({"optimizer": "sgd", "lr": 0.1, "batch_size": 8})
    net = s.net.copy()
    s.train(1)
    idx = s.last_batch
    _, dW, db = net.gradients(s.X[:, idx], s.Y[:, idx])
    for l in range(1, net.L + 1):
        np.testing.assert_array_equal(s.net.W[l], net.W[l] - 0.1 * dW[l])
        np.testing.assert_array_equal(s.net.b[l], net.b[l] - 0.1 * db[l])


@pytest.mark.parametrize(
    "settings",
    [
        {"batch_size": 5, "hidden": [3, 4]},
        {
            "dataset": "sine",
            "output": "identity",
            "loss": "mse",
            "activation": "tanh",
            "alpha": 0.01,
        },
        {"dataset": "xor", "loss": "mse", "output": "identity", "hidden": [5]},
    ],
)
def test_step_mode_numbers_are_backward_on_that_batch(settings):
    s = Session()
    s.configure(settings)
    s.train(7)
    before = s.net.copy()
    d = s.step_detail()
    ex = d["explain"]
    assert d["m"] == min(s.settings.batch_size, LIMITS["step_batch"]) == ex["network"]["m"]
    net = dp.Network(
        ex["network"]["sizes"],
        hidden=ex["network"]["hidden"],
        output=ex["network"]["output"],
        loss=ex["network"]["loss"],
        alpha=s.settings.alpha,
    )
    for l in range(1, net.L + 1):
        net.W[l] = np.array(ex["W"][str(l)])
        net.b[l] = np.array(ex["b"][str(l)])
        np.testing.assert_array_equal(net.W[l], before.W[l])  # the weights before the step
    X, Y = np.array(ex["X"]), np.array(ex["Y"])
    np.testing.assert_array_equal(X, s.X[:, d["indices"]])  # the batch is the session's data
    Z, A = net.forward_pass(X)
    delta, dW, db = net.backward(Z, A, Y)
    L = net.L
    # equation (ii), written out independently of the library
    if ex["network"]["output"] == "identity" and ex["network"]["loss"] == "mse":
        np.testing.assert_allclose(ex["delta"][str(L)], 2 / X.shape[1] * (A[L] - Y), rtol=1e-12)
    for l in range(1, L + 1):
        np.testing.assert_allclose(ex["Z"][str(l)], Z[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ex["delta"][str(l)], delta[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ex["dW"][str(l)], dW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ex["db"][str(l)], db[l], rtol=1e-12, atol=1e-15)
    if ex["network"]["hidden"] != "relu":  # (central differences straddle ReLU's kink)
        assert ex["check"]["ok"], ex["check"]["max_rel_error"]
    assert ex["J"] == pytest.approx(net.cost(X, Y), rel=1e-12)
    assert d["step"] == 8
    # the steps of the explain page's stepper, with MathML
    ids = [step["id"] for step in ex["steps"]]
    assert ids[:L] == [f"forward-{l}" for l in range(1, L + 1)] and "output-delta" in ids
    assert all(step["equation_mathml"].startswith("<math") for step in ex["steps"])


def test_step_mode_then_the_optimiser_applies_those_gradients():
    s = Session()
    s.configure({"optimizer": "sgd", "lr": 0.2, "batch_size": 100})
    before = s.net.copy()
    ex = s.step_detail()["explain"]
    assert ex["network"]["m"] == LIMITS["step_batch"]  # a step-mode batch fits the screen
    for l in range(1, before.L + 1):
        expected = before.W[l] - 0.2 * np.array(ex["dW"][str(l)])
        np.testing.assert_allclose(s.net.W[l], expected, rtol=1e-15, atol=1e-17)


def test_frames_are_small_and_finite_json_at_the_largest_settings():
    s = Session()
    s.configure({"hidden": [LIMITS["max_width"]] * LIMITS["max_hidden_layers"], "samples": 1000})
    s.train(20)
    text = json.dumps(s.frame(), allow_nan=False)
    assert len(text) < 60_000
    text = json.dumps(s.step_detail(), allow_nan=False)
    assert len(text) < 1_500_000


def test_history_stays_bounded(monkeypatch):
    monkeypatch.setitem(LIMITS, "history_points", 20)
    s = Session()
    for _ in range(70):
        s.train(1)
        s._record()
    h = s.history
    assert len(h["step"]) <= 21 and h["step"][-1] == s.steps == 70
    assert h["step"] == sorted(h["step"])


def test_dead_relu_fraction_counts_units_zero_on_every_training_sample():
    s = Session()
    s.net.b[1] = s.net.b[1] - np.array(
        [[100.0], [0], [0], [0], [0], [0]]
    )  # unit 1 of layer 1: dead
    f = s.frame()
    assert f["dead_relu"][0] >= 1 / 6
    s.configure({"activation": "tanh"})
    assert s.frame()["dead_relu"] == [None, None]


@pytest.mark.parametrize(
    "settings", [{}, {"dataset": "cubic", "output": "identity", "loss": "mse"}]
)
def test_the_exported_model_predicts_like_the_session_in_the_datas_units(tmp_path, settings):
    s = Session()
    s.configure(settings)
    s.train(200)
    path = tmp_path / "model.safetensors"
    path.write_bytes(s.model_file())
    model = load_model(path)
    P, expected = s.grid()
    np.testing.assert_allclose(model.forward(P), expected, rtol=1e-12, atol=1e-12)
    net = dp.load(path).net  # saved with its standardisation: a Model
    assert net.sizes == s.net.sizes and net.output.name == s.net.output.name
    if s.data.kind == "classification":  # rows in, labels 0/1 out, as the boundary shows
        assert list(model.classes_) == [0, 1]
        np.testing.assert_array_equal(model.predict(P.T), (expected[0] > 0.5).astype(int))


def test_deltaprop_predict_gives_the_labels_of_the_exported_classifier(tmp_path):
    s = Session()
    s.train(200)
    (tmp_path / "m.safetensors").write_bytes(s.model_file())
    P = np.array([[0.0, 1.0, -1.0, 2.0], [1.0, -0.5, 0.5, 0.0]])
    (tmp_path / "x.csv").write_text(
        "x1,x2\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in P.T)
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "deltaprop",
            "predict",
            "--model",
            "m.safetensors",
            "--data",
            "x.csv",
            "--proba",
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    columns = json.loads(out.stdout)["columns"]
    p1 = s.predict_raw(P)[0]  # the boundary's value: the probability of label 1
    np.testing.assert_allclose(columns["1"], p1, rtol=1e-9)
    assert columns["label"] == [int(v > 0.5) for v in p1]


def test_deltaprop_predict_reads_the_exported_model(tmp_path):
    s = Session()
    s.configure({"dataset": "sine", "output": "identity", "loss": "mse"})
    s.train(100)
    (tmp_path / "m.safetensors").write_bytes(s.model_file())
    x = np.linspace(-2, 2, 5)
    (tmp_path / "x.csv").write_text("x\n" + "\n".join(repr(float(v)) for v in x) + "\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "deltaprop",
            "predict",
            "--model",
            "m.safetensors",
            "--data",
            "x.csv",
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    got = np.array(json.loads(out.stdout)["predictions"])[:, 0]
    np.testing.assert_allclose(got, s.predict_raw(x[None, :])[0], rtol=1e-9)


def test_an_uploaded_csv_becomes_the_data_set():
    s = Session()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 40)
    text = "x,y\n" + "".join(f"{a},{3 * a + 1}\n" for a in x)
    s.upload_csv(text)
    assert s.settings.dataset == "csv" and s.data.kind == "regression"
    assert s.settings.loss == "mse" and s.settings.output == "identity"
    assert s.X.shape[1] + s.X_test.shape[1] == 40
    with pytest.raises(ValueError, match="line 2, column 1"):
        s.upload_csv("x,y\nzz,1\n")
    assert s.data.kind == "regression" and s.settings.dataset == "csv"  # unchanged


def test_without_the_extra_the_message_names_it(monkeypatch, capsys):
    from deltaprop.web import playground

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    with pytest.raises(
        playground.MissingExtraError, match=r'pip install "deltaprop\[playground\]"'
    ):
        playground.serve(open_browser=False)
    assert playground.main(["--no-browser"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("deltaprop: error: the playground needs the optional extra")
        and err.count("\n") == 1
    )


def test_the_learning_rate_and_the_speed_change_while_training_goes_on():
    s = Session()
    s.train(30)
    net = s.net
    s.configure({"lr": 0.001, "speed": 50})
    assert s.net is net and s.steps == 30 and s.opt.lr == 0.001 and s.settings.speed == 50
    s.configure({"lr": 0.001, "seed": 1})  # anything else starts again
    assert s.net is not net and s.steps == 0

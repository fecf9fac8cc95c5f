"""Bad input, tried systematically: one clear line, exit code 2, nothing written.

Each row of the tables below is one way to get deltaprop's input wrong: a messy CSV file, a
wrong flag or argument, a model file that is not what it claims. Every row runs

* through the command line, in-process (``deltaprop.cli.main``, exit code and stderr read
  with ``capsys``), into an output folder that already holds a model and a checkpoint from an
  earlier run (or next to an existing predictions file): the exit code must be 2, stderr one
  line ``deltaprop: error: ...`` naming the problem (the file, line, column, option or value
  the row lists), no traceback, and every file in the folder must be byte-identical after;
* through the Python API (``read_csv``/``load_data`` + ``split`` + ``Standardization.fit``,
  ``Network``, ``fit``, ``load``): the documented exception type (``ValueError`` or
  ``TypeError``; ``FileNotFoundError``/``IsADirectoryError`` for paths) with a message naming
  the same things.

The expected messages are written here by hand from the input (the line and column of the bad
cell, the option and the value), not read back from the code. Odd but valid inputs (a
byte-order mark, CRLF line ends, a constant column) are in ``test_odd_but_valid_*``: they
must train, and the table in docs/reliability.md lists their outcome too.

Rerun: ``python -m pytest -q tests/test_bad_input.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save as st_save
from safetensors.numpy import save_file

import deltaprop as dp
from deltaprop.cli import main
from deltaprop.data import Standardization, load_data, read_csv, split
from deltaprop.io import FORMAT_VERSION, load_checkpoint, load_model, save_checkpoint
from deltaprop.training import fit

# --- helpers --------------------------------------------------------------------------------


def cli(capsys, *args):
    """Run ``deltaprop ARGS`` in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden temporary files included) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def assert_one_line_error(code, out, err, needles):
    assert code == 2, f"exit code {code}; stderr: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("deltaprop: error: "), lines[0]
    assert "Traceback" not in err and "Traceback" not in out
    assert len(lines[0]) < 400, f"the line is too long to read: {lines[0]}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in: {lines[0]}"


def _rows(m: int, seed: int = 0) -> str:
    """m rows of x0, x1, x2, y = 2 x0 - x1 + 0.5 x2 + noise, the columns of the earlier run."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + 0.1 * rng.normal(size=m)
    return "".join(",".join(repr(float(v)) for v in (*x, t)) + "\n" for x, t in zip(X, y))


GOOD = "x0,x1,x2,y\n" + _rows(60)


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A finished run's folder (model, checkpoint) and its data, made once per module."""
    base = tmp_path_factory.mktemp("earlier")
    data = base / "good.csv"
    data.write_text(GOOD)
    out = base / "run"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "train",
                "--data",
                str(data),
                "--hidden",
                "4",
                "--epochs",
                "2",
                "--out",
                str(out),
                "--no-plots",
                "--json",
            ]
        )
    assert info.value.code == 0
    assert sorted(snapshot(out)) == ["checkpoint.safetensors", "model.safetensors"]
    return base


@pytest.fixture
def run_dir(earlier_run, tmp_path):
    """A copy of the earlier run's folder, and the good data, for one test to spoil."""
    shutil.copytree(earlier_run / "run", tmp_path / "run")
    shutil.copy(earlier_run / "good.csv", tmp_path / "good.csv")
    return tmp_path / "run"


def api_train(path, target=None):
    """The command's pipeline through the public API: load, split, standardise, fit."""
    data = load_data(path, target)
    parts = split(data, seed=0)
    std = Standardization.fit(
        *parts.train, feature_names=data.feature_names, target_names=data.target_names
    )
    net = dp.Network([data.X.shape[0], 4, data.Y.shape[0]], seed=0)
    return fit(net, std.transform_X(parts.train[0]), std.transform_Y(parts.train[1]), epochs=1)


# --- 1. CSV files -----------------------------------------------------------------------------
# (id, file bytes, extra train options, substrings the message must hold; {path} is the file)

_RANDOM = np.random.default_rng(0).bytes(512)
_LONG_NUMBER = "1" * 400  # a 400-digit integer: finite in Python, beyond float64
_HUGE = "x0,x1,x2,y\n" + "".join(
    f"{(-1) ** i * 1e300 * (i + 1)!r},{i},{i % 7},{i}\n" for i in range(40)
)

CSV_CASES = [
    (
        "text-in-numeric-column",
        b"x0,x1,x2,y\n1,2,3,4\n5,hello,7,8\n",
        [],
        ["{path}", "line 3", "column 'x1'", "non-numeric value 'hello'"],
    ),
    (
        "missing-value-empty-cell",
        b"x0,x1,x2,y\n1,2,3,4\n5,,7,8\n",
        [],
        ["{path}", "line 3", "column 'x1'", "missing value"],
    ),
    (
        "missing-value-NA",
        b"x0,x1,x2,y\n1,2,3,4\n5,6,7,8\nNA,1,1,1\n",
        [],
        ["{path}", "line 4", "column 'x0'", "missing value"],
    ),
    ("empty-file", b"", [], ["{path}", "the file is empty"]),
    ("blank-lines-only", b"\n  \n\n", [], ["{path}", "the file is empty"]),
    ("header-only", b"x0,x1,x2,y\n", [], ["{path}", "no data rows after the header"]),
    (
        "ragged-row-short",
        b"x0,x1,x2,y\n1,2,3,4\n5,6,7\n",
        [],
        ["{path}", "line 3", "expected 4 fields", "found 3"],
    ),
    (
        "ragged-row-long",
        b"x0,x1,x2,y\n1,2,3,4\n5,6,7,8,9\n",
        [],
        ["{path}", "line 3", "expected 4 fields", "found 5"],
    ),
    (
        "unclosed-quote",
        b'x0,x1,x2,y\n1,2,3,4\n"5,6,7,8\n',
        [],
        [
            "{path}, line 3: a quoted field opened on this line holds a line break",
            "missing closing quote",
            "found 1 fields",
        ],
    ),
    (
        "single-row",
        b"x0,x1,x2,y\n1,2,3,4\n",
        [],
        ["{path}", "1 row(s) are too few for a 70%/10%/20%", "at least 6 rows are needed"],
    ),
    (
        "two-rows",
        b"x0,x1,x2,y\n1,2,3,4\n5,6,7,8\n",
        [],
        ["{path}", "2 row(s) are too few", "at least 6 rows are needed"],
    ),
    (
        "value-overflows-float64",
        b"x0,x1,x2,y\n1,2,3,4\n5,1e400,7,8\n",
        [],
        ["{path}", "line 3", "column 'x1'", "non-finite value '1e400'"],
    ),
    (
        "400-digit-integer",
        f"x0,x1,x2,y\n1,2,3,4\n5,6,{_LONG_NUMBER},8\n".encode(),
        [],
        ["{path}", "line 3", "column 'x2'", "non-finite value '111", "(400 chars)"],
    ),
    (
        "variance-overflows-float64",
        _HUGE.encode(),
        [],
        ["cannot standardise column 'x0'", "overflows float64", "e+30"],
    ),
    (
        "inf",
        b"x0,x1,x2,y\n1,2,3,4\n5,6,inf,8\n",
        [],
        ["{path}", "line 3", "column 'x2'", "non-finite value 'inf'"],
    ),
    (
        "minus-inf",
        b"x0,x1,x2,y\n-Infinity,2,3,4\n",
        [],
        ["{path}", "line 2", "column 'x0'", "non-finite value '-Infinity'"],
    ),
    (
        "nan-target",
        b"x0,x1,x2,y\n1,2,3,4\n5,6,7,nan\n",
        [],
        ["{path}", "line 3", "column 'y'", "missing value"],
    ),
    (
        "nul-byte-in-a-cell",
        b"x0,x1,x2,y\n1,2,3,4\n5,6\x007,7,8\n",
        [],
        ["{path}", "line 3", "column 'x1'", "non-numeric value '6\\x007'"],
    ),
    (
        "unknown-target-name",
        GOOD.encode(),
        ["--target", "price"],
        ["{path}", "no target column named 'price'", "columns: x0, x1, x2, y"],
    ),
    (
        "target-named-twice",
        GOOD.encode(),
        ["--target", "y,y"],
        ["{path}", "target names a column twice", "'y,y'"],
    ),
    (
        "no-input-column-left",
        b"y\n1\n2\n3\n4\n",
        [],
        ["{path}", "no input columns left", "columns: y"],
    ),
    (
        "duplicate-column-names",
        b"x0,x0,x2,y\n1,2,3,4\n",
        [],
        ["{path}", "column name 'x0' appears twice", "columns 1 and 2"],
    ),
    (
        "duplicate-after-stripping",
        b"x0, x0 ,x2,y\n1,2,3,4\n",
        [],
        ["{path}", "column name 'x0' appears twice"],
    ),
    ("unnamed-column", b"x0,,x2,y\n1,2,3,4\n", [], ["{path}", "line 1", "column 2 has no name"]),
    (
        "non-utf8-latin1",
        "x0,x1,x2,y\n1,2,3,4\ncafé,2,3,4\n".encode("latin-1"),
        [],
        ["{path}, line 3: not a UTF-8 text file", "byte 0xe9 at offset 22"],
    ),
    (
        "utf16-with-bom",
        "x0,x1,x2,y\n1,2,3,4\n".encode("utf-16"),
        [],
        ["{path}, line 1: not a UTF-8 text file", "byte 0xff at offset 0"],
    ),
    ("random-bytes", _RANDOM, [], ["{path}", "not a UTF-8 text file"]),
    (
        "field-over-csv-limit",
        b"x0,x1,x2,y\n" + b"7" * 200_000 + b",1,2,3\n",
        [],
        ["{path}", "not a readable CSV file", "field larger than field limit"],
    ),
]


def test_the_random_bytes_are_not_utf8():  # so the random-bytes row tests what it says
    with pytest.raises(UnicodeDecodeError):
        _RANDOM.decode("utf-8")


def _csv_case(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "options", "needles"), CSV_CASES, ids=[c[0] for c in CSV_CASES]
)
def test_csv_through_the_cli(capsys, run_dir, name, content, options, needles):
    path = _csv_case(run_dir.parent, content)
    before = snapshot(run_dir)
    code, out, err = cli(
        capsys,
        "train",
        "--data",
        path,
        *options,
        "--hidden",
        "4",
        "--epochs",
        2,
        "--out",
        run_dir,
        "--no-plots",
        "--json",
    )
    assert_one_line_error(code, out, err, [n.format(path=path) for n in needles])
    assert out == ""  # no half-written JSON
    assert snapshot(run_dir) == before  # the earlier model and checkpoint are untouched


@pytest.mark.parametrize(
    ("name", "content", "options", "needles"), CSV_CASES, ids=[c[0] for c in CSV_CASES]
)
def test_csv_through_the_api(tmp_path, name, content, options, needles):
    path = _csv_case(tmp_path, content)
    target = options[1] if options else None
    with pytest.raises(ValueError) as info:
        api_train(path, target)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle.format(path=path) in message


def test_csv_errors_do_not_create_the_output_folder(tmp_path, capsys):
    path = _csv_case(tmp_path, b"x0,y\n1,\n")
    code, out, err = cli(capsys, "train", "--data", path, "--out", tmp_path / "new", "--no-plots")
    assert_one_line_error(code, out, err, [f"{path}, line 2, column 'y': missing value"])
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_data_path_that_is_not_a_file(tmp_path, capsys, where):
    path = tmp_path / ("nowhere.csv" if where == "missing" else "")
    code, out, err = cli(capsys, "train", "--data", path, "--out", tmp_path / "o", "--no-plots")
    needle = (
        "is neither a bundled data set nor an existing file"
        if where == "missing"
        else ("is a folder")
    )
    assert_one_line_error(code, out, err, [str(path), needle])
    with pytest.raises(ValueError if where == "missing" else IsADirectoryError):
        load_data(path)
    assert not (tmp_path / "o").exists()


# --- 2. flags and arguments ---------------------------------------------------------------------
# (id, command-line arguments, substrings)  -- every option and value named in the message

ARG_CASES = [
    ("hidden-0", ["train", "--hidden", "0"], ["--hidden values must be >= 1", "got 0"]),
    ("hidden-negative", ["train", "--hidden", "8,-3"], ["--hidden values must be >= 1", "-3"]),
    ("hidden-empty", ["train", "--hidden", ""], ["--hidden must list at least one integer"]),
    ("hidden-gap", ["train", "--hidden", "4,,4"], ["--hidden must be comma-separated", "'4,,4'"]),
    ("hidden-text", ["train", "--hidden", "wide"], ["--hidden must be comma-separated", "'wide'"]),
    ("layers-0", ["gradcheck", "--layers", "4,0,2"], ["--layers values must be >= 1", "got 0"]),
    ("layers-one", ["gradcheck", "--layers", "4"], ["--layers needs at least an input and"]),
    (
        "unknown-hidden-activation",
        ["gradcheck", "--hidden", "gelu"],
        ["unknown hidden 'gelu'", "known activations: elu, identity"],
    ),
    (
        "unknown-output-activation",
        ["gradcheck", "--output", "softmaxx"],
        ["unknown output 'softmaxx'"],
    ),
    (
        "softmax-as-hidden",
        ["gradcheck", "--hidden", "softmax"],
        ["hidden 'softmax' is not element-wise"],
    ),
    (
        "unknown-loss",
        ["gradcheck", "--loss", "hinge"],
        ["unknown loss 'hinge'", "known losses: mse"],
    ),
    (
        "unknown-optimiser",
        ["train", "--optimizer", "rmsprop"],
        ["--optimizer must be sgd or adam", "'rmsprop'"],
    ),
    ("lr-0", ["train", "--lr", "0"], ["--lr must be > 0", "got 0.0"]),
    ("lr-negative", ["train", "--lr", "-0.1"], ["--lr must be > 0", "got -0.1"]),
    ("lr-nan", ["train", "--lr", "nan"], ["--lr must be > 0", "got nan"]),
    ("lr-inf", ["train", "--lr", "inf"], ["--lr must be > 0 and finite", "got inf"]),
    ("lr-overflows", ["train", "--lr", "1e999"], ["--lr must be > 0 and finite", "got inf"]),
    ("lr-text", ["train", "--lr", "fast"], ["Invalid value for '--lr'"]),
    ("batch-size-0", ["train", "--batch-size", "0"], ["--batch-size must be >= 1", "got 0"]),
    ("epochs-0", ["train", "--epochs", "0"], ["--epochs must be >= 1", "got 0"]),
    ("epochs-negative", ["train", "--epochs", "-5"], ["--epochs must be >= 1", "got -5"]),
    ("epochs-text", ["train", "--epochs", "ten"], ["Invalid value for '--epochs'"]),
    ("seed-negative", ["train", "--seed", "-1"], ["--seed must be >= 0", "got -1"]),
    ("patience-negative", ["train", "--patience", "-1"], ["--patience must be >= 0"]),
    (
        "checkpoint-every-0",
        ["train", "--checkpoint-every", "0"],
        ["--checkpoint-every must be >= 1", "got 0"],
    ),
    ("unknown-option", ["train", "--learning-rate", "0.1"], ["No such option", "--learning-rate"]),
    (
        "unknown-data-set",
        ["train", "--data", "iris"],
        ["data 'iris' is neither a bundled data set", "bundled data sets: diabetes, friedman1"],
    ),
    ("gradcheck-tol-nan", ["gradcheck", "--tol", "nan"], ["tol must be >= 0 and finite", "nan"]),
    ("gradcheck-eps-0", ["gradcheck", "--eps", "0"], ["eps must be > 0", "0.0"]),
    ("gradcheck-batch-0", ["gradcheck", "--batch", "0"], ["--batch-size must be >= 1", "got 0"]),
    (
        "out-is-a-file",
        ["train", "--epochs", "1", "--out", "{data}"],
        ["--out {data}: cannot create the folder"],
    ),
    (
        "predict-missing-feature-column",
        ["predict", "--model", "{model}", "--data", "{narrow}"],
        ["{narrow}", "no feature column named 'x1'", "columns: x0, x2"],
    ),
    (
        "evaluate-unknown-target",
        ["evaluate", "--model", "{model}", "--data", "{data}", "--target", "q"],
        ["{data}", "no target column named 'q'"],
    ),
    (
        "evaluate-too-many-targets",
        ["evaluate", "--model", "{model}", "--data", "{data}", "--target", "x2,y"],
        ["--target names 2 column(s) but the model has 1 output(s)"],
    ),
    (
        "resume-other-hidden",
        ["train", "--resume", "--hidden", "9"],
        ["--hidden 9 differs from the checkpoint's [4]", "leave --hidden out to resume"],
    ),
    (
        "resume-fewer-epochs",
        ["train", "--resume", "--epochs", "1"],
        ["--epochs 1 is fewer than the 2"],
    ),
    (
        "resume-without-checkpoint",
        ["train", "--resume", "--out", "{empty}"],
        ["there is no checkpoint", "checkpoint.safetensors"],
    ),
    (
        "predict-out-folder-missing",
        ["predict", "--model", "{model}", "--data", "{data}", "--out", "{empty}/no/such/preds.csv"],
        ["cannot write {empty}/no/such/preds.csv", "does not exist"],
    ),
]


@pytest.mark.parametrize(("name", "args", "needles"), ARG_CASES, ids=[c[0] for c in ARG_CASES])
def test_flags_through_the_cli(capsys, run_dir, name, args, needles):
    base = run_dir.parent
    narrow = base / "narrow.csv"
    narrow.write_text("x0,x2\n1,2\n")
    (base / "empty").mkdir()
    names = {
        "data": base / "good.csv",
        "model": run_dir / "model.safetensors",
        "narrow": narrow,
        "empty": base / "empty",
    }
    args = [a.format(**names) for a in args]
    if args[0] == "train":
        args += ["--no-plots"] + ([] if "--out" in args else ["--out", str(run_dir)])
        if "--data" not in args and "--resume" not in args:
            args += ["--data", str(names["data"])]
    before, data_before = snapshot(run_dir), names["data"].read_bytes()
    code, out, err = cli(capsys, *args)
    assert_one_line_error(code, out, err, [n.format(**names) for n in needles])
    assert snapshot(run_dir) == before and names["data"].read_bytes() == data_before
    assert not list(names["empty"].iterdir())


def test_resume_refuses_changed_data(capsys, run_dir):
    # (a finished run is extended by --resume --epochs N: tests/test_classification_cli.py)
    # an unfinished run (as Ctrl-C leaves it) whose data file was edited since
    ckpt_path = run_dir / "checkpoint.safetensors"
    ckpt = load_checkpoint(ckpt_path)
    ckpt.state.history.stopped_reason = None
    data = run_dir.parent / "good.csv"  # this test's own copy of the data
    assert ckpt.settings["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    ckpt.settings["data"] = str(data)
    save_checkpoint(
        ckpt_path,
        ckpt.model.net,
        ckpt.state,
        settings=ckpt.settings,
        standardization=ckpt.model.standardization,
        feature_names=ckpt.model.feature_names,
        target_names=ckpt.model.target_names,
    )
    with data.open("a") as f:
        f.write("0,0,0,0\n")
    before = snapshot(run_dir)
    code, out, err = cli(capsys, "train", "--out", run_dir, "--resume", "--epochs", 5)
    assert_one_line_error(
        code, out, err, [f"{data} has changed since the checkpoint", "resuming needs the same data"]
    )
    assert snapshot(run_dir) == before


# The same kinds of mistakes through the Python API: (id, call, exception type, substrings)
_X = np.random.default_rng(1).normal(size=(3, 10))  # 10 samples as columns
_Y = _X[:1] - _X[1:2]


def _with(A, idx, value):
    A = A.copy()
    A[idx] = value
    return A


def _net(**kwargs):
    return dp.Network([3, 4, 1], seed=0, **kwargs)


API_CASES = [
    (
        "Y-fewer-samples-than-X",
        lambda: _net().gradients(_X, _Y[:, :9]),
        ValueError,
        ["Y must have one column per sample of X (m = 10)", "(1, 9)"],
    ),
    (
        "Y-too-many-rows",
        lambda: _net().gradients(_X, np.ones((2, 10))),
        ValueError,
        ["Y must have n_L = 1 rows", "(2, 10)"],
    ),
    (
        "samples-as-rows",
        lambda: _net().forward(_X.T),
        ValueError,
        ["X must have n_0 = 3 rows", "(10, 3)", "pass X.T"],
    ),
    (
        "X-1-D",
        lambda: _net().forward(_X[0]),
        ValueError,
        ["X must be 2-D", "(10,)", "X.reshape(-1, 1)"],
    ),
    ("Y-1-D", lambda: fit(_net(), _X, _Y[0], epochs=1), ValueError, ["Y must be 2-D", "(10,)"]),
    ("X-3-D", lambda: _net().forward(_X[None]), ValueError, ["X must be 2-D", "(1, 3, 10)"]),
    (
        "X-no-samples",
        lambda: _net().forward(np.zeros((3, 0))),
        ValueError,
        ["X must hold at least one sample"],
    ),
    (
        "X-nan",
        lambda: fit(_net(), _with(_X, (2, 7), math.nan), _Y, epochs=1),
        ValueError,
        ["X must be finite", "row 2, column 7"],
    ),
    (
        "Y-inf",
        lambda: _net().gradients(_X, _with(_Y, (0, 4), -math.inf)),
        ValueError,
        ["Y must be finite", "row 0, column 4"],
    ),
    (
        "X-text",
        lambda: _net().forward(np.full((3, 2), "a")),
        TypeError,
        ["X must hold real numbers"],
    ),
    (
        "X-float32-for-float64-net",
        lambda: _net().forward(_X.astype(np.float32)),
        TypeError,
        ["X has dtype float32", "network's dtype is float64"],
    ),
    ("sizes-0", lambda: dp.Network([3, 0, 1]), ValueError, ["sizes[1] must be >= 1", "got 0"]),
    (
        "sizes-negative",
        lambda: dp.Network([3, 4, -1]),
        ValueError,
        ["sizes[2] must be >= 1", "got -1"],
    ),
    (
        "sizes-float",
        lambda: dp.Network([3, 2.5, 1]),
        TypeError,
        ["sizes[1] must be an integer", "2.5"],
    ),
    (
        "sizes-one-layer",
        lambda: dp.Network([3]),
        ValueError,
        ["sizes must list at least the input and output widths"],
    ),
    ("unknown-activation", lambda: _net(hidden="gelu"), ValueError, ["unknown hidden 'gelu'"]),
    ("unknown-output", lambda: _net(output="probit"), ValueError, ["unknown output 'probit'"]),
    ("unknown-loss", lambda: _net(loss="hinge"), ValueError, ["unknown loss 'hinge'"]),
    (
        "unknown-dtype",
        lambda: _net(dtype="float16"),
        ValueError,
        ["dtype must be one of float32, float64", "'float16'"],
    ),
    (
        "unknown-backend",
        lambda: _net(backend="tensorflow"),
        ValueError,
        ["backend must be one of", "'tensorflow'"],
    ),
    ("alpha-negative", lambda: _net(alpha=-1.0), ValueError, ["alpha must be", "-1.0"]),
    (
        "unknown-optimiser",
        lambda: fit(_net(), _X, _Y, optimizer="rmsprop", epochs=1),
        ValueError,
        ["unknown optimizer 'rmsprop'", "known optimizers: adam, sgd"],
    ),
    ("lr-0", lambda: fit(_net(), _X, _Y, lr=0.0, epochs=1), ValueError, ["lr must be", "0.0"]),
    (
        "lr-negative",
        lambda: fit(_net(), _X, _Y, lr=-1.0, optimizer="sgd", epochs=1),
        ValueError,
        ["lr must be", "-1.0"],
    ),
    (
        "lr-nan",
        lambda: fit(_net(), _X, _Y, lr=math.nan, epochs=1),
        ValueError,
        ["lr must be", "nan"],
    ),
    (
        "lr-text",
        lambda: fit(_net(), _X, _Y, lr="big", epochs=1),
        TypeError,
        ["lr must be a number", "'big'"],
    ),
    (
        "batch-size-0",
        lambda: fit(_net(), _X, _Y, batch_size=0, epochs=1),
        ValueError,
        ["batch_size must be >= 1", "got 0"],
    ),
    (
        "batch-size-float",
        lambda: fit(_net(), _X, _Y, batch_size=2.0, epochs=1),
        TypeError,
        ["batch_size must be an integer", "2.0"],
    ),
    (
        "epochs-negative",
        lambda: fit(_net(), _X, _Y, epochs=-1),
        ValueError,
        ["epochs must be >= 0", "-1"],
    ),
    (
        "momentum-out-of-range",
        lambda: fit(_net(), _X, _Y, optimizer="sgd", momentum=1.5, epochs=1),
        ValueError,
        ["momentum must be", "1.5"],
    ),
    (
        "tol-nan-gradcheck",
        lambda: dp.gradcheck(_net(), _X, _Y, tol=math.nan),
        ValueError,
        ["tol must be >= 0 and finite", "nan"],
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "error", "needles"), API_CASES, ids=[c[0] for c in API_CASES]
)
def test_arguments_through_the_api(name, call, error, needles):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_epochs_0_is_refused_by_the_cli_but_is_a_no_op_in_the_api():
    # fit's epochs is the run's total (a resumed state counts its epochs), so 0 asks for
    # nothing: the network is not touched and the history is empty. The command refuses it.
    net = _net()
    W = [w.copy() for w in net.W]
    history = fit(net, _X, _Y, epochs=0)
    assert history.loss == [] and history.n_iter == 0
    assert all(np.array_equal(a, b) for a, b in zip(W, net.W))


# --- 3. model files -----------------------------------------------------------------------------


def _good_model(folder: Path) -> tuple[dict, dict]:
    with safe_open(str(folder / "model.safetensors"), framework="np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
        meta = json.loads(f.metadata()["deltaprop"])
    return tensors, meta


def _forged(tensors, meta, change) -> bytes:
    tensors, meta = dict(tensors), json.loads(json.dumps(meta))
    change(meta, tensors)
    return st_save(tensors, metadata={"deltaprop": json.dumps(meta)})


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:  # what torch.save writes: a zip of pickles
        z.writestr("archive/data.pkl", pickle.dumps({"W.1": [1.0]}))
    return buffer.getvalue()


def _set(**kwargs):
    return lambda m, t: m.update(kwargs)


# (id, function of the good file's (bytes, tensors, metadata) -> bytes, substrings)
MODEL_CASES = [
    (
        "random-bytes",
        lambda raw, t, m: np.random.default_rng(2).bytes(4096),
        ["not a safetensors file"],
    ),
    ("empty-file", lambda raw, t, m: b"", ["only 0 bytes"]),
    ("truncated-data", lambda raw, t, m: raw[:-9], ["corrupt or truncated"]),
    ("truncated-header", lambda raw, t, m: raw[:60], ["truncated", "the header claims"]),
    (
        "pickle",
        lambda raw, t, m: pickle.dumps({"W.1": np.zeros((4, 3))}),
        ["looks like a pickle", "never unpickles"],
    ),
    ("torch-zip-archive", lambda raw, t, m: _zip(), ["looks like a zip archive"]),
    ("text-file", lambda raw, t, m: GOOD.encode(), ["not a safetensors file"]),
    (
        "foreign-safetensors",
        lambda raw, t, m: st_save({"weight": np.zeros((2, 2))}),
        ["no 'deltaprop' metadata"],
    ),
    (
        "newer-format-version",
        lambda raw, t, m: _forged(t, m, _set(format_version=FORMAT_VERSION + 1)),
        ["newer deltaprop", f"format version {FORMAT_VERSION + 1}", "upgrade deltaprop"],
    ),
    (
        "missing-field",
        lambda raw, t, m: _forged(t, m, lambda m, t: m.pop("sizes")),
        ["missing field(s) 'sizes'"],
    ),
    (
        "unknown-field",
        lambda raw, t, m: _forged(t, m, _set(surprise=1)),
        ["unknown field(s) 'surprise'"],
    ),
    (
        "sizes-disagree-with-tensors",
        lambda raw, t, m: _forged(t, m, _set(sizes=[3, 5, 1])),
        ["tensor W.1 must have shape (5, 3)", "got (4, 3)"],
    ),
    (
        "tensor-wrong-shape",
        lambda raw, t, m: _forged(t, m, lambda m, t: t.update({"W.2": np.zeros((4, 1))})),
        ["tensor W.2 must have shape (1, 4)", "got (4, 1)"],
    ),
    (
        "tensor-wrong-dtype",
        lambda raw, t, m: _forged(t, m, lambda m, t: t.update({"b.1": t["b.1"].astype("f4")})),
        ["tensor b.1 must have dtype float64", "got float32"],
    ),
    (
        "tensor-missing",
        lambda raw, t, m: _forged(t, m, lambda m, t: t.pop("b.2")),
        ["missing tensor(s) 'b.2'"],
    ),
    (
        "tensor-nan",
        lambda raw, t, m: _forged(
            t, m, lambda m, t: t.update({"W.1": np.full_like(t["W.1"], np.nan)})
        ),
        ["tensor W.1 holds NaN or infinite values"],
    ),
    (
        "unknown-activation",
        lambda raw, t, m: _forged(t, m, _set(hidden={"name": "swish", "params": {}})),
        ["unknown activation 'swish'"],
    ),
    ("unknown-loss", lambda raw, t, m: _forged(t, m, _set(loss="hinge")), ["unknown loss 'hinge'"]),
    (
        "alpha-beyond-float64",
        lambda raw, t, m: _forged(t, m, _set(alpha=10**400)),
        ["field 'alpha' must be a finite number >= 0", "..."],
    ),
    (
        "standardisation-wrong-length",
        lambda raw, t, m: _forged(
            t, m, lambda m, t: m["standardization"].update(x_mean=[0.0, 1.0])
        ),
        ["standardization.x_mean must be a list of 3 numbers"],
    ),
    (
        "standardisation-integer-beyond-float64",
        lambda raw, t, m: _forged(
            t, m, lambda m, t: m["standardization"].update(x_scale=[1, 10**400, 1])
        ),
        ["standardization.x_scale must hold positive finite numbers"],
    ),
    (
        "metadata-nested-too-deeply",
        lambda raw, t, m: st_save(t, metadata={"deltaprop": "[" * 100_000 + "]" * 100_000}),
        ["the 'deltaprop' metadata is not valid JSON"],
    ),
    (
        "header-nested-too-deeply",
        lambda raw, t, m: (lambda h: len(h).to_bytes(8, "little") + h)(
            b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        ),
        ["its header is not JSON"],
    ),
    (
        "checkpoint-format-name-wrong",
        lambda raw, t, m: _forged(t, m, _set(format="pytorch")),
        ["field 'format' must be 'deltaprop-model' or 'deltaprop-checkpoint'", "'pytorch'"],
    ),
]


def _spoil(run_dir, make) -> Path:
    raw = (run_dir / "model.safetensors").read_bytes()
    tensors, meta = _good_model(run_dir)
    path = run_dir.parent / "suspect.safetensors"
    path.write_bytes(make(raw, tensors, meta))
    return path


@pytest.mark.parametrize(("name", "make", "needles"), MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_model_files_through_the_cli(capsys, run_dir, name, make, needles):
    path = _spoil(run_dir, make)
    preds = run_dir / "predictions.csv"
    preds.write_text("y\n1.0\n")  # an earlier run's predictions: must survive
    before = snapshot(run_dir)
    code, out, err = cli(
        capsys, "predict", "--model", path, "--data", run_dir.parent / "good.csv", "--out", preds
    )
    assert_one_line_error(code, out, err, [f"cannot load {path}: ", *needles])
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(("name", "make", "needles"), MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_model_files_through_the_api(run_dir, name, make, needles):
    path = _spoil(run_dir, make)
    for load in (dp.load, load_model):
        with pytest.raises(ValueError) as info:
            load(path)
        message = str(info.value)
        assert message.startswith(f"cannot load {path}: ") and "\n" not in message
        assert len(message) < 400
        for needle in needles:
            assert needle in message


@pytest.mark.parametrize("spoil", ["truncated", "model-file-as-checkpoint", "newer-version"])
def test_a_bad_checkpoint_stops_resume_and_keeps_the_model(capsys, run_dir, spoil):
    ckpt = run_dir / "checkpoint.safetensors"
    if spoil == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:-100])
        needles = ["corrupt or truncated"]
    elif spoil == "model-file-as-checkpoint":
        ckpt.write_bytes((run_dir / "model.safetensors").read_bytes())
        needles = ["expected a deltaprop-checkpoint file"]
    else:
        with safe_open(str(ckpt), framework="np") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            meta = json.loads(f.metadata()["deltaprop"])
        meta["format_version"] = FORMAT_VERSION + 1
        save_file(tensors, str(ckpt), metadata={"deltaprop": json.dumps(meta)})
        needles = ["newer deltaprop"]
    before = snapshot(run_dir)
    code, out, err = cli(capsys, "train", "--out", run_dir, "--resume", "--epochs", 4)
    assert_one_line_error(code, out, err, [f"cannot load {ckpt}: ", *needles])
    assert snapshot(run_dir) == before
    with pytest.raises(ValueError, match="cannot load"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_model_path_that_is_not_a_file(capsys, run_dir, where):
    path = run_dir / "none.safetensors" if where == "missing" else run_dir
    code, out, err = cli(capsys, "predict", "--model", path, "--data", run_dir.parent / "good.csv")
    assert_one_line_error(code, out, err, [str(path)])
    with pytest.raises(FileNotFoundError if where == "missing" else IsADirectoryError):
        dp.load(path)


# --- 4. odd but valid: accepted, trained, documented ---------------------------------------------


def test_odd_but_valid_csv_files_train(capsys, tmp_path):
    # a byte-order mark, CRLF line ends, quoted cells, blank lines, spaces around numbers and
    # a constant input column: all read as the numbers they hold, and a model is written
    rows = _rows(40).splitlines()
    lines = ['"x0",x1,x2,y,const'] + [
        (f'" {r.split(",")[0]} ",' + ",".join(r.split(",")[1:]) + ",7") for r in rows
    ]
    lines.insert(5, "")
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    data = read_csv(path)
    assert data.feature_names == ["x0", "x1", "x2", "y"] and data.target_names == ["const"]
    data = read_csv(path, "y")
    assert data.feature_names == ["x0", "x1", "x2", "const"]
    expected = np.array([[float(v) for v in r.split(",")] for r in rows])
    assert np.array_equal(data.X[:3], expected[:, :3].T) and np.array_equal(
        data.Y[0], expected[:, 3]
    )
    assert np.all(data.X[3] == 7.0)
    code, out, err = cli(
        capsys,
        "train",
        "--data",
        path,
        "--target",
        "y",
        "--hidden",
        "4",
        "--epochs",
        2,
        "--out",
        tmp_path / "run",
        "--no-plots",
        "--json",
    )
    assert code == 0, err
    model = load_model(tmp_path / "run" / "model.safetensors")
    # the constant column gets scale 1 (as scikit-learn's StandardScaler), never 0 or NaN
    assert model.standardization.x_scale[3] == 1.0 and model.standardization.x_mean[3] == 7.0
    assert np.all(np.isfinite(model.forward(data.X)))


def test_warnings_are_one_line_each(capsys, tmp_path):
    # a batch larger than the training split is clipped, with a warning: one line, no source
    path = tmp_path / "small.csv"
    path.write_text("x0,x1,x2,y\n" + _rows(20))
    code, out, err = cli(
        capsys,
        "train",
        "--data",
        path,
        "--epochs",
        1,
        "--batch-size",
        64,
        "--out",
        tmp_path / "run",
        "--no-plots",
        "--json",
    )
    assert code == 0
    assert err.splitlines() == [
        "deltaprop: warning: batch_size=64 is larger than the 14 training samples; clipped to 14"
    ]
    assert os.path.exists(json.loads(out)["files"]["model"])

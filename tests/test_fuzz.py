"""Property-based fuzzing of the two readers of outside files: the CSV loader and the model loader.

The property is the documented contract, nothing more: for any bytes at all,

* ``read_csv`` returns a :class:`~deltaprop.data.Dataset` whose arrays are finite float64 with
  samples as columns and whose names are those of the header, or raises ``ValueError`` whose
  message is one line starting with the file's path;
* ``load`` / ``load_model`` / ``load_checkpoint`` return a network whose parameters have the
  shapes its sizes say and are finite, or raise ``ValueError`` starting
  ``cannot load <path>:`` (one line).

Any other exception (``RecursionError``, ``OverflowError``, ``KeyError``, a safetensors
error, ...) escaping is a failure. The inputs are drawn by hypothesis: CSV text built from
the characters and cells that trip parsers up (quotes, separators, line ends, byte-order
marks, NUL, ``nan``/``inf``/``1e400``) in several encodings, raw random bytes, and model files
that are valid ones with bytes flipped, cut, spliced, or with a metadata field, a training
state field or a tensor replaced by arbitrary JSON or arrays.

Rerun: ``python -m pytest -q tests/test_fuzz.py``; more examples:
``python -m pytest -q tests/test_fuzz.py --hypothesis-seed=N`` or ``DELTAPROP_SLOW=1``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save as st_save

import deltaprop as dp
from deltaprop.data import Standardization, read_csv
from deltaprop.io import load_checkpoint, load_model, save_checkpoint
from deltaprop.training import TrainState, fit

SLOW = bool(os.environ.get("DELTAPROP_SLOW"))


def fuzz(examples: int):
    """hypothesis settings: ``examples`` per run (20 times more with DELTAPROP_SLOW=1)."""
    return settings(
        max_examples=examples * (20 if SLOW else 1),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


_DIR = Path(tempfile.mkdtemp(prefix="deltaprop-fuzz-"))  # one folder; each example rewrites


def _one_line(message: str) -> None:
    assert "\n" not in message and "\r" not in message, message


# --- the CSV loader ------------------------------------------------------------------------------

_TRICKY = [
    "",
    " ",
    "NA",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-Infinity",
    "1e400",
    "-1e-400",
    "1e308",
    "0x1p3",
    "1_000",
    "١٢",
    '"',
    '""',
    '"1"',
    "1,2",
    "\x00",
    "\ufeff",
    "\u00a0",
    "é",
    "True",
    "None",
    "1e",
    ".",
    "-",
    "+1",
    " 2 ",
    "3.",
    ".5",
]
_cell = st.one_of(
    st.sampled_from(_TRICKY),
    st.floats().map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.text(alphabet=st.sampled_from(list('0123456789.eE+-naif ",;\t\r\nxy\x00é')), max_size=8),
)
_name = st.one_of(st.sampled_from(["x", "y", "a", "x0", " y ", "", '"q"']), st.text(max_size=5))


@st.composite
def csv_files(draw):
    header = draw(st.lists(_name, min_size=0, max_size=5))
    width = len(header)
    rows = draw(
        st.lists(
            st.one_of(
                st.lists(_cell, min_size=width, max_size=width),  # the right width
                st.lists(_cell, min_size=0, max_size=width + 2),
            ),  # any width
            max_size=8,
        )
    )
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(",".join(r) for r in [header, *rows]) + draw(st.sampled_from(["", end]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace")


def _check_read(raw: bytes, target) -> None:
    path = _DIR / "fuzz.csv"
    path.write_bytes(raw)
    try:
        data = read_csv(path, target)
    except ValueError as e:
        message = str(e)
        assert message.startswith(str(path)), message
        _one_line(message)
        return
    m = data.X.shape[1]
    assert data.X.dtype == np.float64 and data.X.ndim == 2 and m >= 1
    assert data.Y is not None and data.Y.dtype == np.float64 and data.Y.shape[1] == m
    assert np.isfinite(data.X).all() and np.isfinite(data.Y).all()
    names = data.feature_names + data.target_names
    assert len(data.feature_names) == data.X.shape[0] >= 1
    assert len(data.target_names) == data.Y.shape[0] >= 1
    assert len(set(names)) == len(names) and all(n and n == n.strip() for n in names)


@fuzz(100)
@given(raw=csv_files(), data=st.data())
def test_csv_loader_on_messy_text(raw, data):
    target = data.draw(st.one_of(st.none(), _name, st.just("y,x")), label="target")
    _check_read(raw, target)


@fuzz(100)
@given(raw=st.binary(max_size=600))
def test_csv_loader_on_random_bytes(raw):
    _check_read(raw, None)


@fuzz(50)
@given(
    st.lists(
        st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=3, max_size=3),
        min_size=3,
        max_size=30,
    )
)
def test_standardisation_is_finite_or_refused(rows):
    # the training path's own statistics: finite means and positive scales, or a ValueError
    # naming the column (values near 1e154 and beyond overflow the variance)
    X = np.array(rows).T
    try:
        std = Standardization.fit(X[:2], X[2:], feature_names=["a", "b"], target_names=["y"])
    except ValueError as e:
        assert "cannot standardise column" in str(e) or "cannot standardise Y row" in str(e)
        _one_line(str(e))
        return
    for a in (std.x_mean, std.y_mean):
        assert np.isfinite(a).all()
    for a in (std.x_scale, std.y_scale):
        assert np.isfinite(a).all() and (a > 0).all()


# --- the model loader ----------------------------------------------------------------------------


def _checkpoint_bytes() -> bytes:
    """A real checkpoint: a trained 3-4-1 network, Adam state, history, standardisation."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 40)), rng.normal(size=(1, 40))
    net, state = dp.Network([3, 4, 1], seed=0), TrainState()
    fit(net, X, Y, epochs=3, batch_size=16, state=state, early_stopping=True)
    std = Standardization.fit(X, Y)
    path = _DIR / "seed-checkpoint.safetensors"
    save_checkpoint(
        path,
        net,
        state,
        settings={"epochs": 3},
        standardization=std,
        feature_names=["a", "b", "c"],
        target_names=["y"],
    )
    return path.read_bytes()


GOOD = _checkpoint_bytes()
with safe_open(str(_DIR / "seed-checkpoint.safetensors"), framework="np") as _f:
    TENSORS = {k: _f.get_tensor(k) for k in _f.keys()}  # noqa: SIM118 (no iteration)
    META = json.loads(_f.metadata()["deltaprop"])


def _check_load(raw: bytes) -> None:
    path = _DIR / "fuzz.safetensors"
    path.write_bytes(raw)
    for load in (load_model, load_checkpoint):
        try:
            result = load(path)
        except ValueError as e:
            message = str(e)
            assert message.startswith(f"cannot load {path}: "), message
            _one_line(message)
            continue
        net = result.net if hasattr(result, "net") else result.model.net
        assert len(net.sizes) - 1 == net.L
        for l in range(1, net.L + 1):
            assert net.W[l].shape == (net.sizes[l], net.sizes[l - 1])
            assert net.b[l].shape == (net.sizes[l], 1)
            assert np.isfinite(net.W[l]).all() and np.isfinite(net.b[l]).all()


def test_the_seed_file_loads():  # the mutations below start from a valid file
    ckpt = load_checkpoint(_DIR / "seed-checkpoint.safetensors")
    assert ckpt.state.epoch == 3 and ckpt.model.feature_names == ["a", "b", "c"]


@fuzz(100)
@given(data=st.data())
def test_model_loader_on_damaged_bytes(data):
    raw = bytearray(GOOD)
    how = data.draw(st.sampled_from(["flip", "cut", "splice", "insert", "header-length"]))
    if how == "flip":  # a few bytes anywhere, header and tensor data alike
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    elif how == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "splice":
        i = data.draw(st.integers(0, len(raw)))
        raw = raw[:i] + data.draw(st.binary(max_size=64)) + raw[i + data.draw(st.integers(0, 64)) :]
    elif how == "insert":
        i = data.draw(st.integers(0, len(raw)))
        raw = raw[:i] + data.draw(st.binary(min_size=1, max_size=16)) + raw[i:]
    else:  # the 8-byte header length itself
        raw[:8] = data.draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little")
    _check_load(bytes(raw))


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**400)
    | st.floats()
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _forge(meta: dict, tensors: dict) -> bytes:
    return st_save(tensors, metadata={"deltaprop": json.dumps(meta)})


@fuzz(80)
@given(data=st.data())
def test_model_loader_on_tampered_metadata(data):
    meta = json.loads(json.dumps(META))
    where = data.draw(st.sampled_from(["field", "nested", "train_state", "drop"]))
    if where == "field":
        meta[data.draw(st.sampled_from(sorted(META)) | st.text(max_size=6))] = data.draw(_json)
    elif where == "nested":  # inside standardization, an activation, or the settings
        key = data.draw(st.sampled_from(["standardization", "hidden", "output", "settings"]))
        sub = meta[key]
        sub[data.draw(st.sampled_from(sorted(sub)) | st.text(max_size=6))] = data.draw(_json)
    elif where == "train_state":
        ts = meta["train_state"]
        key = data.draw(st.sampled_from(sorted(ts)))
        ts[key] = data.draw(_json)
        if isinstance(ts.get("history"), dict) and ts["history"] and data.draw(st.booleans()):
            h = ts["history"]
            h[data.draw(st.sampled_from(sorted(h)))] = data.draw(_json)
    else:
        del meta[data.draw(st.sampled_from(sorted(META)))]
    _check_load(_forge(meta, dict(TENSORS)))


def _array(shape: tuple[int, ...], dtype: str, fill: float) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # nan or 1e300 cast to int or float16
        return np.full(shape, fill).astype(dtype)


_arrays = st.builds(
    _array,
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from(["float64", "float32", "float16", "int64", "int8", "uint8", "bool"]),
    st.sampled_from([0.0, 1.0, -2.5, np.inf, np.nan, 1e300]),
)


@fuzz(60)
@given(data=st.data())
def test_model_loader_on_tampered_tensors(data):
    tensors = dict(TENSORS)
    name = data.draw(st.sampled_from(sorted(TENSORS)) | st.sampled_from(["W.0", "W.3", "x"]))
    if data.draw(st.booleans()) and name in tensors:
        del tensors[name]
    else:
        tensors[name] = data.draw(_arrays)
    _check_load(_forge(json.loads(json.dumps(META)), tensors))


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**400, -1, "3", [], {}])
@pytest.mark.parametrize("key", ["epoch", "t", "no_improvement", "seed", "lr"])
def test_training_state_numbers_that_json_allows_but_python_cannot_use(key, value):
    # JSON parsers read Infinity, NaN and 400-digit integers; int() and float() of them raise
    # OverflowError or give NaN: the loader must refuse them with its ValueError
    meta = json.loads(json.dumps(META))
    meta["train_state"][key] = value
    path = _DIR / "state.safetensors"
    path.write_bytes(_forge(meta, dict(TENSORS)))
    try:
        ckpt = load_checkpoint(path)
    except ValueError as e:
        assert str(e).startswith(f"cannot load {path}: ")
        return
    # accepted: then the value must be one the fit loop can use
    state = ckpt.state
    assert isinstance(state.epoch, int) and state.epoch >= 0
    assert isinstance(state.t, int) and state.t >= 0
    assert isinstance(state.no_improvement, int) and state.no_improvement >= 0
    assert state.lr is None or (np.isfinite(state.lr) and state.lr > 0)
    assert state.seed is None or (isinstance(state.seed, int) and state.seed >= 0)

"""Hostile files: what a reader of model files, checkpoints and CSV files must never do.

Each case is one way an adversarial user (or an accident) hands deltaprop something that is
not an ordinary file: a FIFO (whose open blocks for ever without ``O_NONBLOCK``), a link to
``/dev/zero`` (read until memory runs out), process substitution (a pipe), a 2 GiB sparse
file, a header whose ``sizes`` claims millions of layers. The promise (docs/reliability.md):
a one-line ``ValueError`` naming the file, quickly, with bounded memory.

Rerun: ``python -m pytest -q tests/test_untrusted.py``.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _files
from deltaprop import data as dp_data
from deltaprop import io as dp_io
from deltaprop.data import read_csv

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


@pytest.fixture
def model_file(tmp_path):
    net = dp.Network([2, 3, 1], seed=0)
    return dp.save(net, tmp_path / "m.safetensors", feature_names=["a", "b"], target_names=["y"])


def _readers(path):
    """Every public reader of a path, each called on ``path``."""
    return {
        "load": lambda: dp.load(path),
        "load_model": lambda: dp_io.load_model(path),
        "load_checkpoint": lambda: dp_io.load_checkpoint(path),
        "read_csv": lambda: read_csv(path),
        "load_data": lambda: dp_data.load_data(path),
    }


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "dev-null", "folder"])
def test_only_regular_files_are_read(tmp_path, kind):
    path = tmp_path / "x.safetensors"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading blocks until a writer comes, unless non-blocking
        needle, error = "FIFO or pipe", ValueError
    elif kind == "dev-zero-link":
        path.symlink_to("/dev/zero")  # read_bytes() reads until MemoryError
        needle, error = "character device", ValueError
    elif kind == "dev-null":
        path.symlink_to("/dev/null")
        needle, error = "character device", ValueError
    else:
        path.mkdir()
        needle, error = "is a folder", IsADirectoryError
    for name, read in _readers(path).items():
        start = time.perf_counter()
        with pytest.raises(error) as info:
            read()
        assert time.perf_counter() - start < 30, name  # never a hang
        message = str(info.value)
        assert str(path) in message and needle in message and "\n" not in message, name


def test_size_is_checked_before_reading(tmp_path, monkeypatch):
    # a 2 GiB sparse file: refused by its size, not read (the default bound is documented)
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(2 * 2**30)
    with pytest.raises(ValueError, match=r"the CSV file is 2 GiB, more than the 1 GiB"):
        read_csv(big)
    # a model file over the bound: refused whatever it holds
    monkeypatch.setattr(dp_io, "MAX_FILE_BYTES", 1000)
    model = dp.save(dp.Network([30, 30, 1], seed=0), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match=r"m\.safetensors: the model file is .* KiB, more than"):
        dp.load(model)
    # a sparse model file under the bound: its header length (0) is refused after 8 bytes
    monkeypatch.setattr(dp_io, "MAX_FILE_BYTES", 4 * 2**30)
    sparse = tmp_path / "sparse.safetensors"
    with open(sparse, "wb") as f:
        f.truncate(2 * 2**30)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="not a safetensors file"):
        dp.load(sparse)
    assert time.perf_counter() - start < 10  # not 2 GiB read


def test_a_file_that_grows_while_read_is_refused(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    f, size = _files.open_regular(path, 100)
    with f:
        with open(path, "ab") as g:
            g.write(b"more")
        with pytest.raises(ValueError, match="grew while it was being read"):
            _files.read_bounded(f, size, path)


def test_millions_of_layers_in_the_header_cost_nothing(tmp_path):
    """A 15 MB header whose ``sizes`` lists 5 M layers: refused by the count, fast and small
    (it used to cost 15 s and 1.6 GB building the expected tensor names first)."""
    meta = json.loads(
        json.dumps(dp_io._model_meta(dp.Network([1, 1]), "deltaprop-model", *[None] * 4))
    )
    meta["sizes"] = [1] * 5_000_000
    header = json.dumps({"__metadata__": {"deltaprop": json.dumps(meta)}}).encode()
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    code = (
        "import resource, sys, time, deltaprop as dp\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.perf_counter()\n"
        "try:\n    dp.load(sys.argv[1])\nexcept ValueError as e:\n    print(e)\n"
        "print(time.perf_counter() - t)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    ).stdout.splitlines()
    assert "field 'sizes' lists 4999999 layers but the file holds only 0 weight" in out[0]
    assert float(out[1]) < 60  # 0.6 s on a quiet machine (two JSON parses of 15 MB); 7 s loaded
    assert int(out[2]) < 400_000  # kB of peak memory added (about 30 MB here)


@posix_only
def test_cli_predict_on_a_fifo_and_process_substitution_do_not_hang(tmp_path, model_file):
    """Real subprocesses: ``predict --model`` on a FIFO used to hang for ever."""
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    env = dict(os.environ, COLUMNS="200")
    for model in (str(fifo), f"<(cat {model_file})"):
        script = f"exec {sys.executable} -m deltaprop predict --model {model} --data {data}"
        run = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env
        )
        assert run.returncode == 2, run.stderr
        assert "FIFO or pipe" in run.stderr and "Traceback" not in run.stderr
    csv_sub = f"<(cat {data})"
    script = f"exec {sys.executable} -m deltaprop predict --model {model_file} --data {csv_sub}"
    run = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 2 and "FIFO or pipe" in run.stderr, run.stderr


def test_regular_files_still_load(tmp_path, model_file):
    net = dp.load(model_file).net  # saved with column names: a Model
    assert net.sizes == [2, 3, 1]
    link = tmp_path / "link.safetensors"
    link.symlink_to(model_file)  # a link to a regular file is fine
    assert np.array_equal(dp.load(link).net.W[1], net.W[1])


# --- tampered checkpoints --------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_parts(tmp_path_factory):
    """A real checkpoint (Adam, validation) as (tensors, deltaprop metadata)."""
    from safetensors.numpy import load as st_load

    from deltaprop.training import TrainState, fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 40))
    Y = 2 * X[:1]
    net, state = dp.Network([2, 3, 1], seed=0), TrainState()
    fit(net, X, Y, epochs=3, state=state, optimizer="adam", validation_data=(X, Y))
    path = tmp_path_factory.mktemp("ckpt") / "c.safetensors"
    dp_io.save_checkpoint(path, net, state, settings={"epochs": 3})
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(json.loads(raw[8 : 8 + n])["__metadata__"]["deltaprop"])
    return st_load(raw), meta


def _tampered(tmp_path, parts, edit):
    from safetensors.numpy import save_file

    tensors, meta = parts
    tensors = {k: v.copy() for k, v in tensors.items()}
    meta = json.loads(json.dumps(meta))
    edit(tensors, meta)
    path = tmp_path / "tampered.safetensors"
    save_file(tensors, path, metadata={"deltaprop": json.dumps(meta)})
    return path


def _ts(key, value):
    def edit(tensors, meta):
        target = meta["train_state"]
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value

    return edit


def _tensor(name, value):
    def edit(tensors, meta):
        tensors[name] = value(tensors[name])

    return edit


TAMPERED = [
    ("adam-beta_1-1", _ts("optimizer_hyper.beta_1", 1.0), "beta_1 must be a finite number in"),
    ("adam-beta_2-nan", _ts("optimizer_hyper.beta_2", -0.5), "beta_2 must be a finite number"),
    ("adam-t-negative", _ts("optimizer_hyper.t", -1), "optimizer t must be an integer >= 0"),
    ("adam-t-float", _ts("optimizer_hyper.t", 2.5), "optimizer t must be an integer >= 0"),
    ("adam-epsilon-0", _ts("optimizer_hyper.epsilon", 0), "epsilon must be a finite number"),
    ("adam-lr-missing", lambda t, m: m["train_state"]["optimizer_hyper"].pop("lr"), "lacks 'lr'"),
    ("unknown-optimizer", _ts("optimizer", "rmsprop"), "unknown optimizer 'rmsprop'"),
    ("epoch-bogus", _ts("epoch", 10**6), "epoch 1000000 disagrees with the history"),
    ("stopped-reason-bogus", _ts("history.stopped_reason", "done"), "stopped_reason must be"),
    ("best-epoch-bogus", _ts("history.best_epoch", 99), "best_epoch 99"),
    ("rng-state-bogus", _ts("rng_state", {"bit_generator": "MT19937"}), "not a PCG64"),
    ("best-score-nan", _ts("best_score", "NaN"), ""),
    ("best-W-nan", _tensor("state.best.W.1", lambda a: a * np.nan), "best.W.1 holds NaN"),
    ("best-W-shape", _tensor("state.best.W.2", lambda a: a[:, :2].copy()), "best.W.2 must be"),
    ("adam-m-inf", _tensor("state.optimizer.m.b.1", lambda a: a + np.inf), "m.b.1 holds NaN"),
    ("adam-v-negative", _tensor("state.optimizer.v.W.1", lambda a: -1 - a), "negative"),
    ("adam-m-shape", _tensor("state.optimizer.m.W.1", lambda a: a.ravel().copy()), "m.W.1 must"),
    ("loss-nan", _tensor("state.history.loss", lambda a: a * np.nan), "history.loss holds"),
    ("grad-norm-width", _tensor("state.history.grad_norm", lambda a: a[:, :1].copy()), "rows"),
]


@pytest.mark.parametrize("name,edit,needle", TAMPERED, ids=[c[0] for c in TAMPERED])
def test_tampered_checkpoint_is_refused(tmp_path, checkpoint_parts, name, edit, needle):
    path = _tampered(tmp_path, checkpoint_parts, edit)
    with pytest.raises(ValueError) as info:
        dp_io.load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"cannot load {path}: ") and needle in message, message
    assert "\n" not in message


def test_untampered_checkpoint_loads(tmp_path, checkpoint_parts):
    path = _tampered(tmp_path, checkpoint_parts, lambda t, m: None)
    ckpt = dp_io.load_checkpoint(path)
    assert ckpt.state.epoch == 3 and ckpt.state.optimizer == "adam"

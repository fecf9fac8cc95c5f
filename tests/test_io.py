"""Model files: bit-exact round trips, the documented errors for tampered files, atomic writes.

Files are inspected and forged with the safetensors library directly (an independent reader
and writer), never through deltaprop's own reading code.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save as st_save
from safetensors.numpy import save_file

import deltaprop as dp
from deltaprop.activations import ACTIVATIONS, make_elu, make_leaky_relu
from deltaprop.data import Standardization
from deltaprop.io import FORMAT_VERSION, load_model, save, write_atomic


def _arrays_equal(net, net2):
    return all(
        np.array_equal(net.W[l], net2.W[l])
        and np.array_equal(net.b[l], net2.b[l])
        and net2.W[l].dtype == net.W[l].dtype
        and net2.b[l].dtype == net.b[l].dtype
        for l in range(1, net.L + 1)
    )


def _randomised(net, seed=1):
    """Non-zero biases and awkward values, so a round trip has something to lose."""
    rng = np.random.default_rng(seed)
    for l in range(1, net.L + 1):
        net.W[l] = rng.normal(size=net.W[l].shape).astype(net.dtype_name) * 1e-3
        net.b[l] = (rng.normal(size=net.b[l].shape) * 1e7).astype(net.dtype_name)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_round_trip_is_bit_exact(tmp_path, dtype, hidden):
    net = _randomised(
        dp.Network([3, 5, 4, 2], hidden=hidden, output="sigmoid", dtype=dtype, alpha=0.25)
    )
    path = tmp_path / "m.safetensors"
    dp.save(net, path)
    net2 = dp.load(path)
    assert _arrays_equal(net, net2)
    assert net2.sizes == net.sizes and net2.dtype_name == dtype and net2.alpha == 0.25
    assert net2.hidden is ACTIVATIONS[hidden] and net2.output is ACTIVATIONS["sigmoid"]
    assert net2.loss.name == "mse"
    # the same outputs, bit for bit, on an input the networks never saw
    X = np.random.default_rng(2).normal(size=(3, 7)).astype(dtype)
    assert np.array_equal(net.forward(X), net2.forward(X))


def test_the_file_is_plain_safetensors_with_the_documented_layout(tmp_path):
    net = _randomised(dp.Network([2, 3, 1], dtype="float32"))
    path = tmp_path / "m.safetensors"
    save(net, path, metadata={"note": "hi"}, feature_names=["a", "b"], target_names=["y"])
    with safe_open(str(path), framework="np") as f:
        assert sorted(f.keys()) == ["W.1", "W.2", "b.1", "b.2"]
        assert np.array_equal(f.get_tensor("W.1"), net.W[1])
        assert f.get_tensor("b.2").dtype == np.float32
        meta = json.loads(f.metadata()["deltaprop"])
    assert meta["format"] == "deltaprop-model" and meta["format_version"] == FORMAT_VERSION
    assert meta["sizes"] == [2, 3, 1] and meta["dtype"] == "float32"
    assert meta["hidden"] == {"name": "relu", "params": {}}
    assert meta["deltaprop_version"] == dp.__version__
    assert meta["user"] == {"note": "hi"} and meta["feature_names"] == ["a", "b"]


def test_parametrised_activations_keep_their_parameters(tmp_path):
    net = dp.Network([2, 4, 1], hidden=make_leaky_relu(0.2), output=make_elu(0.5))
    dp.save(net, tmp_path / "m.safetensors")
    net2 = dp.load(tmp_path / "m.safetensors")
    assert net2.hidden.params == {"slope": 0.2} and net2.output.params == {"alpha": 0.5}
    Z = np.array([[-2.0, 3.0]])
    assert np.array_equal(net2.hidden.g(Z), [[-0.4, 3.0]])  # 0.2 · (−2) = −0.4
    assert np.allclose(net2.output.g(Z), [[0.5 * (np.exp(-2.0) - 1), 3.0]])


def test_unregistered_activations_cannot_be_saved(tmp_path):
    net = dp.Network([2, 3, 1], hidden=(np.tanh, lambda z: 1 - np.tanh(z) ** 2))
    with pytest.raises(ValueError, match="cannot save the hidden activation 'custom'"):
        dp.save(net, tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "backend",
    [
        "array_api_strict",
        pytest.param(
            "torch",
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(
                    not os.environ.get("DELTAPROP_SLOW"),
                    reason="importing torch is slow; DELTAPROP_SLOW=1",
                ),
            ],
        ),
    ],
)
def test_other_backends_save_and_load_as_numpy(tmp_path, backend):
    pytest.importorskip(backend)
    net = _randomised(dp.Network([3, 4, 1]))
    dp.save(net.to(backend), tmp_path / "m.safetensors")
    assert _arrays_equal(net, dp.load(tmp_path / "m.safetensors"))
    net3 = dp.load(tmp_path / "m.safetensors", backend=backend)
    assert net3.backend == backend and _arrays_equal(net, net3.to("numpy"))


def test_standardisation_and_names_drive_predict(tmp_path):
    net = _randomised(dp.Network([2, 3, 1]))
    std = Standardization(
        np.array([1.0, -2.0]), np.array([2.0, 0.5]), np.array([10.0]), np.array([3.0])
    )
    save(
        net,
        tmp_path / "m.safetensors",
        standardization=std,
        feature_names=["u", "v"],
        target_names=["y"],
    )
    model = load_model(tmp_path / "m.safetensors")
    assert model.feature_names == ["u", "v"] and model.target_names == ["y"]
    X = np.array([[3.0, 1.0], [-1.0, -2.0]])
    # by hand: x' = (x − μ)/s, then y = 3 · net(x') + 10
    Xs = np.array([[(3 - 1) / 2, (1 - 1) / 2], [(-1 + 2) / 0.5, (-2 + 2) / 0.5]])
    assert np.allclose(model.forward(X), 3.0 * net.forward(Xs) + 10.0, rtol=1e-15)


# --- tampered files ---------------------------------------------------------------------------------


def _good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    dp.save(dp.Network([2, 3, 1]), path)
    with safe_open(str(path), framework="np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
        meta = json.loads(f.metadata()["deltaprop"])
    return path, tensors, meta


def _forge(tmp_path, tensors, meta, name="forged.safetensors"):
    path = tmp_path / name
    save_file(tensors, str(path), metadata={"deltaprop": json.dumps(meta)})
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda good: os.urandom(4096), "not a safetensors file"),
        (lambda good: b"", r"only 0 bytes"),
        (lambda good: good[:-7], "truncated"),
        (lambda good: good[:100], "truncated"),
        (lambda good: pickle.dumps({"W.1": [1.0]}), "looks like a pickle"),
        (lambda good: b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!", "header is not JSON"),
        (lambda good: st_save({"W.1": np.zeros((3, 2))}), "no 'deltaprop' metadata"),
    ],
    ids=[
        "random",
        "empty",
        "truncated-data",
        "truncated-header",
        "pickle",
        "not-json",
        "foreign-safetensors",
    ],
)
def test_bad_bytes_give_a_value_error_naming_the_file(tmp_path, make, message):
    good, _, _ = _good_file(tmp_path)
    path = tmp_path / "bad.safetensors"
    path.write_bytes(make(good.read_bytes()))
    with pytest.raises(ValueError, match=message) as info:
        dp.load(path)
    assert str(path) in str(info.value)


def _drop(meta, key):
    del meta[key]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda m, t: m.update(format_version=FORMAT_VERSION + 1), "newer deltaprop"),
        (lambda m, t: m.update(format_version="1"), "'format_version' must be an integer"),
        (lambda m, t: m.update(format="something-else"), "field 'format'"),
        (lambda m, t: _drop(m, "sizes"), "missing field.*sizes"),
        (lambda m, t: _drop(m, "dtype"), "missing field.*dtype"),
        (lambda m, t: m.update(extra=1), "unknown field.*extra"),
        (lambda m, t: m.update(sizes=[2, 0, 1]), "'sizes' must be"),
        (lambda m, t: m.update(sizes=[2, 4, 1]), r"W.1 must have shape \(4, 2\)"),
        (lambda m, t: m.update(dtype="float16"), "'dtype' must be"),
        (lambda m, t: m.update(dtype="float32"), "W.1 must have dtype float32"),
        (lambda m, t: m.update(hidden={"name": "gelu", "params": {}}), "unknown activation 'gelu'"),
        (lambda m, t: m.update(hidden="relu"), "field 'hidden'"),
        (lambda m, t: m.update(hidden={"name": "relu", "params": {"slope": 1}}), "does not take"),
        (lambda m, t: m.update(loss="hinge"), "unknown loss 'hinge'"),
        (lambda m, t: m.update(alpha=-1), "'alpha' must be"),
        (lambda m, t: m.update(feature_names=["a"]), "'feature_names' must be"),
        (lambda m, t: m.update(standardization={"x_mean": [0, 0]}), "standardization must have"),
        (
            lambda m, t: m.update(
                standardization={
                    "x_mean": [0, 0],
                    "x_scale": [1, 0],
                    "y_mean": None,
                    "y_scale": None,
                }
            ),
            "x_scale must hold positive",
        ),
        (lambda m, t: t.update({"W.1": np.zeros((2, 3))}), r"W.1 must have shape \(3, 2\)"),
        (lambda m, t: t.update({"b.1": np.zeros((3, 1), np.float32)}), "b.1 must have dtype"),
        (lambda m, t: t.pop("b.2"), "missing tensor.*b.2"),
        (lambda m, t: t.update({"W.3": np.zeros((1, 1))}), "unexpected tensor.*W.3"),
        (lambda m, t: t.update({"W.1": np.full((3, 2), np.nan)}), "NaN or infinite"),
    ],
)
def test_tampered_metadata_or_tensors_give_the_documented_error(tmp_path, tamper, message):
    _, tensors, meta = _good_file(tmp_path)
    tamper(meta, tensors)
    path = _forge(tmp_path, tensors, meta)
    with pytest.raises(ValueError, match=message) as info:
        dp.load(path)
    assert f"cannot load {path}" in str(info.value)


def test_a_model_file_is_not_a_checkpoint(tmp_path):
    pytest.importorskip("deltaprop.training")
    from deltaprop.io import load_checkpoint

    path, _, _ = _good_file(tmp_path)
    with pytest.raises(ValueError, match="expected a deltaprop-checkpoint file"):
        load_checkpoint(path)


# --- atomic writes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_a_failed_write_leaves_the_existing_file_intact(tmp_path, monkeypatch, failing):
    path = tmp_path / "m.safetensors"
    old = dp.Network([2, 3, 1], seed=0)
    dp.save(old, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    if failing == "write":
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: _FailingFile(fd))
    else:
        monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="simulated"):
        dp.save(dp.Network([2, 3, 1], seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temp file left
    assert _arrays_equal(old, dp.load(path))


class _FailingFile:
    """A file whose write fails half-way, after some bytes reached the temporary file."""

    def __init__(self, fd):
        self.fd = fd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        os.close(self.fd)

    def write(self, data):
        os.write(self.fd, data[: len(data) // 2])
        raise OSError("disk full (simulated)")


def test_write_atomic_replaces_whole_and_keeps_permissions_sane(tmp_path):
    path = tmp_path / "f.bin"
    write_atomic(path, b"first")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert path.stat().st_mode & 0o600 == 0o600  # readable and writable by the owner


def test_save_refuses_bad_arguments(tmp_path):
    net = dp.Network([2, 3, 1])
    with pytest.raises(ValueError, match="feature_names must be a list of 2 strings"):
        save(net, tmp_path / "m.safetensors", feature_names=["a"])
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        save(net, tmp_path / "m.safetensors", metadata={"f": object()})
    with pytest.raises(TypeError, match="can save a deltaprop Network, Model, DeltaPropRegressor"):
        save("not a network", tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


# --- checkpoints ------------------------------------------------------------------------------------


def test_checkpoint_round_trip_resumes_bit_for_bit(tmp_path):
    """Train 12 epochs straight; or 5, checkpoint to a file, load it, train to 12: same weights."""
    from deltaprop.io import CheckpointEvery, load_checkpoint, save_checkpoint
    from deltaprop.training import TrainState

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 120))
    Y = np.sin(X[:1]) + X[1:2] * X[2:3]
    Xv, Yv = X[:, :20], Y[:, :20]
    kwargs = dict(
        lr=0.01,
        batch_size=16,
        validation_data=(Xv, Yv),
        early_stopping=True,
        n_iter_no_change=50,
        seed=4,
    )

    straight = dp.Network([3, 8, 1], seed=1)
    dp.fit(straight, X, Y, epochs=12, **kwargs)

    net, state = dp.Network([3, 8, 1], seed=1), TrainState()
    path = tmp_path / "ckpt.safetensors"
    std = Standardization(np.zeros(3), np.ones(3), np.zeros(1), np.ones(1))
    dp.fit(
        net,
        X,
        Y,
        epochs=5,
        state=state,
        **kwargs,
        callbacks=[CheckpointEvery(path, 5, settings={"run": "a"}, standardization=std)],
    )
    ckpt = load_checkpoint(path)
    assert ckpt.settings == {"run": "a"} and ckpt.state.epoch == 5
    assert np.array_equal(ckpt.model.standardization.x_scale, np.ones(3))
    dp.fit(ckpt.model.net, X, Y, epochs=12, state=ckpt.state, **kwargs)
    assert _arrays_equal(straight, ckpt.model.net)
    # a checkpoint's model loads through load_model (the epoch-5 weights, not the resumed
    # ones); dp.load refuses it, naming the run's model file
    assert load_model(path).net.sizes == [3, 8, 1]
    with pytest.raises(ValueError, match="this is a checkpoint .*model.safetensors"):
        dp.load(path)
    save_checkpoint(path, ckpt.model.net, ckpt.state)
    assert load_checkpoint(path).state.history.loss == ckpt.state.history.loss


def test_a_tampered_training_state_is_refused(tmp_path):
    from deltaprop.io import load_checkpoint, save_checkpoint
    from deltaprop.training import TrainState

    net = dp.Network([2, 3, 1])
    dp.fit(net, np.ones((2, 8)), np.ones((1, 8)), epochs=2, state=(state := TrainState()))
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, net, state)
    with safe_open(str(path), framework="np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        meta = json.loads(f.metadata()["deltaprop"])
    del meta["train_state"]["history"]
    with pytest.raises(ValueError, match="invalid training state"):
        load_checkpoint(_forge(tmp_path, tensors, meta))
    with pytest.raises(ValueError, match="missing field.*settings"):
        load_checkpoint(
            _forge(tmp_path, tensors, {k: v for k, v in meta.items() if k != "settings"})
        )
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        from deltaprop.io import CheckpointEvery

        CheckpointEvery(path, 0)


def test_softmax_classifier_network_round_trips(tmp_path):
    # Output-only activations (softmax, not element-wise) are stored and rebuilt too.
    net = dp.Network([3, 4, 3], output="softmax", loss="cross_entropy", seed=2)
    path = tmp_path / "softmax.safetensors"
    dp.save(net, path)
    back = dp.load(path)
    assert back.output.name == "softmax" and back.loss.name == "cross_entropy"
    X = np.random.default_rng(0).normal(size=(3, 5))
    np.testing.assert_array_equal(back.forward(X), net.forward(X))

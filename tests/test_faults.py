"""Faults: a diverging loss, Ctrl-C, determinism and saturated numerics.

* **Divergence.** A one-weight network whose gradient step multiplies the error by
  1 - 4 lr = -3999 at every epoch: the epoch whose loss first overflows float64 is worked out
  by hand (and by a plain-Python loop) and must be the one the error names; the network and a
  file saved from it hold the best weights, whose values are also worked out by hand.
* **Interruption.** A real SIGINT to a ``deltaprop train`` subprocess part-way through: it
  exits 130 and writes a checkpoint (from the interrupt itself, no periodic ones are asked
  for), leaves an earlier model file alone and no temporary file; ``--resume`` then ends with a
  model file byte-identical to that of an uninterrupted run, loss curve included.
  (tests/test_cli_train.py interrupts after a periodic checkpoint; this one does not need one.)
* **Determinism.** The same seed gives bit-identical loss curves, checkpoints and model files;
  another seed does not.
* **Numerical safety.** sigmoid, softplus, binary and categorical cross-entropy with
  pre-activations of ±1e4, float64 and float32, forward and backward under
  ``np.errstate(over="raise", invalid="raise", divide="raise")``: no warning, no NaN, and the
  costs and gradients worked out by hand.

Rerun: ``python -m pytest -q tests/test_faults.py``.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from safetensors import safe_open

import deltaprop as dp
from deltaprop.activations import sigmoid, softplus
from deltaprop.cli import main
from deltaprop.io import load_checkpoint, save_checkpoint
from deltaprop.training import NonFiniteLossError, TrainState, fit


def cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def _tensors(path):
    with safe_open(str(path), framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)


def _write_csv(path, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + 0.1 * rng.normal(size=m)
    path.write_text(
        "x0,x1,x2,y\n"
        + "".join(",".join(repr(float(v)) for v in (*x, t)) + "\n" for x, t in zip(X, y))
    )


# --- divergence ----------------------------------------------------------------------------------


def _one_weight_net():
    net = dp.Network([1, 1], output="identity", loss="mse", seed=0)
    net.W[1] = np.array([[1.0]])
    net.b[1] = np.array([[0.0]])
    return net


def test_divergence_stops_at_the_first_non_finite_loss_by_hand():
    # One sample x = 1, y = 0; z = w x + b starts at 1. MSE: J = z², dJ/dw = dJ/db = 2z.
    # Plain gradient descent (no momentum), lr = 1000:
    #   w ← w − 2000 z,  b ← b − 2000 z,  so  z ← z − 4000 z = −3999 z.
    # The loss recorded for epoch e is the cost before that epoch's step: J_e = 3999^(2(e−1)).
    # It overflows float64 (max ≈ 1.8e308) once 3999^(2(e−1)) > 1.8e308, i.e.
    #   (e − 1) > 308.25 / (2 log10 3999) = 308.25 / 7.2039 = 42.79,  so e − 1 = 43: e = 44.
    # Epochs 1..43 have finite losses 1, 3999², ... growing, so the best (lowest) is epoch 1,
    # whose weights (after its step) are w = 1 − 2000 = −1999, b = 0 − 2000 = −2000, exactly.
    X, Y = np.array([[1.0]]), np.array([[0.0]])
    net = _one_weight_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning may escape the fit loop
        with pytest.raises(NonFiniteLossError) as info:
            fit(
                net,
                X,
                Y,
                optimizer="sgd",
                lr=1000.0,
                momentum=0.0,
                nesterov=False,
                epochs=100,
                batch_size=1,
                shuffle=False,
                n_iter_no_change=None,
            )
    err = info.value
    # the same recurrence in plain Python floats, as a second reference for the epoch
    w, b, e = 1.0, 0.0, 1
    while math.isfinite((w + b) * (w + b)):  # float products overflow to inf, no error
        z = w + b
        w, b, e = w - 1000.0 * 2 * z, b - 1000.0 * 2 * z, e + 1
    assert e == 44 == err.epoch
    message = str(err)
    assert "at epoch 44" in message and "try a smaller learning rate" in message
    assert "learning rate 1000" in message and "best weights so far (epoch 1)" in message
    # the run stopped there: 43 finite epochs recorded, the first non-finite one not
    state = err.state
    assert state.epoch == 43 and len(state.history.loss) == 43
    assert state.history.loss[:3] == [1.0, 3999.0**2, 3999.0**4]
    assert all(math.isfinite(J) for J in state.history.loss)
    # the network holds the best weights, exactly, and so does a file saved from it
    assert net.W[1].tolist() == [[-1999.0]] and net.b[1].tolist() == [[-2000.0]]


def test_after_divergence_saved_files_hold_the_best_weights(tmp_path):
    X, Y = np.array([[1.0]]), np.array([[0.0]])
    net = _one_weight_net()
    with pytest.raises(NonFiniteLossError) as info:
        fit(
            net,
            X,
            Y,
            optimizer="sgd",
            lr=1000.0,
            momentum=0.0,
            epochs=100,
            batch_size=1,
            shuffle=False,
            n_iter_no_change=None,
        )
    dp.save(net, tmp_path / "model.safetensors")
    save_checkpoint(tmp_path / "checkpoint.safetensors", net, info.value.state)
    for path in ("model.safetensors", "checkpoint.safetensors"):  # read with safetensors only
        t = _tensors(tmp_path / path)
        assert t["W.1"].tolist() == [[-1999.0]] and t["b.1"].tolist() == [[-2000.0]]
    ckpt = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert ckpt.state.epoch == 43 and ckpt.state.history.best_epoch == 1


def test_divergence_on_the_command_line_names_the_epoch_and_keeps_the_old_model(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 100)
    out = tmp_path / "run"
    assert (
        cli(
            capsys,
            "train",
            "--data",
            data,
            "--hidden",
            "4",
            "--epochs",
            2,
            "--out",
            out,
            "--no-plots",
            "--json",
        )[0]
        == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, stdout, err = cli(
        capsys,
        "train",
        "--data",
        data,
        "--hidden",
        "4",
        "--epochs",
        50,
        "--optimizer",
        "sgd",
        "--lr",
        "1e4",
        "--patience",
        0,
        "--checkpoint-every",
        1000,
        "--out",
        out,
        "--no-plots",
        "--json",
    )
    assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    epoch = int(err.split(" at epoch ")[1].split()[0])
    assert 1 <= epoch <= 50 and "try a smaller learning rate" in err
    # no model and no checkpoint of the diverged run was written: the old ones are intact
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --- interruption: a real SIGINT ---------------------------------------------------------------

# The child is `deltaprop train`, with one addition: a fit callback that reports each epoch on
# stderr (so the test knows training is under way) and sleeps 50 ms (so that the 57 epochs
# after the third last seconds: the signal arrives part-way, in a batch or between epochs).
_CHILD = """
import sys, time
import deltaprop.training as training
_fit = training.fit

class Report:
    def on_epoch_end(self, state, net):
        sys.stderr.write(f"epoch {state.epoch}\\n")
        sys.stderr.flush()
        time.sleep(0.05)

def fit(*args, **kwargs):
    kwargs["callbacks"] = [*kwargs.get("callbacks", ()), Report()]
    return _fit(*args, **kwargs)

training.fit = fit
from deltaprop.cli import main
main(sys.argv[1:])
"""


def test_sigint_writes_a_checkpoint_and_resume_is_bit_for_bit(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 500)
    settings = [
        "--data",
        data,
        "--hidden",
        "8",
        "--epochs",
        60,
        "--patience",
        0,
        "--seed",
        5,
        "--batch-size",
        50,
        "--checkpoint-every",
        1000,
        "--no-plots",
    ]
    # the uninterrupted run, in-process
    code, stdout, err = cli(capsys, "train", *settings, "--out", tmp_path / "A", "--json")
    assert code == 0, err
    assert json.loads(stdout)["epochs"] == 60

    # the same run in a subprocess, over an earlier run's model, interrupted at epoch >= 3
    out = tmp_path / "B"
    out.mkdir()
    dp.save(dp.Network([3, 2, 1], seed=9), out / "model.safetensors")
    earlier = (out / "model.safetensors").read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, "train", *map(str, settings), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 120
    while not lines or lines[-1] != "epoch 3":
        line = proc.stderr.readline()
        assert line, f"the child ended early: {''.join(lines)}"
        lines.append(line.strip())
        assert time.monotonic() < deadline, "no third epoch after 120 s"
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    proc.wait(timeout=120)
    err = "\n".join(lines) + rest
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"resume with: deltaprop train --out {out} --resume" in err
    # the checkpoint came from the interrupt (none was due before epoch 1000); the earlier
    # model is untouched, and no temporary file is left behind
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors", "model.safetensors"]
    assert (out / "model.safetensors").read_bytes() == earlier
    stopped = load_checkpoint(out / "checkpoint.safetensors").state
    assert 3 <= stopped.epoch < 60 and stopped.history.stopped_reason is None
    assert f"saved the run as it was after epoch {stopped.epoch}" in err

    # resume, in-process, with the options from the checkpoint
    code, stdout, err = cli(
        capsys, "train", "--out", out, "--resume", "--checkpoint-every", 1000, "--json"
    )
    assert code == 0, err
    a, b = (
        load_checkpoint(tmp_path / "A" / "checkpoint.safetensors"),
        load_checkpoint(out / "checkpoint.safetensors"),
    )
    assert a.state.history.loss == b.state.history.loss  # the loss curve, bit for bit
    assert len(b.state.history.loss) == 60
    A, B = _tensors(tmp_path / "A" / "model.safetensors"), _tensors(out / "model.safetensors")
    assert sorted(A) == sorted(B) == ["W.1", "W.2", "b.1", "b.2"]
    for name in A:
        assert A[name].dtype == B[name].dtype and np.array_equal(A[name], B[name]), name
    # and the whole files, metadata (settings, metrics, optimiser state) included, byte for byte
    for name in ("model.safetensors", "checkpoint.safetensors"):
        assert (tmp_path / "A" / name).read_bytes() == (out / name).read_bytes(), name


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 300)
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        code, _, err = cli(
            capsys,
            "train",
            "--data",
            data,
            "--hidden",
            "8,4",
            "--epochs",
            15,
            "--seed",
            seed,
            "--out",
            tmp_path / name,
            "--no-plots",
            "--json",
        )
        assert code == 0, err
        runs[name] = {
            f: (tmp_path / name / f).read_bytes()
            for f in ("model.safetensors", "checkpoint.safetensors")
        }
    assert runs["a"] == runs["b"]  # weights, loss curve, optimiser state, metrics: all bytes
    assert runs["a"]["model.safetensors"] != runs["c"]["model.safetensors"]
    curves = [
        load_checkpoint(tmp_path / n / "checkpoint.safetensors").state.history.loss for n in "ac"
    ]
    assert curves[0] != curves[1] and len(curves[0]) >= 2


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fit_is_deterministic_for_a_seed(optimizer):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 200))
    Y = np.sin(X[:1]) + X[1:2] * X[2:3]

    def run(seed):
        net, state = dp.Network([4, 16, 8, 1], seed=seed), TrainState()
        fit(
            net,
            X,
            Y,
            optimizer=optimizer,
            lr=0.01,
            epochs=12,
            batch_size=32,
            seed=seed,
            early_stopping=True,
            state=state,
        )
        arrays, meta = state.to_arrays()
        return net, state.history, arrays, meta

    (n1, h1, a1, m1), (n2, h2, a2, m2), (_, h3, _, _) = run(3), run(3), run(4)
    assert h1.loss == h2.loss and h1.val_score == h2.val_score and h1.grad_norm == h2.grad_norm
    assert json.dumps(m1) == json.dumps(m2)
    assert sorted(a1) == sorted(a2) and all(np.array_equal(a1[k], a2[k]) for k in a1)
    assert all(np.array_equal(n1.W[l], n2.W[l]) for l in range(1, 4))
    assert h1.loss != h3.loss


# --- numerical safety at ±1e4 --------------------------------------------------------------------

RAISE = dict(over="raise", invalid="raise", divide="raise")  # underflow to 0 is exact here


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act", [sigmoid, softplus], ids=["sigmoid", "softplus"])
def test_activations_at_1e4(act, dtype):
    Z = np.array([[-1e4, -1e3, -100.0, 0.0, 100.0, 1e3, 1e4]], dtype=dtype)
    with np.errstate(**RAISE):
        A, dA = act.g(Z), act.g_prime(Z)
    assert A.dtype == dA.dtype == np.dtype(dtype)
    # sigmoid(±1e4) is 0 and 1 and its slope 0; softplus(1e4) = 1e4, softplus(−1e4) = 0
    # (log1p(e^−1e4) underflows to 0), and softplus' = sigmoid
    if act is sigmoid:
        assert A[0, [0, -1]].tolist() == [0.0, 1.0] and dA[0, [0, -1]].tolist() == [0.0, 0.0]
    else:
        assert A[0, [0, -1]].tolist() == [0.0, 1e4] and dA[0, [0, -1]].tolist() == [0.0, 1.0]
    assert A[0, 3] == pytest.approx(0.5 if act is sigmoid else math.log(2), rel=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", ["sigmoid", "softplus"])
def test_binary_cross_entropy_network_saturated_both_ways(hidden, dtype):
    # Hidden: z¹ = ±1e4 x (two units), x = [1, −1]; output: z² = w² a¹ = [1e4, −1e4], so the
    # sigmoid output saturates at 1 for sample 1 and 0 for sample 2, opposite to the targets.
    net = dp.Network(
        [1, 2, 1], hidden=hidden, output="sigmoid", loss="binary_cross_entropy", dtype=dtype
    )
    net.W[1] = np.array([[1e4], [-1e4]], dtype=dtype)
    net.b[1] = np.zeros((2, 1), dtype=dtype)
    # sigmoid: a¹ = [[1, 0], [0, 1]], so w² = [1e4, −1e4]; softplus: a¹ = [[1e4, 0], [0, 1e4]]
    net.W[2] = np.array([[1e4, -1e4] if hidden == "sigmoid" else [1.0, -1.0]], dtype=dtype)
    net.b[2] = np.zeros((1, 1), dtype=dtype)
    X = np.array([[1.0, -1.0]], dtype=dtype)
    Y = np.array([[0.0, 1.0]], dtype=dtype)
    with np.errstate(**RAISE):
        J, dW, db = net.gradients(X, Y)
        A = net.forward(X)
    # A = sigmoid(±1e4) = [1, 0] exactly; each sample is confidently wrong. J comes from the
    # logits z² = [1e4, −1e4] (losses.LOGIT_COSTS): per sample y softplus(−z) + (1 − y)
    # softplus(z) = softplus(1e4) = 1e4 for both, so J = (1e4 + 1e4)/2 = 1e4 exactly (the
    # clipped J(A) gave −log eps = 36.04, whose gradient is 0, not the δ below).
    assert A.tolist() == [[1.0, 0.0]]
    assert J == 1e4
    # δ² = (A − Y)/m = [0.5, −0.5] (the sigmoid + cross-entropy pairing)
    # dW² = δ² a¹ᵀ: for sigmoid a¹ = [[1, 0], [0, 1]] gives [[0.5, −0.5]]; for softplus
    # a¹ = [[1e4, 0], [0, 1e4]] gives [[5000, −5000]]; db² = 0.5 − 0.5 = 0.
    scale = 1.0 if hidden == "sigmoid" else 1e4
    np.testing.assert_allclose(dW[2], [[0.5 * scale, -0.5 * scale]], rtol=1e-6)
    assert db[2].tolist() == [[0.0]]
    for G in (*dW, *db):
        assert np.isfinite(G).all() and G.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_cross_entropy_network_saturated(dtype):
    net = dp.Network([1, 3], output="softmax", loss="cross_entropy", dtype=dtype)
    net.W[1] = np.array([[1e4], [0.0], [-1e4]], dtype=dtype)
    net.b[1] = np.zeros((3, 1), dtype=dtype)
    X = np.array([[1.0, -1.0]], dtype=dtype)
    Y = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]], dtype=dtype)  # class 3 twice
    with np.errstate(**RAISE):
        J, dW, db = net.gradients(X, Y)
        A = net.forward(X)
    # From the logits: −log a_y = log Σ e^(z − max z) − (z_y − max z).
    # sample 1: z = [1e4, 0, −1e4], wrong (y = 3): log 1 − (−1e4 − 1e4) = 2e4
    # sample 2: z = [−1e4, 0, 1e4], right: log 1 − 0 = 0;  J = (2e4 + 0)/2 = 1e4
    assert A.tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    assert J == 1e4
    # δ = (A − Y)/m = [[0.5, 0], [0, 0], [−0.5, 0]]; dW = δ xᵀ = [[0.5], [0], [−0.5]]
    np.testing.assert_allclose(dW[1], [[0.5], [0.0], [-0.5]], rtol=1e-6, atol=0)
    np.testing.assert_allclose(db[1], [[0.5], [0.0], [-0.5]], rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_general_equation_ii_path_is_finite_when_saturated(dtype):
    # the same sigmoid output given as a plain (g, g') pair: no registered shortcut, so
    # δ^[L] = J'(A) ⊙ g'(Z) with J' = (P − Y)/(m P (1 − P)) on the clipped P (finite: about
    # 1/(2 eps)) and g'(±1e4) = 0 exactly: the product is 0, never inf · 0 = NaN
    net = dp.Network(
        [1, 1], output=(sigmoid.g, sigmoid.g_prime), loss="binary_cross_entropy", dtype=dtype
    )
    net.W[1] = np.array([[1e4]], dtype=dtype)
    net.b[1] = np.zeros((1, 1), dtype=dtype)
    X = np.array([[1.0, -1.0]], dtype=dtype)
    with np.errstate(**RAISE):
        J, dW, db = net.gradients(X, np.array([[0.0, 1.0]], dtype=dtype))
    assert math.isfinite(J)
    assert dW[1].tolist() == [[0.0]] and db[1].tolist() == [[0.0]]


def test_training_through_saturation_raises_no_warning():
    # an epoch of training whose outputs start saturated: no RuntimeWarning, finite history
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 64)) * 1e4
    Y = (X[:1] > 0).astype(float)
    for hidden in ("sigmoid", "softplus"):
        net = dp.Network(
            [2, 4, 1], hidden=hidden, output="sigmoid", loss="binary_cross_entropy", seed=0
        )
        with warnings.catch_warnings(), np.errstate(**RAISE):
            warnings.simplefilter("error")
            history = fit(net, X, Y, epochs=3, batch_size=16, lr=0.01)
        assert all(math.isfinite(J) for J in history.loss)
        assert all(np.isfinite(W).all() for W in net.W)

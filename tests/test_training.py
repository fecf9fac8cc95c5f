"""The fit loop: against scikit-learn's MLP on identical weights, early stopping, resume, failures."""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.training import (
    History,
    NonFiniteLossError,
    TrainingInterrupted,
    TrainState,
    fit,
)

rng = np.random.default_rng(11)


def _data(n=120, n0=4, nL=1, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n0, n))
    Y = np.vstack([np.sin(X[0]) + 0.5 * X[1] * X[2] + 0.1 * r.normal(size=n) for _ in range(nL)])
    return X, Y


class Recorder:
    """Copies the weights at the end of every epoch (a callback)."""

    def __init__(self):
        self.W, self.b, self.epochs = [], [], []

    def on_epoch_end(self, state, net):
        self.W.append([W.copy() for W in net.W])
        self.b.append([b.copy() for b in net.b])
        self.epochs.append(state.epoch)


def _weights_equal(net, W, b):
    return all(
        np.array_equal(net.W[l], W[l - 1]) and np.array_equal(net.b[l], b[l - 1])
        for l in range(1, net.L + 1)
    )


# --- the same training as scikit-learn's MLPRegressor, from the same weights -------------------


@pytest.mark.parametrize(
    ("n_out", "momentum", "nesterov", "alpha_sk"),
    [(1, 0.0, False, 0.0), (1, 0.9, True, 1e-2), (2, 0.5, False, 1e-3), (3, 0.0, False, 0.0)],
)
def test_sgd_training_equals_scikit_learn_mlp(n_out, momentum, nesterov, alpha_sk):
    # scikit-learn's regressor reports ((Y - A)**2).mean() / 2 + alpha_sk/(2 m) ||W||^2 per batch
    # (a mean over samples AND outputs) but steps along the gradient of
    # (1/2m) sum ||y_i - a_i||^2 + alpha_sk/(2 m) ||W||^2 (its delta is A - Y for every output).
    # Our J = (1/m) sum ||y_i - a_i||^2 + (alpha/2) ||W||^2 is twice that when
    # alpha = 2 alpha_sk / m, so SGD with eta on ours is SGD with 2 eta on theirs: the same
    # weights after every epoch (the docs' alpha conversion).
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X, Y = _data(n=96, nL=n_out)
    m, eta, epochs = 32, 0.01, 4
    net = dp.Network([4, 6, 5, n_out], seed=2, alpha=2 * alpha_sk / m)
    mlp = MLPRegressor(
        hidden_layer_sizes=(6, 5),
        solver="sgd",
        learning_rate_init=2 * eta,
        momentum=momentum,
        nesterovs_momentum=nesterov,
        batch_size=m,
        alpha=alpha_sk,
        shuffle=False,
        max_iter=1,
        n_iter_no_change=100,
    )
    y_rows = Y.T if n_out > 1 else Y.ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X.T, y_rows)  # builds scikit-learn's structures; the weights are replaced next
        mlp.coefs_ = [W.T.copy() for W in net.W]
        mlp.intercepts_ = [b.ravel().copy() for b in net.b]
        mlp.set_params(warm_start=True, max_iter=epochs)
        mlp.fit(X.T, y_rows)
    hist = fit(
        net,
        X,
        Y,
        optimizer="sgd",
        lr=eta,
        momentum=momentum,
        nesterov=nesterov,
        batch_size=m,
        shuffle=False,
        epochs=epochs,
        n_iter_no_change=None,
    )
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(net.W[l], mlp.coefs_[l - 1].T, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(net.b[l].ravel(), mlp.intercepts_[l - 1], rtol=1e-10, atol=1e-13)
    # loss_curve_ (its first entry is the max_iter=1 fit): theirs is 1/(2 n_out) of ours, except
    # that their penalty is not averaged over outputs, so compare where the two agree exactly
    if n_out == 1 or alpha_sk == 0:
        np.testing.assert_allclose(hist.loss, 2 * n_out * np.array(mlp.loss_curve_[1:]), rtol=1e-10)


def test_adam_training_equals_scikit_learn_mlp():
    # With gradients 1/2 of ours (one output), Adam's m and sqrt(v) are halved too, so its step
    # eta_t m / (sqrt(v) + eps) equals ours when scikit-learn's epsilon is half of ours.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X, Y = _data(n=80)
    net = dp.Network([4, 7, 1], seed=5)
    mlp = MLPRegressor(
        hidden_layer_sizes=(7,),
        solver="adam",
        learning_rate_init=0.01,
        epsilon=0.5e-8,
        batch_size=20,
        alpha=0.0,
        shuffle=False,
        max_iter=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X.T, Y.ravel())
        mlp.coefs_ = [W.T.copy() for W in net.W]
        mlp.intercepts_ = [b.ravel().copy() for b in net.b]
        mlp.set_params(warm_start=True, max_iter=3)
        mlp.fit(X.T, Y.ravel())
    fit(
        net,
        X,
        Y,
        lr=0.01,
        epsilon=1e-8,
        batch_size=20,
        shuffle=False,
        epochs=3,
        n_iter_no_change=None,
    )
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(net.W[l], mlp.coefs_[l - 1].T, rtol=1e-9, atol=1e-12)


# --- the loop's mechanics -------------------------------------------------------------------------


def test_batches_auto_size_and_samples_seen():
    X, Y = _data(n=450)
    net = dp.Network([4, 5, 1], seed=0)
    sizes = []
    original = net._gradients

    def counting(Xb, Yb):
        sizes.append(Xb.shape[1])
        return original(Xb, Yb)

    net._gradients = counting
    hist = fit(net, X, Y, epochs=2, n_iter_no_change=None)
    assert sizes == [200, 200, 50] * 2  # "auto" = min(200, n)
    assert hist.t == 900 and hist.n_iter == 2 and hist.stopped_reason == "max_epochs"


def test_one_full_batch_epoch_is_one_gradient_step():
    X, Y = _data(n=40)
    net = dp.Network([4, 6, 1], seed=1)
    J0, dW, db = net.gradients(X, Y)
    expected_W = [W - 0.05 * g for W, g in zip(net.W, dW)]
    hist = fit(net, X, Y, optimizer="sgd", lr=0.05, momentum=0.0, batch_size=40, epochs=1)
    for l in (1, 2):
        np.testing.assert_allclose(net.W[l], expected_W[l - 1], rtol=1e-14)
    assert hist.loss == [pytest.approx(J0, rel=1e-14)]  # the batch cost before the step
    # gradient norms are those of the one batch: ||dJ/dW^[l]||_F
    np.testing.assert_allclose(hist.grad_norm[0], [np.linalg.norm(g) for g in dW], rtol=1e-12)


def test_seed_reproduces_and_changes_the_shuffle():
    X, Y = _data()
    nets = [dp.Network([4, 5, 1], seed=0) for _ in range(3)]
    for net, seed in zip(nets, (7, 7, 8)):
        fit(net, X, Y, epochs=3, batch_size=16, seed=seed)
    assert _weights_equal(nets[0], list(nets[1].W), list(nets[1].b))
    assert not np.array_equal(nets[0].W[1], nets[2].W[1])


def test_training_learns():
    X, Y = _data(n=200)
    net = dp.Network([4, 32, 1], seed=0)
    hist = fit(net, X, Y, lr=0.01, epochs=60, batch_size=32)
    assert hist.loss[-1] < 0.2 * hist.loss[0]
    assert hist.lr == [0.01] * hist.n_iter


def test_dead_relu_fraction_counts_units_dead_for_every_sample():
    X, Y = _data(n=64)
    net = dp.Network([4, 10, 8, 1], seed=3)
    b1 = np.zeros((10, 1))
    b1[[0, 3, 7]] = -1e3  # Z^[1] = W x - 1000 < 0 for every sample: 3 of 10 units dead
    net.b[1] = b1
    Z, _ = net.forward_pass(X)
    assert np.sum(np.all(Z[1] <= 0, axis=1)) == 3  # the reference: computed from Z
    expected_2 = np.mean(np.all(Z[2] <= 0, axis=1))
    hist = fit(net, X, Y, optimizer="sgd", lr=1e-6, batch_size=64, shuffle=False, epochs=1)
    # epoch 1's row, numbered by layer like W: dead_fraction[0][l] for hidden layer l
    assert hist.dead_fraction[0][1] == pytest.approx(0.3)
    assert hist.dead_fraction[0][2] == pytest.approx(expected_2)
    assert len(hist.dead_fraction[0]) == 2  # hidden layers only


def test_float32_training_stays_float32():
    X, Y = _data()
    net = dp.Network([4, 5, 1], seed=0, dtype="float32")
    hist = fit(net, X.astype(np.float32), Y.astype(np.float32), epochs=3)
    assert all(W.dtype == np.float32 for W in net.W) and all(b.dtype == np.float32 for b in net.b)
    assert all(isinstance(v, float) for v in hist.loss)


def test_callback_can_stop_training_and_sees_each_epoch():
    X, Y = _data()
    rec = Recorder()

    class StopAt3(Recorder):
        def on_epoch_end(self, state, net):
            super().on_epoch_end(state, net)
            return state.epoch == 3

    stop = StopAt3()
    hist = fit(dp.Network([4, 5, 1], seed=0), X, Y, epochs=10, callbacks=[rec, stop])
    assert rec.epochs == [1, 2, 3] and hist.stopped_reason == "callback" and hist.n_iter == 3


# --- stopping rules and schedules (hand-traced counters, as scikit-learn's) -----------------------


def test_convergence_stops_after_n_iter_no_change_plus_one_epochs():
    # tol larger than any improvement: epoch 1 sets best_loss (count 0), epochs 2 and 3 count
    # 1 and 2; 2 > n_iter_no_change = 1 stops after epoch 3.
    X, Y = _data()
    hist = fit(dp.Network([4, 5, 1], seed=0), X, Y, epochs=50, tol=1e6, n_iter_no_change=1)
    assert hist.n_iter == 3 and hist.stopped_reason == "converged"


def test_adaptive_learning_rate_trace():
    # Same counting; each time the count passes 1 the rate is divided by 5 and the count reset:
    # rates used in epochs 1..7: eta, eta, eta, eta/5, eta/5, eta/25, eta/25.
    X, Y = _data()
    hist = fit(
        dp.Network([4, 5, 1], seed=0),
        X,
        Y,
        optimizer="sgd",
        lr=0.01,
        epochs=7,
        tol=1e6,
        n_iter_no_change=1,
        learning_rate="adaptive",
    )
    np.testing.assert_allclose(hist.lr, [0.01, 0.01, 0.01, 0.002, 0.002, 4e-4, 4e-4], rtol=1e-12)
    assert hist.stopped_reason == "max_epochs"


def test_invscaling_learning_rate_trace():
    X, Y = _data(n=100)
    hist = fit(
        dp.Network([4, 5, 1], seed=0),
        X,
        Y,
        optimizer="sgd",
        lr=0.1,
        epochs=4,
        learning_rate="invscaling",
        power_t=0.5,
        n_iter_no_change=None,
    )
    # epoch e runs with 0.1 / (t + 1)^0.5, t = 100 (e - 1) samples seen before it
    expected = [0.1] + [0.1 / math.sqrt(100 * e + 1) for e in (1, 2, 3)]
    np.testing.assert_allclose(hist.lr, expected, rtol=1e-14)


def test_early_stopping_restores_the_best_validation_weights():
    # Fitting noise: the validation score peaks, then falls as the network overfits.
    r = np.random.default_rng(0)
    X, Y = r.normal(size=(5, 40)), r.normal(size=(1, 40))
    Xv = r.normal(size=(5, 40))
    Yv = 0.3 * Xv[:1] + r.normal(size=(1, 40))
    net = dp.Network([5, 64, 1], seed=0)
    rec = Recorder()
    hist = fit(
        net,
        X,
        Y,
        lr=0.01,
        epochs=300,
        early_stopping=True,
        validation_data=(Xv, Yv),
        n_iter_no_change=5,
        tol=0.0,
        callbacks=[rec],
    )
    best = int(np.argmax(hist.val_score)) + 1
    assert hist.stopped_reason == "early_stopping"
    assert hist.best_epoch == best
    assert hist.n_iter == best + 5 + 1  # count > 5 after six epochs without a new best
    assert _weights_equal(net, rec.W[best - 1], rec.b[best - 1])  # restored, bit for bit
    assert not _weights_equal(net, rec.W[-1], rec.b[-1])
    # the score is R^2 (scikit-learn's) of the validation predictions at that epoch
    from sklearn.metrics import r2_score

    final = dp.Network([5, 64, 1], seed=0)
    for l in (1, 2):
        final.W[l], final.b[l] = rec.W[best - 1][l - 1], rec.b[best - 1][l - 1]
    assert hist.val_score[best - 1] == pytest.approx(
        r2_score(Yv.ravel(), final.forward(Xv).ravel())
    )
    assert len(hist.val_loss) == hist.n_iter


def test_early_stopping_holds_out_a_seeded_fraction():
    X, Y = _data(n=100)
    seen = []
    net = dp.Network([4, 5, 1], seed=0)
    original = net._gradients

    def spy(Xb, Yb):
        seen.append(Xb.shape[1])
        return original(Xb, Yb)

    net._gradients = spy
    hist = fit(net, X, Y, epochs=2, early_stopping=True, validation_fraction=0.2)
    assert seen == [80, 80]  # ceil(0.2 * 100) = 20 held out, batch "auto" = min(200, 80)
    assert len(hist.val_score) == 2 and hist.t == 160


# --- failures: a diverging loss, Ctrl-C ----------------------------------------------------------


def test_non_finite_loss_raises_naming_the_epoch_and_keeps_the_best_weights():
    X, Y = _data()
    net = dp.Network([4, 16, 1], seed=0)
    rec = Recorder()
    with pytest.raises(NonFiniteLossError, match=r"epoch \d+.*smaller learning rate") as info:
        fit(net, X, Y, optimizer="sgd", lr=5.0, momentum=0.9, epochs=200, callbacks=[rec])
    err = info.value
    assert isinstance(err, ValueError)
    assert err.epoch == len(rec.epochs) + 1  # the first epoch whose loss was not finite
    state = err.state
    assert state.epoch == err.epoch - 1 and len(state.history.loss) == state.epoch
    assert all(np.all(np.isfinite(W)) for W in net.W)
    if state.history.best_epoch:
        best = state.history.best_epoch
        assert _weights_equal(net, rec.W[best - 1], rec.b[best - 1])


def _interrupting(net, at_call):
    """Make net._gradients raise KeyboardInterrupt on its at_call-th call (mid-epoch Ctrl-C)."""
    original = net._gradients
    calls = [0]

    def g(Xb, Yb):
        calls[0] += 1
        if calls[0] == at_call:
            raise KeyboardInterrupt
        return original(Xb, Yb)

    net._gradients = g
    return lambda: delattr(net, "_gradients")


RESUME_CASES = [
    dict(optimizer="adam"),
    dict(optimizer="sgd", momentum=0.9, nesterov=True, learning_rate="invscaling"),
    dict(optimizer="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=1),
    dict(optimizer="adam", early_stopping=True, n_iter_no_change=3),
]


@pytest.mark.parametrize("kwargs", RESUME_CASES)
def test_resume_after_interrupt_is_bit_for_bit(kwargs):
    X, Y = _data(n=120)  # 4 batches of <= 30 per epoch (also with 12 held out)
    common = dict(lr=0.01, epochs=9, batch_size=30, seed=3, **kwargs)
    ref = dp.Network([4, 8, 1], seed=1)
    h_ref = fit(ref, X, Y, **common)

    net = dp.Network([4, 8, 1], seed=1)
    rec = Recorder()
    restore = _interrupting(net, at_call=4 * 3 + 2)  # 4 batches per epoch: during epoch 4
    with pytest.raises(TrainingInterrupted) as info:
        fit(net, X, Y, callbacks=[rec], **common)
    restore()
    state = info.value.state
    assert isinstance(info.value, KeyboardInterrupt)
    # rolled back to the end of epoch 3: weights, history, counters
    n_train = 108 if kwargs.get("early_stopping") else 120
    assert state.epoch == 3 and len(state.history.loss) == 3 and state.t == 3 * n_train
    assert _weights_equal(net, rec.W[2], rec.b[2])
    assert state.history.loss == h_ref.loss[:3]

    # through the checkpoint format: arrays + JSON
    arrays, meta = state.to_arrays()
    assert all(isinstance(a, np.ndarray) and a.flags.c_contiguous for a in arrays.values())
    restored = TrainState.from_arrays(arrays, json.loads(json.dumps(meta, allow_nan=False)))
    h = fit(net, X, Y, state=restored, **common)
    assert _weights_equal(net, list(ref.W), list(ref.b))
    assert h.loss == h_ref.loss and h.val_score == h_ref.val_score and h.lr == h_ref.lr
    assert h.stopped_reason == h_ref.stopped_reason and h.best_epoch == h_ref.best_epoch


def test_interrupt_inside_a_callback_keeps_the_completed_epoch():
    X, Y = _data(n=60)

    class CtrlC:
        def on_epoch_end(self, state, net):
            if state.epoch == 2:
                raise KeyboardInterrupt

    net = dp.Network([4, 5, 1], seed=0)
    with pytest.raises(TrainingInterrupted) as info:
        fit(net, X, Y, epochs=5, callbacks=[CtrlC()])
    assert info.value.state.epoch == 2
    assert "end of epoch 2" in str(info.value)


def test_train_state_through_safetensors():
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    X, Y = _data(n=50)
    state = TrainState()
    fit(dp.Network([4, 5, 1], seed=0), X, Y, epochs=3, early_stopping=True, state=state)
    arrays, meta = state.to_arrays()
    blob = safetensors_numpy.save(arrays, metadata={"state": json.dumps(meta, allow_nan=False)})
    back = safetensors_numpy.load(blob)
    again = TrainState.from_arrays(back, json.loads(json.dumps(meta)))
    assert again.history.loss == state.history.loss
    assert again.history.grad_norm == state.history.grad_norm
    assert again.rng_state == state.rng_state and again.best_score == state.best_score
    assert again.optimizer_state.keys() == state.optimizer_state.keys()
    with pytest.raises(ValueError, match="not a deltaprop.TrainState"):
        TrainState.from_arrays(back, {"format": "other"})


# --- other backends ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend",
    [pytest.param("torch", marks=pytest.mark.slow), "array_api_strict"],
)
def test_fit_on_other_backends_matches_numpy(backend):
    if backend == "torch" and not os.environ.get("DELTAPROP_SLOW"):
        pytest.skip("importing torch is slow; DELTAPROP_SLOW=1 (the GPU run covers torch too)")
    pytest.importorskip("torch" if backend == "torch" else "array_api_strict")
    X, Y = _data(n=50)
    ref = dp.Network([4, 6, 1], seed=0)
    net = ref.to(backend)
    h_ref = fit(ref, X, Y, epochs=3, batch_size=16, early_stopping=True)
    xp = net.xp
    h = fit(net, xp.asarray(X), xp.asarray(Y), epochs=3, batch_size=16, early_stopping=True)
    np.testing.assert_allclose(h.loss, h_ref.loss, rtol=1e-12)
    np.testing.assert_allclose(h.grad_norm, h_ref.grad_norm, rtol=1e-12)
    for l in (1, 2):
        np.testing.assert_allclose(dp._array.to_numpy(net.W[l]), ref.W[l], rtol=1e-12, atol=1e-14)


# --- argument errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(epochs=-1), ValueError, "epochs must be >= 0"),
        (dict(epochs=2.5), TypeError, "epochs must be an integer"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(learning_rate="cosine"), ValueError, "learning_rate must be one of"),
        (dict(optimizer="rmsprop"), ValueError, "unknown optimizer 'rmsprop'"),
        (dict(early_stopping=True, validation_fraction=1.5), ValueError, "validation_fraction"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be >= 1"),
        (dict(tol=-1.0), ValueError, "tol must be"),
        (dict(state={}), TypeError, "state must be a TrainState"),
        (dict(validation_data=3), TypeError, "validation_data must be a pair"),
        (dict(seed=-2), ValueError, "seed must be"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    X, Y = _data(n=20)
    with pytest.raises(error, match=match):
        fit(dp.Network([4, 3, 1], seed=0), X, Y, **kwargs)


def test_data_is_validated_once_with_the_networks_messages():
    X, Y = _data(n=20)
    with pytest.raises(ValueError, match="samples are rows: pass X.T"):
        fit(dp.Network([4, 3, 1], seed=0), X.T, Y)
    with pytest.raises(TypeError, match="dtype float32"):
        fit(dp.Network([4, 3, 1], seed=0), X.astype(np.float32), Y)


def test_batch_larger_than_data_is_clipped_with_a_warning():
    X, Y = _data(n=20)
    with pytest.warns(UserWarning, match="clipped to 20"):
        hist = fit(dp.Network([4, 3, 1], seed=0), X, Y, epochs=1, batch_size=64)
    assert hist.t == 20


def test_history_is_a_dataclass_with_copy():
    h = History(loss=[1.0], grad_norm=[[1.0, 2.0]])
    c = h.copy()
    c.loss.append(2.0)
    c.grad_norm[0].append(3.0)
    assert h.loss == [1.0] and h.grad_norm == [[1.0, 2.0]]

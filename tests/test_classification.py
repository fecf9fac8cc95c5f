"""Softmax and the cross-entropies: central differences, JAX, hand-worked values, shortcuts."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import get_activation, sigmoid, softmax
from deltaprop.losses import (
    OUTPUT_DELTA_SHORTCUTS,
    Loss,
    binary_cross_entropy,
    cross_entropy,
    get_loss,
)

rng = np.random.default_rng(5)


# --- softmax ---------------------------------------------------------------------------------


def test_softmax_hand_worked():
    # column (0, ln 2, ln 3): e^z = (1, 2, 3), sum 6, so a = (1/6, 2/6, 3/6)
    Z = np.array([[0.0], [math.log(2.0)], [math.log(3.0)]])
    np.testing.assert_allclose(softmax.g(Z), [[1 / 6], [1 / 3], [1 / 2]], rtol=1e-15)


def test_softmax_columns_are_distributions_and_do_not_overflow():
    Z = np.array([[1e4, -1e4, 0.0, 800.0], [0.0, 1e4, 0.0, -800.0], [-1e4, 0.0, 0.0, 800.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        A = softmax.g(Z)
    np.testing.assert_allclose(A.sum(axis=0), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(A[:, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(A[:, 2], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(A[:, 3], [0.5, 0.0, 0.5], rtol=1e-15)


def _numerical_jacobian(Z_col, eps=1e-6):
    n = Z_col.shape[0]
    Jac = np.zeros((n, n))
    for k in range(n):
        e = np.zeros((n, 1))
        e[k] = eps
        Jac[:, k] = ((softmax.g(Z_col + e) - softmax.g(Z_col - e)) / (2 * eps)).ravel()
    return Jac


def test_softmax_vjp_equals_jacobian_transpose_products():
    Z = rng.normal(size=(4, 6))
    A = softmax.g(Z)
    G = rng.normal(size=(4, 6))
    got = softmax.vjp(Z, A, G)
    for i in range(Z.shape[1]):
        a = A[:, i : i + 1]
        jac = np.diagflat(a) - a @ a.T  # the Jacobian diag(a) - a a^T, written out
        np.testing.assert_allclose(
            got[:, i : i + 1], jac.T @ G[:, i : i + 1], rtol=1e-13, atol=1e-15
        )
        # ... and the Jacobian itself against central differences
        np.testing.assert_allclose(_numerical_jacobian(Z[:, i : i + 1]), jac, rtol=1e-7, atol=1e-9)


def test_softmax_g_prime_is_the_jacobian_diagonal():
    Z = rng.normal(size=(3, 1))
    np.testing.assert_allclose(
        softmax.g_prime(Z).ravel(), np.diag(_numerical_jacobian(Z)), rtol=1e-7
    )


def test_softmax_is_output_only():
    assert not softmax.elementwise
    assert get_activation("softmax", param="output") is softmax
    with pytest.raises(ValueError, match="hidden 'softmax' is not element-wise"):
        dp.Network([3, 4, 2], hidden="softmax")
    with pytest.raises(ValueError, match=r"output layer only: softmax"):
        get_activation("softmaxx")


# --- the cross-entropies -------------------------------------------------------------------


def test_binary_cross_entropy_hand_worked():
    # two outputs, two samples. Sample 1: y = (1, 0), a = (0.8, 0.4):
    #   -(log 0.8 + log 0.6);  sample 2: y = (0, 1), a = (0.5, 0.9): -(log 0.5 + log 0.9)
    A = np.array([[0.8, 0.5], [0.4, 0.9]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = -(math.log(0.8) + math.log(0.6) + math.log(0.5) + math.log(0.9)) / 2
    assert float(binary_cross_entropy.J(A, Y)) == pytest.approx(expected, rel=1e-15)
    # J' = (A - Y) / (m A (1 - A)): for a = 0.8, y = 1: -0.2 / (2 * 0.16) = -0.625
    assert binary_cross_entropy.J_prime(A, Y)[0, 0] == pytest.approx(-0.625, rel=1e-15)


def test_cross_entropy_hand_worked():
    # three classes, two samples: true classes 0 and 2 with probabilities 0.7 and 0.25
    A = np.array([[0.7, 0.5], [0.2, 0.25], [0.1, 0.25]])
    Y = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    assert float(cross_entropy.J(A, Y)) == pytest.approx(-(math.log(0.7) + math.log(0.25)) / 2)
    # J' = -Y / (m A): -1 / (2 * 0.7) for the first sample's true class, 0 elsewhere
    np.testing.assert_allclose(cross_entropy.J_prime(A, Y)[:, 0], [-1 / 1.4, 0.0, 0.0])


@pytest.mark.parametrize("loss", [binary_cross_entropy, cross_entropy])
def test_J_prime_central_differences(loss):
    A = rng.uniform(0.05, 0.95, size=(3, 4))
    Y = rng.uniform(0.0, 1.0, size=(3, 4))
    eps = 1e-7
    numeric = np.zeros_like(A)
    for idx in np.ndindex(A.shape):
        Ap, Am = A.copy(), A.copy()
        Ap[idx] += eps
        Am[idx] -= eps
        numeric[idx] = (float(loss.J(Ap, Y)) - float(loss.J(Am, Y))) / (2 * eps)
    np.testing.assert_allclose(loss.J_prime(A, Y), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    ("act", "loss"), [(sigmoid, binary_cross_entropy), (softmax, cross_entropy)]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturated_outputs_give_finite_costs_and_deltas(act, loss, dtype):
    # softmax/sigmoid of +-1e4 is exactly 0 or 1: log would be -inf without the clip
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=dtype)
    A = act.g(Z)
    Y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=dtype)  # confidently wrong, twice
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        cost = float(loss.J(A, Y))
        dJ = loss.J_prime(A, Y)
        delta = OUTPUT_DELTA_SHORTCUTS[(act, loss)](A, Y)
        general = dJ * act.g_prime(Z) if act.elementwise else act.vjp(Z, A, dJ)
    assert math.isfinite(cost) and np.all(np.isfinite(dJ)) and np.all(np.isfinite(general))
    # each wrong saturated sample costs -log(eps) at most per output: about 36 (f64), 16 (f32)
    assert cost <= 2 * -math.log(np.finfo(dtype).eps) + 1
    np.testing.assert_allclose(delta, (A - Y) / 3, rtol=1e-6)  # (A - Y)/m, exact gradient


# --- the shortcuts: delta^[L] = (A - Y)/m equals equation (ii) ------------------------------------


def test_sigmoid_bce_shortcut_equals_equation_ii():
    Z = rng.normal(size=(2, 5))
    A, Y = sigmoid.g(Z), (rng.uniform(size=(2, 5)) > 0.5).astype(float)
    general = binary_cross_entropy.J_prime(A, Y) * sigmoid.g_prime(Z)  # J' ⊙ g'
    shortcut = OUTPUT_DELTA_SHORTCUTS[(sigmoid, binary_cross_entropy)](A, Y)
    np.testing.assert_allclose(shortcut, general, rtol=1e-13)
    np.testing.assert_allclose(shortcut, (A - Y) / 5, rtol=1e-15)


@pytest.mark.parametrize("one_hot", [True, False])
def test_softmax_ce_shortcut_equals_equation_ii(one_hot):
    Z = rng.normal(size=(4, 6))
    A = softmax.g(Z)
    # one-hot columns, or columns that do not sum to 1: the shortcut equals (ii) either way
    Y = np.eye(4)[:, rng.integers(0, 4, size=6)] if one_hot else rng.uniform(size=(4, 6))
    general = softmax.vjp(Z, A, cross_entropy.J_prime(A, Y))  # (diag(a) - a a^T)^T J'
    shortcut = OUTPUT_DELTA_SHORTCUTS[(softmax, cross_entropy)](A, Y)
    np.testing.assert_allclose(shortcut, general, rtol=1e-12, atol=1e-15)
    if one_hot:
        np.testing.assert_allclose(shortcut, (A - Y) / 6, rtol=1e-15, atol=1e-17)


# --- whole networks: gradcheck (shortcut and general paths) and JAX --------------------------------


def _general(loss):
    """The same cost under another name: no shortcut applies, so (ii) takes the general path."""
    return Loss(f"{loss.name}_general", loss.J, loss.J_prime)


CASES = [("sigmoid", binary_cross_entropy, 3), ("softmax", cross_entropy, 4)]


def _targets(output, n, m, seed):
    r = np.random.default_rng(seed)
    if output == "softmax":
        return np.eye(n)[:, r.integers(0, n, size=m)]
    return (r.uniform(size=(n, m)) > 0.5).astype(float)


@pytest.mark.parametrize(("output", "loss", "n_L"), CASES)
@pytest.mark.parametrize("general", [False, True])
@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_gradcheck_classification_networks(output, loss, n_L, general, hidden):
    net = dp.Network(
        [3, 5, 4, n_L],
        hidden=hidden,
        output=output,
        loss=_general(loss) if general else loss,
        seed=2,
        alpha=0.01,
    )
    X = np.random.default_rng(1).normal(size=(3, 7))
    report = dp.gradcheck(net, X, _targets(output, n_L, 7, 2))
    assert report.ok and report.max_rel_error < 1e-6, report


def test_general_and_shortcut_paths_give_the_same_gradients():
    for output, loss, n_L in CASES:
        fast = dp.Network([3, 6, n_L], output=output, loss=loss, seed=4)
        slow = dp.Network([3, 6, n_L], output=output, loss=_general(loss), seed=4)
        X, Y = rng.normal(size=(3, 9)), _targets(output, n_L, 9, 0)
        J1, dW1, db1 = fast.gradients(X, Y)
        J2, dW2, db2 = slow.gradients(X, Y)
        # the pairing's J comes from the logits (losses.LOGIT_COSTS), the general one from the
        # clipped J(A): equal to rounding away from saturation
        assert abs(J1 - J2) <= 1e-14 * abs(J2)
        for l in (1, 2):
            np.testing.assert_allclose(dW1[l], dW2[l], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(db1[l], db2[l], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("output", "loss", "n_L"), CASES)
def test_classification_gradients_match_jax(output, loss, n_L):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    net = dp.Network([3, 6, 5, n_L], output=output, loss=loss, seed=8, alpha=0.02)
    r = np.random.default_rng(3)
    for l in (1, 2, 3):
        net.b[l] = r.normal(scale=0.3, size=net.b[l].shape)
    X, Y = r.normal(size=(3, 10)), _targets(output, n_L, 10, 4)

    def cost(params):
        A = jnp.asarray(X)
        for W, b in params[:-1]:
            A = jax.nn.relu(W @ A + b)
        W, b = params[-1]
        Z = W @ A + b
        if output == "softmax":  # JAX's own log-softmax, no clipping
            J = -jnp.sum(Y * jax.nn.log_softmax(Z, axis=0)) / 10
        else:
            J = -jnp.sum(Y * jax.nn.log_sigmoid(Z) + (1 - Y) * jax.nn.log_sigmoid(-Z)) / 10
        return J + 0.5 * 0.02 * sum(jnp.sum(W * W) for W, _ in params)

    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.W, net.b)]
    J_ref, grads = jax.jit(jax.value_and_grad(cost))(params)
    J, dW, db = net.gradients(X, Y)
    assert pytest.approx(float(J_ref), rel=1e-13) == J
    for l in (1, 2, 3):
        np.testing.assert_allclose(dW[l], np.asarray(grads[l - 1][0]), rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(db[l], np.asarray(grads[l - 1][1]), rtol=1e-11, atol=1e-14)


def test_registries():
    assert get_loss("binary_cross_entropy") is binary_cross_entropy
    assert get_loss("cross_entropy") is cross_entropy
    with pytest.raises(ValueError, match="known losses: mse, binary_cross_entropy, cross_entropy"):
        get_loss("hinge")


def test_strict_array_api_classification_network():
    xps = pytest.importorskip("array_api_strict")
    for output, loss, n_L in CASES:
        ref = dp.Network([3, 4, n_L], output=output, loss=loss, seed=0)
        net = ref.to("array_api_strict")
        X, Y = rng.normal(size=(3, 5)), _targets(output, n_L, 5, 1)
        J_ref, dW_ref, _ = ref.gradients(X, Y)
        J, dW, _ = net.gradients(xps.asarray(X), xps.asarray(Y))
        assert pytest.approx(J_ref, rel=1e-14) == J
        for l in (1, 2):
            np.testing.assert_allclose(np.asarray(dW[l]), dW_ref[l], rtol=1e-13)


def test_training_a_softmax_classifier_learns():
    r = np.random.default_rng(0)
    centers = np.array([[0.0, 3.0, -3.0], [3.0, -2.0, -2.0]])
    labels = r.integers(0, 3, size=300)
    X = centers[:, labels] + r.normal(scale=0.7, size=(2, 300))
    Y = np.eye(3)[:, labels]
    net = dp.Network([2, 16, 3], output="softmax", loss="cross_entropy", seed=0)
    hist = dp.fit(net, X, Y, lr=0.01, epochs=30, early_stopping=True)
    assert hist.score_name == "accuracy" and hist.val_score[-1] > 0.9
    assert np.mean(np.argmax(net.forward(X), axis=0) == labels) > 0.9

"""Back-propagation against an independent autodiff: JAX in float64 on the same weights.

JAX differentiates the network's cost by its own machinery (no δ, no equation (i)); the
gradients of every layer must agree to 1e-12 relative to the layer's largest entry.

To keep 200+ random shapes fast, the JAX side runs one jit-compiled function per depth on
zero-padded arrays (16 units, 32 samples): padded weights and inputs are exact zeros and padded
outputs and samples are masked out of the cost, so the padding changes no value.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaprop as dp

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

# JAX's own definitions of each activation (independent of deltaprop's).
JAX_ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": jax.nn.relu,
    "leaky_relu": lambda z: jax.nn.leaky_relu(z, negative_slope=0.01),
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,
    # e^z - 1 rather than jax.nn.elu's expm1: JAX differentiates expm1 as expm1(z) + 1, which
    # loses relative accuracy for z << 0; the textbook form's derivative is e^z exactly.
    "elu": lambda z: jnp.where(z > 0, z, jnp.exp(jnp.where(z > 0, 0.0, z)) - 1.0),
}
NAMES = sorted(JAX_ACTIVATIONS)
assert set(NAMES) == set(dp.activations.ACTIVATIONS)
WIDTH, SAMPLES = 16, 32  # padded sizes


def _g(k, Z):
    return jax.lax.switch(k, [JAX_ACTIVATIONS[name] for name in NAMES], Z)


@jax.jit
@jax.value_and_grad
def jax_cost(params, X, Y, mask, m, hidden, output, alpha):
    """J = (1/m) Σ_i ||y_i − a_i||² + (α/2) Σ_l ||W^[l]||², differentiated by JAX."""
    *hidden_layers, (W_L, b_L) = params
    A = X
    for W, b in hidden_layers:
        A = _g(hidden, W @ A + b)
    A = _g(output, W_L @ A + b_L)
    E = (A - Y) * mask
    return jnp.sum(E * E) / m + 0.5 * alpha * sum(jnp.sum(W * W) for W, _ in params)


def _pad(x, rows, cols):
    out = np.zeros((rows, cols))
    out[: x.shape[0], : x.shape[1]] = x
    return jnp.asarray(out)


def assert_matches_jax(net, X, Y, rtol=1e-12):
    sizes, m = net.sizes, X.shape[1]
    params = [(_pad(net.W[l], WIDTH, WIDTH), _pad(net.b[l], WIDTH, 1)) for l in range(1, net.L + 1)]
    mask = _pad(np.ones_like(Y), WIDTH, SAMPLES)
    J_ref, grads = jax_cost(
        params,
        _pad(X, WIDTH, SAMPLES),
        _pad(Y, WIDTH, SAMPLES),
        mask,
        float(m),
        NAMES.index(net.hidden.name),
        NAMES.index(net.output.name),
        net.alpha,
    )
    J, dW, db = net.gradients(X, Y)
    assert pytest.approx(float(J_ref), rel=rtol, abs=1e-300) == J
    worst = 0.0
    for l in range(1, net.L + 1):
        dW_ref = np.asarray(grads[l - 1][0])[: sizes[l], : sizes[l - 1]]
        db_ref = np.asarray(grads[l - 1][1])[: sizes[l], :]
        for ours, ref in ((dW[l], dW_ref), (db[l], db_ref)):
            scale = max(float(np.max(np.abs(ref))), 1e-300)
            err = float(np.max(np.abs(ours - ref))) / scale
            worst = max(worst, err)
            assert err <= rtol, f"layer {l}: relative error {err:.3e}"
    return worst


def _random_biases(net, rng):
    # Nonzero biases: with zero biases a dead unit feeds an exact 0 to the next layer, where
    # ReLU-type kinks make the derivative a convention (ours and JAX's may differ there).
    for l in range(1, net.L + 1):
        net.b[l] = rng.normal(scale=0.5, size=(net.sizes[l], 1))


def test_exercise_network_matches_jax():
    net = dp.Network([4, 16, 16, 3], seed=0)
    rng = np.random.default_rng(0)
    _random_biases(net, rng)
    X, Y = rng.normal(size=(4, 32)), rng.normal(size=(3, 32))
    assert assert_matches_jax(net, X, Y) < 1e-13


def test_l2_penalty_matches_jax():
    net = dp.Network([3, 8, 2], hidden="tanh", seed=1, alpha=0.05)
    rng = np.random.default_rng(1)
    assert_matches_jax(net, rng.normal(size=(3, 10)), rng.normal(size=(2, 10)))


def test_the_comparison_can_fail():
    # A wrong gradient (equation (i) without g') must be caught by the same comparison.
    net = dp.Network([3, 6, 2], seed=0)
    rng = np.random.default_rng(3)
    _random_biases(net, rng)
    net.g = dp.Layers([dp.Activation("relu", net.g[1].g, lambda Z: 1.0 + 0 * Z), net.g[2]], "g")
    with pytest.raises(AssertionError, match="layer 1"):
        assert_matches_jax(net, rng.normal(size=(3, 8)), rng.normal(size=(2, 8)))


@settings(max_examples=250)
@given(
    widths=st.lists(st.integers(1, 16), min_size=2, max_size=7),  # depth L = 1..6
    m=st.integers(1, 32),
    hidden=st.sampled_from(NAMES),
    output=st.sampled_from(NAMES),
    alpha=st.sampled_from([0.0, 0.0, 0.01]),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_networks_match_jax(widths, m, hidden, output, alpha, seed):
    net = dp.Network(widths, hidden=hidden, output=output, seed=seed, alpha=alpha)
    rng = np.random.default_rng(seed)
    _random_biases(net, rng)
    X, Y = rng.normal(size=(widths[0], m)), rng.normal(size=(widths[-1], m))
    assert_matches_jax(net, X, Y)

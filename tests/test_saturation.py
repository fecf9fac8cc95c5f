"""The cross-entropies at saturation: J from the logits, and its gradient the shortcut.

At |Z^[L]| ~ 1e3 a sigmoid or softmax output is exactly 0 or 1 in floating point. The clipped
J(A) is then flat (−log ε) while the shortcut δ^[L] = (A − Y)/m is not zero, so the returned
gradient was not that of the returned J and gradcheck failed. J now comes from the logits
(:data:`deltaprop.losses.LOGIT_COSTS`: softplus, log-sum-exp). Checked here against an
independent reference, mpmath at 500 digits, where σ(1000) = 1 − e^−1000 is representable:

* J from the logits equals the exact cost to float64 rounding, at every |z| up to 1e3;
* the shortcut δ^[L] computed in float64 equals equation (ii), J'(A) ⊙ g'(Z) evaluated
  exactly (no clipping, A = σ(Z) to 500 digits) — the pairing's proof holds at saturation;
* gradcheck passes on whole networks whose outputs saturate.
"""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import sigmoid, softmax
from deltaprop.losses import (
    LOGIT_COSTS,
    OUTPUT_DELTA_SHORTCUTS,
    binary_cross_entropy,
    cross_entropy,
)

mp = pytest.importorskip("mpmath")
mp.mp.dps = 500  # σ(1000) = 1 − e^−1000 ≈ 1 − 1e-435 must differ from 1

ZS = [-1000.0, -700.0, -37.5, -1.0, 0.0, 0.25, 30.0, 745.0, 1000.0]


def _exact_sigmoid(z):
    return 1 / (1 + mp.exp(-mp.mpf(z)))


def _exact_softmax(col):
    e = [mp.exp(mp.mpf(z)) for z in col]
    s = sum(e)
    return [x / s for x in e]


def _close(value, exact, rel=1e-15, abs_=1e-300):
    exact = float(exact)
    assert abs(value - exact) <= max(rel * abs(exact), abs_), (value, exact)


def test_binary_cross_entropy_from_logits_is_exact_and_its_gradient_is_the_shortcut():
    Z = np.array([ZS, ZS[::-1]])  # (2, m): two outputs
    Y = np.array([[1.0 if i % 2 else 0.0 for i in range(len(ZS))], [0.3] * len(ZS)])
    m = Z.shape[1]
    J = float(LOGIT_COSTS[(sigmoid, binary_cross_entropy)](Z, Y))
    exact = 0
    for z, y in zip(Z.ravel(), Y.ravel()):
        a = _exact_sigmoid(z)
        exact -= y * mp.log(a) + (1 - y) * mp.log(1 - a)
    _close(J, exact / m, rel=1e-15)
    # the shortcut (float64) against equation (ii) in exact arithmetic:
    # J'(A) = (A − Y)/(m A (1 − A)), g'(Z) = A (1 − A)
    A = sigmoid.g(Z)
    delta = OUTPUT_DELTA_SHORTCUTS[(sigmoid, binary_cross_entropy)](A, Y)
    for (i, j), d in np.ndenumerate(delta):
        a, y = _exact_sigmoid(Z[i, j]), mp.mpf(Y[i, j])
        ii = (a - y) / (m * a * (1 - a)) * (a * (1 - a))
        _close(d, ii)


def test_cross_entropy_from_logits_is_exact_and_its_gradient_is_the_shortcut():
    Z = np.array(
        [[1000.0, -1000.0, 0.0, 3.0], [0.0, 0.0, 1e-3, -2.0], [-1000.0, 1000.0, 0.0, 700.0]]
    )
    Y = np.array([[0.0, 1.0, 0.2, 0.0], [0.0, 0.0, 0.3, 1.0], [1.0, 0.0, 0.5, 0.0]])
    m = Z.shape[1]
    J = float(LOGIT_COSTS[(softmax, cross_entropy)](Z, Y))
    exact = 0
    for j in range(m):
        a = _exact_softmax(Z[:, j])
        exact -= sum(mp.mpf(Y[k, j]) * mp.log(a[k]) for k in range(3))
    _close(J, exact / m, rel=1e-15)
    A = softmax.g(Z)
    delta = OUTPUT_DELTA_SHORTCUTS[(softmax, cross_entropy)](A, Y)
    for j in range(m):
        a = _exact_softmax(Z[:, j])
        y = [mp.mpf(Y[k, j]) for k in range(3)]
        # (ii) for softmax: (diag(a) − a aᵀ) J'(A), J'(A)_k = −y_k/(m a_k)
        Jp = [-y[k] / (m * a[k]) for k in range(3)]
        for k in range(3):
            ii = a[k] * Jp[k] - a[k] * sum(a[r] * Jp[r] for r in range(3))
            _close(delta[k, j], ii, abs_=1e-19)


@pytest.mark.parametrize(
    "output,loss,n_L", [("sigmoid", "binary_cross_entropy", 2), ("softmax", "cross_entropy", 3)]
)
def test_gradcheck_passes_at_saturation(output, loss, n_L):
    """Inputs of size 1e3 through an identity hidden layer: |Z^[L]| ~ 1e3, outputs 0 or 1."""
    net = dp.Network([2, 3, n_L], hidden="identity", output=output, loss=loss, seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 6)) * 1e3
    Z_L = net.forward_pass(X)[0][net.L]
    assert np.abs(Z_L).max() > 500
    A = net.forward(X)
    assert ((A == 0) | (A == 1)).mean() > 0.5  # saturated
    if output == "softmax":
        Y = np.eye(n_L)[:, rng.integers(0, n_L, size=6)]
    else:
        Y = (rng.uniform(size=(n_L, 6)) > 0.5).astype(float)
    report = dp.gradcheck(net, X, Y)
    assert report.ok, report
    J, dW, db = net.gradients(X, Y)
    assert np.isfinite(J) and J > 100  # the confident mistakes cost ~|z|, not −log ε = 36

"""The core on array_api_strict: no NumPy-only call hides in the equations.

array_api_strict implements the array API standard and nothing else, so any call outside it
fails here. Gradients must equal the NumPy backend's to float64 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import ACTIVATIONS
from deltaprop.losses import LOSSES

xps = pytest.importorskip("array_api_strict")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_run_on_strict_arrays(name):
    Z = np.linspace(-3.0, 3.0, 12).reshape(2, 6) + 1e-3
    act = ACTIVATIONS[name]
    A = act.g(xps.asarray(Z))
    dA = act.g_prime(xps.asarray(Z))
    np.testing.assert_allclose(np.asarray(A), act.g(Z), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(dA), act.g_prime(Z), rtol=1e-15)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_run_on_strict_arrays(name):
    rng = np.random.default_rng(0)
    A, Y = rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0.1, 0.9, (3, 4))
    loss = LOSSES[name]
    assert float(loss.J(xps.asarray(A), xps.asarray(Y))) == pytest.approx(float(loss.J(A, Y)))
    np.testing.assert_allclose(
        np.asarray(loss.J_prime(xps.asarray(A), xps.asarray(Y))), loss.J_prime(A, Y)
    )


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_network_on_strict_equals_numpy(hidden, dtype):
    sizes = [4, 7, 5, 2]
    ref = dp.Network(sizes, hidden=hidden, seed=3, dtype=dtype, alpha=0.01)
    net = dp.Network(
        sizes, hidden=hidden, seed=3, dtype=dtype, alpha=0.01, backend="array_api_strict"
    )
    for l in range(1, ref.L + 1):  # identical initial weights on every backend
        np.testing.assert_array_equal(np.asarray(net.W[l]), ref.W[l])
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(4, 9)).astype(dtype), rng.normal(size=(2, 9)).astype(dtype)
    J_ref, dW_ref, db_ref = ref.gradients(X, Y)
    J, dW, db = net.gradients(xps.asarray(X), xps.asarray(Y))
    tol = 1e-12 if dtype == "float64" else 1e-5
    assert pytest.approx(J_ref, rel=tol) == J
    for l in range(1, ref.L + 1):
        assert isinstance(dW[l], type(xps.asarray(1.0)))
        np.testing.assert_allclose(np.asarray(dW[l]), dW_ref[l], rtol=tol, atol=tol)
        np.testing.assert_allclose(np.asarray(db[l]), db_ref[l], rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(net.forward(xps.asarray(X))), ref.forward(X), rtol=tol)


def test_gradcheck_of_a_strict_network():
    net = dp.Network([3, 5, 2], backend="array_api_strict", seed=0)
    rng = np.random.default_rng(2)
    assert dp.gradcheck(net, rng.normal(size=(3, 6)), rng.normal(size=(2, 6))).ok


def test_strict_network_refuses_other_float_dtype():
    net = dp.Network([3, 2], backend="array_api_strict")
    with pytest.raises(TypeError, match="X has dtype float32"):
        net.forward(xps.asarray(np.ones((3, 2), dtype=np.float32)))


def test_to_converts_between_backends():
    net = dp.Network([3, 4, 1], seed=5)
    strict = net.to("array_api_strict")
    back = strict.to("numpy")
    for l in (1, 2):
        np.testing.assert_array_equal(back.W[l], net.W[l])
    assert strict.backend == "array_api_strict"

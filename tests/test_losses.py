"""The MSE of DESIGN.md, J' by central differences, and the simplified δ^[L] against (ii)."""

from __future__ import annotations

import numpy as np
import pytest

from deltaprop.activations import identity
from deltaprop.losses import LOSSES, OUTPUT_DELTA_SHORTCUTS, get_loss, mse

rng = np.random.default_rng(7)


def test_mse_hand_worked():
    # Two outputs, three samples (columns). A - Y = [[1, -2, 0], [3, 0, 1]].
    A = np.array([[1.0, 0.0, 2.0], [4.0, 1.0, 1.0]])
    Y = np.array([[0.0, 2.0, 2.0], [1.0, 1.0, 0.0]])
    # ||y_i - a_i||^2 per sample: 1 + 9 = 10, 4 + 0 = 4, 0 + 1 = 1; mean over m = 3: 15 / 3 = 5
    assert float(mse.J(A, Y)) == pytest.approx(5.0, rel=1e-15)
    # J' = (2/3)(A - Y), entry by entry, not summed over the outputs
    np.testing.assert_allclose(mse.J_prime(A, Y), (2 / 3) * np.array([[1, -2, 0], [3, 0, 1.0]]))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_J_prime_matches_central_differences(name):
    loss = LOSSES[name]
    A, Y = rng.uniform(0.1, 0.9, size=(3, 5)), rng.uniform(0.1, 0.9, size=(3, 5))
    eps = 1e-6
    numeric = np.zeros_like(A)
    for idx in np.ndindex(A.shape):
        Ap, Am = A.copy(), A.copy()
        Ap[idx] += eps
        Am[idx] -= eps
        numeric[idx] = (float(loss.J(Ap, Y)) - float(loss.J(Am, Y))) / (2 * eps)
    np.testing.assert_allclose(loss.J_prime(A, Y), numeric, rtol=1e-8, atol=1e-10)


def test_mse_derivative_summed_over_outputs_is_wrong():
    # The exercise's slip: dJ/dZ^[L] written as a sum over outputs. Counterexample: with two
    # outputs the summed version has the wrong shape and, broadcast back, the wrong values.
    A, Y = np.array([[1.0], [3.0]]), np.zeros((2, 1))
    correct = mse.J_prime(A, Y)  # (2/1) (A - Y) = [[2], [6]]
    summed = np.sum(2 * (A - Y), axis=0, keepdims=True)  # [[8]]
    np.testing.assert_array_equal(correct, [[2.0], [6.0]])
    assert not np.allclose(np.broadcast_to(summed, correct.shape), correct)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_delta_shortcuts_equal_equation_ii(dtype):
    # Each simplification of (ii) must equal J'(A) ⊙ g'(Z) with the general formula.
    # Its own generator: the draws do not depend on which tests ran before (pytest-xdist).
    rng = np.random.default_rng(49)
    eps = np.finfo(dtype).eps
    for _ in range(20):
        for (act, loss), shortcut in OUTPUT_DELTA_SHORTCUTS.items():
            Z = rng.normal(size=(3, 7)).astype(dtype)
            A = act.g(Z)
            Y = act.g(rng.normal(size=(3, 7)).astype(dtype))
            G = loss.J_prime(A, Y)
            # (ii): J' ⊙ g' element-wise; for softmax the Jacobian-transpose product per column
            general = G * act.g_prime(Z) if act.elementwise else act.vjp(Z, A, G)
            fast = shortcut(A, Y)
            assert fast.dtype == general.dtype
            # softmax's a ⊙ g − a(aᵀg) cancels: an entry near 0 carries rounding of the size of
            # the column's largest terms (measured ≤ 5 eps × max|δ| over 3000 draws), so the
            # bound is absolute, on that scale, besides a relative one.
            scale = np.abs(general).max(axis=0, keepdims=True)
            if act.elementwise:
                np.testing.assert_allclose(fast, general, rtol=10 * eps, atol=0)
            assert np.all(np.abs(fast - general) <= 10 * eps * scale)
    assert (identity, mse) in OUTPUT_DELTA_SHORTCUTS


def test_registry_and_errors():
    assert get_loss("mse") is mse
    with pytest.raises(ValueError, match="known losses: mse"):
        get_loss("mae_typo")
    custom = get_loss((lambda A, Y: ((A - Y) ** 4).sum(), lambda A, Y: 4 * (A - Y) ** 3))
    assert custom.name == "custom"
    with pytest.raises(TypeError, match="loss must be"):
        get_loss(3.0)

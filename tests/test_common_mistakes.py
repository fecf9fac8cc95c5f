"""The common mistakes of docs/derivation.md, each refuted by a small numeric counterexample.

Every test computes a wrong formula and the right one by hand (arithmetic in the comments) and
compares both with central differences of the cost, which use only the forward pass. The wrong
one must miss, the right one must hit; ``test_the_document_quotes_these_numbers`` keeps the
numbers quoted in docs/derivation.md equal to the ones computed here.

Two small networks (ReLU hidden, identity output, MSE), m = 2 samples as columns, no
pre-activation near ReLU's kink at 0 (|Z^[1]| >= 2):

* ``net_221``: the 2-2-1 network of tests/test_network.py::test_hand_worked_2_2_1;
* ``net_222``: the same hidden layer with a second output, so that wrong formulas for W^[1] and
  the output δ have the right shape and can be compared entry by entry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp

DOC = Path(__file__).resolve().parents[1] / "docs" / "derivation.md"

X = np.array([[1.0, 2.0], [3.0, -1.0]])  # samples (1, 3) and (2, -1) as columns
W1 = np.array([[1.0, -1.0], [0.5, 2.0]])
b1 = np.array([[0.0], [-1.0]])
# Z1 = W1 X + b1 = [[1 - 3, 2 + 1], [0.5 + 6 - 1, 1 - 2 - 1]] = [[-2, 3], [5.5, -2]]
# A1 = relu(Z1) = [[0, 3], [5.5, 0]];  step 1[Z1 > 0] = [[0, 1], [1, 0]]
A1 = np.array([[0.0, 3.0], [5.5, 0.0]])


def net_221():
    net = dp.Network([2, 2, 1])
    net.W[1], net.b[1] = W1, b1
    net.W[2], net.b[2] = np.array([[2.0, -3.0]]), np.array([[0.5]])
    # A2 = [2*0 - 3*5.5 + 0.5, 2*3 - 3*0 + 0.5] = [-16, 6.5]
    return net, np.array([[1.0, 0.0]])  # Y; E = A2 - Y = [-17, 6.5]; δ2 = (2/2) E = [-17, 6.5]


def net_222():
    net = dp.Network([2, 2, 2])
    net.W[1], net.b[1] = W1, b1
    net.W[2], net.b[2] = np.array([[2.0, -3.0], [1.0, 1.0]]), np.array([[0.5], [0.0]])
    # A2 = W2 A1 + b2 = [[-16, 6.5], [5.5, 3]]
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    # E = A2 - Y = [[-17, 6.5], [5.5, 2]];  J = (289 + 42.25 + 30.25 + 4) / 2 = 182.75
    # δ2 = (2/m) E = E = [[-17, 6.5], [5.5, 2]]
    return net, Y


def central_differences(net, Y, P, l, eps=1e-6):
    """∂J/∂P[l] entry by entry from (J(θ + ε) − J(θ − ε)) / 2ε: forward passes only."""
    theta = P[l].copy()
    out = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        for sign in (1, -1):
            moved = theta.copy()
            moved[idx] += sign * eps
            P[l] = moved
            out[idx] += sign * net.cost(X, Y) / (2 * eps)
    P[l] = theta
    return out


def refuted(wrong, correct, numeric):
    """The wrong formula misses the numeric derivative; the correct one matches it."""
    np.testing.assert_allclose(correct, numeric, rtol=1e-7, atol=1e-7)
    wrong = np.asarray(wrong)
    if wrong.shape == numeric.shape:
        assert np.max(np.abs(wrong - numeric)) > 1.0
    return True


# --- the counterexamples (quoted in docs/derivation.md, section "Common mistakes") ----------

RELU_ONE_dW1 = [[-8, -115], [12, 172.5]]
RELU_STEP_dW1 = [[26, -13], [51, 153]]
NO_TRANSPOSE_dW2 = [[35.75, -51]]
TRANSPOSE_dW2 = [[19.5, -93.5]]
UNSUMMED_db2 = [[-17, 6.5]]
SUMMED_db2 = [[-10.5]]
WRONG_LAYER_dW1 = [[-4, -57.5], [9.5, 14.5]]
RIGHT_LAYER_dW1 = [[30, -15], [56.5, 169.5]]
SUMMED_OUTPUTS_dW2 = [[25.5, -63.25], [25.5, -63.25]]
ENTRYWISE_dW2 = [[19.5, -93.5], [6, 30.25]]
MATRIX_NORM_J, MSE_J = 365.5, 182.75


def test_relu_prime_written_as_one():
    net, Y = net_221()
    delta2 = np.array([[-17.0, 6.5]])
    W2T_delta2 = net.W[2].T @ delta2  # [[2], [-3]] [-17, 6.5] = [[-34, 13], [51, -19.5]]
    # wrong: relu' = 1, δ1 = W2ᵀ δ2;  dW1 = δ1 Xᵀ = [[-34 + 26, -102 - 13], [51 - 39, 153 + 19.5]]
    wrong = W2T_delta2 @ X.T
    # right: δ1 = 1[Z1 > 0] ⊙ W2ᵀ δ2 = [[0, 13], [51, 0]];  dW1 = [[26, -13], [51, 153]]
    step = np.array([[0.0, 1.0], [1.0, 0.0]])
    correct = (step * W2T_delta2) @ X.T
    np.testing.assert_array_equal(wrong, RELU_ONE_dW1)
    np.testing.assert_array_equal(correct, RELU_STEP_dW1)
    assert refuted(wrong, correct, central_differences(net, Y, net.W, 1))
    np.testing.assert_array_equal(net.gradients(X, Y)[1][1], correct)


def test_missing_transpose_in_dW():
    net, Y = net_221()
    delta2 = np.array([[-17.0, 6.5]])
    # wrong: δ2 A1 (the exercise's δ^[L] · g^[L-1](Z^[L-1])); it has W2's shape (1, 2) only
    # because m = n_1 = 2: [-17*0 + 6.5*5.5, -17*3 + 6.5*0] = [35.75, -51]
    wrong = delta2 @ A1
    # right: δ2 A1ᵀ = [-17*0 + 6.5*3, -17*5.5 + 6.5*0] = [19.5, -93.5]
    correct = delta2 @ A1.T
    np.testing.assert_array_equal(wrong, NO_TRANSPOSE_dW2)
    np.testing.assert_array_equal(correct, TRANSPOSE_dW2)
    assert refuted(wrong, correct, central_differences(net, Y, net.W, 2))
    # with three samples the wrong product does not even have W2's shape
    with pytest.raises(ValueError):
        _ = np.ones((1, 3)) @ np.ones((2, 3))


def test_bias_gradient_not_summed_over_the_batch():
    net, Y = net_221()
    delta2 = np.array([[-17.0, 6.5]])
    # wrong: δ2 itself, one number per sample, shape (1, 2), not b2's (1, 1); neither column
    # nor their mean (-5.25, the 1/m counted twice) is the derivative
    wrong = delta2
    # right: δ2 1_m = -17 + 6.5 = -10.5
    correct = delta2 @ np.ones((2, 1))
    np.testing.assert_array_equal(wrong, UNSUMMED_db2)
    np.testing.assert_array_equal(correct, SUMMED_db2)
    numeric = central_differences(net, Y, net.b, 2)
    assert refuted(wrong, correct, numeric)
    for candidate in (delta2[0, 0], delta2[0, 1], delta2.mean()):
        assert abs(candidate - numeric[0, 0]) > 1.0


def test_wrong_layer_delta_for_W_L_minus_1():
    net, Y = net_222()
    delta2 = np.array([[-17.0, 6.5], [5.5, 2.0]])
    # wrong: ∂J/∂W^[L-1] = δ^[L] (A^[L-2])ᵀ = δ2 Xᵀ
    #   = [[-17 + 13, -51 - 6.5], [5.5 + 4, 16.5 - 2]] = [[-4, -57.5], [9.5, 14.5]]
    wrong = delta2 @ X.T
    # right: δ1 = 1[Z1 > 0] ⊙ (W2ᵀ δ2); W2ᵀ δ2 = [[2, 1], [-3, 1]] δ2 = [[-28.5, 15], [56.5, -17.5]]
    # δ1 = [[0, 15], [56.5, 0]];  dW1 = δ1 Xᵀ = [[30, -15], [56.5, 169.5]];  db1 = [[15], [56.5]]
    delta1 = np.array([[0.0, 1.0], [1.0, 0.0]]) * (net.W[2].T @ delta2)
    correct = delta1 @ X.T
    np.testing.assert_array_equal(wrong, WRONG_LAYER_dW1)
    np.testing.assert_array_equal(correct, RIGHT_LAYER_dW1)
    assert refuted(wrong, correct, central_differences(net, Y, net.W, 1))
    # the bias of layer L-1 likewise: δ2 1_m = [[-10.5], [7.5]] against δ1 1_m = [[15], [56.5]]
    assert refuted(
        delta2.sum(1, keepdims=True),
        delta1.sum(1, keepdims=True),
        central_differences(net, Y, net.b, 1),
    )


def test_mse_derivative_summed_over_outputs():
    net, Y = net_222()
    E = net.forward(X) - Y  # [[-17, 6.5], [5.5, 2]]
    # wrong: ∂J/∂Z^[L] = (2/m) Σ_k (a_k − y_k), one number per sample: [-11.5, 8.5] in each row
    # dW2 = δ2 A1ᵀ: [-11.5*0 + 8.5*3, -11.5*5.5 + 8.5*0] = [25.5, -63.25] in both rows
    wrong_delta2 = np.ones((2, 1)) @ E.sum(0, keepdims=True)
    wrong = wrong_delta2 @ A1.T
    # right: δ2 = (2/m)(A2 − Y) = E entry-wise; dW2 = [[19.5, -93.5], [5.5*0 + 2*3, 5.5*5.5]]
    correct = E @ A1.T
    np.testing.assert_array_equal(wrong, SUMMED_OUTPUTS_dW2)
    np.testing.assert_array_equal(correct, ENTRYWISE_dW2)
    assert refuted(wrong, correct, central_differences(net, Y, net.W, 2))


def test_mse_norm_of_the_whole_matrix_inside_the_sum():
    net, Y = net_222()
    E = net.forward(X) - Y
    m = 2
    # wrong: (1/m) Σ_i ||Y − A||² with the norm of the whole matrix: every term is the same,
    # ||E||_F² = 289 + 42.25 + 30.25 + 4 = 365.5, so the "mean" is m = 2 times too large
    wrong = sum(np.sum(E * E) for _ in range(m)) / m
    # right: (1/m) Σ_i ||y_i − a_i||² (the norm of column i) = 365.5 / 2 = 182.75
    correct = sum(np.sum(E[:, i] ** 2) for i in range(m)) / m
    assert (wrong, correct) == (MATRIX_NORM_J, MSE_J)
    assert net.cost(X, Y) == correct


def _fmt(values):
    """[[26, -13], [51, 153]] as the document writes it (numbers in %g)."""
    if np.ndim(values) == 0:
        return f"{values:g}"
    return "[" + ", ".join(_fmt(v) for v in values) + "]"


def test_the_document_quotes_these_numbers():
    text = DOC.read_text(encoding="utf-8")
    quoted = [
        RELU_ONE_dW1,
        RELU_STEP_dW1,
        NO_TRANSPOSE_dW2,
        TRANSPOSE_dW2,
        UNSUMMED_db2,
        SUMMED_db2,
        WRONG_LAYER_dW1,
        RIGHT_LAYER_dW1,
        SUMMED_OUTPUTS_dW2,
        ENTRYWISE_dW2,
        MATRIX_NORM_J,
        MSE_J,
    ]
    missing = [_fmt(q) for q in quoted if _fmt(q) not in text]
    assert not missing, f"docs/derivation.md does not quote {missing}"

"""The Network contract of DESIGN.md, a hand-worked example, central differences, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import ACTIVATIONS


def _data(sizes, m, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(sizes[0], m)), rng.normal(size=(sizes[-1], m))


# --- the shape and indexing contract -----------------------------------------------------------


def test_layers_are_numbered_from_one():
    net = dp.Network([3, 5, 4, 2])
    assert net.L == 3 and net.sizes == [3, 5, 4, 2]
    for l in range(1, net.L + 1):
        assert net.W[l].shape == (net.sizes[l], net.sizes[l - 1])
        assert net.b[l].shape == (net.sizes[l], 1)
    assert net.W[-1] is net.W[3]
    assert len(net.W) == net.L
    with pytest.raises(IndexError, match="layers are numbered 1..3"):
        net.W[0]
    with pytest.raises(IndexError, match=r"b\[0\] does not exist"):
        net.b[0]
    with pytest.raises(IndexError, match=r"W\[4\] does not exist"):
        net.W[4]


def test_gradients_are_indexed_like_the_parameters():
    net = dp.Network([3, 5, 2])
    X, Y = _data(net.sizes, 7)
    J, dW, db = net.gradients(X, Y)
    assert isinstance(J, float)
    for l in (1, 2):
        assert dW[l].shape == net.W[l].shape and db[l].shape == net.b[l].shape
    with pytest.raises(IndexError):
        dW[0]


def test_forward_pass_keeps_Z_and_A():
    net = dp.Network([3, 4, 2])
    X, _ = _data(net.sizes, 5)
    Z, A = net.forward_pass(X)
    assert Z[0] is None and A[0] is X
    np.testing.assert_allclose(Z[1], net.W[1] @ X + net.b[1])
    np.testing.assert_allclose(A[1], np.maximum(Z[1], 0))
    np.testing.assert_allclose(A[2], net.forward(X))


def test_parameters_are_assignable_and_validated():
    net = dp.Network([2, 3, 1])
    net.W[1] = np.ones((3, 2))
    np.testing.assert_array_equal(net.W[1], np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"W\[1\] must have shape \(3, 2\); got \(2, 3\)"):
        net.W[1] = np.ones((2, 3))
    with pytest.raises(TypeError, match=r"b\[2\] has dtype float32"):
        net.b[2] = np.zeros((1, 1), dtype=np.float32)


def test_seed_reproduces_weights_and_init_rules():
    a, b = dp.Network([50, 400, 300], seed=3), dp.Network([50, 400, 300], seed=3)
    np.testing.assert_array_equal(a.W[1], b.W[1])
    assert not np.array_equal(a.W[1], dp.Network([50, 400, 300], seed=4).W[1])
    # He for the ReLU layer: variance 2 / n_0; Glorot uniform for identity: r^2 / 3 = 2 / (n_in+n_out)
    assert np.var(a.W[1]) == pytest.approx(2 / 50, rel=0.05)
    assert np.var(a.W[2]) == pytest.approx(2 / (400 + 300), rel=0.05)
    assert np.all(a.b[1] == 0) and np.all(a.b[2] == 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept(dtype):
    net = dp.Network([3, 4, 2], dtype=dtype)
    X, Y = _data(net.sizes, 5)
    X, Y = X.astype(dtype), Y.astype(dtype)
    J, dW, db = net.gradients(X, Y)
    assert net.forward(X).dtype == np.dtype(dtype)
    assert all(g.dtype == np.dtype(dtype) for g in [*dW, *db])


# --- a hand-worked 2-2-1 example (ReLU hidden, identity output, MSE) ------------------------


def test_hand_worked_2_2_1():
    net = dp.Network([2, 2, 1])
    net.W[1] = np.array([[1.0, -1.0], [0.5, 2.0]])
    net.b[1] = np.array([[0.0], [-1.0]])
    net.W[2] = np.array([[2.0, -3.0]])
    net.b[2] = np.array([[0.5]])
    X = np.array([[1.0, 2.0], [3.0, -1.0]])  # two samples as columns: (1, 3) and (2, -1)
    Y = np.array([[1.0, 0.0]])
    # Z1 = W1 X + b1: sample 1: 1*1 - 1*3 + 0 = -2,  0.5*1 + 2*3 - 1 = 5.5
    #                 sample 2: 1*2 - 1*(-1) + 0 = 3, 0.5*2 + 2*(-1) - 1 = -2
    # A1 = relu(Z1) = [[0, 3], [5.5, 0]]
    # Z2 = W2 A1 + b2 = [2*0 - 3*5.5 + 0.5, 2*3 - 3*0 + 0.5] = [-16, 6.5] = A2
    # J = (1/2)((-16 - 1)^2 + (6.5 - 0)^2) = (289 + 42.25) / 2 = 165.625
    J, dW, db = net.gradients(X, Y)
    assert J == 165.625
    # (ii) δ2 = (2/m)(A2 - Y) = [-17, 6.5]
    # dW2 = δ2 A1ᵀ = [-17*0 + 6.5*3, -17*5.5 + 6.5*0] = [19.5, -93.5];  db2 = -17 + 6.5 = -10.5
    np.testing.assert_array_equal(dW[2], [[19.5, -93.5]])
    np.testing.assert_array_equal(db[2], [[-10.5]])
    # (i) δ1 = 1[Z1 > 0] ⊙ (W2ᵀ δ2) = [[0,1],[1,0]] ⊙ [[-34, 13], [51, -19.5]] = [[0, 13], [51, 0]]
    # dW1 = δ1 Xᵀ = [[0*1 + 13*2, 0*3 + 13*(-1)], [51*1 + 0*2, 51*3 + 0*(-1)]] = [[26, -13], [51, 153]]
    # db1 = δ1 1_m = [[13], [51]]
    np.testing.assert_array_equal(dW[1], [[26.0, -13.0], [51.0, 153.0]])
    np.testing.assert_array_equal(db[1], [[13.0], [51.0]])


def test_l2_penalty_adds_alpha_W():
    X, Y = _data([3, 4, 2], 6)
    plain, pen = dp.Network([3, 4, 2], seed=2), dp.Network([3, 4, 2], seed=2, alpha=0.3)
    J0, dW0, db0 = plain.gradients(X, Y)
    J1, dW1, db1 = pen.gradients(X, Y)
    penalty = 0.15 * sum(np.sum(W * W) for W in plain.W)
    assert pytest.approx(J0 + penalty, rel=1e-14) == J1
    for l in (1, 2):
        np.testing.assert_allclose(dW1[l], dW0[l] + 0.3 * plain.W[l], rtol=1e-14)
        np.testing.assert_array_equal(db1[l], db0[l])  # biases are not penalised
    assert dp.gradcheck(pen, X, Y).ok


# --- central differences on whole networks -------------------------------------------------


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("output", ["identity", "sigmoid", "tanh"])
def test_gradcheck_every_activation(hidden, output):
    net = dp.Network([3, 5, 4, 2], hidden=hidden, output=output, seed=11)
    X, Y = _data(net.sizes, 9, seed=5)
    report = dp.gradcheck(net, X, Y)
    assert report.ok, report
    assert report.max_rel_error < 1e-6
    assert [r.layer for r in report.layers] == [1, 2, 3]


def test_gradcheck_detects_a_wrong_backward_pass():
    # A check that cannot fail is worthless: break equation (i) with the slip "ReLU' = 1".
    net = dp.Network([3, 6, 2], seed=0)
    X, Y = _data(net.sizes, 8)
    relu_prime_one = dp.Activation("relu", net.g[1].g, lambda Z: np.ones_like(Z))
    net.g = dp.Layers([relu_prime_one, net.g[2]], "g")
    report = dp.gradcheck(net, X, Y)
    assert not report.ok
    assert report.layers[0].max_rel_error > 1e-2  # layer 1's gradient is wrong ...
    assert report.layers[1].max_rel_error < 1e-6  # ... layer 2's (before (i) is used) is not


def test_gradcheck_float32_network_is_checked_in_float64():
    net = dp.Network([4, 6, 2], dtype="float32", seed=1)
    X, Y = _data(net.sizes, 5)
    report = dp.gradcheck(net, X.astype(np.float32), Y.astype(np.float32))
    assert report.ok and report.max_rel_error < 1e-6
    assert net.W[1].dtype == np.float32  # the original is untouched


def test_gradcheck_directional_mode():
    net = dp.Network([20, 30, 30, 3], seed=4)
    X, Y = _data(net.sizes, 12)
    report = dp.gradcheck(net, X, Y, mode="directional", n_directions=4)
    assert report.ok and report.mode == "directional"
    assert all(r.n_checked == 8 for r in report.layers)


def test_gradcheck_leaves_the_network_unchanged():
    net = dp.Network([3, 4, 1], seed=0)
    before = [w.copy() for w in net.W]
    dp.gradcheck(net, *_data(net.sizes, 4))
    for w0, w1 in zip(before, net.W):
        np.testing.assert_array_equal(w0, w1)


def test_custom_pairs_plug_into_the_equations():
    cube = (lambda Z: Z**3, lambda Z: 3 * Z**2)
    quartic = (
        lambda A, Y: np.sum((A - Y) ** 4) / A.shape[1],
        lambda A, Y: 4 * (A - Y) ** 3 / A.shape[1],
    )
    net = dp.Network([2, 3, 2], hidden="tanh", output=cube, loss=quartic, seed=0)
    assert dp.gradcheck(net, *_data(net.sizes, 5)).ok


# --- bad input: ValueError / TypeError naming the parameter and the value ----------------


@pytest.mark.parametrize(
    ("X", "Y", "error", "match"),
    [
        (
            np.ones((4, 5)),
            np.ones((2, 5)),
            ValueError,
            r"X must have n_0 = 3 rows.*got shape \(4, 5\)",
        ),
        (np.ones((5, 3)), np.ones((2, 5)), ValueError, r"samples are rows: pass X.T"),
        (np.ones(3), np.ones((2, 1)), ValueError, r"X must be 2-D.*reshape\(-1, 1\)"),
        (
            np.ones((3, 5)),
            np.ones((2, 4)),
            ValueError,
            r"Y must have one column per sample of X \(m = 5\)",
        ),
        (np.ones((3, 5)), np.ones((1, 5)), ValueError, r"Y must have n_L = 2 rows"),
        (
            np.full((3, 2), np.nan),
            np.ones((2, 2)),
            ValueError,
            r"X must be finite.*row 0, column 0",
        ),
        (
            np.ones((3, 2)),
            np.array([[1.0, np.inf], [0, 0]]),
            ValueError,
            r"Y must be finite.*row 0, column 1",
        ),
        (np.ones((3, 2), np.float32), np.ones((2, 2)), TypeError, r"X has dtype float32.*float64"),
        (np.array([["a"] * 2] * 3), np.ones((2, 2)), TypeError, r"X must hold real numbers"),
    ],
)
def test_bad_X_and_Y(X, Y, error, match):
    net = dp.Network([3, 4, 2])
    with pytest.raises(error, match=match):
        net.gradients(X, Y)


def test_integer_and_list_inputs_are_converted():
    net = dp.Network([2, 3, 1])
    out = net.forward([[1, 2], [3, 4]])
    assert out.shape == (1, 2) and out.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sizes": [3]}, ValueError, "at least the input and output widths"),
        ({"sizes": [3, 0, 1]}, ValueError, r"sizes\[1\] must be >= 1.*got 0"),
        ({"sizes": [3, -2, 1]}, ValueError, r"sizes\[1\] must be >= 1"),
        ({"sizes": [3, 2.5, 1]}, TypeError, r"sizes\[1\] must be an integer"),
        ({"sizes": 7}, TypeError, "sizes must be a sequence"),
        (
            {"sizes": [3, 1], "hidden": "rellu"},
            ValueError,
            r"unknown hidden 'rellu'; known activations: elu",
        ),
        ({"sizes": [3, 1], "output": "softmaxx"}, ValueError, r"unknown output 'softmaxx'"),
        ({"sizes": [3, 1], "loss": "l3"}, ValueError, r"unknown loss 'l3'; known losses"),
        (
            {"sizes": [3, 1], "dtype": "float16"},
            ValueError,
            r"dtype must be one of float32, float64",
        ),
        ({"sizes": [3, 1], "backend": "tensorflow"}, ValueError, r"backend must be one of numpy"),
        ({"sizes": [3, 1], "alpha": -1}, ValueError, r"alpha must be a finite number >= 0"),
        ({"sizes": [3, 1], "seed": "x"}, TypeError, r"seed must be None, an int"),
    ],
)
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        dp.Network(**kwargs)


def test_repr_and_copy_and_to():
    net = dp.Network([2, 3, 1])
    assert "Network([2, 3, 1]" in repr(net)
    other = net.copy()
    other.W[1][0, 0] = 123.0
    assert net.W[1][0, 0] != 123.0
    n32 = net.astype("float32")
    assert n32.W[1].dtype == np.float32 and net.W[1].dtype == np.float64
    assert net.n_parameters == 3 * 3 + 1 * 4

"""The NumPy fast path (deltaprop._fast) gives what the reference gives, and allocates less.

``Network._reference_gradients`` is ``forward_pass`` + ``backward`` (equations (ii) and (i) as
written) + the cost; it is itself checked against central differences and JAX float64 in
test_network.py and test_jax_reference.py. Here the fast path must equal it bit for bit (the
same floating-point operations in the same order, only into reused buffers) for every
activation, both dtypes and several shapes; with ``alpha > 0`` the gradients stay bit for bit
and the cost's L2 term (a BLAS dot product instead of a pairwise sum) agrees to rounding.
Then: buffers are reused but never leak into results, threads do not mix, copies do not share,
and a warm step allocates nothing but its gradients (tracemalloc sees NumPy's allocations).
"""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop import _fast
from deltaprop.activations import ACTIVATIONS

ACTS = sorted(ACTIVATIONS)
SHAPES = [
    ([3, 1], 1),  # one layer, one sample
    ([4, 5, 1], 7),  # single output: the outer-product branch
    ([6, 8, 7, 3], 16),  # several outputs: the matmul branch
    ([5, 9, 1, 4, 2], 3),  # a hidden layer of width 1 in the middle
]


def _data(sizes, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(sizes[0], m)).astype(dtype)
    Y = rng.normal(size=(sizes[-1], m)).astype(dtype)
    return X, Y


def _biased(net, seed=1):
    """Non-zero biases, so that a missing + b would show."""
    rng = np.random.default_rng(seed)
    for l in range(1, net.L + 1):
        net.b[l] = rng.normal(size=net.b[l].shape).astype(net.dtype_name)
    return net


def assert_same(fast, ref, rtol_J=0.0):
    J, dW, db = fast
    J_ref, dW_ref, db_ref = ref
    if rtol_J:
        assert float(J) == pytest.approx(float(J_ref), rel=rtol_J)
    else:
        assert float(J) == float(J_ref)
    assert len(dW) == len(dW_ref) and len(db) == len(db_ref)
    for l in range(1, len(dW_ref) + 1):
        assert dW[l].dtype == dW_ref[l].dtype and dW[l].shape == dW_ref[l].shape
        np.testing.assert_array_equal(dW[l], dW_ref[l], err_msg=f"dW[{l}]")
        np.testing.assert_array_equal(db[l], db_ref[l], err_msg=f"db[{l}]")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", ACTS)
@pytest.mark.parametrize("sizes,m", SHAPES)
def test_fast_equals_reference_bit_for_bit(sizes, m, hidden, dtype):
    for output in ("identity", hidden):  # the fused MSE + identity branch and the general one
        net = _biased(dp.Network(sizes, hidden=hidden, output=output, dtype=dtype, seed=2))
        X, Y = _data(sizes, m, dtype)
        assert _fast.applicable(net, X, Y)
        assert_same(net._gradients(X, Y), net._reference_gradients(X, Y))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", ["relu", "tanh", "identity"])
def test_fast_equals_reference_with_l2(hidden, dtype):
    net = _biased(dp.Network([6, 8, 7, 1], hidden=hidden, dtype=dtype, alpha=0.3, seed=4))
    X, Y = _data(net.sizes, 9, dtype)
    rtol = 1e-6 if dtype == "float32" else 1e-14
    assert_same(net._gradients(X, Y), net._reference_gradients(X, Y), rtol_J=rtol)


def test_l2_chunks_cover_every_row(monkeypatch):
    # A chunk of 5 elements on rows of 3 columns: blocks of 1 row, so every block boundary is
    # crossed; dW must still equal the reference's dW + α W everywhere.
    monkeypatch.setattr(_fast, "_CHUNK", 5)
    net = _biased(dp.Network([3, 7, 2], alpha=1.5, seed=5))
    X, Y = _data(net.sizes, 4, "float64")
    assert_same(net._gradients(X, Y), net._reference_gradients(X, Y), rtol_J=1e-14)


def test_strided_and_fortran_batches():
    # The fit loop passes column slices Xs[:, start:stop]; the estimator may pass X.T.
    net = _biased(dp.Network([5, 6, 2], seed=6))
    X, Y = _data(net.sizes, 40, "float64")
    for Xb, Yb in ((X[:, 8:24], Y[:, 8:24]), (np.asfortranarray(X), np.asfortranarray(Y))):
        assert_same(net._gradients(Xb, Yb), net._reference_gradients(Xb, Yb))


def test_hand_worked_step_through_the_fast_path():
    # sizes [1, 2, 1], ReLU hidden, identity output, MSE, one sample x = 1, y = 0:
    #   W1 = [[2], [-1]], b1 = [[0], [0]]  ->  Z1 = [[2], [-1]], A1 = [[2], [0]]
    #   W2 = [[3, 5]],    b2 = [[1]]       ->  Z2 = A2 = 3*2 + 5*0 + 1 = 7
    #   J = (7 - 0)^2 / 1 = 49;  δ2 = (2/1)(7 - 0) = 14
    #   dW2 = δ2 A1ᵀ = [[28, 0]], db2 = [[14]]
    #   W2ᵀ δ2 = [[42], [70]];  g'(Z1) = [[1], [0]]  ->  δ1 = [[42], [0]]
    #   dW1 = δ1 xᵀ = [[42], [0]], db1 = [[42], [0]]
    net = dp.Network([1, 2, 1])
    net.W[1], net.b[1] = np.array([[2.0], [-1.0]]), np.zeros((2, 1))
    net.W[2], net.b[2] = np.array([[3.0, 5.0]]), np.array([[1.0]])
    X, Y = np.array([[1.0]]), np.array([[0.0]])
    for _ in range(2):  # the second call runs on the reused buffers
        J, dW, db = net._gradients(X, Y)
        assert float(J) == 49.0
        np.testing.assert_array_equal(dW[2], [[28.0, 0.0]])
        np.testing.assert_array_equal(db[2], [[14.0]])
        np.testing.assert_array_equal(dW[1], [[42.0], [0.0]])
        np.testing.assert_array_equal(db[1], [[42.0], [0.0]])


def test_central_differences_through_the_fast_path():
    # An independent check of the fast path itself (not only equality with the reference).
    net = _biased(dp.Network([3, 5, 4, 2], hidden="tanh", seed=7))
    X, Y = _data(net.sizes, 6, "float64")
    _, dW, db = net._gradients(X, Y)
    eps = 1e-6
    for P, dP in ((net.W, dW), (net.b, db)):
        for l in (1, 3):
            i, j = 1, 0
            old = P[l][i, j]
            P[l][i, j] = old + eps
            Jp = net.cost(X, Y)
            P[l][i, j] = old - eps
            Jm = net.cost(X, Y)
            P[l][i, j] = old
            assert dP[l][i, j] == pytest.approx((Jp - Jm) / (2 * eps), rel=1e-7, abs=1e-10)


@settings(max_examples=40)
@given(
    widths=st.lists(st.integers(1, 9), min_size=2, max_size=5),
    m=st.integers(1, 12),
    hidden=st.sampled_from(ACTS),
    output=st.sampled_from(ACTS),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_fast_equals_reference_property(widths, m, hidden, output, dtype, seed):
    net = _biased(dp.Network(widths, hidden=hidden, output=output, dtype=dtype, seed=seed))
    X, Y = _data(widths, m, dtype, seed)
    assert_same(net._gradients(X, Y), net._reference_gradients(X, Y))


# --- buffers: reused, never shared, never returned ---------------------------------------------


def test_results_are_fresh_and_buffers_are_reused():
    net = _biased(dp.Network([4, 6, 6, 1], seed=8))
    X1, Y1 = _data(net.sizes, 10, "float64", seed=1)
    X2, Y2 = _data(net.sizes, 10, "float64", seed=2)
    J1, dW1, db1 = net._gradients(X1, Y1)
    keep = [a.copy() for a in (*dW1, *db1)]
    ws = _fast.workspace(net, 10)
    J2, dW2, db2 = net._gradients(X2, Y2)
    assert _fast.workspace(net, 10) is ws  # the same buffers serve the next call
    for a, b in zip((*dW1, *db1), keep):  # ...and the first call's results are untouched
        np.testing.assert_array_equal(a, b)
    buffers = [x for x in (*ws.Z, *ws.A, ws.E, ws.S) if x is not None]
    for a in (*dW2, *db2):
        assert not any(np.shares_memory(a, x) for x in buffers)
    assert_same((J2, dW2, db2), net._reference_gradients(X2, Y2))


def test_alternating_batch_widths_and_cache_bound():
    net = _biased(dp.Network([3, 5, 2], seed=9))
    for m in (8, 3, 8, 3, 5, 8):
        X, Y = _data(net.sizes, m, "float64", seed=m)
        assert_same(net._gradients(X, Y), net._reference_gradients(X, Y))
    assert sorted(_fast._CACHE[net]) == [5, 8]  # the two most recent widths


def test_public_gradients_keep_no_buffers():
    net = dp.Network([3, 5, 2], seed=10)
    X, Y = _data(net.sizes, 4, "float64")
    J, dW, db = net.gradients(X, Y)
    assert net not in _fast._CACHE
    J_ref, dW_ref, db_ref = net._reference_gradients(X, Y)
    assert_same((J, dW, db), (J_ref, dW_ref, db_ref))


def test_copies_and_parameter_changes_are_seen():
    net = _biased(dp.Network([3, 5, 2], seed=11))
    X, Y = _data(net.sizes, 6, "float64")
    net._gradients(X, Y)
    twin = net.copy()
    twin.W[1] = twin.W[1] * 2.0
    assert_same(twin._gradients(X, Y), twin._reference_gradients(X, Y))
    assert_same(net._gradients(X, Y), net._reference_gradients(X, Y))
    net.W[2][0, 0] += 1.0  # an in-place change, as the optimisers make
    assert_same(net._gradients(X, Y), net._reference_gradients(X, Y))


def test_threads_on_one_network_do_not_mix():
    net = _biased(dp.Network([8, 32, 32, 2], seed=12))
    batches = [_data(net.sizes, 64, "float64", seed=s) for s in range(4)]
    expected = [net._reference_gradients(X, Y) for X, Y in batches]
    errors: list[BaseException] = []

    def work(k):
        try:
            for _ in range(30):
                assert_same(net._gradients(*batches[k]), expected[k])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_other_cases_take_the_reference_path():
    net = dp.Network([3, 4, 2], dtype="float32")
    X, Y = _data(net.sizes, 5, "float64")
    assert not _fast.applicable(net, X, Y)  # dtype mismatch
    assert not _fast.applicable(net, X.astype("float32")[:, :0], Y.astype("float32")[:, :0])
    assert not _fast.applicable(net, X.astype("float32").tolist(), Y.astype("float32"))
    assert not _fast.applicable(net.to("array_api_strict"), X, Y)
    X32, Y32 = X.astype("float32"), Y.astype("float32")
    assert not _fast.applicable(net, X32[:2], Y32)  # wrong n_0
    assert _fast.applicable(net, X32, Y32)


# --- memory: a warm step allocates its gradients and nothing parameter-sized besides -------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_warm_step_allocates_only_the_gradients(dtype):
    from deltaprop.optim import SGD

    net = dp.Network([64, 256, 256, 1], dtype=dtype, seed=13)
    X, Y = _data(net.sizes, 128, dtype)
    opt = SGD(lr=1e-3)
    J, dW, db = net._gradients(X, Y)  # first call: allocates the workspace
    opt.step(net, dW, db)
    del J, dW, db
    grads = sum(W.nbytes + b.nbytes for W, b in zip(net.W, net.b))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        J, dW, db = net._gradients(X, Y)
        opt.step(net, dW, db)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # The gradients themselves, plus small change (scalars, list objects): far below one more
    # W^[2] (256 x 256), which a single parameter-sized temporary would add.
    assert grads <= peak <= grads + 16 * 1024, (peak, grads)


def test_plain_sgd_first_step_allocates_nothing_parameter_sized():
    # SGD without momentum keeps no state: even its first step (which sets up the optimiser)
    # must not allocate a flat copy of the gradients, or a step's peak memory grows by the
    # parameters' size (the issue's budget is parameters + gradients + Z + A).
    from deltaprop.optim import SGD

    net = dp.Network([64, 256, 256, 1], dtype="float32", seed=14)
    X, Y = _data(net.sizes, 32, "float32")
    _, dW, db = net._gradients(X, Y)
    W_before = net.W[2].copy()
    opt = SGD(lr=0.5)
    tracemalloc.start()
    try:
        opt.step(net, dW, db)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 16 * 1024, peak  # one W^[2] alone would be 256 KiB
    assert not np.array_equal(net.W[2], W_before)  # ... and the step was taken


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "output,loss,k",
    [
        ("softmax", "cross_entropy", 3),  # an output activation that is not element-wise
        ("sigmoid", "binary_cross_entropy", 1),
        ("softmax", "mse", 3),  # no shortcut: the softmax Jacobian's transpose, column by column
    ],
)
def test_fast_equals_reference_for_classifier_outputs(output, loss, k, dtype):
    rng = np.random.default_rng(15)
    net = _biased(dp.Network([4, 6, 5, k], output=output, loss=loss, dtype=dtype, seed=16))
    X = rng.normal(size=(4, 9)).astype(dtype)
    if loss == "cross_entropy":
        Y = np.eye(k, dtype=dtype)[:, rng.integers(0, k, 9)]  # one-hot columns
    else:
        Y = rng.integers(0, 2, (k, 9)).astype(dtype)
    assert _fast.applicable(net, X, Y)
    assert_same(net._gradients(X, Y), net._reference_gradients(X, Y))


# --- sample weights: (ii) and J weighted, the rest unchanged -----------------------------------

WEIGHTED = [
    ("relu", "identity", "mse", 2),  # the fused MSE + identity branch
    ("tanh", "tanh", "mse", 2),  # the general branch, an element-wise output
    ("relu", "sigmoid", "binary_cross_entropy", 1),
    ("tanh", "softmax", "cross_entropy", 3),
    ("relu", "softmax", "mse", 3),  # per-sample costs column by column, the softmax Jacobian
]


def _weighted_case(hidden, output, loss, k, dtype, alpha=0.0, m=9, seed=20):
    rng = np.random.default_rng(seed)
    net = dp.Network(
        [4, 6, 5, k], hidden=hidden, output=output, loss=loss, dtype=dtype, alpha=alpha, seed=21
    )
    _biased(net, seed)
    X = rng.normal(size=(4, m)).astype(dtype)
    if loss == "cross_entropy":
        Y = np.eye(k, dtype=dtype)[:, rng.integers(0, k, m)]
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (k, m)).astype(dtype)
    else:
        Y = rng.normal(size=(k, m)).astype(dtype)
    w = rng.uniform(0.0, 3.0, size=(1, m)).astype(dtype)
    w[0, ::4] = 0.0
    return net, X, Y, w


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden,output,loss,k", WEIGHTED)
def test_weighted_fast_equals_the_weighted_reference(hidden, output, loss, k, dtype):
    # the reference: Network.backward with the weights, and the weighted cost
    for alpha in (0.0, 0.3):
        net, X, Y, w = _weighted_case(hidden, output, loss, k, dtype, alpha)
        assert _fast.applicable(net, X, Y, w)
        Z, A = net._forward_pass(X)
        _, dW_ref, db_ref = net.backward(Z, A, Y, w)
        J_ref = net._weighted_cost(A[net.L], Y, Z[net.L], w)
        fast = _fast.gradients(net, X, Y, sample_weight=w)
        rtol_J = (1e-6 if dtype == "float32" else 1e-13) if alpha else 0.0  # L2 term: rounding
        assert_same(fast, (J_ref, dW_ref, db_ref), rtol_J=rtol_J)


@pytest.mark.parametrize("hidden,output,loss,k", WEIGHTED)
def test_weighted_fast_gradients_by_central_differences(hidden, output, loss, k):
    # an independent J: Σ_i w_i J(column i alone) / Σ_i w_i (the L2 term inside each
    # column's cost sums back to itself), differenced in float64
    net, X, Y, w = _weighted_case(hidden, output, loss, k, "float64", alpha=0.1, seed=22)
    _, dW, db = net._gradients(X, Y, sample_weight=w)

    def J():
        costs = [net.cost(X[:, i : i + 1], Y[:, i : i + 1]) for i in range(X.shape[1])]
        return float(np.dot(w[0], costs) / w.sum())

    eps = 1e-6
    for P, dP in ((net.W, dW), (net.b, db)):
        for l, i in ((1, 1), (3, k - 1)):
            old = P[l][i, 0]
            P[l][i, 0] = old + eps
            Jp = J()
            P[l][i, 0] = old - eps
            Jm = J()
            P[l][i, 0] = old
            assert dP[l][i, 0] == pytest.approx((Jp - Jm) / (2 * eps), rel=1e-6, abs=1e-9)


def test_integer_weights_equal_repeated_columns_through_the_fast_path():
    net, X, Y, _ = _weighted_case("relu", "identity", "mse", 2, "float64")
    counts = np.array([1, 3, 0, 2, 1, 1, 4, 0, 2])
    J, dW, db = net._gradients(X, Y, sample_weight=counts[None, :].astype("float64"))
    idx = np.repeat(np.arange(9), counts)
    J_rep, dW_rep, db_rep = net._gradients(X[:, idx], Y[:, idx])
    assert float(J) == pytest.approx(float(J_rep), rel=1e-14)
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(dW[l], dW_rep[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db[l], db_rep[l], rtol=1e-12, atol=1e-15)


def test_weighted_fit_goes_through_the_fast_path(monkeypatch):
    net = dp.Network([3, 4, 1], seed=0)
    X, Y = _data(net.sizes, 30, "float64")

    def refuse(*args, **kwargs):
        raise AssertionError("the reference backward ran")

    monkeypatch.setattr(dp.Network, "backward", refuse)
    dp.fit(net, X, Y, epochs=2, batch_size=8, sample_weight=np.linspace(0, 2, 30))
    w = np.ones((1, 30))
    assert not _fast.applicable(net, X, Y, w[:, :5])  # wrong width: the reference instead
    assert not _fast.applicable(net, X, Y, w.astype("float32"))  # another dtype

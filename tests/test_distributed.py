"""deltaprop.distributed: gradients of Dask batches, block by block, and full-batch training.

References: the in-memory gradient of the gathered batch (itself checked against central
differences and JAX elsewhere), central differences of the distributed cost, a hand-worked
two-block example, and in-memory runs of the same optimisers. Most tests use Dask's synchronous
scheduler (fast, deterministic); one module-scoped LocalCluster (threads, 2 workers) runs the
cluster path. A process cluster and a larger-than-memory run are in the slow tests
(DELTAPROP_SLOW=1) and in benchmarks/dask_scale.py.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaprop as dp

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
from deltaprop import distributed as dd  # noqa: E402

slow = pytest.mark.skipif(
    not os.environ.get("DELTAPROP_SLOW"), reason="slow: set DELTAPROP_SLOW=1 to run"
)


@pytest.fixture
def sync():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def cluster_client():
    # no memory limit: with processes=False a worker measures the whole pytest process, whose
    # size depends on the tests run in it before; at 80 % of a limit it pauses and the next
    # compute waits for ever (a 1 GiB limit hung the suite once earlier tests had grown it)
    with dd.client(n_workers=2, processes=False, memory_limit=0) as c:
        yield c


def _data(n0, nL, m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n0, m)), rng.normal(size=(nL, m))


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _assert_same_gradients(got, ref, rtol):
    J, dW, db = got
    J_ref, dW_ref, db_ref = ref
    assert abs(J - J_ref) <= rtol * abs(J_ref)
    for l in range(1, len(dW_ref) + 1):
        assert _rel(dp._array.to_numpy(dW[l]), dW_ref[l]) <= rtol, l
        assert _rel(dp._array.to_numpy(db[l]), db_ref[l]) <= rtol, l


# --- a hand-worked example: blocks are weighted by their size ------------------------------


def test_two_unequal_blocks_by_hand(sync):
    # Network [1, 1], identity output, MSE; W = 1, b = 0; X = [1, 2, 3, 4], Y = 0 (m = 4).
    #   J = (1 + 4 + 9 + 16) / 4 = 7.5
    #   dJ/dW = (2/m) Σ (W x_i - y_i) x_i = (2/4)(1 + 4 + 9 + 16) = 15
    #   dJ/db = (2/m) Σ (W x_i - y_i)     = (2/4)(1 + 2 + 3 + 4)   = 5
    # Blocks {1} and {2, 3, 4}: J_1 = 1, J_2 = 29/3, and (1/4)·1 + (3/4)·(29/3) = 7.5, whereas
    # the unweighted mean of the blocks, (1 + 29/3)/2 = 5.33, would be wrong.
    net = dp.Network([1, 1], output="identity", seed=0)
    net.W[1] = np.array([[1.0]])
    net.b[1] = np.array([[0.0]])
    X = da.from_array(np.array([[1.0, 2.0, 3.0, 4.0]]), chunks=(1, (1, 3)))
    Y = da.zeros((1, 4), chunks=(1, (1, 3)))
    J, dW, db = dd.gradients(net, X, Y)
    assert pytest.approx(7.5, rel=1e-15) == J
    assert float(dW[1][0, 0]) == pytest.approx(15.0, rel=1e-15)
    assert float(db[1][0, 0]) == pytest.approx(5.0, rel=1e-15)


# --- equal to the in-memory gradient, for any chunking ---------------------------------------


@st.composite
def _chunked_case(draw):
    m = draw(st.integers(1, 60))
    cuts = sorted(draw(st.lists(st.integers(0, m), max_size=6)))  # repeated cuts: empty blocks
    bounds = [0, *cuts, m]
    chunks = tuple(b - a for a, b in itertools.pairwise(bounds))
    hidden = draw(st.sampled_from(sorted(dp.activations.ACTIVATIONS)))
    widths = draw(st.lists(st.integers(1, 6), min_size=0, max_size=2))
    alpha = draw(st.sampled_from([0.0, 0.03]))
    split_every = draw(st.sampled_from([None, 2, 3]))
    return m, chunks, hidden, widths, alpha, split_every


@settings(max_examples=25)
@given(case=_chunked_case(), seed=st.integers(0, 2**16))
def test_gradients_equal_in_memory_for_any_chunking(case, seed):
    m, chunks, hidden, widths, alpha, split_every = case
    sizes = [3, *widths, 2]
    net = dp.Network(sizes, hidden=hidden, alpha=alpha, seed=seed)
    Xn, Yn = _data(3, 2, m, seed)
    X = da.from_array(Xn, chunks=(3, chunks))
    Y = da.from_array(Yn, chunks=(2, max(1, m // 2)))  # other chunks: rechunked to X's
    with dask.config.set(scheduler="synchronous"):
        got = dd.gradients(net, X, Y, split_every=split_every)
    _assert_same_gradients(got, net.gradients(Xn, Yn), rtol=1e-10)


def test_row_chunks_are_merged_and_integer_inputs_converted(sync):
    net = dp.Network([4, 5, 1], seed=2)
    rng = np.random.default_rng(3)
    Xn = rng.integers(-3, 4, size=(4, 30))
    Yn = rng.normal(size=(1, 30))
    got = dd.gradients(net, da.from_array(Xn, chunks=(2, 7)), da.from_array(Yn, chunks=(1, 7)))
    _assert_same_gradients(got, net.gradients(Xn.astype(float), Yn), rtol=1e-10)


def test_central_differences_of_the_distributed_cost(sync):
    # Independent of the in-memory path: (J(θ + εv) − J(θ − εv)) / 2ε against ∇J·v.
    net = dp.Network([3, 6, 2], hidden="tanh", seed=4)
    Xn, Yn = _data(3, 2, 40, seed=5)
    X, Y = da.from_array(Xn, chunks=(3, 9)), da.from_array(Yn, chunks=(2, 9))
    _, dW, db = dd.gradients(net, X, Y)
    rng = np.random.default_rng(6)
    V = [rng.normal(size=w.shape) for w in net.W]
    eps = 1e-6

    def J_at(sign):
        moved = net.copy()
        for l in range(1, net.L + 1):
            moved.W[l] = net.W[l] + sign * eps * V[l - 1]
        return dd.gradients(moved, X, Y)[0]

    numeric = (J_at(+1) - J_at(-1)) / (2 * eps)
    analytic = sum(float(np.sum(dW[l] * V[l - 1])) for l in range(1, net.L + 1))
    assert numeric == pytest.approx(analytic, rel=1e-7)


def test_float32_close_to_float64(sync):
    net64 = dp.Network([5, 8, 1], seed=7)
    net32 = net64.astype("float32")
    Xn, Yn = _data(5, 1, 200, seed=8)
    J32, dW32, _ = dd.gradients(
        net32,
        da.from_array(Xn.astype(np.float32), chunks=(5, 64)),
        da.from_array(Yn.astype(np.float32), chunks=(1, 64)),
    )
    J64, dW64, _ = net64.gradients(Xn, Yn)
    assert dW32[1].dtype == np.float32
    assert pytest.approx(J64, rel=1e-5) == J32
    assert _rel(dW32[1], dW64[1]) < 1e-4


def test_gradients_come_back_on_the_network_backend(sync):
    torch = pytest.importorskip("torch")
    net = dp.Network([3, 4, 2], seed=9, backend="torch")
    Xn, Yn = _data(3, 2, 25, seed=10)
    J, dW, db = dd.gradients(
        net, da.from_array(Xn, chunks=(3, 10)), da.from_array(Yn, chunks=(2, 10))
    )
    assert isinstance(dW[1], torch.Tensor) and dW[1].dtype == torch.float64
    _assert_same_gradients((J, dW, db), net.to("numpy").gradients(Xn, Yn), rtol=1e-10)


def test_forward_is_lazy_and_blockwise(sync):
    net = dp.Network([3, 5, 2], seed=11)
    Xn, _ = _data(3, 2, 23, seed=12)
    A = dd.forward(net, da.from_array(Xn, chunks=(3, 5)))
    assert isinstance(A, da.Array) and A.shape == (2, 23) and A.chunks[1] == (5, 5, 5, 5, 3)
    np.testing.assert_allclose(A.compute(), net.forward(Xn), rtol=1e-15, atol=1e-15)


# --- nothing but gradient-sized partials is gathered -----------------------------------------


def test_graph_is_a_tree_of_gradient_sized_partials():
    from dask.core import get_dependencies

    net = dp.Network([4, 3, 1], seed=0)
    X = da.random.default_rng(0).normal(size=(4, 1000), chunks=(4, 50))  # 20 blocks
    Y = da.random.default_rng(1).normal(size=(1, 1000), chunks=(1, 50))
    total = dd._partials(net, X, Y).sum(axis=1, split_every=3)
    dsk = dict(total.__dask_graph__())
    x_keys = {k for k in dsk if isinstance(k, tuple) and k[0] in (X.name, Y.name)}
    assert len(x_keys) == 40
    X_blocks = {k for k in x_keys if k[0] == X.name}
    n_sums = 0
    for key in dsk:
        deps = get_dependencies(dsk, key)
        # no task sees more than one block of X (no concatenation of samples) ...
        assert len(deps & X_blocks) <= 1
        # ... and every step of the sum adds at most split_every partials
        name = key[0] if isinstance(key, tuple) else key
        if name.startswith(("sum-partial", "sum-aggregate")):
            n_sums += 1
            assert 1 <= len(deps) <= 3 and not deps & x_keys
    assert n_sums >= 20 // 3  # a tree, not one task adding all 20 partials
    assert total.shape == (1 + net.n_parameters,)


# --- on a LocalCluster -----------------------------------------------------------------------


def test_gradients_on_a_local_cluster(cluster_client):
    net = dp.Network([6, 10, 3], hidden="sigmoid", seed=13)
    Xn, Yn = _data(6, 3, 500, seed=14)
    X, Y = da.from_array(Xn, chunks=(6, 64)), da.from_array(Yn, chunks=(3, 64))
    X, Y = cluster_client.persist([X, Y])
    _assert_same_gradients(dd.gradients(net, X, Y), net.gradients(Xn, Yn), rtol=1e-10)


def test_gradient_descent_equals_the_in_memory_loop(cluster_client):
    net = dp.Network([3, 6, 1], hidden="tanh", seed=15)
    Xn, Yn = _data(3, 1, 120, seed=16)
    X, Y = da.from_array(Xn, chunks=(3, 50)), da.from_array(Yn, chunks=(1, 50))
    ref = net.copy()
    curve = []
    for _ in range(5):  # the reference: plain gradient descent on the gathered batch
        J, dW, db = ref.gradients(Xn, Yn)
        curve.append(J)
        for l in range(1, ref.L + 1):
            ref.W[l] = ref.W[l] - 0.2 * dW[l]
            ref.b[l] = ref.b[l] - 0.2 * db[l]
    curve.append(ref.cost(Xn, Yn))
    res = dd.fit(net, X, Y, solver="gd", max_iter=5, lr=0.2, tol=0.0)
    assert res.n_iter == 5 and res.n_evaluations == 6 and not res.converged
    np.testing.assert_allclose(res.loss_curve, curve, rtol=1e-10)
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(net.W[l], ref.W[l], rtol=1e-10, atol=1e-14)


def test_lbfgs_follows_scipy_on_the_in_memory_gradient(cluster_client):
    from scipy.optimize import minimize

    net = dp.Network([2, 8, 1], hidden="tanh", seed=17)
    Xn = np.random.default_rng(18).uniform(-2, 2, size=(2, 200))
    Yn = np.sin(Xn[:1]) * np.cos(Xn[1:])
    X, Y = da.from_array(Xn, chunks=(2, 70)), da.from_array(Yn, chunks=(1, 70))

    ref = net.copy()  # the reference: scipy's L-BFGS-B on the in-memory gradient
    shapes = [(w.shape, v.shape) for w, v in zip(ref.W, ref.b)]

    def fun(theta):
        start = 0
        for l, (sw, sb) in enumerate(shapes, start=1):
            ref.W[l] = theta[start : start + sw[0] * sw[1]].reshape(sw)
            start += sw[0] * sw[1]
            ref.b[l] = theta[start : start + sb[0]].reshape(sb)
            start += sb[0]
        J, dW, db = ref.gradients(Xn, Yn)
        return J, np.concatenate([np.r_[dW[l].ravel(), db[l].ravel()] for l in (1, 2)])

    theta0 = np.concatenate([np.r_[net.W[l].ravel(), net.b[l].ravel()] for l in (1, 2)])
    curve = [fun(theta0)[0]]

    def record(intermediate_result):  # scipy passes the OptimizeResult under this name
        curve.append(float(intermediate_result.fun))

    minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 8, "gtol": 1e-9},
        callback=record,
    )
    res = dd.fit(net, X, Y, solver="lbfgs", max_iter=8, tol=1e-9)
    assert res.n_iter == len(curve) - 1 == 8
    np.testing.assert_allclose(res.loss_curve, curve, rtol=1e-7)
    assert res.loss_curve[-1] < 0.5 * res.loss_curve[0]
    assert net.cost(Xn, Yn) == pytest.approx(res.loss_curve[-1], rel=1e-12)


def test_client_connects_to_a_running_scheduler(cluster_client):
    address = cluster_client.scheduler.address
    with dd.client(address) as c:
        assert c.scheduler.address == address
        net = dp.Network([2, 1], seed=0)
        Xn, Yn = _data(2, 1, 10)
        J, _, _ = dd.gradients(
            net, da.from_array(Xn, chunks=(2, 4)), da.from_array(Yn, chunks=(1, 4))
        )
        assert pytest.approx(net.cost(Xn, Yn), rel=1e-12) == J
    assert cluster_client.status == "running"  # connecting did not close the cluster


# --- user errors -----------------------------------------------------------------------------


def test_errors_name_the_parameter_and_the_value(sync):
    net = dp.Network([3, 2], seed=0)
    Xn, Yn = _data(3, 2, 8)
    X, Y = da.from_array(Xn, chunks=(3, 4)), da.from_array(Yn, chunks=(2, 4))
    with pytest.raises(TypeError, match=r"X must be a dask.array.Array .* net.gradients"):
        dd.gradients(net, Xn, Y)
    with pytest.raises(ValueError, match=r"samples are rows: pass X.T"):
        dd.gradients(net, X.T, Y)
    with pytest.raises(ValueError, match=r"Y must have one column per sample of X \(m = 8\)"):
        dd.gradients(net, X, Y[:, :5])
    with pytest.raises(TypeError, match="X has dtype float32 but the network's dtype is float64"):
        dd.gradients(net, X.astype(np.float32), Y)
    with pytest.raises(ValueError, match="unknown size"):
        dd.gradients(net, X[:, X[0] > 0], Y)
    Xbad = Xn.copy()
    Xbad[1, 6] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite.*in the block of samples 4:8"):
        dd.gradients(net, da.from_array(Xbad, chunks=(3, 4)), Y)
    with pytest.raises(ValueError, match="solver must be one of lbfgs, gd; got 'adam'"):
        dd.fit(net, X, Y, solver="adam")
    with pytest.raises(ValueError, match="max_iter must be >= 0; got -1"):
        dd.fit(net, X, Y, max_iter=-1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0; got 0"):
        dd.fit(net, X, Y, solver="gd", lr=0)
    with (
        pytest.raises(ValueError, match="n_workers must be >= 1; got 0"),
        dd.client(n_workers=0),
    ):
        pass


# --- slow: real worker processes, data larger than a worker's memory --------------------------


@slow
@pytest.mark.slow
def test_process_cluster_streams_data_larger_than_a_worker():
    # 2 worker processes of 400 MB each; X is 16 x 4e6 float64 = 512 MB, generated per block.
    net = dp.Network([16, 8, 1], seed=0)
    m, chunk = 4_000_000, 100_000
    with dd.client(n_workers=2, memory_limit="400MB") as c:
        X = da.random.default_rng(0).normal(size=(16, m), chunks=(16, chunk))
        Y = da.sin(X[:1])
        J, dW, _ = dd.gradients(net, X, Y)
        assert np.isfinite(J) and dW[1].shape == (8, 16)
        assert X.nbytes > 400e6
        # the same on a sub-batch, against the in-memory gradient
        Xs, Ys = X[:, :50_000], Y[:, :50_000]
        _assert_same_gradients(
            dd.gradients(net, Xs, Ys), net.gradients(*c.compute([Xs, Ys], sync=True)), 1e-10
        )


# --- through the training API ------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_fit_on_dask_equals_full_batch_in_memory(sync, optimizer):
    # The reference: deltaprop.fit in memory with one batch of all samples per epoch.
    net = dp.Network([3, 6, 1], hidden="tanh", seed=19)
    Xn, Yn = _data(3, 1, 90, seed=20)
    ref = net.copy()
    h_ref = dp.fit(
        ref,
        Xn,
        Yn,
        optimizer=optimizer,
        lr=0.05,
        epochs=6,
        batch_size=90,
        shuffle=False,
        n_iter_no_change=None,
    )
    X, Y = da.from_array(Xn, chunks=(3, 40)), da.from_array(Yn, chunks=(1, 40))
    h = dp.fit(net, X, Y, optimizer=optimizer, lr=0.05, epochs=6, n_iter_no_change=None)
    assert h.n_iter == 6 and h.stopped_reason == "max_epochs" and h.t == 6 * 90
    np.testing.assert_allclose(h.loss, h_ref.loss, rtol=1e-10)
    np.testing.assert_allclose(h.grad_norm, h_ref.grad_norm, rtol=1e-9)
    for l in (1, 2):
        np.testing.assert_allclose(net.W[l], ref.W[l], rtol=1e-9, atol=1e-13)


def test_training_fit_lbfgs_and_refusals_on_dask(sync):
    net = dp.Network([2, 8, 1], hidden="tanh", seed=21)
    Xn = np.random.default_rng(22).uniform(-2, 2, size=(2, 150))
    Yn = np.sin(Xn[:1]) * np.cos(Xn[1:])
    X, Y = da.from_array(Xn, chunks=(2, 64)), da.from_array(Yn, chunks=(1, 64))
    h = dp.fit(net, X, Y, optimizer="lbfgs", epochs=10, n_iter_no_change=None)
    assert h.n_iter == 10 and len(h.loss) == 10
    assert net.cost(Xn, Yn) == pytest.approx(h.loss[-1], rel=1e-12)
    assert h.loss[-1] < 0.5 * h.loss[0]
    with pytest.warns(
        UserWarning, match="batch_size=32 is ignored: training on Dask arrays is full"
    ):
        dp.fit(net, X, Y, batch_size=32, epochs=1)
    with pytest.raises(ValueError, match="early_stopping on Dask arrays needs validation_data"):
        dp.fit(net, X, Y, early_stopping=True)


def test_training_fit_on_dask_with_validation_and_early_stopping(sync):
    # Validation stays in memory; the best validation epoch's weights are restored.
    net = dp.Network([3, 8, 1], seed=23)
    Xn, Yn = _data(3, 1, 80, seed=24)
    Xv, Yv = _data(3, 1, 30, seed=25)  # unrelated targets: validation stops improving soon
    ref = net.copy()
    h_ref = dp.fit(
        ref,
        Xn,
        Yn,
        optimizer="adam",
        lr=0.05,
        epochs=40,
        batch_size=80,
        shuffle=False,
        early_stopping=True,
        validation_data=(Xv, Yv),
        n_iter_no_change=3,
    )
    X, Y = da.from_array(Xn, chunks=(3, 30)), da.from_array(Yn, chunks=(1, 30))
    h = dp.fit(
        net,
        X,
        Y,
        optimizer="adam",
        lr=0.05,
        epochs=40,
        early_stopping=True,
        validation_data=(Xv, Yv),
        n_iter_no_change=3,
    )
    assert h.stopped_reason == h_ref.stopped_reason == "early_stopping"
    assert h.n_iter == h_ref.n_iter < 40 and h.best_epoch == h_ref.best_epoch
    np.testing.assert_allclose(h.val_score, h_ref.val_score, rtol=1e-9)
    np.testing.assert_allclose(net.W[1], ref.W[1], rtol=1e-9, atol=1e-13)


def test_cli_train_with_a_local_scheduler(tmp_path, capsys):
    import json

    from deltaprop.cli import main

    try:
        with pytest.raises(SystemExit) as exit_info:
            main(
                [
                    "train",
                    "--scheduler",
                    "local",
                    "--epochs",
                    "3",
                    "--out",
                    str(tmp_path),
                    "--no-plots",
                    "--json",
                ]
            )
    finally:  # the command leaves its cluster open for the process; close it here
        while dd._OPEN_CLIENTS:
            dd._OPEN_CLIENTS.pop().__exit__(None, None, None)
    assert exit_info.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["epochs"] == 3 and (tmp_path / "model.safetensors").exists()


# --- the scikit-learn adapter --------------------------------------------------------------------


def test_regressor_accepts_dask_arrays(sync):
    import warnings

    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:200], (y[:200] - y[:200].mean()) / y[:200].std()
    kw = dict(
        hidden_layer_sizes=(8,),
        learning_rate_init=0.01,
        max_iter=5,
        random_state=0,
        n_iter_no_change=100,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 5 epochs
        ref = dp.DeltaPropRegressor(batch_size=200, shuffle=False, **kw).fit(X, y)
        reg = dp.DeltaPropRegressor(**kw).fit(
            da.from_array(X, chunks=(64, 10)), da.from_array(y, chunks=64)
        )
    np.testing.assert_allclose(reg.loss_curve_, ref.loss_curve_, rtol=1e-9)
    pred = reg.predict(da.from_array(X, chunks=(64, 10)))
    assert isinstance(pred, da.Array) and pred.shape == (200,)
    np.testing.assert_allclose(pred.compute(), ref.predict(X), rtol=1e-9, atol=1e-12)
    with pytest.raises(
        ValueError, match="X has 3 features, but DeltaPropRegressor is expecting 10"
    ):
        reg.predict(da.ones((4, 3)))
    with pytest.raises(TypeError, match="DeltaPropClassifier does not accept Dask arrays"):
        dp.DeltaPropClassifier().fit(da.from_array(X), da.from_array(y > 0))

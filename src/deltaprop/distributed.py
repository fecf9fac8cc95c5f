r"""Data-parallel back-propagation on Dask: the same equations, one block of samples per task.

Samples are columns, so a Dask array ``X`` of shape ``(n_0, m)`` chunked along axis 1 is a row
of blocks :math:`X_k` of shape ``(n_0, m_k)`` with :math:`\sum_k m_k = m`. The cost is a mean
over samples, so the cost and every gradient of the whole batch are the block-size-weighted
means of the blocks' own:

.. math::
    J = \sum_k \frac{m_k}{m} J_k, \qquad
    \frac{\partial J}{\partial W^{[l]}} = \sum_k \frac{m_k}{m}
        \frac{\partial J_k}{\partial W^{[l]}}, \qquad
    \frac{\partial J}{\partial b^{[l]}} = \sum_k \frac{m_k}{m}
        \frac{\partial J_k}{\partial b^{[l]}}

(the L2 term :math:`\alpha W^{[l]}` passes through unchanged because
:math:`\sum_k m_k/m = 1`). Each :math:`J_k, \partial J_k/\partial W^{[l]}` comes from the very
same :meth:`Network.gradients <deltaprop.network.Network.gradients>` run on a worker, on that
worker's block: equations (ii) and (i) are not copied here. The weighted partials, one vector
of the network's parameter count per block, are added in a tree (Dask's ``sum`` with
``split_every``), so nothing but gradient-sized vectors ever travels, and only the final sum
reaches the calling process. A block is generated or loaded, used and dropped: data larger than
the cluster's memory streams through it.

====================================  ======================================================
``gradients(net, X, Y)``               ``(J, dW, db)`` of the whole Dask batch, like
                                        ``net.gradients``
``forward(net, X)``                    the output :math:`A^{[L]}` as a lazy Dask array
``fit(net, X, Y, solver=...)``          full-batch training: gradient descent or L-BFGS
                                        (``scipy.optimize.minimize`` with these gradients)
``client(address=None)``               a context manager: a Dask client on a running cluster,
                                        or on a new ``LocalCluster`` when no address is given
``as_dask(x, n_blocks, client)``       an in-memory batch as a Dask array of sample blocks
``check_batch(net, X, Y)``             ``X``, ``Y`` checked as Dask arrays of sample blocks
====================================  ======================================================

``deltaprop.fit(net, X, Y)`` with Dask arrays runs the fit loop of :mod:`deltaprop.training`
with the whole data set as one batch per epoch, its gradient from :func:`gradients` (or
L-BFGS through :func:`fit` with ``optimizer="lbfgs"``), and so does ``deltaprop train
--scheduler ADDRESS``. This module depends on :mod:`deltaprop.network` only.

Whatever Dask scheduler is active runs the work: a ``distributed.Client`` once one exists
(``client`` makes one), otherwise Dask's default threads. Workers must be able to import
``deltaprop``.

Example
-------
>>> import dask.array as da, numpy as np
>>> import deltaprop as dp
>>> net = dp.Network([3, 8, 1], seed=0)
>>> X = da.random.default_rng(0).normal(size=(3, 1000), chunks=(3, 250))  # 4 blocks of samples
>>> Y = da.sin(X.sum(axis=0, keepdims=True))
>>> J, dW, db = dp.distributed.gradients(net, X, Y)
>>> J_mem, dW_mem, _ = net.gradients(X.compute(), Y.compute())   # the same, in memory
>>> bool(abs(J - J_mem) <= 1e-12 * J_mem and np.allclose(dW[1], dW_mem[1], rtol=1e-10))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _array, _checks
from .network import Layers, Network

SOLVERS = ("lbfgs", "gd")
"""Full-batch solvers of :func:`fit`: L-BFGS (scipy) and plain gradient descent."""


# --- validation ------------------------------------------------------------------------------


def _dask_array() -> Any:
    try:
        import dask.array as da
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("deltaprop.distributed needs Dask: pip install 'deltaprop[dask]'") from e
    return da


def _check_dask(x: Any, name: str, rows: int, rows_name: str, dtype_name: str) -> Any:
    """``x`` as a 2-D Dask array of ``rows`` rows in one chunk (samples are columns), of real
    numbers (floats of the network's ``dtype_name``)."""
    da = _dask_array()
    if not isinstance(x, da.Array):
        raise TypeError(
            f"{name} must be a dask.array.Array chunked along samples (columns); got "
            f"{type(x).__name__} (for in-memory arrays use net.gradients)"
        )
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape ({rows_name}, m) = ({rows}, m), samples as columns; "
            f"got shape {x.shape}"
        )
    if any(math.isnan(c) for c in x.chunks[1]):
        raise ValueError(
            f"{name} has blocks of unknown size (shape {x.shape}): call "
            f"{name}.compute_chunk_sizes() first"
        )
    if x.shape[0] != rows:
        hint = f" (it looks like samples are rows: pass {name}.T)" if x.shape[1] == rows else ""
        raise ValueError(
            f"{name} must have {rows_name} = {rows} rows (samples are columns); "
            f"got shape {x.shape}{hint}"
        )
    kind = np.dtype(x.dtype).kind
    if kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
    if kind == "f" and np.dtype(x.dtype).name != dtype_name:
        raise TypeError(_checks.dtype_mismatch(name, np.dtype(x.dtype).name, dtype_name))
    if x.numblocks[0] > 1:  # every block must hold whole samples (columns)
        x = x.rechunk({0: -1})
    return x


def check_batch(net: Network, X: Any, Y: Any) -> tuple[Any, Any]:
    """``X`` (n_0, m) and ``Y`` (n_L, m) checked against ``net`` as Dask arrays of sample blocks.

    Lazily (nothing is computed): 2-D, real numbers of the network's float dtype, blocks of
    known size holding whole samples; ``Y`` is rechunked to ``X``'s blocks if needed.
    """
    X = _check_dask(X, "X", net.sizes[0], "n_0", net.dtype_name)
    Y = _check_dask(Y, "Y", net.sizes[-1], "n_L", net.dtype_name)
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"Y must have one column per sample of X (m = {X.shape[1]}); got shape {Y.shape}"
        )
    if X.shape[1] < 1:
        raise ValueError(f"X must hold at least one sample (column); got shape {X.shape}")
    if Y.chunks[1] != X.chunks[1]:
        Y = Y.rechunk({1: X.chunks[1]})
    return X, Y


def _block_backend(X: Any) -> str:
    """The backend of a Dask array's blocks: ``"numpy"`` or ``"cupy"``."""
    import array_api_compat

    meta = getattr(X, "_meta", None)
    if meta is None or array_api_compat.is_numpy_array(meta):
        return "numpy"
    if array_api_compat.is_cupy_array(meta):
        return "cupy"
    raise TypeError(
        f"X's blocks must be NumPy or CuPy arrays; got {type(meta).__module__}."
        f"{type(meta).__name__}"
    )


def _worker_network(net: Network, X: Any) -> Network:
    """The network the workers run: a copy on the blocks' backend (host memory for NumPy)."""
    backend = _block_backend(X)
    if net.backend == backend:
        return net.copy()
    return net.to(backend)


# --- one block: the same Network.gradients, weighted by the block's size --------------------


def _n_partial(net: Network) -> int:
    """Length of a block's partial vector: J and every parameter's gradient."""
    return 1 + net.n_parameters


def _block_partial(X_k: Any, Y_k: Any, net: Network | None = None, block_info: Any = None) -> Any:
    """:math:`m_k \\cdot (J_k, \\partial J_k/\\partial W^{[1]}, \\partial J_k/\\partial b^{[1]},
    \\ldots)` as a column of shape ``(1 + n_parameters, 1)`` for one block.

    ``X_k`` has shape ``(n_0, m_k)`` and ``Y_k`` shape ``(n_L, m_k)``. An empty block gives zeros.
    """
    assert net is not None
    xp = net.xp
    m_k = X_k.shape[1]
    if m_k == 0:
        return xp.zeros((_n_partial(net), 1), dtype=net.dtype)
    try:
        J_k, dW_k, db_k = net.gradients(X_k, Y_k)  # the same equations (ii) and (i)
    except ValueError as e:
        where = ""
        if block_info and block_info.get(0):
            start, stop = block_info[0]["array-location"][1]
            where = f" (in the block of samples {start}:{stop})"
        raise ValueError(f"{e}{where}") from e
    parts = [xp.asarray([J_k * m_k], dtype=net.dtype)]
    for l in range(1, net.L + 1):
        parts.append(xp.reshape(m_k * dW_k[l], (-1,)))
        parts.append(xp.reshape(m_k * db_k[l], (-1,)))
    return xp.reshape(xp.concat(parts), (-1, 1))


def _partials(net: Network, X: Any, Y: Any) -> Any:
    """The lazy ``(1 + n_parameters, n_blocks)`` array of the blocks' weighted partials."""
    import dask

    da = _dask_array()
    worker_net = _worker_network(net, X)
    # One graph key for the network, shared by every block's task (not one copy per task).
    net_key = dask.delayed(worker_net, pure=False, traverse=False)
    n_rows = _n_partial(net)
    meta = worker_net.xp.zeros((0, 0), dtype=worker_net.dtype)
    return da.map_blocks(
        _block_partial,
        X,
        Y,
        net=net_key,
        chunks=((n_rows,), (1,) * X.numblocks[1]),
        dtype=np.dtype(net.dtype_name),
        meta=meta,
    )


def _unflatten(net: Network, v: np.ndarray) -> tuple[Layers, Layers]:
    """Split a host vector ordered ``dW[1], db[1], ..., dW[L], db[L]`` into ``Layers``."""
    dW: list[np.ndarray] = []
    db: list[np.ndarray] = []
    start = 0
    for l in range(1, net.L + 1):
        for out, shape in ((dW, (net.sizes[l], net.sizes[l - 1])), (db, (net.sizes[l], 1))):
            size = shape[0] * shape[1]
            out.append(np.reshape(v[start : start + size], shape))
            start += size
    assert start == v.shape[0]
    return Layers(dW, "dW"), Layers(db, "db")


def _host_gradients(
    net: Network, X: Any, Y: Any, split_every: int | None = None
) -> tuple[float, np.ndarray]:
    """``J`` and the flat gradient (host NumPy, net's dtype) of the whole Dask batch."""
    m = X.shape[1]
    total = _partials(net, X, Y).sum(axis=1, split_every=split_every)  # the tree of sums
    v = _array.to_numpy(total.compute()) / m  # Σ_k (m_k/m) (J_k, ∂J_k/∂θ)
    return float(v[0]), v[1:]


# --- public functions ------------------------------------------------------------------------


def gradients(
    net: Network, X: Any, Y: Any, *, split_every: int | None = None
) -> tuple[float, Layers, Layers]:
    """The cost and its gradients for a batch held in Dask arrays, block by block.

    Parameters
    ----------
    net : Network
        Any backend; the blocks are computed on the blocks' own backend (NumPy or CuPy) and the
        gradients returned on ``net``'s.
    X : dask.array.Array of shape (n_0, m)
        Inputs, samples as columns, chunked along the columns (a chunking of the rows is merged).
    Y : dask.array.Array of shape (n_L, m)
        Targets, samples as columns; rechunked to ``X``'s column blocks if needed.
    split_every : int, optional
        Fan-in of the tree that adds the blocks' partial gradients (Dask's default if None).

    Returns
    -------
    J : float
        The cost of the whole batch (with the L2 penalty when ``net.alpha > 0``).
    dW, db : Layers
        ``dW[l]`` of shape ``(n_l, n_{l-1})`` and ``db[l]`` of shape ``(n_l, 1)``, l = 1..L, as
        arrays of ``net``'s backend, equal to ``net.gradients`` on the gathered batch up to
        float rounding.
    """
    X, Y = check_batch(net, X, Y)
    J, v = _host_gradients(net, X, Y, split_every)
    dW, db = _unflatten(net, v)
    return (
        J,
        Layers([_on_backend(net, g) for g in dW], "dW"),
        Layers([_on_backend(net, g) for g in db], "db"),
    )


def _on_backend(net: Network, x: np.ndarray) -> Any:
    """A host array as an array of ``net``'s backend, dtype and device."""
    return _array.from_numpy(net.xp, np.ascontiguousarray(x), dtype=net.dtype, device=net.device)


def forward(net: Network, X: Any) -> Any:
    """The output :math:`A^{[L]}` for Dask input ``X``, lazily, block by block.

    Parameters
    ----------
    X : dask.array.Array of shape (n_0, m)

    Returns
    -------
    dask.array.Array of shape (n_L, m)
        Chunked along the columns like ``X``; nothing is computed until asked.
    """
    X = _check_dask(X, "X", net.sizes[0], "n_0", net.dtype_name)
    import dask

    worker_net = _worker_network(net, X)
    net_key = dask.delayed(worker_net, pure=False, traverse=False)
    meta = worker_net.xp.zeros((0, 0), dtype=worker_net.dtype)
    return X.map_blocks(
        _block_forward,
        net=net_key,
        chunks=((net.sizes[-1],), X.chunks[1]),
        dtype=np.dtype(net.dtype_name),
        meta=meta,
    )


def _block_forward(X_k: Any, net: Network | None = None) -> Any:
    assert net is not None
    if X_k.shape[1] == 0:
        return net.xp.zeros((net.sizes[-1], 0), dtype=net.dtype)
    return net.forward(X_k)


# --- full-batch training -----------------------------------------------------------------------


@dataclass
class FullBatchResult:
    """What :func:`fit` did.

    Attributes
    ----------
    solver : str
        ``"lbfgs"`` or ``"gd"``.
    loss_curve : list of float
        :math:`J` at the start and after every iteration; the last entry is the cost of the
        parameters left in the network.
    n_iter : int
        Iterations (parameter updates) made.
    n_evaluations : int
        Distributed gradient evaluations (one pass over the data each).
    converged : bool
        Whether the stopping test (gradient norm ``<= tol``) was met before ``max_iter``.
    message : str
        Why it stopped.
    """

    solver: str
    loss_curve: list[float] = field(default_factory=list)
    n_iter: int = 0
    n_evaluations: int = 0
    converged: bool = False
    message: str = ""


def _flat_parameters(net: Network) -> np.ndarray:
    """``W[1], b[1], ..., W[L], b[L]`` flattened into one float64 host vector."""
    return np.concatenate(
        [np.ravel(_array.to_numpy(p)) for l in range(1, net.L + 1) for p in (net.W[l], net.b[l])]
    ).astype(np.float64)


def _assign_parameters(net: Network, theta: np.ndarray) -> None:
    W, b = _unflatten(net, np.asarray(theta, dtype=net.dtype_name))
    for l in range(1, net.L + 1):
        net.W[l] = np.ascontiguousarray(W[l])
        net.b[l] = np.ascontiguousarray(b[l])


def fit(
    net: Network,
    X: Any,
    Y: Any,
    *,
    solver: str = "lbfgs",
    max_iter: int = 100,
    lr: float = 0.1,
    tol: float = 1e-6,
    split_every: int | None = None,
    callback: Callable[[int, float], Any] | None = None,
) -> FullBatchResult:
    """Full-batch training on Dask arrays; updates ``net``'s parameters in place.

    Every iteration needs the gradient of the whole batch: one pass over the blocks with
    :func:`gradients` (the data may be larger than the cluster's memory; it is streamed).

    Parameters
    ----------
    net : Network
    X : dask.array.Array of shape (n_0, m)
    Y : dask.array.Array of shape (n_L, m)
    solver : {"lbfgs", "gd"}, default "lbfgs"
        ``"lbfgs"``: ``scipy.optimize.minimize(method="L-BFGS-B")`` with the distributed cost
        and gradient (float64 on the host). ``"gd"``: :math:`W^{[l]} \\leftarrow W^{[l]} -
        \\eta\\, \\partial J/\\partial W^{[l]}`, the same for :math:`b^{[l]}`.
    max_iter : int, default 100
        Most iterations.
    lr : float, default 0.1
        Step size :math:`\\eta` of ``"gd"`` (unused by L-BFGS).
    tol : float, default 1e-6
        Stop when the largest absolute gradient entry is ``<= tol``.
    split_every : int, optional
        Fan-in of the tree that adds the blocks' partial gradients.
    callback : callable, optional
        ``callback(iteration, J)`` after each iteration; returning ``True`` stops training.

    Returns
    -------
    FullBatchResult
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
    max_iter = _checks.positive_int(max_iter, "max_iter", minimum=0)
    lr = _checks.number(lr, "lr", low=0.0, low_open=True)
    tol = _checks.number(tol, "tol", low=0.0)
    X, Y = check_batch(net, X, Y)
    result = FullBatchResult(solver=solver)

    def evaluate(theta: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        if theta is not None:
            _assign_parameters(net, theta)
        result.n_evaluations += 1
        return _host_gradients(net, X, Y, split_every)

    if solver == "gd":
        _fit_gd(net, evaluate, result, max_iter, float(lr), float(tol), callback)
    else:
        _fit_lbfgs(net, evaluate, result, max_iter, float(tol), callback)
    return result


def _fit_gd(
    net: Network,
    evaluate: Callable[..., tuple[float, np.ndarray]],
    result: FullBatchResult,
    max_iter: int,
    lr: float,
    tol: float,
    callback: Callable[[int, float], Any] | None,
) -> None:
    result.message = f"max_iter = {max_iter} reached"
    for k in range(max_iter + 1):
        J, grad = evaluate()
        result.loss_curve.append(J)
        if k > 0 and callback is not None and callback(k, J) is True:
            result.message = "stopped by callback"
            break
        if not math.isfinite(J):
            result.message = f"the cost became {J} (lr = {lr} too large?)"
            break
        if float(np.max(np.abs(grad))) <= tol:
            result.converged = True
            result.message = f"gradient max-norm <= tol = {tol}"
            break
        if k == max_iter:
            break
        dW, db = _unflatten(net, grad)
        for l in range(1, net.L + 1):  # W^[l] <- W^[l] - lr dJ/dW^[l];  b likewise
            net.W[l] = net.W[l] - lr * _on_backend(net, dW[l])
            net.b[l] = net.b[l] - lr * _on_backend(net, db[l])
        result.n_iter = k + 1


def _fit_lbfgs(
    net: Network,
    evaluate: Callable[..., tuple[float, np.ndarray]],
    result: FullBatchResult,
    max_iter: int,
    tol: float,
    callback: Callable[[int, float], Any] | None,
    max_fun: int = 15000,
) -> None:
    from scipy.optimize import minimize

    theta0 = _flat_parameters(net)
    J0, _ = evaluate()
    result.loss_curve.append(J0)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        J, grad = evaluate(theta)
        return J, np.asarray(grad, dtype=np.float64)

    def on_iteration(intermediate_result: Any) -> None:
        J = float(intermediate_result.fun)
        result.loss_curve.append(J)
        result.n_iter += 1
        if callback is not None and callback(result.n_iter, J) is True:
            raise StopIteration

    res = minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        callback=on_iteration,
        options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol},
    )
    _assign_parameters(net, res.x)  # the line search may have left a trial point in net
    result.converged = bool(res.success)
    result.message = str(res.message)


def as_dask(x: Any, n_blocks: int = 4, client: Any = None) -> Any:
    """An in-memory ``(n, m)`` array as a Dask array of ``n_blocks`` blocks of samples (columns).

    Parameters
    ----------
    x : array of shape (n, m)
    n_blocks : int, default 4
    client : distributed.Client, optional
        When given, the blocks are scattered to its workers (``client.persist``), so that the
        data is sent once and not with every task graph.
    """
    da = _dask_array()
    x = _array.to_numpy(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D of shape (n, m), samples as columns; got {x.shape}")
    n_blocks = _checks.positive_int(n_blocks, "n_blocks")
    d = da.from_array(x, chunks=(x.shape[0], max(1, math.ceil(x.shape[1] / n_blocks))))
    return client.persist(d) if client is not None else d


def start_client(address: str | None = None, **cluster_kwargs: Any) -> Any:
    """A ``distributed.Client`` left open: ``"local"`` or None starts a ``LocalCluster``.

    The local cluster has 2 workers in this process (threads: NumPy releases the GIL, and it
    starts in a fraction of a second) unless ``cluster_kwargs`` say otherwise. For programs that
    live as long as the client (the command line); elsewhere prefer the :func:`client` context
    manager. Both close with the process.
    """
    local = address in (None, "local")
    if local:
        cluster_kwargs.setdefault("processes", False)
    manager = client(None if local else address, **cluster_kwargs)
    c = manager.__enter__()
    _OPEN_CLIENTS.append(manager)  # keep the cluster alive; closed at interpreter exit
    return c


_OPEN_CLIENTS: list[Any] = []


# --- clusters --------------------------------------------------------------------------------


@contextmanager
def client(
    address: str | None = None,
    *,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
    processes: bool = True,
) -> Iterator[Any]:
    """A ``distributed.Client``: on a running cluster, or on a new ``LocalCluster``.

    Parameters
    ----------
    address : str, optional
        The scheduler's address (``"tcp://host:8786"``); the cluster is left running on exit.
        Without it a ``LocalCluster`` of ``n_workers`` workers is started and closed on exit.
    n_workers, threads_per_worker, memory_limit, processes
        Passed to ``LocalCluster`` (ignored with ``address``); ``memory_limit`` is per worker.

    While the context is open the client is Dask's default scheduler, so :func:`gradients`
    and :func:`fit` run on it.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "deltaprop.distributed.client needs dask.distributed: pip install 'deltaprop[dask]'"
        ) from e
    if address is not None:
        if not isinstance(address, str) or not address.strip():
            raise ValueError(
                f"address must be a scheduler address like tcp://host:8786; got {address!r}"
            )
        c = Client(address)
        try:
            yield c
        finally:
            c.close()
        return
    n_workers = _checks.positive_int(n_workers, "n_workers")
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        memory_limit=memory_limit,
        processes=processes,
        dashboard_address=None,
    )
    try:
        c = Client(cluster)
        try:
            yield c
        finally:
            c.close()
    finally:
        cluster.close()


__all__ = [
    "SOLVERS",
    "FullBatchResult",
    "as_dask",
    "check_batch",
    "client",
    "fit",
    "forward",
    "gradients",
    "start_client",
]

r"""The training-step benchmark behind ``deltaprop bench`` and ``benchmarks/``.

What is timed is one training step on a fixed batch: the forward pass, back-propagation and a
plain SGD update (learning rate ``lr``, no momentum), in float32 or float64, samples as
columns, on DESIGN.md's networks (:data:`CONFIGS`). The contenders, all in one process:

==========================  ==================================================================
``deltaprop``               ``net._gradients(X, Y)`` then ``SGD(lr).step(net, dW, db)``: the
                            fit loop's own step (the NumPy fast path of :mod:`deltaprop._fast`)
``deltaprop-reference``     the same with ``net._reference_gradients``: equations (ii) and (i)
                            transcribed as written, a new array for every intermediate
``sklearn``                 ``MLPRegressor.partial_fit`` on the batch (solver sgd, momentum 0,
                            ``batch_size = m``, no shuffling, ``alpha = 0``)
``torch``                   PyTorch eager: ``nn.Linear``/``nn.ReLU``, the loss,
                            ``backward()``, ``torch.optim.SGD``
``jax``                     ``jax.jit`` of ``value_and_grad`` plus the update (parameters
                            donated)
``floor``                   the step's matrix products alone, 3 per layer less one, into
                            preallocated arrays with NumPy's BLAS (a product with inner
                            dimension 1 as the broadcast product it is)
==========================  ==================================================================

Every contender starts from the same weights and takes the same step (:func:`agreement` checks
that one step leaves them all with the same parameters). Timing: after a warm-up, ``repeats``
rounds; in each round every contender runs ``k`` steps back to back (``k`` chosen so a sample
lasts ``min_sample_s``), contenders in a rotated order, the garbage collector off. Reported:
each contender's median seconds per step, and **ratios** deltaprop / other, each the median of
the per-round ratios (a round's samples are close in time, so load that drifts cancels).

:func:`step_memory` measures the peak memory of a step with :mod:`tracemalloc` (NumPy reports
its allocations there) against the budget parameters + gradients + cached Z and A.
:func:`scaling` times the step against depth and batch width with the forward and backward
passes apart. :func:`machine` records the machine, the libraries and the BLAS in use
(threadpoolctl): which OpenBLAS kernel runs depends on ``OPENBLAS_CORETYPE``.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CONFIGS: dict[str, tuple[list[int], int]] = {
    "tiny": ([10, 64, 64, 1], 32),
    "medium": ([100, 256, 256, 256, 1], 256),
    "large": ([1024, 2048, 2048, 1], 1024),
}
"""Name -> (layer widths ``[n_0, ..., n_L]``, batch width ``m``), as in DESIGN.md."""

PEERS = ("sklearn", "torch", "jax")
"""The peer libraries, each timed when it can be imported."""

DTYPES = ("float32", "float64")

TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("tiny", "float32"): ("fastest peer", 0.8),
    ("medium", "float32"): ("fastest peer", 0.9),
    ("large", "float32"): ("floor", 1.05),
    ("tiny", "float64"): ("sklearn", 0.5),
    ("medium", "float64"): ("sklearn", 0.5),
    ("large", "float64"): ("sklearn", 0.5),
}
"""(config, dtype) -> (what deltaprop's step time is divided by, the largest ratio that passes)."""

MEMORY_TARGET = 1.2
"""Peak memory of a step / (parameters + gradients + cached Z and A) must stay at or below."""


# --- contenders ---------------------------------------------------------------------------------


@dataclass
class Contender:
    """One way of taking the step: ``step()`` takes one; ``params()`` reads the weights back.

    ``params()`` returns ``[(W, b), ...]`` as NumPy arrays in deltaprop's convention,
    ``W`` of shape (n_l, n_{l-1}) and ``b`` of shape (n_l, 1); None for the floor.
    """

    name: str
    step: Callable[[], Any]
    params: Callable[[], list[tuple[np.ndarray, np.ndarray]]] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Problem:
    """A network's widths, a batch and the initial weights every contender starts from.

    ``X`` of shape (n_0, m), ``Y`` of shape (n_L, m); ``W0[l-1]`` of shape (n_l, n_{l-1}),
    ``b0[l-1]`` of shape (n_l, 1); all of ``dtype``.
    """

    sizes: list[int]
    m: int
    dtype: str
    lr: float
    X: np.ndarray
    Y: np.ndarray
    W0: list[np.ndarray]
    b0: list[np.ndarray]

    @classmethod
    def make(
        cls, sizes: Sequence[int], m: int, dtype: str, lr: float = 1e-3, seed: int = 0
    ) -> Problem:
        from .network import Network

        net = Network(sizes, dtype=dtype, seed=seed)
        rng = np.random.default_rng(seed + 1)
        # small non-zero biases, so that every contender's bias path does real work
        b0 = [(0.01 * rng.standard_normal(b.shape)).astype(dtype) for b in net.b]
        X = rng.standard_normal((sizes[0], m)).astype(dtype)
        Y = rng.standard_normal((sizes[-1], m)).astype(dtype)
        return cls(list(sizes), m, dtype, lr, X, Y, [W.copy() for W in net.W], b0)

    @property
    def flops(self) -> dict[str, int]:
        """Floating-point operations of the step's matrix products: forward, backward."""
        s, m = self.sizes, self.m
        fwd = sum(2 * s[l] * s[l - 1] * m for l in range(1, len(s)))
        back = fwd + sum(2 * s[l] * s[l - 1] * m for l in range(2, len(s)))
        return {"forward": fwd, "backward": back}

    @property
    def nbytes(self) -> dict[str, int]:
        """Bytes of the parameters and of the cached Z and A (:math:`2 \\sum_l n_l m`)."""
        item = np.dtype(self.dtype).itemsize
        params = sum(W.size + b.size for W, b in zip(self.W0, self.b0)) * item
        cached = 2 * sum(self.sizes[1:]) * self.m * item
        return {"parameters": params, "gradients": params, "Z_and_A": cached}


def deltaprop_contender(p: Problem, reference: bool = False, update: bool = True) -> Contender:
    """The fit loop's step: ``_gradients`` (fast path) or ``_reference_gradients``, then SGD.

    ``update=False`` leaves the SGD step out (the gradients alone).
    """
    from .network import Network
    from .optim import SGD

    net = Network(p.sizes, dtype=p.dtype, seed=0)
    for l in range(1, net.L + 1):
        net.W[l], net.b[l] = p.W0[l - 1].copy(), p.b0[l - 1].copy()
    opt = SGD(lr=p.lr)
    grad = net._reference_gradients if reference else net._gradients
    X, Y = p.X, p.Y

    def step() -> None:
        _, dW, db = grad(X, Y)
        if update:
            opt.step(net, dW, db)

    def params() -> list[tuple[np.ndarray, np.ndarray]]:
        return [(W.copy(), b.copy()) for W, b in zip(net.W, net.b)]

    name = "deltaprop-reference" if reference else "deltaprop"
    return Contender(name, step, params)


def sklearn_contender(p: Problem) -> Contender:
    """``MLPRegressor.partial_fit`` on the batch; samples as rows at its boundary."""
    import sklearn
    from sklearn.neural_network import MLPRegressor

    X = np.ascontiguousarray(p.X.T)
    y = np.ascontiguousarray(p.Y.T)
    y = y.ravel() if y.shape[1] == 1 else y
    # scikit-learn's squared error is half ours, J = (1/2m) Σ ||y − ŷ||², so its gradient is
    # half ours: a learning rate of 2 lr takes the same step.
    mlp = MLPRegressor(
        hidden_layer_sizes=tuple(p.sizes[1:-1]),
        activation="relu",
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=2 * p.lr,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        batch_size=p.m,
        shuffle=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.partial_fit(X, y)  # initialises coefs_ and intercepts_ ...
    for i, (W, b) in enumerate(zip(p.W0, p.b0)):  # ... which then start from our weights
        mlp.coefs_[i][...] = W.T
        mlp.intercepts_[i][...] = b.ravel()

    def step() -> None:
        mlp.partial_fit(X, y)

    def params() -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (np.array(c.T), np.array(i).reshape(-1, 1)) for c, i in zip(mlp.coefs_, mlp.intercepts_)
        ]

    return Contender("sklearn", step, params, {"version": sklearn.__version__})


def torch_contender(p: Problem) -> Contender:
    """PyTorch eager: ``nn.Sequential`` of ``Linear``/``ReLU``, ``torch.optim.SGD``."""
    import torch

    dtype = getattr(torch, p.dtype)
    layers: list[Any] = []
    for l in range(1, len(p.sizes)):
        lin = torch.nn.Linear(p.sizes[l - 1], p.sizes[l], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(p.W0[l - 1]))
            lin.bias.copy_(torch.from_numpy(p.b0[l - 1].ravel()))
        layers.append(lin)
        if l < len(p.sizes) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=p.lr)
    X = torch.from_numpy(np.ascontiguousarray(p.X.T))
    Y = torch.from_numpy(np.ascontiguousarray(p.Y.T))
    m = p.m

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        E = model(X) - Y
        J = (E * E).sum() / m  # J = (1/m) Σ_i ||y_i − ŷ_i||², as deltaprop's MSE
        J.backward()
        opt.step()

    def params() -> list[tuple[np.ndarray, np.ndarray]]:
        lins = [x for x in model if isinstance(x, torch.nn.Linear)]
        return [
            (lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().reshape(-1, 1).copy())
            for lin in lins
        ]

    return Contender(
        "torch", step, params, {"version": torch.__version__, "threads": torch.get_num_threads()}
    )


def jax_contender(p: Problem) -> Contender:
    """``jax.jit`` of ``value_and_grad`` plus the SGD update, parameters donated."""
    import jax

    if p.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    lr, m, L = p.lr, p.m, len(p.sizes) - 1

    def cost(params: Any, X: Any, Y: Any) -> Any:
        A = X
        for l, (W, b) in enumerate(params, start=1):
            Z = W @ A + b
            A = jnp.maximum(Z, 0) if l < L else Z
        E = A - Y
        return jnp.sum(E * E) / m

    def update(params: Any, X: Any, Y: Any) -> Any:
        J, grads = jax.value_and_grad(cost)(params, X, Y)
        return J, jax.tree_util.tree_map(lambda w, g: w - lr * g, params, grads)

    jstep = jax.jit(update, donate_argnums=0)
    state = {"params": [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(p.W0, p.b0)]}
    X, Y = jnp.asarray(p.X), jnp.asarray(p.Y)

    def step() -> None:
        J, state["params"] = jstep(state["params"], X, Y)
        jax.block_until_ready((J, state["params"]))

    def params() -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.array(W), np.array(b)) for W, b in state["params"]]

    return Contender(
        "jax", step, params, {"version": jax.__version__, "backend": jax.default_backend()}
    )


def floor_contender(p: Problem) -> Contender:
    """The step's matrix products alone (3 per layer less one), into preallocated arrays.

    Forward :math:`W^{[l]} A^{[l-1]}` (l = 1..L), then :math:`\\delta^{[l]} A^{[l-1]T}`
    (l = 1..L) and :math:`W^{[l]T} \\delta^{[l]}` (l = 2..L), with NumPy's BLAS; a product
    with inner dimension 1 (:math:`W^{[L]T}\\delta^{[L]}` when :math:`n_L = 1`) is the
    broadcast product it is, so the floor is never slowed by a BLAS call it does not need.
    """
    rng = np.random.default_rng(2)
    s, m, L, dt = p.sizes, p.m, len(p.sizes) - 1, p.dtype
    W = [None] + [w.copy() for w in p.W0]
    A = [p.X] + [rng.standard_normal((s[l], m)).astype(dt) for l in range(1, L + 1)]
    D = [None] + [rng.standard_normal((s[l], m)).astype(dt) for l in range(1, L + 1)]
    Z = [None] + [np.empty((s[l], m), dt) for l in range(1, L + 1)]
    dW = [None] + [np.empty((s[l], s[l - 1]), dt) for l in range(1, L + 1)]
    P = [None] + [np.empty((s[l], m), dt) for l in range(1, L + 1)]

    def step() -> None:
        for l in range(1, L + 1):
            np.matmul(W[l], A[l - 1], out=Z[l])
        for l in range(L, 0, -1):
            np.matmul(D[l], A[l - 1].T, out=dW[l])
            if l > 1:
                if s[l] == 1:
                    np.multiply(W[l].T, D[l], out=P[l - 1])
                else:
                    np.matmul(W[l].T, D[l], out=P[l - 1])

    return Contender("floor", step)


_MAKERS: dict[str, Callable[[Problem], Contender]] = {
    "sklearn": sklearn_contender,
    "torch": torch_contender,
    "jax": jax_contender,
}


def contenders(
    p: Problem, peers: Sequence[str] = PEERS, reference: bool = True, floor: bool = True
) -> tuple[list[Contender], dict[str, str]]:
    """deltaprop, the reference path, the peers that import, the floor; and why any is missing."""
    out = [deltaprop_contender(p)]
    if reference:
        out.append(deltaprop_contender(p, reference=True))
    skipped: dict[str, str] = {}
    for name in peers:
        if name not in _MAKERS:
            raise ValueError(f"peers must be among {', '.join(PEERS)}; got {name!r}")
        try:
            out.append(_MAKERS[name](p))
        except ImportError as e:
            skipped[name] = f"not installed ({e})"
    if floor:
        out.append(floor_contender(p))
    return out, skipped


def agreement(p: Problem, peers: Sequence[str] = PEERS) -> dict[str, float]:
    """How far each peer's first step is from deltaprop's, relative to the step's size.

    After one step from the common weights, each parameter array has moved by
    :math:`\\Delta\\theta`; reported per contender is the worst over all parameters of
    ``max|Δθ − Δθ_dp| / max|Δθ_dp|``. Near rounding (about 1e-3 in float32, where
    :math:`\\Delta\\theta` loses digits to cancellation; 1e-9 in float64) when the peers take
    the same step; a peer with another loss scale or learning rate would be off by O(1).
    """
    cs, _ = contenders(p, peers, reference=True, floor=False)
    for c in cs:
        c.step()
    start = list(zip(p.W0, p.b0))

    def moves(c: Contender) -> list[np.ndarray]:
        after = c.params()  # type: ignore[misc]
        return [
            np.asarray(a, np.float64) - a0
            for (W, b), (W0, b0) in zip(after, start)
            for a, a0 in ((W, W0), (b, b0))
        ]

    ours = moves(cs[0])
    out = {}
    for c in cs[1:]:
        worst = 0.0
        for d, d2 in zip(ours, moves(c)):
            scale = float(np.max(np.abs(d))) or 1.0
            worst = max(worst, float(np.max(np.abs(d2 - d))) / scale)
        out[c.name] = worst
    return out


# --- timing -----------------------------------------------------------------------------------


def _sample(step: Callable[[], Any], k: int) -> float:
    """Seconds per step over ``k`` back-to-back steps, garbage collector off."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(k):
            step()
        return (time.perf_counter() - t0) / k
    finally:
        if gc_was:
            gc.enable()


def time_contenders(
    cs: Sequence[Contender],
    repeats: int = 7,
    min_sample_s: float = 0.02,
    warmup_s: float = 0.05,
    pause_s: float = 0.0,
) -> dict[str, list[float]]:
    """Interleaved timing: ``{name: [seconds per step, one per round]}``.

    Each contender is warmed up (at least two steps and ``warmup_s``), then ``repeats``
    rounds; in round r the contenders run in the order rotated by r. ``pause_s`` sleeps
    between samples so that one library's spinning worker threads do not tax the next.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    ks = []
    for c in cs:
        t_end = time.perf_counter() + warmup_s
        n = 0
        while n < 2 or time.perf_counter() < t_end:
            c.step()
            n += 1
        t1 = _sample(c.step, 1)
        ks.append(max(1, min(10_000, math.ceil(min_sample_s / max(t1, 1e-7)))))
    times: dict[str, list[float]] = {c.name: [] for c in cs}
    order = list(range(len(cs)))
    gc.collect()
    for r in range(repeats):
        for i in order[r % len(cs) :] + order[: r % len(cs)]:
            if pause_s:
                time.sleep(pause_s)
            times[cs[i].name].append(_sample(cs[i].step, ks[i]))
    return times


def ratios(times: dict[str, list[float]], of: str = "deltaprop") -> dict[str, float]:
    """``{other: median over rounds of times[of][r] / times[other][r]}``."""
    mine = times[of]
    return {
        name: statistics.median(a / b for a, b in zip(mine, t))
        for name, t in times.items()
        if name != of
    }


# --- memory -------------------------------------------------------------------------------------


def step_memory(p: Problem, reference: bool = False, steps: int = 2) -> dict[str, Any]:
    """Peak memory of deltaprop's step, from :mod:`tracemalloc`, against the budget.

    The parameters exist before tracing starts; everything the steps allocate (the fast
    path's workspace on the first step, the gradients, the optimiser's state, any temporary)
    is traced. ``peak_bytes`` = parameters + traced peak of ``steps`` whole steps;
    ``gradients_peak_bytes`` the same for ``_gradients`` alone (no optimiser); budget =
    parameters + gradients + cached Z and A.
    """
    nb = p.nbytes
    budget = nb["parameters"] + nb["gradients"] + nb["Z_and_A"]

    def peak(step: Callable[[], Any]) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            for _ in range(steps):
                step()
            return nb["parameters"] + tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole = peak(deltaprop_contender(p, reference=reference).step)
    grads = peak(deltaprop_contender(p, reference=reference, update=False).step)
    return {
        "peak_bytes": whole,
        "budget_bytes": budget,
        "ratio": whole / budget,
        "gradients_peak_bytes": grads,
        "gradients_ratio": grads / budget,
        **nb,
    }


# --- the benchmark --------------------------------------------------------------------------------


def run(
    configs: Sequence[str] = ("tiny", "medium"),
    dtypes: Sequence[str] = DTYPES,
    peers: Sequence[str] = PEERS,
    repeats: int = 7,
    min_sample_s: float = 0.02,
    pause_s: float = 0.0,
    lr: float = 1e-3,
    memory: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Time every contender on each (config, dtype) and check the targets.

    Parameters
    ----------
    configs : names from :data:`CONFIGS`
    dtypes : "float32" and/or "float64"
    peers : names from :data:`PEERS`; those that do not import are listed under "skipped"
    repeats, min_sample_s, pause_s : see :func:`time_contenders`
    lr : SGD learning rate of every contender
    memory : also measure the step's peak memory (:func:`step_memory`)
    progress : called with a short line before each (config, dtype)

    Returns
    -------
    dict
        JSON-ready: ``machine`` (:func:`machine`), ``settings``, ``results`` (one entry per
        config and dtype: ``median_s`` per contender, ``ratios`` deltaprop / other,
        ``gflops``, ``memory``, ``targets``), ``skipped`` peers, ``all_targets_met``.
    """
    for name in configs:
        if name not in CONFIGS:
            raise ValueError(f"configs must be among {', '.join(CONFIGS)}; got {name!r}")
    for dt in dtypes:
        if dt not in DTYPES:
            raise ValueError(f"dtypes must be among {', '.join(DTYPES)}; got {dt!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr!r}")
    results = []
    skipped: dict[str, str] = {}
    load_before = _loadavg()
    t_start = time.perf_counter()
    for name in configs:
        sizes, m = CONFIGS[name]
        for dt in dtypes:
            if progress is not None:
                progress(f"{name} {dt}: {sizes}, m = {m}")
            p = Problem.make(sizes, m, dt, lr=lr)
            cs, skip = contenders(p, peers)
            skipped.update(skip)
            times = time_contenders(cs, repeats=repeats, min_sample_s=min_sample_s, pause_s=pause_s)
            entry: dict[str, Any] = {
                "config": name,
                "sizes": sizes,
                "m": m,
                "dtype": dt,
                "median_s": {k: statistics.median(v) for k, v in times.items()},
                "ratios": ratios(times),
                "samples_s": times,
                "flops": p.flops,
            }
            total = sum(p.flops.values())
            entry["gflops"] = {k: total / v / 1e9 for k, v in entry["median_s"].items()}
            if memory:
                entry["memory"] = step_memory(p)
                entry["memory"]["reference_ratio"] = step_memory(p, reference=True)["ratio"]
            entry["targets"] = _targets(entry)
            results.append(entry)
            del cs
    out = {
        "machine": machine(),
        "settings": {
            "repeats": repeats,
            "min_sample_s": min_sample_s,
            "pause_s": pause_s,
            "lr": lr,
            "step": "forward, backward, SGD update (momentum 0)",
        },
        "load_average": {"before": load_before, "after": _loadavg()},
        "wall_s": time.perf_counter() - t_start,
        "results": results,
        "skipped": skipped,
    }
    out["all_targets_met"] = all(t["met"] for r in results for t in r["targets"])
    return out


def _targets(entry: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    kind, limit = TARGETS[(entry["config"], entry["dtype"])]
    r = entry["ratios"]
    if kind == "fastest peer":
        peers = {k: v for k, v in r.items() if k in PEERS}
        if peers:
            # the fastest peer has the smallest time, so deltaprop / it is the largest ratio
            fastest = max(peers, key=lambda k: peers[k])
            out.append(
                {
                    "name": f"deltaprop / fastest peer ({fastest})",
                    "value": peers[fastest],
                    "limit": limit,
                    "met": peers[fastest] <= limit,
                }
            )
    elif kind in r:
        out.append(
            {
                "name": f"deltaprop / {kind}",
                "value": r[kind],
                "limit": limit,
                "met": r[kind] <= limit,
            }
        )
    if "memory" in entry:
        v = entry["memory"]["ratio"]
        out.append(
            {
                "name": "peak memory / (params + grads + Z + A)",
                "value": v,
                "limit": MEMORY_TARGET,
                "met": v <= MEMORY_TARGET,
            }
        )
    return out


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        return None


def machine() -> dict[str, Any]:
    """The machine, the Python and library versions, and the BLAS libraries in use."""
    import threadpoolctl

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover - not Linux
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("sklearn", "torch", "jax", "scipy"):
        if mod in sys.modules:
            versions[mod] = getattr(sys.modules[mod], "__version__", "?")
    blas = [
        {
            k: d.get(k)
            for k in (
                "user_api",
                "internal_api",
                "prefix",
                "version",
                "architecture",
                "threading_layer",
                "num_threads",
                "filepath",
            )
        }
        for d in threadpoolctl.threadpool_info()
    ]
    numpy_blas = next((b for b in blas if "numpy" in str(b.get("filepath", ""))), None)
    env = {
        k: os.environ.get(k)
        for k in (
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
        )
    }
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "numpy_blas": numpy_blas,
        "threadpools": blas,
        "env": env,
    }


# --- scaling --------------------------------------------------------------------------------


def scaling(
    depths: Sequence[int] = (2, 4, 8, 16, 32),
    batches: Sequence[int] = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
    width: int = 256,
    m: int = 256,
    depth: int = 4,
    dtype: str = "float32",
    repeats: int = 5,
    min_sample_s: float = 0.02,
) -> dict[str, Any]:
    """Time per step against depth and against batch width, forward and backward apart.

    Depth series: widths ``[width] * L + [1]`` (L − 1 hidden layers and one output) for L in
    ``depths`` at batch ``m``. Batch series: ``depth`` such layers, batch widths ``batches``.
    For each point: the step (``_gradients`` + SGD), the gradients alone, the forward pass
    alone into the same buffers, and the matrix-product floor with its forward products apart.
    ``backward_over_forward`` = (gradients − forward) / forward, beside ``flop_ratio``, the
    exact ratio of the backward products' FLOPs to the forward ones' (tends to 2 with depth:
    layer 1 needs no :math:`W^{[1]T}\\delta^{[1]}`). ``depth_fit``/``batch_fit``: least-squares
    lines through the step times.
    """
    series: dict[str, list[dict[str, Any]]] = {"depth": [], "batch": []}
    points = [("depth", [width] * L + [1], m, L) for L in depths]
    points += [("batch", [width] * depth + [1], mb, mb) for mb in batches]
    for kind, sizes, mb, x in points:
        p = Problem.make(sizes, mb, dtype)
        series[kind].append({"x": x, "sizes": sizes, "m": mb, **_phases(p, repeats, min_sample_s)})
    for kind in ("depth", "batch"):
        xs = np.array([pt["x"] for pt in series[kind]], float)
        ys = np.array([pt["step_s"] for pt in series[kind]], float)
        series[kind + "_fit"] = _linear_fit(xs, ys)  # type: ignore[assignment]
    return {"machine": machine(), "dtype": dtype, "width": width, **series}


def _phases(p: Problem, repeats: int, min_sample_s: float) -> dict[str, Any]:
    from . import _fast
    from .network import Network
    from .optim import SGD

    net = Network(p.sizes, dtype=p.dtype, seed=0)
    X, Y = p.X, p.Y
    opt = SGD(lr=p.lr)
    ws = _fast.workspace(net, p.m, cache=False)

    def step() -> None:
        _, dW, db = net._gradients(X, Y)
        opt.step(net, dW, db)

    def grads() -> None:
        net._gradients(X, Y)

    def forward() -> None:
        _fast._forward(net, ws, X)

    floor = floor_contender(p)
    s, L, mb = p.sizes, len(p.sizes) - 1, p.m
    rng = np.random.default_rng(3)
    A = [X] + [rng.standard_normal((n, mb)).astype(p.dtype) for n in s[1:]]
    Zf = [np.empty((n, mb), p.dtype) for n in s[1:]]

    def floor_forward() -> None:
        for l in range(1, L + 1):
            np.matmul(net.W[l], A[l - 1], out=Zf[l - 1])

    cs = [
        Contender("step", step),
        Contender("gradients", grads),
        Contender("forward", forward),
        Contender("floor", floor.step),
        Contender("floor_forward", floor_forward),
    ]
    times = time_contenders(cs, repeats=repeats, min_sample_s=min_sample_s)
    med = {k: statistics.median(v) for k, v in times.items()}
    flops = p.flops
    fwd, back = med["forward"], med["gradients"] - med["forward"]
    ffwd, fback = med["floor_forward"], med["floor"] - med["floor_forward"]
    return {
        "step_s": med["step"],
        "gradients_s": med["gradients"],
        "forward_s": fwd,
        "backward_s": back,
        "floor_s": med["floor"],
        "backward_over_forward": back / fwd,
        "floor_backward_over_forward": fback / ffwd,
        "flop_ratio": flops["backward"] / flops["forward"],
        "step_over_floor": statistics.median(a / b for a, b in zip(times["step"], times["floor"])),
        "gflops": (flops["forward"] + flops["backward"]) / med["step"] / 1e9,
    }


def _linear_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least-squares ``y = slope x + intercept`` and its R²."""
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * x + intercept
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return {"slope": float(slope), "intercept": float(intercept), "r2": 1.0 - ss_res / ss_tot}


# --- presentation ---------------------------------------------------------------------------


def table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (strings) of the step table: time, ratios, memory, targets.

    ``/x`` columns are deltaprop's time over x's (below 1: deltaprop is faster); ``ref`` is
    deltaprop's reference path; ``mem`` the peak memory over its budget.
    """
    names = ["deltaprop-reference", *PEERS, "floor"]
    short = {"deltaprop-reference": "ref"}
    headers = ["config", "dtype", "ms"] + [f"/{short.get(n, n)}" for n in names]
    headers += ["mem", "targets"]
    rows = []
    for r in result["results"]:
        row = [r["config"], r["dtype"], f"{1e3 * r['median_s']['deltaprop']:.3g}"]
        row += [f"{r['ratios'][n]:.2f}" if n in r["ratios"] else "-" for n in names]
        row.append(f"{r['memory']['ratio']:.2f}" if "memory" in r else "-")
        row.append("met" if all(t["met"] for t in r["targets"]) else "MISSED")
        rows.append(row)
    return headers, rows


def markdown(result: dict[str, Any]) -> str:
    """The step table as Markdown, with the machine and BLAS line under it."""
    headers, rows = table(result)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    mach = result["machine"]
    b = mach.get("numpy_blas") or {}
    lines.append("")
    lines.append(
        f"{mach['cpu']}, {mach['cores']} cores; NumPy {mach['versions']['numpy']} with "
        f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')} kernels, "
        f"{b.get('num_threads')} threads); load average {result['load_average']}."
    )
    return "\n".join(lines)


__all__ = [
    "CONFIGS",
    "DTYPES",
    "MEMORY_TARGET",
    "PEERS",
    "TARGETS",
    "Contender",
    "Problem",
    "agreement",
    "contenders",
    "machine",
    "markdown",
    "ratios",
    "run",
    "scaling",
    "step_memory",
    "table",
    "time_contenders",
]

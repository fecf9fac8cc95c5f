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


def _torch_sequential(p: Problem | FitProblem) -> Any:
    """``nn.Sequential`` of ``Linear``/``ReLU`` starting from the problem's ``W0``, ``b0``."""
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
    return torch.nn.Sequential(*layers)


def torch_contender(p: Problem) -> Contender:
    """PyTorch eager: ``nn.Sequential`` of ``Linear``/``ReLU``, ``torch.optim.SGD``."""
    import torch

    model = _torch_sequential(p)
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
    # index 0 is not a layer (None), as in the math
    D: list[Any] = [None] + [rng.standard_normal((s[l], m)).astype(dt) for l in range(1, L + 1)]
    Z: list[Any] = [None] + [np.empty((s[l], m), dt) for l in range(1, L + 1)]
    dW: list[Any] = [None] + [np.empty((s[l], s[l - 1]), dt) for l in range(1, L + 1)]
    P: list[Any] = [None] + [np.empty((s[l], m), dt) for l in range(1, L + 1)]

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


# --- the fit benchmark (issue 14) ---------------------------------------------------------------

FIT_CONFIGS: dict[str, tuple[list[int], int, int, int]] = {
    "tiny": ([10, 64, 64, 1], 64, 20_480, 4),
    "medium": ([10, 256, 256, 256, 1], 256, 40_960, 1),
    "large": ([1024, 2048, 2048, 1], 1024, 4_096, 1),
}
"""Name -> (widths, batch size, training samples n, epochs per timed sample).

n is a multiple of the batch size, so every contender takes exactly n / batch updates an epoch
(JAX's ``lax.scan`` needs equal batches). The large network's n is small so that a run stays
within minutes on two shared cores (an epoch there is four updates of ~40 GFLOP each)."""

FIT_PEERS = ("sklearn", "torch", "jax")
"""The fit benchmark's peer libraries (each timed when it imports)."""

FIT_TARGETS: dict[str, tuple[str, float]] = {
    "sklearn": ("deltaprop / sklearn", 1.0),
    "torch": ("deltaprop / torch", 1.0),
    "floor": ("deltaprop / floor", 1.25),
    "jax": ("deltaprop-jax / jax", 1.1),
}
"""Issue 14's targets: what is divided by what, and the largest ratio that passes. The floor
target applies to medium and large, the ``deltaprop-jax`` one to tiny and medium."""


@dataclass
class FitProblem:
    """Training data and the initial weights every fit contender starts from.

    ``X`` (n_0, n) and ``Y`` (n_L, n), samples as columns, ``Y`` a smooth function of ``X``
    (a random two-layer teacher with tanh units) so that the loss falls steadily.
    """

    name: str
    sizes: list[int]
    batch: int
    n: int
    dtype: str
    lr: float
    X: np.ndarray
    Y: np.ndarray
    W0: list[np.ndarray]
    b0: list[np.ndarray]

    @classmethod
    def make(
        cls, name: str, dtype: str, lr: float = 1e-3, seed: int = 0, n: int | None = None
    ) -> FitProblem:
        """The problem of ``FIT_CONFIGS[name]``; ``n`` replaces its sample count (tests)."""
        from .network import Network

        sizes, batch, n_, _ = FIT_CONFIGS[name]
        n = n_ if n is None else n
        net = Network(sizes, dtype=dtype, seed=seed)
        rng = np.random.default_rng(seed + 1)
        X = rng.standard_normal((sizes[0], n))
        T = rng.standard_normal((16, sizes[0])) / math.sqrt(sizes[0])
        V = rng.standard_normal((sizes[-1], 16)) / 4.0
        Y = V @ np.tanh(2.0 * (T @ X))
        b0 = [np.zeros_like(b) for b in net.b]
        return cls(
            name, list(sizes), batch, n, dtype, lr, X.astype(dtype), Y.astype(dtype),
            [np.array(W) for W in net.W], b0,
        )  # fmt: skip

    @property
    def updates(self) -> int:
        """Optimiser steps per epoch."""
        return self.n // self.batch

    @property
    def flops(self) -> int:
        """Floating-point operations of one epoch's matrix products (3 per layer less one)."""
        s, m = self.sizes, self.batch
        step = sum(2 * s[l] * s[l - 1] * m for l in range(1, len(s))) * 2
        step += sum(2 * s[l] * s[l - 1] * m for l in range(2, len(s)))
        return step * self.updates

    def mse(self, params: list[tuple[np.ndarray, np.ndarray]]) -> float:
        """deltaprop's MSE (sum over outputs, mean over samples) of ``params``, in float64."""
        A = self.X.astype(np.float64)
        for l, (W, b) in enumerate(params, start=1):
            A = np.asarray(W, np.float64) @ A + np.asarray(b, np.float64).reshape(-1, 1)
            if l < len(params):
                A = np.maximum(A, 0.0)
        E = A - self.Y
        return float(np.sum(E * E) / self.n)


@dataclass
class FitContender:
    """One way of training: ``epochs(k)`` trains k more epochs; ``params()`` reads the weights."""

    name: str
    epochs: Callable[[int], Any]
    params: Callable[[], list[tuple[np.ndarray, np.ndarray]]] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _dp_params(net: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    from ._array import to_numpy

    return [(to_numpy(W).copy(), to_numpy(b).copy()) for W, b in zip(net.W, net.b)]


def fit_deltaprop(p: FitProblem, backend: str = "numpy", package: str = "") -> FitContender:
    """``deltaprop.fit``: Adam, shuffled batches, no early stopping; each call continues
    training from the current weights (a new optimiser per call, as for every contender).

    ``package``: the name of another importable copy of deltaprop (say an older commit's
    sources copied as ``deltaprop_base``) to time in the same rounds, as ``deltaprop@<name>``.
    """
    if package:
        import importlib

        Network = importlib.import_module(f"{package}.network").Network
        fit = importlib.import_module(f"{package}.training").fit
    else:
        from .network import Network
        from .training import fit

    net = Network(p.sizes, dtype=p.dtype, seed=0)
    for l in range(1, net.L + 1):
        net.W[l], net.b[l] = p.W0[l - 1], p.b0[l - 1]
    if backend != "numpy":
        net = net.to(backend)
    X, Y = (p.X, p.Y) if backend == "numpy" else (net._asarray(p.X), net._asarray(p.Y))
    calls = [0]

    def epochs(k: int) -> None:
        calls[0] += 1
        fit(net, X, Y, optimizer="adam", lr=p.lr, epochs=k, batch_size=p.batch,
            seed=calls[0], n_iter_no_change=None)  # fmt: skip

    name = "deltaprop" if backend == "numpy" else f"deltaprop-{backend}"
    if package:
        name = f"deltaprop@{package}"
    return FitContender(name, epochs, lambda: _dp_params(net))


def fit_estimator(p: FitProblem) -> FitContender:
    """``DeltaPropRegressor.fit`` (warm start: weights carried over, a fresh optimiser)."""
    from .estimator import DeltaPropRegressor

    Xr, y = np.ascontiguousarray(p.X.T), np.ascontiguousarray(p.Y.T)
    y = y.ravel() if y.shape[1] == 1 else y
    reg = DeltaPropRegressor(
        hidden_layer_sizes=tuple(p.sizes[1:-1]), solver="adam", alpha=0.0,
        batch_size=p.batch, learning_rate_init=p.lr, max_iter=1, shuffle=True,
        random_state=0, tol=0.0, n_iter_no_change=10**9, warm_start=True,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(Xr[: p.batch], y[: p.batch])  # builds network_ ...
    net = reg.network_
    for l in range(1, net.L + 1):  # ... which then starts from the common weights
        net.W[l], net.b[l] = p.W0[l - 1], p.b0[l - 1]

    def epochs(k: int) -> None:
        reg.max_iter = k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reg.fit(Xr, y)

    return FitContender("DeltaPropRegressor", epochs, lambda: _dp_params(reg.network_))


def fit_sklearn(p: FitProblem) -> FitContender:
    """``MLPRegressor.fit`` with Adam (warm start: weights carried over, a fresh optimiser).

    Its squared error is half deltaprop's, so its gradient is half; Adam's step does not
    depend on the gradient's scale (but for ε), so the same learning rate trains alike.
    """
    import sklearn
    from sklearn.neural_network import MLPRegressor

    Xr, y = np.ascontiguousarray(p.X.T), np.ascontiguousarray(p.Y.T)
    y = y.ravel() if y.shape[1] == 1 else y
    mlp = MLPRegressor(
        hidden_layer_sizes=tuple(p.sizes[1:-1]), activation="relu", solver="adam",
        alpha=0.0, batch_size=p.batch, learning_rate_init=p.lr, max_iter=1, shuffle=True,
        random_state=0, tol=0.0, n_iter_no_change=10**9, early_stopping=False,
        warm_start=True,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(Xr[: p.batch], y[: p.batch])
    for i, (W, b) in enumerate(zip(p.W0, p.b0)):
        mlp.coefs_[i] = np.ascontiguousarray(W.T)
        mlp.intercepts_[i] = b.ravel().copy()

    def epochs(k: int) -> None:
        mlp.max_iter = k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlp.fit(Xr, y)

    def params() -> list[tuple[np.ndarray, np.ndarray]]:
        return [(c.T.copy(), i.reshape(-1, 1).copy()) for c, i in zip(mlp.coefs_, mlp.intercepts_)]

    return FitContender("sklearn", epochs, params, {"version": sklearn.__version__})


def fit_torch(p: FitProblem) -> FitContender:
    """A PyTorch hand loop: ``nn.Sequential``, ``optim.Adam``, ``randperm`` batches."""
    import torch

    model = _torch_sequential(p)
    X = torch.from_numpy(np.ascontiguousarray(p.X.T))
    Y = torch.from_numpy(np.ascontiguousarray(p.Y.T))
    gen = torch.Generator().manual_seed(0)
    n, bs = p.n, p.batch

    def epochs(k: int) -> None:
        opt = torch.optim.Adam(model.parameters(), lr=p.lr)
        for _ in range(k):
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, bs):
                idx = perm[s : s + bs]
                xb, yb = X[idx], Y[idx]
                opt.zero_grad(set_to_none=True)
                E = model(xb) - yb
                J = (E * E).sum() / xb.shape[0]  # deltaprop's MSE
                J.backward()
                opt.step()

    def params() -> list[tuple[np.ndarray, np.ndarray]]:
        lins = [x for x in model if isinstance(x, torch.nn.Linear)]
        return [
            (lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().reshape(-1, 1).copy())
            for lin in lins
        ]

    info = {"version": torch.__version__, "threads": torch.get_num_threads()}
    return FitContender("torch", epochs, params, info)


def fit_jax(p: FitProblem) -> FitContender:
    """JAX: one ``jax.jit`` epoch, ``lax.scan`` over its batches, hand-written Adam.

    The epoch gathers the shuffled batches (``jnp.take``), takes ``value_and_grad`` of the
    MSE and the Adam update per batch, all inside one compiled program.
    """
    import jax

    if p.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    jnp, lax = jax.numpy, jax.lax
    L, bs, nb = len(p.sizes) - 1, p.batch, p.updates
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, p.lr
    dt = getattr(jnp, p.dtype)

    def cost(params: Any, X: Any, Y: Any) -> Any:
        A = X
        for l, (W, b) in enumerate(params, start=1):
            Z = W @ A + b
            A = jnp.maximum(Z, 0) if l < L else Z
        E = A - Y
        return jnp.sum(E * E) / X.shape[1]

    def epoch(carry: Any, X: Any, Y: Any, perm: Any) -> Any:
        Xb = jnp.take(X, perm, axis=1).reshape(X.shape[0], nb, bs).transpose(1, 0, 2)
        Yb = jnp.take(Y, perm, axis=1).reshape(Y.shape[0], nb, bs).transpose(1, 0, 2)

        def step(c: Any, batch: Any) -> Any:
            params, m, v, t = c
            J, g = jax.value_and_grad(cost)(params, *batch)
            t = t + 1
            eta = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
            m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
            v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
            params = jax.tree_util.tree_map(
                lambda w, m_, v_: w - (eta * m_ / (jnp.sqrt(v_) + eps)).astype(dt), params, m, v
            )
            return (params, m, v, t), J

        return lax.scan(step, carry, (Xb, Yb))

    jepoch = jax.jit(epoch, donate_argnums=0)
    params0 = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(p.W0, p.b0)]
    state: dict[str, Any] = {"params": params0}
    X, Y = jnp.asarray(p.X), jnp.asarray(p.Y)
    rng = np.random.default_rng(0)

    def epochs(k: int) -> None:
        zeros = [jax.tree_util.tree_map(jnp.zeros_like, state["params"]) for _ in "mv"]
        carry = (state["params"], *zeros, jnp.asarray(0, dt))
        for _ in range(k):
            carry, _ = jepoch(carry, X, Y, jnp.asarray(rng.permutation(p.n)))
        jax.block_until_ready(carry)
        state["params"] = carry[0]

    def params() -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.array(W), np.array(b)) for W, b in state["params"]]

    info = {"version": jax.__version__, "backend": jax.default_backend()}
    return FitContender("jax", epochs, params, info)


def fit_floor(p: FitProblem) -> FitContender:
    """The epoch's matrix products alone: the step floor (:func:`floor_contender`) per batch."""
    step = floor_contender(Problem.make(p.sizes, p.batch, p.dtype, lr=p.lr)).step
    nb = p.updates

    def epochs(k: int) -> None:
        for _ in range(k * nb):
            step()

    return FitContender("floor", epochs)


_FIT_MAKERS: dict[str, Callable[[FitProblem], FitContender]] = {
    "sklearn": fit_sklearn,
    "torch": fit_torch,
    "jax": fit_jax,
}


def fit_contenders(
    p: FitProblem, peers: Sequence[str] = FIT_PEERS, estimator: bool = True, floor: bool = True,
    engines: Sequence[str] = (), baselines: Sequence[str] = (),
) -> tuple[list[FitContender], dict[str, str]]:  # fmt: skip
    """deltaprop's fit, the estimator, deltaprop's other engines, the peers, the floor.

    ``baselines``: names of other importable copies of deltaprop (:func:`fit_deltaprop`).
    """
    out = [fit_deltaprop(p)]
    out += [fit_deltaprop(p, package=b) for b in baselines]
    skipped: dict[str, str] = {}
    for eng in engines:
        try:
            out.append(fit_deltaprop(p, backend=eng))
        except ImportError as e:
            skipped[f"deltaprop-{eng}"] = f"not installed ({e})"
    if estimator:
        out.append(fit_estimator(p))
    for name in peers:
        if name not in _FIT_MAKERS:
            raise ValueError(f"peers must be among {', '.join(FIT_PEERS)}; got {name!r}")
        try:
            out.append(_FIT_MAKERS[name](p))
        except ImportError as e:
            skipped[name] = f"not installed ({e})"
    if floor:
        out.append(fit_floor(p))
    return out, skipped


def time_fit(
    cs: Sequence[FitContender], k: int, repeats: int = 3, pause_s: float = 0.2
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Interleaved: ``{name: [seconds per epoch, one per round]}`` of wall-clock time and of
    the process's CPU time, each sample ``k`` epochs.

    Every contender first trains one epoch untimed (compilation, caches, buffers); in round r
    the contenders run in the order rotated by r, the garbage collector off during a sample.
    CPU time (``time.process_time``, all threads of the process) leaves out the time spent
    waiting for a core: on a machine loaded by others it is the steadier measure of a
    single-threaded contender's work (caches shared with the other processes still inflate it).
    """
    for c in cs:
        c.epochs(1)
    wall: dict[str, list[float]] = {c.name: [] for c in cs}
    cpu: dict[str, list[float]] = {c.name: [] for c in cs}
    order = list(range(len(cs)))
    for r in range(repeats):
        for i in order[r % len(cs) :] + order[: r % len(cs)]:
            gc.collect()
            time.sleep(pause_s)
            c = cs[i]
            gc.disable()
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                c.epochs(k)
                t1, c1 = time.perf_counter(), time.process_time()
            finally:
                gc.enable()
            wall[c.name].append((t1 - t0) / k)
            cpu[c.name].append((c1 - c0) / k)
    return wall, cpu


def fit_agreement(p: FitProblem, cs: Sequence[FitContender], epochs: int) -> dict[str, float]:
    """Each contender's training MSE after ``epochs`` epochs from the common weights.

    Call on fresh contenders (before timing): the comparable-loss check that every
    contender trains the same network with the same optimiser and number of updates.
    """
    out = {"initial": p.mse(list(zip(p.W0, p.b0)))}
    for c in cs:
        if c.params is None:
            continue
        c.epochs(epochs)
        out[c.name] = p.mse(c.params())
    return out


def fit_run(
    configs: Sequence[str] = ("tiny", "medium"),
    dtypes: Sequence[str] = DTYPES,
    peers: Sequence[str] = FIT_PEERS,
    repeats: int = 3,
    check_epochs: int = 2,
    lr: float = 1e-3,
    engines: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    baselines: Sequence[str] = (),
    clock: str = "wall",
) -> dict[str, Any]:
    """The fit benchmark: per-epoch time of every contender on each (config, dtype).

    First the loss check (:func:`fit_agreement`, ``check_epochs`` epochs from the common
    weights; a contender is "comparable" when its final MSE is within a factor 2 of
    deltaprop's: the same training at the same pace; ``loss_fell`` says whether deltaprop's
    fell below the initial MSE, which a few Adam steps on a wide network need not do), then
    fresh contenders are timed (:func:`time_fit`). ``engines``: deltaprop's compiled engines
    to time too (default: ``"jax"`` where deltaprop has it and JAX imports); ``baselines``:
    other copies of deltaprop to time in the same rounds (:func:`fit_deltaprop`); ``clock``:
    what the medians and ratios are of, ``"wall"`` or ``"cpu"`` time (both are recorded).

    Returns
    -------
    dict
        JSON-ready: ``machine``, ``settings``, ``load_average``, ``results`` (per config and
        dtype: ``median_s`` per epoch, ``ratios`` deltaprop / other, ``loss`` after the check,
        ``comparable``, ``targets``), ``skipped``.
    """
    for name in configs:
        if name not in FIT_CONFIGS:
            raise ValueError(f"configs must be among {', '.join(FIT_CONFIGS)}; got {name!r}")
    for dt in dtypes:
        if dt not in DTYPES:
            raise ValueError(f"dtypes must be among {', '.join(DTYPES)}; got {dt!r}")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu'; got {clock!r}")
    if engines is None:
        engines = [e for e in ("jax",) if _has_engine(e)]
    results = []
    skipped: dict[str, str] = {}
    load_before = _loadavg()
    t_start = time.perf_counter()
    for name in configs:
        sizes, batch, n, k = FIT_CONFIGS[name]
        for dt in dtypes:
            if progress is not None:
                progress(f"{name} {dt}: {sizes}, batch {batch}, n = {n}")
            p = FitProblem.make(name, dt, lr=lr)
            entry: dict[str, Any] = {"config": name, "sizes": sizes, "batch": batch, "n": n,
                                     "dtype": dt, "updates_per_epoch": p.updates}  # fmt: skip
            if check_epochs:
                cs, _ = fit_contenders(p, peers, floor=False, engines=engines, baselines=baselines)
                loss = fit_agreement(p, cs, check_epochs)
                del cs
                ref = loss["deltaprop"]
                entry["loss"] = loss
                entry["comparable"] = {
                    k_: 0.5 <= v / ref <= 2.0 for k_, v in loss.items() if k_ != "initial"
                }
                entry["loss_fell"] = ref < loss["initial"]
            cs, skip = fit_contenders(p, peers, engines=engines, baselines=baselines)
            skipped.update(skip)
            entry["load_before"] = _loadavg()
            wall, cpu = time_fit(cs, k, repeats=repeats)
            times = cpu if clock == "cpu" else wall
            entry["load_after"] = _loadavg()
            entry["clock"] = clock
            entry["median_s"] = {c: statistics.median(v) for c, v in times.items()}
            entry["median_wall_s"] = {c: statistics.median(v) for c, v in wall.items()}
            entry["median_cpu_s"] = {c: statistics.median(v) for c, v in cpu.items()}
            entry["samples_wall_s"], entry["samples_cpu_s"] = wall, cpu
            entry["ratios"] = ratios(times)
            if "deltaprop-jax" in times and "jax" in times:
                entry["ratios"]["deltaprop-jax/jax"] = ratios(times, of="deltaprop-jax")["jax"]
            entry["epoch_gflop"] = p.flops / 1e9
            entry["targets"] = _fit_targets(entry)
            results.append(entry)
            del cs
    return {
        "machine": machine(),
        "settings": {"repeats": repeats, "check_epochs": check_epochs, "lr": lr, "clock": clock,
                     "optimizer": "adam", "configs": {c: FIT_CONFIGS[c] for c in configs}},
        "load_average": {"before": load_before, "after": _loadavg()},
        "wall_s": time.perf_counter() - t_start,
        "results": results,
        "skipped": skipped,
    }  # fmt: skip


def _has_engine(name: str) -> bool:
    try:
        from . import _array

        if name not in _array.BACKENDS:
            return False
        _array.backend_namespace(name)
    except (ImportError, ValueError):
        return False
    return True


def _fit_targets(entry: dict[str, Any]) -> list[dict[str, Any]]:
    r, cfg = entry["ratios"], entry["config"]
    out = []
    for key, (label, limit) in FIT_TARGETS.items():
        if key == "floor" and cfg == "tiny":
            continue
        if key == "jax":
            if cfg == "large" or "deltaprop-jax/jax" not in r:
                continue
            value = r["deltaprop-jax/jax"]
        elif key in r:
            value = r[key]
        else:
            continue
        out.append({"name": label, "value": value, "limit": limit, "met": value <= limit})
    return out


def fit_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: ms per epoch (medians) of each contender, deltaprop's ratios, load.

    Short names: dp = deltaprop's ``fit``, estimator = ``DeltaPropRegressor.fit``, dp-jax =
    ``fit`` on the compiled engine, dp@base = the ``--baseline`` copy of deltaprop."""
    names: list[str] = []
    for r in result["results"]:
        names += [k for k in r["median_s"] if k not in names]
    keys = ("deltaprop@deltaprop_base", "sklearn", "torch", "jax", "floor", "deltaprop-jax/jax")
    shown = [k for k in keys if any(k in r["ratios"] for r in result["results"])]
    label = {"deltaprop@deltaprop_base": "dp/base", "deltaprop-jax/jax": "dp-jax/jax"}
    short = {"deltaprop": "dp", "deltaprop@deltaprop_base": "dp@base", "deltaprop-jax": "dp-jax"}
    short["DeltaPropRegressor"] = "estimator"
    head = ["config", "dtype", *[f"{short.get(k, k)} ms" for k in names]]
    head += [label.get(k, f"dp/{k}") for k in shown] + ["load"]
    rows = []
    for r in result["results"]:
        ms = [f"{1e3 * r['median_s'][k]:.4g}" if k in r["median_s"] else "" for k in names]
        rat = r["ratios"]
        rs = [f"{rat[k]:.2f}" if k in rat else "" for k in shown]
        load = r.get("load_before") or ["?"]
        rows.append([r["config"], r["dtype"], *ms, *rs, str(load[0])])
    return head, rows


def fit_markdown(result: dict[str, Any]) -> str:
    """The fit benchmark as a Markdown table (:func:`fit_table`)."""
    head, rows = fit_table(result)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)

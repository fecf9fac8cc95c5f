"""Where a fit's time goes (issue 14): a medium step split, and an epoch's gather and record.

CPU time (``time.process_time``) with one BLAS thread, so that a loaded machine's waiting is
left out. Per step of the medium network (10-256-256-256-1, batch 256): the gradients (the
NumPy fast path, written into the optimiser's buffer), the loop's record (``EpochSums.add``:
gradient norms, dead units), Adam's update, and the step's matrix products alone (the floor).
Per epoch of tiny and medium: the shuffle gather ``X[:, perm]``, the record, the rest. With
``--jax``: a tiny epoch of the compiled engine alone (``_jax.epoch``), of the JAX ``lax.scan``
contender and of ``fit`` on ``backend="jax"``.

    OPENBLAS_NUM_THREADS=1 python benchmarks/fit_parts.py
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
        python benchmarks/fit_parts.py --jax
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

import deltaprop as dp
from deltaprop import _bench
from deltaprop.optim import Adam
from deltaprop.training._steps import EpochSums


def step_split(dt: str, rounds: int = 5, steps: int = 40) -> dict[str, float]:
    """Median ms of each part of one medium step."""
    p = _bench.FitProblem.make("medium", dt, n=256 * 40)
    net = dp.Network(p.sizes, dtype=dt)
    opt = Adam()
    out = opt._grad_buffers(net)
    floor = _bench.floor_contender(_bench.Problem.make(p.sizes, p.batch, dt)).step
    X, Y = p.X[:, : p.batch], p.Y[:, : p.batch]
    sums = EpochSums(net)
    t: dict[str, list[float]] = {"gradients": [], "record": [], "adam": [], "floor": []}
    for _ in range(rounds * steps):
        c0 = time.process_time()
        J, dW, db = net._gradients(X, Y, out=out)
        c1 = time.process_time()
        sums.add(J, dW, db, p.batch)
        c2 = time.process_time()
        opt.step(net, dW, db)
        c3 = time.process_time()
        floor()
        c4 = time.process_time()
        for k, v in zip(t, (c1 - c0, c2 - c1, c3 - c2, c4 - c3)):
            t[k].append(v)
    return {k: 1e3 * statistics.median(v) for k, v in t.items()}


def epoch_split(name: str, dt: str, rounds: int = 3) -> dict[str, float]:
    """Median ms of an epoch's gather, record and the rest (gradients and steps)."""
    p = _bench.FitProblem.make(name, dt)
    net = dp.Network(p.sizes, dtype=dt)
    rng = np.random.default_rng(0)
    opt = Adam()
    out = opt._grad_buffers(net)
    res: dict[str, list[float]] = {"gather": [], "record": [], "rest": []}
    for _ in range(rounds):
        c0 = time.process_time()
        perm = rng.permutation(p.n)
        Xs, Ys = p.X[:, perm], p.Y[:, perm]
        c1 = time.process_time()
        record = 0.0
        sums = EpochSums(net)
        for s in range(0, p.n, p.batch):
            J, dW, db = net._gradients(Xs[:, s : s + p.batch], Ys[:, s : s + p.batch], out=out)
            b0 = time.process_time()
            sums.add(J, dW, db, p.batch)
            record += time.process_time() - b0
            opt.step(net, dW, db)
        c2 = time.process_time()
        res["gather"].append(c1 - c0)
        res["record"].append(record)
        res["rest"].append(c2 - c1 - record)
    return {k: 1e3 * statistics.median(v) for k, v in res.items()}


def jax_split(name: str = "tiny", dt: str = "float32", rounds: int = 5) -> dict[str, float]:
    """Median CPU ms of one epoch: the compiled epoch alone, the JAX contender, fit on JAX."""
    from deltaprop import _jax

    p = _bench.FitProblem.make(name, dt)
    net = dp.Network(p.sizes, dtype=dt).to("jax")
    X, Y = net._asarray(p.X), net._asarray(p.Y)
    rng = np.random.default_rng(0)

    def compiled() -> None:
        _jax.epoch(net, Adam(), X, Y, p.batch, rng.permutation(p.n))

    peer, ours = _bench.fit_jax(p), _bench.fit_deltaprop(p, backend="jax")
    runs = {
        "_jax.epoch": compiled,
        "jax": lambda: peer.epochs(1),
        "fit on jax": lambda: ours.epochs(1),
    }
    t: dict[str, list[float]] = {k: [] for k in runs}
    for f in runs.values():
        f()  # compile
    for _ in range(rounds):
        for k, f in runs.items():
            c0 = time.process_time()
            f()
            t[k].append(time.process_time() - c0)
    return {k: 1e3 * statistics.median(v) for k, v in t.items()}


def main() -> None:
    if "--jax" in sys.argv[1:]:
        print("tiny float32 epoch, CPU ms:", {k: round(v, 2) for k, v in jax_split().items()})
        return
    for dt in ("float32", "float64"):
        m = step_split(dt)
        ratio = (m["gradients"] + m["record"] + m["adam"]) / m["floor"]
        parts = ", ".join(f"{k} {v:.3f} ms" for k, v in m.items())
        print(f"medium {dt} step: {parts}; step / floor = {ratio:.2f}")
    for name in ("tiny", "medium"):
        for dt in ("float32", "float64"):
            m = epoch_split(name, dt)
            tot = sum(m.values())
            parts = ", ".join(f"{k} {v:.2f} ms ({100 * v / tot:.1f} %)" for k, v in m.items())
            print(f"{name} {dt} epoch {tot:.1f} ms: {parts}")


if __name__ == "__main__":
    main()

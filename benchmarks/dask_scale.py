"""Full-batch back-propagation on a 2-worker Dask LocalCluster over 10 million samples.

The data never exists in one process: each block of X (n_0 x chunk, standard normal, seeded
per block by dask.array's generator) and its targets Y = f(X) are generated on a worker, used
by ``Network.gradients`` and dropped; only gradient-sized partial sums travel (a tree of sums).
The whole data set is larger than a worker's memory limit, so finishing at all shows that
blocks are streamed. Reported:

* the time of one distributed gradient over all samples (median of ``--grad-evals``) and the
  samples per second, beside one process's in-memory ``Network.gradients`` on a slice
  (``--ref-samples``) as a same-machine reference;
* the agreement of the distributed gradient with the in-memory one on that slice (float64);
* a few L-BFGS iterations (``deltaprop.distributed.fit``): the cost before and after;
* the cluster's peak memory (distributed's MemorySampler, all worker processes together).

Run from the repository root (2 cores: about 3 minutes with the defaults)::

    python benchmarks/dask_scale.py                  # 10M samples, 2 workers of 300 MB
    python benchmarks/dask_scale.py --samples 1e6    # a quick check
    python benchmarks/dask_scale.py --json           # machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np


def teacher(X_k: np.ndarray) -> np.ndarray:
    """Targets of a block: y = sin(x_1) + x_2 x_3 / 2 + 0.1 tanh(Σ x), shape (1, m_k)."""
    return (np.sin(X_k[0:1]) + 0.5 * X_k[1:2] * X_k[2:3] + 0.1 * np.tanh(X_k.sum(axis=0))).astype(
        X_k.dtype
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=float, default=10_000_000)
    p.add_argument("--features", type=int, default=8)
    p.add_argument("--hidden", default="16")
    p.add_argument("--chunk", type=int, default=100_000, help="samples per block")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="300MB", help="per worker")
    p.add_argument("--grad-evals", type=int, default=1)
    p.add_argument("--lbfgs-iters", type=int, default=2)
    p.add_argument("--ref-samples", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    t_start = time.perf_counter()

    import dask
    import dask.array as da
    from dask.utils import parse_bytes
    from distributed.diagnostics import MemorySampler

    import deltaprop as dp
    from deltaprop import distributed as dd

    m, n0 = int(args.samples), args.features
    sizes = [n0, *(int(h) for h in args.hidden.split(",")), 1]
    net = dp.Network(sizes, hidden="tanh", seed=args.seed)

    X = da.random.default_rng(args.seed).standard_normal((n0, m), chunks=(n0, args.chunk))
    Y = X.map_blocks(teacher, chunks=((1,), X.chunks[1]), dtype=X.dtype)
    data_bytes = X.nbytes + Y.nbytes
    limit = parse_bytes(args.memory_limit)

    # one process, in memory: the reference for both speed and the gradient's value
    Xr, Yr = dask.compute(X[:, : args.ref_samples], Y[:, : args.ref_samples], scheduler="sync")
    t0 = time.perf_counter()
    J_ref, dW_ref, db_ref = net.gradients(Xr, Yr)
    ref_s = time.perf_counter() - t0

    out: dict = {
        "load_average_1min_at_start": os.getloadavg()[0],
        "machine": f"{platform.node()} ({platform.processor() or platform.machine()})",
        "samples": m,
        "sizes": sizes,
        "chunk": args.chunk,
        "blocks": X.numblocks[1],
        "workers": args.workers,
        "memory_limit_per_worker_bytes": limit,
        "data_bytes": data_bytes,
        "in_memory_ref_samples_per_s": args.ref_samples / ref_s,
    }
    with dd.client(n_workers=args.workers, memory_limit=args.memory_limit) as client:
        # the same slice, distributed: must equal the in-memory gradient
        Js, dWs, dbs = dd.gradients(net, X[:, : args.ref_samples], Y[:, : args.ref_samples])
        rel = max(
            [abs(Js - J_ref) / abs(J_ref)]
            + [
                float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                for a, b in zip([*dWs, *dbs], [*dW_ref, *db_ref])
            ]
        )
        out["max_rel_diff_vs_in_memory"] = rel

        ms = MemorySampler()
        with ms.sample("run", interval=0.5):
            times = []
            for _ in range(args.grad_evals):
                t0 = time.perf_counter()
                J, _, _ = dd.gradients(net, X, Y)
                times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = dd.fit(net, X, Y, solver="lbfgs", max_iter=args.lbfgs_iters)
            fit_s = time.perf_counter() - t0
        peak = float(ms.to_pandas()["run"].max())
        n_workers_end = len(client.scheduler_info()["workers"])

    grad_s = statistics.median(times)
    out.update(
        {
            "load_average_1min_at_end": os.getloadavg()[0],
            "wall_s": time.perf_counter() - t_start,
            "J_initial": J,
            "gradient_s_median": grad_s,
            "gradient_samples_per_s": m / grad_s,
            "lbfgs_iterations": res.n_iter,
            "lbfgs_evaluations": res.n_evaluations,
            "lbfgs_s": fit_s,
            "lbfgs_loss_curve": res.loss_curve,
            "peak_cluster_process_memory_bytes": peak,
            "workers_alive_at_end": n_workers_end,
            "data_over_worker_limit": data_bytes / limit,
        }
    )
    if args.json:
        print(json.dumps(out, indent=2))
        return
    gb = 1e9
    print(
        f"network {sizes}, {m:,} samples in {X.numblocks[1]} blocks of {args.chunk:,}; "
        f"{args.workers} workers x {limit / gb:.2f} GB"
    )
    print(
        f"data X, Y: {data_bytes / gb:.2f} GB = {data_bytes / limit:.1f} x a worker's limit "
        f"(generated per block, never gathered)"
    )
    print(
        f"distributed vs in-memory gradient on {args.ref_samples:,} samples: "
        f"max rel. diff {rel:.1e}"
    )
    print(
        f"one full-batch gradient: {grad_s:.1f} s (median of {len(times)}) = "
        f"{m / grad_s / 1e6:.2f} M samples/s; one process in memory: "
        f"{out['in_memory_ref_samples_per_s'] / 1e6:.2f} M samples/s"
    )
    print(
        f"L-BFGS: {res.n_iter} iterations, {res.n_evaluations} passes, {fit_s:.0f} s; "
        f"J {res.loss_curve[0]:.4f} -> {res.loss_curve[-1]:.4f}"
    )
    print(
        f"peak memory of all worker processes together: {peak / gb:.2f} GB; workers alive "
        f"at the end: {n_workers_end}/{args.workers}"
    )
    print(
        f"wall time {out['wall_s']:.0f} s; 1-min load average "
        f"{out['load_average_1min_at_start']:.1f} at the start, "
        f"{out['load_average_1min_at_end']:.1f} at the end (2 cores)"
    )


if __name__ == "__main__":
    main()

"""The fit-loop benchmark behind docs/performance.md (issue 14).

Per-epoch time of a whole ``fit`` (Adam, lr 1e-3, shuffled mini-batches, fixed epochs, no early
stopping): deltaprop's ``fit`` and ``DeltaPropRegressor.fit`` (and deltaprop's compiled ``jax``
engine where it exists) against scikit-learn's MLPRegressor, a PyTorch hand loop, a JAX
``jit`` + ``lax.scan`` epoch with a hand-written Adam, and the epoch's matrix-product floor, on
tiny (10-64-64-1, batch 64), medium (10-256-256-256-1, batch 256) and large (1024-2048-2048-1,
batch 1024), float32 and float64. Same data, same initial weights, same number of updates;
first a loss check (every contender's training MSE after two epochs), then interleaved rounds,
medians. The harness is ``deltaprop._bench`` (``fit_run``).

    python benchmarks/fit_bench.py --threads 1 --out benchmarks/results/fit.json

    # with an older commit's deltaprop timed in the same rounds (as deltaprop@deltaprop_base)
    mkdir -p /tmp/base && git archive 467ce05 src/deltaprop | tar -x -C /tmp/base \
        && mv /tmp/base/src/deltaprop /tmp/base/deltaprop_base
    python benchmarks/fit_bench.py --threads 1 --baseline /tmp/base --out ...

``--threads N`` caps every library's thread pool (OpenBLAS, OpenMP/PyTorch, XLA) at N before
any of them loads: on a shared, loaded machine two spinning BLAS threads per contender make
the timings meaningless, one thread each compares the libraries on equal terms.

Prints the Markdown table, the loss check and the targets; writes everything (per-round
samples, machine, BLAS, load average) as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _cap_threads(argv: list[str]) -> None:
    """Apply ``--threads N`` to the environment before NumPy, PyTorch or JAX is imported."""
    for i, a in enumerate(argv):
        n = a.split("=", 1)[1] if a.startswith("--threads=") else None
        if a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
        if n is not None:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = n
            if n == "1":
                os.environ["XLA_FLAGS"] = (
                    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                    " intra_op_parallelism_threads=1"
                ).strip()


_cap_threads(sys.argv[1:])

from deltaprop import _bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="tiny,medium,large")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--peers", default=",".join(_bench.FIT_PEERS))
    ap.add_argument("--engines", default=None, help="deltaprop engines besides numpy (jax)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check-epochs", type=int, default=2)
    ap.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="time the medians are of (both are recorded); cpu leaves out waiting for a core",
    )
    ap.add_argument(
        "--baseline",
        default=None,
        help="a folder holding another copy of deltaprop as the package deltaprop_base "
        "(e.g. an older commit's src/deltaprop copied there), timed in the same rounds",
    )
    ap.add_argument("--threads", default=None, help="cap every library's threads (see above)")
    ap.add_argument("--out", default=None, help="write the JSON result here")
    args = ap.parse_args(argv)
    engines = None if args.engines is None else [e for e in args.engines.split(",") if e]
    baselines = []
    if args.baseline:
        sys.path.insert(0, args.baseline)
        baselines = ["deltaprop_base"]
    result = _bench.fit_run(
        args.configs.split(","),
        args.dtypes.split(","),
        args.peers.split(","),
        repeats=args.repeats,
        check_epochs=args.check_epochs,
        engines=engines,
        baselines=baselines,
        clock=args.clock,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
    )
    result["settings"]["threads"] = args.threads
    print(_bench.fit_markdown(result))
    print()
    for r in result["results"]:
        loss = {k: f"{v:.4g}" for k, v in r.get("loss", {}).items()}
        bad = [k for k, ok in r.get("comparable", {}).items() if not ok]
        print(f"{r['config']:>6} {r['dtype']}: MSE after the check {loss}; not comparable: {bad}")
        for t in r["targets"]:
            verdict = "met" if t["met"] else "MISSED"
            print(f"{'':>6} {t['name']} = {t['value']:.3f} (<= {t['limit']:g}) {verdict}")
    print(f"load average before/after: {result['load_average']}")

    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

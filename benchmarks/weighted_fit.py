"""``fit`` with ``sample_weight`` against ``fit`` without, and against an older commit (issue 15).

``DeltaPropRegressor(hidden_layer_sizes=(32,), max_iter=10).fit`` (Adam, batch 200, shuffled)
on 2000 x 10 regression data, with and without ``sample_weight`` (uniform on [0, 2]), timed in
interleaved rounds in one process, each contender once per round in a rotating order;
medians. With ``--baseline DIR`` (a folder holding an older ``deltaprop`` renamed
``deltaprop_base``) the older commit's estimator runs in the same rounds:

    mkdir -p /tmp/base && git archive 3299bc6 src/deltaprop | tar -x -C /tmp/base \\
        && mv /tmp/base/src/deltaprop /tmp/base/deltaprop_base
    python benchmarks/weighted_fit.py --threads 1 --baseline /tmp/base

Prints the medians, the ratios and the load average (``os.getloadavg``) before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (set before import)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--baseline", default=None, help="folder with deltaprop_base")
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    from sklearn.datasets import make_regression
    from sklearn.exceptions import ConvergenceWarning

    import deltaprop

    engines = {"now": deltaprop}
    if args.baseline:
        sys.path.insert(0, args.baseline)
        import deltaprop_base

        engines["base"] = deltaprop_base
    X, y = make_regression(n_samples=args.n, n_features=10, noise=1.0, random_state=0)
    y = y / y.std()
    w = np.random.default_rng(0).uniform(0.0, 2.0, size=args.n)
    contenders = {}
    for name, mod in engines.items():
        for weighted in (False, True):
            contenders[f"{name} {'weighted' if weighted else 'unweighted'}"] = (mod, weighted)

    def run(mod, weighted):
        est = mod.DeltaPropRegressor(hidden_layer_sizes=(32,), max_iter=10, random_state=0)
        start = time.perf_counter()
        est.fit(X, y, sample_weight=w if weighted else None)
        return time.perf_counter() - start, est

    load_before = os.getloadavg()
    times = {k: [] for k in contenders}
    keys = list(contenders)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = {k: run(*contenders[k])[1] for k in keys}  # warm-up, and the result check
        for r in range(args.rounds):
            for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
                times[k].append(run(*contenders[k])[0])
    load_after = os.getloadavg()
    if "base weighted" in fitted:
        a, b = fitted["now weighted"], fitted["base weighted"]
        diff = max(float(np.max(np.abs(p - q))) for p, q in zip(a.coefs_, b.coefs_))
        print(f"now vs base weighted: largest weight difference {diff:.1e}")
    med = {k: float(np.median(v)) for k, v in times.items()}
    for k in keys:
        print(f"{k:18s} median {med[k] * 1e3:8.1f} ms over {args.rounds} rounds")
    for name in engines:
        ratio = med[f"{name} weighted"] / med[f"{name} unweighted"]
        print(f"{name}: weighted / unweighted = {ratio:.2f}")
    if "base" in engines:
        print(f"weighted now / base = {med['now weighted'] / med['base weighted']:.2f}")
    print(f"load average before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()

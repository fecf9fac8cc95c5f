"""A sparse X kept sparse against the same matrix made dense, and scikit-learn's MLP on it.

A bag-of-words-like CSR matrix (``--samples`` × ``--features``, ``--density`` non-zeros), a
regression target, ``DeltaPropRegressor`` and ``MLPRegressor`` with one hidden layer of 100
ReLU units for ``--epochs`` epochs (Adam, batches of 200); contenders interleaved in one
process, medians of ``--rounds`` rounds.

    python benchmarks/sparse_fit.py
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import scipy.sparse as sp


def main() -> None:
    from sklearn.neural_network import MLPRegressor

    from deltaprop import DeltaPropRegressor

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--features", type=int, default=20000)
    parser.add_argument("--density", type=float, default=0.002)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    X = sp.random(args.samples, args.features, density=args.density, format="csr", random_state=0)
    y = np.asarray(X.sum(axis=1)).ravel()
    kw = {"hidden_layer_sizes": (100,), "max_iter": args.epochs, "random_state": 0}
    contenders = {
        "deltaprop, sparse X": lambda: DeltaPropRegressor(**kw).fit(X, y),
        "deltaprop, X.toarray()": lambda: DeltaPropRegressor(**kw).fit(X.toarray(), y),
        "scikit-learn MLPRegressor, sparse X": lambda: MLPRegressor(**kw).fit(X, y),
    }
    times: dict[str, list[float]] = {k: [] for k in contenders}
    warnings.simplefilter("ignore")  # ConvergenceWarning: a fixed number of epochs on purpose
    for _ in range(args.rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    load = os.getloadavg()[0]
    print(
        f"{args.samples} x {args.features}, density {args.density}, {X.nnz} non-zeros; "
        f"{args.epochs} epochs; medians of {args.rounds}; load average {load:.1f}"
    )
    base = float(np.median(times["deltaprop, sparse X"]))
    for name, ts in times.items():
        med = float(np.median(ts))
        print(f"  {name:38s} {med:6.2f} s  ({med / base:.2f}x)")


if __name__ == "__main__":
    main()

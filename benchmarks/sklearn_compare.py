"""deltaprop's DeltaPropRegressor against scikit-learn's MLPRegressor: held-out R² and fit time.

Same architecture and budget on both sides: one hidden layer of 100 ReLU units, identity
output, Adam (learning rate 1e-3, scikit-learn's betas and epsilon), mini-batches of
``min(200, n)``, at most 200 epochs with scikit-learn's stopping rule (training loss not
improving by ``tol = 1e-4`` for 10 epochs), float64, the same standardised data and the same
split. deltaprop's regression cost is the MSE without scikit-learn's 1/2, so the same L2
penalty is ``alpha = 2 * 1e-4 / 200`` and the same stopping rule ``tol = 2e-4`` in deltaprop's
units (see ``deltaprop.estimator``). Different seeds give different
initial weights and shuffles on each side; the table gives medians over the seeds, and the
fits alternate between the two libraries (interleaved) so that load on the machine hits both.

Data: ``make_friedman1(n_samples=5000, noise=1.0)`` and scikit-learn's bundled diabetes data
(442 samples), each split 75/25 with the seed, inputs and targets standardised on the training
part. R² is computed on the held-out part (in standardised units; R² does not change under
the affine map back).

Run::

    python benchmarks/sklearn_compare.py                 # 5 seeds, prints a Markdown table
    python benchmarks/sklearn_compare.py --seeds 3 --json

BLAS runs single-threaded on both sides (``--threads``) so that the comparison measures the
libraries and not the scheduling of a shared machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from deltaprop import DeltaPropRegressor

HIDDEN = (100,)
MAX_ITER = 200
ALPHA_SK = 1e-4
TOL_SK = 1e-4
BATCH = 200


def load(name: str, seed: int):
    if name == "friedman1":
        X, y = make_friedman1(n_samples=5000, noise=1.0, random_state=seed)
    else:
        X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed)
    sx, sy = StandardScaler().fit(X_tr), StandardScaler().fit(y_tr[:, None])
    return (
        sx.transform(X_tr),
        sx.transform(X_te),
        sy.transform(y_tr[:, None]).ravel(),
        sy.transform(y_te[:, None]).ravel(),
    )


def make(lib: str, seed: int):
    common = dict(
        hidden_layer_sizes=HIDDEN,
        activation="relu",
        solver="adam",
        learning_rate_init=1e-3,
        batch_size="auto",
        max_iter=MAX_ITER,
        n_iter_no_change=10,
        random_state=seed,
    )
    if lib == "sklearn":
        return MLPRegressor(alpha=ALPHA_SK, tol=TOL_SK, **common)
    # deltaprop's regression cost is twice the one scikit-learn differentiates (no 1/2), so
    # the same weight decay is alpha = 2 alpha_sk / batch and the same stopping rule tol = 2 tol_sk
    return DeltaPropRegressor(alpha=2 * ALPHA_SK / BATCH, tol=2 * TOL_SK, **common)


def run_one(lib: str, data, seed: int) -> dict:
    X_tr, X_te, y_tr, y_te = data
    est = make(lib, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X_tr, y_tr)
        seconds = time.perf_counter() - t0
    return {
        "r2": float(r2_score(y_te, est.predict(X_te))),
        "seconds": seconds,
        "epochs": int(est.n_iter_),
    }


def compare(name: str, seeds: list[int]) -> dict:
    rows = []
    for k, seed in enumerate(seeds):
        data = load(name, seed)
        order = ("sklearn", "deltaprop") if k % 2 == 0 else ("deltaprop", "sklearn")
        result = {lib: run_one(lib, data, seed) for lib in order}
        rows.append(result)
    med = {
        lib: {key: statistics.median(r[lib][key] for r in rows) for key in ("r2", "seconds")}
        for lib in ("sklearn", "deltaprop")
    }
    ratio = statistics.median(r["deltaprop"]["seconds"] / r["sklearn"]["seconds"] for r in rows)
    per_epoch = statistics.median(
        (r["deltaprop"]["seconds"] / r["deltaprop"]["epochs"])
        / (r["sklearn"]["seconds"] / r["sklearn"]["epochs"])
        for r in rows
    )
    return {
        "data": name,
        "seeds": seeds,
        "runs": rows,
        "median": med,
        "time_ratio": ratio,
        "time_per_epoch_ratio": per_epoch,
        "r2_gap": med["deltaprop"]["r2"] - med["sklearn"]["r2"],
        "r2_ok": med["deltaprop"]["r2"] >= med["sklearn"]["r2"] - 0.01,
        "time_ok": ratio <= 0.5,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| data | R² scikit-learn | R² deltaprop | epochs sk / dp | fit time sk | fit time dp "
        "| time ratio dp/sk | per-epoch ratio | bars (R² ≥ sk − 0.01, time ≤ ½) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["median"]
        ep_sk = statistics.median(x["sklearn"]["epochs"] for x in r["runs"])
        ep_dp = statistics.median(x["deltaprop"]["epochs"] for x in r["runs"])
        lines.append(
            f"| {r['data']} | {m['sklearn']['r2']:.4f} | {m['deltaprop']['r2']:.4f} "
            f"| {ep_sk:g} / {ep_dp:g} | {m['sklearn']['seconds']:.2f} s "
            f"| {m['deltaprop']['seconds']:.2f} s | {r['time_ratio']:.2f} "
            f"| {r['time_per_epoch_ratio']:.2f} "
            f"| {'met' if r['r2_ok'] else 'MISSED'}, {'met' if r['time_ok'] else 'MISSED'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--data", default="friedman1,diabetes")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads on both sides")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    with threadpool_limits(limits=args.threads):
        make("deltaprop", 0).fit(np.zeros((4, 2)), np.zeros(4))  # warm-up: imports, first calls
        results = [compare(name, seeds) for name in args.data.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"machine: {platform.processor() or platform.machine()}, "
            f"python {platform.python_version()}, numpy {np.__version__}, "
            f"BLAS threads {args.threads}, seeds {seeds}"
        )
        print(table(results))


if __name__ == "__main__":
    main()

"""The default run against scikit-learn on every bundled data set (issue 15, "defaults that win").

For each bundled data set: ``deltaprop train`` with no option but ``--data`` (the library call
:func:`deltaprop.workflow.train` with ``TrainSettings(data=name)``), and on the very same
70/10/20 split (``deltaprop.data.split`` with the run's seed): scikit-learn's MLP with early
stopping (``MLPRegressor``/``MLPClassifier(early_stopping=True)``, its defaults otherwise,
trained on the train and validation parts together, as it holds out its own 10 %), a linear
model (``RidgeCV`` / ``LogisticRegression``), and the constant baseline (the training mean /
the majority class). Inputs are standardised with the training part's scaler for every
scikit-learn model; regression targets too (``TransformedTargetRegressor``), as deltaprop does.
The score is the test split's R² (regression) or accuracy (classification).

    python benchmarks/default_scores.py            # the table for docs/performance.md
    python benchmarks/default_scores.py --json     # every number
    python benchmarks/default_scores.py --seeds 0,1,2

Not a test: it trains about a dozen models per seed (a few minutes on a loaded 2-core VM).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings

import numpy as np


def _sklearn_scores(name: str, seed: int) -> dict[str, float]:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler

    from deltaprop.data import Labels, detect_task, load_dataset, split, target_labels

    data = load_dataset(name)
    task = detect_task(data)
    if task != "regression":
        labels = Labels.fit(data)
        y_all = labels.indices(target_labels(data)).astype(float)[None, :]
        data = data._replace(Y=y_all)
    parts = split(data, seed=seed)
    X_fit = np.hstack([parts.train[0], parts.validation[0]]).T
    y_fit = np.hstack([parts.train[1], parts.validation[1]])[0]
    X_test, y_test = parts.test[0].T, parts.test[1][0]
    scaler = StandardScaler().fit(parts.train[0].T)  # the training part's, as deltaprop's

    if task == "regression":
        models = {
            "mlp": TransformedTargetRegressor(
                MLPRegressor(early_stopping=True, max_iter=2000, random_state=seed),
                transformer=StandardScaler(),
            ),
            "linear": RidgeCV(alphas=np.logspace(-3, 3, 13)),
            "constant": DummyRegressor(),
        }
    else:
        models = {
            "mlp": MLPClassifier(early_stopping=True, max_iter=2000, random_state=seed),
            "linear": LogisticRegression(max_iter=5000),
            "constant": DummyClassifier(strategy="most_frequent"),
        }
    scores = {}
    for key, model in models.items():
        Xs_fit, Xs_test = scaler.transform(X_fit), scaler.transform(X_test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Xs_fit, y_fit)
        scores[key] = float(model.score(Xs_test, y_test))  # R² or accuracy
    return scores


def _deltaprop_score(name: str, seed: int) -> tuple[float, dict]:
    from deltaprop.workflow import TrainSettings, train

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = train(TrainSettings(data=name, seed=seed), out=out, plots=False)
        seconds = time.perf_counter() - started
    test = result.metrics["test"]
    score = test["r2"] if "r2" in test else test["accuracy"]
    info = {
        "epochs": result.state.history.n_iter,
        "best_epoch": result.state.history.best_epoch,
        "seconds": seconds,
    }
    return float(score), info


def main() -> None:
    from deltaprop.data import DATASETS, detect_task, load_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--data", default=",".join(DATASETS), help="data sets to run")
    parser.add_argument("--json", action="store_true", help="print every number as JSON")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name in args.data.split(","):
        task = detect_task(load_dataset(name))
        per_seed = []
        for seed in seeds:
            dp_score, info = _deltaprop_score(name, seed)
            sk = _sklearn_scores(name, seed)
            per_seed.append({"seed": seed, "deltaprop": dp_score, **sk, **info})
        med = {k: float(np.median([r[k] for r in per_seed])) for k in per_seed[0] if k != "seed"}
        rows.append({"data": name, "task": task, "median": med, "runs": per_seed})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if args.json:
        print(json.dumps({"seeds": seeds, "load_average": load, "rows": rows}, indent=2))
        return
    metric = {"regression": "R²"}
    print(f"seeds {seeds}; load average {load:.1f}; test split of 70/10/20; medians over seeds")
    print()
    print(
        "| data | task | score | deltaprop default | scikit-learn MLP (early stopping) "
        "| linear | constant | bar (≥ MLP − 0.01) | epochs (best) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        m = r["median"]
        ok = "met" if m["deltaprop"] >= m["mlp"] - 0.01 else "**missed**"
        print(
            f"| {r['data']} | {r['task']} | {metric.get(r['task'], 'accuracy')} "
            f"| {m['deltaprop']:.3f} | {m['mlp']:.3f} | {m['linear']:.3f} | {m['constant']:.3f} "
            f"| {ok} | {m['epochs']:.0f} ({m['best_epoch']:.0f}) |"
        )


if __name__ == "__main__":
    main()

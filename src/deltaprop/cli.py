"""The ``deltaprop`` command: thin wrappers that parse, call the public API and print.

Exit codes: 0 on success, 2 on bad usage or bad input (one clear line on stderr, no
traceback), 1 on anything else (one line; set ``DELTAPROP_DEBUG=1`` for the traceback).
Every subcommand has ``--json`` for machine-readable output on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__

app = typer.Typer(
    name="deltaprop",
    help="Back-propagation in matrix form, exactly as derived on paper.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

console = Console()


class UserError(Exception):
    """A mistake in the user's input: reported as one line on stderr with exit code 2."""


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (the ``--json`` output of every command)."""
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")


def parse_int_list(text: str, option: str, minimum: int = 1) -> list[int]:
    """``"4,8,8,2"`` -> ``[4, 8, 8, 2]``, with an error naming ``option`` otherwise."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UserError(
            f"{option} must be comma-separated integers like 4,8,8,2; got {text!r}"
        ) from None
    if not values:
        raise UserError(f"{option} must list at least one integer; got {text!r}")
    for v in values:
        if v < minimum:
            raise UserError(f"{option} values must be >= {minimum}; got {v} in {text!r}")
    return values


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"deltaprop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Show the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Back-propagation in matrix form, exactly as derived on paper."""


@app.command("gradcheck")
def gradcheck_command(
    layers: str = typer.Option("4,8,8,2", help="Layer widths n_0,...,n_L."),
    hidden: str = typer.Option("relu", help="Hidden activation."),
    output: str = typer.Option("identity", help="Output activation."),
    loss: str = typer.Option("mse", help="Cost."),
    batch: int = typer.Option(16, help="Samples m in the random batch."),
    seed: int = typer.Option(0, help="Seed for the weights and the data."),
    eps: float = typer.Option(1e-5, help="Central-difference step."),
    tol: float = typer.Option(1e-6, help="Largest relative error that passes."),
    mode: str = typer.Option("full", help="full (every parameter) or directional (fast)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Check back-propagation against central differences on a random network and batch."""
    import numpy as np

    from .gradcheck import gradcheck
    from .network import Network

    sizes = parse_int_list(layers, "--layers")
    if len(sizes) < 2:
        raise UserError(f"--layers needs at least an input and an output width; got {layers!r}")
    if batch < 1:
        raise UserError(f"--batch must be >= 1; got {batch}")
    if seed < 0:
        raise UserError(f"--seed must be >= 0; got {seed}")
    net = Network(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X = rng.standard_normal((sizes[0], batch))
    Y = rng.standard_normal((sizes[-1], batch))
    report = gradcheck(net, X, Y, eps=eps, tol=tol, mode=mode)
    if as_json:
        emit_json(report.to_dict())
    else:
        table = Table(title=f"gradcheck {net!r}, m = {batch}, eps = {eps:g}, mode = {mode}")
        table.add_column("layer", justify="right")
        table.add_column("max rel. error dW", justify="right")
        table.add_column("max rel. error db", justify="right")
        table.add_column("checked", justify="right")
        for r in report.layers:
            table.add_row(
                str(r.layer),
                f"{r.max_rel_error_W:.2e}",
                f"{r.max_rel_error_b:.2e}",
                str(r.n_checked),
            )
        console.print(table)
        verdict = "[green]ok[/green]" if report.ok else "[red]FAILED[/red]"
        console.print(f"max relative error {report.max_rel_error:.3e} (tol {tol:g}): {verdict}")
    if not report.ok:
        raise typer.Exit(1)


# --- train / predict / evaluate (issue 4) -------------------------------------------------------
# [cli:train]
_TRAIN_DEFAULTS: dict[str, Any] = {
    "data": "diabetes",
    "target": None,
    "hidden": "64,64",
    "epochs": 200,
    "lr": 1e-3,
    "optimizer": "adam",
    "batch_size": 32,
    "seed": 0,
    "patience": 20,
}


def _finite_or_none(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


def _metrics_json(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _metrics_json(v) if isinstance(v, dict) else _finite_or_none(v)
        for k, v in metrics.items()
    }


def _metric_cells(metrics: dict[str, float]) -> list[str]:
    """R² to 3 decimals, RMSE and MAE to 4 significant digits."""
    return [f"{metrics['r2']:.3f}", f"{metrics['rmse']:.4g}", f"{metrics['mae']:.4g}"]


def _file_sha256(path: str) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _train_settings(given: dict[str, Any]) -> dict[str, Any]:
    """The run's settings from the options given (None: the default), checked."""
    s = {k: _TRAIN_DEFAULTS[k] if v is None else v for k, v in given.items()}
    s["hidden"] = parse_int_list(s["hidden"], "--hidden")
    for option, key, minimum in (
        ("--epochs", "epochs", 1),
        ("--batch-size", "batch_size", 1),
        ("--seed", "seed", 0),
        ("--patience", "patience", 0),
    ):
        if s[key] < minimum:
            raise UserError(f"{option} must be >= {minimum}; got {s[key]}")
    if not 0 < s["lr"] < float("inf"):
        raise UserError(f"--lr must be > 0 and finite; got {s['lr']}")
    if s["optimizer"] not in ("sgd", "adam"):
        raise UserError(f"--optimizer must be sgd or adam; got {s['optimizer']!r}")
    return s


def _resume_settings(saved: dict[str, Any], given: dict[str, Any], ckpt: str) -> dict[str, Any]:
    """The checkpoint's settings; options given must agree with them (--epochs may extend)."""
    settings = dict(saved)
    for key, value in given.items():
        if value is None:
            continue
        option = "--" + key.replace("_", "-")
        if key == "epochs":
            if value < saved["epochs"]:
                raise UserError(
                    f"--epochs {value} is fewer than the {saved['epochs']} the run "
                    f"in {ckpt} was started with"
                )
            settings["epochs"] = value
            continue
        if key == "hidden":
            value = parse_int_list(value, "--hidden")
        elif key == "target":
            value = [t.strip() for t in value.split(",")]
        elif key == "data" and saved.get("data_sha256"):
            value = str(os.path.abspath(value))
        if value != saved.get(key):
            raise UserError(
                f"{option} {given[key]} differs from the checkpoint's {saved.get(key)}"
                f" ({ckpt}); leave {option} out to resume"
            )
    return settings


class _EpochProgress:
    """A fit callback that moves a rich progress bar and shows the running costs."""

    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def on_epoch_end(self, state: Any, net: Any) -> None:
        h = state.history
        self.progress.update(
            self.task,
            completed=state.epoch,
            loss=h.loss[-1],
            val=h.val_loss[-1] if h.val_loss else float("nan"),
        )


@app.command("train")
def train_command(
    data: str = typer.Option(
        None, help="Bundled data set (diabetes, friedman1) or a CSV file. [default: diabetes]"
    ),
    target: str = typer.Option(
        None, help="Target column(s) of a CSV file, comma-separated. [default: the last column]"
    ),
    hidden: str = typer.Option(None, help="Hidden layer widths. [default: 64,64]"),
    epochs: int = typer.Option(None, help="Most epochs to train. [default: 200]"),
    lr: float = typer.Option(None, help="Learning rate. [default: 0.001]"),
    optimizer: str = typer.Option(
        None, help="sgd (Nesterov momentum 0.9) or adam. [default: adam]"
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", help="Samples per mini-batch. [default: 32]"
    ),
    seed: int = typer.Option(
        None, help="Seeds the split, the weights and the shuffling. [default: 0]"
    ),
    patience: int = typer.Option(
        None,
        help="Stop after this many epochs without a better validation R² and keep the "
        "best epoch's weights; 0 never stops early. [default: 20]",
    ),
    out: str = typer.Option(
        "deltaprop-run",
        help="Folder for model.safetensors, loss.png, gradients.png and checkpoint.safetensors.",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run whose checkpoint is in --out, with its settings."
    ),
    checkpoint_every: int = typer.Option(
        10, "--checkpoint-every", help="Write a checkpoint every N epochs (and at the end)."
    ),
    plots: bool = typer.Option(
        True, "--plots/--no-plots", help="Write loss.png and gradients.png."
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Train full-batch on a Dask cluster: its scheduler's ADDRESS "
        "(tcp://host:8786), or 'local' for a LocalCluster of 2 "
        "workers (one gradient over all samples per epoch).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print metrics and paths as JSON, no progress bar."
    ),
) -> None:
    """Train the exercise's network (ReLU hidden, identity output, MSE) and report held-out metrics.

    The data are split 70/10/20 into train, validation and test (seeded); inputs and targets
    are standardised with the training split's means and scales, which the model file keeps.
    Ctrl-C writes a checkpoint; --resume continues to the same final weights as a run that
    was never interrupted.
    """
    import time

    import numpy as np
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from .data import Standardization, load_data, regression_metrics, split
    from .io import CheckpointEvery, Model, load_checkpoint, save, save_checkpoint
    from .network import Network
    from .plots import plot_gradients, plot_loss
    from .training import TrainingInterrupted, TrainState, fit

    given = {
        "data": data,
        "target": target,
        "hidden": hidden,
        "epochs": epochs,
        "lr": lr,
        "optimizer": optimizer,
        "batch_size": batch_size,
        "seed": seed,
        "patience": patience,
    }
    if checkpoint_every < 1:
        raise UserError(f"--checkpoint-every must be >= 1; got {checkpoint_every}")
    ckpt_path = os.path.join(out, "checkpoint.safetensors")
    net = state = std = None
    if resume:
        if not os.path.isfile(ckpt_path):
            raise UserError(f"--resume: there is no checkpoint {ckpt_path} to resume from")
        ckpt = load_checkpoint(ckpt_path)
        settings = _resume_settings(ckpt.settings, given, ckpt_path)
        net, state, std = ckpt.model.net, ckpt.state, ckpt.model.standardization
        if state.finished and settings["epochs"] != ckpt.settings["epochs"]:
            raise UserError(
                f"the run in {out} already finished ({state.history.stopped_reason} "
                f"after epoch {state.epoch}); start a new run for more epochs"
            )
    else:
        settings = _train_settings(given)
    dataset = load_data(settings["data"], settings["target"])
    if not resume:
        is_file = settings["data"] not in _bundled_data_sets()
        settings["data"] = os.path.abspath(settings["data"]) if is_file else settings["data"]
        settings["data_sha256"] = _file_sha256(settings["data"]) if is_file else None
        settings["target"] = dataset.target_names
    elif settings.get("data_sha256") and _file_sha256(settings["data"]) != settings["data_sha256"]:
        raise UserError(
            f"{settings['data']} has changed since the checkpoint in {out} was "
            f"written; resuming needs the same data"
        )
    settings["checkpoint_every"] = checkpoint_every
    parts = split(dataset, seed=settings["seed"])
    if std is None:
        std = Standardization.fit(
            *parts.train, feature_names=dataset.feature_names, target_names=dataset.target_names
        )
    if net is None:
        n_0, n_L = dataset.X.shape[0], dataset.Y.shape[0]
        net = Network([n_0, *settings["hidden"], n_L], seed=settings["seed"])
        state = TrainState()
    names = {
        "standardization": std,
        "feature_names": dataset.feature_names,
        "target_names": dataset.target_names,
    }
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:  # a file of that name, or a parent that is not a folder
        raise UserError(f"--out {out}: cannot create the folder ({e.strerror})") from None

    X_train, Y_train = std.transform_X(parts.train[0]), std.transform_Y(parts.train[1])
    validation = std.transform_X(parts.validation[0]), std.transform_Y(parts.validation[1])
    callbacks: list[Any] = [
        CheckpointEvery(ckpt_path, checkpoint_every, settings=settings, **names)
    ]
    progress = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cost {task.fields[loss]:.4g}  validation {task.fields[val]:.4g}"),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
    )
    task = progress.add_task(
        "train",
        total=settings["epochs"],
        loss=float("nan"),
        val=float("nan"),
        completed=state.epoch,
    )
    callbacks.append(_EpochProgress(progress, task))
    if scheduler is not None:  # the same fit, full-batch on Dask (deltaprop.distributed)
        from .distributed import as_dask, start_client

        dask_client = start_client(scheduler)
        X_train = as_dask(X_train, client=dask_client)
        Y_train = as_dask(Y_train, client=dask_client)
    started = time.perf_counter()
    try:
        with progress:
            if not state.finished:
                fit(
                    net,
                    X_train,
                    Y_train,
                    optimizer=settings["optimizer"],
                    lr=settings["lr"],
                    epochs=settings["epochs"],
                    batch_size=settings["batch_size"],
                    seed=settings["seed"],
                    early_stopping=settings["patience"] > 0,
                    validation_data=validation,
                    n_iter_no_change=settings["patience"] or None,
                    callbacks=callbacks,
                    state=state,
                )  # updates state in place
    except TrainingInterrupted as e:
        save_checkpoint(ckpt_path, net, e.state, settings=settings, **names)
        sys.stderr.write(
            f"deltaprop: interrupted during epoch {e.state.epoch + 1}; saved the run as it was "
            f"after epoch {e.state.epoch} to {ckpt_path}\n"
            f"resume with: deltaprop train --out {out} --resume\n"
        )
        raise typer.Exit(130) from None
    seconds = time.perf_counter() - started
    save_checkpoint(ckpt_path, net, state, settings=settings, **names)

    model = Model(net, **names)
    mean = parts.train[1].mean(axis=1, keepdims=True)  # the predict-the-mean baseline
    metrics = {}
    for part, (X, Y) in zip(("train", "validation", "test"), parts):
        metrics[part] = regression_metrics(Y, model.predict(X))
        metrics[part]["baseline"] = regression_metrics(Y, np.broadcast_to(mean, Y.shape))
        metrics[part]["m"] = Y.shape[1]
    history = state.history
    files = {"model": os.path.join(out, "model.safetensors"), "checkpoint": ckpt_path}
    save(
        net,
        files["model"],
        metadata={"settings": settings, "metrics": _metrics_json(metrics)},
        **names,
    )
    if plots:
        files["loss_plot"] = str(plot_loss(history, os.path.join(out, "loss.png")))
        files["gradients_plot"] = str(plot_gradients(history, os.path.join(out, "gradients.png")))
    summary = {
        "epochs": history.n_iter,
        "best_epoch": history.best_epoch,
        "stopped_reason": history.stopped_reason,
        "seconds": seconds,
        "sizes": net.sizes,
        "data": settings["data"],
        "metrics": _metrics_json(metrics),
        "files": files,
    }
    if as_json:
        emit_json(summary)
        return
    table = Table(
        title=escape(
            f"{settings['data']}: sizes {net.sizes}, {settings['optimizer']} lr "
            f"{settings['lr']:g}, {history.n_iter} epochs ({history.stopped_reason}, "
            f"best epoch {history.best_epoch}), {seconds:.1f} s"
        ),
        caption="baseline: always predict the training targets' mean",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for name in ("split", "m", "R²", "RMSE", "MAE", "baseline R²", "RMSE", "MAE"):
        table.add_column(name, justify="right")
    for part, r in metrics.items():
        b = r["baseline"]
        table.add_row(part, str(r["m"]), *_metric_cells(r), *_metric_cells(b))
    console.print(table)
    console.print(f"wrote {', '.join(files.values())}", soft_wrap=True)


def _bundled_data_sets() -> tuple[str, ...]:
    from .data import DATASETS

    return DATASETS


def _model_columns(model: Any, model_path: str) -> list[str]:
    if model.feature_names is None:
        raise UserError(
            f"{model_path} stores no feature names, so its input columns cannot be "
            f"found by name (save it with feature_names=[...])"
        )
    return model.feature_names


@app.command("predict")
def predict_command(
    model: str = typer.Option(..., "--model", help="A model file written by deltaprop train."),
    data: str = typer.Option(
        ...,
        "--data",
        help="CSV file (or bundled data set) holding the model's input columns, by name.",
    ),
    out: str = typer.Option(
        None, "--out", help="Write the predictions to this CSV file (default: print them)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the predictions as JSON."),
) -> None:
    """Predict with a saved model: one output row per data row, in the targets' units."""
    from .data import format_csv, load_data
    from .io import load_model, write_atomic

    m = load_model(model)
    dataset = load_data(data, features=_model_columns(m, model))
    Y = m.predict(dataset.X)
    names = m.target_names or [f"y{i}" for i in range(Y.shape[0])]
    text = format_csv(names, Y)
    if out:
        write_atomic(out, text.encode())
    if as_json:
        emit_json(
            {
                "model": model,
                "data": data,
                "m": Y.shape[1],
                "target_names": names,
                "predictions": Y.T.tolist(),
                "out": out,
            }
        )
    elif out:
        console.print(f"wrote {Y.shape[1]} predictions of {', '.join(names)} to {out}")
    else:
        sys.stdout.write(text)


@app.command("evaluate")
def evaluate_command(
    model: str = typer.Option(..., "--model", help="A model file written by deltaprop train."),
    data: str = typer.Option(
        ...,
        "--data",
        help="CSV file (or bundled data set) with the model's input columns and the target(s).",
    ),
    target: str = typer.Option(
        None, help="Target column(s), comma-separated. [default: the model's target names]"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """R², RMSE and MAE of a saved model on labelled data, beside predicting the training mean."""
    import numpy as np

    from .data import load_data, regression_metrics
    from .io import load_model

    m = load_model(model)
    targets = target or m.target_names
    if targets is None:
        raise UserError(f"--target is needed: {model} stores no target names")
    dataset = load_data(data, targets, features=_model_columns(m, model))
    if dataset.Y.shape[0] != m.net.sizes[-1]:
        raise UserError(
            f"--target names {dataset.Y.shape[0]} column(s) but the model has "
            f"{m.net.sizes[-1]} output(s)"
        )
    metrics = regression_metrics(dataset.Y, m.predict(dataset.X))
    std = m.standardization
    if std is not None and std.y_mean is not None:  # the training targets' mean
        mean = np.broadcast_to(std.y_mean[:, None], dataset.Y.shape)
        metrics["baseline"] = regression_metrics(dataset.Y, mean)
    metrics["m"] = dataset.Y.shape[1]
    if as_json:
        emit_json(
            {
                "model": model,
                "data": data,
                "target_names": dataset.target_names,
                "metrics": _metrics_json(metrics),
            }
        )
        return
    table = Table(
        title=escape(
            f"{model} on {data}: {metrics['m']} samples, target {', '.join(dataset.target_names)}"
        ),
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for name in ("", "R²", "RMSE", "MAE"):
        table.add_column(name, justify="right")
    table.add_row("model", *_metric_cells(metrics))
    if "baseline" in metrics:
        table.add_row("baseline (training mean)", *_metric_cells(metrics["baseline"]))
    console.print(table)


# --- blowup (issue 3) ---------------------------------------------------------------------------
def _short(x: float) -> str:
    """A count or ratio in at most 6 characters: 61437, 5.9e5, 3.75, 412."""
    if x >= 1e5:
        mantissa, exponent = f"{x:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:.0f}" if x >= 100 or float(x).is_integer() else f"{x:.3g}"


def _duration(seconds: float) -> str:
    """Seconds in a short human unit: 74µs, 12ms, 2.8s, 1.7e5s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.0f}ms"
    if seconds < 10:
        return f"{seconds:.2g}s"
    return f"{seconds:.0f}s" if seconds < 1e5 else _short(seconds) + "s"


@app.command("blowup")
def blowup_command(
    family: str = typer.Option("fanout", help="Graph family: chain, fanout, fibonacci, mlp."),
    max_depth: int = typer.Option(20, "--max-depth", help="Measure depths 1..N."),
    budget: float = typer.Option(
        2.0, help="Seconds one naive or path-sum run may take; longer ones are extrapolated."
    ),
    plot: str = typer.Option(None, help="Write a log-scale figure to this PNG file."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of rows instead."),
) -> None:
    """Count and time back-propagation against the naive chain rule, depth by depth."""
    from .graph.families import FAMILIES
    from .graph.study import blowup

    if family not in FAMILIES:
        raise UserError(f"unknown family {family!r}; known families: {', '.join(FAMILIES)}")
    if max_depth < 1:
        raise UserError(f"--max-depth must be >= 1; got {max_depth}")
    if not budget > 0:
        raise UserError(f"--budget must be > 0 seconds; got {budget}")
    rows = blowup(family, max_depth, budget=budget)
    if plot:
        from .plots import plot_blowup

        plot_blowup(rows, plot)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    fam = FAMILIES[family]
    table = Table(
        title=escape(f"{family}: {fam.formula}"),
        box=box.SIMPLE_HEAD,
        padding=0,
        show_edge=False,
    )
    for name in (
        "depth",
        "#paths",
        "backprop\nops",
        "\ntime",
        "naive\nops",
        "\ntime",
        "paths\nops",
        "\ntime",
        "naive/bp\nops",
        "\ntime",
    ):
        table.add_column(name, justify="right")
    for r in rows:
        star = "*" if r.naive.extrapolated else ""
        cells = [str(r.depth), _short(r.n_paths)]
        for run in (r.backprop, r.naive, r.paths):
            mark = "*" if run.extrapolated else ""
            cells += [_short(run.ops) + mark, _duration(run.seconds) + mark]
        cells += [_short(r.ratio_ops) + star, _short(r.ratio_seconds) + star]
        table.add_row(*cells)
    console.print(table)
    console.print(
        "#paths: chain-rule paths; time: per gradient call. * extrapolated: a run predicted "
        f"over the {budget:g} s budget is not started; its count is the closed form, its time "
        "the count times the seconds per operation of the last run."
    )
    if plot:
        console.print(f"wrote {plot}")


# --- derive (issue 5) ---------------------------------------------------------------------------
@app.command("derive")
def derive_command(
    check: bool = typer.Option(False, "--check", help="Verify the derivation with SymPy."),
    quick: bool = typer.Option(False, "--quick", help="Only the small cases (seconds)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The derivation's equations; with --check, verify them symbolically (docs/derivation.md)."""
    if not check:
        equations = {
            "forward": "Z^[l] = W^[l] A^[l-1] + b^[l],  A^[l] = g^[l](Z^[l]),  l = 1..L",
            "(ii)": "delta^[L] = J'(A^[L]) ⊙ g^[L]'(Z^[L])",
            "(i)": "delta^[l] = g^[l]'(Z^[l]) ⊙ (W^[l+1]ᵀ delta^[l+1]),  l = L-1..1",
            "dW": "dJ/dW^[l] = delta^[l] (A^[l-1])ᵀ",
            "db": "dJ/db^[l] = delta^[l] 1_m",
        }
        if as_json:
            emit_json({"equations": equations, "derivation": "docs/derivation.md"})
            return
        for name, text in equations.items():
            console.print(f"{name:>8}  {text}", markup=False, highlight=False)
        console.print("proof: docs/derivation.md; run `deltaprop derive --check` to verify it")
        return
    from rich.markup import escape

    try:
        from . import symbolic
    except ImportError as e:
        sys.stderr.write(
            f"deltaprop: error: derive --check needs SymPy ({e}); "
            "install it with: pip install 'deltaprop[symbolic]'\n"
        )
        raise typer.Exit(1) from None

    def show(c: Any) -> None:
        if not as_json:
            mark = "[green]equal[/green]" if c.equal else "[red]NOT EQUAL[/red]"
            console.print(
                f"{mark}  {c.seconds:6.2f} s  {escape(c.name)}", highlight=False, soft_wrap=True
            )

    checks = symbolic.run_checks(quick=quick, progress=show)
    depth = symbolic.CHAIN_DEPTH_QUICK if quick else symbolic.CHAIN_DEPTH_FULL
    result = symbolic.report(checks, max_depth=depth)
    if as_json:
        emit_json(result)
    else:
        table = Table(title="Task 3: operations in d/dw f(f(...f(w)))")
        for name in ("depth n", "as differentiated", "after sympy.cse"):
            table.add_column(name, justify="right")
        for row in result["chain_operation_counts"]:
            table.add_row(str(row["depth"]), str(row["ops_sympy"]), str(row["ops_cse"]))
        console.print(table)
        console.print("all equal" if result["all_equal"] else "[red]NOT all equal[/red]")
    if not result["all_equal"]:
        raise typer.Exit(1)


# --- bench (issue 6) ----------------------------------------------------------------------------
def _parse_names(text: str, option: str, allowed: tuple[str, ...]) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UserError(f"{option} must list at least one of {', '.join(allowed)}; got {text!r}")
    for name in names:
        if name not in allowed:
            raise UserError(f"{option} values must be among {', '.join(allowed)}; got {name!r}")
    return names


@app.command("bench")
def bench_command(
    configs: str = typer.Option("tiny,medium", help="Networks: tiny, medium, large."),
    dtypes: str = typer.Option("float32,float64", help="float32 and/or float64."),
    peers: str = typer.Option("sklearn,torch,jax", help="Peers timed where installed."),
    repeats: int = typer.Option(5, help="Interleaved rounds; medians over them."),
    min_sample_ms: float = typer.Option(10.0, "--min-sample-ms", help="Length of one sample."),
    memory: bool = typer.Option(True, "--memory/--no-memory", help="Measure peak memory."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Training-step time against scikit-learn, PyTorch, JAX and the matrix-product floor."""
    from . import _bench

    config_names = _parse_names(configs, "--configs", tuple(_bench.CONFIGS))
    dtype_names = _parse_names(dtypes, "--dtypes", _bench.DTYPES)
    peer_names = _parse_names(peers, "--peers", _bench.PEERS)
    if repeats < 1:
        raise UserError(f"--repeats must be >= 1; got {repeats}")
    if not min_sample_ms > 0:
        raise UserError(f"--min-sample-ms must be > 0; got {min_sample_ms}")

    def progress(line: str) -> None:
        sys.stderr.write(f"bench: {line}\n")

    result = _bench.run(
        config_names,
        dtype_names,
        peer_names,
        repeats=repeats,
        min_sample_s=min_sample_ms / 1e3,
        memory=memory,
        progress=progress,
    )
    if as_json:
        emit_json(result)
        return
    headers, rows = _bench.table(result)
    table = Table(
        title="one training step: deltaprop's time / each other's (medians)",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for h in headers:
        table.add_column(
            h, justify="left" if h in ("config", "dtype", "targets") else "right", no_wrap=True
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)
    b = result["machine"]["numpy_blas"] or {}
    console.print(
        f"{result['machine']['cpu']}, {result['machine']['cores']} cores; NumPy's BLAS: "
        f"{b.get('internal_api')} {b.get('version')}, {b.get('architecture')} kernels, "
        f"{b.get('num_threads')} threads; load average before/after "
        f"{result['load_average']['before']} / {result['load_average']['after']}",
        markup=False,
        highlight=False,
    )
    for r in result["results"]:
        for t in r["targets"]:
            if not t["met"]:
                console.print(
                    f"missed: {r['config']} {r['dtype']}: {t['name']} = "
                    f"{t['value']:.2f} > {t['limit']:g}",
                    markup=False,
                    highlight=False,
                )
    for name, why in result["skipped"].items():
        console.print(f"skipped {name}: {why}", markup=False, highlight=False)


def _fail(message: str, code: int) -> None:
    message = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    sys.stderr.write(f"deltaprop: error: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


def _warning_line(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """Warnings as one line on stderr, without the source line Python would show."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"deltaprop: warning: {text}\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``deltaprop`` console script and ``python -m deltaprop``."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            code = app(args=argv, prog_name="deltaprop", standalone_mode=False)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except (UserError, ValueError, TypeError, FileNotFoundError, IsADirectoryError) as e:
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        _fail(str(e), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as e:
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            # click's usage errors (typer may vendor click, so matched by shape): exit 2
            _fail(e.format_message(), 2 if e.exit_code == 2 else e.exit_code)
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        _fail(f"{type(e).__name__}: {e} (set DELTAPROP_DEBUG=1 for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)

"""``deltaprop predict`` and ``deltaprop evaluate``: a saved model on new data."""

from __future__ import annotations

import sys

import typer
from rich import box
from rich.table import Table

from .._safetext import text, visible
from ._common import console, emit_json, metric_cells


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
    from ..workflow import predict

    p = predict(model, data, out=out)
    m = p.Y.shape[1]
    if as_json:
        emit_json(
            {
                "model": model,
                "data": data,
                "m": m,
                "target_names": p.target_names,
                "predictions": p.Y.T.tolist(),
                "out": out,
            }
        )
    elif out:
        console.print(text(f"wrote {m} predictions of {', '.join(p.target_names)} to {out}"))
    else:  # exact CSV for a pipe; on a terminal, names from the file shown as text
        sys.stdout.write(visible_csv(p.csv) if sys.stdout.isatty() else p.csv)


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
    from ..workflow import evaluate, metrics_json

    e = evaluate(model, data, target)
    metrics = e.metrics
    if as_json:
        emit_json(
            {
                "model": model,
                "data": data,
                "target_names": e.target_names,
                "metrics": metrics_json(metrics),
            }
        )
        return
    table = Table(
        title=text(
            f"{model} on {data}: {metrics['m']} samples, target {', '.join(e.target_names)}"
        ),
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for name in ("", "R²", "RMSE", "MAE"):
        table.add_column(name, justify="right")
    table.add_row("model", *metric_cells(metrics))
    if "baseline" in metrics:
        table.add_row("baseline (training mean)", *metric_cells(metrics["baseline"]))
    console.print(table)


def visible_csv(csv_text: str) -> str:
    """CSV text with each line's non-printable characters shown as escapes."""
    return "".join(visible(line) + "\n" for line in csv_text.splitlines())

"""``deltaprop predict`` and ``deltaprop evaluate``: a saved model on new data."""

from __future__ import annotations

import sys

import typer
from rich import box
from rich.table import Table

from .._safetext import text, visible
from ._common import class_cells, console, emit_json, metric_cells, print_confusion

_CSV_HELP = {
    "sep": "CSV field separator ('\\t' for tab). [default: sniffed]",
    "decimal": "Decimal mark of the CSV's numbers: . or ,",
    "encoding": "CSV text encoding. [default: utf-8]",
    "index_col": "A CSV column that only numbers the rows (name or 0-based position).",
    "id_col": "A CSV column of row ids, copied to the predictions.",
}


def _csv(sep: str | None, decimal: str, encoding: str, index_col: str | None, id_col: str | None):
    from .train import _separator

    return {
        "sep": _separator(sep),
        "decimal": decimal,
        "encoding": encoding,
        "index_col": index_col,
        "id_col": id_col,
    }


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
    proba: bool = typer.Option(
        False, "--proba", help="A classifier: also one probability column per class."
    ),
    force: bool = typer.Option(
        False, "--force", help="Let --out replace an input file (the data or the model)."
    ),
    sep: str = typer.Option(None, help=_CSV_HELP["sep"]),
    decimal: str = typer.Option(".", help=_CSV_HELP["decimal"]),
    encoding: str = typer.Option("utf-8", help=_CSV_HELP["encoding"]),
    index_col: str = typer.Option(None, help=_CSV_HELP["index_col"]),
    id_col: str = typer.Option(None, help=_CSV_HELP["id_col"]),
    as_json: bool = typer.Option(False, "--json", help="Print the predictions as JSON."),
) -> None:
    """Predict with a saved model: one row per data row, in the targets' units (a
    classifier: its labels; with --proba one probability column per class)."""
    from ..workflow import predict

    csv = _csv(sep, decimal, encoding, index_col, id_col)
    p = predict(model, data, out=out, proba=proba, force=force, **csv)
    m = p.Y.shape[1]
    if as_json:
        emit_json(
            {
                "model": model,
                "data": data,
                "m": m,
                "target_names": p.target_names,
                "predictions": p.Y.T.tolist(),
                "columns": {name: values for name, values in p.columns},
                "out": out,
            }
        )
    elif out:
        console.print(
            text(f"wrote {m} predictions ({', '.join(n for n, _ in p.columns)}) to {out}")
        )
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
    sep: str = typer.Option(None, help=_CSV_HELP["sep"]),
    decimal: str = typer.Option(".", help=_CSV_HELP["decimal"]),
    encoding: str = typer.Option("utf-8", help=_CSV_HELP["encoding"]),
    index_col: str = typer.Option(None, help=_CSV_HELP["index_col"]),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """A saved model on labelled data beside its baseline: R², RMSE and MAE (the training
    mean), or a classifier's accuracy, balanced accuracy, log-loss and confusion matrix (the
    majority class)."""
    from ..workflow import evaluate, metrics_json

    e = evaluate(model, data, target, **_csv(sep, decimal, encoding, index_col, None))
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
    if e.labels is None:
        columns, cells, baseline = ("", "R²", "RMSE", "MAE"), metric_cells, "training mean"
    else:
        columns = ("", "accuracy", "balanced", "log-loss")
        cells, baseline = class_cells, "majority class"
    for name in columns:
        table.add_column(name, justify="right")
    table.add_row("model", *cells(metrics))
    if "baseline" in metrics:
        table.add_row(f"baseline ({baseline})", *cells(metrics["baseline"]))
    console.print(table)
    if e.labels is not None and e.labels.task != "multilabel":
        print_confusion(metrics["confusion_matrix"], e.labels.classes, "these data")


def visible_csv(csv_text: str) -> str:
    """CSV text with each line's non-printable characters shown as escapes."""
    return "".join(visible(line) + "\n" for line in csv_text.splitlines())

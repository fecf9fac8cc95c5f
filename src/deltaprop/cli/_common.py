"""What every subcommand shares: the console, user errors, JSON output, option parsing."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

from .._safetext import json_dumps

console = Console()


class UserError(Exception):
    """A mistake in the user's input: reported as one line on stderr with exit code 2."""


def option(field: str) -> str:
    """The option that sets a library setting: ``batch_size`` -> ``--batch-size``."""
    return "--" + field.replace("_", "-")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (the ``--json`` output of every command); strings keep
    their exact values, with control and format characters as ``\\uXXXX`` escapes."""
    sys.stdout.write(json_dumps(obj, indent=2, allow_nan=False) + "\n")


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


def parse_names(text: str, option: str, allowed: tuple[str, ...]) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each among ``allowed``, with an error naming ``option``."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UserError(f"{option} must list at least one of {', '.join(allowed)}; got {text!r}")
    for name in names:
        if name not in allowed:
            raise UserError(f"{option} values must be among {', '.join(allowed)}; got {name!r}")
    return names


def metric_cells(metrics: dict[str, float]) -> list[str]:
    """R² to 3 decimals, RMSE and MAE to 4 significant digits."""
    return [f"{metrics['r2']:.3f}", f"{metrics['rmse']:.4g}", f"{metrics['mae']:.4g}"]


def class_cells(metrics: dict[str, Any]) -> list[str]:
    """Accuracy and balanced accuracy to 3 decimals, log-loss to 4 significant digits."""
    return [
        f"{metrics['accuracy']:.3f}",
        f"{metrics['balanced_accuracy']:.3f}",
        f"{metrics['log_loss']:.4g}",
    ]


def print_confusion(matrix: list[list[int]], classes: list[Any], part: str) -> None:
    """A confusion matrix as a table: rows the true classes, columns the predicted ones."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"confusion matrix ({part}): rows true, columns predicted",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column("")
    for c in classes:
        table.add_column(escape(str(c)), justify="right")
    for c, row in zip(classes, matrix):
        table.add_row(escape(str(c)), *(str(v) for v in row))
    console.print(table)

"""``deltaprop gradcheck``: back-propagation against central differences."""

from __future__ import annotations

import re

import typer
from rich.table import Table

from ._common import UserError, console, emit_json, parse_int_list

_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "identity")


def gradcheck_command(
    layers: str | None = typer.Option(
        None, help="Every layer width n_0,...,n_L (instead of --hidden). [default: 4,8,8,2]"
    ),
    hidden: str | None = typer.Option(
        None,
        help="Hidden layer widths, as train's --hidden (4 inputs, 2 outputs). [default: 8,8]",
    ),
    activation: str = typer.Option(
        "relu", help=f"{'|'.join(_ACTIVATIONS)}: the hidden layers' activation."
    ),
    output: str = typer.Option(
        "identity", help="identity|softmax|sigmoid|tanh|...: the output activation."
    ),
    loss: str = typer.Option("mse", help="mse|cross_entropy|binary_cross_entropy: the cost."),
    batch: int = typer.Option(16, "--batch-size", "--batch", help="Samples m in the batch."),
    seed: int = typer.Option(0, help="Seed for the weights and the data."),
    eps: float = typer.Option(1e-5, help="Central-difference step."),
    tol: float = typer.Option(1e-6, help="Largest relative error that passes."),
    mode: str = typer.Option("full", help="full (every parameter) or directional (fast)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Check back-propagation against central differences on a random network and batch."""
    import numpy as np

    from ..gradcheck import gradcheck
    from ..network import Network

    if hidden is not None and not re.fullmatch(r"[\d,\s]+", hidden):  # old: --hidden NAME
        activation, hidden = hidden.strip(), None
    if layers is not None and hidden is not None:
        raise UserError("give --layers (every width) or --hidden (the hidden widths), not both")
    if hidden is not None:
        sizes = [4, *parse_int_list(hidden, "--hidden"), 2]
    else:
        sizes = parse_int_list(layers or "4,8,8,2", "--layers")
    if len(sizes) < 2:
        raise UserError(f"--layers needs at least an input and an output width; got {layers!r}")
    if batch < 1:
        raise UserError(f"--batch-size must be >= 1; got {batch}")
    if seed < 0:
        raise UserError(f"--seed must be >= 0; got {seed}")
    net = Network(sizes, hidden=activation, output=output, loss=loss, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X = rng.standard_normal((sizes[0], batch))
    if net.loss.name == "cross_entropy":  # targets the cost is meant for: one-hot columns
        Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], size=batch)]
    elif net.loss.name == "binary_cross_entropy":  # 0/1 labels
        Y = rng.integers(0, 2, size=(sizes[-1], batch)).astype(np.float64)
    else:
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

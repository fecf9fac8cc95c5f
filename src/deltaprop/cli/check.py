"""``deltaprop check``: test your own formula for δ^[l], ∂J/∂W^[l] or ∂J/∂b^[l]."""

from __future__ import annotations

import typer
from rich.markup import escape

from ._common import UserError, console, emit_json

_HELP = (
    "A NumPy expression of l, L, m, n, W, b, Z, A, delta, X, Y, g_prime, g, J_prime, ones "
    "(W[k], A[k-1], delta[k+1], g_prime(Z[l]), ...; * is element-wise, @ the matrix product, "
    ".T the transpose), e.g. 'delta[l] @ A[l-1].T'."
)


def check_command(
    expression: str = typer.Argument(..., help=_HELP),
    target: str = typer.Option(
        ..., "--for", help="What the formula is for: delta, dW or db (layer l)."
    ),
    layers: str = typer.Option(
        None,
        help="Layers l to try: hidden (l = L-1..1, the default for delta), output (l = L) "
        "or all (the default for dW, db).",
    ),
    hidden: str = typer.Option("relu", help="Hidden activation of the test networks."),
    output: str = typer.Option("identity", help="Output activation of the test networks."),
    loss: str = typer.Option("mse", help="Cost of the test networks."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """Test a formula on random networks: "correct", or its smallest counterexample.

    Exit code 0 when the formula is correct on every network tried, 1 with a counterexample.
    """
    from ..formula import TARGETS, check_formula

    if target not in TARGETS:
        raise UserError(f"--for must be one of {', '.join(TARGETS)}; got {target!r}")
    result = check_formula(
        expression, target, layers=layers, hidden=hidden, output=output, loss=loss
    )
    if as_json:
        emit_json(result.to_dict())
    else:
        style = "green" if result.correct else "red"
        console.print(f"[{style}]{escape(str(result))}[/{style}]", highlight=False)
    if not result.correct:
        raise typer.Exit(1)

"""``deltaprop derive``: the derivation's equations, verified symbolically with --check."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.table import Table

from .._docs import derivation_path
from ._common import console, emit_json


def _derivation() -> str:
    """Where to read the proof: the installed copy, else the repository's path."""
    try:
        return str(derivation_path())
    except FileNotFoundError:
        return "docs/derivation.md in the deltaprop repository"


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
            emit_json({"equations": equations, "derivation": _derivation()})
            return
        for name, text in equations.items():
            console.print(f"{name:>8}  {text}", markup=False, highlight=False)
        console.print(
            f"proof: {_derivation()}; run `deltaprop derive --check` to verify it",
            markup=False,
            highlight=False,
            soft_wrap=True,  # a path is not broken across lines
        )
        return
    from rich.markup import escape

    try:
        from .. import symbolic
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

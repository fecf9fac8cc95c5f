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
        False, "--version", help="Show the version and exit.", callback=_version_callback,
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
                str(r.layer), f"{r.max_rel_error_W:.2e}", f"{r.max_rel_error_b:.2e}",
                str(r.n_checked),
            )
        console.print(table)
        verdict = "[green]ok[/green]" if report.ok else "[red]FAILED[/red]"
        console.print(f"max relative error {report.max_rel_error:.3e} (tol {tol:g}): {verdict}")
    if not report.ok:
        raise typer.Exit(1)


# --- train / predict / evaluate (issue 4) -------------------------------------------------------
# [cli:train]

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
        title=escape(f"{family}: {fam.formula}"), box=box.SIMPLE_HEAD, padding=0,
        show_edge=False,
    )
    for name in ("depth", "#paths", "backprop\nops", "\ntime", "naive\nops", "\ntime",
                 "paths\nops", "\ntime", "naive/bp\nops", "\ntime"):
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
        sys.stderr.write(f"deltaprop: error: derive --check needs SymPy ({e}); "
                         "install it with: pip install 'deltaprop[symbolic]'\n")
        raise typer.Exit(1) from None

    def show(c: Any) -> None:
        if not as_json:
            mark = "[green]equal[/green]" if c.equal else "[red]NOT EQUAL[/red]"
            console.print(f"{mark}  {c.seconds:6.2f} s  {escape(c.name)}", highlight=False,
                          soft_wrap=True)

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
# [cli:bench]


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"deltaprop: error: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``deltaprop`` console script and ``python -m deltaprop``."""
    try:
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

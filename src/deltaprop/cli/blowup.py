"""``deltaprop blowup``: back-propagation against the naive chain rule, depth by depth."""

from __future__ import annotations

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ._common import UserError, console, emit_json


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


def blowup_command(
    family: str = typer.Option("fanout", help="Graph family: chain, fanout, fibonacci, mlp."),
    max_depth: int = typer.Option(20, "--max-depth", help="Measure depths 1..N."),
    budget: float = typer.Option(
        2.0, help="Seconds one naive or path-sum run may take; longer ones are extrapolated."
    ),
    plot: str = typer.Option(None, help="Write a log-scale figure to this file."),
    plot_format: str = typer.Option(
        None, "--format", help="The figure's format: png, svg or pdf [default: the suffix]."
    ),
    dpi: float = typer.Option(120, help="The figure's resolution (png)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of rows instead."),
) -> None:
    """Count and time back-propagation against the naive chain rule, depth by depth."""
    from ..graph.families import FAMILIES
    from ..graph.study import blowup

    if family not in FAMILIES:
        raise UserError(f"unknown family {family!r}; known families: {', '.join(FAMILIES)}")
    if max_depth < 1:
        raise UserError(f"--max-depth must be >= 1; got {max_depth}")
    if not budget > 0:
        raise UserError(f"--budget must be > 0 seconds; got {budget}")
    if plot:
        from pathlib import Path

        from ..plots import check_plot_options

        check_plot_options(plot_format or Path(plot).suffix.lstrip(".") or "png", dpi)
    rows = blowup(family, max_depth, budget=budget)
    if plot:
        from ..plots import plot_blowup

        plot_blowup(rows, plot, format=plot_format, dpi=dpi)
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

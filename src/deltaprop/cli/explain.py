"""``deltaprop explain``: one forward and backward pass with every number (``--html`` page)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._safetext import visible
from ._common import UserError, console, emit_json, parse_int_list

Sizes = Annotated[
    str | None,
    typer.Option(
        "--sizes",
        help="Layer widths n_0,...,n_L [default: 2,3,2,1; with --data: features,3,2,targets].",
    ),
]
Numbering = Annotated[
    str,
    typer.Option(help="deltaprop (input = A[0]) or exercise (input = layer 1)."),
]


def explain_command(
    sizes: Sizes = None,
    hidden: str = typer.Option("relu", help="Hidden activation."),
    output: str = typer.Option("identity", help="Output activation."),
    loss: str = typer.Option("mse", help="Cost."),
    batch: int = typer.Option(3, help="Samples m in the batch (rows of --data)."),
    seed: int = typer.Option(0, help="Seed for the weights and the batch."),
    data: str = typer.Option(None, help="Take the batch from the first rows of this CSV."),
    target: str = typer.Option(None, help="Target column(s) of --data [default: the last]."),
    numbering: Numbering = "deltaprop",
    mistakes: bool = typer.Option(False, help="Also show what the exercise's slips give."),
    html: str = typer.Option(None, help="Write the self-contained step-by-step page here."),
    plot: str = typer.Option(None, help="Write a drawing of the network (units by δ) here."),
    deltas: str = typer.Option(None, help="Write δ per layer as heatmaps here."),
    plot_format: str = typer.Option(
        None, "--format", help="Format of --plot/--deltas: png, svg, pdf [default: suffix]."
    ),
    dpi: float = typer.Option(120, help="Resolution of --plot/--deltas (png)."),
    as_json: bool = typer.Option(False, "--json", help="Print every number as JSON."),
) -> None:
    """One forward and backward pass of a small network, every step with its numbers."""
    from ..explain import explain, render

    if batch < 1:
        raise UserError(f"--batch must be >= 1; got {batch}")
    if seed < 0:
        raise UserError(f"--seed must be >= 0; got {seed}")
    for path in (plot, deltas):
        if path:
            from pathlib import Path

            from ..plots import check_plot_options

            check_plot_options(plot_format or Path(path).suffix.lstrip(".") or "png", dpi)
    kw: dict[str, Any] = dict(hidden=hidden, output=output, loss=loss, m=batch, seed=seed)
    if data is not None:
        kw.update(_from_csv(data, target, sizes, batch, hidden, output, loss, seed))
    elif sizes is not None:
        kw["sizes"] = parse_int_list(sizes, "--sizes")
        if len(kw["sizes"]) < 2:
            raise UserError(f"--sizes needs at least an input and an output width; got {sizes!r}")
    ex = explain(numbering=numbering, mistakes=mistakes, **kw)
    written = _write_files(ex, html, plot, deltas, plot_format, dpi)
    if as_json:
        out = ex.to_dict()
        out["files"] = written
        emit_json(out)
        return
    if written:
        for what, path in written.items():
            console.print(f"wrote {what}: {visible(path)}", markup=False, highlight=False)
        return
    render(ex, console)


def _from_csv(
    data: str,
    target: str | None,
    sizes: str | None,
    m: int,
    hidden: str,
    output: str,
    loss: str,
    seed: int,
) -> dict[str, Any]:
    """The network and batch from the first ``m`` rows of a CSV file."""
    from ..data import load_data
    from ..network import Network

    ds = load_data(data, target)
    if ds.Y is None:
        raise UserError(f"--data {data} has no target column: name one with --target")
    if ds.X.shape[1] < m:
        raise UserError(f"--batch {m} needs {m} rows; {data} has {ds.X.shape[1]}")
    n0, nL = ds.X.shape[0], ds.Y.shape[0]
    widths = [n0, 3, 2, nL] if sizes is None else parse_int_list(sizes, "--sizes")
    if widths[0] != n0 or widths[-1] != nL:
        raise UserError(
            f"--sizes must start with {n0} (the feature columns of {data}) and end with {nL} "
            f"(its target columns); got {sizes!r}"
        )
    net = Network(widths, hidden=hidden, output=output, loss=loss, seed=seed)
    return {
        "net": net,
        "X": ds.X[:, :m],
        "Y": ds.Y[:, :m],
        "feature_names": ds.feature_names,
        "target_names": ds.target_names,
    }


def _write_files(
    ex: Any,
    html: str | None,
    plot: str | None,
    deltas: str | None,
    plot_format: str | None,
    dpi: float,
) -> dict[str, str]:
    written: dict[str, str] = {}
    if html:
        from ..web.explain_page import write_html

        written["html"] = str(write_html(ex, html))
    if plot:
        from ..plots import plot_network

        path = plot_network(ex.net, ex.X, ex.Y, plot, color_by="delta", format=plot_format, dpi=dpi)
        written["plot"] = str(path)
    if deltas:
        from ..plots import plot_deltas

        written["deltas"] = str(
            plot_deltas(ex.net, ex.X, ex.Y, deltas, format=plot_format, dpi=dpi)
        )
    return written

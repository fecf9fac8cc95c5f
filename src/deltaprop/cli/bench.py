"""``deltaprop bench``: training-step time against the peers and the matrix-product floor."""

from __future__ import annotations

import sys

import typer
from rich import box
from rich.table import Table

from ._common import UserError, console, emit_json, parse_names


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
    from .. import _bench

    config_names = parse_names(configs, "--configs", tuple(_bench.CONFIGS))
    dtype_names = parse_names(dtypes, "--dtypes", _bench.DTYPES)
    peer_names = parse_names(peers, "--peers", _bench.PEERS)
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

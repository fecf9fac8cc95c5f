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
    fit: bool = typer.Option(False, "--fit", help="Whole-fit time per epoch instead of a step."),
    engines: str = typer.Option("jax", help="With --fit: deltaprop engines besides NumPy."),
    clock: str = typer.Option("wall", help="With --fit: wall or cpu time (a loaded machine)."),
) -> None:
    """Training-step time against scikit-learn, PyTorch, JAX and the matrix-product floor.

    With --fit: per-epoch time of a whole fit (Adam, shuffled batches, fixed epochs) against
    the same peers, after checking that all of them reach a comparable loss.
    """
    from .. import _bench

    if fit:
        _fit_bench(configs, dtypes, peers, repeats, as_json, engines, clock)
        return
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


def _fit_bench(
    configs: str, dtypes: str, peers: str, repeats: int, as_json: bool, engines: str, clock: str
) -> None:
    """``deltaprop bench --fit``: :func:`deltaprop._bench.fit_run`, as a table or JSON."""
    from .. import _bench

    config_names = parse_names(configs, "--configs", tuple(_bench.FIT_CONFIGS))
    dtype_names = parse_names(dtypes, "--dtypes", _bench.DTYPES)
    peer_names = parse_names(peers, "--peers", _bench.FIT_PEERS)
    engine_names = [e for e in (t.strip() for t in engines.split(",")) if e]
    for e in engine_names:
        if e != "jax":
            raise UserError(f"--engines values must be among jax; got {e!r}")
    if repeats < 1:
        raise UserError(f"--repeats must be >= 1; got {repeats}")
    if clock not in ("wall", "cpu"):
        raise UserError(f"--clock must be wall or cpu; got {clock!r}")

    def progress(line: str) -> None:
        sys.stderr.write(f"bench --fit: {line}\n")

    result = _bench.fit_run(
        config_names,
        dtype_names,
        peer_names,
        repeats=repeats,
        engines=[e for e in engine_names if _bench._has_engine(e)],
        clock=clock,
        progress=progress,
    )
    if as_json:
        emit_json(result)
        return
    headers, rows = _bench.fit_table(result)
    table = Table(
        title=f"one epoch of fit, ms ({clock} time, medians); deltaprop's time / each other's",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for h in headers:
        table.add_column(h, justify="left" if h in ("config", "dtype") else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for r in result["results"]:
        bad = [k for k, ok in r.get("comparable", {}).items() if not ok]
        if bad:
            console.print(f"{r['config']} {r['dtype']}: loss not comparable: {', '.join(bad)}")
        for t in r["targets"]:
            verdict = "met" if t["met"] else "missed"
            line = f"{r['config']} {r['dtype']}: {t['name']} = {t['value']:.2f} "
            console.print(line + f"(<= {t['limit']:g}) {verdict}", markup=False, highlight=False)

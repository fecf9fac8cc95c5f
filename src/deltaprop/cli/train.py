"""``deltaprop train``: options in, :func:`deltaprop.workflow.train` called, a table out."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._safetext import text, visible
from ._common import UserError, console, emit_json, metric_cells, parse_int_list

if TYPE_CHECKING:
    from ..training import TrainState
    from ..workflow import TrainResult


class ProgressBar:
    """:class:`deltaprop.workflow.TrainHooks` as a rich progress bar with the running costs."""

    def __init__(self, disable: bool) -> None:
        self.progress = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cost {task.fields[loss]:.4g}  validation {task.fields[val]:.4g}"),
            TimeElapsedColumn(),
            console=console,
            disable=disable,
        )
        self.task: Any = None

    def on_start(self, epochs: int, done: int) -> None:
        nan = float("nan")
        self.task = self.progress.add_task("train", total=epochs, loss=nan, val=nan, completed=done)
        self.progress.start()

    def on_epoch(self, state: TrainState) -> None:
        h = state.history
        val = h.val_loss[-1] if h.val_loss else float("nan")
        self.progress.update(self.task, completed=state.epoch, loss=h.loss[-1], val=val)

    def on_end(self) -> None:
        self.progress.stop()


# The options, one alias each (None: not given, so a resumed run keeps the checkpoint's).
Data = Annotated[
    str | None,
    typer.Option(help="Bundled data set (diabetes, friedman1) or a CSV file. [default: diabetes]"),
]
Target = Annotated[
    str | None,
    typer.Option(
        help="Target column(s) of a CSV file, comma-separated. [default: the last column]"
    ),
]
Hidden = Annotated[str | None, typer.Option(help="Hidden layer widths. [default: 64,64]")]
Epochs = Annotated[int | None, typer.Option(help="Most epochs to train. [default: 200]")]
Lr = Annotated[float | None, typer.Option(help="Learning rate. [default: 0.001]")]
Optimizer = Annotated[
    str | None, typer.Option(help="sgd (Nesterov momentum 0.9) or adam. [default: adam]")
]
BatchSize = Annotated[
    int | None, typer.Option("--batch-size", help="Samples per mini-batch. [default: 32]")
]
Seed = Annotated[
    int | None,
    typer.Option(help="Seeds the split, the weights and the shuffling. [default: 0]"),
]
Patience = Annotated[
    int | None,
    typer.Option(
        help="Stop after this many epochs without a better validation R² and keep the "
        "best epoch's weights; 0 never stops early. [default: 20]"
    ),
]
Out = Annotated[
    str,
    typer.Option(
        help="Folder for model.safetensors, loss.png, gradients.png and checkpoint.safetensors."
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume", help="Continue the run whose checkpoint is in --out, with its settings."
    ),
]
CheckpointEvery = Annotated[
    int | None,
    typer.Option(
        "--checkpoint-every",
        help="Write a checkpoint every N epochs (and at the end). [default: 10; a resumed "
        "run keeps its own]",
    ),
]
Plots = Annotated[
    bool, typer.Option("--plots/--no-plots", help="Write loss.png and gradients.png.")
]
PlotFormat = Annotated[str, typer.Option("--format", help="The plots' format: png, svg or pdf.")]
Dpi = Annotated[float, typer.Option("--dpi", help="The plots' resolution (png).")]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Train full-batch on a Dask cluster: its scheduler's ADDRESS "
        "(tcp://host:8786), or 'local' for a LocalCluster of 2 "
        "workers (one gradient over all samples per epoch).",
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print metrics and paths as JSON, no progress bar.")
]


def train_command(
    data: Data = None,
    target: Target = None,
    hidden: Hidden = None,
    epochs: Epochs = None,
    lr: Lr = None,
    optimizer: Optimizer = None,
    batch_size: BatchSize = None,
    seed: Seed = None,
    patience: Patience = None,
    out: Out = "deltaprop-run",
    resume: Resume = False,
    checkpoint_every: CheckpointEvery = None,
    plots: Plots = True,
    plot_format: PlotFormat = "png",
    dpi: Dpi = 120,
    scheduler: Scheduler = None,
    as_json: AsJson = False,
) -> None:
    """Train the exercise's network (ReLU hidden, identity output, MSE) and report held-out metrics.

    The data are split 70/10/20 into train, validation and test (seeded); inputs and targets
    are standardised with the training split's means and scales, which the model file keeps.
    Ctrl-C writes a checkpoint; --resume continues to the same final weights as a run that
    was never interrupted.
    """
    from .. import workflow

    if checkpoint_every is not None and checkpoint_every < 1:
        raise UserError(f"--checkpoint-every must be >= 1; got {checkpoint_every}")
    given = {
        "data": data,
        "target": target,
        "hidden": None if hidden is None else parse_int_list(hidden, "--hidden"),
        "epochs": epochs,
        "lr": lr,
        "optimizer": optimizer,
        "batch_size": batch_size,
        "seed": seed,
        "patience": patience,
    }
    given["checkpoint_every"] = checkpoint_every  # not given: a resumed run keeps its own
    changes = {k: v for k, v in given.items() if v is not None}
    try:
        result = workflow.train(
            out=out,
            resume=resume,
            changes=changes,
            plots=plots,
            plot_format=plot_format,
            dpi=dpi,
            scheduler=scheduler,
            hooks=ProgressBar(disable=as_json),
        )
    except workflow.Interrupted as e:
        hint = f"resume with: {e.resume}" if e.resume else "nothing to resume: run it again"
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            sys.stderr.write(visible_lines(f"deltaprop: {e}", hint))
        raise typer.Exit(e.exit_code) from None
    if as_json:
        emit_json(result.to_dict())
    else:
        print_result(result)


def visible_lines(*lines: str) -> str:
    """Lines for stderr, each with its non-printable characters shown as escapes."""
    return "".join(visible(line) + "\n" for line in lines)


def print_result(result: TrainResult) -> None:
    """The metrics table of a run and the files it wrote."""
    s, history = result.settings, result.state.history
    table = Table(
        title=text(
            f"{s.data}: sizes {result.net.sizes}, {s.optimizer} lr {s.lr:g}, "
            f"{history.n_iter} epochs ({history.stopped_reason}, best epoch "
            f"{history.best_epoch}), {result.seconds:.1f} s"
        ),
        caption="baseline: always predict the training targets' mean",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for name in ("split", "m", "R²", "RMSE", "MAE", "baseline R²", "RMSE", "MAE"):
        table.add_column(name, justify="right")
    for part, r in result.metrics.items():
        table.add_row(part, str(r["m"]), *metric_cells(r), *metric_cells(r["baseline"]))
    console.print(table)
    console.print(text(f"wrote {', '.join(result.files.values())}"), soft_wrap=True)

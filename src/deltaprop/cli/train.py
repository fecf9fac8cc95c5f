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
from ._common import (
    UserError,
    class_cells,
    console,
    emit_json,
    metric_cells,
    parse_int_list,
    print_confusion,
)

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
    typer.Option(
        help="Bundled data set (diabetes, friedman1, wine, breast_cancer, digits) or a CSV "
        "file. [default: diabetes]"
    ),
]


def _choice(values: tuple[str, ...]) -> Any:
    """A callback accepting only ``values`` (a wrong one is a usage error, exit 2)."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in values:
            raise typer.BadParameter(f"must be one of {', '.join(values)}; got {value!r}")
        return value

    return check


Task = Annotated[
    str | None,
    typer.Option(
        callback=_choice(("auto", "regression", "classification", "multilabel")),
        help="auto|regression|classification|multilabel. What to learn; auto: "
        "classification for text or few integer labels, multi-label for several 0/1 "
        "columns, else regression. [default: auto]",
    ),
]
Activation = Annotated[
    str | None,
    typer.Option(
        callback=_choice(("relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "identity")),
        help="relu|tanh|sigmoid|leaky_relu|elu|softplus|identity: the hidden layers' "
        "activation. [default: relu]",
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        callback=_choice(("identity", "softmax", "sigmoid", "tanh")),
        help="identity|softmax|sigmoid|tanh: the output activation. [default: the "
        "task's: identity, softmax, or sigmoid for two classes and multi-label]",
    ),
]
Loss = Annotated[
    str | None,
    typer.Option(
        callback=_choice(("mse", "cross_entropy", "binary_cross_entropy")),
        help="mse|cross_entropy|binary_cross_entropy: the cost J. [default: the task's: "
        "mse, cross_entropy or binary_cross_entropy]",
    ),
]
Alpha = Annotated[
    float | None,
    typer.Option(help="L2 penalty λ on the weights. [default: 30/m, m the training rows]"),
]
ValidationFraction = Annotated[
    float | None,
    typer.Option(help="Share of rows held out for early stopping. [default: 0.1]"),
]
Sep = Annotated[
    str | None,
    typer.Option(help="CSV field separator (use '\\t' for tab). [default: sniffed: , ; tab |]"),
]
Decimal = Annotated[
    str | None,
    typer.Option(
        callback=_choice((".", ",")),
        help=".|, : the decimal mark of the CSV's numbers. [default: .]",
    ),
]
Encoding = Annotated[
    str | None, typer.Option(help="CSV text encoding (latin-1, cp1252, ...). [default: utf-8]")
]
IndexCol = Annotated[
    str | None,
    typer.Option(
        help="A CSV column (name or 0-based position) that only numbers the rows; an unnamed "
        "first column is one."
    ),
]
IdCol = Annotated[str | None, typer.Option(help="A CSV column of row ids, not used as an input.")]
Target = Annotated[
    str | None,
    typer.Option(
        help="Target column(s) of a CSV file, comma-separated. [default: the last column]"
    ),
]
Hidden = Annotated[str | None, typer.Option(help="Hidden layer widths. [default: 100]")]
Epochs = Annotated[int | None, typer.Option(help="Most epochs to train. [default: 500]")]
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
        "best epoch's weights; 0 never stops early. [default: 50]"
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


_RUN_OPTIONS = ("out", "resume", "plots", "plot_format", "dpi", "scheduler", "as_json")


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
    task: Task = None,
    activation: Activation = None,
    output: Output = None,
    loss: Loss = None,
    alpha: Alpha = None,
    validation_fraction: ValidationFraction = None,
    sep: Sep = None,
    decimal: Decimal = None,
    encoding: Encoding = None,
    index_col: IndexCol = None,
    id_col: IdCol = None,
) -> None:
    """Train a network (regression or classification) and report held-out metrics.

    Regression is the exercise's network (ReLU hidden, identity output, MSE); a classifier
    gets softmax and cross-entropy (sigmoid and binary cross-entropy for two classes or
    multi-label). The data are split 70/10/20 into train, validation and test (seeded);
    inputs (and regression targets) are standardised with the training split's means and
    scales, which the model file keeps.
    Ctrl-C writes a checkpoint; --resume continues to the same final weights as a run that
    was never interrupted.
    """
    given = dict(locals())  # every option, by its parameter's name (a TrainSettings field)
    from .. import workflow

    if checkpoint_every is not None and checkpoint_every < 1:
        raise UserError(f"--checkpoint-every must be >= 1; got {checkpoint_every}")
    for name in _RUN_OPTIONS:  # how to run, not the run's settings
        del given[name]
    given["hidden"] = None if hidden is None else parse_int_list(hidden, "--hidden")
    given["sep"] = _separator(sep)
    # not given (None): the default, or on --resume the checkpoint's own
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
    try:
        if as_json:
            emit_json(result.to_dict())
        else:
            print_result(result)
    except KeyboardInterrupt:  # after the run: its files are complete, say so
        with contextlib.suppress(OSError):
            sys.stderr.write(
                visible_lines(f"deltaprop: interrupted; the run is complete in {result.files}")
            )
        raise typer.Exit(130) from None


def visible_lines(*lines: str) -> str:
    """Lines for stderr, each with its non-printable characters shown as escapes."""
    return "".join(visible(line) + "\n" for line in lines)


def _separator(sep: str | None) -> str | None:
    """``\\t`` and ``tab`` as a tab character (a shell passes a tab badly)."""
    return "\t" if sep in ("\\t", "tab", "TAB") else sep


def print_result(result: TrainResult) -> None:
    """The metrics table of a run and the files it wrote."""
    s, history = result.settings, result.state.history
    labels = result.model.labels
    best = f"best epoch {history.best_epoch}" if s.patience > 0 else "last epoch kept"
    table = Table(
        title=text(
            f"{s.data}: sizes {result.net.sizes}, {s.optimizer} lr {s.lr:g}, λ {s.alpha:.3g}, "
            f"{history.n_iter} epochs ({history.stopped_reason}, {best}), "
            f"{result.seconds:.1f} s"
        ),
        caption="baselines fitted on the training split: ridge regression (penalty by "
        "leave-one-out) and the training targets' mean"
        if labels is None
        else "baselines fitted on the training split (accuracy): logistic regression and the "
        "majority class",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    columns: tuple[str, ...]
    if labels is None:
        columns = ("split", "m", "R²", "RMSE", "MAE", "ridge R²", "mean R²")
        key, cells = "r2", metric_cells
    else:
        columns = ("split", "m", "accuracy", "balanced", "log-loss", "logistic", "majority")
        key, cells = "accuracy", class_cells
    for name in columns:
        table.add_column(name, justify="right")
    for part, r in result.metrics.items():
        baselines = (f"{r[name][key]:.3f}" for name in ("linear", "baseline"))
        table.add_row(part, str(r["m"]), *cells(r), *baselines)
    console.print(table)
    if labels is not None and labels.task != "multilabel":
        print_confusion(result.metrics["test"]["confusion_matrix"], labels.classes, "test")
    console.print(text(f"wrote {', '.join(result.files.values())}"), soft_wrap=True)

"""What ``deltaprop train``, ``predict`` and ``evaluate`` do, as a library.

The command line parses options, calls these functions and prints; a notebook calls the same
functions and gets the same files, weights and numbers::

    from deltaprop.workflow import TrainSettings, train
    result = train(TrainSettings(data="friedman1", hidden=(32, 32)), out="run")
    print(result.metrics["test"]["r2"], result.files["model"])

A run, step by step (each step is one function below):

1. **settings** — a frozen :class:`TrainSettings` (the options of ``deltaprop train``), checked
   when it is made; a resumed run takes the checkpoint's and reconciles the options given
   (:func:`resume_settings`: they must agree, ``epochs`` may grow);
2. **data** — a bundled data set or a CSV file (its absolute path and SHA-256 are kept, so a
   resume on edited data is refused), split 70/10/20 into train/validation/test with the seed;
3. **standardise** — inputs and targets with the training split's means and scales
   (:class:`~deltaprop.data.Standardization`, stored with the model);
4. **train** — :func:`deltaprop.training.fit` (Adam or SGD, mini-batches, early stopping on
   validation R²), or full-batch on a Dask cluster; a checkpoint every ``checkpoint_every``
   epochs and on Ctrl-C (:class:`Interrupted`);
5. **metrics and files** — R², RMSE and MAE on every split beside predicting the training
   mean; ``model.safetensors``, ``checkpoint.safetensors``, ``loss.png``, ``gradients.png``.

Progress reaches a front end through :class:`TrainHooks` (the CLI draws a rich progress bar
with it); this module prints nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import _files, _signals, training  # training.fit is looked up at call time (tests wrap it)
from ._outlock import OutLock, check_writable
from .data import (
    DATASETS,
    MAX_CSV_BYTES,
    Dataset,
    Labels,
    Splits,
    Standardization,
    classification_metrics,
    detect_task,
    linear_baseline,
    load_data,
    regression_metrics,
    split,
)
from .io import (
    CheckpointEvery,
    Model,
    load_checkpoint,
    load_model,
    save,
    save_checkpoint,
    write_atomic,
)
from .network import Network

if TYPE_CHECKING:
    from .training import TrainState

__all__ = [
    "Evaluation",
    "Interrupted",
    "Predictions",
    "SettingsError",
    "TrainHooks",
    "TrainResult",
    "TrainSettings",
    "evaluate",
    "metrics_json",
    "model_columns",
    "predict",
    "resume_settings",
    "train",
]

OPTIMIZERS = ("sgd", "adam")
_SHA256 = re.compile(r"[0-9a-f]{64}")
TASK_CHOICES = ("auto", "regression", "classification", "multilabel")
HIDDEN_CHOICES = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "identity")
OUTPUT_CHOICES = ("identity", "softmax", "sigmoid", "tanh")
LOSS_CHOICES = ("mse", "cross_entropy", "binary_cross_entropy")


class SettingsError(ValueError):
    """A setting with a bad value; ``field`` names it, :meth:`for_name` words it for a front end.

    ``str(error)`` names the field as Python spells it (``epochs must be >= 1; got 0``); the
    command line shows the same sentence with its option (``--epochs must be >= 1; got 0``).
    """

    def __init__(self, field: str, template: str) -> None:
        self.field, self.template = field, template
        super().__init__(self.for_name(field))

    def for_name(self, name: str) -> str:
        """The message with ``name`` where the field is named."""
        return self.template.replace("{name}", name)


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """The settings of one training run: what ``deltaprop train``'s options choose.

    Stored (as JSON, :meth:`to_dict`) in the checkpoint and the model file; a resumed run
    continues with them. Checked when made: a bad value raises :class:`SettingsError`.

    Attributes
    ----------
    data : str
        A bundled data set (``diabetes``, ``friedman1``) or the path of a CSV file.
    target : str, tuple of str or None
        Target column(s) of a CSV file (a comma-separated string or names); None: the last
        column. A run records the target names it used.
    hidden : tuple of int
        Hidden layer widths n_1, ..., n_{L-1}.
    epochs, lr, optimizer, batch_size, seed
        As :func:`deltaprop.training.fit` takes them (``optimizer``: ``sgd`` is Nesterov
        momentum 0.9); ``seed`` also seeds the split and the weights.
    patience : int
        Stop after this many epochs without a better validation R² and keep the best
        epoch's weights; 0 never stops early.
    data_sha256 : str or None
        SHA-256 of the CSV file the run was started on (None for a bundled data set).
    checkpoint_every : int
        Write a checkpoint every this many epochs (and at the end).
    dask : bool
        Whether the run trains full-batch on Dask (``train(scheduler=...)``); a resume must
        agree, since in memory it would continue with mini-batches.
    task : {"auto", "regression", "classification", "multilabel"}
        ``auto`` reads it from the target (:func:`deltaprop.data.detect_task`: text or few
        integer labels are classes, several 0/1 columns multi-label). Classification trains
        softmax/cross-entropy (sigmoid/binary cross-entropy for two classes or multi-label).
    activation : str
        Hidden activation (``relu``, ``tanh``, ``sigmoid``, ``leaky_relu``, ``elu``,
        ``softplus``, ``identity``).
    output, loss : str or None
        Output activation and cost; None: the task's (identity/MSE for regression).
    alpha : float or None
        L2 penalty λ on the weights (DESIGN.md's: the cost is the mean cost plus
        (λ/2) Σ_l ‖W^[l]‖²). None, the default: λ = :data:`PRIOR_PRECISION` / m with m the
        training rows, recorded in the run's settings when it starts.
    validation_fraction : float
        Share of the samples held out for early stopping (the test share is 0.2).
    sep, decimal, encoding, index_col, id_col
        The CSV dialect, as :func:`deltaprop.data.read_csv` takes it.
    """

    data: str = "diabetes"
    target: str | tuple[str, ...] | None = None
    hidden: tuple[int, ...] = (100,)
    epochs: int = 500
    lr: float = 1e-3
    optimizer: str = "adam"
    batch_size: int = 32
    seed: int = 0
    patience: int = 50
    data_sha256: str | None = None
    checkpoint_every: int = 10
    dask: bool = False
    task: str = "auto"
    activation: str = "relu"
    output: str | None = None
    loss: str | None = None
    alpha: float | None = None
    validation_fraction: float = 0.1
    sep: str | None = None
    decimal: str = "."
    encoding: str = "utf-8"
    index_col: str | None = None
    id_col: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.data, (str, os.PathLike)) or not str(self.data):
            raise SettingsError(
                "data", f"{{name}} must name a data set or a file; got {self.data!r}"
            )
        object.__setattr__(self, "data", str(self.data))
        if self.target is not None and not isinstance(self.target, str):
            if isinstance(self.target, (bytes, Mapping)) or not isinstance(self.target, Sequence):
                raise SettingsError("target", f"{{name}} must be column names; got {self.target!r}")
            object.__setattr__(self, "target", tuple(self.target))
            if not self.target or not all(isinstance(t, str) and t for t in self.target):
                raise SettingsError("target", f"{{name}} must be column names; got {self.target!r}")
        if not isinstance(self.dask, bool):
            raise SettingsError("dask", f"{{name}} must be true or false; got {self.dask!r}")
        sha = self.data_sha256
        if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
            raise SettingsError("data_sha256", f"{{name}} must be 64 hex digits; got {sha!r}")
        object.__setattr__(self, "hidden", _widths(self.hidden))
        for name, minimum in (
            ("epochs", 1),
            ("batch_size", 1),
            ("seed", 0),
            ("patience", 0),
            ("checkpoint_every", 1),
        ):
            _check_int(getattr(self, name), name, minimum)
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
            raise SettingsError("lr", f"{{name}} must be > 0 and finite; got {lr}")
        object.__setattr__(self, "lr", float(lr))
        if self.optimizer not in OPTIMIZERS:
            raise SettingsError(
                "optimizer", f"{{name}} must be sgd or adam; got {self.optimizer!r}"
            )
        _check_model_choices(self)

    def replace(self, **changes: Any) -> TrainSettings:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (tuples become lists), in field order; ``dask``
        only when true (so in-memory runs write the same bytes as before it existed)."""
        d = dataclasses.asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        if not d["dask"]:
            del d["dask"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "settings") -> TrainSettings:
        """Inverse of :meth:`to_dict`; missing keys take their defaults (older checkpoints).

        Raises ``ValueError`` naming ``source`` for unknown keys or bad values.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{source}: unknown settings {', '.join(map(repr, unknown))}")
        missing = [key for key in OPTIONS if key not in d]
        if missing:
            raise ValueError(
                f"{source}: the settings lack {', '.join(missing)}; "
                f"it was not written by deltaprop train"
            )
        if "alpha" not in d:  # a run from before the penalty was a setting trained without it
            d = {**d, "alpha": 0.0}
        try:
            return cls(**d)
        except (SettingsError, TypeError) as e:
            raise ValueError(f"{source}: invalid settings: {e}") from None


OPTIONS = (
    "data",
    "target",
    "hidden",
    "epochs",
    "lr",
    "optimizer",
    "batch_size",
    "seed",
    "patience",
)
"""The settings a run is started with and a resume must agree with (``epochs`` may grow)."""

PRIOR_PRECISION = 30.0
"""The default penalty's λ·m. Multiplied by m, the cost is Σ_i J_i + (λm/2) Σ_l ‖W^[l]‖²: the
negative log-posterior of the weights under a Gaussian prior of precision λm. A fixed precision
(the same prior for every data set, in the units of standardised data) weighs less against more
rows, so λ = 30/m: 0.097 on diabetes' 310 training rows, 0.0086 on friedman1's 3500. Chosen
with ``benchmarks/default_scores.py`` (docs/performance.md)."""


def _check_model_choices(s: TrainSettings) -> None:
    """The task, the network's activations and cost, the penalty and the CSV dialect."""
    choices: tuple[tuple[str, str | None, tuple[str | None, ...]], ...] = (
        ("task", s.task, TASK_CHOICES),
        ("activation", s.activation, HIDDEN_CHOICES),
        ("output", s.output, (None, *OUTPUT_CHOICES)),
        ("loss", s.loss, (None, *LOSS_CHOICES)),
        ("decimal", s.decimal, (".", ",")),
    )
    for name, value, allowed in choices:
        if value not in allowed:
            shown = ", ".join(c for c in allowed if c is not None)
            raise SettingsError(name, f"{{name}} must be one of {shown}; got {value!r}")
    for name, number, high in (
        ("alpha", 0.0 if s.alpha is None else s.alpha, math.inf),
        ("validation_fraction", s.validation_fraction, 0.8),
    ):
        ok = not isinstance(number, bool) and isinstance(number, (int, float))
        positive = name != "validation_fraction" or (ok and number > 0)
        if not ok or not 0.0 <= number < high or not positive:
            raise SettingsError(name, f"{{name}} must be in [0, {high}); got {number!r}")
        if getattr(s, name) is not None:
            object.__setattr__(s, name, float(number))
    if s.sep is not None and (len(s.sep) != 1 or s.sep == s.decimal):
        raise SettingsError(
            "sep", f"{{name}} must be one character other than the decimal mark; got {s.sep!r}"
        )


def _check_int(value: Any, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SettingsError(name, f"{{name}} must be an integer; got {value!r}")
    if value < minimum:
        raise SettingsError(name, f"{{name}} must be >= {minimum}; got {value}")


def _widths(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise SettingsError("hidden", f"{{name}} must be a sequence of integers; got {hidden!r}")
    for v in hidden:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise SettingsError("hidden", f"{{name}} must be integers; got {v!r} in {hidden!r}")
        if v < 1:
            raise SettingsError("hidden", f"{{name}} values must be >= 1; got {v} in {hidden!r}")
    return tuple(int(v) for v in hidden)


def _shown(value: Any) -> str:
    """A setting as an option would spell it: ``64,64`` for a sequence."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def resume_settings(
    saved: TrainSettings, given: Mapping[str, Any], checkpoint: str | os.PathLike
) -> TrainSettings:
    """The checkpoint's settings ``saved``, with the settings ``given`` for the resumed run.

    ``given`` (names of :class:`TrainSettings`, None meaning "not given") must agree with
    ``saved``, except ``epochs`` (which may grow) and ``checkpoint_every``; raises
    :class:`SettingsError` otherwise.
    """
    changes: dict[str, Any] = {}
    stored = saved.to_dict()
    for key, value in given.items():
        if value is None:
            continue
        if key == "epochs":
            if value < saved.epochs:
                raise SettingsError(
                    "epochs",
                    f"{{name}} {value} is fewer than the {saved.epochs} the run in "
                    f"{checkpoint} was started with",
                )
            changes["epochs"] = value
        elif key == "checkpoint_every":
            changes["checkpoint_every"] = value
        elif _differs(key, value, stored):
            raise SettingsError(
                key,
                f"{{name}} {_shown(value)} differs from the checkpoint's {stored.get(key)} "
                f"({checkpoint}); leave {{name}} out to resume",
            )
    return saved.replace(**changes)


def _differs(key: str, value: Any, stored: dict[str, Any]) -> bool:
    if key == "hidden":
        value = list(value)
    elif key == "target":
        value = [t.strip() for t in value.split(",")] if isinstance(value, str) else list(value)
    elif key == "data" and stored.get("data_sha256"):
        value = os.path.abspath(value)
    return bool(value != stored.get(key))


# --- one run -------------------------------------------------------------------------------------


class TrainHooks(Protocol):
    """What a front end hears of a run (the CLI's progress bar is one)."""

    def on_start(self, epochs: int, done: int) -> None:
        """Training starts: ``done`` of ``epochs`` epochs are behind it (a resumed run)."""

    def on_epoch(self, state: TrainState) -> None:
        """An epoch ended: ``state.epoch``, ``state.history.loss[-1]``, ``val_loss[-1]``."""

    def on_end(self) -> None:
        """Training stopped (finished, interrupted or failed)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C), SIGTERM or SIGHUP during a run; ``checkpoint`` holds what was saved.

    ``epoch`` is the last epoch the checkpoint holds (None: the run had not been built yet,
    nothing was written). ``train(out=out, resume=True)`` continues the run to the same final
    weights as a run that was never interrupted (:attr:`resume` says so in words).
    ``signal`` is the signal's name and ``exit_code`` the shell's ``128 + signal number``.
    """

    def __init__(
        self,
        epoch: int | None,
        checkpoint: str,
        out: str,
        signal: str = "SIGINT",
        stage: str = "training",
    ) -> None:
        self.epoch, self.checkpoint, self.out = epoch, checkpoint, out
        self.signal, self.stage = signal, stage
        how = f" ({signal})" if signal != "SIGINT" else ""
        if epoch is None:
            text = f"interrupted{how} while {stage}; nothing was written"
        elif stage == "training":
            text = (
                f"interrupted{how} during epoch {epoch + 1}; saved the run as it was after "
                f"epoch {epoch} to {checkpoint}"
            )
        else:
            text = (
                f"interrupted{how} while {stage}; the run (after epoch {epoch}) is saved in "
                f"{checkpoint}"
            )
        super().__init__(text)

    @property
    def resume(self) -> str | None:
        """The command that continues the run, or None when nothing was saved."""
        return None if self.epoch is None else f"deltaprop train --out {self.out} --resume"

    @property
    def exit_code(self) -> int:
        import signal as signals

        return 128 + int(getattr(signals, self.signal, signals.SIGINT))


def _signal_name(exc: BaseException) -> str:
    """The stop signal behind a KeyboardInterrupt (its cause's, for TrainingInterrupted)."""
    for e in (exc, exc.__cause__, exc.__context__):
        name = getattr(e, "name", None)
        if isinstance(e, _signals.SignalInterrupt) and isinstance(name, str):
            return name
    return "SIGINT"


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    settings : TrainSettings
        The run's settings (``data`` an absolute path for a file, ``target`` the names used).
    model : Model
        The trained network with its standardisation and column names; ``model.predict``
        works in the data's own units.
    state : TrainState
        The training state (``state.history``: costs, scores, gradient norms per epoch).
    metrics : dict
        ``metrics[split]`` for ``train``, ``validation``, ``test``: ``r2``, ``rmse``,
        ``mae``, ``m``, and the same metrics of two baselines fitted on the training split:
        ``linear`` (ridge regression) and ``baseline`` (predicting the training mean); a
        classifier's ``accuracy``, ``balanced_accuracy``, ``log_loss``, ``confusion_matrix``
        beside ``linear`` (logistic regression) and ``baseline`` (the majority class).
    files : dict
        Paths written: ``model``, ``checkpoint`` and, with plots, ``loss_plot``,
        ``gradients_plot``.
    seconds : float
        Time spent in training.
    """

    settings: TrainSettings
    model: Model
    state: TrainState
    metrics: dict[str, dict[str, Any]]
    files: dict[str, str]
    seconds: float

    @property
    def net(self) -> Network:
        return self.model.net

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary ``deltaprop train --json`` prints."""
        history = self.state.history
        return {
            "epochs": history.n_iter,
            "best_epoch": history.best_epoch,
            "stopped_reason": history.stopped_reason,
            "seconds": self.seconds,
            "sizes": self.net.sizes,
            "data": self.settings.data,
            "metrics": metrics_json(self.metrics),
            "files": self.files,
        }


@dataclass
class _Run:
    """A run ready to train: settings, data, model and state (new or from the checkpoint)."""

    settings: TrainSettings
    dataset: Dataset
    parts: Splits
    model: Model
    state: TrainState
    checkpoint: str


def train(
    settings: TrainSettings | None = None,
    *,
    out: str | os.PathLike = "deltaprop-run",
    resume: bool = False,
    changes: Mapping[str, Any] | None = None,
    plots: bool = True,
    scheduler: str | None = None,
    hooks: TrainHooks | None = None,
    plot_format: str = "png",
    dpi: float = 120,
) -> TrainResult:
    """Train a network as ``deltaprop train`` does and write its files to ``out``.

    Parameters
    ----------
    settings : TrainSettings, optional
        The run's settings (default: ``TrainSettings()``); not with ``resume``.
    out : str or path
        Folder for ``model.safetensors``, ``checkpoint.safetensors`` and the plots.
    resume : bool
        Continue the run whose checkpoint is in ``out``, with its settings; ``changes``
        (settings by name) must agree with them, except ``epochs``, which may grow.
    plots : bool
        Write ``loss.png`` and ``gradients.png``.
    plot_format : {"png", "svg", "pdf"}, default "png"
        The plots' format (and suffix: ``loss.svg``, ...).
    dpi : float, default 120
        The plots' resolution (raster formats).
    scheduler : str, optional
        Train full-batch on a Dask cluster: its scheduler's address, or ``"local"``.
    hooks : TrainHooks, optional
        Told when training starts, after every epoch and when it stops.

    Raises
    ------
    SettingsError, ValueError
        Bad settings or data, a resume that does not match its checkpoint.
    Interrupted
        Ctrl-C: the checkpoint holds the run as it was after the last completed epoch.
    """
    out = os.fspath(out)
    if plots:  # checked before training, not after it
        from .plots import check_plot_options

        plot_format, dpi = check_plot_options(plot_format, dpi)
    checkpoint = os.path.join(out, "checkpoint.safetensors")
    with _signals.stop_signals_raise():  # SIGTERM and SIGHUP end a run as Ctrl-C does
        try:
            run = _prepare(settings, out, checkpoint, resume, changes, scheduler)
        except KeyboardInterrupt as e:
            raise Interrupted(None, checkpoint, out, _signal_name(e), "loading") from None
        _make_folder(out)
        check_writable(out)  # before training, not after
        with OutLock(out):  # one writer per folder
            seconds = _train_network(run, out, scheduler, hooks)
            try:
                with _signals.deferred():  # the checkpoint is written whole, then the signal
                    save_checkpoint(checkpoint, run.model.net, run.state, **_saved_with(run))
                metrics = _metrics(run)
                files = _write_files(run, out, metrics, (plot_format, dpi) if plots else None)
            except KeyboardInterrupt as e:
                stage = "writing the model and the plots (resume writes them)"
                raise Interrupted(
                    run.state.epoch, checkpoint, out, _signal_name(e), stage
                ) from None
    return TrainResult(run.settings, run.model, run.state, metrics, files, seconds)


def _prepare(
    settings: TrainSettings | None,
    out: str,
    checkpoint: str,
    resume: bool,
    changes: Mapping[str, Any] | None,
    scheduler: str | None,
) -> _Run:
    """The run to train: resumed from ``checkpoint``, or new from ``settings``."""
    dask = scheduler is not None
    if resume:
        if settings is not None:
            raise ValueError("resume takes its settings from the checkpoint; give changes=")
        run = _resumed_run(checkpoint, out, changes or {})
        if run.settings.dask != dask:  # full batch on Dask, mini-batches in memory
            how = "with {name} ADDRESS" if run.settings.dask else "without {name}"
            where = "on Dask (one full batch per epoch)" if run.settings.dask else "in memory"
            raise SettingsError(
                "scheduler", f"the run in {out} was trained {where}; resume it {how}"
            )
        return run
    settings = (settings or TrainSettings()).replace(**{**(changes or {}), "dask": dask})
    return _new_run(settings, checkpoint)


def _new_run(settings: TrainSettings, checkpoint: str) -> _Run:
    """Load and split the data, fit the standardisation, make the network."""
    dataset = _load(settings)
    labels = _task_labels(settings, dataset)
    if settings.data in DATASETS:
        settings = settings.replace(target=tuple(dataset.target_names))
    else:
        path = os.path.abspath(settings.data)
        settings = settings.replace(
            data=path, data_sha256=_file_sha256(path), target=tuple(dataset.target_names)
        )
    dataset = _encoded(dataset, labels)
    parts = split(dataset, validation_fraction=settings.validation_fraction, seed=settings.seed)
    alpha = settings.alpha
    if alpha is None:  # the default: a fixed prior against the training rows
        alpha = PRIOR_PRECISION / parts.train[0].shape[1]
        settings = settings.replace(alpha=alpha)
    if labels is None:
        std = Standardization.fit(
            *parts.train, feature_names=dataset.feature_names, target_names=dataset.target_names
        )
    else:  # class probabilities are not standardised
        std = Standardization.fit(parts.train[0], feature_names=dataset.feature_names)
    n_0, n_L = dataset.X.shape[0], parts.train[1].shape[0]
    net = Network(
        [n_0, *settings.hidden, n_L],
        hidden=settings.activation,
        output=settings.output or ("identity" if labels is None else labels.output),
        loss=settings.loss or ("mse" if labels is None else labels.loss),
        alpha=alpha,
        seed=settings.seed,
    )
    model = Model(net, std, dataset.feature_names, dataset.target_names, labels=labels)
    return _Run(settings, dataset, parts, model, training.TrainState(), checkpoint)


def _load(settings: TrainSettings) -> Dataset:
    """The run's data, read with its CSV dialect (a text target as labels unless regression)."""
    return load_data(
        settings.data,
        settings.target,
        labels=settings.task != "regression",
        **csv_options(settings),
    )


def csv_options(settings: Any) -> dict[str, Any]:
    """The CSV dialect of ``settings`` (anything with ``sep``, ``decimal``, ``encoding``,
    ``index_col``, ``id_col``) as :func:`deltaprop.data.read_csv` takes it."""
    return {
        "sep": settings.sep,
        "decimal": settings.decimal,
        "encoding": settings.encoding,
        "index_col": settings.index_col,
        "id_col": settings.id_col,
    }


def _task_labels(settings: TrainSettings, dataset: Dataset) -> Labels | None:
    """None for a regression; the classes for a classification (``task`` or detected)."""
    task = settings.task
    if task == "auto":
        task = detect_task(dataset)
    if task == "regression":
        if dataset.classes is not None:
            raise SettingsError(
                "task",
                f"{{name}} regression: the target of {dataset.source} holds text labels "
                f"({', '.join(dataset.classes[:3])}, ...), which cannot be regressed",
            )
        return None
    return Labels.fit(dataset, "binary" if task == "classification" else task)


def _encoded(dataset: Dataset, labels: Labels | None) -> Dataset:
    """The dataset with its targets as the network's outputs (one-hot, 0/1) for a classifier."""
    if labels is None:
        return dataset
    names = dataset.target_names
    if labels.task == "multiclass":
        names = [str(c) for c in labels.classes]
    return dataset._replace(Y=labels.encode(dataset), target_names=names)


def _resumed_run(checkpoint: str, out: str, changes: Mapping[str, Any]) -> _Run:
    """The run in ``checkpoint``, with ``changes`` reconciled and the data checked unchanged."""
    if not os.path.isfile(checkpoint):
        raise SettingsError(
            "resume", f"{{name}}: there is no checkpoint {checkpoint} to resume from"
        )
    ckpt = load_checkpoint(checkpoint)
    saved = TrainSettings.from_dict(ckpt.settings, checkpoint)
    settings = resume_settings(saved, changes, checkpoint)
    state = ckpt.state
    if state.finished and settings.epochs != saved.epochs:
        state = _extended(state, out)
    dataset = _encoded(_resumed_data(settings, checkpoint, out), ckpt.model.labels)
    parts = split(dataset, validation_fraction=settings.validation_fraction, seed=settings.seed)
    model = dataclasses.replace(
        ckpt.model, feature_names=dataset.feature_names, target_names=dataset.target_names
    )
    return _Run(settings, dataset, parts, model, state, checkpoint)


def _resumed_data(settings: TrainSettings, checkpoint: str, out: str) -> Dataset:
    """The resumed run's data, its file checked against the checkpoint's SHA-256 before it is
    parsed: a tampered checkpoint cannot make deltaprop read (and quote in an error) another
    file, such as a system file its settings name."""
    if settings.data not in DATASETS:
        if not settings.data_sha256:
            raise ValueError(
                f"{checkpoint}: its settings name the data file {settings.data} without its "
                f"SHA-256; refusing to read a file the checkpoint names unchecked"
            )
        try:
            digest = _file_sha256(settings.data)
        except (OSError, ValueError) as e:
            reason = getattr(e, "strerror", None) or "not a regular file of bounded size"
            raise ValueError(
                f"{checkpoint}: its settings name the data file {settings.data}, which cannot "
                f"be read ({reason})"
            ) from None
        if digest != settings.data_sha256:
            raise ValueError(
                f"{settings.data} has changed since the checkpoint in {out} was written; "
                f"resuming needs the same data (the file the checkpoint's settings name)"
            )
    return _load(settings)


def _extended(state: TrainState, out: str) -> TrainState:
    """A run that finished at its last epoch, reopened for more epochs (``--epochs`` grew)."""
    reason = state.history.stopped_reason
    if reason != "max_epochs":
        raise ValueError(
            f"the run in {out} already finished ({reason} after epoch {state.epoch}): more "
            f"epochs would not change it; start a new run (e.g. with a larger --patience)"
        )
    state = state.copy()
    state.history.stopped_reason = None
    return state


def _file_sha256(path: str) -> str:
    """SHA-256 of a regular file of bounded size (:func:`deltaprop._files.open_regular`)."""
    f, _ = _files.open_regular(path, MAX_CSV_BYTES, "data file")
    digest = hashlib.sha256()
    with f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _make_folder(out: str) -> None:
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:  # a file of that name, or a parent that is not a folder
        raise SettingsError(
            "out", f"{{name}} {out}: cannot create the folder ({e.strerror})"
        ) from None


def _saved_with(run: _Run) -> dict[str, Any]:
    """What the checkpoint stores beside the network and the state."""
    return {
        "settings": run.settings.to_dict(),
        "standardization": run.model.standardization,
        "feature_names": run.model.feature_names,
        "target_names": run.model.target_names,
        "labels": run.model.labels,
    }


class _EpochHook:
    """A fit callback that passes every epoch on to the hooks."""

    def __init__(self, hooks: TrainHooks) -> None:
        self.hooks = hooks

    def on_epoch_end(self, state: TrainState, net: Network) -> None:
        self.hooks.on_epoch(state)


def _train_network(run: _Run, out: str, scheduler: str | None, hooks: TrainHooks | None) -> float:
    """Train (in place: ``run.model.net``, ``run.state``); the seconds it took.

    A stop signal (SIGINT, SIGTERM, SIGHUP) at any point, Dask's start included, writes the
    checkpoint (a second signal waits for the write) and raises :class:`Interrupted`.
    """
    try:
        return _fit(run, scheduler, hooks)
    except KeyboardInterrupt as e:
        # in fit: the network and state are rolled back to the last completed epoch
        # (TrainingInterrupted); before it (starting Dask): they are as loaded
        state = e.state if isinstance(e, training.TrainingInterrupted) else run.state
        with _signals.deferred(deliver=False):
            save_checkpoint(run.checkpoint, run.model.net, state, **_saved_with(run))
        raise Interrupted(state.epoch, run.checkpoint, out, _signal_name(e)) from None


def _fit(run: _Run, scheduler: str | None, hooks: TrainHooks | None) -> float:
    """Standardise, start Dask if asked, call :func:`deltaprop.training.fit`; its seconds."""
    s, std, net = run.settings, run.model.standardization, run.model.net
    assert std is not None  # a run always standardises
    X_train, Y_train = std.transform_X(run.parts.train[0]), std.transform_Y(run.parts.train[1])
    validation = (
        std.transform_X(run.parts.validation[0]),
        std.transform_Y(run.parts.validation[1]),
    )
    callbacks: list[Any] = [CheckpointEvery(run.checkpoint, s.checkpoint_every, **_saved_with(run))]
    if hooks is not None:
        callbacks.append(_EpochHook(hooks))
    if scheduler is not None:  # the same fit, full-batch on Dask (deltaprop.distributed)
        from .distributed import as_dask, start_client

        client = start_client(scheduler)
        X_train, Y_train = as_dask(X_train, client=client), as_dask(Y_train, client=client)
    started = time.perf_counter()
    if hooks is not None:
        hooks.on_start(s.epochs, run.state.epoch)
    try:
        if not run.state.finished:
            training.fit(
                net,
                X_train,
                Y_train,
                optimizer=s.optimizer,
                lr=s.lr,
                epochs=s.epochs,
                batch_size=s.batch_size,
                seed=s.seed,
                early_stopping=s.patience > 0,
                validation_data=validation,
                n_iter_no_change=s.patience or None,
                callbacks=callbacks,
                state=run.state,
            )  # updates run.state in place
    finally:
        if hooks is not None:
            with contextlib.suppress(OSError):  # SIGHUP: the terminal a progress bar drew on
                hooks.on_end()  # may be gone; the checkpoint must still be written
    return time.perf_counter() - started


def _metrics(run: _Run) -> dict[str, dict[str, Any]]:
    """Metrics of every split, beside two baselines fitted on the training split: ``linear``
    (:func:`deltaprop.data.linear_baseline`: ridge or logistic regression) and ``baseline``
    (the training targets' mean; for a classifier the class frequencies: the majority class)."""
    mean = run.parts.train[1].mean(axis=1, keepdims=True)
    labels = run.model.labels
    linear = linear_baseline(*run.parts.train, labels)
    score = regression_metrics if labels is None else partial(classification_metrics, labels=labels)
    metrics: dict[str, dict[str, Any]] = {}
    for part, (X, Y) in zip(("train", "validation", "test"), run.parts):
        metrics[part] = dict(score(Y, run.model.forward(X)))
        metrics[part]["linear"] = score(Y, linear(X))
        metrics[part]["baseline"] = score(Y, np.broadcast_to(mean, Y.shape))
        metrics[part]["m"] = Y.shape[1]
    return metrics


def _write_files(
    run: _Run, out: str, metrics: dict[str, Any], plots: tuple[str, float] | None
) -> dict[str, str]:
    """The model file (settings and metrics in its metadata) and the plots (``plots``: their
    format and dpi, None for none); their paths."""
    files = {"model": os.path.join(out, "model.safetensors"), "checkpoint": run.checkpoint}
    meta: dict[str, Any] = {"settings": run.settings.to_dict(), "metrics": metrics_json(metrics)}
    if run.model.labels is not None:  # the majority-class baseline of evaluate
        meta["class_frequencies"] = [float(v) for v in run.parts.train[1].mean(axis=1)]
    saved = _saved_with(run)
    del saved["settings"]
    save(run.model.net, files["model"], metadata=meta, **saved)
    if plots is not None:
        from .plots import plot_confusion, plot_gradients, plot_loss

        fmt, dpi = plots
        history = run.state.history
        loss_path, grad_path = (os.path.join(out, f"{n}.{fmt}") for n in ("loss", "gradients"))
        files["loss_plot"] = str(plot_loss(history, loss_path, format=fmt, dpi=dpi))
        files["gradients_plot"] = str(plot_gradients(history, grad_path, format=fmt, dpi=dpi))
        labels = run.model.labels
        if labels is not None and labels.task != "multilabel":
            path = os.path.join(out, f"confusion.{fmt}")
            matrix = metrics["test"]["confusion_matrix"]
            plot = plot_confusion(matrix, labels.classes, path, format=fmt, dpi=dpi)
            files["confusion_plot"] = str(plot)
    return files


def metrics_json(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics`` with every non-finite number as None (JSON has no NaN), nested dicts too."""
    return {
        k: metrics_json(v)
        if isinstance(v, Mapping)
        else v
        if isinstance(v, (list, str))
        else _finite_or_none(v)
        for k, v in metrics.items()
    }


def _finite_or_none(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


# --- using a model -------------------------------------------------------------------------------


@dataclass
class Predictions:
    """What :func:`predict` returns.

    ``Y`` (n_L, m): the model's outputs (a classifier's: probabilities of its outputs);
    ``columns``: the CSV's columns as (name, values) pairs (an id column first, when the data
    has one; a classifier's labels under the target's name, with ``proba`` one column of
    probabilities per class named by the class); ``csv``: the same as text.
    """

    target_names: list[str]
    Y: np.ndarray
    csv: str
    columns: list[tuple[str, list[Any]]] = dataclasses.field(default_factory=list)
    labels: list[Any] | None = None


def model_columns(model: Model, model_path: str | os.PathLike) -> list[str]:
    """The model's input columns by name (the data are matched to them)."""
    if model.feature_names is None:
        raise ValueError(
            f"{model_path} stores no feature names, so its input columns cannot be "
            f"found by name (save it with feature_names=[...])"
        )
    return model.feature_names


def _target_column(model: Model) -> str:
    """The name of a classifier's target column, as the run that trained it recorded."""
    settings = model.metadata.get("settings", {}) if isinstance(model.metadata, dict) else {}
    target = settings.get("target") if isinstance(settings, dict) else None
    if isinstance(target, list) and len(target) == 1 and isinstance(target[0], str):
        return target[0]
    if model.labels is not None and model.labels.task == "binary" and model.target_names:
        return model.target_names[0]
    return "label"


def _refuse_overwriting(out: str | os.PathLike, inputs: Sequence[Any], force: bool) -> None:
    if force or not os.path.exists(out):
        return
    for path in inputs:
        if str(path) not in DATASETS and os.path.exists(path) and os.path.samefile(out, path):
            raise SettingsError(
                "out",
                f"{{name}} {out} is the input file {path}: predictions never overwrite an "
                f"input (choose another file, or add --force)",
            )


def predict(
    model: str | Path,
    data: str | Path,
    *,
    out: str | Path | None = None,
    proba: bool = False,
    force: bool = False,
    **csv: Any,
) -> Predictions:
    """Predict with a saved model: one row of predictions per data row, in the targets'
    units (a classifier: its labels and, with ``proba``, one probability column per class).

    ``data`` is a CSV file (or a bundled data set) holding the model's input columns, by
    name, read with the CSV dialect ``csv`` (``sep``, ``decimal``, ``encoding``,
    ``index_col``, ``id_col``: an id column is carried to the predictions). With ``out`` the
    predictions are also written there as CSV (atomically); ``out`` may not be the data or
    model file unless ``force``.
    """
    from .data import format_table

    if out:
        _refuse_overwriting(out, [data, model], force)
    m = load_model(model, checkpoints=False)
    dataset = load_data(data, features=model_columns(m, model), **csv)
    Y = m.forward(dataset.X)
    names = m.target_names or [f"y{i}" for i in range(Y.shape[0])]
    columns: list[tuple[str, list[Any]]] = []
    if dataset.ids is not None:
        columns.append((csv.get("id_col") or "id", list(dataset.ids)))
    labels = None
    if m.labels is None:
        columns += [(n, [float(v) for v in row]) for n, row in zip(names, Y)]
    elif m.labels.task == "multilabel":
        decoded = m.labels.decode(Y)
        columns += [(n, [int(v) for v in row]) for n, row in zip(names, decoded)]
        if proba:
            columns += [(f"P({n})", [float(v) for v in row]) for n, row in zip(names, Y)]
    else:
        labels = m.labels.decode(Y).tolist()
        columns.append((_target_column(m), labels))
        if proba:
            P = m.labels.proba(Y)
            columns += [(str(c), [float(v) for v in row]) for c, row in zip(m.labels.classes, P)]
    text = format_table(columns)
    if out:
        write_atomic(out, text.encode())
    return Predictions(names, Y, text, columns, labels)


@dataclass
class Evaluation:
    """What :func:`evaluate` returns: ``metrics`` has ``r2``, ``rmse``, ``mae``, ``m`` and,
    when the model knows its training mean, ``baseline``; a classifier's ``accuracy``,
    ``balanced_accuracy``, ``log_loss`` and ``confusion_matrix``."""

    target_names: list[str]
    metrics: dict[str, Any]
    labels: Labels | None = None


def evaluate(
    model: str | Path,
    data: str | Path,
    target: str | Sequence[str] | None = None,
    **csv: Any,
) -> Evaluation:
    """R², RMSE and MAE of a saved model on labelled data, beside predicting the training
    mean; for a classifier accuracy, balanced accuracy, log-loss and the confusion matrix.

    ``target`` names the target column(s); by default the model's own target names (a
    classifier's: the column it was trained on). ``csv``: the CSV dialect, as for
    :func:`predict`.
    """
    m = load_model(model, checkpoints=False)
    if m.labels is not None:
        return _evaluate_classifier(m, model, data, target, csv)
    targets = target or m.target_names
    if targets is None:
        raise SettingsError("target", f"{{name}} is needed: {model} stores no target names")
    dataset = load_data(data, targets, features=model_columns(m, model), **csv)
    assert dataset.Y is not None  # a target was named
    if dataset.Y.shape[0] != m.net.sizes[-1]:
        raise SettingsError(
            "target",
            f"{{name}} names {dataset.Y.shape[0]} column(s) but the model has "
            f"{m.net.sizes[-1]} output(s)",
        )
    metrics: dict[str, Any] = dict(regression_metrics(dataset.Y, m.forward(dataset.X)))
    std = m.standardization
    if std is not None and std.y_mean is not None:  # the training targets' mean
        mean = np.broadcast_to(std.y_mean[:, None], dataset.Y.shape)
        metrics["baseline"] = regression_metrics(dataset.Y, mean)
    metrics["m"] = dataset.Y.shape[1]
    return Evaluation(dataset.target_names, metrics)


def _evaluate_classifier(
    m: Model, model: Any, data: Any, target: Any, csv: dict[str, Any]
) -> Evaluation:
    """A classifier's metrics on labelled data, beside its training class frequencies."""
    labels = m.labels
    assert labels is not None
    if labels.task == "multilabel":
        targets = target or m.target_names
    else:
        targets = target or _target_column(m)
    dataset = load_data(
        data, targets, features=model_columns(m, model), labels=labels.task != "multilabel", **csv
    )
    Y = labels.encode(dataset)  # an unknown class label is refused here
    metrics: dict[str, Any] = classification_metrics(Y, m.forward(dataset.X), labels)
    frequencies = _class_frequencies(m)
    if frequencies is not None:
        constant = np.broadcast_to(frequencies[:, None], Y.shape)
        metrics["baseline"] = classification_metrics(Y, constant, labels)
    metrics["m"] = Y.shape[1]
    return Evaluation(dataset.target_names, metrics, labels)


def _class_frequencies(m: Model) -> np.ndarray | None:
    """The training class frequencies a run stored in the model's metadata, if any."""
    stored = m.metadata.get("class_frequencies") if isinstance(m.metadata, dict) else None
    if not isinstance(stored, list) or len(stored) != m.net.sizes[-1]:
        return None
    return np.asarray(stored, dtype=np.float64)

"""Model files and checkpoints: safetensors for the arrays, JSON for everything else.

A model file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file: the tensors
``W.1``, ``b.1``, ..., ``W.L``, ``b.L`` (``W.l`` of shape ``(n_l, n_{l-1})``, ``b.l`` of shape
``(n_l, 1)``, in the network's dtype) and, in the header's ``__metadata__`` under the key
``"deltaprop"``, one JSON object describing the network: layer sizes, activation names and
parameters, loss, L2 ``alpha``, dtype, backend, the input/target standardisation, feature and
target names, the class labels of a classifier, a scikit-learn estimator's parameters and
fitted attributes, the deltaprop version and the file format version (:data:`FORMAT_VERSION`).

Safety: nothing here unpickles or evaluates anything. Reading parses the header, checks every
metadata field, every tensor name, shape and dtype, and raises ``ValueError`` naming the file
and the problem for anything unexpected: random bytes, a truncated file, a pickle under a
``.safetensors`` name, a missing or malformed field, a file from a newer format version.
Writing is atomic: the bytes go to a temporary file in the same folder, are flushed to disk
(``fsync``) and then renamed over the target (``os.replace``), so an existing file is either
left whole or replaced whole, never half-written.

A tour:

* :func:`save` / :func:`load` — one file for every path, and :func:`load` gives back what
  was saved: a bare :class:`~deltaprop.network.Network` loads as a ``Network`` (bit for
  bit); what ``deltaprop train`` writes (a network with its standardisation, column names
  and class labels) loads as a :class:`Model`, whose :meth:`Model.predict` takes rows as
  scikit-learn does and answers in the data's own units and labels, equal to ``deltaprop
  predict`` to the last bit; a fitted ``DeltaPropRegressor``/``DeltaPropClassifier`` loads
  as a fitted estimator that predicts identically. A checkpoint is refused (it holds the
  last epoch, not the model): :func:`load_checkpoint` reads it.
* :func:`load_model` — any model file (or a checkpoint's model) as a :class:`Model`.
* :func:`save_checkpoint` / :func:`load_checkpoint` — a model plus the training state
  (``TrainState.to_arrays()``, stored as tensors ``state.<name>`` and JSON) and the run's
  settings, so that training can resume exactly where it stopped.
* :class:`CheckpointEvery` — the periodic checkpoint, whose cost does not grow with the
  epochs done: the history's rows are appended to a history file beside it
  (:func:`history_path`), which :func:`load_checkpoint` reads back, bounded and checked
  against the SHA-256 the checkpoint records.

Example
-------
>>> import tempfile, pathlib
>>> import numpy as np
>>> import deltaprop as dp
>>> net = dp.Network([3, 4, 1], seed=0)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
>>> _ = dp.save(net, path)
>>> net2 = dp.load(path)
>>> all(np.array_equal(net.W[l], net2.W[l]) for l in range(1, net.L + 1))
True
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import math
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard

import numpy as np

from . import _array, _files
from .activations import ACTIVATIONS, OUTPUT_ACTIVATIONS, Activation, get_activation
from .data import Labels, Standardization
from .losses import LOSSES
from .network import Network

FORMAT_VERSION = 2
"""Version of the file layout written here; files with a larger number are refused.
Version 2 added the fields ``labels`` and ``estimator`` (absent from version 1 files); an
estimator's object may hold ``train_state``, with tensors ``state.*`` (absent, or null, in the
files written before: they load with a fresh optimiser)."""

MODEL_FORMAT = "deltaprop-model"
CHECKPOINT_FORMAT = "deltaprop-checkpoint"

_DTYPE_CODES = {"float32": "F32", "float64": "F64"}

MAX_FILE_BYTES = 4 * 2**30
"""The largest model or checkpoint file read (4 GiB); a larger one is refused before reading."""

MAX_HEADER_BYTES = 100_000_000
"""The largest safetensors JSON header read (safetensors' own limit)."""

_MODEL_FIELDS = {
    "format",
    "format_version",
    "deltaprop_version",
    "sizes",
    "hidden",
    "output",
    "loss",
    "alpha",
    "dtype",
    "backend",
    "standardization",
    "feature_names",
    "target_names",
    "user",
}
_V2_FIELDS = {"labels", "estimator"}
"""Fields of format version 2, null where they do not apply; a version 1 file has none."""
_CHECKPOINT_FIELDS = _MODEL_FIELDS | {"train_state", "settings"}


@dataclass
class Model:
    """A network together with what prediction in the data's own units and labels needs.

    What ``deltaprop train`` writes loads as one (:func:`load`). Inputs are rows, as in
    scikit-learn: :meth:`predict` and :meth:`predict_proba` take ``X`` of shape
    ``(n_samples, n_features)`` (a DataFrame's columns are taken by name); :meth:`forward`
    is the same on the core's samples-as-columns arrays.

    Attributes
    ----------
    net : Network
    standardization : Standardization or None
        Applied to inputs before :meth:`Network.forward` and undone on its outputs.
    feature_names : list of str (length n_0) or None
    target_names : list of str (length n_L) or None
    metadata : dict
        The user's own JSON metadata given to :func:`save`.
    labels : Labels or None
        A classifier's classes and their encoding (:class:`deltaprop.data.Labels`).
    """

    net: Network
    standardization: Standardization | None = None
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: Labels | None = None

    @property
    def classes_(self) -> np.ndarray:
        """A classifier's class labels, the columns of :meth:`predict_proba`."""
        if self.labels is None:
            raise AttributeError("a regression model has no classes_")
        return np.asarray(self.labels.classes)

    def forward(self, X: Any) -> np.ndarray:
        """Outputs for raw inputs ``X`` of shape ``(n_0, m)`` (samples as columns): float64
        ``(n_L, m)`` in the targets' units (a classifier's: probabilities).

        A prediction that is not finite (extreme stored values or inputs) is a ``ValueError``
        naming the first such sample, never an inf or NaN handed on."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.net.sizes[0]:
            raise ValueError(
                f"X must have shape (n_0, m) = ({self.net.sizes[0]}, m), samples as "
                f"columns; got {X.shape}"
            )
        if self.standardization is not None:
            X = self.standardization.transform_X(X)
        # one memory layout whatever the caller's, so every path rounds alike
        X = np.ascontiguousarray(X, dtype=self.net.dtype_name)
        with np.errstate(over="ignore", invalid="ignore"):  # refused below, not warned about
            A_L = np.asarray(_array.to_numpy(self.net.forward(X)), dtype=np.float64)
            if self.standardization is not None:
                A_L = self.standardization.inverse_transform_Y(A_L)
        if not np.isfinite(A_L).all():
            bad = np.flatnonzero(~np.isfinite(A_L).all(axis=0))
            raise ValueError(
                f"the model's predictions for {bad.size} of {A_L.shape[1]} sample(s) (the first "
                f"is sample {int(bad[0]) + 1}) are not finite: its weights or scales, or those "
                f"inputs, are too large for float64"
            )
        return A_L

    def _rows(self, X: Any) -> np.ndarray:
        """``X`` (n_samples, n_features) as the core's (n_0, m), DataFrame columns by name."""
        if hasattr(X, "columns") and self.feature_names is not None:
            missing = [n for n in self.feature_names if n not in set(map(str, X.columns))]
            if missing:
                raise ValueError(f"X has no column(s) {_listed(missing)} the model needs")
            X = X[self.feature_names]
        X = np.asarray(X, dtype=np.float64)
        n_0 = self.net.sizes[0]
        if X.ndim == 1 and n_0 == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != n_0:
            raise ValueError(
                f"X must have shape (n_samples, {n_0}): one row per sample, one column per "
                f"feature; got {X.shape}"
            )
        return X.T

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for ``X`` of shape ``(n_samples, n_features)``.

        Regression: shape ``(n_samples,)`` for one target, ``(n_samples, n_L)`` for several,
        in the targets' units. Classification: the class labels, shape ``(n_samples,)``
        (multi-label: ``(n_samples, n_labels)`` of 0/1).
        """
        A = self.forward(self._rows(X))
        if self.labels is not None:
            decoded = self.labels.decode(A)
            if self.labels.task == "multilabel":
                return decoded.T
            return np.asarray(self.labels.classes)[self.labels.indices(decoded)]
        return A[0] if A.shape[0] == 1 else A.T

    def predict_proba(self, X: Any) -> np.ndarray:
        """A classifier's probabilities, shape ``(n_samples, n_classes)``, columns in
        :attr:`classes_` order."""
        if self.labels is None:
            raise AttributeError("a regression model has no predict_proba")
        return self.labels.proba(self.forward(self._rows(X))).T


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: the model, the training state and the settings."""

    model: Model
    state: Any
    settings: dict[str, Any]


# --- writing -------------------------------------------------------------------------------------


def save(
    obj: Any,
    path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    standardization: Standardization | None = None,
    feature_names: list[str] | None = None,
    target_names: list[str] | None = None,
    labels: Labels | None = None,
) -> Path:
    """Write a network, a :class:`Model` or a fitted estimator to ``path`` as a safetensors
    model file (atomically); returns the path. :func:`load` gives back the same kind.

    Parameters
    ----------
    obj : Network, Model, DeltaPropRegressor or DeltaPropClassifier
        A network of any backend (the arrays are copied to host memory and stored in its
        dtype); a Model with its standardisation, names and labels; a fitted estimator with
        its parameters and fitted attributes.
    path : str or Path
        The file to write; its folder must exist. An existing file is replaced whole.
    metadata : dict, optional
        The user's own JSON-serialisable metadata, returned as ``Model.metadata``.
    standardization : Standardization, optional
        Input/target standardisation the network was trained with.
    feature_names, target_names : list of str, optional
        Column names of the inputs (length n_0) and targets (length n_L).
    labels : Labels, optional
        The classes of a classifier network.

    A network saved with any of ``standardization``, names or ``labels`` loads as a
    :class:`Model`; without them, as a :class:`~deltaprop.network.Network`.
    """
    estimator, state_arrays = None, {}
    if isinstance(obj, Model):
        standardization = obj.standardization if standardization is None else standardization
        feature_names = obj.feature_names if feature_names is None else feature_names
        target_names = obj.target_names if target_names is None else target_names
        labels = obj.labels if labels is None else labels
        metadata = obj.metadata if metadata is None else metadata
        net = obj.net
    elif isinstance(obj, Network):
        net = obj
    elif hasattr(obj, "get_params") and hasattr(obj, "predict"):  # a scikit-learn estimator
        # imported by name: the estimator sits above this module in the layering
        estimator_io = importlib.import_module("deltaprop._estimator_io")
        net, estimator, state_arrays = estimator_io.estimator_meta(obj)
    else:
        raise TypeError(
            f"can save a deltaprop Network, Model, DeltaPropRegressor or DeltaPropClassifier; "
            f"got {type(obj).__name__}"
        )
    meta = _model_meta(net, MODEL_FORMAT, metadata, standardization, feature_names, target_names)
    meta["labels"] = _labels_meta(labels, net)
    meta["estimator"] = None if estimator is None else _json_object(estimator, "estimator")
    tensors = _net_tensors(net)  # and an estimator's training state (partial_fit continues)
    tensors.update({f"state.{k}": np.ascontiguousarray(v) for k, v in state_arrays.items()})
    return _write(path, tensors, meta)


def model_bytes(
    net: Network,
    *,
    metadata: dict[str, Any] | None = None,
    standardization: Standardization | None = None,
    feature_names: list[str] | None = None,
    target_names: list[str] | None = None,
    labels: Labels | None = None,
) -> bytes:
    """The bytes of the model file :func:`save` would write for a network (the same
    parameters), in memory: for a download, a socket or an archive, with no file on disk."""
    from safetensors.numpy import save as st_save

    meta = _model_meta(net, MODEL_FORMAT, metadata, standardization, feature_names, target_names)
    meta["labels"] = _labels_meta(labels, net)
    meta["estimator"] = None
    return st_save(_net_tensors(net), metadata={"deltaprop": json.dumps(meta)})


def _labels_meta(labels: Labels | None, net: Network) -> dict[str, Any] | None:
    if labels is None:
        return None
    if not isinstance(labels, Labels):
        raise TypeError(f"labels must be a deltaprop.data.Labels; got {type(labels).__name__}")
    d = _json_object(labels.to_dict(), "labels")
    Labels.from_dict(d, net.sizes[-1])  # the same checks as loading
    return d


def save_checkpoint(
    path: str | Path,
    net: Network,
    state: Any,
    *,
    settings: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    standardization: Standardization | None = None,
    feature_names: list[str] | None = None,
    target_names: list[str] | None = None,
    labels: Labels | None = None,
) -> Path:
    """Write a checkpoint: the model as :func:`save` does, plus the training state and settings.

    Parameters
    ----------
    state : TrainState
        Anything with ``to_arrays() -> (dict[str, ndarray], dict)``; the arrays are stored as
        tensors ``state.<name>``, the dict as JSON.
    settings : dict, optional
        The run's settings (JSON), returned by :func:`load_checkpoint` so a run can resume.
    """
    path = Path(path)
    meta = _checkpoint_meta(
        net, settings, metadata, standardization, feature_names, target_names, labels
    )
    written = _write_checkpoint(path, net, state, meta, None)
    _remove_history_file(path)  # a whole checkpoint needs none; written after it, never before
    return written


def _checkpoint_meta(
    net: Network,
    settings: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    standardization: Standardization | None = None,
    feature_names: list[str] | None = None,
    target_names: list[str] | None = None,
    labels: Labels | None = None,
) -> dict[str, Any]:
    meta = _model_meta(
        net, CHECKPOINT_FORMAT, metadata, standardization, feature_names, target_names
    )
    meta["labels"] = _labels_meta(labels, net)
    meta["settings"] = _json_object(settings or {}, "settings")
    return meta


def _write_checkpoint(
    path: Path, net: Network, state: Any, meta: dict[str, Any], rows: _HistoryFile | None
) -> Path:
    """The checkpoint file: ``meta`` (the model's and the settings) with the state; the
    history's rows in it, or (``rows``) appended to its history file first."""
    if rows is None:
        arrays, state_meta = state.to_arrays()
    else:
        arrays, state_meta = state.to_arrays(history=False)
        synced, digest, arrays["history.tail"] = rows.append(state, net.L)
        state_meta["history"].update(file_rows=synced, sha256=digest)
    meta["train_state"] = _json_object(state_meta, "state.to_arrays() meta")
    tensors = _net_tensors(net)
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"state array names must be non-empty strings; got {name!r}")
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise TypeError(f"state array {name!r} must be numeric; got dtype {value.dtype}")
        tensors[f"state.{name}"] = np.ascontiguousarray(value)
    # a periodic checkpoint's rename need not reach the disk at once: lost (power failure),
    # the previous checkpoint is still whole and its rows are in the history file
    return _write(path, tensors, meta, sync_folder=rows is None)


class CheckpointEvery:
    """A :func:`deltaprop.training.fit` callback: a checkpoint after every ``every`` epochs.

    Each write costs the same whatever the epoch (O(epoch state), not O(history)): the
    checkpoint holds the network, the best weights, the optimiser's and the generator's state
    and the counters; the history's rows since the last write are appended to the history
    file beside it (:func:`history_path`: ``checkpoint.history`` beside
    ``checkpoint.safetensors``), and the checkpoint is then replaced atomically. It counts
    on the file's rows that are known to be on disk (their number and SHA-256) and holds the
    rows appended since the file was last ``fsync``-ed itself (at most 64: the file is
    synced when more would be pending), so a write costs one ``fsync``, the checkpoint's
    (and the file's, once per 64 epochs or so).
    :func:`load_checkpoint` reads the two back together. A crash between the append and the
    replace leaves rows the checkpoint does not count; they are ignored, and overwritten by
    the next write. The first write of each ``CheckpointEvery`` writes the history file
    whole (once per run). :func:`save_checkpoint` (a run's final and interrupt checkpoints)
    holds the whole history, needs no history file and removes it.

    Parameters
    ----------
    path : str or Path
        The checkpoint file, rewritten (atomically) each time.
    every : int
        Write after epochs ``every``, ``2 * every``, ...
    **kwargs
        Passed on to :func:`save_checkpoint` (``settings``, ``standardization``, names).
    """

    def __init__(self, path: str | Path, every: int, **kwargs: Any) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1; got {every!r}")
        self.path, self.every, self.kwargs = Path(path), every, kwargs
        self._rows = _HistoryFile(history_path(self.path))
        self._meta: tuple[Network, dict[str, Any]] | None = None

    def on_epoch_end(self, state: Any, net: Network) -> None:
        if state.epoch % self.every:
            return
        if self._meta is None or self._meta[0] is not net:  # the same at every epoch
            self._meta = (net, _checkpoint_meta(net, **self.kwargs))
        meta = dict(self._meta[1])
        rows = self._rows if _rows_apart(state) else None
        _write_checkpoint(self.path, net, state, meta, rows)


def _rows_apart(state: Any) -> bool:
    """Whether the state's history can be kept as rows: a TrainState whose every list has
    one entry per epoch (L-BFGS records no gradient norms: its checkpoints hold them)."""
    from .training import TrainState

    if not isinstance(state, TrainState):
        return False
    h = state.history
    E = len(h.loss)
    return len(h.lr) == len(h.grad_norm) == len(h.dead_fraction) == E and len(h.val_loss) in {0, E}


_HISTORY_MAGIC = b"DPHIST\x00\x01"
"""The first 8 bytes of a history file; the next 8 are the row width (uint64, little-endian),
then the rows, float64 little-endian (:func:`deltaprop.training.history_rows`)."""
_HISTORY_HEADER = 16


def history_path(checkpoint: str | Path) -> Path:
    """The history file of a checkpoint: ``run/checkpoint.safetensors`` → ``run/checkpoint.history``
    (another name: ``<name>.history``)."""
    checkpoint = Path(checkpoint)
    if checkpoint.suffix == ".safetensors":
        return checkpoint.with_suffix(".history")
    return checkpoint.with_name(checkpoint.name + ".history")


def _remove_history_file(checkpoint: Path) -> None:
    """Remove the history file beside ``checkpoint`` if it is one (starts as one does)."""
    path = history_path(checkpoint)
    with contextlib.suppress(OSError, ValueError):
        f, _ = _files.open_regular(path, MAX_FILE_BYTES, "history file")
        with f:
            head = f.read(len(_HISTORY_MAGIC))
        if head == _HISTORY_MAGIC:
            os.unlink(path)


_TAIL_ROWS = 64
"""A periodic checkpoint holds at most this many of the history's last rows itself: the
rows appended since the history file was last ``fsync``-ed, so that the file is flushed to
disk about once every ``_TAIL_ROWS`` epochs rather than at every write."""


class _Written(NamedTuple):
    """What a :class:`_HistoryFile` last wrote."""

    history: Any  # the History the rows came from
    rows: int  # rows in the file (written; on disk once synced)
    width: int
    digest: Any  # SHA-256 of the header and those rows
    synced: int  # rows known to be on disk (the file was fsync-ed after them)
    synced_digest: Any  # SHA-256 of the header and those rows
    file: tuple[int, int]  # (device, inode): a file replaced meanwhile is written whole


class _HistoryFile:
    """The history file a :class:`CheckpointEvery` appends to.

    The file holds the rows of epochs 1..``rows``; the first ``synced`` are on disk. A
    checkpoint relies on the synced ones only (it records their count and SHA-256) and holds
    the rest itself (at most :data:`_TAIL_ROWS`), so a power failure that loses unsynced
    rows loses nothing a checkpoint needs. ``_written`` is replaced in one assignment, so an
    interrupt leaves the old record or the new one, and the next write starts from it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: _Written | None = None

    def append(self, state: Any, L: int) -> tuple[int, str, np.ndarray]:
        """Append the history's new rows; the rows on disk, their SHA-256 and the rest."""
        from .training import history_rows, history_width

        h = state.history
        E, width = len(h.loss), history_width(L, bool(h.val_loss))
        w = self._written
        if w is None or w.history is not h or w.rows > E or w.width != width or not self._same(w):
            data = _HISTORY_MAGIC + width.to_bytes(8, "little") + history_rows(h, 0, L).tobytes()
            write_atomic(self.path, data)  # fsync-ed: the whole file is on disk
            digest = synced_digest = hashlib.sha256(data)
            synced = E
        else:
            data = history_rows(h, w.rows, L).tobytes()
            offset = _HISTORY_HEADER + w.rows * width * 8
            sync = E - w.synced > _TAIL_ROWS
            fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            try:
                os.lseek(fd, offset, os.SEEK_SET)
                _write_all(fd, data)
                os.ftruncate(fd, offset + len(data))  # rows of a write cut short, if any
                if sync:
                    os.fsync(fd)  # on disk before a checkpoint counts on them
            finally:
                os.close(fd)
            digest = w.digest.copy()
            digest.update(data)
            synced, synced_digest = (E, digest) if sync else (w.synced, w.synced_digest)
        st = os.stat(self.path)
        self._written = _Written(h, E, width, digest, synced, synced_digest, (st.st_dev, st.st_ino))
        return synced, synced_digest.hexdigest(), history_rows(h, synced, L)

    def _same(self, w: _Written) -> bool:
        """The file is the one last written, with at least the rows written then."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        size = _HISTORY_HEADER + w.rows * w.width * 8
        return (st.st_dev, st.st_ino) == w.file and stat.S_ISREG(st.st_mode) and st.st_size >= size


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _net_tensors(net: Network) -> dict[str, np.ndarray]:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a deltaprop Network; got {type(net).__name__}")
    tensors = {}
    for l in range(1, net.L + 1):
        tensors[f"W.{l}"] = np.ascontiguousarray(_array.to_numpy(net.W[l]))
        tensors[f"b.{l}"] = np.ascontiguousarray(_array.to_numpy(net.b[l]))
    return tensors


def _model_meta(
    net: Network,
    kind: str,
    metadata: dict[str, Any] | None,
    standardization: Standardization | None,
    feature_names: list[str] | None,
    target_names: list[str] | None,
) -> dict[str, Any]:
    from . import __version__

    if not isinstance(net, Network):
        raise TypeError(f"net must be a deltaprop Network; got {type(net).__name__}")
    n_0, n_L = net.sizes[0], net.sizes[-1]
    if standardization is not None:
        if not isinstance(standardization, Standardization):
            raise TypeError(
                f"standardization must be a Standardization; got {type(standardization).__name__}"
            )
        std = standardization.to_dict()
        Standardization.from_dict(std, n_0, n_L)  # the same checks as loading
    else:
        std = None
    return {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "deltaprop_version": __version__,
        "sizes": list(net.sizes),
        "hidden": _activation_meta(net.hidden, "hidden"),
        "output": _activation_meta(net.output, "output"),
        "loss": _loss_meta(net),
        "alpha": float(net.alpha),
        "dtype": net.dtype_name,
        "backend": net.backend,
        "standardization": std,
        "feature_names": _check_names(feature_names, n_0, "feature_names"),
        "target_names": _check_names(target_names, n_L, "target_names"),
        "user": _json_object(metadata or {}, "metadata"),
        "labels": None,
        "estimator": None,
    }


def _activation_meta(act: Activation, role: str) -> dict[str, Any]:
    """Name and parameters, refused unless loading will rebuild this very activation."""
    name, params = act.name, dict[str, Any](act.params)
    if ACTIVATIONS.get(name) is act or (role == "output" and OUTPUT_ACTIVATIONS.get(name) is act):
        return {"name": name, "params": params}
    with contextlib.suppress(TypeError, ValueError):
        rebuilt = get_activation(name, **params) if params else None
        if rebuilt is not None and rebuilt.name == name and rebuilt.params == params:
            return {"name": name, "params": params}
    raise ValueError(
        f"cannot save the {role} activation {name!r}: only registered activations can be "
        f"stored (register it with deltaprop.activations.register_activation)"
    )


def _loss_meta(net: Network) -> str:
    if LOSSES.get(net.loss.name) is not net.loss:
        raise ValueError(
            f"cannot save the loss {net.loss.name!r}: only registered losses can be stored "
            f"(register it with deltaprop.losses.register_loss)"
        )
    return net.loss.name


def _check_names(names: Any, n: int, param: str) -> list[str] | None:
    if names is None:
        return None
    names = list(names)
    if len(names) != n or not all(isinstance(s, str) for s in names):
        raise ValueError(f"{param} must be a list of {n} strings; got {names!r}")
    return names


def _json_object(obj: Any, param: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise TypeError(f"{param} must be a dict; got {type(obj).__name__}")
    try:
        return json.loads(json.dumps(obj))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{param} must be JSON-serialisable: {e}") from None


def _write(
    path: str | Path, tensors: dict[str, np.ndarray], meta: dict[str, Any], sync_folder: bool = True
) -> Path:
    from safetensors.numpy import save as st_save

    data = st_save(tensors, metadata={"deltaprop": json.dumps(meta)})
    path = Path(path)
    write_atomic(path, data, sync_folder=sync_folder)
    return path


_TMP_PREFIX = 64


def _remove_stale_tmp(folder: Path, prefix: str) -> None:
    """Remove the temporary files of earlier writes to this target whose process is gone
    (killed mid-write: SIGKILL, power loss); a live writer's file is left alone."""
    pattern = re.compile(re.escape(f".{prefix}.") + r"(\d+)-[0-9a-f]{12}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            found = pattern.fullmatch(entry.name)
            if found is None or int(found.group(1)) == os.getpid():
                continue
            if not _process_alive(int(found.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or cannot tell: keep its file
    return True


def write_atomic(path: str | Path, data: bytes, *, sync_folder: bool = True) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written.

    The bytes go to a new temporary file in the same folder (created with the usual
    permissions, i.e. subject to the umask), are flushed and ``fsync``-ed, and the file is
    renamed over ``path`` with ``os.replace`` (atomic on POSIX and Windows). On any error,
    Ctrl-C included, the temporary file is removed and ``path`` is left as it was. A ``path``
    that is a folder, or whose folder does not exist, is refused first (``IsADirectoryError``,
    ``FileNotFoundError`` naming ``path``). The temporary name is
    ``.<name, cut to 64 characters>.<pid>-<random>.tmp``, so a target name of up to 255
    characters works; temporary files left by a writer that was killed (its process is gone)
    are removed by the next write to the same target. With ``sync_folder=False`` the folder
    is not ``fsync``-ed after the rename: the rename may then be lost to a power failure
    (the old file stays, whole), never half-done.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    prefix = path.name[:_TMP_PREFIX]  # the temporary name stays short: a 250-character
    _remove_stale_tmp(path.parent, prefix)  # target name still has room for it
    tmp = path.with_name(f".{prefix}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not sync_folder:
        return
    with contextlib.suppress(OSError, AttributeError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# --- reading -------------------------------------------------------------------------------------


def load(path: str | Path, *, backend: str = "numpy", device: Any = None) -> Any:
    """Read a model file written by :func:`save` (or ``deltaprop train``): what was saved.

    Returns a :class:`~deltaprop.network.Network` for a bare network, a :class:`Model` for a
    network saved with its standardisation, names or labels (``deltaprop train``'s
    ``model.safetensors``: ``dp.load(path).predict(X_rows)`` answers in the data's units and
    labels), a fitted ``DeltaPropRegressor``/``DeltaPropClassifier`` for an estimator. The
    network has the stored dtype and the given ``backend``/``device`` (NumPy by default,
    whatever backend it was saved from). Raises ``ValueError`` naming the file and the
    problem for anything that is not a valid deltaprop model file, a checkpoint included
    (its message names the run's model file; :func:`load_checkpoint` reads checkpoints).
    """
    path = Path(path)
    meta, tensors = _read(path, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    if meta["format"] == CHECKPOINT_FORMAT:
        raise _checkpoint_refused(path)
    model = _model(path, meta, tensors, backend, device)
    if meta.get("estimator") is not None:
        estimator_io = importlib.import_module("deltaprop._estimator_io")
        state = _estimator_state(path, meta["estimator"], tensors, model.net)
        try:
            return estimator_io.estimator_from(meta["estimator"], model.net, state)
        except (KeyError, TypeError, ValueError) as e:
            raise _bad(path, f"invalid estimator: {_shown(str(e), 200)[1:-1]}") from None
    bare = model.standardization is None and model.labels is None
    if bare and model.feature_names is None and model.target_names is None:
        return model.net
    return model


def _estimator_state(
    path: Path, spec: dict[str, Any], tensors: dict[str, np.ndarray], net: Network
) -> Any:
    """The training state an estimator's ``partial_fit`` continues from (tensors ``state.*``
    and the JSON ``estimator.train_state``), checked as a checkpoint's is; None for a file
    without one (an older file, or one saved after ``fit``): a fresh optimiser then."""
    from .training import TrainState

    state_meta = spec.get("train_state")
    arrays = {name[len("state.") :]: a for name, a in tensors.items() if name.startswith("state.")}
    if state_meta is None:
        if arrays:
            raise _bad(path, "tensors state.* without the field 'estimator.train_state'")
        return None
    _check_state_strings(path, state_meta, spec.get("params"))
    try:
        state = TrainState.from_arrays(arrays, state_meta)
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as e:
        raise _bad(path, f"invalid estimator training state: {_shown(str(e), 200)[1:-1]}") from None
    try:
        _check_state(path, state, net)
    except (TypeError, KeyError, IndexError, AttributeError, ArithmeticError) as e:
        raise _bad(path, f"invalid estimator training state ({type(e).__name__})") from None
    return state


def _check_state_strings(path: Path, state_meta: Any, params: Any) -> None:
    """The text fields of an estimator's ``train_state``, checked before the shared state
    checks (which show a bad number, cut short) so that no string of the file is shown."""
    from .training import STOP_REASONS, TrainState

    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise _bad(path, f"field 'estimator.train_state{key}' must be {what}")

    need(isinstance(state_meta, dict), "", "null or a JSON object")
    need(state_meta.get("format") == TrainState.FORMAT, ".format", repr(TrainState.FORMAT))
    need(state_meta.get("version") == TrainState.VERSION, ".version", str(TrainState.VERSION))
    solver = params.get("solver") if isinstance(params, dict) else None
    need(
        solver in ("sgd", "adam") and state_meta.get("optimizer") == solver,
        ".optimizer",
        "the estimator's solver, 'sgd' or 'adam'",
    )
    seed = state_meta.get("seed")
    need(seed is None or (isinstance(seed, str) and seed.isdigit()), ".seed", "null or digits")
    h = state_meta.get("history")
    need(isinstance(h, dict), ".history", "a JSON object")
    reason = h.get("stopped_reason")
    need(reason is None or reason in STOP_REASONS, ".history.stopped_reason", "a stop reason")
    need(isinstance(h.get("score_name"), str), ".history.score_name", "a string")


def _checkpoint_refused(path: Path) -> ValueError:
    return _bad(
        path,
        f"this is a checkpoint (the run's last epoch and training state, for --resume), not "
        f"a model; use the run's model file {path.with_name('model.safetensors')} (the "
        f"weights training kept), or deltaprop.io.load_checkpoint for the state",
    )


def load_model(
    path: str | Path,
    *,
    backend: str = "numpy",
    device: Any = None,
    checkpoints: bool = True,
) -> Model:
    """Read a model file (or, unless ``checkpoints=False``, a checkpoint's model) as a
    :class:`Model` with its standardisation, names and labels, whatever was saved."""
    path = Path(path)
    meta, tensors = _read(path, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    if not checkpoints and meta["format"] == CHECKPOINT_FORMAT:
        raise _checkpoint_refused(path)
    return _model(path, meta, tensors, backend, device)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (NumPy backend)."""
    from .training import TrainState

    path = Path(path)
    meta, tensors = _read(path, (CHECKPOINT_FORMAT,))
    model = _model(path, meta, tensors, "numpy", None)
    for key in ("train_state", "settings"):
        if not isinstance(meta[key], dict):
            raise _bad(path, f"field {key!r} must be a JSON object; got {meta[key]!r}")
    arrays = {name[len("state.") :]: a for name, a in tensors.items() if name.startswith("state.")}
    if meta["train_state"].get("version") == TrainState.VERSION_ROWS_APART:
        arrays.update(_history_file_rows(path, meta["train_state"], arrays, model.net.L))
    try:
        state = TrainState.from_arrays(arrays, meta["train_state"])
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as e:
        raise _bad(path, f"invalid training state: {_shown(str(e), 200)[1:-1]}") from None
    try:
        _check_state(path, state, model.net)
    except (TypeError, KeyError, IndexError, AttributeError, ArithmeticError) as e:
        raise _bad(path, f"invalid training state ({type(e).__name__})") from None
    return Checkpoint(model, state, meta["settings"])


def _history_file_rows(
    path: Path, state_meta: dict[str, Any], arrays: dict[str, Any], L: int
) -> dict[str, np.ndarray]:
    """The ``history.*`` arrays of a periodic checkpoint: the first ``file_rows`` rows of its
    history file, then the rows the checkpoint holds itself (``history.tail``). The file is
    checked as every file read here is: a regular file, its size against the rows before a
    byte is read, their SHA-256 against the checkpoint's; no content echoed."""
    from .training import history_arrays, history_width

    h = state_meta.get("history")
    h = h if isinstance(h, dict) else {}
    rows, n, validation = h.get("rows"), h.get("file_rows"), h.get("validation")
    tail = arrays.pop("history.tail", None)
    if not (_is_int(rows) and _is_int(n) and 0 <= n <= rows and isinstance(validation, bool)):
        raise _bad(path, "invalid training state: the history's rows, file_rows or validation")
    if not isinstance(h.get("sha256"), str) or not _SHA256.fullmatch(h["sha256"]):
        raise _bad(path, "invalid training state: the history's 'sha256' is not 64 hex digits")
    if any(name.startswith("history.") for name in arrays):
        raise _bad(path, "invalid training state: history tensors beside a history file")
    sidecar, width = history_path(path), history_width(L, validation)
    if not isinstance(tail, np.ndarray) or tail.shape != (rows - n, width) or tail.dtype != "f8":
        raise _bad(path, f"invalid training state: history.tail is not float64 {(rows - n, width)}")
    data = _history_file_head(path, sidecar, _HISTORY_HEADER + n * width * 8, n)
    if data[:_HISTORY_HEADER] != _HISTORY_MAGIC + width.to_bytes(8, "little"):
        raise _bad(path, f"{sidecar} is not a history file of this checkpoint's network")
    if hashlib.sha256(data).hexdigest() != h["sha256"]:
        raise _bad(
            path,
            f"its history file {sidecar} does not match it (the SHA-256 of the first "
            f"{n} rows differs: changed, or another run's)",
        )
    head = np.frombuffer(data, dtype="<f8", offset=_HISTORY_HEADER).reshape(n, width)
    return history_arrays(np.concatenate([head, tail]).astype(np.float64), L, validation)


def _history_file_head(path: Path, sidecar: Path, need: int, n: int) -> bytes:
    """The first ``need`` bytes of a checkpoint's history file (header and ``n`` rows)."""
    try:
        f, size = _files.open_regular(sidecar, MAX_FILE_BYTES, "history file")
    except FileNotFoundError:
        raise _bad(
            path,
            f"its history file {sidecar} is missing (a periodic checkpoint keeps the "
            f"history's rows there: keep the two files together)",
        ) from None
    except (OSError, ValueError) as e:
        raise _bad(path, f"its history file: {e}") from None
    with f:
        data = f.read(need) if size >= need else b""
    if len(data) < need:
        raise _bad(
            path,
            f"its history file {sidecar} is short: {size} bytes, {need} needed for the "
            f"{n} epochs the checkpoint counts on",
        )
    return data


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_state(path: Path, state: Any, net: Network) -> None:
    """Every field of a checkpoint's training state against what :func:`fit` can leave, so a
    tampered state (Adam ``beta_1 = 1``, ``t = -1``, a NaN in ``best.W``, an ``epoch`` or
    ``stopped_reason`` that would skip training) is refused here, not met later."""
    from .optim import OPTIMIZERS
    from .training import STOP_REASONS

    def bad(problem: str) -> ValueError:
        return _bad(path, f"invalid training state: {problem}")

    h, L, E = state.history, net.L, state.epoch
    if h.n_iter != E or len(h.loss) != E:
        raise bad(
            f"epoch {_shown(E)} disagrees with the history ({len(h.loss)} epochs of loss, "
            f"n_iter {_shown(h.n_iter)})"
        )
    for name, values, ok in (
        ("history.loss", h.loss, lambda v: v >= 0),
        ("history.val_loss", h.val_loss, lambda v: v >= 0),
        ("history.val_score", h.val_score, lambda v: True),
        ("history.lr", h.lr, lambda v: v > 0),
    ):
        if name.startswith("history.val") and len(values) not in (0, E):
            raise bad(f"{name} has {len(values)} entries for {E} epochs")
        if not all(math.isfinite(v) and ok(v) for v in values):
            raise bad(f"{name} holds a value out of range (NaN, infinite or negative)")
    for name, rows, width in (
        ("history.grad_norm", h.grad_norm, L),
        ("history.dead_fraction", h.dead_fraction, L - 1),
    ):
        if any(len(row) != width for row in rows):
            raise bad(f"{name} rows must have {width} entries (one per layer)")
        if not all(math.isfinite(v) and v >= 0 for row in rows for v in row):
            raise bad(f"{name} holds a value out of range (NaN, infinite or negative)")
    if not 0 <= h.best_epoch <= E or not 0 <= state.no_improvement <= E:
        raise bad(
            f"best_epoch {_shown(h.best_epoch)} and no_improvement "
            f"{_shown(state.no_improvement)} must lie in [0, {E}]"
        )
    if h.stopped_reason is not None and h.stopped_reason not in STOP_REASONS:
        raise bad(
            f"stopped_reason must be null or one of {', '.join(STOP_REASONS)}; got "
            f"{_shown(h.stopped_reason)}"
        )
    if h.stopped_reason is not None and E == 0:
        raise bad(f"stopped_reason {_shown(h.stopped_reason)} after 0 epochs")
    for name, value in (("best_score", state.best_score), ("best_loss", state.best_loss)):
        if not isinstance(value, float) or math.isnan(value):
            raise bad(f"{name} must be a number; got {_shown(value)}")
    for name, value in (("seed", state.seed),):
        if value is not None and not _is_int(value):
            raise bad(f"{name} must be an integer; got {_shown(value)}")
    if state.rng_state is not None:
        try:
            bit_generator = np.random.PCG64()
            if state.rng_state.get("bit_generator") != "PCG64":
                raise ValueError
            bit_generator.state = state.rng_state
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
            raise bad("rng_state is not a PCG64 generator state") from None
    _check_params(bad, "best", (state.best_W, state.best_b), net)
    _check_optimizer(bad, state, net, OPTIMIZERS)


def _check_params(bad: Any, name: str, params: tuple[Any, Any], net: Network) -> None:
    best_W, best_b = params
    if best_W is None and best_b is None:
        return
    if best_W is None or best_b is None or len(best_W) != net.L or len(best_b) != net.L:
        raise bad(f"{name}.W and {name}.b must hold {net.L} layers each")
    for l in range(1, net.L + 1):
        for p, a, shape in (
            ("W", best_W[l], (net.sizes[l], net.sizes[l - 1])),
            ("b", best_b[l], (net.sizes[l], 1)),
        ):
            a = np.asarray(a)
            if a.shape != shape or a.dtype.kind != "f":
                raise bad(f"{name}.{p}.{l} must be a float array of shape {shape}; got {a.shape}")
            if not np.isfinite(a).all():
                raise bad(f"{name}.{p}.{l} holds NaN or infinite values")


def _check_optimizer(bad: Any, state: Any, net: Network, optimizers: dict[str, Any]) -> None:
    """The optimiser's name, its hyper-parameters in their ranges (its own constructor's
    checks), Adam's step count, and its moment arrays' names, shapes and values."""
    name, d = state.optimizer, state.optimizer_state
    if name is None:
        if d or state.epoch:
            raise bad("optimizer state without an optimizer name")
        return
    if not isinstance(name, str) or name not in optimizers:
        raise bad(f"unknown optimizer {_shown(name)}; known: {', '.join(sorted(optimizers))}")
    cls = optimizers[name]
    hyper = {h: d.get(h) for h in cls._hyper}
    missing = [h for h, v in hyper.items() if v is None]
    if missing:
        raise bad(f"optimizer {name} lacks {_listed(missing)}")
    for h, v in hyper.items():
        if isinstance(v, np.ndarray):
            if v.size != 1:
                raise bad(f"optimizer {h} must be a number; got an array of shape {v.shape}")
            hyper[h] = v.item()
    if "nesterov" in hyper and hyper["nesterov"] not in (0, 1):
        raise bad(f"optimizer nesterov must be 0 or 1; got {_shown(hyper['nesterov'])}")
    if "t" in hyper and (not _is_int(hyper["t"]) or hyper["t"] < 0):
        raise bad(f"optimizer t must be an integer >= 0; got {_shown(hyper['t'])}")
    try:
        opt = cls(**{h: v for h, v in hyper.items() if h not in ("t", "nesterov")})
    except (TypeError, ValueError) as e:
        raise bad(f"optimizer {name}: {e}") from None
    slots = opt._slots if name != "sgd" else (("velocity",) if hyper["momentum"] > 0 else ())
    expected = {
        f"{slot}.{p}.{l}": (net.sizes[l], net.sizes[l - 1] if p == "W" else 1)
        for slot in slots
        for l in range(1, net.L + 1)
        for p in ("W", "b")
    }
    arrays = {k: v for k, v in d.items() if k not in cls._hyper}
    if arrays and set(arrays) != set(expected):
        unexpected = sorted(set(arrays) - set(expected)) or sorted(set(expected) - set(arrays))
        raise bad(f"optimizer {name} arrays do not match the network: {_listed(unexpected)}")
    for key, a in arrays.items():
        a = np.asarray(a)
        if a.shape != expected[key] or a.dtype.kind != "f":
            raise bad(f"optimizer array {key} must be a float array of shape {expected[key]}")
        if not np.isfinite(a).all():
            raise bad(f"optimizer array {key} holds NaN or infinite values")
        if key.startswith("v.") and name == "adam" and (a < 0).any():
            raise bad(f"optimizer array {key} (a second moment) holds negative values")


def _bad(path: Path, problem: str) -> ValueError:
    return ValueError(f"cannot load {path}: {problem}")


def _read(path: Path, formats: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The checked deltaprop metadata and the tensors of a safetensors file.

    Bounded: only a regular file of at most :data:`MAX_FILE_BYTES` is opened (a FIFO or a
    device is refused, never read); the 8-byte header length is checked against the file's
    size and :data:`MAX_HEADER_BYTES` before the header is read, and the header's counts
    (layers in ``sizes`` against the tensors it lists) before anything proportional to them
    is built; the tensor data is read only once the header has passed.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    f, size = _files.open_regular(path, MAX_FILE_BYTES, "model file")
    with f:
        head = f.read(8)
        # A pickle starts with 0x80 and a zip archive (torch.save) with "PK": named only once
        # the bytes have failed to parse as safetensors, whose 8-byte header length may start
        # alike.
        kind = "a pickle" if head[:1] == b"\x80" else "a zip archive" if head[:2] == b"PK" else ""
        hint = f" (it looks like {kind}; deltaprop never unpickles files)" if kind else ""
        if len(head) < 8:
            raise _bad(path, f"not a safetensors file (only {len(head)} bytes){hint}")
        n = int.from_bytes(head, "little")
        if n > min(size - 8, MAX_HEADER_BYTES):
            raise _bad(
                path,
                f"not a safetensors file, or truncated (the header claims {n} bytes; "
                f"the file has {size}"
                + (f"; at most {MAX_HEADER_BYTES} are accepted" if n > MAX_HEADER_BYTES else "")
                + f"){hint}",
            )
        raw_header = f.read(n)
        if len(raw_header) < n:
            raise _bad(path, "truncated while it was being read")
        try:
            header = json.loads(raw_header.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise _bad(path, f"not a safetensors file (its header is not JSON){hint}") from None
        if not isinstance(header, dict):
            raise _bad(path, "not a safetensors file (its header is not a JSON object)")
        extra = header.get("__metadata__")
        if not isinstance(extra, dict) or not isinstance(extra.get("deltaprop"), str):
            raise _bad(
                path, "not a deltaprop file (the safetensors header has no 'deltaprop' metadata)"
            )
        try:
            meta = json.loads(extra["deltaprop"])
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            raise _bad(path, "the 'deltaprop' metadata is not valid JSON") from None
        if not isinstance(meta, dict):
            raise _bad(path, "the 'deltaprop' metadata is not a JSON object")
        _check_meta(path, meta, formats)
        _check_counts(path, meta, header)
        data = head + raw_header + _files.read_bounded(f, size - 8 - n, path)
    try:
        tensors = st_load(data)
    except SafetensorError as e:
        raise _bad(
            path, f"corrupt or truncated safetensors data ({_shown(str(e), 200)[1:-1]})"
        ) from None
    return meta, tensors


def _check_counts(path: Path, meta: dict[str, Any], header: dict[str, Any]) -> None:
    """The number of layers against the tensors the header lists, before the expected tensor
    names (two per layer) are built: a ``sizes`` of millions of entries costs nothing."""
    L = len(meta["sizes"]) - 1
    layer_tensors = sum(1 for name in header if name[:2] in ("W.", "b."))
    if layer_tensors < L:
        raise _bad(
            path,
            f"field 'sizes' lists {L} layers but the file holds only {layer_tensors} weight "
            f"and bias tensors",
        )


def _check_meta(path: Path, meta: dict[str, Any], formats: tuple[str, ...]) -> None:
    """Every field of the metadata, before any of it is used."""
    kind = meta.get("format")
    if kind not in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        raise _bad(
            path,
            f"field 'format' must be {MODEL_FORMAT!r} or {CHECKPOINT_FORMAT!r}; got {_shown(kind)}",
        )
    if kind not in formats:
        raise _bad(path, f"this is a {kind} file; expected a {' or '.join(formats)} file")
    version = meta.get("format_version")
    if not _is_int(version) or version < 1:
        raise _bad(path, f"field 'format_version' must be an integer >= 1; got {_shown(version)}")
    if version > FORMAT_VERSION:
        raise _bad(
            path,
            f"written by a newer deltaprop (format version {_shown(version)}; this "
            f"deltaprop reads up to {FORMAT_VERSION}): upgrade deltaprop",
        )
    expected = _CHECKPOINT_FIELDS if kind == CHECKPOINT_FORMAT else _MODEL_FIELDS
    if version >= 2:
        expected = expected | _V2_FIELDS
    missing, unknown = sorted(expected - set(meta)), sorted(set(meta) - expected)
    if missing:
        raise _bad(path, f"missing field(s) {_listed(missing)} in the metadata")
    if unknown:
        raise _bad(path, f"unknown field(s) {_listed(unknown)} in the metadata")

    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise _bad(path, f"field {key!r} must be {what}; got {_shown(meta[key])}")

    need(isinstance(meta["deltaprop_version"], str), "deltaprop_version", "a string")
    sizes = meta["sizes"]
    need(
        isinstance(sizes, list) and len(sizes) >= 2 and all(_is_int(n) and n >= 1 for n in sizes),
        "sizes",
        "a list of at least two integers >= 1",
    )
    for key in ("hidden", "output"):
        spec = meta[key]
        need(
            isinstance(spec, dict)
            and set(spec) == {"name", "params"}
            and isinstance(spec["name"], str)
            and isinstance(spec["params"], dict)
            and all(isinstance(k, str) and _is_number(v) for k, v in spec["params"].items()),
            key,
            'an object {"name": str, "params": {str: number}}',
        )
    need(isinstance(meta["loss"], str), "loss", "a string")
    need(_is_number(meta["alpha"]) and meta["alpha"] >= 0, "alpha", "a finite number >= 0")
    need(
        isinstance(meta["dtype"], str) and meta["dtype"] in _DTYPE_CODES,
        "dtype",
        f"one of {', '.join(_DTYPE_CODES)}",
    )
    need(isinstance(meta["backend"], str), "backend", "a string")
    for key, n in (("feature_names", sizes[0]), ("target_names", sizes[-1])):
        names = meta[key]
        need(
            names is None
            or (
                isinstance(names, list)
                and len(names) == n
                and all(isinstance(s, str) for s in names)
            ),
            key,
            f"null or a list of {n} strings",
        )
    need(
        meta["standardization"] is None or isinstance(meta["standardization"], dict),
        "standardization",
        "null or an object",
    )
    need(isinstance(meta["user"], dict), "user", "an object")
    for key in _V2_FIELDS:
        need(meta.get(key) is None or isinstance(meta[key], dict), key, "null or an object")


def _model(
    path: Path, meta: dict[str, Any], tensors: dict[str, np.ndarray], backend: str, device: Any
) -> Model:
    sizes, dtype = meta["sizes"], meta["dtype"]
    L = len(sizes) - 1
    expected = {f"{p}.{l}" for l in range(1, L + 1) for p in ("W", "b")}
    names = set(tensors)
    estimator = meta.get("estimator")
    if meta["format"] == CHECKPOINT_FORMAT or (
        isinstance(estimator, dict) and estimator.get("train_state") is not None
    ):  # the training state's tensors, read apart (load_checkpoint, _estimator_state)
        names = {t for t in names if not t.startswith("state.")}
    if names - expected:
        raise _bad(path, f"unexpected tensor(s) {_listed(sorted(names - expected))}")
    if expected - names:
        raise _bad(path, f"missing tensor(s) {_listed(sorted(expected - names))}")
    for l in range(1, L + 1):
        for p, shape in (("W", (sizes[l], sizes[l - 1])), ("b", (sizes[l], 1))):
            a = tensors[f"{p}.{l}"]
            if a.shape != shape:
                raise _bad(
                    path, f"tensor {p}.{l} must have shape {shape} (sizes {sizes}); got {a.shape}"
                )
            if a.dtype != np.dtype(dtype):
                raise _bad(
                    path,
                    f"tensor {p}.{l} must have dtype {dtype} as the metadata says; got {a.dtype}",
                )
            if not np.isfinite(a).all():
                raise _bad(path, f"tensor {p}.{l} holds NaN or infinite values")
    try:
        hidden = _activation(meta["hidden"])
        output = _activation(meta["output"], output_layer=True)
        if meta["loss"] not in LOSSES:
            raise ValueError(
                f"unknown loss {meta['loss']!r}; known losses: {', '.join(sorted(LOSSES))}"
            )
        std = meta["standardization"]
        std = None if std is None else Standardization.from_dict(std, sizes[0], sizes[-1])
        labels = meta.get("labels")
        labels = None if labels is None else Labels.from_dict(labels, sizes[-1])
    except (TypeError, ValueError) as e:
        raise _bad(path, str(e)) from None
    net = Network(
        sizes,
        hidden=hidden,
        output=output,
        loss=meta["loss"],
        dtype=dtype,
        alpha=meta["alpha"],
        backend=backend,
        device=device,
    )
    for l in range(1, L + 1):
        net.W[l] = tensors[f"W.{l}"]
        net.b[l] = tensors[f"b.{l}"]
    return Model(net, std, meta["feature_names"], meta["target_names"], meta["user"], labels)


def _activation(spec: dict[str, Any], output_layer: bool = False) -> Activation:
    name, params = spec["name"], spec["params"]
    if output_layer and name in OUTPUT_ACTIVATIONS and not params:
        return OUTPUT_ACTIVATIONS[name]  # softmax: output layer only
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; known activations: "
            f"{', '.join(sorted(ACTIVATIONS))} (register yours with "
            f"deltaprop.activations.register_activation before loading)"
        )
    act = ACTIVATIONS[name]
    if act.params != params:
        act = get_activation(name, **params) if params else act
    if act.name != name or act.params != params:
        raise ValueError(f"activation {name!r} does not take the parameters {params!r}")
    return act


def _is_int(x: Any) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an integer beyond float64, such as 10**400 in the JSON
        return False


def _shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters so that an error stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listed(names: list[str], limit: int = 8) -> str:
    """The first ``limit`` names (quoted), comma-separated, and how many more there are."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(_shown(name, 40) for name in names[:limit]) + more


__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "MODEL_FORMAT",
    "Checkpoint",
    "CheckpointEvery",
    "Model",
    "history_path",
    "load",
    "load_checkpoint",
    "load_model",
    "model_bytes",
    "save",
    "save_checkpoint",
    "write_atomic",
]

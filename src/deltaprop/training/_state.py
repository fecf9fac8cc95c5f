r"""What a run of :func:`~deltaprop.training.fit` leaves behind: the history, the state, the errors.

:class:`History` is the per-epoch record (costs, validation scores, gradient norms, dead
units, learning rates); :class:`TrainState` is everything needed to continue a run bit for bit
(counters, the best weights so far, the optimiser's and the shuffling generator's state), with
:meth:`TrainState.to_arrays`/:meth:`TrainState.from_arrays` for safetensors checkpoints.
:class:`Commit` is the end of the last completed epoch, the point a rollback returns to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _array, _checks
from .._layers import Layers

if TYPE_CHECKING:
    from ..network import Network
    from ..optim import Optimizer

STOP_REASONS = ("max_epochs", "converged", "early_stopping", "callback")
"""Values of :attr:`History.stopped_reason` once training has ended normally."""


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite; the best weights so far are in the network.

    Attributes
    ----------
    epoch : int
        The epoch (numbered from 1) whose loss was not finite.
    state : TrainState
        The state at the end of the last finite epoch.
    """

    def __init__(self, message: str, epoch: int, state: TrainState) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.state = state


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`: the network is rolled back to the last completed epoch.

    Attributes
    ----------
    state : TrainState
        The consistent state at the end of that epoch; ``fit(..., state=state)`` resumes.
    """

    def __init__(self, state: TrainState) -> None:
        super().__init__(
            f"training interrupted during epoch {state.epoch + 1}; the network and the state "
            f"are those at the end of epoch {state.epoch}"
        )
        self.state = state


@dataclass
class History:
    """What happened during training, one entry per epoch (epochs are numbered from 1).

    Attributes
    ----------
    loss : list of float
        Training loss of each epoch: the batch costs (with the L2 penalty) weighted by batch
        size and averaged over the epoch's samples.
    val_loss, val_score : list of float
        Validation cost and score (``score_name``) per epoch; empty without validation data.
    grad_norm : list of Layers of float
        ``grad_norm[e-1][l]``: mean over epoch e's batches of
        :math:`\\lVert \\partial J/\\partial W^{[l]} \\rVert_F`, l = 1..L.
    dead_fraction : list of Layers of float
        ``dead_fraction[e-1][l]``: fraction of hidden layer l's units (l = 1..L−1) that were
        dead for the whole epoch: no error reached them in any batch (their row of
        :math:`\\delta^{[l]}` and so :math:`\\partial J/\\partial b^{[l]} = \\delta^{[l]} 1_m`
        was exactly zero). For ReLU this is a unit with :math:`Z^{[l]} \\le 0` for every
        sample (:math:`g' = 0`), which then stops learning.
    lr : list of float
        Learning rate used during each epoch.
    best_epoch : int
        The epoch with the best validation score (early stopping) or training loss; 0 if none.
    n_iter : int
        Epochs completed.
    t : int
        Training samples seen (the sum of the batch sizes).
    stopped_reason : str or None
        One of :data:`STOP_REASONS` once training ended, ``None`` while it may continue.
    score_name : str
        What ``val_score`` measures: ``"r2"``, ``"accuracy"`` or ``"neg_loss"``.
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    grad_norm: list[Sequence[float]] = field(default_factory=list)
    dead_fraction: list[Sequence[float]] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = 0
    n_iter: int = 0
    t: int = 0
    stopped_reason: str | None = None
    score_name: str = "r2"

    _LISTS = ("loss", "val_loss", "val_score", "grad_norm", "dead_fraction", "lr")

    def copy(self) -> History:
        """A copy whose lists are independent of this one's."""
        h = History(**{f.name: getattr(self, f.name) for f in fields(self)})
        for name in self._LISTS:
            setattr(h, name, [_copy_row(v) for v in getattr(h, name)])
        return h


@dataclass
class TrainState:
    """Everything :func:`fit` needs to continue training exactly where it stopped.

    The network's current weights are not part of it (they are in the network); the best
    weights so far are, as ``best_W``/``best_b``. A fresh ``TrainState()`` passed to
    :func:`fit` starts a new run and is kept up to date in place.

    Attributes
    ----------
    epoch : int
        Epochs completed.
    t : int
        Training samples seen.
    seed : int or None
        Seed of the run: the validation split and the shuffling generator derive from it.
    lr : float or None
        The optimiser's current learning rate (schedules change it).
    lr0 : float or None
        The initial learning rate :math:`\\eta_0` the schedules start from.
    optimizer : str or None
        The optimiser's name (``"sgd"`` or ``"adam"``).
    optimizer_state : dict
        :meth:`Optimizer.state_dict` at the end of the last epoch.
    rng_state : dict or None
        The shuffling ``Generator``'s ``bit_generator.state``.
    history : History
    best_W, best_b : Layers of arrays or None
        Parameters of the best epoch so far (``best_W[l]`` of shape (n_l, n_{l-1}), l = 1..L).
    best_score : float
        Best validation score so far (``-inf`` before the first).
    best_loss : float
        Best training loss so far (``inf`` before the first).
    no_improvement : int
        Consecutive epochs without improvement by more than ``tol``.
    """

    epoch: int = 0
    t: int = 0
    seed: int | None = None
    lr: float | None = None
    lr0: float | None = None
    optimizer: str | None = None
    optimizer_state: dict[str, Any] = field(default_factory=dict)
    rng_state: dict[str, Any] | None = None
    history: History = field(default_factory=History)
    best_W: Layers | None = None
    best_b: Layers | None = None
    best_score: float = -math.inf
    best_loss: float = math.inf
    no_improvement: int = 0

    FORMAT = "deltaprop.TrainState"
    VERSION = 1
    VERSION_ROWS_APART = 2
    """The version of :meth:`to_arrays` ``(history=False)``: the same, without the history's
    rows (an older deltaprop refuses it by its version rather than misreading it)."""

    @property
    def finished(self) -> bool:
        """Whether the last :func:`fit` ended normally (not interrupted)."""
        return self.history.stopped_reason is not None

    def copy(self) -> TrainState:
        """A copy sharing no mutable list or dict with this one (arrays are shared)."""
        s = TrainState(**{f.name: getattr(self, f.name) for f in fields(self)})
        s.history = self.history.copy()
        s.optimizer_state = dict(self.optimizer_state)
        s.rng_state = copy_rng_state(self.rng_state)
        s.best_W = None if self.best_W is None else self.best_W.copy()
        s.best_b = None if self.best_b is None else self.best_b.copy()
        return s

    # --- serialisation --------------------------------------------------------------------

    def to_arrays(self, *, history: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The state as NumPy arrays (for safetensors) and JSON-ready metadata.

        Parameters
        ----------
        history : bool, default True
            Include the history's per-epoch lists (O(epochs so far)). With False they are
            left out, the metadata's ``version`` is 2 and its ``history`` says how many rows
            (``"rows"``) and whether with validation (``"validation"``): the rows are kept
            elsewhere (:func:`history_rows`; a periodic checkpoint's history file), and
            :meth:`from_arrays` needs them back as :func:`history_arrays` gives them.

        Returns
        -------
        arrays : dict of str to numpy.ndarray
            ``"history.loss"`` (E,), ``"history.val_loss"``/``"history.val_score"`` (E,) or
            (0,), ``"history.grad_norm"`` (E, L), ``"history.dead_fraction"`` (E, L−1),
            ``"history.lr"`` (E,), ``"best.W.<l>"``/``"best.b.<l>"`` and
            ``"optimizer.<key>"`` for the optimiser's arrays. Every array is float64 or int64
            and C-contiguous.
        meta : dict
            Integers, strings and finite floats only (``json.dumps(meta, allow_nan=False)``
            works); the generator's 128-bit integers are written as decimal strings.
        """
        h = self.history
        E = len(h.loss)
        arrays: dict[str, np.ndarray] = {}
        if history:
            arrays = {
                "history.loss": np.asarray(h.loss, dtype=np.float64).reshape(E),
                "history.val_loss": np.asarray(h.val_loss, dtype=np.float64).reshape(-1),
                "history.val_score": np.asarray(h.val_score, dtype=np.float64).reshape(-1),
                "history.grad_norm": _matrix(h.grad_norm, E),
                "history.dead_fraction": _matrix(h.dead_fraction, E),
                "history.lr": np.asarray(h.lr, dtype=np.float64).reshape(E),
            }
        if self.best_W is not None and self.best_b is not None:
            for l in range(1, len(self.best_W) + 1):
                arrays[f"best.W.{l}"] = np.ascontiguousarray(_array.to_numpy(self.best_W[l]))
                arrays[f"best.b.{l}"] = np.ascontiguousarray(_array.to_numpy(self.best_b[l]))
        hyper: dict[str, Any] = {}
        for key, v in self.optimizer_state.items():
            if isinstance(v, np.ndarray):
                arrays[f"optimizer.{key}"] = np.ascontiguousarray(v)
            else:
                hyper[key] = v
        meta: dict[str, Any] = {
            "format": self.FORMAT,
            "version": self.VERSION,
            "epoch": self.epoch,
            "t": self.t,
            "seed": None if self.seed is None else str(self.seed),
            "lr": self.lr,
            "lr0": self.lr0,
            "optimizer": self.optimizer,
            "optimizer_hyper": hyper,
            "rng_state": _rng_state_to_json(self.rng_state),
            "best_score": self.best_score if math.isfinite(self.best_score) else None,
            "best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
            "no_improvement": self.no_improvement,
            "history": {
                "best_epoch": h.best_epoch,
                "n_iter": h.n_iter,
                "t": h.t,
                "stopped_reason": h.stopped_reason,
                "score_name": h.score_name,
            },
        }
        if not history:
            meta["version"] = self.VERSION_ROWS_APART
            meta["history"]["rows"] = E
            meta["history"]["validation"] = bool(h.val_loss)
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], meta: dict[str, Any]) -> TrainState:
        """Rebuild a state from :meth:`to_arrays`'s output (validated: ``ValueError`` if not)."""
        if not isinstance(meta, dict) or meta.get("format") != cls.FORMAT:
            raise ValueError(f"not a {cls.FORMAT} checkpoint (metadata 'format' is missing)")
        if meta.get("version") not in (cls.VERSION, cls.VERSION_ROWS_APART):
            raise ValueError(
                f"TrainState version {meta.get('version')!r} is not supported "
                f"(this deltaprop reads versions {cls.VERSION} and {cls.VERSION_ROWS_APART})"
            )
        try:
            a = {k: np.asarray(v) for k, v in arrays.items()}
            hm = meta["history"]
            loss = a["history.loss"]
            E = loss.shape[0]
            history = History(
                loss=[float(x) for x in loss],
                val_loss=[float(x) for x in a["history.val_loss"]],
                val_score=[float(x) for x in a["history.val_score"]],
                grad_norm=[_row(r, "grad_norm") for r in a["history.grad_norm"]],
                dead_fraction=[_row(r, "dead_fraction") for r in a["history.dead_fraction"]],
                lr=[float(x) for x in a["history.lr"]],
                best_epoch=int(hm["best_epoch"]),
                n_iter=int(hm["n_iter"]),
                t=int(hm["t"]),
                stopped_reason=hm["stopped_reason"],
                score_name=str(hm["score_name"]),
            )
            if len(history.grad_norm) != E or len(history.lr) != E:
                raise ValueError("history arrays disagree on the number of epochs")
            L = sum(1 for k in a if k.startswith("best.W."))
            best_W = Layers([a[f"best.W.{l}"] for l in range(1, L + 1)], "best_W") if L else None
            best_b = Layers([a[f"best.b.{l}"] for l in range(1, L + 1)], "best_b") if L else None
            opt_state: dict[str, Any] = dict(meta["optimizer_hyper"])
            for k, v in a.items():
                if k.startswith("optimizer."):
                    opt_state[k[len("optimizer.") :]] = v
            best_score, best_loss = meta["best_score"], meta["best_loss"]
            state = cls(
                epoch=int(meta["epoch"]),
                t=int(meta["t"]),
                seed=None if meta["seed"] is None else int(meta["seed"]),
                lr=None if meta["lr"] is None else float(meta["lr"]),
                lr0=None if meta["lr0"] is None else float(meta["lr0"]),
                optimizer=meta["optimizer"],
                optimizer_state=opt_state,
                rng_state=_rng_state_from_json(meta["rng_state"]),
                history=history,
                best_W=best_W,
                best_b=best_b,
                best_score=-math.inf if best_score is None else float(best_score),
                best_loss=math.inf if best_loss is None else float(best_loss),
                no_improvement=int(meta["no_improvement"]),
            )
        except KeyError as e:
            raise ValueError(f"TrainState checkpoint lacks {e.args[0]!r}") from None
        except OverflowError as e:  # int(Infinity) or float(10**400): JSON allows both
            raise ValueError(f"TrainState checkpoint holds a number out of range ({e})") from None
        _check_numbers(state)
        return state


# --- the history as rows: what a periodic checkpoint appends --------------------------------------


def history_width(L: int, validation: bool) -> int:
    """Numbers in one epoch's row (:func:`history_rows`) of a network of ``L`` layers."""
    return 2 + 2 * bool(validation) + L + max(L - 1, 0)


def history_rows(history: History, start: int, L: int) -> np.ndarray:
    """Epochs ``start + 1 .. E`` of ``history`` as rows, one per epoch: float64 of shape
    (E − start, :func:`history_width`), C-contiguous.

    A row is ``loss, lr``, then ``val_loss, val_score`` when the run has validation, then
    ``grad_norm[1..L]`` and ``dead_fraction[1..L−1]``. Its cost is that of the rows asked
    for, not of the whole history (the lists are sliced before anything is converted).
    """
    h, E = history, len(history.loss)
    k, validation = E - start, bool(history.val_loss)
    columns = [h.loss[start:], h.lr[start:]]
    if validation:
        columns += [h.val_loss[start:], h.val_score[start:]]
    rows = np.empty((k, history_width(L, validation)), dtype=np.float64)
    for c, values in enumerate(columns):
        rows[:, c] = values
    c = len(columns)
    rows[:, c : c + L] = _matrix(h.grad_norm[start:], k).reshape(k, L)
    rows[:, c + L :] = _matrix(h.dead_fraction[start:], k).reshape(k, max(L - 1, 0))
    return rows


def history_arrays(rows: np.ndarray, L: int, validation: bool) -> dict[str, np.ndarray]:
    """The ``"history.*"`` arrays of :meth:`TrainState.to_arrays` from :func:`history_rows`'s
    rows (E, width): what :meth:`TrainState.from_arrays` reads."""
    E = rows.shape[0]
    c = 4 if validation else 2
    empty = np.empty(0, dtype=np.float64)
    return {
        "history.loss": rows[:, 0].copy(),
        "history.lr": rows[:, 1].copy(),
        "history.val_loss": rows[:, 2].copy() if validation else empty,
        "history.val_score": rows[:, 3].copy() if validation else empty,
        "history.grad_norm": rows[:, c : c + L].reshape(E, L).copy(),
        "history.dead_fraction": rows[:, c + L :].reshape(E, max(L - 1, 0)).copy(),
    }


def _check_numbers(state: TrainState) -> None:
    """Counters are integers >= 0 and learning rates finite and > 0, as :func:`fit` leaves them."""
    h = state.history
    for name, value in (
        ("epoch", state.epoch),
        ("t", state.t),
        ("no_improvement", state.no_improvement),
        ("seed", state.seed),
        ("history.best_epoch", h.best_epoch),
        ("history.n_iter", h.n_iter),
        ("history.t", h.t),
    ):
        if value is not None and value < 0:
            raise ValueError(f"TrainState {name} must be >= 0; got {value}")
    for name, rate in (("lr", state.lr), ("lr0", state.lr0)):
        if rate is not None and not 0 < rate < math.inf:
            raise ValueError(f"TrainState {name} must be a finite number > 0; got {rate}")


def _row(values: Any, name: str) -> Layers:
    """One epoch's per-layer numbers (a row of the (E, L) matrix) as ``Layers`` of floats."""
    return Layers([float(x) for x in values], name)


def _copy_row(row: Any) -> Any:
    return row.copy() if isinstance(row, Layers) else list(row) if isinstance(row, list) else row


def _matrix(rows: list[Sequence[float]], E: int) -> np.ndarray:
    width = len(rows[0]) if rows else 0
    return np.asarray(rows, dtype=np.float64).reshape(E, width)


def copy_rng_state(s: dict[str, Any] | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {k: dict(v) if isinstance(v, dict) else v for k, v in s.items()}


def _rng_state_to_json(s: Any) -> Any:
    """The generator state with every integer as a decimal string (they exceed 2^64)."""
    if isinstance(s, dict):
        return {k: _rng_state_to_json(v) for k, v in s.items()}
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        return {"int": str(int(s))}
    return s


def _rng_state_from_json(s: Any) -> Any:
    if isinstance(s, dict):
        if set(s) == {"int"}:
            return int(s["int"])
        return {k: _rng_state_from_json(v) for k, v in s.items()}
    return s


# --- the commit point: the end of the last completed epoch ------------------------------------

_STATE_SCALARS = tuple(
    f.name for f in fields(TrainState) if f.name not in ("history", "optimizer_state")
)
_HISTORY_SCALARS = tuple(f.name for f in fields(History) if f.name not in History._LISTS)


class Commit:
    """The end of an epoch, cheap to take, and the rollback to it.

    The network's parameters (copies, ``W[l]`` of shape (n_l, n_{l-1})), the state's
    scalars, the history's list lengths (the lists are append-only, so their lengths are
    enough to roll back) and the optimiser's on-device snapshot (``Optimizer.snapshot``).
    """

    def __init__(self, state: TrainState, opt: Optimizer, W: Layers, b: Layers) -> None:
        self.W, self.b = W, b
        self.scalars = {name: getattr(state, name) for name in _STATE_SCALARS}
        self.scalars["rng_state"] = copy_rng_state(state.rng_state)
        h = state.history
        self.history = {name: getattr(h, name) for name in _HISTORY_SCALARS}
        self.lengths = {name: len(getattr(h, name)) for name in History._LISTS}
        self.optimizer = opt.snapshot()

    def restore(self, net: Network, state: TrainState, opt: Optimizer) -> None:
        """Put ``net``, ``state`` and ``opt`` back as they were at this commit."""
        set_params(net, self.W, self.b)
        for name, value in self.scalars.items():
            setattr(state, name, value)
        state.rng_state = copy_rng_state(self.scalars["rng_state"])
        h = state.history
        for name, value in self.history.items():
            setattr(h, name, value)
        for name, n in self.lengths.items():
            del getattr(h, name)[n:]
        opt.restore(self.optimizer)
        state.optimizer_state = opt.state_dict()


def params(net: Network) -> tuple[Layers, Layers]:
    """Copies of the network's parameters ``W[l]`` and ``b[l]``, l = 1..L."""
    W = Layers([_checks.copy(W_l) for W_l in net.W], "W")
    b = Layers([_checks.copy(b_l) for b_l in net.b], "b")
    return W, b


def set_params(net: Network, W: Layers, b: Layers) -> None:
    """Copy parameters into the network (copies, so the sources are never updated in place)."""
    for l in range(1, net.L + 1):
        net.W[l] = _checks.copy(W[l])
        net.b[l] = _checks.copy(b[l])

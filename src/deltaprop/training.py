r"""The fit loop: epochs of shuffled mini-batches, early stopping, callbacks, history, resume.

:func:`fit` trains a :class:`~deltaprop.network.Network` in place. Each epoch:

1. shuffles the training columns with a seeded NumPy ``Generator`` (``shuffle=True``);
2. for each mini-batch :math:`(X_B, Y_B)` of ``batch_size`` columns: back-propagation gives
   :math:`J_B, \partial J/\partial W^{[l]}, \partial J/\partial b^{[l]}`
   (``net._gradients``: no per-batch validation, :math:`J_B` stays an array so that a GPU is
   not synchronised per batch), then the optimiser's step (:mod:`deltaprop.optim`);
3. records the epoch's training loss :math:`\frac1n \sum_B m_B J_B` (the cost of each batch,
   weighted by its size, as scikit-learn's ``loss_curve_``), the validation loss and score
   when there is validation data, the mean gradient norm :math:`\lVert \partial J/\partial
   W^{[l]} \rVert_F` of each layer and the fraction of dead units of each hidden layer;
4. counts epochs without improvement: of the training loss by more than ``tol``, or with
   ``early_stopping`` of the validation score (R² for MSE networks, accuracy for classifiers)
   by more than ``tol``. After more than ``n_iter_no_change`` such epochs in a row training
   stops (the adaptive schedule first divides the learning rate by 5, down to 1e-6);
5. calls the callbacks' ``on_epoch_end(state, net)``.

With ``early_stopping`` the weights of the best validation epoch are restored at the end.

**Failure and interruption.** A non-finite training loss stops training at once with
:class:`NonFiniteLossError` (naming the epoch, suggesting a smaller learning rate), after
restoring the best weights so far. Ctrl-C (``KeyboardInterrupt``) rolls the network, the
optimiser and the random generator back to the end of the last completed epoch and raises
:class:`TrainingInterrupted`, which carries that consistent :class:`TrainState`; passing it
back as ``fit(..., state=state)`` continues and ends with the same weights, bit for bit, as a
run that was never interrupted. :meth:`TrainState.to_arrays` turns it into arrays and JSON
metadata for a safetensors checkpoint.

Example
-------
>>> import numpy as np
>>> import deltaprop as dp
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(3, 256))                         # 256 samples as columns
>>> Y = X[:1] - 2 * X[1:2] + 0.5                          # a linear target, (1, 256)
>>> net = dp.Network([3, 16, 1], seed=0)
>>> history = dp.fit(net, X, Y, lr=0.02, epochs=50)
>>> history.loss[-1] < 0.01 * history.loss[0]
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from . import _array
from .optim import SCHEDULES, Optimizer, Schedule, get_optimizer

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
    grad_norm : list of list of float
        ``grad_norm[e][l-1]``: mean over epoch e's batches of
        :math:`\\lVert \\partial J/\\partial W^{[l]} \\rVert_F`, l = 1..L.
    dead_fraction : list of list of float
        ``dead_fraction[e][l-1]``: fraction of hidden layer l's units (l = 1..L−1) that were
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
    grad_norm: list[list[float]] = field(default_factory=list)
    dead_fraction: list[list[float]] = field(default_factory=list)
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
            setattr(h, name, [list(v) if isinstance(v, list) else v for v in getattr(h, name)])
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
    best_W, best_b : list of arrays or None
        Parameters of the best epoch so far (``best_W[l-1]`` of shape (n_l, n_{l-1})).
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
    best_W: list[Any] | None = None
    best_b: list[Any] | None = None
    best_score: float = -math.inf
    best_loss: float = math.inf
    no_improvement: int = 0

    FORMAT = "deltaprop.TrainState"
    VERSION = 1

    @property
    def finished(self) -> bool:
        """Whether the last :func:`fit` ended normally (not interrupted)."""
        return self.history.stopped_reason is not None

    def copy(self) -> TrainState:
        """A copy sharing no mutable list or dict with this one (arrays are shared)."""
        s = TrainState(**{f.name: getattr(self, f.name) for f in fields(self)})
        s.history = self.history.copy()
        s.optimizer_state = dict(self.optimizer_state)
        s.rng_state = _copy_rng_state(self.rng_state)
        s.best_W = None if self.best_W is None else list(self.best_W)
        s.best_b = None if self.best_b is None else list(self.best_b)
        return s

    # --- serialisation --------------------------------------------------------------------

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The state as NumPy arrays (for safetensors) and JSON-ready metadata.

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
        arrays: dict[str, np.ndarray] = {
            "history.loss": np.asarray(h.loss, dtype=np.float64).reshape(E),
            "history.val_loss": np.asarray(h.val_loss, dtype=np.float64).reshape(-1),
            "history.val_score": np.asarray(h.val_score, dtype=np.float64).reshape(-1),
            "history.grad_norm": _matrix(h.grad_norm, E),
            "history.dead_fraction": _matrix(h.dead_fraction, E),
            "history.lr": np.asarray(h.lr, dtype=np.float64).reshape(E),
        }
        if self.best_W is not None and self.best_b is not None:
            for l, (W, b) in enumerate(zip(self.best_W, self.best_b), start=1):
                arrays[f"best.W.{l}"] = np.ascontiguousarray(_array.to_numpy(W))
                arrays[f"best.b.{l}"] = np.ascontiguousarray(_array.to_numpy(b))
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
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], meta: dict[str, Any]) -> TrainState:
        """Rebuild a state from :meth:`to_arrays`'s output (validated: ``ValueError`` if not)."""
        if not isinstance(meta, dict) or meta.get("format") != cls.FORMAT:
            raise ValueError(f"not a {cls.FORMAT} checkpoint (metadata 'format' is missing)")
        if meta.get("version") != cls.VERSION:
            raise ValueError(
                f"TrainState version {meta.get('version')!r} is not supported "
                f"(this deltaprop reads version {cls.VERSION})"
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
                grad_norm=[[float(x) for x in row] for row in a["history.grad_norm"]],
                dead_fraction=[[float(x) for x in row] for row in a["history.dead_fraction"]],
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
            best_W = [a[f"best.W.{l}"] for l in range(1, L + 1)] if L else None
            best_b = [a[f"best.b.{l}"] for l in range(1, L + 1)] if L else None
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


def _matrix(rows: list[list[float]], E: int) -> np.ndarray:
    width = len(rows[0]) if rows else 0
    return np.asarray(rows, dtype=np.float64).reshape(E, width)


def _copy_rng_state(s: dict[str, Any] | None) -> dict[str, Any] | None:
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


# --- validation scores --------------------------------------------------------------------


def r2_score(A: np.ndarray, Y: np.ndarray) -> float:
    """R² averaged over outputs (scikit-learn's ``r2_score``), ``A`` and ``Y`` of shape (n_L, m)."""
    from sklearn.metrics import r2_score as _r2

    return float(_r2(Y.T, A.T))


def accuracy(A: np.ndarray, Y: np.ndarray) -> float:
    """Share of samples whose every output is right, ``A`` and ``Y`` of shape (n_L, m).

    One output (or several independent sigmoids): the prediction is ``A > 0.5``; several
    softmax outputs: the class with the largest probability.
    """
    if A.shape[0] == 1 or not np.allclose(Y.sum(axis=0), 1.0):
        return float(np.mean(np.all((A > 0.5) == (Y > 0.5), axis=0)))
    return float(np.mean(np.argmax(A, axis=0) == np.argmax(Y, axis=0)))


def _check_validation_data(net: Any, validation_data: Any) -> tuple[Any, Any]:
    """``validation_data`` = (X_val, Y_val) unpacked and validated against ``net``."""
    try:
        X_val, Y_val = validation_data
    except (TypeError, ValueError):
        raise TypeError("validation_data must be a pair (X_val, Y_val)") from None
    return net._check_XY(X_val, Y_val)


def _default_scoring(net: Any) -> tuple[str, Callable[[np.ndarray, np.ndarray], float] | None]:
    name = net.loss.name
    if name == "mse":
        return "r2", r2_score
    if name in ("binary_cross_entropy", "cross_entropy"):
        return "accuracy", accuracy
    return "neg_loss", None


# --- the fit loop ---------------------------------------------------------------------------


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    return int(value)


def _seed_int(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be None or an integer >= 0; got {seed!r}")
    return int(seed)


def _copy(x: Any) -> Any:
    if type(x) is np.ndarray:
        return x.copy()
    return _array.namespace(x).asarray(x, copy=True)


def _set_params(net: Any, W: Sequence[Any], b: Sequence[Any]) -> None:
    """Copy parameters into the network (copies, so the sources are never updated in place)."""
    for l in range(1, net.L + 1):
        net.W[l] = _copy(W[l - 1])
        net.b[l] = _copy(b[l - 1])


def fit(
    net: Any,
    X: Any,
    Y: Any,
    *,
    optimizer: str | Optimizer = "adam",
    lr: float = 0.001,
    epochs: int = 200,
    batch_size: int | str = "auto",
    shuffle: bool = True,
    seed: int | None = 0,
    learning_rate: str = "constant",
    power_t: float = 0.5,
    momentum: float = 0.9,
    nesterov: bool = True,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    early_stopping: bool = False,
    validation_fraction: float = 0.1,
    validation_data: tuple[Any, Any] | None = None,
    n_iter_no_change: int | None = 10,
    tol: float = 1e-4,
    callbacks: Sequence[Any] = (),
    state: TrainState | None = None,
    scoring: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> History:
    """Train ``net`` in place on the columns of ``X`` and ``Y``.

    Parameters
    ----------
    net : Network
    X : array of shape (n_0, n)
        Training inputs, samples as columns (the network's dtype and backend). Dask arrays
        (``X`` and ``Y``) train full-batch, one gradient over all blocks per epoch, on the
        active Dask scheduler; ``optimizer="lbfgs"`` is then also accepted
        (:mod:`deltaprop.distributed`).
    Y : array of shape (n_L, n)
        Training targets, samples as columns.
    optimizer : {"adam", "sgd"} or Optimizer, default "adam"
        By name (built from ``lr``, ``momentum``, ``nesterov``, ``beta_1``, ``beta_2``,
        ``epsilon``) or an :class:`~deltaprop.optim.Optimizer` instance.
    lr : float, default 0.001
        Initial learning rate :math:`\\eta_0` (for an optimiser given by name).
    epochs : int, default 200
        Total number of epochs, counting those already done in ``state``.
    batch_size : int or "auto", default "auto"
        Columns per mini-batch; "auto" is ``min(200, n)``. Clipped to the training size.
    shuffle : bool, default True
        Shuffle the training columns each epoch.
    seed : int or None, default 0
        Seeds the validation split and the shuffling (NumPy ``Generator``); a resumed run
        uses its state's seed.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        The schedule of :mod:`deltaprop.optim` (``power_t`` for "invscaling").
    momentum, nesterov : float, bool, default 0.9, True
        SGD's momentum and Nesterov's variant.
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's parameters.
    early_stopping : bool, default False
        Stop when the validation score has not improved by ``tol`` for ``n_iter_no_change``
        epochs, and restore the best validation epoch's weights.
    validation_fraction : float, default 0.1
        Share of the columns held out for validation when ``early_stopping`` and no
        ``validation_data`` are given.
    validation_data : (X_val, Y_val) or None
        Validation columns, shapes (n_0, n_val) and (n_L, n_val); recorded in the history
        every epoch, and used for early stopping when ``early_stopping``.
    n_iter_no_change : int or None, default 10
        Epochs without improvement tolerated; None never stops early.
    tol : float, default 1e-4
        Smallest improvement that counts.
    callbacks : sequence of objects
        Each may define ``on_train_begin(state, net)``, ``on_epoch_end(state, net)`` (return
        True to stop training) and ``on_train_end(state, net)``.
    state : TrainState or None
        A state from an interrupted or earlier run to continue, or a fresh ``TrainState()``
        to keep up to date; it is updated in place.
    scoring : callable or None
        ``scoring(A_val, Y_val) -> float`` (higher is better) on NumPy arrays of shape
        (n_L, n_val); by default R² for MSE, accuracy for the cross-entropies, and minus the
        validation cost otherwise.

    Returns
    -------
    History
        Also ``state.history``.

    Raises
    ------
    NonFiniteLossError
        The training loss became NaN or infinite (the best weights so far are restored).
    TrainingInterrupted
        Ctrl-C; the network and ``.state`` are those of the last completed epoch.
    """
    # --- validate everything once -----------------------------------------------------------
    epochs = _check_positive_int(epochs, "epochs", minimum=0)
    if n_iter_no_change is not None:
        n_iter_no_change = _check_positive_int(n_iter_no_change, "n_iter_no_change")
    if learning_rate not in SCHEDULES:
        raise ValueError(
            f"learning_rate must be one of {', '.join(SCHEDULES)}; got {learning_rate!r}"
        )
    if not isinstance(tol, (int, float, np.floating)) or not math.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0; got {tol!r}")
    if _array.is_dask(X) or _array.is_dask(Y):  # full-batch epochs on Dask: deltaprop.distributed
        from .distributed import _training_fit

        return _training_fit(
            net,
            X,
            Y,
            optimizer=optimizer,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            callbacks=callbacks,
            state=state,
            early_stopping=early_stopping,
            validation_data=validation_data,
            optimizer_kwargs=dict(
                momentum=momentum, nesterov=nesterov, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
            ),
        )
    X, Y = net._check_XY(X, Y)
    xp = net.xp
    n = X.shape[1]

    if state is None:
        state = TrainState()
    elif not isinstance(state, TrainState):
        raise TypeError(f"state must be a TrainState or None; got {type(state).__name__}")
    resuming = state.rng_state is not None
    if resuming:
        seed = state.seed
    state.seed = _seed_int(seed)

    # validation data: given, or a seeded held-out fraction
    seeds = np.random.SeedSequence(state.seed).spawn(2)
    if validation_data is not None:
        X_val, Y_val = _check_validation_data(net, validation_data)
        X_train, Y_train = X, Y
    elif early_stopping:
        if isinstance(validation_fraction, bool) or not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1); got {validation_fraction!r}")
        n_val = math.ceil(validation_fraction * n)
        if n - n_val < 1:
            raise ValueError(
                f"validation_fraction={validation_fraction!r} leaves no training sample "
                f"out of n = {n}; use a smaller fraction or more samples"
            )
        perm = np.random.default_rng(seeds[0]).permutation(n)
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        X_val, Y_val = _take(xp, X, val_idx), _take(xp, Y, val_idx)
        X_train, Y_train = _take(xp, X, train_idx), _take(xp, Y, train_idx)
    else:
        X_val = Y_val = None
        X_train, Y_train = X, Y
    has_val = X_val is not None
    n_train = X_train.shape[1]

    if batch_size == "auto":
        batch_size = min(200, n_train)
    else:
        batch_size = _check_positive_int(batch_size, "batch_size")
        if batch_size > n_train:
            warnings.warn(
                f"batch_size={batch_size} is larger than the {n_train} training samples; "
                f"clipped to {n_train}",
                UserWarning,
                stacklevel=2,
            )
            batch_size = n_train

    # optimiser and schedule
    if isinstance(optimizer, Optimizer):
        opt = optimizer
    elif isinstance(optimizer, str) and optimizer.lower() == "sgd":
        opt = get_optimizer("sgd", lr=lr, momentum=momentum, nesterov=nesterov)
    elif isinstance(optimizer, str) and optimizer.lower() == "adam":
        opt = get_optimizer("adam", lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    else:
        opt = get_optimizer(optimizer)  # raises the "unknown optimizer" error
    if resuming:
        if state.optimizer is not None and state.optimizer != opt.name:
            raise ValueError(
                f"state was saved with optimizer {state.optimizer!r}; got {opt.name!r}"
            )
        lr_given = opt.lr
        opt.load_state_dict(state.optimizer_state)  # moments, step count and current η
        if state.lr0 is None:
            state.lr0 = lr_given
    else:
        state.lr0 = opt.lr
    schedule = Schedule(learning_rate, state.lr0, power_t)  # η₀ of the whole run
    state.optimizer = opt.name
    state.lr = opt.lr

    rng = np.random.default_rng(seeds[1])
    if resuming:
        rng.bit_generator.state = _copy_rng_state(state.rng_state)
    else:
        state.rng_state = rng.bit_generator.state

    score_name, score_fn = _default_scoring(net)
    if scoring is not None:
        score_name, score_fn = getattr(scoring, "__name__", "custom"), scoring
    history = state.history
    history.score_name = score_name
    history.stopped_reason = None
    stop_on_val = early_stopping and has_val

    L = net.L
    hidden = L - 1
    on_host = net.backend == "numpy"  # J is a NumPy scalar: no device to synchronise
    callbacks = list(callbacks)

    # --- the committed point: the end of the last completed epoch ---------------------------
    # (the optimiser's state is exported with state_dict() only where someone can see it:
    # for the callbacks, at the end, and on a rollback; in between, an on-device snapshot)
    state.optimizer_state = opt.state_dict()
    committed_W = [_copy(W) for W in net.W]
    committed_b = [_copy(b) for b in net.b]
    committed = _Commit(state, opt._snapshot())

    def rollback() -> None:
        _set_params(net, committed_W, committed_b)
        committed.restore(state)
        opt._restore(committed.optimizer)
        state.optimizer_state = opt.state_dict()

    for cb in callbacks:
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin(state, net)

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while state.epoch < epochs:
                e = state.epoch + 1
                lr_epoch = opt.lr
                # 1. shuffle
                if shuffle:
                    perm = rng.permutation(n_train)
                    Xs, Ys = _take(xp, X_train, perm), _take(xp, Y_train, perm)
                else:
                    Xs, Ys = X_train, Y_train
                # 2. mini-batches: back-propagation, then the optimiser's step
                J_sum: Any = 0.0
                norm_sum: list[Any] = [0.0] * L
                alive: list[Any] = [None] * hidden
                n_batches = 0
                for start in range(0, n_train, batch_size):
                    stop = min(start + batch_size, n_train)
                    J, dW, db = net._gradients(Xs[:, start:stop], Ys[:, start:stop])
                    dW, db = list(dW), list(db)  # layers 1..L at positions 0..L-1
                    J_sum += (float(J) if on_host else J) * (stop - start)
                    for l, g in enumerate(dW):
                        norm_sum[l] += _fro(xp, g)
                    for l in range(hidden):
                        if alive[l] is None:
                            alive[l] = db[l] != 0
                        else:
                            alive[l] |= db[l] != 0
                    opt.step(net, dW, db)
                    n_batches += 1
                state.t += n_train
                # 3. the epoch's record (one conversion to host per quantity and epoch)
                loss = _to_float(J_sum) / n_train
                if not math.isfinite(loss):
                    rollback()
                    _raise_non_finite(net, state, e, loss, lr_epoch)
                history.loss.append(loss)
                history.lr.append(lr_epoch)
                history.grad_norm.append([_to_float(s) / n_batches for s in norm_sum])
                history.dead_fraction.append([_dead_fraction(a) for a in alive])
                W_now = [_copy(W) for W in net.W]
                b_now = [_copy(b) for b in net.b]
                if has_val:
                    _, A = net._forward_pass(X_val)
                    J_val = _array.item(net._cost(A[L], Y_val))
                    history.val_loss.append(J_val)
                    if score_fn is None:
                        score = -J_val
                    else:
                        score = float(score_fn(_array.to_numpy(A[L]), _array.to_numpy(Y_val)))
                    history.val_score.append(score)
                # 4. improvement, best weights, schedule
                if stop_on_val:
                    if not score >= state.best_score + tol:
                        state.no_improvement += 1
                    else:
                        state.no_improvement = 0
                    if score > state.best_score:
                        state.best_score = score
                        state.best_W, state.best_b = W_now, b_now
                        history.best_epoch = e
                else:
                    if loss > state.best_loss - tol:
                        state.no_improvement += 1
                    else:
                        state.no_improvement = 0
                    if loss < state.best_loss:
                        state.best_loss = loss
                        state.best_W, state.best_b = W_now, b_now
                        history.best_epoch = e
                    if has_val:
                        state.best_score = max(state.best_score, score)
                state.epoch = e
                history.n_iter = e
                history.t = state.t
                schedule.epoch_end(opt, state.t)
                stop_reason = None
                if n_iter_no_change is not None and state.no_improvement > n_iter_no_change:
                    if schedule.on_plateau(opt):
                        state.no_improvement = 0
                    else:
                        stop_reason = "early_stopping" if stop_on_val else "converged"
                state.lr = opt.lr
                state.rng_state = rng.bit_generator.state
                # commit: this epoch is now the rollback point
                committed_W, committed_b = W_now, b_now
                committed = _Commit(state, opt._snapshot())
                # 5. callbacks
                if callbacks:
                    state.optimizer_state = opt.state_dict()
                for cb in callbacks:
                    if hasattr(cb, "on_epoch_end") and cb.on_epoch_end(state, net):
                        stop_reason = stop_reason or "callback"
                if stop_reason is not None:
                    history.stopped_reason = stop_reason
                    break
            else:
                history.stopped_reason = "max_epochs"
    except KeyboardInterrupt as exc:
        rollback()
        raise TrainingInterrupted(state) from exc
    state.optimizer_state = opt.state_dict()

    if stop_on_val and state.best_W is not None:
        _set_params(net, state.best_W, state.best_b)
    for cb in callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(state, net)
    return history


def _raise_non_finite(net: Any, state: TrainState, epoch: int, loss: float, lr: float) -> None:
    """After a rollback to the last finite epoch: put the best weights so far in ``net``, raise."""
    if state.best_W is not None and state.best_b is not None:
        _set_params(net, state.best_W, state.best_b)
    best = f" (epoch {state.history.best_epoch})" if state.history.best_epoch else ""
    raise NonFiniteLossError(
        f"the training loss became {loss} at epoch {epoch} (learning rate {lr:g}): training "
        f"diverged; try a smaller learning rate. The network holds the best weights so far{best}.",
        epoch,
        state,
    )


_STATE_SCALARS = tuple(
    f.name for f in fields(TrainState) if f.name not in ("history", "optimizer_state")
)
_HISTORY_SCALARS = tuple(f.name for f in fields(History) if f.name not in History._LISTS)


class _Commit:
    """The state at the end of an epoch, cheap to take: history lists are append-only, so
    their lengths (not copies) are enough to roll back to this point; the optimiser's state
    is an on-device snapshot (``Optimizer._snapshot``)."""

    def __init__(self, state: TrainState, optimizer: Any) -> None:
        self.scalars = {name: getattr(state, name) for name in _STATE_SCALARS}
        self.scalars["rng_state"] = _copy_rng_state(state.rng_state)
        h = state.history
        self.history = {name: getattr(h, name) for name in _HISTORY_SCALARS}
        self.lengths = {name: len(getattr(h, name)) for name in History._LISTS}
        self.optimizer = optimizer

    def restore(self, state: TrainState) -> None:
        for name, value in self.scalars.items():
            setattr(state, name, value)
        state.rng_state = _copy_rng_state(self.scalars["rng_state"])
        h = state.history
        for name, value in self.history.items():
            setattr(h, name, value)
        for name, n in self.lengths.items():
            del getattr(h, name)[n:]


def _take(xp: Any, x: Any, idx: np.ndarray) -> Any:
    """Columns ``idx`` of ``x`` (shape (rows, n)) in that order."""
    if type(x) is np.ndarray:
        return x[:, idx]
    return xp.take(x, _array.from_numpy(xp, idx, device=_array.device_of(x)), axis=1)


def _to_float(x: Any) -> float:
    """A Python float from a float, a NumPy scalar or a 0-d array of any backend."""
    if isinstance(x, (float, np.floating, np.ndarray)):
        return float(x)
    return _array.item(x)


def _dead_fraction(alive: Any) -> float:
    """Share of False entries of the (n_l, 1) mask of units that received some error."""
    a = _array.to_numpy(alive)
    return 1.0 - np.count_nonzero(a) / a.size


def _fro(xp: Any, dW: Any) -> Any:
    """:math:`\\lVert dW \\rVert_F`: a float for NumPy, a 0-d array (no sync) otherwise."""
    if type(dW) is np.ndarray:
        v = dW.ravel()
        return math.sqrt(float(np.dot(v, v)))
    return xp.sqrt(xp.sum(dW * dW))


__all__ = [
    "STOP_REASONS",
    "History",
    "NonFiniteLossError",
    "TrainState",
    "TrainingInterrupted",
    "accuracy",
    "fit",
    "r2_score",
]

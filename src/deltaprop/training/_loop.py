r"""The fit loop: :func:`fit` runs epochs over a batch source, one gradient function, one optimiser.

Read :meth:`_Run.epoch` first: for each batch of the source, the gradient, then the optimiser's
step; then the epoch's record, the improvement rule, the schedule, the commit point and the
callbacks, each a named step (:mod:`._steps`). The same code runs in memory (shuffled
mini-batches) and on Dask (the whole data set as one batch): only the batch source differs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _array, _checks, _signals, distributed
from .._layers import Layers
from ..optim import SCHEDULES, SGD, Adam, Optimizer, Schedule, get_optimizer
from ._batches import DaskBatch, MiniBatches, split_validation, with_weights
from ._lbfgs import fit_lbfgs, is_lbfgs
from ._scoring import Scorer, scorer
from ._state import (
    Commit,
    History,
    TrainingInterrupted,
    TrainState,
    copy_rng_state,
    params,
)
from ._steps import (
    EpochSums,
    Improvement,
    call_back,
    params_finite,
    raise_non_finite,
    validate,
)

if TYPE_CHECKING:
    from ..network import Network


def fit(
    net: Network,
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
    scoring: Scorer | None = None,
    sample_weight: Any = None,
    max_fun: int = 15000,
) -> History:
    """Train ``net`` in place on the columns of ``X`` and ``Y``.

    Parameters
    ----------
    net : Network
    X : array of shape (n_0, n)
        Training inputs, samples as columns (the network's dtype and backend). Dask arrays
        (``X`` and ``Y``) train full-batch, one gradient over all blocks per epoch, on the
        active Dask scheduler (:mod:`deltaprop.distributed`).
    Y : array of shape (n_L, n)
        Training targets, samples as columns.
    optimizer : {"adam", "sgd", "lbfgs"} or Optimizer, default "adam"
        By name (built from ``lr``, ``momentum``, ``nesterov``, ``beta_1``, ``beta_2``,
        ``epsilon``) or an :class:`~deltaprop.optim.Optimizer` instance. ``"lbfgs"`` is
        full-batch L-BFGS-B (scipy), at most ``epochs`` iterations and ``max_fun`` cost
        evaluations, stopping when the largest gradient entry is ``<= tol``
        (:mod:`deltaprop.training._lbfgs`).
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
        (n_L, n_val) (with ``sample_weight``: ``scoring(A_val, Y_val, sample_weight=w_val)``,
        ``w_val`` of shape (n_val,)); by default R² for MSE, accuracy for the cross-entropies,
        and minus the validation cost otherwise.
    sample_weight : array of shape (n,) or None
        Non-negative weights of the columns (in memory only, not with L-BFGS): each batch's
        cost is :math:`\\sum_i w_i \\ell_i / \\sum_i w_i` (scikit-learn's MLPs'
        convention) and column i of :math:`\\delta^{[L]}` is scaled to match
        (:meth:`Network.backward`); the weights follow the shuffling. The held-out validation
        samples (``validation_fraction``) keep their weights: their cost and score are
        weighted as scikit-learn's MLPs weight the score (a custom ``scoring`` is called with
        ``sample_weight=``); ``validation_data`` is not weighted.
    max_fun : int, default 15000
        L-BFGS only: most cost evaluations (scikit-learn's ``max_fun``).

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
    epochs = _checks.positive_int(epochs, "epochs", minimum=0)
    rule = _improvement_rule(n_iter_no_change, tol, early_stopping)
    if learning_rate not in SCHEDULES:
        raise ValueError(
            f"learning_rate must be one of {', '.join(SCHEDULES)}; got {learning_rate!r}"
        )
    dask = _array.is_dask(X) or _array.is_dask(Y)
    X, Y = distributed.check_batch(net, X, Y) if dask else net._check_XY(X, Y)
    state = _check_state(state)
    if sample_weight is not None:
        if dask:
            raise ValueError("sample_weight is for in-memory training")
        Y = with_weights(net, Y, sample_weight)
    if is_lbfgs(optimizer):
        w = None if sample_weight is None else Y[-1:]
        Y = Y if sample_weight is None else Y[:-1]
        return fit_lbfgs(
            net, X, Y, epochs, rule, callbacks, state, validation_data, batch_size, max_fun, w
        )
    resuming = state.rng_state is not None
    state.seed = _checks.seed(state.seed if resuming else seed)
    split_seed, shuffle_seed = np.random.SeedSequence(state.seed).spawn(2)
    train, held_out = split_validation(
        net, X, Y, validation_data, early_stopping, validation_fraction, split_seed
    )
    val = _weighted_validation(held_out, sample_weight is not None and validation_data is None)
    rule.on_val = early_stopping and val is not None
    source = (
        DaskBatch(net, *train, batch_size)
        if dask
        else MiniBatches(net, *train, batch_size, shuffle, weighted=sample_weight is not None)
    )
    opt = _optimizer(optimizer, lr, momentum, nesterov, beta_1, beta_2, epsilon)
    schedule = _resume_optimizer(state, opt, resuming, learning_rate, power_t)
    rng = np.random.default_rng(shuffle_seed)
    if resuming:
        rng.bit_generator.state = copy_rng_state(state.rng_state) or {}
    else:
        state.rng_state = dict(rng.bit_generator.state)
    run = _Run(net, state, opt, schedule, source, rng, val, scoring, rule, list(callbacks))
    return run.train(epochs)


class _Run:
    """One call of :func:`fit`: the network, its state, the optimiser and the data."""

    def __init__(
        self,
        net: Network,
        state: TrainState,
        opt: Optimizer,
        schedule: Schedule,
        source: MiniBatches | DaskBatch,
        rng: np.random.Generator,
        val: tuple[Any, Any, Any] | None,
        scoring: Scorer | None,
        rule: Improvement,
        callbacks: list[Any],
    ) -> None:
        self.net, self.state, self.opt, self.schedule = net, state, opt, schedule
        self.source, self.rng, self.val, self.rule = source, rng, val, rule
        self.callbacks = callbacks
        score_name, self.score_fn = scorer(net, scoring)
        state.history.score_name = score_name
        state.history.stopped_reason = None
        # the committed point: the end of the last completed epoch (the optimiser's state is
        # exported with state_dict() only where someone can see it: for the callbacks, at the
        # end, and on a rollback; in between, an on-device snapshot)
        state.optimizer_state = opt.state_dict()
        self.commit = Commit(state, opt, *params(net))

    def train(self, epochs: int) -> History:
        """Epochs until ``epochs`` are done or a stop rule fires; the best weights restored."""
        state, history = self.state, self.state.history
        call_back(self.callbacks, "on_train_begin", state, self.net)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while state.epoch < epochs:
                    reason = self.epoch()
                    if reason is not None:
                        history.stopped_reason = reason
                        break
                else:
                    history.stopped_reason = "max_epochs"
        except KeyboardInterrupt as exc:
            with _signals.deferred(deliver=False):  # a second Ctrl-C cannot cut the rollback
                self.commit.restore(self.net, state, self.opt)
            raise TrainingInterrupted(state) from exc
        state.optimizer_state = self.opt.state_dict()
        self.rule.restore_best(self.net, state)
        call_back(self.callbacks, "on_train_end", state, self.net)
        return history

    def epoch(self) -> str | None:
        """One epoch: every batch's gradient and step, then its record; why to stop, or None."""
        net, state, opt, source = self.net, self.state, self.opt, self.source
        lr = opt.lr
        sums = EpochSums(net)
        if isinstance(source, MiniBatches) and source.compiled:  # one XLA program (_jax)
            source.run_epoch(self.rng, opt, sums)
        else:
            out = opt._grad_buffers(net)  # NumPy: the gradients go straight where opt reads them
            for X_B, Y_B in source.batches(self.rng):
                J, dW, db = source.gradient(X_B, Y_B, out)  # back-propagation
                sums.add(J, dW, db, X_B.shape[1])
                opt.step(net, dW, db)  # θ ← θ + U(∂J/∂θ)
        state.t += source.n
        loss = sums.loss(source.n)
        if not math.isfinite(loss):
            self.diverged(loss, lr)
        if not params_finite(net.W, net.b):
            # the last batch's step diverged after its J was taken (with one batch per
            # epoch, the epoch's loss is finite while the weights are not)
            self.diverged(loss, lr, "the weights became NaN or infinite")
        W, b, score = self.record(sums, loss, lr)
        if state.history.val_loss and not math.isfinite(state.history.val_loss[-1]):
            # finite weights, overflowing outputs
            self.diverged(loss, lr, f"the validation loss became {state.history.val_loss[-1]}")
        self.rule.update(state, loss, score, W, b)
        reason = self.end_epoch(W, b)
        if self.callbacks:
            state.optimizer_state = opt.state_dict()
        if call_back(self.callbacks, "on_epoch_end", state, net):
            reason = reason or "callback"
        return reason

    def diverged(self, loss: float, lr: float, what: str = "") -> None:
        """Roll back to the last committed epoch and raise :class:`NonFiniteLossError`."""
        self.commit.restore(self.net, self.state, self.opt)
        raise_non_finite(self.net, self.state, self.state.epoch + 1, loss, lr, what)

    def record(self, sums: EpochSums, loss: float, lr: float) -> tuple[Any, Any, float | None]:
        """The epoch's history entries; its weights (copies) and validation score (or None)."""
        history = self.state.history
        history.loss.append(loss)
        history.lr.append(lr)
        history.grad_norm.append(sums.grad_norm())
        history.dead_fraction.append(sums.dead_fraction())
        W, b = params(self.net)
        if self.val is None:
            return W, b, None
        J_val, score = validate(self.net, *self.val, self.score_fn)  # (X_val, Y_val, w_val)
        history.val_loss.append(J_val)
        history.val_score.append(score)
        return W, b, score

    def end_epoch(self, W: Layers, b: Layers) -> str | None:
        """Count the epoch, apply the schedule, commit: the epoch is now the rollback point."""
        state, opt = self.state, self.opt
        state.epoch += 1
        state.history.n_iter = state.epoch
        state.history.t = state.t
        self.schedule.epoch_end(opt, state.t)
        reason = self.rule.stop_reason(state, self.schedule, opt)
        state.lr = opt.lr
        state.rng_state = dict(self.rng.bit_generator.state)
        self.commit = Commit(state, opt, W, b)
        return reason


# --- set-up -------------------------------------------------------------------------------------


def _improvement_rule(n_iter_no_change: Any, tol: Any, early_stopping: bool) -> Improvement:
    if n_iter_no_change is not None:
        n_iter_no_change = _checks.positive_int(n_iter_no_change, "n_iter_no_change")
    tol = _checks.number(tol, "tol", low=0.0)
    return Improvement(tol=tol, n_iter_no_change=n_iter_no_change, on_val=bool(early_stopping))


def _weighted_validation(val: Any, weighted: bool) -> tuple[Any, Any, Any] | None:
    """``(X_val, Y_val, w_val)``: the held-out columns with their weights (shape (1, n_val),
    split off ``Y_val``'s last row, see :func:`with_weights`) when ``weighted``, else None."""
    if val is None:
        return None
    X_val, Y_val = val
    if not weighted:
        return X_val, Y_val, None
    w_val = Y_val[-1:]
    if not float(_array.to_numpy(w_val).sum()) > 0:
        raise ValueError(
            "sample_weight is 0 on every held-out validation sample: early stopping cannot "
            "score them; give some of them weight, or use a larger validation_fraction"
        )
    return X_val, Y_val[:-1], w_val


def _check_state(state: Any) -> TrainState:
    if state is None:
        return TrainState()
    if not isinstance(state, TrainState):
        raise TypeError(f"state must be a TrainState or None; got {type(state).__name__}")
    return state


def _optimizer(
    optimizer: str | Optimizer,
    lr: float,
    momentum: float,
    nesterov: bool,
    beta_1: float,
    beta_2: float,
    epsilon: float,
) -> Optimizer:
    """``optimizer`` itself, or the optimiser of that name built from these hyper-parameters."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    name = optimizer.lower() if isinstance(optimizer, str) else None
    if name == "sgd":
        return SGD(lr=lr, momentum=momentum, nesterov=nesterov)
    if name == "adam":
        return Adam(lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    return get_optimizer(optimizer)  # raises the "unknown optimizer" error


def _resume_optimizer(
    state: TrainState, opt: Optimizer, resuming: bool, learning_rate: str, power_t: float
) -> Schedule:
    """Load a resumed run's optimiser state into ``opt``; the schedule from the run's η₀."""
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
    return schedule

"""The named steps of an epoch, shared by the fit loop and the L-BFGS solver.

* :class:`EpochSums`: what the epoch's batches add up to (cost, gradient norms, live units);
* :func:`validate`: the validation cost and score after the epoch's steps;
* :class:`Improvement`: the rule that counts epochs without improvement, keeps the best
  weights, and says when to stop;
* :func:`call_back`: the callbacks' hooks;
* :func:`raise_non_finite`: the divergence error, after the rollback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _array
from .._layers import Layers
from ._scoring import Scorer
from ._state import NonFiniteLossError, TrainState, set_params

if TYPE_CHECKING:
    from ..network import Network
    from ..optim import Optimizer, Schedule


class EpochSums:
    """Running sums over an epoch's batches, kept on the device until the epoch ends.

    ``J``: :math:`\\sum_B m_B J_B`; ``norms[l]``: :math:`\\sum_B \\lVert \\partial J_B /
    \\partial W^{[l]} \\rVert_F`, l = 1..L; ``alive[l]``: the (n_l, 1) mask of the units of
    hidden layer l (l = 1..L−1) whose :math:`\\partial J_B/\\partial b^{[l]}` was non-zero
    in some batch.
    """

    def __init__(self, net: Network) -> None:
        self.xp = net.xp
        self.on_host = net.backend == "numpy"  # J is a NumPy scalar: no device to synchronise
        self.J: Any = 0.0
        self.norms = Layers([0.0] * net.L, "norms")
        self.alive = Layers([None] * (net.L - 1), "alive")
        self.n_batches = 0

    def add(self, J: Any, dW: Sequence[Any], db: Sequence[Any], m: int) -> None:
        """One batch of ``m`` columns; call before the optimiser's step (it may reuse dW)."""
        self.J += (float(J) if self.on_host else J) * m
        for l in range(1, len(self.norms) + 1):
            self.norms[l] += _fro(self.xp, dW[l])
        for l in range(1, len(self.alive) + 1):  # hidden layers
            live = db[l] != 0
            self.alive[l] = live if self.alive[l] is None else self.alive[l] | live
        self.n_batches += 1

    def add_epoch(self, J: Any, sq: Any, alive: list[Any], widths: list[int]) -> None:
        """A compiled epoch's record (:func:`deltaprop._jax.epoch`): each batch's cost ``J[B]``
        and squared gradient norms ``sq[B, l-1]`` (a NumPy matrix: column l-1 is layer l), and
        the units that got some error (hidden layers in order)."""
        for B, m in enumerate(widths):  # in batch order, as add() would have summed them
            self.J += float(J[B]) * m
            for l in range(1, len(self.norms) + 1):
                self.norms[l] += math.sqrt(float(sq[B, l - 1]))
        self.alive = Layers(list(alive), "alive")
        self.n_batches += len(widths)

    def loss(self, n: int) -> float:
        """The epoch's training loss :math:`\\frac1n \\sum_B m_B J_B` (one device sync)."""
        return _to_float(self.J) / n

    def grad_norm(self) -> Layers:
        """``grad_norm[l]``: the mean over the batches of :math:`\\lVert \\partial J_B/\\partial
        W^{[l]} \\rVert_F`, l = 1..L."""
        return Layers([_to_float(s) / self.n_batches for s in self.norms], "grad_norm")

    def dead_fraction(self) -> Layers:
        """``dead_fraction[l]``: the share of hidden layer l's units no error reached."""
        return Layers([_dead_fraction(a) for a in self.alive], "dead_fraction")


def validate(
    net: Network, X_val: Any, Y_val: Any, w_val: Any, score_fn: Scorer | None
) -> tuple[float, float]:
    """The validation cost and score (minus the cost without ``score_fn``).

    With weights ``w_val`` (shape (1, n_val), or None) both are weighted as scikit-learn's
    MLPs weight their validation score: the cost :math:`\\sum_i w_i \\ell_i / \\sum_i w_i`
    (plus the L2 penalty), the score ``score_fn(A, Y, sample_weight=w)`` with ``w`` of shape
    (n_val,); a sample of weight 0 counts as if it were not there.
    """
    Z, A = net._forward_pass(X_val)
    L = net.L
    if w_val is None:
        J = net._cost(A[L], Y_val, Z[L])  # from the logits where it can
    else:
        J = net._weighted_cost(A[L], Y_val, Z[L], w_val)
    J_val = _array.item(J)
    if not math.isfinite(J_val):
        return J_val, math.nan  # divergence: the loop stops (the scorer would refuse NaN)
    if score_fn is None:
        return J_val, -J_val
    A_L, Y = _array.to_numpy(A[L]), _array.to_numpy(Y_val)
    if w_val is None:
        return J_val, float(score_fn(A_L, Y))
    return J_val, float(score_fn(A_L, Y, sample_weight=_array.to_numpy(w_val).reshape(-1)))


@dataclass
class Improvement:
    """The improvement rule: of the validation score (``on_val``) or of the training loss.

    An epoch improves when it beats the best so far by more than ``tol``; after more than
    ``n_iter_no_change`` epochs in a row that do not, training stops (the adaptive schedule
    first divides the learning rate by 5). The best epoch's weights are kept in the state.
    """

    tol: float
    n_iter_no_change: int | None
    on_val: bool

    def update(
        self, state: TrainState, loss: float, score: float | None, W: Layers, b: Layers
    ) -> None:
        """After epoch ``state.epoch + 1`` (loss, validation score or None, its weights)."""
        e = state.epoch + 1
        if self.on_val:
            assert score is not None
            improved = score >= state.best_score + self.tol
            if score > state.best_score:
                state.best_score, state.best_W, state.best_b = score, W, b
                state.history.best_epoch = e
        else:
            improved = not loss > state.best_loss - self.tol
            if loss < state.best_loss:
                state.best_loss, state.best_W, state.best_b = loss, W, b
                state.history.best_epoch = e
            if score is not None:
                state.best_score = max(state.best_score, score)
        state.no_improvement = 0 if improved else state.no_improvement + 1

    def stop_reason(self, state: TrainState, schedule: Schedule, opt: Optimizer) -> str | None:
        """At the end of an epoch: why training stops now, or None to go on."""
        if self.n_iter_no_change is None or state.no_improvement <= self.n_iter_no_change:
            return None
        if schedule.on_plateau(opt):  # adaptive: η ← η/5, and go on
            state.no_improvement = 0
            return None
        return "early_stopping" if self.on_val else "converged"

    def restore_best(self, net: Network, state: TrainState) -> None:
        """With early stopping, put the best validation epoch's weights in ``net``."""
        if self.on_val and state.best_W is not None and state.best_b is not None:
            set_params(net, state.best_W, state.best_b)


def call_back(callbacks: Sequence[Any], hook: str, state: TrainState, net: Network) -> bool:
    """Call ``hook(state, net)`` on every callback that has it; True if one asked to stop."""
    stop = False
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if method is not None and method(state, net):
            stop = True
    return stop


def raise_non_finite(
    net: Network, state: TrainState, epoch: int, loss: float, lr: float, what: str = ""
) -> None:
    """After a rollback to the last finite epoch: put the best weights so far in ``net``, raise.

    ``what`` says what became non-finite (default: the training loss, ``loss``)."""
    if state.best_W is not None and state.best_b is not None:
        set_params(net, state.best_W, state.best_b)
    best = f" (epoch {state.history.best_epoch})" if state.history.best_epoch else ""
    what = what or f"the training loss became {loss}"
    raise NonFiniteLossError(
        f"{what} at epoch {epoch} (learning rate {lr:g}): training "
        f"diverged; try a smaller learning rate. The network holds the best weights so far{best}.",
        epoch,
        state,
    )


def params_finite(W: Sequence[Any], b: Sequence[Any]) -> bool:
    """Whether every parameter is finite: one sum per array (NaN and ±inf propagate)."""
    return all(math.isfinite(_to_float(_array.namespace(P).sum(P))) for P in (*W, *b))


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

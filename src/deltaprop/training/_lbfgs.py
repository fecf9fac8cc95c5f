"""L-BFGS, a solver of its own (as scikit-learn's ``_fit_lbfgs``): full-batch.

``fit(net, X, Y, optimizer="lbfgs")`` runs ``scipy.optimize.minimize(method="L-BFGS-B")``
(``maxiter`` = ``epochs``, ``maxfun`` = ``max_fun``, ``gtol`` = ``tol``, as scikit-learn's
MLPs) on the cost and gradient of the whole batch: with Dask arrays through
:func:`deltaprop.distributed.fit` (the distributed cost and gradient), in memory through
``net._gradients`` (with the sample weights, when given). Each iteration is recorded as
an epoch with the shared steps of the fit loop (:mod:`._steps`): its cost, the improvement rule
on the training loss, the divergence error and the callbacks. The learning rate is recorded as
NaN (L-BFGS has none) and no gradient norms are recorded. There is no rollback point inside
scipy's iterations: resuming a run, validation data and early stopping are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _array, distributed
from ._state import History, TrainState, params
from ._steps import Improvement, call_back, raise_non_finite

if TYPE_CHECKING:
    from ..network import Network


def is_lbfgs(optimizer: Any) -> bool:
    return isinstance(optimizer, str) and optimizer.lower() == "lbfgs"


def fit_lbfgs(
    net: Network,
    X: Any,
    Y: Any,
    epochs: int,
    rule: Improvement,
    callbacks: Sequence[Any],
    state: TrainState,
    validation_data: Any,
    batch_size: Any,
    max_fun: int = 15000,
    sample_weight: Any = None,
) -> History:
    """L-BFGS on checked arrays ``X`` (n_0, n) and ``Y`` (n_L, n), Dask or in memory; see the
    module. ``sample_weight``: a (1, n) array on ``net``'s backend, in memory only."""
    dask = _array.is_dask(X)
    if validation_data is not None or rule.on_val:
        raise ValueError("optimizer='lbfgs' takes no validation_data or early_stopping")
    if state.epoch:
        raise ValueError(f"optimizer='lbfgs' cannot resume a run ({state.epoch} epochs done)")
    if batch_size != "auto" and dask:
        import warnings

        warnings.warn(
            f"batch_size={batch_size!r} is ignored: training on Dask arrays is full-batch "
            f"(one gradient over all {X.shape[1]} samples per epoch)",
            UserWarning,
            stacklevel=3,
        )
    n, history = int(X.shape[1]), state.history
    state.optimizer = "lbfgs"
    history.stopped_reason = None
    callbacks = list(callbacks)
    call_back(callbacks, "on_train_begin", state, net)

    def on_iteration(k: int, J: float) -> bool:
        """Iteration k (the cost J after it) as epoch k; True to stop."""
        if not math.isfinite(J):
            raise_non_finite(net, state, state.epoch + 1, J, math.nan)
        state.t += n
        history.loss.append(J)
        history.lr.append(math.nan)
        rule.update(state, J, None, *params(net))
        state.epoch = history.n_iter = k
        history.t = state.t
        reason = (
            "converged"
            if rule.n_iter_no_change is not None and (state.no_improvement > rule.n_iter_no_change)
            else None
        )
        if call_back(callbacks, "on_epoch_end", state, net):
            reason = reason or "callback"
        history.stopped_reason = reason
        return reason is not None

    if dask:
        res = distributed.fit(
            net, X, Y, solver="lbfgs", max_iter=epochs, tol=rule.tol, callback=on_iteration
        )
    else:
        res = distributed.FullBatchResult(solver="lbfgs")
        evaluate = _in_memory(net, X, Y, sample_weight)
        distributed._fit_lbfgs(net, evaluate, res, epochs, rule.tol, on_iteration, max_fun)
    if history.stopped_reason is None:
        history.stopped_reason = "converged" if res.converged else "max_epochs"
    call_back(callbacks, "on_train_end", state, net)
    return history


def _in_memory(net: Network, X: Any, Y: Any, sample_weight: Any) -> Any:
    """``evaluate(theta=None) -> (J, flat gradient)`` of the whole in-memory batch (host
    float64), after setting the parameters to ``theta`` when given."""

    def evaluate(theta: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        if theta is not None:
            distributed._assign_parameters(net, theta)
        J, dW, db = net._gradients(X, Y, keep_buffers=False, sample_weight=sample_weight)
        parts = [_array.to_numpy(g).ravel() for l in range(1, net.L + 1) for g in (dW[l], db[l])]
        return float(_array.item(J)), np.concatenate(parts).astype(np.float64)

    return evaluate

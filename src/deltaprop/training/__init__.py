r"""The fit loop: one loop over a batch source; early stopping, callbacks, history, resume.

:func:`fit` trains a :class:`~deltaprop.network.Network` in place. Its data come from a
*batch source*: in memory, shuffled mini-batches (below); on Dask arrays, the whole data set
as one batch per epoch whose gradient is :func:`deltaprop.distributed.gradients` (a sum over
the blocks). Everything else (schedules, scoring, callbacks, the rollback on divergence or
Ctrl-C, checkpoints, the best weights) is the same code for both. Each epoch:

1. shuffles the training columns with a seeded NumPy ``Generator`` (``shuffle=True``, in
   memory);
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

L-BFGS (``optimizer="lbfgs"``, Dask arrays) is a solver of its own with the same record.

The package: ``_loop`` (:func:`fit` and its epoch), ``_batches`` (the batch sources and the
validation split), ``_steps`` (the named steps: epoch sums, validation, the improvement
rule, callbacks, the divergence error), ``_state`` (:class:`History`, :class:`TrainState`,
the commit point), ``_scoring`` (validation scores), ``_lbfgs``.

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

from ._loop import fit
from ._scoring import accuracy, r2_score
from ._state import (
    STOP_REASONS,
    History,
    NonFiniteLossError,
    TrainingInterrupted,
    TrainState,
    history_arrays,
    history_rows,
    history_width,
)

__all__ = [
    "STOP_REASONS",
    "History",
    "NonFiniteLossError",
    "TrainState",
    "TrainingInterrupted",
    "accuracy",
    "fit",
    "history_arrays",
    "history_rows",
    "history_width",
    "r2_score",
]

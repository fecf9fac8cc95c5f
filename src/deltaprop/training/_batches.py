"""Batch sources: where an epoch's batches and their gradients come from.

A batch source has ``n`` (training samples per epoch), ``batches(rng)`` (the epoch's batches
``(X_B, Y_B)``, columns are samples) and ``gradient(X_B, Y_B) -> (J, dW, db)``. The fit loop
knows nothing else about the data:

* :class:`MiniBatches`: in memory, shuffled with the run's generator, ``batch_size`` columns
  at a time, each through ``net._gradients`` (back-propagation; the NumPy fast path); ``X``
  may be a scipy.sparse matrix (CSC), its batches column slices of it;
* :class:`DaskBatch`: Dask arrays, the whole data set as one batch per epoch, its gradient the
  block-size-weighted sum of the blocks' (:func:`deltaprop.distributed.gradients`).

:func:`split_validation` holds out the validation columns before either is built.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _array, _checks, distributed

if TYPE_CHECKING:
    from ..network import Network
    from ._steps import EpochSums

Batch = tuple[Any, Any]


class MiniBatches:
    """Shuffled mini-batches of in-memory columns ``X`` (n_0, n) and ``Y`` (n_L, n) (checked)."""

    def __init__(
        self, net: Network, X: Any, Y: Any, batch_size: Any, shuffle: bool, weighted: bool = False
    ) -> None:
        # weighted: Y's last row holds the sample weights (with_weights), split off per batch
        self.net, self.X, self.Y, self.shuffle, self.weighted = net, X, Y, shuffle, weighted
        self.n = n = X.shape[1]
        if batch_size == "auto":
            batch_size = min(200, n)
        else:
            batch_size = _checks.positive_int(batch_size, "batch_size")
            if batch_size > n:
                warnings.warn(
                    f"batch_size={batch_size} is larger than the {n} training samples; "
                    f"clipped to {n}",
                    UserWarning,
                    stacklevel=4,
                )
                batch_size = n
        self.batch_size = batch_size
        # run_epoch: the epoch as one XLA program
        self.compiled = net.backend == "jax" and not weighted

    def batches(self, rng: np.random.Generator) -> Iterator[Batch]:
        X, Y, n = self.X, self.Y, self.n
        if self.shuffle:
            perm = rng.permutation(n)
            X, Y = take(self.net.xp, X, perm), take(self.net.xp, Y, perm)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            yield X[:, start:stop], Y[:, start:stop]

    def gradient(self, X_B: Any, Y_B: Any, out: Any = None) -> Any:
        # back-propagation: equations (ii) and (i); into the optimiser's buffer when given,
        # unless _gradients was wrapped on the instance (instrumentation takes (X, Y) only)
        kw = {"sample_weight": Y_B[-1:]} if self.weighted else {}  # with_weights: the last row
        Y_B = Y_B[:-1] if self.weighted else Y_B
        if out is None or "_gradients" in vars(self.net):
            return self.net._gradients(X_B, Y_B, **kw)
        return self.net._gradients(X_B, Y_B, out=out, **kw)

    def run_epoch(self, rng: np.random.Generator, opt: Any, sums: EpochSums) -> None:
        """The whole epoch on the compiled engine: the batches of :meth:`batches` (the same
        draw from ``rng``), each one's gradient and the optimiser's step, in one program."""
        from .. import _jax

        perm = rng.permutation(self.n) if self.shuffle else None
        J, sq, alive, widths = _jax.epoch(self.net, opt, self.X, self.Y, self.batch_size, perm)
        sums.add_epoch(J, sq, alive, widths)


class DaskBatch:
    """Dask arrays ``X`` (n_0, n) and ``Y`` (n_L, n) (checked: ``distributed.check_batch``):
    one full batch per epoch."""

    def __init__(self, net: Network, X: Any, Y: Any, batch_size: Any) -> None:
        self.net, self.X, self.Y = net, X, Y
        self.n = int(self.X.shape[1])
        self.compiled = False
        if batch_size != "auto":
            warnings.warn(
                f"batch_size={batch_size!r} is ignored: training on Dask arrays is full-batch "
                f"(one gradient over all {self.n} samples per epoch)",
                UserWarning,
                stacklevel=4,
            )

    def batches(self, rng: np.random.Generator) -> Iterator[Batch]:
        yield self.X, self.Y

    def gradient(self, X_B: Any, Y_B: Any, out: Any = None) -> Any:
        return distributed.gradients(self.net, X_B, Y_B)  # Σ_k (m_k/m) ∂J_k/∂θ over blocks


def split_validation(
    net: Network,
    X: Any,
    Y: Any,
    validation_data: Any,
    early_stopping: bool,
    validation_fraction: float,
    seed: np.random.SeedSequence,
) -> tuple[Batch, Batch | None]:
    """``(X_train, Y_train)`` and ``(X_val, Y_val)`` or None.

    The validation columns are ``validation_data`` when given, else with ``early_stopping``
    a seeded ``validation_fraction`` of the columns of ``X``, ``Y`` (in memory only: on Dask
    it would reorder samples across blocks), else there are none.
    """
    dask = _array.is_dask(X) or _array.is_dask(Y)
    if validation_data is not None:
        return (X, Y), check_validation_data(net, validation_data)
    if not early_stopping:
        return (X, Y), None
    if dask:
        raise ValueError(
            "early_stopping on Dask arrays needs validation_data (in memory): a held-out "
            "fraction would reorder samples across blocks"
        )
    _checks.number(
        validation_fraction, "validation_fraction", low=0, high=1, low_open=True, high_open=True
    )
    n = X.shape[1]
    n_val = math.ceil(validation_fraction * n)
    if n - n_val < 1:
        raise ValueError(
            f"validation_fraction={validation_fraction!r} leaves no training sample "
            f"out of n = {n}; use a smaller fraction or more samples"
        )
    perm = np.random.default_rng(seed).permutation(n)
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    xp = net.xp
    return (take(xp, X, train), take(xp, Y, train)), (take(xp, X, val), take(xp, Y, val))


def with_weights(net: Network, Y: Any, sample_weight: Any) -> Any:
    """``Y`` (n_L, n) with the checked weights (n,) as one more row, so that the validation
    split and the shuffling carry them with their columns."""
    w = np.asarray(_array.to_numpy(sample_weight), dtype=np.float64)
    n = Y.shape[1]
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},); got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    xp = net.xp
    row = _array.from_numpy(xp, w.reshape(1, n).astype(net.dtype_name), device=_array.device_of(Y))
    concat = getattr(xp, "concat", None) or xp.concatenate
    return concat([Y, row], axis=0)


def check_validation_data(net: Network, validation_data: Any) -> Batch:
    """``validation_data`` = (X_val, Y_val) unpacked and validated against ``net``."""
    try:
        X_val, Y_val = validation_data
    except (TypeError, ValueError):
        raise TypeError("validation_data must be a pair (X_val, Y_val)") from None
    return net._check_XY(X_val, Y_val)


def take(xp: Any, x: Any, idx: np.ndarray) -> Any:
    """Columns ``idx`` of ``x`` (shape (rows, n)) in that order."""
    if type(x) is np.ndarray or _array.is_sparse(x):  # scipy.sparse: CSC, as the checks left it
        return x[:, idx]
    return xp.take(x, _array.from_numpy(xp, idx, device=_array.device_of(x)), axis=1)

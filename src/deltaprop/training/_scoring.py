"""Validation scores (higher is better): R² for MSE networks, accuracy for classifiers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..network import Network

Scorer = Callable[..., float]
"""``scorer(A, Y) -> float`` on NumPy arrays of shape (n_L, m); higher is better. With
``sample_weight`` in :func:`~deltaprop.training.fit` it is called as
``scorer(A, Y, sample_weight=w)``, ``w`` the held-out samples' weights, shape (m,)."""


def r2_score(A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """R² averaged over outputs (scikit-learn's ``r2_score``), ``A`` and ``Y`` of shape (n_L, m),
    weighted by ``sample_weight`` of shape (m,) when given."""
    from sklearn.metrics import r2_score as _r2

    return float(_r2(Y.T, A.T, sample_weight=sample_weight))


def accuracy(A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Share of samples whose every output is right, ``A`` and ``Y`` of shape (n_L, m); with
    ``sample_weight`` of shape (m,), their share of the total weight (scikit-learn's
    ``accuracy_score``).

    One output (or several independent sigmoids): the prediction is ``A > 0.5``; several
    softmax outputs: the class with the largest probability.
    """
    if A.shape[0] == 1 or not np.allclose(Y.sum(axis=0), 1.0):
        right = np.all((A > 0.5) == (Y > 0.5), axis=0)
    else:
        right = np.argmax(A, axis=0) == np.argmax(Y, axis=0)
    return float(np.average(right, weights=sample_weight))


def scorer(net: Network, scoring: Scorer | None = None) -> tuple[str, Scorer | None]:
    """The score's name and function: ``scoring`` if given, else the network's default.

    The default is R² for MSE, accuracy for the cross-entropies, and ``("neg_loss", None)``
    (minus the validation cost) otherwise.
    """
    if scoring is not None:
        return getattr(scoring, "__name__", "custom"), scoring
    name = net.loss.name
    if name == "mse":
        return "r2", r2_score
    if name in ("binary_cross_entropy", "cross_entropy"):
        return "accuracy", accuracy
    return "neg_loss", None

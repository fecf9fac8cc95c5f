r"""Costs as pairs :math:`(J, J')`, each derivative written next to its cost.

A cost compares the network's output ``A`` with the targets ``Y``, both of shape ``(n_L, m)``
(samples are columns), and returns a scalar :math:`J`. Back-propagation needs
:math:`J'(A)`, the matrix of partial derivatives :math:`\partial J / \partial A_{ij}` with the
shape of ``A``, in equation (ii):

.. math:: \delta^{[L]} = J'(A^{[L]}) \odot g^{[L]\prime}(Z^{[L]})

The default cost is the exercise's mean squared error, summed over outputs and averaged over
samples:

.. math:: J = \frac{1}{m} \sum_{i=1}^{m} \lVert y_i - \hat y_i \rVert^2,
          \qquad J'(A) = \frac{2}{m}(A - Y)

:math:`J'` is a matrix, entry by entry; it is *not* summed over the outputs.

Example
-------
>>> import numpy as np
>>> from deltaprop.losses import mse
>>> A = np.array([[1.0, 2.0], [0.0, 0.0]])    # 2 outputs, m = 2 samples
>>> Y = np.array([[0.0, 0.0], [1.0, 1.0]])
>>> float(mse.J(A, Y))                         # ((1 + 1) + (4 + 1)) / 2
3.5
>>> mse.J_prime(A, Y)                          # (2/2) (A - Y)
array([[ 1.,  2.],
       [-1., -1.]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._array import namespace
from .activations import Activation, identity


@dataclass(frozen=True, eq=False)
class Loss:
    """A cost :math:`J(A, Y)` with its derivative :math:`J'(A, Y) = \\partial J/\\partial A`.

    Parameters
    ----------
    name : str
        Registry name (stored in model files).
    J : callable
        ``J(A, Y) -> scalar`` (a 0-d array), ``A`` and ``Y`` of shape ``(n_L, m)``.
    J_prime : callable
        ``J_prime(A, Y) -> dJ/dA`` of shape ``(n_L, m)``.
    """

    name: str
    J: Callable[[Any, Any], Any]
    J_prime: Callable[[Any, Any], Any]

    def __call__(self, A: Any, Y: Any) -> Any:
        return self.J(A, Y)


# --- mse: J = (1/m) sum_i ||y_i - a_i||^2, J' = (2/m)(A - Y) ----------------------------------


def _mse(A: Any, Y: Any) -> Any:
    m = A.shape[1]
    E = A - Y
    return namespace(A).sum(E * E) / m


def _mse_prime(A: Any, Y: Any) -> Any:
    m = A.shape[1]
    return (2.0 / m) * (A - Y)


mse = Loss("mse", _mse, _mse_prime)
"""Mean squared error: J = (1/m) Σ_i ||y_i − a_i||², J'(A) = (2/m)(A − Y)."""


# --- simplified output deltas -------------------------------------------------------------------
# Where an output activation and a cost pair up, equation (ii) δ^[L] = J'(A^[L]) ⊙ g^[L]'(Z^[L])
# simplifies. A shortcut is registered here only with a test that shows it equals the general
# formula (tests/test_losses.py::test_output_delta_shortcuts_equal_equation_ii).

OUTPUT_DELTA_SHORTCUTS: dict[tuple[Activation, Loss], Callable[[Any, Any], Any]] = {
    # identity + MSE: g' = 1, so δ^[L] = (2/m)(A^[L] − Y) ⊙ 1 = (2/m)(A^[L] − Y)
    (identity, mse): _mse_prime,
}
"""(output activation, cost) -> ``delta_L(A, Y)``, the simplified equation (ii)."""


def register_output_delta(
    activation: Activation, loss: Loss, delta_L: Callable[[Any, Any], Any]
) -> None:
    """Register a simplified δ^[L] = ``delta_L(A, Y)`` for this output activation and cost.

    Only do so with a test showing it equals ``J_prime(A, Y) * g_prime(Z)`` (equation (ii)).
    """
    OUTPUT_DELTA_SHORTCUTS[(activation, loss)] = delta_L


LOSSES: dict[str, Loss] = {mse.name: mse}
"""The registry: name -> :class:`Loss`."""


def register_loss(loss: Loss, *, overwrite: bool = False) -> Loss:
    """Add a :class:`Loss` to the registry under its name."""
    if loss.name in LOSSES and not overwrite:
        raise ValueError(f"a loss named {loss.name!r} is already registered")
    LOSSES[loss.name] = loss
    return loss


def get_loss(spec: Any, *, param: str = "loss") -> Loss:
    """Resolve ``spec`` (a registry name, a :class:`Loss`, or a pair ``(J, J_prime)``)."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        if spec in LOSSES:
            return LOSSES[spec]
        known = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown {param} {spec!r}; known losses: {known}")
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        return Loss("custom", spec[0], spec[1])
    raise TypeError(
        f"{param} must be a name, a Loss or a pair (J, J_prime) of callables; got {spec!r}"
    )


__all__ = [
    "LOSSES",
    "OUTPUT_DELTA_SHORTCUTS",
    "Loss",
    "get_loss",
    "mse",
    "register_loss",
    "register_output_delta",
]

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

Classifiers use :data:`binary_cross_entropy` (sigmoid outputs) and :data:`cross_entropy`
(softmax outputs). With their output activation, equation (ii) simplifies to
:math:`\delta^{[L]} = (A^{[L]} - Y)/m`; :data:`OUTPUT_DELTA_SHORTCUTS` holds such pairings,
each shown equal to the general formula by a test.

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

import numpy as np

from ._array import namespace
from .activations import Activation, identity, sigmoid, softmax


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


# --- cross-entropies, for classifiers -------------------------------------------------------------
# Both are sums over outputs and means over samples, like the MSE. As functions of A alone
# (J, J' below) they clip A to [ε, 1 − ε] (ε the dtype's machine epsilon, as scikit-learn's log
# losses), so a saturated output (sigmoid or softmax of ±1e4 is exactly 0 or 1) gives a large
# but finite value, never inf or NaN. The network itself never uses the clipped J with its
# output activation: it computes J from the logits Z^[L] (LOGIT_COSTS below: softplus for
# sigmoid + BCE, log-sum-exp for softmax + CE), which is exact at any |Z|, and whose gradient
# with respect to Z^[L] is exactly the shortcut δ^[L] = (A − Y)/m, so J and its gradient agree
# everywhere (gradcheck passes at |Z| ~ 1e3, where the clipped J is flat).


def _clip(A: Any, high: bool = True) -> Any:
    """A clipped to [ε, 1 − ε] (or [ε, ∞) with ``high=False``), ε the dtype's machine epsilon."""
    if type(A) is np.ndarray:  # fast path: NumPy's own clip (called once per batch)
        eps = np.finfo(A.dtype).eps
        return np.clip(A, eps, 1.0 - eps if high else None)
    xp = namespace(A)
    eps = float(xp.finfo(A.dtype).eps)
    return xp.clip(A, eps, 1.0 - eps if high else None)


def _binary_cross_entropy(A: Any, Y: Any) -> Any:
    xp = namespace(A)
    m = A.shape[1]
    P = _clip(A)
    return -xp.sum(Y * xp.log(P) + (1.0 - Y) * xp.log(1.0 - P)) / m


def _binary_cross_entropy_prime(A: Any, Y: Any) -> Any:
    m = A.shape[1]
    P = _clip(A)
    # d/dA of −(1/m)[Y log A + (1 − Y) log(1 − A)] = (1/m)(−Y/A + (1 − Y)/(1 − A))
    return (P - Y) / (m * P * (1.0 - P))


binary_cross_entropy = Loss(
    "binary_cross_entropy", _binary_cross_entropy, _binary_cross_entropy_prime
)
"""J = −(1/m) Σ_i Σ_j [y_ji log a_ji + (1 − y_ji) log(1 − a_ji)], J'(A) = (A − Y)/(m A(1 − A)).

For sigmoid outputs (binary and multi-label classification), targets in [0, 1]."""


def _cross_entropy(A: Any, Y: Any) -> Any:
    xp = namespace(A)
    m = A.shape[1]
    return -xp.sum(Y * xp.log(_clip(A, high=False))) / m


def _cross_entropy_prime(A: Any, Y: Any) -> Any:
    m = A.shape[1]
    return -Y / (m * _clip(A, high=False))  # d/dA of −(1/m) Y log A


cross_entropy = Loss("cross_entropy", _cross_entropy, _cross_entropy_prime)
"""J = −(1/m) Σ_i Σ_j y_ji log a_ji, J'(A) = −Y/(m A).

For softmax outputs (multiclass classification), each column of Y a one-hot vector (or a
probability distribution)."""


# --- simplified output deltas -------------------------------------------------------------------
# Where an output activation and a cost pair up, equation (ii) δ^[L] = J'(A^[L]) ⊙ g^[L]'(Z^[L])
# simplifies. A shortcut is registered here only with a test that shows it equals the general
# formula (tests/test_losses.py::test_output_delta_shortcuts_equal_equation_ii).

OUTPUT_DELTA_SHORTCUTS: dict[tuple[Activation, Loss], Callable[[Any, Any], Any]] = {
    # identity + MSE: g' = 1, so δ^[L] = (2/m)(A^[L] − Y) ⊙ 1 = (2/m)(A^[L] − Y)
    (identity, mse): _mse_prime,
}
"""(output activation, cost) -> ``delta_L(A, Y)``, the simplified equation (ii)."""


def _sigmoid_bce_delta(A: Any, Y: Any) -> Any:
    # sigmoid + BCE: g'(Z) = A(1 − A), so J' ⊙ g' = (A − Y)/(m A(1 − A)) ⊙ A(1 − A) = (A − Y)/m
    return (A - Y) / A.shape[1]


def _softmax_ce_delta(A: Any, Y: Any) -> Any:
    # softmax + CE, column by column: (diag(a) − a aᵀ)(−y/(m a)) = (−y + a (1ᵀy))/m,
    # = (a − y)/m when the column of Y sums to 1 (one-hot targets); the sum is kept so that the
    # shortcut equals equation (ii) for any Y.
    xp = namespace(A)
    return (A * xp.sum(Y, axis=0, keepdims=True) - Y) / A.shape[1]


def register_output_delta(
    activation: Activation, loss: Loss, delta_L: Callable[[Any, Any], Any]
) -> None:
    """Register a simplified δ^[L] = ``delta_L(A, Y)`` for this output activation and cost.

    Only do so with a test showing it equals ``J_prime(A, Y) * g_prime(Z)`` (equation (ii)).
    """
    OUTPUT_DELTA_SHORTCUTS[(activation, loss)] = delta_L


register_output_delta(sigmoid, binary_cross_entropy, _sigmoid_bce_delta)
register_output_delta(softmax, cross_entropy, _softmax_ce_delta)


# --- costs from the logits ----------------------------------------------------------------------
# J as a function of Z^[L] for the pairings above, written so that nothing overflows, underflows
# to log 0, or cancels: with T = log(1 + e^−|z|) (≤ log 2, never overflows),
#   −[y log σ(z) + (1 − y) log(1 − σ(z))] = y softplus(−z) + (1 − y) softplus(z)
#                                          = T + y max(−z, 0) + (1 − y) max(z, 0),
# and, for a softmax column z with D = z − max(z) (≤ 0) and s = Σ_j e^{D_j} (in [1, n]),
#   −Σ_j y_j log a_j = Σ_j y_j (log s − D_j).
# ∂/∂z of the first is σ(z) − y; of the second a (Σ_j y_j) − y: over m, the shortcuts exactly.


def _sigmoid_bce_from_logits(Z: Any, Y: Any) -> Any:
    xp = namespace(Z)
    m = Z.shape[1]
    T = xp.log1p(xp.exp(-xp.abs(Z)))  # log(1 + e^−|z|)
    pos, neg = (xp.abs(Z) + Z) / 2, (xp.abs(Z) - Z) / 2  # max(z, 0), max(−z, 0), exactly
    return xp.sum(T + Y * neg + (1.0 - Y) * pos) / m


def _softmax_ce_from_logits(Z: Any, Y: Any) -> Any:
    xp = namespace(Z)
    m = Z.shape[1]
    D = Z - xp.max(Z, axis=0, keepdims=True)  # z − max(z) ≤ 0
    log_s = xp.log(xp.sum(xp.exp(D), axis=0, keepdims=True))  # log Σ e^D, in [0, log n]
    return xp.sum(Y * (log_s - D)) / m


LOGIT_COSTS: dict[tuple[Activation, Loss], Callable[[Any, Any], Any]] = {
    (sigmoid, binary_cross_entropy): _sigmoid_bce_from_logits,
    (softmax, cross_entropy): _softmax_ce_from_logits,
}
"""(output activation, cost) -> ``J(Z_L, Y)``: the cost of ``g(Z_L)`` computed from the logits
(exact where the clipped ``J(A, Y)`` saturates); the network uses it when it has ``Z_L``."""


def cost_of(output: Activation, loss: Loss, Z_L: Any, A_L: Any, Y: Any) -> Any:
    """J for outputs ``A_L = output.g(Z_L)``: from the logits where :data:`LOGIT_COSTS` has the
    pairing (and ``Z_L`` is given), else ``loss.J(A_L, Y)``."""
    from_logits = LOGIT_COSTS.get((output, loss))
    if from_logits is not None and Z_L is not None:
        return from_logits(Z_L, Y)
    return loss.J(A_L, Y)


def weight_scale(xp: Any, w: Any) -> Any:
    """``m w / Σ w`` for sample weights ``w`` of shape (1, m); zeros where ``Σ w = 0``: column
    i of :math:`\\delta^{[L]}` times it is the gradient of :math:`\\sum_i w_i \\ell_i /
    \\sum_i w_i` (each cost is a mean over the columns)."""
    total = xp.sum(w)
    if type(w) is np.ndarray:  # a NumPy scalar: the same division, without where/ones_like
        return w * (w.shape[1] / total) if total > 0 else w * 0
    return w * (w.shape[1] / xp.where(total > 0, total, xp.ones_like(total)))


def sample_costs(output: Activation, loss: Loss, Z_L: Any, A_L: Any, Y: Any) -> Any:
    """:math:`\\ell_i`, the cost of each column alone, shape (1, m): from the same formulas as
    :func:`cost_of` (from the logits where it uses them), one column at a time (each cost is a
    mean over columns: :math:`\\ell_i = J(a_i, y_i)`); the built-in pairings at once, column
    sums of the same terms (tests/test_sample_weight.py)."""
    xp = namespace(A_L)
    if loss is mse:
        E = A_L - Y
        return xp.sum(E * E, axis=0, keepdims=True)
    if Z_L is not None and (output, loss) == (sigmoid, binary_cross_entropy):
        T = xp.log1p(xp.exp(-xp.abs(Z_L)))  # as _sigmoid_bce_from_logits
        pos, neg = (xp.abs(Z_L) + Z_L) / 2, (xp.abs(Z_L) - Z_L) / 2
        return xp.sum(T + Y * neg + (1.0 - Y) * pos, axis=0, keepdims=True)
    if Z_L is not None and (output, loss) == (softmax, cross_entropy):
        D = Z_L - xp.max(Z_L, axis=0, keepdims=True)  # as _softmax_ce_from_logits
        log_s = xp.log(xp.sum(xp.exp(D), axis=0, keepdims=True))
        return xp.sum(Y * (log_s - D), axis=0, keepdims=True)
    cols = [
        cost_of(
            output,
            loss,
            None if Z_L is None else Z_L[:, i : i + 1],
            A_L[:, i : i + 1],
            Y[:, i : i + 1],
        )
        for i in range(A_L.shape[1])
    ]
    return xp.reshape(xp.stack(cols), (1, -1))


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (mse, binary_cross_entropy, cross_entropy)}
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
        known = ", ".join(LOSSES)  # registration order: the default, mse, first
        raise ValueError(f"unknown {param} {spec!r}; known losses: {known}")
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        return Loss("custom", spec[0], spec[1])
    raise TypeError(
        f"{param} must be a name, a Loss or a pair (J, J_prime) of callables; got {spec!r}"
    )


__all__ = [
    "LOGIT_COSTS",
    "LOSSES",
    "OUTPUT_DELTA_SHORTCUTS",
    "Loss",
    "binary_cross_entropy",
    "cost_of",
    "cross_entropy",
    "get_loss",
    "mse",
    "register_loss",
    "register_output_delta",
    "sample_costs",
    "weight_scale",
]

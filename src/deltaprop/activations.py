r"""Activation functions as pairs :math:`(g, g')`, each derivative written next to its function.

An activation is applied element-wise to the pre-activation ``Z`` of shape ``(n_l, m)``:
``A = g(Z)``. Back-propagation needs only ``g'(Z)``, the element-wise derivative, in

* equation (ii): :math:`\delta^{[L]} = J'(A^{[L]}) \odot g^{[L]\prime}(Z^{[L]})`
* equation (i):  :math:`\delta^{[l]} = g^{[l]\prime}(Z^{[l]}) \odot (W^{[l+1]T} \delta^{[l+1]})`

so an activation here is an :class:`Activation`: a name, ``g`` and ``g_prime``. The registry
:data:`ACTIVATIONS` maps names to them (as scikit-learn's ``ACTIVATIONS``/``DERIVATIVES``);
:func:`get_activation` also accepts an :class:`Activation` or a user's own pair ``(g, g_prime)``.

One activation is not element-wise: :data:`softmax`, for the output layer of a classifier
(registered in :data:`OUTPUT_ACTIVATIONS`). Its derivative is a Jacobian per column, so for it
equation (ii) is a Jacobian-transpose product, ``softmax.vjp(Z, A, J'(A))``.

Every function uses only the array API standard, so it runs on NumPy, PyTorch, CuPy and
``array_api_strict`` alike. Kinks: ReLU and leaky ReLU are not differentiable at 0; deltaprop
uses the convention :math:`g'(0) = 0` for ReLU (the step :math:`1[z > 0]`) and
:math:`g'(0) = \text{slope}` for leaky ReLU.

Example
-------
>>> import numpy as np
>>> from deltaprop.activations import relu
>>> Z = np.array([[-2.0, 0.0, 3.0]])
>>> relu.g(Z)
array([[0., 0., 3.]])
>>> relu.g_prime(Z)      # the step 1[z > 0]: 0 at z = 0 by convention, never "1 everywhere"
array([[0., 0., 1.]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._array import namespace

ArrayFn = Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class Activation:
    """An element-wise activation :math:`g` with its derivative :math:`g'`.

    Parameters
    ----------
    name : str
        Registry name (stored in model files).
    g : callable
        ``g(Z) -> A``, both of shape ``(n_l, m)``.
    g_prime : callable
        ``g_prime(Z) -> g'(Z)``, the element-wise derivative, shape ``(n_l, m)``.
    params : dict
        Parameters the pair was built with (e.g. the leaky ReLU slope), stored in model files.
    elementwise : bool
        False only for activations such as softmax whose Jacobian is not diagonal; those provide
        ``vjp(Z, A, G)`` = :math:`(\\partial a/\\partial z)^T G` column by column instead.
    """

    name: str
    g: ArrayFn
    g_prime: ArrayFn
    params: dict[str, float] = field(default_factory=dict)
    elementwise: bool = True
    vjp: Callable[[Any, Any, Any], Any] | None = None

    def __call__(self, Z: Any) -> Any:
        return self.g(Z)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{', ' + args if args else ''})"


# --- identity: g(z) = z, g'(z) = 1 -----------------------------------------------------------


def _identity(Z: Any) -> Any:
    return Z


def _identity_prime(Z: Any) -> Any:
    return namespace(Z).ones_like(Z)


identity = Activation("identity", _identity, _identity_prime)
"""g(z) = z, g'(z) = 1: the exercise's output activation."""


# --- relu: g(z) = max(0, z), g'(z) = 1[z > 0] ------------------------------------------------


def _relu(Z: Any) -> Any:
    xp = namespace(Z)
    return xp.where(Z > 0, Z, xp.zeros_like(Z))


def _relu_prime(Z: Any) -> Any:
    xp = namespace(Z)
    return xp.astype(Z > 0, Z.dtype)


relu = Activation("relu", _relu, _relu_prime)
"""g(z) = max(0, z), g'(z) = 1[z > 0] (a step, 0 at z = 0): the exercise's hidden activation."""


# --- leaky relu: g(z) = z if z > 0 else s z, g'(z) = 1 if z > 0 else s ------------------------


def make_leaky_relu(slope: float = 0.01) -> Activation:
    """Leaky ReLU with the given negative-side ``slope``: g(z) = z (z > 0), s·z (z ≤ 0)."""
    slope = float(slope)
    if not slope >= 0.0:
        raise ValueError(f"leaky_relu slope must be >= 0; got {slope!r}")

    def g(Z: Any) -> Any:
        xp = namespace(Z)
        return xp.where(Z > 0, Z, slope * Z)

    def g_prime(Z: Any) -> Any:
        xp = namespace(Z)
        return xp.where(Z > 0, xp.ones_like(Z), xp.full_like(Z, slope))

    return Activation("leaky_relu", g, g_prime, {"slope": slope})


leaky_relu = make_leaky_relu(0.01)
"""g(z) = z for z > 0 and 0.01 z otherwise; g'(z) = 1 or 0.01 (0.01 at z = 0)."""


# --- sigmoid: g(z) = 1 / (1 + e^-z), g'(z) = g(z) (1 - g(z)) ----------------------------------


def _sigmoid(Z: Any) -> Any:
    # exp of -|z| only: never overflows, and both branches are exact to rounding.
    xp = namespace(Z)
    E = xp.exp(-xp.abs(Z))
    return xp.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))


def _sigmoid_prime(Z: Any) -> Any:
    S = _sigmoid(Z)
    return S * (1.0 - S)


sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_prime)
"""g(z) = 1/(1 + e^{-z}), g'(z) = g(z)(1 − g(z)); computed without overflow for any z."""


# --- tanh: g(z) = tanh z, g'(z) = 1 - tanh^2 z ----------------------------------------------


def _tanh(Z: Any) -> Any:
    return namespace(Z).tanh(Z)


def _tanh_prime(Z: Any) -> Any:
    T = namespace(Z).tanh(Z)
    return 1.0 - T * T


tanh = Activation("tanh", _tanh, _tanh_prime)
"""g(z) = tanh z, g'(z) = 1 − tanh² z."""


# --- softplus: g(z) = log(1 + e^z), g'(z) = sigmoid(z) ----------------------------------------


def _softplus(Z: Any) -> Any:
    # log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}): no overflow for large |z|.
    xp = namespace(Z)
    return xp.where(Z > 0, Z, xp.zeros_like(Z)) + xp.log1p(xp.exp(-xp.abs(Z)))


softplus = Activation("softplus", _softplus, _sigmoid)
"""g(z) = log(1 + e^z), g'(z) = 1/(1 + e^{-z}); computed without overflow for any z."""


# --- elu: g(z) = z if z > 0 else a (e^z - 1), g'(z) = 1 if z > 0 else a e^z -----------------


def make_elu(alpha: float = 1.0) -> Activation:
    """ELU with scale ``alpha``: g(z) = z (z > 0), α(e^z − 1) (z ≤ 0); g'(z) = 1 or α e^z."""
    alpha = float(alpha)
    if not alpha > 0.0:
        raise ValueError(f"elu alpha must be > 0; got {alpha!r}")

    def g(Z: Any) -> Any:
        xp = namespace(Z)
        Zneg = xp.where(Z > 0, xp.zeros_like(Z), Z)  # e^z only where z <= 0: no overflow
        return xp.where(Z > 0, Z, alpha * xp.expm1(Zneg))

    def g_prime(Z: Any) -> Any:
        xp = namespace(Z)
        Zneg = xp.where(Z > 0, xp.zeros_like(Z), Z)
        return xp.where(Z > 0, xp.ones_like(Z), alpha * xp.exp(Zneg))

    return Activation("elu", g, g_prime, {"alpha": alpha})


elu = make_elu(1.0)
"""g(z) = z for z > 0 and e^z − 1 otherwise; g'(z) = 1 or e^z."""


# --- softmax: a_i = e^{z_i} / Σ_k e^{z_k} per column; not element-wise --------------------------
# Its derivative is a Jacobian per column, ∂a_i/∂z_k = a_i (1[i = k] − a_k), i.e.
# diag(a) − a aᵀ, so equation (ii) becomes a Jacobian-transpose product column by column:
# δ^[L]_{:,i} = (diag(a) − a aᵀ)ᵀ J'(A^[L])_{:,i}. The Jacobian is symmetric, and
# (diag(a) − a aᵀ) g = a ⊙ g − a (aᵀ g): no n_L × n_L matrix is ever formed.


def _softmax(Z: Any) -> Any:
    # Subtracting each column's maximum changes nothing mathematically (e^{-c} cancels) and
    # keeps every exponent <= 0: no overflow at z = 1e4, and the largest term is exactly 1.
    xp = namespace(Z)
    E = xp.exp(Z - xp.max(Z, axis=0, keepdims=True))
    return E / xp.sum(E, axis=0, keepdims=True)


def _softmax_jacobian_diagonal(Z: Any) -> Any:
    A = _softmax(Z)
    return A * (1.0 - A)


def _softmax_vjp(Z: Any, A: Any, G: Any) -> Any:
    """Column by column (diag(a) − a aᵀ)ᵀ g = a ⊙ g − a (aᵀ g); ``A``, ``G`` of shape (n_L, m)."""
    AG = A * G
    return AG - A * namespace(A).sum(AG, axis=0, keepdims=True)


softmax = Activation(
    "softmax", _softmax, _softmax_jacobian_diagonal, elementwise=False, vjp=_softmax_vjp
)
"""Column-wise softmax :math:`a = e^{z} / \\sum_k e^{z_k}`, for the output layer only.

It is not element-wise: each output depends on every :math:`z_k` of its column, with the
Jacobian :math:`\\partial a/\\partial z = \\mathrm{diag}(a) - a a^T`. So equation (ii),
:math:`\\delta^{[L]} = J'(A^{[L]}) \\odot g'(Z^{[L]})`, becomes the Jacobian-transpose
product ``softmax.vjp(Z, A, J'(A))``, column by column:
:math:`\\delta^{[L]}_{:,i} = (\\mathrm{diag}(a_i) - a_i a_i^T)^T J'(A)_{:,i}
= a_i \\odot J'_{:,i} - a_i (a_i^T J'_{:,i})`. ``g_prime`` is only the Jacobian's diagonal
:math:`a(1 - a)` and is not used by back-propagation. Equation (i) needs an element-wise
:math:`g'`, so softmax is refused as a hidden activation.
"""


ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (identity, relu, leaky_relu, sigmoid, tanh, softplus, elu)
}
"""The registry of element-wise activations: name -> :class:`Activation`."""

OUTPUT_ACTIVATIONS: dict[str, Activation] = {softmax.name: softmax}
"""Activations allowed only in the output layer (not element-wise): name -> :class:`Activation`."""

_FACTORIES: dict[str, Callable[..., Activation]] = {
    "leaky_relu": make_leaky_relu,
    "elu": make_elu,
}


def register_activation(activation: Activation, *, overwrite: bool = False) -> Activation:
    """Add an :class:`Activation` to the registry under its name.

    One that is not element-wise goes to :data:`OUTPUT_ACTIVATIONS` (output layer only).
    """
    if (activation.name in ACTIVATIONS or activation.name in OUTPUT_ACTIVATIONS) and not overwrite:
        raise ValueError(f"an activation named {activation.name!r} is already registered")
    registry = ACTIVATIONS if activation.elementwise else OUTPUT_ACTIVATIONS
    registry[activation.name] = activation
    return activation


def _check_elementwise(activation: Activation, param: str) -> Activation:
    if param == "hidden" and not activation.elementwise:
        raise ValueError(
            f"hidden {activation.name!r} is not element-wise: equation (i) needs an "
            f"element-wise g'; use {activation.name!r} as the output activation only"
        )
    return activation


def get_activation(spec: Any, *, param: str = "activation", **params: float) -> Activation:
    """Resolve ``spec`` to an :class:`Activation`.

    ``spec`` is a registry name (``"relu"``), an :class:`Activation`, or a pair
    ``(g, g_prime)`` of callables (named ``"custom"``). ``params`` build a parametrised one
    (``get_activation("leaky_relu", slope=0.2)``). ``param`` names the argument in errors;
    with ``param="hidden"`` an activation that is not element-wise (softmax) is refused.
    """
    if isinstance(spec, Activation):
        return _check_elementwise(spec, param)
    if isinstance(spec, str):
        if params and spec in _FACTORIES:
            return _FACTORIES[spec](**params)
        if spec in ACTIVATIONS:
            return ACTIVATIONS[spec]
        if spec in OUTPUT_ACTIVATIONS:
            return _check_elementwise(OUTPUT_ACTIVATIONS[spec], param)
        known = ", ".join(sorted(ACTIVATIONS))
        output_only = ", ".join(sorted(OUTPUT_ACTIVATIONS))
        raise ValueError(
            f"unknown {param} {spec!r}; known activations: {known} "
            f"(output layer only: {output_only})"
        )
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        return Activation("custom", spec[0], spec[1])
    raise TypeError(
        f"{param} must be a name, an Activation or a pair (g, g_prime) of callables; got {spec!r}"
    )


__all__ = [
    "ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Activation",
    "elu",
    "get_activation",
    "identity",
    "leaky_relu",
    "make_elu",
    "make_leaky_relu",
    "register_activation",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]

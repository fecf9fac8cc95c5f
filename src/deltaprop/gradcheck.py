r"""Central-difference gradient check: back-propagation against the definition of a derivative.

For every parameter :math:`\theta` (each entry of every :math:`W^{[l]}` and :math:`b^{[l]}`),
the numerical derivative is the central difference

.. math:: \hat g = \frac{J(\theta + \varepsilon) - J(\theta - \varepsilon)}{2\varepsilon},

whose error is :math:`O(\varepsilon^2)` from truncation plus about :math:`u|J|/\varepsilon`
from rounding (u ≈ 1.1e-16 the float64 unit roundoff). The default
:math:`\varepsilon = 10^{-5}` (near :math:`u^{1/3}`, which balances the two) leaves an absolute
error of about :math:`10^{-11}|J|`. The analytic derivative :math:`g` is what
:meth:`Network.gradients` returns.

**Relative error.** For one parameter,

.. math:: e = \frac{|g - \hat g|}{\max(|g|,\ |\hat g|,\ \tau \max(1, |J|))}

The floor :math:`\tau` (``floor``, default :math:`10^{-4}`) keeps derivatives far below the
cost's own scale, whose numerical value is dominated by rounding, from turning that rounding
into a large relative error; a wrong formula still gives :math:`e` of order 1. The report gives
the largest :math:`e` per layer and over all layers; ``ok`` is ``max_rel_error <= tol``.

The check always runs in float64 (a float32 network is copied to float64 first) on NumPy.
The ``"directional"`` mode compares, per layer, ``n_directions`` random directional derivatives
:math:`\langle \nabla J, v\rangle` with :math:`(J(\theta + \varepsilon v) - J(\theta -
\varepsilon v)) / 2\varepsilon`: two forward passes per direction instead of two per
parameter, for large networks.

Inputs where a ReLU sees a pre-activation within :math:`\varepsilon` of 0 make any finite
difference wrong at the kink; random data hits one with negligible probability.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import _array
from .init import as_generator
from .network import Layers, Network


@dataclass
class LayerReport:
    """Worst relative errors of one layer l."""

    layer: int
    max_rel_error_W: float
    max_rel_error_b: float
    n_checked: int

    @property
    def max_rel_error(self) -> float:
        return max(self.max_rel_error_W, self.max_rel_error_b)


@dataclass
class GradcheckReport:
    """Result of :func:`gradcheck`: the worst relative error, per layer and overall."""

    max_rel_error: float
    ok: bool
    tol: float
    eps: float
    mode: str
    layers: list[LayerReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"max_rel_error", "ok", "tol", "eps", "mode", "layers": [...]}``."""
        d = asdict(self)
        for row, layer in zip(d["layers"], self.layers):
            row["max_rel_error"] = layer.max_rel_error
        return d


def relative_error(g: np.ndarray, g_hat: np.ndarray, floor: float) -> np.ndarray:
    """Element-wise :math:`|g - \\hat g| / \\max(|g|, |\\hat g|, \\text{floor})`."""
    return np.abs(g - g_hat) / np.maximum(np.maximum(np.abs(g), np.abs(g_hat)), floor)


def gradcheck(
    net: Network,
    X: Any,
    Y: Any,
    eps: float = 1e-5,
    tol: float = 1e-6,
    mode: str = "full",
    n_directions: int = 8,
    seed: Any = 0,
    floor: float = 1e-4,
) -> GradcheckReport:
    """Check ``net.gradients(X, Y)`` against central differences of ``J`` in float64.

    Parameters
    ----------
    net : Network
    X : array of shape (n_0, m)
    Y : array of shape (n_L, m)
    eps : float, default 1e-5
        The step :math:`\\varepsilon`.
    tol : float, default 1e-6
        ``ok`` when the worst relative error is at most ``tol``.
    mode : {"full", "directional"}, default "full"
        Every parameter, or ``n_directions`` random directions per layer.
    n_directions : int, default 8
    seed : int or Generator, default 0
        Seeds the random directions.
    floor : float, default 1e-4
        :math:`\\tau`: the relative error's denominator is at least
        :math:`\\tau \\max(1, |J|)`.

    Returns
    -------
    GradcheckReport
    """
    if mode not in ("full", "directional"):
        raise ValueError(f"mode must be 'full' or 'directional'; got {mode!r}")
    if not 0 < eps < np.inf:
        raise ValueError(f"eps must be > 0 and finite; got {eps!r}")
    if not 0 <= tol < np.inf:
        raise ValueError(f"tol must be >= 0 and finite; got {tol!r}")
    if isinstance(n_directions, bool) or not int(n_directions) >= 1:
        raise ValueError(f"n_directions must be >= 1; got {n_directions!r}")
    ref = net.to("numpy", dtype="float64")
    X = _host64(X, "X")
    Y = _host64(Y, "Y")
    J0, dW, db = ref.gradients(X, Y)  # validates X, Y
    _check_pairing(ref, X, Y)
    floor = floor * max(1.0, abs(J0))

    def J() -> float:
        return ref.cost(X, Y)

    rng = as_generator(seed)
    layers = []
    for l in range(1, ref.L + 1):
        if mode == "full":
            err_W = _full(ref.W, l, dW[l], J, eps, floor)
            err_b = _full(ref.b, l, db[l], J, eps, floor)
            n = dW[l].size + db[l].size
        else:
            err_W = _directional(ref.W, l, dW[l], J, eps, floor, rng, n_directions)
            err_b = _directional(ref.b, l, db[l], J, eps, floor, rng, n_directions)
            n = 2 * n_directions
        layers.append(LayerReport(l, err_W, err_b, n))
    worst = max(r.max_rel_error for r in layers)
    return GradcheckReport(worst, bool(worst <= tol), tol, eps, mode, layers)


def _check_pairing(net: Network, X: np.ndarray, Y: np.ndarray) -> None:
    """Refuse a check that would fail because of the cost, not back-propagation.

    Without their own output activation (softmax, sigmoid), the cross-entropies clip A^[L] to
    [ε, 1 − ε] (:mod:`deltaprop.losses`); where an output lies outside, the cost is flat and
    its derivative formula is not the clipped cost's, so central differences disagree on every
    layer. Targets that are not one-hot columns
    (cross-entropy) or not in [0, 1] (binary cross-entropy) only warn: the gradient is still
    right, but the cost is not the one its name promises.
    """
    name = net.loss.name
    if name not in ("cross_entropy", "binary_cross_entropy"):
        return
    import warnings

    from .network import pairing_problem

    why = pairing_problem(net.output, net.loss)  # suited pairs compute J from the logits
    A_L = net.forward(X)
    low = np.finfo(np.float64).eps
    outside = np.less(A_L, low)
    if name == "binary_cross_entropy":
        outside |= np.greater(A_L, 1 - low)
    if why is not None and np.any(outside):
        i, j = np.argwhere(outside)[0]
        raise ValueError(
            f"{why}: output A^[L][{i}, {j}] = {A_L[i, j]:.3g} is outside (0, 1), where the cost "
            "is clipped, so central differences would disagree with back-propagation for a "
            "reason that is not back-propagation's"
        )
    if name == "cross_entropy":
        sums = Y.sum(axis=0)
        bad = np.flatnonzero((Y < 0).any(axis=0) | (np.abs(sums - 1) > 1e-9))
        if bad.size:
            k = int(bad[0])
            warnings.warn(
                f"cross_entropy expects one-hot target columns (or probabilities summing to 1); "
                f"column {k} of Y sums to {sums[k]:.3g}: encode class labels as "
                "np.eye(n_L)[:, labels]",
                UserWarning,
                stacklevel=3,
            )
    elif np.any((Y < 0) | (Y > 1)):
        warnings.warn(
            "binary_cross_entropy expects targets in [0, 1] (0/1 labels or probabilities); "
            f"Y ranges over [{Y.min():.3g}, {Y.max():.3g}]",
            UserWarning,
            stacklevel=3,
        )


def _host64(x: Any, name: str) -> np.ndarray:
    host = np.asarray(_array.to_numpy(x) if hasattr(x, "shape") else x)
    if host.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers; got dtype {host.dtype}")
    return host.astype(np.float64)


def _central_differences(P: Any, l: int, J: Any, eps: float) -> np.ndarray:
    """:math:`(J(\\theta + \\varepsilon) - J(\\theta - \\varepsilon))/2\\varepsilon` for every
    entry θ of parameter P[l] (perturbed in place and restored)."""
    theta = P[l]
    numeric = np.empty_like(theta)
    for idx in np.ndindex(theta.shape):
        saved = theta[idx]
        theta[idx] = saved + eps
        J_plus = J()
        theta[idx] = saved - eps
        J_minus = J()
        theta[idx] = saved
        numeric[idx] = (J_plus - J_minus) / (2 * eps)
    return numeric


def _full(P: Any, l: int, grad: np.ndarray, J: Any, eps: float, floor: float) -> float:
    """Worst relative error over every entry of parameter P[l] (perturbed in place)."""
    numeric = _central_differences(P, l, J, eps)
    return float(np.max(relative_error(np.asarray(grad), numeric, floor)))


def numerical_gradients(
    net: Network, X: Any, Y: Any, eps: float = 1e-5
) -> tuple[float, Layers, Layers]:
    """The cost and its gradients by central differences alone, in float64 on NumPy.

    The reference :func:`gradcheck` compares with, entry by entry: no back-propagation is
    involved, only ``net.cost`` at :math:`\\theta \\pm \\varepsilon` for each parameter θ.

    Parameters
    ----------
    net : Network
        Not modified (a float64 NumPy copy is perturbed).
    X : array of shape (n_0, m)
    Y : array of shape (n_L, m)
    eps : float, default 1e-5

    Returns
    -------
    J : float
    dW, db : Layers
        ``dW[l]`` of shape ``(n_l, n_{l-1})``, ``db[l]`` of shape ``(n_l, 1)``, l = 1..L.
    """
    if not 0 < eps < np.inf:
        raise ValueError(f"eps must be > 0 and finite; got {eps!r}")
    ref = net.to("numpy", dtype="float64")
    X, Y = ref._check_XY(_host64(X, "X"), _host64(Y, "Y"))

    def J() -> float:
        return ref.cost(X, Y)

    dW = [_central_differences(ref.W, l, J, eps) for l in range(1, ref.L + 1)]
    db = [_central_differences(ref.b, l, J, eps) for l in range(1, ref.L + 1)]
    return J(), Layers(dW, "dW"), Layers(db, "db")


def _directional(
    P: Any, l: int, grad: np.ndarray, J: Any, eps: float, floor: float, rng: Any, k: int
) -> float:
    """Worst relative error of k random directional derivatives along P[l]."""
    theta = P[l]
    saved = theta.copy()
    worst = 0.0
    for _ in range(k):
        v = rng.standard_normal(theta.shape)
        v /= np.linalg.norm(v)
        theta[...] = saved + eps * v
        J_plus = J()
        theta[...] = saved - eps * v
        J_minus = J()
        theta[...] = saved
        numeric = (J_plus - J_minus) / (2 * eps)
        analytic = float(np.sum(np.asarray(grad) * v))
        worst = max(worst, float(relative_error(np.array(analytic), np.array(numeric), floor)))
    return worst


__all__ = [
    "GradcheckReport",
    "LayerReport",
    "gradcheck",
    "numerical_gradients",
    "relative_error",
]

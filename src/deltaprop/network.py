r"""The network: parameters, the forward pass, and back-propagation in matrix form.

Notation (the code uses the same names; samples are **columns**):

============================  =========================================  ================
math                          meaning                                    shape
============================  =========================================  ================
:math:`L`                     number of layers with weights (``net.L``)
:math:`n_l`                   units in layer l (``net.sizes[l]``)
:math:`m`                     samples in the batch
:math:`A^{[0]} = X`           input                                      (n_0, m)
:math:`W^{[l]}`               weights of layer l (``net.W[l]``)          (n_l, n_{l-1})
:math:`b^{[l]}`               bias of layer l (``net.b[l]``)             (n_l, 1)
:math:`Z^{[l]}`               :math:`W^{[l]} A^{[l-1]} + b^{[l]}`        (n_l, m)
:math:`A^{[l]}`               :math:`g^{[l]}(Z^{[l]})`                   (n_l, m)
:math:`\delta^{[l]}`          :math:`\partial J/\partial Z^{[l]}`        (n_l, m)
============================  =========================================  ================

Layers are numbered 1..L as in the math: ``net.W[1]`` is :math:`W^{[1]}`; index 0 is not a
layer (:math:`A^{[0]}` is the input) and raises ``IndexError``.

The equations (derivation: ``docs/derivation.md``):

* forward:   :math:`Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]},\ A^{[l]} = g^{[l]}(Z^{[l]})`
* **(ii)**   :math:`\delta^{[L]} = J'(A^{[L]}) \odot g^{[L]\prime}(Z^{[L]})`
* **(i)**    :math:`\delta^{[l]} = g^{[l]\prime}(Z^{[l]}) \odot (W^{[l+1]T} \delta^{[l+1]})`,
  l = L−1..1
* gradients: :math:`\partial J/\partial W^{[l]} = \delta^{[l]} A^{[l-1]T}`,
  :math:`\partial J/\partial b^{[l]} = \delta^{[l]} 1_m`
* L2 penalty :math:`(\alpha/2)\sum_l \lVert W^{[l]}\rVert_F^2` adds :math:`\alpha W^{[l]}`
  to :math:`\partial J/\partial W^{[l]}`.

See :meth:`Network.backward`: equation (ii), then one loop of equation (i).

Example
-------
>>> import numpy as np
>>> import deltaprop as dp
>>> net = dp.Network([3, 5, 1], seed=0)          # ReLU hidden, identity output, MSE
>>> X = np.random.default_rng(0).normal(size=(3, 8))   # 8 samples as columns
>>> Y = np.ones((1, 8))
>>> net.forward(X).shape
(1, 8)
>>> J, dW, db = net.gradients(X, Y)
>>> dW[1].shape == net.W[1].shape, db[2].shape == net.b[2].shape
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _array, _checks, _fast
from ._layers import Layers
from .activations import Activation, get_activation
from .init import initial_parameters
from .losses import (
    OUTPUT_DELTA_SHORTCUTS,
    Loss,
    cost_of,
    get_loss,
    sample_costs,
    weight_scale,
)


def as_layers(items: Any, name: str) -> Layers:
    """``items`` as :class:`Layers`: a ``Layers`` as it is, a list ``[None, x_1, ..., x_L]``
    (the math's numbering with an empty slot 0) without its slot 0."""
    if isinstance(items, Layers):
        return items
    items = list(items)
    if items and items[0] is None:
        items = items[1:]
    return Layers(items, name)


class PairingWarning(UserWarning):
    """A cost paired with an output activation it does not suit (e.g. cross-entropy without
    softmax): the network works, but its cost is not what the name promises."""


_NEEDS_OUTPUT = {
    "cross_entropy": (
        ("softmax",),
        "cross_entropy compares probability columns: it needs output='softmax' (outputs in "
        "(0, 1) that sum to 1 in every column) and one-hot targets",
    ),
    "binary_cross_entropy": (
        ("sigmoid",),
        "binary_cross_entropy compares probabilities: it needs output='sigmoid' (outputs in "
        "(0, 1)) and targets in [0, 1]",
    ),
}


def pairing_problem(output: Activation, loss: Loss) -> str | None:
    """Why ``loss`` does not suit the output activation ``output``, or None when it does.

    Cross-entropy needs softmax outputs, binary cross-entropy sigmoid outputs: other outputs
    can leave (0, 1), where the cost is clipped (see :mod:`deltaprop.losses`) and a gradient
    check fails for a reason that has nothing to do with back-propagation.
    """
    need = _NEEDS_OUTPUT.get(loss.name)
    if need is None or output.name in need[0]:
        return None
    return f"{need[1]}; got output={output.name!r}"


def _validate_sizes(sizes: Any) -> list[int]:
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(
            f"sizes must be a sequence of layer widths [n_0, ..., n_L]; got {sizes!r}"
        ) from None
    if len(sizes) < 2:
        raise ValueError(
            f"sizes must list at least the input and output widths [n_0, ..., n_L]; got {sizes!r}"
        )
    for l, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"sizes[{l}] must be an integer >= 1; got {n!r}")
        if n < 1:
            raise ValueError(f"sizes[{l}] must be >= 1 (units in layer {l}); got {n}")
    return [int(n) for n in sizes]


class Network:
    """A fully-connected feed-forward network trained by back-propagation in matrix form.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[n_0, n_1, ..., n_L]``; ``n_0`` is the number of input features.
    hidden : str, Activation or (g, g_prime), default "relu"
        Activation :math:`g^{[l]}` of the hidden layers 1..L−1.
    output : str, Activation or (g, g_prime), default "identity"
        Activation :math:`g^{[L]}` of the output layer.
    loss : str, Loss or (J, J_prime), default "mse"
        The cost :math:`J`.
    seed : None, int or numpy.random.Generator, default 0
        Seeds the initial weights (He for ReLU-family layers, Glorot otherwise; zero biases).
    dtype : {"float64", "float32"}, default "float64"
        dtype of every parameter, kept through training.
    backend : {"numpy", "torch", "cupy", "jax", "array_api_strict"}, default "numpy"
    device : optional
        Device for backends that have several (``"cuda"`` for torch).
    alpha : float, default 0
        L2 penalty :math:`(\\alpha/2)\\sum_l \\lVert W^{[l]}\\rVert_F^2` added to the cost.

    Attributes
    ----------
    L : int
        Number of layers with weights.
    sizes : list of int
        ``[n_0, ..., n_L]``.
    W, b : Layers
        ``W[l]`` of shape ``(n_l, n_{l-1})`` and ``b[l]`` of shape ``(n_l, 1)``, l = 1..L.
    g : Layers
        ``g[l]`` the :class:`~deltaprop.activations.Activation` of layer l.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        hidden: Any = "relu",
        output: Any = "identity",
        loss: Any = "mse",
        seed: Any = 0,
        dtype: Any = "float64",
        backend: str = "numpy",
        device: Any = None,
        alpha: float = 0.0,
    ) -> None:
        self.sizes = _validate_sizes(sizes)
        self.L = len(self.sizes) - 1
        self.hidden = get_activation(hidden, param="hidden")
        self.output = get_activation(output, param="output")
        self.loss = get_loss(loss)
        problem = pairing_problem(self.output, self.loss)
        if problem is not None:
            import warnings

            warnings.warn(problem, PairingWarning, stacklevel=2)
        self.alpha = _validate_alpha(alpha)
        self.backend = backend
        self.xp = _array.backend_namespace(backend)
        self.dtype = _array.resolve_dtype(self.xp, dtype)
        self.device = device
        self.g = Layers([self.hidden] * (self.L - 1) + [self.output], "g")
        W0, b0 = initial_parameters(self.sizes, [a.name for a in self.g], seed)
        self.W = Layers([self._asarray(w) for w in W0], "W", self._check_W)
        self.b = Layers([self._asarray(v) for v in b0], "b", self._check_b)

    # --- the forward pass ------------------------------------------------------------------

    def forward(self, X: Any) -> Any:
        """The output :math:`A^{[L]}` for input ``X`` of shape ``(n_0, m)``; shape ``(n_L, m)``."""
        X = self._check_X(X)
        A = X
        for W, b, g in zip(self.W, self.b, self.g):
            A = g.g(W @ A + b)  # Z^[l] = W^[l] A^[l-1] + b^[l];  A^[l] = g^[l](Z^[l])
        return A

    __call__ = forward

    def forward_pass(self, X: Any) -> tuple[list[Any], list[Any]]:
        """The forward pass keeping every :math:`Z^{[l]}` and :math:`A^{[l]}`.

        Parameters
        ----------
        X : array of shape (n_0, m)

        Returns
        -------
        Z, A : lists of length L + 1
            ``Z[l]``, ``A[l]`` of shape ``(n_l, m)`` for l = 1..L; ``A[0] = X``, ``Z[0] = None``.
        """
        return self._forward_pass(self._check_X(X))

    def _forward_pass(self, X: Any) -> tuple[list[Any], list[Any]]:
        W, b, g = self.W, self.b, self.g
        Z: list[Any] = [None] * (self.L + 1)
        A: list[Any] = [X] + [None] * self.L
        for l in range(1, self.L + 1):
            Z[l] = W[l] @ A[l - 1] + b[l]  # Z^[l] = W^[l] A^[l-1] + b^[l]
            A[l] = g[l].g(Z[l])  # A^[l] = g^[l](Z^[l])
        return Z, A

    # --- back-propagation ------------------------------------------------------------------

    def output_delta(self, Z_L: Any, A_L: Any, Y: Any) -> Any:
        """Equation (ii): :math:`\\delta^{[L]} = J'(A^{[L]}) \\odot g^{[L]\\prime}(Z^{[L]})`.

        Where the output activation and the cost have a registered simplification
        (:data:`deltaprop.losses.OUTPUT_DELTA_SHORTCUTS`, each proven equal by a test) it is
        used; an activation that is not element-wise (softmax) applies its Jacobian's transpose
        column by column instead of the element-wise product.
        """
        shortcut = OUTPUT_DELTA_SHORTCUTS.get((self.output, self.loss))
        if shortcut is not None:
            return shortcut(A_L, Y)
        if not self.output.elementwise:
            vjp = self.output.vjp
            assert vjp is not None  # an activation that is not element-wise has one
            return vjp(Z_L, A_L, self.loss.J_prime(A_L, Y))
        return self.loss.J_prime(A_L, Y) * self.output.g_prime(Z_L)  # (ii)

    def backward(
        self, Z: list[Any], A: list[Any], Y: Any, sample_weight: Any = None
    ) -> tuple[Layers, Layers, Layers]:
        """Back-propagation: equation (ii), then equation (i) for l = L−1..1, then the gradients.

        Parameters
        ----------
        Z, A : lists from :meth:`forward_pass`
        Y : array of shape (n_L, m)
        sample_weight : array of shape (1, m) or None
            Weights :math:`w_i \\ge 0`: column i of :math:`\\delta^{[L]}` is scaled by
            :math:`m w_i / \\sum_j w_j`, the gradient of
            :math:`J = \\sum_i w_i \\ell_i / \\sum_j w_j` (see :meth:`_weighted_cost`).

        Returns
        -------
        delta : Layers
            ``delta[l]`` = :math:`\\delta^{[l]} = \\partial J/\\partial Z^{[l]}`,
            shape ``(n_l, m)``, l = 1..L.
        dW, db : Layers
            :math:`\\partial J/\\partial W^{[l]}` and :math:`\\partial J/\\partial b^{[l]}`,
            indexed 1..L like ``W`` and ``b``.
        """
        xp, L, W, g = self.xp, self.L, self.W, self.g
        delta = Layers([None] * L, "delta")

        # (ii) output layer: δ^[L] = J'(A^[L]) ⊙ g^[L]'(Z^[L])
        delta[L] = self.output_delta(Z[L], A[L], Y)
        if sample_weight is not None:
            delta[L] = delta[L] * weight_scale(xp, sample_weight)

        # (i) hidden layers: δ^[l] = g^[l]'(Z^[l]) ⊙ (W^[l+1]ᵀ δ^[l+1]),  l = L-1, ..., 1
        for l in range(L - 1, 0, -1):
            delta[l] = g[l].g_prime(Z[l]) * (W[l + 1].T @ delta[l + 1])

        dW = [delta[l] @ A[l - 1].T for l in range(1, L + 1)]  # ∂J/∂W^[l] = δ^[l] (A^[l-1])ᵀ
        db = [xp.sum(delta_l, axis=1, keepdims=True) for delta_l in delta]  # = δ^[l] 1_m
        if self.alpha:
            dW = [dW_l + self.alpha * W_l for dW_l, W_l in zip(dW, W)]  # + α W^[l] (L2)
        return delta, Layers(dW, "dW"), Layers(db, "db")

    def cost(self, X: Any, Y: Any) -> float:
        """The cost :math:`J` (with the L2 penalty when ``alpha > 0``) as a Python float."""
        X, Y = self._check_XY(X, Y)
        Z, A = self._forward_pass(X)
        return _array.item(self._cost(A[self.L], Y, Z[self.L]))

    def _cost(self, A_L: Any, Y: Any, Z_L: Any = None) -> Any:
        """J of the outputs (from the logits ``Z_L`` where the pairing allows it, see
        :data:`deltaprop.losses.LOGIT_COSTS`), plus the L2 penalty."""
        J = cost_of(self.output, self.loss, Z_L, A_L, Y)
        if self.alpha:
            xp = self.xp
            J = J + (self.alpha / 2) * sum(xp.sum(W_l * W_l) for W_l in self.W)
        return J

    def _weighted_cost(self, A_L: Any, Y: Any, Z_L: Any, sample_weight: Any) -> Any:
        """:math:`J = \\sum_i w_i \\ell_i / \\sum_i w_i` plus the L2 penalty (not weighted),
        :math:`\\ell_i` the cost of column i alone (every cost is a mean over the columns, so
        :math:`\\ell_i = J(a_i, y_i)`); a batch whose weights are all 0 costs 0 (plus the
        penalty) and has zero data gradient."""
        xp = self.xp
        losses = sample_costs(self.output, self.loss, Z_L, A_L, Y)  # (1, m)
        J = xp.sum(losses * weight_scale(xp, sample_weight)) / A_L.shape[1]
        if self.alpha:
            J = J + (self.alpha / 2) * sum(xp.sum(W_l * W_l) for W_l in self.W)
        return J

    def gradients(self, X: Any, Y: Any) -> tuple[float, Layers, Layers]:
        """The cost and its gradients for a batch.

        Parameters
        ----------
        X : array of shape (n_0, m)
            Inputs, samples as columns.
        Y : array of shape (n_L, m)
            Targets, samples as columns.

        Returns
        -------
        J : float
            The cost (with the L2 penalty when ``alpha > 0``).
        dW, db : Layers
            ``dW[l]`` = :math:`\\partial J/\\partial W^{[l]}` of shape ``(n_l, n_{l-1})`` and
            ``db[l]`` = :math:`\\partial J/\\partial b^{[l]}` of shape ``(n_l, 1)``, l = 1..L.
        """
        X, Y = self._check_XY(X, Y)
        J, dW, db = self._gradients(X, Y, keep_buffers=False)
        return _array.item(J), dW, db

    def _gradients(
        self,
        X: Any,
        Y: Any,
        keep_buffers: bool = True,
        out: Any = None,
        sample_weight: Any = None,
    ) -> tuple[Any, Layers, Layers]:
        """:meth:`gradients` without input validation; ``J`` stays an array (no device sync).

        The training loop's hot path. On NumPy it runs :mod:`deltaprop._fast`: the same
        equations with buffers for Z and A reused between calls of the same batch width
        (``keep_buffers``), proven equal to :meth:`_reference_gradients` by
        ``tests/test_fast_path.py``. ``dW`` and ``db`` are new arrays on every call, so a
        caller may keep them or overwrite them (the optimisers do).

        With ``sample_weight`` (shape (1, m), see :meth:`backward`) the cost is the weighted
        one of :meth:`_weighted_cost`: on NumPy through the fast path too, elsewhere with the
        reference equations.
        """
        if _fast.applicable(self, X, Y, sample_weight):
            return _fast.gradients(self, X, Y, keep_buffers, out, sample_weight)
        if sample_weight is not None:
            Z, A = self._forward_pass(X)
            _, dW_w, db_w = self.backward(Z, A, Y, sample_weight)
            return self._weighted_cost(A[self.L], Y, Z[self.L], sample_weight), dW_w, db_w
        if self.backend == "jax":  # the same reference, traced once and compiled (deltaprop._jax)
            from . import _jax

            J, dW, db = _jax.gradients(self, X, Y)
            return J, Layers(dW, "dW"), Layers(db, "db")
        return self._reference_gradients(X, Y)

    def _reference_gradients(self, X: Any, Y: Any) -> tuple[Any, Layers, Layers]:
        """The reference: :meth:`forward_pass`, :meth:`backward`, the cost; every backend."""
        Z, A = self._forward_pass(X)
        _, dW, db = self.backward(Z, A, Y)
        return self._cost(A[self.L], Y, Z[self.L]), dW, db

    # --- conversion ------------------------------------------------------------------------

    def to(self, backend: str | None = None, device: Any = None, dtype: Any = None) -> Network:
        """A copy of this network on another backend, device and/or dtype.

        The parameters are copied (through host memory); the original is unchanged.
        """
        net = object.__new__(Network)
        net.__dict__.update(self.__dict__)
        net.backend = self.backend if backend is None else backend
        net.xp = _array.backend_namespace(net.backend)
        net.device = device if backend is not None or device is not None else self.device
        name = _array.dtype_name(self.dtype if dtype is None else dtype)
        net.dtype = _array.resolve_dtype(net.xp, name)
        net.W = Layers([net._asarray(_array.to_numpy(w)) for w in self.W], "W", net._check_W)
        net.b = Layers([net._asarray(_array.to_numpy(v)) for v in self.b], "b", net._check_b)
        return net

    def astype(self, dtype: Any) -> Network:
        """A copy with every parameter in ``dtype`` ("float32" or "float64")."""
        return self.to(self.backend, self.device, dtype)

    def copy(self) -> Network:
        """An independent copy (same backend, device and dtype)."""
        return self.to(self.backend, self.device, self.dtype)

    @property
    def dtype_name(self) -> str:
        """``"float32"`` or ``"float64"``."""
        return _array.dtype_name(self.dtype)

    @property
    def n_parameters(self) -> int:
        """Number of scalar parameters: Σ_l n_l (n_{l-1} + 1)."""
        return sum(self.sizes[l] * (self.sizes[l - 1] + 1) for l in range(1, self.L + 1))

    def __repr__(self) -> str:
        return (
            f"Network({self.sizes}, hidden={self.hidden.name!r}, output={self.output.name!r}, "
            f"loss={self.loss.name!r}, dtype={self.dtype_name!r}, backend={self.backend!r})"
        )

    # --- validation (user input gets ValueError/TypeError naming the parameter) -------------

    def _asarray(self, x: Any) -> Any:
        return _array.from_numpy(self.xp, np.asarray(x), dtype=self.dtype, device=self.device)

    def _convert(self, x: Any, name: str) -> Any:
        """``x`` as an array of this network's namespace; floats of another dtype are refused.

        NumPy input in the other byte order (big-endian float64 read from a file) is brought
        to the native order; a masked array is refused (its mask would be ignored)."""
        xp = self.xp
        if isinstance(x, np.ma.MaskedArray):
            raise TypeError(
                f"{name} is a masked array: deltaprop would ignore its mask; fill the masked "
                f"entries ({name}.filled(value)) or drop those samples first"
            )
        if isinstance(x, np.ndarray) and not x.dtype.isnative:
            x = x.astype(x.dtype.newbyteorder("="))
        try:
            same_backend = (
                _array.namespace(x) is xp
                or _array.backend_name(_array.namespace(x)) == self.backend
            )
        except TypeError:
            same_backend = False
        if same_backend:
            if _array.is_floating(xp, x.dtype):
                if x.dtype != self.dtype:
                    got = _array.dtype_name(x.dtype)
                    raise TypeError(_checks.dtype_mismatch(name, got, self.dtype_name))
                return x
            if xp.isdtype(x.dtype, ("integral", "bool")):
                return xp.astype(x, self.dtype)
            raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
        try:
            host = np.asarray(_array.to_numpy(x) if hasattr(x, "shape") else x)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be an array of numbers; got {type(x).__name__}") from e
        if host.dtype.kind == "f" and host.dtype != np.dtype(self.dtype_name):
            raise TypeError(_checks.dtype_mismatch(name, str(host.dtype), self.dtype_name))
        if host.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold real numbers; got dtype {host.dtype}")
        return self._asarray(host)

    def _check_2d(self, x: Any, name: str, rows: int, rows_name: str, m: int | None) -> Any:
        sparse = _array.is_sparse(x)
        x = self._convert_sparse(x, name) if sparse else self._convert(x, name)
        if x.ndim != 2:
            hint = f"; for one sample use {name}.reshape(-1, 1)" if x.ndim == 1 else ""
            raise ValueError(
                f"{name} must be 2-D of shape ({rows_name}, m) = ({rows}, m), samples as "
                f"columns; got shape {tuple(x.shape)}{hint}"
            )
        if x.shape[0] != rows:
            hint = ""
            if x.shape[1] == rows:
                hint = f" (it looks like samples are rows: pass {name}.T)"
            raise ValueError(
                f"{name} must have {rows_name} = {rows} rows (samples are columns); "
                f"got shape {tuple(x.shape)}{hint}"
            )
        if m is not None and x.shape[1] != m:
            raise ValueError(
                f"{name} must have one column per sample of X (m = {m}); got shape {tuple(x.shape)}"
            )
        if x.shape[1] < 1:
            raise ValueError(f"{name} must hold at least one sample (column); got shape {x.shape}")
        xp = self.xp
        if sparse and not np.isfinite(x.data).all():
            coo = x.tocoo()
            i = np.flatnonzero(~np.isfinite(coo.data))[0]
            bad = (coo.row[i], coo.col[i])
        elif not sparse and not bool(xp.all(xp.isfinite(x))):
            bad = np.argwhere(~np.isfinite(_array.to_numpy(x)))[0]
        else:
            return x
        raise ValueError(
            f"{name} must be finite; found a NaN or infinity at row {bad[0]}, column {bad[1]}"
        )

    def _convert_sparse(self, x: Any, name: str) -> Any:
        """A scipy.sparse ``X`` as CSC (columns are samples: a batch is a slice of columns),
        in the network's dtype. Only inputs may be sparse, on NumPy: scipy's products give layer
        1's :math:`W^{[1]} X` and :math:`\\partial J/\\partial W^{[1]} = \\delta^{[1]} X^T`
        as dense arrays at the cost of X's non-zeros; every later layer is dense anyway."""
        if name != "X" or self.backend != "numpy":
            where = "X on the NumPy backend" if name == "X" else "X (the inputs)"
            raise TypeError(f"{name} is a scipy.sparse matrix: only {where} can be sparse")
        if x.dtype.kind in "iub":
            x = x.astype(self.dtype)
        elif x.dtype != self.dtype:
            raise TypeError(_checks.dtype_mismatch(name, str(x.dtype), self.dtype_name))
        return x.tocsc()

    def _check_X(self, X: Any) -> Any:
        return self._check_2d(X, "X", self.sizes[0], "n_0", None)

    def _check_XY(self, X: Any, Y: Any) -> tuple[Any, Any]:
        X = self._check_X(X)
        Y = self._check_2d(Y, "Y", self.sizes[-1], "n_L", X.shape[1])
        return X, Y

    def _check_param(self, l: int, value: Any, name: str, shape: tuple[int, int]) -> Any:
        """A parameter being set: converted, checked, finite, and always a copy (so that
        ``b.W[1] = a.W[1]`` does not make training ``b`` change ``a``)."""
        converted = self._convert(value, f"{name}[{l}]")
        if tuple(converted.shape) != shape:
            raise ValueError(f"{name}[{l}] must have shape {shape}; got {tuple(converted.shape)}")
        xp = self.xp
        if not bool(xp.all(xp.isfinite(converted))):
            bad = np.argwhere(~np.isfinite(_array.to_numpy(converted)))[0]
            raise ValueError(
                f"{name}[{l}] must be finite; found a NaN or infinity at row {bad[0]}, "
                f"column {bad[1]}"
            )
        return self._copy(converted) if converted is value else converted

    def _copy(self, x: Any) -> Any:
        if type(x) is np.ndarray:
            return np.array(x, copy=True, order="C")
        return self.xp.asarray(x, copy=True)

    def _check_W(self, l: int, value: Any) -> Any:
        return self._check_param(l, value, "W", (self.sizes[l], self.sizes[l - 1]))

    def _check_b(self, l: int, value: Any) -> Any:
        return self._check_param(l, value, "b", (self.sizes[l], 1))


def _validate_alpha(alpha: Any) -> float:
    if isinstance(alpha, np.ndarray) and alpha.ndim == 0:
        alpha = alpha[()]  # a 0-d array (what a model file's reader may hand over)
    return _checks.number(alpha, "alpha", low=0.0)


__all__ = [
    "Activation",
    "Layers",
    "Loss",
    "Network",
    "PairingWarning",
    "as_layers",
    "pairing_problem",
]

r"""The NumPy fast path of one training step's gradients: the same equations, fewer passes.

:meth:`Network.backward <deltaprop.network.Network.backward>` is the reference: equation (ii),
then the loop of equation (i), each gradient one line, every intermediate a new array. That
reads like the derivation, and on NumPy it spends a good part of a small step allocating
temporaries and the rest walking memory more often than the arithmetic needs. This module
computes **the same** :math:`J`, :math:`\partial J/\partial W^{[l]}` and
:math:`\partial J/\partial b^{[l]}` (bit for bit on every path but the L2 term of ``J``, which
agrees to rounding; ``tests/test_fast_path.py`` proves it for every activation, both dtypes,
several shapes and ``alpha > 0``) with five changes, each one a line you can find below:

1. **Buffers per batch width.** :math:`Z^{[l]}` and :math:`A^{[l]}` live in arrays allocated
   once per network and batch width :math:`m` (:class:`Workspace`) and filled by
   ``np.matmul(..., out=)``, ``np.add(..., out=)``, ``np.maximum(..., out=)``.
2. **δ overwrites Z.** Once :math:`\partial J/\partial W^{[l+1]}` is formed, :math:`Z^{[l]}` is
   needed only for :math:`g'(Z^{[l]})`, so :math:`W^{[l+1]T}\delta^{[l+1]}` is written into
   :math:`Z^{[l]}`'s buffer and becomes :math:`\delta^{[l]}` in place: the step holds no
   δ arrays of its own.
3. **ReLU's derivative from A, in place.** :math:`1[z > 0] = 1[g(z) > 0]`, and
   :math:`A^{[l]}` is free once :math:`\partial J/\partial W^{[l+1]}` is formed, so the mask
   is written into :math:`A^{[l]}`'s buffer and multiplied in; identity multiplies by nothing.
4. **The single output's outer product** :math:`W^{[L]T}\delta^{[L]}`, a matrix product with
   inner dimension 1 when :math:`n_L = 1`, is a broadcast multiply
   (``(n_{L-1}, 1) * (1, m)``) rather than a BLAS call built for inner dimensions in the
   hundreds.
5. **MSE with an identity output** forms :math:`E = A^{[L]} - Y` once and gets both
   :math:`J = \frac1m\sum E \odot E` and :math:`\delta^{[L]} = \frac2m E` from it.

With sample weights (``sample_weight``, :meth:`Network.backward`'s) only (ii) and J change:
column i of :math:`\delta^{[L]}` is scaled by :math:`s_i = m w_i / \sum_j w_j` and J is
:math:`\frac1m \sum_i s_i \ell_i` (:func:`~deltaprop.losses.sample_costs`); equation (i)
and the gradients are the unweighted code's.

What is returned is always new: ``dW[l]`` and ``db[l]`` are fresh arrays on every call (the
optimisers may overwrite them, callers may keep them), and no buffer of the workspace ever
leaves this module; except where the caller passes ``out=``: the fit loop hands in the
optimiser's flat gradient buffer, so that a step allocates no parameter-sized array and the
optimiser need not copy the gradients into it.

A scipy.sparse ``X`` (inputs only) changes two products of layer 1, :math:`W^{[1]} X` and
:math:`\delta^{[1]} X^T`: scipy computes them at the cost of X's non-zeros (``_matmul``);
everything else is the dense code, since :math:`Z^{[1]}` and every later array are dense.

Other activations than ReLU and identity go through their own ``g``/``g_prime`` (still with
the buffers of 1, 2 and 4); any other case (another backend, mixed dtypes, a hidden activation
that is not element-wise) is not handled here: :func:`applicable` says so, and
:class:`~deltaprop.network.Network` uses the reference.

Concurrency: each workspace has a lock; a call that finds it taken (two threads training the
same network) computes with a private workspace instead, so results never mix.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from . import _array
from ._layers import Layers
from .activations import identity, relu
from .losses import cost_of, mse, sample_costs, weight_scale

_IDENTITY, _RELU, _OTHER = 0, 1, 2

_KEEP = 2
"""Batch widths kept per network: a full batch and the epoch's last, shorter one."""

_CACHE: weakref.WeakKeyDictionary[Any, dict[int, Workspace]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()

_CHUNK = 1 << 16
"""Elements per block when adding α W to dW without a parameter-sized temporary."""


# ``net`` is a deltaprop Network throughout; it is typed Any because network imports this
# module (naming Network here, even under TYPE_CHECKING, would be an import cycle).


def _kind(g: Any) -> int:
    return _IDENTITY if g is identity else _RELU if g is relu else _OTHER


class Workspace:
    """The buffers of one step for a network of widths ``sizes`` and batch width ``m``.

    Attributes
    ----------
    kinds : Layers of int
        ``kinds[l]``: layer l's activation is identity, ReLU or another one.
    Z : Layers of arrays
        ``Z[l]`` of shape ``(n_l, m)``, l = 1..L: :math:`Z^{[l]}` after the forward pass,
        then :math:`\\delta^{[l]}` (l < L) after the backward pass.
    A : Layers of arrays or None
        ``A[l]`` of shape ``(n_l, m)`` for ReLU layers (:math:`A^{[l]}`, then the mask
        :math:`1[Z^{[l]} > 0]`); None where :math:`A^{[l]}` is :math:`Z^{[l]}` itself
        (identity) or a new array from ``g`` (other activations).
    E, S : arrays of shape (n_L, m)
        :math:`E = A^{[L]} - Y` (then :math:`\\delta^{[L]}`) and :math:`E \\odot E`, for MSE
        with an identity output.
    """

    def __init__(self, sizes: list[int], kinds: list[int], m: int, dtype: Any) -> None:
        self.sizes = list(sizes)
        self.kinds = Layers(kinds, "kinds")
        self.m = m
        self.dtype = np.dtype(dtype)
        L = len(sizes) - 1
        self.Z = Layers([np.empty((n, m), self.dtype) for n in sizes[1:]], "Z")
        self.A = Layers(
            [
                np.empty((n, m), self.dtype) if k == _RELU else None
                for n, k in zip(sizes[1:], kinds)
            ],
            "A",
        )
        self.E = np.empty((sizes[L], m), self.dtype)
        self.S = np.empty((sizes[L], m), self.dtype)
        self.lock = threading.Lock()

    def fits(self, sizes: list[int], kinds: list[int], dtype: Any) -> bool:
        return self.sizes == sizes and self.kinds == kinds and self.dtype.type is dtype

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers."""
        arrays = [a for a in (*self.Z, *self.A) if a is not None] + [self.E, self.S]
        return sum(a.nbytes for a in arrays)


def applicable(net: Any, X: Any, Y: Any, sample_weight: Any = None) -> bool:
    """Whether :func:`gradients` handles this network and batch (else use the reference).

    NumPy backend; ``X`` of shape ``(n_0, m)``, ``Y`` of shape ``(n_L, m)``, ``m >= 1``, and
    ``sample_weight`` None or of shape ``(1, m)``, all NumPy arrays of the network's dtype
    (``X`` may be a scipy.sparse matrix of it); every hidden activation element-wise.
    """
    if net.backend != "numpy" or type(Y) is not np.ndarray:
        return False
    if type(X) is not np.ndarray and not _array.is_sparse(X):  # scipy.sparse: layer 1 only
        return False
    dtype = net.dtype  # the scalar type (np.float32 or np.float64) on NumPy
    if X.dtype.type is not dtype or Y.dtype.type is not dtype or X.ndim != 2 or Y.ndim != 2:
        return False
    m = X.shape[1]
    if m < 1 or X.shape[0] != net.sizes[0] or Y.shape != (net.sizes[-1], m):
        return False
    w = sample_weight
    if w is not None and (type(w) is not np.ndarray or w.dtype.type is not dtype):
        return False
    if w is not None and w.shape != (1, m):
        return False
    return all(g.elementwise for g in list(net.g)[:-1])


def workspace(net: Any, m: int, cache: bool = True) -> Workspace:
    """The workspace for ``net`` and batch width ``m``: cached per network (weakly) if ``cache``.

    The cache keeps the :data:`_KEEP` most recent batch widths of each network.
    """
    sizes = net.sizes
    kinds = [_kind(g) for g in net.g]  # layers 1..L
    dtype = net.dtype
    if not cache:
        return Workspace(sizes, kinds, m, dtype)
    with _CACHE_LOCK:
        spaces = _CACHE.get(net)
        if spaces is None:
            spaces = _CACHE[net] = {}
        ws = spaces.get(m)
        if ws is not None and ws.fits(sizes, kinds, dtype):
            if len(spaces) > 1 and next(reversed(spaces)) != m:
                spaces[m] = spaces.pop(m)  # most recent last
            return ws
        spaces.pop(m, None)
        spaces[m] = ws = Workspace(sizes, kinds, m, dtype)
        while len(spaces) > _KEEP:
            del spaces[next(iter(spaces))]
    return ws


def release(net: Any) -> None:
    """Drop the cached workspaces of ``net`` (they are also dropped when it is collected)."""
    with _CACHE_LOCK:
        _CACHE.pop(net, None)


def gradients(
    net: Any, X: Any, Y: Any, cache: bool = True, out: Any = None, sample_weight: Any = None
) -> tuple[Any, Layers, Layers]:
    """:math:`J`, ``dW``, ``db`` for a batch, as :meth:`Network.backward` would give them.

    Parameters
    ----------
    net : Network
        A NumPy network; :func:`applicable` must hold for ``X`` and ``Y``.
    X : array of shape (n_0, m)
    Y : array of shape (n_L, m)
    cache : bool, default True
        Keep the workspace for the next call with the same ``m`` (the training loop); False
        allocates one for this call only (one-off calls, which should not pin memory).
    out : (dW, db) of Layers, or None
        Arrays of the gradients' shapes and the network's dtype to write ``dW[l]`` and
        ``db[l]`` into (the optimiser's flat gradient buffer, ``Optimizer._grad_buffers``)
        instead of new ones; the same products and sums, so the same bits.
    sample_weight : array of shape (1, m) or None
        Weights :math:`w_i \\ge 0` of the columns, the network's dtype: the cost
        :math:`\\sum_i w_i \\ell_i / \\sum_i w_i` and column i of :math:`\\delta^{[L]}`
        scaled by :math:`m w_i / \\sum_j w_j`, as :meth:`Network.backward` with weights.

    Returns
    -------
    J : 0-d array or NumPy scalar
        The cost, with the L2 penalty when ``net.alpha > 0``.
    dW, db : Layers
        ``dW[l]`` of shape ``(n_l, n_{l-1})`` and ``db[l]`` of shape ``(n_l, 1)``, l = 1..L:
        new arrays on every call, or ``out``'s.
    """
    ws = workspace(net, X.shape[1], cache)
    if not ws.lock.acquire(blocking=False):  # another thread is using it
        ws = workspace(net, X.shape[1], cache=False)
        ws.lock.acquire()
    try:
        return _step(net, ws, X, Y, out, sample_weight)
    finally:
        ws.lock.release()


def _forward(net: Any, ws: Workspace, X: Any) -> list[Any]:
    """The forward pass into the workspace: ``A[l]`` for l = 0..L (``ws.Z`` holds each Z)."""
    kinds, Z = ws.kinds, ws.Z
    A = [X]
    for l, (W_l, b_l, g_l) in enumerate(zip(net.W, net.b, net.g), start=1):
        Z_l = _matmul(W_l, A[l - 1], Z[l])  # Z^[l] = W^[l] A^[l-1] ...
        np.add(Z_l, b_l, out=Z_l)  # ... + b^[l]
        kind = kinds[l]
        if kind == _RELU:
            A.append(np.maximum(Z_l, 0, out=ws.A[l]))  # A^[l] = max(0, Z^[l])
        elif kind == _IDENTITY:
            A.append(Z_l)  # A^[l] = Z^[l]
        else:
            A.append(g_l.g(Z_l))  # A^[l] = g^[l](Z^[l])
    return A


def _step(
    net: Any, ws: Workspace, X: Any, Y: Any, out: Any = None, w: Any = None
) -> tuple[Any, Layers, Layers]:
    L, m, kinds = net.L, ws.m, ws.kinds
    W, g = net.W, net.g
    Z = ws.Z
    A = _forward(net, ws, X)

    # --- (ii) and J -----------------------------------------------------------------------------
    s = None if w is None else weight_scale(np, w)  # s_i = m w_i / Σ_j w_j, shape (1, m)
    if g[L] is identity and net.loss is mse:
        E = np.subtract(A[L], Y, out=ws.E)  # E = A^[L] − Y
        S = np.multiply(E, E, out=ws.S)  # E ⊙ E, whose column i sums to ℓ_i
        # J = (1/m) Σ E ⊙ E, weighted: (1/m) Σ_i s_i ℓ_i
        J = np.sum(S if s is None else np.sum(S, axis=0, keepdims=True) * s) / m
        delta = np.multiply(E, 2.0 / m, out=E)  # δ^[L] = (2/m) E
        if s is not None:
            np.multiply(delta, s, out=delta)  # column i times s_i
    else:
        if s is None:
            J = cost_of(g[L], net.loss, Z[L], A[L], Y)  # from the logits where it can
        else:  # (1/m) Σ_i s_i ℓ_i, the same way
            J = np.sum(sample_costs(g[L], net.loss, Z[L], A[L], Y) * s) / m
        delta = net.output_delta(Z[L], A[L], Y)
        if s is not None:
            delta = delta * s  # column i times s_i
    if net.alpha:
        J = J + (net.alpha / 2) * sum(np.vdot(W_l, W_l) for W_l in W)

    # --- backward: gradients of layer l, then (i) into Z^[l-1]'s buffer ---------------------
    dW = Layers([None] * L, "dW")
    db = Layers([None] * L, "db")
    for l in range(L, 0, -1):
        if out is None:
            dW[l] = delta @ A[l - 1].T  # ∂J/∂W^[l] = δ^[l] (A^[l-1])ᵀ
            db[l] = np.sum(delta, axis=1, keepdims=True)  # ∂J/∂b^[l] = δ^[l] 1_m
        else:  # the same, written where the optimiser reads them
            dW[l] = _matmul(delta, A[l - 1].T, out[0][l])
            db[l] = np.sum(delta, axis=1, keepdims=True, out=out[1][l])
        if l == 1:
            break
        kind = kinds[l - 1]
        G = g[l - 1].g_prime(Z[l - 1]) if kind == _OTHER else None  # before Z is overwritten
        P = Z[l - 1]
        if W[l].shape[0] == 1:
            np.multiply(W[l].T, delta, out=P)  # W^[l]ᵀ δ^[l]: an outer product (n_l = 1)
        else:
            np.matmul(W[l].T, delta, out=P)  # W^[l]ᵀ δ^[l]
        if kind == _RELU:
            M = np.greater(A[l - 1], 0, out=ws.A[l - 1])  # 1[Z > 0] = 1[A > 0], in A's buffer
            np.multiply(P, M, out=P)  # (i): δ^[l-1] = g'(Z^[l-1]) ⊙ (W^[l]ᵀ δ^[l])
        elif kind == _OTHER:
            assert G is not None
            np.multiply(P, G, out=P)  # (i), with g' from the activation itself
        delta = P  # identity: g' = 1

    if net.alpha:
        for W_l, dW_l in zip(W, dW):
            _add_scaled(dW_l, net.alpha, W_l)  # + α W^[l]
    return J, dW, db


def _matmul(P: Any, Q: Any, out: Any) -> Any:
    """``P @ Q`` into ``out``; a scipy.sparse factor (a sparse X, in layer 1) through scipy's
    own product (the cost of its non-zeros), copied in."""
    if type(Q) is np.ndarray:
        return np.matmul(P, Q, out=out)
    np.copyto(out, P @ Q)
    return out


def _add_scaled(Y: Any, a: float, X: Any) -> None:
    """``Y += a * X`` in row blocks: no temporary larger than :data:`_CHUNK` elements.

    ``Y`` and ``X`` of the same shape ``(r, c)``; the same two roundings as ``Y + a * X``.
    """
    rows = max(1, _CHUNK // max(1, Y.shape[1]))
    for i in range(0, Y.shape[0], rows):
        Y[i : i + rows] += a * X[i : i + rows]


__all__ = ["Workspace", "applicable", "gradients", "release", "workspace"]

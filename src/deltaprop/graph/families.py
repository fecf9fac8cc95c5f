r"""Graph families for the blow-up study, each with its costs in closed form.

A family builds, for a depth ``n``, an output ``z`` and its variables; and states, without
building anything, how many chain-rule paths lead from ``z`` to the variables, how many edges
back-propagation handles, and exactly what each gradient method costs (:class:`OpCount`, as
defined in :mod:`deltaprop.graph._count`). The tests check every closed form against the
counts the methods report.

=============  ===========================================  ==========  ========  ===============
family         graph (depth n)                              paths       backprop  naive
=============  ===========================================  ==========  ========  ===============
``chain``      :math:`x_k = f(x_{k-1})`, :math:`x_0 = w`     1           3n        n(n+3)/2
``fanout``     :math:`x_k = x_{k-1} x_{k-1}`                 2^n         6n        (n+3) 2^n − 3
``fibonacci``  :math:`x_k = x_{k-1} x_{k-2}`, x_{-1} = x_0   F(n+2)      6n        ∝ n φ^n
``mlp``        a ReLU/MSE network of n layers, unrolled      ∝ Π widths  ∝ n       ∝ n² Π widths
=============  ===========================================  ==========  ========  ===============

Why the naive count grows: the recursion of :mod:`deltaprop.graph.naive` visits a node once
per path from the output down to it, and at each visit recomputes from the leaves the input
values its local derivatives read. With :math:`P(v)` the paths from ``z`` to ``v`` and
:math:`F(u)` the inner nodes of ``u``'s expression tree, for one variable ``x``:

* local derivatives = products = :math:`\sum_{v} P(v)\,r_v` (r_v: inputs of v that depend on x)
* sums = :math:`P(x) - 1`
* forward = :math:`\sum_v P(v) \sum_{\text{slots } i} \sum_{j \in \text{needs}_i} F(u_j)`

:mod:`deltaprop.graph.paths` does the same local derivatives, products and sums but reads stored
values (forward = N, the inner nodes), and back-propagation does each edge once: forward N,
local derivatives and products E', sums E' − V' + 1, with E' the edges and V' the nodes lying
between the variables and the output.

>>> from deltaprop.graph import gradients
>>> from deltaprop.graph.families import get_family
>>> fanout = get_family("fanout")
>>> z, wrt = fanout.build(10)
>>> gradients(z, wrt, method="naive")[1] == fanout.cost(10, "naive").total == 13 * 2**10 - 3
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, ClassVar

from ._count import OpCount
from ._var import Var

METHOD_NAMES = ("backprop", "naive", "paths")
UNARY = ("relu", "exp", "log", "tanh", "sigmoid", "sin", "cos")


def _check_depth(depth: Any) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(f"depth must be an integer >= 1; got {depth!r}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1; got {depth}")
    return depth


def _check_method(method: str) -> str:
    if method not in METHOD_NAMES:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHOD_NAMES)}")
    return method


def fib(n: int) -> int:
    """The Fibonacci number F(n): F(0) = 0, F(1) = F(2) = 1."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def lucas(n: int) -> int:
    """The Lucas number L(n) = F(n−1) + F(n+1): L(0) = 2, L(1) = 1."""
    return 2 if n == 0 else fib(n - 1) + fib(n + 1)


class Family:
    """A family of graphs indexed by depth, with its counts in closed form."""

    name: ClassVar[str]
    formula: ClassVar[str]

    def build(self, depth: int) -> tuple[Var, list[Var]]:
        """The output node and the variables of the graph of this depth."""
        raise NotImplementedError

    def n_paths(self, depth: int) -> int:
        """Chain-rule paths from the output to the variables (summed over the variables)."""
        raise NotImplementedError

    def n_edges(self, depth: int) -> int:
        """E': edges between the variables and the output (back-propagation's work)."""
        raise NotImplementedError

    def cost(self, depth: int, method: str) -> OpCount:
        """What ``gradients(*self.build(depth), method=method)`` counts, exactly."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Chain(Family):
    """The book's chain :math:`x_k = f(x_{k-1})`, :math:`x_0 = w`: one path, no fan-out.

    Back-propagation evaluates each :math:`f(x_k)` and :math:`f'(x_k)` once (3n operations);
    the naive rule recomputes :math:`x_{k-1}` from ``w`` for each factor :math:`f'(x_{k-1})`,
    k − 1 evaluations, so n(n−1)/2 in all: quadratic, not exponential, as there is one path.
    """

    name = "chain"
    formula = "x_k = f(x_{k-1}), x_0 = w"

    def __init__(self, f: str = "tanh", w: float = 0.5) -> None:
        if f not in UNARY:
            raise ValueError(f"unknown f {f!r}; known functions: {', '.join(UNARY)}")
        self.f, self.w = f, w

    def build(self, depth: int) -> tuple[Var, list[Var]]:
        n = _check_depth(depth)
        w = Var(self.w, name="w")
        x = w
        for _ in range(n):
            x = getattr(x, self.f)()
        return x, [w]

    def n_paths(self, depth: int) -> int:
        return 1

    def n_edges(self, depth: int) -> int:
        return _check_depth(depth)

    def cost(self, depth: int, method: str) -> OpCount:
        n, method = _check_depth(depth), _check_method(method)
        if method == "naive":  # visit of x_k recomputes x_{k-1}: k − 1 forward evaluations
            return OpCount(forward=n * (n - 1) // 2, local=n, products=n, sums=0)
        return OpCount(forward=n, local=n, products=n, sums=0)

    def __repr__(self) -> str:
        return f"Chain(f={self.f!r}, w={self.w!r})"


class Fanout(Family):
    """Each value feeds the next twice, :math:`x_k = x_{k-1} \\cdot x_{k-1}`: paths double.

    :math:`P(x_k) = 2^{n-k}` paths reach :math:`x_k`, :math:`2^n` reach ``w``. Back-propagation:
    n values, 2n edges (local derivatives and products), n sums. Naive: the visits of
    :math:`x_k` number :math:`2^{n-k}`, each with 2 local derivatives, 2 products, 1 sum and
    2 recomputations of :math:`x_{k-1}` (:math:`2^{k-1} - 1` evaluations each).
    With the default ``w = 1`` every value is 1 at any depth and the gradient is exactly 2^n.
    """

    name = "fanout"
    formula = "x_k = x_{k-1} * x_{k-1}, x_0 = w"

    def __init__(self, w: float = 1.0) -> None:
        self.w = w

    def build(self, depth: int) -> tuple[Var, list[Var]]:
        n = _check_depth(depth)
        w = Var(self.w, name="w")
        x = w
        for _ in range(n):
            x = x * x
        return x, [w]

    def n_paths(self, depth: int) -> int:
        return 2 ** _check_depth(depth)

    def n_edges(self, depth: int) -> int:
        return 2 * _check_depth(depth)

    def cost(self, depth: int, method: str) -> OpCount:
        n, method = _check_depth(depth), _check_method(method)
        if method == "backprop":
            return OpCount(forward=n, local=2 * n, products=2 * n, sums=n)
        walks = 2 * (2**n - 1)  # Σ_k 2^{n-k} visits × 2 edges
        forward = n if method == "paths" else (n - 2) * 2**n + 2  # Σ_k 2^{n-k} · 2(2^{k-1} − 1)
        return OpCount(forward=forward, local=walks, products=walks, sums=2**n - 1)

    def __repr__(self) -> str:
        return f"Fanout(w={self.w!r})"


class Fibonacci(Family):
    """:math:`x_k = x_{k-1} \\cdot x_{k-2}` with :math:`x_{-1} = x_0 = w`: paths grow like φ^n.

    So :math:`x_1 = w \\cdot w`, :math:`x_2 = x_1 \\cdot w`, ... and :math:`x_k = w^{F(k+2)}`.
    :math:`P(x_k) = F(n-k+1)` paths reach :math:`x_k` and F(n+2) reach ``w`` (F the Fibonacci
    numbers). Back-propagation costs the same 6n as :class:`Fanout`: n values, 2n edges. Naive:
    the visit of :math:`x_k` recomputes both inputs, :math:`F(k+2) - 2` evaluations, so

    .. math::  \\text{forward} = \\sum_{k=1}^{n} F(n+1-k)\\,(F(k+2) - 2)
               = \\frac{(n+3) L(n+3) - 6 F(n+3)}{5} - 2F(n+2) + 2

    by the convolution identity :math:`\\sum_{i=0}^{M} F(i)F(M-i) = (M L(M) - F(M))/5`
    (L the Lucas numbers).
    """

    name = "fibonacci"
    formula = "x_k = x_{k-1} * x_{k-2}, x_{-1} = x_0 = w"

    def __init__(self, w: float = 1.0) -> None:
        self.w = w

    def build(self, depth: int) -> tuple[Var, list[Var]]:
        n = _check_depth(depth)
        w = Var(self.w, name="w")
        before, x = w, w * w
        for _ in range(n - 1):
            before, x = x, x * before
        return x, [w]

    def n_paths(self, depth: int) -> int:
        return fib(_check_depth(depth) + 2)

    def n_edges(self, depth: int) -> int:
        return 2 * _check_depth(depth)

    def cost(self, depth: int, method: str) -> OpCount:
        n, method = _check_depth(depth), _check_method(method)
        if method == "backprop":
            return OpCount(forward=n, local=2 * n, products=2 * n, sums=n)
        paths = fib(n + 2)
        walks = 2 * (paths - 1)  # Σ_k F(n+1−k) visits × 2 edges = 2 (F(n+2) − 1)
        if method == "paths":
            forward = n
        else:
            M = n + 3
            forward = (M * lucas(M) - 6 * fib(M)) // 5 - 2 * paths + 2
        return OpCount(forward=forward, local=walks, products=walks, sums=paths - 1)

    def __repr__(self) -> str:
        return f"Fibonacci(w={self.w!r})"


def unroll_mlp(
    W: Sequence[Any], b: Sequence[Any], X: Any, Y: Any, hidden: str = "relu"
) -> tuple[Var, list[Var]]:
    """A network's MSE cost unrolled into scalar nodes; the weights and biases are the variables.

    For every sample s, layer l and unit j:
    :math:`z_j = (\\dots((b_j + W_{j1} a_1) + W_{j2} a_2) \\dots) + W_{j n} a_n`,
    :math:`a_j = g(z_j)` (identity in the last layer); then
    :math:`J = (\\sum_{s, i} (a_i - y_i)^2) / m`, summed in the order s, then i.
    This is :class:`deltaprop.Network`'s forward pass and cost with hidden activation ``hidden``,
    identity output and MSE, one scalar at a time.

    Parameters
    ----------
    W : sequence of L matrices
        ``W[l - 1]`` of shape (n_l, n_{l-1}) (nested lists, NumPy arrays or a ``Layers``).
    b : sequence of L vectors
        ``b[l - 1]`` of n_l numbers (shape (n_l,) or (n_l, 1)).
    X : matrix of shape (n_0, m)
        Inputs, samples as columns.
    Y : matrix of shape (n_L, m)
        Targets, samples as columns.
    hidden : str
        Hidden activation, one of ``relu, exp, log, tanh, sigmoid, sin, cos``.

    Returns
    -------
    J : Var
    wrt : list of Var
        ``W[1]`` row by row, ``b[1]``, ``W[2]`` row by row, ``b[2]``, ...
    """
    if hidden not in UNARY:
        raise ValueError(f"unknown hidden {hidden!r}; known functions: {', '.join(UNARY)}")
    W_rows = [[list(row) for row in W_l] for W_l in W]
    b_vec = [[float(v if not hasattr(v, "__len__") else v[0]) for v in b_l] for b_l in b]
    X_rows, Y_rows = [list(r) for r in X], [list(r) for r in Y]
    L, m = len(W_rows), len(X_rows[0])
    Wv = [
        [[Var(w, name=f"W[{l}][{j},{k}]") for k, w in enumerate(row)] for j, row in enumerate(M)]
        for l, M in enumerate(W_rows, start=1)
    ]
    bv = [
        [Var(v, name=f"b[{l}][{j}]") for j, v in enumerate(vec)]
        for l, vec in enumerate(b_vec, start=1)
    ]
    terms: list[Var] = []
    for s in range(m):
        a: list[Any] = [row[s] for row in X_rows]  # A^[0]: numbers
        for l in range(L):
            z = []
            for j in range(len(Wv[l])):
                z_j = bv[l][j]
                for k, a_k in enumerate(a):
                    z_j = z_j + Wv[l][j][k] * a_k  # Z^[l] = W^[l] A^[l-1] + b^[l]
                z.append(z_j)
            a = [getattr(z_j, hidden)() for z_j in z] if l < L - 1 else z  # A^[l] = g(Z^[l])
        terms.extend((a_i - Y_rows[i][s]) ** 2 for i, a_i in enumerate(a))
    J = terms[0]
    for t in terms[1:]:
        J = J + t
    wrt = [v for l in range(L) for v in [*(w for row in Wv[l] for w in row), *bv[l]]]
    return J / m, wrt


class MLP(Family):
    """A ReLU/MSE network with ``depth`` layers and one output, unrolled by :func:`unroll_mlp`.

    Widths ``[n_in, width, ..., width, 1]``, ``batch`` samples, He-scaled Gaussian weights,
    Gaussian biases, inputs and targets from ``random.Random(seed)``. With widths
    :math:`n_0..n_L` (:math:`n_L = 1`), m samples, :math:`S = \\sum_l n_l n_{l-1}`,
    :math:`H = \\sum_{l<L} n_l` and :math:`V = \\sum_l n_l (n_{l-1} + 1)` variables:

    * inner nodes N = m(2S + H + 3): per sample S products, S sums, H ReLUs, a difference and a
      square; then m − 1 sums and the division by m;
    * edges E' = m(4S − n_0 n_1 + H + 4) − 1 (layer 1's products read constant inputs);
    * paths :math:`m \\sum_l n_l (n_{l-1}+1) \\pi_l` with :math:`\\pi_l = \\prod_{r>l} n_r`,
      the paths from one unit of layer l to the output: the product of the widths above it.

    The naive and path counts add, over every node u, its paths :math:`P(u)` times the number of
    variables u depends on (see :meth:`cost`).
    """

    name = "mlp"
    formula = "ReLU/MSE network, widths [n_in, width, ..., width, 1], depth = layers"

    def __init__(self, width: int = 2, n_in: int = 2, batch: int = 1, seed: int = 0) -> None:
        for label, v in (("width", width), ("n_in", n_in), ("batch", batch)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{label} must be an integer >= 1; got {v!r}")
        self.width, self.n_in, self.batch, self.seed = width, n_in, batch, seed

    def sizes(self, depth: int) -> list[int]:
        """``[n_in, width, ..., width, 1]`` with ``depth`` layers."""
        return [self.n_in] + [self.width] * (_check_depth(depth) - 1) + [1]

    def build(self, depth: int) -> tuple[Var, list[Var]]:
        return unroll_mlp(*self.data(depth))

    def data(self, depth: int) -> tuple[list, list, list, list]:
        """The numbers the graph is built from: ``W, b, X, Y`` as nested lists.

        ``W[l - 1]`` of shape (n_l, n_{l-1}), ``b[l - 1]`` of n_l numbers, ``X`` of shape
        (n_in, batch) and ``Y`` of shape (1, batch), as :func:`unroll_mlp` takes them.
        """
        n = self.sizes(depth)
        rng = random.Random(self.seed)
        W = [
            [
                [rng.gauss(0.0, math.sqrt(2.0 / n[l - 1])) for _ in range(n[l - 1])]
                for _ in range(n[l])
            ]
            for l in range(1, len(n))
        ]
        b = [[rng.gauss(0.0, 0.1) for _ in range(n[l])] for l in range(1, len(n))]
        X = [[rng.gauss(0.0, 1.0) for _ in range(self.batch)] for _ in range(n[0])]
        Y = [[rng.gauss(0.0, 1.0) for _ in range(self.batch)]]
        return W, b, X, Y

    def _shape(self, depth: int) -> tuple[list[int], int, int, int, int]:
        n = self.sizes(depth)
        L = len(n) - 1
        S = sum(n[l] * n[l - 1] for l in range(1, L + 1))
        H = sum(n[l] for l in range(1, L))
        V = sum(n[l] * (n[l - 1] + 1) for l in range(1, L + 1))
        return n, L, S, H, V

    def n_paths(self, depth: int) -> int:
        n, L, _, _, _ = self._shape(depth)
        pi = [math.prod(n[l + 1 :]) for l in range(L + 1)]  # π_l = Π_{r>l} n_r
        return self.batch * sum(n[l] * (n[l - 1] + 1) * pi[l] for l in range(1, L + 1))

    def n_edges(self, depth: int) -> int:
        n, _, S, H, _ = self._shape(depth)
        return self.batch * (4 * S - n[0] * n[1] + H + 4) - 1

    def cost(self, depth: int, method: str) -> OpCount:
        """Exact counts. For naive and paths, with m samples and :math:`\\pi_l` as above:

        * :math:`V_l = \\sum_{r \\le l} n_r(n_{r-1}+1)` variables up to layer l; a unit of
          layer l depends on :math:`d_l = n_{l-1} + 1 + V_{l-1}` of them (its row of W, its
          bias, everything below); the input layer on none (:math:`d_0 = 0`);
        * local derivatives = products = :math:`\\sum_{u \\ne J} P(u)\\,\\text{dep}(u)`, over
          the variables (the paths), the products :math:`W_{jk} a_k` (:math:`1 + d_{l-1}`), the
          partial sums of :math:`z_j` (the k-th depends on :math:`1 + k + k(n_{l-2}+1) +
          V_{l-2}`), the ReLUs (:math:`d_l`), the difference and the square (V each) and the
          m − 1 partial sums of the cost (V each);
        * sums = paths − V;
        * naive forward: a visit to :math:`W_{jk} a_k` for :math:`x = W_{jk}` recomputes
          :math:`a_k` (:math:`1 + \\varphi_{l-1}` evaluations), a ReLU recomputes its
          :math:`z` (:math:`\\varphi_l`), the square its difference (:math:`\\varphi_L + 1`),
          with :math:`\\varphi_1 = 2 n_0`, :math:`\\varphi_l = n_{l-1}(3 + \\varphi_{l-1})`.
        """
        method = _check_method(method)
        n, L, S, H, V = self._shape(depth)
        m = self.batch
        N = m * (2 * S + H + 3)
        if method == "backprop":
            E = self.n_edges(depth)
            return OpCount(forward=N, local=E, products=E, sums=E - N - V + 1)
        paths = self.n_paths(depth)
        pi = [math.prod(n[l + 1 :]) for l in range(L + 1)]
        V_ = [sum(n[r] * (n[r - 1] + 1) for r in range(1, l + 1)) for l in range(L + 1)]
        d = [0] + [n[l - 1] + 1 + V_[l - 1] for l in range(1, L + 1)]  # dep of a unit of layer l
        per_sample = 0
        for l in range(1, L + 1):
            K = n[l - 1]
            per_sample += n[l] * K * pi[l] * (1 + d[l - 1])  # products W_jk a_k
            z_sums = K + K * (K + 1) // 2  # partial sums of z_j: Σ_k (1 + k + U_l(k))
            if l >= 2:
                z_sums += (n[l - 2] + 1) * K * (K + 1) // 2 + K * V_[l - 2]
            per_sample += n[l] * pi[l] * z_sums
            if l < L:
                per_sample += n[l] * pi[l] * d[l]  # ReLUs
        per_sample += 2 * V  # difference and square (d_L = V)
        walks = paths + m * per_sample + (m - 1) * V
        if method == "paths":
            forward = N
        else:
            phi = [0, 2 * n[0]]
            for l in range(2, L + 1):
                phi.append(n[l - 1] * (3 + phi[l - 1]))
            forward = sum(n[l] * n[l - 1] * pi[l] * (1 + phi[l - 1]) for l in range(2, L + 1))
            forward += sum(n[l] * pi[l] * d[l] * phi[l] for l in range(1, L))
            forward += V * (phi[L] + 1)
            forward *= m
        return OpCount(forward=forward, local=walks, products=walks, sums=paths - V)

    def __repr__(self) -> str:
        return f"MLP(width={self.width}, n_in={self.n_in}, batch={self.batch}, seed={self.seed})"


FAMILIES: dict[str, Family] = {f.name: f for f in (Chain(), Fanout(), Fibonacci(), MLP())}
"""The families by name, with default parameters."""


def get_family(name: str) -> Family:
    """The family registered as ``name`` (ValueError listing the known names otherwise)."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown family {name!r}; known families: {', '.join(FAMILIES)}"
        ) from None


__all__ = [
    "FAMILIES",
    "MLP",
    "Chain",
    "Family",
    "Fanout",
    "Fibonacci",
    "fib",
    "get_family",
    "lucas",
    "unroll_mlp",
]

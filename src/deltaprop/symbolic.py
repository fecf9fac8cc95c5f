r"""Symbolic verification of the derivation (``docs/derivation.md``) with SymPy.

Needs the optional extra ``pip install deltaprop[symbolic]``. A short guided tour:

1. :func:`generic_network` builds a small network whose inputs :math:`X`, weights
   :math:`W^{[l]}` and biases :math:`b^{[l]}` are SymPy symbols, whose activation
   :math:`g^{[l]}` (one per layer) is an *undefined* function with an undefined derivative
   :math:`g^{[l]\prime}`, and whose cost :math:`J` is an undefined function of the
   :math:`n_L m` entries of :math:`A^{[L]}` with undefined partial derivatives
   :math:`J_{ij} = \partial J / \partial A^{[L]}_{ij}`. Nothing about g or J is assumed but
   differentiability.
2. :func:`backprop` evaluates the derivation's formulas on those matrices: equation (ii)
   :math:`\delta^{[L]} = J'(A^{[L]}) \odot g^{[L]\prime}(Z^{[L]})`, equation (i)
   :math:`\delta^{[l]} = g^{[l]\prime}(Z^{[l]}) \odot (W^{[l+1]T} \delta^{[l+1]})` and
   :math:`\partial J/\partial W^{[l]} = \delta^{[l]} A^{[l-1]T}`,
   :math:`\partial J/\partial b^{[l]} = \delta^{[l]} 1_m`.
3. :func:`check_gradients` differentiates the composed cost :math:`J` directly with
   ``sympy.diff`` (the multivariable chain rule on the whole expression, no δ anywhere) with
   respect to every weight and bias, and shows that the difference with step 2 is identically
   zero (:func:`is_zero`). Since g and J are generic this proves (i) and (ii) for those shapes,
   for *any* activations and cost.
4. :func:`exercise_network` is the Task 2 specialisation: ReLU hidden layers, identity output,
   MSE and an L2 penalty, with the specialised formulas :math:`J'(A) = (2/m)(A - Y)` and
   :math:`g'(z) = 1[z > 0]`. Away from 0, ReLU on the region where the sign of every hidden
   pre-activation is fixed is :math:`\text{relu}(z) = s z` with the constant
   :math:`s = 1[z > 0] \in \{0, 1\}`; keeping every s a symbol checks all :math:`2^k` regions
   at once. :func:`check_piecewise_relu` also checks the regions one by one with ReLU written
   as a SymPy ``Piecewise``.
5. Task 3: :func:`check_chain_form` shows that SymPy's derivative of
   :math:`f(f(\dots f(w)))` is the recomputing product
   :math:`f'(f(f(w)))\,f'(f(w))\,f'(w)`; :func:`chain_operation_counts` counts its operations
   (quadratic in the depth n) against the same expression after common-subexpression
   elimination, ``sympy.cse``, which stores each :math:`f^k(w)` once (linear in n).
6. :func:`run_checks` runs them all and times each; ``deltaprop derive --check`` prints the
   result.

Example
-------
>>> from deltaprop.symbolic import generic_network, check_gradients
>>> net = generic_network([2, 3, 2], m=2)
>>> net.W[1].shape, net.Z[2].shape
((3, 2), (2, 2))
>>> check_gradients(net)
True
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sympy as sp
from sympy.polys.rings import ring

# --- generic functions: g^[l] with derivative g^[l]', J with partials J_ij -------------------


def generic_activation(l: int) -> tuple[type[sp.Function], type[sp.Function]]:
    """The pair ``(g, g_prime)`` of a generic activation of layer ``l``.

    ``g`` is a SymPy ``Function`` of one argument about which nothing is known except that its
    derivative is the undefined function ``g_prime`` (SymPy's chain rule uses it:
    ``diff(g(u), w) == g_prime(u) * diff(u, w)``).
    """
    return _differentiable(f"g^[{l}]")


def _differentiable(name: str) -> tuple[type[sp.Function], type[sp.Function]]:
    """A one-argument SymPy function ``name`` whose derivative is the undefined ``name'``."""
    prime = sp.Function(f"{name}'")

    def fdiff(self: sp.Function, argindex: int = 1) -> sp.Expr:
        return prime(self.args[0])

    return type(name, (sp.Function,), {"nargs": 1, "fdiff": fdiff}), prime


def generic_cost(n_L: int, m: int) -> tuple[type[sp.Function], list[list[type[sp.Function]]]]:
    """A generic cost ``J`` of the ``n_L * m`` entries of :math:`A^{[L]}` and its partials.

    ``J`` takes the entries of :math:`A^{[L]}` (shape ``(n_L, m)``) in row-major order;
    ``partials[i][j]`` is the undefined function :math:`\\partial J/\\partial A_{ij}` (of the
    same arguments), so that :math:`J'(A^{[L]})` is the ``(n_L, m)`` matrix of those.
    """
    partials = [[sp.Function(f"J_{i + 1},{j + 1}") for j in range(m)] for i in range(n_L)]
    flat = [p for row in partials for p in row]

    def fdiff(self: sp.Function, argindex: int = 1) -> sp.Expr:
        return flat[argindex - 1](*self.args)

    J = type("J", (sp.Function,), {"nargs": n_L * m, "fdiff": fdiff})
    return J, partials


# --- the symbolic network ---------------------------------------------------------------------


@dataclass
class SymbolicNetwork:
    """A network with symbolic parameters; lists are indexed by layer (entry 0 unused but A).

    Attributes
    ----------
    sizes : list of int
        ``[n_0, ..., n_L]``.
    m : int
        Samples (columns) in the batch.
    X : Matrix of shape (n_0, m)
    W, b : lists of Matrix
        ``W[l]`` of shape ``(n_l, n_{l-1})``, ``b[l]`` of shape ``(n_l, 1)``, l = 1..L.
    Z, A : lists of Matrix
        ``Z[l] = W[l] A[l-1] + b[l] 1_mᵀ`` and ``A[l] = g^[l](Z[l])``, shape ``(n_l, m)``;
        ``A[0] = X``.
    G_prime : list of Matrix
        ``G_prime[l]`` = :math:`g^{[l]\\prime}(Z^{[l]})`, shape ``(n_l, m)``.
    J : sympy expression
        The cost as one expression in the parameters (composed through every layer).
    J_prime : Matrix of shape (n_L, m)
        :math:`J'(A^{[L]})`, the matrix of :math:`\\partial J/\\partial A^{[L]}_{ij}`.
    alpha : sympy expression
        The L2 coefficient λ (0 for none): J contains (λ/2) Σ_l ||W^[l]||_F².
    name : str
    """

    sizes: list[int]
    m: int
    X: sp.Matrix
    W: list[Any]
    b: list[Any]
    Z: list[Any]
    A: list[Any]
    G_prime: list[Any]
    J: sp.Expr
    J_prime: sp.Matrix
    alpha: sp.Expr = sp.S.Zero
    name: str = ""
    Y: sp.Matrix | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def L(self) -> int:
        """Number of layers with weights."""
        return len(self.sizes) - 1

    def parameters(self) -> Iterator[tuple[str, int, tuple[int, int], sp.Symbol]]:
        """Every scalar parameter as ``(name, l, (i, j), symbol)``, name "W" or "b"."""
        for l in range(1, self.L + 1):
            for name, P in (("W", self.W[l]), ("b", self.b[l])):
                for i, j in itertools.product(range(P.shape[0]), range(P.shape[1])):
                    yield name, l, (i, j), P[i, j]


def _validate(sizes: Sequence[int], m: int) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) for n in sizes):
        raise TypeError(
            f"sizes must be a list of at least two integers [n_0, ..., n_L]; got {sizes!r}"
        )
    if any(n < 1 for n in sizes):
        raise ValueError(f"sizes must all be >= 1; got {sizes!r}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be an integer >= 1; got {m!r}")
    return sizes


def _symbols(sizes: list[int], m: int) -> tuple[sp.Matrix, list[Any], list[Any]]:
    """X (n_0, m), W[l] (n_l, n_{l-1}), b[l] (n_l, 1) as matrices of fresh real symbols."""
    L = len(sizes) - 1
    X = sp.Matrix(sizes[0], m, lambda i, j: sp.Symbol(f"x_{i + 1},{j + 1}"))
    W: list[Any] = [None] + [
        sp.Matrix(sizes[l], sizes[l - 1], lambda i, j, l=l: sp.Symbol(f"w^[{l}]_{i + 1},{j + 1}"))
        for l in range(1, L + 1)
    ]
    b: list[Any] = [None] + [
        sp.Matrix(sizes[l], 1, lambda i, j, l=l: sp.Symbol(f"b^[{l}]_{i + 1}"))
        for l in range(1, L + 1)
    ]
    return X, W, b


def _pre_activation(W: sp.Matrix, A_prev: sp.Matrix, b: sp.Matrix, m: int) -> sp.Matrix:
    """Z = W A_prev + b 1_mᵀ (b broadcast over the m columns): shape (n_l, m)."""
    return W * A_prev + b * sp.ones(1, m)


def generic_network(sizes: Sequence[int], m: int = 2) -> SymbolicNetwork:
    """A network with symbolic X, W, b, a generic activation per layer and a generic cost.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_0, ..., n_L]``.
    m : int, default 2
        Samples in the batch (at least 2 shows the sum over the batch in ∂J/∂b).
    """
    sizes = _validate(sizes, m)
    L = len(sizes) - 1
    X, W, b = _symbols(sizes, m)
    Z: list[Any] = [None] * (L + 1)
    A: list[Any] = [X] + [None] * L
    G_prime: list[Any] = [None] * (L + 1)
    for l in range(1, L + 1):
        g, g_prime = generic_activation(l)
        Z[l] = _pre_activation(W[l], A[l - 1], b[l], m)  # Z^[l] = W^[l] A^[l-1] + b^[l]
        A[l] = Z[l].applyfunc(g)  # A^[l] = g^[l](Z^[l])
        G_prime[l] = Z[l].applyfunc(g_prime)
    J_fn, partials = generic_cost(sizes[-1], m)
    args = list(A[L])  # row-major entries of A^[L]
    J = J_fn(*args)
    J_prime = sp.Matrix(sizes[-1], m, lambda i, j: partials[i][j](*args))
    name = "-".join(map(str, sizes)) + f", m = {m}, generic g and J"
    return SymbolicNetwork(sizes, m, X, W, b, Z, A, G_prime, J, J_prime, name=name)


def exercise_network(sizes: Sequence[int], m: int = 2, l2: bool = True) -> SymbolicNetwork:
    r"""The Task 2 network: ReLU hidden layers, identity output, MSE, optional L2 penalty.

    On the region of parameter space where every hidden pre-activation :math:`Z^{[l]}_{ij}`
    keeps its sign (away from 0), :math:`\text{relu}(z) = s z` with the constant
    :math:`s = 1[z > 0]`. Each :math:`s^{[l]}_{ij}` is a symbol here, so one identity covers
    every region (any choice of 0/1 values). The specialised formulas are stored:
    :math:`J'(A^{[L]}) = (2/m)(A^{[L]} - Y)`, :math:`g^{[l]\prime}(Z^{[l]}) = S^{[l]}` (the
    step, as a matrix of the s) for l < L and 1 for the identity output.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_0, ..., n_L]``.
    m : int, default 2
    l2 : bool, default True
        Add :math:`(\lambda/2)\sum_l \lVert W^{[l]}\rVert_F^2` with a symbol λ.
    """
    sizes = _validate(sizes, m)
    L = len(sizes) - 1
    X, W, b = _symbols(sizes, m)
    Y = sp.Matrix(sizes[-1], m, lambda i, j: sp.Symbol(f"y_{i + 1},{j + 1}"))
    Z: list[Any] = [None] * (L + 1)
    A: list[Any] = [X] + [None] * L
    G_prime: list[Any] = [None] * (L + 1)
    for l in range(1, L + 1):
        Z[l] = _pre_activation(W[l], A[l - 1], b[l], m)
        if l < L:  # ReLU on a fixed-sign region: relu(z) = s z, s = 1[z > 0]
            S = sp.Matrix(sizes[l], m, lambda i, j, l=l: sp.Symbol(f"s^[{l}]_{i + 1},{j + 1}"))
            A[l] = S.multiply_elementwise(Z[l])
            G_prime[l] = S  # relu'(Z) = 1[Z > 0] = S
        else:  # identity output: g(z) = z, g'(z) = 1
            A[l] = Z[l]
            G_prime[l] = sp.ones(sizes[l], m)
    alpha = sp.Symbol("lambda", positive=True) if l2 else sp.S.Zero
    E = A[L] - Y
    J = sp.Rational(1, m) * sum(e**2 for e in E)  # (1/m) Σ_i ||y_i − a_i||²
    J += alpha / 2 * sum(w**2 for l in range(1, L + 1) for w in W[l])
    J_prime = sp.Rational(2, m) * (A[L] - Y)  # J'(A) = (2/m)(A − Y), entry-wise: no sum
    name = "-".join(map(str, sizes)) + f", m = {m}, ReLU/identity/MSE" + (" + L2" if l2 else "")
    return SymbolicNetwork(sizes, m, X, W, b, Z, A, G_prime, J, J_prime, alpha, name, Y)


# --- the derivation's formulas ----------------------------------------------------------------


def backprop(net: SymbolicNetwork) -> tuple[list[Any], list[Any], list[Any]]:
    r"""Equations (ii), (i) and the gradient formulas on a :class:`SymbolicNetwork`.

    Returns
    -------
    delta, dW, db : lists indexed by layer (entry 0 unused)
        ``delta[l]`` (n_l, m), ``dW[l]`` (n_l, n_{l-1}) = :math:`\delta^{[l]} A^{[l-1]T}`
        (+ λ W^[l]), ``db[l]`` (n_l, 1) = :math:`\delta^{[l]} 1_m`.
    """
    L, m = net.L, net.m
    delta: list[Any] = [None] * (L + 1)
    delta[L] = net.J_prime.multiply_elementwise(net.G_prime[L])  # (ii)
    for l in range(L - 1, 0, -1):
        delta[l] = net.G_prime[l].multiply_elementwise(net.W[l + 1].T * delta[l + 1])  # (i)
    dW: list[Any] = [None] * (L + 1)
    db: list[Any] = [None] * (L + 1)
    for l in range(1, L + 1):
        dW[l] = delta[l] * net.A[l - 1].T + net.alpha * net.W[l]  # δ^[l] (A^[l-1])ᵀ + λ W^[l]
        db[l] = delta[l] * sp.ones(m, 1)  # δ^[l] 1_m
    return delta, dW, db


def is_zero(expr: sp.Expr) -> bool:
    """Whether ``expr`` is identically zero as a polynomial in its outermost function values.

    Every outermost application of a function (``g^[2]'(...)``, ``J_1,1(...)``) is replaced
    by a fresh symbol (equal applications by the same symbol) and the result expanded, in
    SymPy's sparse polynomial ring over the rationals (much faster than ``sympy.expand``). A
    polynomial that expands to 0 is 0 whatever values those applications take, so ``True`` is
    a proof; ``False`` means only that this normal form did not show it.
    """
    apps = expr.atoms(sp.Function)
    opaque = sp.sympify(expr).xreplace({a: sp.Dummy() for a in apps})  # outermost first
    gens = sorted(opaque.free_symbols, key=sp.default_sort_key)
    if not gens:
        return bool(sp.simplify(opaque) == 0)
    try:
        R, *_ = ring(gens, sp.QQ)
        return bool(R.from_expr(opaque) == 0)
    except (ValueError, TypeError, sp.polys.polyerrors.PolynomialError):
        return bool(sp.expand(opaque) == 0)  # not a polynomial over QQ in these symbols


def gradient_differences(
    net: SymbolicNetwork, dW: Sequence[Any] | None = None, db: Sequence[Any] | None = None
) -> Iterator[tuple[str, sp.Expr]]:
    """``(label, diff(J, θ) − formula)`` for every weight and bias θ.

    ``dW``/``db`` default to :func:`backprop`'s; pass others to test a wrong formula.
    """
    if dW is None or db is None:
        _, dW, db = backprop(net)
    for name, l, (i, j), theta in net.parameters():
        formula = (dW if name == "W" else db)[l]
        if tuple(formula.shape) != tuple((net.W if name == "W" else net.b)[l].shape):
            raise ValueError(
                f"d{name}[{l}] must have shape {(net.W if name == 'W' else net.b)[l].shape}; "
                f"got {formula.shape}"
            )
        yield f"{name}^[{l}]_{i + 1},{j + 1}", sp.diff(net.J, theta) - formula[i, j]


def check_gradients(
    net: SymbolicNetwork, dW: Sequence[Any] | None = None, db: Sequence[Any] | None = None
) -> bool:
    """Whether SymPy's ``diff(J, θ)`` equals the formula for every weight and bias θ."""
    return all(is_zero(d) for _, d in gradient_differences(net, dW, db))


# --- Task 2: ReLU's derivative and the regions one by one -------------------------------------


def relu_piecewise(z: sp.Expr) -> sp.Piecewise:
    """ReLU as a SymPy piecewise function: z for z > 0, else 0."""
    return sp.Piecewise((z, z > 0), (0, True))


def step(z: sp.Expr) -> sp.Piecewise:
    """The step 1[z > 0] (0 at z = 0, deltaprop's convention)."""
    return sp.Piecewise((1, z > 0), (0, True))


def check_relu_derivative() -> bool:
    """SymPy's derivative of ReLU is the step 1[z > 0] away from 0, not 1 everywhere.

    Checks ``diff(Piecewise((z, z > 0), (0, True)), z)`` against :func:`step` at z = ±3/2 and
    on both open half-lines, and ``diff(Max(0, z), z) == Heaviside(z)``.
    """
    z = sp.Symbol("z", real=True)
    d = sp.diff(relu_piecewise(z), z)
    pos, neg = sp.Symbol("p", positive=True), sp.Symbol("q", negative=True)
    same = sp.simplify(sp.piecewise_fold(d - step(z))) == 0
    on_halves = d.subs(z, pos) == 1 and d.subs(z, neg) == 0
    not_one = d.subs(z, neg) != 1  # the slip "relu'(z) = max(0, 1) = 1"
    heaviside = sp.diff(sp.Max(0, z), z) == sp.Heaviside(z)
    return bool(same and on_halves and not_one and heaviside)


def check_piecewise_relu(sizes: Sequence[int] = (2, 3, 2), m: int = 1) -> bool:
    r"""Task 2 with ReLU as a ``Piecewise``: on each of the :math:`2^{n_1 m}` sign regions.

    For a network with one hidden layer (ReLU as :func:`relu_piecewise`, identity output, MSE,
    L2), SymPy differentiates the piecewise cost; the formulas use :func:`step`. Each region
    fixes the truth of every condition :math:`Z^{[1]}_{ij} > 0`; both sides then become
    polynomials, compared with :func:`is_zero`.
    """
    sizes = _validate(sizes, m)
    if len(sizes) != 3:
        raise ValueError(
            f"check_piecewise_relu takes one hidden layer, sizes [n_0, n_1, n_2]; got {sizes!r}"
        )
    X, W, b = _symbols(sizes, m)
    Y = sp.Matrix(sizes[2], m, lambda i, j: sp.Symbol(f"y_{i + 1},{j + 1}"))
    lam = sp.Symbol("lambda", positive=True)
    Z1 = _pre_activation(W[1], X, b[1], m)
    A1 = Z1.applyfunc(relu_piecewise)
    A2 = _pre_activation(W[2], A1, b[2], m)  # identity output: A^[2] = Z^[2]
    J = sp.Rational(1, m) * sum(e**2 for e in A2 - Y)
    J += lam / 2 * sum(w**2 for l in (1, 2) for w in W[l])
    delta2 = sp.Rational(2, m) * (A2 - Y)  # (ii) with identity and MSE
    delta1 = Z1.applyfunc(step).multiply_elementwise(W[2].T * delta2)  # (i) with ReLU
    dW = [None, delta1 * X.T + lam * W[1], delta2 * A1.T + lam * W[2]]
    db = [None, delta1 * sp.ones(m, 1), delta2 * sp.ones(m, 1)]
    diffs = []
    for l in (1, 2):
        for P, D in ((W[l], dW[l]), (b[l], db[l])):
            for i, j in itertools.product(range(P.shape[0]), range(P.shape[1])):
                diffs.append(sp.diff(J, P[i, j]) - D[i, j])
    conditions = [z > 0 for z in Z1]
    for signs in itertools.product((False, True), repeat=len(conditions)):
        region = dict(zip(conditions, signs))
        for d in diffs:
            d_region = d.xreplace(region)
            if d_region.has(sp.Piecewise) or not is_zero(d_region):
                return False
    return True


# --- Task 3: the chain z = f(y), y = f(x), x = f(w) -------------------------------------------


def _chain(n: int, f: Callable[[sp.Expr], sp.Expr], w: sp.Symbol) -> list[sp.Expr]:
    """[w, f(w), f(f(w)), ..., f^n(w)]."""
    values = [w]
    for _ in range(n):
        values.append(f(values[-1]))
    return values


def check_chain_form(max_depth: int = 8) -> bool:
    r"""SymPy's derivative of :math:`f^n(w)` is :math:`\prod_{k=0}^{n-1} f'(f^k(w))`, n ≤ max_depth.

    f is a plain undefined SymPy ``Function``; the product is built from SymPy's own notation
    for :math:`f'(u)` at :math:`u = f^k(w)`. Each factor recomputes :math:`f^k(w)` from w.
    """
    w, xi = sp.Symbol("w"), sp.Dummy("xi")
    f = sp.Function("f")
    for n in range(1, max_depth + 1):
        values = _chain(n, f, w)
        d = sp.diff(values[-1], w)
        # f'(u) at u = f^k(w), in SymPy's own notation: Derivative(f(u), u)
        factors = [sp.Subs(sp.Derivative(f(xi), xi), xi, values[k]).doit() for k in range(n)]
        product = sp.Mul(*factors)
        if d != product:
            return False
    return True


@dataclass
class ChainCount:
    """Operations in d/dw f^n(w): as SymPy writes it, and after ``sympy.cse``."""

    depth: int
    ops_sympy: int
    ops_cse: int


def chain_derivative(n: int) -> tuple[sp.Expr, list[tuple[sp.Symbol, sp.Expr]], sp.Expr]:
    r"""``(d, replacements, reduced)``: :math:`d = \frac{d}{dw} f^n(w)` and its ``sympy.cse``.

    f is generic with derivative the undefined ``f'``, so d is literally
    ``f'(f(...f(w)))*...*f'(f(w))*f'(w)``; ``replacements`` stores x0 = f(w), x1 = f(x0), ...
    """
    f, _ = _differentiable("f")
    w = sp.Symbol("w")
    d = sp.diff(_chain(n, f, w)[-1], w)
    replacements, reduced = sp.cse(d)
    return d, replacements, reduced[0]


def chain_operation_counts(max_depth: int = 12) -> list[ChainCount]:
    """``sympy.count_ops`` of d/dw f^n(w) before and after ``sympy.cse``, n = 1..max_depth.

    Before: n(n−1)/2 evaluations of f (each factor f'(f^k(w)) recomputes f^k(w)), n of f' and
    n−1 products: n(n−1)/2 + 2n − 1. After: n−1 evaluations of f (each stored once), n of f'
    and n−1 products: 3n − 2.
    """
    counts = []
    for n in range(1, max_depth + 1):
        d, replacements, reduced = chain_derivative(n)
        after = sum(sp.count_ops(v) for _, v in replacements) + sp.count_ops(reduced)
        counts.append(ChainCount(n, int(sp.count_ops(d)), int(after)))
    return counts


def check_chain_counts(max_depth: int = 12) -> bool:
    """The counts of :func:`chain_operation_counts` are n(n−1)/2 + 2n − 1 and 3n − 2."""
    return all(
        c.ops_sympy == c.depth * (c.depth - 1) // 2 + 2 * c.depth - 1
        and c.ops_cse == max(3 * c.depth - 2, 1)
        for c in chain_operation_counts(max_depth)
    )


# --- running the checks -----------------------------------------------------------------------


@dataclass
class Check:
    """One verified claim: its name, whether both sides were equal, and the time it took."""

    name: str
    equal: bool
    seconds: float


GENERIC_SHAPES_QUICK: list[list[int]] = [[2, 3, 2]]
GENERIC_SHAPES_FULL: list[list[int]] = [[2, 3, 2], [3, 2, 2, 1], [2, 2, 2, 2, 2]]
"""Networks checked with generic g and J (``quick``: the default test run's subset)."""
CHAIN_DEPTH_QUICK, CHAIN_DEPTH_FULL = 6, 10
"""Largest depth n of the Task 3 chain checks."""


def _check_network(build: Callable[[list[int], int], Any], sizes: list[int]) -> bool:
    return check_gradients(build(sizes, 2))


def _cases(quick: bool) -> list[tuple[str, Callable[[], bool]]]:
    shapes = GENERIC_SHAPES_QUICK if quick else GENERIC_SHAPES_FULL
    cases: list[tuple[str, Callable[[], bool]]] = []
    for sizes in shapes:
        label = "-".join(map(str, sizes))
        cases.append(
            (
                f"(i), (ii), dW, db equal diff(J): {label}, m = 2, generic g^[l] and J",
                functools.partial(_check_network, generic_network, sizes),
            )
        )
    cases.append(("Task 2: relu'(z) = 1[z > 0] away from 0 (not 1)", check_relu_derivative))
    for sizes in shapes:
        label = "-".join(map(str, sizes))
        cases.append(
            (
                f"Task 2: MSE/ReLU/identity + L2 formulas equal diff(J): {label}, m = 2, "
                "all regions",
                functools.partial(_check_network, exercise_network, sizes),
            )
        )
    piecewise_m = 1 if quick else 2
    cases.append(
        (
            f"Task 2: ReLU as Piecewise, 2-3-2, m = {piecewise_m}, "
            f"each of {2 ** (3 * piecewise_m)} regions",
            lambda: check_piecewise_relu((2, 3, 2), piecewise_m),
        )
    )
    depth = CHAIN_DEPTH_QUICK if quick else CHAIN_DEPTH_FULL
    cases.append(
        (
            f"Task 3: d/dw f(f(...f(w))) = f'(f(...)) ... f'(f(w)) f'(w), depth 1..{depth}",
            lambda: check_chain_form(depth),
        )
    )
    cases.append(
        (
            f"Task 3: ops n(n-1)/2 + 2n - 1 as differentiated, 3n - 2 after cse, depth 1..{depth}",
            lambda: check_chain_counts(depth),
        )
    )
    return cases


def run_checks(quick: bool = False, progress: Callable[[Check], None] | None = None) -> list[Check]:
    """Run every symbolic check, timing each; ``quick`` runs the small subset only.

    The full set takes a few seconds on two cores; ``quick`` about one.
    ``progress(check)`` is called after each one.
    """
    results = []
    for name, fn in _cases(quick):
        start = time.perf_counter()
        equal = bool(fn())
        check = Check(name, equal, round(time.perf_counter() - start, 3))
        results.append(check)
        if progress is not None:
            progress(check)
    return results


def report(checks: Sequence[Check], max_depth: int = CHAIN_DEPTH_FULL) -> dict[str, Any]:
    """The ``deltaprop derive --check --json`` document.

    ``{"checks": [{"name", "equal", "seconds"}, ...], "all_equal": bool,
    "chain_operation_counts": [{"depth", "ops_sympy", "ops_cse"}, ...]}``
    """
    return {
        "checks": [asdict(c) for c in checks],
        "all_equal": all(c.equal for c in checks),
        "chain_operation_counts": [asdict(c) for c in chain_operation_counts(max_depth)],
    }


__all__ = [
    "CHAIN_DEPTH_FULL",
    "CHAIN_DEPTH_QUICK",
    "GENERIC_SHAPES_FULL",
    "GENERIC_SHAPES_QUICK",
    "ChainCount",
    "Check",
    "SymbolicNetwork",
    "backprop",
    "chain_derivative",
    "chain_operation_counts",
    "check_chain_counts",
    "check_chain_form",
    "check_gradients",
    "check_piecewise_relu",
    "check_relu_derivative",
    "exercise_network",
    "generic_activation",
    "generic_cost",
    "generic_network",
    "gradient_differences",
    "is_zero",
    "relu_piecewise",
    "report",
    "run_checks",
    "step",
]

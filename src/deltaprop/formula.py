r"""A checker for your own formula for δ^[l], ∂J/∂W^[l] or ∂J/∂b^[l].

Write the candidate as a NumPy expression of these names (``deltaprop check`` on the command
line takes the same text):

=============  ===========================================================================
name           meaning
=============  ===========================================================================
``l``          the layer the formula is for (each applicable l is tried)
``L``          the number of layers with weights; ``m`` the batch size
``W``, ``b``   ``W[k]``, ``b[k]``: :math:`W^{[k]}` (n_k × n_{k−1}), :math:`b^{[k]}` (n_k × 1),
               k = 1..L
``Z``, ``A``   ``Z[k]`` (k = 1..L), ``A[k]`` (k = 0..L, ``A[0]`` = ``X``): n_k × m
``delta``      ``delta[k]``: the true :math:`\delta^{[k]}` (n_k × m), k = 1..L
``X``, ``Y``   the input (n_0 × m) and the targets (n_L × m)
``g_prime``    ``g_prime(Z[l])``: :math:`g^{[l]\prime}` of *the layer the formula is for*;
               ``g_prime[k](...)`` that of layer k. ``g`` likewise.
``J_prime``    ``J_prime(A[L], Y)``: :math:`J'(A^{[L]})`, the cost's derivative (n_L × m)
``n``          ``n[k]``: the widths n_0..n_L
``ones``       ``ones(r, c)``, e.g. ``ones(m, 1)`` for :math:`1_m`
=============  ===========================================================================

Operators: ``+ - * / @ **`` (``*`` is the element-wise product ⊙, ``@`` the matrix product),
``.T`` (transpose), and the functions ``sum, mean, transpose, matmul, multiply, ones, zeros,
exp, log, tanh, maximum, minimum, where, abs, sign`` (also as ``np.sum`` etc.; ``x.sum(...)``
and ``x.mean(...)`` too) with the keywords ``axis`` and ``keepdims``. The text is parsed with
:mod:`ast` and evaluated node by node by this module; anything else (other names, attributes,
imports, lambdas, comprehensions) is refused before anything runs.

The candidate is evaluated on random networks of several shapes, smallest first, including
non-square ones where a missing transpose cannot hide, and compared with the library's
back-propagation (:meth:`Network.backward`, itself checked against central differences and an
independent autodiff by the test suite). The answer is "correct on N networks" or the smallest
network where it is wrong: its shapes, weights and batch, the entries that differ and the true
values.

>>> from deltaprop.formula import check_formula
>>> check_formula("g_prime(Z[l]) * (W[l+1].T @ delta[l+1])", "delta").correct   # (i)
True
>>> r = check_formula("W[l+1].T @ delta[l+1]", "delta")     # the slip ReLU' = 1
>>> r.correct, r.counterexample["sizes"]
(False, [1, 1, 1])
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .network import Layers, Network, as_layers

TARGETS = ("delta", "dW", "db")
"""What a candidate formula can be for: δ^[l], ∂J/∂W^[l], ∂J/∂b^[l]."""

MAX_LENGTH = 2000
MAX_ONES = 100_000
MAX_POWER = 16

EXAMPLES = {
    "delta (i)": ("g_prime(Z[l]) * (W[l+1].T @ delta[l+1])", "delta", "hidden"),
    "delta (ii)": ("J_prime(A[L], Y) * g_prime(Z[L])", "delta", "output"),
    "dW": ("delta[l] @ A[l-1].T", "dW", "all"),
    "db": ("delta[l] @ ones(m, 1)", "db", "all"),
    "slip: ReLU' = 1": ("W[l+1].T @ delta[l+1]", "delta", "hidden"),
    "slip: missing transpose": ("delta[l] @ A[l-1]", "dW", "all"),
    "slip: unsummed bias gradient": ("delta[l]", "db", "all"),
    "slip: the next layer's delta": ("delta[l+1] @ A[l-1].T", "dW", "all"),
}
"""Right formulas and the exercise's slips: name -> (expression, target, layers)."""


class FormulaError(ValueError):
    """The text is not an allowed formula (a syntax error or a refused name or construct)."""


# --- safe evaluation -----------------------------------------------------------------------------


def _ones(*shape: Any) -> np.ndarray:
    dims = [_small_int(s, "ones") for s in shape]
    if math.prod(dims) > MAX_ONES:
        raise FormulaError(f"ones{tuple(dims)} is too large (at most {MAX_ONES:,} entries)")
    return np.ones(dims)


def _zeros(*shape: Any) -> np.ndarray:
    return 0.0 * _ones(*shape)


def _small_int(x: Any, name: str) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise FormulaError(f"{name} takes integer sizes; got {x!r}")
    if not 0 <= x <= MAX_ONES:
        raise FormulaError(f"{name} takes sizes 0..{MAX_ONES:,}; got {x}")
    return int(x)


NAMES = ("l", "L", "m", "n", "W", "b", "Z", "A", "delta", "X", "Y", "g_prime", "g", "J_prime")
"""The names a formula may use (besides :data:`FUNCTIONS` and ``np.``)."""

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sum": np.sum,
    "mean": np.mean,
    "transpose": np.transpose,
    "matmul": np.matmul,
    "multiply": np.multiply,
    "dot": np.dot,
    "ones": _ones,
    "zeros": _zeros,
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "where": np.where,
    "abs": np.abs,
    "sign": np.sign,
}
"""The functions a formula may call (also as ``np.<name>``)."""

METHODS: dict[str, Callable[..., Any]] = {"sum": np.sum, "mean": np.mean}
"""Array methods a formula may call: ``x.sum(axis=1, keepdims=True)``."""

KEYWORDS = {"axis", "keepdims"}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.MatMult: lambda a, b: _matmul(a, b),
    ast.Pow: lambda a, b: a**b,
}


def _matmul(a: Any, b: Any) -> Any:
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) == 2 and len(sb) == 2 and sa[1] != sb[0]:
        raise ValueError(
            f"the matrix product ({sa[0]}×{sa[1]}) @ ({sb[0]}×{sb[1]}) is undefined: "
            f"{sa[1]} columns against {sb[0]} rows"
        )
    return a @ b


_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: lambda a: -a, ast.UAdd: lambda a: +a}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
}


def parse_formula(text: str) -> ast.Expression:
    """Parse ``text`` and check every node against the allowed constructs.

    Raises :class:`FormulaError` naming the first refused construct.
    """
    if not isinstance(text, str):
        raise TypeError(f"the formula must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("the formula is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise FormulaError(f"not a Python/NumPy expression: {e.msg} (column {e.offset})") from None
    for node in ast.walk(tree):  # names first: "unknown name" is the clearest message
        known = (*NAMES, *FUNCTIONS, "np", "numpy")
        if isinstance(node, ast.Name) and node.id not in known:
            raise FormulaError(f"unknown name {node.id!r}; the names are {', '.join(NAMES)}")
    for node in ast.walk(tree):
        _allowed(node)
    return tree


def _allowed(node: ast.AST) -> None:
    ok = (
        ast.Expression,
        ast.BinOp,
        ast.UnaryOp,
        ast.Compare,
        ast.Name,
        ast.Constant,
        ast.Subscript,
        ast.Attribute,
        ast.Call,
        ast.keyword,
        ast.Load,
        ast.Tuple,
        ast.Slice,
        *_BINOPS,
        *_UNARY,
        *_COMPARE,
    )
    if not isinstance(node, ok):
        raise FormulaError(f"{type(node).__name__} is not allowed in a formula")
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
        raise FormulaError(f"only numbers are allowed as constants; got {node.value!r}")
    if isinstance(node, ast.Attribute) and node.attr != "T":
        base_is_np = isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")
        if not (base_is_np and node.attr in FUNCTIONS) and node.attr not in METHODS:
            raise FormulaError(
                f"attribute .{node.attr} is not allowed: use .T, np.<function> or "
                f".sum/.mean (functions: {', '.join(FUNCTIONS)})"
            )
    if isinstance(node, ast.keyword) and node.arg not in KEYWORDS:
        raise FormulaError(f"keyword {node.arg!r} is not allowed (only axis=, keepdims=)")
    if isinstance(node, ast.Compare) and len(node.ops) != 1:
        raise FormulaError("chained comparisons are not allowed")


class _Callable:
    """A function the formula may call (anything else is refused at the call)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)


def _evaluate(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, env)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise FormulaError(f"unknown name {node.id!r}; the names are {', '.join(NAMES)}")
        return env[node.id]
    if isinstance(node, ast.BinOp):
        a, b = _evaluate(node.left, env), _evaluate(node.right, env)
        if isinstance(node.op, ast.Pow) and not (
            isinstance(b, (int, float)) and abs(b) <= MAX_POWER
        ):
            raise FormulaError(f"** takes a number exponent of at most {MAX_POWER}; got {b!r}")
        return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, env))
    if isinstance(node, ast.Compare):
        a, b = _evaluate(node.left, env), _evaluate(node.comparators[0], env)
        return (_COMPARE[type(node.ops[0])](a, b)) * 1.0
    if isinstance(node, ast.Subscript):
        base = _evaluate(node.value, env)
        index = _evaluate(node.slice, env)
        return base[index]
    if isinstance(node, ast.Tuple):
        return tuple(_evaluate(e, env) for e in node.elts)
    if isinstance(node, ast.Slice):
        parts = [
            None if p is None else _evaluate(p, env) for p in (node.lower, node.upper, node.step)
        ]
        return slice(*parts)
    if isinstance(node, ast.Attribute):
        if node.attr == "T":
            return _evaluate(node.value, env).T
        if isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy"):
            return FUNCTIONS[node.attr]
        base = _evaluate(node.value, env)
        method = METHODS[node.attr]
        return _Callable(lambda *a, **k: method(base, *a, **k))
    if isinstance(node, ast.Call):
        fn = _evaluate(node.func, env)
        if not (
            isinstance(fn, (_Callable, _LayerFunction)) or any(fn is f for f in FUNCTIONS.values())
        ):
            raise FormulaError(
                f"only these can be called: g_prime, g, J_prime, {', '.join(FUNCTIONS)}"
            )
        args = [_evaluate(a, env) for a in node.args]
        kwargs = {str(k.arg): _evaluate(k.value, env) for k in node.keywords}
        return fn(*args, **kwargs)
    raise FormulaError(f"{type(node).__name__} is not allowed in a formula")  # pragma: no cover


class _LayerFunction:
    """``g_prime(Z)``: layer l's function; ``g_prime[k]``: layer k's."""

    def __init__(self, fns: Layers, l: int, name: str) -> None:
        self._fns, self._l, self._name = fns, l, name

    def __call__(self, Z: Any) -> Any:
        return self._fns[self._l](Z)

    def __getitem__(self, k: Any) -> Any:
        return _Callable(self._fns[k])


class _Inputs:
    """``A[0..L]``: A[0] is X (the one list that has a layer 0)."""

    def __init__(self, A: Sequence[Any]) -> None:
        self._A = list(A)

    def __getitem__(self, k: Any) -> Any:
        L = len(self._A) - 1
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"A[...] takes a layer number 0..{L}; got {k!r}")
        if not 0 <= k <= L:
            raise IndexError(f"A[{k}] does not exist: A[0] = X, then A[1]..A[{L}]")
        return self._A[int(k)]


def evaluate_formula(text: str | ast.Expression, names: dict[str, Any]) -> Any:
    """Evaluate a formula (text or :func:`parse_formula`'s tree) with the given names."""
    tree = parse_formula(text) if isinstance(text, str) else text
    env = {"np": None, "numpy": None, **FUNCTIONS, **names}
    with np.errstate(all="ignore"):
        return _evaluate(tree, env)


def formula_names(net: Network, X: Any, Y: Any, l: int) -> dict[str, Any]:
    """The names a formula sees for layer ``l`` of ``net`` on the batch (X, Y)."""
    Z, A = net.forward_pass(X)
    delta = as_layers(net.backward(Z, A, Y)[0], "delta")
    L = net.L
    return {
        "l": l,
        "L": L,
        "m": int(X.shape[1]),
        "n": list(net.sizes),
        "W": net.W,
        "b": net.b,
        "Z": Layers(Z[1:], "Z"),
        "A": _Inputs(A),
        "delta": delta,
        "X": X,
        "Y": Y,
        "g_prime": _LayerFunction(Layers([g.g_prime for g in net.g], "g_prime"), l, "g_prime"),
        "g": _LayerFunction(Layers([g.g for g in net.g], "g"), l, "g"),
        "J_prime": _Callable(net.loss.J_prime),
    }


# --- the check -----------------------------------------------------------------------------------


@dataclass
class FormulaCheck:
    """The answer of :func:`check_formula`.

    Attributes
    ----------
    correct : bool
    expression, target : str
    n_networks : int
        Networks (and layers) tried.
    counterexample : dict or None
        The smallest network where the formula is wrong: ``sizes``, ``m``, ``layer``,
        ``hidden``/``output``/``loss``, ``W``, ``b``, ``X``, ``Y`` (to rebuild it),
        ``expected_shape``, ``got_shape``, ``error`` (when the formula could not be evaluated
        or had the wrong shape), ``entries`` (``[[i, j], got, true]`` for entries that
        differ, at most 12), ``true`` and ``got``.
    """

    correct: bool
    expression: str
    target: str
    n_networks: int
    counterexample: dict[str, Any] | None = None
    tried: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        what = {"delta": "δ^[l]", "dW": "∂J/∂W^[l]", "db": "∂J/∂b^[l]"}[self.target]
        if self.correct:
            return (
                f"correct: {self.expression} equals {what} on all {self.n_networks} networks and "
                "layers tried (a test on examples, not a proof)"
            )
        c = self.counterexample or {}
        head = (
            f"wrong: {self.expression} is not {what}. Smallest counterexample: sizes "
            f"{c.get('sizes')}, m = {c.get('m')}, layer l = {c.get('layer')}"
        )
        if c.get("error"):
            return f"{head}: {c['error']}"
        shown = "" if c["n_differ"] == len(c["entries"]) else f", the first {len(c['entries'])}"
        lines = [f"{head}: {c['n_differ']} of {c['n_entries']} entries differ{shown}"]
        for (i, j), got, true in c["entries"]:
            lines.append(
                f"  entry ({i + 1}, {j + 1}): the formula gives {got + 0.0:.6g}, "
                f"the true value is {true + 0.0:.6g}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "correct": self.correct,
            "expression": self.expression,
            "target": self.target,
            "n_networks": self.n_networks,
            "counterexample": self.counterexample,
        }


def _shapes(max_width: int = 3) -> list[tuple[list[int], int]]:
    """Network shapes and batch sizes, smallest first, then larger non-square ones."""
    small = []
    widths = range(1, max_width + 1)
    for L in (2, 3):
        for sizes in itertools.product(widths, repeat=L + 1):
            for m in widths:
                small.append((list(sizes), m))
    small.sort(
        key=lambda sm: (
            sum(sm[0]) * sm[1] + sum(a * b for a, b in zip(sm[0], sm[0][1:])),
            len(sm[0]),
            sm,
        )
    )
    large = [([3, 5, 4, 2], 7), ([4, 2, 6, 3], 5), ([5, 3, 4, 6, 2], 6), ([2, 7, 3, 5, 1], 4)]
    return small + large


def _layers(target: str, layers: str, L: int) -> list[int]:
    if layers == "hidden":
        return list(range(L - 1, 0, -1))
    if layers == "output":
        return [L]
    return list(range(L, 0, -1))


def _draw(sizes: list[int], m: int, hidden: Any, output: Any, loss: Any, seed: int) -> Any:
    """A random network and batch with every pre-activation at least 0.05 from 0."""
    net = Network(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(50):
        for l in range(1, net.L + 1):
            net.W[l] = rng.normal(size=net.W[l].shape)
            net.b[l] = rng.normal(size=net.b[l].shape)
        X = rng.normal(size=(sizes[0], m))
        if net.loss.name == "mse":
            Y = rng.normal(size=(sizes[-1], m))
        elif net.loss.name == "cross_entropy":
            Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], size=m)]
        else:
            Y = rng.integers(0, 2, size=(sizes[-1], m)).astype(float)
        Z, _ = net.forward_pass(X)
        if all(np.min(np.abs(Z[l])) > 0.05 for l in range(1, net.L + 1)):
            break
    return net, X, Y


def check_formula(
    expression: str,
    target: str,
    *,
    layers: str | None = None,
    hidden: Any = "relu",
    output: Any = "identity",
    loss: Any = "mse",
    seeds: Sequence[int] = (0, 1),
    rtol: float = 1e-9,
) -> FormulaCheck:
    """Test a candidate formula for δ^[l], ∂J/∂W^[l] or ∂J/∂b^[l] on random networks.

    Parameters
    ----------
    expression : str
        A NumPy expression of the names in the module docstring, e.g.
        ``"delta[l] @ A[l-1].T"``.
    target : {"delta", "dW", "db"}
        What the formula claims to compute for layer ``l``.
    layers : {"hidden", "output", "all"}, optional
        Which layers l to try: default ``"hidden"`` (l = L−1..1, equation (i)) for
        ``"delta"``, ``"all"`` (l = L..1) for ``"dW"``/``"db"``; ``"output"`` tries l = L only
        (equation (ii)).
    hidden, output, loss
        The networks' activations and cost (as :class:`~deltaprop.Network` takes them).
    seeds : sequence of int, default (0, 1)
        Random draws per shape.
    rtol : float, default 1e-9
        Entries agree when ``|got − true| <= rtol · max(1, max |true|)``.

    Returns
    -------
    FormulaCheck
        ``correct`` and, when wrong, the smallest ``counterexample``.

    Raises
    ------
    FormulaError
        When the text is not an allowed formula (before any network is tried).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
    if layers is None:
        layers = "hidden" if target == "delta" else "all"
    if layers not in ("hidden", "output", "all"):
        raise ValueError(f"layers must be 'hidden', 'output' or 'all'; got {layers!r}")
    tree = parse_formula(expression)
    n = 0
    for sizes, m in _shapes():
        for seed in seeds:
            net, X, Y = _draw(sizes, m, hidden, output, loss, seed)
            Z, A = net.forward_pass(X)
            deltas, dW, db = net.backward(Z, A, Y)
            delta = as_layers(deltas, "delta")
            truth = {"delta": delta, "dW": dW, "db": db}[target]
            for l in _layers(target, layers, net.L):
                n += 1
                true = np.asarray(truth[l])
                problem = _compare(tree, net, X, Y, l, true, rtol)
                if problem is not None:
                    problem.update(
                        {
                            "sizes": sizes,
                            "m": m,
                            "layer": l,
                            "seed": seed,
                            "hidden": net.hidden.name,
                            "output": net.output.name,
                            "loss": net.loss.name,
                            "W": {str(k): net.W[k].tolist() for k in range(1, net.L + 1)},
                            "b": {str(k): net.b[k].tolist() for k in range(1, net.L + 1)},
                            "X": X.tolist(),
                            "Y": Y.tolist(),
                            "true": true.tolist(),
                            "expected_shape": list(true.shape),
                        }
                    )
                    return FormulaCheck(False, expression, target, n, problem)
    return FormulaCheck(True, expression, target, n)


def _compare(
    tree: ast.Expression, net: Network, X: Any, Y: Any, l: int, true: np.ndarray, rtol: float
) -> dict[str, Any] | None:
    names = formula_names(net, X, Y, l)
    try:
        got = evaluate_formula(tree, names)
    except FormulaError:
        raise
    except (ValueError, IndexError, TypeError, ZeroDivisionError) as e:
        return {"error": f"it cannot be evaluated here: {e}", "got_shape": None, "entries": []}
    got = np.asarray(got, dtype=np.float64) if np.ndim(got) else np.full(true.shape, float(got))
    if got.shape != true.shape:
        return {
            "error": f"it has shape {got.shape}, but the true value has shape {true.shape}",
            "got_shape": list(got.shape),
            "got": got.tolist(),
            "entries": [],
        }
    tol = rtol * max(1.0, float(np.max(np.abs(true))))
    bad = np.argwhere(~(np.abs(got - true) <= tol))
    if len(bad) == 0:
        return None
    entries = [[[int(i), int(j)], float(got[i, j]), float(true[i, j])] for i, j in bad[:12]]
    return {
        "error": None,
        "got_shape": list(got.shape),
        "got": got.tolist(),
        "entries": entries,
        "n_entries": int(true.size),
        "n_differ": len(bad),
    }


__all__ = [
    "EXAMPLES",
    "FUNCTIONS",
    "NAMES",
    "TARGETS",
    "FormulaCheck",
    "FormulaError",
    "check_formula",
    "evaluate_formula",
    "formula_names",
    "parse_formula",
]

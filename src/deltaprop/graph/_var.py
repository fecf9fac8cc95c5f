r"""Scalar nodes of a computational graph, each operation's local derivative beside its value.

A :class:`Var` is one scalar: a leaf (a variable or a constant) or the result of one operation
applied to other ``Var`` s, its *inputs*. Building ``y = x * x + 1`` builds a small directed
acyclic graph; nothing is differentiated yet. An operation is an :class:`Op`: its forward rule
``f(u_1, ..., u_k)`` and, for each input slot ``i``, its local derivative rule
``d[i](u_1, ..., u_k)`` = :math:`\partial f/\partial u_i`, with ``needs[i]``, the inputs that
rule reads. Every rule is a function of the *input* values only, so a method that stores
nothing (:mod:`deltaprop.graph.naive`) knows exactly which values to recompute.

>>> from deltaprop.graph import Var
>>> x = Var(3.0, name="x")
>>> y = x * x + 1            # the 1 becomes a constant leaf
>>> y.value
10.0
>>> [u.value for u in y.inputs], y.local       # ∂y/∂(x*x) = 1, ∂y/∂1 = 1
([9.0, 1.0], (1.0, 1.0))
>>> y.inputs[0].local                          # ∂(a*b)/∂a = b, ∂(a*b)/∂b = a
(3.0, 3.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from numbers import Real
from typing import Any

Rule = Callable[..., float]


@dataclass(frozen=True, eq=False)
class Op:
    """One operation: its forward rule and the local derivative of each input slot.

    Parameters
    ----------
    name : str
        Shown in ``repr``.
    f : callable
        ``f(u_1, ..., u_k) -> float``, the value from the inputs' values.
    d : tuple of callables
        ``d[i](u_1, ..., u_k)`` = :math:`\\partial f/\\partial u_i` at those values.
    needs : tuple of tuples of int
        ``needs[i]``: the input positions ``d[i]`` reads (the others may be anything).
    """

    name: str
    f: Rule
    d: tuple[Rule, ...]
    needs: tuple[tuple[int, ...], ...]

    @property
    def arity(self) -> int:
        """Number of inputs."""
        return len(self.d)


def _sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)  # no overflow for a << 0
    return e / (1.0 + e)


def _sigmoid_prime(a: float) -> float:
    s = _sigmoid(a)
    return s * (1.0 - s)


#              name      forward                   local derivatives ∂f/∂u_i        inputs read
ADD = Op("+", lambda a, b: a + b, (lambda a, b: 1.0, lambda a, b: 1.0), ((), ()))
SUB = Op("-", lambda a, b: a - b, (lambda a, b: 1.0, lambda a, b: -1.0), ((), ()))
MUL = Op("*", lambda a, b: a * b, (lambda a, b: b, lambda a, b: a), ((1,), (0,)))
DIV = Op("/", lambda a, b: a / b, (lambda a, b: 1.0 / b, lambda a, b: -a / (b * b)), ((1,), (0, 1)))
NEG = Op("neg", lambda a: -a, (lambda a: -1.0,), ((),))
RELU = Op("relu", lambda a: a if a > 0 else 0.0, (lambda a: 1.0 if a > 0 else 0.0,), ((0,),))
EXP = Op("exp", math.exp, (math.exp,), ((0,),))
LOG = Op("log", math.log, (lambda a: 1.0 / a,), ((0,),))
TANH = Op("tanh", math.tanh, (lambda a: 1.0 - math.tanh(a) ** 2,), ((0,),))
SIGMOID = Op("sigmoid", _sigmoid, (_sigmoid_prime,), ((0,),))
SIN = Op("sin", math.sin, (math.cos,), ((0,),))
COS = Op("cos", math.cos, (lambda a: -math.sin(a),), ((0,),))
# ReLU's kink: the derivative at 0 is 0 (the step 1[a > 0]), as everywhere in deltaprop.


@lru_cache(maxsize=256)
def pow_op(c: float) -> Op:
    """The operation :math:`u^c` for a fixed number ``c``: derivative :math:`c u^{c-1}`."""
    if c == 0:
        return Op("**0", lambda a: 1.0, (lambda a: 0.0,), ((),))
    return Op(f"**{c!r}", lambda a: a**c, (lambda a: c * a ** (c - 1),), ((0,),))


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number or a Var; got {value!r}")
    return float(value)


class Var:
    """A scalar node: a leaf, or one :class:`Op` applied to input nodes.

    Parameters
    ----------
    value : float
        The leaf's value.
    name : str, optional
        A label shown in ``repr``.

    Attributes
    ----------
    value : float
        The node's value, computed once when the node is built.
    inputs : tuple of Var
        The nodes it was computed from (empty for a leaf); a node used twice, as in ``x * x``,
        appears twice.
    op : Op or None
        The operation (None for a leaf).

    Arithmetic with Python numbers works on either side (``2 * x``, ``10 / x``, ``x - 1``):
    the number becomes a constant leaf. ``x += y`` builds a new node and rebinds ``x``.
    ``x ** c`` takes a number ``c``, not a Var.
    """

    __slots__ = ("inputs", "name", "op", "value")
    __array_ufunc__ = None  # NumPy scalars and arrays defer to Var's reflected operators

    def __init__(self, value: float, name: str = "") -> None:
        self.value = _number(value, "value")
        self.inputs: tuple[Var, ...] = ()
        self.op: Op | None = None
        self.name = name

    @classmethod
    def apply(cls, op: Op, *inputs: Var) -> Var:
        """The node ``op(*inputs)``, its value computed from the inputs' values."""
        node = cls.__new__(cls)
        node.inputs = inputs
        node.op = op
        node.name = ""
        node.value = op.f(*[u.value for u in inputs])
        return node

    @property
    def is_leaf(self) -> bool:
        """True for a variable or constant (no inputs)."""
        return self.op is None

    @property
    def local(self) -> tuple[float, ...]:
        """The local derivatives :math:`\\partial v/\\partial u_i`, one per input slot."""
        if self.op is None:
            return ()
        values = [u.value for u in self.inputs]
        return tuple(d(*values) for d in self.op.d)

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        op = f", op={self.op.name!r}" if self.op is not None else ""
        return f"Var({self.value!r}{op}{label})"

    # --- arithmetic: each line builds one node -------------------------------------------

    def __add__(self, other: Any) -> Var:
        return Var.apply(ADD, self, _as_var(other))

    def __radd__(self, other: Any) -> Var:
        return Var.apply(ADD, _as_var(other), self)

    def __sub__(self, other: Any) -> Var:
        return Var.apply(SUB, self, _as_var(other))

    def __rsub__(self, other: Any) -> Var:
        return Var.apply(SUB, _as_var(other), self)

    def __mul__(self, other: Any) -> Var:
        return Var.apply(MUL, self, _as_var(other))

    def __rmul__(self, other: Any) -> Var:
        return Var.apply(MUL, _as_var(other), self)

    def __truediv__(self, other: Any) -> Var:
        return Var.apply(DIV, self, _as_var(other))

    def __rtruediv__(self, other: Any) -> Var:
        return Var.apply(DIV, _as_var(other), self)

    def __neg__(self) -> Var:
        return Var.apply(NEG, self)

    def __pow__(self, c: Any) -> Var:
        if isinstance(c, (Var, bool)) or not isinstance(c, Real):
            raise TypeError(f"the exponent of x ** c must be a number; got {c!r}")
        c = int(c) if isinstance(c, int) else float(c)
        if self.value < 0 and c != int(c):
            raise ValueError(
                f"x ** c with a non-integer c needs x >= 0; got x = {self.value!r}, c = {c!r}"
            )
        return Var.apply(pow_op(c), self)

    def __rpow__(self, base: Any) -> Var:
        raise TypeError(
            f"a Var cannot be an exponent ({base!r} ** Var); write exp(x * log(base)) instead"
        )

    # --- functions -----------------------------------------------------------------------

    def relu(self) -> Var:
        """:math:`\\max(0, x)`; derivative :math:`1[x > 0]` (0 at 0)."""
        return Var.apply(RELU, self)

    def exp(self) -> Var:
        """:math:`e^x`."""
        return Var.apply(EXP, self)

    def log(self) -> Var:
        """:math:`\\ln x` for x > 0."""
        if self.value <= 0:
            raise ValueError(f"log needs a positive argument; got {self.value!r}")
        return Var.apply(LOG, self)

    def tanh(self) -> Var:
        """:math:`\\tanh x`."""
        return Var.apply(TANH, self)

    def sigmoid(self) -> Var:
        """:math:`1/(1 + e^{-x})`."""
        return Var.apply(SIGMOID, self)

    def sin(self) -> Var:
        """:math:`\\sin x`."""
        return Var.apply(SIN, self)

    def cos(self) -> Var:
        """:math:`\\cos x`."""
        return Var.apply(COS, self)


def _as_var(x: Any) -> Var:
    """``x`` itself if it is a Var, else a constant leaf holding the number ``x``."""
    if isinstance(x, Var):
        return x
    return Var(_number(x, "operand"))


def relu(x: Var | float) -> Var:
    """:math:`\\max(0, x)` as a node (``x`` a Var or a number)."""
    return _as_var(x).relu()


def exp(x: Var | float) -> Var:
    """:math:`e^x` as a node."""
    return _as_var(x).exp()


def log(x: Var | float) -> Var:
    """:math:`\\ln x` as a node (x > 0)."""
    return _as_var(x).log()


def tanh(x: Var | float) -> Var:
    """:math:`\\tanh x` as a node."""
    return _as_var(x).tanh()


def sigmoid(x: Var | float) -> Var:
    """:math:`1/(1 + e^{-x})` as a node."""
    return _as_var(x).sigmoid()


def sin(x: Var | float) -> Var:
    """:math:`\\sin x` as a node."""
    return _as_var(x).sin()


def cos(x: Var | float) -> Var:
    """:math:`\\cos x` as a node."""
    return _as_var(x).cos()

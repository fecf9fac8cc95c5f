r"""Computational graphs: why back-propagation avoids an exponential blow-up (Task 3).

A tour in four steps.

1. **Build a graph** of scalar :class:`Var` nodes with ordinary arithmetic and the functions
   ``relu, exp, log, tanh, sigmoid, sin, cos`` (as methods or functions). Each operation's
   local derivative is written next to its forward rule (:mod:`deltaprop.graph._var`).
2. **Differentiate** it with :func:`gradients` in one of three ways, each counting its own
   arithmetic (``ops``, defined in :mod:`deltaprop.graph._count`):

   * ``"backprop"`` (:mod:`~deltaprop.graph.backprop`) — one forward sweep, one memoised
     reverse sweep over a grad table: linear in the number of edges;
   * ``"naive"`` (:mod:`~deltaprop.graph.naive`) — the chain rule expanded literally, every
     value recomputed, every path walked: the exponential blow-up;
   * ``"paths"`` (:mod:`~deltaprop.graph.paths`) — values stored, every path walked: the cost
     of the paths alone.
3. **Families** of graphs (:mod:`~deltaprop.graph.families`): ``chain`` (the book's
   ``x = f(w), y = f(x), z = f(y)``), ``fanout``, ``fibonacci`` and ``mlp``, each with closed
   forms for its number of paths and each method's cost.
4. **Measure** with :func:`~deltaprop.graph.study.blowup` (``deltaprop blowup`` on the command
   line): counts and wall time per depth, the naive method extrapolated from its closed form
   where running it would take too long.

>>> from deltaprop.graph import Var, gradients
>>> w = Var(1.5)
>>> x = w * w                    # x feeds z twice: 2 × 2 = 4 chain-rule paths from z to w
>>> z = x * x
>>> gradients(z, [w])            # dz/dw = 4 w^3 = 13.5: 2 values, 4 edges, 2 sums = 12 ops
([13.5], 12)
>>> gradients(z, [w], method="naive", detail=True)      # x recomputed twice, 4 paths walked
([13.5], 17, OpCount(forward=2, local=6, products=6, sums=3))
"""

from __future__ import annotations

from collections.abc import Sequence

from . import backprop, naive, paths
from ._count import OpCount
from ._var import Op, Var, cos, exp, log, relu, sigmoid, sin, tanh

METHODS = {"backprop": backprop.backprop, "naive": naive.naive, "paths": paths.path_sum}
"""The gradient methods by name: ``method(output, wrt) -> (grads, OpCount)``."""


def gradients(
    output: Var, wrt: Sequence[Var], method: str = "backprop", detail: bool = False
) -> tuple[list[float], int] | tuple[list[float], int, OpCount]:
    """The derivatives of ``output`` with respect to each node of ``wrt``, and their cost.

    Parameters
    ----------
    output : Var
        The scalar :math:`z` to differentiate.
    wrt : sequence of Var
        The variables :math:`x` (leaves or any inner nodes, held fixed as inputs).
    method : {"backprop", "naive", "paths"}
        How (see the module docstring). All give the same numbers up to rounding.
    detail : bool
        Also return the :class:`OpCount` breakdown.

    Returns
    -------
    grads : list of float
        :math:`\\partial z/\\partial x` in the order of ``wrt`` (0.0 where ``z`` does not depend
        on ``x``).
    ops : int
        The arithmetic the method performed, counted the same way for every method: forward
        evaluations (one node's value from its inputs), local-derivative evaluations (one
        :math:`\\partial v/\\partial u_i` for one edge), products (one local derivative times a
        chain-rule factor) and sums (one addition of two chain-rule terms). Graph traversal and
        look-ups are not counted. Every method starts from the leaves' values, so the
        forward pass is part of the cost.
    count : OpCount
        Only with ``detail=True``: ``ops`` split into those four kinds.

    Notes
    -----
    Nothing is stored on the nodes, so repeated calls give the same result. The inner nodes'
    values are recomputed from the leaves' current ``.value``.
    """
    if not isinstance(output, Var):
        raise TypeError(f"output must be a Var; got {type(output).__name__}")
    if isinstance(wrt, Var) or not isinstance(wrt, Sequence):
        raise TypeError(f"wrt must be a sequence of Var, e.g. [x, y]; got {wrt!r}")
    for k, x in enumerate(wrt):
        if not isinstance(x, Var):
            raise TypeError(f"wrt[{k}] must be a Var; got {type(x).__name__}")
    try:
        run = METHODS[method]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown method {method!r}; known methods: {', '.join(METHODS)}"
        ) from None
    grads, count = run(output, list(wrt))
    if detail:
        return grads, count.total, count
    return grads, count.total


from . import families, study  # noqa: E402  (they use gradients)

__all__ = [
    "METHODS",
    "Op",
    "OpCount",
    "Var",
    "backprop",
    "cos",
    "exp",
    "families",
    "gradients",
    "log",
    "naive",
    "paths",
    "relu",
    "sigmoid",
    "sin",
    "study",
    "tanh",
]

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

from . import backprop, families, naive, paths, study
from ._count import OpCount
from ._gradients import METHODS, gradients
from ._var import Op, Var, cos, exp, log, relu, sigmoid, sin, tanh

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

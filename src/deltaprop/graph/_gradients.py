"""The gradient methods by name and :func:`gradients`, the one call that runs any of them.

Re-exported by :mod:`deltaprop.graph`; here so that :mod:`~deltaprop.graph.study` can use it
without importing the package that imports it.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import backprop, naive, paths
from ._count import OpCount
from ._var import Var

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

r"""The derivative as a sum over every chain-rule path, with the forward values stored.

.. math::  \frac{\partial z}{\partial x} =
           \sum_{\text{paths } z = v_0 \to v_1 \to \dots \to v_k = x}
           \ \prod_{j=1}^{k} \frac{\partial v_{j-1}}{\partial v_j}

One forward sweep stores every value (as back-propagation does); then every path from the
output down to ``x`` is walked, multiplying local derivatives along the way, and the products
are summed. No derivative is memoised, so the cost grows with the number of paths — but no
value is recomputed either. It does exactly the local derivatives, products and sums of
:mod:`deltaprop.graph.naive` (the walk is that recursion turned inside out), so
``naive − paths`` is the cost of recomputing values and ``paths − backprop`` the cost of
paths.

>>> from deltaprop.graph import Var
>>> from deltaprop.graph.paths import path_sum
>>> w = Var(1.5)
>>> x = w * w
>>> z = x * x                                # 4 paths from z down to w
>>> grads, count = path_sum(z, [w])
>>> grads, count.sums                         # 4 w^3; 4 path products, 3 additions
([13.5], 3)
"""

from __future__ import annotations

from collections.abc import Sequence

from ._count import OpCount
from ._var import Rule, Var
from .backprop import between, forward_values, topological_order


def path_sum(output: Var, wrt: Sequence[Var]) -> tuple[list[float], OpCount]:
    """:math:`\\partial z/\\partial x` for each ``x`` in ``wrt``: a forward sweep, then every path.

    Parameters
    ----------
    output : Var
        The node ``z``.
    wrt : sequence of Var

    Returns
    -------
    grads : list of float
        In the order of ``wrt``.
    count : OpCount
    """
    order = topological_order(output)
    value, n_forward = forward_values(order)
    n_local = n_products = n_sums = 0
    grads: list[float] = []
    for x in wrt:
        inside = between(order, [x])
        # per node, once: its stored input values and the rules of its slots leading to x
        steps = {
            v: (
                [value[u] for u in v.inputs],
                [(u, _rules(v)[i]) for i, u in enumerate(v.inputs) if u in inside],
            )
            for v in inside
            if v is not x
        }
        total = None
        stack: list[tuple[Var, float]] = [(output, 1.0)] if output in inside else []
        while stack:  # depth first: (node reached, product of the local derivatives so far)
            v, product = stack.pop()
            if v is x:  # one whole path: add its product
                if total is None:
                    total = product
                else:
                    total = total + product
                    n_sums += 1
                continue
            args, slots = steps[v]
            for u, d in slots:
                stack.append((u, product * d(*args)))  # a local derivative, then a product
            n_local += len(slots)
            n_products += len(slots)
        grads.append(0.0 if total is None else total)
    return grads, OpCount(n_forward, n_local, n_products, n_sums)


def _rules(v: Var) -> tuple[Rule, ...]:
    """The local-derivative rules of an inner node (a leaf has none)."""
    assert v.op is not None
    return v.op.d

r"""General back-propagation: one forward sweep, then one memoised reverse sweep over a grad table.

This is the algorithm of Goodfellow, Bengio and Courville, *Deep Learning*, §6.5.6: restrict
the graph to the nodes that lie on a path from a variable to the output, then fill a table
``grad`` with :math:`\partial z/\partial v` for every such node ``v`` in reverse topological
order. Each entry is the book's ``build_grad``:

.. math::  \frac{\partial z}{\partial v} = \sum_{c \in \text{consumers}(v)}
           \frac{\partial z}{\partial c}\,\frac{\partial c}{\partial v}

where :math:`\partial z/\partial c` is read from the table (computed once, used by every input of
``c``) and :math:`\partial c/\partial v` is ``c``'s local derivative at stored values. The
sweep adds each consumer's term to its inputs' entries as it passes the consumer; since every
consumer of ``v`` comes after ``v`` in the order, ``v``'s entry holds the whole sum when the
sweep reaches it. So every node's value is computed once and every edge's local derivative is
used once: the cost is linear in the number of edges, whatever the number of chain-rule paths
(compare :mod:`deltaprop.graph.naive`).

Everything is iterative (no recursion), so a chain 200,000 nodes deep works.

>>> from deltaprop.graph import Var
>>> from deltaprop.graph.backprop import backprop
>>> w = Var(2.0)
>>> z = (w * w) * (w * w)                  # z = w^4; w*w is built twice here
>>> grads, count = backprop(z, [w])
>>> grads, count                           # dz/dw = 4 w^3; 3 values, 6 edges, 3 sums
([32.0], OpCount(forward=3, local=6, products=6, sums=3))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._count import OpCount
from ._var import Var


def topological_order(output: Var) -> list[Var]:
    """Every node ``output`` depends on, each after all of its inputs; ``output`` last.

    An iterative depth-first search (post-order), so depth is no problem.
    """
    order: list[Var] = []
    seen = {output}
    stack = [(output, iter(output.inputs))]
    while stack:
        v, pending = stack[-1]
        for u in pending:
            if u not in seen:
                seen.add(u)
                stack.append((u, iter(u.inputs)))
                break
        else:  # every input of v is placed: place v
            stack.pop()
            order.append(v)
    return order


def forward_values(order: Sequence[Var]) -> tuple[dict[Var, float], int]:
    """Every node's value from the leaves' values, in topological ``order``.

    Returns the values and the number of forward evaluations (one per inner node).
    """
    value: dict[Var, float] = {}
    n_forward = 0
    for v in order:
        if v.op is None:
            value[v] = v.value
        else:
            value[v] = v.op.f(*[value[u] for u in v.inputs])
            n_forward += 1
    return value, n_forward


def between(order: Sequence[Var], wrt: Iterable[Var]) -> set[Var]:
    """The nodes of ``order`` that depend on a node of ``wrt`` (those nodes included).

    With ``order`` a topological order ending at the output, these are the nodes on some path
    from a variable to the output: the only ones whose derivative the chain rule needs.
    """
    inside = set(wrt)
    for v in order:
        if v not in inside:
            for u in v.inputs:
                if u in inside:
                    inside.add(v)
                    break
    return inside.intersection(order)


def backprop(output: Var, wrt: Sequence[Var]) -> tuple[list[float], OpCount]:
    """:math:`\\partial z/\\partial x` for each ``x`` in ``wrt``, by general back-propagation.

    Parameters
    ----------
    output : Var
        The node ``z``.
    wrt : sequence of Var
        The variables (any nodes of the graph).

    Returns
    -------
    grads : list of float
        In the order of ``wrt``; 0.0 for a node ``z`` does not depend on.
    count : OpCount
        Forward evaluations N (every inner node once), local derivatives and products E' (once
        per edge between the variables and the output), sums E' − V' + 1 (V' the nodes there).
    """
    order = topological_order(output)
    value, n_forward = forward_values(order)
    inside = between(order, wrt)

    n_local = n_products = n_sums = 0
    grad: dict[Var, float] = {}  # the grad table: ∂z/∂v, complete once the sweep reaches v
    if output in inside:
        grad[output] = 1.0
    for c in reversed(order):  # every consumer of a node comes after it in the order
        if c.op is None or c not in inside:
            continue
        g_c = grad[c]  # complete: all of c's consumers were swept before c
        args = [value[u] for u in c.inputs]
        for i, u in enumerate(c.inputs):
            if u in inside:  # c's term of build_grad(u): ∂z/∂c · ∂c/∂u
                term = g_c * c.op.d[i](*args)
                n_local += 1
                n_products += 1
                if u in grad:
                    grad[u] = grad[u] + term
                    n_sums += 1
                else:
                    grad[u] = term
    count = OpCount(n_forward, n_local, n_products, n_sums)
    return [grad.get(x, 0.0) for x in wrt], count

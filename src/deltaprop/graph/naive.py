r"""The chain rule expanded and evaluated literally, storing nothing: the exponential way.

For one variable ``x`` the derivative of a node ``v`` is

.. math::  D(x) = 1, \qquad
           D(v) = \sum_i \frac{\partial v}{\partial u_i}\Big|_{u\ \text{recomputed}} \; D(u_i)

over the inputs :math:`u_i` of ``v`` that depend on ``x``. Nothing is kept between terms:
each local derivative is evaluated at input values recomputed from the leaves (only the inputs
its rule reads, :attr:`Op.needs <deltaprop.graph._var.Op.needs>`), and each :math:`D(u_i)` is
computed again every time it is needed. For the book's chain ``x = f(w), y = f(x), z = f(y)``
this is :math:`f'(f(f(w)))\,f'(f(w))\,f'(w)` with every ``f(w)`` evaluated afresh (§6.5.2–6.5.3).

The recursion visits a node once per chain-rule path from the output down to it, so in a graph
where values feed several later values (``x * x``) the work doubles with each level. The
recursion is run with an explicit stack, so depth itself is no problem; only the cost is.
:mod:`deltaprop.graph.paths` keeps the same path-by-path sum but stores the forward values,
separating the cost of the paths from the cost of the recomputation.

>>> from deltaprop.graph import Var
>>> from deltaprop.graph.naive import naive
>>> w = Var(0.5)
>>> z = w.sin().sin().sin()                 # the book's chain with f = sin
>>> grads, count = naive(z, [w])
>>> count                                   # f(w) recomputed twice, f(f(w)) once
OpCount(forward=3, local=3, products=3, sums=0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._count import OpCount
from ._var import Var
from .backprop import between, topological_order


def recompute(v: Var) -> tuple[float, int]:
    """``v``'s value evaluated from the leaves, reusing nothing.

    Returns the value and the forward evaluations spent: one per inner node of ``v``'s
    expression *tree* (a node used twice is evaluated twice). Iterative, any depth.
    """
    if v.op is None:
        return v.value, 0
    n_forward = 0
    operands: list[float] = []
    todo: list = [v]  # nodes to expand, and (node,) once its inputs' values are on `operands`
    while todo:
        node = todo.pop()
        if node.__class__ is tuple:
            node = node[0]
            k = len(node.inputs)
            if k == 1:
                operands[-1] = node.op.f(operands[-1])
            else:
                args = operands[-k:]
                del operands[-k:]
                operands.append(node.op.f(*args))
            n_forward += 1
        elif node.op is None:
            operands.append(node.value)
        else:
            todo.append((node,))
            todo.extend(node.inputs[::-1])  # input 0 is expanded first
    return operands[0], n_forward


def _local(v: Var, i: int) -> tuple[float, int]:
    """``∂v/∂u_i`` at input values recomputed from the leaves; also the forward evaluations spent.

    Inputs the rule does not read are passed as NaN, so a wrong ``needs`` would show as NaN.
    """
    op = v.op
    assert op is not None  # only inner nodes have inputs
    args = [math.nan] * len(v.inputs)
    n_forward = 0
    for j in op.needs[i]:
        args[j], n = recompute(v.inputs[j])
        n_forward += n
    return op.d[i](*args), n_forward


def derivative(output: Var, x: Var, order: Sequence[Var] | None = None) -> tuple[float, OpCount]:
    """:math:`\\partial z/\\partial x` by the literal recursion :math:`D`, storing no value.

    Parameters
    ----------
    output : Var
        The node ``z``.
    x : Var
        One variable (any node of the graph).
    order : list of Var, optional
        ``topological_order(output)``, if already at hand (structure only, no values).

    Returns
    -------
    float, OpCount
    """
    order = topological_order(output) if order is None else order
    inside = between(order, [x])
    if output not in inside:
        return 0.0, OpCount()
    if output is x:
        return 1.0, OpCount()
    # structure only: which input slots of each node lead down to x
    slots = {v: [i for i, u in enumerate(v.inputs) if u in inside] for v in inside}

    n_forward = n_local = n_products = n_sums = 0
    # a frame is one pending call D(v): [v, next position in slots[v], sum so far, local of
    # the slot being expanded]; `result` carries the value of a call that has just returned.
    stack: list[list] = [[output, 0, None, 0.0]]
    result: float | None = None
    while stack:
        frame = stack[-1]
        v, pos, total, local = frame
        if result is not None:  # D(u_i) is back: add the term ∂v/∂u_i · D(u_i)
            term = local * result
            n_products += 1
            if total is None:
                total = term
            else:
                total = total + term
                n_sums += 1
            result = None
            pos += 1
        if pos == len(slots[v]):  # every term of D(v) is summed: return it
            stack.pop()
            result = total
            continue
        i = slots[v][pos]
        local, n = _local(v, i)
        n_forward += n
        n_local += 1
        frame[1:] = pos, total, local
        u = v.inputs[i]
        if u is x:
            result = 1.0  # D(x) = 1
        else:
            stack.append([u, 0, None, 0.0])
    assert result is not None  # the outermost call D(output) has returned
    return result, OpCount(n_forward, n_local, n_products, n_sums)


def naive(output: Var, wrt: Sequence[Var]) -> tuple[list[float], OpCount]:
    """:func:`derivative` for each variable in turn (nothing is shared between them either).

    Parameters
    ----------
    output : Var
    wrt : sequence of Var

    Returns
    -------
    grads : list of float
        In the order of ``wrt``.
    count : OpCount
        Summed over the variables.
    """
    order = topological_order(output)
    grads: list[float] = []
    count = OpCount()
    for x in wrt:
        g, c = derivative(output, x, order)
        grads.append(g)
        count = count + c
    return grads, count

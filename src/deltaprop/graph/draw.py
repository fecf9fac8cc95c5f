r"""Drawings of a computational graph: every node with its value and its grad-table entry.

:func:`to_svg` writes the drawing as SVG by itself (no Graphviz, no matplotlib): nodes in
columns by depth (leaves on the left, the output on the right), each box showing the node's
name or operation, its value :math:`v` and its entry :math:`\partial z/\partial v` of
back-propagation's grad table (:mod:`deltaprop.graph.backprop`); each edge ``u → c`` is
labelled with the local derivative :math:`\partial c/\partial u`. An input used twice (``x * x``)
has two edges. :func:`to_dot` gives the same as Graphviz DOT text (``dot -Tsvg``).

>>> from deltaprop.graph import Var
>>> from deltaprop.graph.draw import grad_table, to_dot
>>> w = Var(1.5, name="w")
>>> z = (w * w) * (w * w)          # two nodes w*w: ∂z/∂(w*w) is the other one, 2.25
>>> [(n.name or n.op.name, v, g) for n, v, g in grad_table(z)][:2]
[('w', 1.5, 13.5), ('*', 2.25, 2.25)]
>>> print(to_dot(z).splitlines()[0])
digraph computational_graph {
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from ._var import Var
from .backprop import backprop, topological_order

MAX_NODES = 400
"""Larger graphs are refused: a drawing of them would not be readable."""


def grad_table(output: Var) -> list[tuple[Var, float, float]]:
    """``(node, value, ∂z/∂node)`` for every node ``output`` depends on, in topological order.

    The entries are back-propagation's grad table (:func:`~deltaprop.graph.backprop.backprop`
    with every node as a variable); the output's own entry is 1.
    """
    if not isinstance(output, Var):
        raise TypeError(f"output must be a Var; got {type(output).__name__}")
    order = topological_order(output)
    if len(order) > MAX_NODES:
        raise ValueError(
            f"the graph has {len(order)} nodes; drawings stop at {MAX_NODES} (a smaller depth "
            "draws the same structure)"
        )
    grads, _ = backprop(output, order)
    return [(v, v.value, g) for v, g in zip(order, grads)]


def _label(v: Var) -> str:
    if v.name:
        return v.name
    if v.op is None:
        return "const"
    return v.op.name


def _number(x: float) -> str:
    return f"{x:.4g}".replace("-", "−")


def _levels(order: list[Var]) -> dict[Var, int]:
    level: dict[Var, int] = {}
    for v in order:
        level[v] = 0 if not v.inputs else 1 + max(level[u] for u in v.inputs)
    return level


def to_dot(output: Var, *, edge_labels: bool = True) -> str:
    """The graph as Graphviz DOT text: nodes with value and ∂z/∂v, edges with ∂c/∂u."""
    table = grad_table(output)
    ids = {v: f"n{k}" for k, (v, _, _) in enumerate(table)}
    lines = ["digraph computational_graph {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for v, value, g in table:
        label = f"{_label(v)}\\nvalue {_number(value)}\\n∂z/∂v = {_number(g)}"
        label = label.replace('"', '\\"')
        lines.append(f'  {ids[v]} [label="{label}"];')
    for c, _, _ in table:
        for u, d in zip(c.inputs, c.local):
            attrs = f' [label="{_number(d)}"]' if edge_labels else ""
            lines.append(f"  {ids[u]} -> {ids[c]}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(
    output: Var, path: str | os.PathLike | None = None, *, edge_labels: bool = True
) -> str | Path:
    """The graph as an SVG drawing (text), or written to ``path`` (returns the path).

    Leaves are grey, the output blue; every box reads its name or operation, ``v = value`` and
    ``∂z/∂v = grad-table entry``; edges carry the local derivative ∂c/∂u.
    """
    table = grad_table(output)
    order = [v for v, _, _ in table]
    level = _levels(order)
    columns: dict[int, list[Var]] = {}
    for v in order:
        columns.setdefault(level[v], []).append(v)
    bw, bh, dx, dy, pad = 128, 58, 190, 82, 16
    tallest = max(len(c) for c in columns.values())
    width = pad * 2 + dx * (max(columns) + 1) - (dx - bw)
    height = pad * 2 + dy * tallest - (dy - bh)
    where: dict[Var, tuple[float, float]] = {}
    for k, col in columns.items():
        top = pad + (tallest - len(col)) * dy / 2
        for i, v in enumerate(col):
            where[v] = (float(pad + k * dx), top + i * dy)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="system-ui, sans-serif">',
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
        "markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' "
        "fill='#555'/></marker></defs>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
    ]
    parts += _svg_edges(order, where, bw, bh, edge_labels)
    for v, value, g in table:
        x, y = where[v]
        fill = "#e8f0fb" if v is output else "#eeeeee" if v.op is None else "#ffffff"
        parts.append(
            f'<g class="node"><rect x="{x:.1f}" y="{y:.1f}" width="{bw}" height="{bh}" rx="8" '
            f'fill="{fill}" stroke="#333"/>'
            f'<text x="{x + bw / 2:.1f}" y="{y + 17:.1f}" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{escape(_label(v))}</text>'
            f'<text x="{x + bw / 2:.1f}" y="{y + 34:.1f}" text-anchor="middle" '
            f'font-size="11">v = {escape(_number(value))}</text>'
            f'<text x="{x + bw / 2:.1f}" y="{y + 50:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#8a3b12">∂z/∂v = {escape(_number(g))}</text></g>'
        )
    parts.append("</svg>")
    svg = "\n".join(parts) + "\n"
    if path is None:
        return svg
    path = Path(path)
    path.write_text(svg, encoding="utf-8")
    return path


def _svg_edges(
    order: list[Var], where: dict[Var, tuple[float, float]], bw: int, bh: int, labels: bool
) -> list[str]:
    parts = []
    for c in order:
        seen: dict[Var, int] = {}
        for u, d in zip(c.inputs, c.local):
            k = seen.get(u, 0)  # a repeated input (x * x): a second, bent edge
            seen[u] = k + 1
            (x1, y1), (x2, y2) = where[u], where[c]
            x1, y1, x2, y2 = x1 + bw, y1 + bh / 2, x2, y2 + bh / 2
            bend = 18 * k * (1 if k % 2 else -1)
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2 + bend
            parts.append(
                f'<path d="M{x1:.1f},{y1:.1f} Q{mx:.1f},{my + bend:.1f} {x2:.1f},{y2:.1f}" '
                'fill="none" stroke="#555" stroke-width="1.3" marker-end="url(#arrow)"/>'
            )
            if labels:
                parts.append(
                    f'<text x="{mx:.1f}" y="{my - 4:.1f}" text-anchor="middle" font-size="10" '
                    f'fill="#0b5cad">{escape(_number(d))}</text>'
                )
    return parts


__all__ = ["MAX_NODES", "grad_table", "to_dot", "to_svg"]

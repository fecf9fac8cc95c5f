"""What ``ops`` counts: the same four kinds of arithmetic for every gradient method.

Each method of :func:`deltaprop.graph.gradients` starts from the leaves' values and counts,
one each time it happens:

* ``forward``  — one node's value computed from its inputs' values (one application of the
  node's forward rule; leaves cost nothing);
* ``local``    — one local derivative :math:`\\partial v/\\partial u_i` evaluated for one edge
  (one application of the operation's derivative rule for input slot ``i``);
* ``products`` — one multiplication of a local derivative by a chain-rule factor (the
  derivative flowing in from the output side, or from the variable's side; the seed 1 of the
  output counts like any other factor);
* ``sums``     — one addition of two chain-rule terms.

``ops`` is their total. Structural work — sorting the graph, finding the nodes that lie between
the variables and the output, pushing and popping stacks, looking values up — does no
arithmetic on values and is not counted. So for every method the count is a property of the
graph alone; :mod:`deltaprop.graph.families` gives it in closed form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class OpCount:
    """The breakdown of ``ops``: forward evaluations, local derivatives, products and sums."""

    forward: int = 0
    local: int = 0
    products: int = 0
    sums: int = 0

    @property
    def total(self) -> int:
        """``forward + local + products + sums``: the ``ops`` of :func:`gradients`."""
        return self.forward + self.local + self.products + self.sums

    def __add__(self, other: OpCount) -> OpCount:
        if not isinstance(other, OpCount):
            return NotImplemented
        return OpCount(
            self.forward + other.forward,
            self.local + other.local,
            self.products + other.products,
            self.sums + other.sums,
        )

    def to_dict(self) -> dict[str, int]:
        """The four counts and their ``total``, for JSON."""
        return {**asdict(self), "total": self.total}

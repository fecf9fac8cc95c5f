"""The blow-up study: each gradient method's cost, counted and timed, depth by depth.

For every depth of a family (:mod:`deltaprop.graph.families`) the graph is built once and
differentiated by each method of :func:`deltaprop.graph.gradients`. Each run's operation count
must equal the family's closed form (checked on every run); its wall time is the mean over
enough repetitions to last ``min_seconds``. A naive or path-sum run whose predicted time — its
closed-form count times the seconds per operation of that method's last real run — exceeds
``budget`` is not started: its row gives the closed-form count and the predicted time, marked
``extrapolated``. The smallest depth always runs, to calibrate the prediction.

>>> from deltaprop.graph.study import blowup
>>> rows = blowup("fanout", 8, budget=2.0)
>>> [(r.depth, r.n_paths, r.backprop.ops, r.naive.ops) for r in rows[-1:]]
[(8, 256, 48, 2813)]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ._gradients import METHODS
from ._var import Var
from .families import Family, get_family


@dataclass(frozen=True)
class Run:
    """One method at one depth: its operation count and wall time (seconds)."""

    ops: int
    seconds: float
    extrapolated: bool = False


@dataclass(frozen=True)
class BlowupRow:
    """One depth of the study: the graph's size and each method's :class:`Run`."""

    family: str
    depth: int
    n_paths: int
    n_edges: int
    backprop: Run
    naive: Run
    paths: Run

    @property
    def ratio_ops(self) -> float:
        """Naive operations per back-propagation operation."""
        return self.naive.ops / self.backprop.ops

    @property
    def ratio_seconds(self) -> float:
        """Naive wall time over back-propagation wall time."""
        return self.naive.seconds / self.backprop.seconds

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON object: ``depth, n_paths, n_edges``, then ``<method>_ops``,
        ``<method>_seconds``, ``<method>_extrapolated`` for each method, then the ratios."""
        row: dict[str, Any] = {
            "family": self.family,
            "depth": self.depth,
            "n_paths": self.n_paths,
            "n_edges": self.n_edges,
        }
        for method in METHODS:
            run: Run = getattr(self, method)
            row[f"{method}_ops"] = run.ops
            row[f"{method}_seconds"] = run.seconds
            row[f"{method}_extrapolated"] = run.extrapolated
        row["ratio_ops"] = self.ratio_ops
        row["ratio_seconds"] = self.ratio_seconds
        return row


def timed(output: Var, wrt: list[Var], method: str, min_seconds: float = 0.01) -> tuple[int, float]:
    """``(ops, seconds)`` of ``gradients(output, wrt, method)``, seconds averaged over repeats
    until ``min_seconds`` have passed (one run if it alone takes that long)."""
    run = METHODS[method]
    repeats = 0
    start = time.perf_counter()
    while True:
        _, count = run(output, wrt)
        repeats += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return count.total, elapsed / repeats


MAX_DEPTH = 1000
"""The deepest graph :func:`blowup` studies (its counts and times stay finite floats)."""


def blowup(
    family: str | Family,
    max_depth: int,
    *,
    budget: float = 2.0,
    min_depth: int = 1,
    min_seconds: float = 0.01,
) -> list[BlowupRow]:
    """Count and time every method on ``family`` at depths ``min_depth..max_depth``.

    Parameters
    ----------
    family : str or Family
        A name of :data:`deltaprop.graph.families.FAMILIES` or a family object.
    max_depth, min_depth : int
        The depths measured (every one in between); ``max_depth`` at most :data:`MAX_DEPTH`.
    budget : float
        Seconds one naive or path-sum run may be predicted to take; longer ones are
        extrapolated from the closed form instead of run. Back-propagation always runs.
    min_seconds : float
        Short runs are repeated until this much time has passed, and their mean is reported.

    Returns
    -------
    list of BlowupRow
    """
    fam = get_family(family) if isinstance(family, str) else family
    if not isinstance(fam, Family):
        raise TypeError(f"family must be a family name or a Family; got {family!r}")
    for label, v in (("min_depth", min_depth), ("max_depth", max_depth)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{label} must be an integer >= 1; got {v!r}")
    if max_depth > MAX_DEPTH:
        raise ValueError(
            f"max_depth must be <= {MAX_DEPTH}: beyond it the operation counts of the fanout "
            f"and mlp families exceed float64 (2^1024), and the study's time grows as the "
            f"square of the depth; got {max_depth}"
        )
    if max_depth < min_depth:
        raise ValueError(f"max_depth must be >= min_depth = {min_depth}; got {max_depth}")
    if not budget > 0:
        raise ValueError(f"budget must be > 0 seconds; got {budget!r}")

    seconds_per_op: dict[str, float] = {}
    stopped: set[str] = set()
    rows: list[BlowupRow] = []
    for depth in range(min_depth, max_depth + 1):
        output, wrt = fam.build(depth)
        runs: dict[str, Run] = {}
        for method in METHODS:
            ops = fam.cost(depth, method).total
            rate = seconds_per_op.get(method)
            if (
                method != "backprop"
                and rate is not None
                and (method in stopped or ops * rate > budget)
            ):
                stopped.add(method)  # costs only grow with depth: no later run either
                runs[method] = Run(ops, ops * rate, extrapolated=True)
                continue
            measured, seconds = timed(output, wrt, method, min_seconds)
            assert measured == ops, f"{fam!r} depth {depth} {method}: {measured} != {ops}"
            seconds_per_op[method] = seconds / ops
            runs[method] = Run(ops, seconds)
        rows.append(BlowupRow(fam.name, depth, fam.n_paths(depth), fam.n_edges(depth), **runs))
    return rows


__all__ = ["MAX_DEPTH", "BlowupRow", "Run", "blowup", "timed"]

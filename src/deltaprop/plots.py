"""Matplotlib figures: loss curves, per-layer gradient norms, the back-propagation blow-up study.

Every function writes a PNG with the non-interactive Agg backend (no screen needed) and returns
the path it wrote.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")


def plot_blowup(
    rows: Sequence[Any], path: str | os.PathLike, *, title: str | None = None
) -> Path:
    """The blow-up study as a figure: operations and wall time per depth, log scale.

    Parameters
    ----------
    rows : list of :class:`deltaprop.graph.study.BlowupRow` or of their ``to_dict()`` objects
        One per depth, as :func:`deltaprop.graph.study.blowup` (or ``deltaprop blowup --json``)
        gives them.
    path : str or Path
        The PNG to write.
    title : str, optional

    Returns
    -------
    Path
        ``path``. Measured points are filled and joined by solid lines; points extrapolated from
        the closed form (runs over the time budget, not started) are hollow and dashed.
    """
    import matplotlib.pyplot as plt

    rows = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in rows]
    if not rows:
        raise ValueError("rows must hold at least one depth of the blow-up study; got none")
    depth = [r["depth"] for r in rows]
    methods = [
        ("naive", "naive chain rule (recomputes values, walks every path)", "tab:red"),
        ("paths", "path sum (stored values, walks every path)", "tab:orange"),
        ("backprop", "back-propagation (grad table, each edge once)", "tab:blue"),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.11, top=0.87, wspace=0.18)
    for ax, unit, label in ((axes[0], "ops", "arithmetic operations"),
                            (axes[1], "seconds", "wall time (s)")):
        for method, name, color in methods:
            xs = [(d, r[f"{method}_{unit}"], r[f"{method}_extrapolated"])
                  for d, r in zip(depth, rows)]
            run = [(d, y) for d, y, ex in xs if not ex]
            ext = [(d, y) for d, y, ex in xs if ex]
            if run:
                ax.plot(*zip(*run), "o-", color=color, ms=4, label=name)
            if ext:
                joined = run[-1:] + ext  # continue the line from the last measured point
                ax.plot(*zip(*joined), "--", color=color)
                ax.plot(*zip(*ext), "o", mfc="none", color=color, ms=4,
                        label=f"{method}: closed form, not run (over budget)")
        if unit == "ops":
            ax.plot(depth, [r["n_paths"] for r in rows], ":", color="0.5",
                    label="chain-rule paths")
            inset = ax.inset_axes([0.64, 0.1, 0.33, 0.3])  # back-propagation on linear axes
            inset.plot(depth, [r["backprop_ops"] for r in rows], "o-", color="tab:blue", ms=2)
            inset.set_title("back-propagation, linear axes", fontsize=7)
            inset.tick_params(labelsize=6)
        ax.set_yscale("log")
        ax.set_xlabel("depth")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    last = rows[-1]
    axes[1].set_title(
        f"depth {last['depth']}: naive / backprop = {last['ratio_ops']:.3g}× the operations",
        fontsize=10,
    )
    axes[0].set_title("exponential (naive, paths) vs linear (back-propagation)", fontsize=10)
    fig.suptitle(title or f"Gradient cost on the {last['family']!r} graph family")
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

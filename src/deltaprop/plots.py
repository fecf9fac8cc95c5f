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


def plot_blowup(rows: Sequence[Any], path: str | os.PathLike, *, title: str | None = None) -> Path:
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
    from matplotlib.ticker import MaxNLocator

    rows = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in rows]
    if not rows:
        raise ValueError("rows must hold at least one depth of the blow-up study; got none")
    depth = [r["depth"] for r in rows]
    methods = [  # back-propagation first: the path sum, drawn smaller, stays visible on top
        ("backprop", "back-propagation (grad table, each edge once)", "tab:blue", 4),
        ("naive", "naive chain rule (recomputes values, walks every path)", "tab:red", 4),
        ("paths", "path sum (stored values, walks every path)", "tab:orange", 2.5),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.25, top=0.86, wspace=0.18)
    for ax, unit, label in (
        (axes[0], "ops", "arithmetic operations per gradient"),
        (axes[1], "seconds", "wall time per gradient (s)"),
    ):
        for method, name, color, size in methods:
            xs = [
                (d, r[f"{method}_{unit}"], r[f"{method}_extrapolated"]) for d, r in zip(depth, rows)
            ]
            run = [(d, y) for d, y, ex in xs if not ex]
            ext = [(d, y) for d, y, ex in xs if ex]
            if run:
                ax.plot(*zip(*run), "o-", color=color, ms=size, label=name)
            if ext:
                joined = run[-1:] + ext  # continue the line from the last measured point
                ax.plot(*zip(*joined), "--", color=color)
                ax.plot(
                    *zip(*ext),
                    "o",
                    mfc="none",
                    color=color,
                    ms=size,
                    label=f"{method}: closed form, not run (predicted over the time budget)",
                )
        if unit == "ops":
            ax.plot(
                depth,
                [r["n_paths"] for r in rows],
                ":",
                color="0.5",
                label="number of chain-rule paths",
            )
            inset = ax.inset_axes([0.64, 0.1, 0.33, 0.3])  # back-propagation on linear axes
            inset.plot(depth, [r["backprop_ops"] for r in rows], "o-", color="tab:blue", ms=2)
            inset.set_title("back-propagation, linear axes", fontsize=7)
            inset.tick_params(labelsize=6)
        ax.set_yscale("log")
        ax.set_xlabel("depth")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_title("operations (counted; log scale)", fontsize=10)
    axes[1].set_title("wall time (measured; log scale)", fontsize=10)
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8, frameon=False
    )
    last = rows[-1]
    ratio = last["ratio_ops"]
    ratio_text = f"{ratio:,.0f}" if 10 <= ratio < 1e6 else f"{ratio:.3g}"
    fig.suptitle(
        title
        or f"Gradient cost on the {last['family']!r} graph family: at depth "
        f"{last['depth']}, the naive chain rule takes {ratio_text}× the operations of "
        "back-propagation",
        fontsize=11,
    )
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _history_field(history: Any, name: str, default: Any = None) -> Any:
    """A field of a :class:`deltaprop.training.History`, or of a dict with the same keys."""
    if isinstance(history, dict):
        return history.get(name, default)
    return getattr(history, name, default)


def _history_lists(history: Any, *names: str) -> list[list[Any]]:
    """The per-epoch lists ``names`` of a history; the first must not be empty."""
    lists = [list(_history_field(history, name) or []) for name in names]
    if not lists[0]:
        raise ValueError(f"history must hold at least one epoch; its {names[0]!r} is empty")
    return lists


def plot_loss(history: Any, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Training and validation cost per epoch (log scale), the best epoch marked.

    Parameters
    ----------
    history : deltaprop.training.History
        ``history.loss`` (one float per epoch), ``history.val_loss`` (empty without validation
        data) and ``history.best_epoch`` are used.
    path : str or Path
        The PNG to write.
    title : str, optional
    """
    import matplotlib.pyplot as plt

    loss, val_loss = _history_lists(history, "loss", "val_loss")
    epochs = range(1, len(loss) + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)  # cheaper than a layout
    ax.plot(epochs, loss, "-", color="tab:blue", label="training cost J")
    if val_loss:
        ax.plot(
            range(1, len(val_loss) + 1), val_loss, "-", color="tab:orange", label="validation cost"
        )
    best = _history_field(history, "best_epoch", 0)
    if best:
        ax.axvline(best, color="0.5", ls=":", label=f"best epoch ({best})")
    if min(loss + val_loss) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost J (mean over the epoch)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    ax.set_title(title or "Cost per epoch")
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_gradients(history: Any, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Per-layer gradient norms over training (log scale) and the share of dead hidden units.

    Left: :math:`\\lVert \\partial J/\\partial W^{[l]} \\rVert_F = \\lVert \\delta^{[l]}
    A^{[l-1]T} \\rVert_F` for l = 1..L, averaged over each epoch's batches; vanishing or
    exploding gradients show as layers drifting apart. Right: for each hidden layer, the
    fraction of units that no error reached during the epoch (dead ReLUs: :math:`g' = 0` for
    every sample).

    Parameters
    ----------
    history : deltaprop.training.History
        ``history.grad_norm`` (epochs × L) and ``history.dead_fraction`` (epochs × (L−1)).
    path : str or Path
        The PNG to write.
    title : str, optional
    """
    import matplotlib.pyplot as plt

    grad_norm, dead = _history_lists(history, "grad_norm", "dead_fraction")
    epochs = range(1, len(grad_norm) + 1)
    fig, (ax_g, ax_d) = plt.subplots(1, 2, figsize=(12, 4.5))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.2)
    for l in range(1, len(grad_norm[0]) + 1):
        ax_g.plot(epochs, [row[l - 1] for row in grad_norm], "-", label=f"layer {l}")
    if min(min(row) for row in grad_norm) > 0:
        ax_g.set_yscale("log")
    ax_g.set_xlabel("epoch")
    ax_g.set_ylabel(r"$\|\partial J/\partial W^{[l]}\|_F$ (mean over batches)")
    ax_g.set_title("Gradient norm per layer", fontsize=10)
    ax_g.grid(True, which="major", alpha=0.3)
    ax_g.legend(fontsize=8)
    n_hidden = len(dead[0]) if dead else 0
    for l in range(1, n_hidden + 1):
        ax_d.plot(
            range(1, len(dead) + 1), [row[l - 1] for row in dead], "-", label=f"hidden layer {l}"
        )
    if n_hidden:
        ax_d.legend(fontsize=8)
    else:
        ax_d.text(0.5, 0.5, "no hidden layers", ha="center", va="center", transform=ax_d.transAxes)
    ax_d.set_ylim(-0.02, 1.02)
    ax_d.set_xlabel("epoch")
    ax_d.set_ylabel("fraction of units")
    ax_d.set_title("Dead units (no error reached them all epoch)", fontsize=10)
    ax_d.grid(True, which="major", alpha=0.3)
    fig.suptitle(title or "Back-propagated gradients during training")
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

"""Matplotlib figures: loss curves, gradient norms, the blow-up study, the network and its δ.

Every function draws with the non-interactive Agg backend (no screen needed), writes the file
it is given and returns its path. The format follows ``format`` or else the file's suffix
(``png``, ``svg`` or ``pdf``; :data:`FORMATS`), the resolution ``dpi`` (raster formats), the
size ``size`` (inches, width × height).

* :func:`plot_loss`, :func:`plot_gradients` — training (``deltaprop train``);
* :func:`plot_blowup` — the blow-up study (``deltaprop blowup --plot``);
* :func:`plot_network` — units as circles, weights as lines (colour = sign, width = size),
  units optionally coloured by their activation or their error δ on a batch;
* :func:`plot_deltas` — δ^[l] per layer as heatmaps (units × samples).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

FORMATS = ("png", "svg", "pdf")
"""The file formats every plot can be written in."""


def _format(path: Path, format: str | None) -> str:
    fmt = (format or path.suffix.lstrip(".") or "png").lower()
    if fmt not in FORMATS:
        raise ValueError(f"plot format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return fmt


def _check_dpi(dpi: Any) -> float:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 10 <= dpi <= 1200:
        raise ValueError(f"dpi must be a number from 10 to 1200; got {dpi!r}")
    return float(dpi)


def check_plot_options(format: str | None = "png", dpi: Any = 120) -> tuple[str, float]:
    """``(format, dpi)`` checked, for a caller that writes plots later (after training):
    a bad value is reported before any work is done."""
    return _format(Path(f"plot.{format or 'png'}"), format), _check_dpi(dpi)


def _save(fig: Any, path: str | os.PathLike, format: str | None, dpi: Any) -> Path:
    """Write ``fig`` to ``path`` in ``format`` (default: the suffix) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        fig.savefig(path, dpi=_check_dpi(dpi), format=_format(path, format))
    finally:
        plt.close(fig)
    return path


def plot_blowup(
    rows: Sequence[Any],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    format: str | None = None,
    dpi: float = 120,
    size: tuple[float, float] = (12, 5.4),
) -> Path:
    """The blow-up study as a figure: operations and wall time per depth, log scale.

    Parameters
    ----------
    rows : list of :class:`deltaprop.graph.study.BlowupRow` or of their ``to_dict()`` objects
        One per depth, as :func:`deltaprop.graph.study.blowup` (or ``deltaprop blowup --json``)
        gives them.
    path : str or Path
        The file to write.
    title : str, optional
    format : {"png", "svg", "pdf"}, optional
        Default: ``path``'s suffix.
    dpi : float, default 120
    size : (float, float), default (12, 5.4)
        Width and height in inches.

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
    _format(Path(path), format)
    fig, axes = plt.subplots(1, 2, figsize=size)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.25, top=0.86, wspace=0.18)
    for ax, unit, label in (
        (axes[0], "ops", "arithmetic operations per gradient"),
        (axes[1], "seconds", "wall time per gradient (s)"),
    ):
        _blowup_curves(ax, unit, rows, depth, methods)
        ax.set_yscale("log")
        if unit == "ops":
            _blowup_inset(ax, depth, rows)
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
    return _save(fig, path, format, dpi)


def _blowup_curves(ax: Any, unit: str, rows: list[Any], depth: list[Any], methods: Any) -> None:
    """One panel's curves: measured (filled, solid), extrapolated (hollow, dashed)."""
    for method, name, color, ms in methods:
        xs = [(d, r[f"{method}_{unit}"], r[f"{method}_extrapolated"]) for d, r in zip(depth, rows)]
        run = [(d, y) for d, y, ex in xs if not ex]
        ext = [(d, y) for d, y, ex in xs if ex]
        if run:
            ax.plot(*zip(*run), "o-", color=color, ms=ms, label=name)
        if ext:
            joined = run[-1:] + ext  # continue the line from the last measured point
            ax.plot(*zip(*joined), "--", color=color)
            ax.plot(
                *zip(*ext),
                "o",
                mfc="none",
                color=color,
                ms=ms,
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


_INSET_PLACES = (  # axes fractions [x, y, width, height], in order of preference
    (0.1, 0.6, 0.3, 0.27),  # upper left
    (0.64, 0.1, 0.33, 0.3),  # lower right
    (0.64, 0.6, 0.33, 0.27),  # upper right
    (0.1, 0.1, 0.3, 0.27),  # lower left
)


def _blowup_inset(ax: Any, depth: list[Any], rows: list[Any]) -> None:
    """Back-propagation's operations on linear axes, in the corner that hides the fewest
    points of the curves already drawn (a fixed corner hid a curve on some families)."""
    import numpy as np

    ax.autoscale_view()
    to_axes = ax.transData + ax.transAxes.inverted()
    points = []
    for line in ax.get_lines():
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
        x, y = x[ok], y[ok]
        if len(x) > 1:  # the segments too, not only the markers
            t = np.linspace(0, 1, 20)[:, None]
            x = (x[:-1] + t * (x[1:] - x[:-1])).ravel()
            y = np.exp(np.log(y[:-1]) + t * (np.log(y[1:]) - np.log(y[:-1]))).ravel()
        points.append(to_axes.transform(np.column_stack([x, y])))
    xy = np.concatenate(points) if points else np.zeros((0, 2))

    def hidden(place: tuple[float, ...]) -> int:
        x0, y0, w, h = place
        inside = (xy[:, 0] > x0 - 0.03) & (xy[:, 0] < x0 + w + 0.03)
        return int(np.sum(inside & (xy[:, 1] > y0 - 0.05) & (xy[:, 1] < y0 + h + 0.08)))

    place = min(_INSET_PLACES, key=hidden)
    inset = ax.inset_axes(list(place))
    inset.plot(depth, [r["backprop_ops"] for r in rows], "o-", color="tab:blue", ms=2)
    inset.set_title("back-propagation, linear axes", fontsize=7)
    inset.tick_params(labelsize=6)


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


def plot_loss(
    history: Any,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    format: str | None = None,
    dpi: float = 120,
    size: tuple[float, float] = (7, 4.5),
) -> Path:
    """Training and validation cost per epoch (log scale), the best epoch marked.

    Parameters
    ----------
    history : deltaprop.training.History
        ``history.loss`` (one float per epoch), ``history.val_loss`` (empty without validation
        data) and ``history.best_epoch`` are used.
    path : str or Path
        The file to write.
    title : str, optional
    format : {"png", "svg", "pdf"}, optional
        Default: ``path``'s suffix.
    dpi : float, default 120
    size : (float, float), default (7, 4.5)
        Width and height in inches (840 × 540 pixels at 120 dpi).
    """
    import matplotlib.pyplot as plt

    loss, val_loss = _history_lists(history, "loss", "val_loss")
    epochs = range(1, len(loss) + 1)
    _format(Path(path), format)
    fig, ax = plt.subplots(figsize=size)
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
    return _save(fig, path, format, dpi)


def plot_confusion(
    matrix: Sequence[Sequence[int]],
    classes: Sequence[Any],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    format: str | None = None,
    dpi: float = 120,
) -> Path:
    """A confusion matrix as a heat map, the count in each cell.

    Parameters
    ----------
    matrix : k × k counts
        Row = true class, column = predicted class, both in ``classes`` order (scikit-learn's
        ``confusion_matrix``).
    classes : sequence of k labels
    path : str or Path
        The figure to write (atomically: a temporary file renamed over it).
    title : str, optional
    format, dpi
        As for :func:`plot_loss`.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    counts = np.asarray(matrix)
    k = len(classes)
    if counts.shape != (k, k):
        raise ValueError(f"matrix must be {k} × {k} for {k} classes; got shape {counts.shape}")
    size = min(12.0, 3.0 + 0.6 * k)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    names = [str(c) for c in classes]
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    high = counts.max() if counts.size else 0
    for i in range(k):
        for j in range(k):
            color = "white" if counts[i, j] > high / 2 else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color)
    accuracy = np.trace(counts) / max(1, counts.sum())
    ax.set_title(title or f"Confusion matrix (accuracy {accuracy:.3f})")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _save(fig, tmp, _format(path, format), dpi)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def plot_gradients(
    history: Any,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    format: str | None = None,
    dpi: float = 120,
    size: tuple[float, float] = (12, 4.5),
) -> Path:
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
        The file to write.
    title : str, optional
    format : {"png", "svg", "pdf"}, optional
        Default: ``path``'s suffix.
    dpi : float, default 120
    size : (float, float), default (12, 4.5)
        Width and height in inches.
    """
    import matplotlib.pyplot as plt

    grad_norm, dead = _history_lists(history, "grad_norm", "dead_fraction")
    epochs = range(1, len(grad_norm) + 1)
    _format(Path(path), format)
    fig, (ax_g, ax_d) = plt.subplots(1, 2, figsize=size)
    # left margin wide enough for the y label's fraction ∂J/∂W^[l] (it was clipped at 0.07)
    fig.subplots_adjust(left=0.085, right=0.98, bottom=0.12, top=0.86, wspace=0.22)
    for l, curve in enumerate(zip(*grad_norm), start=1):  # rows: Layers, or lists from JSON
        ax_g.plot(epochs, curve, "-", label=f"layer {l}")
    if min(min(row) for row in grad_norm) > 0:
        ax_g.set_yscale("log")
    ax_g.set_xlabel("epoch")
    ax_g.set_ylabel(r"$\|\partial J/\partial W^{[l]}\|_F$ (mean over batches)")
    ax_g.set_title("Gradient norm per layer", fontsize=10)
    ax_g.grid(True, which="major", alpha=0.3)
    ax_g.legend(fontsize=8)
    n_hidden = len(dead[0]) if dead else 0
    for l, curve in enumerate(zip(*dead), start=1):
        ax_d.plot(range(1, len(dead) + 1), curve, "-", label=f"hidden layer {l}")
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
    return _save(fig, path, format, dpi)


# --- the network and its errors ------------------------------------------------------------------


def _unit_values(net: Any, X: Any, Y: Any, color_by: str) -> list[Any]:
    """Per layer 0..L the (n_l, m) array to colour units by, or None (no colour)."""
    import numpy as np

    from .network import as_layers

    L = net.L
    if X is None:
        return [None] * (L + 1)
    ref = net.to("numpy", dtype="float64")
    X = np.asarray(X, dtype=np.float64)
    Z, A = ref.forward_pass(X)
    if color_by == "activation":
        return [np.asarray(a) for a in A]
    if Y is None:
        raise ValueError("color_by='delta' needs the targets Y as well as X")
    delta = as_layers(ref.backward(Z, A, np.asarray(Y, dtype=np.float64))[0], "delta")
    return [None] + [np.asarray(delta[l]) for l in range(1, L + 1)]


def plot_network(
    net: Any,
    X: Any = None,
    Y: Any = None,
    path: str | os.PathLike | None = None,
    *,
    color_by: str = "activation",
    sample: int | str = 0,
    title: str | None = None,
    format: str | None = None,
    dpi: float = 120,
    size: tuple[float, float] | None = None,
) -> Any:
    """The network drawn: units as circles, weights as lines whose colour and width show sign
    and size; with a batch, units coloured by their activation or their error δ.

    Parameters
    ----------
    net : Network
    X : array of shape (n_0, m), optional
        A batch; without it the units are left white.
    Y : array of shape (n_L, m), optional
        Its targets (needed for ``color_by="delta"``).
    path : str or Path, optional
        The file to write; without it the matplotlib Figure is returned (the caller closes
        it).
    color_by : {"activation", "delta"}, default "activation"
        :math:`A^{[l]}` (the input layer shows X) or :math:`\\delta^{[l]}` (no colour on the
        input layer).
    sample : int or "mean", default 0
        The column of the batch to show, or the mean over the batch.
    title : str, optional
    format, dpi, size
        As for every plot here (``size`` defaults to the network's shape).

    Returns
    -------
    Path or matplotlib.figure.Figure
        Blue is negative, red positive; lines are scaled per layer (the widest line of a
        layer is its largest |w|), unit colours per layer.
    """
    import matplotlib.pyplot as plt

    if color_by not in ("activation", "delta"):
        raise ValueError(f"color_by must be 'activation' or 'delta'; got {color_by!r}")
    if path is not None:
        _format(Path(path), format)
    values = _unit_values(net, X, Y, color_by)
    sizes, L = list(net.sizes), net.L
    tallest = max(sizes)
    if size is None:
        size = (max(4.0, 1.6 * (L + 1)), max(3.0, 0.75 * tallest + 1.2))
    fig, ax = plt.subplots(figsize=size)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.88 if title else 0.93)
    _network_edges(ax, net)
    for l in range(L + 1):
        _network_units(ax, net, l, values[l], sample)
        name = "input" if l == 0 else "output" if l == L else "hidden"
        what = ""
        if values[l] is not None:
            what = "\nX" if l == 0 else ("\nA" if color_by == "activation" else "\nδ") + f"[{l}]"
        ax.text(l, (tallest - 1) / 2 + 0.55, f"{name} [{l}]{what}", ha="center", fontsize=8)
    ax.set_xlim(-0.5, L + 0.5)
    ax.set_ylim(-(tallest - 1) / 2 - 0.5, (tallest - 1) / 2 + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or _network_title(sizes, X is not None, color_by, sample), fontsize=9)
    if path is None:
        return fig
    return _save(fig, path, format, dpi)


def _network_title(sizes: Sequence[int], batch: bool, color_by: str, sample: int | str) -> str:
    text = f"{'-'.join(map(str, sizes))} network: lines red > 0, blue < 0, width |w|"
    if batch:
        shown = " (mean over the batch)" if sample == "mean" else f", sample {int(sample) + 1}"
        text += f"; units by {'A' if color_by == 'activation' else 'δ'}{shown}"
    return text


_UNIT_RADIUS = 0.22


def _unit_y(sizes: Sequence[int], l: int, i: int) -> float:
    """Vertical position of unit i of layer l: each layer centred on 0."""
    return (sizes[l] - 1) / 2 - i


def _network_edges(ax: Any, net: Any) -> None:
    """Every weight as a line: red >= 0, blue < 0, width by |w| relative to its layer's max."""
    import numpy as np
    from matplotlib.collections import LineCollection

    sizes, r = list(net.sizes), _UNIT_RADIUS
    for l in range(1, net.L + 1):
        W = np.asarray(_host(net.W[l]))
        scale = float(np.max(np.abs(W))) or 1.0
        segments, colours, widths = [], [], []
        for i in range(sizes[l]):
            for j in range(sizes[l - 1]):
                segments.append(
                    [(l - 1 + r, _unit_y(sizes, l - 1, j)), (l - r, _unit_y(sizes, l, i))]
                )
                colours.append("#b2182b" if W[i, j] >= 0 else "#2166ac")
                widths.append(0.4 + 3.6 * abs(W[i, j]) / scale)
        ax.add_collection(
            LineCollection(segments, colors=colours, linewidths=widths, alpha=0.75, zorder=1)
        )


def _network_units(ax: Any, net: Any, l: int, v: Any, sample: int | str) -> None:
    """Layer l's units as circles, coloured by column ``sample`` of ``v`` (or its mean)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.patches import Circle

    sizes = list(net.sizes)
    column = None
    if v is not None:
        column = v.mean(axis=1) if sample == "mean" else v[:, int(sample)]
        scale = float(max(abs(column))) or 1.0
        norm = Normalize(-scale, scale)
    cmap = plt.get_cmap("RdBu_r")
    for i in range(sizes[l]):
        y = _unit_y(sizes, l, i)
        face = "white" if column is None else cmap(norm(column[i]))
        ax.add_patch(Circle((l, y), _UNIT_RADIUS, facecolor=face, edgecolor="0.2", zorder=2))
        if column is not None:
            dark = abs(column[i]) / scale > 0.6
            colour = "white" if dark else "black"
            text = f"{column[i] + 0.0:.2g}"
            ax.text(l, y, text, ha="center", va="center", fontsize=7, color=colour, zorder=3)


def _host(x: Any) -> Any:
    from ._array import to_numpy

    return to_numpy(x)


def plot_deltas(
    net: Any,
    X: Any,
    Y: Any,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    format: str | None = None,
    dpi: float = 120,
    size: tuple[float, float] | None = None,
) -> Any:
    """:math:`\\delta^{[l]}` of every layer as a heatmap: units down, samples across.

    One panel per layer l = 1..L, each on its own symmetric diverging scale (blue < 0, red
    > 0, white 0), so a layer whose errors have vanished (or dead ReLU units: rows of 0) shows
    at a glance; each panel's title gives its largest |δ|.

    Parameters
    ----------
    net : Network
    X : array of shape (n_0, m)
    Y : array of shape (n_L, m)
    path : str or Path, optional
        Without it the Figure is returned.
    title, format, dpi, size
        As for every plot here.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if path is not None:
        _format(Path(path), format)
    deltas = _unit_values(net, X, Y, "delta")[1:]
    L = net.L
    m = deltas[0].shape[1]
    if size is None:
        size = (min(16.0, 2.0 + 2.2 * L), 3.2 + 0.12 * max(net.sizes[1:]))
    fig, axes = plt.subplots(1, L, figsize=size, squeeze=False)
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.14, top=0.80, wspace=0.45)
    for l, (ax, D) in enumerate(zip(axes[0], deltas), 1):
        vmax = float(np.max(np.abs(D))) or 1.0
        im = ax.imshow(
            D, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest"
        )
        ax.set_title(f"δ[{l}]  ({D.shape[0]}×{m})\nmax |δ| = {vmax:.2g}", fontsize=9)
        ax.set_xlabel("sample", fontsize=8)
        if l == 1:
            ax.set_ylabel("unit", fontsize=8)
        for axis, n in ((ax.xaxis, m), (ax.yaxis, D.shape[0])):  # integer ticks, counted from 1
            ticks = list(range(0, n, max(1, -(-n // 8))))
            axis.set_ticks(ticks, [str(t + 1) for t in ticks])
        ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=ax, fraction=0.08, pad=0.04).ax.tick_params(labelsize=6)
    fig.suptitle(title or "Errors δ[l] = ∂J/∂Z[l] per layer (equation (ii), then (i))", fontsize=10)
    if path is None:
        return fig
    return _save(fig, path, format, dpi)

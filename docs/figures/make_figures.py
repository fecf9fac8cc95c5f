"""Draw the figures of docs/derivation.md: the layered network and the three small graphs.

Run from the repository root (matplotlib only; the output is deterministic for one matplotlib
version):

    python docs/figures/make_figures.py            # writes docs/figures/*.svg
    python docs/figures/make_figures.py OUT_DIR    # somewhere else

* ``network.svg`` — the 2-2-2-1 network of the worked example (derivation.md, 3.3): layers
  0..L in deltaprop's numbering (and the exercise's, one higher), the weights W^[l] between
  them, the forward pass and the error signals coming back.
* ``graphs.svg`` — the chain x_k = f(x_{k-1}) (1 path), two chains from w added at the end
  (2 paths at any depth) and the fan-out x_k = x_{k-1} · x_{k-1} (2^n paths), at depth 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch

HERE = Path(__file__).resolve().parent
BLUE, ORANGE, GREY, INK = "#1f5fa8", "#c4561d", "#8a8a8a", "#222222"
R = 0.31  # node radius


def _setup() -> None:
    plt.rcParams.update(
        {
            "svg.fonttype": "path",  # glyphs as paths: the same in every viewer, no fonts needed
            "svg.hashsalt": "deltaprop",  # stable ids, so the files only change with the drawing
            "font.size": 11,
            "mathtext.fontset": "dejavusans",
        }
    )


def _node(ax, xy, label, color=BLUE, fill="white"):
    ax.add_patch(Circle(xy, R, facecolor=fill, edgecolor=color, linewidth=1.6, zorder=3))
    ax.text(*xy, label, ha="center", va="center", zorder=4, color=INK)


def _edge(ax, a, b, color=GREY, rad=0.0, width=1.0, head=9):
    ax.add_patch(
        FancyArrowPatch(
            a,
            b,
            arrowstyle="-|>",
            mutation_scale=head,
            shrinkA=R * 72 * 0.9,
            shrinkB=R * 72 * 0.9,
            connectionstyle=f"arc3,rad={rad}",
            color=color,
            linewidth=width,
            zorder=2,
        )
    )


def _save(fig, path: Path) -> None:
    fig.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)


def network(path: Path) -> None:
    """The 2-2-2-1 network, layers left to right."""
    sizes = [2, 2, 2, 1]
    labels = [
        [r"$x_1$", r"$x_2$"],
        [r"$a^{[1]}_1$", r"$a^{[1]}_2$"],
        [r"$a^{[2]}_1$", r"$a^{[2]}_2$"],
        [r"$\hat y$"],
    ]
    kinds = ["input", "ReLU", "ReLU", "identity"]
    dx = 2.6
    fig, ax = plt.subplots(figsize=(8.2, 4.0))
    pos = [[(l * dx, (n - 1) / 2 - j) for j in range(n)] for l, n in enumerate(sizes)]
    for l in range(1, len(sizes)):
        for a in pos[l - 1]:
            for b in pos[l]:
                _edge(ax, a, b)
        mid = ((l - 0.5) * dx, 0.84)
        ax.text(*mid, rf"$W^{{[{l}]}}$, $b^{{[{l}]}}$", ha="center", va="bottom", color=INK)
        ax.text(
            (l - 0.5) * dx,
            0.55,
            rf"$({sizes[l]}, {sizes[l - 1]})$",
            ha="center",
            va="bottom",
            color=GREY,
            fontsize=9,
        )
    for l, layer in enumerate(pos):
        for xy, label in zip(layer, labels[l]):
            _node(ax, xy, label, color=BLUE if l else INK)
        bottom = -0.5 - 0.55
        ax.text(
            l * dx,
            bottom,
            f"layer {l}" + (" = L" if l == 3 else ""),
            ha="center",
            va="top",
            color=INK,
        )
        ax.text(l * dx, bottom - 0.3, kinds[l], ha="center", va="top", color=GREY, fontsize=9)
        ax.text(
            l * dx,
            bottom - 0.58,
            f"exercise: layer {l + 1}",
            ha="center",
            va="top",
            color=GREY,
            fontsize=9,
        )
        name = r"$A^{[0]} = X$" if l == 0 else rf"$Z^{{[{l}]}}, A^{{[{l}]}}$"
        ax.text(l * dx, 1.35, name, ha="center", va="bottom", color=INK)
    y_f, y_b = -2.35, -2.85
    ax.add_patch(
        FancyArrowPatch(
            (-0.2, y_f),
            (3 * dx + 0.2, y_f),
            arrowstyle="-|>",
            mutation_scale=14,
            color=BLUE,
            linewidth=1.6,
        )
    )
    ax.text(
        1.5 * dx,
        y_f + 0.08,
        r"forward: $Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}$,  $A^{[l]} = g^{[l]}(Z^{[l]})$",
        ha="center",
        va="bottom",
        color=BLUE,
    )
    ax.add_patch(
        FancyArrowPatch(
            (3 * dx + 0.2, y_b),
            (-0.2, y_b),
            arrowstyle="-|>",
            mutation_scale=14,
            color=ORANGE,
            linewidth=1.6,
        )
    )
    ax.text(
        1.5 * dx,
        y_b - 0.1,
        r"backward: $\delta^{[L]}$ by (ii), then "
        r"$\delta^{[l]} = {g^{[l]}}'(Z^{[l]}) \odot W^{[l+1]\top} \delta^{[l+1]}$ by (i)",
        ha="center",
        va="top",
        color=ORANGE,
    )
    ax.set_xlim(-0.7, 3 * dx + 0.7)
    ax.set_ylim(-3.4, 1.9)
    ax.set_aspect("equal")
    ax.axis("off")
    _save(fig, path)


def graphs(path: Path) -> None:
    """Chain, two chains, fan-out; depth 3, w at the bottom."""
    fig, axes = plt.subplots(1, 3, figsize=(8.2, 4.3))
    dy = 1.15
    # the chain
    ax = axes[0]
    pts = [(0, k * dy) for k in range(4)]
    for a, b in itertools.pairwise(pts):
        _edge(ax, a, b, color=INK, width=1.3)
    for k, xy in enumerate(pts):
        _node(ax, xy, "$w$" if k == 0 else f"$x_{k}$")
    ax.set_title("chain: $x_k = f(x_{k-1})$\n1 path", fontsize=10)
    # two chains added
    ax = axes[1]
    w, z = (0, 0), (0, 4 * dy)
    left = [(-0.8, k * dy) for k in range(1, 4)]
    right = [(0.8, k * dy) for k in range(1, 4)]
    for chain in (left, right):
        _edge(ax, w, chain[0], color=INK, width=1.3)
        for a, b in itertools.pairwise(chain):
            _edge(ax, a, b, color=INK, width=1.3)
        _edge(ax, chain[-1], z, color=INK, width=1.3)
    _node(ax, w, "$w$")
    for k, xy in enumerate(left, 1):
        _node(ax, xy, f"$a_{k}$")
    for k, xy in enumerate(right, 1):
        _node(ax, xy, f"$c_{k}$")
    _node(ax, z, "$z$")
    ax.set_title("two chains, added: $z = a_n + c_n$\n2 paths at any depth", fontsize=10)
    # the fan-out
    ax = axes[2]
    pts = [(0, k * dy) for k in range(4)]
    for a, b in itertools.pairwise(pts):
        _edge(ax, a, b, color=INK, rad=0.45, width=1.3)
        _edge(ax, a, b, color=INK, rad=-0.45, width=1.3)
    for k, xy in enumerate(pts):
        _node(ax, xy, "$w$" if k == 0 else f"$x_{k}$")
        if k:
            ax.text(
                0.55, (k - 0.5) * dy, r"$\times 2$", ha="left", va="center", color=GREY, fontsize=9
            )
    ax.set_title(r"fan-out: $x_k = x_{k-1} \cdot x_{k-1}$" + "\n$2^3 = 8$ paths", fontsize=10)
    for ax in axes:
        ax.set_xlim(-1.4, 1.4)
        ax.set_ylim(-0.5, 4 * dy + 0.5)
        ax.set_aspect("equal")
        ax.axis("off")
    _save(fig, path)


def main(out: Path = HERE) -> list[Path]:
    _setup()
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "network.svg", out / "graphs.svg"]
    network(paths[0])
    graphs(paths[1])
    return paths


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"wrote {p}")

"""Drawings from Python: the network, δ per layer, computational graphs; formats and dpi.

Values drawn are compared with independent references: δ from torch autodiff (float64), grad
table entries worked by hand and by central differences.
"""

import math
import xml.etree.ElementTree as ET

import matplotlib.image
import numpy as np
import pytest

import deltaprop as dp
from deltaprop.graph import Var
from deltaprop.graph.draw import grad_table, to_dot, to_svg
from deltaprop.plots import plot_deltas, plot_gradients, plot_loss, plot_network

MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}


def _net_batch():
    net = dp.Network([3, 4, 2], seed=1)
    rng = np.random.default_rng(2)
    return net, rng.normal(size=(3, 5)), rng.normal(size=(2, 5))


def _torch_deltas(net, X, Y):
    torch = pytest.importorskip("torch")
    A, Zs = torch.tensor(X), []
    for l in range(1, net.L + 1):
        Z = torch.tensor(net.W[l], requires_grad=True) @ A + torch.tensor(net.b[l])
        Z.retain_grad()
        Zs.append(Z)
        A = torch.relu(Z) if l < net.L else Z
    (((A - torch.tensor(Y)) ** 2).sum() / X.shape[1]).backward()
    return [z.grad.numpy() for z in Zs]


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_plot_network_formats(tmp_path, fmt):
    net, X, Y = _net_batch()
    path = plot_network(net, X, Y, tmp_path / f"net.{fmt}", color_by="delta")
    assert path.read_bytes()[:5].startswith(MAGIC[fmt])


def test_plot_network_units_and_lines():
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle

    net, X, Y = _net_batch()
    fig = plot_network(net, X, Y, color_by="delta", sample=1)
    ax = fig.axes[0]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == sum(net.sizes)
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [len(c.get_segments()) for c in lines] == [12, 8]
    # widths grow with |w| and colours follow the sign, layer 2
    W2 = net.W[2].ravel()
    widths = lines[1].get_linewidths()
    assert np.argmax(widths) == np.argmax(np.abs(W2))
    reds = [
        tuple(c[:3]) == pytest.approx((0xB2 / 255, 0x18 / 255, 0x2B / 255))
        for c in lines[1].get_colors()
    ]
    assert reds == list(W2 >= 0)
    # units of layer 1 coloured by δ^[1] of sample 2, the δ torch gives
    delta1 = _torch_deltas(net, X, Y)[0][:, 1]
    cmap, scale = plt.get_cmap("RdBu_r"), np.max(np.abs(delta1))
    layer1 = circles[3:7]
    for c, d in zip(layer1, delta1):
        np.testing.assert_allclose(c.get_facecolor(), cmap((d / scale + 1) / 2), atol=1e-2)
    plt.close(fig)


def test_plot_deltas_shows_the_true_deltas(tmp_path):
    import matplotlib.pyplot as plt

    net, X, Y = _net_batch()
    fig = plot_deltas(net, X, Y)
    ref = _torch_deltas(net, X, Y)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == net.L
    for im, D in zip(images, ref):
        np.testing.assert_allclose(np.asarray(im.get_array()), D, rtol=1e-10, atol=1e-14)
        assert im.norm.vmin == -im.norm.vmax  # diverging, centred on 0
    plt.close(fig)
    assert plot_deltas(net, X, Y, tmp_path / "d.svg").read_bytes().startswith(MAGIC["svg"])


def test_training_plots_take_format_dpi_and_size(tmp_path):
    history = {"loss": [3.0, 2.0, 1.0], "val_loss": [], "best_epoch": 3}
    png = plot_loss(history, tmp_path / "loss.png", dpi=200)
    assert matplotlib.image.imread(png).shape[:2] == (900, 1400)  # 4.5 × 7 inches at 200 dpi
    png = plot_loss(history, tmp_path / "small.png", dpi=100, size=(4, 3))
    assert matplotlib.image.imread(png).shape[:2] == (300, 400)
    grads = {"grad_norm": [[1.0, 0.5], [0.8, 0.4]], "dead_fraction": [[0.1], [0.2]]}
    for fmt in ("svg", "pdf"):
        out = plot_gradients(grads, tmp_path / f"g.{fmt}")
        assert out.read_bytes().startswith(MAGIC[fmt])
    out = plot_loss(history, tmp_path / "loss.dat", format="svg")
    assert out.read_bytes().startswith(MAGIC["svg"])
    with pytest.raises(ValueError, match="format"):
        plot_loss(history, tmp_path / "loss.jpg")
    with pytest.raises(ValueError, match="dpi"):
        plot_loss(history, tmp_path / "loss.png", dpi=0)


def test_grad_table_hand_worked_and_central_differences():
    w = Var(1.5, name="w")
    x = w * w
    x.name = "x"
    z = x * x
    rows = {n.name: (value, g) for n, value, g in grad_table(z)}
    # z = x², x = w²: ∂z/∂x = 2x = 4.5, ∂z/∂w = 4w³ = 13.5, ∂z/∂z = 1
    assert rows["w"] == (1.5, 13.5) and rows["x"] == (2.25, 4.5) and rows[""] == (5.0625, 1.0)

    def z_of(wv):
        return (wv * wv) ** 2

    h = 1e-6
    assert rows["w"][1] == pytest.approx((z_of(1.5 + h) - z_of(1.5 - h)) / (2 * h), rel=1e-8)


def test_dot_and_svg_have_every_node_and_edge(tmp_path):
    a, b = Var(0.5, name="a"), Var(-2.0, name="b")
    c = a * b
    d = c.tanh() + c * a
    table = grad_table(d)
    n_edges = sum(len(v.inputs) for v, _, _ in table)
    dot = to_dot(d)
    assert dot.count("->") == n_edges and dot.count("[label=") == len(table) + n_edges
    assert "∂z/∂v" in dot
    svg = to_svg(d)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}g")) == len(table)
    assert len(root.findall(f"{ns}path")) == n_edges
    # ∂d/∂a = (1 − tanh²(ab)) b + 2ab (d = tanh(ab) + a²b), shown in a's box
    expected = (1 - math.tanh(-1.0) ** 2) * -2.0 + 2 * 0.5 * -2.0
    assert dict((n.name, g) for n, _, g in table)["a"] == pytest.approx(expected, rel=1e-14)
    assert f"{expected:.4g}".replace("-", "−") in svg
    path = to_svg(d, tmp_path / "g.svg")
    ET.parse(path)


def test_graph_too_large_to_draw():
    from deltaprop.graph.families import get_family

    z, _ = get_family("chain").build(500)
    with pytest.raises(ValueError, match="drawings stop"):
        to_svg(z)


@pytest.mark.parametrize("family", ["fanout", "chain"])
def test_blowup_inset_hides_no_curve(family):
    import matplotlib.pyplot as plt

    from deltaprop.graph.families import get_family
    from deltaprop.plots import _blowup_inset

    fam = get_family(family)
    depth = list(range(1, 31 if family == "fanout" else 101))
    rows = [{"backprop_ops": fam.cost(n, "backprop").total} for n in depth]
    fig, ax = plt.subplots()
    for method in ("backprop", "naive", "paths"):
        ax.plot(depth, [fam.cost(n, method).total for n in depth], "o-")
    ax.set_yscale("log")
    _blowup_inset(ax, depth, rows)
    (inset,) = [c for c in ax.child_axes]
    fig.canvas.draw()
    ip, ap = inset.get_position(), ax.get_position()
    x0, y0 = (ip.x0 - ap.x0) / ap.width, (ip.y0 - ap.y0) / ap.height
    w, h = ip.width / ap.width, ip.height / ap.height
    to_axes = ax.transData + ax.transAxes.inverted()
    for line in ax.get_lines():
        pts = to_axes.transform(np.column_stack(line.get_data()))
        inside = (pts[:, 0] > x0) & (pts[:, 0] < x0 + w) & (pts[:, 1] > y0) & (pts[:, 1] < y0 + h)
        assert not inside.any(), (family, line)
    plt.close(fig)

"""deltaprop.explain: every number of one pass equals an independent reference.

References: PyTorch autodiff in float64 on the same weights (δ^[l] as the gradient of J with
respect to Z^[l]), central differences, and the hand-worked 2-2-1 example of
tests/test_network.py::test_hand_worked_2_2_1.
"""

import io
import json

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.explain import equation_text, exercise_network, explain, render

torch = pytest.importorskip("torch")


def _torch_reference(ex):
    """Z, A, δ, dW, db, J by torch autodiff (float64) on the explanation's weights and batch."""
    net = ex.net
    acts = {
        "relu": torch.relu,
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softmax": lambda z: torch.softmax(z, dim=0),
    }
    W = [torch.tensor(np.asarray(net.W[l]), requires_grad=True) for l in range(1, net.L + 1)]
    b = [torch.tensor(np.asarray(net.b[l]), requires_grad=True) for l in range(1, net.L + 1)]
    A = torch.tensor(ex.X)
    Y = torch.tensor(ex.Y)
    Zs, As = [], [A]
    for l in range(net.L):
        Z = W[l] @ A + b[l]
        Z.retain_grad()
        A = acts[net.g[l + 1].name](Z)
        Zs.append(Z)
        As.append(A)
    m = ex.X.shape[1]
    if net.loss.name == "mse":
        J = ((A - Y) ** 2).sum() / m
    elif net.loss.name == "cross_entropy":
        J = -(Y * torch.log(A)).sum() / m
    else:
        J = -(Y * torch.log(A) + (1 - Y) * torch.log(1 - A)).sum() / m
    J.backward()
    return {
        "J": J.item(),
        "Z": [z.detach().numpy() for z in Zs],
        "A": [a.detach().numpy() for a in As],
        "delta": [z.grad.numpy() for z in Zs],
        "dW": [w.grad.numpy() for w in W],
        "db": [v.grad.numpy() for v in b],
    }


CASES = [
    {},  # the exercise's network: 2-3-2-1, ReLU, identity, MSE, m = 3
    {"sizes": (3, 4, 2), "hidden": "tanh", "output": "sigmoid", "m": 5, "seed": 3},
    {"sizes": (2, 5, 3), "output": "softmax", "loss": "cross_entropy", "m": 4, "seed": 1},
    {"sizes": (4, 3, 3, 2), "output": "sigmoid", "loss": "binary_cross_entropy", "seed": 7},
]


@pytest.mark.parametrize("kwargs", CASES)
def test_numbers_equal_torch_autodiff(kwargs):
    ex = explain(**kwargs)
    ref = _torch_reference(ex)
    assert pytest.approx(ref["J"], rel=1e-13) == ex.J
    for l in range(1, ex.L + 1):
        np.testing.assert_allclose(ex.Z[l], ref["Z"][l - 1], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ex.A[l], ref["A"][l], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ex.delta[l], ref["delta"][l - 1], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ex.dW[l], ref["dW"][l - 1], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ex.db[l], ref["db"][l - 1], rtol=1e-10, atol=1e-14)
    assert ex.check["ok"], ex.check["max_rel_error"]


def test_json_equals_the_librarys_forward_pass_and_backward():
    ex = explain(seed=4, m=2)
    d = json.loads(json.dumps(ex.to_dict()))
    net = dp.Network([2, 3, 2, 1])
    for l in (1, 2, 3):
        net.W[l] = np.array(d["W"][str(l)])
        net.b[l] = np.array(d["b"][str(l)])
    X, Y = np.array(d["X"]), np.array(d["Y"])
    Z, A = net.forward_pass(X)
    delta, dW, db = net.backward(Z, A, Y)
    delta = list(delta)[-3:]  # a list with None at 0, or Layers 1..L
    for l in (1, 2, 3):
        np.testing.assert_array_equal(d["Z"][str(l)], Z[l])
        np.testing.assert_array_equal(d["A"][str(l)], A[l])
        np.testing.assert_array_equal(d["delta"][str(l)], delta[l - 1])
        np.testing.assert_array_equal(d["dW"][str(l)], dW[l])
        np.testing.assert_array_equal(d["db"][str(l)], db[l])
    assert d["A"]["0"] == d["X"]
    assert d["J"] == net.cost(X, Y)


def test_check_is_central_differences():
    ex = explain()
    net, X, Y = ex.net, ex.X, ex.Y
    eps = 1e-5
    W = net.W[2].copy()
    for i, j in np.ndindex(W.shape):
        plus, minus = net.copy(), net.copy()
        plus.W[2] = W + eps * (np.arange(W.size).reshape(W.shape) == i * W.shape[1] + j)
        minus.W[2] = W - eps * (np.arange(W.size).reshape(W.shape) == i * W.shape[1] + j)
        numeric = (plus.cost(X, Y) - minus.cost(X, Y)) / (2 * eps)
        assert ex.check["dW"][2][i, j] == pytest.approx(numeric, rel=1e-12, abs=1e-15)
        assert ex.dW[2][i, j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_steps_in_lecture_order_with_the_transpose_visible():
    ex = explain(sizes=(2, 3, 2, 2, 1))
    ids = [s["id"] for s in ex.steps()]
    assert ids == [
        "forward-1",
        "forward-2",
        "forward-3",
        "forward-4",
        "cost",
        "output-delta",
        "hidden-delta-3",
        "hidden-delta-2",
        "hidden-delta-1",
        "gradients-4",
        "gradients-3",
        "gradients-2",
        "gradients-1",
        "check",
    ]
    step = next(s for s in ex.steps() if s["id"] == "hidden-delta-1")
    assert equation_text(step["equation"]) == "δ^[1] = g^[1]'(Z^[1]) ⊙ (W^[2]ᵀ δ^[2])"
    mats = {
        i["matrix"]["id"]: i["matrix"] for line in step["numbers"] for i in line if "matrix" in i
    }
    np.testing.assert_array_equal(mats["W2T"]["values"], ex.net.W[2].T)
    # the factors shown multiply out to the result
    np.testing.assert_allclose(
        np.array(mats["gprime1"]["values"]) * np.array(mats["WT_delta1"]["values"]),
        mats["delta1"]["values"],
        rtol=1e-15,
    )
    grads = next(s for s in ex.steps() if s["id"] == "gradients-2")
    assert equation_text(grads["equation"]) == "∂J/∂W^[2] = δ^[2] A^[1]ᵀ , ∂J/∂b^[2] = δ^[2] 1_m"


def test_exercise_numbering_relabels_without_changing_numbers():
    ours, theirs = explain(), explain(numbering="exercise")
    d, e = ours.to_dict(), theirs.to_dict()
    assert sorted(e["W"]) == ["2", "3", "4"] and sorted(e["A"]) == ["1", "2", "3", "4"]
    assert e["A"]["1"] == d["X"]
    for l in (1, 2, 3):
        assert e["W"][str(l + 1)] == d["W"][str(l)]
        assert e["delta"][str(l + 1)] == d["delta"][str(l)]
    step = next(s for s in theirs.steps() if s["id"] == "hidden-delta-1")
    assert equation_text(step["equation"]) == "δ^[2] = g^[2]'(Z^[2]) ⊙ (W^[3]ᵀ δ^[3])"


def test_hand_worked_2_2_1_numbers():
    # tests/test_network.py::test_hand_worked_2_2_1, worked by hand there
    net = dp.Network([2, 2, 1])
    net.W[1] = np.array([[1.0, -1.0], [0.5, 2.0]])
    net.b[1] = np.array([[0.0], [-1.0]])
    net.W[2] = np.array([[2.0, -3.0]])
    net.b[2] = np.array([[0.5]])
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    Y = np.array([[1.0, 0.0]])
    ex = explain(net, X, Y)
    assert ex.J == 165.625
    np.testing.assert_array_equal(ex.Z[1], [[-2.0, 3.0], [5.5, -2.0]])
    np.testing.assert_array_equal(ex.delta[2], [[-17.0, 6.5]])
    np.testing.assert_array_equal(ex.delta[1], [[0.0, 13.0], [51.0, 0.0]])
    np.testing.assert_array_equal(ex.dW[1], [[26.0, -13.0], [51.0, 153.0]])
    np.testing.assert_array_equal(ex.db[1], [[13.0], [51.0]])


def test_mistakes_each_verified_independently():
    ex = explain(mistakes=True)
    slips = {s["slip"]: s for s in ex.mistakes}
    assert set(slips) == {"relu_prime_one", "missing_transpose", "bias_unsummed"}

    # ReLU' = 1: torch autodiff through a "straight-through" ReLU (derivative 1 everywhere)
    W = [torch.tensor(np.asarray(ex.net.W[l]), requires_grad=True) for l in (1, 2, 3)]
    b = [torch.tensor(np.asarray(ex.net.b[l]), requires_grad=True) for l in (1, 2, 3)]
    A = torch.tensor(ex.X)
    for l in range(3):
        Z = W[l] @ A + b[l]
        A = Z + (torch.relu(Z) - Z).detach() if l < 2 else Z
    (((A - torch.tensor(ex.Y)) ** 2).sum() / ex.m).backward()
    by_name = {r["name"]: r for r in slips["relu_prime_one"]["results"]}
    for l in (1, 2, 3):
        np.testing.assert_allclose(
            by_name[f"dJ/dW^[{l}]"]["wrong"], W[l - 1].grad.numpy(), rtol=1e-12
        )
        np.testing.assert_allclose(
            by_name[f"dJ/db^[{l}]"]["wrong"], b[l - 1].grad.numpy(), rtol=1e-12
        )
    assert by_name["dJ/dW^[3]"]["entries_differ"] == 0  # the output layer is untouched
    assert by_name["dJ/dW^[1]"]["entries_differ"] > 0

    # missing transpose: δ^[2] A^[1] is defined here (m = n_1 = 3) and silently wrong
    rows = {r["name"].split(" =")[0]: r for r in slips["missing_transpose"]["results"]}
    d2, a1 = np.asarray(ex.delta[2]), np.asarray(ex.A[1])
    wrong = np.einsum("ik,kj->ij", d2, a1)
    np.testing.assert_allclose(rows["dJ/dW^[2]"]["wrong"], wrong, rtol=1e-14)
    true = np.einsum("ik,jk->ij", d2, a1)
    assert rows["dJ/dW^[2]"]["max_abs_error"] == pytest.approx(np.max(np.abs(wrong - true)))
    assert "undefined" in rows["dJ/dW^[3]"]["error"]  # (1×3)(2×3)

    # the unsummed bias gradient: one column per sample; the truth is their sum
    for r in slips["bias_unsummed"]["results"]:
        l = int(r["layer"])
        assert r["shape"] == [ex.net.sizes[l], ex.m] and r["true_shape"] == [ex.net.sizes[l], 1]
        np.testing.assert_allclose(np.sum(r["wrong"], axis=1, keepdims=True), r["true"], rtol=1e-14)


def test_terminal_rendering_escapes_names():
    ex = explain(
        X=np.array([[1.0, 2.0], [0.5, -1.0]]),
        Y=np.array([[0.3, 0.1]]),
        sizes=(2, 3, 1),
        feature_names=["[bold]x", "y[/]"],
        target_names=["[red]t"],
        mistakes=True,
    )
    from rich.console import Console

    out = io.StringIO()
    render(ex, Console(file=out, width=120, color_system=None))
    text = out.getvalue()
    assert "[bold]x" in text and "y[/]" in text and "[red]t" in text
    assert "Equation (i)" in text and "W^[2]ᵀ" in text and "central differences" in text


def test_exercise_network_is_seeded_and_avoids_the_kink():
    n1, X1, Y1 = exercise_network(seed=5)
    n2, X2, Y2 = exercise_network(seed=5)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(n1.W[1], n2.W[1])
    Z, _ = n1.forward_pass(X1)
    assert all(np.min(np.abs(Z[l])) > 0.01 for l in (1, 2, 3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="numbering"):
        explain(numbering="nielsen")
    with pytest.raises(ValueError, match="together"):
        explain(X=np.ones((2, 3)))
    with pytest.raises(ValueError, match="batch size"):
        explain(m=0)


def test_layers_repr_shows_values_with_layer_numbers():
    net = dp.Network([2, 2, 1])
    net.W[1] = np.array([[1.0, -1.0], [0.5, 2.0]])
    text = repr(net.W)
    assert text.startswith("Layers(W[1..2]:")
    assert "W[1] (2, 2) =" in text and "W[2] (1, 2) =" in text
    assert "[[ 1.  -1. ]" in text
    assert "g[1] = Activation('relu')" in repr(net.g)


def test_docstring_examples():
    import doctest

    import deltaprop.explain
    import deltaprop.formula
    import deltaprop.web.explain_page
    import deltaprop.web.mathml

    for module in (
        deltaprop.explain,
        deltaprop.formula,
        deltaprop.web.mathml,
        deltaprop.web.explain_page,
    ):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_only_small_networks_are_explained():
    with pytest.raises(ValueError, match="at most 64 units"):
        explain(sizes=(2, 100, 1))
    with pytest.raises(ValueError, match="64 samples"):
        explain(m=65)

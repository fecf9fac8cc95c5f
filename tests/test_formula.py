"""deltaprop.formula: the checker accepts the true formulas and refutes each slip with a
counterexample that these tests verify independently (central differences, torch autodiff in
float64, and the wrong formula re-evaluated here by hand in NumPy)."""

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.formula import EXAMPLES, FormulaError, check_formula, evaluate_formula

RIGHT = [
    ("g_prime(Z[l]) * (W[l+1].T @ delta[l+1])", "delta", "hidden"),
    ("(Z[l] > 0) * (W[l+1].T @ delta[l+1])", "delta", "hidden"),  # ReLU' as the step
    ("J_prime(A[L], Y) * g_prime(Z[L])", "delta", "output"),
    ("2 / m * (A[L] - Y)", "delta", "output"),  # identity + MSE
    ("delta[l] @ A[l-1].T", "dW", "all"),
    ("np.matmul(delta[l], transpose(A[l-1]))", "dW", "all"),
    ("delta[l] @ ones(m, 1)", "db", "all"),
    ("delta[l].sum(axis=1, keepdims=True)", "db", "all"),
    ("np.sum(delta[l], axis=1, keepdims=True)", "db", "all"),
]


@pytest.mark.parametrize("expression,target,layers", RIGHT)
def test_true_formulas_are_correct(expression, target, layers):
    r = check_formula(expression, target, layers=layers)
    assert r.correct, str(r)
    assert r.n_networks > 100
    assert str(r).startswith("correct")


def test_tanh_network_formula():
    r = check_formula("(1 - g(Z[l]) ** 2) * (W[l+1].T @ delta[l+1])", "delta", hidden="tanh")
    assert r.correct, str(r)


def _rebuild(c):
    net = dp.Network(c["sizes"], hidden=c["hidden"], output=c["output"], loss=c["loss"])
    for k in range(1, net.L + 1):
        net.W[k] = np.array(c["W"][str(k)])
        net.b[k] = np.array(c["b"][str(k)])
    return net, np.array(c["X"]), np.array(c["Y"])


def _central(net, X, Y, P, l, eps=1e-6):
    """∂J/∂P[l] by central differences of net.cost alone."""
    out = np.zeros_like(P[l])
    for idx in np.ndindex(out.shape):
        e = np.zeros_like(P[l])
        e[idx] = eps
        saved = P[l].copy()
        P[l] = saved + e
        plus = net.cost(X, Y)
        P[l] = saved - e
        minus = net.cost(X, Y)
        P[l] = saved
        out[idx] = (plus - minus) / (2 * eps)
    return out


def _torch_deltas(net, X, Y):
    torch = pytest.importorskip("torch")
    A = torch.tensor(X)
    Zs = []
    for k in range(1, net.L + 1):
        W = torch.tensor(np.asarray(net.W[k]), requires_grad=True)
        Z = W @ A + torch.tensor(np.asarray(net.b[k]))
        Z.retain_grad()
        Zs.append(Z)
        A = torch.relu(Z) if k < net.L else Z
    (((A - torch.tensor(Y)) ** 2).sum() / X.shape[1]).backward()
    return [None] + [z.grad.numpy() for z in Zs], Zs


def test_slip_relu_prime_one_counterexample_verified():
    expression, target, layers = EXAMPLES["slip: ReLU' = 1"]
    r = check_formula(expression, target, layers=layers)
    assert not r.correct
    c = r.counterexample
    net, X, Y = _rebuild(c)
    deltas, Zs = _torch_deltas(net, X, Y)
    l = c["layer"]
    np.testing.assert_allclose(c["true"], deltas[l], rtol=1e-12, atol=1e-15)
    wrong = np.asarray(net.W[l + 1]).T @ deltas[l + 1]  # the slip, by hand
    np.testing.assert_allclose(c["got"], wrong, rtol=1e-12)
    for (i, j), got, true in c["entries"]:
        assert got == pytest.approx(wrong[i, j]) and true == pytest.approx(
            deltas[l][i, j], abs=1e-15
        )
        assert abs(got - true) > 1e-6
        assert Zs[l - 1].detach().numpy()[i, j] < 0  # exactly where the unit is off
    assert "entry (" in str(r)


def test_slip_missing_transpose_counterexample_verified():
    r = check_formula(*EXAMPLES["slip: missing transpose"][:2])
    c = r.counterexample
    net, X, Y = _rebuild(c)
    l = c["layer"]
    np.testing.assert_allclose(c["true"], _central(net, X, Y, net.W, l), rtol=1e-6, atol=1e-9)
    shapes = (net.sizes[l], X.shape[1]), (net.sizes[l - 1], X.shape[1])
    assert shapes[0][1] != shapes[1][0]  # δ^[l] A^[l-1] is undefined on this network
    assert "undefined" in c["error"] and "@" in c["error"]


def test_missing_transpose_defined_but_wrong_on_a_square_network():
    # where the shapes happen to fit (n_l = n_{l-1} = m), the slip is computed and wrong
    from deltaprop.formula import formula_names

    net = dp.Network([2, 2, 2], hidden="tanh", seed=3)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    names = formula_names(net, X, Y, 2)
    got = evaluate_formula("delta[l] @ A[l-1]", names)
    _, dW, _ = net.gradients(X, Y)
    assert got.shape == dW[2].shape
    assert not np.allclose(got, dW[2])
    np.testing.assert_allclose(dW[2], _central(net, X, Y, net.W, 2), rtol=1e-6)


def test_slip_unsummed_bias_counterexample_verified():
    r = check_formula(*EXAMPLES["slip: unsummed bias gradient"][:2])
    c = r.counterexample
    net, X, Y = _rebuild(c)
    l = c["layer"]
    true = _central(net, X, Y, net.b, l)
    np.testing.assert_allclose(c["true"], true, rtol=1e-6, atol=1e-9)
    assert c["got_shape"] == [net.sizes[l], X.shape[1]] and c["expected_shape"] == [net.sizes[l], 1]
    np.testing.assert_allclose(np.sum(c["got"], axis=1, keepdims=True), true, rtol=1e-6, atol=1e-9)


def test_slip_next_layers_delta_needs_a_layer_that_does_not_exist():
    r = check_formula(*EXAMPLES["slip: the next layer's delta"][:2])
    assert not r.correct and "does not exist" in r.counterexample["error"]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "W.__class__",
        "delta[l].__array__()",
        "(lambda: 1)()",
        "[x for x in W]",
        "'text'",
        "print(1)",
        "eval('1')",
        "np.load('x')",
        "delta[l].tofile('x')",
        "x := 1",
        "9 ** 9 ** 9",
        "ones(10**6, 10**6)",
        "delta[l] if True else 0",
        "a" * 3000,
    ],
)
def test_refused(text):
    with pytest.raises(FormulaError):
        check_formula(text, "delta")


def test_unknown_name_lists_the_names():
    with pytest.raises(FormulaError, match="unknown name 'dZ'.*delta"):
        check_formula("dZ[l]", "delta")


def test_bad_target():
    with pytest.raises(ValueError, match="target"):
        check_formula("delta[l]", "dA")

"""Every number docs/derivation.md quotes, computed from the code and independently of it.

* The worked L = 3 example (section 3.3): ``Network.forward_pass``/``Network.backward``, plain
  fractions (the hand arithmetic, no NumPy) and central differences of J must all give the
  numbers the document prints; the test reads them from the document's aligned blocks.
* Task 3 (section 4): each closed form equals the count the code reports
  (``deltaprop.graph``) and the sum its two-line derivation writes down; the number of
  chain-rule paths is found by enumerating the paths one by one; the tables' numbers are read
  back from the document.
* The side remarks: ReLU's kink, PyTorch's ``MSELoss``, softmax's computable form, SymPy's
  operation counts and what ``sympy.cse`` stores.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.graph import OpCount, Var, gradients
from deltaprop.graph.backprop import between, forward_values, topological_order
from deltaprop.graph.families import MLP, Chain, Fanout, unroll_mlp

DOC = Path(__file__).resolve().parents[1] / "docs" / "derivation.md"


@pytest.fixture(scope="module")
def text():
    return DOC.read_text(encoding="utf-8")


def _section(text, heading):
    """The text from the heading that starts with ``heading`` to the next heading."""
    start = text.index("\n" + heading)
    end = re.search(r"\n#{1,6} ", text[start + 1 :])
    return text[start : start + 1 + end.start()] if end else text[start:]


# --- the worked example, section 3.3 ----------------------------------------------------------

X = [[1, 2], [-1, 1]]
Y = [[0, -1]]
W = {1: [[1, 1], [2, -1]], 2: [[-1, 1], [-2, 1]], 3: [[1, -2]]}
b = {1: [[-1], [-1]], 2: [[1], [0]], 3: [[0]]}


def _mat(rows):
    return [[Fraction(v) for v in row] for row in rows]


def _mul(P, Q):
    return [
        [sum(P[i][k] * Q[k][j] for k in range(len(Q))) for j in range(len(Q[0]))]
        for i in range(len(P))
    ]


def _T(P):
    return [list(col) for col in zip(*P)]


def _add_bias(P, c):
    return [[v + c[i][0] for v in row] for i, row in enumerate(P)]


def _map(f, P, Q=None):
    if Q is None:
        return [[f(v) for v in row] for row in P]
    return [[f(v, w) for v, w in zip(r, s)] for r, s in zip(P, Q)]


def _row_sums(P):
    return [[sum(row)] for row in P]


def by_hand():
    """Every quantity of the worked example, in exact fractions, by the formulas of 3.3."""
    m = len(X[0])
    Xf, Yf, Wf, bf = (
        _mat(X),
        _mat(Y),
        {l: _mat(v) for l, v in W.items()},
        {l: _mat(v) for l, v in b.items()},
    )
    q = {"X": Xf, "Y": Yf}
    for l in (1, 2, 3):
        q[f"W^{{[{l}]}}"], q[f"b^{{[{l}]}}"] = Wf[l], bf[l]
    A = {0: Xf}
    Z = {}
    for l in (1, 2, 3):
        Z[l] = _add_bias(_mul(Wf[l], A[l - 1]), bf[l])  # Z = W A + b 1ᵀ
        q[f"Z^{{[{l}]}}"] = Z[l]
        if l < 3:
            q[rf"\mathbf{{1}}[Z^{{[{l}]}} > 0]"] = _map(lambda v: Fraction(int(v > 0)), Z[l])
            A[l] = _map(lambda v: max(Fraction(0), v), Z[l])
            q[f"A^{{[{l}]}}"] = A[l]
        else:
            A[l] = Z[l]  # identity output
    E = _map(lambda a, y: a - y, A[3], Yf)
    q["J"] = Fraction(sum(e * e for row in E for e in row), m)
    delta = {3: _map(lambda e: Fraction(2, m) * e, E)}  # (ii) with identity and MSE
    for l in (3, 2, 1):
        if l < 3:
            back = _mul(_T(Wf[l + 1]), delta[l + 1])
            q[rf"W^{{[{l + 1}]\top}} \delta^{{[{l + 1}]}}"] = back
            delta[l] = _map(lambda s, v: s * v, q[rf"\mathbf{{1}}[Z^{{[{l}]}} > 0]"], back)  # (i)
        q[rf"\delta^{{[{l}]}}"] = delta[l]
        q[rf"\partial J / \partial W^{{[{l}]}}"] = _mul(delta[l], _T(A[l - 1]))
        q[rf"\partial J / \partial b^{{[{l}]}}"] = _row_sums(delta[l])
    return q


def _network():
    net = dp.Network([2, 2, 2, 1])
    for l in (1, 2, 3):
        net.W[l], net.b[l] = np.array(W[l], float), np.array(b[l], float)
    return net, np.array(X, float), np.array(Y, float)


def _parse_value(text):
    """A number or a ``\\begin{bmatrix} … \\end{bmatrix}`` as a list of rows of Fractions."""
    text = text.strip().rstrip("\\").strip().rstrip(",.").strip()
    if text.startswith(r"\begin{bmatrix}"):
        body = text[len(r"\begin{bmatrix}") : text.index(r"\end{bmatrix}")]
        return [[Fraction(v.strip()) for v in row.split("&")] for row in body.split(r"\\")]
    return Fraction(text)


def worked_example_in_the_document(text):
    """{label: value} from every ``label &= … = value`` line of the worked example."""
    section = _section(text, "### 3.3")
    section = section[section.index("**Worked example.**") :]
    found = {}
    for line in section.splitlines():
        if "&=" not in line:
            continue
        label, _, rhs = line.partition("&=")
        value = rhs.rsplit("= ", 1)[-1] if "= " in rhs else rhs
        found[label.strip()] = _parse_value(value)
    return found


def _as_rows(v):
    return v if isinstance(v, list) else [[v]]


def test_worked_example_L3(text):
    hand = by_hand()
    quoted = worked_example_in_the_document(text)
    # every parameter and every intermediate value is printed, and equals the hand arithmetic
    assert set(quoted) == set(hand), set(hand) ^ set(quoted)
    for label, value in hand.items():
        assert _as_rows(quoted[label]) == _as_rows(value), label
    # the network is the figure's and the section's: L = 3, no pre-activation at the kink
    net, Xn, Yn = _network()
    assert net.L == 3 and net.sizes == [2, 2, 2, 1]
    Z, A = net.forward_pass(Xn)
    delta, dW, db = net.backward(Z, A, Yn)
    for l in (1, 2, 3):
        np.testing.assert_array_equal(Z[l], np.array(hand[f"Z^{{[{l}]}}"], float))
        np.testing.assert_array_equal(delta[l], np.array(hand[rf"\delta^{{[{l}]}}"], float))
        np.testing.assert_array_equal(
            dW[l], np.array(hand[rf"\partial J / \partial W^{{[{l}]}}"], float)
        )
        np.testing.assert_array_equal(
            db[l], np.array(hand[rf"\partial J / \partial b^{{[{l}]}}"], float)
        )
        assert np.min(np.abs(Z[l])) >= 1  # far from ReLU's kink
    assert net.cost(Xn, Yn) == float(hand["J"]) == 2.5
    # central differences of J, forward passes only
    eps = 1e-6
    for P, name in ((net.W, "W"), (net.b, "b")):
        for l in (1, 2, 3):
            theta = P[l].copy()
            numeric = np.zeros_like(theta)
            for idx in np.ndindex(theta.shape):
                for sign in (1, -1):
                    moved = theta.copy()
                    moved[idx] += sign * eps
                    P[l] = moved
                    numeric[idx] += sign * net.cost(Xn, Yn) / (2 * eps)
                P[l] = theta
            label = rf"\partial J / \partial {name}^{{[{l}]}}"
            np.testing.assert_allclose(numeric, np.array(hand[label], float), atol=1e-7)


def test_worked_example_masks_stop_the_signal():
    # the sentence under the example: unit 1 of layer 1 off for sample 1, unit 2 of layer 2 off
    # for sample 2, and there δ is 0 although Wᵀδ is not
    q = by_hand()
    for l, (unit, sample) in ((1, (0, 0)), (2, (1, 1))):
        assert q[rf"\mathbf{{1}}[Z^{{[{l}]}} > 0]"][unit][sample] == 0
        assert q[rf"W^{{[{l + 1}]\top}} \delta^{{[{l + 1}]}}"][unit][sample] != 0
        assert q[rf"\delta^{{[{l}]}}"][unit][sample] == 0
    ones = [(l, i, j) for l in (1, 2) for i in range(2) for j in range(2)]
    assert sum(q[rf"\mathbf{{1}}[Z^{{[{l}]}} > 0]"][i][j] == 0 for l, i, j in ones) == 2


# --- Task 3: paths, by enumeration ------------------------------------------------------------


def enumerate_paths(output, w):
    """Every chain-rule path from ``w`` up to ``output``, walked one by one (an edge per input
    slot: ``x * x`` gives two)."""
    count = 0
    stack = [output]
    while stack:
        v = stack.pop()
        if v is w:
            count += 1
            continue
        stack.extend(v.inputs)
    return count


def two_chains(n, w0=0.5):
    """w feeding two chains of length n (tanh and sin), added at the end."""
    w = Var(w0, name="w")
    a = c = w
    for _ in range(n):
        a, c = a.tanh(), c.sin()
    return a + c, [w]


def test_paths_multiply_only_with_repeated_fan_out_and_re_merge():
    for n in range(1, 9):
        z, (w,) = Chain().build(n)
        assert enumerate_paths(z, w) == 1
        z, (w,) = Fanout().build(n)
        assert enumerate_paths(z, w) == 2**n == Fanout().n_paths(n)  # product of fan-outs 2·…·2
        z, (w,) = two_chains(n)
        assert enumerate_paths(z, w) == 2  # fan-out once, no repeated re-merge: 2 at any depth


@pytest.mark.parametrize(
    ("sizes", "m"), [([2, 2, 1], 1), ([1, 2, 3, 1], 2), ([2, 3, 2, 2, 1], 1), ([3, 1, 1, 1, 1], 2)]
)
def test_paths_of_a_first_layer_weight_are_the_product_of_the_widths(sizes, m):
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(sizes[l], sizes[l - 1])) for l in range(1, len(sizes))]
    bs = [rng.normal(size=(sizes[l], 1)) for l in range(1, len(sizes))]
    J, wrt = unroll_mlp(Ws, bs, rng.normal(size=(sizes[0], m)), rng.normal(size=(sizes[-1], m)))
    W1_00 = wrt[0]  # W^[1]_{1,1}
    assert enumerate_paths(J, W1_00) == m * int(np.prod(sizes[2:]))  # n_2 ⋯ n_L per sample


# --- Task 3: the four closed forms, from the code and from their derivation --------------------


def chain_by_derivation(n):
    # back-propagation: per node 1 evaluation, 1 local derivative, 1 product; no sums
    backprop = sum(1 + 1 + 1 for _ in range(1, n + 1))
    # naive: the same local derivatives and products, each after recomputing x_{k-1}: k − 1
    naive = sum((k - 1) + 1 + 1 for k in range(1, n + 1))
    return backprop, naive


def fanout_by_derivation(n):
    # per level: 1 evaluation, 2 local derivatives (x·x: two edges), 2 products, 1 sum
    backprop = sum(1 + 2 + 2 + 1 for _ in range(1, n + 1))
    # naive: x_k visited once per path (2^{n-k} times); a visit: 2 + 2 + 1 and two
    # recomputations of x_{k-1}, whose expression tree has 2^{k-1} − 1 inner nodes
    naive = sum(2 ** (n - k) * (5 + 2 * (2 ** (k - 1) - 1)) for k in range(1, n + 1))
    # path sum: n stored evaluations, the same visits without recomputation
    paths = n + sum(2 ** (n - k) * 5 for k in range(1, n + 1))
    return backprop, naive, paths


def _counted(family, n, method):
    z, wrt = family.build(n)
    return gradients(z, wrt, method=method)[1]


def test_closed_forms_two_ways():
    for n in range(1, 13):
        bp, nv = chain_by_derivation(n)
        assert bp == 3 * n == _counted(Chain(), n, "backprop") == Chain().cost(n, "backprop").total
        assert nv == n * (n - 1) // 2 + 2 * n == _counted(Chain(), n, "naive")
        assert nv - bp == n * (n - 3) // 2  # the naive rule wins below n = 3, ties at 3
        bp, nv, ps = fanout_by_derivation(n)
        assert bp == 6 * n == _counted(Fanout(), n, "backprop")
        assert nv == (n + 3) * 2**n - 3 == _counted(Fanout(), n, "naive")
        assert ps == 5 * 2**n + n - 5 == _counted(Fanout(), n, "paths")
    assert chain_by_derivation(3) == (9, 9)  # the book's example: a tie at 9


def _table(section, first_cell):
    """The rows of the markdown table in ``section`` whose header starts with ``first_cell``."""
    start = section.index("| " + first_cell)
    rows = section[start:].split("\n\n")[0].splitlines()
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows if not r.startswith("|---")]


def _number(cell):
    cell = cell.replace(" ", "").replace("$", "").replace("\\times", "x")
    if "x10^{" in cell:
        mant, exp = cell.split("x10^{")
        return float(mant) * 10 ** int(exp.rstrip("}"))
    return float(cell)


def test_the_cost_table_of_section_4_3(text):
    rows = _table(_section(text, "### 4.3"), "depth n")
    depths = [int(c) for c in rows[0][1:]]
    formulas = {
        "chain: back-propagation": lambda n: 3 * n,
        "chain: naive": lambda n: n * (n - 1) // 2 + 2 * n,
        "fan-out: back-propagation": lambda n: 6 * n,
        "fan-out: naive": lambda n: (n + 3) * 2**n - 3,
    }
    seen = set()
    for row in rows[1:]:
        name = next(k for k in formulas if row[0].startswith(k))
        seen.add(name)
        family = Chain() if name.startswith("chain") else Fanout()
        method = "backprop" if "back" in name else "naive"
        for n, cell in zip(depths, row[1:]):
            exact = formulas[name](n)
            assert exact == family.cost(n, method).total
            assert _number(cell) == pytest.approx(exact, rel=0.01 if "times" in cell else 0), (
                name,
                n,
            )
    assert seen == set(formulas)


def test_the_measured_table_of_section_4_5(text):
    rows = _table(_section(text, "### 4.5"), "depth n")
    assert len(rows) == 5
    f = Fanout()
    for row in rows[1:]:
        n = int(row[0])
        paths, bp, ps, nv, ratio = (_number(c) for c in row[1:])
        assert paths == f.n_paths(n) == 2**n
        assert (bp, ps, nv) == tuple(f.cost(n, m).total for m in ("backprop", "paths", "naive"))
        assert ratio == pytest.approx(nv / bp, rel=0.005)
    # "at depth 30 the naive rule needs 2 × 10^8 times the operations"
    assert round(f.cost(30, "naive").total / f.cost(30, "backprop").total, -7) == 2e8
    # and the chain at depth 100: 5 150 against 300
    assert (Chain().cost(100, "naive").total, Chain().cost(100, "backprop").total) == (5150, 300)
    assert "5 150 operations against 300" in text.replace("\n", " ")


def test_two_chains_counterexample(text):
    for n in (1, 5, 20):
        z, wrt = two_chains(n)
        counts = {m: gradients(z, wrt, method=m)[1] for m in ("backprop", "naive", "paths")}
        # back-propagation: 2n + 1 evaluations, 2n + 2 edges (local and product each), 1 sum
        assert counts["backprop"] == counts["paths"] == (2 * n + 1) + 2 * (2 * n + 2) + 1
        # naive: each chain recomputes 0 + 1 + … + (n − 1), the addition reads no values
        assert counts["naive"] == 2 * (n * (n - 1) // 2) + 2 * (2 * n + 2) + 1
    z, wrt = two_chains(20)
    assert [gradients(z, wrt, method=m)[1] for m in ("naive", "backprop", "paths")] == [
        465,
        126,
        126,
    ]
    flat = text.replace("\n  ", " ").replace("\n", " ")
    assert "the naive chain rule costs 465 operations and back-propagation 126" in flat


def forward_mode(output, wrt):
    """Forward-mode differentiation with stored values: one tangent sweep per variable.

    Counted like deltaprop.graph's methods (OpCount): the values once, then per variable a local
    derivative and a product per edge it reaches, and a sum where two terms meet.
    """
    order = topological_order(output)
    value, n_forward = forward_values(order)
    local = sums = 0
    grads = []
    for x in wrt:
        inside = between(order, [x])
        tangent = {x: 1.0}
        for v in order:
            if v is x or v not in inside or v.op is None:
                continue
            args = [value[u] for u in v.inputs]
            total = None
            for i, u in enumerate(v.inputs):
                if u in inside:
                    term = v.op.d[i](*args) * tangent[u]
                    local += 1
                    if total is None:
                        total = term
                    else:
                        total, sums = total + term, sums + 1
            tangent[v] = total
        grads.append(tangent.get(output, 0.0))
    return grads, OpCount(n_forward, local, local, sums)


def test_forward_mode_with_reuse_is_linear_but_runs_once_per_parameter(text):
    for n in (1, 4, 10):
        z, wrt = Fanout(w=0.99).build(n)
        g, count = forward_mode(z, wrt)
        assert count.total == 6 * n == gradients(z, wrt)[1]  # one input: the same as backprop
        assert g == pytest.approx(gradients(z, wrt)[0], rel=1e-12)
    quoted = []
    for width, n_params in ((2, 15), (4, 45)):
        z, wrt = MLP(width=width, n_in=width).build(3)
        assert len(wrt) == n_params
        g, count = forward_mode(z, wrt)
        np.testing.assert_allclose(g, gradients(z, wrt)[0], rtol=1e-12, atol=1e-15)
        quoted.append((count.total, gradients(z, wrt)[1], gradients(z, wrt, method="naive")[1]))
    assert quoted == [(391, 115, 1279), (2117, 373, 16455)]
    flat = text.replace("\n", " ")
    assert (
        "(15 parameters) forward mode costs 391 operations, back-propagation 115 and the naive rule 1 279"
        in flat
    )
    assert "(45 parameters), 2 117, 373 and 16 455" in flat


# --- side remarks ------------------------------------------------------------------------------


def test_relu_kink_gives_no_subgradient():
    # w ↦ relu(w) − relu(−w) is w itself: derivative 1 everywhere, the only subgradient at 0
    for w0 in (-1.5, 0.5):
        w = Var(w0)
        assert gradients(w.relu() - (-w).relu(), [w])[0] == [1.0]
    w = Var(0.0)
    z = w.relu() - (-w).relu()
    assert z.value == 0.0
    assert gradients(z, [w])[0] == [0.0]  # with relu'(0) = 0: not a subgradient of z at 0
    # the same with the network's own activation
    relu = dp.activations.relu
    assert relu.g_prime(np.array([[0.0]]))[0, 0] == 0.0


def test_heaviside_at_zero_is_a_third_convention():
    sp = pytest.importorskip("sympy")
    assert sp.Heaviside(0) == sp.Rational(1, 2)


def test_torch_conventions():
    torch = pytest.importorskip("torch")
    # MSELoss averages over all n_L·m entries: ours divided by n_L (half of ours for n_L = 2)
    rng = np.random.default_rng(0)
    A, Y = rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
    At = torch.tensor(A, requires_grad=True)
    loss = torch.nn.MSELoss()(At, torch.tensor(Y))
    loss.backward()
    mse = dp.losses.mse
    assert float(loss.detach()) == pytest.approx(float(mse.J(A, Y)) / 2, rel=1e-14)
    np.testing.assert_allclose(At.grad.numpy(), mse.J_prime(A, Y) / 2, rtol=1e-14)
    # and torch's ReLU has derivative 0 at 0, like deltaprop's
    z = torch.zeros(1, requires_grad=True)
    torch.relu(z).sum().backward()
    assert float(z.grad) == 0.0


def test_softmax_jacobian_and_its_computable_form():
    softmax, cross_entropy = dp.activations.softmax, dp.losses.cross_entropy
    rng = np.random.default_rng(1)
    Z, G = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    A = softmax.g(Z)
    for i in range(3):
        a, g = A[:, i : i + 1], G[:, i : i + 1]
        jac = np.diagflat(a) - a @ a.T
        np.testing.assert_array_equal(jac, jac.T)  # symmetric
        np.testing.assert_allclose(a * g - a * (a.T @ g), jac @ g, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(softmax.vjp(Z, A, G), A * G - A * np.sum(A * G, axis=0), atol=1e-15)
    # cross-entropy with one-hot columns: (ii) becomes (A − Y)/m
    Y = np.eye(4)[:, [2, 0, 3]]
    delta = softmax.vjp(Z, A, cross_entropy.J_prime(A, Y))
    np.testing.assert_allclose(delta, (A - Y) / 3, rtol=1e-12, atol=1e-15)


def test_sympy_operation_counts_and_what_cse_stores():
    sp = pytest.importorskip("sympy")
    from deltaprop.symbolic import chain_derivative, chain_operation_counts

    counts = chain_operation_counts(8)
    for c in counts:
        n = c.depth
        # f(·), f'(·) and each multiplication count 1: n(n−1)/2 f's, n f''s, n − 1 products
        assert c.ops_sympy == n * (n - 1) // 2 + n + (n - 1)
        assert c.ops_cse == max((n - 1) + n + (n - 1), 1)  # 3n − 2
    for n in range(3, 8):
        d, replacements, reduced = chain_derivative(n)
        # cse stores f(w), f(x0), …: the n − 2 values used twice (inside the next f and by f')
        assert len(replacements) == n - 2
        assert [str(v) for _, v in replacements] == ["f(w)"] + [f"f(x{k})" for k in range(n - 3)]
    # a plain undefined f: SymPy writes Derivative(f(f(w)), f(w)) and count_ops differs
    w, f = sp.Symbol("w"), sp.Function("f")
    for n in range(1, 8):
        e = w
        for _ in range(n):
            e = f(e)
        d = sp.diff(e, w)
        replacements, reduced = sp.cse(d)
        assert sp.count_ops(d) == n * n + 2 * n - 1
        assert sum(sp.count_ops(v) for _, v in replacements) + sp.count_ops(reduced[0]) == 3 * n - 1
    assert "Derivative(f(f(w)), f(w))" in str(sp.diff(f(f(w)), w))


def test_regions_are_two_to_the_number_of_hidden_pre_activations(text):
    # "k = m Σ_{l<L} n_l hidden pre-activations, hence 2^k regions (k = 6, 64 for 2-3-2, m = 2)"
    sizes, m = [2, 3, 2], 2
    k = m * sum(sizes[1:-1])
    assert (k, 2**k) == (6, 64)
    assert r"$k = m \sum_{l=1}^{L-1} n_l$" in text and "$k = 6$ and 64" in text.replace("\n", " ")

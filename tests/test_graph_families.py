"""Graph families: closed forms equal the counted operations exactly; mlp equals Network.

The closed forms (deltaprop.graph.families) are derived by hand; here they meet the counts the
methods report, the path and edge counts of the test's own traversal, derivatives worked by
hand, and deltaprop.Network's matrix-form gradients on the same weights.
"""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.graph import OpCount, gradients
from deltaprop.graph.families import (
    FAMILIES,
    MLP,
    Chain,
    Fanout,
    Fibonacci,
    fib,
    get_family,
    lucas,
    unroll_mlp,
)

METHODS = ("backprop", "naive", "paths")

# (family, depths where every method runs, depths where back-propagation alone runs)
CASES = [
    (Chain(), range(1, 41), [100, 300, 1000]),
    (Chain(f="sin", w=1.2), range(1, 12), []),
    (Fanout(), range(1, 11), [50, 300]),
    (Fanout(w=0.999), range(1, 7), []),
    (Fibonacci(), range(1, 14), [50, 300]),
    (Fibonacci(w=1.001), range(1, 7), []),
    (MLP(), range(1, 6), [10, 30]),
    (MLP(width=3, n_in=2, batch=2, seed=1), range(1, 4), [8]),
    (MLP(width=1, n_in=3, batch=3, seed=2), range(1, 6), [20]),
    (MLP(width=4, n_in=1, batch=1, seed=3), range(1, 4), []),
]


def sizes(output, wrt):
    """(inner nodes, edges between wrt and output, paths per variable): the test's own count."""
    nodes, stack = [], [output]
    seen = {output}
    while stack:
        v = stack.pop()
        nodes.append(v)
        for u in v.inputs:
            if u not in seen:
                seen.add(u)
                stack.append(u)
    targets = set(wrt)
    # paths from the output to each node, in an order where consumers come first
    order, mark = [], set()
    for v in nodes:  # iterative post-order
        if v in mark:
            continue
        work = [(v, False)]
        while work:
            u, done = work.pop()
            if done:
                order.append(u)
            elif u not in mark:
                mark.add(u)
                work.append((u, True))
                work.extend((t, False) for t in u.inputs if t not in mark)
    depends = {}
    for v in order:
        depends[v] = v in targets or any(depends[u] for u in v.inputs)
    paths = {v: 0 for v in nodes}
    paths[output] = 1
    for v in reversed(order):
        for u in v.inputs:
            paths[u] += paths[v]
    inner = sum(1 for v in nodes if v.inputs)
    edges = sum(1 for v in nodes if depends[v] for u in v.inputs if depends[u])
    return inner, edges, sum(paths[x] for x in wrt)


@pytest.mark.parametrize(("family", "depths", "deep"), CASES, ids=[repr(c[0]) for c in CASES])
def test_closed_forms_equal_the_counts(family, depths, deep):
    for depth in depths:
        z, wrt = family.build(depth)
        _, edges, paths = sizes(z, wrt)
        assert family.n_paths(depth) == paths, depth
        assert family.n_edges(depth) == edges, depth
        for method in METHODS:
            _, ops, count = gradients(z, wrt, method=method, detail=True)
            assert count == family.cost(depth, method), (depth, method)
            assert ops == count.total
    for depth in deep:
        z, wrt = family.build(depth)
        _, _, count = gradients(z, wrt, detail=True)
        assert count == family.cost(depth, "backprop"), depth


def test_the_closed_forms_by_hand():
    # chain, n = 10: backprop 3n = 30; naive n(n-1)/2 + 2n = 45 + 20 = 65
    assert Chain().cost(10, "backprop").total == 30
    assert Chain().cost(10, "naive").total == 65
    # fanout, n = 10: 6n = 60; naive (n+3) 2^n − 3 = 13·1024 − 3 = 13309; paths n + 5(2^n − 1)
    assert Fanout().cost(10, "backprop") == OpCount(10, 20, 20, 10)
    assert Fanout().cost(10, "naive").total == 13309
    assert Fanout().cost(10, "paths").total == 10 + 5 * 1023
    # fibonacci, n = 3: x1 = w·w, x2 = x1·w, x3 = x2·x1; paths F(5) = 5
    #   naive visits x3 once (recompute x1: 1, x2: 2 → 3 evaluations), x2 once (x1: 1, w: 0),
    #   x1 twice (once via x3, once via x2; reads w only): forward 3 + 1 = 4;
    #   locals = products = 2 per visit · 4 visits = 8, sums = 5 − 1 = 4
    assert Fibonacci().cost(3, "naive") == OpCount(4, 8, 8, 4)
    # mlp, one layer [2, 1], one sample: z = (b + W1 x1) + W2 x2, J = (z − y)² / 1
    #   inner nodes: 2 products, 2 sums, difference, square, division = 7
    #   edges: products 1 each (x constant), sums 2 each, difference 1, square 1, division 1 = 9
    #   V' = 7 + 3 variables = 10, sums = 9 − 10 + 1 = 0
    assert MLP(width=5, n_in=2).cost(1, "backprop") == OpCount(7, 9, 9, 0)
    assert MLP(width=5, n_in=2).n_paths(1) == 3


def test_gradients_by_hand():
    # fanout: z = w^(2^n), dz/dw = 2^n w^(2^n − 1); fibonacci: z = w^F(n+2)
    for n in range(1, 8):
        w0 = 0.99
        for family, power in ((Fanout(w=w0), 2**n), (Fibonacci(w=w0), fib(n + 2))):
            z, (w,) = family.build(n)
            assert z.value == pytest.approx(w0**power, rel=1e-12)
            for method in METHODS:
                (g,), _ = gradients(z, [w], method=method)
                assert g == pytest.approx(power * w0 ** (power - 1), rel=1e-12)
    # the default fanout at depth 30: every value 1, the gradient exactly 2^30
    z, wrt = Fanout().build(30)
    assert gradients(z, wrt) == ([2.0**30], 180)


def test_fibonacci_and_lucas_numbers():
    assert [fib(n) for n in range(12)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    assert [lucas(n) for n in range(8)] == [2, 1, 3, 4, 7, 11, 18, 29]
    # the convolution identity behind the fibonacci closed form, checked directly
    for M in range(0, 30):
        assert 5 * sum(fib(i) * fib(M - i) for i in range(M + 1)) == M * lucas(M) - fib(M)


@pytest.mark.parametrize(("sizes_", "m"), [([3, 4, 4, 1], 3), ([2, 3, 2], 2), ([4, 5, 3, 3, 2], 4)])
def test_mlp_graph_equals_network_gradients(sizes_, m):
    net = dp.Network(sizes_, seed=7)
    rng = np.random.default_rng(11)
    for l in range(1, net.L + 1):  # nonzero biases: no unit is exactly 0 for a whole batch
        net.b[l] = 0.1 * rng.standard_normal((sizes_[l], 1))
    X = rng.standard_normal((sizes_[0], m))
    Y = rng.standard_normal((sizes_[-1], m))
    J, dW, db = net.gradients(X, Y)
    Z, _ = net.forward_pass(X)
    assert min(np.min(np.abs(Z[l])) for l in range(1, net.L)) > 1e-6  # no ReLU at its kink
    J_var, wrt = unroll_mlp(net.W, net.b, X, Y)
    assert J_var.value == pytest.approx(J, rel=1e-12)
    expected = np.concatenate(
        [np.concatenate([dW[l].ravel(), db[l].ravel()]) for l in range(1, net.L + 1)]
    )
    methods = METHODS if sum(sizes_) < 12 else ("backprop", "paths")
    for method in methods:
        grads, _ = gradients(J_var, wrt, method=method)
        np.testing.assert_allclose(
            grads, expected, rtol=1e-12, atol=1e-12 * np.max(np.abs(expected))
        )


def test_mlp_family_matches_network_on_its_own_numbers():
    family = MLP(width=3, n_in=2, batch=4, seed=5)
    W, b, X, Y = family.data(3)
    net = dp.Network(family.sizes(3))
    for l in range(1, net.L + 1):
        net.W[l] = np.array(W[l - 1])
        net.b[l] = np.array(b[l - 1]).reshape(-1, 1)
    J, dW, db = net.gradients(np.array(X), np.array(Y))
    J_var, wrt = family.build(3)
    assert J_var.value == pytest.approx(J, rel=1e-12)
    expected = np.concatenate([np.concatenate([dW[l].ravel(), db[l].ravel()]) for l in range(1, 4)])
    for method in METHODS:
        np.testing.assert_allclose(
            gradients(J_var, wrt, method=method)[0], expected, rtol=1e-12, atol=1e-13
        )


def test_registry_and_errors():
    assert sorted(FAMILIES) == ["chain", "fanout", "fibonacci", "mlp"]
    assert get_family("mlp") is FAMILIES["mlp"]
    with pytest.raises(
        ValueError, match="unknown family 'tree'; known families: chain, fanout, fibonacci, mlp"
    ):
        get_family("tree")
    with pytest.raises(ValueError, match="depth must be >= 1; got 0"):
        Fanout().build(0)
    with pytest.raises(TypeError, match="depth must be an integer"):
        Fanout().cost(2.5, "naive")
    with pytest.raises(ValueError, match="unknown method 'fast'"):
        Chain().cost(3, "fast")
    with pytest.raises(ValueError, match="unknown f 'sqrt'"):
        Chain(f="sqrt")
    with pytest.raises(ValueError, match="width must be an integer >= 1; got 0"):
        MLP(width=0)
    with pytest.raises(ValueError, match="unknown hidden 'gelu'"):
        unroll_mlp([[[1.0]]], [[0.0]], [[1.0]], [[1.0]], hidden="gelu")

"""The computational-graph engine: every operation, every method, against independent references.

References: central differences of the test's own math functions; SymPy's exact derivatives
of the same random programs, evaluated to 30 digits (and JAX float64 autodiff, with
DELTAPROP_SLOW=1); derivatives worked by hand; and, for the operation counts, a plain
recursive transcription of the definitions in ``deltaprop.graph._count`` written here.
"""

from __future__ import annotations

import doctest
import math
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import deltaprop.graph as G  # noqa: N812 (G for graph, as in the docs)
from deltaprop.graph import OpCount, Var, gradients

METHODS = ("backprop", "naive", "paths")


def central(f, xs, k, h=1e-6):
    """∂f/∂x_k by central differences."""
    up, down = list(xs), list(xs)
    up[k] += h
    down[k] -= h
    return (f(*up) - f(*down)) / (2 * h)


def close(a, b, rel=1e-12, abs_=1e-13):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# --- every operation against central differences ---------------------------------------------


def _sigmoid(a):
    return 1 / (1 + math.exp(-a))


# (build the node from Vars, the same function on floats, points away from kinks and poles)
OPERATIONS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [(0.3, -1.7), (2.0, 5.0)]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [(0.3, -1.7), (-2.0, 5.0)]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [(0.3, -1.7), (-2.5, 4.0)]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [(0.3, -1.7), (-2.5, 0.8)]),
    "neg": (lambda a: -a, lambda a: -a, [(0.7,), (-3.0,)]),
    "pow2": (lambda a: a**2, lambda a: a * a, [(0.7,), (-3.0,)]),
    "pow3": (lambda a: a**3, lambda a: a * a * a, [(0.7,), (-1.3,)]),
    "pow_half": (lambda a: a**0.5, math.sqrt, [(0.7,), (4.0,)]),
    "pow_neg": (lambda a: a**-2, lambda a: 1 / (a * a), [(0.7,), (-1.5,)]),
    "pow0": (lambda a: a**0, lambda a: 1.0, [(0.7,)]),
    "relu": (G.relu, lambda a: max(a, 0.0), [(0.7,), (-0.4,), (2.5,)]),
    "exp": (G.exp, math.exp, [(0.7,), (-2.0,)]),
    "log": (G.log, math.log, [(0.7,), (5.0,)]),
    "tanh": (G.tanh, math.tanh, [(0.7,), (-2.0,)]),
    "sigmoid": (G.sigmoid, _sigmoid, [(0.7,), (-3.0,), (30.0,)]),
    "sin": (G.sin, math.sin, [(0.7,), (-2.0,)]),
    "cos": (G.cos, math.cos, [(0.7,), (-2.0,)]),
    "method_relu": (lambda a: a.relu(), lambda a: max(a, 0.0), [(1.5,), (-1.5,)]),
    "method_exp": (lambda a: a.exp(), math.exp, [(0.5,)]),
    "method_log": (lambda a: a.log(), math.log, [(0.5,)]),
    "method_tanh": (lambda a: a.tanh(), math.tanh, [(0.5,)]),
    "method_sigmoid": (lambda a: a.sigmoid(), _sigmoid, [(0.5,)]),
    "method_sin": (lambda a: a.sin(), math.sin, [(0.5,)]),
    "method_cos": (lambda a: a.cos(), math.cos, [(0.5,)]),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize("method", METHODS)
def test_every_operation_matches_central_differences(name, method):
    build, f, points = OPERATIONS[name]
    for point in points:
        xs = [Var(v) for v in point]
        z = build(*xs)
        assert z.value == pytest.approx(f(*point), rel=1e-15)
        grads, _ = gradients(z, xs, method=method)
        for k in range(len(point)):
            assert grads[k] == pytest.approx(central(f, point, k), rel=1e-7, abs=1e-9), (point, k)


def test_relu_derivative_is_the_step_with_zero_at_zero():
    for v, slope in [(-1.0, 0.0), (0.0, 0.0), (1e-300, 1.0), (3.0, 1.0)]:
        x = Var(v)
        for method in METHODS:
            assert gradients(G.relu(x), [x], method=method)[0] == [slope]


def test_each_rule_reads_only_the_inputs_it_declares():
    # a rule given NaN for every input it does not declare must still give the true value
    ops = [o for o in vars(G._var).values() if isinstance(o, G.Op)]
    ops += [G._var.pow_op(c) for c in (0, 1, 2, 3, -2, 0.5)]
    assert len(ops) >= 18
    for op in ops:
        args = [0.7, -1.3][: op.arity]
        for i, d in enumerate(op.d):
            masked = [a if j in op.needs[i] else math.nan for j, a in enumerate(args)]
            assert d(*masked) == d(*args), (op.name, i)


# --- hand-worked examples --------------------------------------------------------------------


def test_the_books_chain_by_hand():
    # x = f(w), y = f(x), z = f(y) with f = sin, w = 0.5:
    # dz/dw = f'(y) f'(x) f'(w) = cos(y) cos(x) cos(w)
    w = Var(0.5)
    z = G.sin(G.sin(G.sin(w)))
    x = math.sin(0.5)
    y = math.sin(x)
    expected = math.cos(y) * math.cos(x) * math.cos(0.5)
    # backprop: 3 forward values, 3 local derivatives, 3 products (one per edge), no sums
    assert gradients(z, [w], detail=True) == ([expected], 9, OpCount(3, 3, 3, 0))
    # naive: f'(f(f(w))) recomputes f(f(w)) (2 evaluations), f'(f(w)) recomputes f(w) (1),
    # f'(w) reads the leaf (0): 3 forward evaluations, and the same 3 + 3
    grads, ops, count = gradients(z, [w], method="naive", detail=True)
    assert count == OpCount(3, 3, 3, 0) and ops == 9 and close(grads[0], expected)


def test_a_shared_node_by_hand():
    # x = w·w, z = x·x = w^4: dz/dw = 4 w^3 = 13.5 at w = 1.5.
    # backprop: 2 values; edges z←x (twice), x←w (twice): 4 locals, 4 products;
    # sums: x gets 2 terms (1 sum), w gets 2 terms (1 sum). Total 2 + 4 + 4 + 2 = 12
    w = Var(1.5)
    x = w * w
    z = x * x
    assert gradients(z, [w], detail=True) == ([13.5], 12, OpCount(2, 4, 4, 2))
    # naive: 4 paths z→x→w. Visit z once: 2 locals, each recomputes x (1 evaluation each);
    # visit x twice: 2 locals each, reading w (free). locals 6, products 6, sums 1 + 2·1 = 3
    assert gradients(z, [w], method="naive", detail=True) == ([13.5], 17, OpCount(2, 6, 6, 3))
    # paths: stored values (2 forward), the same 6 locals and products, 3 sums
    assert gradients(z, [w], method="paths", detail=True) == ([13.5], 17, OpCount(2, 6, 6, 3))


def test_python_numbers_on_either_side():
    x = Var(2.0)
    cases = [
        # expression, value, derivative worked by hand at x = 2
        (lambda x: 2 * x, 4.0, 2.0),
        (lambda x: x * 2, 4.0, 2.0),
        (lambda x: 3 + x, 5.0, 1.0),
        (lambda x: x + 3, 5.0, 1.0),
        (lambda x: 1 - x, -1.0, -1.0),
        (lambda x: x - 1, 1.0, 1.0),
        (lambda x: 10 / x, 5.0, -10 / 4),
        (lambda x: x / 10, 0.2, 0.1),
        (lambda x: -x, -2.0, -1.0),
        (lambda x: x**2, 4.0, 4.0),
        (lambda x: x**0.5, math.sqrt(2), 0.5 / math.sqrt(2)),
        (lambda x: np.float64(3.0) * x, 6.0, 3.0),
        (lambda x: x * np.float64(3.0), 6.0, 3.0),
        (lambda x: np.int64(4) - x, 2.0, -1.0),
        (lambda x: 1 + 2 * x - x / 4 + 10 / x, 1 + 4 - 0.5 + 5, 2 - 0.25 - 10 / 4),
    ]
    for build, value, slope in cases:
        z = build(x)
        assert isinstance(z, Var) and close(z.value, value)
        for method in METHODS:
            assert close(gradients(z, [x], method=method)[0][0], slope)


def test_in_place_operators_build_new_nodes():
    x = Var(3.0)
    y = x
    y += 2  # y = x + 2
    y *= x  # y = (x + 2) x
    y -= 1
    y /= 2  # y = ((x + 2) x - 1) / 2, dy/dx = (2x + 2) / 2 = 4 at x = 3
    assert x.value == 3.0 and x.is_leaf
    assert y.value == 7.0
    assert gradients(y, [x])[0] == [4.0]


# --- structure: reuse, depth, repetition -----------------------------------------------------


def test_a_node_reused_1000_times():
    x = Var(0.75)
    s = x
    for _ in range(999):
        s = s + x  # 1000 x
    p = sum((float(c) * x for c in range(1, 1001)), start=Var(0.0))  # (Σ c) x
    for method in METHODS:
        assert gradients(s, [x], method=method)[0] == [1000.0]
        assert gradients(p, [x], method=method)[0] == [500500.0]
    # backprop: one grad-table entry for x summing its 1000 uses: 999 sums there
    _, _, count = gradients(s, [x], detail=True)
    assert count == OpCount(forward=999, local=1998, products=1998, sums=999)


def test_a_200000_deep_chain():
    n = 200_000
    w = Var(0.5)
    x = w
    for _ in range(n):
        x = x.sin()
    # reference: the iterates by a plain loop, dz/dw = Π_k cos(x_k)
    v, slope = 0.5, 1.0
    for _ in range(n):
        slope *= math.cos(v)
        v = math.sin(v)
    assert x.value == v
    grads, ops, count = gradients(x, [w], detail=True)
    assert grads[0] == pytest.approx(slope, rel=1e-9)
    assert count == OpCount(n, n, n, 0)


def test_naive_and_paths_are_not_limited_by_the_recursion_limit():
    n = sys.getrecursionlimit() + 200
    w = Var(0.3)
    x = w
    for _ in range(n):
        x = x * 1.0001
    expected = 1.0001**n
    for method in ("paths", "naive"):
        grads, _, count = gradients(x, [w], method=method, detail=True)
        assert grads[0] == pytest.approx(expected, rel=1e-9)
    # naive: each product node x_k = x_{k-1} · c needs only the constant c for ∂/∂x_{k-1}
    assert count == OpCount(0, n, n, 0)


def test_repeated_calls_give_the_same_answer():
    a, b = Var(0.4), Var(-1.1)
    z = (a * b).tanh() + a * a + G.exp(b) / a
    for method in METHODS:
        first = gradients(z, [a, b], method=method, detail=True)
        for _ in range(3):
            assert gradients(z, [a, b], method=method, detail=True) == first


def test_variables_outside_the_graph_the_output_itself_and_inner_nodes():
    a, b, c = Var(2.0), Var(3.0), Var(5.0)
    m = a * b
    z = m + a
    for method in METHODS:
        grads, _ = gradients(z, [c, z, m, a, a], method=method)
        assert grads == [0.0, 1.0, 1.0, 4.0, 4.0]  # ∂z/∂a = b + 1
        assert gradients(a, [a], method=method) == ([1.0], 0)
        assert gradients(z, [], method=method)[0] == []


def test_gradients_rejects_bad_arguments():
    x = Var(1.0)
    with pytest.raises(TypeError, match="output must be a Var"):
        gradients(3.0, [x])
    with pytest.raises(TypeError, match="wrt must be a sequence of Var"):
        gradients(x, x)
    with pytest.raises(TypeError, match=r"wrt\[1\] must be a Var"):
        gradients(x, [x, 2.0])
    with pytest.raises(
        ValueError, match="unknown method 'bogus'; known methods: backprop, naive, paths"
    ):
        gradients(x, [x], method="bogus")


def test_var_rejects_bad_operands():
    x = Var(1.5)
    with pytest.raises(TypeError, match="value must be a real number"):
        Var("1.0")
    with pytest.raises(TypeError, match="value must be a real number"):
        Var(True)
    with pytest.raises(TypeError, match="operand must be a real number"):
        x + "a"
    with pytest.raises(TypeError, match="exponent of x \\*\\* c must be a number"):
        x**x
    with pytest.raises(TypeError, match="cannot be an exponent"):
        2**x
    with pytest.raises(ValueError, match="log needs a positive argument; got -1.5"):
        G.log(-x)
    with pytest.raises(ValueError, match="needs x >= 0; got x = -1.5"):
        (-x) ** 0.5


def test_docstring_examples():
    import deltaprop.graph._var as var_module

    for module in (G, var_module, G.backprop, G.naive, G.paths, G.families, G.study):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# --- random programs: every method, JAX and central differences agree ------------------------

# each step combines earlier values; the same program runs on Vars, floats and JAX arrays
PROGRAM_OPS = {
    "add": (2, lambda ns, a, b: a + b),
    "sub": (2, lambda ns, a, b: a - b),
    "mul": (2, lambda ns, a, b: a * b),
    "div": (2, lambda ns, a, b: a / (1.5 + ns.sin(b))),
    "affine": (1, lambda ns, a: 2.5 * a - 1),
    "rdiv": (1, lambda ns, a: 3.0 / (2 + ns.cos(a))),
    "neg": (1, lambda ns, a: -a),
    "pow": (1, lambda ns, a: (1 + a * a) ** 1.5),
    "cube": (1, lambda ns, a: a**3),
    "exp": (1, lambda ns, a: ns.exp(ns.sin(a))),
    "log": (1, lambda ns, a: ns.log(1 + a * a)),
    "tanh": (1, lambda ns, a: ns.tanh(a)),
    "sigmoid": (1, lambda ns, a: ns.sigmoid(a)),
    "sin": (1, lambda ns, a: ns.sin(a)),
    "cos": (1, lambda ns, a: ns.cos(a)),
    "relu": (1, lambda ns, a: ns.relu(a)),
}
VAR_NS = SimpleNamespace(
    **{f: getattr(G, f) for f in ("exp", "log", "tanh", "sigmoid", "sin", "cos", "relu")}
)


def float_ns(relu_inputs):
    def relu(a):
        relu_inputs.append(a)
        return max(a, 0.0)

    return SimpleNamespace(
        exp=math.exp,
        log=math.log,
        tanh=math.tanh,
        sigmoid=_sigmoid,
        sin=math.sin,
        cos=math.cos,
        relu=relu,
    )


def run_program(program, leaves, ns):
    values = list(leaves)
    for name, i, j in program:
        arity, f = PROGRAM_OPS[name]
        values.append(f(ns, values[i], values[j]) if arity == 2 else f(ns, values[i]))
    return values


@st.composite
def programs(draw):
    leaves = draw(
        st.lists(st.floats(-2, 2, allow_nan=False, allow_infinity=False), min_size=1, max_size=4)
    )
    program = []
    for step in range(draw(st.integers(1, 10))):
        n = len(leaves) + step
        name = draw(st.sampled_from(sorted(PROGRAM_OPS)))
        program.append((name, draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))))
    return leaves, program


def build(leaves, program):
    xs = [Var(v) for v in leaves]
    values = run_program(program, xs, VAR_NS)
    return values[-1], xs


def plain_value(leaves, program):
    relu_inputs = []
    values = run_program(program, leaves, float_ns(relu_inputs))
    return values[-1], values, relu_inputs


@settings(max_examples=60)
@given(programs())
def test_random_programs_every_method_and_central_differences(case):
    leaves, program = case
    value, values, relu_inputs = plain_value(leaves, program)
    assume(all(abs(v) < 1e3 for v in values) and all(abs(z) > 1e-3 for z in relu_inputs))
    z, xs = build(leaves, program)
    assert z.value == pytest.approx(value, rel=1e-12, abs=1e-12)  # sigmoid: another formula
    results = {m: gradients(z, xs, method=m)[0] for m in METHODS}
    for m in ("naive", "paths"):
        for g, ref in zip(results[m], results["backprop"]):
            assert math.isclose(g, ref, rel_tol=1e-11, abs_tol=1e-11 * (1 + abs(ref))), m
    f = lambda *v: plain_value(list(v), program)[0]  # noqa: E731
    for k, g in enumerate(results["backprop"]):
        assert g == pytest.approx(central(f, leaves, k), rel=1e-5, abs=1e-5)


@settings(max_examples=20)
@given(programs())
def test_random_programs_against_sympy_exact_derivatives(case):
    sp = pytest.importorskip("sympy")
    leaves, program = case
    value, values, relu_inputs = plain_value(leaves, program)
    assume(all(abs(v) < 1e3 for v in values) and all(abs(z) > 1e-3 for z in relu_inputs))
    ns = SimpleNamespace(
        exp=sp.exp,
        log=sp.log,
        tanh=sp.tanh,
        sigmoid=lambda a: 1 / (1 + sp.exp(-a)),
        sin=sp.sin,
        cos=sp.cos,
        relu=lambda a: sp.Piecewise((a, a > 0), (0, True)),
    )
    symbols = sp.symbols(f"x0:{len(leaves)}")
    expression = run_program(program, list(symbols), ns)[-1]
    at = dict(zip(symbols, [sp.Float(v, 30) for v in leaves]))
    # the exact derivative, evaluated to 30 digits
    reference = [float(sp.diff(expression, x).evalf(30, subs=at)) for x in symbols]
    z, xs = build(leaves, program)
    grads = gradients(z, xs)[0]
    scale = 1 + max(abs(r) for r in reference)
    for g, r in zip(grads, reference):
        assert abs(g - r) <= 1e-11 * scale


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DELTAPROP_SLOW"), reason="set DELTAPROP_SLOW=1 (JAX start-up)"
)
@settings(max_examples=25)
@given(programs())
def test_random_programs_against_jax_float64(case):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    leaves, program = case
    value, values, relu_inputs = plain_value(leaves, program)
    assume(all(abs(v) < 1e3 for v in values) and all(abs(z) > 1e-3 for z in relu_inputs))
    ns = SimpleNamespace(
        exp=jnp.exp,
        log=jnp.log,
        tanh=jnp.tanh,
        sigmoid=jax.nn.sigmoid,
        sin=jnp.sin,
        cos=jnp.cos,
        relu=lambda a: jnp.where(a > 0, a, 0.0),
    )
    reference = jax.grad(lambda v: run_program(program, list(v), ns)[-1])(
        jnp.asarray(leaves, dtype=jnp.float64)
    )
    z, xs = build(leaves, program)
    grads = gradients(z, xs)[0]
    scale = 1 + max(abs(float(r)) for r in reference)
    for g, r in zip(grads, reference):
        assert abs(g - float(r)) <= 1e-12 * scale


# --- the counts follow their definitions -----------------------------------------------------


def reference_naive(output, x):
    """The literal recursion of naive.py, transcribed as plain recursion (small graphs only):
    (derivative, OpCount), counting exactly what _count.py's docstring defines."""

    def value(v):  # recomputed from the leaves: (value, forward evaluations)
        if v.op is None:
            return v.value, 0
        args, n = [], 1
        for u in v.inputs:
            a, k = value(u)
            args.append(a)
            n += k
        return v.op.f(*args), n

    def depends(v):
        return v is x or any(depends(u) for u in v.inputs)

    def D(v):
        if v is x:
            return 1.0, OpCount()
        total, count = None, OpCount()
        for i, u in enumerate(v.inputs):
            if not depends(u):
                continue
            args = [math.nan] * len(v.inputs)
            n = 0
            for j in v.op.needs[i]:
                args[j], k = value(v.inputs[j])
                n += k
            g, below = D(u)
            term = v.op.d[i](*args) * g
            count = count + below + OpCount(forward=n, local=1, products=1)
            if total is None:
                total = term
            else:
                total += term
                count = count + OpCount(sums=1)
        return total, count

    if not depends(output):
        return 0.0, OpCount()
    return D(output)


def graph_sizes(output, wrt):
    """(inner nodes N, edges E' and nodes V' between wrt and the output, paths per variable),
    by the test's own recursion."""
    nodes, stack = set(), [output]
    while stack:
        v = stack.pop()
        if v not in nodes:
            nodes.add(v)
            stack.extend(v.inputs)
    memo = {}

    def depends(v):
        if v not in memo:
            memo[v] = any(v is x for x in wrt) or any(depends(u) for u in v.inputs)
        return memo[v]

    inside = {v for v in nodes if depends(v)}
    N = sum(1 for v in nodes if v.inputs)
    E = sum(1 for v in inside for u in v.inputs if u in inside)

    def n_paths(v, x):
        return 1 if v is x else sum(n_paths(u, x) for u in v.inputs)

    return N, E, len(inside), [n_paths(output, x) for x in wrt]


@settings(max_examples=60)
@given(programs())
def test_counts_follow_their_definitions_on_random_programs(case):
    leaves, program = case
    _, values, _ = plain_value(leaves, program)
    assume(all(abs(v) < 1e3 for v in values))
    z, xs = build(leaves, program)
    N, E, V, paths = graph_sizes(z, xs)
    # back-propagation: N values, one local derivative and one product per edge, and a node
    # with d consumers needs d − 1 sums: E' − (V' − 1) in all. Linear in the edges.
    _, ops, count = gradients(z, xs, detail=True)
    if E:
        assert count == OpCount(N, E, E, E - V + 1)
        assert ops <= N + 3 * E
    # naive: the literal recursion, transcribed
    grads, _, count = gradients(z, xs, method="naive", detail=True)
    expected = OpCount()
    for k, x in enumerate(xs):
        g, c = reference_naive(z, x)
        expected = expected + c
        assert math.isclose(grads[k], g, rel_tol=1e-12, abs_tol=1e-12 * (1 + abs(g)))
    assert count == expected
    # paths: the same local derivatives, products and sums; forward values stored (N)
    _, _, walk = gradients(z, xs, method="paths", detail=True)
    assert walk == OpCount(N, count.local, count.products, count.sums)
    assert walk.sums == sum(p - 1 for p in paths if p > 0)

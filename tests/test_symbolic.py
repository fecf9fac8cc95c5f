"""SymPy's own derivative of J against the derivation's formulas (deltaprop.symbolic).

The reference is ``sympy.diff`` of the whole composed cost (chain rule on the expression, no δ);
the formulas are equations (ii), (i), ∂J/∂W = δ Aᵀ and ∂J/∂b = δ 1_m. Every "equal" test has a
twin that feeds a known-wrong formula and must see "not equal", so the comparison can fail.
The larger shapes run only with DELTAPROP_SLOW=1 (``deltaprop derive --check`` runs them all).
"""

from __future__ import annotations

import json
import os

import pytest

sp = pytest.importorskip("sympy")

from deltaprop import symbolic  # noqa: E402
from deltaprop.cli import main  # noqa: E402
from deltaprop.symbolic import (  # noqa: E402
    backprop,
    chain_derivative,
    chain_operation_counts,
    check_chain_counts,
    check_chain_form,
    check_gradients,
    check_piecewise_relu,
    check_relu_derivative,
    exercise_network,
    generic_network,
    is_zero,
)

slow = pytest.mark.skipif(
    not os.environ.get("DELTAPROP_SLOW"), reason="large symbolic cases: set DELTAPROP_SLOW=1"
)


# --- Task 1: equations (i) and (ii) for generic g^[l] and J ----------------------------------


def test_generic_network_shapes_follow_the_notation():
    net = generic_network([2, 3, 2], m=2)
    assert net.L == 2 and net.X.shape == (2, 2)
    assert net.W[1].shape == (3, 2) and net.b[1].shape == (3, 1) and net.W[2].shape == (2, 3)
    assert [net.Z[l].shape for l in (1, 2)] == [(3, 2), (2, 2)]
    assert net.J_prime.shape == (2, 2)  # J'(A^[L]) has the shape of A^[L]
    assert len(list(net.parameters())) == 3 * 2 + 3 + 2 * 3 + 2


def test_equations_i_ii_equal_sympy_diff_2_3_2():
    # sympy.diff(J, θ) for all 17 weights and biases equals δ^[l] A^[l-1]ᵀ and δ^[l] 1_m
    assert check_gradients(generic_network([2, 3, 2], m=2))


def test_the_generic_check_can_fail():
    # A 2-2-2 network, so that each wrong formula below has the right shape and is wrong in value.
    net = generic_network([2, 2, 2], m=2)
    delta, dW, db = backprop(net)
    assert check_gradients(net, dW, db)
    # (i) with W^[2] instead of W^[2]ᵀ
    delta1 = net.G_prime[1].multiply_elementwise(net.W[2] * delta[2])
    assert not check_gradients(
        net, [None, delta1 * net.X.T, dW[2]], [None, delta1 * sp.ones(2, 1), db[2]]
    )
    # (i) without the factor g^[1]'(Z^[1])
    delta1 = net.W[2].T * delta[2]
    assert not check_gradients(
        net, [None, delta1 * net.X.T, dW[2]], [None, delta1 * sp.ones(2, 1), db[2]]
    )
    # ∂J/∂W^[2] without the transpose: δ^[2] A^[1] (2x2 times 2x2, m = n_1 = 2)
    assert not check_gradients(net, [None, dW[1], delta[2] * net.A[1]], db)
    # ∂J/∂b^[2] from the first sample only, not summed over the batch
    assert not check_gradients(net, dW, [None, db[1], delta[2][:, 0]])


def test_is_zero():
    x, y = sp.symbols("x y")
    f = sp.Function("f")
    assert is_zero((x + y) ** 2 - x**2 - 2 * x * y - y**2)
    assert is_zero(f(x + y) * (x + 1) - f(y + x) * x - f(x + y))  # same application, same value
    assert not is_zero(f(x) - f(y))
    assert not is_zero(x * y - y)


@slow
@pytest.mark.slow
@pytest.mark.parametrize("sizes", [[3, 2, 2, 1], [2, 2, 2, 2, 2]])
def test_equations_i_ii_equal_sympy_diff_larger(sizes):
    assert check_gradients(generic_network(sizes, m=2))


# --- Task 2: MSE, ReLU hidden, identity output, L2 ----------------------------------------


def test_relu_derivative_is_the_step():
    assert check_relu_derivative()
    z = sp.Symbol("z")
    d = sp.diff(symbolic.relu_piecewise(z), z)
    assert d.subs(z, sp.Rational(-3, 2)) == 0 and d.subs(z, sp.Rational(3, 2)) == 1


def test_task2_formulas_equal_sympy_diff_2_3_2_all_regions():
    # J = (1/2) Σ ||y_i − a_i||² + (λ/2) Σ ||W||², relu(z) = s z on each region: all 2^6 at once
    net = exercise_network([2, 3, 2], m=2)
    assert net.L == 2 and net.J_prime == sp.Rational(2, 2) * (net.A[2] - net.Y)
    assert check_gradients(net)


def test_task2_check_can_fail():
    net = exercise_network([2, 2, 2], m=2)
    assert check_gradients(net)
    # ReLU' written as 1 everywhere
    wrong = exercise_network([2, 2, 2], m=2)
    wrong.G_prime[1] = sp.ones(2, 2)
    assert not check_gradients(wrong)
    # MSE derivative summed over the outputs, (2/m) Σ_k (a_k − y_k), in every output row
    wrong = exercise_network([2, 2, 2], m=2)
    summed = sp.ones(1, 2) * wrong.J_prime
    wrong.J_prime = sp.ones(2, 1) * summed
    assert not check_gradients(wrong)
    # the L2 term forgotten in ∂J/∂W
    wrong = exercise_network([2, 2, 2], m=2)
    wrong.alpha = sp.S.Zero
    assert not check_gradients(wrong)


def test_task2_piecewise_relu_each_region():
    # ReLU as Piecewise((z, z > 0), (0, True)); 2-3-2, m = 1: the 2^3 sign regions one by one
    assert check_piecewise_relu((2, 3, 2), m=1)


def test_piecewise_check_rejects_deeper_networks():
    with pytest.raises(ValueError, match="one hidden layer"):
        check_piecewise_relu((2, 2, 2, 1), m=1)


@slow
@pytest.mark.slow
@pytest.mark.parametrize("sizes", [[3, 2, 2, 1], [2, 2, 2, 2, 2]])
def test_task2_formulas_larger(sizes):
    assert check_gradients(exercise_network(sizes, m=2))


@slow
@pytest.mark.slow
def test_task2_piecewise_m2():
    assert check_piecewise_relu((2, 3, 2), m=2)


# --- Task 3: the chain f(f(...f(w))) ------------------------------------------------------


def test_chain_derivative_recomputes():
    assert check_chain_form(6)
    d, replacements, reduced = chain_derivative(3)
    fp, w = sp.Function("f'"), sp.Symbol("w")
    # f'(f(f(w))) f'(f(w)) f'(w): the first factor recomputes f(f(w)), the second f(w)
    assert str(d) == "f'(w)*f'(f(w))*f'(f(f(w)))"
    assert d.has(fp(w))
    # after cse, f(w) is stored once as x0 and reused
    assert len(replacements) == 1 and str(replacements[0][1]) == "f(w)"
    assert str(reduced).count("f(") == 1  # only f(x0) is evaluated again, once


def test_chain_operation_counts_by_hand():
    # depth 3: f'(f(f(w))) f'(f(w)) f'(w): 3 f' + (2 + 1) f + 2 products = 8;
    # after cse: x0 = f(w) (1) and f'(w) f'(x0) f'(f(x0)): 3 f' + 1 f + 2 products = 7
    # depth 4: 4 f' + 6 f + 3 products = 13; after cse: 4 f' + 3 f + 3 products = 10
    counts = chain_operation_counts(4)
    assert [(c.depth, c.ops_sympy, c.ops_cse) for c in counts] == [
        (1, 1, 1),
        (2, 4, 4),
        (3, 8, 7),
        (4, 13, 10),
    ]
    assert check_chain_counts(8)


# --- the command ---------------------------------------------------------------------------


def _run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_derive_check_quick_json(capsys, monkeypatch):
    # The command's wiring, on the real quick cases minus the three heavy ones (each tested
    # above; the full command runs under DELTAPROP_SLOW=1)
    cases = symbolic._cases(quick=True)
    heavy = ("generic", "all regions", "Piecewise")
    assert sum(any(h in name for h in heavy) for name, _ in cases) == 3
    light = [(n, f) for n, f in cases if not any(h in n for h in heavy)]
    monkeypatch.setattr(symbolic, "_cases", lambda quick: light)
    code, out, _ = _run(capsys, "derive", "--check", "--quick", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["all_equal"] is True and len(doc["checks"]) == len(light) == 3
    assert all(set(c) == {"name", "equal", "seconds"} for c in doc["checks"])
    assert [c["name"] for c in doc["checks"]] == [n for n, _ in light]
    assert doc["chain_operation_counts"][2] == {"depth": 3, "ops_sympy": 8, "ops_cse": 7}


def test_cli_derive_exits_1_when_a_check_fails(capsys, monkeypatch):
    def failing(quick=False, progress=None):
        checks = [symbolic.Check("ok", True, 0.0), symbolic.Check("broken", False, 0.0)]
        for c in checks:
            if progress:
                progress(c)
        return checks

    monkeypatch.setattr(symbolic, "run_checks", failing)
    code, out, _ = _run(capsys, "derive", "--check", "--quick", "--json")
    assert code == 1 and json.loads(out)["all_equal"] is False
    code, out, _ = _run(capsys, "derive", "--check", "--quick")
    assert code == 1 and "NOT" in out


def test_cli_derive_without_check_prints_the_equations(capsys):
    code, out, _ = _run(capsys, "derive")
    assert code == 0 and "δ" not in out and "delta^[l] = g^[l]'(Z^[l])" in out
    code, out, _ = _run(capsys, "derive", "--json")
    assert code == 0 and set(json.loads(out)["equations"]) == {"forward", "(ii)", "(i)", "dW", "db"}


@slow
@pytest.mark.slow
def test_cli_derive_check_full(capsys):
    code, out, _ = _run(capsys, "derive", "--check", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["all_equal"] is True
    names = " ".join(c["name"] for c in doc["checks"])
    for shape in ("2-3-2", "3-2-2-1", "2-2-2-2-2"):
        assert shape in names

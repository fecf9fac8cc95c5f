"""Optimisers against hand-computed steps and scikit-learn's optimisers; schedules; state export."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.optim import SGD, Adam, Schedule, get_optimizer

rng = np.random.default_rng(3)


def _one_param_net(theta0: float):
    """A [1, 1] network whose only weight is theta0 (and bias 0)."""
    net = dp.Network([1, 1], output="identity", seed=0)
    net.W[1] = np.array([[theta0]])
    net.b[1] = np.zeros((1, 1))
    return net


def _steps(opt, net, grads):
    """Apply one step per gradient value g to W (bias gradient 0); return W after each."""
    out = []
    for g in grads:
        opt.step(net, [np.array([[g]])], [np.zeros((1, 1))])
        out.append(float(net.W[1][0, 0]))
    return out


# --- hand-computed steps -----------------------------------------------------------------------


def test_sgd_plain_step_by_hand():
    net = dp.Network([2, 1], seed=0)
    net.W[1] = np.array([[1.0, 2.0]])
    net.b[1] = np.array([[0.5]])
    SGD(lr=0.1).step(net, [np.array([[0.5, -1.0]])], [np.array([[2.0]])])
    # W - 0.1 g = [1 - 0.05, 2 + 0.1] = [0.95, 2.1];  b = 0.5 - 0.1 * 2 = 0.3
    np.testing.assert_allclose(net.W[1], [[0.95, 2.1]], rtol=1e-15)
    np.testing.assert_allclose(net.b[1], [[0.3]], rtol=1e-15)


def test_sgd_momentum_by_hand():
    # mu = 0.9, eta = 0.1, theta0 = 1, g = 1 twice:
    # v1 = -0.1, theta1 = 0.9;  v2 = 0.9 * -0.1 - 0.1 = -0.19, theta2 = 0.9 - 0.19 = 0.71
    got = _steps(SGD(lr=0.1, momentum=0.9, nesterov=False), _one_param_net(1.0), [1.0, 1.0])
    np.testing.assert_allclose(got, [0.9, 0.71], rtol=1e-14)


def test_sgd_nesterov_by_hand():
    # theta <- theta + mu v - eta g with the new v:
    # step 1: v1 = -0.1, theta1 = 1 + 0.9 * -0.1 - 0.1 = 0.81
    # step 2: v2 = -0.19, theta2 = 0.81 + 0.9 * -0.19 - 0.1 = 0.81 - 0.171 - 0.1 = 0.539
    got = _steps(SGD(lr=0.1, momentum=0.9, nesterov=True), _one_param_net(1.0), [1.0, 1.0])
    np.testing.assert_allclose(got, [0.81, 0.539], rtol=1e-14)


def test_adam_by_hand():
    # eta = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, theta0 = 0, g = 2 then 1.
    # step 1: m = 0.1 * 2 = 0.2, v = 0.001 * 4 = 0.004,
    #         eta_1 = 0.01 * sqrt(1 - 0.999) / (1 - 0.9) = 0.01 * sqrt(0.001) / 0.1
    #         theta1 = -eta_1 * 0.2 / (sqrt(0.004) + 1e-8)   (about -0.01: Adam's first step is ~eta)
    # step 2: m = 0.9 * 0.2 + 0.1 * 1 = 0.28, v = 0.999 * 0.004 + 0.001 * 1 = 0.004996,
    #         eta_2 = 0.01 * sqrt(1 - 0.999**2) / (1 - 0.9**2) = 0.01 * sqrt(0.001999) / 0.19
    #         theta2 = theta1 - eta_2 * 0.28 / (sqrt(0.004996) + 1e-8)
    eta1 = 0.01 * math.sqrt(0.001) / 0.1
    theta1 = -eta1 * 0.2 / (math.sqrt(0.004) + 1e-8)
    eta2 = 0.01 * math.sqrt(0.001999) / 0.19
    theta2 = theta1 - eta2 * 0.28 / (math.sqrt(0.004996) + 1e-8)
    opt = Adam(lr=0.01)
    got = _steps(opt, _one_param_net(0.0), [2.0, 1.0])
    np.testing.assert_allclose(got, [theta1, theta2], rtol=1e-12)
    assert theta1 == pytest.approx(-0.01, rel=1e-6)
    assert opt.t == 2


# --- scikit-learn's optimisers as the reference ---------------------------------------------------


def _random_run(make_ours, make_sklearn, n_steps=6):
    sizes = [3, 4, 2]
    net = dp.Network(sizes, seed=1)
    params = []
    for W, b in zip(net.W, net.b):
        params += [W.copy(), b.copy()]
    # scikit-learn orders params as coefs_ then intercepts_ (row-major coefs)
    sk_params = [p.T.copy() for p in params[0::2]] + [p.ravel().copy() for p in params[1::2]]
    ours, theirs = make_ours(), make_sklearn(sk_params)
    for _ in range(n_steps):
        dW = [rng.normal(size=W.shape) for W in net.W]
        db = [rng.normal(size=b.shape) for b in net.b]
        sk_grads = [g.T.copy() for g in dW] + [g.ravel().copy() for g in db]
        ours.step(net, [g.copy() for g in dW], [g.copy() for g in db])
        theirs.update_params(sk_params, sk_grads)
    L = len(sizes) - 1
    for l in range(1, L + 1):
        np.testing.assert_allclose(net.W[l], sk_params[l - 1].T, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(net.b[l].ravel(), sk_params[L + l - 1], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_equals_scikit_learn(momentum, nesterov):
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    _random_run(
        lambda: SGD(lr=0.05, momentum=momentum, nesterov=nesterov),
        lambda p: SGDOptimizer(p, learning_rate_init=0.05, momentum=momentum, nesterov=nesterov),
    )


def test_adam_equals_scikit_learn():
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    _random_run(
        lambda: Adam(lr=0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-7),
        lambda p: AdamOptimizer(p, learning_rate_init=0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-7),
    )


def test_the_reference_comparison_can_fail():
    # A wrong momentum must be caught by the same comparison.
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    with pytest.raises(AssertionError):
        _random_run(
            lambda: SGD(lr=0.05, momentum=0.8, nesterov=False),
            lambda p: SGDOptimizer(p, learning_rate_init=0.05, momentum=0.9, nesterov=False),
        )


# --- state: export, import, learning rate -----------------------------------------------------


@pytest.mark.parametrize("make", [lambda: Adam(lr=0.01), lambda: SGD(lr=0.05, momentum=0.9)])
def test_state_dict_round_trip_continues_bit_for_bit(make):
    net = dp.Network([3, 5, 2], seed=4)
    grads = [
        ([rng.normal(size=W.shape) for W in net.W], [rng.normal(size=b.shape) for b in net.b])
        for _ in range(5)
    ]
    opt = make()
    for dW, db in grads[:3]:
        opt.step(net, [g.copy() for g in dW], [g.copy() for g in db])
    d = opt.state_dict()
    assert all(isinstance(v, (int, float, np.ndarray)) for v in d.values())
    assert all(isinstance(k, str) for k in d)
    net2 = net.copy()
    opt2 = make()
    opt2.load_state_dict(d)
    for dW, db in grads[3:]:
        opt.step(net, [g.copy() for g in dW], [g.copy() for g in db])
        opt2.step(net2, [g.copy() for g in dW], [g.copy() for g in db])
    for l in (1, 2):
        np.testing.assert_array_equal(net.W[l], net2.W[l])
        np.testing.assert_array_equal(net.b[l], net2.b[l])


def test_state_dict_keys_and_copies():
    net = dp.Network([2, 3, 1], seed=0)
    opt = Adam()
    assert set(opt.state_dict()) == {"lr", "beta_1", "beta_2", "epsilon", "t"}  # before a step
    opt.step(net, [np.ones((3, 2)), np.ones((1, 3))], [np.ones((3, 1)), np.ones((1, 1))])
    d = opt.state_dict()
    assert {"m.W.1", "v.W.1", "m.b.2", "v.b.2"} <= set(d)
    assert d["t"] == 1 and d["m.W.1"].shape == (3, 2)
    d["m.W.1"][...] = 99.0  # a copy: the optimiser's own state is unchanged
    assert not np.any(opt.state_dict()["m.W.1"] == 99.0)


def test_state_dict_for_another_network_is_refused():
    opt = Adam()
    opt.step(
        dp.Network([2, 3, 1], seed=0),
        [np.ones((3, 2)), np.ones((1, 3))],
        [np.ones((3, 1)), np.ones((1, 1))],
    )
    other = Adam()
    other.load_state_dict(opt.state_dict())
    net = dp.Network([2, 4, 1], seed=0)
    with pytest.raises(ValueError, match="shape"):
        other.step(net, [np.ones((4, 2)), np.ones((1, 4))], [np.ones((4, 1)), np.ones((1, 1))])


def test_lr_is_settable_and_used():
    net = _one_param_net(1.0)
    opt = SGD(lr=0.1)
    opt.lr = 0.5
    _steps(opt, net, [1.0])
    assert float(net.W[1][0, 0]) == pytest.approx(0.5)  # 1 - 0.5 * 1
    with pytest.raises(ValueError, match="lr"):
        opt.lr = 0.0


def test_float32_parameters_stay_float32():
    net = dp.Network([3, 4, 1], seed=0, dtype="float32")
    for opt in (SGD(lr=0.1, momentum=0.9), Adam()):
        dW = [np.ones(W.shape, np.float32) for W in net.W]
        db = [np.ones(b.shape, np.float32) for b in net.b]
        opt.step(net, dW, db)
        assert all(W.dtype == np.float32 for W in net.W)
        assert all(b.dtype == np.float32 for b in net.b)


def test_steps_on_array_api_strict_equal_numpy():
    xps = pytest.importorskip("array_api_strict")
    ref = dp.Network([3, 4, 2], seed=2)
    net = ref.to("array_api_strict")
    dW = [rng.normal(size=W.shape) for W in ref.W]
    db = [rng.normal(size=b.shape) for b in ref.b]
    for make in (lambda: SGD(lr=0.1, momentum=0.9), lambda: Adam(lr=0.01)):
        a, b_ = make(), make()
        for _ in range(2):
            a.step(ref, [g.copy() for g in dW], [g.copy() for g in db])
            b_.step(net, [xps.asarray(g) for g in dW], [xps.asarray(g) for g in db])
        for l in (1, 2):
            np.testing.assert_allclose(np.asarray(net.W[l]), ref.W[l], rtol=1e-14)


# --- construction errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SGD(lr=-1.0), "lr"),
        (lambda: SGD(momentum=1.0), "momentum"),
        (lambda: SGD(momentum="0.9"), "momentum"),
        (lambda: Adam(beta_1=1.0), "beta_1"),
        (lambda: Adam(beta_2=-0.1), "beta_2"),
        (lambda: Adam(epsilon=0.0), "epsilon"),
        (
            lambda: get_optimizer("rmsprop"),
            "unknown optimizer 'rmsprop'; known optimizers: adam, sgd",
        ),
        (lambda: Schedule("cosine"), "learning_rate must be one of constant, invscaling, adaptive"),
    ],
)
def test_bad_arguments_name_the_parameter(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_get_optimizer():
    assert isinstance(get_optimizer("adam", lr=0.1), Adam)
    opt = get_optimizer("SGD", lr=0.2, momentum=0.5)
    assert isinstance(opt, SGD) and opt.lr == 0.2 and opt.momentum == 0.5
    assert get_optimizer(opt) is opt


# --- schedules ------------------------------------------------------------------------------


def test_invscaling_schedule_matches_formula_and_scikit_learn():
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    opt = SGD(lr=0.1)
    sched = Schedule("invscaling", lr0=0.1, power_t=0.5)
    sched.epoch_end(opt, 99)
    assert opt.lr == pytest.approx(0.1 / math.sqrt(100), rel=1e-15)  # 0.1 / (99 + 1)^0.5 = 0.01
    sk = SGDOptimizer([np.zeros(1)], learning_rate_init=0.1, lr_schedule="invscaling", power_t=0.25)
    sched = Schedule("invscaling", lr0=0.1, power_t=0.25)
    for t in (10, 250, 4000):
        sk.iteration_ends(t)
        sched.epoch_end(opt, t)
        assert opt.lr == pytest.approx(sk.learning_rate, rel=1e-15)


def test_adaptive_schedule_divides_by_5_then_stops():
    opt = SGD(lr=1e-4)
    sched = Schedule("adaptive", lr0=1e-4)
    seen = []
    while sched.on_plateau(opt):
        seen.append(opt.lr)
    # 1e-4 / 5 = 2e-5, / 5 = 4e-6, / 5 = 8e-7 <= 1e-6: the next plateau stops training
    np.testing.assert_allclose(seen, [2e-5, 4e-6, 8e-7], rtol=1e-12)
    const = SGD(lr=0.1)
    assert not Schedule("constant", 0.1).on_plateau(const) and const.lr == 0.1
    Schedule("constant", 0.1).epoch_end(const, 1000)
    assert const.lr == 0.1

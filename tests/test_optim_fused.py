"""The NumPy update rules run in place and in cache-sized blocks: the same bits as the plain
transcription of the rule (issue 14), and no parameter-sized array allocated per step."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import optim
from deltaprop.optim import SGD, Adam


def _adam_by_the_book(params, grads_seq, lr, b1, b2, eps):
    """Adam as optim.py wrote it before issue 14: whole-vector NumPy operations, temporaries."""
    flat = [np.concatenate([p.ravel() for p in params])]
    m = np.zeros_like(flat[0])
    v = np.zeros_like(flat[0])
    theta = [p.copy() for p in params]
    for t, grads in enumerate(grads_seq, start=1):
        G = np.concatenate([g.ravel() for g in grads])
        eta_t = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        T = G * G
        T *= 1.0 - b2
        v *= b2
        v += T
        G *= 1.0 - b1
        m *= b1
        m += G
        D = np.sqrt(v)
        D += eps
        G[...] = m
        G /= D
        G *= -eta_t
        o = 0
        for th in theta:
            th += G[o : o + th.size].reshape(th.shape)
            o += th.size
    return theta


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [[3, 5, 1], [10, 200, 200, 1]])  # one block; three
def test_adam_in_place_blocks_are_bit_identical(dtype, sizes):
    net = dp.Network(sizes, dtype=dtype, seed=1)
    assert (net.n_parameters > 2 * optim._BLOCK) == (sizes[1] == 200)
    rng = np.random.default_rng(0)
    steps = [
        [rng.standard_normal(p.shape).astype(dtype) for pair in zip(net.W, net.b) for p in pair]
        for _ in range(4)
    ]
    params = [p for pair in zip(net.W, net.b) for p in pair]
    want = _adam_by_the_book(params, [[g.copy() for g in s] for s in steps], 1e-2, 0.9, 0.999, 1e-8)
    opt = Adam(lr=1e-2)
    for s in steps:
        opt.step(net, [g.copy() for g in s[0::2]], [g.copy() for g in s[1::2]])
    got = [p for pair in zip(net.W, net.b) for p in pair]
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [lambda: Adam(), lambda: SGD(momentum=0.9, nesterov=True)])
def test_no_parameter_sized_allocation_per_step(make):
    net = dp.Network([10, 200, 200, 1], seed=0)  # 42k parameters: 340 kB in float64
    rng = np.random.default_rng(0)
    dW = [rng.standard_normal(W.shape) for W in net.W]
    db = [rng.standard_normal(b.shape) for b in net.b]
    opt = make()
    opt.step(net, dW, db)  # the first step allocates the state and the buffers
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            opt.step(net, dW, db)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 20_000, f"a step allocated {peak} bytes (parameters: {8 * net.n_parameters})"


def test_a_gradient_already_in_the_buffer_is_not_copied():
    rng = np.random.default_rng(0)
    net1 = dp.Network([4, 6, 1], seed=0)
    net2 = net1.copy()
    steps = [
        [rng.standard_normal(p.shape) for pair in zip(net1.W, net1.b) for p in pair]
        for _ in range(3)
    ]
    opt1, opt2 = Adam(), Adam()
    for s in steps:
        opt1.step(net1, [g.copy() for g in s[0::2]], [g.copy() for g in s[1::2]])
        if opt2._G is None:  # the first step builds the buffer
            opt2.step(net2, [g.copy() for g in s[0::2]], [g.copy() for g in s[1::2]])
            continue
        views = opt2._views[id(opt2._G)]  # the gradients written straight into it
        for k, g in enumerate(s):
            views[k][...] = g
        opt2.step(net2, views[0::2], views[1::2])
    for a, b in zip([*net1.W, *net1.b], [*net2.W, *net2.b]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_path_into_the_optimizers_buffer_is_bit_identical(dtype):
    net = dp.Network([6, 20, 9, 2], seed=2, dtype=dtype, alpha=1e-3)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 33)).astype(dtype)
    Y = rng.normal(size=(2, 33)).astype(dtype)
    opt = Adam()
    out = opt._grad_buffers(net)
    assert out is not None
    J, dW, db = net._gradients(X, Y)
    J2, dW2, db2 = net._gradients(X, Y, out=out)
    assert J2 == J
    for a, b, o in zip([*dW, *db], [*dW2, *db2], [*out[0], *out[1]]):
        assert b is o  # written in place: the step's gather copies nothing
        np.testing.assert_array_equal(a, b)
    assert SGD(lr=0.1)._grad_buffers(net) is None  # plain SGD keeps no flat buffer

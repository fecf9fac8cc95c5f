"""backend="torch": the same equations on PyTorch tensors, CPU here and CUDA where one exists.

References: PyTorch's own autograd on the same weights (an independent autodiff), the NumPy
backend (itself checked against central differences and JAX), and central differences
(``dp.gradcheck``) on a torch network. CUDA tests skip cleanly without a GPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _array
from deltaprop.activations import ACTIVATIONS

torch = pytest.importorskip("torch")
F = torch.nn.functional

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# PyTorch's own versions of the activations: the reference autograd differentiates these.
TORCH_G = {
    "identity": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": F.softplus,
    "elu": lambda z: F.elu(z, 1.0),
}


def _data(n0, nL, m, seed, dtype="float64"):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n0, m)).astype(dtype), rng.normal(size=(nL, m)).astype(dtype)


def _rel(a, b):
    a, b = _array.to_numpy(a), _array.to_numpy(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def test_every_activation_has_a_torch_reference():
    assert set(TORCH_G) == set(ACTIVATIONS)


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_gradients_equal_torch_autograd(hidden):
    # An independent autodiff: PyTorch differentiates its own forward pass of the same network.
    sizes, alpha = [4, 7, 5, 2], 0.01
    net = dp.Network(sizes, hidden=hidden, seed=3, alpha=alpha, backend="torch")
    X, Y = (torch.asarray(a) for a in _data(4, 2, 9, seed=1))
    J, dW, db = net.gradients(X, Y)

    W = [w.clone().requires_grad_(True) for w in net.W]
    b = [v.clone().requires_grad_(True) for v in net.b]
    A = X
    for l in range(3):
        Z = W[l] @ A + b[l]
        A = TORCH_G[hidden](Z) if l < 2 else Z  # identity output
    J_ref = ((A - Y) ** 2).sum() / X.shape[1] + alpha / 2 * sum((w * w).sum() for w in W)
    J_ref.backward()
    assert pytest.approx(J_ref.item(), rel=1e-13) == J
    for l in range(1, 4):
        assert _rel(dW[l], W[l - 1].grad) <= 1e-12, l
        assert _rel(db[l], b[l - 1].grad) <= 1e-12, l


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize(
    ("output", "loss", "n_out"),
    [
        ("identity", "mse", 2),
        ("sigmoid", "binary_cross_entropy", 2),
        ("softmax", "cross_entropy", 3),
    ],
)
def test_gradients_equal_numpy_in_float64(hidden, output, loss, n_out):
    ref = dp.Network([4, 6, 5, n_out], hidden=hidden, output=output, loss=loss, seed=5, alpha=0.02)
    net = ref.to("torch")
    X, Y = _data(4, n_out, 11, seed=2)
    if loss != "mse":  # targets in [0, 1]; one-hot columns for softmax
        Y = np.eye(n_out)[:, np.arange(11) % n_out] if output == "softmax" else (Y > 0) * 1.0
    J_ref, dW_ref, db_ref = ref.gradients(X, Y)
    J, dW, db = net.gradients(torch.asarray(X), torch.asarray(Y))
    assert isinstance(dW[1], torch.Tensor) and dW[1].dtype == torch.float64
    assert pytest.approx(J_ref, rel=1e-12) == J
    for l in range(1, ref.L + 1):
        assert _rel(dW[l], dW_ref[l]) <= 1e-12
        assert _rel(db[l], db_ref[l]) <= 1e-12
    assert _rel(net.forward(torch.asarray(X)), ref.forward(X)) <= 1e-12


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_float32_close_to_float64(hidden):
    ref = dp.Network([4, 16, 3], hidden=hidden, seed=6)
    net = ref.to("torch", dtype="float32")
    X, Y = _data(4, 3, 32, seed=3)
    J, dW, _ = net.gradients(
        torch.asarray(X, dtype=torch.float32), torch.asarray(Y, dtype=torch.float32)
    )
    J_ref, dW_ref, _ = ref.gradients(X, Y)
    assert dW[1].dtype == torch.float32
    assert pytest.approx(J_ref, rel=1e-5) == J
    for l in (1, 2):
        assert _rel(dW[l], dW_ref[l]) <= 1e-4


def test_gradcheck_of_a_torch_network():
    net = dp.Network([3, 5, 2], hidden="tanh", backend="torch", seed=0)
    X, Y = _data(3, 2, 6, seed=4)
    assert dp.gradcheck(net, X, Y).ok


def test_numpy_and_integer_inputs_are_converted_other_floats_refused():
    net = dp.Network([3, 2], backend="torch", dtype="float32", seed=0)
    out = net.forward(np.ones((3, 4), dtype=np.float32))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert net.forward(torch.ones((3, 4), dtype=torch.int64)).dtype == torch.float32
    with pytest.raises(TypeError, match="X has dtype float64 but the network's dtype is float32"):
        net.forward(torch.ones((3, 4), dtype=torch.float64))


def test_to_copies_and_round_trips():
    net = dp.Network([3, 4, 1], seed=7)
    t = net.to("torch")
    assert t.backend == "torch" and isinstance(t.W[1], torch.Tensor)
    assert str(_array.device_of(t.W[1])) == "cpu"
    t.W[1].add_(1.0)  # the copy does not alias the original's parameters
    assert not np.allclose(net.W[1], t.W[1].numpy())
    back = net.to("torch", device="cpu", dtype="float32").to("numpy", dtype="float64")
    np.testing.assert_allclose(back.W[1], net.W[1], rtol=1e-7)
    assert back.W[1].dtype == np.float64


def test_matmul_precision_is_opt_in_and_restored():
    before = torch.get_float32_matmul_precision()
    with _array.matmul_precision("tf32"):
        assert torch.get_float32_matmul_precision() == "high"
        with _array.matmul_precision("bf16"):
            assert torch.get_float32_matmul_precision() == "medium"
        assert torch.get_float32_matmul_precision() == "high"
    assert torch.get_float32_matmul_precision() == before
    with pytest.raises(ValueError, match="precision must be one of highest, tf32, bf16; got 'fp8'"):
        _array.matmul_precision("fp8").__enter__()


def _fit_curve(backend, X, Y, optimizer):
    fit = pytest.importorskip("deltaprop.training").fit
    net = dp.Network([3, 8, 1], hidden="tanh", seed=8).to(backend)
    xp = net.xp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = fit(
            net,
            xp.asarray(X),
            xp.asarray(Y),
            optimizer=optimizer,
            lr=0.01,
            epochs=6,
            batch_size=16,
            seed=0,
            n_iter_no_change=None,
        )
    return h.loss, net


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_curves_equal_numpy_to_rounding(optimizer):
    # Same shuffling, same equations, same optimiser on another engine: the same curve.
    X, Y = _data(3, 1, 64, seed=9)
    curve_np, net_np = _fit_curve("numpy", X, Y, optimizer)
    curve_t, net_t = _fit_curve("torch", X, Y, optimizer)
    curve_s, _ = _fit_curve("array_api_strict", X, Y, optimizer)
    assert len(curve_t) == len(curve_np) == 6
    np.testing.assert_allclose(curve_t, curve_np, rtol=1e-12)
    np.testing.assert_allclose(curve_s, curve_np, rtol=1e-12)
    assert curve_np[-1] < curve_np[0]
    np.testing.assert_allclose(net_t.W[1].numpy(), net_np.W[1], rtol=1e-10, atol=1e-13)


# --- CUDA ------------------------------------------------------------------------------------


@cuda
@pytest.mark.gpu
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_cuda_gradients_equal_numpy(hidden):
    ref = dp.Network([4, 16, 8, 2], hidden=hidden, seed=10, alpha=0.01)
    net = ref.to("torch", device="cuda")
    assert net.W[1].is_cuda
    X, Y = _data(4, 2, 50, seed=11)
    J, dW, db = net.gradients(X, Y)  # NumPy inputs are moved to the network's device
    J_ref, dW_ref, db_ref = ref.gradients(X, Y)
    assert dW[1].is_cuda
    assert pytest.approx(J_ref, rel=1e-12) == J
    for l in range(1, ref.L + 1):
        assert _rel(dW[l], dW_ref[l]) <= 1e-12
        assert _rel(db[l], db_ref[l]) <= 1e-12


@cuda
@pytest.mark.gpu
def test_cuda_network_made_directly_and_float32():
    net = dp.Network([5, 32, 1], backend="torch", device="cuda", dtype="float32", seed=12)
    ref = dp.Network([5, 32, 1], seed=12)
    X, Y = _data(5, 1, 64, seed=13)
    J, dW, _ = net.gradients(
        torch.asarray(X, dtype=torch.float32, device="cuda"),
        torch.asarray(Y, dtype=torch.float32, device="cuda"),
    )
    J_ref, dW_ref, _ = ref.gradients(X, Y)
    assert pytest.approx(J_ref, rel=1e-5) == J
    assert _rel(dW[1], dW_ref[1]) <= 1e-4
    back = net.to("numpy")
    assert isinstance(back.W[1], np.ndarray)

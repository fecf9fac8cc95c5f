"""backend="cupy": the same equations on CuPy arrays. Needs CuPy and a CUDA device; skips cleanly.

Reference: the NumPy backend (itself checked against central differences and JAX) on the same
weights, to 1e-12 in float64. Without CuPy only the error message for the missing extra is
checked.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _array
from deltaprop.activations import ACTIVATIONS

HAVE_CUPY = importlib.util.find_spec("cupy") is not None


def _cuda_devices() -> int:
    if not HAVE_CUPY:
        return 0
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device: skip, never fail
        return 0


gpu = pytest.mark.skipif(_cuda_devices() == 0, reason="needs CuPy and a CUDA device")


@pytest.fixture
def cp():
    import cupy

    return cupy


def _data(n0, nL, m, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n0, m)), rng.normal(size=(nL, m))


def _rel(a, b):
    a, b = _array.to_numpy(a), _array.to_numpy(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.skipif(HAVE_CUPY, reason="CuPy is installed")
def test_missing_cupy_names_the_extra():
    with pytest.raises(ImportError, match=r"pip install 'deltaprop\[gpu\]'"):
        dp.Network([2, 1], backend="cupy")


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_gradients_equal_numpy_in_float64(cp, hidden):
    ref = dp.Network([4, 16, 8, 2], hidden=hidden, seed=1, alpha=0.01)
    net = ref.to("cupy")
    assert isinstance(net.W[1], cp.ndarray)
    X, Y = _data(4, 2, 40, seed=2)
    J, dW, db = net.gradients(cp.asarray(X), cp.asarray(Y))
    J_ref, dW_ref, db_ref = ref.gradients(X, Y)
    assert isinstance(dW[1], cp.ndarray)
    assert pytest.approx(J_ref, rel=1e-12) == J
    for l in range(1, ref.L + 1):
        assert _rel(dW[l], dW_ref[l]) <= 1e-12
        assert _rel(db[l], db_ref[l]) <= 1e-12


@gpu
@pytest.mark.gpu
def test_float32_and_round_trip(cp):
    ref = dp.Network([5, 32, 1], seed=3)
    net = dp.Network([5, 32, 1], seed=3, backend="cupy", dtype="float32")
    X, Y = _data(5, 1, 64, seed=4)
    J, dW, _ = net.gradients(X.astype(np.float32), Y.astype(np.float32))  # host inputs moved
    J_ref, dW_ref, _ = ref.gradients(X, Y)
    assert dW[1].dtype == cp.float32
    assert pytest.approx(J_ref, rel=1e-5) == J
    assert _rel(dW[1], dW_ref[1]) <= 1e-4
    back = net.to("numpy", dtype="float64")
    np.testing.assert_allclose(back.W[1], ref.W[1], rtol=1e-7)


@gpu
@pytest.mark.gpu
def test_dask_array_of_cupy_blocks(cp):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    ref = dp.Network([3, 8, 2], seed=5)
    net = ref.to("cupy")
    X, Y = _data(3, 2, 300, seed=6)
    Xd = da.from_array(cp.asarray(X), chunks=(3, 64), asarray=False)
    Yd = da.from_array(cp.asarray(Y), chunks=(2, 64), asarray=False)
    with dask.config.set(scheduler="synchronous"):
        J, dW, _ = dp.distributed.gradients(net, Xd, Yd)
    J_ref, dW_ref, _ = ref.gradients(X, Y)
    assert isinstance(dW[1], cp.ndarray)
    assert pytest.approx(J_ref, rel=1e-10) == J
    assert _rel(dW[1], dW_ref[1]) <= 1e-10


@gpu
@pytest.mark.gpu
def test_matmul_precision_sets_and_restores_cupy_compute_type(cp):
    from cupy._core import _routines_linalg as linalg

    before = linalg.get_compute_type(np.float32)
    major = int(cp.cuda.Device().compute_capability) // 10
    with _array.matmul_precision("tf32"):
        expected = linalg.COMPUTE_TYPE_TF32 if major >= 8 else linalg.COMPUTE_TYPE_DEFAULT
        assert linalg.get_compute_type(np.float32) == expected
    assert linalg.get_compute_type(np.float32) == before

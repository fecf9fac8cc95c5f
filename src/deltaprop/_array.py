"""Array namespace, dtype and device helpers: the only module that knows which engine runs.

The math modules (``activations``, ``losses``, ``network``) use only the Python array API
standard (https://data-apis.org/array-api/), reached through :func:`namespace`. The same code
then runs on NumPy, PyTorch, CuPy, Dask blocks and ``array_api_strict`` (which rejects anything
outside the standard, so the tests use it to prove no NumPy-only call hides in the core).

======================  ===========================================================
``namespace(*arrays)``   the array-API namespace of the arrays (fast path for NumPy)
``backend_namespace``    the namespace of a backend name: numpy, torch, cupy, ...
``resolve_dtype``        "float32"/"float64" -> the namespace's dtype object
``to_numpy``             any supported array -> a NumPy array (host memory)
``matmul_precision``     opt-in TF32/bf16 tensor-core matrix products on GPUs (float32)
======================  ===========================================================
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import array_api_compat
import array_api_compat.numpy as _np_xp
import numpy as np

BACKENDS = ("numpy", "torch", "cupy", "jax", "array_api_strict")
"""Names accepted by ``Network(backend=...)`` and ``Network.to``."""

DTYPES = ("float32", "float64")
"""Floating dtypes a network may hold its parameters in."""


def namespace(*arrays: Any) -> Any:
    """The array-API namespace shared by ``arrays``.

    NumPy arrays take a fast path (this is called on every forward pass); everything else goes
    through :func:`array_api_compat.array_namespace`, which raises ``TypeError`` for arrays of
    different libraries.
    """
    if all(type(a) is np.ndarray for a in arrays):
        return _np_xp
    return array_api_compat.array_namespace(*arrays)


def backend_namespace(backend: str) -> Any:
    """The namespace for a backend name (see :data:`BACKENDS`).

    Raises ``ValueError`` for an unknown name and ``ImportError`` with the extra to install when
    the backend's library is missing.
    """
    if backend == "numpy":
        return _np_xp
    if backend == "torch":
        try:
            import array_api_compat.torch as xp_torch
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "backend='torch' needs PyTorch: pip install 'deltaprop[torch]'"
            ) from e
        return xp_torch
    if backend == "cupy":
        try:
            import array_api_compat.cupy as cupy_xp
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("backend='cupy' needs CuPy: pip install 'deltaprop[gpu]'") from e
        return cupy_xp
    if backend == "jax":  # the compiled engine (deltaprop._jax); float64 needs x64 mode
        try:
            import jax
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("backend='jax' needs JAX: pip install 'deltaprop[jax]'") from e
        jax.config.update("jax_enable_x64", True)
        return jax.numpy  # itself an array-API namespace
    if backend == "array_api_strict":
        try:
            import array_api_strict as strict_xp
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("backend='array_api_strict' needs array-api-strict") from e
        return strict_xp
    raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")


def backend_name(xp: Any) -> str:
    """The backend name of a namespace (inverse of :func:`backend_namespace`)."""
    if array_api_compat.is_numpy_namespace(xp):
        return "numpy"
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_cupy_namespace(xp):
        return "cupy"
    if array_api_compat.is_jax_namespace(xp):
        return "jax"
    if array_api_compat.is_array_api_strict_namespace(xp):
        return "array_api_strict"
    if array_api_compat.is_dask_namespace(xp):
        return "dask"
    return getattr(xp, "__name__", repr(xp))


def resolve_dtype(xp: Any, dtype: Any) -> Any:
    """The floating dtype object of ``xp`` named by ``dtype`` ("float32" or "float64").

    ``dtype`` may also be a dtype object of any library whose name is one of :data:`DTYPES`.
    """
    name = dtype_name(dtype)
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    return getattr(xp, name)


def dtype_name(dtype: Any) -> str:
    """ "float32" for ``np.float32``, ``torch.float32``, ``"float32"`` and the like."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return np.dtype(dtype).name
    if isinstance(dtype, np.dtype):
        return dtype.name
    text = str(dtype)
    return text.rsplit(".", 1)[-1].replace("'>", "").replace("<class '", "")


def is_floating(xp: Any, dtype: Any) -> bool:
    """Whether ``dtype`` is a real floating dtype of ``xp``."""
    return xp.isdtype(dtype, "real floating")


def is_jax(x: Any) -> bool:
    """Whether ``x`` is a JAX array (without importing JAX)."""
    return array_api_compat.is_jax_array(x)


def is_dask(x: Any) -> bool:
    """Whether ``x`` is a Dask array (without importing Dask)."""
    return array_api_compat.is_dask_array(x)


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a scipy.sparse matrix or array (without importing scipy)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(x))


def device_of(x: Any) -> Any:
    """The device an array lives on (``"cpu"`` for NumPy)."""
    return array_api_compat.device(x)


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy (or view) of any supported array, moved to host memory if needed."""
    if type(x) is np.ndarray:
        return x
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_dask_array(x):
        return np.asarray(x.compute())
    # array_api_strict and other buffer-protocol arrays
    try:
        return np.asarray(x)
    except (TypeError, ValueError):
        return np.from_dlpack(x)


def from_numpy(xp: Any, x: np.ndarray, dtype: Any = None, device: Any = None) -> Any:
    """An array of namespace ``xp`` holding a copy of the values of the NumPy array ``x``.

    Always a copy: ``torch.asarray`` alone would share memory with ``x``, so a network made by
    :meth:`~deltaprop.network.Network.to` would alias the parameters of the original.
    """
    kwargs: dict[str, Any] = {}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if device is not None:
        kwargs["device"] = device
    if array_api_compat.is_numpy_namespace(xp):
        return np.array(x, dtype=dtype, copy=True, order="C")
    return xp.asarray(np.ascontiguousarray(x), copy=True, **kwargs)


def item(x: Any) -> float:
    """A Python float from a 0-d array of any backend."""
    return float(to_numpy(x))


MATMUL_PRECISIONS = ("highest", "tf32", "bf16")
"""Settings of :func:`matmul_precision`."""

_TORCH_PRECISION = {"highest": "highest", "tf32": "high", "bf16": "medium"}


@contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """Opt in to reduced-precision float32 matrix products on GPU tensor cores, in a block.

    ``"highest"`` (the default everywhere) computes float32 products in float32. ``"tf32"``
    lets them round their inputs to TensorFloat-32 (10 mantissa bits), ``"bf16"`` to bfloat16
    (7 bits), with float32 accumulation: several times faster on NVIDIA GPUs from the Ampere
    generation on, at a relative error of about 1e-3 (tf32) or 1e-2 (bf16) per product.
    ``benchmarks/gpu.py --precision`` measures speed and the effect on the gradients.

    PyTorch: ``torch.set_float32_matmul_precision`` ("high", "medium"), restored on exit.
    CuPy: the float32 compute type of cuBLAS (``COMPUTE_TYPE_TF32``/``COMPUTE_TYPE_BF16``),
    restored on exit. Only libraries already imported are touched; NumPy and float64 products
    are never affected.

    >>> import deltaprop._array as _array
    >>> with _array.matmul_precision("tf32"):
    ...     pass                                # float32 GPU products may use TF32 in here
    """
    if precision not in MATMUL_PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(MATMUL_PRECISIONS)}; got {precision!r}"
        )
    restore = []
    torch = sys.modules.get("torch")
    if torch is not None:
        before = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision(_TORCH_PRECISION[precision])
        restore.append(lambda: torch.set_float32_matmul_precision(before))
    if "cupy" in sys.modules:
        restore_cupy = _set_cupy_compute_type(precision)
        if restore_cupy is not None:
            restore.append(restore_cupy)
    try:
        yield
    finally:
        for undo in reversed(restore):
            undo()


def _set_cupy_compute_type(precision: str) -> Any:
    """Set CuPy's float32 cuBLAS compute type; returns the function that restores it."""
    try:
        import cupy._core._routines_linalg as linalg  # private, stable since CuPy 8
    except ImportError:  # pragma: no cover - depends on the CuPy version
        return None
    before = linalg.get_compute_type(np.float32)
    kind = {
        "highest": linalg.COMPUTE_TYPE_DEFAULT,
        "tf32": linalg.COMPUTE_TYPE_TF32,
        "bf16": linalg.COMPUTE_TYPE_BF16,
    }[precision]
    linalg.set_compute_type(np.float32, kind)
    return lambda: linalg.set_compute_type(np.float32, before)

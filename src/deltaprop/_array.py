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
======================  ===========================================================
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import array_api_compat.numpy as _np_xp
import numpy as np

BACKENDS = ("numpy", "torch", "cupy", "array_api_strict")
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
            import array_api_compat.torch as xp
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "backend='torch' needs PyTorch: pip install 'deltaprop[torch]'"
            ) from e
        return xp
    if backend == "cupy":
        try:
            import array_api_compat.cupy as xp
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("backend='cupy' needs CuPy: pip install 'deltaprop[gpu]'") from e
        return xp
    if backend == "array_api_strict":
        try:
            import array_api_strict as xp
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("backend='array_api_strict' needs array-api-strict") from e
        return xp
    raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")


def backend_name(xp: Any) -> str:
    """The backend name of a namespace (inverse of :func:`backend_namespace`)."""
    if array_api_compat.is_numpy_namespace(xp):
        return "numpy"
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_cupy_namespace(xp):
        return "cupy"
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
    """"float32" for ``np.float32``, ``torch.float32``, ``"float32"`` and the like."""
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
    """An array of namespace ``xp`` holding the values of the NumPy array ``x``."""
    kwargs: dict[str, Any] = {}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if device is not None:
        kwargs["device"] = device
    if array_api_compat.is_numpy_namespace(xp):
        return np.array(x, dtype=dtype, copy=True, order="C")
    return xp.asarray(np.ascontiguousarray(x), **kwargs)


def item(x: Any) -> float:
    """A Python float from a 0-d array of any backend."""
    return float(to_numpy(x))

"""The shared argument checks, written once: numbers, integers, seeds, dtypes, array copies.

User errors are exceptions that name the parameter and the value (``"lr must be a finite
number in (0, inf); got -1"``); every module of the package that takes numbers from a user
checks them here, so the same mistake reads the same everywhere. ``graph/`` keeps its own
checks so that it stays standalone (plain Python floats, no NumPy).
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

import numpy as np

from . import _array


def is_int(x: Any) -> TypeGuard[int]:
    """Whether ``x`` is an integer (Python or NumPy), not a bool."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def is_real(x: Any) -> TypeGuard[float]:
    """Whether ``x`` is a real number (Python or NumPy, integer or float), not a bool."""
    return is_int(x) or isinstance(x, (float, np.floating))


def number(
    value: Any,
    name: str,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float in the interval, or a TypeError/ValueError naming ``name``.

    The messages say the interval: ``"lr must be a finite number > 0; got -1"``,
    ``"momentum must be a finite number in [0, 1); got 1.5"``, ``"alpha must be a number >=
    0; got 'a'"``.
    """
    if high == math.inf:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
    else:
        bound = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if not is_real(value):
        raise TypeError(f"{name} must be a number {bound}; got {value!r}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond float range
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}") from None
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if not math.isfinite(v) or too_low or too_high:
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return v


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``: TypeError if not an integer, ValueError if smaller."""
    if not is_int(value):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    return int(value)


def seed(value: Any) -> int:
    """A seed as an int >= 0; ``None`` draws one from the operating system's entropy."""
    if value is None:
        entropy: Any = np.random.SeedSequence().entropy  # an int when drawn, as here
        return int(entropy)
    if not is_int(value) or value < 0:
        raise ValueError(f"seed must be None or an integer >= 0; got {value!r}")
    return int(value)


def dtype_mismatch(name: str, got: str, want: str) -> str:
    """The message for float data of another dtype than the network's."""
    return (
        f"{name} has dtype {got} but the network's dtype is {want}: convert {name} "
        f"({name}.astype(...)) or the network (net.astype(...))"
    )


def copy(x: Any) -> Any:
    """An independent copy of an array of any backend, on the same device."""
    if type(x) is np.ndarray:
        return x.copy()
    return _array.namespace(x).asarray(x, copy=True)


__all__ = ["copy", "dtype_mismatch", "is_int", "is_real", "number", "positive_int", "seed"]

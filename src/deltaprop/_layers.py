"""``Layers``: a list numbered like the math, 1..L, for everything that has one entry per layer.

``net.W``, ``net.b``, ``net.g``, the gradients ``dW``/``db``, ``delta`` from back-propagation,
the best weights of a training state and each epoch's row of gradient norms are all
``Layers``: ``x[1]`` is layer 1, ``x[L]`` (or ``x[-1]``) layer L, and ``x[0]`` raises an
``IndexError`` that says why. Nothing inside the package pads a list with ``None`` at 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import _array


class Layers(Sequence):
    """A list numbered like the math: ``layers[1]`` .. ``layers[L]``; there is no layer 0.

    Negative indices count from the end (``layers[-1]`` is layer L). Iteration yields
    layers 1..L in order. Assignment goes through ``validate(l, value)`` when one is given.
    """

    def __init__(
        self,
        items: Sequence[Any],
        name: str,
        validate: Callable[[int, Any], Any] | None = None,
    ) -> None:
        self._items = list(items)
        self._name = name
        self._validate = validate

    def _position(self, l: Any) -> int:
        L = len(self._items)
        if isinstance(l, slice) or not isinstance(l, (int, np.integer)) or isinstance(l, bool):
            raise TypeError(f"{self._name}[...] takes a layer number 1..{L}; got {l!r}")
        if l == 0:
            raise IndexError(
                f"{self._name}[0] does not exist: layers are numbered 1..{L} as in the math "
                f"({self._name}[1] is the first layer; A[0] = X is the input, not a layer)"
            )
        if 1 <= l <= L:
            return int(l) - 1
        if -L <= l < 0:
            return L + int(l)
        raise IndexError(f"{self._name}[{l}] does not exist: layers are numbered 1..{L}")

    def __getitem__(self, l: Any) -> Any:
        if type(l) is int and 0 < l <= len(self._items):  # the common case, first and cheap
            return self._items[l - 1]
        return self._items[self._position(l)]

    def __setitem__(self, l: Any, value: Any) -> None:
        pos = l - 1 if type(l) is int and 0 < l <= len(self._items) else self._position(l)
        if self._validate is not None:
            value = self._validate(pos + 1, value)
        self._items[pos] = value

    def copy(self) -> Layers:
        """A new ``Layers`` of the same items (not copied), name and validation."""
        return Layers(self._items, self._name, self._validate)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        """Equal to another sequence of the same items in layer order (numbers, not arrays)."""
        if isinstance(other, (Layers, list, tuple)):
            return self._items == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """``np.asarray(layers)``: the items in layer order (a row of numbers, say)."""
        return np.asarray(self._items, dtype=dtype)

    def __repr__(self) -> str:
        """Every layer's value under its number: ``dW[1] (2, 2) = [[...]]``; arrays on any
        backend are shown through NumPy (large ones summarised as NumPy does)."""
        head = f"Layers({self._name}[1..{len(self._items)}]"
        if not self._items:
            return head + ")"
        lines = [head + ":"]
        for l, item in enumerate(self._items, 1):
            shape = getattr(item, "shape", None)
            if shape is not None:
                try:
                    text = np.array2string(np.asarray(_array.to_numpy(item)), prefix="    ")
                except (TypeError, ValueError):  # pragma: no cover - an unconvertible array
                    text = repr(item)
                lines.append(f"  {self._name}[{l}] {tuple(shape)} =")
                lines.append("    " + text)
            else:
                lines.append(f"  {self._name}[{l}] = {item!r}")
        return "\n".join(lines) + "\n)"


__all__ = ["Layers"]

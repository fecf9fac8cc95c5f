r"""Weight initialisation: He for the ReLU family, Glorot otherwise, zero biases.

For layer :math:`l` with fan-in :math:`n_{l-1}` and fan-out :math:`n_l`:

* He (normal), for ``relu``, ``leaky_relu`` and ``elu`` layers:
  :math:`W^{[l]}_{jk} \sim \mathcal N(0,\ 2 / n_{l-1})`;
* Glorot (uniform), for every other activation:
  :math:`W^{[l]}_{jk} \sim \mathcal U(-r, r)`, :math:`r = \sqrt{6 / (n_{l-1} + n_l)}`;
* :math:`b^{[l]} = 0`.

The layer's *own* activation :math:`g^{[l]}` picks the rule. Values are drawn in float64 with
NumPy's ``Generator`` and only then converted, so a seed gives the same weights (to the
precision of the dtype) on every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HE_ACTIVATIONS = frozenset({"relu", "leaky_relu", "elu"})
"""Activations whose layers get He initialisation."""


def as_generator(seed: Any) -> np.random.Generator:
    """``seed`` (None, an int or a ``numpy.random.Generator``) as a ``Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, an int or a numpy.random.Generator; got {seed!r}")


def he_normal(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """W of shape ``(n_out, n_in)`` with entries N(0, 2/n_in), float64."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))


def glorot_uniform(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """W of shape ``(n_out, n_in)`` with entries U(−r, r), r = sqrt(6/(n_in + n_out)), float64."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_out, n_in))


def initial_parameters(
    sizes: list[int], activation_names: list[str], seed: Any = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Float64 NumPy W^[l], b^[l] for l = 1..L (returned as lists of length L, index l−1).

    Parameters
    ----------
    sizes : list of int
        ``[n_0, n_1, ..., n_L]``.
    activation_names : list of str
        The activation name of layers 1..L (length L).
    seed : None, int or numpy.random.Generator
    """
    rng = as_generator(seed)
    W, b = [], []
    for l in range(1, len(sizes)):
        n_in, n_out = sizes[l - 1], sizes[l]
        rule = he_normal if activation_names[l - 1] in HE_ACTIVATIONS else glorot_uniform
        W.append(rule(rng, n_out, n_in))
        b.append(np.zeros((n_out, 1)))
    return W, b


__all__ = ["HE_ACTIVATIONS", "as_generator", "glorot_uniform", "he_normal", "initial_parameters"]

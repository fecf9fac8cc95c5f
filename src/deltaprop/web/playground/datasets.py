"""The playground's data: 2-D classification sets, 1-D regression curves, the user's CSV.

Every generator returns raw (unstandardised) arrays with **samples as columns**, as the rest
of deltaprop: ``X`` of shape ``(n_0, m)`` (``n_0 = 2`` for classification, 1 for regression)
and ``Y`` of shape ``(1, m)`` (labels 0/1, or the curve's values). They are pure functions of
their arguments (seeded NumPy generators), so a session can rebuild its data exactly.

The user's CSV (:func:`parse_csv`) is parsed from text held in memory, never from a path; its
size and row count are bounded, and error messages name the line and column without echoing
the file's contents back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

CLASSIFICATION = ("moons", "circles", "xor", "spiral", "blobs")
"""Names of the 2-D classification sets (two classes, labels 0 and 1)."""

REGRESSION = ("sine", "cubic", "abs", "step", "bump")
"""Names of the 1-D regression curves y = f(x) + noise."""

CSV_MAX_BYTES = 256 * 1024
CSV_MAX_ROWS = 2000


def kind_of(name: str) -> str:
    """``"classification"`` or ``"regression"`` for a data set name (``"csv"`` is decided by
    the file's columns)."""
    if name in CLASSIFICATION:
        return "classification"
    if name in REGRESSION:
        return "regression"
    raise ValueError(f"unknown data set {name!r}")


def _moons(rng: np.random.Generator, m: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    P, y = make_moons(m, noise=noise * 0.3, random_state=int(rng.integers(2**31)))
    return P.T, y[None, :].astype(np.float64)


def _circles(rng: np.random.Generator, m: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    P, y = make_circles(m, noise=noise * 0.15, factor=0.5, random_state=int(rng.integers(2**31)))
    return P.T, y[None, :].astype(np.float64)


def _blobs(rng: np.random.Generator, m: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    centers = np.array([[-1.5, -1.0], [1.5, 1.0]])
    P, y = make_blobs(
        m, centers=centers, cluster_std=0.3 + 1.2 * noise, random_state=int(rng.integers(2**31))
    )
    return P.T, y[None, :].astype(np.float64)


def _xor(rng: np.random.Generator, m: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    P = rng.uniform(-1.0, 1.0, size=(2, m))
    P += np.sign(P) * 0.05  # a small gap along the axes
    y = (P[0] * P[1] > 0).astype(np.float64)
    P = P + rng.normal(scale=0.25 * noise, size=P.shape)
    return P, y[None, :]


def _spiral(rng: np.random.Generator, m: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(m) % 2
    t = rng.uniform(0.0, 1.0, size=m)
    r = 0.15 + 0.85 * t
    angle = 1.75 * 2 * math.pi * t + math.pi * y
    P = np.stack([r * np.cos(angle), r * np.sin(angle)])
    P = P + rng.normal(scale=0.08 * noise, size=P.shape)
    return P, y[None, :].astype(np.float64)


_CURVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sine": lambda x: np.sin(2.0 * x),
    "cubic": lambda x: 0.25 * x**3 - x,
    "abs": lambda x: np.abs(x) - 1.0,
    "step": lambda x: np.where(x > 0, 1.0, -1.0),
    "bump": lambda x: 2.0 * np.exp(-2.0 * x**2) - 0.5,
}


def _curve(name: str) -> Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]:
    f = _CURVES[name]

    def make(rng: np.random.Generator, m: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.sort(rng.uniform(-3.0, 3.0, size=m))
        y = f(x) + rng.normal(scale=0.5 * noise, size=m)
        return x[None, :], y[None, :]

    return make


_GENERATORS: dict[str, Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]]
_GENERATORS = {
    "moons": _moons,
    "circles": _circles,
    "xor": _xor,
    "spiral": _spiral,
    "blobs": _blobs,
    **{name: _curve(name) for name in REGRESSION},
}


def generate(name: str, m: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``m`` samples of the named set with noise level ``noise`` in [0, 1].

    Returns
    -------
    X : ndarray of shape (2, m) or (1, m)
    Y : ndarray of shape (1, m)
        Labels 0/1 (classification) or curve values (regression).
    """
    if name not in _GENERATORS:
        raise ValueError(f"unknown data set {name!r}")
    X, Y = _GENERATORS[name](np.random.default_rng(seed), m, noise)
    return np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(Y, dtype=np.float64)


def split(
    X: np.ndarray, Y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A shuffled train/test split by columns: ``X_train, Y_train, X_test, Y_test``.

    The test part has ``round(test_fraction * m)`` samples (none when the fraction is 0); the
    training part keeps at least one.
    """
    m = X.shape[1]
    n_test = min(round(test_fraction * m), m - 1)
    idx = np.random.default_rng(seed + 1).permutation(m)
    test, train = np.sort(idx[:n_test]), np.sort(idx[n_test:])
    return X[:, train], Y[:, train], X[:, test], Y[:, test]


def parse_csv(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    """The user's CSV: two columns ``x, y`` (regression) or three ``x1, x2, label`` with labels
    0/1 (classification); an optional header line of names.

    Returns ``(kind, X, Y)`` with samples as columns. Raises ``ValueError`` naming the line
    and column of the first problem; the contents of the file are never quoted.
    """
    if len(text.encode("utf-8", "surrogatepass")) > CSV_MAX_BYTES:
        raise ValueError(f"the CSV file is larger than {CSV_MAX_BYTES // 1024} KiB")
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    if not lines:
        raise ValueError("the CSV file is empty")
    rows: list[list[float]] = []
    n_cols = None
    for k, (lineno, line) in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        if n_cols is None:
            n_cols = len(cells)
            if n_cols not in (2, 3):
                raise ValueError(
                    f"line {lineno}: the CSV must have 2 columns (x, y) or 3 (x1, x2, label); "
                    f"found {n_cols}"
                )
        elif len(cells) != n_cols:
            raise ValueError(f"line {lineno}: expected {n_cols} columns, found {len(cells)}")
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if k == 0:
                continue  # a header of column names
            j = next(j for j, c in enumerate(cells) if not _is_float(c))
            raise ValueError(f"line {lineno}, column {j + 1}: not a number") from None
        if not all(math.isfinite(v) for v in values):
            j = next(j for j, v in enumerate(values) if not math.isfinite(v))
            raise ValueError(f"line {lineno}, column {j + 1}: not a finite number")
        if any(abs(v) > 1e6 for v in values):
            j = next(j for j, v in enumerate(values) if abs(v) > 1e6)
            raise ValueError(f"line {lineno}, column {j + 1}: magnitude above 1e6")
        rows.append(values)
        if len(rows) > CSV_MAX_ROWS:
            raise ValueError(f"the CSV file has more than {CSV_MAX_ROWS} data rows")
    if len(rows) < 4:
        raise ValueError(f"the CSV file needs at least 4 data rows; found {len(rows)}")
    data = np.asarray(rows, dtype=np.float64).T
    if n_cols == 2:
        return "regression", data[:1].copy(), data[1:].copy()
    labels = data[2]
    if not np.all((labels == 0) | (labels == 1)):
        j = int(np.argmax((labels != 0) & (labels != 1)))
        raise ValueError(f"data row {j + 1}, column 3: the label must be 0 or 1")
    if labels.min() == labels.max():
        raise ValueError("column 3 holds only one class; a classification set needs both 0 and 1")
    return "classification", data[:2].copy(), data[2:].copy()


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True

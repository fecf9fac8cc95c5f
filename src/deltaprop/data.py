"""Data for training and prediction: bundled data sets, CSV and DataFrame tables, standardisation.

Everything here hands the core what it expects: float64 arrays with **samples as columns**,
``X`` of shape ``(n_0, m)`` and ``Y`` of shape ``(n_L, m)``, packed in a :class:`Dataset`
with the column names they came from. A tour:

* :func:`load_dataset` — the bundled data sets: ``"diabetes"`` (scikit-learn's, 442 × 10)
  and ``"friedman1"`` (generated with a fixed seed, 5000 × 10, noise 1.0).
* :func:`read_csv` — a CSV file with a header row; the target column(s) are chosen by name
  (default: the last column). A missing or non-numeric cell is a ``ValueError`` naming the
  file, its 1-based line number and the column.
* :func:`from_frame` — the same for a pandas ``DataFrame`` (pandas is not needed otherwise).
* :func:`load_data` — a bundled name or a CSV path, as the command line's ``--data`` takes.
* :func:`format_csv` — predictions back to CSV text, every float exact.
* :func:`split` — seeded train / validation / test split.
* :func:`regression_metrics` — R², RMSE and MAE (scikit-learn's) on column-major arrays.
* :class:`Standardization` — per-feature and per-target mean and scale, fitted on the
  training split only; stored in the model file (:mod:`deltaprop.io`) and applied again at
  prediction time.

Example
-------
>>> from deltaprop.data import load_dataset, split, Standardization
>>> data = load_dataset("diabetes")
>>> data.X.shape, data.Y.shape, data.target_names       # samples are columns
((10, 442), (1, 442), ['target'])
>>> parts = split(data, seed=0)
>>> std = Standardization.fit(*parts.train)
>>> Xs = std.transform_X(parts.train[0])
>>> bool(abs(Xs.mean(axis=1)).max() < 1e-12)
True
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import StringIO, TextIOWrapper
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import _files

DATASETS = ("diabetes", "friedman1")
"""Names accepted by :func:`load_dataset`."""

MAX_CSV_BYTES = 2**30
"""The largest CSV file read (1 GiB): a larger one, and anything that is not a regular file
(a FIFO, ``/dev/zero``, process substitution), is refused before a byte is read."""

_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none"})
"""Cell texts (lower-cased, stripped) read as a missing value."""


class Dataset(NamedTuple):
    """Inputs and targets with their column names; samples are columns.

    Attributes
    ----------
    X : ndarray of shape (n_0, m), float64
    Y : ndarray of shape (n_L, m), float64, or None when no target was asked for
    feature_names : list of str, length n_0
    target_names : list of str, length n_L (empty when ``Y`` is None)
    source : str
        Where the data came from (a data set name or a file path), for messages.
    """

    X: np.ndarray
    Y: np.ndarray | None
    feature_names: list[str]
    target_names: list[str]
    source: str


class Splits(NamedTuple):
    """``(X, Y)`` pairs of the train, validation and test parts (samples are columns)."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


# --- bundled data sets ---------------------------------------------------------------------------


def load_dataset(name: str) -> Dataset:
    """A bundled data set by name (see :data:`DATASETS`).

    ``"diabetes"``: scikit-learn's diabetes data (442 samples, 10 features already centred and
    scaled by scikit-learn, target: disease progression after one year). ``"friedman1"``:
    ``sklearn.datasets.make_friedman1(n_samples=5000, n_features=10, noise=1.0,
    random_state=0)``, features ``x0``..``x9`` (only x0..x4 matter).
    """
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        bunch = load_diabetes()
        X, y, features = bunch.data, bunch.target, list(bunch.feature_names)
    elif name == "friedman1":
        from sklearn.datasets import make_friedman1

        X, y = make_friedman1(n_samples=5000, n_features=10, noise=1.0, random_state=0)
        features = [f"x{j}" for j in range(X.shape[1])]
    else:
        raise ValueError(f"unknown data set {name!r}; bundled data sets: {', '.join(DATASETS)}")
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)
    Y = np.asarray(y, dtype=np.float64).reshape(1, -1)
    return Dataset(X, Y, features, ["target"], name)


def load_data(
    spec: str | Path,
    target: str | Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
) -> Dataset:
    """A bundled data set name, or the path of a CSV file (see :func:`read_csv`).

    ``target`` and ``features`` choose columns by name as in :func:`read_csv`. For a bundled
    data set ``target`` must be None or the data set's own target name, and the targets are
    always returned.
    """
    text = str(spec)
    if text in DATASETS:
        data = load_dataset(text)
        wanted = _names(target, "target")
        if wanted is not None and wanted != data.target_names:
            raise ValueError(
                f"target {target!r} is not a column of the bundled data set {text!r}; "
                f"its target is {', '.join(data.target_names)}"
            )
        chosen = _names(features, "features", text)
        if chosen is not None:
            _require(chosen, {n: j for j, n in enumerate(data.feature_names)}, text, "feature")
            rows = [data.feature_names.index(n) for n in chosen]
            data = data._replace(X=np.ascontiguousarray(data.X[rows]), feature_names=chosen)
        return data
    path = Path(spec)
    if not path.exists():
        hint = "" if path.suffix else f"; bundled data sets: {', '.join(DATASETS)}"
        raise ValueError(f"data {text!r} is neither a bundled data set nor an existing file{hint}")
    return read_csv(path, target, features=features)


# --- tables: CSV files and DataFrames ------------------------------------------------------------


def read_csv(
    path: str | Path,
    target: str | Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
) -> Dataset:
    """Read a numeric CSV file with a header row.

    Parameters
    ----------
    path : str or Path
    target : str, sequence of str or None
        Target column name(s); a string may list several separated by commas (``"y1,y2"``).
        Without ``features``, None means the last column.
    features : sequence of str, optional
        Input columns, by name, in this order (a model's feature names). Without it every
        column that is not a target is an input. With it, ``target=None`` reads no targets
        (``Y`` is None), as for prediction.

    Only the columns used are checked, so a file may carry other (e.g. text) columns when
    ``features`` is given. Errors are ``ValueError`` naming the file, the 1-based line number
    and the column.
    """
    path = Path(path)
    try:
        raw, _ = _files.open_regular(path, MAX_CSV_BYTES, "CSV file")
        with TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            rows: list[list[str]] = []
            lines: list[int] = []
            end = 0
            for record in reader:
                start, end = end + 1, reader.line_num  # a record's first and last line
                if not record or all(not cell.strip() for cell in record):
                    continue  # blank line
                if header is None:
                    header = [cell.strip() for cell in record]
                    header_line = reader.line_num
                    continue
                if len(record) != len(header) and any("\n" in c or "\r" in c for c in record):
                    raise ValueError(
                        f"{path}, line {start}: a quoted field opened on this line holds a line "
                        f"break (a missing closing quote?); found {len(record)} fields, "
                        f"expected {len(header)} as in the header (line {header_line})"
                    )
                if len(record) != len(header):
                    raise ValueError(
                        f"{path}, line {reader.line_num}: expected {len(header)} fields as in "
                        f"the header (line {header_line}), found {len(record)}"
                    )
                rows.append(record)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise ValueError(_not_utf8(path)) from None
    except csv.Error as e:
        raise ValueError(f"{path}: not a readable CSV file ({e})") from None
    if header is None:
        raise ValueError(f"{path}: the file is empty (expected a header row of column names)")
    for j, name in enumerate(header):
        if not name:
            raise ValueError(f"{path}, line {header_line}: column {j + 1} has no name")
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")

    def column(j: int) -> list[str]:
        return [row[j] for row in rows]

    labels = [f"line {n}" for n in lines]
    return _table(header, column, labels, target, features, str(path))


def _not_utf8(path: Path) -> str:
    """Where a file stops being UTF-8: its line and byte offset (the text reader's own error
    counts from the start of its current buffer, not of the file)."""
    raw = _files.read_regular(path, MAX_CSV_BYTES, "CSV file")
    skip = 3 if raw.startswith(b"\xef\xbb\xbf") else 0  # a UTF-8 byte-order mark
    try:
        raw[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = skip + e.start
        line = raw.count(b"\n", 0, at) + 1
        return (
            f"{path}, line {line}: not a UTF-8 text file ({e.reason}: byte 0x{raw[at]:02x} "
            f"at offset {at}); save it as UTF-8"
        )
    return f"{path}: not a UTF-8 text file"


def from_frame(
    frame: Any,
    target: str | Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
) -> Dataset:
    """A :class:`Dataset` from a pandas ``DataFrame`` (or anything with ``columns`` and
    ``__getitem__`` by column name), choosing columns as :func:`read_csv` does.

    Errors name the row by its index label.
    """
    if not hasattr(frame, "columns") or not hasattr(frame, "index"):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    header = [str(c) for c in frame.columns]
    if len(header) == 0 or len(frame.index) == 0:
        raise ValueError(f"frame must have at least one column and one row; got {frame.shape}")
    columns = list(frame.columns)
    labels = [f"row index {label!r}" for label in frame.index]

    def column(j: int) -> Any:
        return np.asarray(frame[columns[j]])

    return _table(header, column, labels, target, features, "DataFrame")


def _names(spec: str | Sequence[str] | None, param: str, source: str = "") -> list[str] | None:
    if spec is None:
        return None
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    where = f"{source}: " if source else ""
    if not names or any(not isinstance(s, str) or not s for s in names):
        raise ValueError(f"{where}{param} must name one or more columns; got {spec!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{where}{param} names a column twice: {spec!r}")
    return names


def _table(
    header: list[str],
    column: Callable[[int], Any],
    labels: list[str],
    target: str | Sequence[str] | None,
    features: Sequence[str] | None,
    source: str,
) -> Dataset:
    """Select the target and feature columns of a table and convert them to float64."""
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise ValueError(
                f"{source}: column name {name!r} appears twice (columns {seen[name] + 1} "
                f"and {j + 1})"
            )
        seen[name] = j
    targets = _names(target, "target", source)
    chosen = _names(features, "features", source)
    if chosen is None:
        if targets is None:
            targets = [header[-1]]
        _require(targets, seen, source, "target")
        chosen = [name for name in header if name not in targets]
        if not chosen:
            raise ValueError(
                f"{source}: no input columns left after taking the target(s) "
                f"{_columns(targets)}; columns: {_columns(header)}"
            )
    else:
        _require(chosen, seen, source, "feature")
        if targets is not None:
            _require(targets, seen, source, "target")
    X = np.stack([_numeric(column(seen[n]), n, labels, source) for n in chosen])
    Y = None
    if targets is not None:
        Y = np.stack([_numeric(column(seen[n]), n, labels, source) for n in targets])
    return Dataset(X, Y, list(chosen), list(targets or []), source)


def _columns(names: list[str], limit: int = 20) -> str:
    """Column names for a message: as they are when printable (quoted otherwise, so a line
    break in a name cannot break the message's line), the first ``limit`` of them."""
    shown = [n if n.isprintable() else repr(n) for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more


def _require(names: list[str], seen: dict[str, int], source: str, what: str) -> None:
    missing = [n for n in names if n not in seen]
    if missing:
        s = "s" if len(missing) > 1 else ""
        raise ValueError(
            f"{source}: no {what} column{s} named {', '.join(map(repr, missing))}; "
            f"columns: {_columns(list(seen))}"
        )


def _numeric(values: Any, name: str, labels: list[str], source: str) -> np.ndarray:
    """One column as float64, or a ValueError naming the first bad cell's row and column."""
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if out is not None and bool(np.isfinite(out).all()):
        return out
    for i, cell in enumerate(values):
        text = str(cell).strip()
        if cell is None or text.lower() in _MISSING:
            raise ValueError(f"{source}, {labels[i]}, column {name!r}: missing value")
        shown = repr(text) if len(text) <= 40 else repr(text[:30]) + f"... ({len(text)} chars)"
        try:
            value = float(text)
        except ValueError:
            raise ValueError(
                f"{source}, {labels[i]}, column {name!r}: non-numeric value {shown}"
            ) from None
        if not math.isfinite(value):
            raise ValueError(
                f"{source}, {labels[i]}, column {name!r}: non-finite value {shown} "
                f"(float64 holds magnitudes up to about 1.8e308)"
            )
    raise AssertionError("unreachable: a column that failed conversion has a bad cell")


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that a message stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_csv(names: Sequence[str], Y: Any) -> str:
    """``Y`` of shape ``(n, m)`` as CSV text: a header of the ``n`` names, then one line per
    sample (column of ``Y``), each float written exactly (``repr``), so it reads back bit for
    bit."""
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[0] != len(names):
        raise ValueError(f"Y must have shape ({len(names)}, m) to match names; got {Y.shape}")
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([repr(float(v)) for v in row] for row in Y.T)
    return buffer.getvalue()


# --- splitting and standardisation ---------------------------------------------------------------


def split(
    data: Dataset,
    *,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> Splits:
    """A seeded random split of the samples (columns) into train, validation and test parts.

    The fractions are of all samples; each part gets at least one sample.
    """
    if data.Y is None:
        raise ValueError(f"{data.source}: splitting needs targets; the data set has none")
    for name, value in (
        ("test_fraction", test_fraction),
        ("validation_fraction", validation_fraction),
    ):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be between 0 and 1; got {value!r}")
    if test_fraction + validation_fraction >= 1.0:
        raise ValueError(
            f"test_fraction + validation_fraction must be < 1; got {test_fraction} + "
            f"{validation_fraction}"
        )
    m = data.X.shape[1]
    n_test = max(1, round(test_fraction * m))
    n_val = max(1, round(validation_fraction * m))
    if m - n_test - n_val < 1:
        raise ValueError(
            f"{data.source}: {m} sample(s) are too few to split into train, "
            f"validation and test parts (at least 3 are needed)"
        )
    order = np.random.default_rng(seed).permutation(m)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]

    def part(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.sort(idx)
        return np.ascontiguousarray(data.X[:, idx]), np.ascontiguousarray(data.Y[:, idx])

    return Splits(part(train), part(val), part(test))


def regression_metrics(Y: Any, A: Any) -> dict[str, float]:
    """R², RMSE and MAE of predictions ``A`` for targets ``Y``, both of shape ``(n_L, m)``.

    scikit-learn's ``r2_score``, ``root_mean_squared_error`` and ``mean_absolute_error``,
    each averaged uniformly over the n_L outputs, in the targets' own units.
    """
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    Y_rows, A_rows = np.asarray(Y, dtype=np.float64).T, np.asarray(A, dtype=np.float64).T
    if Y_rows.shape != A_rows.shape:
        raise ValueError(
            f"Y and A must have the same shape (n_L, m); got {Y_rows.T.shape} and {A_rows.T.shape}"
        )
    r2 = float(r2_score(Y_rows, A_rows)) if Y_rows.shape[0] >= 2 else float("nan")
    return {
        "r2": r2,
        "rmse": float(root_mean_squared_error(Y_rows, A_rows)),
        "mae": float(mean_absolute_error(Y_rows, A_rows)),
    }


def _scaler(X: Any, names: Sequence[str] | None, param: str) -> Any:
    """scikit-learn's ``StandardScaler`` fitted on the rows of ``X`` (n, m), refusing rows whose
    mean or variance overflows (scikit-learn would silently give them scale 1)."""
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        scaler = StandardScaler().fit(X.T)
    bad = ~(np.isfinite(scaler.mean_) & np.isfinite(scaler.var_))
    if bad.any():
        j = int(np.argmax(bad))
        row = f"column {names[j]!r}" if names is not None else f"{param} row {j}"
        raise ValueError(
            f"cannot standardise {row}: its mean or variance overflows float64 (values up to "
            f"{float(np.max(np.abs(X[j]))):.3g} in magnitude); rescale it, e.g. divide by a "
            f"power of ten"
        )
    return scaler


@dataclass(frozen=True, eq=False)
class Standardization:
    r"""Per-row mean and scale of inputs (and targets): :math:`x' = (x - \mu) / s`.

    Fitted on the training split only (:meth:`fit`), stored with the model, applied again by
    prediction. A constant row gets scale 1 (as scikit-learn's ``StandardScaler``).

    Attributes
    ----------
    x_mean, x_scale : ndarray of shape (n_0,)
    y_mean, y_scale : ndarray of shape (n_L,), or None when targets are not standardised
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray | None = None
    y_scale: np.ndarray | None = None

    @classmethod
    def fit(
        cls,
        X: Any,
        Y: Any = None,
        *,
        feature_names: Sequence[str] | None = None,
        target_names: Sequence[str] | None = None,
    ) -> Standardization:
        """Means and standard deviations of ``X`` (n_0, m) and, if given, ``Y`` (n_L, m).

        Raises ``ValueError`` naming the row (by ``feature_names``/``target_names`` when
        given) whose mean or variance overflows float64, as values near 1e154 and beyond do.
        """
        x = _scaler(X, feature_names, "X")
        if Y is None:
            return cls(x.mean_, x.scale_)
        y = _scaler(Y, target_names, "Y")
        return cls(x.mean_, x.scale_, y.mean_, y.scale_)

    def transform_X(self, X: Any) -> np.ndarray:
        """``(X - x_mean) / x_scale`` row by row; ``X`` of shape (n_0, m)."""
        return (np.asarray(X, dtype=np.float64) - self.x_mean[:, None]) / self.x_scale[:, None]

    def transform_Y(self, Y: Any) -> np.ndarray:
        """``(Y - y_mean) / y_scale`` row by row (unchanged without target scaling)."""
        Y = np.asarray(Y, dtype=np.float64)
        if self.y_mean is None:
            return Y
        return (Y - self.y_mean[:, None]) / self.y_scale[:, None]

    def inverse_transform_Y(self, Y: Any) -> np.ndarray:
        """``Y * y_scale + y_mean``: network outputs (n_L, m) back in the targets' units."""
        Y = np.asarray(Y, dtype=np.float64)
        if self.y_mean is None:
            return Y
        return Y * self.y_scale[:, None] + self.y_mean[:, None]

    def to_dict(self) -> dict[str, list[float] | None]:
        """Plain lists for JSON (floats round-trip exactly through Python's ``json``)."""

        def listed(a: np.ndarray | None) -> list[float] | None:
            return None if a is None else [float(v) for v in a]

        return {
            "x_mean": listed(self.x_mean),
            "x_scale": listed(self.x_scale),
            "y_mean": listed(self.y_mean),
            "y_scale": listed(self.y_scale),
        }

    @classmethod
    def from_dict(cls, d: Any, n_0: int, n_L: int) -> Standardization:
        """Inverse of :meth:`to_dict`, checking every field: lengths ``n_0``/``n_L``, finite
        means, positive finite scales. Raises ``ValueError`` naming the field."""
        if not isinstance(d, dict) or set(d) != {"x_mean", "x_scale", "y_mean", "y_scale"}:
            raise ValueError(
                "standardization must have exactly the fields x_mean, x_scale, y_mean, y_scale; "
                f"got {sorted(d) if isinstance(d, dict) else type(d).__name__}"
            )
        out = {}
        for key, n in (("x_mean", n_0), ("x_scale", n_0), ("y_mean", n_L), ("y_scale", n_L)):
            v = d[key]
            if v is None and key.startswith("y"):
                out[key] = None
                continue
            if (
                not isinstance(v, list)
                or len(v) != n
                or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in v)
            ):
                raise ValueError(
                    f"standardization.{key} must be a list of {n} numbers; got {_short(v)}"
                )
            try:
                a = np.asarray(v, dtype=np.float64)
            except OverflowError:  # an integer beyond float64, e.g. 10**400 in the JSON
                a = np.full(n, np.inf)
            if not np.isfinite(a).all() or (key.endswith("scale") and not (a > 0).all()):
                what = "positive finite" if key.endswith("scale") else "finite"
                raise ValueError(f"standardization.{key} must hold {what} numbers; got {_short(v)}")
            out[key] = a
        if (out["y_mean"] is None) != (out["y_scale"] is None):
            raise ValueError("standardization.y_mean and y_scale must both be given or both null")
        return cls(**out)


__all__ = [
    "DATASETS",
    "Dataset",
    "Splits",
    "Standardization",
    "format_csv",
    "from_frame",
    "load_data",
    "load_dataset",
    "read_csv",
    "regression_metrics",
    "split",
]

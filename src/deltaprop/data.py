"""Data for training and prediction: bundled data sets, CSV and DataFrame tables, standardisation.

Everything here hands the core what it expects: float64 arrays with **samples as columns**,
``X`` of shape ``(n_0, m)`` and ``Y`` of shape ``(n_L, m)``, packed in a :class:`Dataset`
with the column names they came from. A tour:

* :func:`load_dataset` — the bundled data sets (no download; scikit-learn ships them):
  regression ``"diabetes"`` (442 × 10) and ``"friedman1"`` (generated with a fixed seed,
  5000 × 10, noise 1.0); classification ``"wine"`` (178 × 13, 3 classes),
  ``"breast_cancer"`` (569 × 30, 2 classes) and ``"digits"`` (1797 × 64, 10 classes).
* :func:`read_csv` — a CSV file with a header row; the target column(s) are chosen by name
  (default: the last column). The dialect: the separator is sniffed (``,`` ``;`` tab ``|``)
  unless given, ``decimal=","`` reads decimal commas, ``encoding`` any Python codec, an
  index column (pandas' ``to_csv``) is dropped and an id column carried to the predictions.
  A missing or non-numeric cell is a ``ValueError`` naming the file, its 1-based line
  number and the column; with ``labels=True`` a text target column holds class labels.
* :func:`from_frame` — the same for a pandas ``DataFrame`` (pandas is not needed otherwise).
* :func:`load_data` — a bundled name or a CSV path, as the command line's ``--data`` takes.
* :func:`format_csv` — predictions back to CSV text, every float exact.
* :func:`split` — seeded train / validation / test split.
* :func:`regression_metrics` — R², RMSE and MAE (scikit-learn's) on column-major arrays.
* :func:`detect_task` and :class:`Labels` — regression or classification from the target
  (text, or few integer values: classification; several 0/1 columns: multi-label), and the
  label encoding (one-hot for softmax, one 0/1 row for two classes) and its inverse.
* :func:`classification_metrics` — scikit-learn's accuracy, balanced accuracy, log-loss and
  confusion matrix.
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

import codecs
import csv
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import StringIO, TextIOWrapper
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import _files

DATASETS = ("diabetes", "friedman1", "wine", "breast_cancer", "digits")
"""Names accepted by :func:`load_dataset`."""

CLASSIFICATION_DATASETS = ("wine", "breast_cancer", "digits")
"""The bundled data sets whose target is a class label."""

SEPARATORS = (",", ";", "\t", "|")
"""The separators :func:`read_csv` sniffs, in order of preference on a tie."""

MAX_CLASSES = 20
"""Integer targets with at most this many distinct values are class labels (:func:`detect_task`)."""

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
    ids : list of str or None
        One id per sample (the ``id_col`` or index column of a CSV file), carried to the
        predictions.
    classes : list of str or None
        When the target is a text label: the sorted distinct labels, and ``Y`` (1, m) holds
        each sample's index into them (float64).
    """

    X: np.ndarray
    Y: np.ndarray | None
    feature_names: list[str]
    target_names: list[str]
    source: str
    ids: list[str] | None = None
    classes: list[str] | None = None


class Splits(NamedTuple):
    """``(X, Y)`` pairs of the train, validation and test parts (samples are columns)."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


# --- bundled data sets ---------------------------------------------------------------------------


def load_dataset(name: str) -> Dataset:
    """A bundled data set by name (see :data:`DATASETS`); nothing is downloaded.

    ``"diabetes"``: scikit-learn's diabetes data (442 samples, 10 features already centred and
    scaled by scikit-learn, target: disease progression after one year). ``"friedman1"``:
    ``sklearn.datasets.make_friedman1(n_samples=5000, n_features=10, noise=1.0,
    random_state=0)``, features ``x0``..``x9`` (only x0..x4 matter). Classification, with
    scikit-learn's label names: ``"wine"`` (178 samples, 13 features, classes ``class_0``,
    ``class_1``, ``class_2``), ``"breast_cancer"`` (569 samples, 30 features, ``benign`` or
    ``malignant``), ``"digits"`` (1797 8×8 images as 64 pixel values 0..16, labels 0..9).
    A text label is stored as in :class:`Dataset`: ``classes`` and indices in ``Y``.
    """
    from sklearn import datasets

    classes = None
    if name == "friedman1":
        X, y = datasets.make_friedman1(n_samples=5000, n_features=10, noise=1.0, random_state=0)
        features = [f"x{j}" for j in range(X.shape[1])]
    elif name in ("diabetes", "wine", "breast_cancer", "digits"):
        bunch = getattr(datasets, f"load_{name}")()
        X, y = bunch.data, bunch.target
        features = [str(f) for f in getattr(bunch, "feature_names", [])]
        if name in ("wine", "breast_cancer"):  # text labels, sorted as Labels sorts them
            text = np.asarray([str(t) for t in bunch.target_names])[y]
            classes_array, y = np.unique(text, return_inverse=True)
            classes = [str(c) for c in classes_array]
    else:
        raise ValueError(f"unknown data set {name!r}; bundled data sets: {', '.join(DATASETS)}")
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)
    Y = np.asarray(y, dtype=np.float64).reshape(1, -1)
    return Dataset(X, Y, features, ["target"], name, None, classes)


def load_data(
    spec: str | Path,
    target: str | Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    **csv_options: Any,
) -> Dataset:
    """A bundled data set name, or the path of a CSV file (see :func:`read_csv`).

    ``target`` and ``features`` choose columns by name as in :func:`read_csv`; the other
    keywords (``sep``, ``decimal``, ``encoding``, ``index_col``, ``id_col``, ``labels``) are
    :func:`read_csv`'s and apply to files only. For a bundled data set ``target`` must be
    None or the data set's own target name, and the targets are always returned.
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
    return read_csv(path, target, features=features, **csv_options)


# --- tables: CSV files and DataFrames ------------------------------------------------------------


def read_csv(
    path: str | Path,
    target: str | Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    sep: str | None = None,
    decimal: str = ".",
    encoding: str = "utf-8",
    index_col: str | int | None = None,
    id_col: str | None = None,
    labels: bool = False,
) -> Dataset:
    """Read a numeric CSV file with a header row.

    Parameters
    ----------
    path : str or Path
    target : str, sequence of str or None
        Target column name(s); a string may list several separated by commas (``"y1,y2"``).
        Without ``features``, None means the last column (that is not the id column).
    features : sequence of str, optional
        Input columns, by name, in this order (a model's feature names). Without it every
        column that is not a target (nor the id or index column) is an input. With it,
        ``target=None`` reads no targets (``Y`` is None), as for prediction.
    sep : str, optional
        The field separator; None sniffs it from the first lines: of :data:`SEPARATORS`, the
        one that splits every line into the same number (> 1) of fields, the most fields
        winning (``,`` when none does).
    decimal : {".", ","}
        The decimal mark of the numbers (``","``: ``1,5`` is 1.5; the separator must differ).
    encoding : str, default "utf-8"
        The file's text encoding (any Python codec name: ``"latin-1"``, ``"cp1252"``,
        ``"utf-16"``); a UTF-8 byte-order mark is skipped.
    index_col : str or int, optional
        A column (by name, or 0-based position) that only numbers the rows, as pandas'
        ``to_csv`` writes one: it is not read as data. A first column with an empty name is
        taken as such an index column without asking.
    id_col : str, optional
        A column of sample ids (any text), not read as data but kept in ``Dataset.ids``; the
        index column's values are the ids when no ``id_col`` is given.
    labels : bool, default False
        Whether one target column of text is read as class labels (``Dataset.classes`` and
        indices in ``Y``); otherwise a non-numeric target cell is an error.

    Only the columns used are checked, so a file may carry other (e.g. text) columns when
    ``features`` is given. Errors are ``ValueError`` naming the file, the 1-based line number
    and the column.
    """
    path = Path(path)
    encoding, codec = _csv_encoding(encoding, decimal, sep)
    header, header_line, rows, lines = _read_records(path, sep, decimal, encoding, codec)
    if index_col is None and len(header) > 1 and not header[0]:
        index_col = 0  # pandas' to_csv: the index under an empty name
    drop: list[int] = []
    if index_col is not None:
        drop.append(_column_index(index_col, header, str(path), "index_col"))
    if id_col is not None:
        drop.append(_column_index(id_col, header, str(path), "id_col"))
    for j, name in enumerate(header):
        if not name and j not in drop:
            raise ValueError(f"{path}, line {header_line}: column {j + 1} has no name")
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    ids = [row[drop[-1]].strip() for row in rows] if drop else None
    keep = [j for j in range(len(header)) if j not in drop]

    def column(j: int) -> list[str]:
        j = keep[j]
        return [row[j] for row in rows]

    labels_of_rows = [f"line {n}" for n in lines]
    data = _table(
        [header[j] for j in keep],
        column,
        labels_of_rows,
        target,
        features,
        str(path),
        decimal=decimal,
        labels=labels,
    )
    return data._replace(ids=ids)


def _csv_encoding(encoding: str, decimal: str, sep: str | None) -> tuple[str, str]:
    """The checked dialect: the encoding to open the file with and its codec's name."""
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ','; got {decimal!r}")
    if sep is not None and (len(sep) != 1 or sep in '\r\n"' or sep == decimal):
        raise ValueError(
            f"sep must be one character other than a quote, a line break and the decimal "
            f"mark {decimal!r}; got {sep!r}"
        )
    try:
        codec = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(
            f"unknown encoding {encoding!r} (a Python codec name such as "
            f"'utf-8', 'latin-1', 'cp1252')"
        ) from None
    if codec == "utf-8":
        encoding = "utf-8-sig"  # skip a byte-order mark
    return encoding, codec


def _read_records(
    path: Path, sep: str | None, decimal: str, encoding: str, codec: str
) -> tuple[list[str], int, list[list[str]], list[int]]:
    """The header, its line, the non-blank records (as long as the header) and their lines."""
    header_line = 0
    try:
        raw, _ = _files.open_regular(path, MAX_CSV_BYTES, "CSV file")
        with TextIOWrapper(raw, encoding=encoding, newline="") as f:
            if sep is None:
                sep = _sniff_separator(f.read(65536), decimal)
                f.seek(0)
            reader = csv.reader(f, delimiter=sep)
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
        if codec != "utf-8":
            raise ValueError(f"{path}: not a {encoding} text file") from None
        raise ValueError(_not_utf8(path)) from None
    except csv.Error as e:
        raise ValueError(f"{path}: not a readable CSV file ({e})") from None
    if header is None:
        raise ValueError(f"{path}: the file is empty (expected a header row of column names)")
    return header, header_line, rows, lines


def _sniff_separator(sample: str, decimal: str) -> str:
    """The separator of :data:`SEPARATORS` that splits the sample's lines most consistently."""
    lines = sample.splitlines()
    if len(sample) == 65536 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    lines = [line for line in lines if line.strip()][:50]
    best, best_fields = ",", 1
    for sep in SEPARATORS:
        if sep == decimal:
            continue
        try:
            counts = {len(r) for r in csv.reader(lines, delimiter=sep)}
        except csv.Error:
            continue
        if len(counts) == 1 and (n := counts.pop()) > best_fields:
            best, best_fields = sep, n
    return best


def _column_index(spec: str | int, header: list[str], source: str, param: str) -> int:
    if isinstance(spec, int) and not isinstance(spec, bool):
        if not 0 <= spec < len(header):
            raise ValueError(
                f"{source}: {param} {spec} is not a column position (0..{len(header) - 1})"
            )
        return spec
    if isinstance(spec, str) and spec.strip().isdigit() and spec.strip() not in header:
        return _column_index(int(spec), header, source, param)
    if spec not in header:
        raise ValueError(f"{source}: no {param} column named {spec!r}; columns: {_columns(header)}")
    return header.index(spec)


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
    labels: bool = False,
) -> Dataset:
    """A :class:`Dataset` from a pandas ``DataFrame`` (or anything with ``columns`` and
    ``__getitem__`` by column name), choosing columns as :func:`read_csv` does; the index
    labels are the ids.

    Errors name the row by its index label.
    """
    if not hasattr(frame, "columns") or not hasattr(frame, "index"):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    header = [str(c) for c in frame.columns]
    if len(header) == 0 or len(frame.index) == 0:
        raise ValueError(f"frame must have at least one column and one row; got {frame.shape}")
    columns = list(frame.columns)
    labels_of_rows = [f"row index {label!r}" for label in frame.index]

    def column(j: int) -> Any:
        return np.asarray(frame[columns[j]])

    data = _table(header, column, labels_of_rows, target, features, "DataFrame", labels=labels)
    return data._replace(ids=[str(label) for label in frame.index])


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
    row_labels: list[str],
    target: str | Sequence[str] | None,
    features: Sequence[str] | None,
    source: str,
    *,
    decimal: str = ".",
    labels: bool = False,
) -> Dataset:
    """Select the target and feature columns of a table and convert them to float64 (a text
    target column to class indices when ``labels``)."""
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
    rows = row_labels

    def numeric(name: str) -> np.ndarray:
        values = column(seen[name])
        if decimal == ",":
            values = [str(v).replace(",", ".") for v in values]
        return _numeric(values, name, rows, source)

    X = np.stack([numeric(n) for n in chosen])
    Y, classes = None, None
    if targets is not None:
        if labels and len(targets) == 1 and _has_text(column(seen[targets[0]]), decimal):
            classes, Y = _text_labels(column(seen[targets[0]]), targets[0], rows, source)
        if Y is None:  # numbers (or too many distinct texts: numeric() names the first)
            Y = np.stack([numeric(n) for n in targets])
    return Dataset(X, Y, list(chosen), list(targets or []), source, None, classes)


def _has_text(values: Any, decimal: str) -> bool:
    """Whether some cell of a column is text: neither a number nor a missing value."""
    for v in values:
        t = "" if v is None else str(v).strip()
        if t.lower() in _MISSING:
            continue
        try:
            float(t.replace(",", ".") if decimal == "," else t)
        except ValueError:
            return True
    return False


def _text_labels(
    values: Any, name: str, rows: list[str], source: str
) -> tuple[list[str] | None, np.ndarray | None]:
    """A column of class labels: the sorted distinct labels and each sample's index (1, m);
    ``(None, None)`` when there are too many distinct texts for labels (more than
    :data:`MAX_CLASSES` and than half the rows: numbers with a typo, ids or free text)."""
    text = [str(v).strip() if v is not None else "" for v in values]
    for i, t in enumerate(text):
        if values[i] is None or t.lower() in _MISSING:
            raise ValueError(f"{source}, {rows[i]}, column {name!r}: missing class label")
    classes, codes = np.unique(np.asarray(text, dtype=str), return_inverse=True)
    if len(classes) > max(MAX_CLASSES, len(text) // 2):
        return None, None
    return [str(c) for c in classes], codes.astype(np.float64).reshape(1, -1)


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


def format_table(columns: Sequence[tuple[str, Sequence[Any]]]) -> str:
    """Columns ``(name, values)`` of equal length as CSV text: floats written exactly
    (``repr``), anything else as ``str``."""
    if not columns:
        raise ValueError("a table needs at least one column")
    m = len(columns[0][1])
    if any(len(values) != m for _, values in columns):
        raise ValueError(f"every column must hold {m} values; got {[len(v) for _, v in columns]}")

    def cell(v: Any) -> str:
        return repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)

    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in columns])
    writer.writerows([cell(values[i]) for _, values in columns] for i in range(m))
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

    The fractions are of all samples; each part gets at least two samples (so that R² and a
    standard deviation are defined), and too few samples for that are a ``ValueError`` that
    says how many are needed.
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
    n_test, n_val = _part_sizes(m, test_fraction, validation_fraction)
    if m - n_test - n_val < _MIN_PART:
        need = _MIN_PART * 3
        while sum(_part_sizes(need, test_fraction, validation_fraction)) + _MIN_PART > need:
            need += 1
        fractions = f"{1 - test_fraction - validation_fraction:.0%}/{validation_fraction:.0%}"
        raise ValueError(
            f"{data.source}: {m} row(s) are too few for a {fractions}"
            f"/{test_fraction:.0%} train/validation/test split: at least {need} rows are "
            f"needed ({_MIN_PART} in each part)"
        )
    order = np.random.default_rng(seed).permutation(m)
    test, val, rest = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    Y = data.Y

    def part(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.sort(idx)
        return np.ascontiguousarray(data.X[:, idx]), np.ascontiguousarray(Y[:, idx])

    return Splits(part(rest), part(val), part(test))


_MIN_PART = 2
"""Fewest samples in each part of :func:`split`."""


def _part_sizes(m: int, test_fraction: float, validation_fraction: float) -> tuple[int, int]:
    return (
        max(_MIN_PART, round(test_fraction * m)),
        max(_MIN_PART, round(validation_fraction * m)),
    )


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


# --- classification: the task, the labels, the metrics -------------------------------------------

TASKS = ("regression", "binary", "multiclass", "multilabel")
"""What :func:`detect_task` returns; the last three are classification."""


def detect_task(data: Dataset) -> str:
    """Regression or which classification the targets of ``data`` call for.

    Text labels (``data.classes``): ``"binary"`` for two classes, else ``"multiclass"``.
    Several target rows all 0 or 1: ``"multilabel"``. One row of integer values with at most
    :data:`MAX_CLASSES` distinct values (at least 2): ``"binary"``/``"multiclass"``.
    Anything else: ``"regression"``.
    """
    if data.Y is None:
        raise ValueError(f"{data.source}: the task is read from the targets; there are none")
    if data.classes is not None:
        return "binary" if len(data.classes) == 2 else "multiclass"
    Y = data.Y
    if Y.shape[0] > 1:
        return "multilabel" if bool(np.isin(Y, (0.0, 1.0)).all()) else "regression"
    values = np.unique(Y)
    if 2 <= len(values) <= MAX_CLASSES and bool(np.all(values == np.round(values))):
        return "binary" if len(values) == 2 else "multiclass"
    return "regression"


def _label(value: Any) -> str | int | float:
    """A class label as JSON keeps it: integral numbers as int."""
    if isinstance(value, str):
        return value
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def target_labels(data: Dataset) -> np.ndarray:
    """The class label of each sample, shape (m,) (object array: str, int or float), from a
    single target row; text labels are looked up in ``data.classes``."""
    if data.Y is None or data.Y.shape[0] != 1:
        raise ValueError(f"{data.source}: class labels need exactly one target column")
    if data.classes is not None:
        return np.asarray([data.classes[int(i)] for i in data.Y[0]], dtype=object)
    return np.asarray([_label(v) for v in data.Y[0]], dtype=object)


@dataclass(frozen=True)
class Labels:
    """The classes of a classification target and their encoding as network outputs.

    ``"multiclass"``: one output per class (softmax), one-hot targets. ``"binary"``: one
    output, the probability of ``classes[1]`` (sigmoid), targets 0/1. ``"multilabel"``: one
    output per target column (sigmoid each), targets 0/1; ``classes`` are the column names.

    Attributes
    ----------
    task : {"binary", "multiclass", "multilabel"}
    classes : list of str, int or float
        Sorted (as NumPy sorts them); the columns of :meth:`proba`.
    """

    task: str
    classes: list[Any]

    @classmethod
    def fit(cls, data: Dataset, task: str | None = None) -> Labels:
        """The labels of ``data``'s targets; ``task`` as :func:`detect_task` says by default."""
        task = detect_task(data) if task is None else task
        if task == "multilabel":
            if data.Y is None or not bool(np.isin(data.Y, (0.0, 1.0)).all()):
                raise ValueError(f"{data.source}: multi-label targets must all be 0 or 1")
            return cls(task, list(data.target_names))
        if task not in ("binary", "multiclass"):
            raise ValueError(f"task must be one of binary, multiclass, multilabel; got {task!r}")
        labels = target_labels(data)
        classes = sorted(set(labels.tolist()), key=lambda c: (isinstance(c, str), c))
        if len(classes) < 2:
            raise ValueError(
                f"{data.source}: classification needs at least 2 classes; the target holds "
                f"only {_short(classes[0])}"
            )
        if task == "binary" and len(classes) != 2:
            task = "multiclass"
        return cls(task, classes)

    @property
    def n_outputs(self) -> int:
        """n_L: 1 for binary, else one per class (label)."""
        return 1 if self.task == "binary" else len(self.classes)

    @property
    def output(self) -> str:
        """The output activation that pairs with the encoding."""
        return "softmax" if self.task == "multiclass" else "sigmoid"

    @property
    def loss(self) -> str:
        """The cost that pairs with :attr:`output`."""
        return "cross_entropy" if self.task == "multiclass" else "binary_cross_entropy"

    def indices(self, labels: Any) -> np.ndarray:
        """Each label's position in :attr:`classes`, shape (m,); unknown labels are refused."""
        where = {c: i for i, c in enumerate(self.classes)}
        out = np.empty(len(labels), dtype=np.intp)
        for i, label in enumerate(labels):
            label = _label(label)
            if label not in where:
                raise ValueError(
                    f"class label {_short(label)} is not one of the model's classes "
                    f"{_short(self.classes)}"
                )
            out[i] = where[label]
        return out

    def encode(self, data: Dataset) -> np.ndarray:
        """The targets of ``data`` as network outputs: shape (n_L, m), float64 0/1."""
        if self.task == "multilabel":
            assert data.Y is not None
            if data.Y.shape[0] != len(self.classes) or not bool(np.isin(data.Y, (0, 1)).all()):
                raise ValueError(
                    f"{data.source}: multi-label targets must be {len(self.classes)} columns "
                    f"of 0 or 1"
                )
            return np.asarray(data.Y, dtype=np.float64)
        idx = self.indices(target_labels(data))
        if self.task == "binary":
            return idx.astype(np.float64).reshape(1, -1)
        Y = np.zeros((len(self.classes), len(idx)))
        Y[idx, np.arange(len(idx))] = 1.0
        return Y

    def proba(self, A: Any) -> np.ndarray:
        """Network outputs (n_L, m) as probabilities, one row per class: (n_classes, m)
        (binary: the rows 1 - a and a; multi-label: the outputs as they are)."""
        A = np.asarray(A, dtype=np.float64)
        return np.vstack([1.0 - A, A]) if self.task == "binary" else A

    def decode(self, A: Any) -> np.ndarray:
        """Predicted labels from network outputs (n_L, m): shape (m,), object array of labels
        (multi-label: (n_L, m) ints 0/1, an output >= 0.5 being 1)."""
        A = np.asarray(A, dtype=np.float64)
        if self.task == "multilabel":
            return (A >= 0.5).astype(np.int64)
        best = np.argmax(self.proba(A), axis=0)
        return np.asarray([self.classes[i] for i in best], dtype=object)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, d: Any, n_L: int) -> Labels:
        """Inverse of :meth:`to_dict`, checking every field against ``n_L`` outputs."""
        if not isinstance(d, dict) or set(d) != {"task", "classes"}:
            raise ValueError(f"labels must be an object with task and classes; got {_short(d)}")
        task, classes = d["task"], d["classes"]
        if task not in ("binary", "multiclass", "multilabel"):
            raise ValueError(f"labels.task must be binary, multiclass or multilabel; got {task!r}")
        ok = isinstance(classes, list) and all(
            isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes
        )
        if not ok or len(set(classes)) != len(classes) or len(classes) < 2:
            raise ValueError(
                f"labels.classes must be a list of at least 2 distinct strings or numbers; "
                f"got {_short(classes)}"
            )
        labels = cls(task, list(classes))
        if labels.n_outputs != n_L or (task == "binary" and len(classes) != 2):
            raise ValueError(
                f"labels: a {task} target with {len(classes)} classes does not fit {n_L} output(s)"
            )
        return labels


def classification_metrics(Y: Any, A: Any, labels: Labels) -> dict[str, Any]:
    """Accuracy, balanced accuracy, log-loss and the confusion matrix (scikit-learn's).

    Parameters
    ----------
    Y : array of shape (n_L, m)
        Targets as :meth:`Labels.encode` gives them.
    A : array of shape (n_L, m)
        Network outputs (probabilities): predictions are :meth:`Labels.decode`'s.
    labels : Labels

    Returns ``accuracy``, ``balanced_accuracy``, ``log_loss`` (natural log, mean over samples)
    and ``confusion_matrix`` (list of lists: row = true class, column = predicted, in
    ``labels.classes`` order). Multi-label: subset accuracy, balanced accuracy and log-loss
    averaged over the labels, one 2 × 2 matrix per label.
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        log_loss,
        multilabel_confusion_matrix,
    )

    Y, A = np.asarray(Y, dtype=np.float64), np.asarray(A, dtype=np.float64)
    if Y.shape != A.shape or Y.shape[0] != labels.n_outputs:
        raise ValueError(
            f"Y and A must both have shape ({labels.n_outputs}, m); got {Y.shape} and {A.shape}"
        )
    eps = np.finfo(np.float64).eps
    if labels.task == "multilabel":
        T, P = Y.astype(np.int64), np.clip(A, eps, 1 - eps)
        pred = labels.decode(A)
        per_label = [balanced_accuracy_score(T[j], pred[j]) for j in range(T.shape[0])]
        return {
            "accuracy": float(accuracy_score(T.T, pred.T)),
            "balanced_accuracy": float(np.mean(per_label)),
            "log_loss": float(-np.mean(T * np.log(P) + (1 - T) * np.log(1 - P)) * 1.0),
            "confusion_matrix": multilabel_confusion_matrix(T.T, pred.T).tolist(),
        }
    k = len(labels.classes)
    true = np.argmax(labels.proba(Y), axis=0)
    P = np.clip(labels.proba(A), eps, 1.0)
    P = P / P.sum(axis=0, keepdims=True)  # softmax outputs sum to 1 up to rounding
    pred = np.argmax(P, axis=0)
    with warnings.catch_warnings():  # a class absent from a small test part
        warnings.simplefilter("ignore")
        balanced = balanced_accuracy_score(true, pred)
    return {
        "accuracy": float(accuracy_score(true, pred)),
        "balanced_accuracy": float(balanced),
        "log_loss": float(log_loss(true, P.T, labels=list(range(k)))),
        "confusion_matrix": confusion_matrix(true, pred, labels=list(range(k))).tolist(),
    }


def _scaler(X: Any, names: Sequence[str] | None, param: str) -> Any:
    """scikit-learn's ``StandardScaler`` fitted on the rows of ``X`` (n, m), refusing rows whose
    mean or variance overflows, or whose variance underflows (scikit-learn would silently give
    them scale 1)."""
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
    # A row that is not constant but whose variance is below the smallest normal float64
    # (values ~1e-160 and smaller) would get scale 1 and be ignored: refused as well.
    spread = X.max(axis=1) > X.min(axis=1) if X.shape[1] else np.zeros(X.shape[0], bool)
    tiny = spread & (scaler.var_ < np.finfo(np.float64).tiny)
    if tiny.any():
        j = int(np.argmax(tiny))
        row = f"column {names[j]!r}" if names is not None else f"{param} row {j}"
        raise ValueError(
            f"cannot standardise {row}: its variance underflows float64 (values up to "
            f"{float(np.max(np.abs(X[j]))):.3g} in magnitude); rescale it, e.g. multiply by a "
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
        if self.y_mean is None or self.y_scale is None:
            return Y
        return (Y - self.y_mean[:, None]) / self.y_scale[:, None]

    def inverse_transform_Y(self, Y: Any) -> np.ndarray:
        """``Y * y_scale + y_mean``: network outputs (n_L, m) back in the targets' units."""
        Y = np.asarray(Y, dtype=np.float64)
        if self.y_mean is None or self.y_scale is None:
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
        out: dict[str, Any] = {}
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
    "CLASSIFICATION_DATASETS",
    "DATASETS",
    "MAX_CLASSES",
    "SEPARATORS",
    "TASKS",
    "Dataset",
    "Labels",
    "Splits",
    "Standardization",
    "classification_metrics",
    "detect_task",
    "format_csv",
    "format_table",
    "from_frame",
    "load_data",
    "load_dataset",
    "read_csv",
    "regression_metrics",
    "split",
    "target_labels",
]


RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))
"""The penalties :func:`linear_baseline`'s ridge regression chooses from (leave-one-out)."""


def linear_baseline(X: Any, Y: Any, labels: Labels | None = None) -> Any:
    """A linear model fitted on ``X`` (n_0, m), ``Y`` (n_L, m): what a network must beat.

    Inputs are standardised (scikit-learn's ``StandardScaler``), then a regression gets
    ``RidgeCV`` (its penalty chosen among :data:`RIDGE_ALPHAS` by leave-one-out error) and a
    classification ``LogisticRegression`` (one per label for multi-label; a label constant in
    ``Y`` predicts its training frequency). Returns a function from inputs (n_0, m') to outputs
    (n_L, m') as the network's: targets' units, or probabilities in ``labels``' encoding.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_rows, Y = np.asarray(X, dtype=np.float64).T, np.asarray(Y, dtype=np.float64)
    if labels is None:
        ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)).fit(X_rows, Y.T)
        return lambda X_new: np.asarray(ridge.predict(np.asarray(X_new).T)).reshape(-1, len(Y)).T
    # one model per row of classes: multiclass (class indices), binary (the 0/1 row of the
    # second class) and multi-label (one 0/1 row per label)
    if labels.task == "multiclass":
        targets, n_classes = [np.argmax(Y, axis=0)], len(Y)
    else:
        targets, n_classes = list(Y), 2
    models = [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        if np.unique(y).size > 1
        else DummyClassifier(strategy="prior")  # one class in training: its frequency
        for y in targets
    ]
    for model, y in zip(models, targets):
        model.fit(X_rows, y.astype(np.intp))

    def predict(X_new: Any) -> np.ndarray:
        rows, out = np.asarray(X_new, dtype=np.float64).T, []
        for model in models:
            P = np.zeros((n_classes, len(rows)))
            P[model.classes_] = model.predict_proba(rows).T  # absent classes: probability 0
            out.append(P if labels.task == "multiclass" else P[1:])
        return np.vstack(out)

    return predict

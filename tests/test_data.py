"""Data loading: bundled sets against scikit-learn, CSV/DataFrame errors naming row and column,
splits, standardisation against NumPy's mean and standard deviation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, make_friedman1

from deltaprop.data import (
    Dataset,
    Labels,
    Standardization,
    classification_metrics,
    detect_task,
    from_frame,
    load_data,
    load_dataset,
    read_csv,
    split,
    target_labels,
)


def test_bundled_data_sets_match_scikit_learn_with_samples_as_columns():
    X, y = load_diabetes(return_X_y=True)
    d = load_dataset("diabetes")
    assert np.array_equal(d.X, X.T) and np.array_equal(d.Y, y[None, :])
    assert d.feature_names[:3] == ["age", "sex", "bmi"] and d.target_names == ["target"]
    X, y = make_friedman1(n_samples=5000, n_features=10, noise=1.0, random_state=0)
    f = load_dataset("friedman1")
    assert f.X.shape == (10, 5000) and np.array_equal(f.Y[0], y) and np.array_equal(f.X.T, X)
    assert f.feature_names == [f"x{j}" for j in range(10)]
    with pytest.raises(ValueError, match="unknown data set 'iris'; bundled data sets: diabetes"):
        load_dataset("iris")


def _csv(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_csv_defaults_to_the_last_column_as_target(tmp_path):
    path = _csv(tmp_path, "a,b,y\n1,2,3\n4,5.5,-6e-3\n")
    d = read_csv(path)
    assert d.feature_names == ["a", "b"] and d.target_names == ["y"]
    assert np.array_equal(d.X, [[1, 4], [2, 5.5]]) and np.array_equal(d.Y, [[3, -0.006]])


def test_read_csv_takes_several_targets_by_name_and_feature_subsets(tmp_path):
    path = _csv(tmp_path, "id,y1,a,y2,b\nx,1,2,3,4\nz,5,6,7,8\n")
    d = read_csv(path, "y2,y1", features=["b", "a"])  # the text column 'id' is not read
    assert d.feature_names == ["b", "a"] and d.target_names == ["y2", "y1"]
    assert np.array_equal(d.X, [[4, 8], [2, 6]]) and np.array_equal(d.Y, [[3, 7], [1, 5]])
    d = read_csv(path, features=["a"])  # prediction: inputs only
    assert d.Y is None and d.target_names == []


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        # line numbers are the file's own, counting the header and blank lines
        ("a,y\n1,2\n\n3,\n", {}, r"line 4, column 'y': missing value"),
        ("a,y\n1,2\nNA,3\n", {}, r"line 3, column 'a': missing value"),
        ("a,y\n1,2\n3,4\nabc,5\n", {}, r"line 4, column 'a': non-numeric value 'abc'"),
        ("a,y\n1,inf\n", {}, r"line 2, column 'y': non-finite value 'inf'"),
        (
            "a,b,y\n1,2,3\n1,2\n",
            {},
            r"line 3: expected 3 fields as in the header \(line 1\), found 2",
        ),
        ("a,y\n1,2\n", {"target": "z"}, r"no target column named 'z'; columns: a, y"),
        ("a,y\n1,2\n", {"target": "y,q,r"}, r"no target columns named 'q', 'r'; columns: a, y"),
        ("a,y\n1,2\n", {"target": "y", "features": ["b"]}, r"no feature column named 'b'"),
        ("a,a,y\n1,2,3\n", {}, r"column name 'a' appears twice \(columns 1 and 2\)"),
        ("a,,y\n1,2,3\n", {}, r"line 1: column 2 has no name"),
        ("", {}, r"the file is empty"),
        ("a,y\n", {}, r"no data rows"),
        ("y\n1\n", {}, r"no input columns left"),
        ("a,y\n1,2\n", {"target": "y,y"}, r"names a column twice"),
    ],
)
def test_read_csv_errors_name_the_file_line_and_column(tmp_path, text, kwargs, message):
    path = _csv(tmp_path, text)
    with pytest.raises(ValueError, match=message) as info:
        read_csv(path, **kwargs)
    assert str(path) in str(info.value)


def test_read_csv_refuses_binary_files(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        read_csv(path)


@settings(max_examples=40)
@given(
    st.lists(
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=3, max_size=3
        ),
        min_size=1,
        max_size=20,
    )
)
def test_read_csv_reads_back_every_float_exactly(rows):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.csv"
        path.write_text("p,q,r\n" + "".join(",".join(repr(v) for v in row) + "\n" for row in rows))
        d = read_csv(path)
    expected = np.array(rows).T
    assert np.array_equal(d.X, expected[:2]) and np.array_equal(d.Y, expected[2:])


def test_from_frame_names_the_row_by_index_label():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan], "y": [1, 2, 3]}, index=[10, 11, 12])
    with pytest.raises(ValueError, match=r"DataFrame, row index 12, column 'a': missing value"):
        from_frame(frame)
    frame = pd.DataFrame({"a": ["1", "x"], "y": [1, 2]})
    with pytest.raises(ValueError, match=r"row index 1, column 'a': non-numeric value 'x'"):
        from_frame(frame)
    d = from_frame(pd.DataFrame({"y": [1.0, 2.0], "a": [3, 4], "b": [5.0, 6.0]}), "y")
    assert d.feature_names == ["a", "b"] and np.array_equal(d.X, [[3, 4], [5, 6]])
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        from_frame(np.zeros((2, 2)))


def test_load_data_takes_a_name_or_a_path(tmp_path):
    assert load_data("diabetes").source == "diabetes"
    with pytest.raises(ValueError, match="not a column of the bundled data set 'diabetes'"):
        load_data("diabetes", target="bmi")
    with pytest.raises(
        ValueError, match="neither a bundled data set nor an existing file; bundled"
    ):
        load_data("diabetis")
    path = _csv(tmp_path, "a,y\n1,2\n")
    assert load_data(path).target_names == ["y"]


def test_split_is_a_seeded_partition():
    d = load_dataset("diabetes")
    s = split(d, test_fraction=0.2, validation_fraction=0.1, seed=3)
    # 442 samples: round(88.4) = 88 test, round(44.2) = 44 validation, 310 train
    assert [p[0].shape[1] for p in s] == [310, 44, 88]
    cols = np.concatenate([p[0] for p in s], axis=1)
    # every sample exactly once: the columns, sorted, are the data set's columns, sorted
    assert np.array_equal(np.sort(cols, axis=1), np.sort(d.X, axis=1))
    assert np.array_equal(split(d, seed=3).test[1], s.test[1])
    assert not np.array_equal(split(d, seed=4).test[1], s.test[1])
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1; got 1.5"):
        split(d, test_fraction=1.5)


def test_standardisation_matches_numpy_and_inverts():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(3, 50))
    X[2] = 7.0  # a constant feature keeps scale 1
    Y = rng.normal(-1.0, 5.0, size=(2, 50))
    s = Standardization.fit(X, Y)
    assert np.allclose(s.x_mean, X.mean(axis=1)) and np.allclose(s.x_scale[:2], X[:2].std(axis=1))
    assert s.x_scale[2] == 1.0
    Xs = s.transform_X(X)
    assert np.allclose(Xs[:2].mean(axis=1), 0) and np.allclose(Xs[:2].std(axis=1), 1)
    assert np.allclose(s.inverse_transform_Y(s.transform_Y(Y)), Y, rtol=1e-14)
    back = Standardization.from_dict(s.to_dict(), 3, 2)
    assert np.array_equal(back.y_scale, s.y_scale) and np.array_equal(back.x_mean, s.x_mean)
    with pytest.raises(ValueError, match=r"standardization.y_mean must be a list of 2 numbers"):
        Standardization.from_dict({**s.to_dict(), "y_mean": [0.0]}, 3, 2)
    only_x = Standardization.fit(X)
    assert only_x.y_mean is None and np.array_equal(only_x.transform_Y(Y), Y)


# --- issue 15: bundled classification sets, the CSV dialect, tasks, labels, metrics ----------


@pytest.mark.parametrize(
    ("name", "loader", "classes"),
    [
        ("wine", "load_wine", ["class_0", "class_1", "class_2"]),
        ("breast_cancer", "load_breast_cancer", ["benign", "malignant"]),
        ("digits", "load_digits", None),
    ],
)
def test_bundled_classification_sets_match_scikit_learn(name, loader, classes):
    from sklearn import datasets

    bunch = getattr(datasets, loader)()
    d = load_dataset(name)
    assert np.array_equal(d.X, bunch.data.T) and d.classes == classes
    labels = target_labels(d)
    if classes is None:  # digits: the integers 0..9 themselves
        assert labels.tolist() == bunch.target.tolist()
    else:  # the label names scikit-learn gives each class
        assert labels.tolist() == [str(bunch.target_names[t]) for t in bunch.target]
    assert detect_task(d) == ("binary" if name == "breast_cancer" else "multiclass")


def test_read_csv_sniffs_the_separator_and_reads_decimal_commas(tmp_path):
    expected_X, expected_Y = [[1.5, -2.0], [3.0, 4.25]], [[5.0, 6e-3]]
    for text, kwargs in [
        ("a;b;y\n1,5;3;5\n-2;4,25;6e-3\n", {"decimal": ","}),  # a German spreadsheet
        ("a\tb\ty\n1.5\t3\t5\n-2\t4.25\t6e-3\n", {}),
        ("a|b|y\n1.5|3|5\n-2|4.25|6e-3\n", {}),
        ("a,b,y\n1.5,3,5\n-2,4.25,6e-3\n", {}),
        ('a;b;y\n"1,5";3;5\n-2;"4,25";6e-3\n', {"decimal": ",", "sep": ";"}),
    ]:
        d = read_csv(_csv(tmp_path, text), **kwargs)
        assert d.feature_names == ["a", "b"], text
        assert np.array_equal(d.X, expected_X) and np.array_equal(d.Y, expected_Y), text
    with pytest.raises(ValueError, match="non-numeric value '1,5'"):  # no decimal="," given
        read_csv(_csv(tmp_path, "a;b;y\n1,5;3;5\n-2;4,25;6e-3\n"))
    with pytest.raises(ValueError, match="sep must be one character"):
        read_csv(_csv(tmp_path, "a,y\n1,2\n"), sep=",", decimal=",")


def test_read_csv_encoding_index_and_id_columns(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("température;y\n1,5;2\n".encode("latin-1"))
    d = read_csv(path, encoding="latin-1", decimal=",")
    assert d.feature_names == ["température"] and d.X.tolist() == [[1.5]]
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        read_csv(path)
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        read_csv(path, encoding="klingon")
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0]}, index=[7, 8, 9])
    frame.to_csv(tmp_path / "pandas.csv")  # header ",a,y": the index under an empty name
    d = read_csv(tmp_path / "pandas.csv")
    assert d.feature_names == ["a"] and d.ids == ["7", "8", "9"]
    path = _csv(tmp_path, "row,name,a,y\n0,ann,1,2\n1,bob,3,4\n")
    d = read_csv(path, index_col="row", id_col="name")
    assert d.feature_names == ["a"] and d.ids == ["ann", "bob"] and d.Y.tolist() == [[2, 4]]
    assert read_csv(path, index_col=0, id_col="name").feature_names == ["a"]
    d = read_csv(_csv(tmp_path, "a,y,name\n1,2,ann\n3,4,bob\n"), id_col="name")
    assert d.target_names == ["y"] and d.ids == ["ann", "bob"]  # the last column that is data
    with pytest.raises(ValueError, match="no id_col column named 'who'"):
        read_csv(path, id_col="who")


def test_text_targets_are_class_labels_only_when_asked(tmp_path):
    path = _csv(tmp_path, "a,kind\n1,barolo\n2,grignolino\n3,barolo\n4,barbera\n")
    with pytest.raises(ValueError, match="non-numeric value 'barolo'"):
        read_csv(path)
    d = read_csv(path, labels=True)
    assert d.classes == ["barbera", "barolo", "grignolino"] and d.Y.tolist() == [[1, 2, 1, 0]]
    assert detect_task(d) == "multiclass"
    assert target_labels(d).tolist() == ["barolo", "grignolino", "barolo", "barbera"]
    # numbers with one typo are not labels: the error names the cell
    rows = "".join(f"{i},{i * 1.5}\n" for i in range(60))
    with pytest.raises(ValueError, match=r"line 3, column 'y': non-numeric value 'x'"):
        read_csv(_csv(tmp_path, "a,y\n0,1\n1,x\n" + rows), labels=True)
    with pytest.raises(ValueError, match="line 3, column 'kind': missing class label"):
        read_csv(_csv(tmp_path, "a,kind\n1,red\n2,\n"), labels=True)


def test_detect_task_from_the_targets():
    def data(Y, classes=None):
        Y = np.asarray(Y, dtype=float)
        return Dataset(np.zeros((1, Y.shape[1])), Y, ["a"], ["y"] * Y.shape[0], "t", None, classes)

    assert detect_task(data([[0, 1, 1, 0]])) == "binary"
    assert detect_task(data([[3, 1, 2, 2]])) == "multiclass"
    assert detect_task(data([[0.5, 1, 2, 2]])) == "regression"
    assert detect_task(data([list(range(30))])) == "regression"  # too many distinct integers
    assert detect_task(data([[0, 1, 1], [1, 1, 0]])) == "multilabel"
    assert detect_task(data([[0, 1, 2], [1, 1, 0]])) == "regression"
    assert detect_task(data([[0, 1, 0]], ["no", "yes"])) == "binary"


def test_labels_encode_decode_and_refuse_unknown_classes():
    X = np.zeros((1, 4))
    d = Dataset(X, np.array([[3.0, 1, 2, 3]]), ["a"], ["y"], "t")
    lab = Labels.fit(d)
    assert (lab.task, lab.classes, lab.output, lab.loss) == (
        "multiclass",
        [1, 2, 3],
        "softmax",
        "cross_entropy",
    )
    Y = lab.encode(d)
    assert Y.tolist() == [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]]
    assert lab.decode(Y).tolist() == [3, 1, 2, 3]
    assert Labels.from_dict(lab.to_dict(), 3) == lab
    with pytest.raises(ValueError, match="class label 7 is not one of the model's classes"):
        lab.indices([7])
    binary = Labels.fit(Dataset(X, np.array([[0.0, 1, 1, 0]]), ["a"], ["y"], "t", None, ["n", "y"]))
    assert binary.n_outputs == 1 and binary.output == "sigmoid"
    assert binary.decode([[0.2, 0.7]]).tolist() == ["n", "y"]
    assert binary.proba([[0.2]]).tolist() == [[0.8], [0.2]]
    with pytest.raises(ValueError, match="does not fit 3 output"):
        Labels.from_dict(binary.to_dict(), 3)


def test_classification_metrics_equal_scikit_learn():
    from sklearn import metrics

    rng = np.random.default_rng(0)
    true = rng.integers(0, 3, 50)
    P = rng.dirichlet(np.ones(3), 50)  # rows = samples
    lab = Labels("multiclass", ["a", "b", "c"])
    Y = np.eye(3)[true].T
    got = classification_metrics(Y, P.T, lab)
    pred = P.argmax(axis=1)
    assert got["accuracy"] == metrics.accuracy_score(true, pred)
    assert got["balanced_accuracy"] == metrics.balanced_accuracy_score(true, pred)
    assert got["log_loss"] == pytest.approx(metrics.log_loss(true, P), rel=1e-12)
    assert got["confusion_matrix"] == metrics.confusion_matrix(true, pred).tolist()
    # binary: one sigmoid output
    p1 = rng.uniform(size=40)
    t = rng.integers(0, 2, 40)
    got = classification_metrics(t[None].astype(float), p1[None], Labels("binary", [0, 1]))
    assert got["accuracy"] == metrics.accuracy_score(t, p1 >= 0.5)
    assert got["log_loss"] == pytest.approx(metrics.log_loss(t, p1), rel=1e-12)


def test_too_little_data_for_the_split_says_how_many_rows_are_needed():
    d = Dataset(np.zeros((2, 5)), np.zeros((1, 5)), ["a", "b"], ["y"], "x.csv")
    with pytest.raises(ValueError, match="5 row.s. are too few .*at least 6 rows are needed"):
        split(d)
    import re

    def rows(m):
        return d._replace(X=np.zeros((2, m)), Y=np.zeros((1, m)))

    with pytest.raises(ValueError, match="at least .* rows are needed") as info:
        split(rows(20), test_fraction=0.5, validation_fraction=0.45)
    need = int(re.search(r"at least (\d+) rows", str(info.value)).group(1))
    split(rows(need), test_fraction=0.5, validation_fraction=0.45)  # the number is enough
    with pytest.raises(ValueError):  # and the smallest that is
        split(rows(need - 1), test_fraction=0.5, validation_fraction=0.45)
    parts = split(d._replace(X=np.zeros((2, 6)), Y=np.zeros((1, 6))))
    assert [p[0].shape[1] for p in parts] == [2, 2, 2]

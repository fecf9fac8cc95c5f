"""Data loading: bundled sets against scikit-learn, CSV/DataFrame errors naming row and column,
splits, standardisation against NumPy's mean and standard deviation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, make_friedman1

from deltaprop.data import (
    Standardization,
    from_frame,
    load_data,
    load_dataset,
    read_csv,
    split,
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

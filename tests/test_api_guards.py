"""API and numerics guards from issue 16: each case is the issue's reproducer.

Parameter assignment copies and refuses non-finite values; big-endian input works; masked
arrays are refused; long file names and killed writes; underflowing feature scales; non-finite
predictions; ``blowup`` past its depth bound.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.data import Standardization
from deltaprop.graph.study import MAX_DEPTH, blowup
from deltaprop.io import Model
from deltaprop.training import fit


def test_assignment_copies_so_training_one_network_leaves_the_other():
    a, b = dp.Network([2, 3, 1], seed=0), dp.Network([2, 3, 1], seed=1)
    b.W[1], b.b[1] = a.W[1], a.b[1]
    before = a.W[1].copy(), a.b[1].copy()
    rng = np.random.default_rng(0)
    fit(b, rng.normal(size=(2, 20)), rng.normal(size=(1, 20)), epochs=2)
    assert np.array_equal(a.W[1], before[0]) and np.array_equal(a.b[1], before[1])
    view = a.W[2][:, :]
    b.W[2] = view
    assert not np.shares_memory(b.W[2], a.W[2])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_refused_where_set(bad, tmp_path):
    net = dp.Network([2, 3, 1], seed=0)
    W = net.W[1].copy()
    W[2, 1] = bad
    with pytest.raises(
        ValueError, match=r"W\[1\] must be finite; found a NaN or infinity at row 2, column 1"
    ):
        net.W[1] = W
    with pytest.raises(ValueError, match=r"b\[2\] must be finite"):
        net.b[2] = np.array([[bad]])
    assert np.isfinite(net.W[1]).all()
    dp.save(net, tmp_path / "m.safetensors")  # what is stored loads again
    dp.load(tmp_path / "m.safetensors")


def test_big_endian_input_works():
    net = dp.Network([2, 3, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(2, 5))
    Y = X[:1]
    big_X, big_Y = X.astype(">f8"), Y.astype(">f8")
    np.testing.assert_array_equal(net.forward(big_X), net.forward(X))
    assert net.gradients(big_X, big_Y)[0] == net.gradients(X, Y)[0]
    net.W[1] = net.W[1].astype(">f8")
    assert net.W[1].dtype.isnative


def test_masked_arrays_are_refused_with_a_clear_message():
    net = dp.Network([2, 1], seed=0)
    X = np.ma.masked_array(np.ones((2, 4)), mask=[[0, 1, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(TypeError, match=r"X is a masked array: deltaprop would ignore its mask"):
        net.forward(X)
    with pytest.raises(TypeError, match="masked array"):
        fit(net, X, np.ones((1, 4)), epochs=1)


def test_save_to_a_250_character_name(tmp_path):
    path = tmp_path / ("m" * 238 + ".safetensors")
    assert len(path.name) == 250
    dp.save(dp.Network([2, 1], seed=0), path)
    assert dp.load(path).sizes == [2, 1]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_stale_temporary_files_of_killed_writes_are_removed(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that no longer exists, as a writer killed mid-write
    stale = tmp_path / f".model.safetensors.{gone.pid}-0123456789ab.tmp"
    stale.write_bytes(b"half a model")
    live = tmp_path / f".model.safetensors.{os.getppid()}-0123456789ab.tmp"  # alive: kept
    live.write_bytes(b"being written")
    other = tmp_path / f".other.safetensors.{gone.pid}-0123456789ab.tmp"  # another target
    other.write_bytes(b"x")
    dp.save(dp.Network([2, 1], seed=0), tmp_path / "model.safetensors")
    assert not stale.exists() and live.exists() and other.exists()


def test_underflowing_feature_scales_are_refused_like_overflowing_ones():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 50))
    Y = X[:1].copy()
    Standardization.fit(X * [[1.0], [1e-150]], Y)  # still a normal variance: accepted
    with pytest.raises(ValueError, match=r"cannot standardise column 'b': its variance underflows"):
        Standardization.fit(X * [[1.0], [1e-201]], Y, feature_names=["a", "b"], target_names=["y"])
    with pytest.raises(ValueError, match=r"its mean or variance overflows"):
        Standardization.fit(X * [[1.0], [1e300]], Y)
    constant = np.vstack([X[:1], np.full((1, 50), 1e-201)])
    assert Standardization.fit(constant, Y).x_scale[1] == 1.0  # constant: scale 1, as before


def test_non_finite_predictions_are_an_error():
    net = dp.Network([1, 1], hidden="identity", seed=0)
    net.W[1] = np.array([[1e300]])
    model = Model(net)
    with pytest.raises(
        ValueError,
        match=r"predictions for 1 of 2 sample\(s\) \(the first is sample 2\) are not finite",
    ):
        model.forward(np.array([[1.0, 1e10]]))
    assert np.isfinite(model.forward(np.array([[1.0]]))).all()


def test_blowup_depth_bound():
    with pytest.raises(ValueError, match=rf"max_depth must be <= {MAX_DEPTH}"):
        blowup("fanout", 100_000)

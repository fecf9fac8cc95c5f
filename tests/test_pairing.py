"""Clear messages where a learner would be misled: a cost paired with an output activation it
does not suit is named, instead of a gradient check that fails on every layer."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.network import PairingWarning, pairing_problem


def _data(sizes, m=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(sizes[0], m)), rng.normal(size=(sizes[-1], m))


@pytest.mark.parametrize(
    "output,loss,needs",
    [
        ("identity", "cross_entropy", "softmax"),
        ("sigmoid", "cross_entropy", "softmax"),
        ("identity", "binary_cross_entropy", "sigmoid"),
        ("tanh", "binary_cross_entropy", "sigmoid"),
    ],
)
def test_network_warns_about_a_mismatched_pair(output, loss, needs):
    with pytest.warns(PairingWarning, match=f"needs output='{needs}'.*got output='{output}'"):
        dp.Network([3, 4, 2], output=output, loss=loss)


@pytest.mark.parametrize(
    "output,loss",
    [("identity", "mse"), ("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")],
)
def test_suited_pairs_are_quiet(output, loss):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = dp.Network([3, 4, 2], output=output, loss=loss)
    assert pairing_problem(net.output, net.loss) is None


def test_gradcheck_names_the_pairing_instead_of_failing():
    with pytest.warns(PairingWarning):
        net = dp.Network([3, 4, 2], loss="cross_entropy")  # identity output
    X, _ = _data(net.sizes)
    Y = np.eye(2)[:, [0, 1, 1, 0, 1, 0]]
    with pytest.raises(ValueError, match="needs output='softmax'.*outside \\(0, 1\\)"):
        dp.gradcheck(net, X, Y)


def test_gradcheck_warns_about_targets_that_are_not_one_hot():
    net = dp.Network([3, 4, 3], output="softmax", loss="cross_entropy")
    X, _ = _data(net.sizes)
    Y = np.tile([[0.0], [1.0], [2.0]], (1, 6))  # labels as values, not one-hot columns
    with pytest.warns(UserWarning, match="one-hot.*sums to 3"):
        report = dp.gradcheck(net, X, Y)
    assert report.ok  # the gradient is right even so; the cost is not a cross-entropy


def test_gradcheck_warns_about_binary_targets_outside_0_1():
    net = dp.Network([3, 4, 1], output="sigmoid", loss="binary_cross_entropy")
    X, Y = _data(net.sizes)
    with pytest.warns(UserWarning, match=r"targets in \[0, 1\]"):
        dp.gradcheck(net, X, 3 * Y)


def test_cli_gradcheck_cross_entropy_without_softmax_is_a_clear_error():
    r = subprocess.run(
        [sys.executable, "-m", "deltaprop", "gradcheck", "--loss", "cross_entropy"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "needs output='softmax'" in r.stderr and "Traceback" not in r.stderr
    assert "FAILED" not in r.stdout


@pytest.mark.parametrize(
    "output,loss", [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")]
)
def test_cli_gradcheck_classification_pairs_pass(output, loss):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "deltaprop",
            "gradcheck",
            "--layers",
            "3,5,3",
            "--output",
            output,
            "--loss",
            loss,
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr

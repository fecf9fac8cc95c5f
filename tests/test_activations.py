"""Every activation against central differences, overflow safety and the registry's contract."""

from __future__ import annotations

import numpy as np
import pytest

from deltaprop import activations
from deltaprop.activations import ACTIVATIONS, Activation, get_activation

# Points away from the kinks of relu / leaky_relu / elu at 0 (the derivative is a convention there).
Z_POINTS = np.array([[-3.1, -1.2, -0.37, -1e-3, 2e-3, 0.41, 1.3, 2.9]])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_g_prime_matches_central_differences(name):
    act = ACTIVATIONS[name]
    eps = 1e-6
    numeric = (act.g(Z_POINTS + eps) - act.g(Z_POINTS - eps)) / (2 * eps)
    np.testing.assert_allclose(act.g_prime(Z_POINTS), numeric, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("identity", lambda z: z),
        ("relu", lambda z: np.maximum(z, 0.0)),
        ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
        ("sigmoid", lambda z: 1.0 / (1.0 + np.exp(-z))),
        ("tanh", np.tanh),
        ("softplus", lambda z: np.log(1.0 + np.exp(z))),
        ("elu", lambda z: np.where(z > 0, z, np.exp(z) - 1.0)),
    ],
)
def test_g_matches_textbook_formula(name, reference):
    np.testing.assert_allclose(ACTIVATIONS[name].g(Z_POINTS), reference(Z_POINTS), rtol=1e-13)


def test_relu_derivative_is_a_step_not_one_everywhere():
    # The exercise's slip: ReLU' written as max(0, 1) = 1. It is 1[z > 0], and 0 at z = 0.
    Z = np.array([[-2.0, -1e-9, 0.0, 1e-9, 5.0]])
    np.testing.assert_array_equal(activations.relu.g_prime(Z), [[0.0, 0.0, 0.0, 1.0, 1.0]])


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh", "elu"])
def test_no_overflow_for_huge_inputs(name):
    act = ACTIVATIONS[name]
    Z = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        A, dA = act.g(Z), act.g_prime(Z)
    assert np.all(np.isfinite(A)) and np.all(np.isfinite(dA))


def test_sigmoid_and_softplus_limits_are_exact():
    Z = np.array([[-1e4, 1e4]])
    np.testing.assert_array_equal(activations.sigmoid.g(Z), [[0.0, 1.0]])
    np.testing.assert_array_equal(activations.softplus.g(Z), [[0.0, 1e4]])


def test_float32_stays_float32():
    Z = Z_POINTS.astype(np.float32)
    for act in ACTIVATIONS.values():
        assert act.g(Z).dtype == np.float32, act.name
        assert act.g_prime(Z).dtype == np.float32, act.name


def test_leaky_relu_slope_parameter():
    act = get_activation("leaky_relu", slope=0.2)
    Z = np.array([[-2.0, 3.0]])
    np.testing.assert_allclose(act.g(Z), [[-0.4, 3.0]])
    np.testing.assert_allclose(act.g_prime(Z), [[0.2, 1.0]])
    assert act.params == {"slope": 0.2}
    with pytest.raises(ValueError, match="slope"):
        activations.make_leaky_relu(-1.0)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown hidden 'rellu'.*relu.*sigmoid"):
        get_activation("rellu", param="hidden")


def test_user_pair_is_accepted():
    act = get_activation((np.sin, np.cos))
    assert isinstance(act, Activation)
    np.testing.assert_allclose(act.g_prime(Z_POINTS), np.cos(Z_POINTS))


def test_bad_spec_is_a_type_error():
    with pytest.raises(TypeError, match="activation must be a name"):
        get_activation(42)

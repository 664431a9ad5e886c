"""Activations and dictionary <-> vector helpers of gc_utils."""

import numpy as np
import pytest

import gc_utils
import gradcheck
from gc_utils import dictionary_to_vector, gradients_to_vector, relu, sigmoid, vector_to_dictionary
from testCases import deep_network_case, gradient_check_n_test_case


def test_sigmoid_matches_definition_for_moderate_inputs():
    z = np.linspace(-30, 30, 101)
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-14)


def test_sigmoid_has_no_overflow_warning_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]))
    np.testing.assert_array_equal(s[[0, 2, 4]], [0.0, 0.5, 1.0])
    assert 0 < s[1] < 1e-21 and 1 - 1e-15 < s[3] <= 1


def test_sigmoid_is_complex_step_safe():
    z, h = np.array([-3.0, 0.4, 5.0]), 1e-20
    s = sigmoid(z)
    np.testing.assert_allclose(sigmoid(z + 1j * h).imag / h, s * (1 - s), rtol=1e-13)


def test_relu_zeroes_negatives_and_keeps_dtype():
    z = np.array([[-2.0, 0.0, 3.5]])
    np.testing.assert_array_equal(relu(z), [[0.0, 0.0, 3.5]])
    zc = np.array([-2.0 + 1e-20j, 3.0 + 1e-20j])
    assert relu(zc).dtype == complex and relu(zc)[1].imag == 1e-20 and relu(zc)[0] == 0


@pytest.mark.parametrize("layer_dims", [[2, 1], [4, 5, 3, 1], [7, 3, 6, 2, 4, 1]])
def test_round_trip_for_several_depths(layer_dims):
    _, _, parameters = deep_network_case(layer_dims, m=3, seed=len(layer_dims))
    theta, keys = dictionary_to_vector(parameters)
    n = sum(v.size for v in parameters.values())
    assert theta.shape == (n, 1) and len(keys) == n
    back = vector_to_dictionary(theta, parameters)
    assert list(back) == list(parameters)
    for name, value in parameters.items():
        np.testing.assert_array_equal(back[name], value)
        assert back[name].shape == value.shape


def test_round_trip_with_arbitrary_names_and_shapes():
    parameters = {"embedding": np.arange(12.0).reshape(3, 4), "gamma": np.array([2.5]),
                  "kernel": np.arange(24.0).reshape(2, 3, 4), "scalar": np.array(7.0)}
    theta, keys = dictionary_to_vector(parameters)
    assert keys[:12] == ["embedding"] * 12 and keys[12] == "gamma" and keys[-1] == "scalar"
    back = vector_to_dictionary(theta, parameters)
    for name, value in parameters.items():
        np.testing.assert_array_equal(back[name], value)


def test_vector_to_dictionary_is_inverse_from_the_vector_side():
    _, _, parameters = gradient_check_n_test_case()
    theta = np.random.default_rng(0).standard_normal((47, 1))
    again, _ = dictionary_to_vector(vector_to_dictionary(theta, parameters))
    np.testing.assert_array_equal(again, theta)


def test_vector_to_dictionary_keeps_complex_dtype():
    _, _, parameters = gradient_check_n_test_case()
    theta = dictionary_to_vector(parameters)[0] + 1e-20j
    assert all(v.dtype == complex for v in vector_to_dictionary(theta, parameters).values())


def test_gradients_line_up_with_parameters_and_ignore_extras():
    _, _, parameters = gradient_check_n_test_case()
    # gradients in another order, with extra entries such as dZ1 and dA1
    gradients = {"dZ1": np.ones((5, 3)), "dA1": np.ones((5, 3))}
    for name in reversed(list(parameters)):
        gradients["d" + name] = 10 * parameters[name]
    grad = gradients_to_vector(gradients, parameters)
    np.testing.assert_array_equal(grad, 10 * dictionary_to_vector(parameters)[0])


def test_helpers_never_modify_or_alias_their_inputs():
    _, _, parameters = gradient_check_n_test_case()
    before = {k: v.copy() for k, v in parameters.items()}
    theta, _ = dictionary_to_vector(parameters)
    theta[:] = 0
    back = vector_to_dictionary(dictionary_to_vector(parameters)[0], parameters)
    back["W1"][:] = 0
    gradients = {"d" + k: v for k, v in parameters.items()}
    gradients_to_vector(gradients, parameters)[:] = 0
    for name, value in before.items():
        np.testing.assert_array_equal(parameters[name], value)


def test_vector_to_dictionary_returns_copies_not_views():
    _, _, parameters = gradient_check_n_test_case()
    theta, _ = dictionary_to_vector(parameters)
    back = vector_to_dictionary(theta, parameters)
    back["b1"][:] = 99.0
    assert not np.any(theta == 99.0)


@pytest.mark.parametrize("bad, error, match", [
    ([1.0, 2.0], TypeError, "`parameters` must be a dict"),
    ({}, ValueError, "`parameters` must not be empty"),
    ({"W1": np.array(["a", "b"])}, TypeError, r"`parameters\['W1'\]` must be a real numeric"),
    ({"W1": np.ones(2, dtype=complex)}, TypeError, r"`parameters\['W1'\]` must be a real numeric"),
])
def test_dictionary_to_vector_rejects_bad_parameters(bad, error, match):
    with pytest.raises(error, match=match):
        dictionary_to_vector(bad)


def test_vector_to_dictionary_rejects_wrong_length_and_shape():
    _, _, parameters = gradient_check_n_test_case()
    with pytest.raises(ValueError, match="`theta` has 46 entries but `parameters` has 47"):
        vector_to_dictionary(np.zeros((46, 1)), parameters)
    with pytest.raises(ValueError, match=r"`theta` must have shape \(n, 1\) or \(n,\)"):
        vector_to_dictionary(np.zeros((47, 2)), parameters)


def test_gradients_to_vector_rejects_missing_key_and_wrong_shape():
    _, _, parameters = gradient_check_n_test_case()
    gradients = {"d" + k: np.zeros_like(v) for k, v in parameters.items()}
    del gradients["db2"]
    with pytest.raises(ValueError, match="`gradients` has no key 'db2' for parameter 'b2'"):
        gradients_to_vector(gradients, parameters)
    gradients["db2"] = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"`gradients\['db2'\]` has shape \(1, 3\), expected \(3, 1\)"):
        gradients_to_vector(gradients, parameters)
    with pytest.raises(TypeError, match="`gradients` must be a dict"):
        gradients_to_vector([0.0], parameters)


def test_check_gradients_is_the_package_function():
    # The course's helper module re-exports the checker: one function, not a wrapper.
    assert gc_utils.check_gradients is gradcheck.check_gradients
    assert gc_utils.check_vjp is gradcheck.check_vjp
    assert gc_utils.GradientCheckReport is gradcheck.GradientCheckReport

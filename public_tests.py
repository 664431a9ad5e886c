"""Learner-facing checks for Gradient_Checking.ipynb: `<function>_test(target)` raises on a mistake."""

import copy
import numbers

import numpy as np

from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from testCases import gradient_check_n_test_case

THRESHOLD = 1e-7  # the notebook's verdict threshold on equation (2)
REFERENCE_EPSILON = 1e-4  # truncation-dominated for the course network: accurate and CPU-independent
RTOL = 1e-3  # learner and reference loops do the same arithmetic, so they agree far better


def forward_propagation_test(target):
    """Check ``target(x, theta)`` computes J = theta * x."""
    for x, theta in [(2, 4), (-3.0, 0.5), (0.25, -8.0)]:
        got = target(x, theta)
        _check_scalar(f"forward_propagation(x={x}, theta={theta})", got)
        _check_close(f"forward_propagation(x={x}, theta={theta})", got, theta * x, rtol=1e-12)
    print("All tests passed.")


def backward_propagation_test(target):
    """Check ``target(x, theta)`` returns dJ/dtheta = x (not theta)."""
    for x, theta in [(3, 4), (-2.0, 0.5), (0.25, -8.0)]:
        got = target(x, theta)
        _check_scalar(f"backward_propagation(x={x}, theta={theta})", got)
        _check_close(f"backward_propagation(x={x}, theta={theta})", got, x, rtol=1e-12)
    print("All tests passed.")


def gradient_check_test(target):
    """Check the 1-D ``target(x, theta, epsilon, print_msg)`` against a reference loop."""
    epsilon = 1e-7
    for x, theta in [(2, 4), (3, 4)]:
        call = f"gradient_check(x={x}, theta={theta}, epsilon={epsilon})"
        got = target(x, theta, epsilon, False)
        _check_scalar(call, got)
        J = lambda p, x=x: p["theta"] * x  # noqa: E731 - the 1-D model J(theta) = theta x
        expected = _difference(J, {"theta": np.array([[theta]], dtype=float)},
                               {"dtheta": np.array([[x]], dtype=float)}, epsilon)
        _check_close(call, got, expected, rtol=RTOL)
        if not got < THRESHOLD:
            raise AssertionError(f"{call}: a correct gradient must give a difference below "
                                 f"{THRESHOLD:g}, got {got:.3g}")
    print("All tests passed.")


def gradient_check_n_test(target, forward_propagation_n, backward_propagation_n):
    """Check ``target(parameters, gradients, X, Y, epsilon, print_msg)`` on the course case.

    Two cases: the gradients from `backward_propagation_n` (buggy or not), and
    accurate numerical gradients, for which a correct loop returns a round-off-
    sized difference.
    """
    X, Y, parameters = gradient_check_n_test_case()
    cost_fn = lambda p: forward_propagation_n(X, Y, p)[0]  # noqa: E731
    _, cache = forward_propagation_n(X, Y, parameters)
    cases = {
        "the gradients of backward_propagation_n": backward_propagation_n(X, Y, cache),
        "accurate numerical gradients": _numerical_gradients(cost_fn, parameters, REFERENCE_EPSILON),
    }
    epsilon = 1e-7
    for label, gradients in cases.items():
        call = f"gradient_check_n(..., epsilon={epsilon}) with {label}"
        before = copy.deepcopy((parameters, gradients))
        got = target(parameters, gradients, X, Y, epsilon, False)
        _check_scalar(call, got)
        _check_unchanged(call, before, (parameters, gradients))
        _check_close(call, got, _difference(cost_fn, parameters, gradients, epsilon), rtol=RTOL)
    print("All tests passed.")


def backward_propagation_n_test(target, forward_propagation_n):
    """Check the fixed ``target(X, Y, cache)`` gradient by gradient on the course case."""
    X, Y, parameters = gradient_check_n_test_case()
    cost_fn = lambda p: forward_propagation_n(X, Y, p)[0]  # noqa: E731
    _, cache = forward_propagation_n(X, Y, parameters)
    gradients = target(X, Y, cache)
    if not isinstance(gradients, dict):
        raise AssertionError(f"backward_propagation_n must return a dict, got {type(gradients).__name__}")
    for name, value in parameters.items():
        key = "d" + name
        if key not in gradients:
            raise AssertionError(f"the gradients have no {key!r}")
        if np.shape(gradients[key]) != value.shape:
            raise AssertionError(f"{key} has shape {np.shape(gradients[key])}, expected {value.shape}")
    numeric = _numerical_gradients(cost_fn, parameters, REFERENCE_EPSILON)
    wrong = []
    for name in parameters:
        g, n = gradients["d" + name], numeric["d" + name]
        diff = np.linalg.norm(g - n) / (np.linalg.norm(g) + np.linalg.norm(n))
        if not diff < THRESHOLD:
            ratio = np.vdot(g, n) / np.vdot(n, n)
            wrong.append(f"d{name} (difference {diff:.3g}; about {ratio:.3g} x the numerical gradient)")
    if wrong:
        raise AssertionError("backward propagation is still wrong for " + ", ".join(wrong))
    print("All tests passed.")


def _numerical_gradients(cost_fn, parameters, epsilon):
    """Central differences of `cost_fn` for every scalar, as a gradients dict ("d" + name)."""
    theta, _ = dictionary_to_vector(parameters)
    gradapprox = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        step = np.zeros_like(theta)
        step[i] = epsilon
        J_plus = cost_fn(vector_to_dictionary(theta + step, parameters))
        J_minus = cost_fn(vector_to_dictionary(theta - step, parameters))
        gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    return {"d" + name: value for name, value in vector_to_dictionary(gradapprox, parameters).items()}


def _difference(cost_fn, parameters, gradients, epsilon):
    """Equation (2) between `gradients` and central differences at `epsilon`."""
    grad = gradients_to_vector(gradients, parameters)
    gradapprox = gradients_to_vector(_numerical_gradients(cost_fn, parameters, epsilon), parameters)
    return np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))


def _check_scalar(call, value):
    """Raise unless `value` is a real scalar (not an array, not a bool)."""
    if isinstance(value, np.ndarray) or isinstance(value, bool) or not isinstance(value, numbers.Real):
        shape = f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""
        raise AssertionError(f"{call} must return a real scalar, got {type(value).__name__}{shape}")
    if not np.isfinite(value):
        raise AssertionError(f"{call} returned {value}, expected a finite number")


def _check_close(call, got, expected, rtol):
    """Raise unless ``|got - expected| <= rtol * |expected|``, showing both."""
    if not abs(got - expected) <= rtol * abs(expected):
        raise AssertionError(f"{call}: expected {float(expected):.6g}, got {float(got):.6g}")


def _check_unchanged(call, before, after):
    """Raise if the arrays in `after` differ from their copies in `before`."""
    for old_dict, new_dict in zip(before, after, strict=True):
        for key, old in old_dict.items():
            if not np.array_equal(old, new_dict[key]):
                raise AssertionError(f"{call} modified its input {key!r}; work on a copy")

"""public_tests accepts the notebook's solutions and rejects each known learner mistake."""

import numpy as np
import pytest

import public_tests
from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from testCases import gradient_check_n_test_case

MISTAKES = ["theta_minus_from_plus", "no_copy", "divide_by_epsilon", "times_epsilon",
            "grad_is_gradapprox", "returns_array"]


def gradient_check_n_with(forward_propagation_n, mistake=None):
    """The course loop for gradient_check_n, with one learner `mistake` planted."""
    def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
        values, _ = dictionary_to_vector(parameters)
        grad = gradients_to_vector(gradients, parameters)
        gradapprox = np.zeros_like(values)
        for i in range(values.shape[0]):
            theta_plus = values if mistake == "no_copy" else np.copy(values)
            theta_plus[i] += epsilon
            theta_minus = np.copy(theta_plus if mistake == "theta_minus_from_plus" else values)
            theta_minus[i] -= epsilon
            J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus, parameters))
            J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus, parameters))
            if mistake == "divide_by_epsilon":
                gradapprox[i] = (J_plus - J_minus) / epsilon
            elif mistake == "times_epsilon":
                gradapprox[i] = (J_plus - J_minus) / 2 * epsilon
            else:
                gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
        if mistake == "grad_is_gradapprox":
            grad = gradapprox
        difference = np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))
        return np.array([[difference]]) if mistake == "returns_array" else difference
    return gradient_check_n


def gradient_check_with(mistake=None):
    """The 1-D gradient_check with one learner `mistake` planted."""
    def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
        theta_plus = theta + epsilon
        theta_minus = theta_plus - epsilon if mistake == "theta_minus_from_plus" else theta - epsilon
        J_plus, J_minus = theta_plus * x, theta_minus * x
        if mistake == "divide_by_epsilon":
            gradapprox = (J_plus - J_minus) / epsilon
        elif mistake == "times_epsilon":
            gradapprox = (J_plus - J_minus) / 2 * epsilon
        else:
            gradapprox = (J_plus - J_minus) / (2 * epsilon)
        grad = gradapprox if mistake == "grad_is_gradapprox" else x
        difference = abs(grad - gradapprox) / (abs(grad) + abs(gradapprox))
        return np.array([difference]) if mistake == "returns_array" else difference
    return gradient_check


def with_only_one_fix(fixed_backprop, name):
    """The fixed backprop with the planted bug of `name` put back (dW2 x 2 or db1 x 4)."""
    factor = {"dW2": 2, "db1": 4}[name]
    def backprop(X, Y, cache):
        gradients = dict(fixed_backprop(X, Y, cache))
        gradients[name] = factor * gradients[name]
        return gradients
    return backprop


def test_notebook_solutions_pass(notebook, capsys):
    public_tests.forward_propagation_test(notebook["forward_propagation"])
    public_tests.backward_propagation_test(notebook["backward_propagation"])
    public_tests.gradient_check_test(notebook["gradient_check"])
    public_tests.gradient_check_n_test(notebook["gradient_check_n"], notebook["forward_propagation_n"],
                                       notebook["backward_propagation_n"])
    public_tests.gradient_check_n_test(notebook["gradient_check_n"], notebook["forward_propagation_n"],
                                       notebook["backward_propagation_n_fixed"])
    public_tests.backward_propagation_n_test(notebook["backward_propagation_n_fixed"],
                                             notebook["forward_propagation_n"])
    assert capsys.readouterr().out == "All tests passed.\n" * 6


@pytest.mark.parametrize("wrong, match", [
    (lambda x, theta: theta + x, r"forward_propagation\(x=2, theta=4\): expected 8, got 6"),
    (lambda x, theta: np.array([theta * x]), "must return a real scalar, got ndarray of shape"),
])
def test_forward_propagation_test_rejects_mistakes(wrong, match):
    with pytest.raises(AssertionError, match=match):
        public_tests.forward_propagation_test(wrong)


def test_backward_propagation_test_rejects_returning_theta():
    with pytest.raises(AssertionError, match=r"backward_propagation\(x=3, theta=4\): expected 3, got 4"):
        public_tests.backward_propagation_test(lambda x, theta: theta)


def test_reference_loops_reproduce_the_course_numbers():
    assert gradient_check_with()(2, 4) == pytest.approx(2.919335883291695e-10, rel=1e-9)
    assert gradient_check_with()(3, 4) == pytest.approx(7.814075313343006e-11, rel=1e-9)


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m != "no_copy"])  # scalars: no copy
def test_gradient_check_test_rejects_each_mistake(mistake):
    with pytest.raises(AssertionError, match=r"gradient_check\(x=2, theta=4"):
        public_tests.gradient_check_test(gradient_check_with(mistake))


@pytest.mark.parametrize("mistake", MISTAKES)
@pytest.mark.parametrize("backprop", ["backward_propagation_n", "backward_propagation_n_fixed"])
def test_gradient_check_n_test_rejects_each_mistake(notebook, mistake, backprop):
    wrong = gradient_check_n_with(notebook["forward_propagation_n"], mistake)
    with pytest.raises(AssertionError, match=r"gradient_check_n\(\.\.\., epsilon=1e-07\)"):
        public_tests.gradient_check_n_test(wrong, notebook["forward_propagation_n"], notebook[backprop])


@pytest.mark.parametrize("mistake, backprop, published", [
    ("theta_minus_from_plus", "backward_propagation_n_fixed", 0.33333334789859204),
    ("no_copy", "backward_propagation_n_fixed", 0.33333334789859204),
    ("divide_by_epsilon", "backward_propagation_n", 0.28807918174985225),
    ("times_epsilon", "backward_propagation_n", 1.0),
    ("grad_is_gradapprox", "backward_propagation_n", 0.0),
    (None, "backward_propagation_n", 0.2850931567761623),
])
def test_mistakes_give_the_published_differences(notebook, mistake, backprop, published):
    X, Y, parameters = gradient_check_n_test_case()
    forward = notebook["forward_propagation_n"]
    gradients = notebook[backprop](X, Y, forward(X, Y, parameters)[1])
    got = gradient_check_n_with(forward, mistake)(parameters, gradients, X, Y)
    assert got == pytest.approx(published, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name, published", [("dW2", 0.17344196893145933), ("db1", 0.2544229712458523)])
def test_one_bug_left_is_still_a_mistake(notebook, name, published):
    X, Y, parameters = gradient_check_n_test_case()
    forward = notebook["forward_propagation_n"]
    backprop = with_only_one_fix(notebook["backward_propagation_n_fixed"], name)
    difference = notebook["gradient_check_n"](parameters, backprop(X, Y, forward(X, Y, parameters)[1]), X, Y)
    assert difference == pytest.approx(published, rel=1e-6)
    with pytest.raises(AssertionError, match=f"backward propagation is still wrong for {name}"):
        public_tests.backward_propagation_n_test(backprop, forward)


def test_backward_propagation_n_test_names_both_planted_bugs(notebook):
    match = r"still wrong for db1 .*about 4 x.*, dW2 .*about 2 x"
    with pytest.raises(AssertionError, match=match):
        public_tests.backward_propagation_n_test(notebook["backward_propagation_n"],
                                                 notebook["forward_propagation_n"])

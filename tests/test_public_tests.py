"""public_tests accepts the notebook's solutions and rejects each known learner mistake."""

import ast
import copy
import json
import pathlib
import re

import numpy as np
import pytest

import public_tests
from assignment import cases, make
from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from testCases import gradient_check_n_test_case
from tests.test_assignment import solved

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
    with pytest.raises(AssertionError, match=r"gradient_check\(x=2, theta="):
        public_tests.gradient_check_test(gradient_check_with(mistake))


@pytest.mark.parametrize("mistake", MISTAKES)
@pytest.mark.parametrize("backprop", ["backward_propagation_n", "backward_propagation_n_fixed"])
def test_gradient_check_n_test_rejects_each_mistake(notebook, mistake, backprop):
    wrong = gradient_check_n_with(notebook["forward_propagation_n"], mistake)
    with pytest.raises(AssertionError, match=r"gradient_check_n\(\.\.\., epsilon="):
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
    with pytest.raises(AssertionError, match=r"the gradients still disagree .*: difference = \d") as raised:
        public_tests.backward_propagation_n_test(backprop, forward)
    assert not re.search(r"\bd[Wb]\d|factor|\d x\b|twice|[0-9.]+ ?(x|times)", str(raised.value))


def test_backward_propagation_n_test_gives_nothing_away(notebook):
    """Interface 4: one difference for the whole vector, no gradient named, no factor."""
    with pytest.raises(AssertionError) as raised:
        public_tests.backward_propagation_n_test(notebook["backward_propagation_n"],
                                                 notebook["forward_propagation_n"])
    message = str(raised.value)
    assert re.search(r"still disagree .*: difference = [\d.e+-]+ .*one parameter at a time", message)
    assert not re.search(r"\bd[Wb]\d|factor|twice|\d x\b|[0-9.]+ ?(x|times)", message), message


# ---------------------------------------------------------------------------------------------
# Tests that teach: each learner mistake, written as a learner would write it (the course
# solution with one edit), gets a message that names the step that went wrong.

GRADIENT_CHECK = '''
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    theta_plus = theta + epsilon
    theta_minus = theta - epsilon
    J_plus = forward_propagation(x, theta_plus)
    J_minus = forward_propagation(x, theta_minus)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference < 1e-7:
            print(f"Your backward propagation works perfectly fine! difference = {difference:.3g}")
        else:
            print(f"There is a mistake in the backward propagation! difference = {difference:.3g}")
    return difference
'''

GRADIENT_CHECK_N = """
def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients, parameters)
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i] = theta_plus[i] + epsilon
        J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus, parameters))
        theta_minus = np.copy(parameters_values)
        theta_minus[i] = theta_minus[i] - epsilon
        J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus, parameters))
        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference < 1e-7:
            print(f"Your backward propagation works perfectly fine! difference = {difference:.3g}")
        else:
            print(f"There is a mistake in the backward propagation! difference = {difference:.3g}")
    return difference
"""

# (mistake, edits to the solution, what the message must be). "named:<key>": the message names that
# known mistake (public_tests.MESSAGES) and no other; "fallback": it names none and says that no
# single known mistake explains the results; anything else: a regex, and no mistake is named.
# The message always also shows the expected and the obtained difference, or what was returned.
# The same edits of equation (2) in both exercises.
EQUATION_2_MISTAKES = [
    (
        "no denominator",
        [("difference = numerator / denominator", "difference = numerator")],
        "named:no_denominator",
    ),
    (
        "denominator ||grad + gradapprox||",
        [("np.linalg.norm(grad) + np.linalg.norm(gradapprox)", "np.linalg.norm(grad + gradapprox)")],
        "named:denominator_of_sum",
    ),
    (
        "difference of norms",
        [("np.linalg.norm(grad - gradapprox)", "np.linalg.norm(grad) - np.linalg.norm(gradapprox)")],
        "named:difference_of_norms",
    ),
    (
        "inverted ratio",
        [("difference = numerator / denominator", "difference = denominator / numerator")],
        "named:inverted_ratio",
    ),
    (
        "precedence",
        [
            (
                "difference = numerator / denominator",
                "difference = numerator / np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
            )
        ],
        "named:precedence",
    ),
]
MISTAKES_1D = [
    (
        "one-sided difference",
        [("(J_plus - J_minus) / (2 * epsilon)", "(J_plus - forward_propagation(x, theta)) / epsilon")],
        "named:one_sided",
    ),
    (
        "one-sided difference, minus side",
        [("(J_plus - J_minus) / (2 * epsilon)", "(forward_propagation(x, theta) - J_minus) / epsilon")],
        "named:one_sided_minus",
    ),
    (
        "theta_minus from theta_plus",
        [("theta_minus = theta - epsilon", "theta_minus = theta_plus - epsilon")],
        "named:theta_minus_from_plus",
    ),
    ("divides by epsilon", [("/ (2 * epsilon)", "/ epsilon")], "named:divide_by_epsilon"),
    ("multiplies by epsilon", [("/ (2 * epsilon)", "/ 2 * epsilon")], "named:times_epsilon"),
    ("reversed sign", [("(J_plus - J_minus)", "(J_minus - J_plus)")], "named:reversed_sign"),
    (
        "no perturbation",
        [("x, theta_plus)", "x, theta)"), ("x, theta_minus)", "x, theta)")],
        "named:unperturbed",
    ),
    (
        "perturbs x instead of theta",
        [
            ("forward_propagation(x, theta_plus)", "forward_propagation(x + epsilon, theta)"),
            ("forward_propagation(x, theta_minus)", "forward_propagation(x - epsilon, theta)"),
        ],
        "named:perturbs_x",
    ),
    (
        "forward arguments swapped",
        [
            ("forward_propagation(x, theta_plus)", "forward_propagation(theta_plus, x)"),
            ("forward_propagation(x, theta_minus)", "forward_propagation(theta_minus, x)"),
        ],
        "named:swapped_forward",
    ),
    (
        "grad is gradapprox",
        [("grad = backward_propagation(x, theta)", "grad = gradapprox")],
        "named:grad_is_gradapprox",
    ),
    (
        "grad at theta_plus",
        [("backward_propagation(x, theta)", "backward_propagation(x, theta_plus)")],
        "named:grad_at_theta_plus",
    ),
    (
        "grad at theta_minus",
        [("backward_propagation(x, theta)", "backward_propagation(x, theta_minus)")],
        "named:grad_at_theta_minus",
    ),
    (
        "backward arguments swapped",
        [("backward_propagation(x, theta)", "backward_propagation(theta, x)")],
        "named:swapped_backward",
    ),
    (
        "forward written inline",
        [
            ("forward_propagation(x, theta_plus)", "theta_plus * x"),
            ("forward_propagation(x, theta_minus)", "theta_minus * x"),
        ],
        "named:inline_forward",
    ),
    (
        "backward written inline",
        [("grad = backward_propagation(x, theta)", "grad = x")],
        "named:inline_backward",
    ),
    (
        "squared norms",
        [
            ("norm(grad - gradapprox)", "norm(grad - gradapprox) ** 2"),
            (
                "np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
                "np.linalg.norm(grad) ** 2 + np.linalg.norm(gradapprox) ** 2",
            ),
        ],
        "named:squared_norms",
    ),
    (
        "hard-coded 1e-7",
        [
            ("theta + epsilon", "theta + 1e-7"),
            ("theta - epsilon", "theta - 1e-7"),
            ("(2 * epsilon)", "(2 * 1e-7)"),
        ],
        "named:ignores_epsilon",
    ),
    ("an unknown factor", [("/ (2 * epsilon)", "/ (3 * epsilon)")], "fallback"),
    (
        "inverted verdict",
        [("difference < 1e-7", "difference > 1e-7")],
        r"print_msg=True: .*the verdict is inverted\. The line starts 'Your backward propagation works "
        r"perfectly fine!' only when difference < 1e-07, and 'There is a mistake in the backward "
        r"propagation!'",
    ),
    (
        "verdict in other words",
        [
            (
                "Your backward propagation works perfectly fine! difference",
                "No mistake found: gradients agree, difference",
            )
        ],
        r"difference = 2\.92e-10 is below 1e-07, so the line must start with the instructions' exact words "
        r"'Your backward propagation works perfectly fine! difference = ' followed by the value; it printed "
        r"'No mistake found: gradients agree, difference = 2\.92e-10'",
    ),
    (
        "mistake verdict in other words",
        [("There is a mistake in the backward propagation! difference", "Wrong gradient! difference")],
        r"is not below 1e-07, so the line must start with the instructions' exact words "
        r"'There is a mistake in the backward propagation! difference = '",
    ),
    (
        "verdict without the value",
        [("! difference = {difference:.3g}", "!")],
        r"must start with the instructions' exact words 'Your backward propagation works perfectly fine! "
        r"difference = ' followed by the value; it printed 'Your backward propagation works perfectly fine!'",
    ),
    (
        "prints without print_msg",
        [("if print_msg:", "if True:")],
        r"print_msg=False printed 'Your backward .*print the verdict only if print_msg is True",
    ),
    (
        "returns a list",
        [("return difference", "return [difference]")],
        r"must return a number, got a list \[.*not \[difference\]",
    ),
    (
        "placeholders",
        [
            ("    difference = numerator / denominator", "    difference = None"),
            ("if print_msg:", "if print_msg and difference is not None:"),
        ],
        r"gradient_check is not implemented yet: it returned None",
    ),
    *EQUATION_2_MISTAKES,
]

MISTAKES_ND = [
    (
        "one-sided difference",
        [
            (
                "(J_plus[i] - J_minus[i]) / (2 * epsilon)",
                "(J_plus[i] - forward_propagation_n(X, Y, parameters)[0]) / epsilon",
            )
        ],
        "named:one_sided",
    ),
    (
        "one-sided difference, minus side",
        [
            (
                "(J_plus[i] - J_minus[i]) / (2 * epsilon)",
                "(forward_propagation_n(X, Y, parameters)[0] - J_minus[i]) / epsilon",
            )
        ],
        "named:one_sided_minus",
    ),
    (
        "theta_minus from theta_plus",
        [("theta_minus = np.copy(parameters_values)", "theta_minus = np.copy(theta_plus)")],
        "named:theta_minus_from_plus",
    ),
    (
        "no np.copy for theta_plus",
        [("theta_plus = np.copy(parameters_values)", "theta_plus = parameters_values")],
        "named:plus_not_copied",
    ),
    (
        "no np.copy at all",
        [("np.copy(parameters_values)", "parameters_values")],
        "named:theta_minus_from_plus",
    ),
    (
        "in place, not restored",
        [
            ("np.copy(parameters_values)", "parameters_values"),
            ("theta_minus[i] - epsilon", "theta_minus[i] - 2 * epsilon"),
        ],
        "named:no_restore",
    ),
    (
        "perturbs every entry at once",
        [
            ("theta_plus[i] = theta_plus[i] + epsilon", "theta_plus = theta_plus + epsilon"),
            ("theta_minus[i] = theta_minus[i] - epsilon", "theta_minus = theta_minus - epsilon"),
        ],
        "named:perturbs_all",
    ),
    ("skips the last entry", [("range(num_parameters)", "range(num_parameters - 1)")], "named:skips_last"),
    ("skips the first entry", [("range(num_parameters)", "range(1, num_parameters)")], "named:skips_first"),
    (
        "range(len(parameters))",
        [("range(num_parameters)", "range(len(parameters))")],
        "named:loops_over_keys",
    ),
    ("divides by epsilon", [("/ (2 * epsilon)", "/ epsilon")], "named:divide_by_epsilon"),
    ("multiplies by epsilon", [("/ (2 * epsilon)", "/ 2 * epsilon")], "named:times_epsilon"),
    ("reversed sign", [("(J_plus[i] - J_minus[i])", "(J_minus[i] - J_plus[i])")], "named:reversed_sign"),
    (
        "no perturbation",
        [
            ("vector_to_dictionary(theta_plus, parameters)", "parameters"),
            ("vector_to_dictionary(theta_minus, parameters)", "parameters"),
        ],
        "named:unperturbed",
    ),
    (
        "grad is gradapprox",
        [("    numerator =", "    grad = gradapprox\n    numerator =")],
        "named:grad_is_gradapprox",
    ),
    (
        "ignores the gradients argument",
        [
            (
                "grad = gradients_to_vector(gradients, parameters)",
                "grad = gradients_to_vector(backward_propagation_n(X, Y, forward_propagation_n(X, "
                "Y, parameters)[1]), "
                "parameters)",
            )
        ],
        r"^gradient_check_n called backward_propagation_n itself: it must check the `gradients` it is given",
    ),
    (
        "gradapprox[i] dedented out of the loop",
        [("        gradapprox[i] = (J_plus[i]", "    gradapprox[i] = (J_plus[i]")],
        "named:gradapprox_after_loop",
    ),
    (
        "gradapprox of shape (n,)",
        [
            ("gradapprox = np.zeros((num_parameters, 1))", "gradapprox = np.zeros(num_parameters)"),
            ("(J_plus[i] - J_minus[i])", "(J_plus[i, 0] - J_minus[i, 0])"),
        ],
        "named:flat_gradapprox",
    ),
    (
        "gradapprox of shape (n,), array entries",
        [("gradapprox = np.zeros((num_parameters, 1))", "gradapprox = np.zeros(num_parameters)")],
        r"raised ValueError: setting an array element with a sequence\. A sequence went into one "
        r"entry of an array",
    ),
    (
        "float32 copies",
        [
            (
                "theta_plus = np.copy(parameters_values)",
                "theta_plus = np.copy(parameters_values).astype(np.float32)",
            ),
            (
                "theta_minus = np.copy(parameters_values)",
                "theta_minus = np.copy(parameters_values).astype(np.float32)",
            ),
        ],
        r"^forward_propagation_n\(X, Y, parameters\) was given float32 parameters \(W1\): float32 "
        r"keeps about 7 digits",
    ),
    (
        "float32 copies, cast back",
        [
            (
                "theta_plus = np.copy(parameters_values)",
                "theta_plus = np.copy(parameters_values).astype(np.float32)",
            ),
            (
                "theta_minus = np.copy(parameters_values)",
                "theta_minus = np.copy(parameters_values).astype(np.float32)",
            ),
            (
                "vector_to_dictionary(theta_plus, parameters)",
                "vector_to_dictionary(theta_plus.astype(float), parameters)",
            ),
            (
                "vector_to_dictionary(theta_minus, parameters)",
                "vector_to_dictionary(theta_minus.astype(float), parameters)",
            ),
        ],
        "named:float32_copies",
    ),
    (
        "difference computed inside the loop",
        [
            ("\n    numerator", "\n        numerator"),
            ("\n    denominator", "\n        denominator"),
            ("\n    difference =", "\n        difference ="),
            ("\n    if print_msg:", "\n        if print_msg:"),
            ("\n        if difference < 1e-7:", "\n            if difference < 1e-7:"),
            ('\n            print(f"Your', '\n                print(f"Your'),
            ("\n        else:", "\n            else:"),
            ('\n            print(f"There', '\n                print(f"There'),
        ],
        r"print_msg=True printed \d+ lines, starting 'There is a mistake.*print the verdict once, "
        r"after difference is "
        r"computed",
    ),
    (
        "difference computed and returned inside the loop",
        [
            (
                "        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)\n",
                "        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)\n"
                "        difference = np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + "
                "np.linalg.norm(gradapprox))\n"
                "        return difference\n",
            )
        ],
        "named:returns_in_loop",
    ),
    (
        "squared norms",
        [
            ("norm(grad - gradapprox)", "norm(grad - gradapprox) ** 2"),
            (
                "np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
                "np.sum(grad ** 2) + np.sum(gradapprox ** 2)",
            ),
        ],
        "named:squared_norms",
    ),
    (
        "L1 norms",
        [
            ("norm(grad - gradapprox)", "norm(grad - gradapprox, 1)"),
            (
                "np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
                "np.linalg.norm(grad, 1) + np.linalg.norm(gradapprox, 1)",
            ),
        ],
        "named:l1_norms",
    ),
    (
        "hard-coded 1e-7",
        [("+ epsilon", "+ 1e-7"), ("- epsilon", "- 1e-7"), ("(2 * epsilon)", "(2 * 1e-7)")],
        "named:ignores_epsilon",
    ),
    ("an unknown factor", [("/ (2 * epsilon)", "/ (3 * epsilon)")], "fallback"),
    (
        "whole (cost, cache) in J_plus[i]",
        [("J_plus[i], _ =", "J_plus[i] =")],
        r"setting an array element with a sequence.*forward_propagation_n returns a pair \(cost, "
        r"cache\): store only "
        r"the cost",
    ),
    (
        "no vector_to_dictionary",
        [("vector_to_dictionary(theta_plus, parameters)", "theta_plus")],
        r"given a ndarray of shape \(47, 1\), not a dictionary: .*vector_to_dictionary\(theta_plus, "
        r"parameters\)",
    ),
    (
        "difference as a list",
        [("difference = numerator / denominator", "difference = [numerator / denominator]")],
        r"must return a number, got a list",
    ),
    ("returns a list", [("return difference", "return [difference]")], r"must return a number, got a list"),
    ("inverted verdict", [("difference < 1e-7", "difference > 1e-7")], r"the verdict is inverted"),
    ("prints without print_msg", [("if print_msg:", "if True:")], r"print_msg=False printed"),
    (
        "modifies its input",
        [
            (
                "    numerator =",
                "    gradients[next(iter(gradients))] *= 1\n"
                "    parameters[next(iter(parameters))] += 0.0 * epsilon + 1e-3\n    numerator =",
            )
        ],
        r"modified its input 'W1'; work on a copy",
    ),
    (
        "placeholders",
        [
            ("        theta_plus = np.copy(parameters_values)\n", "        theta_plus = None\n"),
            ("    difference = numerator / denominator", "    difference = None"),
            ("if print_msg:", "if print_msg and difference is not None:"),
        ],
        r"gradient_check_n is not implemented yet: .*TypeError",
    ),
    *EQUATION_2_MISTAKES,
]


def edits_of(table, mistake):
    """The edits of `mistake` in `table` (MISTAKES_1D or MISTAKES_ND)."""
    return next(edits for name, edits, _ in table if name == mistake)


def learner_function(template, edits, namespace):
    """The function defined by `template` after `edits` ((old, new) pairs, each old found once)."""
    source = template
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    scope = dict(namespace)
    exec(compile(source, "<learner cell>", "exec"), scope)
    return scope[re.search(r"def (\w+)\(", template).group(1)]


def test_the_learner_templates_pass(notebook, capsys):
    public_tests.gradient_check_test(learner_function(GRADIENT_CHECK, [], notebook))
    for backprop in ["backward_propagation_n", "backward_propagation_n_fixed"]:
        public_tests.gradient_check_n_test(
            learner_function(GRADIENT_CHECK_N, [], notebook),
            notebook["forward_propagation_n"],
            notebook[backprop],
        )
    assert capsys.readouterr().out == "All tests passed.\n" * 3


def assert_diagnosis(message, exercise, expect):
    """`message` names exactly the mistake `expect` says, or none (the fallback, or a regex)."""
    named = [key for key, text in public_tests.MESSAGES[exercise].items() if text in message]
    if expect.startswith("named:"):
        assert named == [expect.removeprefix("named:")], message
        assert re.match(r".*: expected difference -?[\d.e+-]+, got -?[\d.e+-]+\. ", message), message
    elif expect == "fallback":
        assert named == [], message
        assert re.search(
            r"expected difference .*, got .*\. No single known mistake explains the results on "
            r"all \d+ cases run",
            message,
        ), message
    else:
        assert named == [], message
        assert re.search(expect, message), message


@pytest.mark.parametrize("mistake, edits, expect", MISTAKES_1D, ids=[m[0] for m in MISTAKES_1D])
def test_gradient_check_test_names_each_mistake_or_none(notebook, mistake, edits, expect):
    wrong = learner_function(GRADIENT_CHECK, edits, notebook)
    with pytest.raises(AssertionError) as raised:
        public_tests.gradient_check_test(wrong)
    assert_diagnosis(str(raised.value), "gradient_check", expect)


@pytest.mark.parametrize("mistake, edits, expect", MISTAKES_ND, ids=[m[0] for m in MISTAKES_ND])
@pytest.mark.parametrize("backprop", ["backward_propagation_n", "backward_propagation_n_fixed"])
def test_gradient_check_n_test_names_each_mistake_or_none(notebook, mistake, edits, expect, backprop):
    wrong = learner_function(GRADIENT_CHECK_N, edits, notebook)
    with pytest.raises(AssertionError) as raised:
        public_tests.gradient_check_n_test(wrong, notebook["forward_propagation_n"], notebook[backprop])
    assert_diagnosis(str(raised.value), "gradient_check_n", expect)


def test_every_known_mistake_has_a_learner_version():
    for table, exercise in [(MISTAKES_1D, "gradient_check"), (MISTAKES_ND, "gradient_check_n")]:
        named = {expect.removeprefix("named:") for _, _, expect in table if expect.startswith("named:")}
        assert named == set(public_tests.MESSAGES[exercise])


@pytest.mark.parametrize("test", ["forward_propagation_test", "backward_propagation_test"])
def test_placeholders_are_not_implemented_yet(test):
    with pytest.raises(AssertionError, match=r"is not implemented yet: it returned None"):
        getattr(public_tests, test)(lambda x, theta: None)


def test_backward_propagation_n_placeholder_is_not_implemented_yet(notebook):
    with pytest.raises(AssertionError, match=r"backward_propagation_n_fixed is not implemented yet"):
        public_tests.backward_propagation_n_test(lambda X, Y, cache: None, notebook["forward_propagation_n"])


# Correct but unusual solutions: each must pass with both tolerances divided by UNUSUAL_MARGIN.
UNUSUAL_MARGIN = 100  # measured: the tightest, 1-D theta_plus - 2 * epsilon, passes at 576
UNUSUAL_1D = {
    "theta_plus - 2 * epsilon": [("theta_minus = theta - epsilon", "theta_minus = theta_plus - 2 * epsilon")],
    "both points at once": [
        (
            "J_plus = forward_propagation(x, theta_plus)\n    J_minus = forward_propagation(x, theta_minus)",
            "J_plus, J_minus = forward_propagation(x, theta + epsilon * np.array([1.0, -1.0]))",
        )
    ],
    "abs instead of norm": [
        ("np.linalg.norm(grad - gradapprox)", "abs(grad - gradapprox)"),
        ("np.linalg.norm(grad) + np.linalg.norm(gradapprox)", "abs(grad) + abs(gradapprox)"),
    ],
}
UNUSUAL_ND = {
    "theta_plus - 2 * epsilon": [
        ("theta_minus = np.copy(parameters_values)", "theta_minus = np.copy(theta_plus)"),
        ("theta_minus[i] - epsilon", "theta_minus[i] - 2 * epsilon"),
    ],
    "perturb in place and restore": [
        ("np.copy(parameters_values)", "parameters_values"),
        ("theta_minus[i] - epsilon", "theta_minus[i] - 2 * epsilon"),
        ("        gradapprox[i] =", "        parameters_values[i] += epsilon\n        gradapprox[i] ="),
    ],
    "epsilon-times-identity rows, vectorised": [
        (
            "    for i in range(num_parameters):",
            "    steps = epsilon * np.eye(num_parameters)\n"
            "    cost = lambda t: forward_propagation_n(\n"
            "        X, Y, vector_to_dictionary(t.reshape(-1, 1), parameters))[0]\n"
            "    J_plus = np.array([[cost(parameters_values.ravel() + row)] for row in steps])\n"
            "    J_minus = np.array([[cost(parameters_values.ravel() - row)] for row in steps])\n"
            "    gradapprox = (J_plus - J_minus) / (2 * epsilon)\n"
            "    for i in []:",
        )
    ],
    "norms written out": [
        ("np.linalg.norm(grad - gradapprox)", "np.sqrt(np.sum((gradapprox - grad) ** 2))"),
        (
            "np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
            "np.sqrt(np.sum(grad ** 2)) + np.sqrt(np.sum(gradapprox ** 2))",
        ),
    ],
}


@pytest.fixture
def tight_tolerances(monkeypatch):
    monkeypatch.setattr(public_tests, "RTOL", public_tests.RTOL / UNUSUAL_MARGIN)
    monkeypatch.setattr(public_tests, "ROUNDOFF_ULPS", public_tests.ROUNDOFF_ULPS / UNUSUAL_MARGIN)


@pytest.mark.parametrize("edits", UNUSUAL_1D.values(), ids=UNUSUAL_1D)
def test_unusual_correct_gradient_check_passes_with_a_wide_margin(notebook, tight_tolerances, edits, capsys):
    public_tests.gradient_check_test(learner_function(GRADIENT_CHECK, edits, notebook))
    assert capsys.readouterr().out == "All tests passed.\n"


@pytest.mark.parametrize("edits", UNUSUAL_ND.values(), ids=UNUSUAL_ND)
@pytest.mark.parametrize("backprop", ["backward_propagation_n", "backward_propagation_n_fixed"])
def test_unusual_correct_gradient_check_n_passes_with_a_wide_margin(
    notebook, tight_tolerances, edits, backprop, capsys
):
    right = learner_function(GRADIENT_CHECK_N, edits, notebook)
    public_tests.gradient_check_n_test(right, notebook["forward_propagation_n"], notebook[backprop])
    assert capsys.readouterr().out == "All tests passed.\n"


# ---------------------------------------------------------------------------------------------
# Nothing shipped beside the learner edition implements an exercise (issue 14, item 3)

# gradcheck/ is the product's checker, shipped on purpose: it computes central differences (that
# is its job) but holds no line of an exercise's solution, which the line search below checks.
PRODUCT = "gradcheck"
KEYWORD_LINE = re.compile(r"(else|try|finally|pass|break|continue):?")


def solution_lines():
    """The solved notebook's solution lines, whitespace removed: the code between the markers of
    exercises 1-4, and the fixed side of each `# was:` line of exercise 5."""
    lines = set()
    for cell in solved().cells:
        name = make.graded_name(cell.source) if cell.cell_type == "code" else None
        if name is None:
            continue
        source = cell.source.splitlines()
        if name == make.BUG_FIX:
            lines |= {match["fixed"] for line in source if (match := make.WAS.match(line))}
            continue
        for start, end in make._solution_blocks(cell.source, name):
            lines |= set(source[start + 1 : end])
    normalised = {_normalised(re.sub(r"\s+#.*$", "", line)) for line in lines}
    return sorted(line for line in normalised if line and not KEYWORD_LINE.fullmatch(line))


def _normalised(line):
    """`line` with no whitespace next to punctuation and single spaces between words."""
    return re.sub(r"\s*([^\w\s])\s*", r"\1", re.sub(r"\s+", " ", line).strip())


def solution_lines_in(directory):
    """(file, solution line) for each solution line found in a text file under `directory`."""
    found = []
    solutions = [(line, re.compile(r"(?<![\w.])" + re.escape(line) + r"(?!\w)")) for line in solution_lines()]
    for path in sorted(pathlib.Path(directory).rglob("*")):
        try:
            text = path.read_text()
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        for shipped in map(_normalised, text.splitlines()):
            found += [(path.name, line) for line, pattern in solutions if pattern.search(shipped)]
    return found


def central_differences_in(directory):
    """(file, line) of each division by 2 * <something> in the Python files under `directory`,
    gradcheck/ excepted: the shape of (J_plus - J_minus) / (2 * epsilon)."""
    found = []
    for path in sorted(pathlib.Path(directory).rglob("*.py")):
        if PRODUCT in path.relative_to(directory).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.BinOp)
                and isinstance(node.right.op, ast.Mult)
                and any(
                    isinstance(side, ast.Constant) and side.value == 2
                    for side in (node.right.left, node.right.right)
                )
            ):
                found.append((path.name, node.lineno))
    return found


def test_the_solution_lines_are_found(tmp_path):
    lines = solution_lines()
    assert "J=theta*x" in lines and "dtheta=x" in lines
    assert "gradapprox=(J_plus-J_minus)/(2*epsilon)" in lines
    assert "gradapprox[i]=(J_plus[i]-J_minus[i])/(2*epsilon)" in lines
    assert "dW2=1./m*np.dot(dZ2,A1.T)" in lines
    assert len(lines) >= 20


def test_the_detectors_catch_an_implementation(tmp_path):
    """The old public_tests.py shipped these lines: both detectors must see them."""
    (tmp_path / "helper.py").write_text(
        "def numerical(J, theta, epsilon):\n"
        '    """Central differences of J = theta * x."""\n'
        "    J_plus, J_minus = J(theta + epsilon), J(theta - epsilon)\n"
        "    return (J_plus - J_minus) / (2 * epsilon)\n"
    )
    assert solution_lines_in(tmp_path) == [("helper.py", "J=theta*x")]
    assert central_differences_in(tmp_path) == [("helper.py", 4)]


def test_no_file_shipped_beside_the_learner_edition_implements_an_exercise(tmp_path):
    make.copy_support_files(tmp_path)
    shipped = {path.name for path in tmp_path.iterdir()}
    assert {"public_tests.py", "public_tests.json", PRODUCT} <= shipped
    assert solution_lines_in(tmp_path) == []
    assert central_differences_in(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# The data, and the run / judge split


def test_the_shipped_cases_are_what_assignment_cases_computes_now():
    shipped = public_tests.from_json(json.loads(public_tests.DATA.read_text()))
    computed = cases.public_cases()
    assert cases.drifted(shipped, computed) == []
    assert cases.drifted(shipped, {**computed, "gradient_check": computed["gradient_check"][:-1]})


def test_every_known_mistake_is_told_apart_on_the_public_cases():
    """No known mistake gives the expected results, nor another mistake's, on every public case."""
    for exercise in ("gradient_check", "gradient_check_n"):
        public = [case for case in public_tests.load_cases(exercise) if case["expected"] is not None]
        results = {None: [case["expected"] for case in public]}
        results |= {
            name: [case["mistakes"][name][0] for case in public] for name in public_tests.MESSAGES[exercise]
        }
        for mistake, got in results.items():
            explained = [
                other
                for other in public_tests.MESSAGES[exercise]
                if all(
                    public_tests._explains(case, value, other)
                    for case, value in zip(public, got, strict=True)
                )
            ]
            assert explained == ([] if mistake is None else [mistake]), (exercise, mistake, explained)


def test_outcomes_are_plain_data_and_the_case_is_not_modified(notebook):
    case = public_tests.load_cases("gradient_check_n")[0]
    before = copy.deepcopy(case)
    wrong = learner_function(GRADIENT_CHECK_N, edits_of(MISTAKES_ND, "modifies its input"), notebook)
    outcome = public_tests.run_case(wrong, case, {"forward_propagation_n": notebook["forward_propagation_n"]})
    assert json.loads(json.dumps(outcome)) == outcome
    assert cases.drifted({"gradient_check_n": [before]}, {"gradient_check_n": [case]}) == []
    assert public_tests.judge("gradient_check_n", [case], [outcome]) == (
        f"{case['call']} modified its input 'W1'; work on a copy"
    )


def test_judge_is_a_function_of_its_arguments(notebook):
    """The same (cases, outcomes) give the same diagnosis, after a round trip through JSON."""
    wrong = learner_function(GRADIENT_CHECK, edits_of(MISTAKES_1D, "one-sided difference"), notebook)
    public = public_tests.load_cases("gradient_check")
    outcomes = [public_tests.run_case(wrong, case) for case in public]
    shipped = public_tests.from_json(json.loads(json.dumps(public_tests.to_json(public))))
    diagnosis = public_tests.judge("gradient_check", public, outcomes)
    assert diagnosis == public_tests.judge("gradient_check", shipped, json.loads(json.dumps(outcomes)))
    assert public_tests.MESSAGES["gradient_check"]["one_sided"] in diagnosis


@pytest.mark.parametrize("exercise", cases.EXERCISES)
def test_drawn_cases_pass_the_solution_and_fail_a_wrong_version(notebook, exercise):
    from tests.test_grader import wrong_versions

    rng = np.random.default_rng(7)
    drawn = cases.draw_cases(
        exercise, rng, notebook["forward_propagation_n"], notebook["backward_propagation_n"]
    )
    functions = {"forward_propagation_n": notebook["forward_propagation_n"]}
    for target, passes in [(notebook[exercise], True), (wrong_versions(notebook)[exercise], False)]:
        outcomes = [public_tests.run_case(target, case, functions) for case in drawn]
        assert (public_tests.judge(exercise, drawn, outcomes) is None) == passes


def test_draw_cases_rejects_bad_arguments(notebook):
    with pytest.raises(ValueError, match=r"`exercise` must be one of forward_propagation, .*got 'nope'"):
        cases.draw_cases("nope", np.random.default_rng(0), None, None)
    with pytest.raises(TypeError, match=r"`rng` must be a np.random.Generator, got int"):
        cases.draw_cases("gradient_check", 0, None, None)
    with pytest.raises(ValueError, match=r"`exercise` must be one of .*got 'nope'"):
        public_tests.load_cases("nope")


def test_judge_rejects_what_run_case_cannot_have_made():
    public = public_tests.load_cases("gradient_check")[:1]
    with pytest.raises(ValueError, match=r"`outcomes` must hold one outcome per case: 0 for 1 cases"):
        public_tests.judge("gradient_check", public, [])
    with pytest.raises(ValueError, match=r"`outcomes\[0\]` must be an outcome of run_case .*got '0.5'"):
        public_tests.judge("gradient_check", public, [0.5])


@pytest.mark.parametrize(
    "exercise, table, template",
    [("gradient_check", MISTAKES_1D, GRADIENT_CHECK), ("gradient_check_n", MISTAKES_ND, GRADIENT_CHECK_N)],
    ids=["gradient_check", "gradient_check_n"],
)
def test_hidden_cases_name_each_mistake_or_none(notebook, exercise, table, template):
    """The grader's drawn cases alone give every mistake the same diagnosis (seeds 0-9 measured too)."""
    forward, backward = notebook["forward_propagation_n"], notebook["backward_propagation_n"]
    drawn = cases.draw_cases(exercise, np.random.default_rng(1), forward, backward)
    functions = {"forward_propagation_n": forward}
    for mistake, edits, expect in table:
        wrong = learner_function(template, edits, notebook)
        outcomes = [public_tests.run_case(wrong, case, functions) for case in drawn]
        diagnosis = public_tests.judge(exercise, drawn, outcomes)
        assert diagnosis is not None, mistake
        if expect.startswith("named:") or expect == "fallback":
            assert_diagnosis(diagnosis, exercise, expect)
        else:  # the regexes quote the public cases' numbers; here only: no mistake named
            named = [text for text in public_tests.MESSAGES[exercise].values() if text in diagnosis]
            assert named == [], diagnosis

"""public_tests accepts the notebook's solutions and rejects each known learner mistake."""

import re

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
    assert re.search(r"still disagree .*difference = 0\.\d+ .*one parameter at a time", message)
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

# (mistake, edits to the solution, what the message must say). The message always also shows
# the expected and the obtained difference, or says what was returned.
MISTAKES_1D = [
    (
        "one-sided difference",
        [("(J_plus - J_minus) / (2 * epsilon)", "(J_plus - forward_propagation(x, theta)) / epsilon")],
        r"one-sided difference .*divide J_plus - J_minus by 2 \* epsilon \(steps 1\.1 to 1\.5\)",
    ),
    (
        "theta_minus from theta_plus",
        [("theta_minus = theta - epsilon", "theta_minus = theta_plus - epsilon")],
        r"theta_minus looks like theta_plus - epsilon, which is theta itself: "
        r"theta_minus is theta minus epsilon \(step 1\.2\)",
    ),
    ("divides by epsilon", [("/ (2 * epsilon)", "/ epsilon")], r"twice .*not by epsilon \(step 1\.5\)"),
    (
        "multiplies by epsilon",
        [("/ (2 * epsilon)", "/ 2 * epsilon")],
        r"multiplies by epsilon.*\(step 1\.5\)",
    ),
    (
        "no perturbation",
        [("x, theta_plus)", "x, theta)"), ("x, theta_minus)", "x, theta)")],
        r"gradapprox is 0.*\(steps 1\.3 and 1\.4\)",
    ),
    (
        "grad is gradapprox",
        [("grad = backward_propagation(x, theta)", "grad = gradapprox")],
        r"as if grad were gradapprox: compute grad with backward_propagation\(x, theta\) \(step 2\)",
    ),
    (
        "grad at theta_plus",
        [("backward_propagation(x, theta)", "backward_propagation(x, theta_plus)")],
        r"grad looks like backward_propagation\(x, theta_plus\).*\(step 2\)",
    ),
    (
        "forward written inline",
        [
            ("forward_propagation(x, theta_plus)", "theta_plus * x"),
            ("forward_propagation(x, theta_minus)", "theta_minus * x"),
        ],
        r"do not come from forward_propagation.*\(steps 1\.3 and 1\.4\)",
    ),
    (
        "backward written inline",
        [("grad = backward_propagation(x, theta)", "grad = x")],
        r"does not come from backward_propagation.*\(step 2\)",
    ),
    (
        "no denominator",
        [("difference = numerator / denominator", "difference = numerator")],
        r"numerator alone.*\(step 3\.3\)",
    ),
    (
        "denominator ||grad + gradapprox||",
        [("np.linalg.norm(grad) + np.linalg.norm(gradapprox)", "np.linalg.norm(grad + gradapprox)")],
        r"np\.linalg\.norm\(grad \+ gradapprox\): it is "
        r"np\.linalg\.norm\(grad\) \+ np\.linalg\.norm\(gradapprox\)",
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
        r"squared norms.*\(steps 3\.1 and 3\.2\)",
    ),
    (
        "difference of norms",
        [("np.linalg.norm(grad - gradapprox)", "np.linalg.norm(grad) - np.linalg.norm(gradapprox)")],
        r"norm of the difference.*\(step 3\.1\)",
    ),
    (
        "inverted ratio",
        [("difference = numerator / denominator", "difference = denominator / numerator")],
        r"denominator / numerator.*\(step 3\.3\)",
    ),
    (
        "precedence",
        [
            (
                "difference = numerator / denominator",
                "difference = numerator / np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
            )
        ],
        r"parentheses \(step 3\.3\)",
    ),
    (
        "hard-coded 1e-7",
        [
            ("theta + epsilon", "theta + 1e-7"),
            ("theta - epsilon", "theta - 1e-7"),
            ("(2 * epsilon)", "(2 * 1e-7)"),
        ],
        r"does not depend on the `epsilon` argument.*do not write the number 1e-7",
    ),
    (
        "inverted verdict",
        [("difference < 1e-7", "difference > 1e-7")],
        r"print_msg=True: .*the verdict is inverted",
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
        r"one-sided difference .*divide their difference by 2 \* epsilon",
    ),
    (
        "theta_minus from theta_plus",
        [("theta_minus = np.copy(parameters_values)", "theta_minus = np.copy(theta_plus)")],
        r"theta_minus\[i\] looks like the unperturbed value.*fresh np\.copy\(parameters_values\)",
    ),
    (
        "no np.copy",
        [("theta_plus = np.copy(parameters_values)", "theta_plus = parameters_values")],
        r"theta_plus looks like parameters_values itself \(no np\.copy\).*fresh np\.copy",
    ),
    (
        "in place, not restored",
        [
            ("np.copy(parameters_values)", "parameters_values"),
            ("theta_minus[i] - epsilon", "theta_minus[i] - 2 * epsilon"),
        ],
        r"perturbations look like they stay in the vector.*fresh np\.copy\(parameters_values\) for every i",
    ),
    (
        "skips the last entry",
        [("range(num_parameters)", "range(num_parameters - 1)")],
        r"expected difference 0\.285093, got 0\.286516\. "
        r"the loop skips the last entry .*range\(num_parameters\)",
    ),
    ("divides by epsilon", [("/ (2 * epsilon)", "/ epsilon")], r"twice .*not by epsilon"),
    ("multiplies by epsilon", [("/ (2 * epsilon)", "/ 2 * epsilon")], r"multiplies by epsilon"),
    (
        "no perturbation",
        [
            ("vector_to_dictionary(theta_plus, parameters)", "parameters"),
            ("vector_to_dictionary(theta_minus, parameters)", "parameters"),
        ],
        r"gradapprox is 0.*pass vector_to_dictionary\(theta_plus, parameters\)",
    ),
    (
        "grad is gradapprox",
        [("    numerator =", "    grad = gradapprox\n    numerator =")],
        r"as if grad were gradapprox",
    ),
    (
        "no denominator",
        [("difference = numerator / denominator", "difference = numerator")],
        r"numerator alone",
    ),
    (
        "denominator ||grad + gradapprox||",
        [("np.linalg.norm(grad) + np.linalg.norm(gradapprox)", "np.linalg.norm(grad + gradapprox)")],
        r"np\.linalg\.norm\(grad \+ gradapprox\): it is "
        r"np\.linalg\.norm\(grad\) \+ np\.linalg\.norm\(gradapprox\)",
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
        r"ratio of squared norms",
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
        r"L1 norms.*no second argument",
    ),
    (
        "hard-coded 1e-7",
        [("+ epsilon", "+ 1e-7"), ("- epsilon", "- 1e-7"), ("(2 * epsilon)", "(2 * 1e-7)")],
        r"does not depend on the `epsilon` argument",
    ),
    (
        "whole (cost, cache) in J_plus[i]",
        [("J_plus[i], _ =", "J_plus[i] =")],
        r"setting an array element with a sequence"
        r".*store only the cost, J_plus\[i\], _ = forward_propagation_n",
    ),
    (
        "no vector_to_dictionary",
        [("vector_to_dictionary(theta_plus, parameters)", "theta_plus")],
        r"given a ndarray of shape \(47, 1\), not a dictionary: "
        r".*vector_to_dictionary\(theta_plus, parameters\)",
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
        r"(gradient_check_n is not implemented yet: .*TypeError|not implemented yet)",
    ),
]


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


@pytest.mark.parametrize("mistake, edits, match", MISTAKES_1D, ids=[m[0] for m in MISTAKES_1D])
def test_gradient_check_test_names_the_step_of_each_mistake(notebook, mistake, edits, match):
    wrong = learner_function(GRADIENT_CHECK, edits, notebook)
    with pytest.raises(AssertionError, match=match):
        public_tests.gradient_check_test(wrong)


@pytest.mark.parametrize("mistake, edits, match", MISTAKES_ND, ids=[m[0] for m in MISTAKES_ND])
def test_gradient_check_n_test_names_the_step_of_each_mistake(notebook, mistake, edits, match):
    wrong = learner_function(GRADIENT_CHECK_N, edits, notebook)
    with pytest.raises(AssertionError, match=match):
        public_tests.gradient_check_n_test(
            wrong, notebook["forward_propagation_n"], notebook["backward_propagation_n"]
        )


@pytest.mark.parametrize("mistake, edits, match", MISTAKES_ND, ids=[m[0] for m in MISTAKES_ND])
def test_gradient_check_n_test_names_the_step_with_the_fixed_backprop_too(notebook, mistake, edits, match):
    wrong = learner_function(GRADIENT_CHECK_N, edits, notebook)
    match = match.replace(r"expected difference 0\.285093, got 0\.286516\. ", "")
    with pytest.raises(AssertionError, match=match):
        public_tests.gradient_check_n_test(
            wrong, notebook["forward_propagation_n"], notebook["backward_propagation_n_fixed"]
        )


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

"""Learner-facing checks for Gradient_Checking.ipynb: `<function>_test(target)` raises on a mistake."""

import contextlib
import copy
import io
import numbers
import types
from typing import NamedTuple

import numpy as np

from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from testCases import deep_network_case, gradient_check_n_test_case

THRESHOLD = 1e-7  # the notebook's verdict threshold on equation (2)
REFERENCE_EPSILON = 1e-4  # truncation-dominated for the course network: accurate and CPU-independent
COURSE_EPSILON = 1e-7  # the notebook's default step: round-off dominated, so judged with a round-off bound
# Steps at which truncation, not round-off, decides a difference: results there are reproducible to
# ~1e-12, so a mistake that changes them by 1e-6 or more stands out. Two of them, so that a result
# that does not move with epsilon is seen to ignore it.
DIAGNOSTIC_EPSILONS = (1e-2, 1e-3)
RTOL = 1e-8  # slack on top of the round-off bound; the smallest known mistake moves a result by 3e-6
# Round-off of one cost evaluation, in units of the float64 spacing, times |J|: the forward pass of
# a small network adds a few dozen roundings, and a rewritten perturbation (theta_plus - 2 * epsilon,
# restoring in place) moves the evaluation point by an ulp of theta.
ROUNDOFF_ULPS = 64
NOT_IMPLEMENTED = ("{name} is not implemented yet: it returned None. Write your code between "
                   "# YOUR CODE STARTS HERE and # YOUR CODE ENDS HERE, so that it returns {what}.")

# What each known mistake looks like, in the learner's terms. Each key is a planted variant of
# the reference loop (`_reference_check`); a learner's result that matches a variant's result
# on the failing case is explained by that mistake.
MISTAKES_1D = {
    "one_sided": "gradapprox looks like a one-sided difference (J_plus - J) / epsilon: use theta_plus "
                 "and theta_minus, and divide J_plus - J_minus by 2 * epsilon (steps 1.1 to 1.5)",
    "one_sided_minus": "gradapprox looks like a one-sided difference (J - J_minus) / epsilon: use "
                       "theta_plus and theta_minus, and divide J_plus - J_minus by 2 * epsilon "
                       "(steps 1.1 to 1.5)",
    "theta_minus_from_plus": "theta_minus looks like theta_plus - epsilon, which is theta itself: "
                             "set theta_minus = theta - epsilon (step 1.2)",
    "unperturbed": "gradapprox is 0, as if J_plus and J_minus were both J(theta): evaluate "
                   "forward_propagation at theta_plus and at theta_minus (steps 1.3 and 1.4)",
    "divide_by_epsilon": "gradapprox is twice what it should be: divide J_plus - J_minus by 2 * epsilon, "
                         "not by epsilon (step 1.5)",
    "times_epsilon": "gradapprox looks like (J_plus - J_minus) / 2 * epsilon, which multiplies by "
                     "epsilon: write (J_plus - J_minus) / (2 * epsilon) (step 1.5)",
    "grad_is_gradapprox": "difference is 0 as if grad were gradapprox: compute grad with "
                          "backward_propagation(x, theta) (step 2)",
    "grad_at_theta_plus": "grad looks like backward_propagation(x, theta_plus): compute grad at theta "
                          "itself, backward_propagation(x, theta) (step 2)",
    "grad_at_theta_minus": "grad looks like backward_propagation(x, theta_minus): compute grad at theta "
                           "itself, backward_propagation(x, theta) (step 2)",
    "inline_forward": "J_plus and J_minus do not come from forward_propagation: compute them with "
                      "forward_propagation(x, theta_plus) and forward_propagation(x, theta_minus) "
                      "(steps 1.3 and 1.4), not with a formula of your own",
    "inline_backward": "grad does not come from backward_propagation: compute it with "
                       "backward_propagation(x, theta) (step 2), not with a formula of your own",
    "ignores_epsilon": "the result does not depend on the `epsilon` argument (it matches a fixed "
                       "epsilon = 1e-7): use the parameter `epsilon`, do not write the number 1e-7 "
                       "in your code (step 1)",
    "no_denominator": "difference looks like the numerator alone: divide np.linalg.norm(grad - gradapprox) "
                      "by the denominator (step 3.3)",
    "denominator_of_sum": "the denominator looks like np.linalg.norm(grad + gradapprox): it is "
                          "np.linalg.norm(grad) + np.linalg.norm(gradapprox), two norms added (step 3.2)",
    "squared_norms": "difference looks like a ratio of squared norms: use np.linalg.norm(...) itself, "
                     "not its square (steps 3.1 and 3.2)",
    "difference_of_norms": "the numerator looks like np.linalg.norm(grad) - np.linalg.norm(gradapprox): "
                           "it is the norm of the difference, np.linalg.norm(grad - gradapprox) (step 3.1)",
    "inverted_ratio": "difference looks like denominator / numerator: divide the numerator by the "
                      "denominator (step 3.3)",
    "precedence": "difference looks like numerator / np.linalg.norm(grad) + np.linalg.norm(gradapprox): "
                  "put the whole denominator in parentheses (step 3.3)",
}

MISTAKES_ND = {
    "one_sided": "gradapprox looks like a one-sided difference (J_plus[i] - J) / epsilon: compute both "
                 "J_plus[i] and J_minus[i], and divide their difference by 2 * epsilon",
    "one_sided_minus": "gradapprox looks like a one-sided difference (J - J_minus[i]) / epsilon: compute "
                       "both J_plus[i] and J_minus[i], and divide their difference by 2 * epsilon",
    "theta_minus_from_plus": "theta_minus[i] looks like the unperturbed value, as when theta_minus starts "
                             "from theta_plus, or theta_plus is parameters_values itself (no np.copy): "
                             "start theta_plus and theta_minus each from a fresh np.copy(parameters_values)",
    "unperturbed": "gradapprox is 0, as if J_plus[i] and J_minus[i] were both the cost at the unperturbed "
                   "parameters: pass vector_to_dictionary(theta_plus, parameters) (and theta_minus) to "
                   "forward_propagation_n",
    "no_restore": "the perturbations look like they stay in the vector (theta[i] moved without being put "
                  "back, or theta_plus = parameters_values without np.copy): start theta_plus and "
                  "theta_minus from a fresh np.copy(parameters_values) for every i",
    "divide_by_epsilon": "gradapprox is twice what it should be: divide J_plus[i] - J_minus[i] by "
                         "2 * epsilon, not by epsilon",
    "times_epsilon": "gradapprox looks like (J_plus[i] - J_minus[i]) / 2 * epsilon, which multiplies by "
                     "epsilon: write (J_plus[i] - J_minus[i]) / (2 * epsilon)",
    "grad_is_gradapprox": "difference is 0 as if grad were gradapprox: compare gradapprox with grad, the "
                          "gradients of backpropagation, without overwriting grad",
    "skips_last": "the loop skips the last entry (gradapprox[num_parameters - 1] stays 0, as with "
                  "range(num_parameters - 1)): loop over every i in range(num_parameters)",
    "skips_first": "the loop skips the first entry (gradapprox[0] stays 0, as with "
                   "range(1, num_parameters)): loop over every i in range(num_parameters)",
    "ignores_epsilon": "the result does not depend on the `epsilon` argument (it matches a fixed "
                       "epsilon = 1e-7): use the parameter `epsilon`, do not write the number 1e-7 "
                       "in your code",
    "no_denominator": "difference looks like the numerator alone: divide np.linalg.norm(grad - gradapprox) "
                      "by the denominator",
    "denominator_of_sum": "the denominator looks like np.linalg.norm(grad + gradapprox): it is "
                          "np.linalg.norm(grad) + np.linalg.norm(gradapprox), two norms added",
    "squared_norms": "difference looks like a ratio of squared norms: use np.linalg.norm(...) itself, "
                     "not its square and not np.sum(... ** 2)",
    "l1_norms": "difference looks like it uses L1 norms (sums of absolute values): equation (2) uses the "
                "Euclidean norm np.linalg.norm(...), with no second argument",
    "difference_of_norms": "the numerator looks like np.linalg.norm(grad) - np.linalg.norm(gradapprox): "
                           "it is the norm of the difference, np.linalg.norm(grad - gradapprox)",
    "inverted_ratio": "difference looks like denominator / numerator: divide the numerator by the "
                      "denominator",
    "precedence": "difference looks like numerator / np.linalg.norm(grad) + np.linalg.norm(gradapprox): "
                  "put the whole denominator in parentheses",
}

# Variants that only change equation (2); the others change gradapprox, grad or the loop.
_EQUATION_2_MISTAKES = {"no_denominator", "denominator_of_sum", "squared_norms", "l1_norms",
                        "difference_of_norms", "inverted_ratio", "precedence"}


class Case(NamedTuple):
    """One run of a learner's check: the call, what it is given, and how the reference computes it."""

    call: str  # the call as the learner would write it, for messages
    args: tuple  # positional arguments of the target, print_msg excluded
    bindings: dict  # globals of the target replaced for this run (forward_propagation, ...)
    cost_fn: object  # cost_fn(parameters dict) -> float, for the reference loop
    parameters: dict
    gradients: dict
    epsilon: float
    inline: dict  # mistake name -> (cost_fn, gradients) of a learner who bypassed the bindings
    must_pass: bool = False  # the gradients are exact, so a correct check says "correct"


def forward_propagation_test(target, points=()):
    """Check ``target(x, theta)`` computes J = theta * x, at the course's points and `points`."""
    for x, theta in [(2, 4), (-3.0, 0.5), (0.25, -8.0), *points]:
        call = f"forward_propagation(x={x}, theta={theta})"
        got = target(x, theta)
        _check_implemented("forward_propagation", got, "J")
        _check_scalar(call, got)
        _check_close(call, got, theta * x, rtol=1e-12)
    print("All tests passed.")


def backward_propagation_test(target, points=()):
    """Check ``target(x, theta)`` returns dJ/dtheta = x (not theta), at the course's points and `points`."""
    for x, theta in [(3, 4), (-2.0, 0.5), (0.25, -8.0), *points]:
        call = f"backward_propagation(x={x}, theta={theta})"
        got = target(x, theta)
        _check_implemented("backward_propagation", got, "dtheta")
        _check_scalar(call, got)
        _check_close(call, got, x, rtol=1e-12)
    print("All tests passed.")


def gradient_check_test(target, points=()):
    """Check the 1-D ``target(x, theta, epsilon, print_msg)`` and name the step that went wrong.

    The target runs with the test's own `forward_propagation` and `backward_propagation` in its
    globals: the course's J = theta x at epsilon = 1e-7, where a correct check must pass, and a
    cubic J = x theta^3 at the larger DIAGNOSTIC_EPSILONS, where each known mistake gives a result
    of its own (computed by the reference loop with that mistake planted).

    Parameters
    ----------
    target : callable
        The learner's gradient_check.
    points : sequence of (x, theta, epsilon)
        Extra cubic-model cases (the grader's); the public cases always run.
    """
    linear = (lambda x, theta: theta * x, lambda x, theta: x, "J = theta * x")
    cubic = (lambda x, theta: x * theta ** 3, lambda x, theta: 3 * x * theta ** 2, "J = x * theta**3")
    wrong = (cubic[0], lambda x, theta: -1.5 * x * theta ** 2,
             "J = x * theta**3 and a backward_propagation that returns -0.5 x its derivative")
    passing = _case_1d(linear, 2, 4, COURSE_EPSILON, must_pass=True)
    failing = _case_1d(wrong, -1.2, 0.8, DIAGNOSTIC_EPSILONS[0])
    cases = [passing, _case_1d(linear, 3, 4, COURSE_EPSILON, must_pass=True)]
    cases += [_case_1d(cubic, 2, 1.5, epsilon) for epsilon in DIAGNOSTIC_EPSILONS]
    cases += [failing] + [_case_1d(cubic, x, theta, epsilon) for x, theta, epsilon in points]
    _judge("gradient_check", target, cases, MISTAKES_1D, verdict_cases=(passing, failing))
    print("All tests passed.")


def gradient_check_n_test(target, forward_propagation_n, backward_propagation_n, networks=()):
    """Check ``target(parameters, gradients, X, Y, epsilon, print_msg)`` and name the step that went wrong.

    The target runs on the course case at epsilon = 1e-7 with the gradients of
    `backward_propagation_n` (buggy or not), judged with a round-off bound; then at the larger
    DIAGNOSTIC_EPSILONS, with those gradients, with accurate numerical gradients of which one
    parameter's is doubled, and on a second network, where each known mistake gives a result
    of its own (computed by the reference loop with that mistake planted).

    Parameters
    ----------
    target : callable
        The learner's gradient_check_n.
    forward_propagation_n, backward_propagation_n : callable
        The notebook's; `forward_propagation_n` is also put in the target's globals.
    networks : sequence of (X, Y, parameters)
        Extra networks (the grader's), checked with doubled numerical gradients.
    """
    X, Y, parameters = gradient_check_n_test_case()
    gradients = backward_propagation_n(X, Y, forward_propagation_n(X, Y, parameters)[1])
    label = "the gradients of backward_propagation_n"
    cases = [_case_nd(forward_propagation_n, X, Y, parameters, gradients, label, epsilon)
             for epsilon in (COURSE_EPSILON, *DIAGNOSTIC_EPSILONS)]
    doubled = [_case_nd(forward_propagation_n, X_n, Y_n, net, *_doubled_numerical_gradients(
        forward_propagation_n, X_n, Y_n, net), epsilon=DIAGNOSTIC_EPSILONS[0])
        for X_n, Y_n, net in [(X, Y, parameters), deep_network_case([3, 4, 2, 1], m=5, seed=2), *networks]]
    cost_fn = lambda p: forward_propagation_n(X, Y, p)[0]  # noqa: E731
    accurate = _numerical_gradients(cost_fn, parameters, REFERENCE_EPSILON)
    passing = _case_nd(forward_propagation_n, X, Y, parameters, accurate, "accurate numerical gradients",
                       REFERENCE_EPSILON, must_pass=True)
    _judge("gradient_check_n", target, cases + doubled + [passing], MISTAKES_ND,
           verdict_cases=(passing, doubled[0]))
    print("All tests passed.")


def backward_propagation_n_test(target, forward_propagation_n, networks=()):
    """Check the fixed ``target(X, Y, cache)`` gradient by gradient, on the course case and `networks`."""
    for X, Y, parameters in [gradient_check_n_test_case(), *networks]:
        cost_fn = lambda p, X=X, Y=Y: forward_propagation_n(X, Y, p)[0]  # noqa: E731
        _, cache = forward_propagation_n(X, Y, parameters)
        gradients = target(X, Y, cache)
        _check_implemented("backward_propagation_n_fixed", gradients, "the gradients dictionary")
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


def with_globals(function, bindings):
    """`function` with some of its globals replaced; callables without Python code are returned as is."""
    code = getattr(function, "__code__", None)
    if code is None or not bindings:
        return function
    replaced = types.FunctionType(code, {**function.__globals__, **bindings}, function.__name__,
                                  function.__defaults__, function.__closure__)
    replaced.__kwdefaults__ = function.__kwdefaults__
    return replaced


# ---------------------------------------------------------------------------------------------
# Cases


def _case_1d(model, x, theta, epsilon, must_pass=False):
    """A Case of gradient_check on the 1-D `model` = (forward, backward, description)."""
    forward, backward, description = model
    as_dict = lambda t: {"theta": np.array([[t]], dtype=float)}  # noqa: E731
    cost_fn = lambda p: forward(x, p["theta"].item())  # noqa: E731
    grad = lambda t: {"dtheta": np.array([[backward(x, t)]], dtype=float)}  # noqa: E731
    return Case(
        call=f"gradient_check(x={x}, theta={theta}, epsilon={epsilon:g}) with {description}",
        args=(x, theta, epsilon),
        bindings={"forward_propagation": forward, "backward_propagation": backward},
        cost_fn=cost_fn, parameters=as_dict(theta), gradients=grad(theta), epsilon=epsilon,
        inline={
            "grad_at_theta_plus": (cost_fn, grad(theta + epsilon)),
            "grad_at_theta_minus": (cost_fn, grad(theta - epsilon)),
            "inline_forward": (lambda p: p["theta"].item() * x, grad(theta)),
            "inline_backward": (cost_fn, {"dtheta": np.array([[x]], dtype=float)}),
        },
        must_pass=must_pass,
    )


def _case_nd(forward_propagation_n, X, Y, parameters, gradients, label, epsilon, must_pass=False):
    """A Case of gradient_check_n on one network, with `forward_propagation_n` guarded in its globals."""
    shape = "x".join(str(value.shape[0]) for name, value in parameters.items() if name.startswith("W"))
    return Case(
        call=f"gradient_check_n(..., epsilon={epsilon:g}) on a {X.shape[0]}x{shape} network with {label}",
        args=(parameters, gradients, X, Y, epsilon),
        bindings={"forward_propagation_n": _guarded_forward(forward_propagation_n)},
        cost_fn=lambda p: forward_propagation_n(X, Y, p)[0],
        parameters=parameters, gradients=gradients, epsilon=epsilon, inline={}, must_pass=must_pass,
    )


def _doubled_numerical_gradients(forward_propagation_n, X, Y, parameters):
    """Accurate numerical gradients with the first parameter's doubled: a known, O(1) mistake."""
    numeric = _numerical_gradients(lambda p: forward_propagation_n(X, Y, p)[0], parameters, REFERENCE_EPSILON)
    first = "d" + next(iter(parameters))
    numeric[first] = 2 * numeric[first]
    return numeric, f"accurate numerical gradients, {first} doubled"


def _guarded_forward(forward_propagation_n):
    """`forward_propagation_n` that explains a `parameters` that is not a dictionary."""
    def forward(X, Y, parameters):
        if not isinstance(parameters, dict):
            shape = f" of shape {parameters.shape}" if isinstance(parameters, np.ndarray) else ""
            raise AssertionError(
                f"forward_propagation_n(X, Y, parameters) was given a {type(parameters).__name__}{shape}, "
                "not a dictionary: turn the vector back into one with "
                "vector_to_dictionary(theta_plus, parameters) (and likewise for theta_minus)")
        return forward_propagation_n(X, Y, parameters)
    return forward


# ---------------------------------------------------------------------------------------------
# Judging


def _judge(name, target, cases, mistakes, verdict_cases):
    """Run `target` on every case, raise with a diagnosis at the first wrong result, then check verdicts."""
    results = [_run(name, target, case, print_msg=False) for case in cases]
    for case, (_, printed) in zip(cases, results, strict=True):
        if printed:
            raise AssertionError(f"{case.call}, print_msg=False printed {printed.strip()!r}: print the "
                                 "verdict only if print_msg is True")
    expected = [_reference_check(case) for case in cases]
    for index, (case, (got, _), want) in enumerate(zip(cases, results, expected, strict=True)):
        if not _close(got, want, _roundoff(case, want)):
            raise AssertionError(_diagnose(cases, results, index, mistakes))
        if case.must_pass and not got < THRESHOLD:
            raise AssertionError(f"{case.call}: a correct gradient must give a difference below "
                                 f"{THRESHOLD:g}, got {got:.3g}")
    for case in verdict_cases:
        got, printed = _run(name, target, case, print_msg=True)
        _check_verdict(case, got, printed)


def _run(name, target, case, print_msg):
    """Call `target` on `case` with its bindings; return (result as a float, what it printed)."""
    before = copy.deepcopy(case.args)
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            got = with_globals(target, case.bindings)(*case.args, print_msg)
    except AssertionError:
        raise
    except ValueError as error:
        if "setting an array element with a sequence" in str(error):
            raise AssertionError(
                f"{case.call} raised ValueError: {str(error).rstrip('.')}. forward_propagation_n returns a "
                "pair (cost, cache): store only the cost, J_plus[i], _ = forward_propagation_n(...)"
            ) from error
        raise AssertionError(f"{case.call} raised ValueError: {error}") from error
    except TypeError as error:
        if "NoneType" in str(error):
            raise AssertionError(
                f"{name} is not implemented yet: {case.call} raised TypeError: {error} (a placeholder "
                "None is still in your code). Replace each None between # YOUR CODE STARTS HERE and "
                "# YOUR CODE ENDS HERE") from error
        raise AssertionError(f"{case.call} raised TypeError: {error}") from error
    except Exception as error:
        raise AssertionError(f"{case.call} raised {type(error).__name__}: {error}") from error
    _check_implemented(name, got, "difference, a number")
    _check_scalar(case.call, got)
    for old, new in zip(before, case.args, strict=True):
        if isinstance(old, dict):
            _check_unchanged(case.call, old, new)
    return float(got), stdout.getvalue()


def _check_verdict(case, got, printed):
    """Raise unless `printed` is the right verdict on `got`, difference < THRESHOLD meaning correct."""
    text = printed.strip()
    if not text:
        raise AssertionError(f"{case.call}, print_msg=True printed nothing: print the verdict when "
                             "print_msg is True")
    says_mistake = "mistake" in text.lower() or "wrong" in text.lower()
    if got < THRESHOLD and says_mistake:
        raise AssertionError(f"{case.call}, print_msg=True: difference = {got:.3g} is below {THRESHOLD:g}, "
                             f"so the backward propagation is correct, but it printed {text!r}: the verdict "
                             f"is inverted. Print the mistake message only when difference >= {THRESHOLD:g}")
    if not got < THRESHOLD and not says_mistake:
        raise AssertionError(f"{case.call}, print_msg=True: difference = {got:.3g} is not below "
                             f"{THRESHOLD:g}, so there is a mistake in the backward propagation, but it "
                             f"printed {text!r}: the verdict is inverted. Write the test as "
                             f"difference < {THRESHOLD:g}")


def _diagnose(cases, results, index, mistakes):
    """The message for the wrong case `index`: the known mistake that explains most results, or both sides.

    A mistake explains the failing case if the reference loop with that mistake planted gives
    the learner's result there; among those, the one that also matches the most other cases wins.
    """
    case, got = cases[index], results[index][0]
    shown = f"{case.call}: expected difference {_reference_check(case):.6g}, got {got:.6g}"
    best, best_score = None, 0
    for mistake in mistakes:
        if not _matches(case, got, mistake):
            continue
        score = sum(_matches(other, other_got, mistake)
                    for other, (other_got, _) in zip(cases, results, strict=True))
        if score > best_score:
            best, best_score = mistake, score
    if best is not None:
        return f"{shown}. {mistakes[best]}"
    return (f"{shown}. No known mistake explains this: compare your code with each step of the "
            "instructions (gradapprox, grad, then equation (2))")


def _matches(case, got, mistake):
    """True if the reference loop with `mistake` planted gives `got` on `case`, up to round-off."""
    variant = _reference_check(case, mistake)
    epsilon = COURSE_EPSILON if mistake == "ignores_epsilon" else case.epsilon
    return variant is not None and _close(got, variant, _roundoff(case, variant, epsilon))


def _reference_check(case, mistake=None):
    """Equation (2) from the course loop on `case`, with one known `mistake` planted (None: correct)."""
    cost_fn, gradients = case.cost_fn, case.gradients
    if mistake in case.inline:
        cost_fn, gradients = case.inline[mistake]
    elif mistake in {"grad_at_theta_plus", "grad_at_theta_minus", "inline_forward", "inline_backward"}:
        return None
    epsilon = COURSE_EPSILON if mistake == "ignores_epsilon" else case.epsilon
    theta, _ = dictionary_to_vector(case.parameters)
    grad = gradients_to_vector(gradients, case.parameters)
    n = theta.shape[0]
    J = lambda t: cost_fn(vector_to_dictionary(t, case.parameters))  # noqa: E731
    indices = {"skips_last": range(n - 1), "skips_first": range(1, n)}.get(mistake, range(n))
    J_theta = J(theta)
    moving = theta.copy()  # the vector of a learner who perturbs in place and never restores
    gradapprox = np.zeros_like(theta)
    for i in indices:
        if mistake == "no_restore":
            moving[i] += epsilon
            J_plus = J(moving)
            moving[i] -= 2 * epsilon
            J_minus = J(moving)
        else:
            theta_plus = np.copy(theta)
            theta_plus[i] += epsilon
            theta_minus = np.copy(theta_plus if mistake == "theta_minus_from_plus" else theta)
            theta_minus[i] -= epsilon
            J_plus, J_minus = J(theta_plus), J(theta_minus)
        if mistake == "unperturbed":
            J_plus = J_minus = J_theta
        if mistake == "one_sided":
            gradapprox[i] = (J_plus - J_theta) / epsilon
        elif mistake == "one_sided_minus":
            gradapprox[i] = (J_theta - J_minus) / epsilon
        elif mistake == "divide_by_epsilon":
            gradapprox[i] = (J_plus - J_minus) / epsilon
        elif mistake == "times_epsilon":
            gradapprox[i] = (J_plus - J_minus) / 2 * epsilon
        else:
            gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    if mistake == "grad_is_gradapprox":
        grad = gradapprox
    return _equation_2(grad, gradapprox, mistake if mistake in _EQUATION_2_MISTAKES else None)


def _equation_2(grad, gradapprox, mistake=None):
    """Relative difference of equation (2), or the variant a known `mistake` computes."""
    norm = {"l1_norms": lambda v: np.sum(np.abs(v))}.get(mistake, np.linalg.norm)
    numerator = norm(grad - gradapprox)
    denominator = norm(grad) + norm(gradapprox)
    with np.errstate(divide="ignore", invalid="ignore"):
        if mistake == "no_denominator":
            return float(numerator)
        if mistake == "denominator_of_sum":
            return float(numerator / np.linalg.norm(grad + gradapprox))
        if mistake == "squared_norms":
            return float(numerator ** 2 / (norm(grad) ** 2 + norm(gradapprox) ** 2))
        if mistake == "difference_of_norms":
            return float((norm(grad) - norm(gradapprox)) / denominator)
        if mistake == "inverted_ratio":
            return float(denominator / numerator)
        if mistake == "precedence":
            return float(numerator / norm(grad) + norm(gradapprox))
        return float(numerator / denominator)


def _roundoff(case, difference, epsilon=None):
    """Bound on how far a correct loop's `difference` may move with round-off alone, on `case`.

    Each entry of gradapprox carries about ROUNDOFF_ULPS * u * |J| / epsilon of round-off (J_plus
    and J_minus each wrong by a few ulps of the cost, divided by 2 epsilon); n such errors move
    equation (2) by at most their norm times (1 + difference) / (||grad|| + ||gradapprox||).
    """
    theta, _ = dictionary_to_vector(case.parameters)
    grad = gradients_to_vector(case.gradients, case.parameters)
    scale = abs(case.cost_fn(case.parameters)) + np.max(np.abs(grad * theta))
    epsilon = case.epsilon if epsilon is None else epsilon
    error = ROUNDOFF_ULPS * np.finfo(float).eps * scale / epsilon * np.sqrt(theta.shape[0])
    denominator = max(np.linalg.norm(grad), np.finfo(float).tiny)
    return error * (1 + abs(difference)) / denominator


def _close(got, expected, atol):
    """True if `got` is `expected` up to round-off `atol` and RTOL (nan and inf only equal themselves)."""
    if expected is None:
        return False
    if not np.isfinite(expected) or not np.isfinite(got):
        return got == expected or (np.isnan(got) and np.isnan(expected))
    return abs(got - expected) <= atol + RTOL * abs(expected)


# ---------------------------------------------------------------------------------------------
# Shared helpers


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


def _check_implemented(name, value, what):
    """Raise the "not implemented yet" message if `value` is None (the learner edition's placeholder)."""
    if value is None:
        raise AssertionError(NOT_IMPLEMENTED.format(name=name, what=what))


def _check_scalar(call, value):
    """Raise unless `value` is a real scalar (not an array, a list or a bool)."""
    if isinstance(value, list | tuple):
        shown = ", ".join(f"{v:.6g}" if isinstance(v, numbers.Real) else repr(v) for v in value)
        raise AssertionError(f"{call} must return a number, got a {type(value).__name__} [{shown}]: return "
                             "the number itself (np.linalg.norm already returns one), not [difference]")
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
    """Raise if an array of the dict `after` differs from its copy in `before`."""
    for key, old in before.items():
        if not np.array_equal(old, after[key]):
            raise AssertionError(f"{call} modified its input {key!r}; work on a copy")

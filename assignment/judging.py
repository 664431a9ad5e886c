"""The grader's cases and its judging: calls as plain data out, a diagnosis from plain-data outcomes back.

This module is the adapter between the grader and the public tests' judging code: it builds,
for each exercise, the public tests' cases plus hidden cases drawn from the judge's generator,
each as a `Call` whose arguments and bindings are plain data (what the worker receives), and
judges the worker's `Outcome`s with public_tests' reference loop and mistake variants, run
here, in the judge. Expected values never leave this process. Feedback on a hidden case names
the kind of case, the known mistake if one explains the result, and the exception type; never
its inputs, its expected value, or text the learner's code produced.

# TODO(publictests): once public_tests.py is split into running and a pure judging function
# (BRIEF interface 2), `calls` and `judge` become thin wrappers over that module.
"""

from typing import NamedTuple

import numpy as np

import public_tests as tests
from assignment.worker import NotADictionary, Opaque, power_model
from testCases import deep_network_case, gradient_check_n_test_case

EXERCISES = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n",
             "backward_propagation_n_fixed")
REFERENCE = (*EXERCISES, "forward_propagation_n", "backward_propagation_n")  # what the judge needs of the solution
HIDDEN = "one of the grader's hidden cases"
# The 1-D models of gradient_check, as (coefficient, power) of f(x, theta) = c * x * theta ** p:
# the course's J = theta x and a cubic, each with its derivative, and a wrong derivative.
LINEAR = ((1, 1), (1, 0), "J = theta * x")
CUBIC = ((1, 3), (3, 2), "J = x * theta**3")
WRONG = ((1, 3), (-1.5, 2), "J = x * theta**3 and a backward_propagation that returns -0.5 x its derivative")
FORWARD_N = {"forward_propagation_n": {"distributed": "forward_propagation_n", "guarded": True}}
SATURATED = 5.0  # a hidden network's cost stays below this (far from log(0)), so that every result is finite
CHECK_EACH = ("Run check_gradients on your backward_propagation_n_fixed and read its per-parameter table to find "
              "which ones are still wrong")
NOT_A_DICTIONARY = ("forward_propagation_n(X, Y, parameters) was given a {}, not a dictionary: turn the "
                    "vector back into one with vector_to_dictionary(theta_plus, parameters) (and likewise "
                    "for theta_minus)")


class Call(NamedTuple):
    """One call of the learner's function: what the worker gets (args, bindings) and what the judge keeps."""

    label: str  # the call as the learner would write it (shown for public cases only)
    args: tuple  # positional arguments, plain data
    bindings: dict  # global name -> spec of the function bound there for this call, plain data
    hidden: bool
    expected: object = None  # exercises 1 and 2: the value; 3 and 4: a public_tests.Case
    verdict: bool = False  # a print_msg=True call whose printed verdict is judged


class Outcome(NamedTuple):
    """What one call gave back, as plain data (validated by the judge)."""

    value: object
    printed: str
    error: tuple | None  # (type name, message)
    args_after: tuple


class Failed(Exception):
    """The diagnosis of a failed exercise."""


def calls(exercise, reference, rng):
    """The calls that grade `exercise`: the public tests' cases, then hidden ones drawn with `rng`.

    Parameters
    ----------
    exercise : str
        One of EXERCISES.
    reference : dict
        The solved notebook's functions (forward_propagation_n, backward_propagation_n, ...).
    rng : numpy.random.Generator
        Seeded by the judge from `secrets`; the worker never sees it.

    Returns
    -------
    list of Call
        Public calls first, so that no public diagnosis can depend on a hidden case.
    """
    return _CALLS[exercise](reference, rng)


def judge(exercise, calls, outcomes):
    """(passed, diagnosis) of `exercise` from its `calls` and their `outcomes` (a pure function)."""
    try:
        _JUDGES[exercise](exercise, calls, outcomes)
    except Failed as failure:
        return False, str(failure)
    except AssertionError as failure:  # a public test helper's message, on a public case
        return False, str(failure)
    return True, "all tests passed"


# ---------------------------------------------------------------------------------------------
# Exercises 1 and 2: a formula at points


def _points_calls(name, reference, rng):
    formula = reference[name]
    public = [(2, 4), (-3.0, 0.5), (0.25, -8.0)] if name == "forward_propagation" else \
        [(3, 4), (-2.0, 0.5), (0.25, -8.0)]
    hidden = [tuple(float(v) for v in rng.uniform(-10, 10, size=2)) for _ in range(3)]
    return [Call(f"{name}(x={x}, theta={theta})", (x, theta), {}, index >= len(public), formula(x, theta))
            for index, (x, theta) in enumerate(public + hidden)]


def _judge_points(exercise, calls, outcomes):
    what = {"forward_propagation": "J", "backward_propagation": "dtheta"}[exercise]
    for call, outcome in zip(calls, outcomes, strict=True):
        got = _value(exercise, call, outcome, what)
        if call.hidden:
            if not abs(got - call.expected) <= 1e-12 * abs(call.expected):
                raise Failed(f"{exercise} gives a wrong value on {HIDDEN} (other x and theta than the "
                             "public tests')")
        else:
            tests._check_close(call.label, got, call.expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercises 3 and 4: a gradient check, judged against the reference loop and its mistakes


def _gradient_check_calls(reference, rng):
    def case(model, x, theta, epsilon, must_pass=False):
        (forward, backward, description) = model
        functions = (power_model(*forward), power_model(*backward), description)
        bindings = {"forward_propagation": _power(forward), "backward_propagation": _power(backward)}
        return tests._case_1d(functions, x, theta, epsilon, must_pass)._replace(bindings=bindings)

    passing = case(LINEAR, 2, 4, tests.COURSE_EPSILON, must_pass=True)
    failing = case(WRONG, -1.2, 0.8, tests.DIAGNOSTIC_EPSILONS[0])
    public = [passing, case(LINEAR, 3, 4, tests.COURSE_EPSILON, must_pass=True)]
    public += [case(CUBIC, 2, 1.5, epsilon) for epsilon in tests.DIAGNOSTIC_EPSILONS] + [failing]
    hidden = [case(CUBIC, *_signed(rng, 0.5, 3, 2), rng.choice([1e-2, 3e-3, 1e-3])) for _ in range(2)]
    factor = float(_signed(rng, 0.2, 0.8, 1)[0])
    wrong = ((1, 3), (3 * factor, 2), "a cubic and a wrong backward_propagation")
    hidden.append(case(wrong, *_signed(rng, 0.5, 3, 2), tests.DIAGNOSTIC_EPSILONS[0]))
    return _check_calls(public, hidden, verdicts=(passing, failing), hidden_verdict=hidden[-1])


def _gradient_check_n_calls(reference, rng):
    forward, backward, fixed = (reference[name] for name in ("forward_propagation_n", "backward_propagation_n",
                                                              "backward_propagation_n_fixed"))
    X, Y, parameters = gradient_check_n_test_case()

    def case(X, Y, parameters, gradients, label, epsilon, must_pass=False):
        return tests._case_nd(forward, X, Y, parameters, gradients, label, epsilon,
                              must_pass)._replace(bindings=FORWARD_N)

    public = []
    for backprop in (backward, fixed):
        gradients = backprop(X, Y, forward(X, Y, parameters)[1])
        public += [case(X, Y, parameters, gradients, f"the gradients of {backprop.__name__}", epsilon)
                   for epsilon in (tests.COURSE_EPSILON, *tests.DIAGNOSTIC_EPSILONS)]
    doubled = [case(*network, *tests._doubled_numerical_gradients(forward, *network), tests.DIAGNOSTIC_EPSILONS[0])
               for network in [(X, Y, parameters), deep_network_case([3, 4, 2, 1], m=5, seed=2)]]
    accurate = tests._numerical_gradients(lambda p: forward(X, Y, p)[0], parameters, tests.REFERENCE_EPSILON)
    passing = case(X, Y, parameters, accurate, "accurate numerical gradients", tests.REFERENCE_EPSILON,
                   must_pass=True)
    hidden = []
    for _ in range(2):
        network = _network(rng, forward)
        numeric = tests._numerical_gradients(lambda p, n=network: forward(n[0], n[1], p)[0], network[2],
                                             tests.REFERENCE_EPSILON)
        scaled = rng.choice(sorted(numeric))
        wrong = {name: (rng.uniform(0.3, 3.0) if name == scaled else 1.0) * value for name, value in numeric.items()}
        hidden.append(case(*network, wrong, "hidden", rng.choice([1e-2, 1e-3])))
        hidden.append(case(*network, fixed(network[0], network[1], forward(*network)[1]), "hidden", 1e-3))
    return _check_calls(public + doubled + [passing], hidden, verdicts=(passing, doubled[0]),
                        hidden_verdict=hidden[0])


def _check_calls(public, hidden, verdicts, hidden_verdict):
    """Calls of a check function: public values, public verdicts, hidden values, a hidden verdict."""
    def call(case, is_hidden, print_msg):
        label = f"{case.call}, print_msg={print_msg}"
        return Call(label, (*case.args, print_msg), case.bindings, is_hidden, case, verdict=print_msg)

    return ([call(case, False, False) for case in public] + [call(case, False, True) for case in verdicts]
            + [call(case, True, False) for case in hidden] + [call(hidden_verdict, True, True)])


def _judge_check(exercise, calls, outcomes):
    mistakes = tests.MISTAKES_1D if exercise == "gradient_check" else tests.MISTAKES_ND
    for hidden in (False, True):  # every public case first: their diagnoses are the most useful
        part = [(call, outcome) for call, outcome in zip(calls, outcomes, strict=True) if call.hidden == hidden]
        values = [(call, outcome, _difference(exercise, call, outcome)) for call, outcome in part
                  if not call.verdict]
        for call, outcome, _ in values:
            _check_unchanged(call, outcome)
            if outcome.printed:
                raise Failed(f"{exercise} printed something with print_msg=False on {HIDDEN}: print the "
                             "verdict only if print_msg is True" if hidden else
                             f"{call.label} printed {outcome.printed.strip()[:300]!r}: print the verdict "
                             "only if print_msg is True")
        cases = [call.expected for call, _, _ in values]
        results = [(got, "") for _, _, got in values]
        for index, (call, _, got) in enumerate(values):
            want = tests._reference_check(call.expected)
            if not tests._close(got, want, tests._roundoff(call.expected, want)):
                if not hidden:
                    raise Failed(tests._diagnose(cases, results, index, mistakes))
                known = _best_mistake(cases, results, index, mistakes)
                raise Failed(f"{exercise} gives a wrong difference on {HIDDEN} (another network, point or "
                             f"epsilon than the public tests'). {known}")
            if call.expected.must_pass and not got < tests.THRESHOLD:
                raise Failed(f"{call.expected.call}: a correct gradient must give a difference below "
                             f"{tests.THRESHOLD:g}, got {got:.3g}")
        for call, outcome in part:
            if call.verdict:
                got = _difference(exercise, call, outcome)
                if hidden:
                    try:
                        tests._check_verdict(call.expected, got, outcome.printed)
                    except AssertionError:
                        raise Failed(f"{exercise} prints a wrong verdict on {HIDDEN}: print the mistake "
                                     f"message exactly when difference >= {tests.THRESHOLD:g}") from None
                else:
                    tests._check_verdict(call.expected, got, outcome.printed)


def _best_mistake(cases, results, index, mistakes):
    """The known mistake that explains result `index` and most others (public_tests._diagnose's rule)."""
    best, best_score = None, 0
    for mistake in mistakes:
        if not tests._matches(cases[index], results[index][0], mistake):
            continue
        score = sum(tests._matches(case, got, mistake) for case, (got, _) in zip(cases, results, strict=True))
        if score > best_score:
            best, best_score = mistake, score
    if best is None:
        return ("No known mistake explains it: compare your code with each step of the instructions "
                "(gradapprox, grad, then equation (2))")
    return mistakes[best]


def _difference(exercise, call, outcome):
    """The learner's difference on `call`, or Failed naming what went wrong (as public_tests._run does)."""
    return _value(exercise, call, outcome, "difference, a number")


def _check_unchanged(call, outcome):
    for sent, after in zip(call.args, outcome.args_after, strict=False):
        if isinstance(sent, dict):
            try:
                tests._check_unchanged(call.label, sent, after if isinstance(after, dict) else {})
            except (AssertionError, KeyError):
                if call.hidden:
                    raise Failed(f"a call on {HIDDEN} modified one of its input dictionaries; work on a "
                                 "copy") from None
                raise Failed(f"{call.label} modified one of its input dictionaries; work on a copy") from None


# ---------------------------------------------------------------------------------------------
# Exercise 5: the fixed backpropagation, against numerical gradients


def _backprop_calls(reference, rng):
    """The course's case, then hidden networks; each expects the reference's gradients (exact, no kinks)."""
    forward, fixed = reference["forward_propagation_n"], reference["backward_propagation_n_fixed"]
    networks = [gradient_check_n_test_case(), _network(rng, forward), _network(rng, forward)]
    calls = []
    for index, (X, Y, parameters) in enumerate(networks):
        cache = forward(X, Y, parameters)[1]
        expected = {"d" + name: fixed(X, Y, cache)["d" + name] for name in parameters}
        calls.append(Call("backward_propagation_n_fixed(X, Y, cache) on the course's test case", (X, Y, cache), {},
                          index > 0, expected))
    return calls


def _judge_backprop(exercise, calls, outcomes):
    for call, outcome in zip(calls, outcomes, strict=True):
        gradients = _value(exercise, call, outcome, "the gradients dictionary", scalar=False)
        if not isinstance(gradients, dict):
            raise Failed(f"{exercise} must return a dict, got {_type_name(gradients)}")
        for key, expected in call.expected.items():
            if key not in gradients:
                raise Failed(f"the gradients have no {key!r}")
            shape = np.shape(gradients[key]) if isinstance(gradients[key], np.ndarray) else None
            if shape != expected.shape:
                raise Failed(f"{key} has shape {shape or _type_name(gradients[key])}, expected {expected.shape}")
        if not all(_agree(gradients[key], expected) for key, expected in call.expected.items()):
            if call.hidden:
                raise Failed(f"the gradients still disagree on {HIDDEN} (another network than the course's)."
                             f" {CHECK_EACH}")
            overall = _equation_2(*(np.concatenate([np.ravel(grads[key]) for key in call.expected])
                                    for grads in (gradients, call.expected)))
            raise Failed(f"the gradients still disagree on the course's test case (difference {overall:.3g}, "
                         f"equation (2) over all the gradients). {CHECK_EACH}")


def _agree(grad, expected):
    """Equation (2) below THRESHOLD, written so that two zero gradients agree and nan never does."""
    with np.errstate(all="ignore"):
        gap = np.linalg.norm(grad - expected)
        return bool(gap <= tests.THRESHOLD * (np.linalg.norm(grad) + np.linalg.norm(expected)))


def _equation_2(grad, gradapprox):
    with np.errstate(all="ignore"):
        difference = np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))
    return float(difference) if np.isfinite(difference) else np.inf


# ---------------------------------------------------------------------------------------------
# Shared


def _value(exercise, call, outcome, what, scalar=True):
    """The learner's return value, or Failed: an exception, None (not implemented), not a real scalar."""
    if outcome.error is not None:
        raise Failed(_error_message(exercise, call, *outcome.error))
    if outcome.value is None:
        raise Failed(tests.NOT_IMPLEMENTED.format(name=exercise, what=what))
    if not scalar:
        return outcome.value
    if isinstance(outcome.value, Opaque):
        raise Failed(f"{exercise} must return a real scalar, got {outcome.value.type_name}"
                     + (f" on {HIDDEN}" if call.hidden else f" from {call.label}"))
    if call.hidden:
        try:
            tests._check_scalar(call.label, outcome.value)
        except AssertionError:
            raise Failed(f"{exercise} did not return a finite real number on {HIDDEN}") from None
    else:
        tests._check_scalar(call.label, outcome.value)
    return float(outcome.value)


def _error_message(exercise, call, kind, message):
    """What an exception of the learner's code says: all of it on a public case, its type on a hidden one."""
    if kind == NotADictionary.__name__:
        return NOT_A_DICTIONARY.format(message[:100] if not call.hidden else "vector")
    if call.hidden:
        return f"{exercise} raised {kind} on {HIDDEN}"
    if kind == "ValueError" and "setting an array element with a sequence" in message:
        return (f"{call.label} raised ValueError: {message.rstrip('.')[:300]}. forward_propagation_n returns a "
                "pair (cost, cache): store only the cost, J_plus[i], _ = forward_propagation_n(...)")
    if kind == "TypeError" and "NoneType" in message:
        return (f"{exercise} is not implemented yet: {call.label} raised TypeError: {message[:300]} (a "
                "placeholder None is still in your code). Replace each None between # YOUR CODE STARTS HERE "
                "and # YOUR CODE ENDS HERE")
    return f"{call.label} raised {kind}: {message[:300]}"


def _type_name(value):
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


def _power(model):
    coefficient, power = model
    return {"power": power, "coefficient": coefficient}


def _signed(rng, low, high, size):
    """`size` floats of magnitude in [low, high) with random signs."""
    return [float(v) for v in rng.uniform(low, high, size) * rng.choice([-1, 1], size)]


def _network(rng, forward):
    """A random network of the course's shape (3 layers, one output) whose cost is far from saturation."""
    while True:
        n_x, n_1, n_2 = (int(n) for n in rng.integers(2, 7, size=3))
        network = deep_network_case([n_x, n_1, n_2, 1], m=int(rng.integers(3, 9)), seed=int(rng.integers(2**32)),
                                    weight_scale=0.5)
        with np.errstate(all="ignore"):
            if forward(*network)[0] < SATURATED:
                return network


_CALLS = {
    "forward_propagation": lambda reference, rng: _points_calls("forward_propagation", reference, rng),
    "backward_propagation": lambda reference, rng: _points_calls("backward_propagation", reference, rng),
    "gradient_check": _gradient_check_calls,
    "gradient_check_n": _gradient_check_n_calls,
    "backward_propagation_n_fixed": _backprop_calls,
}
_JUDGES = {
    "forward_propagation": _judge_points,
    "backward_propagation": _judge_points,
    "gradient_check": _judge_check,
    "gradient_check_n": _judge_check,
    "backward_propagation_n_fixed": _judge_backprop,
}

"""The grader's calls and verdicts: public and hidden cases out as inputs only, outcomes judged here.

The cases are those of the public tests (public_tests.json, read from the grader's own copy)
and hidden ones drawn afresh by the grader-side `assignment.cases` from the judge's generator.
A worker receives only a case's inputs (`INPUTS`): never its expected value, the results of the
known mistakes or the round-off scale. `public_tests.judge`, a pure function, decides on the
plain-data outcomes the worker sends back. Feedback on a hidden case names the kind of case,
the known mistake if one explains the results, and the exception type; never the inputs, the
expected value, or text the learner's code produced.
"""

import re
from typing import NamedTuple

import public_tests
from assignment import cases as grader_cases
from gc_utils import gradients_to_vector

EXERCISES = grader_cases.EXERCISES
REFERENCE = (
    *EXERCISES,
    "forward_propagation_n",
    "backward_propagation_n",
)  # what the judge needs of the solution
INPUTS = ("exercise", "call", "args", "bindings", "print_msg")  # what a worker is given of a case
HIDDEN = "one of the grader's hidden cases"
KINDS = {  # what differs in the hidden cases of each exercise, for feedback
    "forward_propagation": "other x and theta",
    "backward_propagation": "other x and theta",
    "gradient_check": "other x, theta and epsilon",
    "gradient_check_n": "other networks and steps",
    "backward_propagation_n_fixed": "other networks",
}


class Call(NamedTuple):
    """One call of the learner's function: a case of public_tests' format, and whether it is hidden."""

    case: dict
    hidden: bool


def calls(exercise, reference, rng):
    """The calls that grade `exercise`: the public cases, then hidden ones drawn with `rng`.

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
    hidden = grader_cases.draw_cases(
        exercise, rng, reference["forward_propagation_n"], reference["backward_propagation_n"]
    )
    if exercise == "backward_propagation_n_fixed":
        hidden = [_exact(case, reference) for case in hidden]
    return [Call(case, False) for case in public_tests.load_cases(exercise)] + [
        Call(case, True) for case in hidden
    ]


def _exact(case, reference):
    """An exercise-5 case expecting the reference backpropagation's gradient along its directions.

    The drawn case expects a numerical gradient, which a ReLU kink near a hidden network's point
    can put far from the true one; the solved notebook's backpropagation has no such error.
    """
    X, Y, parameters = case["args"]
    cache = reference["forward_propagation_n"](X, Y, parameters)[1]
    gradients = reference["backward_propagation_n_fixed"](X, Y, cache)
    return dict(case, expected=(case["directions"] @ gradients_to_vector(gradients, parameters)).ravel())


def request(call):
    """What the worker is sent for `call`: the case's inputs, as JSON data."""
    return {"case": public_tests.to_json({key: call.case[key] for key in INPUTS if key in call.case})}


def bound(calls):
    """Names of the distributed functions the calls bind ("notebook" bindings), sorted."""
    return sorted(
        {
            name
            for call in calls
            for name, model in call.case.get("bindings", {}).items()
            if model == "notebook"
        }
    )


def judge(exercise, calls, outcomes):
    """(passed, diagnosis) of `exercise` from its `calls` and their plain-data `outcomes`.

    Raises ValueError (from public_tests.judge) if an outcome is not of the shape run_case gives.
    """
    for hidden in (False, True):
        part = [
            (call.case, outcome)
            for call, outcome in zip(calls, outcomes, strict=True)
            if call.hidden == hidden
        ]
        if not part:
            continue
        cases, results = zip(*part, strict=True)
        diagnosis = public_tests.judge(exercise, list(cases), list(results))
        if diagnosis is not None:
            return False, _hidden_diagnosis(exercise, results, diagnosis) if hidden else diagnosis
    return True, "all tests passed"


def _hidden_diagnosis(exercise, outcomes, diagnosis):
    """What a learner may see of a failure on hidden cases: the kind, an exception type, a known mistake."""
    where = f"{HIDDEN} ({KINDS[exercise]} than the public tests')"
    for outcome in outcomes:
        if outcome.get("error"):
            kind = str(outcome["error"].get("type", ""))
            kind = kind if re.fullmatch(r"[A-Za-z_]\w{0,79}", kind) else "an exception"
            return f"{exercise} raised {kind} on {where}"
        if outcome["value"].get("type") == "NoneType":
            return f"{exercise} returned None on {where}"
    known = [text for text in public_tests.MESSAGES.get(exercise, {}).values() if text in diagnosis]
    return f"{exercise} gives a wrong result on {where}" + (f". {known[0]}" if len(known) == 1 else "")

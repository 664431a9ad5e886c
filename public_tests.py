"""Learner-facing checks for Gradient_Checking.ipynb: `<function>_test(target, ...)` raises on a mistake.

This file ships beside the learner edition and holds no implementation of any exercise. The
cases are data (public_tests.json, written by the grader-side `assignment.cases`, which also
draws the grader's hidden ones); running a learner's function and judging the results are
separate steps, so that a grader can run the function in another process and judge here:

- ``load_cases(exercise)`` -> list of case dicts: the call, its arguments (numbers, arrays,
  dicts of arrays), `bindings` (globals of the target, by name: a model of `MODELS`, "notebook"
  for a function the caller provides, or "forbidden"), the expected result, the result each
  known mistake would give (`mistakes`: name -> [value, epsilon it was computed at]) and the
  round-off scale of the tolerance. ``to_json`` / ``from_json`` carry cases to another process.
- ``run_case(target, case, functions)`` -> outcome, plain data: the returned value, the printed
  text, the error (type and message) and the arguments after the call (`encode`d).
- ``judge(exercise, cases, outcomes)`` -> the diagnosis (a str), or None if all is right. A
  pure function: it names a known mistake only when that mistake, and no other, gives the
  learner's result on every case run; otherwise it shows what was measured.
"""

import contextlib
import copy
import functools
import io
import json
import numbers
import pathlib
import types

import numpy as np

from testCases import gradient_check_n_test_case

DATA = pathlib.Path(__file__).resolve().with_name("public_tests.json")
THRESHOLD = 1e-7  # the notebook's verdict threshold on equation (2)
COURSE_EPSILON = 1e-7  # the notebook's default step
RTOL = 1e-8  # slack on top of the round-off bound; the smallest known mistake moves a result by 3e-6
# Round-off of one cost evaluation, in units of the float64 spacing, times |J|: the forward pass of
# a small network adds a few dozen roundings, and a rewritten perturbation (theta_plus - 2 * epsilon,
# restoring in place) moves the evaluation point by an ulp of theta. A case stores its round-off
# scale u * (|J| + max |grad * theta|) * sqrt(n) / ||grad||; this many ulps over epsilon bound it.
ROUNDOFF_ULPS = 64
# The verdict line of exercises 3 and 4 (BRIEF interface 3): the instructions' exact words.
CORRECT = "Your backward propagation works perfectly fine!"
MISTAKE = "There is a mistake in the backward propagation!"
NOT_IMPLEMENTED = ("{name} is not implemented yet: {how}. Write your code between "
                   "# YOUR CODE STARTS HERE and # YOUR CODE ENDS HERE, so that it returns {what}.")
RETURNS = {"forward_propagation": "J", "backward_propagation": "dtheta",
           "gradient_check": "difference, a number",
           "gradient_check_n": "difference, a number",
           "backward_propagation_n_fixed": "the gradients dictionary"}

# What each known mistake looks like, in the learner's terms. Each key is a planted variant of the
# course loop (assignment.cases computes what it gives on every case); a message names one only
# when it alone explains every result.
STEP_1D = "(steps 1.1 to 1.5)"
MESSAGES = {
    "gradient_check": {
        "one_sided": "gradapprox looks like a one-sided difference (J_plus - J) / epsilon: use theta_plus "
                     "and theta_minus, and divide J_plus - J_minus by 2 * epsilon " + STEP_1D,
        "one_sided_minus": "gradapprox looks like a one-sided difference (J - J_minus) / epsilon: use "
                           "theta_plus and theta_minus, and divide J_plus - J_minus by 2 * epsilon "
                           + STEP_1D,
        "theta_minus_from_plus": "theta_minus looks like theta_plus - epsilon, which is theta itself: "
                                 "theta_minus is theta minus epsilon (step 1.2)",
        "perturbs_x": "gradapprox looks like the derivative with respect to x: J_plus and J_minus move x "
                      "by epsilon; keep x and evaluate forward_propagation at theta_plus and at theta_minus "
                      "(steps 1.3 and 1.4)",
        "swapped_forward": "J_plus and J_minus look like forward_propagation(theta_plus, x), arguments "
                           "swapped: the signature is forward_propagation(x, theta), x first (steps 1.3 "
                           "and 1.4)",
        "unperturbed": "gradapprox is 0, as if J_plus and J_minus were both J(theta): evaluate "
                       "forward_propagation at theta_plus and at theta_minus (steps 1.3 and 1.4)",
        "reversed_sign": "gradapprox has the wrong sign, as with (J_minus - J_plus): the numerator is "
                         "J_plus minus J_minus (step 1.5)",
        "divide_by_epsilon": "gradapprox is twice what it should be: divide J_plus - J_minus by "
                             "2 * epsilon, not by epsilon (step 1.5)",
        "times_epsilon": "gradapprox looks like (J_plus - J_minus) / 2 * epsilon, which multiplies by "
                         "epsilon: put 2 * epsilon in parentheses (step 1.5)",
        "grad_is_gradapprox": "difference is 0 as if grad were gradapprox: compute grad with "
                              "backward_propagation(x, theta) (step 2)",
        "grad_at_theta_plus": "grad looks like backward_propagation(x, theta_plus): compute grad at theta "
                              "itself, backward_propagation(x, theta) (step 2)",
        "grad_at_theta_minus": "grad looks like backward_propagation(x, theta_minus): compute grad at theta "
                               "itself, backward_propagation(x, theta) (step 2)",
        "swapped_backward": "grad looks like backward_propagation(theta, x), arguments swapped: the "
                            "signature is backward_propagation(x, theta), x first (step 2)",
        "inline_forward": "J_plus and J_minus do not come from forward_propagation: the test runs your "
                          "function with other models bound to forward_propagation, so call "
                          "forward_propagation(x, theta_plus) and forward_propagation(x, theta_minus) "
                          "(steps 1.3 and 1.4) rather than a formula of your own",
        "inline_backward": "grad does not come from backward_propagation: the test runs your function "
                           "with other models bound to backward_propagation, so call "
                           "backward_propagation(x, theta) (step 2) rather than a formula of your own",
        "ignores_epsilon": "the result does not depend on the `epsilon` argument (it matches a fixed "
                           "epsilon = 1e-7): use the parameter `epsilon`, do not write the number 1e-7 "
                           "in your code (step 1)",
        "no_denominator": "difference looks like the numerator alone: divide np.linalg.norm(grad - "
                          "gradapprox) by the denominator (step 3.3)",
        "denominator_of_sum": "the denominator looks like np.linalg.norm(grad + gradapprox): it is "
                              "np.linalg.norm(grad) + np.linalg.norm(gradapprox), two norms added "
                              "(step 3.2)",
        "squared_norms": "difference looks like a ratio of squared norms: use np.linalg.norm(...) itself, "
                         "not its square (steps 3.1 and 3.2)",
        "difference_of_norms": "the numerator looks like np.linalg.norm(grad) - np.linalg.norm(gradapprox):"
                               " it is the norm of the difference, np.linalg.norm(grad - gradapprox) "
                               "(step 3.1)",
        "inverted_ratio": "difference looks like denominator / numerator: divide the numerator by the "
                          "denominator (step 3.3)",
        "precedence": "difference looks like numerator / np.linalg.norm(grad) + np.linalg.norm(gradapprox):"
                      " put the whole denominator in parentheses (step 3.3)",
    },
    "gradient_check_n": {
        "one_sided": "gradapprox looks like a one-sided difference (J_plus[i] - J) / epsilon: compute both "
                     "J_plus[i] and J_minus[i], and divide their difference by 2 * epsilon",
        "one_sided_minus": "gradapprox looks like a one-sided difference (J - J_minus[i]) / epsilon: compute "
                           "both J_plus[i] and J_minus[i], and divide their difference by 2 * epsilon",
        "theta_minus_from_plus": "theta_minus[i] looks like the unperturbed value, as when theta_minus "
                                 "starts from theta_plus, or when theta_plus is parameters_values itself (no "
                                 "np.copy) and is put back before J_minus[i]: start theta_plus and "
                                 "theta_minus each from a fresh np.copy(parameters_values)",
        "plus_not_copied": "theta_plus looks like parameters_values itself (no np.copy): moving "
                           "theta_plus[i] moves parameters_values too, so each later theta_minus starts "
                           "from a moved vector; start theta_plus and theta_minus each from a fresh "
                           "np.copy(parameters_values)",
        "no_restore": "the perturbations look like they stay in the vector (theta[i] moved without being put "
                      "back, or theta_plus = parameters_values without np.copy): start theta_plus and "
                      "theta_minus from a fresh np.copy(parameters_values) for every i",
        "perturbs_all": "gradapprox[i] looks like it moves every entry of theta at once (theta_plus = "
                        "parameters_values + epsilon): move only entry i, theta_plus[i]",
        "unperturbed": "gradapprox is 0, as if J_plus[i] and J_minus[i] were both the cost at the "
                       "unperturbed parameters: pass vector_to_dictionary(theta_plus, parameters) (and "
                       "theta_minus) to forward_propagation_n",
        "reversed_sign": "gradapprox has the wrong sign, as with (J_minus[i] - J_plus[i]): the numerator is "
                         "J_plus[i] minus J_minus[i]",
        "divide_by_epsilon": "gradapprox is twice what it should be: divide J_plus[i] - J_minus[i] by "
                             "2 * epsilon, not by epsilon",
        "times_epsilon": "gradapprox looks like (J_plus[i] - J_minus[i]) / 2 * epsilon, which multiplies by "
                         "epsilon: put 2 * epsilon in parentheses",
        "float32_copies": "gradapprox looks like it was computed from float32 copies of the parameters: "
                          "float32 keeps about 7 digits, so theta[i] + epsilon loses most of epsilon; keep "
                          "the float64 np.copy(parameters_values)",
        "grad_is_gradapprox": "difference is 0 as if grad were gradapprox: compare gradapprox with grad, the "
                              "gradients of backpropagation, without overwriting grad",
        "skips_last": "the loop skips the last entry (gradapprox[num_parameters - 1] stays 0, as with "
                      "range(num_parameters - 1)): loop over every i in range(num_parameters)",
        "skips_first": "the loop skips the first entry (gradapprox[0] stays 0, as with "
                       "range(1, num_parameters)): loop over every i in range(num_parameters)",
        "loops_over_keys": "only the first len(parameters) entries of gradapprox are filled, as with "
                           "range(len(parameters)), which counts the arrays W1, b1, ..., not their "
                           "scalars: loop over every i in range(num_parameters)",
        "returns_in_loop": "difference looks like it was computed after the first entry only (the rest of "
                           "gradapprox still 0), as when equation (2) and `return difference` sit inside "
                           "the loop: compute difference once, after the loop",
        "gradapprox_after_loop": "only the last entry of gradapprox is filled, as when the gradapprox[i] "
                                 "line is dedented out of the loop: compute gradapprox[i] inside the loop, "
                                 "for every i",
        "ignores_epsilon": "the result does not depend on the `epsilon` argument (it matches a fixed "
                           "epsilon = 1e-7): use the parameter `epsilon`, do not write the number 1e-7 "
                           "in your code",
        "flat_gradapprox": "difference looks like grad - gradapprox was an (n, n) matrix: gradapprox has "
                           "shape (n,) and grad (n, 1), so NumPy broadcasts their difference; keep "
                           "gradapprox a column of shape (num_parameters, 1)",
        "no_denominator": "difference looks like the numerator alone: divide "
                          "np.linalg.norm(grad - gradapprox) by the denominator",
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
    },
}
FALLBACK = ("No single known mistake explains the results on all {count} cases run: compare your code "
            "with each step of the instructions (gradapprox, grad, then equation (2))")


class BindingError(Exception):
    """Raised by the functions the tests bind in a target's globals, when they are misused."""


# ---------------------------------------------------------------------------------------------
# Public models: the functions bound in a target's globals by name. They are the course's J and
# other test functions, not solutions of an exercise.


def _cubic_n(X, Y, parameters):
    """A public N-D model: J = sum(X * theta**3) / 3 + sum(Y * theta)**2 / 2 over the stacked theta."""
    theta = _stacked(parameters)
    return float(np.sum(X * theta ** 3) / 3 + np.sum(Y * theta) ** 2 / 2), None


def _cubic_n_gradients(X, Y, parameters):
    """Exact gradients of `_cubic_n`, as a dict "d" + name."""
    theta = _stacked(parameters)
    grad = X * theta ** 2 + Y * np.sum(Y * theta)
    ends = np.cumsum([np.size(value) for value in parameters.values()])
    return {"d" + name: grad[end - np.size(value):end].reshape(np.shape(value))
            for (name, value), end in zip(parameters.items(), ends, strict=True)}


def _stacked(parameters):
    """The parameters of a dict stacked into one column, in the dict's order."""
    return np.concatenate([np.reshape(value, (-1, 1)) for value in parameters.values()])


MODELS = {
    # 1-D: (forward_propagation, backward_propagation, description)
    "linear": (lambda x, theta: theta * x, lambda x, theta: x, "J(theta) = theta * x"),
    "cubic": (lambda x, theta: x * theta ** 3, lambda x, theta: 3 * x * theta ** 2,
              "J(theta) = x * theta**3"),
    "cubic_wrong": (lambda x, theta: x * theta ** 3, lambda x, theta: -1.5 * x * theta ** 2,
                    "J(theta) = x * theta**3 and a backward_propagation that returns -0.5 x its derivative"),
    # N-D: (forward_propagation_n, gradients, description)
    "cubic_n": (_cubic_n, _cubic_n_gradients, "J = sum(X * theta**3) / 3 + sum(Y * theta)**2 / 2"),
}


# ---------------------------------------------------------------------------------------------
# The checks the notebook calls


def forward_propagation_test(target, cases=None):
    """Check ``target(x, theta)`` returns J(theta) = theta * x on the public cases (or `cases`)."""
    _assert_passes("forward_propagation", target, cases, {})


def backward_propagation_test(target, cases=None):
    """Check ``target(x, theta)`` returns dJ/dtheta on the public cases (or `cases`)."""
    _assert_passes("backward_propagation", target, cases, {})


def gradient_check_test(target, cases=None):
    """Check the 1-D ``target(x, theta, epsilon, print_msg)`` and name the step that went wrong.

    The target runs with the test's own models bound to `forward_propagation` and
    `backward_propagation` in its globals: the course's J = theta x at epsilon = 1e-7, where a
    correct check must pass, and cubic models at larger steps, where known mistakes give results
    of their own.
    """
    _assert_passes("gradient_check", target, cases, {})


def gradient_check_n_test(target, forward_propagation_n, backward_propagation_n, cases=None):
    """Check ``target(parameters, gradients, X, Y, epsilon, print_msg)`` and name the step that went wrong.

    The public cases run the target on the course network (with `forward_propagation_n` bound
    in its globals) and on a public model; then the check cell's own call, with the gradients
    of `backward_propagation_n`, must print the verdict that its returned difference gives.
    """
    functions = {"forward_propagation_n": forward_propagation_n}
    cases = load_cases("gradient_check_n") if cases is None else list(cases)
    X, Y, parameters = gradient_check_n_test_case()
    gradients = backward_propagation_n(X, Y, forward_propagation_n(X, Y, parameters)[1])
    gradients = {"d" + name: gradients["d" + name] for name in parameters}
    cases.append({"exercise": "gradient_check_n", "expected": None, "print_msg": True,
                  "call": "gradient_check_n(parameters, gradients, X, Y, 1e-7, True) with the gradients of "
                          "backward_propagation_n, as in the check cell",
                  "args": [parameters, gradients, X, Y, COURSE_EPSILON],
                  "bindings": {"forward_propagation_n": "notebook", "backward_propagation_n": "forbidden"}})
    _assert_passes("gradient_check_n", target, cases, functions)


def backward_propagation_n_test(target, forward_propagation_n, cases=None):
    """Check the fixed ``target(X, Y, cache)`` against the cost's derivatives along random directions.

    The message says only whether the gradients still disagree, with one difference for the
    whole vector: finding which gradients are wrong is the exercise.
    """
    _assert_passes("backward_propagation_n_fixed", target, cases,
                   {"forward_propagation_n": forward_propagation_n})


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
# Cases, running, judging


def load_cases(exercise, path=DATA):
    """The public cases of `exercise` (a name of `RETURNS`), decoded: arrays as ndarrays."""
    if exercise not in RETURNS:
        raise ValueError(f"`exercise` must be one of {', '.join(RETURNS)}, got {exercise!r}")
    return from_json(_load(str(path))[exercise])


@functools.cache
def _load(path):
    return json.loads(pathlib.Path(path).read_text())


def run_case(target, case, functions=None):
    """Call `target` on `case` with its bindings; return the outcome as plain data.

    Parameters
    ----------
    target : callable
        The learner's function.
    case : dict
        A decoded case (`load_cases`); not modified.
    functions : dict of str -> callable
        The functions the case binds as "notebook" (forward_propagation_n).

    Returns
    -------
    dict
        ``value`` and ``args_after`` (`encode`d), ``printed`` (str), ``error`` (None or
        ``{"type", "message"}``).
    """
    args = copy.deepcopy(case["args"])
    bindings = {name: _resolve(name, model, functions or {})
                for name, model in case.get("bindings", {}).items()}
    if case["exercise"] == "backward_propagation_n_fixed":
        X, Y, parameters = args
        args = [X, Y, bindings.pop("forward_propagation_n")(X, Y, parameters)[1]]
    if "print_msg" in case:
        args = [*args, case["print_msg"]]
    stdout = io.StringIO()
    value, error = None, None
    try:
        with contextlib.redirect_stdout(stdout):
            value = with_globals(target, bindings)(*args)
    except Exception as raised:  # the learner's code may raise anything: it is part of the outcome
        error = {"type": type(raised).__name__, "message": str(raised)}
    after = args[:len(case["args"])] if case["exercise"] != "backward_propagation_n_fixed" else []
    return {"value": encode(value), "printed": stdout.getvalue(), "error": error, "args_after": encode(after)}


def judge(exercise, cases, outcomes):
    """The diagnosis of `outcomes` (from `run_case`) on `cases`, or None if every check passes.

    A pure function of its arguments. Checks, in order: errors, what was returned, what was
    printed with print_msg=False, arguments modified in place; then the results against the
    expected ones (a known mistake is named only if it, and no other, gives the learner's result
    on every case); then the verdict printed with print_msg=True.
    """
    if len(cases) != len(outcomes):
        raise ValueError(f"`outcomes` must hold one outcome per case: {len(outcomes)} for {len(cases)} cases")
    for index, outcome in enumerate(outcomes):
        if not (isinstance(outcome, dict) and isinstance(outcome.get("value"), dict)
                and isinstance(outcome["value"].get("type"), str) and isinstance(outcome.get("printed"), str)
                and isinstance(outcome.get("error") or {}, dict)):
            raise ValueError(f"`outcomes[{index}]` must be an outcome of run_case (a dict with value, "
                             f"printed, error and args_after), got {str(outcome)[:80]!r}")
    for case, outcome in zip(cases, outcomes, strict=True):
        problem = _structural_problem(exercise, case, outcome)
        if problem:
            return problem
    if exercise == "backward_propagation_n_fixed":
        return _judge_gradients(cases, outcomes)
    got = [_number(outcome) for outcome in outcomes]
    if exercise in MESSAGES:
        problem = _judge_differences(exercise, cases, got)
    else:
        problem = _judge_values(cases, got)
    if problem:
        return problem
    for case, outcome, value in zip(cases, outcomes, got, strict=True):
        if case.get("print_msg"):
            problem = _verdict_problem(case, value, outcome["printed"])
            if problem:
                return problem
    return None


def _assert_passes(exercise, target, cases, functions):
    """Run `target` on `cases` (default: the public ones); raise AssertionError with the diagnosis."""
    cases = load_cases(exercise) if cases is None else cases
    outcomes = [run_case(target, case, functions) for case in cases]
    diagnosis = judge(exercise, cases, outcomes)
    if diagnosis is not None:
        raise AssertionError(diagnosis)
    print("All tests passed.")


def _resolve(name, model, functions):
    """The function bound to `name` for a case: a public model, the caller's, or a guard."""
    if model == "forbidden":
        return _forbidden(name)
    if model == "notebook":
        if name not in functions:
            raise ValueError(f"the case binds {name} to the notebook's, but `functions` has no {name!r}")
        function = functions[name]
    else:
        function = MODELS[model][name.startswith("backward")]  # (forward, backward or gradients, ...)
    return _guarded_forward(function) if name == "forward_propagation_n" else function


def _forbidden(name):
    """A function that explains why the target must not call `name`."""
    def forbidden(*args, **kwargs):
        raise BindingError(f"gradient_check_n called {name} itself: it must check the `gradients` it is "
                           "given (grad = gradients_to_vector(gradients, parameters), already written for "
                           "you), so that it can check any backpropagation")
    return forbidden


def _guarded_forward(forward_propagation_n):
    """`forward_propagation_n` that explains a `parameters` that is not a dictionary of float64 arrays."""
    def forward(X, Y, parameters):
        if not isinstance(parameters, dict):
            shape = f" of shape {parameters.shape}" if isinstance(parameters, np.ndarray) else ""
            raise BindingError(
                f"forward_propagation_n(X, Y, parameters) was given a {type(parameters).__name__}{shape}, "
                "not a dictionary: turn the vector back into one with "
                "vector_to_dictionary(theta_plus, parameters) (and likewise for theta_minus)")
        for name, value in parameters.items():
            if np.asarray(value).dtype == np.float32:
                raise BindingError(
                    f"forward_propagation_n(X, Y, parameters) was given float32 parameters ({name}): "
                    "float32 keeps about 7 digits, so theta[i] + epsilon loses most of epsilon; keep the "
                    "float64 np.copy(parameters_values)")
        return forward_propagation_n(X, Y, parameters)
    return forward


def _structural_problem(exercise, case, outcome):
    """The message for an error, a wrong kind of return value, a stray print or a modified input."""
    call, error, value = case["call"], outcome.get("error"), outcome.get("value") or {}
    if error:
        return _error_message(exercise, call, error)
    if value.get("type") == "NoneType":
        return NOT_IMPLEMENTED.format(name=exercise, how="it returned None", what=RETURNS[exercise])
    if exercise == "backward_propagation_n_fixed":
        return None
    if value.get("type") in ("list", "tuple"):
        shown = ", ".join(f"{item['value']:.6g}" if "value" in item and isinstance(item["value"], float)
                          else item.get("type", "?") for item in value.get("items", []))
        return (f"{call} must return a number, got a {value['type']} [{shown}]: return the number itself "
                "(np.linalg.norm already returns one), not [difference]")
    if value.get("type") == "ndarray" or not isinstance(value.get("value"), float):
        shape = f" of shape {tuple(value['shape'])}" if value.get("type") == "ndarray" else ""
        return f"{call} must return a real scalar, got {value.get('type')}{shape}"
    if case.get("print_msg") is False and outcome.get("printed", "").strip():
        return (f"{call}, print_msg=False printed {outcome['printed'].strip()!r}: print the verdict only if "
                "print_msg is True")
    for old, new in zip(encode(case["args"])["items"], outcome.get("args_after", {}).get("items", []),
                        strict=False):
        if old.get("type") == "dict":
            for key, array in old["items"].items():
                if new.get("type") != "dict" or new["items"].get(key) != array:
                    return f"{call} modified its input {key!r}; work on a copy"
    return None


def _error_message(exercise, call, error):
    """The message for an exception the target raised."""
    kind, message = error.get("type"), error.get("message", "")
    if kind == "BindingError":
        return message
    if kind == "ValueError" and "setting an array element with a sequence" in message:
        # NumPy names the extra dimension only when a (cost, cache) pair goes into a row of J_plus.
        if "maximum number of dimension" in message or "inhomogeneous" in message:
            return (f"{call} raised ValueError: {message.rstrip('.')}. forward_propagation_n returns a pair "
                    "(cost, cache): store only the cost, J_plus[i], _ = forward_propagation_n(...)")
        return (f"{call} raised ValueError: {message.rstrip('.')}. A sequence went into one entry of an "
                "array: check the shapes on both sides of each J_plus[i], J_minus[i] and gradapprox[i] "
                "assignment (forward_propagation_n returns a pair (cost, cache), and an entry of an "
                "(n, 1) array such as J_plus[i] is itself an array of shape (1,))")
    if kind == "TypeError" and "NoneType" in message:
        return NOT_IMPLEMENTED.format(name=exercise, how=f"{call} raised TypeError: {message} (a placeholder "
                                      "None is still in your code)", what=RETURNS[exercise])
    return f"{call} raised {kind}: {message}"


def _number(outcome):
    """The returned number of a scalar outcome."""
    return outcome["value"]["value"]


def _judge_values(cases, got):
    """Exercises 1 and 2: each result equals the expected one to `rtol`."""
    for case, value in zip(cases, got, strict=True):
        if not abs(value - case["expected"]) <= case["rtol"] * abs(case["expected"]):
            return f"{case['call']}: expected {case['expected']:.6g}, got {value:.6g}"
    return None


def _judge_differences(exercise, cases, got):
    """Exercises 3 and 4: each difference against the expected one; name the mistake that explains all."""
    judged = [(case, value) for case, value in zip(cases, got, strict=True) if case["expected"] is not None]
    for case, value in judged:
        expected = case["expected"]
        if not _close(value, expected, _tolerance(case, expected, case["args"][-1])):
            shown = f"{case['call']}: expected difference {expected:.6g}, got {value:.6g}"
            explaining = [mistake for mistake in MESSAGES[exercise]
                          if all(_explains(other, other_value, mistake) for other, other_value in judged)]
            if len(explaining) == 1:
                return f"{shown}. {MESSAGES[exercise][explaining[0]]}"
            return f"{shown}. {FALLBACK.format(count=len(judged))}"
        if case.get("must_pass") and not value < THRESHOLD:
            return (f"{case['call']}: a correct gradient must give a difference below {THRESHOLD:g}, "
                    f"got {value:.3g}")
    return None


def _explains(case, got, mistake):
    """True if the course loop with `mistake` planted gives `got` on `case`, up to round-off."""
    prediction = case.get("mistakes", {}).get(mistake)
    if prediction is None:
        return False
    value, epsilon = prediction
    return _close(got, value, _tolerance(case, value, epsilon))


def _tolerance(case, difference, epsilon):
    """How far round-off alone may move a `difference` computed at step `epsilon` on `case`.

    Each entry of gradapprox carries about ROUNDOFF_ULPS * u * |J| / epsilon of round-off; n such
    errors move equation (2) by at most their norm times (1 + difference) / ||grad||.
    """
    if difference is None or not np.isfinite(difference):
        return 0.0
    return ROUNDOFF_ULPS * case["roundoff"] / epsilon * (1 + abs(difference))


def _close(got, expected, atol):
    """True if `got` is `expected` up to `atol` and RTOL (nan and inf only equal themselves)."""
    if expected is None:
        return False
    if not np.isfinite(expected) or not np.isfinite(got):
        return got == expected or (np.isnan(got) and np.isnan(expected))
    return abs(got - expected) <= atol + RTOL * abs(expected)


def _verdict_problem(case, difference, printed):
    """The message unless `printed` is one line starting with the right verdict sentence."""
    right, other = (CORRECT, MISTAKE) if difference < THRESHOLD else (MISTAKE, CORRECT)
    why = (f"difference = {difference:.3g} is below {THRESHOLD:g}" if difference < THRESHOLD
           else f"difference = {difference:.3g} is not below {THRESHOLD:g}")
    expected = f"{right} difference = "
    lines = [line for line in printed.splitlines() if line.strip()]
    where = f"{case['call']}, print_msg=True"
    if not lines:
        return f"{where} printed nothing: print the verdict when print_msg is True"
    if len(lines) > 1:
        return (f"{where} printed {len(lines)} lines, starting {lines[0]!r}: print the verdict once, after "
                "difference is computed")
    line = lines[0].strip()
    if line.startswith(other):
        return (f"{where}: {why}, but it printed {line!r}: the verdict is inverted. The line starts "
                f"{CORRECT!r} only when difference < {THRESHOLD:g}, and {MISTAKE!r} otherwise")
    if not line.startswith(expected) or not line[len(expected):].strip():
        return (f"{where}: {why}, so the line must start with the instructions' exact words {expected!r} "
                f"followed by the value; it printed {line!r}")
    return None


def _judge_gradients(cases, outcomes):
    """Exercise 5: the gradients' keys and shapes, then one difference along the case's random directions."""
    for case, outcome in zip(cases, outcomes, strict=True):
        value = outcome["value"]
        if value.get("type") != "dict":
            return f"backward_propagation_n_fixed must return a dict, got {value.get('type')}"
        X, Y, parameters = case["args"]
        grad = []
        for name, array in parameters.items():
            got = value["items"].get("d" + name)
            if got is None:
                return f"the gradients have no {'d' + name!r}"
            try:
                got = decode(got)
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"`outcomes`: d{name} is not an encoded value ({error})") from error
            if np.shape(got) != np.shape(array):
                return f"d{name} has shape {np.shape(got)}, expected {np.shape(array)}"
            grad.append(np.reshape(np.asarray(got, dtype=float), (-1, 1)))
        projected = case["directions"] @ np.concatenate(grad)
        expected = np.reshape(case["expected"], projected.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            difference = (np.linalg.norm(projected - expected)
                          / (np.linalg.norm(projected) + np.linalg.norm(expected)))
        if not difference < THRESHOLD:
            return (f"{case['call']}: the gradients still disagree with the derivatives of the cost: "
                    f"difference = {difference:.3g} (the derivative of the cost along a random direction "
                    f"that moves every parameter at once, against your gradients; below {THRESHOLD:g} when "
                    "backpropagation is right). Find which ones are wrong by checking each parameter's "
                    "gradient on its own, one parameter at a time")
    return None


# ---------------------------------------------------------------------------------------------
# Plain data: what crosses between the process that runs a learner's function and the judge


def encode(value):
    """`value` as JSON-able plain data: numbers, arrays, lists, tuples and dicts of them."""
    if value is None:
        return {"type": "NoneType"}
    if isinstance(value, bool | np.bool_):
        return {"type": "bool", "value": bool(value)}
    if isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
        return {"type": type(value).__name__, "value": float(value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"type": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
                "value": value.astype(float).ravel().tolist()}
    if isinstance(value, list | tuple):
        return {"type": type(value).__name__, "items": [encode(item) for item in value]}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, dict):
        return {"type": "dict", "items": {str(key): encode(item) for key, item in value.items()}}
    return {"type": type(value).__name__}


def decode(data):
    """The Python value of `encode`d data (numbers as float, except int)."""
    kind = data["type"]
    if kind == "ndarray":
        return np.array(data["value"], dtype=data["dtype"]).reshape(data["shape"])
    if kind in ("list", "tuple"):
        items = [decode(item) for item in data["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {key: decode(item) for key, item in data["items"].items()}
    if kind == "int":
        return int(data["value"])
    return data.get("value")


def to_json(obj):
    """A case (dicts, lists, str, numbers, None and float64 arrays) as JSON data; `from_json` inverts it."""
    if isinstance(obj, np.ndarray):
        return {"ndarray": obj.tolist(), "shape": list(obj.shape)}
    if isinstance(obj, dict):
        return {str(key): to_json(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(value) for value in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def from_json(data):
    """The case that `to_json` wrote: arrays back as float64 ndarrays."""
    if isinstance(data, dict):
        if set(data) == {"ndarray", "shape"}:
            return np.array(data["ndarray"], dtype=float).reshape(data["shape"])
        return {key: from_json(value) for key, value in data.items()}
    if isinstance(data, list):
        return [from_json(value) for value in data]
    return data

"""Grader-side cases of the public tests: the course loop, its mistakes, the case builders (never shipped).

Usage: python -m assignment.cases --write    (regenerate public_tests.json from the solved notebook)
       python -m assignment.cases --check    (exit 1 if public_tests.json is not what this computes)

API, for the grader (the cases are the dicts `public_tests.run_case` and `public_tests.judge` take):

- ``public_cases(functions=None) -> dict exercise -> list of case dicts``: the public cases, what
  public_tests.json holds. `functions` defaults to `notebook_functions()`.
- ``draw_cases(exercise, rng, forward_propagation_n, backward_propagation_n) -> list of case dicts``:
  fresh hidden cases of one exercise from a ``np.random.Generator``: other points, steps, networks.
- ``reference_check(cost_fn, parameters, gradients, epsilon, mistake=None) -> float``: equation (2)
  from the course loop, with one known mistake (a key of ``public_tests.MESSAGES``) planted.
- ``notebook_functions(path=SOLVED) -> dict``: the solved notebook's imports and functions.

Every expected value and every mistake's result in a case is computed here, by the reference
loop; public_tests.py only compares. Exercise 5's expected gradients are stored only as their
projection on one random direction per case (`DIRECTIONS`), so the data never shows which
gradients of the course network are wrong or by what factor.
"""

import ast
import json
import pathlib
import sys

import numpy as np

import public_tests
from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from public_tests import COURSE_EPSILON, MESSAGES, MODELS
from testCases import deep_network_case, gradient_check_n_test_case

SOLVED = pathlib.Path(__file__).resolve().parent.parent / "Gradient_Checking.ipynb"
# Steps at which truncation, not round-off, decides a difference: results there are reproducible
# to ~1e-12, so a mistake that changes them by 1e-6 or more stands out. Two of them, so that a
# result that does not move with epsilon is seen to ignore it.
DIAGNOSTIC_EPSILONS = (1e-2, 1e-3)
REFERENCE_EPSILON = 1e-4  # truncation-dominated for the course network: accurate and CPU-independent
# Exercise 5's true gradient: (4 D(h/2) - D(h)) / 3 at two steps h, accurate to ~1e-11 on a smooth
# cost. Where the two disagree by more than KINK_RTOL a ReLU kink lies within a step (the estimate
# is no reference there), and the grader draws another network.
RICHARDSON_STEPS = (1e-3, 1e-4)
KINK_RTOL = 1e-8
# Exercise 5: the expected gradient is stored only along this many random directions per case. One:
# with two public cases that is two equations, too few to tell which pair of gradients (the course
# plants two bugs) is scaled, yet any wrong gradient changes the derivative along it.
DIRECTIONS = 1
# A direction nearly orthogonal to the gradient would leave too few digits to judge: its cosine with
# the gradient must be at least this many times the typical 1 / sqrt(n) (redrawn otherwise).
MIN_ALIGNMENT = 0.25
EXERCISES = tuple(public_tests.RETURNS)
# Mistakes that replace the cost or the gradient a 1-D learner uses, rather than the loop.
_INLINE_1D = {"grad_at_theta_plus", "grad_at_theta_minus", "swapped_backward", "inline_forward",
              "inline_backward", "perturbs_x", "swapped_forward"}
_EQUATION_2 = {"no_denominator", "denominator_of_sum", "squared_norms", "l1_norms", "difference_of_norms",
               "inverted_ratio", "precedence", "flat_gradapprox"}


class KinkError(ValueError):
    """The cost has a kink within a step of the point: central differences are no reference there."""


def public_cases(functions=None):
    """The public cases of every exercise, as public_tests.json holds them (decoded).

    Parameters
    ----------
    functions : dict or None
        ``forward_propagation_n`` and ``backward_propagation_n`` (the learner edition's, which has
        the planted bugs); None reads them from the solved notebook.

    Returns
    -------
    dict of str -> list of dict
    """
    functions = notebook_functions() if functions is None else functions
    forward, backward = functions["forward_propagation_n"], functions["backward_propagation_n"]
    X, Y, parameters = gradient_check_n_test_case()
    buggy = _backprop_gradients(forward, backward, X, Y, parameters)
    course = dict(binding="notebook", forward=forward, X=X, Y=Y, parameters=parameters, gradients=buggy,
                  label="the course's 4x5x3x1 network and the gradients of backward_propagation_n")
    model = _cubic_n_case(deep_network_case([3, 2, 1], m=1, seed=3)[2], seed=4)
    doubled = dict(model, gradients=_doubled(model["gradients"]),
                   label=model["label"] + f", its {next(iter(model['gradients']))} doubled")
    return {
        "forward_propagation": _value_cases("forward_propagation", [(2, 4), (-3.0, 0.5), (0.25, -8.0)]),
        "backward_propagation": _value_cases("backward_propagation", [(3, 4), (-2.0, 0.5), (0.25, -8.0)]),
        "gradient_check": [
            _case_1d("linear", 2, 4, COURSE_EPSILON, must_pass=True),
            _case_1d("linear", 3, 4, COURSE_EPSILON, must_pass=True),
            *[_case_1d("cubic", 2, 1.5, epsilon) for epsilon in DIAGNOSTIC_EPSILONS],
            _case_1d("cubic", -0.7, 1.3, DIAGNOSTIC_EPSILONS[0]),
            _case_1d("cubic_wrong", -1.2, 0.8, DIAGNOSTIC_EPSILONS[0]),
            _case_1d("linear", 2, 4, COURSE_EPSILON, must_pass=True, print_msg=True),
            _case_1d("cubic_wrong", -1.2, 0.8, DIAGNOSTIC_EPSILONS[0], print_msg=True),
        ],
        "gradient_check_n": [
            *[_case_nd(course, epsilon) for epsilon in (COURSE_EPSILON, *DIAGNOSTIC_EPSILONS)],
            _case_nd(model, COURSE_EPSILON, must_pass=True),
            _case_nd(model, DIAGNOSTIC_EPSILONS[0]),
            _case_nd(doubled, DIAGNOSTIC_EPSILONS[0]),
            _case_nd(course, COURSE_EPSILON, print_msg=True),
            _case_nd(model, COURSE_EPSILON, must_pass=True, print_msg=True),
        ],
        "backward_propagation_n_fixed": [
            _backprop_case(forward, X, Y, parameters, np.random.default_rng(5), "the course's test case"),
            _backprop_case(forward, *deep_network_case([3, 4, 2, 1], m=5, seed=2), np.random.default_rng(6),
                           "a 3x4x2x1 network on 5 examples"),
        ],
    }


def draw_cases(exercise, rng, forward_propagation_n, backward_propagation_n):
    """Fresh cases of `exercise` for the grader, drawn from `rng`: other points, steps and networks.

    Parameters
    ----------
    exercise : str
        One of EXERCISES.
    rng : np.random.Generator
    forward_propagation_n, backward_propagation_n : callable
        The reference ones (the solved notebook's; `backward_propagation_n` with its planted bugs).

    Returns
    -------
    list of dict
        Cases for `public_tests.run_case` and `public_tests.judge`; they bind
        `forward_propagation_n` as "notebook", so run them with the same `forward_propagation_n`.
    """
    if exercise not in EXERCISES:
        raise ValueError(f"`exercise` must be one of {', '.join(EXERCISES)}, got {exercise!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a np.random.Generator, got {type(rng).__name__}")
    # |x|, |theta| in [0.5, 3]: away from 0, where grad = gradapprox = 0 makes equation (2) 0 / 0
    point = lambda: tuple(float(v) for v in np.round(rng.choice([-1, 1], 2) * rng.uniform(0.5, 3, 2), 3))  # noqa: E731
    if exercise in ("forward_propagation", "backward_propagation"):
        return _value_cases(exercise, [point() for _ in range(3)])
    network = lambda: deep_network_case([int(n) for n in rng.integers(2, 6, 3)] + [1],  # noqa: E731
                                        m=int(rng.integers(2, 6)), seed=int(rng.integers(2 ** 31)))
    networks = [network() for _ in range(2)]
    if exercise == "backward_propagation_n_fixed":
        drawn = []
        while len(drawn) < len(networks):
            try:
                drawn.append(_backprop_case(forward_propagation_n, *network(), rng, "a hidden network"))
            except KinkError:
                continue
        return drawn
    epsilon = float(rng.choice(DIAGNOSTIC_EPSILONS))
    if exercise == "gradient_check":
        x, theta = point()
        return [_case_1d("linear", x, theta, COURSE_EPSILON, must_pass=True, print_msg=True),
                *[_case_1d(model, *point(), epsilon) for model in ("cubic", "cubic", "cubic_wrong")],
                _case_1d("cubic_wrong", *point(), epsilon, print_msg=True)]
    cases = []
    for X, Y, parameters in networks:
        gradients = _backprop_gradients(forward_propagation_n, backward_propagation_n, X, Y, parameters)
        network = dict(binding="notebook", forward=forward_propagation_n, X=X, Y=Y, parameters=parameters,
                       gradients=gradients,
                       label="a hidden network and the gradients of backward_propagation_n")
        cases.append(_case_nd(network, epsilon))
    model = _cubic_n_case(networks[0][2], seed=int(rng.integers(2 ** 31)))
    return [*cases, _case_nd(model, COURSE_EPSILON, must_pass=True, print_msg=True),
            _case_nd(dict(model, gradients=_doubled(model["gradients"])), epsilon, print_msg=True)]


def reference_check(cost_fn, parameters, gradients, epsilon, mistake=None):
    """Equation (2) from the course loop, with one known `mistake` planted (None: the correct loop).

    Parameters
    ----------
    cost_fn : callable
        ``cost_fn(parameters dict) -> float``.
    parameters, gradients : dict of str -> ndarray
        The point, and ``"d" + name`` gradients shaped like it.
    epsilon : float
    mistake : str or None
        A key of ``MESSAGES["gradient_check_n"]`` or ``MESSAGES["gradient_check"]`` (the inline
        1-D mistakes are planted by the caller, through `cost_fn` and `gradients`).

    Returns
    -------
    float
    """
    epsilon = COURSE_EPSILON if mistake == "ignores_epsilon" else epsilon
    theta, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients, parameters)
    n = theta.shape[0]
    J = lambda t: cost_fn(vector_to_dictionary(np.asarray(t, dtype=float), parameters))  # noqa: E731
    indices = {"skips_last": range(n - 1), "skips_first": range(1, n), "returns_in_loop": range(1),
               "loops_over_keys": range(min(len(parameters), n))}.get(mistake, range(n))
    J_theta = J(theta)
    moving = theta.copy()  # parameters_values of a learner whose theta_plus is that array itself
    gradapprox, J_plus, J_minus = np.zeros_like(theta), np.zeros(n), np.zeros(n)
    for i in indices:
        J_plus[i], J_minus[i] = _costs(J, theta, moving, i, epsilon, mistake)
        if mistake == "unperturbed":
            J_plus[i] = J_minus[i] = J_theta
        gradapprox[i] = _gradapprox(J_plus[i], J_minus[i], J_theta, epsilon, mistake)
    if mistake == "gradapprox_after_loop":
        gradapprox[:] = 0
        gradapprox[n - 1] = (J_plus[n - 1] - J_minus[n - 1]) / (2 * epsilon)
    if mistake == "grad_is_gradapprox":
        grad = gradapprox
    if mistake == "flat_gradapprox":
        gradapprox = gradapprox.ravel()
    return equation_2(grad, gradapprox, mistake if mistake in _EQUATION_2 else None)


def equation_2(grad, gradapprox, mistake=None):
    """Relative difference of equation (2), or the variant a known `mistake` computes."""
    norm = {"l1_norms": lambda v: np.sum(np.abs(v))}.get(mistake, np.linalg.norm)
    numerator = norm(grad - gradapprox)
    denominator = norm(grad) + norm(gradapprox)
    with np.errstate(divide="ignore", invalid="ignore"):
        variants = {
            "no_denominator": lambda: numerator,
            "denominator_of_sum": lambda: numerator / np.linalg.norm(grad + gradapprox),
            "squared_norms": lambda: numerator ** 2 / (norm(grad) ** 2 + norm(gradapprox) ** 2),
            "difference_of_norms": lambda: (norm(grad) - norm(gradapprox)) / denominator,
            "inverted_ratio": lambda: denominator / numerator,
            "precedence": lambda: numerator / norm(grad) + norm(gradapprox),
        }
        return float(variants.get(mistake, lambda: numerator / denominator)())


def notebook_functions(path=SOLVED):
    """The imports and the functions of the notebook at `path`, by name (its other code does not run)."""
    namespace = {}
    for cell in json.loads(pathlib.Path(path).read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                   for line in source.splitlines()))
        kept = ast.Import | ast.ImportFrom | ast.FunctionDef
        tree.body = [node for node in tree.body if isinstance(node, kept)]
        exec(compile(tree, str(path), "exec"), namespace)
    return namespace


def main(argv=None):
    """Write public_tests.json (--write), or exit 1 if it differs from what this module computes (--check)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["--write"], ["--check"]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    computed = {name: public_tests.to_json(cases) for name, cases in public_cases().items()}
    if argv == ["--write"]:
        public_tests.DATA.write_text(json.dumps(computed, indent=1) + "\n")
        print(f"wrote {public_tests.DATA}")
        return 0
    drift = drifted(public_tests.from_json(json.loads(public_tests.DATA.read_text())),
                    public_tests.from_json(computed))
    print("\n".join(drift) or f"{public_tests.DATA.name} is what assignment.cases computes now")
    return 1 if drift else 0


def drifted(shipped, computed):
    """Where `shipped` cases differ from `computed` ones beyond round-off: a list of descriptions."""
    found = []
    for exercise in [name for name in EXERCISES if name in shipped or name in computed]:
        old, new = shipped.get(exercise, []), computed.get(exercise, [])
        if len(old) != len(new):
            found.append(f"{exercise}: {len(old)} cases shipped, {len(new)} computed")
            continue
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found += [f"{exercise} case {index}: {where}" for where in _differences(a, b, a.get("roundoff"))]
    return found


# ---------------------------------------------------------------------------------------------
# Case builders


def _value_cases(exercise, points):
    """Cases of exercise 1 or 2 at (x, theta) `points`: the course's J = theta x and its derivative."""
    forward, backward, _ = MODELS["linear"]
    function = forward if exercise == "forward_propagation" else backward
    return [{"exercise": exercise, "call": f"{exercise}(x={x}, theta={theta})", "args": [x, theta],
             "expected": float(function(x, theta)), "rtol": 1e-12} for x, theta in points]


def _case_1d(model, x, theta, epsilon, must_pass=False, print_msg=False):
    """A case of gradient_check on the 1-D public `model` (a key of MODELS)."""
    forward, backward, description = MODELS[model]
    as_dict = lambda t: {"theta": np.array([[t]], dtype=float)}  # noqa: E731
    grad = lambda g: {"dtheta": np.array([[g]], dtype=float)}  # noqa: E731
    cost_fn = lambda p: forward(x, p["theta"].item())  # noqa: E731
    # What a learner who bypassed or misused the bound functions computes instead.
    inline = {
        "grad_at_theta_plus": (cost_fn, grad(backward(x, theta + epsilon))),
        "grad_at_theta_minus": (cost_fn, grad(backward(x, theta - epsilon))),
        "swapped_backward": (cost_fn, grad(backward(theta, x))),
        "inline_forward": (lambda p: p["theta"].item() * x, grad(backward(x, theta))),
        "inline_backward": (cost_fn, grad(x)),
        "perturbs_x": (lambda p: forward(x + p["theta"].item() - theta, theta), grad(backward(x, theta))),
        "swapped_forward": (lambda p: forward(p["theta"].item(), x), grad(backward(x, theta))),
    }
    mistakes = {}
    for mistake in MESSAGES["gradient_check"]:
        cost, gradients = inline.get(mistake, (cost_fn, grad(backward(x, theta))))
        loop_mistake = None if mistake in _INLINE_1D else mistake
        mistakes[mistake] = [reference_check(cost, as_dict(theta), gradients, epsilon, loop_mistake),
                             COURSE_EPSILON if mistake == "ignores_epsilon" else epsilon]
    gradients = grad(backward(x, theta))
    return {"exercise": "gradient_check",
            "call": f"gradient_check(x={x}, theta={theta}, epsilon={epsilon:g}) with {description}",
            "args": [x, theta, epsilon], "print_msg": print_msg,
            "bindings": {"forward_propagation": model, "backward_propagation": model},
            "expected": reference_check(cost_fn, as_dict(theta), gradients, epsilon),
            "roundoff": _roundoff(cost_fn, as_dict(theta), gradients), "must_pass": must_pass,
            "mistakes": mistakes}


def _case_nd(network, epsilon, must_pass=False, print_msg=False):
    """A case of gradient_check_n on `network` (binding, forward, X, Y, parameters, gradients, label)."""
    forward, X, Y, parameters, gradients = (network[key] for key in ("forward", "X", "Y", "parameters",
                                                                      "gradients"))
    cost_fn = lambda p: forward(X, Y, p)[0]  # noqa: E731
    mistakes = {mistake: [reference_check(cost_fn, parameters, gradients, epsilon, mistake),
                          COURSE_EPSILON if mistake == "ignores_epsilon" else epsilon]
                for mistake in MESSAGES["gradient_check_n"]}
    return {"exercise": "gradient_check_n",
            "call": f"gradient_check_n(..., epsilon={epsilon:g}) on {network['label']}",
            "args": [parameters, gradients, X, Y, epsilon], "print_msg": print_msg,
            "bindings": {"forward_propagation_n": network["binding"], "backward_propagation_n": "forbidden"},
            "expected": reference_check(cost_fn, parameters, gradients, epsilon),
            "roundoff": _roundoff(cost_fn, parameters, gradients), "must_pass": must_pass,
            "mistakes": mistakes}


def _cubic_n_case(parameters, seed):
    """The public N-D model on arrays shaped like `parameters`, with its exact gradients."""
    rng = np.random.default_rng(seed)
    n = sum(np.size(value) for value in parameters.values())
    X, Y = rng.uniform(0.5, 2.0, (n, 1)), rng.uniform(-1.0, 1.0, (n, 1))
    forward, gradients, description = MODELS["cubic_n"]
    shapes = "; ".join(f"{name} {value.shape}" for name, value in parameters.items())
    return dict(binding="cubic_n", forward=forward, X=X, Y=Y, parameters=parameters,
                gradients=gradients(X, Y, parameters),
                label=f"the model {description} with parameters {shapes} and its exact gradients")


def _backprop_case(forward, X, Y, parameters, rng, label):
    """A case of backward_propagation_n_fixed: the true gradient, seen only along random directions."""
    cost_fn = lambda p: forward(X, Y, p)[0]  # noqa: E731
    theta, _ = dictionary_to_vector(parameters)
    true = _true_gradient(cost_fn, parameters)
    directions = rng.standard_normal((DIRECTIONS, theta.shape[0]))
    while np.min(np.abs(directions @ true) / np.linalg.norm(directions, axis=1, keepdims=True)
                 / np.linalg.norm(true)) < MIN_ALIGNMENT / np.sqrt(theta.shape[0]):
        directions = rng.standard_normal((DIRECTIONS, theta.shape[0]))
    return {"exercise": "backward_propagation_n_fixed",
            "call": f"backward_propagation_n_fixed(X, Y, cache) on {label}",
            "args": [X, Y, parameters], "bindings": {"forward_propagation_n": "notebook"},
            "directions": directions, "expected": (directions @ true).ravel()}


def _backprop_gradients(forward, backward, X, Y, parameters):
    """The "d" + name gradients `backward` gives at `parameters` (its other keys dropped)."""
    gradients = backward(X, Y, forward(X, Y, parameters)[1])
    return {"d" + name: np.asarray(gradients["d" + name], dtype=float) for name in parameters}


def _doubled(gradients):
    """`gradients` with the first one doubled: a known, O(1) mistake of a backpropagation."""
    first = next(iter(gradients))
    return {**gradients, first: 2 * gradients[first]}


def _true_gradient(cost_fn, parameters):
    """The gradient as a column, by Richardson extrapolation; KinkError if a kink makes it unreliable."""
    theta, _ = dictionary_to_vector(parameters)
    J = lambda t: cost_fn(vector_to_dictionary(t, parameters))  # noqa: E731
    estimates = []
    for step in RICHARDSON_STEPS:
        central = [np.array([[J(theta + e[:, None]) - J(theta - e[:, None])]
                             for e in h * np.eye(theta.shape[0])]) / (2 * h) for h in (step, step / 2)]
        estimates.append((4 * central[1] - central[0]) / 3)
    spread = np.linalg.norm(estimates[0] - estimates[1]) / np.linalg.norm(estimates[1])
    if not spread <= KINK_RTOL:
        raise KinkError(f"the gradient's estimates at steps {RICHARDSON_STEPS} differ by {spread:.2g}")
    return estimates[1]



def _costs(J, theta, moving, i, epsilon, mistake):
    """(J_plus[i], J_minus[i]) as the learner with `mistake` computes them."""
    if mistake == "no_restore":  # theta[i] moved in place by +epsilon, then by -2 epsilon, never restored
        moving[i] += epsilon
        J_plus = J(moving)
        moving[i] -= 2 * epsilon
        return J_plus, J(moving)
    if mistake == "plus_not_copied":  # theta_plus is parameters_values: its moves stay
        moving[i] += epsilon
        theta_minus = moving.copy()
        theta_minus[i] -= epsilon
        return J(moving), J(theta_minus)
    if mistake == "perturbs_all":
        return J(theta + epsilon), J(theta - epsilon)
    dtype = np.float32 if mistake == "float32_copies" else float
    theta_plus = theta.astype(dtype)
    theta_plus[i] = theta_plus[i] + epsilon
    theta_minus = (theta_plus if mistake == "theta_minus_from_plus" else theta).astype(dtype)
    theta_minus[i] = theta_minus[i] - epsilon
    return J(theta_plus), J(theta_minus)


def _gradapprox(J_plus, J_minus, J_theta, epsilon, mistake):
    """gradapprox[i] from the two costs, as the learner with `mistake` writes it."""
    formulas = {
        "one_sided": lambda: (J_plus - J_theta) / epsilon,
        "one_sided_minus": lambda: (J_theta - J_minus) / epsilon,
        "divide_by_epsilon": lambda: (J_plus - J_minus) / epsilon,
        "times_epsilon": lambda: (J_plus - J_minus) / 2 * epsilon,
        "reversed_sign": lambda: (J_minus - J_plus) / (2 * epsilon),
    }
    return formulas.get(mistake, lambda: (J_plus - J_minus) / (2 * epsilon))()


def _roundoff(cost_fn, parameters, gradients):
    """u (|J| + max |grad theta|) sqrt(n) / ||grad||: the round-off scale of a case's differences."""
    theta, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients, parameters)
    scale = abs(cost_fn(parameters)) + np.max(np.abs(grad * theta))
    return float(np.finfo(float).eps * scale * np.sqrt(theta.shape[0])
                 / max(np.linalg.norm(grad), np.finfo(float).tiny))


def _differences(a, b, roundoff, where=""):
    """Descriptions of where `a` and `b` differ: numbers beyond round-off, anything else at all."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where or 'case'} keys {sorted(set(a) ^ set(b))}"]
        return [found for key in a for found in _differences(a[key], b[key], roundoff, f"{where}.{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [found for index, (x, y) in enumerate(zip(a, b, strict=True))
                for found in _differences(x, y, roundoff, f"{where}[{index}]")]
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape:
        return [] if np.allclose(a, b, rtol=1e-9, atol=1e-12) else [f"{where}: arrays differ"]
    if isinstance(a, float) and isinstance(b, float):
        # a difference computed at epsilon = 1e-7 carries ROUNDOFF_ULPS * roundoff / 1e-7 of round-off
        bound = public_tests.ROUNDOFF_ULPS * (roundoff or 0) / COURSE_EPSILON
        atol = bound * (1 + abs(b)) if np.isfinite(b) else 0
        same = a == b or (np.isnan(a) and np.isnan(b)) or abs(a - b) <= atol + 1e-9 * abs(b)
        return [] if same else [f"{where}: {a!r} shipped, {b!r} computed"]
    return [] if a == b else [f"{where}: {a!r} shipped, {b!r} computed"]


if __name__ == "__main__":
    sys.exit(main())

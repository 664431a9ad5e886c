"""Benchmark of gradient checkers: the course loop, scipy, and `gc_utils.check_gradients`.

Run from the repository root (this is what `make bench` calls)::

    .venv/bin/python bench/bench.py            # print the table and the targets, exit 0
    .venv/bin/python bench/bench.py --check    # same, but exit 1 if a target is missed
    .venv/bin/python bench/bench.py --floors   # only the rows the floors need (no loop, scipy)

What is measured
----------------
Three networks, RELU hidden layers and a SIGMOID output with the cross-entropy cost, each
checked against its correct gradients (`tests.networks.backward`):

- ``course``: `testCases.gradient_check_n_test_case()`, layers 4-5-3-1, m = 3, n = 47, with
  the batch-capable reference cost `tests.networks.cost`.
- ``mid``: `testCases.deep_network_case(MID_LAYER_DIMS, m=M, seed=SEED,
  weight_scale=WEIGHT_SCALE)`, layers 20-20-10-1, n = 641.
- ``deep``: the same with DEEP_LAYER_DIMS, layers 100-50-20-1, n = 6091; the small weight
  scale keeps both well-conditioned.
- ``huge``: the same with HUGE_LAYER_DIMS, layers 300-150-50-1, n = 52751: only the bare
  cost call and ``directional`` (the course loop and scipy would take minutes).

The ``mid``, ``deep`` and ``huge`` networks use `_unbatched_cost`, written here: the same math as
`tests.networks.cost`, but with ``np.dot`` and an ``np.sum`` over all axes, as a learner
writes it. It cannot take a leading batch axis, so `check_gradients`' batching detection
(batched=None) falls back to one call per point, which is what these rows measure.

Rows, per network:

- ``bare cost call``: one call of the network's cost on its `parameters` dict, the unit
  that every checker pays per evaluation.
- ``course loop``: the course's `gradient_check_n` algorithm, re-implemented here as the
  baseline: `dictionary_to_vector`, a copy of theta for theta_plus and for theta_minus per
  coordinate, `vector_to_dictionary`, two unbatched cost calls per coordinate, epsilon = 1e-7,
  difference by equation (2).
- ``scipy 3-point`` and ``scipy cs``: `scipy.optimize._numdiff.approx_derivative` (the
  function behind `scipy.optimize.check_grad`) on a flat-vector wrapper of the cost, with its
  default steps; the difference is equation (2) against the analytic gradient.
- ``check_gradients <method>``: `gc_utils.check_gradients` with each method and its defaults
  (batch detection, batched=None), as a user would call it; `difference` and `verdict` as
  reported. On the course network also ``central (batched=True)``, the explicit opt-in to
  batching, and ``complex`` on `_unbatched_cost` with each ReLU: `gc_utils.relu` and the
  course's ``np.maximum(Z, 0)`` (which orders complex numbers by their real part first).
  On ``mid`` also ``central (batched=False)`` and on ``deep`` ``directional
  (batched=False)``: the same checks without the batching detection. Its one refused
  batched call is not free: ``np.dot`` multiplies the stacked points of one layer by those
  of the next, an outer product over the batch, before the shapes clash.

Columns: the best time over several repeats (timeit-style: the callable is repeated until a
repeat lasts long enough to time, and the minimum is kept, since noise only ever adds time;
the slow rows get 1-3 repeats), the speed-up over the course loop on the same network in the
same run, the cost-function calls made by one check (counted in an untimed run; a batched
call counts once), the points at which the cost was evaluated (the report's `evaluations`; a
batched call counts its points, and so does the one batched call that the detection tries
and the cost refuses), the time per point, equation (2) on correct gradients, and the verdict.

The floors (issues 8 and 16), as ratios and counts
--------------------------------------------------
Absolute times depend on the machine, the BLAS and the load, so no target is a time. A count
of evaluations does not depend on the machine at all, and a ratio of two times measured in
the same process a few seconds apart, on the same cost function, cancels most of the rest.
(Issue 3's "central 20x faster than the loop at n = 47" is withdrawn: at n = 47 both sides
are microseconds of fixed overhead, not evaluations.)

- ``complex``: a passing check at n = 47 makes at most 1.2 n + 10 evaluations, with the
  complex-safe `tests.networks.cost` and with `_unbatched_cost` under both ReLUs (the
  np.maximum one as the course writes it).
- ``central`` at n = 641 on `_unbatched_cost`: the check's wall time is at most 1.25 x its
  evaluations x one bare cost call on the same parameters dict: what the checker adds per
  evaluation, and once, must stay within 25% of the cost itself. For this ratio the check
  and the bare call are timed again, in turn (PAIRED_REPEATS times, best of each), so that
  a burst of load from other processes slows both rather than one.
- ``directional`` at n = 52751 on `_unbatched_cost`: at most 32 evaluations, and a wall time
  at most 1.25 x those evaluations x one bare cost call, timed alternately as for central
  (issue 16; it replaces issue 8's "300x faster than the loop at n = 6091", a ratio to a
  loop whose own calls run slower than bare ones; the ``deep`` row still shows it).

A missed target prints MISS; only `--check` turns a miss into exit status 1, because a
timing ratio can still move on a loaded machine.
"""

import argparse
import os
import sys
import time

import numpy as np
from scipy.optimize._numdiff import approx_derivative

# Run as a script from anywhere: the repository root holds gc_utils, testCases and tests/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gc_utils  # noqa: E402
import testCases  # noqa: E402
from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary  # noqa: E402
from tests import networks  # noqa: E402

COURSE_EPSILON = 1e-7  # the course's step for gradient_check_n
MID_LAYER_DIMS = [20, 20, 10, 1]  # n = 641
DEEP_LAYER_DIMS = [100, 50, 20, 1]  # n = 6091
HUGE_LAYER_DIMS = [300, 150, 50, 1]  # n = 52751
M = 64
SEED = 0
WEIGHT_SCALE = 0.2
METHODS = ("central", "complex", "directional")
# Timing: a repeat lasts at least MIN_REPEAT_TIME s; at most MAX_REPEATS repeats, and no more
# than about TIME_BUDGET s per row (but always at least MIN_REPEATS repeats).
MIN_REPEAT_TIME = 0.05
MAX_REPEATS = 7
MIN_REPEATS = 1
TIME_BUDGET = 3.0
PAIRED_REPEATS = 7  # the central target's check and bare cost call, timed in turn
# Floors: counts of evaluations, and ratios of times measured in this run.
COMPLEX_SLOPE, COMPLEX_INTERCEPT = 1.2, 10  # evaluations <= 1.2 n + 10 at n = 47
OVERHEAD_TARGET = 1.25  # check time <= this x evaluations x bare cost: central at n = 641,
DIRECTIONAL_EVALUATIONS = 32  # ... and directional at n = 52751, with at most this many


def main(argv=None):
    """Run every checker on the three networks, print the table and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--floors", action="store_true", help="only the rows the floors need")
    args = parser.parse_args(argv)

    rows = []
    cases = [_course_case(), _network_case("mid", MID_LAYER_DIMS),
             *([] if args.floors else [_network_case("deep", DEEP_LAYER_DIMS)]),
             _network_case("huge", HUGE_LAYER_DIMS)]
    for case in cases:
        rows.extend(_run_case(case, args.floors))
    print(_format_table(rows))
    print()
    targets = _targets(rows)
    print(_format_targets(targets))
    missed = [name for name, _, ok in targets if not ok]
    if args.check and missed:
        return 1
    return 0


def _unbatched_cost(X, Y, relu=gc_utils.relu):
    """The cost of `tests.networks.cost` written with np.dot and a sum over all axes.

    Parameters
    ----------
    X : ndarray, shape (n_x, m)
    Y : ndarray, shape (1, m)
    relu : callable
        The hidden layers' activation.

    Returns
    -------
    cost_fn : callable, ``cost_fn(parameters) -> float``; not batch-capable
    """
    m = X.shape[1]

    def cost_fn(parameters):
        L = networks.n_layers(parameters)
        A = X
        for l in range(1, L + 1):
            Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
            A = gc_utils.sigmoid(Z) if l == L else relu(Z)
        return -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m

    return cost_fn


def _course_relu(Z):
    """The course's ReLU."""
    return np.maximum(Z, 0)


def _course_case():
    X, Y, parameters = testCases.gradient_check_n_test_case()
    case = _case("course", "course 4-5-3-1, m=3", X, Y, parameters, networks.cost(X, Y))
    case["costs"] = {"unbatched relu": _unbatched_cost(X, Y),
                     "unbatched np.maximum": _unbatched_cost(X, Y, _course_relu)}
    return case


def _network_case(key, layer_dims):
    X, Y, parameters = testCases.deep_network_case(layer_dims, M, seed=SEED,
                                                   weight_scale=WEIGHT_SCALE)
    dims = "-".join(str(d) for d in layer_dims)
    return _case(key, f"{key} {dims}, m={M}, unbatched", X, Y, parameters, _unbatched_cost(X, Y))


def _case(key, name, X, Y, parameters, cost_fn):
    """Bundle a network with its cost function and correct gradients."""
    gradients = networks.backward(X, Y, parameters)
    theta, _ = dictionary_to_vector(parameters)
    return {
        "key": key,
        "n": theta.shape[0],
        "name": f"{name}, n={theta.shape[0]}",
        "parameters": parameters,
        "gradients": gradients,
        "cost_fn": cost_fn,
        "costs": {},
        "grad": gradients_to_vector(gradients, parameters),
    }


def _run_case(case, floors=False):
    """Time every checker on one network; the course loop first among them, as the reference
    (with `floors`, only the bare call and the checks that the floors time or count)."""
    own = case["cost_fn"]
    checkers = [("bare cost call", _bare, own), ("course loop", _course_loop, own),
                ("scipy 3-point", _scipy("3-point"), own), ("scipy cs", _scipy("cs"), own)]
    checkers += [(f"check_gradients {method}", _checker(method), own) for method in METHODS]
    if case["key"] == "huge":
        checkers = [checkers[0], ("check_gradients directional", _checker("directional"), own)]
    elif case["key"] == "course":
        checkers.insert(5, ("check_gradients central (batched=True)", _checker("central", True),
                            own))
        checkers += [(f"check_gradients complex, {name} cost", _checker("complex"), cost)
                     for name, cost in case["costs"].items()]
    elif case["key"] in ("mid", "deep"):  # what the batching detection costs on a cost that refuses the batch
        method = "central" if case["key"] == "mid" else "directional"
        checkers.append((f"check_gradients {method} (batched=False)",
                         _checker(method, False), own))
    if floors:
        needed = {"course": "check_gradients complex", "mid": "check_gradients central",
                  "huge": "check_gradients directional"}[case["key"]]
        checkers = [c for c in checkers if c[0] == "bare cost call" or c[0].startswith(needed)
                    and "(batched=" not in c[0]]
    rows, runs, reference = [], {}, None
    for label, make, cost_fn in checkers:
        row = {"case": case["key"], "n": case["n"], "network": case["name"], "method": label}
        row_case = {**case, "cost_fn": cost_fn}
        try:
            run = runs[label] = make(row_case)
            calls, outcome = _count_calls(row_case, make)
            row["seconds"], _ = _best_time(run)
        except Exception as error:  # a missing or broken checker must not hide the others
            row["error"] = f"{type(error).__name__}: {error}"
            rows.append(row)
            continue
        row.update(outcome, calls=calls)
        row.setdefault("points", calls)
        if label == "course loop":
            reference = row["seconds"]
        if reference is not None:
            row["speedup"] = reference / row["seconds"]
        rows.append(row)
    timed = {"mid": "check_gradients central", "huge": "check_gradients directional"}
    target = next((r for r in rows if r["method"] == timed.get(case["key"])), None)
    if target is not None and "error" not in target:
        # The floor's two times, again, alternately: a burst of load on a shared machine
        # then slows both, instead of only the one being timed at that moment.
        target["paired"] = _paired_best_times([runs[target["method"]], runs["bare cost call"]])
    return rows


def _bare(case):
    """One call of the cost on the case's own parameters dict."""
    cost_fn, parameters = case["cost_fn"], case["parameters"]

    def run():
        cost_fn(parameters)
        return {}

    return run


def _course_loop(case):
    """The course's gradient_check_n algorithm, with its own cost function passed in."""
    cost_fn, parameters, gradients = case["cost_fn"], case["parameters"], case["gradients"]

    def run():
        parameters_values, _ = dictionary_to_vector(parameters)
        grad = gradients_to_vector(gradients, parameters)
        num_parameters = parameters_values.shape[0]
        J_plus = np.zeros((num_parameters, 1))
        J_minus = np.zeros((num_parameters, 1))
        gradapprox = np.zeros((num_parameters, 1))
        for i in range(num_parameters):
            theta_plus = np.copy(parameters_values)
            theta_plus[i] = theta_plus[i] + COURSE_EPSILON
            J_plus[i] = cost_fn(vector_to_dictionary(theta_plus, parameters))
            theta_minus = np.copy(parameters_values)
            theta_minus[i] = theta_minus[i] - COURSE_EPSILON
            J_minus[i] = cost_fn(vector_to_dictionary(theta_minus, parameters))
            gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * COURSE_EPSILON)
        return {"difference": _difference(grad, gradapprox)}

    return run


def _scipy(method):
    """scipy's approx_derivative on the cost as a function of the flat vector theta."""

    def make(case):
        cost_fn, parameters = case["cost_fn"], case["parameters"]
        theta = dictionary_to_vector(parameters)[0].ravel()

        def flat_cost(theta_flat):
            return cost_fn(vector_to_dictionary(theta_flat, parameters))

        def run():
            gradapprox = approx_derivative(flat_cost, theta, method=method)
            return {"difference": _difference(case["grad"], gradapprox)}

        return run

    return make


def _checker(method, batched=None):
    """`gc_utils.check_gradients` with one method and its defaults (or `batched`)."""

    def make(case):
        check_gradients = gc_utils.check_gradients  # AttributeError until it exists

        def run():
            report = check_gradients(case["cost_fn"], case["parameters"], case["gradients"],
                                     method=method, batched=batched)
            return {"difference": report.difference, "verdict": report.verdict,
                    "points": report.evaluations}

        return run

    return make


def _difference(grad, gradapprox):
    """Equation (2): |grad - gradapprox| / (|grad| + |gradapprox|)."""
    grad = np.ravel(grad)
    gradapprox = np.ravel(gradapprox).real
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return numerator / denominator


def _count_calls(case, make):
    """Run a checker once, untimed, counting calls to the cost function."""
    calls = 0
    cost_fn = case["cost_fn"]

    def counting_cost(parameters):
        nonlocal calls
        calls += 1
        return cost_fn(parameters)

    outcome = make({**case, "cost_fn": counting_cost})()
    return calls, outcome


def _best_time(run):
    """Best time of one call to `run`, timeit-style; returns (seconds, last result)."""
    start = time.perf_counter()
    result = run()  # warm-up, and a first estimate
    first = time.perf_counter() - start
    number = max(1, int(np.ceil(MIN_REPEAT_TIME / max(first, 1e-9))))
    repeats = int(TIME_BUDGET // (number * max(first, 1e-9)))
    repeats = min(MAX_REPEATS, max(MIN_REPEATS, repeats))
    best = first
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            result = run()
        best = min(best, (time.perf_counter() - start) / number)
    return best, result


def _paired_best_times(runs):
    """Best times of several callables, timed in turn PAIRED_REPEATS times."""
    numbers = []
    for run in runs:
        start = time.perf_counter()
        run()  # warm-up, and a first estimate
        first = time.perf_counter() - start
        numbers.append(max(1, int(np.ceil(MIN_REPEAT_TIME / max(first, 1e-9)))))
    best = [np.inf] * len(runs)
    for _ in range(PAIRED_REPEATS):
        for i, (run, number) in enumerate(zip(runs, numbers, strict=True)):
            start = time.perf_counter()
            for _ in range(number):
                run()
            best[i] = min(best[i], (time.perf_counter() - start) / number)
    return best


def _targets(rows):
    """The floors as (description, measured text, met)."""
    targets = []
    bound = None
    for row in _rows(rows, "course"):
        if not row["method"].startswith("check_gradients complex"):
            continue
        n = row["n"]
        bound = COMPLEX_SLOPE * n + COMPLEX_INTERCEPT
        label = f"{row['method'][len('check_gradients '):]}: passes, evaluations"
        if "error" in row:
            targets.append((f"{label} <= {bound:g}", "nothing (error above)", False))
            continue
        ok = row["verdict"] == "pass" and row["points"] <= bound
        targets.append((f"{label} <= {COMPLEX_SLOPE:g} n + {COMPLEX_INTERCEPT:g} = {bound:g}",
                        f"n={n}, {row['points']} evaluations, {row['verdict']}", ok))

    for case, method, most in (("mid", "central", None),
                               ("huge", "directional", DIRECTIONAL_EVALUATIONS)):
        row = _find(rows, case, f"check_gradients {method}")
        label = (f"{method} at n={row['n']}: " + (f"<= {most} evaluations, " if most else "")
                 + f"time <= {OVERHEAD_TARGET:g} x evaluations x bare cost")
        if "paired" not in row:
            targets.append((label, "nothing (error above)", False))
            continue
        seconds, bare = row["paired"]
        budget = row["points"] * bare
        ratio = seconds / budget
        targets.append((label, f"{row['points']} evaluations, {row['verdict']}; "
                        f"{_format_seconds(seconds)} against {row['points']} x "
                        f"{_format_seconds(bare)} = {_format_seconds(budget)}: {ratio:.2f}x "
                        "(timed alternately)", ratio <= OVERHEAD_TARGET
                        and row["verdict"] == "pass" and (most is None or row["points"] <= most)))
    return targets


def _rows(rows, case):
    return [r for r in rows if r["case"] == case]


def _find(rows, case, method):
    return next(r for r in _rows(rows, case) if r["method"] == method)


def _format_table(rows):
    """Plain-text table, one row per (network, checker)."""
    header = ["network", "method", "time", "speed-up", "calls", "points", "time/point",
              "difference", "verdict"]
    lines = []
    for row in rows:
        if "error" in row:
            error = row["error"] if len(row["error"]) <= 70 else row["error"][:67] + "..."
            lines.append([row["network"], row["method"], "error", "", "", "", "", "", error])
            continue
        lines.append([
            row["network"],
            row["method"],
            _format_seconds(row["seconds"]),
            f"{row['speedup']:.1f}x" if "speedup" in row else "-",
            str(row["calls"]),
            str(row["points"]),
            _format_seconds(row["seconds"] / row["points"]),
            f"{row['difference']:.1e}" if "difference" in row else "-",
            row.get("verdict", "-"),
        ])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    numeric = {2, 3, 4, 5, 6, 7}

    def fmt(cells):
        return "  ".join(
            str(cell).rjust(width) if i in numeric else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def _format_seconds(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-5:
        return f"{seconds * 1e6:.0f} us"
    return f"{seconds * 1e6:.1f} us"


def _format_targets(targets):
    lines = ["targets (evaluation counts, and ratios of times measured in this run):"]
    width = max(len(name) for name, _, _ in targets)
    for name, measured, ok in targets:
        lines.append(f"  {'PASS' if ok else 'MISS'}  {name.ljust(width)}  measured: {measured}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

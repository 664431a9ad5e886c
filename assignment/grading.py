"""The grader's checks, run inside the learner's kernel: one JSON line per graded exercise.

Each exercise is graded on its own: the learner's function runs with the reference versions
of everything else it calls bound in its globals (the solved notebook's forward_propagation_n
and backward_propagation_n, the helpers of gc_utils), so one wrong exercise costs one mark.
"""

import ast
import contextlib
import io
import json
import pathlib

import gc_utils
import public_tests
from testCases import deep_network_case

MARK = "GRADER-RESULT "  # prefix of the result lines that grade.py reads back
SOLVED = pathlib.Path(__file__).resolve().parent.parent / "Gradient_Checking.ipynb"
HELPERS = ("dictionary_to_vector", "vector_to_dictionary", "gradients_to_vector")
# The grader's own cases, beyond the public tests: other points, steps and networks.
POINTS_1D = [(-1.7, 2.5), (0.3, -0.4)]
POINTS_GRADIENT_CHECK = [(0.7, -1.3, 1e-2), (-2.5, 2.0, 3e-3)]
NETWORKS = [deep_network_case([5, 4, 3, 1], m=7, seed=11), deep_network_case([2, 6, 2, 1], m=4, seed=12)]


def grade_exercise(name, namespace):
    """Grade the learner's `name` found in `namespace` (the notebook's globals); print one result line."""
    target = namespace.get(name)
    if not callable(target):
        passed = False
        diagnosis = f"{name} is not defined: run its cell (`# GRADED FUNCTION: {name}`) without errors"
    else:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                CHECKS[name](target)
            passed, diagnosis = True, "all tests passed"
        except AssertionError as error:
            passed, diagnosis = False, str(error)
        except Exception as error:  # the learner's code may raise anything; it is the diagnosis
            passed, diagnosis = False, f"{name} raised {type(error).__name__}: {error}"
    print(MARK + json.dumps({"exercise": name, "passed": passed, "diagnosis": diagnosis}))


def reference():
    """The solved notebook's functions, by name (the reference the exercises are isolated with)."""
    cells = [cell for cell in json.loads(SOLVED.read_text())["cells"] if cell["cell_type"] == "code"]
    namespace = {}
    for cell in cells:
        source = "".join(cell["source"])
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))
        kept = ast.Import | ast.ImportFrom | ast.FunctionDef
        tree.body = [node for node in tree.body if isinstance(node, kept)]
        exec(compile(tree, str(SOLVED), "exec"), namespace)
    return namespace


def _check_forward_propagation(target):
    public_tests.forward_propagation_test(target, points=POINTS_1D)


def _check_backward_propagation(target):
    public_tests.backward_propagation_test(target, points=POINTS_1D)


def _check_gradient_check(target):
    ref = reference()
    # The public test binds its own models; the references cover any other global it reads.
    target = public_tests.with_globals(target, {"forward_propagation": ref["forward_propagation"],
                                                "backward_propagation": ref["backward_propagation"]})
    public_tests.gradient_check_test(target, points=POINTS_GRADIENT_CHECK)


def _check_gradient_check_n(target):
    ref = reference()
    target = public_tests.with_globals(target, {name: getattr(gc_utils, name) for name in HELPERS})
    for backprop in ("backward_propagation_n", "backward_propagation_n_fixed"):
        public_tests.gradient_check_n_test(target, ref["forward_propagation_n"], ref[backprop],
                                           networks=NETWORKS)


def _check_backward_propagation_n_fixed(target):
    public_tests.backward_propagation_n_test(target, reference()["forward_propagation_n"], networks=NETWORKS)


CHECKS = {
    "forward_propagation": _check_forward_propagation,
    "backward_propagation": _check_backward_propagation,
    "gradient_check": _check_gradient_check,
    "gradient_check_n": _check_gradient_check_n,
    "backward_propagation_n_fixed": _check_backward_propagation_n_fixed,
}

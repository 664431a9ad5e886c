"""Grade a learner's notebook: each exercise runs in its own sandboxed worker; marks are decided here.

Usage: python -m assignment.grade NOTEBOOK.ipynb [--wall-seconds S] [--cpu-seconds S] [...]

Prints the isolation in effect, one line per exercise (PASS or FAIL, with the diagnosis), then
``score: k/K``; the exit status is 0 only at full marks. This process, the judge, never runs
the learner's code: it reads the notebook as untrusted JSON and finds each exercise's graded
cell (``# GRADED FUNCTION: <name>``). A fresh worker per exercise (assignment/sandbox.py) builds
the namespace the learner edition distributes (its imports and function definitions, outside
the graded cells), executes that one graded cell on top, and answers calls whose arguments
the judge chooses, with plain data. The learner's other cells are never run. The judge draws
hidden cases from a seed the worker never sees, computes the expected values itself, and
decides each mark (assignment/judging.py).
"""

import argparse
import ast
import functools
import json
import os
import secrets
import sys
import time
from typing import NamedTuple

import numpy as np

from assignment import judging, sandbox
from assignment.make import ROOT, SOLVED, graded_name, make_learner_edition, support_files
from assignment.worker import PRINTED_CHARS, reachable

EXERCISES = judging.EXERCISES
TOTAL_TIMEOUT = 300.0  # s for the whole notebook; the solved one takes ~10 s on 2 cores
NOTEBOOK_BYTES = 20 * 2**20  # a larger file is not read (the solved notebook, with its figures: ~0.4 MB)
DIAGNOSIS_CHARS = 2000  # a diagnosis is cut there


class Result(NamedTuple):
    """The grade of one exercise."""

    exercise: str
    passed: bool
    diagnosis: str


class Grade(NamedTuple):
    """The grade of a notebook: one Result per exercise, and the isolation the workers ran in."""

    results: list
    isolation: str  # the "isolation: ..." line printed before the results

    @property
    def score(self):
        return sum(result.passed for result in self.results)


def grade_notebook(
    path,
    total_timeout=TOTAL_TIMEOUT,
    namespaces=True,
    uid=sandbox.UNPRIVILEGED,
    notebook_bytes=NOTEBOOK_BYTES,
    **limits,
):
    """Grade each exercise of the notebook at `path` in its own sandboxed worker.

    Parameters
    ----------
    path : str or pathlib.Path
        The learner's notebook (untrusted).
    total_timeout : float
        Seconds for the whole notebook; exercises not started by then score 0.
    namespaces : bool
        Use the namespaces and the user switch when the machine allows them (False: never).
    uid : int
        The unprivileged user (and group) the workers run as; nobody by default.
    notebook_bytes : int
        Largest notebook file read.
    **limits
        Fields of sandbox.Limits, per exercise: wall_seconds (60), cpu_seconds (30), memory_bytes
        (2 GB), processes (32), file_bytes (16 MB), disk_bytes (64 MB), output_bytes (1 MB),
        reply_bytes (16 MB).

    Returns
    -------
    Grade
    """
    unknown = sorted(set(limits) - set(sandbox.Limits._fields))
    if unknown:
        raise TypeError(
            f"grade_notebook() got unknown options {unknown}; the limits are {list(sandbox.Limits._fields)}"
        )
    limits = sandbox.Limits(**limits)
    limits.check()
    for name, value in [("total_timeout", total_timeout), ("notebook_bytes", notebook_bytes)]:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"`{name}` must be a positive number, got {value!r}")
    deadline = time.monotonic() + total_timeout
    isolation = sandbox.probe(uid) if namespaces else sandbox.Isolation(False, None, "turned off")
    described = isolation.describe(limits)
    try:
        cells = read_graded_cells(path, notebook_bytes)
    except ValueError as error:
        return Grade(
            [_shown(Result(name, False, f"could not read {path}: {error}")) for name in EXERCISES], described
        )
    rng = np.random.default_rng(secrets.randbits(128))  # the hidden cases' seed: it stays in this process
    reference, distributed = _reference(), _distributed_code()
    results = []
    modules = [  # what the learner edition ships: modules, packages, their data (public_tests.json)
        file
        for shipped in support_files(ROOT)
        if shipped.suffix == ".py" or (shipped / "__init__.py").is_file()
        for file in (shipped, shipped.with_suffix(".json"))
        if file.exists()
    ]
    with sandbox.Sandbox(modules, isolation, limits) as box:
        for name in EXERCISES:
            if time.monotonic() >= deadline:
                results.append(
                    Result(
                        name,
                        False,
                        f"not graded: the grading ran past the total time limit of {total_timeout:g} s",
                    )
                )
                continue
            calls = judging.calls(name, reference, rng)
            results.append(_grade_exercise(box, name, cells.get(name), distributed, calls, deadline))
    return Grade([_shown(result) for result in results], described)


def read_graded_cells(path, max_bytes=NOTEBOOK_BYTES):
    """{exercise: (cell index, source)} of the notebook at `path`, read as untrusted JSON.

    The last cell headed ``# GRADED FUNCTION: <name>`` counts, as it would after running all.
    Raises ValueError saying why the file is not a notebook.
    """
    try:
        with open(path, "rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise ValueError(error.strerror or str(error)) from None
    if len(data) > max_bytes:
        raise ValueError(f"it is larger than {max_bytes} bytes")
    try:
        notebook = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"it is not JSON ({str(error)[:100]})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("it is not a Jupyter notebook (no list of cells)")
    cells = {}
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ValueError(f"cell {index} has a source that is not text")
        name = graded_name(source)
        if name in EXERCISES:
            cells[name] = (index, source)
    return cells


def main(argv=None):
    """Print the grade of the notebook named on the command line; exit 0 only at full marks."""
    parser = argparse.ArgumentParser(prog="python -m assignment.grade", description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument(
        "--total-timeout",
        type=float,
        default=TOTAL_TIMEOUT,
        help=f"seconds for the whole notebook (default {TOTAL_TIMEOUT:g})",
    )
    defaults = sandbox.Limits()
    for name in sandbox.Limits._fields:
        kind = float if name.endswith("seconds") else int
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=getattr(defaults, name),
            help=f"per exercise (default {getattr(defaults, name):g})",
        )
    parser.add_argument("--no-namespaces", action="store_true", help="run the workers without namespaces")
    args = parser.parse_args(argv)
    limits = {name: getattr(args, name) for name in sandbox.Limits._fields}
    grade = grade_notebook(args.notebook, args.total_timeout, namespaces=not args.no_namespaces, **limits)
    print(grade.isolation)
    for result in grade.results:
        print(f"{'PASS' if result.passed else 'FAIL'} {result.exercise}: {result.diagnosis}")
    print(f"score: {grade.score}/{len(grade.results)}")
    return 0 if grade.score == len(grade.results) else 1


def _grade_exercise(box, name, cell, distributed, calls, deadline):
    """The Result of exercise `name`: its graded cell and `calls` run in a fresh worker, judged here."""
    if cell is None:
        return Result(
            name,
            False,
            f"{name} is not defined: the notebook has no cell starting `# GRADED "
            f"FUNCTION: {name}` (only that cell is graded)",
        )
    index, source = cell
    call = None
    with box.start(deadline) as worker:
        try:
            boot = _boot(
                worker.request(
                    {
                        "distributed": distributed,
                        "graded": _without_magics(source),
                        "exercise": name,
                        "bound": judging.bound(calls),
                    }
                )
            )
            if not boot["defined"]:
                error = boot["error"]
                why = (
                    f" (cell {index} raised {error[0]}: {error[1][:300]})"
                    if error
                    else " (the cell ran, but defines no function of that name: only that cell is graded)"
                )
                return Result(
                    name,
                    False,
                    f"{name} is not defined: run its cell (`# GRADED FUNCTION: {name}`) without errors{why}",
                )
            outcomes = []
            for call in calls:
                outcomes.append(_outcome(worker.request(judging.request(call))))
            passed, diagnosis = judging.judge(name, calls, outcomes)
        except sandbox.WorkerFailed as failure:
            during = (
                ""
                if call is None
                else f" during {judging.HIDDEN}"
                if call.hidden
                else f" during {call.case['call']}"
            )
            return Result(name, False, f"not graded: the worker running {name} {failure}{during}")
        except (ValueError, TypeError, KeyError, AttributeError):  # public_tests.judge on a forged outcome
            return Result(
                name,
                False,
                f"not graded: the worker running {name} sent an outcome that is not "
                "the plain data of the protocol",
            )
    if worker.left:
        passed, diagnosis = False, f"{len(worker.left)} processes it started could not be ended"
    return Result(name, passed, diagnosis)


def _shown(result):
    """`result` with a diagnosis on one line, cut: learner text in it (an exception message on a public
    case) can hold newlines or control characters, which must not forge result lines."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in result.diagnosis)
    return result._replace(diagnosis=text[:DIAGNOSIS_CHARS])


def _boot(reply):
    """The worker's first reply, validated: {"defined": bool, "error": (type, message) or None}."""
    if not isinstance(reply.get("defined"), bool):
        raise sandbox.WorkerFailed("sent a malformed first reply")
    return {"defined": reply["defined"], "error": _error(reply.get("error"))}


def _outcome(reply):
    """A call's outcome, validated at its top level (public_tests.judge checks the rest, or raises)."""
    outcome = reply.get("outcome")
    if not (
        isinstance(outcome, dict)
        and isinstance(outcome.get("value"), dict)
        and isinstance(outcome.get("args_after"), dict)
        and isinstance(outcome.get("printed"), str)
        and len(outcome["printed"]) <= PRINTED_CHARS
    ):
        raise sandbox.WorkerFailed("sent a malformed reply (not an outcome)")
    error = _error(outcome.get("error"))
    return dict(outcome, error=None if error is None else {"type": error[0], "message": error[1]})


def _error(error):
    if error is None:
        return None
    if (
        not isinstance(error, dict)
        or not isinstance(error.get("type"), str)
        or not isinstance(error.get("message"), str)
    ):
        raise sandbox.WorkerFailed("sent a malformed reply (an error)")
    return error["type"][:100], error["message"][:2000]


@functools.cache
def _solved_code_cells():
    """(source, graded, shipped) of each code cell of the solved notebook: graded cells and the others."""
    import nbformat

    solved = nbformat.read(SOLVED, as_version=4)
    learner = make_learner_edition(solved)
    return (
        [cell.source for cell in solved.cells if cell.cell_type == "code"],
        [
            cell.source
            for cell in learner.cells
            if cell.cell_type == "code" and graded_name(cell.source) is None
        ],
    )


@functools.cache
def _distributed_code():
    """The imports and function definitions of the learner edition's code cells outside the graded ones."""
    return "\n".join(_definitions(source) for source in _solved_code_cells()[1])


@functools.cache
def _reference():
    """The solved notebook's functions (trusted: the grader's own copy), with the imports they use."""
    tree = ast.parse(_definitions("\n".join(_solved_code_cells()[0])))
    namespace = {}
    exec(compile(reachable(tree, judging.REFERENCE), str(SOLVED), "exec"), namespace)
    return namespace


def _definitions(source):
    """The imports and function definitions of `source` (magics dropped), as code."""
    tree = ast.parse(_without_magics(source))
    tree.body = [
        node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef)
    ]
    return ast.unparse(tree)


def _without_magics(source):
    """`source` with IPython magic and shell lines blanked, so that line numbers hold."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(main())

"""Grade a learner's notebook: run it in a fresh kernel, then score each exercise in that kernel.

Usage: python -m assignment.grade NOTEBOOK.ipynb [--cell-timeout S] [--total-timeout S]

Prints one line per exercise (PASS or FAIL, with the diagnosis), then ``score: k/K``; the exit
status is 0 only at full marks. The notebook runs in a temporary directory holding a copy of
it and fresh copies of the repository's modules, so edits to a local gc_utils.py or
public_tests.py do not change the grade. A cell that runs past its time limit is interrupted
and the run goes on; past the total limit, or if the kernel dies, the exercises not yet graded
score 0 with a message that says why.
"""

import argparse
import json
import sys
import tempfile
import time
from typing import NamedTuple

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from assignment.grading import CHECKS, MARK
from assignment.make import ROOT, copy_support_files, graded_name

CELL_TIMEOUT = 60  # s: the slowest cell of the solved notebook takes ~3 s on 2 cores
TOTAL_TIMEOUT = 300  # s: the whole solved notebook, grading included, takes ~15 s
EXERCISES = tuple(CHECKS)  # forward_propagation, ..., backward_propagation_n_fixed: K = 5


class Result(NamedTuple):
    """The grade of one exercise."""

    exercise: str
    passed: bool
    diagnosis: str


class Grade(NamedTuple):
    """The grade of a notebook: one Result per exercise, and the executed notebook."""

    results: list
    executed: object  # nbformat.NotebookNode with outputs; the grading cells are appended at its end

    @property
    def score(self):
        return sum(result.passed for result in self.results)


def grade_notebook(path, cell_timeout=CELL_TIMEOUT, total_timeout=TOTAL_TIMEOUT):
    """Execute the notebook at `path` in a fresh kernel and grade each exercise.

    Parameters
    ----------
    path : str or pathlib.Path
        The learner's notebook.
    cell_timeout, total_timeout : float
        Seconds allowed for one cell, and for the whole run.

    Returns
    -------
    Grade
    """
    if not cell_timeout > 0 or not total_timeout > 0:
        raise ValueError(f"`cell_timeout` and `total_timeout` must be positive, got {cell_timeout}, "
                         f"{total_timeout}")
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook: nothing can be graded
        return Grade([Result(name, False, f"could not read {path}: {error}") for name in EXERCISES], None)
    first_grading_cell = len(notebook.cells)
    notebook.cells += [nbformat.v4.new_code_cell(_grading_source(name)) for name in EXERCISES]
    with tempfile.TemporaryDirectory(prefix="grade-") as workdir:
        copy_support_files(workdir)
        failure = _execute(notebook, workdir, cell_timeout, total_timeout, first_grading_cell)
    results = {}
    for cell in notebook.cells[first_grading_cell:]:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(MARK):
                    result = json.loads(line[len(MARK):])
                    results[result["exercise"]] = Result(**result)
    graded = []
    for index, name in enumerate(EXERCISES):
        if name in results:
            graded.append(_explain_undefined(results[name], notebook))
        else:
            cell = notebook.cells[first_grading_cell + index]
            graded.append(Result(name, False, failure or _no_result(cell, cell_timeout)))
    return Grade(graded, notebook)


def main(argv=None):
    """Print the grade of the notebook named on the command line; exit 0 only at full marks."""
    parser = argparse.ArgumentParser(prog="python -m assignment.grade", description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument("--total-timeout", type=float, default=TOTAL_TIMEOUT, help="seconds in all")
    args = parser.parse_args(argv)
    grade = grade_notebook(args.notebook, args.cell_timeout, args.total_timeout)
    for result in grade.results:
        print(f"{'PASS' if result.passed else 'FAIL'} {result.exercise}: {result.diagnosis}")
    print(f"score: {grade.score}/{len(grade.results)}")
    return 0 if grade.score == len(grade.results) else 1


def _grading_source(name):
    """The code of the grading cell of exercise `name`, appended to the learner's notebook."""
    return (f"import sys as _grader_sys\n"
            f"_grader_sys.path.insert(0, {str(ROOT)!r})\n"
            f"from assignment.grading import grade_exercise as _grader_grade_exercise\n"
            f"_grader_grade_exercise({name!r}, globals())")


def _execute(notebook, workdir, cell_timeout, total_timeout, first_grading_cell):
    """Run every cell of `notebook` in place; return why the run stopped early, or None."""
    deadline = time.monotonic() + total_timeout
    client = NotebookClient(
        notebook, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": f"no reply within {cell_timeout:g} s",
                          "traceback": []},
        timeout_func=lambda cell: max(1, int(min(cell_timeout, deadline - time.monotonic()) + 0.999)),
        shutdown_kernel="immediate", resources={"metadata": {"path": workdir}})
    client.reset_execution_trackers()
    where = "while starting the kernel"
    try:
        with client.setup_kernel(cwd=workdir):
            for index, cell in enumerate(notebook.cells):
                where = _where(index, first_grading_cell)
                if time.monotonic() > deadline:
                    return (f"not graded: the notebook ran past the total time limit of {total_timeout:g} s "
                            f"(stopped before {where}; an infinite loop, or a very slow cell?)")
                started = time.monotonic()
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                cell.metadata["grader_seconds"] = round(time.monotonic() - started, 3)
    except DeadKernelError:
        return (f"not graded: the kernel died {where} (a call to os._exit or sys.exit in a thread, "
                "a crash in compiled code, or running out of memory)")
    return None


def _where(index, first_grading_cell):
    """'cell N of the notebook' or 'the grading of <exercise>', for messages."""
    if index < first_grading_cell:
        return f"in cell {index} of the notebook"
    return f"while grading {EXERCISES[index - first_grading_cell]}"


def _no_result(cell, cell_timeout):
    """Why a grading cell printed no result: it timed out, or raised outside the grading code."""
    if cell.metadata.get("grader_seconds", 0) >= cell_timeout - 0.5:
        return (f"the grading did not finish within {cell_timeout:g} s and was interrupted (an infinite "
                "loop in this exercise, or a very slow one?)")
    errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    if errors:
        return f"the grading raised {errors[0]['ename']}: {errors[0]['evalue']}"
    return "the grading printed no result"


def _explain_undefined(result, notebook):
    """Add the error of the exercise's own cell to a 'not defined' diagnosis."""
    if result.passed or "is not defined" not in result.diagnosis:
        return result
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and graded_name(cell.source) == result.exercise:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    return result._replace(diagnosis=f"{result.diagnosis} (cell {index} raised "
                                                     f"{output['ename']}: {output['evalue']})")
    return result


if __name__ == "__main__":
    sys.exit(main())

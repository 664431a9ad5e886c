"""Submissions of a cheating learner: the blank learner edition with attacks pasted into its cells.

A `Submission` is a notebook plus what the grader must make of it: which exercises are
genuinely solved (they must PASS), and for some exercises a pattern the diagnosis must match
(the limit or event that stopped them). Builders live in `tests/attacks/submissions.py`; the
attack code itself in `tests/attacks/payloads.py`, pasted by source, never run by pytest.
"""

import ast
import copy
import functools
import inspect
import pathlib
from typing import NamedTuple

import nbformat

from assignment.make import graded_name, make_learner_edition
from tests.attacks import payloads

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SOLVED = ROOT / "Gradient_Checking.ipynb"


class Submission(NamedTuple):
    """A notebook to grade and what the grader must say about it.

    Attributes
    ----------
    name : str
        Short name of the attack family, for test ids.
    notebook : nbformat.NotebookNode
    solved : frozenset of str
        Exercises solved for real: they must PASS. Every other exercise must FAIL.
    diagnoses : dict of str -> str
        Exercise -> regular expression its diagnosis must match (case-insensitive).
    hosted : dict of str -> str
        Exercise -> the attacks it hosts, shown when an assertion about it fails.
    short_limits : bool
        Grade with the shortest time limits the grader offers (attacks that run until stopped).
    """

    name: str
    notebook: object
    solved: frozenset
    diagnoses: dict
    hosted: dict
    short_limits: bool = False


@functools.cache
def _solved():
    return nbformat.read(SOLVED, as_version=4)


@functools.cache
def _learner():
    return make_learner_edition(_solved())


def solved_notebook():
    """The solved notebook (a fresh copy)."""
    return copy.deepcopy(_solved())


def learner_edition():
    """The blank learner edition, made from the solved notebook by `make_learner_edition` (a fresh copy)."""
    return copy.deepcopy(_learner())


def graded_cell(notebook, name):
    """The code cell of `notebook` headed ``# GRADED FUNCTION: <name>``."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and graded_name(cell.source) == name:
            return cell
    raise KeyError(f"no graded cell for {name}")


def solved_source(name):
    """The solved notebook's graded cell for `name`."""
    return graded_cell(_solved(), name).source


def payload_source(marker):
    """The attack module's code, with the submission's marker bound to ATK_MARKER."""
    return f"ATK_MARKER = {marker!r}\n" + inspect.getsource(payloads) + "\n"


def attack_cell(name, marker, top="", body="", solved=False):
    """A graded cell for `name` with the attack code pasted in.

    Parameters
    ----------
    name : str
        The exercise.
    marker : str
        Unique marker of the submission (on every process it starts, in every file it writes).
    top : str
        Code run at the cell's top level, before the function is defined.
    body : str
        Code run first in the function's body, at every call (indented for it here).
    solved : bool
        Start from the solved function (True) or from the learner edition's blank one.

    Returns
    -------
    str
        ``# GRADED FUNCTION: <name>``, the payload module, `top`, then the function with `body` first.
    """
    source = solved_source(name) if solved else graded_cell(_learner(), name).source
    header, rest = source.split("\n", 1)
    if body:
        rest = _insert_in_body(rest, name, body)
    return "\n".join([header, payload_source(marker), top, rest])


def _insert_in_body(source, name, body):
    """`source` with the lines of `body` first in function `name`'s body (after its docstring)."""
    tree = ast.parse(source)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
        line = first.end_lineno  # after the docstring
    else:
        line = first.lineno - 1
    indent = " " * function.body[0].col_offset
    lines = source.split("\n")
    inserted = [indent + text if text.strip() else text for text in body.strip("\n").split("\n")]
    return "\n".join(lines[:line] + inserted + lines[line:])


def replace_function(notebook, name, marker, code, top=""):
    """Make the graded cell of `name` the payload, `top`, and `code` (which defines `name` itself)."""
    cell = graded_cell(notebook, name)
    cell.source = "\n".join([f"# GRADED FUNCTION: {name}", payload_source(marker), top, code])


def edit_cell(notebook, name, marker, top="", body="", solved=False):
    """Paste attack code into the graded cell of `name` (see `attack_cell`)."""
    graded_cell(notebook, name).source = attack_cell(name, marker, top=top, body=body, solved=solved)


def solve(notebook, name):
    """Solve exercise `name` for real: the solved notebook's graded cell."""
    graded_cell(notebook, name).source = solved_source(name)


def add_final_cell(notebook, marker, code):
    """Append a code cell running the payload and `code`: what a learner adds at the end of the notebook."""
    notebook.cells.append(nbformat.v4.new_code_cell(payload_source(marker) + code))

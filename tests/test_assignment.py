"""The learner edition: made from the solved notebook by code, runs top to bottom, gives solutions back."""

import copy
import functools
import re
import tempfile

import nbformat
import pytest
from nbclient import NotebookClient

from assignment import make
from assignment.grade import grade_notebook
from tests.conftest import NOTEBOOK


def solved():
    """The solved notebook, as the generator reads it (a fresh copy each call)."""
    return copy.deepcopy(_solved())


@functools.cache
def _solved():
    return nbformat.read(NOTEBOOK, as_version=4)


@functools.cache
def learner():
    """The learner edition of `solved()`."""
    return make.make_learner_edition(solved())


@functools.cache
def learner_run():
    """The grade of the learner edition (executed once per session, shared with test_grader)."""
    return _grade(learner())


@functools.cache
def solved_run():
    """The grade of the solved notebook (executed once per session, shared with test_grader)."""
    return _grade(solved())


def _grade(notebook):
    with tempfile.TemporaryDirectory() as directory:
        path = f"{directory}/notebook.ipynb"
        nbformat.write(notebook, path)
        return grade_notebook(path)


@functools.cache
def learner_executed():
    """The learner edition executed top to bottom in a fresh kernel (once per session)."""
    return _execute(learner())


@functools.cache
def solved_executed():
    """The solved notebook executed top to bottom in a fresh kernel (once per session)."""
    return _execute(solved())


def _execute(notebook):
    notebook = copy.deepcopy(notebook)
    with tempfile.TemporaryDirectory() as directory:
        make.copy_support_files(directory)
        NotebookClient(notebook, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": directory}}).execute()
    return notebook


def kept_pairs():
    """(solved cell, learner cell) for every cell the learner edition keeps, in order."""
    kept = [cell for cell in solved().cells if make.SOLUTION_TAG not in cell.metadata.get("tags", [])]
    assert len(kept) == len(learner().cells)
    return list(zip(kept, learner().cells, strict=True))


def blocks(source):
    """The lines of each solution block of `source`."""
    lines = source.splitlines()
    return [lines[start + 1 : end] for start, end in make._solution_blocks(source, "cell")]


def put_back(solved_source, learner_source):
    """`learner_source` with the solved notebook's solution blocks and fixes put back."""
    if make.graded_name(learner_source) == make.BUG_FIX:
        fixed = [line for line in solved_source.splitlines()]
        lines = learner_source.splitlines()
        assert len(lines) == len(fixed)
        return "\n".join(fix if make.WAS.match(fix) else line for line, fix in zip(lines, fixed, strict=True))
    lines, answers = learner_source.splitlines(), blocks(solved_source)
    for (start, end), answer in reversed(
        list(zip(make._solution_blocks(learner_source, "cell"), answers, strict=True))
    ):
        lines[start + 1 : end] = answer
    return "\n".join(lines)


def test_the_solved_notebook_follows_the_contract():
    make.check_contract(nbformat.read(NOTEBOOK, as_version=4))


def test_every_graded_exercise_has_a_graded_cell():
    names = [make.graded_name(cell.source) for cell in solved().cells if cell.cell_type == "code"]
    assert {
        "forward_propagation",
        "backward_propagation",
        "gradient_check",
        "gradient_check_n",
        make.BUG_FIX,
    } <= set(names)


def test_solution_blocks_become_placeholders():
    for old, new in kept_pairs():
        name = make.graded_name(new.source)
        if name in (None, make.BUG_FIX):
            continue
        for answer, placeholder in zip(blocks(old.source), blocks(new.source), strict=True):
            assert all(re.fullmatch(r"\s*(\w+ = None|pass)", line) for line in placeholder), placeholder
            assert not set(map(str.strip, answer)) & set(map(str.strip, placeholder))
    sources = {make.graded_name(cell.source): cell.source for cell in learner().cells}
    assert "    J = None\n" in sources["forward_propagation"]
    assert "    dtheta = None\n" in sources["backward_propagation"]
    assert "        theta_plus = None\n        theta_minus = None\n" in sources["gradient_check_n"]


def test_the_bug_fix_exercise_starts_from_the_planted_bugs():
    old, new = next((o, n) for o, n in kept_pairs() if make.graded_name(n.source) == make.BUG_FIX)
    assert "# was:" not in new.source
    planted = [match["buggy"] for line in old.source.splitlines() if (match := make.WAS.match(line))]
    assert planted
    for buggy in planted:
        assert f"    {buggy}\n" in new.source


def test_solution_cells_are_removed():
    tagged = [cell for cell in solved().cells if make.SOLUTION_TAG in cell.metadata.get("tags", [])]
    assert tagged, "the solved notebook tags the prose that names the bugs `solution`"
    assert len(learner().cells) == len(solved().cells) - len(tagged)
    assert not [cell for cell in learner().cells if make.SOLUTION_TAG in cell.metadata.get("tags", [])]


def test_exercise_and_check_outputs_are_cleared_and_every_other_cell_is_unchanged():
    for old, new in kept_pairs():
        graded = new.cell_type == "code" and make.graded_name(new.source)
        if graded or (new.cell_type == "code" and make.is_check_cell(new.source)):
            assert new.outputs == [] and new.execution_count is None
            assert old.metadata == new.metadata
        else:
            assert old == new
    assert solved().metadata == learner().metadata


def test_putting_the_solutions_back_gives_the_solved_code():
    for old, new in kept_pairs():
        if new.cell_type == "code" and make.graded_name(new.source):
            assert put_back(old.source, new.source) == old.source.rstrip("\n")


def test_putting_the_solutions_back_gives_the_graded_outputs():
    executed = solved_executed().cells
    stored = solved().cells
    checked = 0
    for old, new in zip(stored, executed, strict=False):
        if old.cell_type == "code" and make.is_check_cell(old.source):
            assert _stdout(new) == _stdout(old), old.source
            checked += 1
    assert checked >= 5


def test_the_learner_edition_runs_top_to_bottom_and_only_check_cells_fail():
    cells = learner_executed().cells
    failing = 0
    for index, cell in enumerate(cells):
        errors = [output for output in cell.get("outputs", []) if output.output_type == "error"]
        if cell.cell_type != "code" or not make.is_check_cell(cell.source):
            assert not errors, (
                f"cell {index} is not a check cell but raised {errors[0].ename}: {errors[0].evalue}"
            )
            continue
        assert len(errors) == 1, f"check cell {index} does not fail in the learner edition"
        error = errors[0]
        assert error.ename == "AssertionError", (index, error.ename, error.evalue)
        assert "is not implemented yet" in error.evalue or "still disagree" in error.evalue, error.evalue
        failing += 1
    assert failing >= 5


def test_the_bug_fix_check_names_no_gradient_in_the_learner_edition():
    evalues = [
        output.evalue
        for cell in learner_executed().cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    bug_fix = [evalue for evalue in evalues if "still disagree" in evalue]
    assert bug_fix, evalues
    assert not any(re.search(r"\bd[Wb]\d|factor|twice|\d x\b", evalue) for evalue in bug_fix), bug_fix


BREACHES = {
    "no bug-fix cell": (
        lambda s: re.sub(r"\s*# was: .*", "", s.replace(f"# GRADED FUNCTION: {make.BUG_FIX}", "")),
        r"no cell starting `# GRADED FUNCTION: backward_propagation_n_fixed`",
    ),
    "no `# was:` comments": (
        lambda s: re.sub(r"\s*# was: .*", "", s),
        r"the bug-fix exercise, has no line ending `# was:",
    ),
    "a marker never closed": (
        lambda s: s.replace("    # YOUR CODE ENDS HERE\n    return J", "    return J"),
        r"'# YOUR CODE STARTS HERE' on line \d+ is never closed",
    ),
    "a verdict printed after the markers": (
        lambda s: s.replace(
            "    return difference",
            "    if print_msg:\n        print(difference < 1e-7)\n    return difference",
        ),
        r"uses `difference` after '# YOUR CODE ENDS HERE'.*Move '# YOUR CODE ENDS HERE' below",
    ),
    "`# was:` outside the bug fix": (
        lambda s: s.replace("    J = theta * x", "    J = theta * x  # was: J = 0"),
        r"`# was:` comments belong only in the backward_propagation_n_fixed cell",
    ),
}


@pytest.mark.parametrize("breach", BREACHES)
def test_the_generator_fails_loudly_on_a_breach_of_the_contract(breach):
    edit, match = BREACHES[breach]
    notebook = solved()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = edit(cell.source)
    with pytest.raises(make.ContractError, match=match):
        make.make_learner_edition(notebook)


def test_the_generator_fails_loudly_on_an_untagged_solution_cell():
    notebook = solved()
    for cell in notebook.cells:
        cell.metadata.pop("tags", None)
    with pytest.raises(
        make.ContractError, match=r"markdown cell \d+ quotes `.*`, a line of the bug fix: tag it 'solution'"
    ):
        make.make_learner_edition(notebook)


def test_main_writes_the_edition_and_the_files_it_needs(tmp_path, capsys):
    source, out = tmp_path / "solved.ipynb", tmp_path / "out" / "assignment.ipynb"
    nbformat.write(solved(), source)
    assert make.main([str(source), str(out)]) == 0
    assert nbformat.read(out, as_version=4) == learner()
    for path in make.support_files():
        assert (out.parent / path.name).exists(), path.name
    assert {"gc_utils.py", "public_tests.py", "testCases.py", "images"} <= {
        p.name for p in make.support_files()
    }


def test_main_exits_1_with_the_reason_on_a_breach(tmp_path, capsys):
    notebook = solved()
    notebook.cells = [cell for cell in notebook.cells if make.graded_name(cell.source) != make.BUG_FIX]
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    assert make.main([str(tmp_path / "broken.ipynb"), str(tmp_path / "out.ipynb")]) == 1
    assert "does not follow the contract: the solved notebook has no cell" in capsys.readouterr().err
    assert not (tmp_path / "out.ipynb").exists()


@pytest.mark.parametrize(
    "block, placeholders",
    [
        ("    J = theta * x\n", ["J"]),
        ("    a, (b, _) = f()\n    c[i] = 1\n    a += 2\n    d: int = 3\n", ["a", "b", "d"]),
        ("    J_plus[i], _ = f(x)\n    gradapprox[i] = 2\n", []),
    ],
)
def test_placeholders_are_the_assigned_names_in_order(block, placeholders):
    source = f"def f():\n    # YOUR CODE STARTS HERE\n{block}    # YOUR CODE ENDS HERE\n"
    body = make.replace_solutions(source).splitlines()[2:-1]
    assert body == ([f"    {name} = None" for name in placeholders] or ["    pass"])


def _stdout(cell):
    return "".join(
        output.get("text", "") for output in cell.get("outputs", []) if output.get("name") == "stdout"
    )

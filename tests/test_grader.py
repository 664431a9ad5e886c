"""The grader: full marks for the solved notebook, 0 for the learner edition, one mark per exercise."""

import json
import re

import nbformat
import pytest

from assignment import grade, grading, make
from tests.test_assignment import learner_run, solved, solved_run
from tests.test_public_tests import GRADIENT_CHECK, GRADIENT_CHECK_N, learner_function

EXERCISES = list(grade.EXERCISES)


def small_notebook(edit=None):
    """The solved notebook cut down to its imports and the functions the exercises need (runs in ~2 s).

    `edit(source)` is applied to every code cell kept.
    """
    notebook = solved()
    keep = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if (
            not keep
            or make.graded_name(cell.source)
            or re.match(r"def (forward|backward)_propagation_n\(", cell.source)
        ):
            cell.source = edit(cell.source) if edit else cell.source
            keep.append(cell)
    notebook.cells = keep
    return notebook


def graded(notebook, tmp_path, **timeouts):
    path = tmp_path / "learner.ipynb"
    nbformat.write(notebook, path)
    return grade.grade_notebook(path, **timeouts)


def test_the_solved_notebook_gets_full_marks():
    result = solved_run()
    assert [r.exercise for r in result.results] == EXERCISES
    assert all(r.passed for r in result.results), result.results
    assert result.score == 5


def test_the_learner_edition_gets_0_with_a_diagnosis_for_each_exercise():
    results = {r.exercise: r for r in learner_run().results}
    assert learner_run().score == 0
    for name in EXERCISES[:4]:
        assert results[name].diagnosis.startswith(f"{name} is not implemented yet: it returned None")
    assert re.match(
        r"backward propagation is still wrong for db1 .*, dW2 ",
        results["backward_propagation_n_fixed"].diagnosis,
    )


def wrong_versions(notebook):
    """One wrong version of each exercise, as a learner would write it."""
    return {
        "forward_propagation": lambda x, theta: theta + x,
        "backward_propagation": lambda x, theta: theta,
        "gradient_check": learner_function(
            GRADIENT_CHECK,
            [("(J_plus - J_minus) / (2 * epsilon)", "(J_plus - forward_propagation(x, theta)) / epsilon")],
            notebook,
        ),
        "gradient_check_n": learner_function(
            GRADIENT_CHECK_N, [("range(num_parameters)", "range(num_parameters - 1)")], notebook
        ),
        "backward_propagation_n_fixed": notebook["backward_propagation_n"],
    }


@pytest.mark.parametrize("wrong", EXERCISES)
def test_one_wrong_exercise_loses_exactly_that_exercise(notebook, wrong, capsys):
    namespace = dict(notebook, **{wrong: wrong_versions(notebook)[wrong]})
    for name in EXERCISES:
        grading.grade_exercise(name, namespace)
    results = [json.loads(line.removeprefix(grading.MARK)) for line in capsys.readouterr().out.splitlines()]
    assert [r["exercise"] for r in results if not r["passed"]] == [wrong], results


def test_exercises_are_graded_with_the_reference_functions_not_the_learners(notebook, capsys):
    # A learner whose forward/backward propagations are wrong still gets gradient_check right,
    # and a broken forward_propagation_n (not an exercise) does not cost gradient_check_n.
    namespace = dict(
        notebook,
        forward_propagation=lambda x, theta: 0.0,
        backward_propagation=lambda x, theta: 0.0,
        forward_propagation_n=lambda X, Y, parameters: (0.0, None),
    )
    grading.grade_exercise("gradient_check", namespace)
    grading.grade_exercise("gradient_check_n", namespace)
    results = [json.loads(line.removeprefix(grading.MARK)) for line in capsys.readouterr().out.splitlines()]
    assert all(r["passed"] for r in results), results


def test_an_exercise_that_is_not_defined_says_so(capsys):
    grading.grade_exercise("gradient_check", {})
    result = json.loads(capsys.readouterr().out.removeprefix(grading.MARK))
    assert result == {
        "exercise": "gradient_check",
        "passed": False,
        "diagnosis": "gradient_check is not defined: run its cell (`# GRADED FUNCTION: "
        "gradient_check`) without errors",
    }


def test_a_notebook_with_one_exercise_wrong_scores_4_of_5(tmp_path, capsys):
    notebook = small_notebook(lambda source: source.replace("    dtheta = x\n", "    dtheta = theta\n"))
    nbformat.write(notebook, tmp_path / "learner.ipynb")
    assert grade.main([str(tmp_path / "learner.ipynb")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "score: 4/5"
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "PASS forward_propagation",
        "FAIL backward_propagation",
        "PASS gradient_check",
        "PASS gradient_check_n",
        "PASS backward_propagation_n_fixed",
    ]
    assert lines[1] == "FAIL backward_propagation: backward_propagation(x=3, theta=4): expected 3, got 4"


def test_a_syntax_error_in_a_graded_cell_is_reported_with_the_cell(tmp_path):
    notebook = small_notebook(lambda source: source.replace("    J = theta * x\n", "    J = theta *\n"))
    results = {r.exercise: r for r in graded(notebook, tmp_path).results}
    assert re.match(
        r"forward_propagation is not defined: .*\(cell \d+ raised SyntaxError: ",
        results["forward_propagation"].diagnosis,
    )
    assert sum(r.passed for r in results.values()) == 4


def test_an_infinite_loop_costs_only_its_exercise_and_says_so(tmp_path):
    def loop(source):
        if make.graded_name(source) == "gradient_check_n":
            return source.replace("    numerator = ", "    while True:\n        pass\n    numerator = ", 1)
        return source

    result = graded(small_notebook(loop), tmp_path, cell_timeout=6, total_timeout=120)
    results = {r.exercise: r for r in result.results}
    assert results["gradient_check_n"].diagnosis == (
        "the grading did not finish within 6 s and was interrupted (an infinite loop in this exercise, or a "
        "very slow one?)"
    )
    assert result.score == 4


def test_a_notebook_that_never_finishes_stops_at_the_total_time_limit(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
            "    except KeyboardInterrupt:\n        pass"
        )
    ]
    result = graded(notebook, tmp_path, cell_timeout=2, total_timeout=5)
    assert result.score == 0
    for r in result.results:
        assert r.diagnosis.startswith("not graded: the notebook ran past the total time limit of 5 s"), r


def test_a_kernel_that_dies_gives_a_clear_message(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("import os\nos._exit(1)")]
    result = graded(notebook, tmp_path, cell_timeout=20, total_timeout=60)
    assert result.score == 0
    for r in result.results:
        assert r.diagnosis.startswith("not graded: the kernel died in cell 1 of the notebook"), r


def test_a_file_that_is_not_a_notebook_scores_0(tmp_path):
    (tmp_path / "x.ipynb").write_text("not json")
    result = grade.grade_notebook(tmp_path / "x.ipynb")
    assert result.score == 0 and all(r.diagnosis.startswith("could not read") for r in result.results)


@pytest.mark.parametrize("timeouts", [{"cell_timeout": 0}, {"total_timeout": -1}])
def test_timeouts_must_be_positive(tmp_path, timeouts):
    with pytest.raises(ValueError, match="`cell_timeout` and `total_timeout` must be positive"):
        grade.grade_notebook(tmp_path / "x.ipynb", **timeouts)

"""The Gradescope autograder end to end, without Gradescope: build the zip, unpack it as /autograder, run."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from assignment import grade, gradescope, make
from tests.test_assignment import solved
from tests.test_batch import WRONG_BACKWARD, class_notebook

EXERCISES = list(grade.EXERCISES)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    names = gradescope.build(path)
    return path, names


def autograde(bundle, tmp_path, files):
    """Lay out `tmp_path`/autograder as Gradescope does, put `files` (name -> notebook or bytes) in
    submission/, run run_autograder with this Python, and return results.json."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle[0]) as archive:
        archive.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):  # zipfile does not restore modes: Gradescope's unzip does
        (root / "source" / name).chmod(0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (root / "submission" / name).write_bytes(content)
        else:
            nbformat.write(content, root / "submission" / name)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    completed = subprocess.run(
        [str(root / "run_autograder")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads((root / "results" / "results.json").read_text())


def check_format(results):
    """results.json as Gradescope reads it: a total, an output, one test per exercise worth 1."""
    assert set(results) == {"score", "output", "visibility", "tests"}
    assert [test["name"] for test in results["tests"]] == EXERCISES
    for test in results["tests"]:
        assert set(test) == {"name", "score", "max_score", "output", "visibility"}
        assert test["max_score"] == 1.0 and test["score"] in (0.0, 1.0) and isinstance(test["output"], str)
    assert results["score"] == sum(test["score"] for test in results["tests"])
    assert results["output"].startswith(f"score: {results['score']:g}/{len(EXERCISES)}")


def test_the_zip_holds_the_scripts_and_the_graders_files_and_nothing_else(bundle):
    path, names = bundle
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == names
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert names[:2] == ["run_autograder", "setup.sh"] and modes["run_autograder"] & 0o111
    modules = [path.relative_to(make.ROOT).as_posix() for path in (make.ROOT / "assignment").glob("*.py")]
    for needed in (
        *modules,
        "public_tests.py",
        "gc_utils.py",
        "testCases.py",
        "gradcheck/__init__.py",
        "Gradient_Checking.ipynb",
        "requirements.txt",
    ):
        assert needed in names, needed
    assert not [
        name
        for name in names
        if name.split("/")[0] in (".venv", "build", "tests", "bench", ".git") or "__pycache__" in name
    ]


def test_the_zip_is_the_same_for_the_same_files(bundle, tmp_path):
    gradescope.build(tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == bundle[0].read_bytes()


def test_the_solved_notebook_gets_full_marks(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"Gradient_Checking_assignment.ipynb": solved()})
    check_format(results)
    assert results["score"] == 5.0
    assert all(test["output"] == "all tests passed" for test in results["tests"]), results


def test_the_learner_edition_gets_0(bundle, tmp_path):
    results = autograde(
        bundle, tmp_path, {"Gradient_Checking_assignment.ipynb": make.make_learner_edition(solved())}
    )
    check_format(results)
    assert results["score"] == 0.0
    outputs = {test["name"]: test["output"] for test in results["tests"]}
    assert outputs["forward_propagation"].startswith("forward_propagation is not implemented yet")


def test_one_wrong_exercise_gets_4_of_5(bundle, tmp_path):
    wrong = class_notebook({"backward_propagation": WRONG_BACKWARD})
    results = autograde(bundle, tmp_path, {"my answers.ipynb": wrong})
    check_format(results)
    assert results["score"] == 4.0
    failed = [test for test in results["tests"] if test["score"] == 0]
    assert [test["name"] for test in failed] == ["backward_propagation"]
    assert failed[0]["output"] == "backward_propagation(x=3, theta=4): expected 3, got 4"


@pytest.mark.parametrize(
    "files, reason",
    [
        ({}, "not graded: no .ipynb file in the submission"),
        ({"answers.pdf": b"%PDF"}, "not graded: no .ipynb file in the submission"),
        (
            {"a.ipynb": b"", "b.ipynb": b"{}"},
            "not graded: the submission holds several notebooks (a.ipynb, b.ipynb)",
        ),
        (
            {"Gradient_Checking_assignment.ipynb": b"{not json"},
            "not graded: the file is not a Jupyter notebook",
        ),
    ],
)
def test_a_submission_without_one_readable_notebook_gets_0_and_the_reason(tmp_path, files, reason):
    (tmp_path / "submission").mkdir()
    for name, content in files.items():
        (tmp_path / "submission" / name).write_bytes(content)
    results = gradescope.run(tmp_path)  # in this process: nothing is graded, so nothing runs apart
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == results
    check_format(results)
    assert results["score"] == 0.0
    assert results["output"].splitlines()[1].startswith(reason)
    assert all(test["output"].startswith(reason) for test in results["tests"])


def test_the_learner_edition_is_preferred_among_several_notebooks(tmp_path):
    for name in ("scratch.ipynb", make.LEARNER.name, ".ipynb_checkpoints/x.ipynb"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert gradescope.find_notebook(tmp_path) == (tmp_path / make.LEARNER.name, None)

"""Batch grading: ids, rejections, resuming, outputs (with a fake grader); then a real mixed class."""

import csv
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from assignment import batch, classreport, grade, make
from tests.test_assignment import learner, solved

EXERCISES = ("first", "second", "third")  # the fake grader's exercises (batch reads a grader's EXERCISES)
FAKE = "tests.test_batch:fake_grade"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def fake_grade(path, delay=0.0):
    """A stand-in grader: the notebook's metadata says what passes; logs each call to the file it names.

    metadata.fake = {"log": path, "passed": [exercise, ...], "diagnosis": text, "delay": s, "die": bool}
    (The log's path travels in the notebook: the children are forked from a server that keeps the
    environment it started with.)
    """
    spec = nbformat.read(path, as_version=4).metadata["fake"]
    with open(spec["log"], "a") as log:
        log.write(f"{pathlib.Path(path).name} {os.getpid()}\n")
    time.sleep(spec.get("delay", delay))
    if spec.get("die"):
        os.kill(os.getpid(), signal.SIGKILL)
    diagnosis = spec.get("diagnosis", "expected 1, got 2")
    results = [
        grade.Result(
            name,
            name in spec.get("passed", ()),
            "all tests passed" if name in spec.get("passed", ()) else diagnosis,
        )
        for name in EXERCISES
    ]
    return grade.Grade(results, None)


def fake_notebook(path, log, **spec):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1")]
    notebook.metadata["fake"] = dict(spec, log=str(log))
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "calls.log"
    path.write_text("")
    return path


def run(folder, out, **kwargs):
    return batch.grade_batch(batch.find_submissions(str(folder)), out, grader=FAKE, progress=False, **kwargs)


def calls(log):
    """The file names graded since `log` was last cleared."""
    return sorted(line.rsplit(" ", 1)[0] for line in log.read_text().splitlines())


def read_gradebook(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("alice.ipynb", "alice"),
        ("Alice Smith.ipynb", "alice-smith"),
        ("José Núñez (2).ipynb", "jose-nunez-2"),
        ("张伟.ipynb", "张伟"),
        ("../..\\evil;rm -rf.ipynb", "evil-rm-rf"),
        ("-=+@.ipynb", "learner-"),
    ],
)
def test_learner_ids_are_safe_for_file_names_and_recognisable(name, expected):
    assert batch.learner_id(name).startswith(expected)
    assert re.fullmatch(r"[\w-]+", batch.learner_id(name)) and "_" not in batch.learner_id(name)


def test_bad_files_are_rejected_with_a_reason_before_grading(tmp_path, log):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "empty.ipynb").write_bytes(b"")
    (folder / "invalid.ipynb").write_text('{"cells": [')
    (folder / "essay.txt").write_text("my answers are in the margin")
    (folder / "no-cells.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ""}]}))
    (folder / "list.ipynb").write_text("[1, 2]")
    (folder / "huge.ipynb").write_bytes(b" " * 2_000_001)
    records = {r["file"]: r for r in run(folder, tmp_path / "out", max_bytes=2_000_000)}
    assert calls(log) == []
    reasons = {file: record["reason"] for file, record in records.items()}
    assert reasons["empty.ipynb"] == "not graded: the file is empty"
    assert reasons["invalid.ipynb"].startswith(
        "not graded: the file is not a Jupyter notebook: it is not valid JSON"
    )
    assert reasons["essay.txt"].startswith("not graded: the file is not a Jupyter notebook")
    assert reasons["no-cells.ipynb"] == "not graded: the notebook is empty (it has no code cells)"
    assert "not a Jupyter notebook (it has no list of cells)" in reasons["list.ipynb"]
    assert reasons["huge.ipynb"].startswith("not graded: the file is 2.0 MB, above the limit of 2 MB")
    assert all(r["score"] == 0 and r["status"] == "rejected" for r in records.values())
    rows = read_gradebook(tmp_path / "out")
    assert [row["file"] for row in rows] == sorted(records, key=lambda f: batch.learner_id(f))
    assert all(row["total"] == "0" and row["lost_marks"].startswith("not graded") for row in rows)


def test_files_with_the_same_learner_id_all_score_0_and_none_is_graded(tmp_path, log):
    folder = tmp_path / "class"
    folder.mkdir()
    fake_notebook(folder / "alice.ipynb", log, passed=list(EXERCISES))
    fake_notebook(folder / "Alice.ipynb", log, passed=list(EXERCISES))
    fake_notebook(folder / "bob.ipynb", log, passed=["first"])
    rows = read_gradebook_after(run(folder, tmp_path / "out"), tmp_path / "out")
    assert calls(log) == ["bob.ipynb"]
    assert [(row["learner"], row["file"], row["total"]) for row in rows] == [
        ("alice", "Alice.ipynb", "0"),
        ("alice", "alice.ipynb", "0"),
        ("bob", "bob.ipynb", "1"),
    ]
    assert (
        rows[0]["lost_marks"]
        == rows[1]["lost_marks"]
        == (
            "duplicate learner id 'alice': 'Alice.ipynb' and 'alice.ipynb' map to the same id, so none of "
            "them was graded; keep one file per learner and grade again"
        )
    )


def read_gradebook_after(records, out):
    assert (out / "gradebook.csv").exists() and records
    return read_gradebook(out)


def test_a_rerun_grades_only_new_or_changed_submissions(tmp_path, log):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("a", "b", "c"):
        fake_notebook(folder / f"{name}.ipynb", log, passed=["first"])
    run(folder, tmp_path / "out", jobs=2)
    assert calls(log) == ["a.ipynb", "b.ipynb", "c.ipynb"]
    log.write_text("")
    records = run(folder, tmp_path / "out", jobs=2)
    assert calls(log) == [] and all(r["cached"] for r in records)
    fake_notebook(folder / "b.ipynb", log, passed=["first", "second"])
    fake_notebook(folder / "d.ipynb", log, passed=[])
    records = {r["learner"]: r for r in run(folder, tmp_path / "out", jobs=2)}
    assert calls(log) == ["b.ipynb", "d.ipynb"]
    assert [records[name]["score"] for name in "abcd"] == [1, 2, 1, 0]


def test_other_grader_options_grade_again(tmp_path, log):
    folder = tmp_path / "class"
    folder.mkdir()
    fake_notebook(folder / "a.ipynb", log, passed=["first"])
    run(folder, tmp_path / "out")
    run(folder, tmp_path / "out", options={"delay": 0.01})
    assert calls(log) == ["a.ipynb", "a.ipynb"]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_an_interrupted_batch_finishes_the_rest_on_rerun(tmp_path, log, stop):
    folder = tmp_path / "class"
    folder.mkdir()
    fake_notebook(folder / "fast.ipynb", log, passed=["first"])
    for name in ("slow1", "slow2"):
        fake_notebook(folder / f"{name}.ipynb", log, passed=["second"], delay=60)
    out = tmp_path / "out"
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from assignment import batch; "
        f"batch.grade_batch(batch.find_submissions({str(folder)!r}), batch.pathlib.Path({str(out)!r}), "
        f"jobs=3, grader={FAKE!r}, progress=False)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not (out / "results" / "fast.json").exists() or len(log.read_text().splitlines()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.killpg(process.pid, stop)  # SIGKILL: no cleanup runs in the batch; SIGINT: as Ctrl-C in a terminal
    process.wait(timeout=30)  # on Ctrl-C the batch stops its gradings at once, it does not wait for them
    assert (out / "results" / "fast.json").exists() and not (out / "gradebook.csv").exists()
    assert not (out / "results" / "slow1.json").exists() and not (out / "results" / "slow2.json").exists()
    children = [int(line.split()[-1]) for line in log.read_text().splitlines() if line.startswith("slow")]
    assert len(children) == 2 and all(gone(pid, within=10) for pid in children)  # they ended with the batch
    for name in ("slow1", "slow2"):
        fake_notebook(folder / f"{name}.ipynb", log, passed=["second"], delay=0)
    log.write_text("")
    records = run(folder, out, jobs=2)
    assert calls(log) == ["slow1.ipynb", "slow2.ipynb"]
    assert [(r["learner"], r["score"], r["cached"]) for r in records] == [
        ("fast", 1, True),
        ("slow1", 1, False),
        ("slow2", 1, False),
    ]


def gone(pid, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_grader_that_dies_costs_only_its_submission(tmp_path, log):
    folder = tmp_path / "class"
    folder.mkdir()
    fake_notebook(folder / "killer.ipynb", log, die=True)
    fake_notebook(folder / "good.ipynb", log, passed=list(EXERCISES))
    records = {r["learner"]: r for r in run(folder, tmp_path / "out", jobs=2)}
    assert records["good"]["score"] == 3
    assert records["killer"]["score"] == 0
    assert records["killer"]["reason"] == (
        "not graded: the grading process ended without a result (it was killed or crashed)"
    )


def test_feedback_and_report_escape_the_learners_text(tmp_path, log):
    folder = tmp_path / "class"
    folder.mkdir()
    hostile = '<script>alert(1)</script> & =HYPERLINK("x")'
    fake_notebook(
        folder / "<b>mallory<b>.ipynb", log, passed=["first"], diagnosis="first raised ValueError: " + hostile
    )
    fake_notebook(folder / "=cmd.ipynb", log, passed=[], diagnosis=hostile)
    run(folder, tmp_path / "out")
    for page in [*(tmp_path / "out" / "feedback").iterdir(), tmp_path / "out" / "report.html"]:
        text = page.read_text()
        assert "<script>" not in text and "<b>mallory" not in text, page
    feedback = (tmp_path / "out" / "feedback" / "b-mallory-b.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; =HYPERLINK" in feedback
    rows = {row["learner"]: row for row in read_gradebook(tmp_path / "out")}
    assert rows["cmd"]["file"] == "'=cmd.ipynb"  # a spreadsheet shows it as text, not as a formula
    assert rows["b-mallory-b"]["lost_marks"].startswith("second: ")


def test_the_report_counts_learners_per_mistake(tmp_path, log):
    folder = tmp_path / "class"
    folder.mkdir()
    one_sided = (
        "gradient_check(x=2, theta={}, epsilon=0.01): expected difference 7.4e-06, got {}. gradapprox "
        "looks like a one-sided difference (J_plus - J) / epsilon: use theta_plus (steps 1.1 to 1.5)"
    )
    for index in range(3):
        fake_notebook(
            folder / f"s{index}.ipynb", log, passed=["first"], diagnosis=one_sided.format(index, index / 7)
        )
    fake_notebook(
        folder / "t.ipynb", log, passed=["first", "second"], diagnosis="third raised KeyError: 'W1'"
    )
    records = run(folder, tmp_path / "out")
    summary = classreport.summarize(records, EXERCISES)
    label = "gradapprox looks like a one-sided difference (J_plus - J) / epsilon"
    assert summary["mistakes"] == {
        "first": [],
        "second": [(label, 3)],
        "third": [(label, 3), ("third raised KeyError", 1)],
    }
    assert summary["pass_rate"] == {"first": 1.0, "second": 0.25, "third": 0.0}
    assert sorted(summary["scores"]) == [1, 1, 1, 2]
    report = (tmp_path / "out" / "report.html").read_text()
    assert report.count("<img src='data:image/png;base64,") == 3
    assert f"<td>second</td><td>{label}</td><td>3</td>" in report


ONE_SIDED = (
    "gradapprox looks like a one-sided difference (J_plus - J) / epsilon: use theta_plus (steps 1.1 to 1.5)"
)


@pytest.mark.parametrize(
    "diagnosis, label",
    [
        (
            "gradient_check(x=2, theta=1.5, epsilon=0.01): expected difference 7.4e-06, got 0.00333. "
            + ONE_SIDED,
            "gradapprox looks like a one-sided difference (J_plus - J) / epsilon",
        ),
        (
            "gradient_check gives a wrong result on one of the grader's hidden cases (other x, theta and "
            "epsilon than the public tests'). " + ONE_SIDED,
            "gradapprox looks like a one-sided difference (J_plus - J) / epsilon",
        ),
        (
            "gradient_check_n(..., epsilon=1e-07) on a 4x5x3x1 network: expected difference 0.285093, got "
            "0.286516. the loop skips the last entry (gradapprox[num_parameters - 1] stays 0, as with "
            "range(num_parameters - 1)): loop over every i",
            "the loop skips the last entry",
        ),
        ("forward_propagation(x=2, theta=4): expected 8, got 6", "wrong result (expected ..., got ...)"),
        (
            "forward_propagation is not implemented yet: it returned None. Write your code between ...",
            "forward_propagation is not implemented yet",
        ),
        (
            "forward_propagation raised ValueError on one of the grader's hidden cases (other x and theta "
            "than the public tests')",
            "forward_propagation raised ValueError on one of the grader's hidden cases",
        ),
        (
            "the grading did not finish within 60 s and was interrupted (an infinite loop?)",
            "the grading did not finish within 60 s and was interrupted",
        ),
    ],
)
def test_a_mistake_gets_the_same_label_whoever_made_it_and_wherever(diagnosis, label):
    assert classreport.mistake_label(diagnosis, known=[ONE_SIDED]) == label


def test_the_command_line_takes_a_glob_and_passes_grader_options(tmp_path, log, capsys):
    folder = tmp_path / "my class"
    folder.mkdir()
    fake_notebook(folder / "a b.ipynb", log, passed=["first"])
    fake_notebook(folder / "c.ipynb", log, passed=[])
    (folder / "notes.txt").write_text("ignored by the glob")
    assert (
        batch.main(
            [str(folder / "*.ipynb"), "--jobs", "2", "--out", str(tmp_path / "out"), "--delay", "0.01"],
            grader=FAKE,
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert sorted(out[:2]) == [
        "a-b (a b.ipynb): 1/3 in " + out_seconds(out, "a-b") + " s; lost second, third",
        "c (c.ipynb): 0/3 in " + out_seconds(out, "c") + " s; lost first, second, third",
    ]
    assert out[2].startswith("2 submissions (2 graded, 0 not graded); wrote ")
    assert [row["file"] for row in read_gradebook(tmp_path / "out")] == ["a b.ipynb", "c.ipynb"]


def out_seconds(lines, learner):
    return re.search(rf"^{learner} .* in ([\d.]+) s", "\n".join(lines), re.M).group(1)


def test_other_command_line_options_go_to_the_grader_as_literals():
    assert batch._other_options(["--wall-seconds", "20", "--memory-bytes=2e9", "--mode", "strict"]) == {
        "wall_seconds": 20,
        "memory_bytes": 2e9,
        "mode": "strict",
    }
    with pytest.raises(
        ValueError, match="unrecognized argument 'stray': give grader options as --name value"
    ):
        batch._other_options(["stray"])
    with pytest.raises(ValueError, match="--wall-seconds needs a value"):
        batch._other_options(["--wall-seconds"])


@pytest.mark.parametrize("jobs", [0, -1, 1.5])
def test_jobs_must_be_a_positive_integer(tmp_path, jobs):
    with pytest.raises(ValueError, match="`jobs` must be a positive integer"):
        batch.grade_batch([], tmp_path, jobs=jobs, grader=FAKE)


def test_a_glob_that_matches_nothing_is_an_error(tmp_path):
    with pytest.raises(
        ValueError, match="`submissions` must be a folder, a file or a glob that matches files"
    ):
        batch.find_submissions(str(tmp_path / "*.ipynb"))


def test_the_grader_fingerprint_covers_the_grader_not_the_batch():
    files = {path.relative_to(ROOT).as_posix() for path in batch.grader_files()}
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "assignment").glob("*.py")}
    data = {path.name for path in ROOT.glob("public_tests.json")}  # the public cases, where they are data
    assert modules - batch.NOT_GRADER <= files
    assert {"public_tests.py", "gc_utils.py", "testCases.py", "Gradient_Checking.ipynb", *data} <= files
    assert not files & batch.NOT_GRADER


# The real grader on a class: the solved notebook, the blank learner edition, a partly wrong one,
# broken files and hostile ones, names with spaces and accents, and two files for one learner.
def test_a_mixed_class_gets_one_correct_row_per_submission(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(class_notebook(), folder / "Ada Lovelace.ipynb")
    nbformat.write(class_notebook(), folder / "Zoë Brontë.ipynb")
    nbformat.write(class_notebook(blank=True), folder / "blank.ipynb")
    nbformat.write(class_notebook({"backward_propagation": WRONG_BACKWARD}), folder / "partly wrong.ipynb")
    nbformat.write(class_notebook({"gradient_check_n": INFINITE_LOOP}), folder / "looper.ipynb")
    faker = class_notebook({"forward_propagation": WRONG_FORWARD})
    faker.cells.append(nbformat.v4.new_code_cell(FAKE_LINES))
    nbformat.write(faker, folder / "faker.ipynb")
    forged = (
        "def forward_propagation(",
        FORGED_LINES + "\ndef forward_propagation(",
    )  # printed in a graded cell
    nbformat.write(class_notebook({"forward_propagation": forged}, blank=True), folder / "forger.ipynb")
    nbformat.write(class_notebook({"forward_propagation": KILL_PARENT}), folder / "killer.ipynb")
    (folder / "broken.ipynb").write_text('{"cells": [')
    (folder / "empty.ipynb").write_text("")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4")
    (folder / "huge.ipynb").write_bytes(b" " * (batch.MAX_MEGABYTES * 10**6 + 1))
    nbformat.write(class_notebook(), folder / "Bob.ipynb")
    nbformat.write(class_notebook(blank=True), folder / "bob.ipynb")
    records = batch.grade_batch(
        batch.find_submissions(str(folder)), tmp_path / "out", jobs=2, options=LIMITS, progress=False
    )
    scores = {r["file"]: r["score"] for r in records}
    assert scores == {
        "Ada Lovelace.ipynb": 5,
        "Zoë Brontë.ipynb": 5,
        "blank.ipynb": 0,
        "partly wrong.ipynb": 4,
        "looper.ipynb": 4,
        "faker.ipynb": 4,
        "forger.ipynb": 0,
        "killer.ipynb": 4,
        "broken.ipynb": 0,
        "empty.ipynb": 0,
        "scan.pdf": 0,
        "huge.ipynb": 0,
        "Bob.ipynb": 0,
        "bob.ipynb": 0,
    }
    rows = {row["file"]: row for row in read_gradebook(tmp_path / "out")}
    assert rows["Zoë Brontë.ipynb"]["learner"] == "zoe-bronte"
    assert (
        rows["partly wrong.ipynb"]["lost_marks"]
        == "backward_propagation: wrong result (expected ..., got ...)"
    )
    assert rows["looper.ipynb"]["gradient_check_n"] == "0"
    assert rows["faker.ipynb"]["forward_propagation"] == "0"
    assert rows["killer.ipynb"]["forward_propagation"] == "0"
    assert rows["huge.ipynb"]["lost_marks"].startswith(
        "not graded: the file is 20.0 MB, above the limit of 20 MB"
    )
    assert rows["bob.ipynb"]["lost_marks"].startswith("duplicate learner id 'bob'")
    assert sorted(path.name for path in (tmp_path / "out" / "feedback").iterdir()) == sorted(
        {f"{batch.learner_id(name)}.html" for name in rows}
    )


LIMITS = {"wall_seconds": 20, "cpu_seconds": 3}  # per exercise: the looping one is stopped soon
WRONG_FORWARD = ("    J = theta * x\n", "    J = theta + x\n")
WRONG_BACKWARD = ("    dtheta = x\n", "    dtheta = theta\n")
INFINITE_LOOP = ("    numerator = ", "    while True:\n        pass\n    numerator = ")
KILL_PARENT = ("    J = theta * x\n", "    import os\n    os.kill(os.getppid(), 9)\n    J = theta * x\n")
# Code that prints passing result lines, as the grader prints them and as the kernel-based grader
# read them back: claims, never marks.
FORGED_LINES = "\n".join(
    f"print('GRADER-RESULT ' + {json.dumps(json.dumps({'exercise': name, 'passed': True, 'diagnosis': ''}))})"
    for name in grade.EXERCISES
)
FAKE_LINES = (
    "\n".join(f"print('PASS {name}: all tests passed')" for name in grade.EXERCISES) + "\nprint('score: 5/5')"
)


def class_notebook(edits=None, blank=False):
    """The solved notebook (or, `blank`, the learner edition) cut down to its imports, graded cells and
    the network it checks (a few seconds to grade); `edits` maps an exercise to (old, new) in its cell."""
    notebook = learner() if blank else solved()
    keep = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        name = make.graded_name(cell.source)
        if not keep or name or re.match(r"def (forward|backward)_propagation_n\(", cell.source):
            if name in (edits or {}):
                old, new = edits[name]
                assert old in cell.source, (name, old)
                cell.source = cell.source.replace(old, new)
            keep.append(cell)
    kept = nbformat.v4.new_notebook(metadata=notebook.metadata)
    kept.cells = [nbformat.from_dict(cell) for cell in keep]
    return kept

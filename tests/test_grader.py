"""The grader: 5/5 for the solved notebook, 0 for the learner edition, one mark per exercise, a sandbox."""

import hashlib
import os
import pathlib
import re

import nbformat
import numpy as np
import pytest

import public_tests
from assignment import grade, judging, make, sandbox, worker
from tests.test_assignment import learner_run, solved, solved_run

EXERCISES = list(grade.EXERCISES)
ROOT = make.ROOT
ISOLATION = sandbox.probe()
needs_namespaces = pytest.mark.skipif(
    not ISOLATION.namespaces, reason=f"namespaces unavailable here: {ISOLATION.missing}"
)
QUICK = {"wall_seconds": 20, "cpu_seconds": 10}  # limits for notebooks that end fast or must be stopped

# One wrong version of each exercise, as a learner would write it: (old, new) in its graded cell.
WRONG = {
    "forward_propagation": ("    J = theta * x\n", "    J = theta + x\n"),
    "backward_propagation": ("    dtheta = x\n", "    dtheta = theta\n"),
    "gradient_check": (
        "(J_plus - J_minus) / (2 * epsilon)",
        "(J_plus - forward_propagation(x, theta)) / epsilon",
    ),
    "gradient_check_n": ("for i in range(num_parameters):", "for i in range(num_parameters - 1):"),
    "backward_propagation_n_fixed": ("np.dot(dZ2, A1.T)  # was", "np.dot(dZ2, A1.T) * 2  # was"),
}


def small_notebook(edits=None):
    """The solved notebook cut down to its imports and graded cells; `edits` maps exercise -> (old, new)."""
    notebook = solved()
    keep = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        name = make.graded_name(cell.source)
        if not keep or name:
            if name in (edits or {}):
                old, new = edits[name]
                assert old in cell.source, (name, old)
                cell.source = cell.source.replace(old, new)
            keep.append(cell)
    notebook.cells = keep
    return notebook


def with_cell(notebook, name, source):
    """`notebook` with the graded cell of `name` replaced by `source` (headed by its GRADED line)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and make.graded_name(cell.source) == name:
            cell.source = f"# GRADED FUNCTION: {name}\n{source}"
    return notebook


def graded(notebook, tmp_path, **options):
    path = tmp_path / "learner.ipynb"
    nbformat.write(notebook, path)
    return grade.grade_notebook(path, **options)


def by_exercise(result):
    return {r.exercise: r for r in result.results}


def test_the_solved_notebook_gets_full_marks():
    result = solved_run()
    assert [r.exercise for r in result.results] == EXERCISES
    assert all(r.passed for r in result.results), result.results
    assert result.score == 5


def test_the_learner_edition_gets_0_with_a_diagnosis_for_each_exercise():
    results = by_exercise(learner_run())
    assert learner_run().score == 0
    for name in EXERCISES[:4]:
        assert results[name].diagnosis.startswith(f"{name} is not implemented yet: it returned None")
    bug_fix = results["backward_propagation_n_fixed"].diagnosis
    assert re.match(r"backward_propagation_n_fixed\(X, Y, cache\) on the course's test case: the gradients "
                    r"still disagree .*difference = \d", bug_fix), bug_fix
    assert not re.search(r"\bd[Wb]\d|factor|twice|\d x\b", bug_fix), bug_fix  # names no gradient, no factor


def run_in_process(name, function, distributed, rng):
    """(passed, diagnosis) of `function` as the grader judges it, its calls run here by the worker's code."""
    calls = judging.calls(name, grade._reference(), rng)
    functions = {key: distributed[key] for key in judging.bound(calls)}
    outcomes = [
        grade._outcome(
            {
                "outcome": worker._call(
                    lambda case: public_tests.run_case(function, public_tests.from_json(case), functions),
                    judging.request(call)["case"],
                )
            }
        )
        for call in calls
    ]
    return judging.judge(name, calls, outcomes)


def learner_function(name, notebook_namespace, edit=None):
    """The solved notebook's `name`, `edit` (old, new) applied to its cell, defined over the namespace."""
    source = next(
        cell.source
        for cell in solved().cells
        if cell.cell_type == "code" and make.graded_name(cell.source) == name
    )
    if edit:
        source = source.replace(*edit)
    scope = dict(notebook_namespace)
    exec(compile(source, "<graded cell>", "exec"), scope)
    return scope[name]


def wrong_versions(notebook):
    """One wrong version of each exercise (`WRONG`), defined over the notebook's namespace."""
    return {name: learner_function(name, notebook, WRONG[name]) for name in EXERCISES}


@pytest.mark.parametrize("wrong", EXERCISES)
def test_one_wrong_exercise_loses_exactly_that_exercise(notebook, wrong):
    rng = np.random.default_rng(0)
    functions = dict({name: learner_function(name, notebook) for name in EXERCISES},
                     **{wrong: wrong_versions(notebook)[wrong]})
    verdicts = {name: run_in_process(name, functions[name], notebook, rng) for name in EXERCISES}
    assert [name for name, (passed, _) in verdicts.items() if not passed] == [wrong], verdicts


@pytest.mark.parametrize("seed", range(3))
def test_the_solutions_pass_the_hidden_cases_of_any_draw(notebook, seed):
    rng = np.random.default_rng(seed)
    for name in EXERCISES:
        assert run_in_process(name, learner_function(name, notebook), notebook, rng) == (
            True,
            "all tests passed",
        )


def test_a_hidden_failure_shows_neither_inputs_nor_the_learners_text(notebook):
    # Correct on the public cases only, and raising with its inputs in the message elsewhere.
    public = {(2, 4): 8, (-3.0, 0.5): -1.5, (0.25, -8.0): -2.0}

    def forward_propagation(x, theta):
        if (x, theta) not in public:
            raise RuntimeError(f"secret {x!r} {theta!r}")
        return public[(x, theta)]

    passed, diagnosis = run_in_process(
        "forward_propagation", forward_propagation, notebook, np.random.default_rng(1)
    )
    assert not passed
    assert diagnosis == (
        "forward_propagation raised RuntimeError on one of the grader's hidden cases (other x and "
        "theta than the public tests')"
    )


def test_a_wrong_hidden_result_names_the_known_mistake_without_numbers(notebook):
    # One-sided only where epsilon is not a public one: public cases pass, hidden ones do not.
    edit = (
        "gradapprox = (J_plus - J_minus) / (2 * epsilon)",
        "gradapprox = (J_plus - J_minus) / (2 * epsilon) if x in (2, 3, -1.2, -0.7) "
        "else (J_plus - forward_propagation(x, theta)) / epsilon",
    )
    function = learner_function("gradient_check", notebook, edit)
    passed, diagnosis = run_in_process("gradient_check", function, notebook, np.random.default_rng(2))
    assert not passed
    assert diagnosis.startswith(
        "gradient_check gives a wrong result on one of the grader's hidden cases (other x, "
        "theta and epsilon than the public tests')."
    )
    assert "one-sided difference" in diagnosis and not re.search(r"\d\.\d{3}|\de-\d", diagnosis), diagnosis


def test_a_notebook_with_one_exercise_wrong_scores_4_of_5(tmp_path, capsys):
    nbformat.write(
        small_notebook({"backward_propagation": WRONG["backward_propagation"]}), tmp_path / "l.ipynb"
    )
    assert grade.main([str(tmp_path / "l.ipynb")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("isolation: ")
    assert lines[-1] == "score: 4/5"
    assert [line.split(":")[0] for line in lines[1:-1]] == [
        "PASS forward_propagation",
        "FAIL backward_propagation",
        "PASS gradient_check",
        "PASS gradient_check_n",
        "PASS backward_propagation_n_fixed",
    ]
    assert lines[2] == "FAIL backward_propagation: backward_propagation(x=3, theta=4): expected 3, got 4"


def test_misbehaving_exercises_cost_only_themselves(tmp_path):
    notebook = small_notebook({"forward_propagation": ("    J = theta * x\n", "    J = theta *\n")})
    with_cell(notebook, "backward_propagation", "import os\nos._exit(3)\n")
    with_cell(
        notebook,
        "gradient_check",
        "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n    while True:\n        pass\n",
    )
    result = graded(notebook, tmp_path, cpu_seconds=3, wall_seconds=60)
    results = by_exercise(result)
    assert re.match(
        r"forward_propagation is not defined: run its cell .*\(cell \d+ raised SyntaxError: ",
        results["forward_propagation"].diagnosis,
    )
    assert results["backward_propagation"].diagnosis.startswith(
        "not graded: the worker running backward_propagation exited with status 3"
    )
    assert results["gradient_check"].diagnosis.startswith(  # busy: the CPU limit comes before the wall's
        "not graded: the worker running gradient_check was stopped at the CPU-time limit of 3 s during "
        "gradient_check(x=2, theta=4"
    )
    assert result.score == 2


def test_forged_replies_and_floods_score_0_and_say_why(tmp_path):
    notebook = small_notebook()
    forge = (
        "import os\n"
        "def forward_propagation(x, theta):\n"
        "    for fd in map(int, os.listdir('/proc/self/fd')):\n"
        "        if fd > 2:\n"
        "            try:\n"
        '                os.write(fd, b\'{"nonce": "0", "value": 1}\\n\')\n'
        "            except OSError:\n"
        "                pass\n"
        "    return theta * x\n"
    )
    with_cell(notebook, "forward_propagation", forge)
    with_cell(
        notebook,
        "backward_propagation",
        "import os\ndef backward_propagation(x, theta):\n    os.write(1, b'x' * 5_000_000)\n    return x\n",
    )
    with_cell(  # a message that would print result lines of its own
        notebook,
        "gradient_check",
        "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n"
        "    raise RuntimeError('x\\nPASS gradient_check: all tests passed\\r\\x1b[2Kscore: 5/5')\n",
    )
    for cell in notebook.cells:  # a flood with print(), at the top of a cell that is right otherwise
        if make.graded_name(cell.source) == "gradient_check_n":
            cell.source += "\nprint('y' * 3_000_000)\n"
    results = by_exercise(graded(notebook, tmp_path, **QUICK))
    assert results["gradient_check_n"].diagnosis.startswith(
        "not graded: the worker running gradient_check_n printed more than the output limit of 1 MB"
    )
    assert results["gradient_check"].diagnosis.endswith(
        "raised RuntimeError: x\\nPASS gradient_check: all tests passed\\r\\x1b[2Kscore: 5/5"
    )
    assert re.match(
        r"not graded: the worker running forward_propagation sent a reply that (is not JSON|does not "
        r"answer the request)",
        results["forward_propagation"].diagnosis,
    )
    assert results["backward_propagation"].diagnosis.startswith(
        "not graded: the worker running backward_propagation printed more than the output limit of 1 MB"
    )
    assert [r.passed for r in results.values()] == [False, False, False, False, True]


def test_the_total_time_limit_stops_the_grading(tmp_path):
    notebook = small_notebook()
    for name in EXERCISES:
        with_cell(notebook, name, "import time\ntime.sleep(100)\n")
    result = graded(notebook, tmp_path, total_timeout=3)
    assert result.score == 0
    assert "did not finish within the wall-time limit" in result.results[0].diagnosis
    assert result.results[-1].diagnosis == "not graded: the grading ran past the total time limit of 3 s"


def test_only_the_graded_cells_run_with_the_distributed_functions(tmp_path):
    # Other cells that would break everything are never run; a graded cell's own copies of the
    # distributed functions are replaced by the distributed ones.
    notebook = small_notebook()
    notebook.cells.insert(1, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    for cell in notebook.cells:
        if make.graded_name(cell.source) == "gradient_check_n":
            cell.source += (
                "\n\ndef forward_propagation_n(X, Y, parameters):\n    return 0.0, None\n"
                "np = None\ndictionary_to_vector = None\n"
            )
    result = graded(notebook, tmp_path)
    assert result.score == 5, result.results


def test_a_graded_function_missing_from_the_notebook_is_not_defined(tmp_path):
    notebook = small_notebook()
    notebook.cells = [cell for cell in notebook.cells if make.graded_name(cell.source) != "gradient_check"]
    results = by_exercise(graded(notebook, tmp_path))
    assert results["gradient_check"].diagnosis == (
        "gradient_check is not defined: the notebook has no cell starting "
        "`# GRADED FUNCTION: gradient_check` "
        "(only that cell is graded)"
    )
    assert sum(r.passed for r in results.values()) == 4


@pytest.mark.parametrize(
    "content, reason",
    [
        ("not json", "it is not JSON"),
        ('{"cells": 3}', "it is not a Jupyter notebook"),
        ('{"cells": [{"cell_type": "code", "source": 5}]}', "cell 0 has a source that is not text"),
    ],
)
def test_a_file_that_is_not_a_notebook_scores_0(tmp_path, content, reason):
    (tmp_path / "x.ipynb").write_text(content)
    result = grade.grade_notebook(tmp_path / "x.ipynb")
    assert result.score == 0
    assert all(
        r.diagnosis.startswith(f"could not read {tmp_path / 'x.ipynb'}: {reason}") for r in result.results
    )


def test_a_notebook_over_the_size_limit_is_not_read(tmp_path):
    (tmp_path / "x.ipynb").write_text(" " * 2000)
    result = grade.grade_notebook(tmp_path / "x.ipynb", notebook_bytes=1000)
    assert all(r.diagnosis.endswith("it is larger than 1000 bytes") for r in result.results)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"wall_seconds": 0}, "`wall_seconds` must be a positive number, got 0"),
        ({"memory_bytes": -1}, "`memory_bytes` must be a positive number, got -1"),
        ({"total_timeout": -1}, "`total_timeout` must be a positive number, got -1"),
    ],
)
def test_limits_must_be_positive(tmp_path, options, match):
    with pytest.raises(ValueError, match=match):
        grade.grade_notebook(tmp_path / "x.ipynb", **options)


def test_unknown_options_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"unknown options \['cell_timeout'\]"):
        grade.grade_notebook(tmp_path / "x.ipynb", cell_timeout=3)


def test_without_namespaces_the_grader_says_so_and_still_grades(tmp_path):
    result = graded(small_notebook(), tmp_path, namespaces=False)
    assert result.isolation.startswith("isolation: NO namespaces (turned off)")
    assert result.score == 5


# ---------------------------------------------------------------------------------------------
# The sandbox itself: facts a learner's code can observe


FACTS = """
def facts(path):
    import os, resource, socket, sys
    found = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "ppid": os.getppid(),
             "cwd": os.getcwd(), "path": sys.path}
    try:
        open(path).read(1)
        found["read"] = True
    except OSError:
        found["read"] = False
    try:
        import assignment
        found["assignment"] = True
    except ImportError:
        found["assignment"] = False
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=1)
        found["network"] = True
    except OSError as error:
        found["network"] = type(error).__name__
    for name in ("AS", "NPROC", "FSIZE", "CPU", "CORE"):
        found[name] = resource.getrlimit(getattr(resource, "RLIMIT_" + name))[0]
    return found
"""


MODULES = [
    ROOT / name for name in ("public_tests.py", "public_tests.json", "testCases.py")
]  # the worker's own needs


def start_worker(box, graded_source, name):
    w = box.start()
    w.__enter__()
    boot = w.request({"distributed": "", "graded": graded_source, "exercise": name, "bound": []})
    return w, boot


def call(w, *args):
    """(value, error) of the worker's function called on `args` (as a case without bindings)."""
    case = {"exercise": "forward_propagation", "call": "a call", "args": list(args)}
    outcome = grade._outcome(w.request({"case": public_tests.to_json(case)}))
    return public_tests.decode(outcome["value"]), outcome["error"]


@needs_namespaces
def test_the_worker_sees_neither_the_repository_nor_the_grader():
    limits = sandbox.Limits()
    with sandbox.Sandbox(MODULES, ISOLATION, limits) as box:
        w, boot = start_worker(box, FACTS, "facts")
        try:
            assert boot["defined"], boot
            found = call(w, str(make.SOLVED))[0]
        finally:
            w.__exit__(None, None, None)
    assert found["read"] is False and found["assignment"] is False
    assert not any(str(ROOT) in entry for entry in found["path"]), found["path"]
    assert (found["uid"], found["gid"], found["groups"]) == (sandbox.UNPRIVILEGED, sandbox.UNPRIVILEGED, [])
    assert found["ppid"] == 1 and found["ppid"] != os.getpid()  # its parent is the namespace's init
    assert found["network"] in ("OSError", "ConnectionRefusedError") or "Network" in found["network"]
    assert (found["AS"], found["NPROC"], found["FSIZE"], found["CORE"]) == (
        limits.memory_bytes,
        limits.processes,
        limits.file_bytes,
        0,
    )
    assert found["CPU"] == limits.cpu_seconds
    assert found["cwd"] == f"{sandbox.SANDBOX}/work"
    assert w.left == []


def test_limits_apply_to_the_worker():
    limits = sandbox.Limits(memory_bytes=2**30, wall_seconds=20)
    with sandbox.Sandbox(MODULES, ISOLATION, limits) as box:
        w, boot = start_worker(box, "import numpy as np\ndef grab(n):\n    return np.ones(n).sum()\n", "grab")
        try:
            assert call(w, 10) == (10, None)
            assert call(w, 2**28)[1]["type"] == "MemoryError"  # 2 GB of float64 > 1 GB
        finally:
            w.__exit__(None, None, None)


def test_every_process_the_submission_starts_is_ended(tmp_path):
    marker = f"{os.getpid()}.{secrets_token()}"
    source = (
        f"import subprocess\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        f"subprocess.Popen(['sh', '-c', '(sleep {marker} &) ; sleep {marker}'])\n"
        f"def f():\n    return 1\n"
    )
    for isolation in {ISOLATION, sandbox.Isolation(False, None, "turned off")}:
        with sandbox.Sandbox(MODULES, isolation, sandbox.Limits(wall_seconds=20)) as box:
            w, boot = start_worker(box, source, "f")
            try:
                assert call(w) == (1, None)
                assert running(marker), "the test's processes did not start"
            finally:
                w.__exit__(None, None, None)
        assert w.left == [] and not running(marker), isolation


@needs_namespaces  # without them, the worker runs as this user and could write the repository
def test_grading_changes_no_file_of_the_repository(tmp_path):
    before = repository_digest()
    targets = [str(path) for path in (ROOT / "assignment").glob("*.py")] + [str(ROOT / "public_tests.py")]
    tamper = (
        "import glob\n"
        f"for path in {targets!r} + glob.glob('/sandbox/modules/*.py'):\n"
        "    try:\n"
        "        open(path, 'a').write('# tampered\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "def forward_propagation(x, theta):\n    return theta * x\n"
    )
    notebook = with_cell(small_notebook(), "forward_propagation", tamper)
    result = graded(notebook, tmp_path)
    assert by_exercise(result)["forward_propagation"].passed
    assert repository_digest() == before


def repository_digest():
    """Hash of every file under the repository except .venv, build and __pycache__."""
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(set(subdirectories) - {".venv", "build", "__pycache__", ".git"})
        for name in sorted(files):
            path = pathlib.Path(directory, name)
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def running(marker):
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def secrets_token():
    import secrets

    return secrets.randbelow(10**6)

"""The grader against a cheating learner (issue 13): each submission must score 0 on what it did not solve.

Each test grades one submission of `tests/attacks/submissions.py` with the grader's command line,
as `make grade` does, and checks that:
- the grader finished and printed its five result lines and a score, and nothing the learner
  printed shows up as a result line;
- the exercises solved for real PASS, every other one FAILs, and an exercise stopped by a limit
  or an event names it;
- no diagnosis shows solution code, the grader's code, or a case the grader kept hidden;
- the repository is byte-identical afterwards, nothing was written beside it (site-packages,
  the standard library, /tmp, /dev/shm, ~), and the grader never unpickled learner data;
- no process the submission started is alive 2 s after the grader exits.

The attack code is in `tests/attacks/payloads.py`. The attacks that could harm the machine if
a grader ran them unsandboxed fire only inside a PID namespace as a non-root user; elsewhere the
exercise hosting them returns the right answer, so the test fails instead (see that module).
"""

import functools
import glob
import os
import pathlib
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid

import nbformat
import numpy as np
import pytest

import public_tests
from assignment.make import make_learner_edition, support_files
from tests.attacks import ROOT, graded_cell, solved_notebook
from tests.attacks.submissions import BUILDERS, EXERCISES, HIDDEN_GOT, hard_coded, record_public_answers

GRADER_TIMEOUT = 400  # s: over the grader's default total limit (300 s); a grader that hangs fails the test
GRACE = 2.0  # s: processes may take this long to go after the grader exits
IGNORED_DIRS = {".venv", "build", "__pycache__", ".hypothesis", ".pytest_cache"}
# Options that shorten the grader's time limits, used only if its --help offers them (value in s).
SHORT_LIMITS = {"--wall-seconds": "15", "--cpu-seconds": "5", "--cell-timeout": "8", "--timeout": "8",
                "--cpu-time": "5", "--total-timeout": "120"}
MAX_OUTPUT = 1 << 20  # bytes: the grader's own output; a grader that echoes a flood goes along with it


class Graded:
    """What one run of the grader's command line printed, and what it left behind."""

    def __init__(self, returncode, stdout, stderr, seconds):
        self.returncode, self.stdout, self.stderr, self.seconds = returncode, stdout, stderr, seconds
        self.lines = stdout.splitlines()
        self.results = {}  # exercise -> (passed, diagnosis), from the last line naming it before the score
        self.score = None
        self.in_format = False  # the five result lines are the five lines just before the score
        ends = [index for index, line in enumerate(self.lines) if line.strip()]
        match = re.fullmatch(r"score: (\d+)/(\d+)", self.lines[ends[-1]]) if ends else None
        if not match:
            return
        self.score = int(match[1])
        for line in self.lines[:ends[-1]]:
            result = re.match(r"(PASS|FAIL) (\w+): (.*)", line)
            if result and result[2] in EXERCISES:
                self.results[result[2]] = (result[1] == "PASS", result[3])
        before_score = self.lines[max(0, ends[-1] - len(EXERCISES)):ends[-1]]
        named = [re.match(r"(?:PASS|FAIL) (\w+): ", line) for line in before_score]
        self.in_format = [match and match[1] for match in named] == list(EXERCISES)

    def explain(self):
        return (f"grader exit status {self.returncode} after {self.seconds:.1f} s\n"
                f"--- stdout (last 3000 chars)\n{self.stdout[-3000:]}\n"
                f"--- stderr (last 3000 chars)\n{self.stderr[-3000:]}")


# ---------------------------------------------------------------------------------------------
# Running the grader, and what to look at before and after


@functools.cache
def grader_help():
    """The grader's --help text (read once per session)."""
    return subprocess.run([sys.executable, "-m", "assignment.grade", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120).stdout


def short_limit_options():
    """The options of SHORT_LIMITS that this grader has, with their values."""
    offered = set(re.findall(r"--[a-z][a-z0-9-]*", grader_help()))
    return [part for option, value in SHORT_LIMITS.items() if option in offered for part in (option, value)]


def run_grader(path, marker, options=()):
    """Grade `path` with the command line, in a session of its own; kill that session if it hangs."""
    env = dict(os.environ, ATTACK_MARKER=marker)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        # Files, not pipes: a leftover process holding the grader's stdout must not hang this test.
        process = subprocess.Popen([sys.executable, "-m", "assignment.grade", str(path), *options], cwd=ROOT,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                   start_new_session=True)
        try:
            returncode = process.wait(timeout=GRADER_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session this test started for the grader
            returncode = process.wait()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Graded(returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                      seconds)


def repository_files():
    """{relative path: bytes} of every file under the repository, except the ignored directories."""
    files = {}
    for top, dirs, names in os.walk(ROOT):
        dirs[:] = [name for name in dirs if name not in IGNORED_DIRS]
        for name in names:
            path = pathlib.Path(top, name)
            if path.is_symlink() or not path.is_file():
                files[str(path.relative_to(ROOT))] = f"link or special: {os.path.realpath(path)}".encode()
                continue
            files[str(path.relative_to(ROOT))] = path.read_bytes()
    return files


def restore(before):
    """Put the repository back as `before` found it; return the paths that differed."""
    after = repository_files()
    changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    for path in changed:
        target = ROOT / path
        if path in before:
            target.write_bytes(before[path])
        else:
            target.unlink()
    return changed


def outside_dirs():
    """Directories beside the repository where a submission must leave nothing."""
    paths = sysconfig.get_paths()
    dirs = {paths["purelib"], paths["stdlib"], os.path.join(paths["stdlib"], "json"),
            os.path.dirname(np.__file__), os.path.dirname(nbformat.__file__), tempfile.gettempdir(), "/tmp",
            "/dev/shm", "/var/tmp", os.path.expanduser("~")}
    return sorted(path for path in dirs if os.path.isdir(path))


def files_left_outside(marker):
    """Files whose name carries `marker` beside the repository (and one or two levels into /tmp)."""
    found = []
    for directory in outside_dirs():
        found += [os.path.join(directory, name) for name in os.listdir(directory) if marker in name]
    for pattern in ("/tmp/*/*", "/tmp/*/*/*"):
        found += [path for path in glob.glob(pattern) if marker in os.path.basename(path)]
    return sorted(set(found))


def marked_processes(marker):
    """{pid: what marks it} for live processes carrying `marker` (command line, comm, or environment)."""
    comm = "atk" + marker[:12]
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            texts = {}
            for name in ("cmdline", "comm", "environ"):
                with open(f"/proc/{pid}/{name}", "rb") as handle:
                    texts[name] = handle.read().decode(errors="replace")
        except (OSError, IndexError):
            continue
        marked = f"ATTACK_MARKER={marker}" in texts["environ"]
        if marker in texts["cmdline"] or texts["comm"].strip() == comm or marked:
            found[int(pid)] = texts["cmdline"].replace("\0", " ").strip()[:200] or texts["comm"].strip()
    return found


def end_marked_processes(marker):
    """Wait GRACE s for the submission's processes to go; then kill those left, by pid. Return those left."""
    deadline = time.monotonic() + GRACE
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = marked_processes(marker)
    for _ in range(50):  # a process that forks away every 0.1 s needs several rounds
        alive = marked_processes(marker)
        if not alive:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
    return left


# ---------------------------------------------------------------------------------------------
# What no diagnosis may show


def _normalised(text):
    """`text` with escaped newlines and quotes undone and runs of white space made one space."""
    text = text.replace("\\n", " ").replace("\\'", "'").replace('\\"', '"')
    return " ".join(text.split())


@functools.cache
def secret_lines():
    """Lines of solution code and of the grader's reference code that the learner side never sees.

    The lines of the solved notebook's solution blocks and bug fixes, and the code lines of every
    grader module under assignment/ that holds such lines (the reference); minus anything the
    learner edition or the files shipped with it show anyway.
    """
    solved = solved_notebook()
    solution = set()
    for cell in solved.cells:
        if cell.cell_type != "code" or not cell.source.startswith("# GRADED FUNCTION"):
            continue
        inside = False
        for line in cell.source.splitlines():
            if line.strip() in {"# YOUR CODE STARTS HERE", "# YOUR CODE ENDS HERE"}:
                inside = line.strip() == "# YOUR CODE STARTS HERE"
            elif inside or "# was:" in line:
                solution.add(_normalised(line.split("# was:")[0]))
    shipped = _normalised(" \n ".join(
        [cell.source for cell in make_learner_edition(solved).cells]
        + [path.read_text() for path in support_files() if path.is_file() and path.suffix == ".py"]))
    secrets = {line for line in solution if len(line) >= 16 and line not in shipped}
    for path in sorted((ROOT / "assignment").glob("*.py")):
        text = _normalised(path.read_text())
        if sum(secret in text for secret in secrets) < 2:
            continue
        for line in path.read_text().splitlines():
            code = _normalised(line)
            if len(code) >= 24 and not re.match(r"[rbfRBF]*[\"'#]", code) and code not in shipped:
                secrets.add(code)
    return frozenset(secrets)


def leaked_secrets(text):
    """The secret lines that `text` shows."""
    shown = _normalised(text)
    return sorted(secret for secret in secret_lines() if secret in shown)


# ---------------------------------------------------------------------------------------------
# The check every submission goes through


def grade_attack(submission, tmp_path, marker):
    """Grade `submission` and assert everything the module docstring lists; return the Graded run."""
    path = tmp_path / f"{submission.name}.ipynb"
    nbformat.write(submission.notebook, path)
    options = short_limit_options() if submission.short_limits else []
    target = ROOT / f".attack-target-{marker}"  # the only repository the tampering attack may touch
    target.write_text("the repository under test\n")
    before = repository_files()
    try:
        graded = run_grader(path, marker, options)
    finally:
        left_processes = end_marked_processes(marker)
        changed = restore(before)
        target.unlink()
        left_files = files_left_outside(marker)
        for left in left_files:
            try:
                os.unlink(left)
            except OSError:
                pass
    report = graded.explain()
    problems = _problems(submission, graded) + _leftovers(changed, left_files, left_processes)
    assert not problems, "\n".join(f"- {problem}" for problem in problems) + "\n" + report
    return graded


def _problems(submission, graded):
    """What is wrong with the grader's output on `submission` (empty if nothing)."""
    if graded.score is None or set(graded.results) != set(EXERCISES):
        return ["the grader did not finish with five result lines and a score"]
    problems = []
    for name in EXERCISES:
        passed, diagnosis = graded.results[name]
        if name in submission.solved and not passed:
            problems.append(f"{name} is solved for real but FAILed: {diagnosis[:300]}")
        elif name not in submission.solved and passed:
            problems.append(f"{name} PASSed without being solved; it hosts: {submission.hosted.get(name)}")
        pattern = submission.diagnoses.get(name)
        if pattern and not re.search(pattern, diagnosis, re.I):
            problems.append(f"the diagnosis of {name} does not say what stopped it (expected /{pattern}/; it "
                            f"hosts: {submission.hosted.get(name)}): {diagnosis[:300]}")
    if graded.score != sum(passed for passed, _ in graded.results.values()):
        problems.append(f"the score {graded.score} is not the number of PASS lines")
    if graded.returncode <= 0:
        problems.append(f"exit status {graded.returncode} below full marks")
    if not graded.in_format:
        problems.append("a diagnosis spans lines: learner text could forge result lines")
    forged = [line for line in graded.lines if re.match(r"\s*(PASS|FAIL) |\s*score:|\s*GRADER-RESULT", line)]
    if len(forged) != len(EXERCISES) + 1:
        problems.append(f"the grader's output has {len(forged)} result-like lines, not its own five and the "
                        "score: learner text reached it")
    if len(graded.stdout) >= MAX_OUTPUT:
        problems.append(f"the grader printed {len(graded.stdout)} bytes")
    if leaked_secrets(graded.stdout):
        problems.append(f"the feedback shows solution or grader code: {leaked_secrets(graded.stdout)[:5]}")
    if "SMUGGLED-CASE" in graded.stdout:
        problems.append("the feedback shows a hidden case that the learner's code smuggled out")
    return problems


def _leftovers(changed, left_files, left_processes):
    """What grading left behind (each already undone by the caller), as problems."""
    problems = []
    if changed:
        problems.append(f"grading changed the repository (restored since): {changed}")
    if left_files:
        problems.append(f"grading left files beside the repository (removed since): {left_files}; "
                        "/tmp/attack-unpickled-*: the grader unpickled a return value and ran its code")
    if left_processes:
        problems.append(f"processes of the submission were alive {GRACE:g} s after grading (killed since): "
                        f"{left_processes}")
    return problems


@pytest.fixture
def marker():
    return uuid.uuid4().hex


@pytest.mark.parametrize("build", BUILDERS, ids=[build.__name__ for build in BUILDERS])
def test_an_attack_scores_0_on_what_it_did_not_solve_and_leaves_nothing(build, tmp_path, marker):
    submission = build(marker)
    grade_attack(submission, tmp_path, marker)


def test_answers_memorised_for_the_public_cases_fail_on_the_graders_own(notebook, tmp_path, marker):
    answers, public_numbers = record_public_answers(notebook)
    submission = hard_coded(marker, answers)
    _assert_passes_the_public_tests(submission, notebook)
    graded = grade_attack(submission, tmp_path, marker)
    for name in ("forward_propagation", "backward_propagation"):
        shown = _unexplained_numbers(graded.results[name][1], public_numbers | {HIDDEN_GOT})
        assert not shown, (f"the diagnosis of {name} shows numbers of no public case (a hidden case or its "
                           f"expected value?): {shown}\n{graded.explain()}")


def _assert_passes_the_public_tests(submission, notebook):
    """The memorised functions pass every public test: the attack is worth trying."""
    scope = dict(notebook)
    for name in EXERCISES:
        exec(compile(graded_cell(submission.notebook, name).source, f"<memorised {name}>", "exec"), scope)
    public_tests.forward_propagation_test(scope["forward_propagation"])
    public_tests.backward_propagation_test(scope["backward_propagation"])
    public_tests.gradient_check_test(scope["gradient_check"])
    public_tests.gradient_check_n_test(scope["gradient_check_n"], notebook["forward_propagation_n"],
                                       notebook["backward_propagation_n"])
    public_tests.backward_propagation_n_test(scope["backward_propagation_n_fixed"],
                                             notebook["forward_propagation_n"])


def _unexplained_numbers(text, allowed):
    """Numbers in `text` that are no small count, no tolerance, and not within 1e-6 of an `allowed` one."""
    found = []
    for token in re.findall(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?", text):
        value = float(token)
        if abs(value) < 1e-3 or (value == int(value) and abs(value) < 1000):
            continue
        if not any(abs(value - other) <= 1e-6 * max(1.0, abs(other)) for other in allowed):
            found.append(token)
    return found


def test_the_leak_detector_sees_solution_code_and_passes_the_learner_edition():
    # Guards the check above against going blind: solution code pasted into a diagnosis (with its
    # newlines escaped, as a grader may print it) is seen; the learner edition's own code is not.
    solution = graded_cell(solved_notebook(), "gradient_check_n").source
    assert leaked_secrets("FAIL gradient_check_n: raised RuntimeError: " + solution.replace("\n", "\\n"))
    learner = "\n".join(cell.source for cell in make_learner_edition(solved_notebook()).cells)
    assert not leaked_secrets(learner)


def test_the_hidden_number_detector_sees_a_case_that_is_not_public():
    public = {2.0, 4.0, 8.0, HIDDEN_GOT}
    hidden = "forward_propagation(x=-1.7, theta=2.5): expected -4.25, got 4242"
    assert _unexplained_numbers(hidden, public) == ["-1.7", "2.5", "-4.25"]
    assert not _unexplained_numbers("forward_propagation(x=2, theta=4): expected 8, got 4242 (3 of 5 cases)",
                                    public)

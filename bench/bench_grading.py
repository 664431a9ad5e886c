"""Benchmark of class grading: submissions per minute with one and two jobs, and one grading against one run.

Run from the repository root (`make bench` calls it after bench.py)::

    .venv/bin/python bench/bench_grading.py            # print the figures and the targets, exit 0
    .venv/bin/python bench/bench_grading.py --check    # same, but exit 1 if a target is missed

What is measured
----------------
- ``throughput``: `assignment.batch.grade_batch` on COPIES copies of the solved notebook (a
  fresh output folder each time, so nothing comes from an earlier run), with ``--jobs 1`` and
  with ``--jobs 2``, in turn, REPEATS times, the best of each kept (load from other processes
  only ever adds time): wall time of the whole batch, gradebook and report included, and
  submissions per minute. Every copy must score full marks, or the figures mean nothing. One
  batch of one copy runs first, untimed: it starts the process that the children are forked
  from (imports: about 2 s, once per command), which is printed but is not throughput.
- ``one grading``: `assignment.grade.grade_notebook` on the solved notebook, in this process,
  against one plain execution of the same notebook with nbclient (a fresh kernel, the
  notebook's support files beside it, no grading): what grading adds to running the notebook.

The targets (issue 15), as ratios of times measured in this run
---------------------------------------------------------------
- ``--jobs 2`` reaches at least SPEEDUP_TARGET x the throughput of ``--jobs 1`` (2 cores).
- One grading takes at most one plain execution + GRADING_SLACK seconds.

With so few repeats, on a loaded machine the figures move by tens of percent: run it on an
idle machine before reading much into a miss. A missed target prints MISS; only `--check` turns
a miss into exit status 1.
"""

import argparse
import contextlib
import io
import os
import pathlib
import shutil
import sys
import tempfile
import time

# Run as a script from anywhere: the repository root holds assignment/ and the notebook.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from assignment import batch, grade  # noqa: E402
from assignment.make import SOLVED, copy_support_files  # noqa: E402

COPIES = 8
JOBS = (1, 2)
REPEATS = 2
SPEEDUP_TARGET = 1.7  # --jobs 2 over --jobs 1, on 2 cores
GRADING_SLACK = 5.0  # s: one grading may take one plain execution of the notebook plus this


def main(argv=None):
    """Measure, print the figures and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    print(f"Class grading on {os.cpu_count()} cores, {COPIES} copies of {SOLVED.name}")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as directory:
        directory = pathlib.Path(directory)
        paths = []
        for index in range(COPIES):
            paths.append(directory / "class" / f"learner {index + 1}.ipynb")
            paths[-1].parent.mkdir(exist_ok=True)
            shutil.copy(SOLVED, paths[-1])
        warm_up, _ = _time_batch(paths[:1], directory / "out-warm-up", 1)
        print(f"  warm-up (one copy, the fork server's start included): {warm_up:.1f} s")
        best = {jobs: float("inf") for jobs in JOBS}
        for repeat in range(REPEATS):
            for jobs in JOBS:
                seconds, scores = _time_batch(paths, directory / f"out-{jobs}-{repeat}", jobs)
                best[jobs] = min(best[jobs], seconds)
                marks = (
                    "all full marks" if set(scores) == {len(grade.EXERCISES)} else f"SCORES {sorted(scores)}"
                )
                print(f"  --jobs {jobs}: {seconds:6.1f} s for {COPIES} ({marks})")
        per_minute = {jobs: 60 * COPIES / seconds for jobs, seconds in best.items()}
        for jobs in JOBS:
            print(f"  --jobs {jobs}, best of {REPEATS}: {per_minute[jobs]:5.1f} submissions/min")
        grading, plain = _time_grading(), _time_plain_execution(directory / "plain")
        print(f"  one grading: {grading:.1f} s; one plain execution of the notebook: {plain:.1f} s")
    speedup = per_minute[JOBS[1]] / per_minute[JOBS[0]]
    targets = [
        (
            f"--jobs 2 / --jobs 1 throughput = {speedup:.2f} (target >= {SPEEDUP_TARGET})",
            speedup >= SPEEDUP_TARGET,
        ),
        (
            f"one grading - plain execution = {grading - plain:+.1f} s (target <= {GRADING_SLACK:g} s)",
            grading <= plain + GRADING_SLACK,
        ),
    ]
    print("\nTargets (issue 15):")
    for text, ok in targets:
        print(f"  {'ok  ' if ok else 'MISS'} {text}")
    return 1 if args.check and not all(ok for _, ok in targets) else 0


def _time_batch(paths, out, jobs):
    """Wall time of grading `paths` into `out` with `jobs` jobs, and the scores."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its one line per submission
        records = batch.grade_batch(paths, out, jobs=jobs, progress=False)
    return time.perf_counter() - started, [record["score"] for record in records]


def _time_grading():
    started = time.perf_counter()
    result = grade.grade_notebook(SOLVED)
    seconds = time.perf_counter() - started
    if result.score != len(grade.EXERCISES):
        raise RuntimeError(f"the solved notebook scored {result.score}: the timing means nothing")
    return seconds


def _time_plain_execution(workdir):
    """Wall time of executing the solved notebook once in a fresh kernel, as `jupyter nbconvert --execute`."""
    copy_support_files(workdir)
    notebook = nbformat.read(SOLVED, as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())

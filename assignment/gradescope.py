"""The Gradescope autograder: build its zip, and grade one submission inside Gradescope's container.

Usage:
    python -m assignment.gradescope build [OUT.zip]   (what `make autograder` runs)
    python -m assignment.gradescope run [ROOT]        (what run_autograder runs; ROOT: /autograder)

Gradescope unpacks the zip into ``ROOT/source/``, runs ``setup.sh`` once to build its image, and
for each submission copies ``run_autograder`` to ``ROOT/``, puts the learner's files in
``ROOT/submission/`` and reads ``ROOT/results/results.json``. The grading is the batch's
(`assignment.batch.grade_file`): the same grader, options and learner edition as `make grade`,
in a child process, so that results.json is written even if the grading process is killed.
"""

import json
import pathlib
import sys
import zipfile

from assignment import batch, classreport, grade
from assignment.make import LEARNER, ROOT, SOLVED

SCRIPTS = ROOT / "assignment" / "autograder"  # setup.sh and run_autograder, placed at the zip's root
ZIP = ROOT / "build" / "autograder.zip"
AUTOGRADER_ROOT = pathlib.Path("/autograder")
EXPECTED_NAMES = (LEARNER.name, SOLVED.name)  # preferred when a submission holds several notebooks
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same files give the same zip


def main(argv=None):
    """`build [OUT]` or `run [ROOT]`; exit 0 when the zip or results.json is written."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("build", "run") or len(argv) > 2:
        print(__doc__.split("\n\n")[0] + "\n" + __doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    if argv[0] == "build":
        out = pathlib.Path(argv[1]) if len(argv) > 1 else ZIP
        names = build(out)
        print(f"wrote {out} ({len(names)} files): upload it as the assignment's autograder on Gradescope")
    else:
        results = run(pathlib.Path(argv[1]) if len(argv) > 1 else AUTOGRADER_ROOT)
        print(results["output"])
    return 0


def bundle_files(root=ROOT):
    """Repository files the autograder needs: the grader's files, this issue's modules, requirements.txt.

    Never the venv, build/, tests/ or bench/.

    Returns
    -------
    list of pathlib.Path, sorted
    """
    own = [root / name for name in sorted(batch.NOT_GRADER)]
    return sorted({*batch.grader_files(root), *own, root / "requirements.txt"})


def build(out, root=ROOT):
    """Write the autograder zip to `out`: setup.sh and run_autograder at its root, then the source files.

    Returns
    -------
    list of str
        The names in the zip, in order.
    """
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = [(script.name, script) for script in sorted((root / SCRIPTS.relative_to(ROOT)).iterdir())]
    entries += [(path.relative_to(root).as_posix(), path) for path in bundle_files(root)]
    temporary = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    temporary.replace(out)
    return [name for name, _ in entries]


def run(root=AUTOGRADER_ROOT):
    """Grade the notebook in `root`/submission/, write `root`/results/results.json; return its content."""
    root = pathlib.Path(root)
    exercises = list(grade.EXERCISES)
    path, reason = find_notebook(root / "submission")
    if path is not None:
        _, reason = batch.read_submission(path, int(batch.MAX_MEGABYTES * 1e6))
    if reason:
        record = dict(batch.zero_results(exercises, reason), status="rejected", reason=reason)
    else:
        record = batch.grade_file(path, {}, exercises=exercises)
    results = results_json(record)
    (root / "results").mkdir(parents=True, exist_ok=True)
    batch.write_atomically(root / "results" / "results.json", json.dumps(results, indent=1))
    return results


def find_notebook(submission):
    """(path, None) for the one notebook to grade in the folder `submission`, else (None, why not).

    Notebooks in hidden folders (.ipynb_checkpoints) are ignored; among several, one named as the
    learner edition (or the solved notebook) is taken.
    """
    found = sorted(
        path
        for path in pathlib.Path(submission).rglob("*.ipynb")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(submission).parts)
    )
    if len(found) == 1:
        return found[0], None
    preferred = [path for name in EXPECTED_NAMES for path in found if path.name == name]
    if len(found) > 1 and preferred:
        return preferred[0], None
    if not found:
        return None, f"not graded: no .ipynb file in the submission: upload your notebook ({LEARNER.name})"
    names = ", ".join(path.relative_to(submission).as_posix() for path in found)
    return None, f"not graded: the submission holds several notebooks ({names}): upload only {LEARNER.name}"


def results_json(record):
    """Gradescope's results.json for one record of `batch.grade_file`: one test per exercise, 1 mark each."""
    tests = [
        {
            "name": result["exercise"],
            "score": float(result["passed"]),
            "max_score": 1.0,
            "output": result["diagnosis"],
            "visibility": "visible",
        }
        for result in record["results"]
    ]
    lines = [f"score: {record['score']}/{len(tests)}"]
    lines += [record["reason"]] if record.get("reason") else []
    lines += classreport.note_lines(record.get("notes", {}))  # e.g. the isolation in effect
    summary = "\n".join(lines)
    return {"score": float(record["score"]), "output": summary, "visibility": "visible", "tests": tests}


if __name__ == "__main__":
    sys.exit(main())

"""Grade a class: every notebook of a folder or glob, in parallel, into a gradebook, feedback and a report.

Usage: python -m assignment.batch FOLDER_OR_GLOB [--jobs N] [--out build/grades] [grader options]

Each submission is graded by `assignment.grade.grade_notebook` in a child process of its own,
so a submission that crashes or kills its grader costs only its own row. The output folder gets:

- ``results/<learner>.json``: one record per submission, written atomically as it completes,
  with the key it was graded under (hashes of the notebook's bytes, of the grader's files and
  of the options). A rerun grades only what has no record under the same key, so an
  interrupted batch finishes the rest and a changed notebook is graded again.
- ``gradebook.csv``: learner id, original file name, a mark per exercise, the total, and a
  short reason per lost mark.
- ``feedback/<learner>.html``: each exercise with its diagnosis, for the learner.
- ``report.html``: the class report (`assignment.classreport`).

Learner ids come from file names: lower case, accents dropped, every run of characters other
than letters and digits turned into one ``-`` ("José Núñez (2).ipynb" -> ``jose-nunez-2``).
Files that map to the same id are all given 0 with the reason, and none of them is graded:
which one counts is for the instructor to decide. A file is rejected before it is read if it
is larger than MAX_MEGABYTES, and after reading if it is empty, not JSON, or not a notebook
with code cells.
"""

import argparse
import ast
import concurrent.futures
import csv
import hashlib
import html
import importlib
import inspect
import json
import multiprocessing
import os
import pathlib
import re
import signal
import sys
import threading
import time
import unicodedata

from tqdm import tqdm

from assignment import classreport
from assignment.make import ROOT, SOLVED, support_files

GRADER = "assignment.grade:grade_notebook"  # module:function, imported in each child process
OUT = ROOT / "build" / "grades"
MAX_MEGABYTES = 20  # the solved notebook, figures included, is 0.4 MB; a learner's is rarely above 5 MB
WATCHDOG_SECONDS = 900  # a child still grading after this long (or total_timeout + this margin) is killed
MAX_DIAGNOSIS = 2000  # characters kept of a diagnosis: it may quote learner-controlled text of any size
MAX_PAYLOAD = 1 << 20  # bytes accepted from a child
POLL_SECONDS = 0.2  # how often a waiting thread, and a child watching its parent, look up
# Files of this repository that do not decide marks: editing them does not invalidate stored grades.
NOT_GRADER = {"assignment/batch.py", "assignment/classreport.py", "assignment/gradescope.py"}
NOT_GRADER_DIRS = {"assignment/autograder"}  # the Gradescope scripts


def main(argv=None, grader=None):
    """Grade the submissions named on the command line; write the output folder; exit 0 when done.

    `grader` ("module:function", default GRADER) is for tests. Each keyword option of the grader
    with a plain default becomes a flag; any other ``--name value`` is passed as an option too
    (the sandboxed grader's limits are **kwargs), so GRADE_OPTIONS work as for one notebook.
    """
    grader = grader or GRADER
    parser = argparse.ArgumentParser(prog="python -m assignment.batch", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", help="a folder of notebooks, a glob ('subs/*.ipynb'), or one file")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at the same time (default: the number of cores)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help=f"output folder (default: {OUT})")
    parser.add_argument(
        "--max-megabytes",
        type=float,
        default=MAX_MEGABYTES,
        help=f"larger files are rejected unread (default: {MAX_MEGABYTES})",
    )
    for name, default in grader_options(grader).items():
        flag = f"--{name.replace('_', '-')}"
        help = f"passed to the grader (its default: {default})"
        if type(default) is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, dest=name, help=help
            )
        else:
            parser.add_argument(flag, type=type(default), default=None, dest=name, help=help)
    args, others = parser.parse_known_args(argv)
    options = {
        name: getattr(args, name) for name in grader_options(grader) if getattr(args, name) is not None
    }
    try:
        options.update(_other_options(others))
    except ValueError as error:
        parser.error(str(error))
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive integer, got {args.jobs}")
    try:
        paths = find_submissions(args.submissions)
    except ValueError as error:
        parser.error(str(error))
    records = grade_batch(
        paths,
        args.out,
        jobs=args.jobs,
        options=options,
        max_bytes=int(args.max_megabytes * 1e6),
        grader=grader,
    )
    graded = sum(record["status"] == "graded" for record in records)
    print(
        f"{len(records)} submissions ({graded} graded, {len(records) - graded} not graded); wrote "
        f"{args.out / 'gradebook.csv'}, {args.out / 'feedback'}/ and {args.out / 'report.html'}"
    )
    return 0


def grader_options(grader=GRADER):
    """The grader's keyword options whose default is a bool, int, float or str: name -> default."""
    parameters = inspect.signature(load(grader)).parameters.values()
    return {p.name: p.default for p in parameters if type(p.default) in (bool, int, float, str)}


def find_submissions(spec):
    """The files named by `spec`: a folder (its files, not hidden ones, not recursively), a glob, or a file.

    Returns
    -------
    list of pathlib.Path, sorted by name
    """
    path = pathlib.Path(spec)
    if path.is_dir():
        found = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    elif path.is_file():
        found = [path]
    else:
        anchor = pathlib.Path(spec).anchor
        pattern = spec[len(anchor) :] if anchor else spec
        found = [p for p in pathlib.Path(anchor or ".").glob(pattern) if p.is_file()]
        if not found:
            raise ValueError(
                f"`submissions` must be a folder, a file or a glob that matches files, got {spec!r}"
            )
    return sorted(found, key=lambda p: (p.name, str(p)))


def learner_id(file_name):
    """A file-name-safe, recognisable learner id from a submission's file name (suffix dropped).

    Lower case; accents dropped (NFKD, combining marks removed); letters and digits of any
    script kept; every other run of characters becomes one "-". An id that would be empty is
    "learner-" and a short hash of the name.
    """
    stem = pathlib.PurePath(file_name).stem
    letters = "".join(c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c))
    slug = re.sub(r"[\W_]+", "-", letters.casefold()).strip("-")
    return slug or "learner-" + hashlib.sha256(file_name.encode()).hexdigest()[:8]


def grade_batch(
    paths,
    out,
    jobs=1,
    options=None,
    max_bytes=int(MAX_MEGABYTES * 1e6),
    grader=GRADER,
    exercises=None,
    progress=True,
):
    """Grade `paths` into the folder `out`, reusing stored records graded under the same key.

    Parameters
    ----------
    paths : list of pathlib.Path
        The submissions.
    out : pathlib.Path
        Output folder: results/, gradebook.csv, feedback/, report.html.
    jobs : int
        Submissions graded at the same time, each in its own child process.
    options : dict
        Keyword options of the grader (cell_timeout, ...).
    max_bytes : int
        Files larger than this are rejected without being read.
    grader : str
        "module:function" of the grader; `exercises` defaults to that module's EXERCISES.

    Returns
    -------
    list of dict
        One record per submission, sorted by learner id and file name.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be a positive integer, got {jobs!r}")
    options = dict(options or {})
    exercises = list(exercises or importlib.import_module(grader.split(":")[0]).EXERCISES)
    out = pathlib.Path(out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    fingerprint = grader_fingerprint(grader, options)
    ids = {}
    for path in paths:
        ids.setdefault(learner_id(path.name), []).append(path)
    records, pending = [], []
    for learner, group in ids.items():
        if len(group) > 1:
            names = " and ".join(repr(p.name) for p in group)
            reason = (
                f"duplicate learner id {learner!r}: {names} map to the same id, so none of them "
                "was graded; keep one file per learner and grade again"
            )
            records += [_rejected(learner, path, exercises, reason) for path in group]
        else:
            pending.append((learner, group[0]))
    todo = []
    for learner, path in pending:
        content, reason = read_submission(path, max_bytes)
        if reason:
            records.append(_rejected(learner, path, exercises, reason))
            continue
        key = hashlib.sha256(f"{hashlib.sha256(content).hexdigest()} {fingerprint}".encode()).hexdigest()
        stored = _stored(out / "results" / f"{learner}.json", key)
        if stored:
            records.append(dict(stored, file=path.name, cached=True))
        else:
            todo.append((learner, path, key))
    with tqdm(
        total=len(paths),
        desc="grading",
        unit="notebook",
        file=sys.stderr,
        disable=not progress,
        initial=len(records),
    ) as bar:
        for record in sorted(records, key=_order):
            _announce(bar, record, exercises)
        stop = threading.Event()  # set on Ctrl-C: the gradings under way are stopped and not stored
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(grade_file, path, options, grader, exercises, stop) for _, path, _ in todo]
            by_future = dict(zip(futures, todo, strict=True))
            try:
                for future in concurrent.futures.as_completed(futures):
                    learner, path, key = by_future[future]
                    record = dict(future.result(), learner=learner, file=path.name, key=key, cached=False)
                    write_atomically(out / "results" / f"{learner}.json", json.dumps(record, indent=1))
                    records.append(record)
                    bar.update()
                    _announce(bar, record, exercises)
            except BaseException:
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    records.sort(key=_order)
    write_outputs(records, exercises, out)
    return records


def grade_file(path, options, grader=GRADER, exercises=None, stop=None):
    """Grade the notebook at `path` in a child process of its own; never raises for what the child does.

    The child starts a new session, so that everything it started (the kernel, and whatever the
    kernel started in that session) is killed with it when it ends, overstays the watchdog, or
    `stop` (a threading.Event) is set. The child ends itself if this process dies.

    Returns
    -------
    dict
        status ("graded" or "rejected"), reason, results (list of {exercise, passed, diagnosis}),
        score, out_of, seconds, and notes (extra scalar fields of the grade, e.g. its isolation).
    """
    exercises = list(exercises or importlib.import_module(grader.split(":")[0]).EXERCISES)
    watchdog = max(WATCHDOG_SECONDS, options.get("total_timeout", 0) + WATCHDOG_SECONDS / 3)
    context = multiprocessing.get_context("forkserver")
    # The server imports the grader and this module once (nbformat alone takes ~1.5 s); each child is
    # a fork of it. Python 3.11 re-imports the main module in every child (`python -m assignment.batch`
    # runs this one as __main__): with its imports preloaded, that costs nothing.
    context.set_forkserver_preload([grader.partition(":")[0], __spec__.name if __spec__ else __name__])
    receiver, sender = context.Pipe(duplex=False)
    started = time.monotonic()
    child = context.Process(target=_child, args=(grader, str(path), options, sender), daemon=True)
    child.start()
    sender.close()
    payload, reason = None, None
    deadline = started + watchdog
    try:
        while not receiver.poll(POLL_SECONDS):
            if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                break
        if receiver.poll(0):
            payload = json.loads(receiver.recv_bytes(MAX_PAYLOAD))
        else:
            reason = f"not graded: the grading did not finish within {watchdog:g} s and was stopped"
    except EOFError:
        reason = "not graded: the grading process ended without a result (it was killed or crashed)"
    except (OSError, ValueError) as error:  # a payload too long, or not JSON
        reason = f"not graded: the grading process sent an unreadable result ({type(error).__name__})"
    finally:
        _kill_session(child)
        receiver.close()
    seconds = round(time.monotonic() - started, 2)
    if payload is not None:
        try:
            return dict(_validated(payload, exercises), seconds=seconds)
        except (KeyError, TypeError, ValueError) as error:
            reason = f"not graded: the grader returned an invalid result ({error})"
    return dict(zero_results(exercises, reason), status="rejected", reason=reason, seconds=seconds)


def read_submission(path, max_bytes):
    """(bytes, None) for a file that looks like a notebook, else (None, why it cannot be graded).

    The size is checked before the file is read; then the bytes must be JSON holding a `cells`
    list with at least one code cell.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, (
                f"not graded: the file is {size / 1e6:.1f} MB, above the limit of {max_bytes / 1e6:g} MB "
                "(clear the outputs: Kernel > Restart & Clear Output, then save)"
            )
        content = path.read_bytes()
    except OSError as error:
        return None, f"not graded: the file could not be read ({error.strerror})"
    if not content.strip():
        return None, "not graded: the file is empty"
    try:
        notebook = json.loads(content)
    except (ValueError, RecursionError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if hasattr(error, "lineno") else ""
        return None, f"not graded: the file is not a Jupyter notebook: it is not valid JSON{where}"
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None, "not graded: the file is JSON but not a Jupyter notebook (it has no list of cells)"
    if not any(isinstance(cell, dict) and cell.get("cell_type") == "code" for cell in cells):
        return None, "not graded: the notebook is empty (it has no code cells)"
    return content, None


def grader_fingerprint(grader=GRADER, options=None, root=ROOT):
    """A hash of the grader's files (those that decide marks), its name and `options`."""
    digest = hashlib.sha256(f"{grader} {json.dumps(options or {}, sort_keys=True)}".encode())
    for path in grader_files(root):
        digest.update(f"\0{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def grader_files(root=ROOT):
    """The files that decide marks: assignment/ (not this issue's modules), support files, solved notebook.

    Returns
    -------
    list of pathlib.Path, sorted
    """
    candidates = list((root / "assignment").rglob("*"))
    for path in support_files(root):  # a module's data (public_tests.json) ships beside it
        candidates += list(path.rglob("*")) if path.is_dir() else [path, path.with_suffix(".json")]
    candidates.append(root / SOLVED.name)
    kept = set()
    for path in candidates:
        relative = path.relative_to(root).as_posix()
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and relative not in NOT_GRADER
            and not any(relative.startswith(folder + "/") for folder in NOT_GRADER_DIRS)
        ):
            kept.add(path)
    return sorted(kept)


def write_outputs(records, exercises, out):
    """Write gradebook.csv, feedback/<learner>.html and report.html into `out` from `records`."""
    out = pathlib.Path(out)
    with open(out / "gradebook.csv.tmp", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(gradebook_header(exercises))
        writer.writerows(gradebook_row(record, exercises) for record in records)
    os.replace(out / "gradebook.csv.tmp", out / "gradebook.csv")
    (out / "feedback").mkdir(exist_ok=True)
    for record in records:  # duplicates share an id and a reason: the last one written is the same page
        write_atomically(out / "feedback" / f"{record['learner']}.html", feedback_html(record))
    write_atomically(out / "report.html", classreport.report_html(records, exercises))


def gradebook_header(exercises):
    """Column names of gradebook.csv."""
    return ["learner", "file", *exercises, "total", "out_of", "lost_marks"]


def gradebook_row(record, exercises):
    """One row of gradebook.csv: marks per exercise, total, and "exercise: short reason; ..." per lost mark.

    Text cells that a spreadsheet would read as a formula (starting with = + - @) get a leading
    apostrophe: file names and diagnoses are the learner's text.
    """
    marks = {result["exercise"]: int(result["passed"]) for result in record["results"]}
    if record["status"] != "graded":
        lost = record["reason"]
    else:
        lost = "; ".join(
            f"{result['exercise']}: {classreport.mistake_label(result['diagnosis'])}"
            for result in record["results"]
            if not result["passed"]
        )
    return [
        _cell(record["learner"]),
        _cell(record["file"]),
        *(marks.get(name, 0) for name in exercises),
        record["score"],
        len(exercises),
        _cell(lost),
    ]


def feedback_html(record):
    """The learner's feedback page: score, then each exercise with its diagnosis (all text escaped)."""
    escape = html.escape
    rows = []
    for result in record["results"]:
        verdict = "passed" if result["passed"] else "not passed"
        rows.append(
            f"<tr><td>{escape(result['exercise'])}</td><td class='{verdict.replace(' ', '-')}'>"
            f"{verdict}</td><td><pre>{escape(result['diagnosis'])}</pre></td></tr>"
        )
    reason = f"<p><strong>{escape(record['reason'])}</strong></p>" if record["status"] != "graded" else ""
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Feedback: "
        f"{escape(record['learner'])}</title>\n<style>{classreport.CSS}</style></head><body>\n"
        f"<h1>Gradient checking: feedback</h1>\n<p>Learner <code>{escape(record['learner'])}</code>, "
        f"file <code>{escape(record['file'])}</code>: <strong>{record['score']}/{len(record['results'])}"
        f"</strong></p>\n{reason}<table><tr><th>exercise</th><th>result</th><th>diagnosis</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )


def zero_results(exercises, reason):
    """Results of a submission that could not be graded: 0 on every exercise, each with `reason`."""
    results = [{"exercise": name, "passed": False, "diagnosis": reason} for name in exercises]
    return {"results": results, "score": 0, "out_of": len(results), "notes": {}}


def write_atomically(path, text):
    """Write `text` to `path` through a temporary file beside it, so that no reader sees half of it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def load(grader):
    """The function named by "module:function"."""
    module, _, function = grader.partition(":")
    return getattr(importlib.import_module(module), function)


def _other_options(arguments):
    """{name: value} from ``--name value`` / ``--name=value`` pairs: options the grader takes as **kwargs.

    A value is read as a Python literal (20, 2.5, True), else kept as text. The grader refuses
    names it does not know.
    """
    options = {}
    arguments = list(arguments)
    while arguments:
        flag = arguments.pop(0)
        name, equals, value = flag.partition("=")
        if not name.startswith("--") or not name[2:].replace("-", "_").isidentifier():
            raise ValueError(f"unrecognized argument {flag!r}: give grader options as --name value")
        if not equals:
            if not arguments:
                raise ValueError(f"{flag} needs a value")
            value = arguments.pop(0)
        try:
            options[name[2:].replace("-", "_")] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[name[2:].replace("-", "_")] = value
    return options


def _child(grader, path, options, sender):
    """In the child process: grade `path` and send the result as JSON bytes (no learner code runs here)."""
    os.setsid()
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    try:
        grade = load(grader)(path, **options)
        payload = {
            "results": [_plain(result) for result in grade.results],
            "notes": _plain(grade, skip={"results"}),
        }
    except Exception as error:  # the batch goes on: the submission gets 0 with the grader's error
        payload = {"error": f"the grader raised {type(error).__name__}: {error}"[:MAX_DIAGNOSIS]}
    sender.send_bytes(json.dumps(payload).encode()[:MAX_PAYLOAD])


def _end_with_parent(parent):
    """Kill this child's session once `parent` (the batch) is gone, even if it was killed without warning."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.killpg(0, signal.SIGKILL)


def _plain(value, skip=()):
    """The fields of a NamedTuple `value` that are plain scalars (str, int, float, bool, None)."""
    fields = value._asdict() if hasattr(value, "_asdict") else {}
    return {
        name: field
        for name, field in fields.items()
        if name not in skip and (field is None or type(field) in (str, int, float, bool))
    }


def _validated(payload, exercises):
    """A graded record from a child's payload: one result per exercise, in order, diagnoses cut to size."""
    if "error" in payload:
        reason = "not graded: " + str(payload["error"])[:MAX_DIAGNOSIS]
        return dict(zero_results(exercises, reason), status="rejected", reason=reason)
    by_name = {str(result["exercise"]): result for result in payload["results"]}
    if sorted(by_name) != sorted(exercises):
        raise ValueError(f"exercises {sorted(by_name)}, expected {sorted(exercises)}")
    results = []
    for name in exercises:
        result = by_name[name]
        if type(result["passed"]) is not bool:
            raise TypeError(f"`passed` of {name} is {type(result['passed']).__name__}, expected bool")
        results.append(
            {"exercise": name, "passed": result["passed"], "diagnosis": _clip(str(result["diagnosis"]))}
        )
    notes = {str(k)[:100]: _clip(str(v)) for k, v in dict(payload.get("notes") or {}).items()}
    return {
        "status": "graded",
        "reason": None,
        "results": results,
        "score": sum(r["passed"] for r in results),
        "out_of": len(results),
        "notes": notes,
    }


def _rejected(learner, path, exercises, reason):
    """The record of a submission rejected before grading."""
    return dict(
        zero_results(exercises, reason),
        learner=learner,
        file=path.name,
        status="rejected",
        reason=reason,
        seconds=0.0,
        key=None,
        cached=False,
    )


def _stored(path, key):
    """The record stored at `path` if it was graded under `key`, else None."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def _kill_session(child):
    """End the child and everything in its session; wait for it."""
    for kill in (lambda: os.killpg(child.pid, signal.SIGKILL), child.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass
    child.join()


def _announce(bar, record, exercises):
    """Print one line for a finished (or reused) submission above the progress bar."""
    lost = [r["exercise"] for r in record["results"] if not r["passed"]]
    how = "from an earlier run" if record.get("cached") else f"in {record['seconds']:.1f} s"
    detail = (
        record["reason"]
        if record["status"] != "graded"
        else (f"lost {', '.join(lost)}" if lost else "full marks")
    )
    line = f"{record['learner']} ({record['file']}): {record['score']}/{len(exercises)} {how}; {detail}"
    bar.write(line[:300], file=sys.stdout)


def _order(record):
    return record["learner"], record["file"]


def _clip(text):
    return text if len(text) <= MAX_DIAGNOSIS else text[:MAX_DIAGNOSIS] + " [...]"


def _cell(text):
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


if __name__ == "__main__":
    sys.exit(main())

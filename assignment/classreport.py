"""The class report: score distribution, pass rate per exercise, most common mistakes, in one HTML page.

`summarize` turns the batch's records into counts, `figures` draws them (matplotlib, PNG),
`report_html` puts both in one self-contained page (figures embedded as base64). Mistakes are
grouped by `mistake_label`, the part of a diagnosis that names the mistake, without the
learner's numbers: "gradapprox looks like a one-sided difference (J_plus - J) / epsilon".
"""

import base64
import collections
import html
import io
import re
import textwrap

import matplotlib

import public_tests

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)

TOP_MISTAKES = 5  # mistakes shown per exercise
LABEL_CHARACTERS = 110  # a label is cut here: it names the mistake, the feedback gives the rest
WRAP = 48  # characters per line of a bar's label in the mistakes figure
DPI = 110
CSS = (
    "body{font-family:sans-serif;max-width:62em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.3em .6em;"
    "vertical-align:top;text-align:left}pre{white-space:pre-wrap;margin:0;font-size:.9em}"
    "img{max-width:100%}.passed{color:#176b2c}.not-passed{color:#a4161a}"
)
# The sentence a public test adds after the values it shows ("..., got 0.00333. <the mistake>").
_HINT = re.compile(r"\bgot \S+?\. (?=\S)")
# A leading call, as diagnoses start: "gradient_check(x=2, theta=1.5, epsilon=0.01) with J = ...: ".
_CALL = re.compile(r"^\w+\([^()]*\)[^:]*: ")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
_SHOWN_VALUE = re.compile(rf"\b(expected(?: difference)?|got) {_NUMBER}")
_NUMERIC_ASIDE = re.compile(r" ?\([^()]*\d[^()]*\)")
_FINAL_ASIDE = re.compile(r" \([^()]*\)$")
# The mistakes the public tests name, longest first (public_tests keeps them as data in MESSAGES:
# exercise -> {mistake: message}; a version without it leaves the hint sentences to find them).
KNOWN_MISTAKES = sorted(
    {message for table in getattr(public_tests, "MESSAGES", {}).values() for message in table.values()},
    key=len,
    reverse=True,
)


def mistake_label(diagnosis, known=KNOWN_MISTAKES):
    """The part of a diagnosis that names the mistake, the same for every learner who made it.

    A known mistake's message (`known`) if the diagnosis holds one, as a public or a hidden case
    may; else the hint sentence after the values shown if there is one, else the diagnosis
    without its leading call. That text is cut to its first clause; asides in parentheses that
    hold numbers, and one that ends it, are dropped, and the values after "expected" and "got"
    are replaced by "...".

    Examples
    --------
    >>> mistake_label("gradient_check(x=2, theta=1.5, epsilon=0.01) with J = x * theta**3: expected "
    ...               "difference 7.4e-06, got 0.00333. gradapprox looks like a one-sided difference "
    ...               "(J_plus - J) / epsilon: use theta_plus and theta_minus (steps 1.1 to 1.5)")
    'gradapprox looks like a one-sided difference (J_plus - J) / epsilon'
    >>> mistake_label("forward_propagation(x=2, theta=4): expected 8, got 6")
    'wrong result (expected ..., got ...)'
    """
    hint = _HINT.search(diagnosis)
    text = next((message for message in known if message in diagnosis), None)
    if text is None:
        text = diagnosis[hint.end() :] if hint else _CALL.sub("", diagnosis, count=1)
    clause, colon, _ = text.partition(": ")
    if colon and len(clause) >= 20:  # a short head ("not graded") says too little on its own
        text = clause
    text = re.split(r"\.\s", text, maxsplit=1)[0]
    while _NUMERIC_ASIDE.search(text):  # innermost first: "(... as with range(n - 1))"
        text = _NUMERIC_ASIDE.sub("", text)
    text = _FINAL_ASIDE.sub("", text.rstrip(". "))
    text = " ".join(text.split()).rstrip(".")
    text = _SHOWN_VALUE.sub(lambda match: f"{match[1]} ...", text)
    if text.startswith("expected ..."):  # the values alone: a test that names no mistake for them
        text = f"wrong result ({text})"
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 3] + "..."


def summarize(records, exercises):
    """Counts for the report, from the batch's records.

    Returns
    -------
    dict
        submissions, graded (records graded, not rejected), scores (list of int, one per
        record), pass_rate {exercise: fraction of graded records that passed it}, mistakes
        {exercise: [(label, learners), ...] most common first, at most TOP_MISTAKES},
        rejected [(file, reason)], notes (Counter of "name: value" of the grades' extra fields).
    """
    graded = [record for record in records if record["status"] == "graded"]
    passed = collections.Counter(
        result["exercise"] for record in graded for result in record["results"] if result["passed"]
    )
    mistakes = {}
    for name in exercises:
        labels = collections.Counter(
            mistake_label(result["diagnosis"])
            for record in graded
            for result in record["results"]
            if result["exercise"] == name and not result["passed"]
        )
        mistakes[name] = sorted(labels.items(), key=lambda item: (-item[1], item[0]))[:TOP_MISTAKES]
    return {
        "submissions": len(records),
        "graded": len(graded),
        "out_of": len(exercises),
        "scores": [record["score"] for record in records],
        "pass_rate": {name: passed[name] / len(graded) if graded else 0.0 for name in exercises},
        "mistakes": mistakes,
        "rejected": [
            (record["file"], record["reason"]) for record in records if record["status"] != "graded"
        ],
        "notes": collections.Counter(  # what the grader says of its grading, e.g. the isolation in effect
            line for record in graded for line in note_lines(record.get("notes", {}))
        ),
    }


def note_lines(notes):
    """Lines "name: value" for a record's notes (the grade's extra fields), the name said once."""
    return [value if value.startswith(f"{name}:") else f"{name}: {value}" for name, value in notes.items()]


def figures(summary):
    """The report's three figures as PNG bytes: {"scores", "pass_rate", "mistakes"}."""
    return {
        name: _png(draw(summary))
        for name, draw in (
            ("scores", _scores_figure),
            ("pass_rate", _pass_rate_figure),
            ("mistakes", _mistakes_figure),
        )
    }


def report_html(records, exercises):
    """The class report: one self-contained HTML page (figures embedded), every text escaped."""
    summary = summarize(records, exercises)
    images = figures(summary)
    escape = html.escape
    alt = {
        "scores": "Bar chart: number of learners at each total score",
        "pass_rate": "Horizontal bars: the share of graded learners who passed each exercise",
        "mistakes": "For each exercise, horizontal bars: how many learners made each diagnosed mistake",
    }
    parts = [
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Class report</title>"
        f"<style>{CSS}</style></head><body>\n<h1>Gradient checking: class report</h1>\n"
        f"<p>{summary['submissions']} submissions, {summary['graded']} graded, "
        f"{len(summary['rejected'])} not graded (listed at the end).</p>\n"
    ]
    parts += [
        f"<p>{escape(note)} ({count} of {summary['graded']})</p>\n"
        for note, count in summary["notes"].items()
    ]
    for name, title in (
        ("scores", "Score distribution"),
        ("pass_rate", "Pass rate per exercise"),
        ("mistakes", "Most common mistakes per exercise"),
    ):
        data = base64.b64encode(images[name]).decode()
        parts.append(f"<h2>{title}</h2>\n<img src='data:image/png;base64,{data}' alt='{alt[name]}'>\n")
    parts.append(
        "<h2>Mistakes, in words</h2>\n<table><tr><th>exercise</th><th>mistake</th><th>learners</th></tr>\n"
    )
    for name, mistakes in summary["mistakes"].items():
        for label, count in mistakes:
            parts.append(f"<tr><td>{escape(name)}</td><td>{escape(label)}</td><td>{count}</td></tr>\n")
    parts.append("</table>\n<h2>Not graded</h2>\n<table><tr><th>file</th><th>reason</th></tr>\n")
    parts += [
        f"<tr><td>{escape(file)}</td><td>{escape(reason)}</td></tr>\n" for file, reason in summary["rejected"]
    ]
    parts.append("</table></body></html>\n")
    return "".join(parts)


def _scores_figure(summary):
    out_of = summary["out_of"]
    counts = collections.Counter(summary["scores"])
    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    scores = range(out_of + 1)
    bars = axes.bar(scores, [counts[score] for score in scores], color="#3b6ea5")
    axes.bar_label(bars, fontsize=10)
    axes.set_xticks(list(scores), [f"{score}/{out_of}" for score in scores])
    axes.set_xlabel("total score")
    axes.set_ylabel("learners")
    axes.set_ylim(0, max(counts.values(), default=0) * 1.15 + 1)
    axes.yaxis.get_major_locator().set_params(integer=True)
    scores = sorted(summary["scores"])
    median = f"median {scores[len(scores) // 2]}/{out_of}" if scores else "no submissions"
    axes.set_title(
        f"Scores of {summary['submissions']} submissions: {median} (files not graded count as 0)", fontsize=11
    )
    return figure


def _pass_rate_figure(summary):
    names = list(summary["pass_rate"])[::-1]  # first exercise on top
    rates = [100 * summary["pass_rate"][name] for name in names]
    figure, axes = plt.subplots(figsize=(6.4, 0.5 * len(names) + 1.2))
    bars = axes.barh(names, rates, color="#4f9a5b")
    axes.bar_label(bars, [f"{rate:.0f}%" for rate in rates], padding=3, fontsize=10)
    axes.set_xlim(0, 112)
    axes.set_xlabel(f"learners who passed (% of {summary['graded']} graded)")
    hardest = min(names, key=lambda name: summary["pass_rate"][name]) if names else None
    axes.set_title(f"Pass rate per exercise: lowest for {hardest}", fontsize=11)
    return figure


def _mistakes_figure(summary):
    panels = [(name, mistakes) for name, mistakes in summary["mistakes"].items() if mistakes]
    if not panels:
        figure, axes = plt.subplots(figsize=(6.4, 1.2))
        axes.text(0.5, 0.5, "No diagnosed mistakes", ha="center", va="center", fontsize=12)
        axes.set_axis_off()
        return figure
    heights = [max(len(mistakes), 1) * 0.65 + 0.75 for _, mistakes in panels]
    figure, axes_list = plt.subplots(
        len(panels), 1, figsize=(10, sum(heights)), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    largest = max(count for _, mistakes in panels for _, count in mistakes)
    for axes, (name, mistakes) in zip(axes_list[:, 0], panels, strict=True):
        labels = [textwrap.fill(label, WRAP) for label, _ in mistakes][::-1]
        counts = [count for _, count in mistakes][::-1]
        bars = axes.barh(range(len(counts)), counts, color="#c0504d")
        axes.bar_label(
            bars, [f"{count} learner{'s' * (count != 1)}" for count in counts], padding=3, fontsize=9
        )
        axes.set_yticks(range(len(counts)), labels, fontsize=9)
        axes.set_xlim(0, largest * 1.3 + 0.5)
        axes.xaxis.get_major_locator().set_params(integer=True)
        failed = round(summary["graded"] * (1 - summary["pass_rate"][name]))
        axes.set_title(
            f"{name}: {failed} of {summary['graded']} learners did not pass",
            fontsize=10,
            loc="left",
            fontweight="bold",
        )
    axes_list[-1, 0].set_xlabel("learners")
    figure.suptitle("Most common mistakes per exercise", fontsize=11)
    return figure


def _png(figure):
    """The figure as PNG bytes (no timestamp in the metadata, so equal data gives equal bytes); closes it."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()

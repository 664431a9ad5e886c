"""The report of a check: a verdict with its reason, one row per gradient, text and HTML."""

import html
from dataclasses import dataclass, field

from gradcheck.tolerances import (
    KINKS_SHOWN,
    MAX_FOUND,
    PATTERN_SHOWN,
    ROUNDOFF_NOTED,
    SHOWN_BELOW,
    VALUE_DIGITS,
)


@dataclass
class Kink:
    """An entry where the cost has a kink (e.g. ReLU at 0) within the step."""

    index: tuple
    analytic: float
    left: float  # one-sided derivative (J(theta) - J(theta - h)) / h
    right: float  # one-sided derivative (J(theta + h) - J(theta)) / h
    valid: bool  # analytic lies between left and right (accepted; not always a subgradient)


@dataclass
class ParameterResult:
    """The check of one tensor: one row of the report."""

    name: str  # the parameter, "W1"
    gradient: str  # its gradient key, "dW1": the key of this row in the report
    shape: tuple
    difference: float  # equation (2) over this tensor
    verdict: str  # "ok", "wrong", "unsure" or "not complex-safe"
    worst_index: tuple | None = None  # the entry with the largest |analytic - numeric|
    analytic: float | None = None
    numeric: float | None = None
    pattern: str = ""  # e.g. "dW2 is 2.00 × the numerical gradient"
    entries: list = field(default_factory=list)  # wrong entries: (index, analytic, numeric)
    entries_complete: bool = True  # False when the bisection stopped at MAX_FOUND
    kinks: list = field(default_factory=list)  # a Kink per entry at a kink


# repr=False: the dataclass repr would print every float in full, machine-dependent digits too.
@dataclass(repr=False)
class GradientCheckReport:
    """Result of a check: `verdict` and `reason`, and one row per gradient.

    `rows`, `per_parameter` and `suspects` are all keyed by gradient key ("dW1"), so that
    ``report.rows[report.suspects[0]]`` is the row of the first suspect.
    ``bool(report)`` is `passed`.
    """

    verdict: str  # "pass", "fail" or "inconclusive"
    difference: float  # equation (2) over every entry (or direction) away from kinks
    per_parameter: dict  # gradient key -> equation (2) over that tensor
    suspects: list  # gradient keys of the wrong tensors, in parameter order
    reason: str  # one or two sentences
    method: str
    epsilon: float  # the step (relative to max(1, |theta|) when relative_step)
    relative_step: bool
    threshold: float
    evaluations: int  # points at which the cost was evaluated
    batched: bool
    rows: dict  # gradient key -> ParameterResult
    noise: float = float("nan")  # the measured noise of the cost, relative to |J|
    context: list = field(default_factory=list)  # more notes (e.g. check_vjp's upstream gradients)

    @property
    def passed(self):
        return self.verdict == "pass"

    def __bool__(self):
        return self.passed

    def _table(self):
        header = ["gradient", "shape", "difference", "verdict", "worst entry", "analytic",
                  "numeric"]
        lines = []
        for row in self.rows.values():
            shown = row.verdict != "ok" and row.worst_index is not None
            values = fmt_pair(row.analytic, row.numeric) if shown else ("-", "-")
            lines.append([row.gradient, str(row.shape),
                          fmt_difference(row.difference, self.threshold), row.verdict,
                          str(row.worst_index) if shown else "-", *values])
        return header, lines

    def _notes(self):
        step = f"{self.epsilon:.1e}"
        if self.relative_step:
            scale = "rms(theta)" if self.method == "directional" else "|theta_i|"
            step += f" × max(1, {scale})"
        # Round-off-sized noise is shown as such: its digits change with the BLAS kernel.
        noise = ("" if self.noise != self.noise else ", noise of the cost: float64 round-off"
                 if self.noise <= ROUNDOFF_NOTED else
                 f", noise of the cost: {self.noise:.0e} × |J| (measured)")
        notes = [f"method: {self.method}, step: {step}, cost evaluations: {self.evaluations}"
                 f"{' (batched)' if self.batched else ''}{noise}",
                 f"verdict: {self.verdict}", f"reason: {self.reason}"]
        notes += self.context
        for row in self.rows.values():
            if row.verdict == "wrong" and row.pattern and row.entries:
                shown = row.entries[:PATTERN_SHOWN]
                more = len(row.entries) - len(shown)
                tail = f"; and {more} more" if more > 0 else ""
                if not row.entries_complete:
                    tail += f" (the search stops at {MAX_FOUND})"
                notes.append(f"{row.pattern}: " + "; ".join(
                    "{} analytic {}, numeric {} (relative error {})".format(
                        index, *fmt_pair(a, d), fmt_relative(a, d)) for index, a, d in shown)
                    + tail)
        kinks = [(row.gradient, kink) for row in self.rows.values() for kink in row.kinks]
        for key, kink in kinks[:KINKS_SHOWN]:
            what = ("between the one-sided slopes: accepted" if kink.valid else
                    "outside the one-sided slopes: not checked (several units may switch at "
                    "once there)")
            notes.append(f"kink at {key}{kink.index}: left {fmt_value(kink.left)}, right "
                         f"{fmt_value(kink.right)}, analytic {fmt_value(kink.analytic)} ({what})")
        if len(kinks) > KINKS_SHOWN:
            notes.append(f"... and {len(kinks) - KINKS_SHOWN} more kinks")
        return notes

    def __str__(self):
        header, lines = self._table()
        widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
        table = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                 .rstrip() for line in [header, *lines]]
        return "\n".join(table + self._notes())

    __repr__ = __str__  # the table, also in a REPL and as Jupyter's text/plain

    def _repr_html_(self):
        header, lines = self._table()
        style = ' style="white-space: normal; word-break: normal; text-align: left"'

        def cells(line, tag):
            return "".join(f"<{tag}{style}>{html.escape(c)}</{tag}>" for c in line)

        body = "".join(f"<tr>{cells(line, 'td')}</tr>" for line in lines)
        notes = "".join(f"<p{style}>{html.escape(note)}</p>" for note in self._notes())
        return (f"<table><thead><tr>{cells(header, 'th')}</tr></thead>"
                f"<tbody>{body}</tbody></table>{notes}")


def fmt_difference(x, threshold):
    """Equation (2) for display, with 2 significant digits; far below the threshold only the
    bound SHOWN_BELOW x threshold, since those digits are round-off."""
    if x != x:
        return "nan"
    bound = SHOWN_BELOW * threshold
    return f"< {bound:.0e}" if x < bound else f"{x:.1e}"


def fmt_value(x, digits=VALUE_DIGITS):
    """An analytic or numeric value with `digits` significant digits (trailing zeros kept
    beyond VALUE_DIGITS, so that two values shown with more digits show as many)."""
    form = "#" if digits > VALUE_DIGITS else ""
    return "-" if x is None else f"{float(x) + 0.0:{form}.{digits}g}"


def fmt_pair(analytic, numeric):
    """Both values with VALUE_DIGITS significant digits, or as many more as it takes for two
    different values to print differently (at most 17, float64's)."""
    for digits in range(VALUE_DIGITS, 18):
        pair = fmt_value(analytic, digits), fmt_value(numeric, digits)
        if pair[0] != pair[1]:
            break
    return pair


def fmt_relative(analytic, numeric):
    """The relative error of one entry, |analytic - numeric| / max(|analytic|, |numeric|),
    with 2 significant digits."""
    return f"{abs(analytic - numeric) / max(abs(analytic), abs(numeric)):#.2g}"

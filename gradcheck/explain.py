"""Explaining what is wrong: one row per tensor, with the pattern of its error and its kinks;
the findings of a check, and the verdict and reason decided once from them."""

import dataclasses
import re
from typing import NamedTuple

import numpy as np

from gradcheck import judge as J
from gradcheck.report import Kink, ParameterResult, fmt_difference
from gradcheck.tolerances import (
    FACTOR_ONE,
    PATTERN_RTOL,
    SAFETY,
    SUPPORT_MARGIN,
    SUPPORT_STEPS,
)


def rows(layout, evidence, judgement, found=None):
    """One `ParameterResult` per tensor, keyed by gradient key ("dW1").

    Parameters
    ----------
    layout : inputs.Layout
    evidence : methods.Evidence
    judgement : judge.Judgement
    found : dict or None
        For "directional": tensor -> (entries found by bisection, complete).
    """
    a, est, status = evidence.analytic, evidence.estimate, judgement.status
    per_entry = evidence.items.axes is not None
    result = {}
    for t, (name, shape, start, stop) in enumerate(layout.slices):
        key = layout.keys[t]
        verdict = ("wrong" if judgement.wrong[t] else "not complex-safe" if judgement.unsafe[t]
                   else "unsure" if judgement.unsure[t] else "ok")
        row = result[key] = ParameterResult(name, key, shape, float(judgement.per_tensor[t]),
                                            verdict)
        if per_entry:
            items = np.arange(start, stop)
            _entry_details(row, layout, items, a[items], est.D[items], est.unc[items],
                           status[items])
        else:
            mine = evidence.owner == t
            smooth = mine & (status != J.KINK) & (status != J.KINK_UNSURE) & (status != J.NONFINITE)
            if found is not None and t in found:
                entries, row.entries_complete = found[t]
                _direction_details(row, layout, entries, a[smooth], est.D[smooth],
                                   est.unc[smooth])
        # the kinks of single entries (a direction along one entry is that entry)
        kinked = np.flatnonzero((evidence.owner == t) & (evidence.entry >= 0)
                                & ((status == J.KINK) | (status == J.KINK_UNSURE)))
        row.kinks = [Kink(layout.index(evidence.entry[i]), float(a[i]), float(est.left[i]),
                          float(est.right[i]), bool(status[i] == J.KINK)) for i in kinked]
        if verdict == "ok":
            row.worst_index = row.analytic = row.numeric = None
    return result


def _entry_details(row, layout, items, g, D, unc, status):
    """Worst entry, wrong entries and pattern of a tensor checked entry by entry."""
    keep = (status != J.KINK) & (status != J.KINK_UNSURE) & (status != J.NONFINITE)
    err = np.where(keep, np.abs(g - D), -1.0)
    if np.any(err >= 0):
        j = int(np.argmax(err))
        row.worst_index = layout.index(items[j])
        row.analytic, row.numeric = float(g[j]), float(D[j])
    bad = np.flatnonzero(keep & (np.abs(g - D) > SAFETY * unc))
    bad = bad[np.argsort(-err[bad], kind="stable")]
    row.entries = [(layout.index(items[j]), float(g[j]), float(D[j])) for j in bad]
    if row.verdict == "wrong":
        row.pattern = f"{row.gradient} {_pattern(row, g[keep], D[keep], unc[keep], len(bad))}"


def _direction_details(row, layout, entries, along, D, unc):
    """Entries found by bisection, and the pattern, of a tensor checked along directions."""
    row.entries = [(layout.index(i), gj, dj) for i, gj, dj in
                   sorted(entries, key=lambda e: -abs(e[1] - e[2]))]
    if row.entries:
        row.worst_index, row.analytic, row.numeric = row.entries[0]
    if row.verdict == "wrong":
        fragment = _pattern(row, along, D, unc, len(row.entries), per_entry=False)
        row.pattern = f"{row.gradient} {fragment}"


def _pattern(row, g, D, unc, wrong_count, per_entry=True):
    """How the analytic values g differ from the numerical D: a sentence fragment."""
    tolerance = PATTERN_RTOL * np.max(np.abs(D), initial=0.0) + SAFETY * np.max(unc, initial=0.0)
    if per_entry and not np.any(g) and np.any(np.abs(D) > tolerance):
        return "is all zeros"
    dd = float(D @ D)
    if dd > 0 and (per_entry or wrong_count != 1):
        r = float(g @ D) / dd
        if np.max(np.abs(g - r * D)) <= abs(r) * tolerance + PATTERN_RTOL * np.max(np.abs(g)):
            if abs(r + 1) < FACTOR_ONE:
                return "has the wrong sign (-1.00 × the numerical gradient)"
            if abs(r - 1) >= FACTOR_ONE:
                ratio = f"{r:.2f}" if 0.1 <= abs(r) < 1000 else f"{r:.3g}"
                return f"is {ratio} × the numerical gradient"
    if per_entry and len(row.shape) == 2 and row.shape[0] == row.shape[1] and \
            len(g) == row.shape[0] ** 2:
        if np.max(np.abs(g - D.reshape(row.shape).T.ravel())) <= tolerance:
            return "is the transpose of the numerical gradient"
    if per_entry:
        total = len(g)
        if wrong_count == 1:
            return "has 1 wrong entry"
        return f"has {wrong_count} of {total} entries wrong"
    more = "" if row.entries_complete else "at least "
    if wrong_count == 0:
        return "disagrees along random directions"
    return f"has {more}{wrong_count} wrong entr{'y' if wrong_count == 1 else 'ies'}"


class Findings(NamedTuple):
    """What a check found, as data: the verdict and its reason are decided from these alone
    (`verdict`, `reason`)."""

    threshold: float
    difference: float = float("nan")  # equation (2)
    bound: float = float("nan")  # the precision reached (judge.Judgement.bound)
    early: str = ""  # why no derivative could be estimated at all
    frozen: float = 0.0  # the change backprop predicts along the probe, where the cost did not move
    wrong: tuple = ()  # the pattern of each wrong tensor
    broken: tuple = ()  # gradient keys holding NaN or inf
    unsafe: tuple = ()  # gradient keys where the complex step and central differences disagree
    unconfirmed: tuple = ()  # gradient keys with a discrepancy wider steps did not confirm
    noise: object = None  # estimate.Noise: the measured noise of the cost
    nonfinite: int = 0  # derivatives that could not be estimated
    kinks_unsure: int = 0  # entries at kinks, outside their one-sided slopes
    kinks: int = 0  # entries at kinks, between them
    dominant: int = 0  # the largest part of the uncertainty: 0 round-off, 1 truncation, 2 curvature
    epsilon: float | None = None  # the caller's step
    by_complex_step: bool = False  # central differences could not settle it; the complex step did
    misshapen: tuple = ()  # (inputs.Misshapen, its row's verdict from its values) per misshapen key
    supported: float = float("nan")  # the least threshold this measurement supports (`supported`)
    complex_refused: bool = False  # the cost took no complex parameters (see `refusal`)


def findings(problem, evidence, judgement, probe, rows):
    """The Findings of a check from its measurements, judgement and rows."""
    layout, status, owner = problem.layout, judgement.status, evidence.owner
    predicted = abs(float(problem.grad @ probe.direction)) * probe.span
    est = evidence.estimate
    floor, truncation = np.nansum(est.floor), np.nansum(est.truncation)
    return Findings(
        problem.threshold, judgement.difference, judgement.bound,
        # No step tells a frozen cost from a wrong gradient: both say the cost is flat.
        frozen=predicted if not probe.moved and predicted > SAFETY * probe.noise.floor else 0.0,
        wrong=tuple(row.pattern for row in rows.values() if row.verdict == "wrong"),
        broken=tuple(layout.keys[t] for t, (_, _, a, b) in enumerate(layout.slices)
                     if not np.all(np.isfinite(problem.grad[a:b]))),
        unsafe=tuple(layout.keys[t] for t in np.flatnonzero(judgement.unsafe)),
        unconfirmed=tuple(layout.keys[t] for t in np.flatnonzero(
            np.bincount(owner[status == J.UNCONFIRMED], minlength=layout.count))),
        noise=probe.noise,
        nonfinite=int(np.count_nonzero(status == J.NONFINITE)),
        kinks_unsure=int(np.count_nonzero(status == J.KINK_UNSURE)),
        kinks=int(np.count_nonzero(status == J.KINK)),
        dominant=int(np.argmax([floor, truncation, np.nansum(est.unc) - floor - truncation])),
        epsilon=problem.epsilon, supported=supported(judgement.bound, judgement.difference))


def supported(bound, difference):
    """The least threshold that a check with this precision `bound` and equation (2)
    `difference` would pass: SUPPORT_MARGIN x the larger, rounded up to a SUPPORT_STEPS step
    of its decade (NaN where either is not finite)."""
    least = SUPPORT_MARGIN * max(bound, difference)
    if not np.isfinite(least) or least <= 0:
        return float("nan")
    decade = int(np.floor(np.log10(least)))
    return next(value for step in (*SUPPORT_STEPS, 10.0)
                if (value := float(f"{step:g}e{decade}")) >= least)


def conclusion(found):
    """The verdict ("pass", "fail" or "inconclusive") decided from the Findings `found`, and
    its reason in one or two sentences (details stay in the rows)."""
    if found.misshapen:  # a fail whatever the values say, which the rest of the reason tells
        return "fail", _misshapen(found, *conclusion(found._replace(misshapen=())))
    noise = "" if found.noise is None else f"{found.noise.relative:.0e} × |J|"
    difference = fmt_difference(found.difference, found.threshold)
    if found.early:
        why = found.early
    elif found.frozen:
        why = ("the cost does not change at all along a random direction, although backprop "
               f"predicts a change of {found.frozen:.1e}: either the cost is frozen in float64 "
               "(a saturated output, e.g. log(1 - sigmoid(z)) with z > 30) or the gradient is "
               "wrong; check at less saturated parameters")
    elif found.wrong:
        count = "1 gradient is" if len(found.wrong) == 1 else f"{len(found.wrong)} gradients are"
        return "fail", f"{count} wrong: " + "; ".join(found.wrong) + "."
    elif found.broken:
        why = (f"{_join(found.broken)} contain{'s' if len(found.broken) == 1 else ''} NaN or "
               "inf, so backprop is broken there")
    elif found.unsafe:
        why = (f"the complex step and central differences disagree for {_join(found.unsafe)}: "
               "the cost is not complex-safe there (np.abs, np.maximum, norms, np.vdot) or "
               "loses precision in float64 (e.g. a saturated log(1 - sigmoid(z))); use "
               "method='central'")
    elif found.unconfirmed:
        cause = (f"the cost is noisy ({noise}, measured)" if found.noise.noisy else
                 "wider steps do not confirm it, so numerical error cannot be ruled out "
                 "(e.g. log(1 - sigmoid(z)) of a saturated unit)")
        why = (f"{_join(found.unconfirmed)} disagree{'s' if len(found.unconfirmed) == 1 else ''}"
               f" with the numerical gradient at the usual step, but {cause}")
    elif found.nonfinite:
        why = (f"the cost is not finite near `parameters`, so {found.nonfinite} numerical "
               "derivatives could not be estimated")
    elif found.kinks_unsure:
        why = (f"{_entries(found.kinks_unsure)} at kinks, where the analytic value lies outside "
               "the one-sided slopes; the derivative is not defined there, so check at a point "
               "off the kinks (see the notes)")
    elif not (found.difference < found.threshold and found.bound < found.threshold):
        why = (f"every entry agrees within its uncertainty, but the numerical gradient is known "
               f"only to {found.bound:.1e} (relative) and the difference is {difference}, "
               f"against the threshold {found.threshold:.1e}: {_cause(found, noise)}")
    else:
        kinks = (f"; {_entries(found.kinks)} at kinks, each between its one-sided slopes"
                 if found.kinks else "")
        settled = ("; central differences could not resolve the derivatives to the threshold, "
                   "the complex step did, and agrees with them" if found.by_complex_step else "")
        return "pass", (f"every gradient agrees with the numerical one: difference {difference} "
                        f"(threshold {found.threshold:.1e}){kinks}{settled}.")
    return "inconclusive", why + "."


def shapes(found, rows, misshapen):
    """`found` and `rows` with the gradients of the wrong shape (`inputs.Misshapen`, their
    values checked in C order): their rows marked "wrong", and each with the verdict its
    values got in `found.misshapen`."""
    if not misshapen:
        return found, rows
    keys = {m.key for m in misshapen}
    return (found._replace(misshapen=tuple((m, rows[m.key].verdict) for m in misshapen)),
            {key: dataclasses.replace(row, verdict="wrong") if key in keys else row
             for key, row in rows.items()})


def _misshapen(found, verdict, reason):
    """The reason of a check with gradients of the wrong shape: the shapes first, then what
    their values, taken in order, are, then the `verdict` and `reason` of the values alone."""
    shapes = "; ".join(f"{m.key} has shape {m.shape}; the {m.noun} {m.name} has shape "
                       f"{m.expected}" for m, _ in found.misshapen)
    said = {"ok": "agree with the numerical gradient", "wrong": "are also wrong"}
    values = [(m.key, said.get(row, "could not be judged")) for m, row in found.misshapen]
    told = (f"its values {values[0][1]}" if len(values) == 1 else
            "; ".join(f"the values of {key} {what}" for key, what in values))
    if verdict == "pass":
        return (f"{shapes}. Taken in order, {told} (difference "
                f"{fmt_difference(found.difference, found.threshold)}, threshold "
                f"{found.threshold:.1e}).")
    return f"{shapes}. Taken in order, {told}; {reason}"


# What an error raised for complex parameters shows of its cause: (its type, a pattern of
# its message, the cause; {0} is the pattern's first group).
REFUSALS = (
    (TypeError, r"ufunc '(\w+)' not supported", "the function {0} has no complex version"),
    (TypeError, r"float\(\) argument|can't convert complex|must be real number",
     "a complex value was converted to float: float(), a math function, or an assignment into "
     "a real array such as one made with np.zeros"),
    (AssertionError, r"", "an assert in it failed"),
)


def refusal(label, refused):
    """Why the complex step was not possible, so that central differences ran instead, in
    one sentence, naming the cause where the `methods.Refusal` `refused` shows it."""
    error = refused.error
    if error is None:
        what = "returned real values"
        cause = ("NumPy cast a complex value to real on the way, as an output buffer made "
                 "with np.zeros, float() or .astype(float) does" if refused.cast else
                 "it drops their imaginary part; likely np.abs, a norm, np.var or .real")
    else:
        what = f"raised {type(error).__name__}"
        message = str(error).splitlines()[0] if str(error) else ""
        cause = next((text.format(*match.groups()) for kind, pattern, text in REFUSALS
                      if isinstance(error, kind) and (match := re.search(pattern, message))),
                     f"{message}{'; ' if message else ''}likely a function without a complex "
                     "version (scipy.special, math, float()) or a check of the dtype")
    return (f"the complex step was not possible: `{label}` {what} for complex parameters "
            f"({cause}), so central differences ran instead.")


def _cause(found, noise):
    """Which part of the error model dominates, as advice."""
    if found.noise.noisy:
        certify = (f"; this measurement supports a threshold of {found.supported:.0e} or above"
                   if found.supported < 1 else "")
        return (f"the cost is noisy ({noise}, measured; float32 arithmetic, quantization or a "
                f"saturated log(1 - sigmoid(z))), so compute it in float64, in a stable way"
                f"{certify}")
    part = ["round-off dominates", "truncation error dominates",
            "the cost is curved or has kinks"][found.dominant]
    complex_step = ("method='complex' with a cost that takes complex parameters (see the notes)"
                    if found.complex_refused else "method='complex'")
    if found.epsilon is None:
        why = ": the gradient is small against the cost's rounding" if found.dominant == 0 else ""
        return (f"{part} {'even ' if found.dominant < 2 else ''}at the step chosen for it{why}; "
                f"use {complex_step}")
    advice = ["a larger epsilon, epsilon=None", "a smaller epsilon, epsilon=None",
              "a smaller epsilon"][found.dominant]
    return f"{part} at epsilon={found.epsilon:.1e}; use {advice} or {complex_step}"


def _entries(count):
    return "1 entry sits" if count == 1 else f"{count} entries sit"


def _join(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

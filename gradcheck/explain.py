"""Explaining what is wrong: one row per tensor, with the pattern of its error and its kinks."""

import numpy as np

from gradcheck import judge as J
from gradcheck.report import Kink, ParameterResult, fmt_difference
from gradcheck.tolerances import FACTOR_ONE, PATTERN_RTOL, ROUNDOFF_ULPS, SAFETY


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
    per_entry = evidence.directions is None
    result = {}
    for t, (name, shape, start, stop) in enumerate(layout.slices()):
        key = layout.keys[t]
        verdict = ("wrong" if judgement.wrong[t] else "not complex-safe" if judgement.unsafe[t]
                   else "unsure" if judgement.unsure[t] else "ok")
        row = result[key] = ParameterResult(name, key, shape, float(judgement.per_tensor[t]),
                                            verdict)
        if per_entry:
            items = np.arange(start, stop)
            _entry_details(row, layout, items, a[items], est.D[items], est.unc[items],
                           status[items])
            kinks = items[(status[items] == J.KINK) | (status[items] == J.KINK_UNSURE)]
            row.kinks = [Kink(layout.index(i), float(a[i]), float(est.left[i]),
                              float(est.right[i]), bool(status[i] == J.KINK)) for i in kinks]
        else:
            mine = evidence.owner == t
            smooth = mine & (status != J.KINK) & (status != J.KINK_UNSURE) & (status != J.NONFINITE)
            if found is not None and t in found:
                entries, row.entries_complete = found[t]
                _direction_details(row, layout, entries, a[smooth], est.D[smooth],
                                   est.unc[smooth])
            kinked = np.flatnonzero(mine & (evidence.entry >= 0)
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


def verdict(problem, evidence, judgement, probe, rows):
    """The verdict, and its reason in one or two sentences (details stay in the rows)."""
    layout, threshold = problem.layout, problem.threshold
    keys = layout.keys
    status, owner = judgement.status, evidence.owner
    wrong = [row for row in rows.values() if row.verdict == "wrong"]
    predicted = abs(float(problem.grad @ probe.direction)) * probe.span
    if not probe.moved and predicted > SAFETY * probe.noise.floor:
        # No step tells a frozen cost from a wrong gradient: both say the cost is flat.
        return "inconclusive", ("the cost does not change at all along a random direction, "
                                f"although backprop predicts a change of {predicted:.1e}: "
                                "either the cost is frozen in float64 (a saturated output, "
                                "e.g. log(1 - sigmoid(z)) with z > 30) or the gradient is "
                                "wrong; check at less saturated parameters.")
    if wrong:
        count = "1 gradient is" if len(wrong) == 1 else f"{len(wrong)} gradients are"
        return "fail", f"{count} wrong: " + "; ".join(row.pattern for row in wrong) + "."
    bad_grad = [keys[t] for t in range(layout.count)
                if not np.all(np.isfinite(problem.grad[layout.starts[t]:layout.stops[t]]))]
    if bad_grad:
        return "inconclusive", (f"{_join(bad_grad)} contain{'s' if len(bad_grad) == 1 else ''} "
                                "NaN or inf, so backprop is broken there.")
    unsafe = [keys[t] for t in np.flatnonzero(judgement.unsafe)]
    if unsafe:
        return "inconclusive", (f"the complex step and central differences disagree for "
                                f"{_join(unsafe)}: the cost is not complex-safe there (np.abs, "
                                "np.maximum, norms, np.vdot) or loses precision in float64 "
                                "(e.g. a saturated log(1 - sigmoid(z))); use method='central'.")
    noisy = probe.noise.noisy
    noise = f"{relative_noise(probe.noise):.0e} × |J|"
    unconfirmed = _tensors(status == J.UNCONFIRMED, owner, keys, layout.count)
    if unconfirmed:
        why = (f"the cost is noisy ({noise}, measured)" if noisy else
               "wider steps do not confirm it, so numerical error cannot be ruled out "
               "(e.g. log(1 - sigmoid(z)) of a saturated unit)")
        return "inconclusive", (f"{_join(unconfirmed)} disagree{'s' if len(unconfirmed) == 1 else ''}"
                                f" with the numerical gradient at the usual step, but {why}.")
    nonfinite = int(np.count_nonzero(status == J.NONFINITE))
    if nonfinite:
        return "inconclusive", (f"the cost is not finite near `parameters`, so {nonfinite} "
                                "numerical derivatives could not be estimated.")
    unsure_kinks = int(np.count_nonzero(status == J.KINK_UNSURE))
    if unsure_kinks:
        return "inconclusive", (f"{_entries(unsure_kinks)} at kinks, where the analytic value "
                                "lies outside the one-sided slopes; the derivative is not "
                                "defined there, so check at a point off the kinks (see the notes).")
    difference = fmt_difference(judgement.difference, threshold)
    if not judgement.difference < threshold or not judgement.bound < threshold:
        known = f"{judgement.bound:.1e}"
        cause = _cause(problem, evidence.estimate, noisy, noise)
        return "inconclusive", (f"every entry agrees within its uncertainty, but the numerical "
                                f"gradient is known only to {known} (relative) and the "
                                f"difference is {difference}, against the threshold "
                                f"{threshold:.1e}: {cause}.")
    kinks = int(np.count_nonzero(status == J.KINK))
    return "pass", ("every gradient agrees with the numerical one: difference "
                    f"{difference} (threshold {threshold:.1e})"
                    + (f"; {_entries(kinks)} at kinks, each between its one-sided slopes"
                       if kinks else "") + ".")


def _cause(problem, est, noisy, noise):
    """Which part of the error model dominates, as advice."""
    if noisy:
        return (f"the cost is noisy ({noise}, measured; float32 arithmetic, quantization or a "
                "saturated log(1 - sigmoid(z))), so compute it in float64, in a stable way")
    floor, truncation = np.nansum(est.floor), np.nansum(est.truncation)
    local = np.nansum(est.unc) - floor - truncation
    part = int(np.argmax([floor, truncation, local]))
    if problem.epsilon is None:
        return ["round-off dominates even at the step chosen for it: the gradient is small "
                "against the cost's rounding; use method='complex'",
                "truncation error dominates even at the step chosen for it; use "
                "method='complex'",
                "the cost is curved or has kinks at the step chosen for it; use "
                "method='complex'"][part]
    step = f"epsilon={problem.epsilon:.1e}"
    return [f"round-off dominates at {step}; use a larger epsilon, epsilon=None or "
            "method='complex'",
            f"truncation error dominates at {step}; use a smaller epsilon, epsilon=None or "
            "method='complex'",
            f"the cost is curved or has kinks at {step}; use a smaller epsilon or "
            "method='complex'"][part]


def relative_noise(noise):
    """The noise relative to |J(theta0)| (the floor is ROUNDOFF_ULPS units of it)."""
    return noise.level * ROUNDOFF_ULPS * noise.unit / noise.floor if noise.floor > 0 else noise.level


def _tensors(mask, owner, keys, count):
    hit = np.bincount(owner[mask], minlength=count) > 0
    return [keys[t] for t in np.flatnonzero(hit)]


def _entries(count):
    return "1 entry sits" if count == 1 else f"{count} entries sit"


def _join(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

"""Judging measurements: which items agree, which are wrong (confirmed), which sit at kinks,
and which must be measured again at which steps. Pure: it never evaluates the cost.

One path for every method: an item (an entry, or a direction) is wrong only when its
discrepancy exceeds SAFETY x its uncertainty at the method's step AND persists, consistent
with itself, at steps a decade and more wider (`confirm`): numerical error changes with
the step, a bug does not.
"""

from typing import NamedTuple

import numpy as np

from gradcheck.tolerances import (
    CONFIRM_COUNT,
    CONFIRM_STEPS,
    DOUBT,
    REFINE_RANGE,
    REFINE_WIDE,
    REFUTE,
    SAFETY,
    WIDE,
)

# What was concluded about each item.
AGREES, WRONG, UNCONFIRMED, WITHIN, KINK, KINK_UNSURE, NONFINITE = range(7)


class Judgement(NamedTuple):
    """The conclusions about the items of `Evidence`, and per tensor."""

    status: np.ndarray  # (k,) one of AGREES ... NONFINITE
    difference: float  # equation (2) over the items away from kinks
    per_tensor: np.ndarray  # (count,) equation (2) per tensor
    bound: float  # ||uncertainty|| / (||analytic|| + ||numeric||): the precision reached
    per_tensor_bound: np.ndarray  # (count,)
    wrong: np.ndarray  # (count,) bool: a confirmed discrepancy beyond the threshold
    unsure: np.ndarray  # (count,) bool: not shown right, not shown wrong
    unsafe: np.ndarray  # (count,) bool: the complex step cannot be trusted there
    picks: np.ndarray  # items to measure again before any is called wrong ...
    factors: tuple  # ... at these multiples of their step


class Confirmation(NamedTuple):
    """What the re-measurements of the picked items showed (`confirm`)."""

    confirmed: np.ndarray  # (picks,) bool: the discrepancy is real
    cleared: np.ndarray  # (picks,) bool: every usable re-measurement sides with backprop
    refuted: bool  # the wider steps, together, move towards backprop: convict none


def refinements(evidence, threshold):
    """Which items keep the check from certifying the threshold, and the factors of their
    step at which to measure them again.

    Truncation grows as h^order and noise as 1/h: the step that balances them is h x (floor
    / (order truncation))^(1 / (order + 1)), clipped to REFINE_RANGE; Richardson estimates
    at h and at REFINE_WIDE h follow (`estimate.richardson`). Only items whose uncertainty is
    a material share of the precision bound are picked.

    Returns
    -------
    picks : ndarray of int
    narrow : ndarray, shape (len(picks),)
        The balancing factor of each.
    """
    est, a = evidence.estimate, evidence.analytic
    finite = np.isfinite(est.unc) & np.isfinite(est.D) & ~est.kink
    norms = (np.sqrt(np.sum(np.where(finite, a, 0) ** 2))
             + np.sqrt(np.sum(np.where(finite, est.D, 0) ** 2)))
    share = threshold * norms / np.sqrt(max(1, np.count_nonzero(finite)))
    picks = np.flatnonzero(finite & (est.unc > share))
    order = evidence.again.order
    narrow = np.clip((est.floor[picks] / (order * est.truncation[picks])) ** (1 / (order + 1)),
                     *REFINE_RANGE)
    return picks, narrow


# The factors of the re-measurements `refinements` asks for beyond the balancing one:
# Richardson at (1, 2) and at (REFINE_WIDE, 2 REFINE_WIDE) x the step.
RICHARDSON_PAIRS = ((1.0, 2.0), (REFINE_WIDE, 2 * REFINE_WIDE))


def judge(evidence, threshold, count):
    """Judge `evidence` item by item, and the `count` tensors (``evidence.owner``).

    Items that disagree in a tensor above the threshold are UNCONFIRMED; the worst
    CONFIRM_COUNT of each are `picks`, to be measured again at `factors` x their step
    (`confirm`, then `conclude`)."""
    a, est, owner = evidence.analytic, evidence.estimate, evidence.owner
    finite = np.isfinite(est.D) & np.isfinite(est.unc) & np.isfinite(a)
    kink = est.kink & finite
    # Only on a single entry do the one-sided slopes bound the accepted values; a direction
    # through several entries can hide a wrong one in the interval between them.
    within_kink = kink & (a >= est.lo) & (a <= est.hi) & (evidence.entry >= 0)
    keep = finite & ~kink
    err = np.abs(a - est.D)
    disagree = keep & (err > SAFETY * est.unc)
    difference, per_tensor = equation2(a, est.D, owner, count, keep)
    bound, per_tensor_bound = equation2(a, est.D, owner, count, keep, numerator=est.unc)
    flagged = _any(disagree, owner, count) & (per_tensor >= threshold) & ~evidence.unsafe

    status = np.full(len(a), AGREES)
    status[keep & (err > DOUBT * est.unc)] = WITHIN
    status[disagree & flagged[owner]] = UNCONFIRMED  # (in a tensor below the threshold: WITHIN)
    status[kink] = KINK_UNSURE
    status[within_kink] = KINK
    status[~finite] = NONFINITE
    picks = _worst(disagree & flagged[owner], err / np.where(est.unc > 0, est.unc, 1), owner,
                   count)
    # Another estimator (central differences for the complex step) must see it at h too.
    factors = ((1.0,) if evidence.second_opinion else ()) + CONFIRM_STEPS
    return _summary(Judgement(status, difference, per_tensor, bound, per_tensor_bound, None,
                              None, evidence.unsafe, picks, factors), threshold, owner)


def confirm(evidence, picks, factors, again):
    """Is the discrepancy of the items `picks` real rather than numerical?

    A bug is the same at every step; round-off, noise and a cost that float64 freezes (a
    saturated log(1 - sigmoid(z)), flat at small steps and right on average at wide ones;
    a sigmoid that underflows to subnormals) are not. So of the re-measurements `again`
    (Estimates of the picks at `factors` x their step):

    - the nearest must see the discrepancy itself, beyond SAFETY x its uncertainty, and one
      at least WIDE x the first step must be finite and smooth;
    - each must be consistent with the first estimate, within SAFETY x their uncertainties;
    - the wider ones test that the discrepancy does not depend on the step. Where they
      move towards backprop, by a log-likelihood ratio (a Gaussian of their uncertainty
      around either value) summed over all items beyond REFUTE, no item is convicted: a
      frozen term misleads many entries at once. Where they repeat the first estimate,
      that is no evidence either way (a frozen cost repeats itself up to the width of
      its steps of rounding).

    A re-measurement that crosses a kink, or is not finite, says nothing either way.
    """
    a = evidence.analytic[picks]
    D0, unc0 = evidence.estimate.D[picks], evidence.estimate.unc[picks]
    confirmed = np.ones(len(picks), bool)
    cleared = np.ones(len(picks), bool)
    seen_any = np.zeros(len(picks), bool)
    favour = 0.0  # log-likelihood ratio for backprop, from the re-measurements that favour it
    tested = np.zeros(len(picks), bool)  # seen at a step WIDE x the first or wider
    for i, (factor, est) in enumerate(zip(factors, again, strict=True)):
        usable = np.isfinite(est.D) & np.isfinite(est.unc) & ~est.kink
        consistent = np.abs(est.D - D0) <= SAFETY * (est.unc + unc0)
        confirmed &= ~usable | consistent
        cleared &= ~usable | (np.abs(a - est.D) <= SAFETY * est.unc)
        seen_any |= usable
        if i == 0:
            outside_kink = est.kink & ((a < est.lo) | (a > est.hi))
            seen = usable & (np.abs(a - est.D) > SAFETY * est.unc)
            confirmed &= seen | outside_kink
        else:
            tested |= usable & (factor >= WIDE)
            variance = 2 * (est.unc**2 + unc0**2)
            with np.errstate(all="ignore"):
                ratio = ((est.D - D0) ** 2 - (est.D - a) ** 2) / variance
            favour += float(np.sum(np.where(usable & (variance > 0), np.maximum(ratio, 0), 0)))
    # Without a wide step that could be evaluated (the cost is infinite there, or kinked),
    # the discrepancy was never shown not to depend on the step.
    return Confirmation(confirmed & tested, cleared & seen_any, favour > REFUTE)


def conclude(evidence, judgement, confirmation, threshold, cross=None):
    """The final Judgement once the picks were measured again (`confirmation`), and, where
    the cost allowed it, by the complex step (`cross`: Estimates of the confirmed picks, or
    None): two methods agree before an accusation."""
    picks, confirmed = judgement.picks, confirmation.confirmed.copy()
    if cross is not None:
        at = picks[confirmed]
        confirmed[confirmed] = (np.abs(cross.D - evidence.estimate.D[at])
                                <= np.abs(cross.D - evidence.analytic[at]))
    status, unsafe = judgement.status.copy(), judgement.unsafe
    # Wider steps that favour backprop show that this cost misleads small steps (a term
    # float64 freezes affects many entries at once): then none can convict.
    if not confirmation.refuted:
        status[picks[confirmed]] = WRONG
    count = len(unsafe)
    if evidence.second_opinion:  # central differences side with backprop, consistently
        unsafe = unsafe | _any(confirmation.cleared, evidence.owner[picks], count)
    return _summary(judgement._replace(status=status, unsafe=unsafe), threshold, evidence.owner)


def upheld(judgement, owner, threshold, upheld):
    """`judgement` with the convictions of the tensors not `upheld` ((count,) bool)
    withdrawn: their wrong items unconfirmed."""
    withdrawn = (judgement.status == WRONG) & ~upheld[owner]
    if not withdrawn.any():
        return judgement
    status = np.where(withdrawn, UNCONFIRMED, judgement.status)
    return _summary(judgement._replace(status=status), threshold, owner)


def _summary(judgement, threshold, owner):
    """`judgement` with `wrong` and `unsure` per tensor from its status."""
    status, count = judgement.status, len(judgement.unsafe)
    wrong = _any(status == WRONG, owner, count)
    troubled = np.isin(status, (UNCONFIRMED, KINK_UNSURE, NONFINITE))
    imprecise = (judgement.per_tensor >= threshold) & (judgement.per_tensor_bound >= threshold)
    unsure = ~wrong & (_any(troubled, owner, count) | imprecise | judgement.unsafe)
    return judgement._replace(wrong=wrong, unsure=unsure)


def agrees(value, uncertainty, est):
    """Does `value` agree with the one-item Estimate `est` (a smooth one) within both errors?"""
    if est.kink[0] or not np.isfinite(est.D[0]):
        return True  # no evidence either way
    return bool(abs(value - est.D[0]) <= SAFETY * (est.unc[0] + uncertainty))


def complex_unsafe(along, unc, again):
    """Which tensors' complex-step derivatives `along` (count,), with uncertainty `unc`, are
    contradicted by central differences `again` (Estimates at steps a decade and more
    apart, the first the nearest): wherever these are informative (finite, smooth), they
    are apart beyond SAFETY x both uncertainties and nearer their own first value."""
    unsafe = np.ones(len(along), dtype=bool)
    seen = np.zeros(len(along), dtype=bool)
    for est in again:
        informative = np.isfinite(est.D) & ~est.kink
        apart = np.abs(est.D - along) > SAFETY * (est.unc + unc)
        sides = np.abs(est.D - again[0].D) <= np.abs(est.D - along)
        unsafe &= ~informative | (apart & sides)
        seen |= informative
    return unsafe & seen


def disagreeing(along, est, threshold):
    """Which directional derivatives `along` (k,) disagree with their Estimate beyond
    SAFETY x its uncertainty and beyond the threshold (relative): the test of one set of
    entries in the bisection of "directional"."""
    err = np.abs(along - est.D)
    return (err > SAFETY * est.unc) & (err >= threshold * (np.abs(along) + np.abs(est.D)))


def equation2(a, D, owner, count, keep, numerator=None):
    """Equation (2), ||a - D|| / (||a|| + ||D||), over the `keep` items and per tensor; with
    `numerator` (the uncertainty), ||numerator|| / (||a|| + ||D||): the precision reached,
    below which no difference can be certified."""
    top = a - D if numerator is None else numerator
    squares = [np.bincount(owner, weights=np.where(keep, x, 0.0) ** 2, minlength=count)
               for x in (top, a, D)]
    total = _divide(np.sqrt(squares[0].sum()), np.sqrt(squares[1].sum()) + np.sqrt(squares[2].sum()))
    num, na, nd = (np.sqrt(s) for s in squares)
    return float(total), _divide(num, na + nd)


def _divide(num, den):
    """num / den, with 0 / 0 = 0 (two zero gradients agree)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.where((num == 0) & (den == 0), 0.0, num / den)


def _any(mask, owner, count):
    return np.bincount(owner[mask], minlength=count) > 0


def _worst(mask, score, owner, count):
    """The CONFIRM_COUNT highest-scoring masked items of each tensor."""
    picks = []
    for t in range(count):
        chosen = np.flatnonzero(mask & (owner == t))
        picks.append(chosen[np.argsort(-score[chosen], kind="stable")[:CONFIRM_COUNT]])
    return np.concatenate(picks).astype(int) if picks else np.zeros(0, int)

"""Judging the evidence: which items agree, which are wrong (confirmed), which sit at kinks.

One path for every method: an item (an entry, or a direction) is wrong only when its
discrepancy exceeds SAFETY x its uncertainty at the method's step AND persists, consistent
with itself, at steps a decade and more wider (`confirm`): numerical error changes with
the step, a bug does not.
"""

from typing import NamedTuple

import numpy as np

from gradcheck.tolerances import CONFIRM_COUNT, DOUBT, REFUTE, SAFETY, WIDE

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


def judge(evidence, threshold, count):
    """Judge `evidence` item by item, and the `count` tensors (``evidence.owner``)."""
    a, est, owner = evidence.analytic, evidence.estimate, evidence.owner
    finite = np.isfinite(est.D) & np.isfinite(est.unc) & np.isfinite(a)
    kink = est.kink & finite
    # Only on a single entry do the one-sided slopes bound the subgradient; a direction
    # through several entries can hide a wrong one in the interval between them.
    within_kink = kink & (a >= est.lo) & (a <= est.hi) & (evidence.entry >= 0)
    keep = finite & ~kink
    err = np.abs(a - est.D)
    disagree = keep & (err > SAFETY * est.unc)
    difference, per_tensor = equation2(a, est.D, owner, count, keep)
    bound, per_tensor_bound = precision(a, est.D, est.unc, owner, count, keep)
    unsafe = np.zeros(count, bool) if evidence.unsafe is None else evidence.unsafe
    flagged = _any(disagree, owner, count) & (per_tensor >= threshold) & ~unsafe

    status = np.full(len(a), AGREES)
    status[keep & (err > DOUBT * est.unc)] = WITHIN
    status[disagree & flagged[owner]] = UNCONFIRMED  # (in a tensor below the threshold: WITHIN)
    status[kink] = KINK_UNSURE
    status[within_kink] = KINK
    status[~finite] = NONFINITE
    picks = _worst(disagree & flagged[owner], err / np.where(est.unc > 0, est.unc, 1), owner,
                   count)
    if len(picks):
        confirmed, cleared, refuted = confirm(evidence, picks)
        if evidence.cross_check is not None and confirmed.any():
            # Another estimator, where the cost allows it, must side with the numerical
            # estimate too: two methods agree before an accusation.
            Dc = evidence.cross_check(picks[confirmed])
            if Dc is not None:
                D0, a_c = est.D[picks[confirmed]], a[picks[confirmed]]
                confirmed[confirmed] = np.abs(Dc - D0) <= np.abs(Dc - a_c)
        # Wider steps that favour backprop show that this cost misleads small steps (a term
        # float64 freezes affects many entries at once): then none can convict.
        if not refuted:
            status[picks[confirmed]] = WRONG
        if evidence.second_opinion:  # central differences side with backprop, consistently
            unsafe = unsafe | _any(cleared, owner[picks], count)
    wrong = _any(status == WRONG, owner, count)
    troubled = (status == UNCONFIRMED) | (status == KINK_UNSURE) | (status == NONFINITE)
    imprecise = (per_tensor >= threshold) & (per_tensor_bound >= threshold)
    unsure = ~wrong & (_any(troubled, owner, count) | imprecise | unsafe)
    return Judgement(status, difference, per_tensor, bound, per_tensor_bound, wrong, unsure,
                     unsafe)


def confirm(evidence, picks):
    """Is the discrepancy of the items `picks` real rather than numerical?

    A bug is the same at every step; round-off, noise and a cost that float64 freezes (a
    saturated log(1 - sigmoid(z)), flat at small steps and right on average at wide ones;
    a sigmoid that underflows to subnormals) are not. So the re-measurements at
    `evidence.confirm_factors` (wider steps, or for the complex step central differences):

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

    Returns
    -------
    confirmed : ndarray of bool, shape (len(picks),)
    cleared : ndarray of bool, shape (len(picks),)
        Every usable re-measurement agrees with backprop instead (for the complex step,
        whose re-measurements are central differences: the complex step is wrong).
    refuted : bool
        The wider steps, together, move towards backprop: no item may be convicted.
    """
    a = evidence.analytic[picks]
    D0, unc0 = evidence.estimate.D[picks], evidence.estimate.unc[picks]
    confirmed = np.ones(len(picks), bool)
    cleared = np.ones(len(picks), bool)
    seen_any = np.zeros(len(picks), bool)
    favour = 0.0  # log-likelihood ratio for backprop, from the re-measurements that favour it
    tested = np.zeros(len(picks), bool)  # seen at a step WIDE x the first or wider
    for i, factor in enumerate(evidence.confirm_factors):
        est = evidence.remeasure(picks, factor)
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
    return confirmed & tested, cleared & seen_any, favour > REFUTE


def disagrees(threshold):
    """The test of one set of entries in the bisection of "directional": ``test(along, est)``
    says which directional derivatives `along` (k,) disagree with their Estimate beyond
    SAFETY x its uncertainty and beyond the threshold (relative)."""
    def test(along, est):
        err = np.abs(along - est.D)
        return (err > SAFETY * est.unc) & (err >= threshold * (np.abs(along) + np.abs(est.D)))
    return test


def equation2(a, D, owner, count, keep):
    """Equation (2), ||a - D|| / (||a|| + ||D||), over the `keep` items and per tensor."""
    a, D = np.where(keep, a, 0.0), np.where(keep, D, 0.0)
    squares = [np.bincount(owner, weights=(x * x).astype(np.float64), minlength=count)
               for x in (a - D, a, D)]
    num, na, nd = (np.sqrt(s) for s in squares)
    total = _divide(np.sqrt(squares[0].sum()), np.sqrt(squares[1].sum()) + np.sqrt(squares[2].sum()))
    return float(total), _divide(num, na + nd)


def precision(a, D, unc, owner, count, keep):
    """||unc|| / (||a|| + ||D||) over the `keep` items and per tensor: no difference below this
    can be certified."""
    a, D, unc = (np.where(keep, x, 0.0) for x in (a, D, unc))
    squares = [np.bincount(owner, weights=(x * x).astype(np.float64), minlength=count)
               for x in (unc, a, D)]
    total = _divide(np.sqrt(squares[0].sum()), np.sqrt(squares[1].sum()) + np.sqrt(squares[2].sum()))
    nu, na, nd = (np.sqrt(s) for s in squares)
    return float(total), _divide(nu, na + nd)


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


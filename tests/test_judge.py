"""Unit tests of the judge stage on hand-made measurements: it never evaluates anything, and
says which items to measure again at which steps."""

import numpy as np

from gradcheck import judge
from gradcheck.estimate import Estimate
from gradcheck.methods import CENTRAL, Evidence, Items
from gradcheck.tolerances import CONFIRM_COUNT, CONFIRM_STEPS, SAFETY, THRESHOLD


def estimates(D, unc, kink=None, lo=None, hi=None):
    """A hand-made Estimate of len(D) items."""
    D, unc = np.asarray(D, float), np.asarray(unc, float)
    nan, k = np.full(len(D), np.nan), len(D)
    return Estimate(D, unc, nan, nan, np.zeros(k, bool) if kink is None else np.asarray(kink),
                    nan if lo is None else np.asarray(lo, float),
                    nan if hi is None else np.asarray(hi, float), unc / 2, unc / 2, D)


def evidence(analytic, est, owner, second_opinion=False):
    """Evidence of per-entry items owned by the tensors `owner`."""
    analytic, owner = np.asarray(analytic, float), np.asarray(owner)
    k = len(analytic)
    return Evidence(analytic, est, owner, np.arange(k), Items(np.arange(k)),
                    CENTRAL, np.full(k, 1e-5), 1e-5, np.zeros(owner.max() + 1, bool),
                    second_opinion=second_opinion)


def test_agreeing_items_pass_with_nothing_to_measure_again():
    a = [1.0, 2.0, -3.0]
    judgement = judge.judge(evidence(a, estimates(a, [1e-12] * 3), [0, 0, 1]), THRESHOLD, 2)
    assert list(judgement.status) == [judge.AGREES] * 3
    assert judgement.difference == 0.0 and len(judgement.picks) == 0
    assert not judgement.wrong.any() and not judgement.unsure.any()


def test_a_discrepancy_is_unconfirmed_and_picked_for_wider_steps():
    a = [1.0, 2.0, -3.0]
    est = estimates([1.0, 1.0, -3.0], [1e-9] * 3)  # item 1 is off by 1, far beyond 10 x 1e-9
    judgement = judge.judge(evidence(a, est, [0, 0, 1]), THRESHOLD, 2)
    assert judgement.status[1] == judge.UNCONFIRMED
    assert list(judgement.picks) == [1] and judgement.factors == CONFIRM_STEPS
    assert list(judgement.unsure) == [True, False] and not judgement.wrong.any()
    # central differences re-measuring the complex step must also see it at its own step
    again = judge.judge(evidence(a, est, [0, 0, 1], second_opinion=True), THRESHOLD, 2)
    assert again.factors == (1.0, *CONFIRM_STEPS)


def test_at_most_confirm_count_worst_items_per_tensor_are_picked():
    n = CONFIRM_COUNT + 3
    a = np.ones(n)
    D = 1 + np.arange(1, n + 1) / 10  # the last items are the worst
    judgement = judge.judge(evidence(a, estimates(D, [1e-9] * n), [0] * n), THRESHOLD, 1)
    assert sorted(judgement.picks) == list(range(n - CONFIRM_COUNT, n))


def test_a_discrepancy_seen_at_every_wider_step_is_wrong():
    a = [1.0, 2.0]
    ev = evidence(a, estimates([1.0, 1.0], [1e-9] * 2), [0, 0])
    judgement = judge.judge(ev, THRESHOLD, 1)
    again = [estimates([1.0], [1e-9 * f]) for f in judgement.factors]  # the same D, wider steps
    confirmation = judge.confirm(ev, judgement.picks, judgement.factors, again)
    assert list(confirmation.confirmed) == [True] and not confirmation.refuted
    final = judge.conclude(ev, judgement, confirmation, THRESHOLD)
    assert final.status[1] == judge.WRONG and list(final.wrong) == [True]
    # a complex step that sides with backprop clears it
    final = judge.conclude(ev, judgement, confirmation, THRESHOLD, cross=estimates([2.0], [0.0]))
    assert final.status[1] == judge.UNCONFIRMED and not final.wrong.any()


def test_wider_steps_that_move_towards_backprop_refute_every_accusation():
    a = [1.0, 2.0]
    ev = evidence(a, estimates([1.0, 1.0], [1e-3] * 2), [0, 0])
    judgement = judge.judge(ev, THRESHOLD, 1)
    # the first re-measurement repeats the discrepancy; the wider ones drift to backprop (2.0)
    D = [1.0, 1.6, 1.9, 2.0, 2.0]
    again = [estimates([d], [1e-3]) for d in D[:len(judgement.factors)]]
    confirmation = judge.confirm(ev, judgement.picks, judgement.factors, again)
    assert confirmation.refuted
    final = judge.conclude(ev, judgement, confirmation, THRESHOLD)
    assert not final.wrong.any() and final.unsure.all()


def test_a_discrepancy_never_seen_at_a_wide_step_is_not_confirmed():
    a = [1.0, 2.0]
    ev = evidence(a, estimates([1.0, 1.0], [1e-9] * 2), [0, 0])
    judgement = judge.judge(ev, THRESHOLD, 1)
    again = [estimates([1.0] if f < 100 else [np.nan], [1e-9]) for f in judgement.factors]
    confirmation = judge.confirm(ev, judgement.picks, judgement.factors, again)
    assert not confirmation.confirmed.any()


def test_a_kink_accepts_an_analytic_value_between_its_one_sided_slopes_only():
    a = [0.5, 3.0]
    est = estimates([0.5, 0.5], [1.0, 1.0], kink=[True, True], lo=[0.0, 0.0], hi=[1.0, 1.0])
    judgement = judge.judge(evidence(a, est, [0, 1]), THRESHOLD, 2)
    assert list(judgement.status) == [judge.KINK, judge.KINK_UNSURE]
    assert list(judgement.unsure) == [False, True]


def test_items_too_imprecise_to_certify_are_picked_for_refinement_at_a_balancing_step():
    a = np.ones(4)
    est = estimates(a, [1e-12, 1e-12, 1e-3, 1e-12])
    picks, narrow = judge.refinements(evidence(a, est, [0] * 4), THRESHOLD)
    assert list(picks) == [2]
    # floor / (order x truncation) = 1 / 2 here (estimates() splits unc in halves)
    assert narrow[0] == min(0.5, (1 / CENTRAL.order) ** (1 / (CENTRAL.order + 1)))


def test_complex_unsafe_needs_every_informative_central_difference_to_contradict_it():
    along, unc = np.array([1.0, 1.0]), np.zeros(2)
    # tensor 0: central differences say 2.0 at every step; tensor 1: they agree with 1.0
    again = [estimates([2.0, 1.0], [1e-6, 1e-6]) for _ in range(5)]
    assert list(judge.complex_unsafe(along, unc, again)) == [True, False]
    assert judge.agrees(1.0, 0.0, estimates([1.0 + SAFETY * 1e-7], [1e-6]))
    assert not judge.agrees(1.0, 0.0, estimates([2.0], [1e-6]))


def test_a_conviction_not_upheld_is_withdrawn_and_the_others_stand():
    # Two tensors convicted along directions; the entries of tensor 0 are not convicted
    # along their axes: tensor 0's items become unconfirmed, tensor 1 stays wrong.
    owner = np.array([0, 0, 1, 1])
    status = np.array([judge.WRONG, judge.AGREES, judge.WRONG, judge.WRONG])
    judgement = judge.Judgement(status, 0.5, np.array([0.5, 0.5]), 1e-9, np.array([1e-9] * 2),
                                np.array([True, True]), np.array([False, False]),
                                np.zeros(2, bool), np.zeros(0, int), ())
    after = judge.upheld(judgement, owner, THRESHOLD, np.array([False, True]))
    assert list(after.status) == [judge.UNCONFIRMED, judge.AGREES, judge.WRONG, judge.WRONG]
    assert list(after.wrong) == [False, True] and list(after.unsure) == [True, False]
    assert judge.upheld(judgement, owner, THRESHOLD, np.array([True, True])) is judgement

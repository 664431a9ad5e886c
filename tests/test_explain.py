"""Unit tests of the verdict: decided once, from hand-made Findings, its sentence built last."""

import re

import pytest

from gradcheck.estimate import Noise
from gradcheck.explain import Findings, conclusion
from gradcheck.tolerances import EPS, NOISY, ROUNDOFF_ULPS, THRESHOLD

QUIET = Noise(ROUNDOFF_ULPS * EPS, ROUNDOFF_ULPS * EPS)  # a cost of 1.0, float64 round-off
NOISY_COST = Noise(10 * NOISY * ROUNDOFF_ULPS * EPS, ROUNDOFF_ULPS * EPS)


def found(**fields):
    """Findings of a precise check with nothing wrong, changed by `fields`."""
    return Findings(THRESHOLD, **{"difference": 1e-10, "bound": 1e-10, "noise": QUIET, **fields})


def test_nothing_found_is_a_pass_naming_the_difference_and_threshold():
    verdict, reason = conclusion(found())
    assert verdict == "pass"
    assert reason == ("every gradient agrees with the numerical one: difference < 1e-08 "
                      "(threshold 1.0e-07).")


def test_a_pass_says_kinks_and_that_the_complex_step_settled_it_in_one_sentence():
    verdict, reason = conclusion(found(kinks=2, by_complex_step=True))
    assert verdict == "pass"
    assert "; 2 entries sit at kinks, each between its one-sided slopes; central " in reason
    assert reason.endswith("the complex step did, and agrees with them.")
    assert len(re.findall(r"\.(?:\s+[A-Z]|$)", reason)) == 1  # one sentence


def test_wrong_tensors_fail_listing_their_patterns():
    verdict, reason = conclusion(found(wrong=("dW2 is 2.00 × the numerical gradient",
                                              "db1 has 1 wrong entry")))
    assert verdict == "fail"
    assert reason == ("2 gradients are wrong: dW2 is 2.00 × the numerical gradient; db1 has 1 "
                      "wrong entry.")


@pytest.mark.parametrize("fields, words", [
    ({"early": "the cost at `parameters` is nan"}, "the cost at `parameters` is nan."),
    ({"frozen": 0.3}, "does not change at all"),
    ({"broken": ("dW1",)}, "dW1 contains NaN or inf"),
    ({"unsafe": ("dW1", "db1")}, "disagree for dW1 and db1: the cost is not complex-safe"),
    ({"unconfirmed": ("dW1",)}, "dW1 disagrees with the numerical gradient at the usual step, "
                                "but wider steps do not confirm it"),
    ({"unconfirmed": ("dW1",), "noise": NOISY_COST}, "but the cost is noisy"),
    ({"nonfinite": 3}, "so 3 numerical derivatives could not be estimated"),
    ({"kinks_unsure": 1}, "1 entry sits at kinks, where the analytic value lies outside"),
    ({"bound": 1e-6}, "known only to 1.0e-06 (relative)"),
    ({"bound": 1e-6, "epsilon": 1e-9}, "round-off dominates at epsilon=1.0e-09"),
    ({"bound": 1e-6, "dominant": 1}, "truncation error dominates even at the step chosen"),
    ({"difference": 2e-7, "bound": 1e-6, "noise": NOISY_COST}, "compute it in float64"),
])
def test_each_finding_that_keeps_a_check_from_a_verdict_is_inconclusive_saying_why(fields,
                                                                                    words):
    verdict, reason = conclusion(found(**fields))
    assert verdict == "inconclusive"
    assert words in reason and reason.endswith(".")


def test_a_frozen_cost_is_inconclusive_even_with_wrong_tensors():
    # No step tells a frozen cost from a wrong gradient.
    assert conclusion(found(frozen=0.3, wrong=("dw is all zeros",)))[0] == "inconclusive"


def test_a_wrong_tensor_outweighs_every_doubt_elsewhere():
    verdict, _ = conclusion(found(wrong=("dw has 1 wrong entry",), unconfirmed=("db",),
                                  kinks_unsure=2, bound=1e-3))
    assert verdict == "fail"

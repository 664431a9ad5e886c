"""Unit tests of the estimate and judge stages: derivatives with their uncertainty, ECnoise,
equation (2)."""

import numpy as np
import pytest

from gradcheck import estimate, judge
from gradcheck.methods import CENTRAL, COMPLEX, entry_steps
from gradcheck.tolerances import CENTRAL_STEP, EPS, ROUNDOFF_ULPS

STENCIL = np.array([1.0, -1.0, 2.0, -2.0])  # central differences at h, then at 2h

# (function, point, derivative) pairs, smooth at the point.
SMOOTH = [
    (np.sin, 0.3, np.cos(0.3)),
    (np.exp, -1.2, np.exp(-1.2)),
    (lambda x: x**3, 1.0, 3.0),
    (lambda x: np.log1p(x * x), 2.0, 4.0 / 5.0),
]


def rounding(J0):
    """The noise of a float64 cost with nothing but its own rounding."""
    floor = ROUNDOFF_ULPS * EPS * abs(J0)
    return estimate.Noise(floor, floor)


def stencil(f, x0, h):
    """Costs (4, 1) at x0 + STENCIL * h."""
    return np.array([[f(x0 + s * h)] for s in STENCIL])


def central(J0, J, h, noise):
    """`estimate.differences` of central differences from the costs J (4, k) at STENCIL."""
    return estimate.differences(CENTRAL, J0, J[:2], J[2:], h, noise)


def central_at(f, x0, h):
    return central(f(x0), stencil(f, x0, h), np.array([h]), rounding(f(x0)))


# --- central differences -------------------------------------------------------------------

@pytest.mark.parametrize("f, x0, derivative", SMOOTH)
@pytest.mark.parametrize("h", [1e-2, 1e-3, 6e-6, 1e-7])
def test_central_uncertainty_covers_the_error_on_smooth_functions(f, x0, derivative, h):
    est = central_at(f, x0, h)
    assert abs(est.D[0] - derivative) <= est.unc[0]
    assert not est.kink[0]
    assert est.lo[0] <= derivative <= est.hi[0]


@pytest.mark.parametrize("f, x0, derivative", SMOOTH[:3])
def test_central_truncation_falls_as_the_square_of_the_step(f, x0, derivative):
    wide, narrow = central_at(f, x0, 1e-2), central_at(f, x0, 1e-3)
    assert 50 < wide.truncation[0] / narrow.truncation[0] < 200
    assert abs(narrow.D[0] - derivative) < abs(wide.D[0] - derivative) / 50


def test_central_estimates_many_items_at_once():
    x0, h = np.array([0.3, -1.0, 2.0]), np.array([1e-3, 2e-3, 1e-4])
    J = np.sin(x0 + STENCIL[:, None] * h)  # (4, 3): item j moves only x0[j]
    est = central(0.0, J, h, rounding(1.0))
    assert est.D.shape == est.unc.shape == (3,)
    np.testing.assert_allclose(est.D, np.cos(x0), rtol=1e-5)


@pytest.mark.parametrize("f, left, right, subgradient", [
    (np.abs, -1.0, 1.0, 0.0),
    (lambda x: np.maximum(x, 0.0) + x * x, 0.0, 1.0, 0.0),
    (lambda x: np.maximum(x, 0.0) + x * x, 0.0, 1.0, 1.0),
    (lambda x: 3 * x - 2 * np.abs(x), 5.0, 1.0, 3.0),
])
def test_central_sees_a_kink_and_its_one_sided_slopes(f, left, right, subgradient):
    est = central_at(f, 0.0, 1e-3)
    assert est.kink[0]
    assert est.left[0] == pytest.approx(left, abs=1e-2)
    assert est.right[0] == pytest.approx(right, abs=1e-2)
    assert est.lo[0] <= subgradient <= est.hi[0]
    assert est.unc[0] >= 0.5 * abs(right - left)  # a kink is never a precise estimate


def test_central_of_a_constant_cost_is_exact():
    est = central(2.0, np.full((4, 1), 2.0), np.array([1e-5]), rounding(2.0))
    assert est.D[0] == 0.0 and not est.kink[0]


def test_central_noise_term_is_the_noise_over_the_step():
    noise = estimate.Noise(1e-10, 4 * EPS)
    est = central(np.sin(0.3), stencil(np.sin, 0.3, 1e-3), np.array([1e-3]), noise)
    assert est.floor[0] == pytest.approx(1e-10 / 1e-3)
    assert est.unc[0] >= est.floor[0]


# --- Richardson ----------------------------------------------------------------------------

@pytest.mark.parametrize("f, x0, derivative", SMOOTH)
def test_richardson_is_fourth_order_and_its_uncertainty_covers_its_error(f, x0, derivative):
    h = 1e-2
    at_h, at_2h = central_at(f, x0, h), central_at(f, x0, 2 * h)
    R = estimate.richardson(at_h, at_2h, CENTRAL.order)
    assert abs(R.D[0] - derivative) <= R.unc[0]
    assert abs(R.D[0] - derivative) < abs(at_h.D[0] - derivative) / 100 + 1e-12
    assert R.unc[0] < at_h.unc[0]


def test_richardson_is_exact_for_a_cubic():
    at_h, at_2h = central_at(lambda x: x**3, 1.0, 1e-2), central_at(lambda x: x**3, 1.0, 2e-2)
    assert estimate.richardson(at_h, at_2h, CENTRAL.order).D[0] == pytest.approx(3.0, abs=1e-11)


def test_richardson_keeps_a_kink():
    at_h, at_2h = central_at(np.abs, 0.0, 1e-3), central_at(np.abs, 0.0, 2e-3)
    assert estimate.richardson(at_h, at_2h, CENTRAL.order).kink[0]


# --- steps and the complex step ------------------------------------------------------------

def test_central_steps_are_exact_in_float64():
    theta = np.array([0.1, -3.7, 12345.678, 0.0, 1e-300])
    for epsilon in (None, 1e-7):
        h = entry_steps(theta, CENTRAL, epsilon)
        np.testing.assert_array_equal((theta + h) - theta, h)
        assert np.all(h > 0)
    h = entry_steps(theta, CENTRAL, None)
    assert h[2] == pytest.approx(CENTRAL_STEP * 12345.678, rel=1e-6)
    assert h[0] == pytest.approx(CENTRAL_STEP, rel=1e-6)


def test_complex_step_is_the_imaginary_part_over_the_step():
    h = np.full(3, 1e-20)
    x = np.array([0.3, -1.0, 2.0])
    D = estimate.combine(COMPLEX, np.sin(x), np.sin(x + 1j * h)[None], h)
    np.testing.assert_allclose(D, np.cos(x), rtol=1e-15)


# --- ECnoise -------------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [1e-12, 1e-8, 1e-4])
def test_ecnoise_measures_the_level_of_added_noise(sigma):
    x = np.linspace(0, 1e-3, 9)
    ratios = np.array([estimate.ecnoise(np.exp(x) + sigma * np.random.default_rng(seed)
                                        .standard_normal(9)) / sigma for seed in range(200)])
    assert np.mean(np.isnan(ratios)) < 0.05
    ratios = ratios[np.isfinite(ratios)]
    assert 0.6 < np.median(ratios) < 1.5
    assert np.mean((ratios > 0.25) & (ratios < 4)) > 0.9


def test_ecnoise_of_a_smooth_float64_function_is_its_rounding():
    x = np.linspace(0, 1e-3, 9)
    assert estimate.ecnoise(np.exp(x)) < 1e-15


def test_ecnoise_of_constant_costs_is_zero_and_of_mostly_equal_costs_unresolved():
    assert estimate.ecnoise(np.full(9, 0.7)) == 0.0
    assert np.isnan(estimate.ecnoise([1.0] * 5 + [2.0] * 4))
    assert np.isnan(estimate.ecnoise([1.0, 2.0, 3.0]))  # too few points


# --- equation (2) --------------------------------------------------------------------------

def test_equation2_is_the_course_formula_overall_and_per_tensor():
    rng = np.random.default_rng(0)
    a, D = rng.standard_normal(7), rng.standard_normal(7)
    owner = np.array([0, 0, 0, 1, 1, 2, 2])
    total, per_tensor = judge.equation2(a, D, owner, 3, np.ones(7, bool))
    assert total == pytest.approx(np.linalg.norm(a - D) / (np.linalg.norm(a) + np.linalg.norm(D)))
    for t in range(3):
        mine = owner == t
        assert per_tensor[t] == pytest.approx(
            np.linalg.norm(a[mine] - D[mine]) / (np.linalg.norm(a[mine]) + np.linalg.norm(D[mine])))


def test_equation2_leaves_out_items_not_kept_and_two_zero_gradients_agree():
    a = np.array([1.0, 2.0, 0.0, 0.0])
    D = np.array([1.0, 5.0, 0.0, 0.0])
    owner = np.array([0, 0, 1, 1])
    keep = np.array([True, False, True, True])
    total, per_tensor = judge.equation2(a, D, owner, 2, keep)
    assert total == 0.0 and list(per_tensor) == [0.0, 0.0]
    total, per_tensor = judge.equation2(a, -a, owner, 2, np.ones(4, bool))
    assert total == 1.0 and per_tensor[0] == 1.0 and per_tensor[1] == 0.0

"""Unit tests of the methods stage: a method is a description, and one function measures it.

Forward differences are defined here, in the test, without touching the package: adding a
method is adding a description (and its tolerances)."""

import numpy as np
import pytest

from gradcheck import check_gradients, estimate, evaluate, inputs
from gradcheck.methods import (
    CENTRAL,
    COMPLEX,
    Directions,
    Items,
    Method,
    Refusal,
    Site,
    measure,
    unit_direction,
)
from gradcheck.tolerances import EPS, MAX_NOISY_STEP, ROUNDOFF_ULPS

# D(h) = (J(theta + h) - J(theta)) / h: first order, so its step balances truncation O(h)
# against round-off O(u / h) at u^(1/2).
FORWARD = Method("forward", offsets=(1.0, 0.0), weights=(1.0, -1.0), order=1, step=EPS ** 0.5)


def smooth_case(seed=0):
    w = np.random.default_rng(seed).normal(size=6)

    def cost(p):
        return np.sum(np.sin(p["w"]) + p["w"] ** 3, axis=-1)

    return cost, {"w": w}, {"dw": np.cos(w) + 3 * w**2}


def test_a_method_of_ones_own_passes_right_gradients_and_fails_wrong_ones():
    cost, parameters, gradients = smooth_case()
    report = check_gradients(cost, parameters, gradients, method=FORWARD)
    assert report.passed, str(report)
    assert report.method == "forward"
    assert report.epsilon == FORWARD.step and f"step: {FORWARD.step:.1e} ×" in str(report)
    wrong = {"dw": gradients["dw"] * np.array([1, 1, 2, 1, 1, 1])}
    report = check_gradients(cost, parameters, wrong, method=FORWARD)
    assert report.verdict == "fail" and report.rows["dw"].worst_index == (2,), str(report)


def test_the_step_of_a_method_of_ones_own_widens_by_its_order_for_a_noisy_cost():
    # A float32 cost: the step that balances truncation O(h) against noise / h grows as
    # noise^(1/2) for forward differences (noise^(1/3) for central ones), up to MAX_NOISY_STEP.
    w = np.random.default_rng(1).normal(size=4)

    def cost(p):
        return np.sum(np.sin(p["w"].astype(np.float32)), axis=-1).astype(np.float64)

    for method in (FORWARD, CENTRAL):
        report = check_gradients(cost, {"w": w}, {"dw": np.cos(w)}, method=method)
        assert report.verdict != "fail"
        level = report.noise / (ROUNDOFF_ULPS * EPS)  # the noise over its float64 floor
        factor = min(MAX_NOISY_STEP, level ** (1 / (method.order + 1)))
        assert report.epsilon == pytest.approx(method.step * factor, rel=1e-12)


def test_a_method_of_ones_own_is_refused_where_it_is_not_a_method():
    cost, parameters, gradients = smooth_case()
    with pytest.raises(ValueError, match="`method` must be one of"):
        check_gradients(cost, parameters, gradients, method=("forward", (1.0, 0.0)))


# --- a description's estimates on polynomials ----------------------------------------------

def costs(f, x0, method, h):
    """The costs of `method` at x0 + o h and x0 + o 2h (nonzero offsets o), rows per offset."""
    offsets = method.evaluated
    return (np.array([f(x0 + o * h) for o in offsets]),
            np.array([f(x0 + o * 2 * h) for o in offsets]))


def rounding(J0):
    floor = ROUNDOFF_ULPS * EPS * abs(J0)
    return estimate.Noise(floor, floor)


@pytest.mark.parametrize("method, exact_degree", [(CENTRAL, 2), (FORWARD, 1)])
def test_a_description_is_exact_up_to_its_order_and_measures_its_truncation(method, exact_degree):
    x0, h = np.array([0.5]), np.array([1e-3])
    line = np.polynomial.Polynomial([0.3, -1.2, 0.7, 0.0][:exact_degree + 1])
    est = estimate.differences(method, line(x0)[0], *costs(line, x0, method, h), h,
                               rounding(1.0))
    assert est.D[0] == pytest.approx(line.deriv()(x0)[0], abs=1e-9)
    # one degree more: the error is O(h^order), and |D(h) - D(2h)| is (2^order - 1) times it
    poly = np.polynomial.Polynomial([0.3, -1.2, 0.7, 2.0][:method.order + 2])
    est = estimate.differences(method, poly(x0)[0], *costs(poly, x0, method, h), h,
                               rounding(1.0))
    error = abs(est.D[0] - poly.deriv()(x0)[0])
    assert est.truncation[0] == pytest.approx((2**method.order - 1) * error, rel=1e-3)
    assert error <= est.unc[0]


@pytest.mark.parametrize("method", [CENTRAL, FORWARD])
def test_richardson_reads_the_order_of_the_method(method):
    # One order more than the method: exact for a polynomial of degree order + 1.
    x0, h = np.array([0.5]), np.array([1e-2])
    poly = np.polynomial.Polynomial([0.3, -1.2, 0.7, 2.0][:method.order + 2])
    at = [estimate.differences(method, poly(x0)[0], *costs(poly, x0, method, s), s,
                               rounding(1.0)) for s in (h, 2 * h)]
    R = estimate.richardson(*at, method.order)
    assert R.D[0] == pytest.approx(poly.deriv()(x0)[0], abs=1e-10)


def test_only_a_two_sided_method_sees_kinks():
    x0, h = np.array([0.0]), np.array([1e-3])
    for method, sees in ((CENTRAL, True), (FORWARD, False)):
        est = estimate.differences(method, 0.0, *costs(np.abs, x0, method, h), h, rounding(1.0))
        assert bool(est.kink[0]) is sees


# --- measure: one function for every method, item and step ---------------------------------

def site_of(cost, theta0):
    """A Site on `cost` of the vector theta0 (a single tensor "w"), evaluated one call at a time."""
    problem = inputs.checked({"w": theta0}, {"dw": theta0}, "central", None, 1e-7, 0, False)
    evaluator = evaluate.Evaluator(lambda p: cost(p["w"]), problem.layout, False,
                                   evaluate.GlobalRandom())
    J0 = evaluator.single(theta0.copy())
    return Site(evaluator, theta0, J0, rounding(J0))


def cubic(w):
    return np.sum(w**3 - 2 * w)


@pytest.mark.parametrize("method", [CENTRAL, FORWARD, COMPLEX])
def test_measure_along_axes_and_directions_estimates_the_derivative(method):
    theta0 = np.array([0.3, -1.1, 2.0])
    gradient = 3 * theta0**2 - 2
    site = site_of(cubic, theta0)
    h = np.full(3, 1e-20 if method.imaginary else 1e-5)
    tolerance = 1e-12 if method.imaginary else 1e-4
    along_axes = measure(site, method, Items(axes=np.arange(3)), h)
    np.testing.assert_allclose(along_axes.D, gradient, rtol=tolerance)
    V = Directions(np.array([0, 2]), (np.array([0.6, 0.8]), np.array([1.0])))
    along = measure(site, method, Items(directions=V), h[:2])
    np.testing.assert_allclose(along.D, [0.6 * gradient[0] + 0.8 * gradient[1], gradient[2]],
                               rtol=tolerance)


def test_measure_evaluates_2h_only_for_the_items_h_does_not_settle():
    theta0 = np.array([0.3, -1.1, 2.0])
    gradient = 3 * theta0**2 - 2
    site = site_of(cubic, theta0)
    before = site.evaluator.count
    wrong = gradient * np.array([1.0, 2.0, 1.0])  # only the second item is not settled at h
    est = measure(site, CENTRAL, Items(axes=np.arange(3)), np.full(3, 1e-5),
                  settle=(wrong, 1e-7))
    assert site.evaluator.count - before == 2 * 3 + 2 * 1
    assert est.truncation[1] > 0 and est.truncation[0] == est.truncation[2] == 0


def test_measure_of_the_complex_step_is_a_refusal_for_a_cost_that_raises_after_one_call():
    def real_only(w):
        if np.iscomplexobj(w):
            raise TypeError("real parameters only")
        return cubic(w)

    site = site_of(real_only, np.array([0.3, 1.0]))
    before = site.evaluator.count
    refused = measure(site, COMPLEX, Items(axes=np.arange(2)), np.full(2, 1e-20))
    assert isinstance(refused, Refusal) and str(refused.error) == "real parameters only"
    assert not refused.cast and site.evaluator.count - before == 1  # the first point alone


def test_measure_of_the_complex_step_is_a_refusal_for_a_cost_that_returns_real_values():
    def buffered(w):
        out = np.zeros(len(w))  # a float buffer: NumPy casts the complex values to real
        out[:] = w ** 3
        return np.sum(out)

    site = site_of(buffered, np.array([0.3, 1.0, 2.0]))
    before = site.evaluator.count
    refused = measure(site, COMPLEX, Items(axes=np.arange(3)), np.full(3, 1e-20))
    assert refused == Refusal(None, True)
    assert site.evaluator.count - before == 1  # the first point alone


@pytest.mark.parametrize("error", ["one entry", "two entries", "dense"])
def test_unit_directions_see_an_error_no_less_often_than_gaussian_ones(error):
    # P(|v.e| < 0.1 |e| / sqrt(n)) is 0.0797 for a Gaussian unit v whatever e: the uniform
    # draws of `unit_direction` must not make a small projection (a missed bug) more likely.
    n, draws = 50, 20000
    rng = np.random.default_rng(7)
    e = {"one entry": np.eye(n)[3], "two entries": np.eye(n)[3] - np.eye(n)[4],
         "dense": rng.standard_normal(n)}[error]
    e /= np.linalg.norm(e)
    small = np.mean([abs(unit_direction(rng, n) @ e) * np.sqrt(n) < 0.1 for _ in range(draws)])
    assert small < 1.15 * 0.0797
    assert np.isclose(np.linalg.norm(unit_direction(rng, n)), 1.0)

"""Tests of gc_utils.check_gradients: verdicts, patterns, kinks, randomness, inputs, speed paths."""

import numpy as np
import pytest

import gc_utils
import testCases
from gradcheck import _legacy as gradcheck
from tests import networks

METHODS = ("central", "complex", "directional")
# np.longdouble (and np.clongdouble) wider than float64: x86 has it, ARM macOS does not.
needs_extended_precision = pytest.mark.skipif(
    not gradcheck.EXTENDED, reason="needs an np.longdouble wider than float64")
# Tolerance on equation (2) for a correct gradient of a smooth function, per method.
TOLERANCE = {"central": 1e-8, "complex": 1e-13, "directional": 1e-8}


def course_case():
    X, Y, parameters = testCases.gradient_check_n_test_case()
    return networks.cost(X, Y), parameters, networks.backward(X, Y, parameters)


def planted_bugs(gradients):
    """The course's planted bugs: dW2 doubled, db1 quadrupled."""
    wrong = dict(gradients)
    wrong["dW2"] = 2 * gradients["dW2"]
    wrong["db1"] = 4 * gradients["db1"]
    return wrong


def course_forward_cost(X, Y):
    """The course's forward_propagation_n cost, written with np.dot (not batch-capable)."""
    def cost(parameters):
        A1 = gc_utils.relu(np.dot(parameters["W1"], X) + parameters["b1"])
        A2 = gc_utils.relu(np.dot(parameters["W2"], A1) + parameters["b2"])
        A3 = gc_utils.sigmoid(np.dot(parameters["W3"], A2) + parameters["b3"])
        logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
        return 1.0 / X.shape[1] * np.sum(logprobs)
    return cost


def snapshot(arrays):
    return {name: (value.dtype, value.shape, value.tobytes()) for name, value in arrays.items()}


# --- known gradients -----------------------------------------------------------------------

def known_functions():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal((4, 1))
    w = rng.standard_normal(5)
    return [
        # sum of sin: gradient cos
        (lambda p: np.sum(np.sin(p["w"]), axis=-1), {"w": w}, {"dw": np.cos(w)}),
        # quadratic form x^T A x: gradient (A + A^T) x
        (lambda p: (np.swapaxes(p["x"], -1, -2) @ A @ p["x"])[..., 0, 0],
         {"x": x}, {"dx": (A + A.T) @ x}),
        # exp of a sum, with a scalar parameter: gradient exp(.) for both
        (lambda p: np.exp(np.sum(p["w"], axis=-1) * 0.3 + p["c"]),
         {"w": w, "c": np.array(0.5)},
         {"dw": 0.3 * np.exp(0.3 * w.sum() + 0.5) * np.ones(5),
          "dc": np.array(np.exp(0.3 * w.sum() + 0.5))}),
    ]


@pytest.mark.parametrize("method", METHODS)
def test_known_gradients_pass_within_tolerance(method):
    for cost_fn, parameters, gradients in known_functions():
        report = gc_utils.check_gradients(cost_fn, parameters, gradients, method=method)
        assert report.verdict == "pass", str(report)
        assert report.difference < TOLERANCE[method]


@pytest.mark.parametrize("method", METHODS)
def test_known_gradient_scaled_fails_with_factor(method):
    cost_fn, parameters, gradients = known_functions()[0]
    report = gc_utils.check_gradients(cost_fn, parameters, {"dw": 3 * gradients["dw"]},
                                      method=method)
    assert report.verdict == "fail"
    assert report.suspects == ["dw"]
    assert "dw is 3.00 × the numerical gradient" in report.reason


def test_sign_flip_and_zeros_and_transpose_are_named():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((3, 3))
    W = rng.standard_normal((3, 3))
    b = rng.standard_normal(3)

    def cost(p):
        return np.sum(A * p["W"]) + np.sum(np.sin(p["b"]))

    report = gc_utils.check_gradients(cost, {"W": W, "b": b}, {"dW": -A, "db": np.zeros(3)})
    assert report.suspects == ["dW", "db"]
    assert "dW has the wrong sign" in report.reason
    assert "db is all zeros" in report.reason
    report = gc_utils.check_gradients(cost, {"W": W, "b": b}, {"dW": A.T, "db": np.cos(b)})
    assert "dW is the transpose of the numerical gradient" in report.reason


def test_one_wrong_entry_is_listed_with_its_index():
    cost_fn, parameters, gradients = course_case()
    wrong = dict(gradients)
    wrong["dW1"] = gradients["dW1"].copy()
    wrong["dW1"][2, 1] += 0.05
    report = gc_utils.check_gradients(cost_fn, parameters, wrong)
    assert report.suspects == ["dW1"]
    assert report.rows["W1"].worst_index == (2, 1)
    assert "dW1 has 1 of 20 entries wrong: (2, 1)" in report.reason


# --- the course network --------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_course_network_correct_gradients_pass(method):
    cost_fn, parameters, gradients = course_case()
    report = gc_utils.check_gradients(cost_fn, parameters, gradients, method=method)
    assert report.passed, str(report)
    assert report.suspects == []
    assert set(report.per_parameter) == set(parameters)


def test_course_network_complex_step_difference_is_near_machine_precision():
    cost_fn, parameters, gradients = course_case()
    report = gc_utils.check_gradients(cost_fn, parameters, gradients, method="complex")
    assert report.difference <= 1e-13


@pytest.mark.parametrize("method", METHODS)
def test_course_planted_bugs_fail_naming_dW2_and_db1(method):
    cost_fn, parameters, gradients = course_case()
    report = gc_utils.check_gradients(cost_fn, parameters, planted_bugs(gradients),
                                      method=method)
    assert report.verdict == "fail"
    assert report.suspects == ["db1", "dW2"]  # in the order of `parameters`
    text = str(report)
    assert "dW2 is 2.00 × the numerical gradient" in text
    assert "db1 is 4.00 × the numerical gradient" in text
    assert report.reason


def test_course_loop_and_check_gradients_agree_at_epsilon_1e_7():
    cost_fn, parameters, gradients = course_case()
    theta, _ = gc_utils.dictionary_to_vector(parameters)
    grad = gc_utils.gradients_to_vector(gradients, parameters)
    gradapprox = np.zeros_like(theta)
    for i in range(theta.shape[0]):  # the notebook's algorithm
        theta_plus, theta_minus = theta.copy(), theta.copy()
        theta_plus[i] += 1e-7
        theta_minus[i] -= 1e-7
        J_plus = cost_fn(gc_utils.vector_to_dictionary(theta_plus, parameters))
        J_minus = cost_fn(gc_utils.vector_to_dictionary(theta_minus, parameters))
        gradapprox[i] = (J_plus - J_minus) / 2e-7
    difference = np.linalg.norm(grad - gradapprox) / (
        np.linalg.norm(grad) + np.linalg.norm(gradapprox))
    report = gc_utils.check_gradients(cost_fn, parameters, gradients, epsilon=1e-7,
                                      batched=False)
    assert report.difference == pytest.approx(difference, rel=1e-3)


def test_round_off_at_tiny_epsilon_is_inconclusive_not_fail():
    cost_fn, parameters, gradients = course_case()
    report = gc_utils.check_gradients(cost_fn, parameters, gradients, epsilon=1e-7)
    assert report.difference >= 1e-7
    assert report.verdict == "inconclusive"
    assert "round-off dominates at epsilon=1.0e-07" in report.reason


# --- caller's data and randomness ----------------------------------------------------------

def test_inputs_unchanged_bit_for_bit_after_a_check():
    cost_fn, parameters, gradients = course_case()
    gradients["dZ1"] = np.ones((5, 3))  # extra keys are ignored, and kept
    before = snapshot(parameters), snapshot(gradients)
    for method in METHODS:
        gc_utils.check_gradients(cost_fn, parameters, planted_bugs(gradients), method=method)
        gc_utils.check_gradients(cost_fn, parameters, gradients, method=method)
    assert (snapshot(parameters), snapshot(gradients)) == before


def test_inputs_and_random_state_unchanged_when_cost_fn_raises_halfway():
    _, parameters, gradients = course_case()
    X, Y, _ = testCases.gradient_check_n_test_case()
    cost = course_forward_cost(X, Y)
    calls = []

    def failing(p):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("boom")
        result = cost(p)
        for value in p.values():
            value *= 3.0  # a cost that mutates its argument must not reach the caller
        return result

    before = snapshot(parameters), snapshot(gradients)
    np.random.seed(5)
    state = np.random.get_state()
    with pytest.raises(RuntimeError, match="boom"):
        gc_utils.check_gradients(failing, parameters, gradients, batched=False)
    assert (snapshot(parameters), snapshot(gradients)) == before
    after = np.random.get_state()
    assert np.array_equal(after[1], state[1]) and after[2:] == state[2:]


def _raising_on_full_batches(cost_fn):
    """`cost_fn`, but it draws from np.random, and zeroes its arguments and raises on a batch
    of more than 2 points."""

    def failing(p):
        np.random.rand()  # draws, so the global state must be put back
        if p["W1"].ndim == 3 and len(p["W1"]) > 2:
            for value in p.values():
                value[...] = 0.0
            raise RuntimeError("boom")
        return cost_fn(p)

    return failing


def test_inputs_and_random_state_unchanged_when_a_forced_batch_raises():
    # With batched=True the first call is already the batch of theta and theta +- h e_i.
    cost_fn, parameters, gradients = course_case()
    before = snapshot(parameters), snapshot(gradients)
    np.random.seed(5)
    state = np.random.get_state()
    with pytest.raises(RuntimeError, match="boom"):
        gc_utils.check_gradients(_raising_on_full_batches(cost_fn), parameters, gradients,
                                 batched=True)
    assert (snapshot(parameters), snapshot(gradients)) == before
    after = np.random.get_state()
    assert np.array_equal(after[1], state[1]) and after[2:] == state[2:]


def test_detected_batching_falls_back_when_a_full_batch_raises():
    # The 2-point probe passes; the first full batch raises, so single calls take over.
    cost_fn, parameters, gradients = course_case()
    before = snapshot(parameters), snapshot(gradients)
    report = gc_utils.check_gradients(_raising_on_full_batches(cost_fn), parameters, gradients)
    assert not report.batched and report.passed, str(report)
    assert (snapshot(parameters), snapshot(gradients)) == before


def test_dropout_with_global_random_masks_is_checked_deterministically():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 6))
    np.random.seed(11)
    state = np.random.get_state()
    mask = np.random.rand(4, 6) < 0.5  # the mask the cost will draw
    np.random.set_state(state)

    def cost(p):
        return np.sum((np.random.rand(4, 6) < 0.5) * np.sin(p["w"]))

    report = gc_utils.check_gradients(cost, {"w": w}, {"dw": mask * np.cos(w)})
    assert report.passed, str(report)
    after = np.random.get_state()
    assert np.array_equal(after[1], state[1]) and after[2:] == state[2:]


@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_private_unseeded_generator_is_inconclusive_never_fail(factor):
    rng = np.random.default_rng()
    w = np.linspace(-1, 1, 6)

    def cost(p):
        return np.sum(np.sin(p["w"])) + 1e-9 * rng.standard_normal()

    report = gc_utils.check_gradients(cost, {"w": w}, {"dw": factor * np.cos(w)})
    assert report.verdict == "inconclusive"
    assert "not deterministic" in report.reason


# --- numerics that must not accuse backprop ------------------------------------------------

def test_nan_cost_is_inconclusive():
    w = np.ones(3)
    report = gc_utils.check_gradients(lambda p: np.nan * np.sum(p["w"]), {"w": w},
                                      {"dw": np.ones(3)})
    assert report.verdict == "inconclusive" and not report.passed
    assert "nan" in report.reason


def test_cost_nan_near_parameters_is_not_pass():
    w = np.array([0.0, 1.0])  # log(w) is nan just left of 0

    def cost(p):
        return np.sum(np.sqrt(p["w"]))

    report = gc_utils.check_gradients(cost, {"w": w}, {"dw": np.array([0.0, 0.5])})
    assert not report.passed


def test_non_finite_gradient_is_inconclusive():
    w = np.linspace(0, 1, 4)
    report = gc_utils.check_gradients(lambda p: np.sum(np.sin(p["w"]), axis=-1), {"w": w},
                                      {"dw": np.array([1.0, np.nan, 0.5, 0.5])})
    assert report.verdict == "inconclusive"
    assert "dw" in report.reason and "NaN or inf" in report.reason


def relu_kink_case():
    w = np.array([0.0, 1.5, -0.5])  # entry 0 sits exactly on the ReLU kink
    v = np.array([0.3, -0.7])

    def cost(p):
        return np.sum(gc_utils.relu(p["w"]), axis=-1) + 0.5 * np.sum(p["v"] ** 2, axis=-1)

    return cost, {"w": w, "v": v}, {"dw": (w > 0).astype(float), "dv": v.copy()}


def test_relu_kink_reports_one_sided_derivatives_and_valid_subgradient():
    cost, parameters, gradients = relu_kink_case()
    report = gc_utils.check_gradients(cost, parameters, gradients)
    assert report.passed, str(report)
    (kink,) = report.rows["w"].kinks
    assert kink.index == (0,)
    assert kink.left == pytest.approx(0.0, abs=1e-6)
    assert kink.right == pytest.approx(1.0, rel=1e-6)
    assert kink.valid
    assert "kink at dw(0,): left 0, right 1, analytic 0 (valid subgradient)" in str(report)


def test_relu_kink_with_analytic_value_outside_the_one_sided_derivatives_fails():
    cost, parameters, gradients = relu_kink_case()
    gradients["dw"][0] = 2.0
    report = gc_utils.check_gradients(cost, parameters, gradients)
    assert report.verdict == "fail"
    assert report.suspects == ["dw"]
    assert not report.rows["w"].kinks[0].valid


def test_saturated_sigmoid_log_one_minus_a_with_correct_gradient_does_not_fail():
    X = np.array([[30.0, 33.0, 35.0, 31.5]])
    Y = np.zeros((1, 4))
    w = np.array([[1.0]])

    def cost(p):
        A = gc_utils.sigmoid(p["w"] @ X)
        return -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=-1)[..., 0] / 4

    gradients = {"dw": (gc_utils.sigmoid(w @ X) - Y) @ X.T / 4}
    for method in METHODS:
        for epsilon in (None, 1e-7):
            report = gc_utils.check_gradients(cost, {"w": w}, gradients, method=method,
                                              epsilon=None if method == "complex" else epsilon)
            assert report.verdict != "fail", str(report)


def test_complex_unsafe_cost_is_inconclusive_naming_the_parameter():
    w = np.array([0.5, -1.5, 2.0])
    v = np.array([0.1, 0.2])

    def cost_abs(p):
        return np.sum(np.abs(p["w"])) + np.sum(np.sin(p["v"]))

    def cost_norm(p):
        return np.linalg.norm(p["w"]) ** 2 + np.sum(np.sin(p["v"]))

    for cost, dw in ((cost_abs, np.sign(w)), (cost_norm, 2 * w)):
        report = gc_utils.check_gradients(cost, {"w": w, "v": v},
                                          {"dw": dw, "dv": np.cos(v)}, method="complex")
        assert report.verdict == "inconclusive", str(report)
        assert "not complex-safe for w" in report.reason
        assert report.rows["w"].verdict == "not complex-safe"
        assert report.rows["v"].verdict == "ok"


@needs_extended_precision
def test_complex_step_that_underflows_is_not_blamed_on_the_code(monkeypatch):
    # -log(sigmoid(z)) at z = -720: sigmoid(z) ~ 1e-313 is subnormal, so the imaginary part
    # of the complex step underflows to 0 although the code is complex-safe.
    w = np.array([-720.0, 0.3])
    v = np.array([0.1, 0.2])

    def cost(p):
        return -np.sum(np.log(gc_utils.sigmoid(p["w"])), axis=-1) + np.sum(np.sin(p["v"]), axis=-1)

    gradients = {"dw": -(1 - gc_utils.sigmoid(w)), "dv": np.cos(v)}
    report = gc_utils.check_gradients(cost, {"w": w, "v": v}, gradients, method="complex")
    # Re-run in np.clongdouble, where sigmoid(-720) is a normal number, it passes ...
    assert report.passed, str(report)
    assert "estimated in extended precision" in report.reason
    # ... and without that re-run the reason names float64, not the code.
    monkeypatch.setattr(gradcheck, "EXTENDED_MAX_N", 0)
    report = gc_utils.check_gradients(cost, {"w": w, "v": v}, gradients, method="complex")
    assert report.verdict == "inconclusive", str(report)
    assert "complex step is inaccurate in float64 for w" in report.reason
    assert report.rows["w"].verdict == "unsure" and report.rows["v"].verdict == "ok"
    monkeypatch.undo()
    assert gc_utils.check_gradients(cost, {"w": w, "v": v}, gradients).passed
    # A real bug in the same tensor is still confirmed by central differences.
    buggy = {**gradients, "dw": 2 * gradients["dw"]}
    report = gc_utils.check_gradients(cost, {"w": w, "v": v}, buggy, method="complex")
    assert report.verdict == "fail" and report.suspects == ["dw"], str(report)


@needs_extended_precision
@pytest.mark.parametrize("method", METHODS)
def test_cost_that_loses_precision_in_float64_is_named_as_the_cause(method):
    # -log(1 - sigmoid(36)): 1 - sigmoid(z) ~ 2e-16 is rounded to a few ulps in float64.
    w = np.array([36.0, 0.3])
    v = np.array([0.1, 0.2])

    def cost(p):
        return (-np.sum(np.log(1 - gc_utils.sigmoid(p["w"])), axis=-1)
                + np.sum(np.sin(p["v"]), axis=-1))

    gradients = {"dw": gc_utils.sigmoid(w), "dv": np.cos(v)}
    report = gc_utils.check_gradients(cost, {"w": w, "v": v}, gradients, method=method)
    assert report.verdict == "inconclusive", str(report)
    assert "the cost itself loses precision in float64" in report.reason, str(report)


@pytest.mark.parametrize("method", METHODS)
def test_cost_that_refuses_extended_precision_is_still_checked(method):
    # np.linalg refuses np.longdouble and np.clongdouble: the confirmation in extended
    # precision must be skipped, not raise. cost(w) = 1' (A + w I)^-1 1.
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    w = np.array([0.5])

    def cost(p):
        return np.sum(np.linalg.solve(A + p["w"] * np.eye(2), np.ones(2)))

    inverse = np.linalg.inv(A + w[0] * np.eye(2))
    gradients = {"dw": np.array([-np.ones(2) @ inverse @ inverse @ np.ones(2)])}
    assert gc_utils.check_gradients(cost, {"w": w}, gradients, method=method).passed
    report = gc_utils.check_gradients(cost, {"w": w}, {"dw": 2 * gradients["dw"]},
                                      method=method)
    assert report.verdict == "fail" and "dw is 2.00 ×" in report.reason, str(report)


def test_complex_step_is_not_blamed_where_central_differences_see_a_constant_cost():
    # -log(sigmoid(100)) ~ 4e-44 rounds to exactly 0, so central differences are 0 with no
    # round-off; the complex step still gets the derivative -sigmoid(-100) right.
    w = np.array([100.0, 101.0])

    def cost(p):
        return -np.sum(np.log(gc_utils.sigmoid(p["w"])), axis=-1)

    gradients = {"dw": -gc_utils.sigmoid(-w)}
    report = gc_utils.check_gradients(cost, {"w": w}, gradients, method="complex")
    assert report.passed, str(report)


@needs_extended_precision
@pytest.mark.parametrize("method", ["central", "directional"])  # complex: see above
def test_check_that_float64_cannot_settle_is_rerun_in_extended_precision(method):
    # -log(1 - sigmoid(z)) for z up to 18.5: float64 rounds 1 - sigmoid(z) enough to make
    # the numerical derivatives inconclusive; np.longdouble settles them.
    X = np.linspace(0, 2, 8).reshape(1, 8)
    w, b = np.array([[9.0]]), np.array([[0.5]])

    def cost(p):
        A = gc_utils.sigmoid(p["w"] @ X + p["b"])
        return -np.sum(np.log(1 - A), axis=-1)[..., 0] / 8

    A = gc_utils.sigmoid(w @ X + b)
    gradients = {"dw": A @ X.T / 8, "db": np.sum(A, axis=1, keepdims=True) / 8}
    report = gc_utils.check_gradients(cost, {"w": w, "b": b}, gradients, method=method)
    assert report.passed, str(report)
    assert "extended precision" in report.reason
    # Only a pass comes from the re-run: bugs stay unproven (inconclusive), never pass.
    for factor in (1.001, 2.0):
        buggy = {**gradients, "dw": factor * gradients["dw"]}
        report = gc_utils.check_gradients(cost, {"w": w, "b": b}, buggy, method=method)
        assert report.verdict == "inconclusive", str(report)
    # A given epsilon is checked as given, in float64.
    report = gc_utils.check_gradients(cost, {"w": w, "b": b}, gradients, method=method,
                                      epsilon=1e-6)
    assert report.verdict == "inconclusive" and "extended" not in report.reason


@needs_extended_precision
@pytest.mark.parametrize("extended", ["raises", "drops to complex128"])
@pytest.mark.parametrize("z", [-720.0, 33.0])
def test_complex_cost_without_clongdouble_keeps_the_float64_verdict(extended, z):
    # A subnormal sigmoid(-720) (the complex step underflows) or a rounded 1 - sigmoid(33)
    # (the cost loses precision), with a cost that cannot compute in np.clongdouble: neither
    # the re-check nor the re-run in extended precision may raise, or pass on numbers it
    # could not compute.
    w = np.array([z, 0.3])
    v = np.array([0.1, 0.2])
    label = 1.0 if z < 0 else 0.0

    def cost(p):
        if p["w"].dtype == np.clongdouble:
            if extended == "raises":
                raise TypeError("no clongdouble here")
            p = {name: value.astype(complex) for name, value in p.items()}
        A = gc_utils.sigmoid(p["w"])
        return (-np.sum(np.log(A) if label else np.log(1 - A), axis=-1)
                + np.sum(np.sin(p["v"]), axis=-1))

    gradients = {"dw": gc_utils.sigmoid(w) - label, "dv": np.cos(v)}
    for dw in (gradients["dw"], np.zeros(2)):
        report = gc_utils.check_gradients(cost, {"w": w, "v": v}, {**gradients, "dw": dw},
                                          method="complex")
        assert report.verdict == "inconclusive", str(report)


def test_complex_method_refuses_a_cost_that_rejects_or_drops_complex_input():
    w = np.ones(2)
    with pytest.raises(TypeError, match="`cost_fn` must accept complex parameters"):
        gc_utils.check_gradients(lambda p: np.sum(np.floor(p["w"])), {"w": w}, {"dw": w},
                                 method="complex")
    with pytest.raises(TypeError, match="`cost_fn` returned a real value"):
        gc_utils.check_gradients(lambda p: np.sum(p["w"].real), {"w": w}, {"dw": w},
                                 method="complex")


# --- directional and batching --------------------------------------------------------------

def test_directional_finds_a_single_wrong_entry_in_a_6091_parameter_network():
    X, Y, parameters = testCases.deep_network_case([100, 50, 20, 1], 64, seed=1,
                                                   weight_scale=0.1)
    gradients = networks.backward(X, Y, parameters)
    wrong = dict(gradients)
    wrong["dW1"] = gradients["dW1"].copy()
    wrong["dW1"][17, 42] += np.abs(gradients["dW1"]).max()
    n = sum(value.size for value in parameters.values())
    assert n == 6091
    report = gc_utils.check_gradients(networks.cost(X, Y), parameters, wrong,
                                      method="directional")
    assert report.suspects == ["dW1"]
    assert [entry[0] for entry in report.rows["W1"].entries] == [(17, 42)]
    assert report.rows["W1"].worst_index == (17, 42)
    assert report.evaluations < n / 10
    assert "(17, 42)" in str(report)


def test_batching_detected_for_batch_capable_cost():
    cost_fn, parameters, gradients = course_case()
    assert gc_utils.check_gradients(cost_fn, parameters, gradients).batched


def test_batching_not_used_for_np_dot_cost_which_still_passes():
    X, Y, parameters = testCases.gradient_check_n_test_case()
    gradients = networks.backward(X, Y, parameters)
    for method in METHODS:
        report = gc_utils.check_gradients(course_forward_cost(X, Y), parameters, gradients,
                                          method=method)
        assert not report.batched
        assert report.passed, str(report)
    report = gc_utils.check_gradients(course_forward_cost(X, Y), parameters,
                                      planted_bugs(gradients))
    assert report.suspects == ["db1", "dW2"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("element", [0, -1])
@pytest.mark.parametrize("name", ["W1", "b2", "b3"])
def test_batching_not_trusted_when_cost_uses_one_batch_element(method, element, name):
    # A cost with shape (B,) that reads one batch element of one parameter for every row
    # looks batch-capable; the probe must catch it (whichever element, whichever tensor).
    X, Y, parameters = testCases.gradient_check_n_test_case()
    gradients = networks.backward(X, Y, parameters)
    cost_fn = networks.cost(X, Y)

    def sloppy(p):
        if p["W1"].ndim == 3:  # batched: broadcast one element of p[name] over the batch
            p = {**p, name: p[name][element]}
        return cost_fn(p)

    report = gc_utils.check_gradients(sloppy, parameters, gradients, method=method)
    assert not report.batched
    assert report.passed, str(report)
    report = gc_utils.check_gradients(sloppy, parameters, planted_bugs(gradients), method=method)
    assert report.verdict == "fail" and report.suspects == ["db1", "dW2"], str(report)


@pytest.mark.parametrize("method", METHODS)
def test_batching_not_trusted_when_cost_mixes_the_batch(method):
    X, Y, parameters = testCases.gradient_check_n_test_case()
    gradients = networks.backward(X, Y, parameters)
    cost_fn = networks.cost(X, Y)

    def mixing(p):  # centres W2 on its batch mean, as a careless batch norm would
        W2 = p["W2"]
        if W2.ndim == 3:
            W2 = W2 - W2.mean(axis=0) + W2[len(W2) // 2]
        return cost_fn({**p, "W2": W2})

    report = gc_utils.check_gradients(mixing, parameters, gradients, method=method)
    assert not report.batched
    assert report.passed, str(report)


def test_forced_batching_evaluates_central_in_one_call():
    # With batched=True, J(theta) is a row of the batch of theta +- h e_i: when every entry
    # agrees at once, one call to cost_fn does the whole check.
    cost_fn, parameters, gradients = course_case()
    calls = []

    def counting(p):
        calls.append(len(p["W1"]))
        return cost_fn(p)

    report = gc_utils.check_gradients(counting, parameters, gradients, batched=True)
    n = sum(v.size for v in parameters.values())
    assert report.passed and report.batched
    assert calls == [2 * n + 1] and report.evaluations == 2 * n + 1
    again = gc_utils.check_gradients(cost_fn, parameters, gradients, batched=False)
    assert report.difference == pytest.approx(again.difference, rel=1e-3)


def test_batched_cost_that_overwrites_its_arguments_still_passes():
    # Batched calls get views into a buffer made for that call: a cost that scribbles over
    # its arguments after use can corrupt neither the other points nor the caller's arrays.
    X, Y, parameters = testCases.gradient_check_n_test_case()
    gradients = networks.backward(X, Y, parameters)
    before = snapshot(parameters)

    def destructive(p):
        value = networks.forward(X, Y, p)[0]
        for array in p.values():
            array[...] = np.nan
        return value

    for method in METHODS:
        report = gc_utils.check_gradients(destructive, parameters, gradients, method=method)
        assert report.batched and report.passed, str(report)
    report = gc_utils.check_gradients(destructive, parameters, planted_bugs(gradients))
    assert report.suspects == ["db1", "dW2"]
    assert snapshot(parameters) == before


def test_clear_estimate_is_the_staged_estimate_when_every_entry_is_clear():
    # _staged skips the +-2h error model when every entry is clear; its shortcut must give
    # exactly what _estimate gives with the +-2h rows missing (NaN) and all entries partial.
    rng = np.random.default_rng(3)
    k, J0 = 9, 0.7
    h = np.full(k, 1e-5)
    J = J0 + rng.standard_normal((2, k)) * 1e-6
    D = (J[0] - J[1]) / (2 * h)
    err = np.abs(D * 1e-9)
    roundoff = gradcheck._roundoff(J0, J, h)
    fast = gradcheck._clear_estimate(J0, J, h, D, err, roundoff)
    full = gradcheck._estimate(J0, np.vstack([J, np.full((2, k), np.nan)]), h,
                               np.ones(k, dtype=bool))
    full.unc[:] = np.maximum(full.unc, err / gradcheck.SAFETY)
    for name, a, b in zip(full._fields, fast, full, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_forced_batching_refuses_a_cost_that_cannot_batch():
    X, Y, parameters = testCases.gradient_check_n_test_case()
    gradients = networks.backward(X, Y, parameters)

    def summed(p):  # mixes the batch: sums over every axis
        return networks.forward(X, Y, p)[0].sum()

    with pytest.raises(ValueError, match="`cost_fn` returned shape"):
        gc_utils.check_gradients(summed, parameters, gradients, batched=True)


# --- report display ------------------------------------------------------------------------

def test_report_text_and_html_show_one_row_per_parameter():
    cost_fn, parameters, gradients = course_case()
    report = gc_utils.check_gradients(cost_fn, parameters, planted_bugs(gradients))
    text = str(report)
    lines = text.splitlines()
    assert lines[0].split() == ["gradient", "shape", "difference", "verdict", "worst", "entry",
                                "analytic", "numeric"]
    assert lines[3].split()[:2] == ["dW2", "(3,"]
    assert "wrong" in lines[3] and "(2, 0)" in lines[3] and "1.832" in lines[3]
    assert lines[1].split()[-4:] == ["ok", "-", "-", "-"]
    assert "verdict: fail" in text and "reason: 2 gradients disagree" in text
    assert "np.float64" not in text and "0x" not in text
    html = report._repr_html_()
    assert html.startswith("<table><thead><tr><th>gradient</th>")
    assert html.count("<tr>") == 1 + len(parameters)
    assert "<td>dW2</td><td>(3, 5)</td>" in html and "style=" not in html


def test_report_fields():
    cost_fn, parameters, gradients = course_case()
    report = gc_utils.check_gradients(cost_fn, parameters, gradients)
    assert report.method == "central" and report.relative_step
    assert report.epsilon == pytest.approx(gradcheck.CENTRAL_STEP)
    assert report.evaluations < 4 * 47
    assert all(row.verdict == "ok" for row in report.rows.values())
    assert report.reason.endswith(".")


# --- bad input -----------------------------------------------------------------------------

def good_args():
    return (lambda p: np.sum(p["w"] ** 2)), {"w": np.ones(3)}, {"dw": 2 * np.ones(3)}


@pytest.mark.parametrize("change, error, match", [
    ({"cost_fn": 3}, TypeError, "`cost_fn` must be callable"),
    ({"parameters": [np.ones(3)]}, TypeError, "`parameters` must be a dict"),
    ({"parameters": {}}, ValueError, "`parameters` must not be empty"),
    ({"gradients": None}, TypeError, "`gradients` must be a dict"),
    ({"gradients": {"dv": np.ones(3)}}, ValueError, "`gradients` has no key 'dw'"),
    ({"gradients": {"dw": np.ones(4)}}, ValueError, r"`gradients\['dw'\]` has shape \(4,\)"),
    ({"parameters": {"w": np.ones(3, dtype=int)}}, TypeError, "must be a float64 array, got int"),
    ({"parameters": {"w": np.ones(3, dtype=bool)}}, TypeError, "got bool"),
    ({"parameters": {"w": np.ones(3, dtype=complex)}}, TypeError, "must be a real float64"),
    ({"parameters": {"w": np.ones(3, dtype=np.float32)}}, TypeError,
     "must be float64, got float32: its round-off"),
    ({"parameters": {"w": np.ones(3, dtype=np.float16)}}, TypeError, "got float16"),
    ({"gradients": {"dw": np.ones(3, dtype=np.float32)}}, TypeError, r"`gradients\['dw'\]`"),
    ({"parameters": {"w": np.array([1.0, np.nan, 0.0])}}, ValueError, "must be finite"),
    ({"parameters": {"w": np.array([1.0, np.inf, 0.0])}}, ValueError, "must be finite"),
    ({"method": "forward"}, ValueError, "`method` must be one of 'central'"),
    ({"epsilon": 0.0}, ValueError, "`epsilon` must be a positive finite float"),
    ({"epsilon": -1e-7}, ValueError, "`epsilon` must be a positive"),
    ({"epsilon": float("nan")}, ValueError, "`epsilon` must be a positive finite"),
    ({"epsilon": "1e-7"}, TypeError, "`epsilon` must be a positive float"),
    ({"epsilon": True}, TypeError, "`epsilon` must be a positive float"),
    ({"threshold": 0}, ValueError, "`threshold` must be a positive"),
    ({"threshold": 1.5}, ValueError, "`threshold` must be below 1"),
    ({"threshold": float("inf")}, ValueError, "`threshold` must be a positive finite"),
    ({"threshold": None}, TypeError, "`threshold` must be a positive float"),
    ({"seed": -1}, TypeError, "`seed` must be a non-negative int"),
    ({"batched": "yes"}, TypeError, "`batched` must be None, True or False"),
])
def test_bad_input_is_refused_naming_the_argument(change, error, match):
    cost_fn, parameters, gradients = good_args()
    kwargs = {"method": "central"}
    args = {"cost_fn": cost_fn, "parameters": parameters, "gradients": gradients}
    for key, value in change.items():
        (args if key in args else kwargs)[key] = value
    with pytest.raises(error, match=match):
        gc_utils.check_gradients(args["cost_fn"], args["parameters"], args["gradients"],
                                 **kwargs)


@pytest.mark.parametrize("returned, error, match", [
    (np.ones(3), ValueError, r"`cost_fn` must return a scalar .* got shape \(3,\)"),
    ("cost", TypeError, "`cost_fn` must return a number, got str"),
    (None, TypeError, "`cost_fn` must return a number"),
])
def test_cost_fn_returning_a_non_scalar_is_refused(returned, error, match):
    _, parameters, gradients = good_args()
    with pytest.raises(error, match=match):
        gc_utils.check_gradients(lambda p: returned, parameters, gradients)


def test_size_one_array_cost_is_accepted():
    _, parameters, gradients = good_args()
    report = gc_utils.check_gradients(lambda p: np.array([[np.sum(p["w"] ** 2)]]), parameters,
                                      gradients)
    assert report.passed


def test_gradient_for_a_parameter_the_cost_ignores_fails():
    w = np.linspace(-1, 1, 4)
    v = np.array([0.5, 2.0])
    report = gc_utils.check_gradients(lambda p: np.sum(np.sin(p["w"]), axis=-1),
                                      {"w": w, "v": v}, {"dw": np.cos(w), "dv": np.ones(2)})
    assert report.suspects == ["dv"]
    assert "dv has 2 of 2 entries wrong" in report.reason


def test_report_repr_is_the_readable_table_not_the_dataclass_fields():
    X, Y, parameters = testCases.gradient_check_n_test_case()
    report = gc_utils.check_gradients(networks.cost(X, Y), parameters,
                                      networks.backward(X, Y, parameters))
    assert repr(report) == str(report)
    assert repr(report).startswith("gradient  shape") and "rows=" not in repr(report)


@pytest.mark.parametrize("cached_gaussian", [False, True])
@pytest.mark.parametrize("draw_at", [1, 3])
def test_global_state_restored_when_cost_draws_one_cached_gaussian(cached_gaussian, draw_at):
    # A Gaussian cached by the legacy generator is used without moving MT19937's key or
    # position: the cached value itself must be watched and put back.
    cost_fn, parameters, gradients = course_case()
    np.random.seed(3)
    np.random.standard_normal(1 if cached_gaussian else 2)
    state = np.random.get_state()
    calls, drawn = [0], []

    def drawing_cost(p):
        calls[0] += 1
        if calls[0] == draw_at:
            drawn.append(np.random.standard_normal())
        return cost_fn(p)

    for batched in (None, True, False):
        calls[0] = 0
        report = gc_utils.check_gradients(drawing_cost, parameters, gradients, batched=batched)
        assert report.verdict == "pass"
        after = np.random.get_state()
        assert after[0] == state[0] and np.array_equal(after[1], state[1])
        assert after[2:] == state[2:]
    assert drawn and len(set(drawn)) == 1  # the same state before every evaluation


def test_layouts_are_shared_read_only_and_keyed_by_names_and_shapes():
    cost_fn, parameters, gradients = course_case()
    first = gc_utils.check_gradients(cost_fn, parameters, gradients, batched=True)
    again = gc_utils.check_gradients(cost_fn, parameters, gradients, batched=True)
    assert str(first) == str(again)
    layout = gradcheck._layout(tuple((name, v.shape) for name, v in parameters.items()))
    assert not layout.owner.flags.writeable and not layout.starts.flags.writeable
    # Same names, other shapes: another layout.
    X, Y, deep = testCases.deep_network_case([4, 2, 1], 3, seed=0)
    report = gc_utils.check_gradients(networks.cost(X, Y), deep, networks.backward(X, Y, deep))
    assert report.verdict == "pass" and report.rows["W1"].shape == (2, 4)

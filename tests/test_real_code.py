"""The checker on code as engineers write it: a complex step the cost cannot take, float32
models, rows whose values print alike, kinks at ties (issue 17)."""

import re

import numpy as np
import pytest
import scipy.special

from gradcheck import check_gradients, check_vjp, estimate, explain

# -- a two-layer net: X (n_x, m) -> tanh -> sigmoid, cross-entropy ---------------------------


def two_layer_case(seed=0, n_x=4, n_h=5, m=8, dtype=np.float64, buffer=False):
    """(cost_fn, parameters, gradients) of a correct two-layer net computed in `dtype` (the
    parameters are float64, as the API asks, and cast inside the cost); with `buffer`, the
    hidden activations are written into an output buffer made with np.zeros."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m))
    Y = (rng.random((1, m)) > 0.5).astype(np.float64)
    parameters = {"W1": 0.5 * rng.standard_normal((n_h, n_x)), "b1": 0.1 * rng.standard_normal((n_h, 1)),
                  "W2": 0.5 * rng.standard_normal((1, n_h)), "b2": np.zeros((1, 1))}

    def forward(p):
        W1, b1, W2, b2 = (p[name].astype(dtype, copy=False) for name in ("W1", "b1", "W2", "b2"))
        Z1 = W1 @ X.astype(dtype) + b1
        A1 = np.zeros(Z1.shape) if buffer else None
        if buffer:
            A1[:] = np.tanh(Z1)  # a float64 buffer: a complex Z1 loses its imaginary part here
        else:
            A1 = np.tanh(Z1)
        A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2)))
        Yd = Y.astype(dtype)
        return -np.mean(Yd * np.log(A2) + (1 - Yd) * np.log(1 - A2)), A1, A2

    _, A1, A2 = forward(parameters)
    dZ2 = (A2 - Y) / m
    dZ1 = (parameters["W2"].T @ dZ2) * (1 - A1 ** 2)
    gradients = {"dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
                 "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True)}
    gradients = {key: np.asarray(value, dtype=np.float64) for key, value in gradients.items()}
    return (lambda p: float(forward(p)[0])) if dtype != np.float64 else (lambda p: forward(p)[0]), \
        parameters, gradients


def with_bug(gradients, key="dW1", factor=1.01):
    return {**gradients, key: gradients[key] * factor}


def copies(tree):
    return {key: value.copy() for key, value in tree.items()}


# -- the complex step falls back to central differences -------------------------------------


@pytest.mark.parametrize("bug", [False, True])
def test_complex_step_of_an_np_zeros_buffer_cost_gives_the_verdict_of_central_differences(bug):
    cost, parameters, gradients = two_layer_case(buffer=True)
    gradients = with_bug(gradients) if bug else gradients
    given = copies(parameters)
    report = check_gradients(cost, parameters, gradients, method="complex")
    central = check_gradients(cost, parameters, gradients, method="central")
    assert report.verdict == central.verdict == ("fail" if bug else "pass")
    assert report.method == "central"
    assert report.difference == central.difference and report.suspects == central.suspects
    (note,) = report.context
    assert note == ("the complex step was not possible: `cost_fn` returned real values for complex "
                    "parameters (NumPy cast a complex value to real on the way, as an output buffer "
                    "made with np.zeros, float() or .astype(float) does), so central differences "
                    "ran instead.")
    assert note in str(report).splitlines()
    assert all(np.array_equal(parameters[k], given[k]) for k in given)


def test_complex_step_of_a_cost_that_raises_on_complex_input_falls_back_naming_the_function():
    rng = np.random.default_rng(1)
    X, w = rng.standard_normal((3, 6)), rng.standard_normal(3)

    def cost(p):  # scipy.special.expit has no complex loop
        return np.sum(scipy.special.expit(X.T @ p["w"]) ** 2)

    s = scipy.special.expit(X.T @ w)
    gradients = {"dw": X @ (2 * s * s * (1 - s))}
    report = check_gradients(cost, {"w": w}, gradients, method="complex")
    central = check_gradients(cost, {"w": w}, gradients)
    assert (report.verdict, report.method) == ("pass", "central")
    assert report.difference == central.difference
    assert report.context == ["the complex step was not possible: `cost_fn` raised TypeError for "
                              "complex parameters (the function expit has no complex version), so "
                              "central differences ran instead."]


def test_complex_step_of_a_cost_dropping_the_imaginary_part_says_likely_causes_only():
    # np.abs returns real values without a warning: nothing more specific is seen.
    w = np.array([0.5, -1.5, 2.0])
    report = check_gradients(lambda p: np.sum(np.abs(p["w"])), {"w": w}, {"dw": np.sign(w)},
                             method="complex")
    assert (report.verdict, report.method) == ("pass", "central")
    assert ("`cost_fn` returned real values for complex parameters (it drops their imaginary "
            "part; likely np.abs, a norm, np.var or .real)") in report.context[0]


def test_an_error_of_the_cost_for_real_parameters_still_propagates_and_nothing_is_modified():
    cost, parameters, gradients = two_layer_case()
    given, given_gradients = copies(parameters), copies(gradients)

    def broken(p):
        raise RuntimeError("shapes do not align")

    with pytest.raises(RuntimeError, match="shapes do not align"):
        check_gradients(broken, parameters, gradients, method="complex")
    assert all(np.array_equal(parameters[k], given[k]) for k in given)
    assert all(np.array_equal(gradients[k], given_gradients[k]) for k in given_gradients)


def test_a_value_that_is_no_cost_still_raises_under_the_complex_step():
    w = np.array([0.5, 1.5])

    def cost(p):  # a tuple, only for complex parameters
        value = np.sum(p["w"] ** 2)
        return (value, {}) if np.iscomplexobj(value) else value

    with pytest.raises(TypeError, match="`cost_fn` returned a tuple"):
        check_gradients(cost, {"w": w}, {"dw": 2 * w}, method="complex")


def test_check_vjp_complex_step_of_an_np_zeros_buffer_layer_falls_back_naming_fn():
    rng = np.random.default_rng(2)
    inputs = {"Z": rng.standard_normal((3, 4))}

    def fn(values):
        out = np.zeros(values["Z"].shape)
        out[:] = np.tanh(values["Z"])
        return out

    def vjp(dout):
        return {"dZ": dout * (1 - np.tanh(inputs["Z"]) ** 2)}

    report = check_vjp(fn, inputs, vjp, method="complex")
    assert (report.verdict, report.method) == ("pass", "central")
    assert any(note.startswith("the complex step was not possible: `fn` returned real values")
               for note in report.context)
    wrong = check_vjp(fn, inputs, lambda dout: {"dZ": 1.01 * vjp(dout)["dZ"]}, method="complex")
    assert (wrong.verdict, wrong.method) == ("fail", "central")


# -- float32 models: what the measurement supports ------------------------------------------


def supported_threshold(report):
    """The threshold the report says its measurement supports."""
    return float(re.search(r"supports a threshold of (\S+) or above", report.reason).group(1))


def test_a_correct_float32_net_is_inconclusive_at_the_default_threshold_and_says_what_it_supports():
    cost, parameters, gradients = two_layer_case(dtype=np.float32)
    report = check_gradients(cost, parameters, gradients)
    assert report.verdict == "inconclusive"
    assert "the cost is noisy" in report.reason
    assert report.reason.endswith("this measurement supports a threshold of 1e-04 or above.")
    assert supported_threshold(report) == 1e-4


def test_a_correct_float32_net_passes_at_the_threshold_its_report_suggests_and_at_1e_3():
    cost, parameters, gradients = two_layer_case(dtype=np.float32)
    suggested = supported_threshold(check_gradients(cost, parameters, gradients))
    for threshold in (suggested, 1e-3):
        assert check_gradients(cost, parameters, gradients, threshold=threshold).verdict == "pass"


def test_a_float32_net_with_a_1_percent_bug_fails_at_the_suggested_threshold_and_at_1e_3():
    cost, parameters, gradients = two_layer_case(dtype=np.float32)
    suggested = supported_threshold(check_gradients(cost, parameters, gradients))
    for threshold in (suggested, 1e-3):
        report = check_gradients(cost, parameters, with_bug(gradients), threshold=threshold)
        assert report.verdict == "fail" and report.suspects == ["dW1"]
        assert "dW1 is 1.01 × the numerical gradient" in report.reason


@pytest.mark.parametrize("bound, difference, supported", [
    (3.7e-5, 2.1e-5, 1e-4), (2.4e-5, 1e-6, 5e-5), (1e-4, 0.0, 2e-4), (0.6, 0.1, 2.0),
    (float("nan"), 0.1, float("nan"))])
def test_the_supported_threshold_is_twice_the_precision_rounded_up_to_1_2_5(bound, difference,
                                                                          supported):
    assert explain.supported(bound, difference) == pytest.approx(supported, nan_ok=True)


@pytest.mark.parametrize("supported, said", [(1e-4, True), (2.0, False)])
def test_conclusion_reads_the_supported_threshold_of_a_noisy_cost_where_it_is_below_1(supported,
                                                                                   said):
    found = explain.Findings(1e-7, difference=2e-5, bound=4e-5, noise=estimate.Noise(1e-6, 1e-9),
                             supported=supported)
    verdict, reason = explain.conclusion(found)
    assert verdict == "inconclusive" and "the cost is noisy" in reason
    assert ("this measurement supports a threshold of 1e-04 or above." in reason) == said


# -- rows that show the disagreement --------------------------------------------------------


def test_rows_of_log_p_plus_1e_8_with_a_backward_ignoring_the_1e_8_tell_the_values_apart():
    rng = np.random.default_rng(0)
    x, y = 3 * rng.standard_normal((1, 6)), np.array([[1, 0, 1, 0, 1, 0.0]])
    parameters = {"w_hidden": 2 * rng.standard_normal((3, 1)), "w_out": 3 * rng.standard_normal((1, 3))}

    def forward(p):
        h = np.tanh(p["w_hidden"] @ x)
        return h, 1 / (1 + np.exp(-(p["w_out"] @ h)))

    def cost(p):
        _, q = forward(p)
        return -np.mean(y * np.log(q + 1e-8) + (1 - y) * np.log(1 - q + 1e-8))

    h, q = forward(parameters)
    dz = (q - y) / x.shape[1]  # the derivative without the 1e-8
    gradients = {"dw_hidden": (parameters["w_out"].T @ dz * (1 - h ** 2)) @ x.T, "dw_out": dz @ h.T}
    report = check_gradients(cost, parameters, gradients)
    assert report.verdict == "fail"
    text = str(report)
    for key in ("dw_hidden", "dw_out"):
        row = report.rows[key]
        assert f"{row.analytic:.4g}" == f"{row.numeric:.4g}"  # alike at the usual 4 digits ...
        line = next(line for line in text.splitlines() if line.startswith(key + " "))
        analytic, numeric = line.split()[-2:]
        assert analytic != numeric and len(analytic.lstrip("-0.")) > 4  # ... told apart here
        assert float(analytic) == pytest.approx(row.analytic, rel=1e-4)
        notes = next(line for line in text.splitlines() if line.startswith(f"{key} has"))
        for index, a, d in row.entries:
            relative = abs(a - d) / max(abs(a), abs(d))
            assert f"{index} analytic " in notes and f"(relative error {relative:#.2g})" in notes
    assert "(relative error" in text and "e-0" in text.split("(relative error")[1][:10]


# -- honest kink words ----------------------------------------------------------------------


def test_a_max_pool_tie_routed_to_every_tied_entry_is_between_the_slopes_not_a_subgradient():
    # max(a, b) at a == b: the backward routes the gradient to both, (1, 1), which is not a
    # subgradient of max (those sum to 1), though each entry is between its one-sided slopes.
    w = np.array([0.7, 0.7, -0.2])
    report = check_gradients(lambda p: np.max(p["w"][:2]) + p["w"][2] ** 2, {"w": w},
                             {"dw": np.array([1.0, 1.0, 2 * w[2]])})
    assert report.verdict == "pass"
    assert len(report.rows["dw"].kinks) == 2
    text = str(report)
    assert text.count("(between the one-sided slopes: accepted)") == 2
    assert "subgradient" not in text


def test_a_batched_cost_that_refuses_complex_parameters_stays_batched_for_central_differences():
    rng = np.random.default_rng(3)
    X, w = rng.standard_normal((3, 6)), rng.standard_normal(3)

    def cost(p):  # takes a leading batch axis: (B, 3) -> (B,)
        return np.sum(scipy.special.expit(p["w"] @ X) ** 2, axis=-1)

    s = scipy.special.expit(w @ X)
    report = check_gradients(cost, {"w": w}, {"dw": X @ (2 * s * s * (1 - s))}, method="complex")
    central = check_gradients(cost, {"w": w}, {"dw": X @ (2 * s * s * (1 - s))})
    assert (report.verdict, report.method, report.batched) == ("pass", "central", True)
    assert report.evaluations == central.evaluations + 1  # the complex step refused at its first point

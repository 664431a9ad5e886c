"""check_vjp: layer-level checks of backward passes, over the zoo of tests/layers.py."""

import numpy as np
import pytest

from gradcheck import check_gradients, check_vjp
from tests.layers import LAYERS, affine_backward, affine_forward

METHODS = ("central", "complex", "directional")
SEEDS = range(2)  # the layer zoo at 10 seeds is tests/zoo_report.py --layers
BUGS = [(name, bug) for name, layer in LAYERS.items() for bug in layer.bugs]


def _layer_case(name, seed):
    """fn, inputs and the correct vjp of the zoo's layer `name` at random inputs."""
    layer = LAYERS[name]
    inputs = layer.make_inputs(np.random.default_rng(seed))
    return layer.forward, inputs, (lambda dout: layer.backward(inputs, dout))


def _affine(seed=0, n=4, m=5):
    """fn, inputs and the correct vjp of an affine layer Z = W A_prev + b, W (n, n)."""
    rng = np.random.default_rng(seed)
    inputs = {"A_prev": rng.normal(size=(n, m)), "W": rng.normal(size=(n, n)),
              "b": rng.normal(size=(n, 1))}
    return affine_forward, inputs, (lambda dout: affine_backward(inputs, dout))


def _copies(inputs):
    return {name: value.copy() for name, value in inputs.items()}


def _unchanged(inputs, saved):
    return inputs.keys() == saved.keys() and all(
        np.array_equal(inputs[name], saved[name]) for name in saved)


# ---------------------------------------------------------------------------- the zoo

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", LAYERS)
def test_correct_backward_of_every_layer_is_never_fail(name, method):
    verdicts = [check_vjp(*_layer_case(name, seed), method=method).verdict for seed in SEEDS]
    assert "fail" not in verdicts
    assert verdicts.count("pass") >= 1  # 10 of 10 seeds pass for every layer and method


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("name", "bug"), BUGS)
def test_every_planted_bug_is_never_pass(name, bug, method):
    layer = LAYERS[name]
    key, buggy_backward = layer.bugs[bug]
    for seed in SEEDS:
        fn, inputs, _ = _layer_case(name, seed)
        report = check_vjp(fn, inputs, lambda dout, inputs=inputs: buggy_backward(inputs, dout),
                           method=method)
        assert report.verdict != "pass"
        assert report.suspects in ([], [key])  # inconclusive, or the broken key alone


@pytest.mark.parametrize(("name", "ndim"), [("softmax_cross_entropy", 0), ("squared_error", 1),
                                            ("affine", 2), ("conv2d", 4), ("maxpool", 4)])
def test_output_of_any_ndim_from_the_zoo(name, ndim):
    fn, inputs, vjp = _layer_case(name, 0)
    assert np.ndim(fn(inputs)) == ndim
    assert check_vjp(fn, inputs, vjp).verdict == "pass"


def test_output_of_ndim_3():
    # No zoo layer has a 3-D output; the elementwise layers take any shape.
    layer = LAYERS["tanh"]
    inputs = {"Z": np.random.default_rng(0).normal(size=(2, 3, 4))}
    report = check_vjp(layer.forward, inputs, lambda dout: layer.backward(inputs, dout))
    assert report.verdict == "pass"


@pytest.mark.parametrize("method", METHODS)
def test_bug_in_the_input_gradient_alone_is_named(method):
    fn, inputs, _ = _affine()
    _, buggy_backward = LAYERS["affine"].bugs["dA_prev without transpose"]
    report = check_vjp(fn, inputs, lambda dout: buggy_backward(inputs, dout), method=method)
    assert report.verdict == "fail"
    assert report.suspects == ["dA_prev"]
    assert report.rows["dW"].verdict == report.rows["db"].verdict == "ok"


def test_directional_evaluations_do_not_grow_with_the_size():
    evaluations = {}
    for n in (5, 100):  # 55 and 20100 entries
        fn, inputs, vjp = _affine(n=n, m=n)
        report = check_vjp(fn, inputs, vjp, method="directional")
        assert report.verdict == "pass"
        evaluations[n] = report.evaluations
    assert evaluations[100] == evaluations[5] <= 20 * len(inputs)  # measured: 21 for 3 inputs


def test_input_gradients_are_checked_by_check_gradients_as_any_entry():
    rng = np.random.default_rng(0)
    parameters = {"X": rng.normal(size=(3, 4)), "W": rng.normal(size=(2, 3))}

    def cost_fn(p):
        return np.sum(np.tanh(p["W"] @ p["X"]))

    dZ = 1 - np.tanh(parameters["W"] @ parameters["X"]) ** 2
    gradients = {"dX": parameters["W"].T @ dZ, "dW": dZ @ parameters["X"].T}
    assert check_gradients(cost_fn, parameters, gradients).verdict == "pass"
    wrong = {**gradients, "dX": parameters["W"].T @ np.ones_like(dZ)}
    report = check_gradients(cost_fn, parameters, wrong)
    assert report.verdict == "fail" and report.suspects == ["dX"]
    assert "Inputs such as ``\"X\"`` are just more" in check_gradients.__doc__


# ---------------------------------------------------------------------------- upstream gradients

def test_random_dout_is_said_in_the_context():
    report = check_vjp(*_affine())
    notes = " ".join(report.context)
    assert "seeded standard Gaussian dout" in notes
    assert "one random dout suffices" in notes


def test_random_dout_leaves_the_global_random_state_alone():
    np.random.seed(3)
    before = np.random.get_state()
    check_vjp(*_affine())
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_the_caller_dout_is_used_and_a_random_one_too():
    fn, inputs, vjp = _affine()
    report = check_vjp(fn, inputs, vjp, dout=np.ones((4, 5)))
    assert report.verdict == "pass"
    notes = " ".join(report.context)
    assert "the caller's dout" in notes and "a single dout can hide an error" in notes
    assert "method='directional'" in notes


def test_evaluations_add_up_every_call_of_fn():
    calls = []
    fn, inputs, vjp = _affine()

    def counted(values):
        calls.append(1)
        return fn(values)

    for dout in (None, np.ones((4, 5))):
        calls.clear()
        report = check_vjp(counted, inputs, vjp, dout=dout, batched=False)
        assert report.evaluations == len(calls)


def test_vjp_that_ignores_dout_fails():
    layer = LAYERS["sigmoid"]
    inputs = layer.make_inputs(np.random.default_rng(0))
    from tests.layers import sigmoid_prime
    report = check_vjp(layer.forward, inputs, lambda dout: {"dZ": sigmoid_prime(inputs["Z"])})
    assert report.verdict == "fail"
    assert report.suspects == ["dZ"]
    assert "`vjp` ignores the upstream gradient in dZ" in report.reason


def test_vjp_ignoring_dout_fails_even_at_the_dout_it_was_written_for():
    layer = LAYERS["softmax_cross_entropy"]
    inputs = layer.make_inputs(np.random.default_rng(0))
    report = check_vjp(layer.forward, inputs, lambda dout: layer.backward(inputs, 1.0),
                       dout=np.ones(()))
    assert report.verdict == "fail"
    assert "ignores the upstream gradient" in report.reason


def test_backward_right_only_for_dout_ones_fails_when_the_caller_passes_ones():
    fn, inputs, vjp = _affine()

    def written_for_ones(dout):  # db = m * dout[:, :1]: the row sum when dout is ones
        return {**vjp(dout), "db": dout[:, :1] * dout.shape[1]}

    ones = np.ones((4, 5))
    report = check_vjp(fn, inputs, written_for_ones, dout=ones)
    assert report.verdict == "fail"
    assert report.suspects == ["db"]
    assert "right for that dout only (written for dout = ones?)" in report.reason


def test_nonlinear_vjp_fails():
    fn, inputs, vjp = _affine()
    report = check_vjp(fn, inputs, lambda dout: vjp(dout * np.abs(dout)), dout=np.ones((4, 5)))
    assert report.verdict == "fail"
    assert "`vjp` is not linear in dout" in report.reason


def test_vjp_that_keeps_state_between_calls_fails():
    fn, inputs, vjp = _affine()
    total = {}

    def accumulating(dout):  # gradients added up across calls, never zeroed
        for key, value in vjp(dout).items():
            total[key] = total.get(key, 0) + value
        return dict(total)

    report = check_vjp(fn, inputs, accumulating)
    assert report.verdict == "fail"
    assert "no state kept between calls" in report.reason


def test_non_finite_output_is_inconclusive():
    inputs = {"Z": np.array([[-1.0, 2.0], [3.0, 4.0]])}
    report = check_vjp(lambda v: np.log(v["Z"]), inputs, lambda dout: {"dZ": dout / inputs["Z"]})
    assert report.verdict == "inconclusive"


def test_fn_that_cannot_batch_falls_back_to_single_calls():
    fn, inputs, vjp = _affine()

    def single_only(values):  # np.dot of stacked 3-D arrays is no batched product
        return np.dot(values["W"], values["A_prev"]) + values["b"]

    report = check_vjp(single_only, inputs, vjp)
    assert report.verdict == "pass" and not report.batched
    assert check_vjp(fn, inputs, vjp).batched


# ---------------------------------------------------------------------------- never modified

def test_inputs_and_dout_unmodified_by_fn_and_vjp_that_write_into_them():
    fn, inputs, vjp = _affine()
    saved, dout = _copies(inputs), np.ones((4, 5))

    def writing_fn(values):
        out = fn(values)
        for value in values.values():
            value[...] = 0.0
        return out

    def writing_vjp(d):
        gradients = vjp(d)
        d[...] = 7.0
        inputs["W"][...] = 0.0  # through the closure
        inputs["extra"] = 1.0
        return gradients

    report = check_vjp(writing_fn, inputs, writing_vjp, dout=dout)
    assert report.verdict == "pass"
    assert _unchanged(inputs, saved) and np.array_equal(dout, np.ones((4, 5)))
    notes = " ".join(report.context)
    assert "vjp writes into its argument dout" in notes and "vjp writes into `inputs`" in notes


@pytest.mark.parametrize("which", ["fn", "vjp"])
def test_inputs_and_dout_unmodified_when_fn_or_vjp_raises(which):
    fn, inputs, vjp = _affine()
    saved, dout = _copies(inputs), np.ones((4, 5))

    def raising(argument):
        for value in (inputs.values() if which == "vjp" else argument.values()):
            value[...] = 0.0
        if which == "vjp":
            argument[...] = 0.0
        raise RuntimeError("broken layer")

    with pytest.raises(RuntimeError, match="broken layer"):
        check_vjp(raising if which == "fn" else fn, inputs, raising if which == "vjp" else vjp,
                  dout=dout)
    assert _unchanged(inputs, saved) and np.array_equal(dout, np.ones((4, 5)))


# ---------------------------------------------------------------------------- errors

def test_fn_not_callable_is_refused():
    _, inputs, vjp = _affine()
    with pytest.raises(TypeError, match="`fn` must be callable"):
        check_vjp(None, inputs, vjp)


def test_vjp_not_callable_is_refused():
    fn, inputs, _ = _affine()
    with pytest.raises(TypeError, match="`vjp` must be callable"):
        check_vjp(fn, inputs, {"dW": 0})


def test_inputs_not_a_dict_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(TypeError, match="`inputs` must be a dict"):
        check_vjp(fn, list(inputs.values()), vjp)


def test_empty_inputs_are_refused():
    fn, _, vjp = _affine()
    with pytest.raises(ValueError, match="`inputs` must not be empty"):
        check_vjp(fn, {}, vjp)


def test_integer_input_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(TypeError, match=r"`inputs\['W'\]` must be a float64 array"):
        check_vjp(fn, {**inputs, "W": np.eye(4, dtype=int)}, vjp)


def test_bad_method_is_refused_before_fn_is_called():
    def fn(values):
        raise AssertionError("fn called")

    with pytest.raises(ValueError, match="`method` must be one of"):
        check_vjp(fn, _affine()[1], lambda dout: {}, method="forward")


def test_dout_of_the_wrong_shape_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(ValueError, match=r"`dout` has shape \(5, 4\), expected \(4, 5\)"):
        check_vjp(fn, inputs, vjp, dout=np.ones((5, 4)))


def test_integer_dout_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(TypeError, match="`dout` must be a float64 array, got int64"):
        check_vjp(fn, inputs, vjp, dout=np.ones((4, 5), dtype=np.int64))


def test_non_finite_dout_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(ValueError, match="`dout` must be finite"):
        check_vjp(fn, inputs, vjp, dout=np.full((4, 5), np.nan))


@pytest.mark.parametrize("kind", [tuple, list])
def test_vjp_returning_a_tuple_is_read_in_the_order_of_inputs(kind):
    fn, inputs, vjp = _affine()
    assert list(vjp(np.ones((4, 5)))) == ["d" + name for name in inputs]
    assert check_vjp(fn, inputs, lambda dout: kind(vjp(dout).values())).verdict == "pass"


def test_vjp_returning_no_dict_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(TypeError, match=r"`vjp\(dout\)` must be a dict holding 'd' \+ name for "
                       r"every input, or a tuple of them in the order of `inputs`' keys "
                       r"\(dA_prev, dW, db\), got ndarray"):
        check_vjp(fn, inputs, lambda dout: vjp(dout)["db"])


def test_vjp_missing_a_key_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(ValueError, match=r"`vjp\(dout\)` has no key 'db'"):
        check_vjp(fn, inputs, lambda dout: {key: value for key, value in vjp(dout).items()
                                            if key != "db"})


def test_vjp_of_the_wrong_size_is_refused():
    # The wrong shape with the right number of entries is a finding: tests/test_real_layers.py
    fn, inputs, vjp = _affine()
    with pytest.raises(ValueError, match=r"`vjp\(dout\)\['db'\]` has shape \(3, 1\), expected "
                       r"\(4, 1\) like `inputs\['b'\]`: 3 entries, not 4"):
        check_vjp(fn, inputs, lambda dout: {**vjp(dout), "db": vjp(dout)["db"][:3]})


@pytest.mark.parametrize("value", [None, "db", [np.ones(1)] * 4])
def test_vjp_returning_a_non_array_is_refused(value):
    fn, inputs, vjp = _affine()
    with pytest.raises(TypeError, match=r"`vjp\(dout\)\['db'\]` must be"):
        check_vjp(fn, inputs, lambda dout: {**vjp(dout), "db": value})


def test_fn_returning_a_tuple_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(TypeError, match="`fn` returned a tuple"):
        check_vjp(lambda values: (fn(values), "cache"), inputs, vjp)


def test_fn_returning_integers_is_refused():
    fn, inputs, vjp = _affine()
    with pytest.raises(TypeError, match=r"`fn\(inputs\)` must be a float64 array, got int64"):
        check_vjp(lambda values: np.round(fn(values)).astype(np.int64), inputs, vjp)


@pytest.mark.parametrize("method", METHODS)
def test_fn_whose_output_changes_shape_is_refused(method):
    fn, inputs, vjp = _affine()
    calls = []

    def changing(values):
        calls.append(1)
        return fn(values) if len(calls) == 1 else fn(values)[:, :-1]

    with pytest.raises(ValueError, match=r"`fn` returned shape \(4, 4\), but \(4, 5\) at its "
                                         "first call"):
        check_vjp(changing, inputs, vjp, method=method, batched=False)


def test_caller_dout_that_makes_the_output_constant_still_passes():
    # <softmax(Z), ones> = m whatever Z: its derivatives are 0, below round-off; the random
    # dout and linearity decide.
    fn, inputs, vjp = _layer_case("softmax", 0)
    report = check_vjp(fn, inputs, vjp, dout=np.ones(fn(inputs).shape))
    assert report.verdict == "pass"
    assert "right at a seeded random dout and linear in dout" in report.reason


# ---------------------------------------------------------------------------- errors name fn

def test_complex_check_of_an_fn_that_drops_the_imaginary_part_falls_back_naming_fn():
    # (was: a TypeError before the complex step fell back)
    fn, inputs, vjp = _affine()
    report = check_vjp(lambda values: fn(values).real, inputs, vjp, method="complex")
    assert (report.method, report.verdict) == ("central", "pass")
    assert "`fn` returned real values for complex parameters" in str(report)


def test_complex_check_of_an_fn_that_rejects_complex_inputs_falls_back_naming_fn():
    # (was: a TypeError before the complex step fell back)
    fn, inputs, vjp = _affine()

    def real_only(values):
        if np.iscomplexobj(values["W"]):
            raise TypeError("real inputs only")
        return fn(values)

    report = check_vjp(real_only, inputs, vjp, method="complex")
    assert (report.method, report.verdict) == ("central", "pass")
    assert "`fn` raised TypeError for complex parameters ('real inputs only'" not in str(report)
    assert "`fn` raised TypeError for complex parameters (real inputs only; likely" in str(report)


def test_complex_check_of_an_fn_whose_output_changes_shape_says_so_naming_fn():
    # The checker's own error about `fn`, raised during the complex step, is not mistaken
    # for a refusal of complex numbers.
    fn, inputs, vjp = _affine()

    def changing(values):
        out = fn(values)
        return out[:-1] if np.iscomplexobj(out) else out

    with pytest.raises(ValueError, match="`fn` returned shape"):
        check_vjp(changing, inputs, vjp, method="complex")


def test_the_course_1_over_m_convention_is_named_and_the_documented_wrapper_passes():
    # The Deep Learning Specialization's linear_backward returns dW, db of the mean cost
    # (divided by m): not J^T dout. check_vjp's docstring says to multiply them back.
    fn, inputs, vjp = _affine(m=5)
    m = inputs["A_prev"].shape[1]

    def course_linear_backward(dZ):
        grads = vjp(dZ)
        return {"dA_prev": grads["dA_prev"], "dW": grads["dW"] / m, "db": grads["db"] / m}

    report = check_vjp(fn, inputs, course_linear_backward)
    assert report.verdict == "fail" and report.suspects == ["dW", "db"]
    assert "dW is 0.20 × the numerical gradient" in report.reason
    wrapped = course_linear_backward
    report = check_vjp(fn, inputs, lambda dZ: {**wrapped(dZ), "dW": m * wrapped(dZ)["dW"],
                                               "db": m * wrapped(dZ)["db"]})
    assert report.passed, str(report)

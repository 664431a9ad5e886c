"""Layers written the CS231n way (tuple-returning backward passes, an LSTM step with two
outputs) and gradients of the wrong shape, through check_vjp and check_gradients."""

import numpy as np
import pytest

from gradcheck import check_gradients, check_vjp

# ------------------------------------------------------------------ the layers, from the math


def affine_forward(x, w, b):
    """out = x.reshape(N, D) w + b; x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """dout (N, M) -> (dx, dw, db), shaped like x, w and b."""
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = np.sum(dout, axis=0)
    return dx, dw, db


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step: a = x Wx + prev_h Wh + b split into the gates i, f, o (sigmoid) and g
    (tanh); next_c = f * prev_c + i * g, next_h = o * tanh(next_c).

    x (N, D), prev_h and prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,) -> next_h, next_c
    (N, H), and the cache.
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache, forget_factor=True):
    """dnext_h, dnext_c (N, H) -> (dx, dprev_h, dprev_c, dWx, dWh, db).

    `forget_factor=False` plants a bug: dprev_c without the forget gate's factor f.
    """
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)  # next_c reaches the cost both ways
    dprev_c = dc * f if forget_factor else dc
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                         dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g ** 2)], axis=1)
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, np.sum(da, axis=0)


def _affine_case(seed=0, N=3, d=(2, 2), M=4):
    """fn, inputs and the cache of an affine layer at seeded inputs, x (N, *d)."""
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.normal(size=(N, *d)), "w": rng.normal(size=(int(np.prod(d)), M)),
              "b": rng.normal(size=M)}
    _, cache = affine_forward(**inputs)
    return (lambda values: affine_forward(**values)[0]), inputs, cache


def _lstm_case(seed=0, N=2, D=3, H=2):
    """fn returning (next_h, next_c), inputs and the cache of an LSTM step at seeded inputs."""
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.normal(size=(N, D)), "prev_h": rng.normal(size=(N, H)),
              "prev_c": rng.normal(size=(N, H)), "Wx": rng.normal(size=(D, 4 * H)) / 2,
              "Wh": rng.normal(size=(H, 4 * H)) / 2, "b": rng.normal(size=4 * H)}
    _, _, cache = lstm_step_forward(**inputs)
    return (lambda values: lstm_step_forward(**values)[:2]), inputs, cache


# ------------------------------------------------------------------ tuple-returning backward


def test_affine_backward_returning_a_tuple_passes():
    fn, inputs, cache = _affine_case()
    report = check_vjp(fn, inputs, lambda dout: affine_backward(dout, cache))
    assert report.verdict == "pass", report.reason
    assert list(report.rows) == ["dx", "dw", "db"]


def test_affine_backward_with_dw_scaled_fails_naming_dw():
    fn, inputs, cache = _affine_case()

    def buggy(dout):
        dx, dw, db = affine_backward(dout, cache)
        return dx, 2 * dw, db

    report = check_vjp(fn, inputs, buggy)
    assert report.verdict == "fail" and report.suspects == ["dw"]
    assert "dw is 2.00 × the numerical gradient" in report.reason


def test_affine_backward_with_db_kept_as_1_by_M_fails_on_its_shape_alone():
    fn, inputs, cache = _affine_case()

    def keepdims(dout):
        dx, dw, _ = affine_backward(dout, cache)
        return dx, dw, np.sum(dout, axis=0, keepdims=True)

    report = check_vjp(fn, inputs, keepdims)
    assert report.verdict == "fail" and report.suspects == ["db"]
    assert "db has shape (1, 4); the input b has shape (4,). Taken in order, its values agree " \
           "with the numerical gradient" in report.reason


def test_affine_backward_in_the_wrong_order_is_refused_naming_the_order_that_fits():
    fn, inputs, cache = _affine_case()
    with pytest.raises(ValueError, match=r"`vjp\(dout\)` returned a tuple of shapes \(4, 4\), "
                       r"\(3, 2, 2\), \(4,\), read in the order of `inputs`' keys as dx "
                       r"\(3, 2, 2\), dw \(4, 4\), db \(4,\); they fit in the order "
                       r"\(dw, dx, db\)"):
        check_vjp(fn, inputs, lambda dout: (lambda dx, dw, db: (dw, dx, db))(
            *affine_backward(dout, cache)))


def test_tuple_whose_shapes_fit_no_order_is_refused_naming_the_key():
    fn, inputs, cache = _affine_case()
    with pytest.raises(ValueError, match=r"they fit no order of the inputs, and in that order "
                       r"db has 3 entries, not 4"):
        check_vjp(fn, inputs, lambda dout: affine_backward(dout, cache)[:2] + (np.ones(3),))


def test_tuple_of_the_wrong_length_is_refused():
    fn, inputs, cache = _affine_case()
    with pytest.raises(ValueError, match=r"`vjp\(dout\)` returned a tuple of 2 gradients, "
                       r"expected 3, one per input in the order of `inputs`' keys: dx "
                       r"\(3, 2, 2\), dw \(4, 4\), db \(4,\)"):
        check_vjp(fn, inputs, lambda dout: affine_backward(dout, cache)[:2])


# ------------------------------------------------------------------ several outputs


def test_lstm_step_with_two_outputs_passes():
    fn, inputs, cache = _lstm_case()
    seen = []

    def vjp(dout):
        seen.append(type(dout))
        return lstm_step_backward(*dout, cache)

    report = check_vjp(fn, inputs, vjp)
    assert report.verdict == "pass", report.reason
    assert set(seen) == {tuple}  # the random dout has fn's structure
    assert "a seeded standard Gaussian dout, a tuple of shapes ((2, 2), (2, 2))" in \
        " ".join(report.context)


def test_lstm_step_with_dprev_c_missing_the_forget_gate_fails_naming_dprev_c():
    fn, inputs, cache = _lstm_case()
    report = check_vjp(fn, inputs,
                       lambda dout: lstm_step_backward(*dout, cache, forget_factor=False))
    assert report.verdict == "fail" and report.suspects == ["dprev_c"]


def test_lstm_step_with_dict_outputs_and_the_caller_s_dout():
    fn, inputs, cache = _lstm_case()
    rng = np.random.default_rng(1)
    dout = {"next_c": rng.normal(size=(2, 2)), "next_h": rng.normal(size=(2, 2))}
    saved = {key: value.copy() for key, value in dout.items()}

    def named(values):
        next_h, next_c = fn(values)
        return {"next_h": next_h, "next_c": next_c}

    def vjp(d):
        gradients = lstm_step_backward(d["next_h"], d["next_c"], cache)
        d["next_h"][...] = 0.0  # writes into its argument: it was given a copy
        return gradients

    report = check_vjp(named, inputs, vjp, dout=dout)
    assert report.verdict == "pass", report.reason
    assert all(np.array_equal(dout[key], saved[key]) for key in saved)
    assert "vjp writes into its argument dout" in " ".join(report.context)


@pytest.mark.parametrize(("dout", "match"), [
    (np.ones((2, 2)), r"`dout` has shape \(2, 2\), expected a tuple of shapes \(\(2, 2\), "
                      r"\(2, 2\)\) like `fn\(inputs\)` \(one array per output\)"),
    ((np.ones((2, 2)),), r"`dout` has a tuple of shapes \(\(2, 2\),\), expected a tuple of "
                         r"shapes \(\(2, 2\), \(2, 2\)\)"),
    ((np.ones((2, 2)), np.ones((2, 3))), r"`dout` has a tuple of shapes \(\(2, 2\), \(2, 3\)\)"),
    ({"next_h": np.ones((2, 2)), "next_c": np.ones((2, 2))}, r"`dout` has a dict of shapes"),
])
def test_dout_of_another_structure_than_fn_s_outputs_is_refused(dout, match):
    fn, inputs, cache = _lstm_case()
    with pytest.raises(ValueError, match=match):
        check_vjp(fn, inputs, lambda d: lstm_step_backward(*d, cache), dout=dout)


def test_non_finite_dout_in_a_tuple_is_refused_naming_its_item():
    fn, inputs, cache = _lstm_case()
    with pytest.raises(ValueError, match=r"`dout\[1\]` must be finite"):
        check_vjp(fn, inputs, lambda d: lstm_step_backward(*d, cache),
                  dout=(np.ones((2, 2)), np.full((2, 2), np.nan)))


def test_fn_returning_outputs_and_a_cache_is_refused():
    fn, inputs, _ = _lstm_case()
    with pytest.raises(TypeError, match=r"`fn` returned a tuple whose item \[2\] is a tuple, "
                       r"not an array"):
        check_vjp(lambda values: lstm_step_forward(**values), inputs, lambda d: {})


# ------------------------------------------------------------------ a (1, C) bias gradient


def _bias_case(seed=0, m=4, n=3, C=5):
    """A least-squares cost of X W + b, b (C,), and its right gradients, db of shape (C,)."""
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(m, n)), rng.normal(size=(m, C))
    parameters = {"W": rng.normal(size=(n, C)), "b": rng.normal(size=C)}

    def cost(p):
        return 0.5 * np.sum((X @ p["W"] + p["b"] - Y) ** 2)

    R = X @ parameters["W"] + parameters["b"] - Y
    return cost, parameters, {"dW": X.T @ R, "db": np.sum(R, axis=0)}


@pytest.mark.parametrize(("factor", "values"), [
    (1.0, "its values agree with the numerical gradient (difference"),
    (2.0, "its values are also wrong; 1 gradient is wrong: db is 2.00 × the numerical gradient."),
])
def test_1_by_C_bias_gradient_fails_naming_the_shape_first(factor, values):
    cost, parameters, gradients = _bias_case()
    gradients = {**gradients, "db": factor * gradients["db"].reshape(1, -1)}
    saved = gradients["db"].copy()
    report = check_gradients(cost, parameters, gradients)
    assert report.verdict == "fail" and report.suspects == ["db"]
    assert report.reason.startswith(f"db has shape (1, 5); the parameter b has shape (5,). "
                                    f"Taken in order, {values}")
    assert report.rows["db"].verdict == "wrong" and report.rows["dW"].verdict == "ok"
    assert gradients["db"].shape == (1, 5) and np.array_equal(gradients["db"], saved)


@pytest.mark.parametrize(("factor", "values"), [
    (1.0, "its values agree with the numerical gradient (difference"),
    (2.0, "its values are also wrong; 1 gradient is wrong: db is 2.00 × the numerical gradient."),
])
def test_1_by_C_bias_gradient_of_a_layer_fails_naming_the_shape_first(factor, values):
    fn, inputs, cache = _affine_case()

    def vjp(dout):
        dx, dw, db = affine_backward(dout, cache)
        return {"dx": dx, "dw": dw, "db": factor * db.reshape(1, -1)}

    report = check_vjp(fn, inputs, vjp, dout=np.ones((3, 4)))
    assert report.verdict == "fail" and report.suspects == ["db"]
    assert report.reason.startswith("The check at the caller's dout: db has shape (1, 4); the "
                                    f"input b has shape (4,). Taken in order, {values}")
    assert report.reason.count("db has shape") == 1  # said once, not again for the random dout


def test_transposed_gradient_of_a_square_matrix_stays_a_value_finding():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 3))
    parameters = {"W": rng.normal(size=(3, 3))}
    gradients = {"dW": (X.T @ (X @ parameters["W"])).T}
    report = check_gradients(lambda p: 0.5 * np.sum((X @ p["W"]) ** 2), parameters, gradients)
    assert report.verdict == "fail" and "has shape" not in report.reason
    assert "dW is the transpose of the numerical gradient" in report.reason


def test_gradient_of_the_wrong_size_is_refused():
    cost, parameters, gradients = _bias_case()
    with pytest.raises(ValueError, match=r"`gradients\['db'\]` has shape \(1, 4\), expected "
                       r"\(5,\) like `parameters\['b'\]`: 4 entries, not 5"):
        check_gradients(cost, parameters, {**gradients, "db": np.ones((1, 4))})


@pytest.mark.parametrize("batched", [None, True, False])
def test_several_outputs_of_a_layer_that_batches(batched):
    rng = np.random.default_rng(0)
    inputs = {"z": rng.normal(size=(3, 2))}

    def vjp(dout):
        dtanh, dsquare = dout
        return {"dz": dtanh * (1 - np.tanh(inputs["z"]) ** 2) + dsquare * 2 * inputs["z"]}

    report = check_vjp(lambda values: (np.tanh(values["z"]), values["z"] ** 2), inputs, vjp,
                       batched=batched)
    assert report.verdict == "pass", report.reason
    assert report.batched is (batched is not False)


def test_random_dout_of_a_dict_output_is_a_dict_with_its_keys():
    fn, inputs, cache = _lstm_case()
    seen = []

    def vjp(d):
        seen.append(sorted(d))
        return lstm_step_backward(d["next_h"], d["next_c"], cache)

    report = check_vjp(lambda values: dict(zip(("next_h", "next_c"), fn(values), strict=True)),
                       inputs, vjp)
    assert report.verdict == "pass", report.reason
    assert seen and all(keys == ["next_c", "next_h"] for keys in seen)


def test_caller_s_structured_dout_and_inputs_unchanged_when_vjp_raises():
    fn, inputs, cache = _lstm_case()
    saved = {name: value.copy() for name, value in inputs.items()}
    dout = (np.ones((2, 2)), np.full((2, 2), 2.0))

    def vjp(d):
        d[0][...] = 0.0
        inputs["x"][...] = 0.0  # through the closure
        raise RuntimeError("backward failed")

    with pytest.raises(RuntimeError, match="backward failed"):
        check_vjp(fn, inputs, vjp, dout=dout)
    assert np.array_equal(dout[0], np.ones((2, 2))) and np.array_equal(dout[1], np.full((2, 2), 2.0))
    assert all(np.array_equal(inputs[name], saved[name]) for name in saved)

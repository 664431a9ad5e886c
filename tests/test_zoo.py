"""The test zoo's hand-written backward passes agree with autograd, and its bugs are real bugs.

Kinks: every kink of the zoo is written as a mask of the real part (np.where, argmax,
sign), never as np.maximum / np.max / np.abs, so autograd differentiates the same branch
the hand-written backprop takes (ReLU'(0) = 0, sign(0) = 0, max-pool to the first maximum).
The comparison with autograd therefore holds on every entry, kinks included; autograd's own
max, which splits ties, is never used.
"""

import numpy as np
import pytest

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")

from tests.layers import LAYERS  # noqa: E402
from tests.models import FAMILIES  # noqa: E402

SEEDS = range(5)
RTOL = 1e-10  # hand-written vs autograd: both exact, so only round-off separates them
FLOOR = 1e-5  # a gradient this small next to the whole gradient (db1 under batch norm is
#               0 up to round-off) is compared relative to FLOOR x the whole gradient's norm
BUG_RTOL = 1e-3  # a bug moves a gradient tensor by more than this, relative to that tensor
#                  (per tensor: in tiny_parameters, dW1 ~1e-6 sits next to db2 ~1)
KINK_STEP = 1e-7  # one-sided slopes at this step tell a kink from a smooth point
KINK_JUMP = 1e-3  # ... when left and right slopes differ by more than this
NOISE_ULPS = 1e4  # ... plus this many ulps of |J| / step (round-off, large for a cost ~1e8)
COMPLEX_STEP = 1e-20


def _relative(a, b, norm_all=0.0):
    """||a - b|| / max(||b||, FLOOR * norm_all)."""
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), FLOOR * norm_all, np.finfo(float).tiny)


def _layer_point(layer, seed):
    """Inputs and a random dout shaped like the layer's output."""
    rng = np.random.default_rng(seed)
    inputs = layer.make_inputs(rng)
    dout = rng.normal(size=np.shape(layer.forward(inputs)))
    return inputs, dout


def _autograd_vjp(layer, inputs, dout):
    vjp, _ = autograd.make_vjp(lambda values: layer.forward(values, anp))(inputs)
    return {"d" + name: value for name, value in vjp(dout).items()}


def _autograd_gradients(case):
    gradient = autograd.grad(lambda parameters: case.cost_fn(parameters, xp=anp))(case.parameters)
    return {"d" + name: value for name, value in gradient.items()}


def _norm_all(gradients):
    return np.sqrt(sum(np.sum(g ** 2) for g in gradients.values()))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_layer_backward_matches_autograd(name, seed):
    layer = LAYERS[name]
    inputs, dout = _layer_point(layer, seed)
    expected = _autograd_vjp(layer, inputs, dout)
    got = layer.backward(inputs, dout)
    assert set(got) == {"d" + key for key in inputs}
    for key, value in expected.items():
        assert got[key].shape == value.shape
        assert _relative(got[key], value, _norm_all(expected)) < RTOL, key


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_layer_bug_breaks_only_its_key(name, seed):
    layer = LAYERS[name]
    inputs, dout = _layer_point(layer, seed)
    correct = layer.backward(inputs, dout)
    for bug, (key, buggy_backward) in layer.bugs.items():
        buggy = buggy_backward(inputs, dout)
        assert set(buggy) == set(correct) and key in correct, bug
        for other, value in correct.items():
            assert buggy[other].shape == value.shape, (bug, other)
            if other == key:
                assert _relative(buggy[key], value) > BUG_RTOL, bug
            else:
                np.testing.assert_array_equal(buggy[other], value, err_msg=bug)


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_gradient_has_a_bug(name):
    layer = LAYERS[name]
    inputs, _ = _layer_point(layer, 0)
    assert {key for key, _ in layer.bugs.values()} == {"d" + key for key in inputs}


def test_layer_outputs_cover_0d_1d_2d_4d():
    dims = {np.ndim(layer.forward(layer.make_inputs(np.random.default_rng(0))))
            for layer in LAYERS.values()}
    assert {0, 1, 2, 4} <= dims


def test_affine_has_a_bug_in_dA_prev_only():
    assert "dA_prev" in {key for key, _ in LAYERS["affine"].bugs.values()}


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_relu_layers_have_inputs_exactly_at_the_kink(name):
    assert np.any(LAYERS[name].make_inputs(np.random.default_rng(0))["Z"] == 0)


def test_maxpool_inputs_have_tied_windows():
    x = LAYERS["maxpool"].make_inputs(np.random.default_rng(0))["x"]
    first = x[0, 0, :2, :2]
    assert np.sum(first == first.max()) >= 2


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("seed", SEEDS)
def test_family_gradients_match_autograd(family, seed):
    case = FAMILIES[family](seed)
    expected = _autograd_gradients(case)
    assert set(case.gradients) == set(expected)
    for key, value in expected.items():
        assert case.gradients[key].shape == value.shape
        assert _relative(case.gradients[key], value, _norm_all(expected)) < RTOL, key


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("seed", SEEDS)
def test_family_bugs_change_the_gradient(family, seed):
    case = FAMILIES[family](seed)
    assert case.bugs
    for bug, gradients in case.bugs.items():
        assert set(gradients) == set(case.gradients), bug
        changes = [_relative(gradients[key], value) for key, value in case.gradients.items()]
        assert max(changes) > BUG_RTOL, bug


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_small_seeded_and_leaves_the_global_state(family):
    state = np.random.get_state()[1].copy()
    cases = [FAMILIES[family](seed) for seed in SEEDS]
    assert np.array_equal(np.random.get_state()[1], state)
    again = FAMILIES[family](0)
    for name, value in cases[0].parameters.items():
        np.testing.assert_array_equal(again.parameters[name], value)
    shapes = {tuple(value.shape for value in case.parameters.values()) for case in cases}
    assert len(shapes) > 1  # the seed varies the shapes
    for case in cases:
        assert 10 <= sum(value.size for value in case.parameters.values()) <= 300
        assert all(value.dtype == np.float64 for value in case.parameters.values())


@pytest.mark.parametrize("family", FAMILIES)
def test_family_cost_type(family):
    case = FAMILIES[family](0)
    J = case.cost_fn(case.parameters)
    expected = {"float32_inside": float, "float32_returned": np.float32}.get(family, np.float64)
    assert type(J) is expected


def _one_sided_slopes(case):
    """(key, index, left, right) slopes at step KINK_STEP for every entry, and the round-off."""
    J0 = case.cost_fn(case.parameters)
    slopes = []
    for name, value in case.parameters.items():
        for index in np.ndindex(value.shape):
            sides = []
            for step in (-KINK_STEP, KINK_STEP):
                shifted = value.copy()
                shifted[index] += step
                sides.append((case.cost_fn({**case.parameters, name: shifted}) - J0) / step)
            slopes.append(("d" + name, index, *sides))
    return slopes, NOISE_ULPS * np.finfo(float).eps * abs(J0) / KINK_STEP


def _one_sided_jumps(case):
    """Largest |right - left| slope over the entries, less its round-off."""
    slopes, roundoff = _one_sided_slopes(case)
    return max(abs(right - left) for _, _, left, right in slopes) - roundoff


@pytest.mark.parametrize("family", [name for name in FAMILIES if FAMILIES[name](0).kind != "noisy"])
def test_kind_says_whether_the_point_is_at_a_kink(family):
    for seed in range(3):
        case = FAMILIES[family](seed)
        assert (_one_sided_jumps(case) > KINK_JUMP) == (case.kind == "kink"), seed


@pytest.mark.parametrize("family", ["pruned_unit", "quantized_pool"])
def test_backprop_can_lie_outside_one_entrys_slopes_where_kinks_coincide(family):
    # A fact a checker must live with: correct backprop, not a subgradient of the 1-D slice.
    outside = 0
    for seed in range(5):
        case = FAMILIES[family](seed)
        slopes, _ = _one_sided_slopes(case)
        outside += sum(not min(left, right) - KINK_JUMP <= case.gradients[key][index]
                       <= max(left, right) + KINK_JUMP for key, index, left, right in slopes)
    assert outside > 0


@pytest.mark.parametrize("family", [name for name in FAMILIES if FAMILIES[name](0).kind != "noisy"])
def test_costs_are_complex_safe(family):
    # The complex step follows the real part's branch at a kink, the same convention as backprop.
    case = FAMILIES[family](0)
    for name, value in case.parameters.items():
        for index in np.ndindex(value.shape):
            shifted = value.astype(complex)
            shifted[index] += 1j * COMPLEX_STEP
            derivative = np.imag(case.cost_fn({**case.parameters, name: shifted})) / COMPLEX_STEP
            scale = max(abs(case.gradients["d" + name][index]), _norm_all(case.gradients) * FLOOR)
            assert abs(derivative - case.gradients["d" + name][index]) <= 1e-9 * scale, (name, index)

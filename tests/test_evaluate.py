"""Unit tests of the inputs and evaluate stages: validated copies, cost values, np.random's state."""

import warnings

import numpy as np
import pytest

from gradcheck import evaluate, inputs


def same_random_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def matrix(data):
    """An np.matrix, without its PendingDeprecationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(data)


# --- inputs.checked ------------------------------------------------------------------------

def checked(parameters, gradients, **kwargs):
    args = {"method": "central", "epsilon": None, "threshold": 1e-7, "seed": 0, "batched": None}
    args.update(kwargs)
    return inputs.checked(parameters, gradients, *args.values())


def test_checked_flattens_copies_in_parameter_order():
    W = np.arange(6.0).reshape(2, 3)
    b = np.array([[7.0], [8.0]])
    problem = checked({"W": W, "b": b}, {"db": -b, "dW": -W, "dZ": np.ones(4)})
    layout = problem.layout
    assert layout.names == ["W", "b"] and layout.keys == ["dW", "db"]
    assert layout.shapes == [(2, 3), (2, 1)] and layout.n == 8
    np.testing.assert_array_equal(problem.theta0, [0, 1, 2, 3, 4, 5, 7, 8])
    np.testing.assert_array_equal(problem.grad, -problem.theta0)
    assert not np.shares_memory(problem.theta0, W) and not np.shares_memory(problem.theta0, b)
    assert not problem.theta0.flags.writeable  # the cost gets views of it
    views = layout.unflatten(np.array([0, 1, 2, 3, 4, 5, 7, 8.0]))
    np.testing.assert_array_equal(views["W"], W)
    np.testing.assert_array_equal(views["b"], b)
    assert layout.index(7) == (1, 0)


def test_checked_keeps_the_arguments_of_the_check():
    problem = checked({"w": np.ones(2)}, {"dw": np.ones(2)}, method="complex", epsilon=1e-6,
                      threshold=1e-5, seed=3, batched=False)
    assert (problem.name, problem.epsilon, problem.threshold, problem.seed, problem.batched) \
        == ("complex", 1e-6, 1e-5, 3, False)
    assert checked({"w": np.ones(2)}, {"dw": np.ones(2)}).epsilon is None


def test_checked_names_the_arguments_it_is_told():
    with pytest.raises(TypeError, match=r"`inputs\['x'\]` must be float64, got float32"):
        inputs.checked({"x": np.ones(2, np.float32)}, {"dx": np.ones(2)}, "central", None, 1e-7,
                       0, None, parameters_label="inputs", gradients_label="vjp(dout)")
    with pytest.raises(ValueError, match=r"`vjp\(dout\)` has no key 'dx'"):
        inputs.checked({"x": np.ones(2)}, {}, "central", None, 1e-7, 0, None,
                       parameters_label="inputs", gradients_label="vjp(dout)")


@pytest.mark.parametrize("value, match", [
    (None, "is an np.matrix"),  # made in the test: np.matrix warns when it is made
    ([np.ones(2), np.ones(2)], "got a list of arrays"),
    (np.array(["a"]), "must be a float64 array, got <U1"),
    (np.ones(2, np.float32), "round-off"),
])
def test_float64_array_refuses_what_a_float64_check_would_get_wrong(value, match):
    if value is None:
        value = matrix([[1.0, 2.0]])
    with pytest.raises(TypeError, match=match):
        inputs.float64_array("x", value)


def test_float64_array_accepts_lists_and_scalars_of_floats():
    assert inputs.float64_array("x", [1.0, 2.0]).dtype == np.float64
    assert inputs.float64_array("x", 3.0).shape == ()


# --- evaluate.scalar_cost ------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (1.5, 1.5),
    (np.float64(1.5), 1.5),
    (np.array(1.5), 1.5),
    (np.array([[1.5]]), 1.5),
    (np.float32(1.5), 1.5),
    (np.array(1.5 + 2j), 1.5 + 2j),
])
def test_scalar_cost_accepts_a_float_in_any_scalar_form(value, expected):
    cost = evaluate.scalar_cost(value)
    assert cost == expected and np.ndim(cost) == 0
    assert np.result_type(cost) in (np.float64, np.complex128)


@pytest.mark.parametrize("value, error, match", [
    ((1.5, {"A1": 0}), TypeError, "return the cost alone"),
    ((1.5,), TypeError, "returned a tuple"),
    (1, TypeError, "returned int 1"),
    (np.int32(1), TypeError, "an int or a bool cannot change"),
    (True, TypeError, "returned bool True"),
    (np.bool_(True), TypeError, "an int or a bool"),
    (np.array(1), TypeError, "must return a float"),
    ("1.5", TypeError, "must return a float, got str"),
    (None, TypeError, "must return a float, got NoneType"),
    (np.ones(2), ValueError, r"must return a scalar .* got shape \(2,\)"),
])
def test_scalar_cost_refuses_what_cannot_be_a_cost(value, error, match):
    with pytest.raises(error, match=match):
        evaluate.scalar_cost(value)


# --- evaluate.GlobalRandom -----------------------------------------------------------------

def test_global_random_that_sees_no_draw_changes_nothing():
    np.random.seed(1)
    state = np.random.get_state()
    random = evaluate.GlobalRandom()
    random.seen_first_call()
    assert not random.draws
    random.before_call()
    assert random.restore() is False
    assert same_random_state(np.random.get_state(), state)


def test_global_random_resets_before_every_call_once_the_first_one_drew():
    np.random.seed(2)
    state = np.random.get_state()
    random = evaluate.GlobalRandom()
    first = np.random.rand(3)
    random.seen_first_call()
    assert random.draws
    for _ in range(3):
        random.before_call()
        np.testing.assert_array_equal(np.random.rand(3), first)
    assert random.restore() is False  # it knew
    assert same_random_state(np.random.get_state(), state)


def test_global_random_reports_a_draw_that_comes_after_the_first_call():
    np.random.seed(3)
    state = np.random.get_state()
    random = evaluate.GlobalRandom()
    random.seen_first_call()
    np.random.rand()
    assert random.restore() is True  # the check must be made again, with resets
    assert same_random_state(np.random.get_state(), state)


def test_global_random_watches_the_cached_gaussian():
    np.random.seed(4)
    np.random.standard_normal()  # the legacy generator caches the second Gaussian
    state = np.random.get_state()
    assert state[3] == 1
    random = evaluate.GlobalRandom()
    cached = np.random.standard_normal()  # uses the cache: MT19937's key and position stay
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert random.restore() is True
    assert same_random_state(np.random.get_state(), state)
    assert np.random.standard_normal() == cached


# --- evaluate.Evaluator --------------------------------------------------------------------

def test_evaluator_counts_points_and_gives_each_call_its_own_arrays():
    layout = inputs.Layout([("w", (2,)), ("v", (1,))])
    seen = []

    def cost(p):
        seen.append(p["w"])
        value = np.sum(p["w"], axis=-1) + np.sum(p["v"] ** 2, axis=-1)
        p["w"][...] = np.nan  # scribbles over its argument
        return value

    theta0 = np.array([1.0, 2.0, 3.0])
    points = evaluate.Points(theta0, np.array([0.0, 0.5, -0.5, 1.0]), axes=np.array([0, 0, 1, 2]))
    for batched in (False, True):
        evaluator = evaluate.Evaluator(cost, layout, batched, evaluate.GlobalRandom())
        np.testing.assert_allclose(evaluator.costs(points), [12.0, 12.5, 11.5, 19.0])
        assert evaluator.count == 4
        np.testing.assert_array_equal(theta0, [1.0, 2.0, 3.0])
    assert not any(np.shares_memory(a, b) for i, a in enumerate(seen) for b in seen[i + 1:])


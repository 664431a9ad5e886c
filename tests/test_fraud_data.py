"""Tests for the synthetic mobile-payments fraud data set."""

import numpy as np
import pytest

from fraud_data import load_payments

SMALL = {"m_train": 300, "m_test": 200}


def test_shapes_dtypes_and_feature_names():
    X_train, Y_train, X_test, Y_test, feature_names = load_payments(m_train=300, m_test=200)
    n_x = len(feature_names)
    assert 6 <= n_x <= 9
    assert len(set(feature_names)) == n_x
    assert X_train.shape == (n_x, 300) and X_test.shape == (n_x, 200)
    assert Y_train.shape == (1, 300) and Y_test.shape == (1, 200)
    for array in (X_train, Y_train, X_test, Y_test):
        assert array.dtype == np.float64


def test_default_split_is_2000_train_1000_test():
    X_train, _, X_test, _, _ = load_payments()
    assert X_train.shape[1] == 2000 and X_test.shape[1] == 1000


def test_labels_are_zero_or_one():
    _, Y_train, _, Y_test, _ = load_payments(**SMALL)
    for Y in (Y_train, Y_test):
        assert set(np.unique(Y)) <= {0.0, 1.0}


def test_no_nan_or_inf():
    for array in load_payments(seed=3)[:4]:
        assert np.all(np.isfinite(array))


def test_same_seed_gives_same_data():
    first, second = load_payments(seed=5, **SMALL), load_payments(seed=5, **SMALL)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_data():
    X_a, Y_a, X_test_a, _, _ = load_payments(seed=0, **SMALL)
    X_b, Y_b, X_test_b, _, _ = load_payments(seed=1, **SMALL)
    assert not np.allclose(X_a, X_b)
    assert not np.allclose(X_test_a, X_test_b)
    assert not np.array_equal(Y_a, Y_b)


def test_test_split_is_not_a_copy_of_the_train_split():
    X_train, _, X_test, _, _ = load_payments(m_train=500, m_test=500)
    assert not np.allclose(X_train, X_test)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fraud_rate_is_a_few_percent_on_each_split(seed):
    _, Y_train, _, Y_test, _ = load_payments(seed=seed)
    for Y in (Y_train, Y_test):
        assert 0.02 <= Y.mean() <= 0.06, f"fraud rate {Y.mean():.4f}"


def test_test_split_holds_both_classes():
    _, _, _, Y_test, _ = load_payments()
    assert 0 < Y_test.sum() < Y_test.size


def test_features_are_standardized_with_training_statistics():
    X_train, _, X_test, _, _ = load_payments()
    np.testing.assert_allclose(X_train.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(X_train.std(axis=1), 1.0, rtol=1e-12)
    # Scaled with the training statistics, the test split is only close to mean 0, std 1.
    assert not np.allclose(X_test.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(X_test.mean(axis=1), 0.0, atol=0.2)
    np.testing.assert_allclose(X_test.std(axis=1), 1.0, atol=0.2)


def test_training_set_does_not_depend_on_the_test_size():
    X_a, Y_a, _, _, _ = load_payments(m_train=400, m_test=100, seed=2)
    X_b, Y_b, _, _, _ = load_payments(m_train=400, m_test=900, seed=2)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(Y_a, Y_b)


def test_global_random_state_is_untouched():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    load_payments(**SMALL)
    assert np.random.random() == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"m_train": 1}, ValueError, "`m_train` must be at least 2, got 1"),
        ({"m_test": 0}, ValueError, "`m_test` must be at least 1, got 0"),
        ({"seed": -1}, ValueError, "`seed` must be at least 0, got -1"),
        ({"m_train": 100.0}, TypeError, "`m_train` must be an int, got float"),
        ({"m_test": True}, TypeError, "`m_test` must be an int, got bool"),
        ({"seed": "0"}, TypeError, "`seed` must be an int, got str"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_payments(**kwargs)

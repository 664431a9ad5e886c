"""Seeded fixtures for the gradient-checking assignment and its tests."""

import numpy as np


def gradient_check_n_test_case():
    """The course's N-D test case: a 4-5-3-1 network on m = 3 examples.

    Returns
    -------
    X : ndarray, shape (4, 3)
    Y : ndarray, shape (1, 3)
    parameters : dict with W1 (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1)
    """
    # The course's draw order; changing it changes every published number.
    np.random.seed(1)
    x = np.random.randn(4, 3)
    y = np.array([1, 1, 0])
    W1 = np.random.randn(5, 4)
    b1 = np.random.randn(5, 1)
    W2 = np.random.randn(3, 5)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return x, y.reshape(1, -1), parameters


def deep_network_case(layer_dims, m, seed=0, weight_scale=1.0):
    """A random fully connected network and binary data set.

    Parameters
    ----------
    layer_dims : sequence of int
        [n_x, n_1, ..., n_L]; layer l has W{l} of shape (n_l, n_{l-1}) and b{l} (n_l, 1).
    m : int
        Number of examples.
    seed : int
        Seed of a private generator; the global NumPy state is not touched.
    weight_scale : float
        Standard deviation of the weights and biases (large values saturate units).

    Returns
    -------
    X : ndarray, shape (n_x, m)
    Y : ndarray of 0.0/1.0, shape (1, m)
    parameters : dict of str -> ndarray
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((layer_dims[0], m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters[f"W{l}"] = weight_scale * rng.standard_normal((layer_dims[l], layer_dims[l - 1]))
        parameters[f"b{l}"] = weight_scale * rng.standard_normal((layer_dims[l], 1))
    return X, Y, parameters

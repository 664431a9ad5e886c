"""A reference L-layer network (RELU hidden layers, SIGMOID output) for tests and the benchmark.

Written with ``@`` and axis=-1 reductions, so every parameter may carry leading
batch axes: the cost then has those axes as its shape. This is the batched
calling convention that `gc_utils.check_gradients` can use.
"""

import numpy as np

from gc_utils import relu, sigmoid


def n_layers(parameters):
    """Number of layers L, read from the W1..WL keys."""
    return sum(1 for name in parameters if name.startswith("W"))


def forward(X, Y, parameters, lambd=0.0):
    """Cross-entropy cost (plus L2 term) and cache.

    Parameters
    ----------
    X : ndarray, shape (n_x, m)
    Y : ndarray, shape (1, m)
    parameters : dict with W{l} (..., n_l, n_{l-1}) and b{l} (..., n_l, 1)
    lambd : float
        L2 strength; the term is lambd / (2m) * sum of squared weights.

    Returns
    -------
    cost : float or ndarray of shape (...)
    cache : list of (A_prev, Z) per layer
    """
    m = X.shape[-1]
    L = n_layers(parameters)
    A, cache = X, []
    for l in range(1, L + 1):
        Z = parameters[f"W{l}"] @ A + parameters[f"b{l}"]
        cache.append((A, Z))
        A = sigmoid(Z) if l == L else relu(Z)
    cross_entropy = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=-1)[..., 0] / m
    l2 = sum(np.sum(parameters[f"W{l}"] ** 2, axis=(-2, -1)) for l in range(1, L + 1))
    return cross_entropy + lambd / (2 * m) * l2, cache


def cost(X, Y, lambd=0.0):
    """Return ``cost_fn(parameters)`` for `check_gradients` (batch-capable)."""
    return lambda parameters: forward(X, Y, parameters, lambd)[0]


def backward(X, Y, parameters, lambd=0.0):
    """Exact gradients of `forward` (unbatched).

    Returns
    -------
    gradients : dict with dW{l}, db{l} shaped like the parameters
    """
    m = X.shape[-1]
    L = n_layers(parameters)
    _, cache = forward(X, Y, parameters, lambd)
    gradients = {}
    dZ = sigmoid(cache[-1][1]) - Y  # sigmoid + cross-entropy
    for l in range(L, 0, -1):
        A_prev, _ = cache[l - 1]
        W = parameters[f"W{l}"]
        gradients[f"dW{l}"] = dZ @ A_prev.T / m + lambd / m * W
        gradients[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dZ = (W.T @ dZ) * (cache[l - 2][1] > 0)
    return gradients

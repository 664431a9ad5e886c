"""Helpers for gradient checking: activations, parameter dict <-> vector, and the checker."""

import numpy as np

# The checker is a package of its own (gradcheck/); it is part of this helper module's API.
from gradcheck import GradientCheckReport, check_gradients, check_vjp  # noqa: F401


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), without overflow for large |x|.

    Parameters
    ----------
    x : array_like, any shape
        Real or complex input. For complex input the branch is chosen by the
        real part, so the function stays analytic (complex-step safe).

    Returns
    -------
    s : ndarray, same shape as `x`
    """
    x = np.asarray(x)
    negative = x.real < 0
    # exp(-|x|) never overflows; each branch is the same function rewritten.
    e = np.exp(np.where(negative, x, -x))
    return np.where(negative, e / (1 + e), 1 / (1 + e))


def relu(x):
    """Rectified linear unit max(0, x).

    Parameters
    ----------
    x : array_like, any shape
        Real or complex input; for complex input the test uses the real part,
        since `np.maximum` orders complex numbers lexicographically.

    Returns
    -------
    a : ndarray, same shape and dtype as `x`
    """
    x = np.asarray(x)
    return np.where(x.real > 0, x, 0)


def dictionary_to_vector(parameters):
    """Stack every parameter array into one column vector, in the dict's order.

    Parameters
    ----------
    parameters : dict of str -> array_like
        Any names, any shapes, any number of entries.

    Returns
    -------
    theta : ndarray of float64, shape (n, 1)
        n is the total number of scalars; a new array, never a view.
    keys : list of str, length n
        ``keys[i]`` is the name of the parameter that ``theta[i]`` belongs to.
    """
    _check_parameters(parameters)
    pieces = [np.asarray(value, dtype=float).reshape(-1, 1) for value in parameters.values()]
    keys = [name for name, value in parameters.items() for _ in range(np.size(value))]
    return np.concatenate(pieces, axis=0), keys


def vector_to_dictionary(theta, parameters):
    """Unstack a column vector into a dict shaped like `parameters`.

    The exact inverse of `dictionary_to_vector`: names, order and shapes are
    read from `parameters`, whose values are not used.

    Parameters
    ----------
    theta : array_like, shape (n, 1) or (n,)
        Real or complex; the dtype is kept.
    parameters : dict of str -> ndarray
        Template giving the names, order and shapes; n = total size.

    Returns
    -------
    dict of str -> ndarray
        New arrays (copies, not views of `theta`).
    """
    _check_parameters(parameters)
    theta = np.asarray(theta)
    sizes = [np.size(value) for value in parameters.values()]
    if theta.ndim not in (1, 2) or (theta.ndim == 2 and theta.shape[1] != 1):
        raise ValueError(f"`theta` must have shape (n, 1) or (n,), got {theta.shape}")
    if theta.shape[0] != sum(sizes):
        raise ValueError(
            f"`theta` has {theta.shape[0]} entries but `parameters` has {sum(sizes)} scalars"
        )
    ends = np.cumsum(sizes)
    return {
        name: theta[end - size:end].reshape(np.shape(value)).copy()
        for (name, value), size, end in zip(parameters.items(), sizes, ends, strict=True)
    }


def gradients_to_vector(gradients, parameters):
    """Stack ``gradients["d" + name]`` for every parameter name, aligned with `theta`.

    Parameters
    ----------
    gradients : dict of str -> array_like
        Must hold ``"d" + name`` for every name in `parameters`, of the same
        shape. Extra entries (dZ1, dA1, ...) are ignored.
    parameters : dict of str -> ndarray
        Gives the names, order and shapes, as in `dictionary_to_vector`.

    Returns
    -------
    grad : ndarray of float64, shape (n, 1)
        ``grad[i]`` is the derivative with respect to ``theta[i]``.
    """
    _check_parameters(parameters)
    if not isinstance(gradients, dict):
        raise TypeError(f"`gradients` must be a dict, got {type(gradients).__name__}")
    ordered = {}
    for name, value in parameters.items():
        key = "d" + name
        if key not in gradients:
            raise ValueError(f"`gradients` has no key {key!r} for parameter {name!r}")
        if np.shape(gradients[key]) != np.shape(value):
            raise ValueError(
                f"`gradients[{key!r}]` has shape {np.shape(gradients[key])}, "
                f"expected {np.shape(value)} like `parameters[{name!r}]`"
            )
        ordered[key] = gradients[key]
    return dictionary_to_vector(ordered)[0]


def _check_parameters(parameters):
    """Raise unless `parameters` is a non-empty dict of real numeric arrays."""
    if not isinstance(parameters, dict):
        raise TypeError(f"`parameters` must be a dict, got {type(parameters).__name__}")
    if not parameters:
        raise ValueError("`parameters` must not be empty")
    for name, value in parameters.items():
        kind = np.asarray(value).dtype.kind
        if kind not in "biuf":
            dtype = np.asarray(value).dtype
            raise TypeError(f"`parameters[{name!r}]` must be a real numeric array, got {dtype}")

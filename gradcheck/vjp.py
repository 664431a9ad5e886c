"""check_vjp: check one layer's backward pass (a vector-Jacobian product) on its own."""

import numpy as np

from gradcheck._legacy import THRESHOLD, check_gradients


def check_vjp(fn, inputs, vjp, *, dout=None, method="central", epsilon=None,
              threshold=THRESHOLD, seed=0, batched=None):
    """Check ``vjp(dout)["d" + name]`` against the gradient of <fn(inputs), dout>.

    Parameters
    ----------
    fn : callable
        ``fn(inputs) -> ndarray`` of any shape (0-d allowed): the layer's output.
    inputs : dict of str -> ndarray of float64
        Everything the check differentiates, data and parameters alike, e.g.
        ``{"A_prev": A, "W": W, "b": b}``. Never modified.
    vjp : callable
        ``vjp(dout) -> dict`` holding ``"d" + name`` for every input, shaped like
        it; other keys are ignored. The course's ``linear_backward(dZ, cache)``
        returns a tuple; wrap it as
        ``lambda dZ: dict(zip(("dA_prev", "dW", "db"), linear_backward(dZ, cache)))``.
    dout : ndarray or None
        The upstream gradient, shaped like ``fn(inputs)``; None draws a seeded
        standard Gaussian one.
    method, epsilon, threshold, seed, batched
        As for `check_gradients`.

    Returns
    -------
    GradientCheckReport
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
    if not callable(vjp):
        raise TypeError(f"`vjp` must be callable, got {type(vjp).__name__}")
    if not isinstance(inputs, dict) or not inputs:
        raise TypeError("`inputs` must be a non-empty dict of name -> float64 array")
    out = np.asarray(fn({name: np.array(value, copy=True) for name, value in inputs.items()}))
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(out.shape)
    dout = np.array(dout, dtype=np.float64, copy=True)
    if dout.shape != out.shape:
        raise ValueError(f"`dout` has shape {dout.shape}, expected {out.shape} like `fn(inputs)`")
    gradients = vjp(dout.copy())
    if not isinstance(gradients, dict):
        raise TypeError(f"`vjp` must return a dict holding 'd' + name, got {type(gradients).__name__}")

    def cost_fn(values):
        return np.sum(np.asarray(fn(values)) * dout)

    return check_gradients(cost_fn, inputs, gradients, method=method, epsilon=epsilon,
                           threshold=threshold, seed=seed, batched=batched)

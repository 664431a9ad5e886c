"""Single layers with hand-written backward passes and planted bugs, for layer-level (VJP) checks.

Every forward is written once against an array module `xp` (numpy or autograd.numpy), so
the same code gives the checker's ``fn`` and autograd's ground truth. Forwards are complex-safe:
branches (ReLU, max, sign) are chosen by the real part and values never pass through np.abs,
so the complex step sees the analytic continuation of the active branch.

Kink conventions (shared with autograd, because each kink is a mask of the real part):
ReLU'(0) = 0; leaky ReLU'(0) = LEAKY_SLOPE; max-pool routes a window's gradient to the
first maximum in row-major order; sign(0) = 0 wherever |z| is written as sign(Re z) * z.
Each is a valid one-sided derivative of the layer at its kink.
"""

import itertools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

LEAKY_SLOPE = 0.01  # leaky ReLU slope for z <= 0
ELU_ALPHA = 1.0  # ELU saturation -alpha; alpha = 1 makes ELU continuously differentiable at 0
BN_EPSILON = 1e-5  # batch norm: added to the variance before the square root
KINK_MARGIN = 0.1  # random pre-activations are kept this far from a kink unless placed on it


class Layer(NamedTuple):
    """One layer: forward, hand-written backward, random inputs and planted bugs."""

    name: str
    forward: Callable  # forward(inputs, xp=np) -> ndarray of any shape (0-d allowed)
    backward: Callable  # backward(inputs, dout) -> dict "d" + name for every input
    make_inputs: Callable  # make_inputs(rng) -> dict name -> float64 array
    bugs: dict  # bug name -> (gradient key it breaks, buggy_backward(inputs, dout) -> dict)


# ---------------------------------------------------------------------------- helpers

def abs_real(z, xp=np):
    """|z| written as sign(Re z) * z, so that it stays analytic for the complex step.

    Parameters
    ----------
    z : ndarray, any shape, real or complex

    Returns
    -------
    ndarray, same shape as `z`; |z| for real `z` (sign(0) = 0, so its derivative at 0 is 0)
    """
    return xp.sign(xp.real(z)) * z


def one_hot_labels(K, m):
    """Deterministic one-hot labels for a layer whose labels live in its closure.

    Returns
    -------
    Y : ndarray of float64, shape (K, m); sample j has class (3 j + 1) mod K
    """
    return (np.arange(K)[:, None] == (3 * np.arange(m) + 1) % K).astype(np.float64)


def _away_from_zero(rng, shape, zeros=0):
    """Normal-like values with |z| >= KINK_MARGIN, `zeros` of them set exactly to 0."""
    Z = rng.choice([-1.0, 1.0], size=shape) * (KINK_MARGIN + np.abs(rng.normal(size=shape)))
    Z.flat[rng.choice(Z.size, size=zeros, replace=False)] = 0.0
    return Z


def _replacing(backward, key, wrong):
    """A buggy backward: `backward` with gradient `key` replaced by ``wrong(inputs, dout)``."""
    def buggy(inputs, dout):
        return {**backward(inputs, dout), key: wrong(inputs, dout)}
    return buggy


def _bugs(backward, table):
    """Bugs dict from ``{bug name: (key, wrong(inputs, dout))}``."""
    return {name: (key, _replacing(backward, key, wrong)) for name, (key, wrong) in table.items()}


# ---------------------------------------------------------------------------- elementwise

def relu(Z, xp=np):
    """max(0, Z) by the real part; shape of `Z`."""
    return xp.where(xp.real(Z) > 0, Z, 0.0)


def relu_prime(Z):
    """ReLU derivative, 0 at Z = 0; shape of `Z`."""
    return (Z > 0).astype(np.float64)


def leaky_relu(Z, xp=np):
    """Z for Z > 0, LEAKY_SLOPE * Z otherwise; shape of `Z`."""
    return xp.where(xp.real(Z) > 0, Z, LEAKY_SLOPE * Z)


def leaky_relu_prime(Z):
    """Leaky ReLU derivative, LEAKY_SLOPE at Z = 0 (the left slope); shape of `Z`."""
    return np.where(Z > 0, 1.0, LEAKY_SLOPE)


def elu(Z, xp=np):
    """Z for Z > 0, ELU_ALPHA (exp(Z) - 1) otherwise; shape of `Z`."""
    # exp of the negative branch only: exp(Z) of a large positive Z would overflow in the unused branch.
    negative = xp.where(xp.real(Z) > 0, 0.0, Z)
    return xp.where(xp.real(Z) > 0, Z, ELU_ALPHA * (xp.exp(negative) - 1))


def elu_prime(Z):
    """ELU derivative: 1 for Z > 0, ELU_ALPHA exp(Z) = A + ELU_ALPHA otherwise."""
    return np.where(Z > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(Z, 0)))


def sigmoid(Z, xp=np):
    """1 / (1 + exp(-Z)) without overflow, branch by the real part; shape of `Z`."""
    negative = xp.real(Z) < 0
    e = xp.exp(xp.where(negative, Z, -Z))  # exp(-|Z|) never overflows
    return xp.where(negative, e / (1 + e), 1 / (1 + e))


def sigmoid_prime(Z):
    """s (1 - s) with s = sigmoid(Z)."""
    s = sigmoid(Z)
    return s * (1 - s)


def tanh(Z, xp=np):
    """Hyperbolic tangent; shape of `Z`."""
    return xp.tanh(Z)


def tanh_prime(Z):
    """1 - tanh(Z)^2."""
    return 1 - np.tanh(Z) ** 2


def identity(Z, xp=np):
    """Z itself (a linear layer)."""
    return Z


def identity_prime(Z):
    """Ones shaped like `Z`."""
    return np.ones_like(Z)


ACTIVATIONS = {  # name -> (forward(Z, xp), derivative(Z))
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
    "elu": (elu, elu_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "identity": (identity, identity_prime),
}


def _elementwise(name, make_Z, wrong_primes):
    """Layer A = g(Z) for the activation `name`; each wrong derivative is one bug of dZ."""
    g, g_prime = ACTIVATIONS[name]

    def backward(inputs, dout):
        return {"dZ": dout * g_prime(inputs["Z"])}

    table = {bug: ("dZ", lambda inputs, dout, p=prime: dout * p(inputs["Z"]))
             for bug, prime in wrong_primes.items()}
    return Layer(name, lambda inputs, xp=np: g(inputs["Z"], xp), backward,
                 lambda rng: {"Z": make_Z(rng)}, _bugs(backward, table))


def _small_shape(rng):
    """(n, m) with n in [2, 5] and m in [3, 6]."""
    return (int(rng.integers(2, 6)), int(rng.integers(3, 7)))


def _Z_with_kinks(rng):
    """Pre-activations away from 0, with two entries exactly 0 (the kink)."""
    return _away_from_zero(rng, _small_shape(rng), zeros=2)


def _Z_smooth(rng):
    """Pre-activations of a smooth layer: normal with standard deviation 2."""
    return 2 * rng.normal(size=_small_shape(rng))


# ---------------------------------------------------------------------------- affine

def affine_forward(inputs, xp=np):
    """Z = W A_prev + b.

    Parameters
    ----------
    inputs : dict with A_prev (n_prev, m), W (n, n_prev), b (n, 1)

    Returns
    -------
    Z : ndarray, shape (n, m)
    """
    return inputs["W"] @ inputs["A_prev"] + inputs["b"]


def affine_backward(inputs, dout):
    """Gradients of ``sum(dout * Z)``: dA_prev (n_prev, m), dW (n, n_prev), db (n, 1)."""
    return {"dA_prev": inputs["W"].T @ dout,
            "dW": dout @ inputs["A_prev"].T,
            "db": np.sum(dout, axis=1, keepdims=True)}


def _affine_inputs(rng):
    # W is square, so that a missing transpose keeps the shape (the realistic, silent bug).
    n, m = _small_shape(rng)
    return {"A_prev": rng.normal(size=(n, m)), "W": rng.normal(size=(n, n)),
            "b": rng.normal(size=(n, 1))}


AFFINE = Layer("affine", affine_forward, affine_backward, _affine_inputs, _bugs(affine_backward, {
    "dA_prev without transpose": ("dA_prev", lambda inputs, dout: inputs["W"] @ dout),
    "dA_prev wrong sign": ("dA_prev", lambda inputs, dout: -inputs["W"].T @ dout),
    "dW transposed": ("dW", lambda inputs, dout: inputs["A_prev"] @ dout.T),
    "dW divided by m": ("dW", lambda inputs, dout: dout @ inputs["A_prev"].T / dout.shape[1]),
    "db of the first sample only": ("db", lambda inputs, dout: dout[:, :1].copy()),
}))


# ---------------------------------------------------------------------------- softmax

def softmax(Z, xp=np):
    """Column-wise softmax over axis 0; shape of `Z` (K, m)."""
    # A real, per-column shift: softmax is shift-invariant, and a real shift keeps it complex-safe.
    E = xp.exp(Z - xp.max(xp.real(Z), axis=0, keepdims=True))
    return E / xp.sum(E, axis=0, keepdims=True)


def softmax_backward(Z, dout):
    """dZ (K, m) of ``sum(dout * softmax(Z))``: S * (dout - sum_k S dout)."""
    S = softmax(Z)
    return S * (dout - np.sum(S * dout, axis=0, keepdims=True))


def log_softmax(Z, xp=np):
    """log softmax(Z) over axis 0, computed without exp overflow; shape (K, m)."""
    shifted = Z - xp.max(xp.real(Z), axis=0, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=0, keepdims=True))


def softmax_cross_entropy(Z, Y, xp=np):
    """Mean cross-entropy -sum(Y log softmax(Z)) / m of logits Z (K, m), labels Y (K, m); 0-d."""
    return -xp.sum(Y * log_softmax(Z, xp)) / Z.shape[1]


def softmax_cross_entropy_backward(Z, Y, dout=1.0):
    """dZ (K, m) of ``dout * softmax_cross_entropy(Z, Y)``: dout (S - Y) / m."""
    return dout * (softmax(Z) - Y) / Z.shape[1]


def _softmax_layer_backward(inputs, dout):
    return {"dZ": softmax_backward(inputs["Z"], dout)}


SOFTMAX = Layer("softmax", lambda inputs, xp=np: softmax(inputs["Z"], xp), _softmax_layer_backward,
                lambda rng: {"Z": _Z_smooth(rng)}, _bugs(_softmax_layer_backward, {
                    # An off-by-one axis: the Jacobian's sum runs over the samples, not the classes.
                    "sum over the sample axis": ("dZ", lambda inputs, dout: (
                        lambda S: S * (dout - np.sum(S * dout, axis=1, keepdims=True)))(
                        softmax(inputs["Z"]))),
                    # Diagonal of the Jacobian only: the -S_i S_j cross terms forgotten.
                    "diagonal Jacobian only": ("dZ", lambda inputs, dout: (
                        lambda S: S * (1 - S) * dout)(softmax(inputs["Z"]))),
                }))


def _ce_forward(inputs, xp=np):
    Z = inputs["Z"]
    return softmax_cross_entropy(Z, one_hot_labels(*Z.shape), xp)


def _ce_backward(inputs, dout):
    Z = inputs["Z"]
    return {"dZ": softmax_cross_entropy_backward(Z, one_hot_labels(*Z.shape), dout)}


SOFTMAX_CE = Layer("softmax_cross_entropy", _ce_forward, _ce_backward,
                   lambda rng: {"Z": _Z_smooth(rng)}, _bugs(_ce_backward, {
                       "missing 1/m": ("dZ", lambda inputs, dout: (
                           _ce_backward(inputs, dout)["dZ"] * inputs["Z"].shape[1])),
                       "Y - S instead of S - Y": ("dZ", lambda inputs, dout: (
                           -_ce_backward(inputs, dout)["dZ"])),
                   }))


# ---------------------------------------------------------------------------- per-sample loss

def squared_error_forward(inputs, xp=np):
    """Per-sample loss 0.5 * sum_k (A - Y)^2 of A (n, m) and targets Y (n, m); shape (m,)."""
    return 0.5 * xp.sum((inputs["A"] - inputs["Y"]) ** 2, axis=0)


def squared_error_backward(inputs, dout):
    """dA = (A - Y) dout and dY = -dA, each (n, m), for dout of shape (m,)."""
    dA = (inputs["A"] - inputs["Y"]) * dout[None, :]
    return {"dA": dA, "dY": -dA}


SQUARED_ERROR = Layer(
    "squared_error", squared_error_forward, squared_error_backward,
    lambda rng: {name: rng.normal(size=shape) for shape in [_small_shape(rng)] for name in "AY"},
    _bugs(squared_error_backward, {
        "dA without the 1/2 of the square": ("dA", lambda inputs, dout: (
            2 * squared_error_backward(inputs, dout)["dA"])),
        "dY without the inner minus": ("dY", lambda inputs, dout: (
            squared_error_backward(inputs, dout)["dA"])),
    }))


# ---------------------------------------------------------------------------- batch norm

def batchnorm_forward(inputs, xp=np):
    """Train-mode batch normalization over the samples (axis 1).

    Parameters
    ----------
    inputs : dict with x (n, m), gamma (n, 1), beta (n, 1)

    Returns
    -------
    out : ndarray, shape (n, m); gamma * (x - mean) / sqrt(var + BN_EPSILON) + beta
    """
    x = inputs["x"]
    centred = x - xp.mean(x, axis=1, keepdims=True)
    x_hat = centred / xp.sqrt(xp.mean(centred ** 2, axis=1, keepdims=True) + BN_EPSILON)
    return inputs["gamma"] * x_hat + inputs["beta"]


def _batchnorm_parts(x):
    """x_hat (n, m) and 1 / sqrt(var + eps) (n, 1) of `x`."""
    centred = x - np.mean(x, axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(np.mean(centred ** 2, axis=1, keepdims=True) + BN_EPSILON)
    return centred * inv_std, inv_std


def batchnorm_backward(inputs, dout, mean_term=True, variance_term=True):
    """dx (n, m), dgamma (n, 1), dbeta (n, 1) of ``sum(dout * out)``.

    `mean_term` and `variance_term` are switched off only by the planted bugs, which forget
    that the batch mean and variance depend on x.
    """
    x_hat, inv_std = _batchnorm_parts(inputs["x"])
    dx_hat = dout * inputs["gamma"]
    # The mean and the variance depend on x too: subtract their two projections.
    dx = dx_hat
    if mean_term:
        dx = dx - np.mean(dx_hat, axis=1, keepdims=True)
    if variance_term:
        dx = dx - x_hat * np.mean(dx_hat * x_hat, axis=1, keepdims=True)
    return {"dx": inv_std * dx, "dgamma": np.sum(dout * x_hat, axis=1, keepdims=True),
            "dbeta": np.sum(dout, axis=1, keepdims=True)}


def _batchnorm_inputs(rng):
    n, m = _small_shape(rng)
    return {"x": 1 + 2 * rng.normal(size=(n, m)), "gamma": 1 + 0.5 * rng.normal(size=(n, 1)),
            "beta": rng.normal(size=(n, 1))}


BATCHNORM = Layer("batchnorm", batchnorm_forward, batchnorm_backward, _batchnorm_inputs,
                  _bugs(batchnorm_backward, {
                      "dx treats mean and variance as constants": ("dx", lambda inputs, dout: (
                          batchnorm_backward(inputs, dout, mean_term=False, variance_term=False)["dx"])),
                      "dx forgets the variance term": ("dx", lambda inputs, dout: (
                          batchnorm_backward(inputs, dout, variance_term=False)["dx"])),
                      "dgamma uses x instead of x_hat": ("dgamma", lambda inputs, dout: (
                          np.sum(dout * inputs["x"], axis=1, keepdims=True))),
                      "dbeta is a mean, not a sum": ("dbeta", lambda inputs, dout: (
                          np.mean(dout, axis=1, keepdims=True))),
                  }))


# ---------------------------------------------------------------------------- convolution

def _offsets(w):
    """Kernel offsets (i, j) of w (F, C, kh, kw), row-major."""
    return itertools.product(range(w.shape[2]), range(w.shape[3]))


def conv_forward(inputs, xp=np):
    """2-D cross-correlation, stride 1, no padding, as a sum over kernel offsets.

    Parameters
    ----------
    inputs : dict with x (N, C, H, W), w (F, C, kh, kw), b (F,)

    Returns
    -------
    out : ndarray, shape (N, F, H - kh + 1, W - kw + 1)
    """
    x, w, b = inputs["x"], inputs["w"], inputs["b"]
    Ho, Wo = x.shape[2] - w.shape[2] + 1, x.shape[3] - w.shape[3] + 1
    out = sum(xp.einsum("nchw,fc->nfhw", x[:, :, i:i + Ho, j:j + Wo], w[:, :, i, j])
              for i, j in _offsets(w))
    return out + xp.reshape(b, (1, -1, 1, 1))


def conv_backward(inputs, dout, flip=False):
    """dx (N, C, H, W), dw (F, C, kh, kw), db (F,) of ``sum(dout * out)``.

    `flip` uses the kernel rotated by 180 degrees for dx: the convolution/correlation mix-up
    (a planted bug, never the default).
    """
    x, w = inputs["x"], inputs["w"]
    kh, kw = w.shape[2:]
    Ho, Wo = dout.shape[2:]
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i, j in _offsets(w):
        window = (slice(None), slice(None), slice(i, i + Ho), slice(j, j + Wo))
        dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", dout, x[window])
        kernel = w[:, :, kh - 1 - i, kw - 1 - j] if flip else w[:, :, i, j]
        dx[window] += np.einsum("nfhw,fc->nchw", dout, kernel)
    return {"dx": dx, "dw": dw, "db": np.sum(dout, axis=(0, 2, 3))}


def _conv_inputs(rng):
    # Square kernels, so that a transposed kernel gradient keeps its shape; N >= 2 so that
    # a per-sample mistake in db shows.
    N, C, F, k = (int(v) for v in rng.integers((2, 1, 1, 2), (4, 3, 3, 4)))
    H, W = (int(v) for v in rng.integers(k + 1, k + 4, size=2))
    return {"x": rng.normal(size=(N, C, H, W)), "w": rng.normal(size=(F, C, k, k)),
            "b": rng.normal(size=(F,))}


CONV = Layer("conv2d", conv_forward, conv_backward, _conv_inputs, _bugs(conv_backward, {
    "dx with the kernel flipped": ("dx", lambda inputs, dout: (
        conv_backward(inputs, dout, flip=True)["dx"])),
    "dw with kernel axes transposed": ("dw", lambda inputs, dout: (
        conv_backward(inputs, dout)["dw"].transpose(0, 1, 3, 2).copy())),
    "db averaged over the batch": ("db", lambda inputs, dout: np.mean(dout, axis=(0, 2, 3))),
}))


# ---------------------------------------------------------------------------- max-pool

def _windows(x, xp=np):
    """Non-overlapping 2x2 windows of x (N, C, H, W), H and W even: shape (N, C, H/2, W/2, 4)."""
    N, C, H, W = x.shape
    blocks = xp.reshape(x, (N, C, H // 2, 2, W // 2, 2))
    return xp.reshape(xp.transpose(blocks, (0, 1, 2, 4, 3, 5)), (N, C, H // 2, W // 2, 4))


def _unwindows(windows):
    """Inverse of `_windows`: (N, C, Hp, Wp, 4) -> (N, C, 2 Hp, 2 Wp)."""
    N, C, Hp, Wp, _ = windows.shape
    blocks = windows.reshape(N, C, Hp, Wp, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return blocks.reshape(N, C, 2 * Hp, 2 * Wp)


def _first_max_mask(windows, xp=np):
    """One-hot (N, C, Hp, Wp, 4) of the first maximum (by real part) of each window."""
    first = xp.argmax(xp.real(windows), axis=-1)  # argmax returns the first of tied maxima
    return np.arange(4) == first[..., None]


def maxpool_forward(inputs, xp=np):
    """2x2 max-pool, stride 2, of x (N, C, H, W); shape (N, C, H/2, W/2).

    Written as the sum of each window times the one-hot of its first maximum: the same
    value as max, complex-safe, and its derivative routes to the first maximum (the
    convention of `maxpool_backward`; autograd's max would split ties instead).
    """
    windows = _windows(inputs["x"], xp)
    return xp.sum(windows * _first_max_mask(windows, xp), axis=-1)


def maxpool_backward(inputs, dout, route=_first_max_mask):
    """dx (N, C, H, W) of ``sum(dout * out)``: each window's dout goes to its first maximum.

    `route` maps the windows to the one-hot (or weights) receiving dout; replaced only by
    the planted bugs.
    """
    return {"dx": _unwindows(route(_windows(inputs["x"])) * dout[..., None])}


def _quantized_image(rng):
    """Small-integer image (N, C, H, W), H and W even, with at least one tied window."""
    N, C, Hp, Wp = (int(v) for v in rng.integers((1, 1, 1, 2), (3, 3, 3, 4)))
    x = rng.integers(-2, 3, size=(N, C, 2 * Hp, 2 * Wp)).astype(np.float64)
    x[0, 0, 0, :2] = x[0, 0, :2, :2].max()  # a tie for the first maximum of the first window
    return x


MAXPOOL = Layer("maxpool", maxpool_forward, maxpool_backward,
                lambda rng: {"x": _quantized_image(rng)}, _bugs(maxpool_backward, {
                    "average-pool backward": ("dx", lambda inputs, dout: maxpool_backward(
                        inputs, dout, route=lambda windows: np.full(windows.shape, 0.25))["dx"]),
                    "routed to the minimum": ("dx", lambda inputs, dout: maxpool_backward(
                        inputs, dout, route=lambda windows: _first_max_mask(-windows))["dx"]),
                }))


# ---------------------------------------------------------------------------- RNN step

def rnn_step_forward(inputs, xp=np):
    """One vanilla RNN step h = tanh(Wx x + Wh h_prev + b).

    Parameters
    ----------
    inputs : dict with x (D, m), h_prev (H, m), Wx (H, D), Wh (H, H), b (H, 1)

    Returns
    -------
    h : ndarray, shape (H, m)
    """
    return xp.tanh(inputs["Wx"] @ inputs["x"] + inputs["Wh"] @ inputs["h_prev"] + inputs["b"])


def rnn_step_backward(inputs, dout):
    """dx (D, m), dh_prev (H, m), dWx (H, D), dWh (H, H), db (H, 1) of ``sum(dout * h)``."""
    dz = dout * (1 - rnn_step_forward(inputs) ** 2)  # through tanh
    return {"dx": inputs["Wx"].T @ dz, "dh_prev": inputs["Wh"].T @ dz,
            "dWx": dz @ inputs["x"].T, "dWh": dz @ inputs["h_prev"].T,
            "db": np.sum(dz, axis=1, keepdims=True)}


def _rnn_inputs(rng):
    D, H, m = (int(v) for v in rng.integers((2, 2, 2), (5, 5, 5)))
    return {"x": rng.normal(size=(D, m)), "h_prev": np.tanh(rng.normal(size=(H, m))),
            "Wx": 0.7 * rng.normal(size=(H, D)), "Wh": 0.7 * rng.normal(size=(H, H)),
            "b": 0.3 * rng.normal(size=(H, 1))}


def _rnn_dz(inputs, dout):
    return dout * (1 - rnn_step_forward(inputs) ** 2)


RNN_STEP = Layer("rnn_step", rnn_step_forward, rnn_step_backward, _rnn_inputs,
                 _bugs(rnn_step_backward, {
                     "dx skips the tanh derivative": ("dx", lambda inputs, dout: inputs["Wx"].T @ dout),
                     "dh_prev without transpose": ("dh_prev", lambda inputs, dout: (
                         inputs["Wh"] @ _rnn_dz(inputs, dout))),
                     "dWx wrong sign": ("dWx", lambda inputs, dout: -(_rnn_dz(inputs, dout) @ inputs["x"].T)),
                     "dWh transposed": ("dWh", lambda inputs, dout: (
                         inputs["h_prev"] @ _rnn_dz(inputs, dout).T)),
                     "db skips the tanh derivative": ("db", lambda inputs, dout: (
                         np.sum(dout, axis=1, keepdims=True))),
                 }))


# ---------------------------------------------------------------------------- the zoo

_ELEMENTWISE = [
    _elementwise("relu", _Z_with_kinks, {
        "mask inverted": lambda Z: (Z < 0).astype(np.float64),
        "no mask": np.ones_like}),
    _elementwise("leaky_relu", _Z_with_kinks, {
        "slope 0 for Z < 0": relu_prime,
        "slope 1 for Z < 0": np.ones_like}),
    _elementwise("elu", _Z_smooth, {
        "A instead of A + alpha for Z < 0": lambda Z: np.where(Z > 0, 1.0, elu(Z))}),
    _elementwise("sigmoid", _Z_smooth, {
        "s instead of s (1 - s)": sigmoid,
        "s (1 + s)": lambda Z: sigmoid(Z) * (1 + sigmoid(Z))}),
    _elementwise("tanh", _Z_smooth, {
        "1 - A instead of 1 - A^2": lambda Z: 1 - np.tanh(Z),
        "1 - Z^2 (input, not output)": lambda Z: 1 - Z ** 2}),
]

KINK_LAYERS = frozenset({"relu", "leaky_relu", "maxpool"})  # their inputs sit exactly at kinks
LAYERS = {layer.name: layer for layer in [AFFINE, *_ELEMENTWISE, SOFTMAX, SOFTMAX_CE, SQUARED_ERROR,
                                          BATCHNORM, CONV, MAXPOOL, RNN_STEP]}

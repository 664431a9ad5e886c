"""Whole models with hand-written backprop and planted bugs, for `check_gradients` (test-only).

Every cost is written once against an array module: ``cost_fn(parameters, xp=np)``. The
checker calls ``cost_fn(parameters)``; the tests call it with ``xp=autograd.numpy`` for the
ground truth. Costs reuse the layers of tests/layers.py and stay complex-safe (branches by
the real part, |z| as sign(Re z) * z), so method="complex" applies to every family but the
float32 ones, whose complex64 arithmetic is as noisy as their real one.

Kinks follow the conventions of tests/layers.py: ReLU'(0) = 0, sign(0) = 0 for L1, and
max-pool routes to the first maximum of a window.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from tests.layers import (
    LAYERS,
    abs_real,
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    elu,
    elu_prime,
    identity,
    identity_prime,
    leaky_relu,
    leaky_relu_prime,
    maxpool_backward,
    maxpool_forward,
    relu,
    relu_prime,
    rnn_step_backward,
    rnn_step_forward,
    sigmoid,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
    tanh,
    tanh_prime,
)

SMOOTH_MARGIN = 1e-3  # "smooth" instances keep every kink at least this far from the point
HUBER_DELTA = 1.0  # Huber loss: quadratic for |r| <= delta, linear beyond
L1_STRENGTH = 0.1  # lambda of the L1 term lambda / m * sum |W|


class Case(NamedTuple):
    """One instance of a model family for `check_gradients`."""

    cost_fn: Callable  # cost_fn(parameters, xp=np) -> scalar (np.float64 unless float32 family)
    parameters: dict  # name -> float64 array
    gradients: dict  # "d" + name -> correct gradient, from a hand-written backward pass
    bugs: dict  # bug name -> gradients dict with that bug
    kind: str  # "smooth", "kink" or "noisy"


# ---------------------------------------------------------------------------- losses
# Each loss maps logits Z (k, m) and targets Y (k, m) to a 0-d mean over the m samples.

def sigmoid_cross_entropy(Z, Y, xp=np):
    """mean over samples of softplus(Z) - Y Z, i.e. the cross-entropy of sigmoid(Z)."""
    # softplus(Z) = max(Z, 0) + log(1 + exp(-|Z|)), never exp of a positive number. The branch
    # is Re Z >= 0, not > 0: at Z = 0 exactly (a zero sample with zero biases) the Z > 0 masks of
    # relu and sign would give autograd and the complex step slope 0 instead of sigmoid(0).
    upper = xp.real(Z) >= 0
    softplus = xp.where(upper, Z, 0.0) + xp.log1p(xp.exp(xp.where(upper, -Z, Z)))
    return xp.sum(softplus - Y * Z) / Z.shape[1]


def sigmoid_cross_entropy_backward(Z, Y):
    """(sigmoid(Z) - Y) / m, shape of `Z`."""
    return (sigmoid(Z) - Y) / Z.shape[1]


def mean_squared_error(Z, Y, xp=np):
    """0.5 / m * sum (Z - Y)^2."""
    return 0.5 * xp.sum((Z - Y) ** 2) / Z.shape[1]


def mean_squared_error_backward(Z, Y):
    """(Z - Y) / m."""
    return (Z - Y) / Z.shape[1]


def huber(Z, Y, xp=np):
    """1 / m * sum of 0.5 r^2 for |r| <= HUBER_DELTA, else delta (|r| - delta / 2); r = Z - Y."""
    r = Z - Y
    quadratic = xp.abs(xp.real(r)) <= HUBER_DELTA  # a mask only: no derivative flows through it
    linear = HUBER_DELTA * (abs_real(r, xp) - HUBER_DELTA / 2)
    return xp.sum(xp.where(quadratic, 0.5 * r ** 2, linear)) / Z.shape[1]


def huber_backward(Z, Y):
    """r clipped to [-HUBER_DELTA, HUBER_DELTA], divided by m."""
    return np.clip(Z - Y, -HUBER_DELTA, HUBER_DELTA) / Z.shape[1]


def cauchy(Z, Y, xp=np):
    """1 / m * sum log(1 + r^2), r = Z - Y: a robust regression loss."""
    return xp.sum(xp.log1p((Z - Y) ** 2)) / Z.shape[1]


def cauchy_backward(Z, Y):
    """2 r / (1 + r^2) / m."""
    r = Z - Y
    return 2 * r / (1 + r ** 2) / Z.shape[1]


# ---------------------------------------------------------------------------- MLP

class Net(NamedTuple):
    """An L-layer perceptron: hidden activation g, a loss on the last (linear) layer, L1."""

    g: Callable  # g(Z, xp) for the hidden layers
    g_prime: Callable  # g'(Z), plain numpy
    loss: Callable  # loss(Z_L, Y, xp) -> 0-d
    dloss: Callable  # dloss(Z_L, Y) -> dZ_L
    l1: float = 0.0  # the cost adds l1 / m * sum_l sum |W_l|


def _n_layers(parameters):
    """L, read from the W1..WL keys."""
    return sum(1 for name in parameters if name.startswith("W"))


def _layer_inputs(parameters, l, A_prev):
    """The affine layer's inputs dict for layer `l`."""
    return {"A_prev": A_prev, "W": parameters[f"W{l}"], "b": parameters[f"b{l}"]}


def mlp_forward(parameters, X, net, xp=np):
    """Logits Z_L (k, m) and the cache [(A_prev, Z)] of every layer, for X (n_x, m)."""
    A, cache = X, []
    L = _n_layers(parameters)
    for l in range(1, L + 1):
        Z = affine_forward(_layer_inputs(parameters, l, A), xp)
        cache.append((A, Z))
        A = net.g(Z, xp)
    return Z, cache


def mlp_cost(parameters, X, Y, net, xp=np):
    """Loss plus the L1 term; 0-d."""
    Z, _ = mlp_forward(parameters, X, net, xp)
    J = net.loss(Z, Y, xp)
    if net.l1:
        weights = (value for name, value in parameters.items() if name.startswith("W"))
        J = J + net.l1 / X.shape[1] * sum(xp.sum(abs_real(W, xp)) for W in weights)
    return J


def mlp_backward(parameters, X, Y, net):
    """dW{l}, db{l} of `mlp_cost` by backprop; sign(0) = 0 in the L1 term."""
    Z, cache = mlp_forward(parameters, X, net)
    dZ = net.dloss(Z, Y)
    gradients = {}
    for l in range(len(cache), 0, -1):
        A_prev, _ = cache[l - 1]
        inputs = _layer_inputs(parameters, l, A_prev)
        d = affine_backward(inputs, dZ)
        gradients[f"dW{l}"] = d["dW"] + net.l1 / X.shape[1] * np.sign(inputs["W"])
        gradients[f"db{l}"] = d["db"]
        if l > 1:
            dZ = d["dA_prev"] * net.g_prime(cache[l - 2][1])
    return gradients


def _mlp_case(parameters, X, Y, net, kind, bugs):
    """Case of an MLP; `bugs` maps a bug name to gradients, or to a Net with a wrong part."""
    gradients = mlp_backward(parameters, X, Y, net)
    return Case(lambda p, xp=np: mlp_cost(p, X, Y, net, xp), parameters, gradients,
                {name: mlp_backward(parameters, X, Y, bug) if isinstance(bug, Net) else bug
                 for name, bug in bugs(gradients).items()}, kind)


def _init(rng, sizes, scale=1.0, first=1):
    """W{l} (n_l, n_{l-1}) ~ scale N(0, 1 / n_{l-1}) and b{l} (n_l, 1) ~ 0.1 scale N(0, 1).

    Layers are numbered from `first`, for a network that starts with another kind of layer.
    """
    parameters = {}
    for l, (n_prev, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=first):
        parameters[f"W{l}"] = scale * rng.normal(size=(n, n_prev)) / np.sqrt(n_prev)
        parameters[f"b{l}"] = 0.1 * scale * rng.normal(size=(n, 1))
    return parameters


def _one_hot(rng, K, m):
    """Random one-hot labels (K, m)."""
    return np.eye(K)[:, rng.integers(0, K, size=m)]


def _binary(rng, m):
    """Random 0/1 labels (1, m), both classes present."""
    Y = rng.integers(0, 2, size=(1, m)).astype(np.float64)
    Y[0, :2] = (0.0, 1.0)
    return Y


def _hidden_margin(parameters, X, net):
    """Smallest |Z| over the hidden layers: the distance to a ReLU-like kink."""
    _, cache = mlp_forward(parameters, X, net)
    return min(np.abs(Z).min() for _, Z in cache[:-1])


def _smooth_draw(rng, draw, margin):
    """Call ``draw(rng)`` until ``margin(*result) > SMOOTH_MARGIN``; return that result."""
    while True:
        result = draw(rng)
        if margin(*result) > SMOOTH_MARGIN:
            return result


# ---------------------------------------------------------------------------- bugs

def _with(gradients, key, value):
    """A copy of `gradients` with `key` replaced."""
    return {**gradients, key: value}


def _one_wrong_entry(gradients, key):
    """The largest entry of `key` replaced by -0.5 times itself (a sign and factor slip)."""
    wrong = gradients[key].copy()
    index = np.unravel_index(np.argmax(np.abs(wrong)), wrong.shape)
    wrong[index] *= -0.5
    return _with(gradients, key, wrong)


def _standard_bugs(gradients, m, *, scale, sign, entry, per_m=None, transpose=None):
    """Bugs every family has: x2, wrong sign, one wrong entry, missing 1/m, transposed.

    The missing 1/m is left out for m = 1, where it is no bug; `transpose` names a square
    weight gradient.
    """
    bugs = {f"{scale} x 2": _with(gradients, scale, 2 * gradients[scale]),
            f"{sign} wrong sign": _with(gradients, sign, -gradients[sign]),
            f"{entry} one wrong entry": _one_wrong_entry(gradients, entry)}
    if per_m is not None and m > 1:
        bugs[f"{per_m} missing 1/m"] = _with(gradients, per_m, m * gradients[per_m])
    if transpose is not None:
        bugs[f"{transpose} transposed"] = _with(gradients, transpose, gradients[transpose].T.copy())
    return bugs


def _last(gradients, prefix):
    """Key of the last layer's gradient named `prefix` + l (e.g. "dW3")."""
    return max((key for key in gradients if key.startswith(prefix) and key[len(prefix):].isdigit()),
               key=lambda key: int(key[len(prefix):]))


# ---------------------------------------------------------------------------- MLP families

def _sizes(rng, depth, n_out):
    """[n_x, n_h (depth times, the same: W2.. square), n_out] with n_x, n_h in [3, 5]."""
    n_x, n_h = (int(v) for v in rng.integers(3, 6, size=2))
    return [n_x, *[n_h] * depth, n_out]


def _softmax_tanh_parts(seed):
    """Parameters, X (n_x, m), Y (K, m), Net and m of a tanh / softmax network."""
    rng = np.random.default_rng(seed)
    K, m = int(rng.integers(3, 5)), int(rng.integers(4, 9))
    sizes = _sizes(rng, 1, K)
    X, Y, parameters = rng.normal(size=(sizes[0], m)), _one_hot(rng, K, m), _init(rng, sizes)
    return parameters, X, Y, Net(tanh, tanh_prime, softmax_cross_entropy,
                                 softmax_cross_entropy_backward), m


def _softmax_tanh_bugs(net, m):
    """Bugs of a tanh / softmax network: the standard ones and tanh' written as 1 - A."""
    return lambda g: {**_standard_bugs(g, m, scale="dW2", sign="db1", entry="dW1", per_m="dW1"),
                      "tanh' as 1 - A": net._replace(g_prime=lambda Z: 1 - np.tanh(Z))}


def softmax_tanh(seed):
    """tanh hidden layer, softmax output, cross-entropy."""
    parameters, X, Y, net, m = _softmax_tanh_parts(seed)
    return _mlp_case(parameters, X, Y, net, "smooth", _softmax_tanh_bugs(net, m))


def _binary_net(seed, g, g_prime, wrong_prime, wrong_name):
    """Two equal hidden layers with activation g, sigmoid output; smooth (no unit near 0)."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(4, 9))
    sizes = _sizes(rng, 2, 1)
    net = Net(g, g_prime, sigmoid_cross_entropy, sigmoid_cross_entropy_backward)
    X, Y, parameters = _smooth_draw(
        rng, lambda r: (r.normal(size=(sizes[0], m)), _binary(r, m), _init(r, sizes, 1.5)),
        lambda X, Y, parameters: _hidden_margin(parameters, X, net))
    return _mlp_case(parameters, X, Y, net, "smooth", lambda grads: {
        **_standard_bugs(grads, m, scale="dW3", sign="db2", entry="dW1", per_m="db3",
                         transpose="dW2"),
        wrong_name: net._replace(g_prime=wrong_prime)})


def leaky_relu_net(seed):
    """Two leaky ReLU hidden layers, sigmoid output; every hidden |Z| > SMOOTH_MARGIN."""
    return _binary_net(seed, leaky_relu, leaky_relu_prime, relu_prime, "leaky ReLU' as ReLU'")


def elu_net(seed):
    """Two ELU hidden layers, sigmoid output."""
    return _binary_net(seed, elu, elu_prime, lambda Z: np.where(Z > 0, 1.0, elu(Z)),
                       "ELU' as A, not A + alpha")


def _l1_parts(seed, place):
    """X, Y, parameters, Net and m of a tanh network with an L1 term, each weight matrix W
    replaced by ``place(W, rng)``."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(4, 9))
    sizes = _sizes(rng, 1, 1)
    X, Y, parameters = rng.normal(size=(sizes[0], m)), _binary(rng, m), _init(rng, sizes)
    for name in [name for name in parameters if name.startswith("W")]:
        parameters[name] = place(parameters[name], rng)
    net = Net(tanh, tanh_prime, sigmoid_cross_entropy, sigmoid_cross_entropy_backward, L1_STRENGTH)
    return X, Y, parameters, net, m


def l1_net(seed):
    """tanh network with an L1 term; every |W| >= 0.2, so the cost is smooth."""
    X, Y, parameters, net, m = _l1_parts(  # away from the kink at 0
        seed, lambda W, rng: np.sign(W + (W == 0)) * (0.2 + np.abs(W)))
    return _mlp_case(parameters, X, Y, net, "smooth", lambda g: {
        **_standard_bugs(g, m, scale="dW1", sign="dW2", entry="dW1", per_m="db2"),
        "L1 term forgotten": net._replace(l1=0.0),
        "L1 term without 1/m": net._replace(l1=L1_STRENGTH * m)})


def huber_regression(seed):
    """tanh hidden layer, linear outputs, Huber loss; every |r| is away from HUBER_DELTA."""
    rng = np.random.default_rng(seed)
    m, k = int(rng.integers(4, 9)), int(rng.integers(1, 3))
    sizes = _sizes(rng, 1, k)
    net = Net(tanh, tanh_prime, huber, huber_backward)

    def residual_margin(X, Y, parameters):
        Z, _ = mlp_forward(parameters, X, net)
        return np.abs(np.abs(Z - Y) - HUBER_DELTA).min()

    X, Y, parameters = _smooth_draw(
        rng, lambda r: (r.normal(size=(sizes[0], m)), 1.5 * r.normal(size=(k, m)), _init(r, sizes)),
        residual_margin)
    return _mlp_case(parameters, X, Y, net, "smooth", lambda g: {
        **_standard_bugs(g, m, scale="db2", sign="dW1", entry="dW2", per_m="dW2"),
        "squared-loss gradient, no clipping": net._replace(dloss=mean_squared_error_backward)})


# ---------------------------------------------------------------------------- scale extremes
# m = 1 throughout, so "missing 1/m" is no bug there and is left out.

def tiny_parameters(seed):
    """softmax_tanh with every parameter ~1e-6 and m = 1 (step larger than the parameters)."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(3, 5))
    sizes = _sizes(rng, 1, K)
    X, Y, parameters = rng.normal(size=(sizes[0], 1)), _one_hot(rng, K, 1), _init(rng, sizes, 1e-6)
    net = Net(tanh, tanh_prime, softmax_cross_entropy, softmax_cross_entropy_backward)
    # dW1 and dW2 are ~1e-6 next to db2 ~1: their bugs show per tensor, not in the whole vector.
    return _mlp_case(parameters, X, Y, net, "smooth", lambda g: _standard_bugs(
        g, 1, scale="db2", sign="dW2", entry="dW1"))


def huge_parameters(seed):
    """Linear model, Cauchy loss, parameters ~1e3, m = 1 (a relative step of ~6e-3)."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(3, 7)), int(rng.integers(2, 4))
    X = rng.normal(size=(n, 1))
    truth = {"W1": 1e3 * (1 + 0.1 * rng.normal(size=(k, n))), "b1": 1e3 * (1 + 0.1 * rng.normal(size=(k, 1)))}
    Y = truth["W1"] @ X + truth["b1"]
    parameters = {name: value + rng.normal(size=value.shape) for name, value in truth.items()}
    net = Net(identity, identity_prime, cauchy, cauchy_backward)
    return _mlp_case(parameters, X, Y, net, "smooth", lambda g: {
        **_standard_bugs(g, 1, scale="dW1", sign="db1", entry="dW1"),
        "Cauchy' without the 2": net._replace(dloss=lambda Z, Y: cauchy_backward(Z, Y) / 2)})


def tiny_cost(seed):
    """tanh regression that fits its targets to 1e-6: cost ~1e-12, m = 1."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 3))
    sizes = _sizes(rng, 1, k)
    X, parameters = rng.normal(size=(sizes[0], 1)), _init(rng, sizes)
    net = Net(tanh, tanh_prime, mean_squared_error, mean_squared_error_backward)
    Y = mlp_forward(parameters, X, net)[0] + 1e-6 * rng.normal(size=(k, 1))
    return _mlp_case(parameters, X, Y, net, "smooth", lambda g: {
        **_standard_bugs(g, 1, scale="dW2", sign="dW1", entry="db1"),
        "tanh' as 1 - A": net._replace(g_prime=lambda Z: 1 - np.tanh(Z))})


def huge_cost(seed):
    """tanh regression with targets ~1e4: cost ~1e8, m = 1."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 3))
    sizes = _sizes(rng, 1, k)
    X, Y, parameters = rng.normal(size=(sizes[0], 1)), 1e4 * rng.normal(size=(k, 1)), _init(rng, sizes)
    net = Net(tanh, tanh_prime, mean_squared_error, mean_squared_error_backward)
    return _mlp_case(parameters, X, Y, net, "smooth", lambda g: {
        **_standard_bugs(g, 1, scale="db2", sign="dW1", entry="dW2"),
        "tanh' as 1 - A": net._replace(g_prime=lambda Z: 1 - np.tanh(Z))})


# ---------------------------------------------------------------------------- float32
# The gradients are those of the float64 cost; with xp=autograd.numpy the cost is that
# float64 one, the ideal the float32 arithmetic approximates.

def _single(value):
    """`value` in float32, or complex64 for a complex (complex-step) array."""
    return value.astype(np.complex64 if np.iscomplexobj(value) else np.float32)


def _python_scalar(J):
    """float(J), or complex(J) for a complex cost."""
    return complex(J) if np.iscomplexobj(J) else float(J)


def float32_inside(seed):
    """softmax_tanh whose cost casts parameters and data to float32 and returns float(J)."""
    parameters, X, Y, net, m = _softmax_tanh_parts(seed)
    case = _mlp_case(parameters, X, Y, net, "noisy", _softmax_tanh_bugs(net, m))
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)

    def cost_fn(p, xp=np):
        if xp is not np:
            return mlp_cost(p, X, Y, net, xp)
        return _python_scalar(mlp_cost({name: _single(value) for name, value in p.items()},
                                       X32, Y32, net))
    return case._replace(cost_fn=cost_fn)


def float32_returned(seed):
    """softmax_tanh computed in float64 but returned as np.float32(J): rounding of J only."""
    parameters, X, Y, net, m = _softmax_tanh_parts(seed)
    case = _mlp_case(parameters, X, Y, net, "noisy", _softmax_tanh_bugs(net, m))

    def cost_fn(p, xp=np):
        J = mlp_cost(p, X, Y, net, xp)
        return J if xp is not np else _single(np.asarray(J))[()]
    return case._replace(cost_fn=cost_fn)


# ---------------------------------------------------------------------------- batch norm

def batchnorm_cost(parameters, X, Y, xp=np):
    """affine -> batch norm (train mode) -> tanh -> affine -> softmax cross-entropy; 0-d."""
    Z1 = affine_forward(_layer_inputs(parameters, 1, X), xp)
    B = batchnorm_forward({"x": Z1, "gamma": parameters["gamma"], "beta": parameters["beta"]}, xp)
    Z2 = affine_forward(_layer_inputs(parameters, 2, xp.tanh(B)), xp)
    return softmax_cross_entropy(Z2, Y, xp)


def batchnorm_net_backward(parameters, X, Y, bn_backward=batchnorm_backward):
    """Gradients of `batchnorm_cost`; `bn_backward` is replaced only by a planted bug.

    db1 is 0 up to round-off: batch norm subtracts the mean, so b1 has no effect.
    """
    Z1 = affine_forward(_layer_inputs(parameters, 1, X))
    bn_inputs = {"x": Z1, "gamma": parameters["gamma"], "beta": parameters["beta"]}
    B = batchnorm_forward(bn_inputs)
    second = _layer_inputs(parameters, 2, np.tanh(B))
    d2 = affine_backward(second, softmax_cross_entropy_backward(affine_forward(second), Y))
    dbn = bn_backward(bn_inputs, d2["dA_prev"] * tanh_prime(B))
    d1 = affine_backward(_layer_inputs(parameters, 1, X), dbn["dx"])
    return {"dW1": d1["dW"], "db1": d1["db"], "dgamma": dbn["dgamma"], "dbeta": dbn["dbeta"],
            "dW2": d2["dW"], "db2": d2["db"]}


def batchnorm_net(seed):
    """Affine, batch norm, tanh, affine, softmax; b1 is present and has a zero gradient."""
    rng = np.random.default_rng(seed)
    K, m = int(rng.integers(2, 5)), int(rng.integers(4, 9))
    n_x, n_h = _sizes(rng, 1, K)[:2]
    X, Y = rng.normal(size=(n_x, m)), _one_hot(rng, K, m)
    parameters = {**_init(rng, [n_x, n_h]), "gamma": 1 + 0.3 * rng.normal(size=(n_h, 1)),
                  "beta": 0.3 * rng.normal(size=(n_h, 1)), **_init(rng, [n_h, K], first=2)}
    gradients = batchnorm_net_backward(parameters, X, Y)
    constant_statistics = LAYERS["batchnorm"].bugs["dx treats mean and variance as constants"][1]
    bugs = {**_standard_bugs(gradients, m, scale="dW2", sign="dgamma", entry="dW1", per_m="dbeta"),
            "batch norm's mean and variance treated as constants": batchnorm_net_backward(
                parameters, X, Y, constant_statistics)}
    return Case(lambda p, xp=np: batchnorm_cost(p, X, Y, xp), parameters, gradients, bugs, "smooth")


# ---------------------------------------------------------------------------- conv net

def _conv_net_forward(parameters, x, xp=np):
    """Conv -> ReLU -> 2x2 max-pool -> flatten; returns (Zc, A, features (D, N))."""
    Zc = conv_forward({"x": x, "w": parameters["w_conv"], "b": parameters["b_conv"]}, xp)
    A = relu(Zc, xp)
    P = maxpool_forward({"x": A}, xp)
    return Zc, A, xp.reshape(P, (x.shape[0], -1)).T


def conv_net_cost(parameters, x, Y, xp=np):
    """conv -> ReLU -> max-pool -> affine -> softmax cross-entropy of images x (N, C, H, W)."""
    features = _conv_net_forward(parameters, x, xp)[2]
    return softmax_cross_entropy(affine_forward(_layer_inputs(parameters, 2, features), xp), Y, xp)


def conv_net_backward(parameters, x, Y, pool_backward=maxpool_backward, conv_grads=conv_backward):
    """Gradients of `conv_net_cost`; the two layer backwards are replaced only by planted bugs."""
    Zc, A, features = _conv_net_forward(parameters, x)
    head = _layer_inputs(parameters, 2, features)
    d2 = affine_backward(head, softmax_cross_entropy_backward(affine_forward(head), Y))
    dP = d2["dA_prev"].T.reshape(x.shape[0], Zc.shape[1], Zc.shape[2] // 2, Zc.shape[3] // 2)
    dZc = pool_backward({"x": A}, dP)["dx"] * relu_prime(Zc)
    dc = conv_grads({"x": x, "w": parameters["w_conv"], "b": parameters["b_conv"]}, dZc)
    return {"dw_conv": dc["dw"], "db_conv": dc["db"], "dW2": d2["dW"], "db2": d2["db"]}


def _pool_gap(A):
    """Smallest gap between the two largest entries of a 2x2 window whose maximum is > 0."""
    N, F, H, W = A.shape
    windows = np.sort(A.reshape(N, F, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
                      .reshape(-1, 4), axis=1)
    active = windows[:, -1] > 0  # windows of ReLU zeros stay tied at 0 under any small step
    return np.min(windows[active, -1] - windows[active, -2], initial=np.inf)


def _conv_net_case(rng, quantized):
    """A conv net on 1-channel images; `quantized`: small integers everywhere, ties and zeros."""
    N, F, K, Hp = (int(v) for v in rng.integers((2, 1, 2, 2), (4, 3, 4, 4)))
    k = 3
    shape = (N, 1, 2 * Hp + k - 1, 2 * Hp + k - 1)  # the conv output is even-sized for the pool
    Y = _one_hot(rng, K, N)

    def draw(r):
        if quantized:
            x = r.integers(0, 3, size=shape).astype(np.float64)
            conv = {"w_conv": r.integers(-1, 2, size=(F, 1, k, k)).astype(np.float64),
                    "b_conv": np.zeros(F)}
        else:
            x = r.normal(size=shape)
            conv = {"w_conv": r.normal(size=(F, 1, k, k)) / k, "b_conv": 0.1 * r.normal(size=F)}
        return x, {**conv, **_init(r, [F * Hp * Hp, K], first=2)}

    def margin(x, parameters):
        Zc, A, _ = _conv_net_forward(parameters, x)
        return min(np.abs(Zc).min(), _pool_gap(A))

    x, parameters = draw(rng) if quantized else _smooth_draw(rng, draw, margin)
    gradients = conv_net_backward(parameters, x, Y)
    avg_pool = LAYERS["maxpool"].bugs["average-pool backward"][1]
    bugs = {**_standard_bugs(gradients, N, scale="dW2", sign="db2", entry="dW2", per_m="dW2"),
            "max-pool backward as average-pool": conv_net_backward(parameters, x, Y, avg_pool)}
    if not quantized:  # integer kernels can be symmetric, and their tied windows hide dw's layout
        bugs["dw_conv kernel axes transposed"] = conv_net_backward(
            parameters, x, Y, conv_grads=LAYERS["conv2d"].bugs["dw with kernel axes transposed"][1])
    return Case(lambda p, xp=np: conv_net_cost(p, x, Y, xp), parameters, gradients, bugs,
                "kink" if quantized else "smooth")


def conv_net(seed):
    """conv 3x3 -> ReLU -> max-pool 2x2 -> affine -> softmax; no ReLU input or pool tie near a kink."""
    return _conv_net_case(np.random.default_rng(seed), quantized=False)


# ---------------------------------------------------------------------------- RNN

def _rnn_inputs(parameters, x, h_prev):
    """The RNN step's inputs dict at one time step."""
    return {"x": x, "h_prev": h_prev, **{name: parameters[name] for name in ("Wx", "Wh", "b")}}


def rnn_states(parameters, xs, xp=np):
    """Hidden states h_0 = 0, h_1 .. h_T (H, m) of the inputs xs (T, D, m)."""
    hs = [xp.zeros((parameters["Wh"].shape[0], xs.shape[2]))]
    for x in xs:
        hs.append(rnn_step_forward(_rnn_inputs(parameters, x, hs[-1]), xp))
    return hs


def rnn_cost(parameters, xs, Y, xp=np):
    """Softmax cross-entropy of Wy h_T + by; 0-d."""
    h_T = rnn_states(parameters, xs, xp)[-1]
    logits = affine_forward({"A_prev": h_T, "W": parameters["Wy"], "b": parameters["by"]}, xp)
    return softmax_cross_entropy(logits, Y, xp)


def rnn_backward(parameters, xs, Y, through_time=True):
    """Backprop through time; `through_time=False` (a planted bug) stops at the last step."""
    hs = rnn_states(parameters, xs)
    head = {"A_prev": hs[-1], "W": parameters["Wy"], "b": parameters["by"]}
    d = affine_backward(head, softmax_cross_entropy_backward(affine_forward(head), Y))
    gradients = {"dWx": 0.0, "dWh": 0.0, "db": 0.0, "dWy": d["dW"], "dby": d["db"]}
    dh = d["dA_prev"]
    for t in range(len(xs), 0, -1):
        step = rnn_step_backward(_rnn_inputs(parameters, xs[t - 1], hs[t - 1]), dh)
        for key in ("dWx", "dWh", "db"):
            gradients[key] = gradients[key] + step[key]
        dh = step["dh_prev"] if through_time else 0 * step["dh_prev"]
    return gradients


def rnn(seed):
    """Vanilla RNN over T in [2, 4] steps, classifying from the last hidden state."""
    rng = np.random.default_rng(seed)
    T, D, H, K, m = (int(v) for v in rng.integers((2, 2, 2, 2, 2), (5, 4, 5, 4, 5)))
    xs, Y = rng.normal(size=(T, D, m)), _one_hot(rng, K, m)
    parameters = {"Wx": rng.normal(size=(H, D)) / np.sqrt(D),
                  "Wh": 0.8 * rng.normal(size=(H, H)) / np.sqrt(H),  # 0.8: a contracting recurrence
                  "b": 0.1 * rng.normal(size=(H, 1)), "Wy": rng.normal(size=(K, H)),
                  "by": 0.1 * rng.normal(size=(K, 1))}
    gradients = rnn_backward(parameters, xs, Y)
    bugs = {**_standard_bugs(gradients, m, scale="dWy", sign="db", entry="dWx", per_m="dWx",
                             transpose="dWh"),
            "no backprop through time": rnn_backward(parameters, xs, Y, through_time=False)}
    return Case(lambda p, xp=np: rnn_cost(p, xs, Y, xp), parameters, gradients, bugs, "smooth")


# ---------------------------------------------------------------------------- exact kinks
# The bugs are placed where the cost is smooth (the last layer, or a whole tensor), so that
# none of them is merely another one-sided derivative at a kink.

def _relu_kink_net(rng, m):
    """ReLU hidden layers [n_x, n_h, n_h] and a sigmoid output, with data and labels."""
    sizes = _sizes(rng, 2, 1)
    net = Net(relu, relu_prime, sigmoid_cross_entropy, sigmoid_cross_entropy_backward)
    return rng.normal(size=(sizes[0], m)), _binary(rng, m), _init(rng, sizes, 1.5), net


def _relu_kink_bugs(net, m):
    return lambda g: {**_standard_bugs(g, m, scale="dW3", sign="db3", entry="dW3", per_m="dW3"),
                      "no ReLU mask": net._replace(g_prime=np.ones_like)}


def zero_sample(seed):
    """ReLU net with one input sample exactly 0 and every bias 0: its units sit at ReLU's kink."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(4, 9))
    X, Y, parameters, net = _relu_kink_net(rng, m)
    X[:, int(rng.integers(m))] = 0.0
    parameters = {name: value * name.startswith("W") for name, value in parameters.items()}
    return _mlp_case(parameters, X, Y, net, "kink", _relu_kink_bugs(net, m))


def pruned_unit(seed):
    """ReLU net with one first-layer unit pruned: its row of W1 and its b1 exactly 0.

    A step in one entry W1[unit, k] moves the unit across its kink for every sample at once,
    so backprop's 0 (ReLU'(0) = 0) can lie outside the left and right slopes of that single
    entry; it is still the limit of the gradient from the side where the unit is inactive.
    """
    rng = np.random.default_rng(seed)
    m = int(rng.integers(4, 9))
    X, Y, parameters, net = _relu_kink_net(rng, m)
    unit = int(rng.integers(parameters["b1"].shape[0]))
    parameters["W1"][unit] = 0.0
    parameters["b1"][unit] = 0.0
    return _mlp_case(parameters, X, Y, net, "kink", _relu_kink_bugs(net, m))


def quantized_pool(seed):
    """The conv net on small-integer images with integer kernels: tied pool windows, ReLU at 0.

    One kernel weight moves many tied windows and zero ReLU inputs at once, so backprop's
    value (first maximum, ReLU'(0) = 0) can lie outside that entry's left and right slopes.
    """
    return _conv_net_case(np.random.default_rng(seed), quantized=True)


def l1_at_zero(seed):
    """tanh network with an L1 term and a third of the weights exactly 0 (sign(0) = 0)."""
    X, Y, parameters, net, m = _l1_parts(
        seed, lambda W, rng: np.where(rng.random(W.shape) < 1 / 3, 0.0, W))
    return _mlp_case(parameters, X, Y, net, "kink", lambda g: {
        **_standard_bugs(g, m, scale="db1", sign="db2", entry="db1", per_m="db2"),
        "L1 term forgotten": net._replace(l1=0.0),
        "tanh' as 1 - A": net._replace(g_prime=lambda Z: 1 - np.tanh(Z))})


MATERIAL = 1e-3  # a bug must move some gradient tensor by this, relative to it (tests/test_zoo.py)


def _material(make):
    """`make`, keeping only the bugs that change a gradient at that draw: a factor on a bias
    whose gradient is exactly 0 (all its units dead) is no bug there, and is dropped."""
    def made(seed):
        case = make(seed)
        bugs = {bug: gradients for bug, gradients in case.bugs.items()
                if any(np.linalg.norm(gradients[key] - value)
                       > MATERIAL * max(np.linalg.norm(value), np.finfo(float).tiny)
                       for key, value in case.gradients.items())}
        return case._replace(bugs=bugs)

    made.__name__, made.__doc__ = make.__name__, make.__doc__
    return made


FAMILIES = {family.__name__: _material(family) for family in [
    softmax_tanh, leaky_relu_net, elu_net, l1_net, huber_regression, batchnorm_net, conv_net, rnn,
    tiny_parameters, huge_parameters, tiny_cost, huge_cost, float32_inside, float32_returned,
    zero_sample, pruned_unit, quantized_pool, l1_at_zero]}

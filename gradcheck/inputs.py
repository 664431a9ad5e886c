"""The arguments of a check, validated: the layout of the tensors in theta, and float64 copies."""

import functools
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gradcheck.methods import CENTRAL, COMPLEX, Method
from gradcheck.tolerances import MAX_EPSILON

# The methods by name: "directional" is central differences along random directions.
METHODS = {"central": CENTRAL, "complex": COMPLEX, "directional": CENTRAL}


class Layout:
    """Names, shapes and slices of the tensors inside the flat vector theta (n,).

    Parameters
    ----------
    slots : sequence of (name, shape)
    prefix : str
        Prepended to a name to give its gradient key ("d" + name).
    """

    def __init__(self, slots, prefix="d"):
        self.names = [name for name, _ in slots]
        self.keys = [prefix + name for name in self.names]
        self.shapes = [tuple(shape) for _, shape in slots]
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape in self.shapes]
        self.stops = np.cumsum(sizes)
        self.starts = self.stops - sizes
        self.n = int(self.stops[-1])
        self.count = len(sizes)
        self._sizes = sizes
        # (name, shape, start, stop) of every tensor
        self.slices = list(zip(self.names, self.shapes, self.starts.tolist(),
                               self.stops.tolist(), strict=True))

    def index(self, flat):
        """The index tuple, in its tensor's shape, of entry `flat` of theta."""
        t = int(self.owner[flat])
        return tuple(int(i) for i in np.unravel_index(int(flat - self.starts[t]), self.shapes[t]))

    @functools.cached_property
    def owner(self):
        """(n,) the tensor of each entry (made on first use: "directional" never needs it)."""
        return np.repeat(np.arange(self.count), self._sizes)

    def unflatten(self, point):
        """name -> view of `point` (..., n) as the tensor (..., *shape)."""
        if point.ndim == 1:  # the common case, a single point
            return {name: point[a:b].reshape(shape) for name, shape, a, b in self.slices}
        lead = point.shape[:-1]
        return {name: point[..., a:b].reshape(lead + shape) for name, shape, a, b in self.slices}


class Misshapen(NamedTuple):
    """A gradient with its parameter's number of entries but another shape: checked on its
    values in C order (flattened), and a finding of its own."""

    key: str  # the gradient key, "db"
    name: str  # the parameter, "b"
    noun: str  # what the parameter is called in the check: "parameter" or "input"
    shape: tuple  # the gradient's shape, (1, 10)
    expected: tuple  # the parameter's shape, (10,)


@dataclass(frozen=True)
class Problem:
    """A validated check: what to differentiate, against which gradient, how."""

    layout: Layout
    theta0: np.ndarray  # (n,) float64 copy of the parameters, read-only
    grad: np.ndarray  # (n,) float64 copy of the gradients
    method: Method  # how each item is measured
    name: str  # the method's name, for the report
    directional: bool  # along random directions per tensor, not entry by entry
    epsilon: float | None
    threshold: float
    seed: int
    batched: bool | None
    misshapen: tuple = ()  # a Misshapen per gradient of the wrong shape, in parameter order


def checked(parameters, gradients, method, epsilon, threshold, seed, batched, *,
            parameters_label="parameters", gradients_label="gradients"):
    """Validate the arguments of a check and return its `Problem` (copies, never views).

    A gradient with its parameter's number of entries but another shape is taken in C order
    and recorded in `Problem.misshapen`; another number of entries raises ValueError.
    """
    if not isinstance(parameters, dict):
        raise TypeError(f"`{parameters_label}` must be a dict of name -> float64 array, "
                        f"got {type(parameters).__name__}")
    if not parameters:
        raise ValueError(f"`{parameters_label}` must not be empty")
    if not isinstance(gradients, dict):
        raise TypeError(f"`{gradients_label}` must be a dict holding 'd' + name for every "
                        f"parameter, got {type(gradients).__name__}")
    thetas, grads, slots, misshapen = [], [], [], []
    for name, value in parameters.items():
        if not isinstance(name, str):
            raise TypeError(f"`{parameters_label}` keys must be str, got {name!r}")
        value = float64_array(f"{parameters_label}[{name!r}]", value)
        if value.size == 0:
            raise ValueError(f"`{parameters_label}[{name!r}]` must not be empty")
        if not np.isfinite(value).all():
            raise ValueError(f"`{parameters_label}[{name!r}]` must be finite, got NaN or inf")
        key = "d" + name
        if key not in gradients:
            raise ValueError(f"`{gradients_label}` has no key {key!r} for parameter {name!r}")
        gradient = float64_array(f"{gradients_label}[{key!r}]", gradients[key])
        if gradient.size != value.size:
            raise ValueError(f"`{gradients_label}[{key!r}]` has shape {gradient.shape}, "
                             f"expected {value.shape} like `{parameters_label}[{name!r}]`: "
                             f"{gradient.size} entries, not {value.size}")
        if gradient.shape != value.shape:
            misshapen.append(Misshapen(key, name, parameters_label.removesuffix("s"),
                                       gradient.shape, value.shape))
        thetas.append(value.ravel())
        grads.append(gradient.ravel())
        slots.append((name, value.shape))
    if not isinstance(method, Method) and (not isinstance(method, str) or method not in METHODS):
        raise ValueError(f"`method` must be one of {', '.join(map(repr, METHODS))} or a "
                         f"gradcheck.methods.Method, got {method!r}")
    theta0 = np.concatenate(thetas)  # concatenate copies: nothing can touch the caller's arrays
    theta0.flags.writeable = False  # the checker's own: every point is a copy of it
    if epsilon is not None:
        positive_real("epsilon", epsilon)
        scale = max(1.0, float(np.max(np.abs(theta0))))
        if epsilon > MAX_EPSILON * scale:
            raise ValueError(f"`epsilon` must be at most {MAX_EPSILON * scale:.3g} "
                             "(max(1, |parameters|)): a step larger than the parameters "
                             f"themselves does not estimate a derivative, got {epsilon!r}")
        if np.all(theta0 + epsilon == theta0):
            raise ValueError(f"`epsilon` = {epsilon!r} is below the resolution of float64 at "
                             "the parameters (theta + epsilon == theta everywhere)")
    positive_real("threshold", threshold)
    if threshold >= 1:
        raise ValueError(f"`threshold` must be below 1 (a relative difference), got {threshold!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise TypeError(f"`seed` must be a non-negative int, got {seed!r}")
    if batched not in (None, True, False):
        raise TypeError(f"`batched` must be None, True or False, got {batched!r}")
    scheme = method if isinstance(method, Method) else METHODS[method]
    return Problem(Layout(slots), theta0, np.concatenate(grads), scheme,
                   scheme.name if isinstance(method, Method) else method, method == "directional",
                   None if epsilon is None else float(epsilon), float(threshold), int(seed),
                   batched, tuple(misshapen))


def float64_array(label, value):
    """`value` as a float64 ndarray; refuse what a float64 check would silently get wrong."""
    if isinstance(value, np.matrix):
        raise TypeError(f"`{label}` is an np.matrix, whose products and reductions differ from "
                        "arrays'; pass np.asarray(value)")
    if isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) for v in value):
        raise TypeError(f"`{label}` must be an array, got a {type(value).__name__} of arrays")
    array = np.asarray(value)
    kind = array.dtype.kind
    if kind in "biu":
        raise TypeError(f"`{label}` must be a float64 array, got {array.dtype}: integers and "
                        "booleans cannot take small steps")
    if kind == "c":
        raise TypeError(f"`{label}` must be a real float64 array, got {array.dtype} "
                        "(method='complex' adds the imaginary step itself)")
    if kind != "f":
        raise TypeError(f"`{label}` must be a float64 array, got {array.dtype}")
    if array.dtype.itemsize < 8:
        raise TypeError(f"`{label}` must be float64, got {array.dtype}: its round-off "
                        f"(~{np.finfo(array.dtype).eps:.0e} relative) is as large as the "
                        "threshold, so the check would be meaningless; cast it with "
                        ".astype(np.float64)")
    if array.dtype != np.float64:
        raise TypeError(f"`{label}` must be float64, got {array.dtype}: the check computes in "
                        "float64 and would round it; cast it with .astype(np.float64)")
    return array


def positive_real(label, value):
    """Raise unless `value` is a finite real number > 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"`{label}` must be a positive float, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"`{label}` must be a positive finite float, got {value!r}")

"""check_vjp's structured arguments: fn's outputs and dout as one flat vector, vjp's tuples."""

import numbers

import numpy as np

from gradcheck.inputs import Layout, float64_array


class Outputs:
    """How `fn`'s output (an array, or a tuple or dict of arrays) lies in one flat vector
    (n,), the entries of each array in C order, one array after the other; `dout` has the
    same structure.

    Parameters
    ----------
    out : ndarray, tuple of ndarray or dict of str -> ndarray
        `fn`'s first output; validated here (float64 arrays, any shapes, 0-d allowed).
    """

    def __init__(self, out):
        if isinstance(out, (tuple, dict)):
            if not out:
                raise TypeError(f"`fn` returned an empty {type(out).__name__}: return the "
                                "layer's output, or a tuple or dict of its outputs")
            self.keys = list(out) if isinstance(out, dict) else list(range(len(out)))
            for key in self.keys:
                _output(out[key], key, type(out).__name__)
        else:
            self.keys = None
            float64_array("fn(inputs)", out)
        self.kind = type(out) if self.keys is not None else np.ndarray
        self.layout = Layout([(str(i), np.shape(part)) for i, part in enumerate(self._parts(out))],
                             prefix="")
        self.expected = shapes_of(out, bare=True)  # e.g. "(4, 5)", "a tuple of shapes (...)"

    def flat(self, out, lead=()):
        """`out` (this structure, each array stacked as (*lead, *shape)) as one array
        (*lead, n); None if its structure or a shape differs."""
        parts = self._parts(out)
        if parts is None or not all(isinstance(part, (np.ndarray, numbers.Number))
                                    for part in parts):
            return None
        parts = [np.asarray(part) for part in parts]
        if any(part.shape != lead + shape for part, shape in zip(parts, self.layout.shapes,
                                                                  strict=True)):
            return None
        if len(parts) == 1:
            return np.reshape(parts[0], lead + (-1,))
        return np.concatenate([np.reshape(part, lead + (-1,)) for part in parts], axis=-1)

    def unflatten(self, vector):
        """A fresh array, tuple or dict of arrays, shaped like `fn`'s output, from (n,)."""
        parts = [view.copy() for view in self.layout.unflatten(vector).values()]
        if self.kind is np.ndarray:
            return parts[0]
        return tuple(parts) if self.kind is tuple else dict(zip(self.keys, parts, strict=True))

    def dout(self, dout):
        """The caller's `dout` (validated by `upstream`) as (n,); it must have `fn`'s
        structure and shapes."""
        flat = self.flat(dout)
        if flat is None:
            raise ValueError(f"`dout` has {shapes_of(dout)}, expected {self.expected} like "
                             "`fn(inputs)`" + ("" if self.kind is np.ndarray else
                                               " (one array per output)"))
        return np.array(flat, copy=True)

    def described(self):
        """The structure and shapes, as the report's context says them: 'shape (4, 5)'."""
        return ("shape " if self.kind is np.ndarray else "") + self.expected

    def _parts(self, out):
        """The arrays of `out` in the order of the layout; None if its structure differs."""
        if self.keys is None:
            return None if isinstance(out, (tuple, dict)) else [out]
        if not isinstance(out, self.kind) or len(out) != len(self.keys) or \
                (self.kind is dict and set(out) != set(self.keys)):
            return None
        return [out[key] for key in self.keys]


def upstream(dout):
    """A float64 copy of the caller's `dout`, an array or a tuple or dict of arrays, finite."""
    if isinstance(dout, (tuple, dict)):
        keys = list(dout) if isinstance(dout, dict) else range(len(dout))
        parts = [_finite(f"dout[{key!r}]", dout[key]) for key in keys]
        return dict(zip(keys, parts, strict=True)) if isinstance(dout, dict) else tuple(parts)
    return _finite("dout", dout)


def gradients_by_order(gradients, layout):
    """`vjp`'s tuple (or list) of gradients as a dict keyed by gradient key, read in the order
    of `inputs`' keys (`layout`, a dict keeps its insertion order).

    Raises ValueError when the shapes show that order cannot be right: a tuple of another
    length, or shapes that fit the inputs in another order only, or in none. Gradients with
    the right number of entries in this order but another shape are read as given (a shape
    finding of the check).
    """
    label = f"`vjp(dout)` returned a {type(gradients).__name__}"
    expected = ", ".join(f"{key} {shape}" for key, shape in zip(layout.keys, layout.shapes,
                                                                strict=True))
    if len(gradients) != layout.count:
        raise ValueError(f"{label} of {len(gradients)} gradients, expected {layout.count}, one "
                         f"per input in the order of `inputs`' keys: {expected}")
    arrays = [float64_array(f"vjp(dout)[{i}]", g) for i, g in enumerate(gradients)]
    shapes = [a.shape for a in arrays]
    if shapes != layout.shapes:
        fits = _order(shapes, layout.shapes)
        sizes = (layout.stops - layout.starts).tolist()
        unfit = [(key, a.size, size) for key, a, size in zip(layout.keys, arrays, sizes,
                                                             strict=True) if a.size != size]
        if fits is not None or unfit:
            got = ", ".join(map(str, shapes))
            order = (f"they fit in the order ({', '.join(layout.keys[i] for i in fits)}): "
                     "return them in the order of `inputs`, or a dict" if fits is not None else
                     "they fit no order of the inputs, and in that order {} has {} entries, "
                     "not {}".format(*unfit[0]))
            raise ValueError(f"{label} of shapes {got}, read in the order of `inputs`' keys "
                             f"as {expected}; {order}")
    return dict(zip(layout.keys, arrays, strict=True))


def _order(shapes, expected):
    """For each of `shapes`, the index of the input it fits, same-shaped inputs in their own
    order; None if the shapes are not those of the inputs in any order."""
    free = list(range(len(expected)))
    order = []
    for shape in shapes:
        match = next((i for i in free if expected[i] == shape), None)
        if match is None:
            return None
        free.remove(match)
        order.append(match)
    return order


def _output(part, key, kind):
    """One of `fn`'s outputs, `fn(inputs)[key]`, validated: a float64 array, not a cache."""
    if not isinstance(part, (np.ndarray, numbers.Real)):
        raise TypeError(f"`fn` returned a {kind} whose item [{key!r}] is a "
                        f"{type(part).__name__}, not an array, as in the course's (A, cache): "
                        "return the outputs alone, e.g. `lambda inputs: forward(inputs['Z'])[0]`")
    return float64_array(f"fn(inputs)[{key!r}]", part)


def _finite(label, value):
    """A float64 copy of `value`, refused if not finite."""
    array = np.array(float64_array(label, value), copy=True)
    if not np.isfinite(array).all():
        raise ValueError(f"`{label}` must be finite, got NaN or inf")
    return array


def shapes_of(obj, bare=False):
    """The structure and shapes of `obj`, for messages: '(4, 5)' (bare) or 'shape (4, 5)',
    'a tuple of shapes ((4, 5), (4, 5))', "a dict of shapes {'h': (4, 5)}"."""
    if isinstance(obj, tuple):
        return f"a tuple of shapes {tuple(_shape(part) for part in obj)}"
    if isinstance(obj, dict):
        return f"a dict of shapes { {key: _shape(part) for key, part in obj.items()} }"
    return str(_shape(obj)) if bare else f"shape {_shape(obj)}"


def _shape(part):
    """The shape of an array or number; the type's name of anything else."""
    return np.shape(part) if isinstance(part, (np.ndarray, numbers.Number)) else \
        type(part).__name__

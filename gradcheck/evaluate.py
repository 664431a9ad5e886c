"""Evaluating the cost: single or batched calls, validated values, NumPy's global random state."""

import numpy as np

from gradcheck.tolerances import BATCH_BYTES, BATCH_RTOL


class Points:
    """k points ``base + steps[j] * e_axes[j]`` (axis steps) or ``base + steps[j] *
    directions[which[j]]`` (`directions` a `methods.Directions`; `which` defaults to j),
    written on demand so that none is stored whole.

    `steps` may be complex (imaginary) for the complex step; `base` (n,) is never written.
    """

    def __init__(self, base, steps, axes=None, directions=None, which=None):
        self.base, self.steps, self.axes, self.directions = base, steps, axes, directions
        self.which = np.arange(len(steps)) if which is None and axes is None else which
        if directions is not None:
            self.first, self.stop = directions.start.tolist(), directions.stop.tolist()

    def __len__(self):
        return len(self.steps)

    def point(self, j, dtype):
        """Point j as a fresh array (n,) of its own."""
        if self.axes is not None:
            out = self.base.astype(dtype, copy=True)
            out[self.axes[j]] += self.steps[j]
            return out
        out = np.empty(len(self.base), np.result_type(dtype, self.steps))
        self._along(j, out)
        return out

    def fill(self, start, stop, out):
        """Write points start..stop-1 into the rows of `out` (stop - start, n)."""
        if self.axes is None:
            for row, j in zip(out, range(start, stop), strict=True):
                self._along(j, row)
            return
        out[:] = self.base
        out[np.arange(stop - start), self.axes[start:stop]] += self.steps[start:stop]

    def _along(self, j, out):
        """Write point j, a step along its direction, into `out` (n,), each entry once: only
        the direction's run is computed, in place (a temporary as large as a big tensor
        would cost a fresh allocation)."""
        w = self.which[j]
        a, b = self.first[w], self.stop[w]
        out[:a], out[b:] = self.base[:a], self.base[b:]
        run = np.multiply(self.directions.rows[w], self.steps[j], out=out[a:b])
        run += self.base[a:b]

    def take(self, rows):
        """The points `rows` (a list of indices) alone."""
        if self.axes is not None:
            return Points(self.base, self.steps[rows], axes=self.axes[rows])
        return Points(self.base, self.steps[rows], directions=self.directions,
                      which=self.which[rows])


class GlobalRandom:
    """NumPy's legacy global random state, as the caller had it, with the public API only.

    A cost that draws from ``np.random`` (dropout) gets the same state before every
    evaluation, so it draws the same masks; a cost that does not draw costs nothing.
    """

    def __init__(self, draws=False):
        self.saved = np.random.get_state()
        self.draws = draws  # reset before every call (else only once the cost is seen to draw)

    def seen_first_call(self):
        """After the first evaluation: did the cost draw? Then reset before every later one."""
        self.draws = not _same_state(np.random.get_state(), self.saved)

    def before_call(self):
        if self.draws:
            np.random.set_state(self.saved)

    def restore(self):
        """Put the caller's state back; return True if the cost drew although its first call
        did not (then the check must be made again with resets)."""
        if _same_state(np.random.get_state(), self.saved):
            return False
        np.random.set_state(self.saved)
        return not self.draws


def _same_state(a, b):
    return a[0] == b[0] and a[2:] == b[2:] and np.array_equal(a[1], b[1])


class BatchRefused(Exception):
    """The cost cannot take a leading batch axis (found while batching was being probed)."""


class CostRefused(Exception):
    """`cost_fn` raised during an optional evaluation (see `Evaluator.try_costs`)."""


class Evaluator:
    """Calls `cost_fn` at points of theta, batched once that is known to be safe.

    Parameters
    ----------
    cost_fn : callable
    layout : inputs.Layout
    batched : bool or None
        True: batch without verifying; False: single calls; None: decided by `settle`.
    random_state : GlobalRandom
    label : str
        The caller's name for the function, in error messages ("cost_fn", or "fn").
    """

    def __init__(self, cost_fn, layout, batched, random_state, label="cost_fn"):
        self.cost_fn, self.layout, self.random, self.label = cost_fn, layout, random_state, label
        self.mode, self.count = batched, 0
        self.detected = False  # batching was decided by `settle` (then a failure falls back)
        self.returned_complex = False  # did the last call return a complex value?

    def single(self, point):
        """The cost at one point (n,) that is the evaluator's own (the cost may keep or write
        the views of it that it gets)."""
        self.random.before_call()
        self.count += 1
        value = scalar_cost(self.cost_fn(self.layout.unflatten(point)), self.label)
        self.returned_complex = type(value) is not np.float64 and np.iscomplexobj(value)
        if self.count == 1:
            self.random.seen_first_call()
        return value

    def costs(self, points, dtype=None):
        """The costs (k,) at `points` (a `Points`), in `dtype` (default: the points' own;
        complex for the complex step)."""
        dtype = points.base.dtype if dtype is None else dtype
        k = len(points)
        out = np.empty(k, dtype=np.result_type(dtype, np.float64))
        if not self.mode:
            for j in range(k):
                out[j] = self.single(points.point(j, dtype))
            return out
        chunk = max(1, BATCH_BYTES // (self.layout.n * np.dtype(dtype).itemsize))
        try:
            for start in range(0, k, chunk):
                stop = min(k, start + chunk)
                out[start:stop] = self.batch(points, start, stop, dtype, probing=self.detected)
        except BatchRefused:  # detected on two points, refused on more: single calls
            self.mode = self.detected = False
            return self.costs(points, dtype)
        return out

    def try_costs(self, points, dtype):
        """(`costs`, None), or (None, what `cost_fn` itself raised): for optional evidence
        (the complex step of a cost that may not take complex parameters). The checker's own
        errors, and a value that is no cost, still raise. Batching stays as it was: a batch
        refused here (single calls then tell whether the cost refuses the points themselves)
        says nothing of real points."""
        cost_fn, batching = self.cost_fn, (self.mode, self.detected)

        def guarded(parameters):
            try:
                return cost_fn(parameters)
            except Exception as error:
                raise CostRefused from error

        self.cost_fn = guarded
        try:
            return self.costs(points, dtype), None
        except CostRefused as refused:
            return None, refused.__cause__
        finally:
            self.cost_fn = cost_fn
            self.mode, self.detected = batching

    def batch(self, points, start, stop, dtype, probing=False):
        """One call of the cost on points start..stop-1 stacked as (B, *shape) per tensor;
        while `probing`, a cost that cannot batch raises BatchRefused (and counts nothing)."""
        size = stop - start
        stack = np.empty((size, self.layout.n), dtype=dtype)  # made for this call alone
        points.fill(start, stop, stack)
        self.random.before_call()
        fix = ("it cannot take a leading batch axis (np.dot, sums over all axes, float()): "
               "pass batched=None to detect this, or batched=False")
        try:
            values = self.cost_fn(self.layout.unflatten(stack))
        except Exception as error:
            if probing:  # single calls will tell whether the cost refuses the points themselves
                raise BatchRefused from error
            if isinstance(error, CostRefused):
                raise
            raise ValueError(f"`{self.label}` failed on a batch of {size} points "
                             f"({type(error).__name__}: {error}); {fix}") from error
        values = np.asarray(values)
        if values.shape != (size,) or values.dtype.kind not in "fc":
            if probing:
                raise BatchRefused
            raise ValueError(f"`{self.label}` returned shape {values.shape} ({values.dtype}) "
                             f"for a batch of {size} points, expected ({size},) floats; {fix}")
        self.count += size
        self.returned_complex = values.dtype.kind == "c"
        return values if np.dtype(dtype).kind == "c" else values.real

    def settle(self, points, J0):
        """Decide batching (batched=None) before the probe `points` are evaluated: its row 0
        (theta0) and last row, as a batch of two, must match J0 and a single call. A cost
        that ignores, or mixes, batch elements of any parameter shows there (the probe moves
        every entry, one-sidedly), and a cost that cannot batch fails on two points, not on
        all of them (np.dot of stacks builds B x B intermediates). Returns the probe's costs."""
        if self.mode is None:
            ends = points.take([0, len(points) - 1])
            try:
                pair = self.batch(ends, 0, 2, points.base.dtype, probing=True)
            except BatchRefused:
                pair = None
            self.mode = False
            if pair is not None and _agree(pair[0], J0):
                last = self.costs(points.take([len(points) - 1]))[0]
                self.mode = self.detected = _agree(pair[1], last)
        return self.costs(points)


def _agree(a, b):
    return bool(abs(a - b) <= BATCH_RTOL * max(abs(a), abs(b)))


def scalar_cost(value, label="cost_fn"):
    """The cost as a float64 (or complex) number; refuse what cannot be a cost."""
    if type(value) is np.float64 or type(value) is float:
        return value
    if isinstance(value, tuple):
        raise TypeError(f"`{label}` returned a tuple, such as the course's (cost, cache): "
                        "return the cost alone, e.g. `lambda p: forward(X, Y, p)[0]`")
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (int, np.integer)):
        raise TypeError(f"`{label}` returned {type(value).__name__} {value!r}: a cost must be "
                        "a float (an int or a bool cannot change with a small step)")
    array = np.asarray(value)
    if array.dtype.kind not in "fc":
        raise TypeError(f"`{label}` must return a float, got {type(value).__name__} "
                        f"({array.dtype})")
    if array.size != 1:
        raise ValueError(f"`{label}` must return a scalar (a float, or a 0-d or size-1 array), "
                         f"got shape {array.shape}")
    return array.reshape(-1)[0].astype(np.result_type(array.dtype, np.float64))

"""The methods as data (where each evaluates the cost, how it combines the values, its order
and step), and the one function that measures any method's items at any step."""

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gradcheck import estimate
from gradcheck.evaluate import Points
from gradcheck.tolerances import (
    CENTRAL_STEP,
    COMPLEX_STEP,
    EPS,
    PROBE_POINTS,
    PROBE_STEP,
    PROBE_TRIES,
    PROBE_WIDEN,
    ROUNDOFF_ULPS,
)


@dataclass(frozen=True)
class Method:
    """A numerical derivative, as data: D(h) = sum_i weights[i] J(theta0 + offsets[i] h e) / h.

    An offset 0 is theta0 itself (J0, no evaluation); imaginary offsets (1j) take the complex
    step, and D(h) is then the imaginary part. Everything downstream reads these fields:
    the noise term is sum |weights| x noise / h, the step of a noisy cost widens as
    noise^(1 / (order + 1)), Richardson extrapolation gains an order from 2^order.
    """

    name: str
    offsets: tuple  # multiples of the step h, real or imaginary
    weights: tuple  # one per offset
    order: int  # the truncation error of D(h) is O(h^order)
    step: float  # the base step h, relative to max(1, |theta_i|) (rms(theta) along directions)

    @property
    def imaginary(self):
        return any(isinstance(o, complex) for o in self.offsets)

    @property
    def two_sided(self):
        """Does it step both ways (offsets 1 and -1)? Then one-sided slopes show kinks."""
        return 1 in self.offsets and -1 in self.offsets

    @property
    def evaluated(self):
        """The offsets at which the cost is evaluated (all but 0)."""
        return np.array([o for o in self.offsets if o != 0])


# Central differences: truncation O(h^2), cancellation O(u / h); u^(1/3) balances them.
CENTRAL = Method("central", (1.0, -1.0), (0.5, -0.5), 2, CENTRAL_STEP)
# The complex step Im J(theta0 + ih e) / h: no cancellation, so the step can be tiny.
COMPLEX = Method("complex", (1j,), (1.0,), 2, COMPLEX_STEP)


class Directions(NamedTuple):
    """k unit directions in theta (the rows of a k x n matrix V), each nonzero on one run of
    entries only: row i is `rows[i]` on entries start[i] .. start[i] + len(rows[i]) - 1.

    Stored by their runs, because a direction lies within one tensor (or one set of a
    bisection): a dense V of a large network would be written, and scanned, mostly as zeros.
    """

    start: np.ndarray  # (k,) int
    rows: tuple  # k arrays of float64, one per direction

    @property
    def stop(self):
        return self.start + np.array([len(row) for row in self.rows], dtype=int)

    def __len__(self):
        return len(self.rows)

    def take(self, picks):
        return Directions(self.start[picks], tuple(self.rows[i] for i in np.asarray(picks).tolist()))

    def dot(self, x):
        """V @ x, for x (n,)."""
        return np.array([row @ x[a:a + len(row)] for a, row in zip(self.start.tolist(), self.rows,
                                                                   strict=True)])

    def magnitude(self):
        """|V|, entrywise."""
        return Directions(self.start, tuple(np.abs(row) for row in self.rows))

    def entry(self):
        """(k,) the entry of theta of each direction along a single entry, else -1."""
        return np.where(self.stop - self.start == 1, self.start, -1)

    @staticmethod
    def joined(parts):
        return Directions(np.concatenate([part.start for part in parts]),
                          tuple(row for part in parts for row in part.rows))


def unit_direction(rng, size, out=None):
    """A random unit vector (size,), its entries drawn uniformly from [-1, 1]; written into
    `out` if given.

    Uniform, not Gaussian: drawing them costs a fifth as much (a large tensor's directions
    are most of what "directional" spends outside the cost), and the projection v.e of an
    error e is small no more often (measured: P(|v.e| < 0.1 |e| / sqrt(size)) is 0.057 for a
    single wrong entry, 0.080 for two, 0.079 for a dense error, against 0.079 for every e
    with a Gaussian v), and vanishes with probability 0. A single entry's is 1 (no draw).
    """
    v = np.empty(size) if out is None else out
    if size == 1:
        v[:] = 1.0
        return v
    rng.random(out=v)  # 2r - 1: as rng.uniform(-1, 1) draws, but in place
    v *= 2.0
    v -= 1.0
    v /= np.linalg.norm(v)
    return v


class Items(NamedTuple):
    """What is measured: entries of theta (`axes`, (k,)) or `directions` (a `Directions`)."""

    axes: np.ndarray | None = None
    directions: Directions | None = None

    def take(self, picks):
        if self.axes is not None:
            return Items(axes=self.axes[picks])
        return Items(directions=self.directions.take(picks))

    def exact(self, theta0, h):
        """Steps h (k,) such that theta0 + h is exact along an axis: h = (theta + h) - theta."""
        return h if self.axes is None else (theta0[self.axes] + h) - theta0[self.axes]

    def points(self, base, multipliers, h):
        """Row i * k + j is base + multipliers[i] * h[j] * (item j)."""
        steps = np.outer(multipliers, h).ravel()
        if self.axes is not None:
            return Points(base, steps, axes=np.tile(self.axes, len(multipliers)))
        return Points(base, steps, directions=self.directions,
                      which=np.tile(np.arange(len(h)), len(multipliers)))


class Evidence(NamedTuple):
    """What was measured, item by item (k items), and how to measure it again."""

    analytic: np.ndarray  # (k,) backprop's value: an entry of the gradient, or V @ grad
    estimate: estimate.Estimate
    owner: np.ndarray  # (k,) the tensor of each item
    entry: np.ndarray  # (k,) the entry of theta of each item, or -1 for a direction
    items: Items
    again: Method  # re-measurements use this method (central differences for the complex step)
    h: np.ndarray  # (k,) ... at multiples of these steps
    step: float  # the step, for the report (relative to max(1, |theta|) unless epsilon)
    unsafe: np.ndarray  # (count,) bool: tensors where the cost is not complex-safe
    second_opinion: bool = False  # `again` is another estimator than the one measured
    cross: np.ndarray | None = None  # (k,) complex steps, where they may confirm an accusation


class Site(NamedTuple):
    """Where measuring happens: the cost (through its evaluator) at theta0, and its noise."""

    evaluator: object  # evaluate.Evaluator
    theta0: np.ndarray  # (n,)
    J0: float
    noise: estimate.Noise


class Refusal(NamedTuple):
    """Why the cost took no complex parameters, so that the complex step was not possible."""

    error: BaseException | None  # what the cost raised for them; None: it returned real values
    cast: bool  # NumPy cast a complex value to real on the way (its ComplexWarning)


def measure(site, method, items, h, settle=None):
    """The Estimates of `method` for `items` at steps h (k,): the one way the checker measures.

    A real method evaluates its offsets at h and at 2h (the error model needs both); with
    `settle` = (analytic (k,), threshold), the 2h costs only for the items that h does not
    settle (`estimate.settled`). An imaginary method evaluates once per item.

    Returns
    -------
    Estimate, or a Refusal where the method is imaginary and the cost raises for complex
    parameters or returns real values for them (the checker's own errors still raise).
    """
    J0, noise = site.J0, site.noise
    if method.imaginary:
        values = _complex_costs(site, items.points(site.theta0.astype(np.complex128),
                                                   method.evaluated, h))
        if isinstance(values, Refusal):
            return values
        return estimate.imaginary(estimate.combine(method, J0, values.reshape(1, -1), h), noise)
    offsets = method.evaluated
    width = len(offsets)
    if settle is None:
        J = site.evaluator.costs(items.points(site.theta0, np.concatenate([offsets, 2 * offsets]),
                                              h)).reshape(2 * width, -1)
        return estimate.differences(method, J0, J[:width], J[width:], h, noise)
    J = site.evaluator.costs(items.points(site.theta0, offsets, h)).reshape(width, -1)
    done, first = estimate.settled(method, J0, J, h, noise, *settle)
    rest = np.flatnonzero(~done)
    if not len(rest):
        return first
    J2 = site.evaluator.costs(items.take(rest).points(site.theta0, 2 * offsets, h[rest]))
    return estimate.merged(first, rest, estimate.differences(
        method, J0, J[:, rest], J2.reshape(width, -1), h[rest], noise))


def _complex_costs(site, points):
    """The complex costs at `points`, or a Refusal. The first point is evaluated alone, so
    that a refusal costs one evaluation."""
    evaluator, values = site.evaluator, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", np.exceptions.ComplexWarning)
        for rows in ([0], list(range(1, len(points)))):
            part, error = evaluator.try_costs(points.take(rows), np.complex128)
            if part is None or not evaluator.returned_complex:
                cast = any(issubclass(w.category, np.exceptions.ComplexWarning) for w in caught)
                return Refusal(error, cast)
            values.append(part)
    return np.concatenate(values)


def entry_steps(theta0, method, epsilon, factor=1.0):
    """The step of `method` per entry (n,): `epsilon` if given, else its base step x `factor`
    x max(1, |theta_i|); exact in float64 (theta + h - theta = h) for a real method."""
    h = (np.full(theta0.shape, epsilon) if epsilon is not None
         else method.step * factor * np.maximum(1, np.abs(theta0)))
    return h if method.imaginary else Items(np.arange(len(theta0))).exact(theta0, h)


def tensor_steps(theta0, layout, method, epsilon, factor=1.0):
    """The step of `method` along directions within each tensor (count,): `epsilon` if
    given, else its base step x `factor` x max(1, rms of the tensor)."""
    if epsilon is not None:
        return np.full(layout.count, epsilon)
    rms = [np.sqrt(theta0[a:b] @ theta0[a:b] / (b - a)) for _, _, a, b in layout.slices]
    return method.step * factor * np.maximum(1.0, rms)


def halves(frontier, rng):
    """Both halves of every run of entries (start, stop) in `frontier`, each with a random unit
    direction on it (`unit_direction`; a unit vector for one entry): one round of a
    bisection. Returns the halves and their `Directions`."""
    children = [half for a, b in frontier for half in ((a, (a + b) // 2), ((a + b) // 2, b))
                if half[1] > half[0]]
    return children, Directions(np.array([a for a, _ in children], dtype=int),
                                tuple(unit_direction(rng, b - a) for a, b in children))


class Probe(NamedTuple):
    """The costs every check measures first, along one random direction v."""

    noise: estimate.Noise
    direction: np.ndarray  # (n,) v
    along: estimate.Estimate  # forward differences along v at the probe's step
    spread: float  # |J(theta0) - J(theta0)| over two evaluations: the cost's randomness
    span: float  # the probe's widest step along v; the cost is frozen if it moved nowhere there
    moved: bool  # did any probe cost differ from J(theta0)?


def probe(evaluator, theta0, J0, rng):
    """Measure the cost's noise at PROBE_POINTS costs theta0 + k delta v, k = 0, 1, ...,
    along a random direction v (ECnoise), and settle batching and randomness on them.

    One-sided, so that an exact kink at theta0 (a zero sample with zero biases, a pruned
    unit, L1 at 0) sits at the end of the probe, not inside it; k = 0 evaluates theta0
    again, which tells a cost that is not deterministic. delta starts at PROBE_STEP x the
    central step and widens by PROBE_WIDEN while too many costs are equal.
    """
    v = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), len(theta0))  # entries of variance 1 ...
    scale = np.abs(theta0)
    v *= np.maximum(scale, 1.0, out=scale)  # ... times each entry's scale
    offsets = np.arange(PROBE_POINTS, dtype=np.float64)
    delta = CENTRAL_STEP * PROBE_STEP
    for _ in range(PROBE_TRIES):
        points = Points(theta0, offsets * delta, directions=Directions(np.zeros(1, int), (v,)),
                        which=np.zeros(PROBE_POINTS, dtype=int))
        f = evaluator.settle(points, J0)
        if len(np.unique(f)) > (PROBE_POINTS + 1) // 2:
            break
        delta *= PROBE_WIDEN
    measured = estimate.ecnoise(f)
    floor = ROUNDOFF_ULPS * EPS * abs(float(J0))
    level = max(floor, measured) if np.isfinite(measured) else floor
    noise = estimate.Noise(float(level), float(floor))
    return Probe(noise, v, estimate.forward(f[:3], delta, noise), float(abs(f[0] - J0)),
                 float(delta * (PROBE_POINTS - 1)), bool(np.any(f != J0)))

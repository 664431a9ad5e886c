"""Where each method evaluates the cost, and how it combines the values into estimates.

Every method returns `Evidence`: one analytic value and one `Estimate` per item (an entry
of theta, or a direction), and a way to re-measure items at larger steps. Judging the
evidence is the same for all of them (`gradcheck.judge`).
"""

from typing import Callable, NamedTuple

import numpy as np

from gradcheck import estimate
from gradcheck.evaluate import Points
from gradcheck.tolerances import (
    CENTRAL_STEP,
    COMPLEX_STEP,
    CONFIRM_STEPS,
    DIRECTIONS,
    MAX_FOUND,
    PROBE_POINTS,
    ROUNDOFF_ULPS,
    SAFETY,
)

PROBE_STEP = CENTRAL_STEP * 1e-2  # small, so that a ReLU kink rarely falls inside the probe
PROBE_WIDEN = 100.0  # ... and widened by this while too many of its costs are equal
PROBE_TRIES = 3


class Evidence(NamedTuple):
    """What a method measured, item by item (k items)."""

    analytic: np.ndarray  # (k,) backprop's value: an entry of the gradient, or V @ grad
    estimate: estimate.Estimate
    owner: np.ndarray  # (k,) the tensor of each item
    entry: np.ndarray  # (k,) the entry of theta of each item, or -1 for a direction
    remeasure: Callable  # remeasure(picks, factor) -> Estimate of those items at a wider step
    confirm_factors: tuple  # the factors of `remeasure` that confirm a discrepancy
    step: float  # the step, for the report (relative to max(1, |theta|) unless epsilon)
    directions: np.ndarray | None = None  # (k, n) for "directional"
    unsafe: np.ndarray | None = None  # (count,) bool: tensors where the cost is not complex-safe
    second_opinion: bool = False  # `remeasure` is another estimator (central for the complex step)
    cross_check: Callable | None = None  # cross_check(picks) -> complex-step D, or None
    tensor_steps: np.ndarray | None = None  # (count,) "directional": each tensor's step


class Probe(NamedTuple):
    """The costs every check measures first, along one random direction v."""

    noise: estimate.Noise
    direction: np.ndarray  # (n,) v
    along: estimate.Estimate  # central differences along v at the probe's step
    spread: float  # |J(theta0) - J(theta0)| over two evaluations: the cost's randomness
    span: float  # the probe's widest step along v; the cost is frozen if it moved nowhere there
    moved: bool  # did any probe cost differ from J(theta0)?


def probe(evaluator, problem, J0, rng):
    """Measure the cost's noise at PROBE_POINTS costs theta0 + k delta v, k = 0, 1, ...,
    along a random direction v (ECnoise), and settle batching and randomness on them.

    One-sided, so that an exact kink at theta0 (a zero sample with zero biases, a pruned
    unit, L1 at 0) sits at the end of the probe, not inside it; k = 0 evaluates theta0
    again, which tells a cost that is not deterministic.
    """
    theta0 = problem.theta0
    v = rng.standard_normal(len(theta0)) * np.maximum(1.0, np.abs(theta0))
    offsets = np.arange(PROBE_POINTS, dtype=np.float64)
    delta = PROBE_STEP
    for _ in range(PROBE_TRIES):
        points = Points(theta0, offsets * delta, directions=v[None],
                        which=np.zeros(PROBE_POINTS, dtype=int))
        f = evaluator.settle(points, J0)
        if len(np.unique(f)) > (PROBE_POINTS + 1) // 2:
            break
        delta *= PROBE_WIDEN
    measured = estimate.ecnoise(f)
    unit = float(np.finfo(theta0.dtype).eps)
    floor = ROUNDOFF_ULPS * unit * abs(float(J0))
    level = max(floor, measured) if np.isfinite(measured) else floor
    noise = estimate.Noise(float(level), float(measured), float(floor), unit)
    return Probe(noise, v, estimate.forward(f[:3], delta, noise), float(abs(f[0] - J0)),
                 float(delta * (PROBE_POINTS - 1)), bool(np.any(f != J0)))


def _staged(problem, evaluator, J0, probe, h, analytic, axes=None, directions=None):
    """Central differences at +-h for every item, and at +-2h (the rest of the STENCIL)
    only for the items that +-h does not settle (`estimate.clear`)."""
    first = evaluator.costs(estimate.central_points(problem.theta0, h, axes, directions,
                                                    estimate.STENCIL[:2])).reshape(2, -1)
    settled, est = estimate.clear(J0, first, h, probe.noise, analytic, problem.threshold)
    rest = np.flatnonzero(~settled)
    if len(rest):
        wide = evaluator.costs(estimate.central_points(
            problem.theta0, h[rest], None if axes is None else axes[rest],
            None if directions is None else directions[rest], estimate.STENCIL[2:]))
        full = estimate.central(J0, np.concatenate([first[:, rest], wide.reshape(2, -1)]),
                                h[rest], probe.noise)
        fields = [np.array(x, copy=True) for x in est]
        for x, y in zip(fields, full, strict=True):
            x[rest] = y
        est = type(est)(*fields)
    return est


def central(problem, evaluator, J0, probe, rng):
    """Central differences per entry, at the STENCIL's four points each."""
    theta0, n = problem.theta0, problem.layout.n
    h = estimate.central_steps(theta0, problem.epsilon, probe.noise.step_factor())
    axes = np.arange(n)

    def remeasure(picks, factor):
        steps = (theta0[picks] + factor * h[picks]) - theta0[picks]
        J = evaluator.costs(estimate.central_points(theta0, steps, axes=picks))
        return estimate.central(J0, J.reshape(4, -1), steps, probe.noise)

    def cross_check(picks):
        h = COMPLEX_STEP * np.maximum(1.0, np.abs(theta0[picks]))
        return _complex_opinion(evaluator, problem, Points(theta0, 1j * h, axes=picks), h)

    first = _staged(problem, evaluator, J0, probe, h, problem.grad, axes=axes)
    return Evidence(problem.grad, first, problem.layout.owner, axes, remeasure,
                    CONFIRM_STEPS, _step(problem, CENTRAL_STEP * probe.noise.step_factor()),
                    cross_check=cross_check)


def _complex_opinion(evaluator, problem, points, h):
    """Complex-step derivatives at `points` (imaginary steps i h), as an independent opinion
    before an accusation; None when the cost does not take complex parameters, or drops
    their imaginary part. float64 freezes a saturated log(1 - sigmoid(z)) at every real
    step, but not its imaginary part."""
    dtype = np.result_type(problem.theta0.dtype, np.complex64)
    complex_points = Points(points.base.astype(dtype), points.steps, points.axes,
                            points.directions, points.which)
    values = evaluator.try_costs(complex_points, dtype)
    if values is None or not evaluator.returned_complex:
        return None
    return (values.imag / h).astype(problem.theta0.dtype, copy=False)


def complex_step(problem, evaluator, J0, probe, rng):
    """Complex-step derivatives per entry; central differences where they must be trusted."""
    layout, theta0, n = problem.layout, problem.theta0, problem.layout.n
    h = COMPLEX_STEP * np.maximum(1, np.abs(theta0)) if problem.epsilon is None else \
        np.full(n, problem.epsilon)
    dtype = np.result_type(theta0.dtype, np.complex64)
    values = _complex_costs(evaluator, Points(theta0.astype(dtype), 1j * h, axes=np.arange(n)),
                            dtype)
    D = estimate.complex_step(values, h).astype(theta0.dtype, copy=False)
    unc = estimate.complex_uncertainty(D, probe.noise)
    nothing = np.full(n, np.nan)
    no = np.zeros(n, bool)
    est = estimate.Estimate(D, unc, nothing, nothing, no, nothing, nothing, no, np.zeros(n), unc,
                            D)
    hc = estimate.central_steps(theta0, None, probe.noise.step_factor())

    def remeasure(picks, factor):
        steps = (theta0[picks] + factor * hc[picks]) - theta0[picks]
        J = evaluator.costs(estimate.central_points(theta0, steps, axes=picks))
        return estimate.central(J0, J.reshape(4, -1), steps, probe.noise)

    unsafe = _complex_unsafe(problem, evaluator, J0, probe, D, unc, hc)
    return Evidence(problem.grad, est, layout.owner, np.arange(n), remeasure, (1.0, *CONFIRM_STEPS),
                    _step(problem, COMPLEX_STEP), unsafe=unsafe, second_opinion=True)


def _complex_costs(evaluator, points, dtype):
    """The complex costs at `points`, with clear errors for a cost that is not complex-able."""
    label = f"`{evaluator.label}`"
    try:
        values = evaluator.costs(points, dtype)
    except (TypeError, ValueError) as error:
        if label in str(error) and "complex" not in str(error):
            raise  # the checker's own error about the function, raised on a complex point
        raise TypeError(f"{label} must accept complex parameters for method='complex' (avoid "
                        "float(), np.maximum, np.abs, norms and np.vdot); it raised "
                        f"{type(error).__name__}: {error}") from error
    if not evaluator.returned_complex:
        raise TypeError(f"{label} returned real values for complex parameters, so it drops the "
                        "imaginary part; method='complex' needs a complex-safe cost")
    return values


def _complex_unsafe(problem, evaluator, J0, probe, D, unc, hc):
    """Tensors where central differences contradict the complex step along the probe's
    direction v, at three steps a decade and more apart and consistently: the cost is not
    complex-safe there (np.abs, norms, np.vdot). The first comparison, for the whole
    vector, is free (the probe measured it); the rest is made only when it fails."""
    layout, v = problem.layout, probe.direction
    unsafe = np.zeros(layout.count, dtype=bool)
    if not probe.moved:  # a cost that rounds to a constant tells nothing (judged elsewhere)
        return unsafe
    if _agrees(D @ v, np.abs(unc) @ np.abs(v), probe.along, 0):
        return unsafe
    V = np.zeros((layout.count, layout.n))
    for t, (_, _, a, b) in enumerate(layout.slices()):
        V[t, a:b] = v[a:b]
    complex_along, complex_unc = V @ D, np.abs(V) @ np.abs(unc)
    step = float(np.median(hc / np.maximum(1.0, np.abs(problem.theta0))))
    first = None
    unsafe[:] = True
    seen = np.zeros(layout.count, dtype=bool)
    for factor in (1.0, *CONFIRM_STEPS):
        h = np.full(layout.count, step * factor)
        J = evaluator.costs(estimate.central_points(problem.theta0, h, directions=V))
        est = estimate.central(J0, J.reshape(4, -1), h, probe.noise)
        first = est if first is None else first
        informative = np.isfinite(est.D) & ~est.kink
        apart = np.abs(est.D - complex_along) > SAFETY * (est.unc + complex_unc)
        sides = np.abs(est.D - first.D) <= np.abs(est.D - complex_along)
        unsafe &= ~informative | (apart & sides)
        seen |= informative
    return unsafe & seen


def _agrees(value, uncertainty, est, j):
    """Does `value` agree with the central estimate item j (a smooth one) within both errors?"""
    if est.kink[j] or not np.isfinite(est.D[j]):
        return True  # no evidence either way
    return bool(abs(value - est.D[j]) <= SAFETY * (est.unc[j] + uncertainty))


def directional(problem, evaluator, J0, probe, rng):
    """Central differences along DIRECTIONS random unit directions per tensor; a tensor
    whose directions cross a kink is split until each kink sits on a single entry."""
    layout, theta0, n = problem.layout, problem.theta0, problem.layout.n
    factor = probe.noise.step_factor()
    V = np.zeros((DIRECTIONS * layout.count, n))
    h = np.empty(layout.count)
    for t, (_, _, a, b) in enumerate(layout.slices()):
        rms = np.sqrt(np.mean(theta0[a:b] ** 2))
        h[t] = CENTRAL_STEP * factor * max(1.0, rms) if problem.epsilon is None else \
            problem.epsilon
        block = rng.standard_normal((DIRECTIONS, b - a)) if b - a > 1 else np.ones((DIRECTIONS, 1))
        # unit rows, within the tensor (V is 0 elsewhere)
        V[t * DIRECTIONS:(t + 1) * DIRECTIONS, a:b] = \
            block / np.linalg.norm(block, axis=1, keepdims=True)
    owner = np.repeat(np.arange(layout.count), DIRECTIONS)
    est = _staged(problem, evaluator, J0, probe, h[owner], V @ problem.grad, directions=V)
    keep = np.ones(len(owner), bool)
    extra_rows, extra_owner = [], []
    for t in np.unique(owner[est.kink]):
        keep[owner == t] = False  # replaced by the sets that isolate its kinks
        for row in _isolate(problem, evaluator, J0, probe, rng, int(t), h[t]):
            extra_rows.append(row)
            extra_owner.append(t)
    if extra_rows:
        extra_V, extra_owner = np.array(extra_rows), np.array(extra_owner, dtype=int)
        extra = _staged(problem, evaluator, J0, probe, h[extra_owner], extra_V @ problem.grad,
                        directions=extra_V)
        est = type(est)(*(np.concatenate([x[keep], y]) for x, y in zip(est, extra, strict=True)))
        V = np.concatenate([V[keep], extra_V])
        owner = np.concatenate([owner[keep], extra_owner])
    steps = h[owner]
    # a direction along one entry is that entry (its kink can be judged), else -1
    support = V != 0
    entry = np.where(support.sum(axis=1) == 1, np.argmax(support, axis=1), -1)

    def remeasure(picks, factor):
        return _along(problem, evaluator, J0, probe, V[picks], steps[picks] * factor)

    def cross_check(picks):
        h = np.full(len(picks), COMPLEX_STEP)
        return _complex_opinion(evaluator, problem, Points(theta0, 1j * h, directions=V[picks]),
                                h)

    return Evidence(V @ problem.grad, est, owner, entry, remeasure, CONFIRM_STEPS,
                    _step(problem, CENTRAL_STEP * factor), directions=V, cross_check=cross_check,
                    tensor_steps=h)


def _direction(rng, n, entries):
    """A random unit direction (n,) supported on `entries` (a unit vector for one entry)."""
    row = np.zeros(n)
    row[entries] = rng.standard_normal(len(entries)) if len(entries) > 1 else 1.0
    row /= np.linalg.norm(row)
    return row


def _along(problem, evaluator, J0, probe, V, steps):
    """The central-difference Estimate along the rows of V (k, n) with steps (k,)."""
    J = evaluator.costs(estimate.central_points(problem.theta0, steps, directions=V))
    return estimate.central(J0, J.reshape(4, -1), steps, probe.noise)


def _isolate(problem, evaluator, J0, probe, rng, t, h):
    """Directions that cover tensor t with every kink on a single entry: sets whose random
    direction crosses a kink are halved, O(k log n) evaluations for k kinks. Stops after
    MAX_FOUND kinks; the sets left then are returned as they are (never accepted at a kink).
    """
    layout = problem.layout
    frontier = [np.arange(layout.starts[t], layout.stops[t])]
    rows, kinks = [], 0
    while frontier:
        children = [half for node in frontier for half in np.array_split(node, 2) if len(half)]
        V = np.array([_direction(rng, layout.n, child) for child in children])
        est = _along(problem, evaluator, J0, probe, V, np.full(len(children), h))
        frontier = []
        for child, row, kinked in zip(children, V, est.kink.tolist(), strict=True):
            if kinked and len(child) > 1 and kinks < MAX_FOUND:
                frontier.append(child)
            else:
                rows.append(row)
                kinks += kinked
    return rows


def bisect(problem, evaluator, J0, probe, rng, t, h, judge_item):
    """The wrong entries of tensor t, by halving sets of entries that disagree.

    Each round tests both halves of every wrong set along a fresh random direction, so k
    wrong entries cost O(k log n) evaluations. `judge_item(analytic, est)` says which items
    disagree.

    Returns
    -------
    found : list of (entry of theta, analytic, numeric), at most MAX_FOUND
    complete : bool
        False when the search stopped at MAX_FOUND.
    """
    layout = problem.layout
    a, b = int(layout.starts[t]), int(layout.stops[t])
    frontier, found, complete = [np.arange(a, b)], [], True
    while frontier:
        children = [half for node in frontier for half in np.array_split(node, 2) if len(half)]
        V = np.zeros((len(children), layout.n))
        for row, child in zip(V, children, strict=True):
            row[child] = rng.standard_normal(len(child)) if len(child) > 1 else 1.0
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        steps = np.full(len(children), h)
        J = evaluator.costs(estimate.central_points(problem.theta0, steps, directions=V))
        est = estimate.central(J0, J.reshape(4, -1), steps, probe.noise)
        along = V @ problem.grad
        bad = judge_item(along, est) & ~est.kink
        frontier = []
        for child, is_bad, kinked, gj, dj in zip(children, bad.tolist(), est.kink.tolist(),
                                                 along.tolist(), est.D.tolist(), strict=True):
            if is_bad and len(child) == 1:
                found.append((int(child[0]), gj, dj))
            elif (is_bad or kinked) and len(child) > 1:  # a kink can hide a wrong entry
                frontier.append(child)
        room = MAX_FOUND - len(found)
        if len(frontier) > room:
            frontier, complete = frontier[:max(room, 0)], False
    return found[:MAX_FOUND], complete


def sharpen(evidence, probe):
    """The same evidence with complex-step estimates, or None.

    Where central differences cannot resolve the derivatives below the threshold (a cost
    whose float64 noise, measured, is far above round-off), the complex step has no
    cancellation and may. It is used only if the cost takes complex parameters and the
    complex step agrees with the central estimates within their uncertainties on every
    smooth item (a cost that is not complex-safe does not); it can only turn an
    inconclusive check into a pass.
    """
    if evidence.cross_check is None:
        return None
    est = evidence.estimate
    Dc = evidence.cross_check(np.arange(len(est.D)))
    if Dc is None:
        return None
    unc = estimate.complex_uncertainty(Dc, probe.noise)
    smooth = np.isfinite(est.D) & ~est.kink
    if not np.all(np.abs(Dc - est.D)[smooth] <= SAFETY * (est.unc + unc)[smooth]):
        return None
    sharp = est._replace(D=np.where(smooth, Dc, est.D), unc=np.where(smooth, unc, est.unc),
                         truncation=np.where(smooth, 0.0, est.truncation))
    return evidence._replace(estimate=sharp)


def refine(evidence, threshold):
    """Evidence whose items that keep the check from certifying the threshold are measured
    again as their own error model asks, keeping whichever estimate is most precise.

    Truncation grows as h^2 and noise as 1/h: where |D(h) - D(2h)| dominates, the step that
    balances them is h (noise / (2 truncation))^(1/3); otherwise the fourth-order Richardson
    estimate at h and at 10 h (its truncation measured at twice those steps) lets a wider
    step beat the noise. Only items whose uncertainty is a material share of the precision
    bound are re-measured.
    """
    est, a = evidence.estimate, evidence.analytic
    finite = np.isfinite(est.unc) & np.isfinite(est.D) & ~est.kink
    norms = (np.sqrt(np.sum(np.where(finite, a, 0) ** 2))
             + np.sqrt(np.sum(np.where(finite, est.D, 0) ** 2)))
    share = threshold * norms / np.sqrt(max(1, np.count_nonzero(finite)))
    picks = np.flatnonzero(finite & (est.unc > share))
    if not len(picks):
        return evidence
    first = estimate.Estimate(*(x[picks] for x in est))
    narrow = np.clip((first.floor / (2 * first.truncation)) ** (1 / 3), 1e-3, 0.5)
    candidates = [evidence.remeasure(picks, narrow),
                  estimate.richardson(first, evidence.remeasure(picks, 2.0))]
    wide = evidence.remeasure(picks, 10.0)
    candidates.append(estimate.richardson(wide, evidence.remeasure(picks, 20.0)))
    fields = [np.array(x, copy=True) for x in est]
    for again in candidates:
        better = (again.unc < fields[1][picks]) & ~again.kink & np.isfinite(again.unc)
        for x, y in zip(fields, again, strict=True):
            x[picks[better]] = y[better]
    return evidence._replace(estimate=type(est)(*fields))


def _step(problem, relative):
    return problem.epsilon if problem.epsilon is not None else float(relative)


METHODS = {"central": central, "complex": complex_step, "directional": directional}

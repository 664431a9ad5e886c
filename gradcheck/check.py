"""check_gradients: the pipeline, from the cost's values to the report."""

import dataclasses
import warnings

import numpy as np

from gradcheck import estimate, explain, inputs, judge
from gradcheck.evaluate import Evaluator, GlobalRandom
from gradcheck.methods import (
    CENTRAL,
    COMPLEX,
    Directions,
    Evidence,
    Items,
    Refusal,
    Site,
    entry_steps,
    halves,
    measure,
    probe,
    tensor_steps,
    unit_direction,
)
from gradcheck.report import GradientCheckReport, ParameterResult
from gradcheck.tolerances import CONFIRM_STEPS, DIRECTIONS, MAX_FOUND, SETTLE_MAX_N, THRESHOLD


def check_gradients(cost_fn, parameters, gradients, *, method="central", epsilon=None,
                    threshold=THRESHOLD, seed=0, batched=None):
    """Compare backprop gradients with numerical derivatives of the cost, and say what is wrong.

    Parameters
    ----------
    cost_fn : callable
        ``cost_fn(parameters) -> float``. It gets a fresh dict of arrays of its own at every
        call, so it may keep or write them. A cost written with ``@`` and ``axis=-1``
        reductions may also take every parameter stacked as (B, *shape) and return (B,);
        see `batched`. An int, a bool or a tuple such as ``(cost, cache)`` is refused.
    parameters : dict of str -> ndarray of float64
        Any names, shapes and sizes; never modified. Inputs such as ``"X"`` are just more
        entries: their gradient ``"dX"`` is checked like any other. float16/float32 (their
        round-off is as large as the threshold), np.longdouble (it would be rounded) and
        np.matrix are refused.
    gradients : dict of str -> ndarray of float64
        ``gradients["d" + name]`` shaped like ``parameters[name]``; other keys are ignored.
        One with the same number of entries but another shape (``db`` (1, C) for ``b``
        (C,), a transposed ``dW``) is a finding: the check runs on its values in C order
        (``np.ravel``) and fails, the reason naming the shapes first, then saying whether
        those values agree. Another number of entries raises ValueError.
    method : {"central", "complex", "directional"} or gradcheck.methods.Method
        Central differences per entry; the complex step Im J(theta + ih e) / h per entry
        (where `cost_fn` raises for complex parameters or returns real values for them,
        central differences run instead, and the report's notes say why); or two seeded
        random directions per tensor, with bisection to the wrong entries, for large
        networks. A `Method` of one's own (its points, weights, order and step) is measured
        per entry.
    epsilon : float or None
        The absolute step; None chooses it per entry (see Notes). At most max(1, |theta|).
    threshold : float
        Equation (2) must be below this to pass; in (0, 1).
    seed : int
        Seeds the random directions (a private generator; np.random is not touched).
    batched : bool or None
        None: batch the calls if the cost takes a leading batch axis, verified against single
        calls on the first points ("directional", a few dozen calls, does not try: a cost
        that cannot batch may take longer to refuse a batch than all of them); True: batch
        without verifying; False: one call per point.

    Returns
    -------
    GradientCheckReport
        `verdict` ("pass", "fail" or "inconclusive"), `reason`, `difference`, and per gradient
        key ("dW1") `rows`, `per_parameter` and `suspects`. ``bool(report)`` is
        ``report.passed``.

    Notes
    -----
    The pipeline: evaluate the cost (`gradcheck.evaluate`), estimate derivatives with their
    uncertainty (`gradcheck.estimate`, at the points each method chooses:
    `gradcheck.methods`), judge them (`gradcheck.judge`), explain what is wrong
    (`gradcheck.explain`) and report (`gradcheck.report`).

    Noise: the cost's noise is measured first, by ECnoise (Moré and Wild, 2011) on
    PROBE_POINTS costs along a random direction, and is never taken below the rounding of
    float64 (ROUNDOFF_ULPS u |J|). A method's D(h) at h = its step x max(1, |theta_i|)
    (widened by (noise / floor)^(1/(order + 1)) for a noisy cost) is settled at h alone where
    it agrees with backprop within its noise, or to CLEAR x the threshold; elsewhere the
    costs at 2h give it the uncertainty |D(h) - D(2h)| (truncation) + its 4th difference
    beyond what noise explains (curvature, a kink) + noise / h. Items whose uncertainty keeps
    the check from certifying the threshold are measured again at the step their error model
    asks for, and with a Richardson estimate one order higher.

    Verdicts: an entry is wrong only beyond SAFETY x its uncertainty, in a tensor whose
    equation (2) is above `threshold`, and only if re-measurements at CONFIRM_STEPS x the
    step see the same discrepancy, consistently, and do not together move towards backprop;
    where the cost takes complex parameters, the complex step must side with them too.
    Numerical error changes with the step, a bug does not. "pass" needs equation (2) below
    `threshold`, the uncertainty below it too, and nothing unconfirmed; where central
    differences cannot reach that, the complex step may (if the cost takes complex
    parameters and agrees with them). Everything else is "inconclusive", with the reason.
    (The constants are in `gradcheck.tolerances`.)
    Kinks (one-sided slopes smooth on each side, jumping between) are left out of equation
    (2) and reported; an analytic value between the one-sided slopes is accepted, one
    outside them (several units switching at once) is not judged and makes the check
    inconclusive. Everything is computed in float64, so a verdict is the same on every
    platform. A given `epsilon` is used as given.

    NumPy's legacy global random state is restored before every evaluation of a cost that
    draws from it (dropout masks repeat), and is the caller's again afterwards.
    """
    if not callable(cost_fn):
        raise TypeError(f"`cost_fn` must be callable, got {type(cost_fn).__name__}")
    problem = inputs.checked(parameters, gradients, method, epsilon, threshold, seed, batched)
    return run(cost_fn, problem)


def run(cost_fn, problem, label="cost_fn"):
    """The check of a validated `problem`; the global random state is the caller's after.
    `label` names the function in error messages (check_vjp's is "fn")."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Again with resets before every call if the cost drew from np.random after its first.
        for draws in (False, True):
            random = GlobalRandom(draws)
            batched = False if problem.directional and problem.batched is None else problem.batched
            try:
                report = _check(problem, Evaluator(cost_fn, problem.layout, batched, random,
                                                   label))
            finally:
                late = random.restore()
            if draws or not late:
                return report


def _check(problem, evaluator):
    """One check, top to bottom: every evaluation of the cost happens here or in `measure`."""
    layout, threshold = problem.layout, problem.threshold
    rng = np.random.default_rng(problem.seed)
    J0 = evaluator.single(problem.theta0.copy())  # the cost may write into its arguments
    if not np.isfinite(J0):
        return _early(problem, evaluator, f"the cost at `parameters` is {float(J0)}, so no "
                      "derivative can be estimated")
    # 1. The noise of the cost, along a random direction; batching and randomness too.
    noise_probe = probe(evaluator, problem.theta0, J0, rng)
    if noise_probe.spread > 0 and not evaluator.mode:
        return _early(problem, evaluator, f"two evaluations of the cost at the same parameters "
                      f"differ by {noise_probe.spread:.1e}, so it is not deterministic (a "
                      "private random generator?) and no difference can be trusted; seed it, "
                      "or draw with np.random")
    site = Site(evaluator, problem.theta0, J0, noise_probe.noise)
    # 2. Every item (entry or direction) measured once; where the cost refuses the complex
    # step, by central differences instead.
    evidence = (_directions(problem, site, rng) if problem.directional else
                _entries(problem, site, noise_probe))
    refused = ""
    if isinstance(evidence, Refusal):
        refused = explain.refusal(evaluator.label, evidence)
        problem = dataclasses.replace(problem, method=CENTRAL, name=CENTRAL.name)
        evidence = _entries(problem, site, noise_probe)
    # 3. Items too uncertain to certify, measured again where the judge asks (a given
    # epsilon is checked as given).
    if problem.epsilon is None:
        evidence = _refined(site, evidence, threshold)
    # 4. The judgement, with re-measurements at wider steps before any accusation.
    judgement = _judged(problem, site, evidence)
    # 5. "directional": the wrong entries of each wrong tensor, by bisection.
    found = None
    if problem.directional:
        found = {int(t): _bisect(problem, site, rng, int(t), evidence.h[evidence.owner == t][0])
                 for t in np.flatnonzero(judgement.wrong)}
        judgement = _upheld(problem, site, evidence, judgement, found)
        found = {t: search for t, search in found.items() if judgement.wrong[t]}
    rows = explain.rows(layout, evidence, judgement, found)
    findings = explain.findings(problem, evidence, judgement, noise_probe, rows)._replace(
        complex_refused=bool(refused))
    # 6. Central differences that cannot resolve the derivatives: the complex step may.
    if explain.conclusion(findings)[0] == "inconclusive" and not refused and \
            _numerical(problem, judgement):
        cross = measure(site, COMPLEX, evidence.items, evidence.cross)
        sharp = None if isinstance(cross, Refusal) else estimate.sharpened(evidence.estimate,
                                                                            cross)
        if sharp is not None:
            sharp_evidence = evidence._replace(estimate=sharp)
            again = _judged(problem, site, sharp_evidence)
            again_rows = explain.rows(layout, sharp_evidence, again, None)
            settled = explain.findings(problem, sharp_evidence, again, noise_probe, again_rows)
            if explain.conclusion(settled)[0] == "pass":
                judgement, rows = again, again_rows
                findings = settled._replace(by_complex_step=True)
    return _report(problem, evaluator, findings, judgement.difference, rows,
                   noise_probe.noise.relative, evidence.step, [refused] if refused else [])


def _entries(problem, site, noise_probe):
    """Every entry measured by the problem's method; for the complex step, where central
    differences contradict it, which tensors are not complex-safe (or the Refusal of a cost
    that takes no complex parameters)."""
    method, theta0, layout = problem.method, problem.theta0, problem.layout
    factor = 1.0 if method.imaginary else site.noise.step_factor(method.order)
    h = entry_steps(theta0, method, problem.epsilon, factor)
    items = Items(np.arange(layout.n))
    unsafe = np.zeros(layout.count, bool)
    step = problem.epsilon or method.step * factor  # the report's
    if method.imaginary:
        est = measure(site, method, items, h)
        if isinstance(est, Refusal):
            return est
        # Its re-measurements are central differences, at their own step.
        again, factor = CENTRAL, site.noise.step_factor(CENTRAL.order)
        h_again = entry_steps(theta0, CENTRAL, None, factor)
        unsafe = _complex_unsafe(problem, site, noise_probe, est, h_again)
    else:
        est = measure(site, method, items, h, settle=(problem.grad, problem.threshold))
        again, h_again = method, h
    return Evidence(problem.grad, est, layout.owner, items.axes, items, again, h_again,
                    step, unsafe, second_opinion=again is not method,
                    cross=None if method.imaginary else entry_steps(theta0, COMPLEX, None))


def _complex_unsafe(problem, site, noise_probe, est, h_central):
    """Tensors where central differences contradict the complex step `est` along the probe's
    direction v, at steps a decade and more apart: the cost is not complex-safe there (np.abs,
    norms, np.vdot). The first comparison, of the whole vector, is free (the probe measured
    it); the rest is made only when it fails."""
    layout, v = problem.layout, noise_probe.direction
    unsafe = np.zeros(layout.count, dtype=bool)
    if not noise_probe.moved:  # a cost that rounds to a constant tells nothing (judged elsewhere)
        return unsafe
    if judge.agrees(est.D @ v, np.abs(est.unc) @ np.abs(v), noise_probe.along):
        return unsafe
    V = Directions(layout.starts, tuple(v[a:b] for _, _, a, b in layout.slices))
    step = float(np.median(h_central / np.maximum(1.0, np.abs(problem.theta0))))
    again = [measure(site, CENTRAL, Items(directions=V), np.full(layout.count, step * factor))
             for factor in (1.0, *CONFIRM_STEPS)]
    return judge.complex_unsafe(V.dot(est.D), V.magnitude().dot(np.abs(est.unc)), again)


def _directions(problem, site, rng):
    """DIRECTIONS random unit directions per tensor (`unit_direction`), measured by the
    problem's method; a tensor whose directions cross a kink is split until each kink sits
    on a single entry."""
    method, layout = problem.method, problem.layout
    factor = site.noise.step_factor(method.order)
    h = tensor_steps(problem.theta0, layout, method, problem.epsilon, factor)
    owner = np.repeat(np.arange(layout.count), DIRECTIONS)
    # Every run in one buffer: one allocation, not one per direction (at n = 52751 in a fresh
    # process, 380 page faults per check instead of 524: glibc keeps more freed memory).
    sizes = (layout.stops - layout.starts)[owner]
    runs = np.split(np.empty(DIRECTIONS * layout.n), np.cumsum(sizes)[:-1])
    V = Directions(layout.starts[owner], tuple(unit_direction(rng, len(run), run) for run in runs))
    along = V.dot(problem.grad)
    est = measure(site, method, Items(directions=V), h[owner], settle=(along, problem.threshold))
    kinked = np.unique(owner[est.kink]).tolist()
    if kinked:
        keep = np.flatnonzero(~np.isin(owner, kinked))  # replaced by directions isolating kinks
        extra = [_isolate(problem, site, rng, t, h[t]) for t in kinked]
        extra_V = Directions.joined(extra)
        extra_owner = np.repeat(kinked, [len(rows) for rows in extra])
        extra_est = measure(site, method, Items(directions=extra_V), h[extra_owner],
                            settle=(extra_V.dot(problem.grad), problem.threshold))
        est = type(est)(*(np.concatenate([x[keep], y]) for x, y in zip(est, extra_est, strict=True)))
        V, owner = Directions.joined([V.take(keep), extra_V]), np.concatenate([owner[keep],
                                                                               extra_owner])
        along = V.dot(problem.grad)
    # a direction along one entry is that entry (its kink can be judged)
    return Evidence(along, est, owner, V.entry(), Items(directions=V), method, h[owner],
                    problem.epsilon or method.step * factor, np.zeros(layout.count, bool),
                    cross=None if method.imaginary else
                    tensor_steps(problem.theta0, layout, COMPLEX, None)[owner])


def _isolate(problem, site, rng, t, h):
    """`Directions` that cover tensor t with every kink on a single entry: runs whose random
    direction crosses a kink are halved, O(k log n) evaluations for k kinks. Stops after
    MAX_FOUND kinks; the runs left then are returned as they are (never accepted at a
    kink)."""
    layout = problem.layout
    frontier = [(layout.starts[t], layout.stops[t])]
    kept, kinks = [], 0
    while frontier:
        children, V = halves(frontier, rng)
        est = measure(site, problem.method, Items(directions=V), np.full(len(children), h))
        frontier = []
        for i, ((a, b), kinked) in enumerate(zip(children, est.kink.tolist(), strict=True)):
            if kinked and b - a > 1 and kinks < MAX_FOUND:
                frontier.append((a, b))
            else:
                kept.append(V.take([i]))
                kinks += kinked
    return Directions.joined(kept)


def _bisect(problem, site, rng, t, h):
    """The wrong entries of tensor t, by halving sets of entries that disagree.

    Each round tests both halves of every wrong set along a fresh random direction, so k
    wrong entries cost O(k log n) evaluations.

    Returns
    -------
    found : list of (entry of theta, analytic, numeric), at most MAX_FOUND
    complete : bool
        False when the search stopped at MAX_FOUND.
    """
    layout = problem.layout
    frontier, found, complete = [(layout.starts[t], layout.stops[t])], [], True
    while frontier:
        children, V = halves(frontier, rng)
        est = measure(site, problem.method, Items(directions=V), np.full(len(children), h))
        along = V.dot(problem.grad)
        bad = judge.disagreeing(along, est, problem.threshold) & ~est.kink
        frontier = []
        for child, is_bad, kinked, gj, dj in zip(children, bad.tolist(), est.kink.tolist(),
                                                 along.tolist(), est.D.tolist(), strict=True):
            if is_bad and child[1] - child[0] == 1:
                found.append((int(child[0]), gj, dj))
            elif (is_bad or kinked) and child[1] - child[0] > 1:  # a kink can hide a wrong entry
                frontier.append(child)
        room = MAX_FOUND - len(found)
        if len(frontier) > room:
            frontier, complete = frontier[:max(room, 0)], False
    return found[:MAX_FOUND], complete


def _upheld(problem, site, evidence, judgement, found):
    """The `judgement` of directions, each conviction upheld only where the entries that
    bisection `found` in the tensor are convicted as method="central" convicts an entry:
    confirmed at wider steps along its own axis too.

    A direction moves any one entry less than an axis step does, so its widest
    re-measurements can all stay on one tread of the staircase that float64 makes of a
    cost (a sigmoid underflowing to subnormals), where a discrepancy persists as a bug's
    would. A tensor whose bisection found no single entry keeps its conviction.
    """
    layout = problem.layout
    entries = np.array([e for t in found for e, _, _ in found[t][0]], dtype=int)
    if not len(entries):
        return judgement
    items = Items(axes=entries)
    h = entry_steps(problem.theta0, CENTRAL, problem.epsilon,
                    site.noise.step_factor(CENTRAL.order))[entries]
    est = measure(site, CENTRAL, items, h, settle=(problem.grad[entries], problem.threshold))
    along_axes = _judged(problem, site, Evidence(
        problem.grad[entries], est, layout.owner[entries], entries, items, CENTRAL, h,
        evidence.step, np.zeros(layout.count, bool),
        cross=entry_steps(problem.theta0, COMPLEX, None)[entries]))
    searched = np.zeros(layout.count, bool)
    searched[[t for t, (entries_t, _) in found.items() if entries_t]] = True
    return judge.upheld(judgement, evidence.owner, problem.threshold,
                        along_axes.wrong | ~searched)


def _refined(site, evidence, threshold):
    """`evidence` with the items the judge finds too uncertain measured again at the steps
    it asks for, keeping whichever estimate is most precise."""
    picks, narrow = judge.refinements(evidence, threshold)
    if not len(picks):
        return evidence
    first = estimate.Estimate(*(x[picks] for x in evidence.estimate))
    candidates = [_again(site, evidence, picks, narrow)]
    for small, wide in judge.RICHARDSON_PAIRS:
        at_small = first if small == 1.0 else _again(site, evidence, picks, small)
        candidates.append(estimate.richardson(at_small, _again(site, evidence, picks, wide),
                                              evidence.again.order))
    return evidence._replace(estimate=estimate.most_precise(evidence.estimate, picks, candidates))


def _judged(problem, site, evidence):
    """The judgement of `evidence`, with the re-measurements the judge asks for."""
    judgement = judge.judge(evidence, problem.threshold, problem.layout.count)
    picks = judgement.picks
    if not len(picks):
        return judgement
    again = [_again(site, evidence, picks, factor) for factor in judgement.factors]
    confirmation = judge.confirm(evidence, picks, judgement.factors, again)
    cross = None
    if evidence.cross is not None and confirmation.confirmed.any():
        at = picks[confirmation.confirmed]
        cross = measure(site, COMPLEX, evidence.items.take(at), evidence.cross[at])
        cross = None if isinstance(cross, Refusal) else cross
    return judge.conclude(evidence, judgement, confirmation, problem.threshold, cross)


def _again(site, evidence, picks, factor):
    """The items `picks` measured again, at `factor` x their step."""
    items = evidence.items.take(picks)
    return measure(site, evidence.again, items, items.exact(site.theta0, factor * evidence.h[picks]))


def _numerical(problem, judgement):
    """Is a check inconclusive for numerical reasons alone (no NaN, no kink left unjudged,
    finite backprop), with the step the checker's to choose, and small enough ("directional"
    re-runs per direction) that the complex step may settle it?"""
    troubles = np.isin(judgement.status, (judge.NONFINITE, judge.KINK_UNSURE))
    return (problem.epsilon is None and np.all(np.isfinite(problem.grad))
            and (problem.directional or problem.layout.n <= SETTLE_MAX_N)
            and not problem.method.imaginary and not troubles.any()
            and not judgement.unsafe.any())


def _early(problem, evaluator, why):
    """An inconclusive report made before any derivative was estimated."""
    layout = problem.layout
    rows = {key: ParameterResult(name, key, shape, float("nan"), "unsure")
            for key, (name, shape, _, _) in zip(layout.keys, layout.slices, strict=True)}
    return _report(problem, evaluator, explain.Findings(problem.threshold, early=why),
                   float("nan"), rows, float("nan"), problem.epsilon or problem.method.step)


def _report(problem, evaluator, findings, difference, rows, noise, step, context=()):
    """The report; `step` is the one the method used, `context` notes it prints."""
    findings, rows = explain.shapes(findings, rows, problem.misshapen)
    verdict, reason = explain.conclusion(findings)
    return GradientCheckReport(
        verdict=verdict, difference=float(difference),
        per_parameter={key: row.difference for key, row in rows.items()},
        suspects=[key for key, row in rows.items() if row.verdict == "wrong"],
        reason=reason, method=problem.name, epsilon=float(step),
        relative_step=problem.epsilon is None, threshold=problem.threshold,
        evaluations=evaluator.count, batched=bool(evaluator.mode), rows=rows,
        noise=float(noise), context=list(context))

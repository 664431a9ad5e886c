"""check_gradients: the pipeline, from the cost's values to the report."""

import dataclasses
import warnings

import numpy as np

from gradcheck import explain, inputs, judge, methods
from gradcheck.evaluate import CostRefused, Evaluator, GlobalRandom
from gradcheck.report import GradientCheckReport, ParameterResult
from gradcheck.tolerances import (
    CENTRAL_STEP,
    COMPLEX_STEP,
    EXTENDED,
    EXTENDED_MAX_N,
    THRESHOLD,
)


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
    method : {"central", "complex", "directional"}
        Central differences per entry; the complex step Im J(theta + ih e) / h per entry
        (`cost_fn` must accept complex arrays); or two seeded random directions per tensor,
        with bisection to the wrong entries, for large networks.
    epsilon : float or None
        The absolute step; None chooses it per entry (see Notes). At most max(1, |theta|).
    threshold : float
        Equation (2) must be below this to pass; in (0, 1).
    seed : int
        Seeds the random directions (a private generator; np.random is not touched).
    batched : bool or None
        None: batch the calls if the cost takes a leading batch axis, verified against single
        calls on the first points; True: batch without verifying; False: one call per point.

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

    Noise: the cost's noise is measured first, by ECnoise (Moré and Wild, 2011) on seven
    costs along a random direction, and is never taken below the rounding of float64
    (4 u |J|). A central difference D(h) at h = u^(1/3) max(1, |theta_i|) (widened by
    (noise / 4u|J|)^(1/3) for a noisy cost) is settled by +-h alone where it agrees with
    backprop within its noise, or to a tenth of the threshold; elsewhere +-2h give it the
    uncertainty |D(h) - D(2h)| (truncation) + its 4th difference beyond what noise explains
    (curvature, a kink) + noise / h. Items whose uncertainty keeps the check from
    certifying the threshold are measured again at the step their error model asks for,
    and with a fourth-order (Richardson) estimate.

    Verdicts: an entry is wrong only beyond 10x its uncertainty, in a tensor whose equation
    (2) is above `threshold`, and only if re-measurements at 10, 100, 1000 and 10000 times
    the step see the same discrepancy, consistently, and do not together move towards
    backprop; where the cost takes complex parameters, the complex step must side with
    them too. Numerical error changes with the step, a bug does not. "pass" needs equation
    (2) below `threshold`, the uncertainty below it too, and nothing unconfirmed; where
    central differences cannot reach that, the complex step may (if the cost takes complex
    parameters and agrees with them). Everything else is "inconclusive", with the reason.
    Kinks (one-sided slopes smooth on each side, jumping between) are left out of equation
    (2) and reported; an analytic value between the one-sided slopes is accepted, one
    outside them (several units switching at once) is not judged and makes the check
    inconclusive. No verdict of "fail" uses np.longdouble; with epsilon=None, an
    inconclusive check is run again in np.longdouble where that is wider than float64, and
    a "pass" there replaces it. A given `epsilon` is used as given.

    NumPy's legacy global random state is restored before every evaluation of a cost that
    draws from it (dropout masks repeat), and is the caller's again afterwards.
    """
    if not callable(cost_fn):
        raise TypeError(f"`cost_fn` must be callable, got {type(cost_fn).__name__}")
    problem = inputs.checked(parameters, gradients, method, epsilon, threshold, seed, batched)
    return run(cost_fn, problem)


def run(cost_fn, problem, label="cost_fn"):
    """The pipeline on a validated `problem`; the global random state is the caller's after.
    `label` names the function in error messages (check_vjp's is "fn")."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = _pipeline(cost_fn, problem, draws=False, label=label)
        if report is None:  # the cost drew from np.random after its first call
            report = _pipeline(cost_fn, problem, draws=True, label=label)
        if _worth_extending(problem, report):
            report = _extended(cost_fn, problem, report)
        return report


def _pipeline(cost_fn, problem, draws, label="cost_fn"):
    random = GlobalRandom()
    random.draws = draws
    try:
        report = _stages(cost_fn, problem, Evaluator(cost_fn, problem.layout, problem.batched,
                                                      random, label))
    finally:
        late = random.restore()
    return None if late and not draws else report


def _stages(cost_fn, problem, evaluator):
    layout = problem.layout
    rng = np.random.default_rng(problem.seed)
    J0 = evaluator.single(problem.theta0.copy())  # the cost may write into its arguments
    if not np.isfinite(J0):
        return _early(problem, evaluator, f"the cost at `parameters` is {float(J0)}, so no "
                      "derivative can be estimated")
    probe = methods.probe(evaluator, problem, J0, rng)
    if probe.spread > 0 and not evaluator.mode:
        return _early(problem, evaluator, f"two evaluations of the cost at the same parameters "
                      f"differ by {probe.spread:.1e}, so it is not deterministic (a private "
                      "random generator?) and no difference can be trusted; seed it, or draw "
                      "with np.random")
    evidence = methods.METHODS[problem.method](problem, evaluator, J0, probe, rng)
    if problem.epsilon is None:  # a given epsilon is checked as given
        evidence = methods.refine(evidence, problem.threshold)
    judgement = judge.judge(evidence, problem.threshold, layout.count)
    found = None
    if evidence.directions is not None:
        found = {}
        for t in np.flatnonzero(judgement.wrong):
            found[int(t)] = methods.bisect(problem, evaluator, J0, probe, rng, int(t),
                                           evidence.tensor_steps[t],
                                           judge.disagrees(problem.threshold))
    rows = explain.rows(layout, evidence, judgement, found)
    verdict, reason = explain.verdict(problem, evidence, judgement, probe, rows)
    if verdict == "inconclusive" and _numerical(problem, judgement):
        sharp = methods.sharpen(evidence, probe)
        if sharp is not None:
            judged = judge.judge(sharp, problem.threshold, layout.count)
            sharp_rows = explain.rows(layout, sharp, judged, None)
            again, why = explain.verdict(problem, sharp, judged, probe, sharp_rows)
            if again == "pass":
                judgement, rows = judged, sharp_rows
                verdict, reason = again, (why[:-1] + "; central differences could not resolve "
                                          "the derivatives to the threshold, the complex step "
                                          "did, and agrees with them.")
    return _report(problem, evaluator, verdict, judgement.difference, rows, reason,
                   explain.relative_noise(probe.noise), evidence.step)


def _may_settle_further(problem):
    """May a second estimator turn an inconclusive check into a pass? Only with the step the
    checker's to choose (a given epsilon is checked as given), a finite gradient, and a size
    whose per-entry re-run is affordable ("directional" re-runs per direction)."""
    return (problem.epsilon is None and np.all(np.isfinite(problem.grad))
            and (problem.method == "directional" or problem.layout.n <= EXTENDED_MAX_N))


def _numerical(problem, judgement):
    """Is a check inconclusive for numerical reasons alone (no NaN, no kink left unjudged),
    so that the complex step may settle it?"""
    troubles = np.isin(judgement.status, (judge.NONFINITE, judge.KINK_UNSURE))
    return (_may_settle_further(problem) and problem.method != "complex"
            and not troubles.any() and not judgement.unsafe.any())


def _worth_extending(problem, report):
    """Re-run in np.longdouble only where it can turn "inconclusive" into "pass"."""
    return (EXTENDED and report.verdict == "inconclusive" and _may_settle_further(problem)
            and problem.theta0.dtype == np.float64 and np.isfinite(report.difference))


def _extended(cost_fn, problem, report):
    """`report`, or the same check in np.longdouble if that passes."""
    def extended_cost(parameters):
        try:
            value = cost_fn(parameters)
        except Exception as error:  # np.linalg refuses np.longdouble: no such evidence
            raise CostRefused from error
        if np.asarray(value).dtype not in (np.longdouble, np.clongdouble):
            raise CostRefused  # a cost that computes in float64 would only repeat itself
        return value

    wide = dataclasses.replace(problem, theta0=problem.theta0.astype(np.longdouble))
    try:
        again = _pipeline(extended_cost, wide, draws=False)
    except CostRefused:
        again = None
    if again is None or again.verdict != "pass":
        return report
    again.evaluations += report.evaluations
    again.reason = (again.reason[:-1] + "; float64 could not resolve these derivatives, so "
                    "they were estimated in extended precision (np.longdouble).")
    return again


def _early(problem, evaluator, reason):
    """An inconclusive report made before any derivative was estimated."""
    layout = problem.layout
    rows = {key: ParameterResult(name, key, shape, float("nan"), "unsure")
            for key, (name, shape, _, _) in zip(layout.keys, layout.slices(), strict=True)}
    step = problem.epsilon if problem.epsilon is not None else (
        COMPLEX_STEP if problem.method == "complex" else CENTRAL_STEP)
    return _report(problem, evaluator, "inconclusive", float("nan"), rows, reason + ".",
                   float("nan"), step)


def _report(problem, evaluator, verdict, difference, rows, reason, noise, step):
    """The report; `step` is the one the method used (`Evidence.step`)."""
    relative = problem.epsilon is None
    return GradientCheckReport(
        verdict=verdict, difference=float(difference),
        per_parameter={key: row.difference for key, row in rows.items()},
        suspects=[key for key, row in rows.items() if row.verdict == "wrong"],
        reason=reason, method=problem.method, epsilon=float(step), relative_step=relative,
        threshold=problem.threshold, evaluations=evaluator.count, batched=bool(evaluator.mode),
        rows=rows, noise=float(noise))

"""check_vjp: check one layer's backward pass (a vector-Jacobian product) on its own."""

import contextlib
import dataclasses
from typing import NamedTuple

import numpy as np

from gradcheck import check
from gradcheck.evaluate import GlobalRandom
from gradcheck.inputs import checked
from gradcheck.structure import Outputs, gradients_by_order, shapes_of, upstream
from gradcheck.tolerances import (
    DOUT_STREAM,
    LINEARITY_COEFFICIENTS,
    LINEARITY_RTOL,
    RANDOM_DOUT_METHOD,
    THRESHOLD,
)

VERDICT_ORDER = ("pass", "inconclusive", "fail")  # the worse verdict of two checks wins


def check_vjp(fn, inputs, vjp, *, dout=None, method="central", epsilon=None,
              threshold=THRESHOLD, seed=0, batched=None):
    """Check ``vjp(dout)["d" + name]`` against the gradient of <fn(inputs), dout>.

    Parameters
    ----------
    fn : callable
        ``fn(inputs) -> ndarray`` of float64, of any shape `out_shape` (0-d allowed): the
        layer's output; or a tuple or dict of such arrays for a layer with several outputs
        (an LSTM step's ``(next_h, next_c)``), each of its own shape, but no cache: CS231n's
        ``lstm_step_forward(...)[:2]``, not the whole ``(next_h, next_c, cache)``. It gets a
        fresh copy of `inputs` at every call. If it also takes every input stacked as
        (B, *shape) and returns every output as (B, *out_shape), the calls are batched (see
        `batched`).
    inputs : dict of str -> ndarray of float64
        Everything the check differentiates, data and parameters alike, e.g.
        ``{"A_prev": A, "W": W, "b": b}``; constants live in `fn`'s closure. Never modified,
        not even by an `fn` or `vjp` that writes into them through a closure.
    vjp : callable
        ``vjp(dout) -> dict`` holding ``"d" + name`` for every input, shaped like it (other
        keys are ignored); or a tuple (or list) of the gradients in the order of `inputs`'
        keys, as CS231n's ``affine_backward(dout, cache)`` returns ``(dx, dw, db)`` for
        ``{"x": x, "w": w, "b": b}``: a dict keeps the order its keys were inserted in. A
        tuple of another length, or whose shapes fit the inputs in another order only, or in
        none, raises ValueError (naming the order that fits, if one does); shapes cannot
        tell same-shaped inputs (prev_h, prev_c) apart. It gets a fresh
        copy of dout, structured like `fn`'s output, at every call.
        A gradient with its input's number of entries but another shape is a finding, as in
        `check_gradients`.
    dout : ndarray of float64, shape out_shape; tuple or dict of them; or None
        The upstream gradient, structured like `fn`'s output (a tuple in its order, or a
        dict with its keys); None draws a seeded standard Gaussian one so structured. Never
        modified.
    method, epsilon, threshold, seed, batched
        As for `check_gradients`. `seed` also seeds the random upstream gradients (a private
        generator; np.random is not touched).

    Returns
    -------
    GradientCheckReport
        The check at `dout`: one row per input (keyed "d" + name), `verdict`, `reason` and
        `suspects` combining every check below, `evaluations` counting the points at which
        `fn` was evaluated over all of them, and `context` saying which upstream gradients
        were used.

    Notes
    -----
    The numerical check is `check_gradients` on the cost ``sum(fn(inputs) * dout)`` (summed
    over every output for several), whose gradient is J^T dout, J the Jacobian of `fn`. A
    single dout can hide an error: a backward written for dout = ones is right at dout =
    ones. So `vjp` must also be

    - linear in dout, as J^T dout is: at random d1, d2, ``vjp(a d1 + b d2)`` must equal
      ``a vjp(d1) + b vjp(d2)`` to round-off (`LINEARITY_RTOL`); a `vjp` that returns the
      same nonzero gradient for d1 and d2 ignores dout. Either is a "fail".
    - right at a random dout. A linear map M differs from J^T on a random Gaussian dout with
      probability 1 unless M = J^T, so with dout=None one random dout and the linearity check
      suffice. A dout of the caller's is not random: then `vjp` is also checked at a seeded
      random dout, with method="directional" (a few evaluations per input).

    The Deep Learning Specialization's ``linear_backward`` divides dW and db by m, the
    batch size: it returns the gradients of the mean cost over the batch, not J^T dout of
    the layer, and gets "dW is 1/m × the numerical gradient". Check it with those two
    multiplied back, returned in the order of `inputs`' keys (dA_prev has no 1/m)::

        def vjp(dZ):
            dA_prev, dW, db = linear_backward(dZ, cache)
            return dA_prev, m * dW, m * db
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
    if not callable(vjp):
        raise TypeError(f"`vjp` must be callable, got {type(vjp).__name__}")
    # Validates `inputs` and the settings before `fn` or `vjp` is called; the gradients are
    # stand-ins shaped like the inputs.
    stand_ins = {"d" + name: value for name, value in inputs.items()} \
        if isinstance(inputs, dict) else {}  # `checked` refuses `inputs` first
    base = checked(inputs, stand_ins, method, epsilon, threshold, seed, batched,
                   parameters_label="inputs")
    given = dout is not None
    if given:  # a float64 copy
        dout = upstream(dout)
    random_state = GlobalRandom()  # fn and vjp may draw from np.random: the caller's after
    try:
        # errstate: as in the pipeline, a non-finite output is reported, not warned about.
        with _kept(inputs), np.errstate(all="ignore"):
            return _check(fn, inputs, vjp, base, dout, given)
    finally:
        random_state.restore()


def _check(fn, inputs, vjp, base, dout, given):
    """check_vjp after validation (`base`: the validated inputs and settings): the numerical
    check(s), linearity, and the report."""
    layout, seed = base.layout, base.seed
    values = layout.unflatten(base.theta0)  # views of a private copy; fn gets copies of them
    # fn's output(s) and every dout, flat (n,): one array, or a tuple or dict of them
    outputs = Outputs(fn({name: value.copy() for name, value in values.items()}))
    rng = np.random.default_rng([seed, DOUT_STREAM])
    dout = outputs.dout(dout) if given else rng.standard_normal(outputs.layout.n)
    d2 = rng.standard_normal(outputs.layout.n)  # the second dout: linearity, the random check
    notes = set()

    def problem(upstream, method="directional" if base.directional else base.method):
        gradients = _call_vjp(vjp, upstream, outputs, layout, inputs, notes)
        return checked(values, gradients, method, base.epsilon, base.threshold, seed,
                       base.batched, parameters_label="inputs", gradients_label="vjp(dout)")

    first = problem(dout)
    # A shape finding is the same at every dout: the first check's reason tells it.
    second = dataclasses.replace(problem(d2, RANDOM_DOUT_METHOD), misshapen=())
    a, b = LINEARITY_COEFFICIENTS
    combined = problem(a * dout + b * d2)
    linearity, wrong = _linearity(layout, first.grad, second.grad, combined.grad, given)

    report = _run(fn, dout, outputs, first)
    report.evaluations += 1  # the call of fn that gave the outputs' shapes
    shape = outputs.described()
    results = [_Result("the check at the caller's dout" if given else "the numerical check",
                       report.verdict, report.reason)]
    if given:
        report.context.append(f"upstream gradient: the caller's dout, {shape}: "
                              f"{report.verdict}.")
        extra = _run(fn, d2, outputs, second)
        report.evaluations += extra.evaluations
        report.context.append(
            "a single dout can hide an error (a backward written for dout = ones is right at "
            f"dout = ones), so vjp was also checked at a seeded standard Gaussian dout (seed "
            f"{seed}) with method={RANDOM_DOUT_METHOD!r}: {extra.verdict}, "
            f"{extra.evaluations} evaluations.")
        if VERDICT_ORDER.index(extra.verdict) > VERDICT_ORDER.index(report.verdict):
            for key in extra.suspects:  # the random check's rows show what is wrong
                report.rows[key] = extra.rows[key]
                report.per_parameter[key] = extra.per_parameter[key]
        written_for = " (written for dout = ones?)" if np.all(dout == 1) else ""
        results.append(_Result(
            "right at the caller's dout but not at a seeded random dout, so right for that "
            f"dout only{written_for}" if (report.verdict, extra.verdict) == ("pass", "fail")
            else "the check at a seeded random dout", extra.verdict, extra.reason))
    else:
        report.context.append(f"upstream gradient: a seeded standard Gaussian dout, "
                              f"{shape} (seed {seed}).")
    results.append(linearity)
    if linearity.verdict == "pass" and linearity.reason:
        report.context.append(linearity.reason)
        if given and results[0].verdict == "inconclusive" and results[1].verdict == "pass":
            # A linear vjp right at a random dout is right at every dout (see the Notes), the
            # caller's too, where the derivatives may be unresolvable (<softmax(Z), ones> is
            # constant).
            results[0] = _Result(results[0].check, "pass", (
                "vjp is right at a seeded random dout and linear in dout, so right at every "
                f"dout. At the caller's dout alone (the rows below): {report.reason}"))
    for key in wrong:
        report.rows[key] = dataclasses.replace(report.rows[key], verdict="wrong")
    report.verdict, report.reason = _combined(results)
    report.suspects = [key for key in layout.keys if report.rows[key].verdict == "wrong"]
    report.context.extend(sorted(notes))
    return report


class _Result(NamedTuple):
    """One of check_vjp's checks, as data: which check, its verdict, its reason."""

    check: str
    verdict: str
    reason: str


def _combined(results):
    """The worst verdict of `results`, with a reason that names the check(s) giving it (the
    first check's own reason for a pass)."""
    verdict = max((r.verdict for r in results), key=VERDICT_ORDER.index)
    if verdict == "pass":
        return verdict, results[0].reason
    return verdict, " ".join(f"{r.check[0].upper()}{r.check[1:]}: {r.reason}"
                             for r in results if r.verdict == verdict)


def _call_vjp(vjp, dout, outputs, layout, inputs, notes):
    """``vjp`` of a fresh copy of dout (n,), shaped like `fn`'s output(s) by `outputs`, with
    `inputs` put back after the call: a `vjp` that writes into either still sees the same
    arguments at every call. A tuple of gradients is read in the order of `layout`."""
    argument = outputs.unflatten(dout)
    with _kept(inputs) as written:
        gradients = vjp(argument)
    after = outputs.flat(argument)
    if after is None or not np.array_equal(after, dout):
        notes.add("note: vjp writes into its argument dout (it was given a copy); in a network "
                  "that overwrites the upstream gradient: copy it first, e.g. "
                  "`dZ = np.array(dA, copy=True)`.")
    if written:
        notes.add("note: vjp writes into `inputs` (put back after every call); in a network "
                  "that overwrites the layer's cache.")
    if isinstance(gradients, (tuple, list)):
        return gradients_by_order(gradients, layout)
    if not isinstance(gradients, dict):
        raise TypeError(f"`vjp(dout)` must be a dict holding 'd' + name for every input, or a "
                        f"tuple of them in the order of `inputs`' keys ({', '.join(layout.keys)}),"
                        f" got {type(gradients).__name__}")
    return gradients


@contextlib.contextmanager
def _kept(inputs):
    """Put the caller's `inputs` back, dict and arrays, if `fn` or `vjp` wrote into them
    through a closure (the pipeline itself only ever works on copies). Yields a list that
    holds True afterwards if anything had to be put back."""
    entries = dict(inputs)
    saved = {name: value.copy() for name, value in entries.items()
             if isinstance(value, np.ndarray)}
    written = []
    try:
        yield written
    finally:
        if inputs.keys() != entries.keys() or any(inputs[k] is not v for k, v in entries.items()):
            inputs.clear()
            inputs.update(entries)
            written.append(True)
        for name, value in saved.items():
            if not np.array_equal(entries[name], value):
                np.copyto(entries[name], value)
                written.append(True)


def _cost(fn, dout, outputs, layout, refused):
    """``sum(fn(values) * dout)``, `fn`'s output(s) and dout flat (n,) by `outputs`, also for
    inputs stacked as (B, *shape): then (B,).

    An output of a new shape raises, and is also appended to `refused`: the pipeline takes
    an exception during an optional evaluation (the complex step) for a refusal of complex
    numbers, so the caller raises it again after the check.
    """
    name, ndim = layout.names[0], len(layout.shapes[0])

    def cost_fn(values):
        lead = values[name].shape[:values[name].ndim - ndim]  # () or (B,)
        raw = fn(values)
        out = outputs.flat(raw, lead)
        if out is None:
            got = shapes_of(raw)
            if lead:  # fn cannot batch: the pipeline falls back to single calls
                raise ValueError(f"`fn` returned {got} for inputs stacked as {lead} + shape, "
                                 f"expected every output stacked the same way")
            refused.append(ValueError(f"`fn` returned {got}, but {outputs.expected} at "
                                      "its first call: its output must keep its shape"))
            raise refused[-1]
        # The same summation for one point and a batch, so that batching is verified exactly.
        total = np.sum(np.reshape(out * dout, (*(lead or (1,)), -1)), axis=-1)
        return total if lead else total[0]
    return cost_fn


def _run(fn, dout, outputs, problem):
    """`check.run` of <fn, dout> on `problem`, raising a change of `fn`'s output shape."""
    refused = []
    report = check.run(_cost(fn, dout, outputs, problem.layout, refused), problem, label="fn")
    if refused:
        raise refused[0]
    return report


def _linearity(layout, g1, g2, g12, given):
    """Does vjp ignore dout, or is it not linear in it? (vjp at d1, at d2 and at a d1 + b d2,
    flattened like theta (n,); `given`: the caller passed dout.)

    Returns
    -------
    result : _Result
        "fail" naming the keys, or "pass" with the context line saying how linear it is
        ("" where no key could be tested).
    wrong : set of gradient keys
    """
    a, b = LINEARITY_COEFFICIENTS
    ignores, nonlinear, gaps = [], [], []
    for key, (_, shape, lo, hi) in zip(layout.keys, layout.slices, strict=True):
        x1, x2, x12 = g1[lo:hi], g2[lo:hi], g12[lo:hi]
        if not (np.isfinite(x1).all() and np.isfinite(x2).all() and np.isfinite(x12).all()):
            continue  # NaN gradients: the numerical check judges them
        if np.array_equal(x1, x2) and np.any(x1 != 0):  # zero is J^T dout of a zero Jacobian
            ignores.append(key)
            continue
        expected = a * x1 + b * x2
        gap = float(np.linalg.norm(x12 - expected))
        scale = abs(a) * float(np.linalg.norm(x1)) + abs(b) * float(np.linalg.norm(x2))
        if gap > LINEARITY_RTOL * scale:
            i = int(np.argmax(np.abs(x12 - expected)))
            index = tuple(int(j) for j in np.unravel_index(i, shape))
            nonlinear.append((key, index, float(x12[i]), float(expected[i])))
        else:
            gaps.append(gap / scale if scale > 0 else 0.0)
    found = []
    if ignores:
        found.append(f"`vjp` ignores the upstream gradient in {', '.join(ignores)}: it returns "
                     "the same values for two different dout (a backward multiplies by dout, "
                     "e.g. dZ = dA * g'(Z), not g'(Z)).")
    if nonlinear:
        key, index, got, expected = nonlinear[0]
        found.append(f"`vjp` is not linear in dout, as J^T dout is, in "
                     f"{', '.join(k for k, *_ in nonlinear)}: e.g. at {key}{index}, "
                     f"vjp({_combination('d1', 'd2')}) = {got:.4g} but "
                     f"{_combination('vjp(d1)', 'vjp(d2)')} = {expected:.4g} (no powers, "
                     "abs or clipping of dout, and no state kept between calls).")
    wrong = {*ignores, *(key for key, *_ in nonlinear)}
    if found or not gaps:
        return _Result("linearity in dout", "fail" if found else "pass", " ".join(found)), wrong
    worst = max(gaps)
    within = "exactly" if worst == 0 else f"to {worst:.0e} relative (round-off)"
    enough = "" if given else "; with vjp linear, one random dout suffices to check it"
    return _Result("linearity in dout", "pass", (
        f"linearity in dout: vjp({_combination('d1', 'd2')}) = "
        f"{_combination('vjp(d1)', 'vjp(d2)')} at a second random dout d2, "
        f"{within}{enough}.")), wrong


def _combination(x, y):
    """'a x + b y' with the coefficients of the linearity check, e.g. '0.75 d1 - 1.5 d2'."""
    a, b = LINEARITY_COEFFICIENTS
    return f"{a:g} {x} {'-' if b < 0 else '+'} {abs(b):g} {y}"

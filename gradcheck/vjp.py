"""check_vjp: check one layer's backward pass (a vector-Jacobian product) on its own."""

import contextlib
import dataclasses
from typing import NamedTuple

import numpy as np

from gradcheck import check
from gradcheck.evaluate import GlobalRandom
from gradcheck.inputs import checked, float64_array
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
        layer's output. It gets a fresh copy of `inputs` at every call. If it also takes every
        input stacked as (B, *shape) and returns (B, *out_shape), the calls are batched (see
        `batched`).
    inputs : dict of str -> ndarray of float64
        Everything the check differentiates, data and parameters alike, e.g.
        ``{"A_prev": A, "W": W, "b": b}``; constants live in `fn`'s closure. Never modified,
        not even by an `fn` or `vjp` that writes into them through a closure.
    vjp : callable
        ``vjp(dout) -> dict`` holding ``"d" + name`` for every input, shaped like it; other
        keys are ignored. It gets a copy of dout (out_shape) at every call. The course's
        ``linear_backward(dZ, cache)`` returns a tuple; wrap it as
        ``lambda dZ: dict(zip(("dA_prev", "dW", "db"), linear_backward(dZ, cache)))``.
    dout : ndarray of float64, shape out_shape, or None
        The upstream gradient; None draws a seeded standard Gaussian one. Never modified.
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
    The numerical check is `check_gradients` on the cost ``sum(fn(inputs) * dout)``, whose
    gradient is J^T dout, J the Jacobian of `fn`. A single dout can hide an error: a backward
    written for dout = ones is right at dout = ones. So `vjp` must also be

    - linear in dout, as J^T dout is: at random d1, d2, ``vjp(a d1 + b d2)`` must equal
      ``a vjp(d1) + b vjp(d2)`` to round-off (`LINEARITY_RTOL`); a `vjp` that returns the
      same nonzero gradient for d1 and d2 ignores dout. Either is a "fail".
    - right at a random dout. A linear map M differs from J^T on a random Gaussian dout with
      probability 1 unless M = J^T, so with dout=None one random dout and the linearity check
      suffice. A dout of the caller's is not random: then `vjp` is also checked at a seeded
      random dout, with method="directional" (a few evaluations per input).
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
    if not callable(vjp):
        raise TypeError(f"`vjp` must be callable, got {type(vjp).__name__}")
    # Validates `inputs` and the settings before `fn` or `vjp` is called; the gradients are
    # stand-ins shaped like the inputs.
    base = checked(inputs, _stand_ins(inputs), method, epsilon, threshold, seed, batched,
                   parameters_label="inputs")
    given = dout is not None
    if given:
        dout = _upstream(dout)
    random_state = GlobalRandom()  # fn and vjp may draw from np.random: the caller's after
    try:
        # errstate: as in the pipeline, a non-finite output is reported, not warned about.
        with _kept(inputs), np.errstate(all="ignore"):
            return _check(fn, inputs, vjp, base, dout, given,
                          (method, epsilon, threshold, seed, batched))
    finally:
        random_state.restore()


def _check(fn, inputs, vjp, base, dout, given, settings):
    """check_vjp after validation (`base`: the validated inputs): the numerical check(s),
    linearity, and the report."""
    method, epsilon, threshold, seed, batched = settings
    layout = base.layout
    values = layout.unflatten(base.theta0)  # views of a private copy; fn gets copies of them
    out = _output(fn(_copies(values)))
    rng = np.random.default_rng([seed, DOUT_STREAM])
    if given:
        if dout.shape != out.shape:
            raise ValueError(f"`dout` has shape {dout.shape}, expected {out.shape} like "
                             "`fn(inputs)`")
    else:
        dout = rng.standard_normal(out.shape)
    d2 = rng.standard_normal(out.shape)  # the second dout: linearity, and the random check
    notes = set()

    def problem(upstream, at_method=method):
        gradients = _call_vjp(vjp, upstream, inputs, notes)
        return checked(values, gradients, at_method, epsilon, threshold, seed, batched,
                       parameters_label="inputs", gradients_label="vjp(dout)")

    first = problem(dout)
    second = problem(d2, RANDOM_DOUT_METHOD)
    a, b = LINEARITY_COEFFICIENTS
    combined = problem(a * dout + b * d2)
    linearity = _linearity(layout, first.grad, second.grad, combined.grad)

    report = _run(fn, dout, out.shape, first)
    report.evaluations += 1  # the call of fn that gave out_shape
    shape = "()" if out.ndim == 0 else str(out.shape)
    if given:
        report.context.append(f"upstream gradient: the caller's dout, shape {shape}: "
                              f"{report.verdict}.")
        extra = _run(fn, d2, out.shape, second)
        report.context.append(
            "a single dout can hide an error (a backward written for dout = ones is right at "
            f"dout = ones), so vjp was also checked at a seeded standard Gaussian dout (seed "
            f"{seed}) with method={RANDOM_DOUT_METHOD!r}: {extra.verdict}, "
            f"{extra.evaluations} evaluations.")
        _merge(report, extra, ones=bool(np.all(dout == 1)),
               linear=linearity.worst is not None and not linearity.sentences())
    else:
        report.context.append(f"upstream gradient: a seeded standard Gaussian dout, shape "
                              f"{shape} (seed {seed}).")
    if linearity.ignores or linearity.nonlinear:
        _fail(report, layout, linearity)
    elif linearity.worst is not None:
        report.context.append(linearity.note(given))
    report.context.extend(sorted(notes))
    return report


def _stand_ins(inputs):
    """Gradients that pass validation whenever `inputs` does: the inputs themselves."""
    if not isinstance(inputs, dict):
        return {}  # `checked` refuses `inputs` first
    return {"d" + name: value for name, value in inputs.items()}


def _upstream(dout):
    """The caller's dout as a float64 copy, validated."""
    dout = np.array(float64_array("dout", dout), copy=True)
    if not np.isfinite(dout).all():
        raise ValueError("`dout` must be finite, got NaN or inf")
    return dout


def _copies(values):
    """A fresh dict of fresh arrays: `fn` may keep or write what it is given."""
    return {name: value.copy() for name, value in values.items()}


def _output(out):
    """The first output of `fn`, validated: a float64 array."""
    if isinstance(out, tuple):
        raise TypeError("`fn` returned a tuple, such as the course's (A, cache): return the "
                        "output alone, e.g. `lambda inputs: forward(inputs['Z'])[0]`")
    return float64_array("fn(inputs)", out)


def _call_vjp(vjp, dout, inputs, notes):
    """``vjp(dout)`` on a copy of dout, with `inputs` put back after the call: a `vjp` that
    writes into either still sees the same arguments at every call."""
    argument = dout.copy()
    with _kept(inputs) as written:
        gradients = vjp(argument)
    if not np.array_equal(argument, dout):
        notes.add("note: vjp writes into its argument dout (it was given a copy); in a network "
                  "that overwrites the upstream gradient: copy it first, e.g. "
                  "`dZ = np.array(dA, copy=True)`.")
    if written:
        notes.add("note: vjp writes into `inputs` (put back after every call); in a network "
                  "that overwrites the layer's cache.")
    if isinstance(gradients, tuple):
        raise TypeError("`vjp` returned a tuple, such as linear_backward's (dA_prev, dW, db): "
                        "return a dict holding 'd' + name, e.g. `lambda dZ: dict(zip(('dA_prev',"
                        " 'dW', 'db'), linear_backward(dZ, cache)))`")
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


def _cost(fn, dout, out_shape, layout, refused):
    """``sum(fn(values) * dout)``, also for inputs stacked as (B, *shape): then (B,).

    An output of a new shape raises, and is also appended to `refused`: the pipeline takes
    an exception during an optional evaluation (the complex step) for a refusal of complex
    numbers, so the caller raises it again after the check.
    """
    name, ndim = layout.names[0], len(layout.shapes[0])

    def cost_fn(values):
        lead = values[name].shape[:values[name].ndim - ndim]  # () or (B,)
        out = np.asarray(fn(values))
        if out.shape != lead + out_shape:
            if lead:  # fn cannot batch: the pipeline falls back to single calls
                raise ValueError(f"`fn` returned shape {out.shape} for inputs stacked as "
                                 f"{lead} + shape, expected {lead + out_shape}")
            refused.append(ValueError(f"`fn` returned shape {out.shape}, but {out_shape} at "
                                      "its first call: its output must keep its shape"))
            raise refused[-1]
        # The same summation for one point and a batch, so that batching is verified exactly.
        total = np.sum(np.reshape(out * dout, (*(lead or (1,)), -1)), axis=-1)
        return total if lead else total[0]
    return cost_fn


def _run(fn, dout, out_shape, problem):
    """`check.run` of <fn, dout> on `problem`, raising a change of `fn`'s output shape."""
    refused = []
    report = check.run(_cost(fn, dout, out_shape, problem.layout, refused), problem, label="fn")
    if refused:
        raise refused[0]
    return report


class _Linearity(NamedTuple):
    """What the calls of vjp at d1, d2 and a d1 + b d2 showed."""

    ignores: list  # gradient keys equal (and nonzero) at d1 and d2
    nonlinear: list  # (key, index, vjp(a d1 + b d2), a vjp(d1) + b vjp(d2)) at its worst entry
    worst: float | None  # largest relative discrepancy of the linear keys; None if none

    def sentences(self):
        """Why the vjp is wrong, one sentence per finding; empty if it is not."""
        found = []
        if self.ignores:
            found.append(f"`vjp` ignores the upstream gradient in {', '.join(self.ignores)}: it "
                         "returns the same values for two different dout (a backward "
                         "multiplies by dout, e.g. dZ = dA * g'(Z), not g'(Z)).")
        if self.nonlinear:
            key, index, got, expected = self.nonlinear[0]
            found.append(f"`vjp` is not linear in dout, as J^T dout is, in "
                         f"{', '.join(k for k, *_ in self.nonlinear)}: e.g. at {key}{index}, "
                         f"vjp({_combination('d1', 'd2')}) = {got:.4g} but "
                         f"{_combination('vjp(d1)', 'vjp(d2)')} = {expected:.4g} (no powers, "
                         "abs or clipping of dout, and no state kept between calls).")
        return found

    def note(self, given):
        """The context line of a linear vjp (`given`: the caller passed dout)."""
        within = "exactly" if self.worst == 0 else f"to {self.worst:.0e} relative (round-off)"
        enough = "" if given else "; with vjp linear, one random dout suffices to check it"
        return (f"linearity in dout: vjp({_combination('d1', 'd2')}) = "
                f"{_combination('vjp(d1)', 'vjp(d2)')} at a second random dout d2, "
                f"{within}{enough}.")


def _linearity(layout, g1, g2, g12):
    """Which gradient keys of vjp ignore dout, and which are not linear in it.

    Parameters
    ----------
    layout : inputs.Layout
    g1, g2, g12 : ndarray, shape (n,)
        vjp at d1, at d2 and at a d1 + b d2, flattened like theta.

    Returns
    -------
    _Linearity
    """
    a, b = LINEARITY_COEFFICIENTS
    ignores, nonlinear, gaps = [], [], []
    for key, (_, shape, lo, hi) in zip(layout.keys, layout.slices(), strict=True):
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
    return _Linearity(ignores, nonlinear, max(gaps) if gaps else None)


def _combination(x, y):
    """'a x + b y' with the coefficients of the linearity check, e.g. '0.75 d1 - 1.5 d2'."""
    a, b = LINEARITY_COEFFICIENTS
    return f"{a:g} {x} {'-' if b < 0 else '+'} {abs(b):g} {y}"


def _merge(report, extra, ones, linear):
    """Fold the check at the random dout into `report`, the check at the caller's dout
    (`ones`: that dout is all ones; `linear`: vjp was found linear in dout)."""
    report.evaluations += extra.evaluations
    if report.verdict == "inconclusive" and extra.verdict == "pass" and linear:
        # A linear vjp right at a random dout is right at every dout (see check_vjp's Notes),
        # the caller's too, where the derivatives may be unresolvable (<softmax(Z), ones> is
        # constant).
        report.reason = (f"vjp is right at a seeded random dout and linear in dout, so right at "
                         f"every dout. At the caller's dout alone (the rows below): "
                         f"{report.reason}")
        report.verdict = "pass"
        return
    if VERDICT_ORDER.index(extra.verdict) <= VERDICT_ORDER.index(report.verdict):
        return
    if report.verdict == "pass" and extra.verdict == "fail":
        report.reason = (f"Right at the caller's dout but wrong at a seeded random dout, so "
                         f"right for that dout only{' (written for dout = ones?)' if ones else ''}"
                         f": {extra.reason}")
    elif report.verdict == "pass":
        report.reason = f"Right at the caller's dout; at a seeded random dout: {extra.reason}"
    else:
        report.reason = (f"At a seeded random dout: {extra.reason} At the caller's dout: "
                         f"{report.reason}")
    report.verdict = extra.verdict
    for key in extra.suspects:  # the random check's rows show what is wrong
        report.rows[key] = extra.rows[key]
        report.per_parameter[key] = extra.per_parameter[key]
    report.suspects = [key for key in report.rows if key in report.suspects
                       or key in extra.suspects]


def _fail(report, layout, linearity):
    """Make `report` a "fail" for the keys whose vjp ignores dout or is not linear in it."""
    keys = {*linearity.ignores, *(key for key, *_ in linearity.nonlinear)}
    for key in keys:
        report.rows[key] = dataclasses.replace(report.rows[key], verdict="wrong")
    report.suspects = [key for key in layout.keys if key in keys or key in report.suspects]
    numerical = [] if report.verdict == "pass" else [f"The numerical check: {report.reason}"]
    report.reason = " ".join(linearity.sentences() + numerical)
    report.verdict = "fail"

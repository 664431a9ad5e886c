"""check_gradients: a gradient checker with an error model, a verdict and a per-parameter report."""

import contextlib
import ctypes
import html
import itertools
import numbers
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

EPS = np.finfo(np.float64).eps  # unit round-off u of float64, 2.2e-16
EXTENDED = np.finfo(np.longdouble).eps < EPS  # np.longdouble is wider (x86: yes; ARM macOS: no)
CENTRAL_STEP = EPS ** (1 / 3)  # ~6.1e-6: balances truncation O(h^2) against round-off O(u/h)
COMPLEX_STEP = 1e-20  # no subtractive cancellation, so the step can be tiny
THRESHOLD = 1e-7  # equation (2) must be below this to pass
METHODS = ("central", "complex", "directional")
SAFETY = 10.0  # a discrepancy counts only beyond this multiple of its estimated uncertainty
ROUNDOFF_ULPS = 4.0  # error of one cost evaluation, in units of u * |J|
COMPLEX_ULPS = 1e3  # error of a complex-step derivative, in units of u * (tensor's largest |D|)
CONFIRM_NEAR = 10.0  # a suspect must also disagree at a step this much larger ...
CONFIRM_FAR = 1000.0  # ... and not be refuted (a noisy small-step estimate) at this one
DOUBT = 3.0  # a far-step estimate this close (x its uncertainty) to backprop clears it
PRECISION_LOSS = 1e4  # ulps by which float64 and extended-precision costs may differ
CONFIRM_COUNT = 3  # entries (or directions) re-checked per suspect tensor
KINK_CLEAN = 0.1  # at a kink, one-sided slopes at h and 2h agree to this fraction of the jump
KINK_TOL = 2.0  # subgradient interval widened by this multiple of the one-sided drift
DIRECTIONS = 2  # random directions per tensor in method="directional"
MAX_FOUND = 10  # bisection stops after this many wrong entries per tensor
PATTERN_RTOL = 1e-4  # "2.00 x the numerical gradient" must hold entrywise to this
SHOWN_BELOW = 0.1  # reports show differences below this fraction of the threshold as a bound
PATTERN_SHOWN = 3  # wrong entries listed in a pattern sentence
KINKS_SHOWN = 5  # kinks listed in the text report
BATCH_RTOL = 1e-12  # a batched cost must match single calls this closely to be trusted
BATCH_BYTES = 32 * 2**20  # memory for the parameter stack of one batched call
CLEAR_FRACTION = 0.1  # entries this close (x threshold) skip the 2h evaluation
EXTENDED_MAX_N = 2000  # per-entry checks are re-run in np.longdouble (no BLAS) up to this n
PROBE_SCALE = 1e-3  # relative size of the random point used to verify batching


def check_gradients(cost_fn, parameters, gradients, *, method="central", epsilon=None,
                    threshold=THRESHOLD, seed=0, batched=None):
    """Compare backprop gradients with numerical derivatives of the cost, and say what is wrong.

    Parameters
    ----------
    cost_fn : callable
        ``cost_fn(parameters) -> float`` (a 0-d or size-1 array is accepted). It
        gets a fresh dict of fresh arrays at every call (a batched call: views
        into one buffer made for that call), so it may not keep or mutate the
        caller's arrays. A cost written with ``@`` and axis=-1
        reductions may also take every parameter stacked as (B, *shape) and
        return shape (B,); see `batched`.
    parameters : dict of str -> ndarray of float64
        Any names, shapes and number of entries. Never modified.
    gradients : dict of str -> ndarray of float64
        ``gradients["d" + name]`` shaped like ``parameters[name]``; other keys
        (dZ1, dA1, ...) are ignored. Never modified.
    method : {"central", "complex", "directional"}
        Per-entry two-sided differences; per-entry complex step Im J(theta + ih e) / h
        (`cost_fn` must accept complex arrays); or two seeded random directions per
        tensor, for large networks, with bisection to the wrong entries.
    epsilon : float or None
        Absolute step. None chooses it per entry from theory (see Notes).
    threshold : float
        Pass needs the difference of equation (2) below this; in (0, 1).
    seed : int
        Seeds the random directions and spot checks (a private generator).
    batched : bool or None
        None: call `cost_fn` on a batch of 2 points and use batches only if they
        match single calls to 1e-12 (verified again on the first full batch);
        True: batch at once, without that probe, fallback or test for randomness
        (fastest: for "central", J(theta) is a row of the first batch, so a check
        where every entry agrees at once is one call); False: one call per point.

    Returns
    -------
    GradientCheckReport
        `verdict` ("pass", "fail" or "inconclusive"), `passed`, `difference`,
        `per_parameter` (name -> difference), `suspects` (gradient keys such as
        "dW2"), `reason`, and one `ParameterResult` per parameter in `rows`.

    Raises
    ------
    TypeError, ValueError
        For bad arguments, naming the argument. float16 and float32 arrays are
        refused rather than promoted: their round-off (~1e-7 relative for
        float32) is as large as the threshold, so a check of them says nothing;
        cast with ``.astype(np.float64)``.

    Notes
    -----
    Equation (2) is ``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``; for
    "directional" it runs over the vector of directional derivatives.

    Steps: a central difference D(h) has truncation error ~h^2 and round-off
    ~u |J| / h (u = 2.2e-16), balanced at h = u^(1/3) * max(1, |theta_i|) ~ 6e-6
    per entry (per tensor with the tensor's RMS for "directional"). The complex
    step has no cancellation, so h = 1e-20 * max(1, |theta_i|).

    Error model: each estimate D(h) comes with D(2h) (skipped for entries that
    already agree within round-off or a tenth of the threshold); its uncertainty
    is |D(h) - D(2h)| (truncation) + the 4th difference of the 5 costs (noise or
    a kink) + 4 u |J| / h (round-off). An entry is wrong only beyond 10 times its
    uncertainty, and a tensor is a suspect only if its own difference is above
    `threshold` and, for its worst entries, the discrepancy persists at a 10x
    larger step, is not cleared at a 1000x larger step, and is not contradicted
    by the same stencil in np.longdouble (a cost such as log(1 - sigmoid(z)) of
    a saturated unit is flat in float64 and fools every step). "pass" needs
    difference < threshold and no suspect; anything else that is not a proven
    error gives "inconclusive". Kinks (ReLU), found where the one-sided
    slopes at h and 2h agree on each side but jump between sides, are left out
    of equation (2); the analytic value must lie between the left and right
    slopes (a valid subgradient). The legacy global random state is restored
    before every evaluation, so dropout masks drawn with np.random repeat.

    Complex step: the worst entries of each tensor and one random entry are
    checked with central differences. Where both step sizes side against the
    complex step, the code is "not complex-safe" (np.abs, norms, np.vdot) only if
    the same complex step in np.clongdouble gives the same value; if it changes,
    float64 itself failed (a subnormal intermediate such as sigmoid(-720), whose
    imaginary part underflows, or a rounded 1 - sigmoid(z)), and the reason says so.

    Extended precision: with epsilon=None, a check that float64 leaves
    inconclusive for numerical reasons alone (discrepancies not confirmed, or
    within the uncertainty) is run again with theta in np.longdouble (up to
    EXTENDED_MAX_N entries for "central" and "complex"); only a "pass" from that
    re-run replaces the float64 verdict, and its reason says so. A cost that
    cannot compute in np.longdouble (np.linalg) keeps the float64 verdict.
    Without an np.longdouble wider than float64 (e.g. ARM macOS) these re-runs,
    the re-check of complex-safety and the extended-precision confirmation
    above are skipped.
    """
    layout, theta0, grad = _validate(cost_fn, parameters, gradients, method, epsilon,
                                     threshold, seed, batched)
    random_state = _GlobalRandom()
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rng = _LazyGenerator(seed)
            evaluator = _Evaluator(cost_fn, layout, theta0, batched, random_state)
            # The first points of the check, for batched=True to evaluate with J(theta0).
            lead = _central_lead(theta0, epsilon) if method == "central" and batched else None
            J0, first = evaluator.start(rng, lead)
            context = _Context(evaluator, layout, theta0, grad, J0, method, epsilon,
                               threshold, rng, layout.any(~np.isfinite(grad)), first)
            if not np.isfinite(J0):
                return _early_report(context, f"the cost at `parameters` is {J0}, "
                                     "so no derivative can be estimated")
            if evaluator.spread:
                return _early_report(context, _nondeterministic(evaluator.spread))
            report = _CHECKS[method](context)
            if evaluator.spread:  # batching fell back to single calls and found randomness
                return _early_report(context, _nondeterministic(evaluator.spread))
            return report
    finally:
        random_state.reset()  # the caller's state, whatever cost_fn drew


class _LazyGenerator:
    """``np.random.default_rng(seed)``, made at its first use (most checks draw nothing)."""

    __slots__ = ("seed", "generator")

    def __init__(self, seed):
        self.seed, self.generator = seed, None

    def __getattr__(self, name):
        if self.generator is None:
            self.generator = np.random.default_rng(self.seed)
        return getattr(self.generator, name)


@dataclass
class Kink:
    """An entry where the cost has a kink (e.g. ReLU at 0) within the step."""

    index: tuple
    analytic: float
    left: float  # one-sided derivative (J(theta) - J(theta - h)) / h
    right: float  # one-sided derivative (J(theta + h) - J(theta)) / h
    valid: bool  # analytic lies between left and right: a valid subgradient


@dataclass
class ParameterResult:
    """The check of one parameter tensor: one row of the report."""

    name: str
    gradient: str  # "d" + name
    shape: tuple
    difference: float  # equation (2) over this tensor
    verdict: str  # "ok", "wrong", "unsure" or "not complex-safe"
    worst_index: tuple | None = None  # entry with the largest |analytic - numeric|
    analytic: float | None = None
    numeric: float | None = None
    pattern: str = ""  # e.g. "dW2 is 2.00 × the numerical gradient"
    entries: list = field(default_factory=list)  # wrong entries: (index, analytic, numeric)
    entries_complete: bool = True  # False when the bisection stopped at MAX_FOUND
    kinks: list = field(default_factory=list)  # Kink per entry at a kink


# repr=False: the dataclass repr would print every float in full, machine-dependent digits included.
@dataclass(repr=False)
class GradientCheckReport:
    """Result of `check_gradients`: a verdict with its reason, and one row per parameter."""

    verdict: str
    difference: float
    per_parameter: dict
    suspects: list
    reason: str
    method: str
    epsilon: float  # the step (relative to max(1, |theta|) when relative_step)
    relative_step: bool
    threshold: float
    evaluations: int  # number of points at which the cost was evaluated
    batched: bool
    rows: dict  # name -> ParameterResult

    @property
    def passed(self):
        return self.verdict == "pass"

    def _table(self):
        header = ["gradient", "shape", "difference", "verdict", "worst entry", "analytic",
                  "numeric"]
        lines = []
        for row in self.rows.values():
            shown = row.verdict != "ok" and row.worst_index is not None
            difference = _fmt_difference(row.difference, self.threshold)
            lines.append([row.gradient, str(row.shape), difference, row.verdict,
                          str(row.worst_index) if shown else "-",
                          _fmt_value(row.analytic) if shown else "-",
                          _fmt_value(row.numeric) if shown else "-"])
        return header, lines

    def _notes(self):
        step = f"{self.epsilon:.1e}"
        if self.relative_step:
            scale = "rms(theta)" if self.method == "directional" else "|theta_i|"
            step += f" × max(1, {scale})"
        notes = [f"method: {self.method}, step: {step}, cost evaluations: {self.evaluations}"
                 f"{' (batched)' if self.batched else ''}",
                 f"verdict: {self.verdict}", f"reason: {self.reason}"]
        for row in self.rows.values():
            if row.entries:
                more = "" if row.entries_complete else f" (search stopped at {MAX_FOUND})"
                notes.append(f"{row.gradient} wrong entries{more}: " + "; ".join(
                    f"{index} analytic {_fmt_value(a)}, numeric {_fmt_value(d)}"
                    for index, a, d in row.entries))
        kinks = [(row.gradient, kink) for row in self.rows.values() for kink in row.kinks]
        for gradient, kink in kinks[:KINKS_SHOWN]:
            notes.append(f"kink at {gradient}{kink.index}: left {_fmt_value(kink.left)}, "
                         f"right {_fmt_value(kink.right)}, analytic {_fmt_value(kink.analytic)}"
                         f" ({'valid' if kink.valid else 'not a'} subgradient)")
        if len(kinks) > KINKS_SHOWN:
            notes.append(f"... and {len(kinks) - KINKS_SHOWN} more kinks")
        return notes

    def __str__(self):
        header, lines = self._table()
        widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
        table = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                 .rstrip()
                 for line in [header, *lines]]
        return "\n".join(table + self._notes())

    __repr__ = __str__  # the table, also in a REPL and as Jupyter's text/plain

    def _repr_html_(self):
        header, lines = self._table()
        cells = lambda line, tag: "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in line)  # noqa: E731
        body = "".join(f"<tr>{cells(line, 'td')}</tr>" for line in lines)
        notes = "".join(f"<p>{html.escape(note)}</p>" for note in self._notes())
        return (f"<table><thead><tr>{cells(header, 'th')}</tr></thead>"
                f"<tbody>{body}</tbody></table>{notes}")


def _validate(cost_fn, parameters, gradients, method, epsilon, threshold, seed, batched):
    """Check every argument of `check_gradients`; return the layout and float64 copies."""
    if not callable(cost_fn):
        raise TypeError(f"`cost_fn` must be callable, got {type(cost_fn).__name__}")
    if not isinstance(parameters, dict):
        raise TypeError("`parameters` must be a dict of name -> float64 array, "
                        f"got {type(parameters).__name__}")
    if not parameters:
        raise ValueError("`parameters` must not be empty")
    if not isinstance(gradients, dict):
        raise TypeError("`gradients` must be a dict holding 'd' + name for every parameter, "
                        f"got {type(gradients).__name__}")
    thetas, grads, slots = [], [], []
    for name, value in parameters.items():
        if not isinstance(name, str):
            raise TypeError(f"`parameters` keys must be str, got {name!r}")
        if type(value) is not np.ndarray or value.dtype != np.float64:  # else as it is
            value = _float64_array(f"parameters[{name!r}]", value)
        if value.size == 0:
            raise ValueError(f"`parameters[{name!r}]` must not be empty")
        key = "d" + name
        if key not in gradients:
            raise ValueError(f"`gradients` has no key {key!r} for parameter {name!r}")
        gradient = gradients[key]
        if type(gradient) is not np.ndarray or gradient.dtype != np.float64:
            gradient = _float64_array(f"gradients[{key!r}]", gradient)
        if gradient.shape != value.shape:
            raise ValueError(f"`gradients[{key!r}]` has shape {gradient.shape}, "
                             f"expected {value.shape} like `parameters[{name!r}]`")
        thetas.append(value.ravel())
        grads.append(gradient.ravel())
        slots.append((name, value.shape))
    # Copies in float64 (concatenate never returns a view), so nothing can touch the caller's.
    theta0 = np.concatenate(thetas, dtype=np.float64)
    grad = np.concatenate(grads, dtype=np.float64)
    layout = _layout(tuple(slots))
    if not np.isfinite(theta0).all():
        name = layout.names[layout.owner[np.flatnonzero(~np.isfinite(theta0))[0]]]
        raise ValueError(f"`parameters[{name!r}]` must be finite, got NaN or inf entries")
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, METHODS))}, "
                         f"got {method!r}")
    if epsilon is not None:
        _positive_real("epsilon", epsilon)
    _positive_real("threshold", threshold)
    if threshold >= 1:
        raise ValueError(f"`threshold` must be below 1 (a relative difference), got {threshold!r}")
    if not (type(seed) is int and seed >= 0) and (  # the common case, then in general
            not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0):
        raise TypeError(f"`seed` must be a non-negative int, got {seed!r}")
    if batched not in (None, True, False):
        raise TypeError(f"`batched` must be None, True or False, got {batched!r}")
    return layout, theta0, grad


def _float64_array(label, value):
    """Return `value` as an array, refusing anything but float64 (or wider) reals."""
    if type(value) is np.ndarray and value.dtype == np.float64:
        return value  # the common case, without the checks below
    value = np.asarray(value)
    kind = value.dtype.kind
    if kind in "biu":
        raise TypeError(f"`{label}` must be a float64 array, got {value.dtype}: "
                        "integers and booleans cannot take small steps")
    if kind == "c":
        raise TypeError(f"`{label}` must be a real float64 array, got {value.dtype} "
                        "(method='complex' adds the imaginary step itself)")
    if kind != "f":
        raise TypeError(f"`{label}` must be a float64 array, got {value.dtype}")
    if value.dtype.itemsize < 8:
        raise TypeError(f"`{label}` must be float64, got {value.dtype}: its round-off "
                        f"(~{np.finfo(value.dtype).eps:.0e} relative) is as large as the "
                        "threshold, so the check would be meaningless; cast it with "
                        ".astype(np.float64)")
    return value


def _positive_real(label, value):
    """Raise unless `value` is a finite real number > 0."""
    if type(value) is float and 0 < value < np.inf:
        return  # the common case, without the checks below
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"`{label}` must be a positive float, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"`{label}` must be a positive finite float, got {value!r}")


_LAYOUTS = {}  # (name, shape) pairs -> _Layout, for repeated checks of the same network
_LAYOUTS_KEPT = 32


def _layout(slots):
    """The (read-only, shared) `_Layout` of the (name, shape) pairs `slots`."""
    layout = _LAYOUTS.get(slots)
    if layout is None:
        if len(_LAYOUTS) >= _LAYOUTS_KEPT:
            _LAYOUTS.clear()
        layout = _LAYOUTS[slots] = _Layout(slots)
    return layout


class _Layout:
    """Names, shapes and slices of the parameter tensors inside theta (n,)."""

    def __init__(self, slots):
        self.names = [name for name, _ in slots]
        self.shapes = [shape for _, shape in slots]
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape in self.shapes]
        stops = list(itertools.accumulate(sizes))
        starts = [stop - size for stop, size in zip(stops, sizes, strict=True)]
        self.stops, self.starts = np.array(stops), np.array(starts)
        self.n = stops[-1]
        self.count = len(sizes)
        self.owner = np.repeat(np.arange(self.count), sizes)  # tensor of each entry
        self.owner3 = _stacked_owner(self.owner, self.count)
        self.slots = list(zip(self.names, self.shapes, starts, stops, strict=True))
        self.indices = {}  # (t, flat) -> index tuple, memo of `index`
        for array in (self.stops, self.starts, self.owner, self.owner3):
            array.flags.writeable = False  # shared between checks

    def any(self, mask, owner=None):
        """Per tensor: does `mask` hold for any of its entries (or items owned)?"""
        owner = self.owner if owner is None else owner
        return np.bincount(owner[mask], minlength=self.count) > 0

    def index(self, t, flat):
        """Index tuple (of ints), in tensor t's shape, of its flat entry `flat`."""
        key = (int(t), int(flat))
        index = self.indices.get(key)
        if index is None:
            index, flat = [], key[1]
            for size in reversed(self.shapes[t]):
                flat, i = divmod(flat, size)
                index.append(i)
            index = tuple(reversed(index))
            if len(self.indices) < 1024:
                self.indices[key] = index
        return index


_MT19937_STATE = ctypes.c_uint32 * 625
_LIVE_STATE = [None, None, None]  # the global bit generator, a view of its state, of its gauss


def _live_views(generator):
    """Views of the MT19937 key and position and of the global RandomState's cached Gaussian
    (has_gauss, gauss), or None when they cannot be found and verified."""
    if _LIVE_STATE[0] is generator:
        return _LIVE_STATE[1:]
    _LIVE_STATE[:] = [None, None, None]
    singleton = np.random.mtrand._rand
    if type(generator) is not np.random.MT19937 or singleton._bit_generator is not generator:
        return None
    address = generator.ctypes.state_address  # {uint32 key[624]; int pos}
    live = _MT19937_STATE.from_address(address)
    # RandomState holds `bitgen_t _bitgen` (5 pointers, the first the state address), then
    # `aug_bitgen_t _aug_state` = {bitgen_t *bit_generator (= &_bitgen); int has_gauss;
    # double gauss}. Found by those two pointers, then verified against get_state.
    base, words = id(singleton), type(singleton).__basicsize__ // 8
    memory = (ctypes.c_size_t * words).from_address(base)
    gauss = None
    for i in range(2, words - 7):
        if memory[i] == address and memory[i + 5] == base + 8 * i:
            gauss = (ctypes.c_int.from_address(base + 8 * (i + 6)),
                     ctypes.c_double.from_address(base + 8 * (i + 7)))
            break
    if gauss is None:
        return None
    saved = np.random.get_state()
    if (saved[0] != "MT19937" or live[624] != saved[2]
            or bytes(live)[:-4] != np.asarray(saved[1], np.uint32).tobytes()
            or (gauss[0].value, gauss[1].value) != (saved[3], saved[4])):
        return None
    _LIVE_STATE[:] = [generator, live, gauss]
    return _LIVE_STATE[1:]


class _GlobalRandom:
    """NumPy's legacy global random state, saved once and put back before every evaluation.

    np.random.get_state/set_state take ~30 us each, more than a small batched
    cost, so live views of the MT19937 key and position and of the cached
    Gaussian tell whether anything was drawn (and save the state), and the full
    state is set back only then. A cost that draws at its first evaluation is
    reset before every later one.
    """

    def __init__(self):
        self.generator = np.random.get_bit_generator()
        self.live, self.quiet, self.calls, self.saved = None, False, 0, None
        try:
            views = _live_views(self.generator)
        except (AttributeError, TypeError, ValueError):
            views = None
        if views is None:
            self.saved = np.random.get_state()
        else:
            self.live, self.gauss = views
            self.snapshot = bytes(self.live)  # compared as bytes: the fastest test for a change
            self.cached = (self.gauss[0].value, self.gauss[1].value)
            self.quiet = None

    def reset(self):
        """Make the global state what it was when this object was made."""
        self.calls += 1
        if self.calls == 1:
            return  # nothing has been evaluated yet
        if self.quiet is None:  # after the first evaluation: did cost_fn draw?
            self.quiet = not self._moved()
        if not self.quiet or self._moved():
            if self.saved is None:
                key = np.frombuffer(self.snapshot, np.uint32, 624).copy()
                position = int(np.frombuffer(self.snapshot, np.int32, 1, 4 * 624)[0])
                self.saved = ("MT19937", key, position, *self.cached)
            np.random.set_state(self.saved)

    def _moved(self):
        return (np.random.get_bit_generator() is not self.generator
                or bytes(self.live) != self.snapshot
                or (self.gauss[0].value, self.gauss[1].value) != self.cached)


class _CostFailed(Exception):
    """`cost_fn` raised during an optional evaluation (see `_Evaluator.optional`)."""


class _Evaluator:
    """Evaluates the cost at points theta, batched when that has been verified to be safe."""

    def __init__(self, cost_fn, layout, theta0, batched, random_state):
        self.cost_fn, self.layout, self.theta0 = cost_fn, layout, theta0
        self.mode = batched  # None until verified
        self.random_state = random_state
        self.count = 0
        # (row (n,), expected cost or None): one more row for the next batch (see `start`)
        self.extra = None
        self.extra_value = None  # its cost
        self.spread = 0.0  # |J(theta0) - J(theta0)| over repeated single calls
        self.J0 = None
        self.optional_depth = 0

    @contextlib.contextmanager
    def optional(self):
        """Evaluations that may fail (in np.longdouble, which np.linalg refuses): inside,
        an exception raised by `cost_fn` becomes `_CostFailed`; the checker's own errors
        stay what they are."""
        self.optional_depth += 1
        try:
            yield
        finally:
            self.optional_depth -= 1

    def _call(self, parameters):
        if not self.optional_depth:
            return self.cost_fn(parameters)
        try:
            return self.cost_fn(parameters)
        except Exception as error:
            raise _CostFailed from error

    def start(self, rng, lead=None):
        """Return J(theta0), and the costs at ``lead = (rows, count)``, the first points the
        check needs, when they were evaluated here (else None); settle the batching mode and
        test for randomness.

        - batched=True: theta0 is one more row of lead's batch (a check can be one call);
          no probe, no fallback, no test for randomness.
        - None: J(theta0) from a single call, then a probe, the batch (P, theta0) with P
          away from theta0 in every entry, so that a cost which ignores or mixes the batch
          elements of any parameter shows it; P is evaluated again in the first full batch.
          A probe of 2 rows, because a cost that is not batch-capable may still run on a
          batch and blow up (np.dot of stacks makes B x B intermediates).
        - False, or a failed probe: single calls; J(theta0) twice, to test for randomness.
        """
        if self.mode is True and lead is not None:
            self.extra = (self.theta0, None)
            values = self.evaluate(*lead)
            self.J0 = self.extra_value
            return self.J0, values
        self.J0 = self.single(self.theta0)
        if self.mode is None and np.isfinite(self.J0):
            # A point away from theta0 in every entry, so that a cost mixing or
            # ignoring batch elements of any parameter shows it.
            point = np.abs(self.theta0)
            np.maximum(point, 1, out=point)
            point *= PROBE_SCALE
            point *= rng.standard_normal(self.layout.n)
            point += self.theta0
            values = self._try_batch(np.stack([point, self.theta0]))
            if values is not None and _agree(values[1], self.J0):
                self.extra = (point, values[0])
            else:
                self._fall_back()
        elif self.mode is None:
            self._fall_back()
        elif self.mode is False:
            self.spread = abs(self.single(self.theta0) - self.J0)
        return self.J0, None

    def evaluate(self, rows, count, dtype=np.float64):
        """Costs (count,) at the points that ``rows(start, stop, points)`` writes into the
        (stop - start, n) array `points`."""
        out = np.empty(count, dtype=dtype)
        chunk = max(1, BATCH_BYTES // (self.layout.n * np.dtype(dtype).itemsize))
        for start in range(0, count, chunk):
            stop = min(count, start + chunk)
            out[start:stop] = self._values(rows, start, stop, dtype)
        return out

    def single(self, point):
        """Cost at one point (n,), called with a fresh dict of fresh arrays."""
        self.random_state.reset()  # the same dropout masks at every call
        self.count += 1
        value = self._call({name: point[a:b].reshape(shape).copy()
                            for name, shape, a, b in self.layout.slots})
        return _scalar(value)

    def _values(self, rows, start, stop, dtype):
        size = stop - start
        if self.extra is not None:  # one more row: theta0, or the probe's point to check
            row, expected = self.extra
            self.extra = None
            points = np.empty((size + 1, self.layout.n), dtype=dtype)
            rows(start, stop, points[:size])
            points[size] = row
            values = self._batch(points) if self.mode else self._try_batch(points)
            if values is not None and (expected is None or _agree(values[-1].real, expected)):
                self.mode, self.extra_value = True, values[-1]
                return values[:-1]
            self._fall_back()
        points = np.empty((size, self.layout.n), dtype=dtype)
        rows(start, stop, points)  # afresh: a failed batch call may have written to them
        if self.mode:
            return self._batch(points)
        return np.array([self.single(point) for point in points])

    def _batch(self, points):
        self.random_state.reset()
        size = len(points)
        self.count += size
        # Views into `points` (made for this call alone), one per parameter: (size, *shape).
        values = np.asarray(self._call({
            name: points[:, a:b].reshape((size, *shape))
            for name, shape, a, b in self.layout.slots}))
        if values.shape != (size,) or values.dtype.kind not in "iufc":
            raise ValueError(f"`cost_fn` returned shape {values.shape} for a batch of {size} "
                             f"points, expected ({size},); pass batched=False")
        return values if points.dtype.kind == "c" else values.real

    def _try_batch(self, points):
        """`_batch`, or None when the cost cannot take a leading batch axis."""
        try:
            return self._batch(points)
        except Exception:  # any failure just means: not batch-capable
            return None

    def _fall_back(self):
        self.mode, self.extra = False, None
        self.spread = abs(self.single(self.theta0) - self.J0)


def _scalar(value):
    """The cost as a float (or complex) number; refuse anything but a single number."""
    if type(value) is np.float64:
        return value + 0.0  # the common case, as below
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"`cost_fn` must return a number, got {type(value).__name__}")
    if array.size != 1:
        raise ValueError("`cost_fn` must return a scalar (a float, or a 0-d or size-1 array), "
                         f"got shape {array.shape}")
    return array.reshape(-1)[0] + 0.0


def _agree(a, b):
    """Do two evaluations of the same cost agree to BATCH_RTOL?"""
    return bool(abs(a - b) <= BATCH_RTOL * max(abs(a), abs(b)))


class _Context(NamedTuple):
    evaluator: _Evaluator
    layout: _Layout
    theta0: np.ndarray
    grad: np.ndarray
    J0: float
    method: str
    epsilon: float | None
    threshold: float
    rng: np.random.Generator
    grad_nonfinite: np.ndarray  # (count,) bool: the tensor's gradient has NaN or inf
    first: np.ndarray | None  # costs at the method's first points, if `start` evaluated them
    extended: bool = False  # a re-run in np.longdouble (see `_rescue`)


class _Estimate(NamedTuple):
    """Central differences with their error model; arrays over the points estimated."""

    D: np.ndarray  # (J(+h) - J(-h)) / 2h
    unc: np.ndarray  # truncation + noise + roundoff
    left: np.ndarray  # (J0 - J(-h)) / h
    right: np.ndarray  # (J(+h) - J0) / h
    kink: np.ndarray  # one-sided slopes smooth on each side, jumping between them
    lo: np.ndarray  # subgradient interval at a kink
    hi: np.ndarray
    truncation: np.ndarray
    noise: np.ndarray
    roundoff: np.ndarray
    flat: np.ndarray  # all four costs equal J0 exactly: no information at this step


_STENCIL = np.array([1.0, -1.0, 2.0, -2.0])  # steps +h, -h, +2h, -2h


def _estimate(J0, J, h, partial=None):
    """Error model from the costs J (4, k) at theta + (h, -h, 2h, -2h) * direction.

    Where `partial` (k,) is set only the first two rows were evaluated; those
    entries agree with the analytic value within round-off, so their
    uncertainty is the round-off alone.
    """
    Jp, Jm, Jp2, Jm2 = J
    D, D2 = (Jp - Jm) / (2 * h), (Jp2 - Jm2) / (4 * h)
    right, left = (Jp - J0) / h, (J0 - Jm) / h
    right2, left2 = (Jp2 - J0) / (2 * h), (J0 - Jm2) / (2 * h)
    roundoff = _roundoff(J0, J[:2], h)
    # (right2 - left2) - 2 (right - left) is the 4th difference / 2h: O(h^3) when
    # smooth, the jump of the slope at a kink, or the noise of the cost.
    noise = np.abs((right2 - left2) - 2 * (right - left))
    truncation = np.abs(D - D2)  # D(2h) - D(h) ~ 3x the O(h^2) error of D(h)
    if partial is not None:
        noise[partial], truncation[partial] = 0.0, 0.0
    drift = np.abs(right - right2) + np.abs(left - left2)
    kink = (noise > SAFETY * roundoff) & (drift < KINK_CLEAN * np.abs(right - left))
    slack = KINK_TOL * drift + SAFETY * roundoff
    lo = np.minimum(np.minimum(left, right), np.minimum(left2, right2)) - slack
    hi = np.maximum(np.maximum(left, right), np.maximum(left2, right2)) + slack
    flat = np.all(J == J0, axis=0)
    return _Estimate(D, truncation + noise + roundoff, left, right, kink, lo, hi, truncation,
                     noise, roundoff, flat)


def _clear_estimate(J0, J, h, D, err, roundoff):
    """`_estimate` where every entry is clear (only +-h evaluated, J (2, k)): what `_staged`
    gives then, without the work on the +-2h rows (NaN there: lo, hi NaN, kink, flat False)."""
    k = len(D)
    zeros, nan, no = np.zeros(k), np.full(k, np.nan), np.zeros(k, dtype=bool)
    # truncation + noise + roundoff is 0 + 0 + roundoff; a clear entry's covers its error.
    unc = np.maximum(roundoff, err / SAFETY)
    return _Estimate(D, unc, (J0 - J[1]) / h, (J[0] - J0) / h, no, nan, nan, zeros, zeros,
                     roundoff, no)


def _roundoff(J0, J, h):
    """Round-off of a central difference: a few ulps of the largest |J| over the step."""
    return ROUNDOFF_ULPS * EPS * np.maximum(abs(J0), np.maximum(abs(J[0]), abs(J[1]))) / h


def _staged(ctx, rows_for, h, analytic, owner=None, summary=None, first=None):
    """Estimate from +-h everywhere and +-2h only where `analytic` (k,) is unclear.

    Clear entries agree with D(h) within SAFETY x round-off (never judged wrong),
    or within CLEAR_FRACTION x threshold (relative), or lie in a group (a
    tensor, by `owner` (k,)) whose equation (2) is below CLEAR_FRACTION x
    threshold: none of these can make a tensor a suspect.

    ``rows_for(select, multipliers)`` gives the rows function for the points
    theta + multiplier * h * direction, for each multiplier and each selected
    direction; `analytic` None means the full stencil everywhere. With `owner`, the
    equation (2) of `analytic` against D(h) is put in ``summary["equation2"]``. `first`
    (2k,) holds the costs at +-h when they are known already.
    """
    k, dtype = len(h), ctx.theta0.dtype

    def evaluate(rows, count):
        return ctx.evaluator.evaluate(rows, count, dtype)

    everything = np.arange(k)
    if analytic is None:
        J = evaluate(rows_for(everything, _STENCIL), 4 * k).reshape(4, k)
        return _estimate(ctx.J0, J, h)
    if first is None:
        first = evaluate(rows_for(everything, _STENCIL[:2]), 2 * k)
    J2 = first.reshape(2, k)
    D = (J2[0] - J2[1]) / (2 * h)
    err = np.abs(analytic - D)
    close = CLEAR_FRACTION * ctx.threshold
    roundoff = _roundoff(ctx.J0, J2, h)
    partial = (err <= SAFETY * roundoff) | (err <= close * (np.abs(analytic) + np.abs(D)))
    if owner is not None:
        equation2 = _equation2(analytic, D, ctx.layout, owner)
        partial |= (equation2[1] < close)[owner]
        if summary is not None:
            summary["equation2"] = equation2
    if partial.all():
        return _clear_estimate(ctx.J0, J2, h, D, err, roundoff)
    unclear = np.flatnonzero(~partial)
    J = np.full((4, k), np.nan)
    J[:2] = J2
    J[2:, unclear] = evaluate(rows_for(unclear, _STENCIL[2:]), 2 * len(unclear)).reshape(2, -1)
    estimate = _estimate(ctx.J0, J, h, partial)
    # A clear entry is never judged wrong: its uncertainty covers its error.
    estimate.unc[partial] = np.maximum(estimate.unc, err / SAFETY)[partial]
    return estimate


def _axis_estimate(ctx, coords, h, analytic=None, owner=None, summary=None, first=None):
    """Central differences along the axes `coords` (k,) with steps h (k,)."""
    return _staged(ctx, lambda select, multipliers: _axis_rows(
        ctx.theta0, coords, h, select, multipliers), h, analytic, owner, summary, first)


def _axis_rows(theta, coords, h, select, multipliers):
    """The rows function (see `_Evaluator.evaluate`) of the points theta + multiplier * h[i] *
    e_coords[i], for each multiplier (m,) and each i in `select` (k,): m k points in all."""

    def rows(start, stop, points):
        which, j = np.divmod(np.arange(start, stop), len(select))
        points[:] = theta
        chosen = select[j]
        points[np.arange(stop - start), coords[chosen]] += multipliers[which] * h[chosen]

    return rows


def _direction_estimate(ctx, V, h, support, analytic=None, owner=None, summary=None):
    """Central differences along the unit directions V (k, n) with steps h (k,); V[i] is 0
    outside ``support[i] = (a, b)`` (a tensor's slice of theta, or all of it)."""
    dtype = ctx.theta0.dtype

    def rows_for(select, multipliers):
        def rows(start, stop, points):
            which, j = np.divmod(np.arange(start, stop), len(select))
            points[:] = ctx.theta0
            steps = multipliers[which] * h[select[j]]
            for point, i, step in zip(points, select[j].tolist(), steps, strict=False):
                a, b = support[i]
                point[a:b] += V[i, a:b].astype(dtype, copy=False) * step
        return rows

    return _staged(ctx, rows_for, h, analytic, owner, summary)


def _as_float64(estimate):
    """The estimate in float64 (from an np.longdouble run), for the report and comparisons."""
    if estimate.D.dtype == np.float64:
        return estimate
    return _Estimate(*(x.astype(np.float64) if x.dtype.kind == "f" else x for x in estimate))


def _take(estimate, where):
    """The estimate restricted to the points selected by `where`."""
    return _Estimate(*(values[where] for values in estimate))


def _larger_steps(ctx, estimate, picks, h):
    """Estimates at CONFIRM_NEAR x h and CONFIRM_FAR x h for the entries (or directions)
    `picks`, and at CONFIRM_NEAR x h in extended precision (None when np.longdouble is
    no wider than float64, or `cost_fn` does not keep it or cannot take it: np.linalg
    refuses np.longdouble); ``estimate(ctx, (picks, steps))``
    does the work. Also returns the far step, and `loss`: |J(theta0) in extended precision -
    J(theta0)| when float64 lost precision in the cost itself (else 0.0; then the
    extended-precision D is NaN: it refutes everything)."""
    both = estimate(ctx, (np.concatenate([picks, picks]),
                          np.concatenate([h * CONFIRM_NEAR, h * CONFIRM_FAR])))
    near, far = _take(both, slice(len(picks))), _take(both, slice(len(picks), None))
    precise, loss = None, 0.0
    if EXTENDED and not ctx.extended:  # (not again in a re-run)
        theta0 = ctx.theta0.astype(np.longdouble)
        try:
            with ctx.evaluator.optional():
                J0 = ctx.evaluator.single(theta0)
                if np.asarray(J0).dtype == np.longdouble:
                    precise = estimate(ctx._replace(theta0=theta0, J0=J0),
                                       (picks, h * CONFIRM_NEAR))
        except _CostFailed:  # a cost that cannot compute in np.longdouble: no such evidence
            precise = None
        if precise is not None and \
                abs(J0 - ctx.J0) > PRECISION_LOSS * EPS * max(abs(ctx.J0), 1.0):
            loss = float(abs(J0 - ctx.J0))
            # float64 lost precision in the cost itself (1 - sigmoid(z) rounded to a few
            # ulps): its derivatives may miss whole terms at every step.
            precise.D[:] = np.nan
    return near, far, precise, h * CONFIRM_FAR, loss


def _confirmed(ctx, analytic, small, near, far, precise, far_step):
    """Is a discrepancy seen at the usual step real rather than numerical?

    It must persist at CONFIRM_NEAR x the step (kinks rarely matter there), and
    must not be refuted at CONFIRM_FAR x the step, where a quantised cost (e.g.
    log(1 - sigmoid(z)) of a saturated unit, flat at small steps) moves again:
    refuted means `analytic` lies within DOUBT x the far estimate's uncertainty,
    or the near and far estimates contradict each other (beyond DOUBT x theirs),
    or the near estimate changes in extended precision (a cost flat in float64
    over a wide range, such as 1 - sigmoid(z) rounded to one ulp, fools every step).
    A cost that does not move at all at the near step counts only if it does not
    move at the far step either, although `analytic` predicts a change there well
    above round-off (of a cost of size max(|J|, 1): a cost of exactly 0 may hide
    O(1) intermediate terms).
    """
    visible = np.abs(analytic) * far_step > SAFETY * EPS * max(abs(ctx.J0), 1.0)
    persists = ((np.abs(analytic - near.D) > SAFETY * near.unc)
                & (~near.flat | (far.flat & visible)))
    # The far estimate refutes only if it is precise enough to tell the two apart: at a large
    # step a ReLU kink is often crossed, which makes it uninformative, not exculpatory.
    refuted = ((np.abs(analytic - far.D) <= DOUBT * far.unc)
               & (DOUBT * far.unc < np.abs(analytic - near.D)))
    contradictory = np.abs(near.D - far.D) > DOUBT * (near.unc + far.unc)
    if precise is not None:
        # The same stencil in extended precision differs only by float64 round-off,
        # unless float64 lost information (its own noise does not count against it).
        contradictory |= ~(np.abs(near.D - precise.D) <= DOUBT * near.unc)
    return persists & ~refuted & ~contradictory


def _central_steps(theta, epsilon):
    """Steps h (like theta) such that theta + h is exact: h = (theta + h) - theta."""
    h = CENTRAL_STEP * np.maximum(1, np.abs(theta)) if epsilon is None else \
        np.full_like(theta, epsilon)
    return (theta + h) - theta


def _central_lead(theta0, epsilon):
    """The first points of "central", theta0 +- h e_i for every i, as (rows, count): the
    evaluator can batch them with J(theta0)."""
    n = len(theta0)
    everything = np.arange(n)
    h = _central_steps(theta0, epsilon)
    return _axis_rows(theta0, everything, h, everything, _STENCIL[:2]), 2 * n


def _check_central(ctx):
    """Two-sided differences per entry, kinks set apart, suspects confirmed at a larger step."""
    layout, g = ctx.layout, ctx.grad
    h = _central_steps(ctx.theta0, ctx.epsilon)
    coords = np.arange(layout.n)
    summary = {}
    est = _as_float64(_axis_estimate(ctx, coords, h, g, layout.owner, summary, ctx.first))
    kinks = est.kink.any()
    finite = np.isfinite(est.D) & np.isfinite(est.unc)
    err = np.abs(g - est.D)
    wrong = finite & (err > SAFETY * est.unc)
    if kinks:
        outside = est.kink & ((g < est.lo) | (g > est.hi))
        wrong = (wrong & ~est.kink) | outside
    else:  # the same as above when there is no kink
        outside = est.kink
    keep = ~est.kink
    if kinks:
        difference, per_tensor = _equation2(np.where(keep, g, 0), np.where(keep, est.D, 0),
                                            layout)
    else:  # the same as above when nothing is left out
        difference, per_tensor = summary["equation2"]
    suspect = flagged = np.zeros(layout.count, dtype=bool)
    loss = 0.0
    if wrong.any():
        flagged = layout.any(wrong) & ((per_tensor >= ctx.threshold) | layout.any(outside))
    if flagged.any():
        picks = _top(layout, wrong & flagged[layout.owner], err / est.unc, CONFIRM_COUNT)
        near, far, precise, step, loss = _larger_steps(
            ctx, lambda c, f: _axis_estimate(c, f[0], f[1]), picks, h[picks])
        confirmed = np.where(est.kink[picks], (g[picks] < near.lo) | (g[picks] > near.hi),
                             _confirmed(ctx, g[picks], _take(est, picks), near, far, precise,
                                        step))
        suspect = layout.any(confirmed, layout.owner[picks])
    kept = keep & finite if kinks else finite  # (keep is all True without kinks)
    unconfirmed = flagged & ~suspect
    rows = _entry_rows(ctx, est.D, est.unc, kept, wrong, per_tensor, suspect, unconfirmed,
                       est=est if kinks else None)
    issues = {"unconfirmed": _names(layout, unconfirmed),
              "nonfinite": int(np.count_nonzero(~finite)),
              "kinks": int(np.count_nonzero(est.kink)) if kinks else 0, "loss": loss,
              "cause": lambda: _cause(ctx, est, kept)}
    report = _finish(ctx, rows, difference, issues)
    return _rescue(ctx, report, issues, _check_central) if layout.n <= EXTENDED_MAX_N else report


def _check_complex(ctx):
    """Complex-step derivatives per entry, spot-checked against central differences."""
    layout, g, n = ctx.layout, ctx.grad, ctx.layout.n
    h = COMPLEX_STEP * np.maximum(1, np.abs(ctx.theta0)) if ctx.epsilon is None else \
        np.full(n, ctx.epsilon)
    _complex_probe(ctx, h)
    D = _complex_step(ctx, np.arange(n), h).astype(np.float64, copy=False)
    scale = np.zeros(layout.count)
    np.maximum.at(scale, layout.owner, np.abs(np.nan_to_num(D)))
    unc = COMPLEX_ULPS * EPS * (np.abs(D) + scale[layout.owner])
    finite = np.isfinite(D)
    err = np.abs(g - D)
    wrong = finite & (err > SAFETY * unc)
    difference, per_tensor = _equation2(g, D, layout)
    flagged = layout.any(wrong) & (per_tensor >= ctx.threshold)
    # Spot checks: the worst entries of each tensor and one random entry; an
    # entry where central differences side with backprop against the complex
    # step marks code that is not complex-safe (np.abs, norms, np.vdot).
    score = np.where(finite, err / np.where(unc > 0, unc, 1), -1)
    spots = np.union1d(_top(layout, finite, score, CONFIRM_COUNT),
                       layout.starts + ctx.rng.integers(layout.stops - layout.starts))
    hc = _central_steps(ctx.theta0[spots], None)
    small = _axis_estimate(ctx, spots, hc)
    near, far, precise, step, loss = _larger_steps(
        ctx, lambda c, f: _axis_estimate(c, f[0], f[1]), spots, hc)
    # Central differences are evidence only where smooth and where the cost moved at all: a
    # cost that rounds to a constant (e.g. 1e-40 from a confidently right output rounds
    # to exactly 0) gives D = 0 with no round-off to speak of.
    smooth = ~small.kink & ~far.kink & ~small.flat & ~far.flat
    apart = lambda est, x, extra: np.abs(x - est.D) > SAFETY * (est.unc + extra)  # noqa: E731
    unsafe_spot = smooth & apart(small, D[spots], unc[spots]) & apart(far, D[spots], unc[spots])
    imprecise = np.zeros(layout.count, dtype=bool)
    if unsafe_spot.any() and EXTENDED:
        # Code that is not complex-safe (np.abs, norms) gives the same wrong complex step in
        # any precision. Complex-safe code can be wrong in float64 alone: where an
        # intermediate is subnormal (e^-720 in log(sigmoid(z))) the imaginary part
        # underflows, and 1 - sigmoid(z) of a saturated unit is rounded to a few ulps.
        # np.clongdouble has a wider exponent range and mantissa (where it is wider).
        where = np.flatnonzero(unsafe_spot)
        at = spots[where]
        try:
            with ctx.evaluator.optional():
                precise_D = _complex_step(ctx, at, h[at], np.clongdouble)
        except _CostFailed:  # np.linalg refuses np.clongdouble: the claim stands
            precise_D = D[at]
        same = np.abs(precise_D - D[at]) <= SAFETY * unc[at]
        unsafe_spot[where] = same
        imprecise = layout.any(~same, layout.owner[at])
    confirmed = wrong[spots] & apart(small, g[spots], 0) & _confirmed(
        ctx, g[spots], small, near, far, precise, step)
    unsafe = layout.any(unsafe_spot, layout.owner[spots])
    suspect = flagged & ~unsafe & layout.any(confirmed, layout.owner[spots])
    unconfirmed = flagged & ~unsafe & ~suspect
    rows = _entry_rows(ctx, D, unc, finite, wrong, per_tensor, suspect, unconfirmed, unsafe)
    issues = {"unsafe": _names(layout, unsafe), "unconfirmed": _names(layout, unconfirmed),
              "imprecise": _names(layout, imprecise & unconfirmed),
              "nonfinite": int(np.count_nonzero(~finite)), "loss": loss,
              "cause": lambda: "the complex-step derivatives are less accurate than "
                               "expected; check the cost for cancellation"}
    report = _finish(ctx, rows, difference, issues)
    return _rescue(ctx, report, issues, _check_complex) if n <= EXTENDED_MAX_N else report


def _complex_step(ctx, coords, h, dtype=None):
    """Complex-step derivatives Im J(theta + i h e_c) / h along the axes `coords` (k,),
    evaluated in `dtype` (complex or np.clongdouble; default: theta's complex type)."""
    dtype = np.result_type(ctx.theta0.dtype, np.complex64) if dtype is None else dtype

    def rows(start, stop, points):
        points[:] = ctx.theta0
        points[np.arange(stop - start), coords[start:stop]] += 1j * h[start:stop]

    return ctx.evaluator.evaluate(rows, len(coords), dtype).imag / h


def _complex_probe(ctx, h):
    """Raise a clear error unless `cost_fn` computes with complex parameters (in a re-run in
    np.clongdouble, `_CostFailed` unless it keeps that type: one that drops to complex128
    or to real would only repeat, or lose, the imaginary parts)."""
    dtype = np.result_type(ctx.theta0.dtype, np.complex64)
    point = ctx.theta0.astype(dtype)
    point[0] += 1j * h[0]
    try:
        value = ctx.evaluator.single(point)
    except _CostFailed:
        raise
    except Exception as error:
        raise TypeError("`cost_fn` must accept complex parameters for method='complex' (avoid "
                        "float(), np.maximum, np.abs, norms and np.vdot); it raised "
                        f"{type(error).__name__}: {error}") from error
    if ctx.extended and np.asarray(value).dtype != dtype:
        raise _CostFailed
    if not np.iscomplexobj(value):
        raise TypeError("`cost_fn` returned a real value for complex parameters, so it drops "
                        "the imaginary part; method='complex' needs a complex-safe cost")


def _check_directional(ctx):
    """Derivatives along DIRECTIONS random unit directions per tensor; bisect failing tensors."""
    layout, g, n, T = ctx.layout, ctx.grad, ctx.layout.n, ctx.layout.count
    V = np.zeros((DIRECTIONS * T, n))
    h = np.empty(T)
    for t, (_, _, a, b) in enumerate(layout.slots):  # tensors, not entries
        block = ctx.rng.standard_normal((DIRECTIONS, b - a))
        # Unit rows, normalised within the tensor (V is 0 elsewhere).
        V[t * DIRECTIONS:(t + 1) * DIRECTIONS, a:b] = \
            block / np.sqrt(np.einsum("ij,ij->i", block, block))[:, None]
        rms = np.sqrt(np.mean(ctx.theta0[a:b] ** 2))
        h[t] = CENTRAL_STEP * max(1.0, rms) if ctx.epsilon is None else ctx.epsilon
    owner = np.repeat(np.arange(T), DIRECTIONS)
    hd = h[owner]
    along = V @ g  # analytic directional derivatives
    support = [layout.slots[t][2:] for t in owner.tolist()]
    summary = {}
    est = _as_float64(_direction_estimate(ctx, V, hd, support, along, owner, summary))
    finite = np.isfinite(est.D) & np.isfinite(est.unc)
    wrong = finite & (np.abs(along - est.D) > SAFETY * est.unc)
    difference, per_tensor = summary["equation2"]  # along against est.D
    flagged = layout.any(wrong, owner) & (per_tensor >= ctx.threshold)
    suspect = np.zeros(T, dtype=bool)
    loss = 0.0
    picks = np.flatnonzero(wrong & flagged[owner])
    if len(picks):
        near, far, precise, step, loss = _larger_steps(
            ctx, lambda c, f: _direction_estimate(c, V[f[0]], f[1],
                                                  [support[i] for i in f[0].tolist()]),
            picks, hd[picks])
        suspect = layout.any(_confirmed(ctx, along[picks], _take(est, picks), near, far,
                                        precise, step), owner[picks])
    rows = {}
    verdicts = _row_verdicts(ctx, per_tensor, suspect, flagged & ~suspect,
                             layout.any(~finite, owner))
    for t, (name, shape, a, b) in enumerate(layout.slots):
        row = rows[name] = ParameterResult(name, "d" + name, shape, float(per_tensor[t]),
                                           verdicts[t])
        if suspect[t]:
            found, row.entries_complete = _bisect(ctx, a, b, h[t])
            row.entries = [(layout.index(t, j), gj, dj) for j, gj, dj in found]
            if found:
                j, gj, dj = max(found, key=lambda entry: abs(entry[1] - entry[2]))
                row.worst_index, row.analytic, row.numeric = layout.index(t, j), gj, dj
            mine = owner == t
            row.pattern = _direction_pattern(row, g[a:b], V[mine, a:b], along[mine],
                                             est.D[mine], est.unc[mine], found)
    issues = {"unconfirmed": _names(layout, flagged & ~suspect),
              "nonfinite": int(np.count_nonzero(~finite)), "loss": loss,
              "cause": lambda: _cause(ctx, est, finite)}
    return _rescue(ctx, _finish(ctx, rows, difference, issues), issues, _check_directional)


def _bisect(ctx, a, b, h):
    """Wrong entries of the tensor theta[a:b], by halving wrong entry sets.

    Each round tests both halves of every wrong set along a fresh random
    direction, so k wrong entries cost O(k log n) evaluations.

    Returns
    -------
    found : list of (flat index, analytic, numeric), at most MAX_FOUND
    complete : bool
        False when the search stopped at MAX_FOUND.
    """
    frontier, found, complete = [np.arange(b - a)], [], True
    while frontier:
        children = [half for node in frontier for half in np.array_split(node, 2)]
        V = np.zeros((len(children), ctx.layout.n))
        for row, child in zip(V, children, strict=True):  # at most 2 * MAX_FOUND sets
            row[a + child] = ctx.rng.standard_normal(len(child)) if len(child) > 1 else 1.0
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        along = V @ ctx.grad
        est = _direction_estimate(ctx, V, np.full(len(children), h), [(a, b)] * len(children),
                                  along)
        err = np.abs(along - est.D)
        bad = (err > SAFETY * est.unc) & (err >= ctx.threshold * (np.abs(along) + np.abs(est.D)))
        frontier = []
        for child, is_bad, gj, dj in zip(children, bad, along, est.D, strict=True):
            if is_bad and len(child) == 1:
                found.append((int(child[0]), float(gj), float(dj)))
            elif is_bad:
                frontier.append(child)
        room = max(MAX_FOUND - len(found), 0)
        if len(frontier) > room or len(found) > MAX_FOUND:
            frontier, complete = frontier[:room], False
    return found[:MAX_FOUND], complete


_CHECKS = {"central": _check_central, "complex": _check_complex,
           "directional": _check_directional}


def _top(layout, mask, score, count):
    """Indices of the `count` highest-scoring masked entries of each tensor."""
    picks = []
    for a, b in zip(layout.starts, layout.stops, strict=True):  # tensors, not entries
        chosen = np.flatnonzero(mask[a:b]) + a
        picks.append(chosen[np.argsort(-score[chosen], kind="stable")[:count]])
    return np.concatenate(picks).astype(int)


def _equation2(g, D, layout, owner=None):
    """Equation (2) over everything and per group (tensor, or `owner`); 0 where both norms
    are 0."""
    owner3 = layout.owner3 if owner is None or owner is layout.owner else \
        _stacked_owner(owner, layout.count)
    x = np.concatenate([g - D, g, D]).astype(np.float64, copy=False)  # bincount: float64 only
    # The squares of g - D, g and D summed per group, in one bincount (the same sums as three).
    squares = np.bincount(owner3, weights=x * x, minlength=3 * layout.count).reshape(3, -1)
    norms = np.sqrt(squares)
    num, g_norm, D_norm = np.sqrt(np.add.reduce(squares, axis=1))  # float64 scalars
    den = g_norm + D_norm
    total = 0.0 if num == 0 and den == 0 else float(num / den)  # as `_divide`, for scalars
    per_tensor = _divide(norms[0], norms[1] + norms[2])
    return total, per_tensor


def _stacked_owner(owner, count):
    """Groups of three stacked vectors grouped by `owner` (k,) into `count` groups: (3k,)."""
    return np.concatenate([owner, owner + count, owner + 2 * count])


def _divide(num, den):
    """num / den (float64), with 0 / 0 = 0 (both gradients zero agree); NaN stays NaN."""
    return np.where((num == 0) & (den == 0), 0.0, num / den)


def _names(layout, mask):
    return [name for name, chosen in zip(layout.names, mask.tolist(), strict=True) if chosen]


def _row_verdicts(ctx, per_tensor, suspect, unconfirmed, nonfinite, unsafe=None):
    """Verdict word of every tensor, as a list."""
    unsure = (unconfirmed | ~(per_tensor < ctx.threshold) | nonfinite
              | ctx.grad_nonfinite)
    unsafe = itertools.repeat(False) if unsafe is None else unsafe.tolist()
    return ["wrong" if s else "not complex-safe" if c else "unsure" if u else "ok"
            for s, c, u in zip(suspect.tolist(), unsafe, unsure.tolist(), strict=False)]


def _entry_rows(ctx, D, unc, keep, wrong, per_tensor, suspect, unconfirmed, unsafe=None,
                est=None):
    """One ParameterResult per tensor from per-entry estimates D (n,)."""
    layout, g = ctx.layout, ctx.grad
    err = np.where(keep, np.abs(g - D), -1.0)
    err[np.isnan(err)] = -1.0
    worst = np.lexsort((-err, layout.owner))[layout.starts]  # largest error in each tensor
    verdicts = _row_verdicts(ctx, per_tensor, suspect, unconfirmed,
                             layout.any(~np.isfinite(D)), unsafe)
    rows = {}
    # Python floats of the few values used per tensor, taken at once.
    for t, (name, shape, a, _), difference, j, shown, gj, dj in zip(
            itertools.count(), layout.slots, per_tensor.tolist(), worst.tolist(),
            (err[worst] >= 0).tolist(), g[worst].tolist(), D[worst].tolist(), strict=False):
        row = rows[name] = ParameterResult(name, "d" + name, shape, difference, verdicts[t])
        if shown:
            row.worst_index = layout.index(t, j - a)
            row.analytic, row.numeric = gj, dj
    if est is not None:
        for i in np.flatnonzero(est.kink):  # only the entries at kinks
            t = layout.owner[i]
            rows[layout.names[t]].kinks.append(Kink(
                layout.index(t, i - layout.starts[t]), float(g[i]), float(est.left[i]),
                float(est.right[i]), bool(est.lo[i] <= g[i] <= est.hi[i])))
    for t in suspect.nonzero()[0]:
        a, b = layout.starts[t], layout.stops[t]
        row = rows[layout.names[t]]
        row.pattern = _entry_pattern(row, layout, t, g[a:b], D[a:b], unc[a:b], wrong[a:b],
                                     keep[a:b])
    return rows


def _entry_pattern(row, layout, t, g, D, unc, wrong, keep):
    """Name how the gradient g of one tensor differs from the numerical D (flat arrays)."""
    g, D, unc = g[keep], D[keep], unc[keep]
    common = _common_pattern(row, g, D, unc)
    if common:
        return common
    if len(row.shape) == 2 and row.shape[0] == row.shape[1] and np.all(keep):
        tolerance = PATTERN_RTOL * np.max(np.abs(D)) + SAFETY * np.max(unc)
        if np.max(np.abs(g - D.reshape(row.shape).T.ravel())) <= tolerance:
            return f"{row.gradient} is the transpose of the numerical gradient"
    bad = np.flatnonzero(wrong[keep])
    worst = bad[np.argsort(-np.abs(g[bad] - D[bad]), kind="stable")[:PATTERN_SHOWN]]
    flat = np.flatnonzero(keep)[worst]
    listed = "; ".join(f"{layout.index(t, j)} analytic {_fmt_value(g[k])}, numeric "
                       f"{_fmt_value(D[k])}" for j, k in zip(flat, worst, strict=True))
    return f"{row.gradient} has {len(bad)} of {g.size} entries wrong: {listed}"


def _direction_pattern(row, g, V, along, D, unc, found):
    """Name how a tensor's gradient differs, from its directional derivatives and found entries."""
    common = _common_pattern(row, along, D, unc, g, found)
    if common:
        return common + f" (along {len(D)} random directions)"
    if len(row.shape) == 2 and row.shape[0] == row.shape[1]:
        transposed = V @ g.reshape(row.shape).T.ravel()
        if np.all(np.abs(transposed - D) <= SAFETY * unc):
            return f"{row.gradient} is the transpose of the numerical gradient"
    more = "" if row.entries_complete else "at least "
    return f"{row.gradient} has {more}{len(found)} wrong entries: " + "; ".join(
        f"{index} analytic {_fmt_value(a)}, numeric {_fmt_value(d)}"
        for index, a, d in row.entries[:PATTERN_SHOWN])


def _common_pattern(row, g, D, unc, full=None, found=()):
    """All zeros (of `full`, default g), a sign flip or a factor r, if g = r * D throughout."""
    if not np.any(g if full is None else full):
        return f"{row.gradient} is all zeros"
    dd = D @ D
    if not dd > 0:
        return ""
    r = (g @ D) / dd
    tolerance = abs(r) * (PATTERN_RTOL * np.max(np.abs(D)) + SAFETY * np.max(unc))
    entries_agree = all(abs(gj - r * dj) <= PATTERN_RTOL * abs(r * dj) + tolerance
                        for _, gj, dj in found)
    if np.max(np.abs(g - r * D)) > tolerance or not entries_agree:
        return ""
    if abs(r + 1) < 5e-3:
        return f"{row.gradient} has the wrong sign (-1.00 × the numerical gradient)"
    ratio = f"{r:.2f}" if 0.1 <= abs(r) < 1000 else f"{r:.3g}"
    return f"{row.gradient} is {ratio} × the numerical gradient"


def _cause(ctx, est, mask):
    """Which part of the error model dominates, as advice for an inconclusive verdict."""
    step = "the default step" if ctx.epsilon is None else f"epsilon={ctx.epsilon:.1e}"
    # Noise within SAFETY x the round-off estimate is round-off too (the 4th
    # difference amplifies it); beyond that it is a noisy cost or a kink.
    excess = est.noise > SAFETY**2 * est.roundoff
    parts = [np.sum((est.roundoff + np.where(excess, 0, est.noise))[mask]),
             np.sum(est.truncation[mask]), np.sum(est.noise[mask & excess])]
    return [f"round-off dominates at {step}; use epsilon=None or method='complex'",
            f"truncation error dominates at {step}; use a smaller epsilon or method='complex'",
            f"the cost is noisy or has kinks at {step} (e.g. log(1 - sigmoid(z)) of a saturated "
            "unit); compute it in a stable way or use method='complex'"][int(np.argmax(parts))]


def _finish(ctx, rows, difference, issues):
    """Verdict and reason from the rows and the issues found; build the report."""
    layout, threshold = ctx.layout, ctx.threshold
    suspects = [row.gradient for row in rows.values() if row.verdict == "wrong"]
    not_finite = [f"`gradients[{'d' + name!r}]`"
                  for name in _names(layout, ctx.grad_nonfinite)]
    if suspects:
        verdict = "fail"
        reason = (f"{len(suspects)} gradient{'s disagree' if len(suspects) > 1 else ' disagrees'}"
                  " with the numerical gradient beyond its uncertainty: "
                  + "; ".join(row.pattern for row in rows.values() if row.verdict == "wrong"))
    else:
        verdict = "inconclusive"
        if not_finite:
            reason = f"{' and '.join(not_finite)} contain NaN or inf, so backprop is broken there"
        elif issues.get("unsafe"):
            reason = (f"the cost is not complex-safe for {', '.join(issues['unsafe'])} (complex "
                      "step and central differences disagree there): avoid np.abs, norms and "
                      "np.vdot in `cost_fn`, or use method='central'")
        elif issues.get("imprecise"):
            reason = (f"the complex step is inaccurate in float64 for "
                      f"{', '.join(issues['imprecise'])}: it changes in extended precision, "
                      "because an intermediate of the cost is subnormal or rounded (e.g. "
                      "log(sigmoid(z)) or log(1 - sigmoid(z)) of a saturated unit); use "
                      "method='central'")
        elif issues["unconfirmed"]:
            names = issues["unconfirmed"]
            disagree = (f"{', '.join(names)} disagree{'s' if len(names) == 1 else ''} with the "
                        "numerical gradient")
            if issues["loss"]:
                reason = (f"{disagree}, but the cost itself loses precision in float64 at "
                          f"`parameters` (in extended precision it moves by "
                          f"{issues['loss']:.1e}), so no numerical derivative can settle it; "
                          "compute it in a stable way (e.g. log(1 - sigmoid(z)) of a saturated "
                          "unit) or check at other parameters")
            else:
                reason = (f"{disagree} at the usual step, but 10x and 1000x larger steps and "
                          "extended precision do not confirm it, so numerical noise cannot be "
                          "ruled out (e.g. log(1 - sigmoid(z)) of a saturated unit)")
        elif issues["nonfinite"]:
            reason = (f"the cost is not finite near `parameters`, so {issues['nonfinite']} "
                      "numerical derivatives could not be estimated")
        elif not difference < threshold:
            reason = (f"difference {_fmt_difference(difference, threshold)} >= threshold "
                      f"{threshold:.1e}, but "
                      f"every discrepancy is within the numerical uncertainty: {issues['cause']()}")
        else:
            verdict = "pass"
            kinks = issues.get("kinks", 0)
            reason = (f"every gradient agrees with the numerical one: difference "
                      f"{_fmt_difference(difference, threshold)} (threshold {threshold:.1e})"
                      + (f"; {kinks} entries at kinks were left out, each a valid subgradient"
                         if kinks else "")
                      + ("; float64 could not resolve these derivatives, so they were "
                         "estimated in extended precision (np.longdouble)" if ctx.extended
                         else ""))
    return _report(ctx, verdict, difference, rows, suspects, reason)


def _rescue(ctx, report, issues, check):
    """`report`, or the same check re-run in np.longdouble when float64 was not precise
    enough: when the verdict is inconclusive for numerical reasons alone (discrepancies
    not confirmed, or within the uncertainty of the estimates) and the step is the
    checker's to choose (epsilon=None; a given epsilon is checked as given). Only a
    "pass" replaces it: less round-off settles a discrepancy that float64 made, but never
    turns one into an accusation (the gradients themselves are float64)."""
    if (report.verdict != "inconclusive" or ctx.extended or ctx.epsilon is not None
            or ctx.grad_nonfinite.any()
            or issues["nonfinite"] or issues.get("unsafe") or not EXTENDED):
        return report
    theta0 = ctx.theta0.astype(np.longdouble)
    try:
        with ctx.evaluator.optional():
            J0 = ctx.evaluator.single(theta0)
            # A cost that computes in float64 whatever it gets would only repeat itself.
            if np.asarray(J0).dtype == np.longdouble and np.isfinite(J0):
                again = check(ctx._replace(theta0=theta0, J0=J0, first=None, extended=True))
                if again.verdict == "pass":
                    return again
    except _CostFailed:  # a cost that cannot compute in np.longdouble: keep what float64 said
        pass
    report.evaluations = ctx.evaluator.count  # the points of the re-run count too
    return report


def _early_report(ctx, reason):
    """An inconclusive report made before any derivative was estimated."""
    rows = {name: ParameterResult(name, "d" + name, shape, float("nan"), "unsure")
            for name, shape, _, _ in ctx.layout.slots}
    return _report(ctx, "inconclusive", float("nan"), rows, [], reason)


def _report(ctx, verdict, difference, rows, suspects, reason):
    relative = ctx.epsilon is None
    step = ctx.epsilon if not relative else (COMPLEX_STEP if ctx.method == "complex"
                                             else CENTRAL_STEP)
    return GradientCheckReport(
        verdict=verdict, difference=difference,
        per_parameter={name: row.difference for name, row in rows.items()},
        suspects=suspects, reason=reason + ".", method=ctx.method, epsilon=float(step),
        relative_step=relative, threshold=ctx.threshold, evaluations=ctx.evaluator.count,
        batched=bool(ctx.evaluator.mode), rows=rows)


def _nondeterministic(spread):
    return (f"two evaluations of the cost at the same parameters differ by {spread:.1e}, so it "
            "is not deterministic (a private random generator?) and no difference can be "
            "trusted; seed it or draw with np.random")


def _fmt_difference(x, threshold):
    """Equation (2) for display, with 2 significant digits.

    Far below the threshold it is round-off, whose digits change with the CPU's BLAS
    kernel, so only the bound SHOWN_BELOW x threshold is shown: outputs stay identical.
    """
    bound = SHOWN_BELOW * threshold
    return f"< {bound:.0e}" if x < bound else f"{x:.1e}"


def _fmt_value(x):
    """An analytic or numeric value with 4 significant digits."""
    return "-" if x is None else f"{x + 0.0:.4g}"

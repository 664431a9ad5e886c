"""Estimating derivatives, each with its uncertainty, and measuring the noise of the cost."""

from math import factorial
from typing import NamedTuple

import numpy as np

from gradcheck.tolerances import (
    CLEAR,
    COMPLEX_ULPS,
    EPS,
    KINK_CLEAN,
    KINK_TOL,
    MAX_NOISY_STEP,
    NOISE_AGREE,
    NOISY,
    ROUNDOFF_ULPS,
    SAFETY,
)

NOISE_4TH = np.sqrt(70.0) / 2  # |4th difference| / 2 of noise of level 1: sqrt(8! / 4!^2) / 2
# The second-order forward difference (-3 J0 + 4 J(h) - J(2h)) / 2h, for the noise probe.
FORWARD_WEIGHTS = (-1.5, 2.0, -0.5)


class Estimate(NamedTuple):
    """Numerical derivatives of k items (entries or directions), with their error model."""

    D: np.ndarray  # (k,) the estimate D(h)
    unc: np.ndarray  # (k,) its uncertainty: truncation + curvature/noise seen + noise floor / h
    left: np.ndarray  # (k,) one-sided slopes (J0 - J(-h)) / h, NaN where not measured
    right: np.ndarray  # (k,) (J(+h) - J0) / h
    kink: np.ndarray  # (k,) bool: smooth on each side, with a jump of slope between
    lo: np.ndarray  # (k,) the interval between the one-sided slopes, widened by their drift
    hi: np.ndarray
    truncation: np.ndarray  # (k,) |D(h) - D(2h)|, the part of `unc` that a smaller step shrinks
    floor: np.ndarray  # (k,) noise / h, the part of `unc` that a larger step shrinks
    D2: np.ndarray  # (k,) the estimate at the doubled step, D(2h)


class Noise(NamedTuple):
    """The noise of the cost near theta0: measured, and the floor of float64 rounding."""

    level: float  # the noise of one evaluation, absolute: max(ECnoise's estimate, floor)
    floor: float  # ROUNDOFF_ULPS u |J0|: the rounding of the returned value alone

    @property
    def noisy(self):
        """Is the cost much noisier than float64 round-off (float32, quantized, saturated)?"""
        return self.floor > 0 and self.level > NOISY * self.floor

    def step_factor(self, order):
        """How much wider than its base step a method of `order` must step: the step that
        balances truncation O(h^order) against noise / h grows as noise^(1 / (order + 1)).
        At most MAX_NOISY_STEP."""
        if not self.noisy:
            return 1.0
        return min(MAX_NOISY_STEP, (self.level / self.floor) ** (1 / (order + 1)))

    @property
    def relative(self):
        """The noise relative to |J(theta0)| (the floor is ROUNDOFF_ULPS units of it)."""
        return self.level * ROUNDOFF_ULPS * EPS / self.floor if self.floor > 0 else self.level


def combine(method, J0, J, h):
    """D(h) = sum_i w_i J(theta0 + o_i h) / h of `method` from its costs J (points, k) at the
    nonzero offsets (the offset 0 is J0); the imaginary part for the complex step."""
    rows = iter(J)
    total = None
    for offset, weight in zip(method.offsets, method.weights, strict=True):
        term = weight * (J0 if offset == 0 else next(rows))
        total = term if total is None else total + term
    return (total.imag if method.imaginary else total) / h


def differences(method, J0, J, J2, h, noise):
    """The error model of a real `method` from its costs J at step h and J2 at 2h.

    Parameters
    ----------
    method : methods.Method
    J0 : float
        The cost at theta0.
    J, J2 : ndarray, shape (points, k)
        Costs at theta0 + o_i h * direction and at theta0 + o_i 2h * direction, per item.
    h : ndarray, shape (k,)
    noise : Noise

    Returns
    -------
    Estimate
        Truncation |D(h) - D(2h)|, noise sum |w_i| noise / h; where the method steps both
        ways (offsets 1 and -1), the one-sided slopes, kinks and the curvature beyond noise.
    """
    D, D2 = combine(method, J0, J, h), combine(method, J0, J2, 2 * h)
    truncation = np.abs(D - D2)  # D(2h) - D(h) ~ (2^order - 1) x the error of D(h)
    floor = _floor(method, J0, np.concatenate([J, J2]), h, noise)
    if not method.two_sided:
        return _one_sided(D, truncation + floor, truncation, floor, D2)
    (left, right), (left2, right2) = _slopes(method, J0, J, h), _slopes(method, J0, J2, 2 * h)
    # (right2 - left2) - 2 (right - left) is the 4th difference / 2h: O(h^3) when smooth, the
    # jump of the slope at a kink, or the noise of the cost where this stencil sees it.
    local = np.abs((right2 - left2) - 2 * (right - left))
    drift = np.abs(right - right2) + np.abs(left - left2)
    kink = (local > SAFETY * floor) & (drift < KINK_CLEAN * np.abs(right - left))
    slack = KINK_TOL * drift + SAFETY * floor
    lo = np.minimum(np.minimum(left, right), np.minimum(left2, right2)) - slack
    hi = np.maximum(np.maximum(left, right), np.maximum(left2, right2)) + slack
    # The 4th difference of pure noise is about sqrt(70) x the noise (ECnoise's gamma_4):
    # only beyond that, by SAFETY, does it show curvature or a kink that the noise term of
    # `unc` does not already cover.
    beyond_noise = np.where(local * h > SAFETY * NOISE_4TH * floor * h, local, 0.0)
    return Estimate(D, truncation + beyond_noise + floor, left, right, kink, lo, hi,
                    truncation, floor, D2)


def settled(method, J0, J, h, noise, analytic, threshold):
    """Which items the costs J at step h already settle, and their Estimate.

    An item is settled when D(h) agrees with backprop within SAFETY x the noise term, or to
    CLEAR x the threshold (relative): no truncation or kink conspires to match a wrong
    gradient that closely, so the costs at 2h would add nothing. Its uncertainty is the noise
    term plus the difference seen.
    """
    D = combine(method, J0, J, h)
    floor = _floor(method, J0, J, h, noise)
    err = np.abs(analytic - D)
    done = (err <= SAFETY * floor) | (err <= CLEAR * threshold * (np.abs(analytic) + np.abs(D)))
    return done, _one_sided(D, floor + err, np.zeros(len(D)), floor, D)




def _one_sided(D, unc, truncation, floor, D2):
    """An Estimate without one-sided slopes (so without kinks)."""
    nothing = np.full(len(D), np.nan)
    return Estimate(D, unc, nothing, nothing, np.zeros(len(D), bool), nothing, nothing,
                    truncation, floor, D2)


def _slopes(method, J0, J, h):
    """The one-sided slopes (J0 - J(-h)) / h and (J(+h) - J0) / h of a two-sided method."""
    evaluated = [o for o in method.offsets if o != 0]
    Jp, Jm = J[evaluated.index(1)], J[evaluated.index(-1)]
    return (J0 - Jm) / h, (Jp - J0) / h


def _floor(method, J0, J, h, noise):
    """The noise term of D(h): sum |w_i| x the noise of one cost (never below the rounding of
    the largest cost seen) / h."""
    level = np.maximum(noise.level, ROUNDOFF_ULPS * EPS * np.max(np.abs(J), axis=0))
    return level * float(np.sum(np.abs(method.weights))) / h


def richardson(at_h, at_2h, order):
    """The estimate (2^order D(h) - D(2h)) / (2^order - 1), one order higher, from the
    Estimates at steps h and 2h, with the uncertainty |R(h) - R(2h)| + the noise term at h.

    Where the cost is noisy (a saturated log(1 - sigmoid(z)), float32), a higher order
    allows a wider step, so the noise matters less."""
    scale = 2.0 ** order
    R = (scale * at_h.D - at_h.D2) / (scale - 1)
    R2 = (scale * at_2h.D - at_2h.D2) / (scale - 1)
    truncation = np.abs(R - R2)
    return at_h._replace(D=R, unc=truncation + at_h.floor, kink=at_h.kink | at_2h.kink,
                         truncation=truncation)


def most_precise(est, picks, candidates):
    """`est` with the items `picks` replaced by whichever of the `candidates` (Estimates of
    those items) is most precise, where it is finite and not at a kink."""
    for again in candidates:
        better = (again.unc < est.unc[picks]) & ~again.kink & np.isfinite(again.unc)
        est = merged(est, picks[better], Estimate(*(x[better] for x in again)))
    return est


def merged(est, picks, again):
    """`est` with the items `picks` replaced by the Estimate `again` of them."""
    fields = [np.array(x, copy=True) for x in est]
    for x, y in zip(fields, again, strict=True):
        x[picks] = y
    return type(est)(*fields)


def sharpened(est, cross):
    """`est` with the complex-step Estimate `cross` of the same items on its smooth items,
    if the two agree within SAFETY x their uncertainties on every one; else None."""
    smooth = np.isfinite(est.D) & ~est.kink
    if not np.all(np.abs(cross.D - est.D)[smooth] <= SAFETY * (est.unc + cross.unc)[smooth]):
        return None
    return est._replace(D=np.where(smooth, cross.D, est.D),
                        unc=np.where(smooth, cross.unc, est.unc),
                        truncation=np.where(smooth, 0.0, est.truncation))


def forward(f, h, noise):
    """The one-sided estimate from costs f (3,) at theta0 + (0, h, 2h) * direction: the
    second-order forward difference, its uncertainty from the first-order one and noise."""
    D1 = (f[1] - f[0]) / h
    D2 = sum(w * x for w, x in zip(FORWARD_WEIGHTS, f, strict=True)) / h
    floor = np.sum(np.abs(FORWARD_WEIGHTS)) * noise.level / h
    return _one_sided(*(np.array([x]) for x in (D2, abs(D1 - D2) + floor, abs(D1 - D2), floor,
                                                D1)))


def imaginary(D, noise):
    """The Estimate of complex-step derivatives D (k,). No cancellation, so no truncation and
    no noise / h: the uncertainty is the precision of the cost's arithmetic (u for float64;
    more where the noise probe measured it, e.g. a cost computed in float32), times
    COMPLEX_ULPS, of |D| + the largest |D|: an item's complex step carries the rounding of
    every term of the cost (a bias that batch norm cancels has a tiny derivative but not a
    tiny error)."""
    precision = EPS * noise.level / noise.floor if noise.floor > 0 else EPS
    unc = COMPLEX_ULPS * precision * (np.abs(D) + np.max(np.abs(np.nan_to_num(D)), initial=0))
    return _one_sided(D, unc, np.zeros(len(D)), unc, D)


def ecnoise(f):
    """The noise of equispaced costs f (m + 1,), by Moré and Wild's ECnoise.

    The k-th differences of the noise have variance (2k)! / (k!)^2 times the noise's; once
    smoothness has differenced away, three successive orders agree (within NOISE_AGREE), and
    their differences change sign. Returns that estimate, 0.0 when the costs do not move, or
    NaN when no order is noise-dominated (the step is too large, or too small: more than half
    the costs equal).

    Moré and Wild, "Estimating computational noise", SIAM J. Sci. Comput. 33(3), 2011.
    """
    f = np.asarray(f, dtype=np.float64)
    m = len(f) - 1
    if np.all(f == f[0]):
        return 0.0
    if len(np.unique(f)) <= (m + 1) // 2 or m < 3:
        return np.nan
    table, sigma, changes = f, [], []
    for k in range(1, m + 1):
        table = np.diff(table)
        gamma = factorial(k) ** 2 / factorial(2 * k)
        sigma.append(np.sqrt(gamma * np.mean(table**2)))
        changes.append(table.min() < 0 < table.max())
    for k in range(max(m - 2, 1)):
        window = sigma[k:k + 3]
        if changes[k] and max(window) <= NOISE_AGREE * min(window):
            return float(sigma[k])
    return np.nan

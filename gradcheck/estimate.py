"""Estimating derivatives, each with its uncertainty, and measuring the noise of the cost."""

from math import factorial
from typing import NamedTuple

import numpy as np

from gradcheck.evaluate import Points
from gradcheck.tolerances import (
    CENTRAL_STEP,
    CLEAR,
    COMPLEX_ULPS,
    KINK_CLEAN,
    KINK_TOL,
    MAX_NOISY_STEP,
    NOISE_AGREE,
    NOISY,
    ROUNDOFF_ULPS,
    SAFETY,
)

STENCIL = np.array([1.0, -1.0, 2.0, -2.0])  # points theta + (h, -h, 2h, -2h) * direction
NOISE_4TH = np.sqrt(70.0) / 2  # |4th difference| / 2 of noise of level 1: sqrt(8! / 4!^2) / 2


class Estimate(NamedTuple):
    """Numerical derivatives of k items (entries or directions), with their error model."""

    D: np.ndarray  # (k,) the estimate: central difference, or complex step
    unc: np.ndarray  # (k,) its uncertainty: truncation + curvature/noise seen + noise floor / h
    left: np.ndarray  # (k,) one-sided slopes (J0 - J(-h)) / h, NaN where not measured
    right: np.ndarray  # (k,) (J(+h) - J0) / h
    kink: np.ndarray  # (k,) bool: smooth on each side, with a jump of slope between
    lo: np.ndarray  # (k,) the interval between the one-sided slopes, widened by their drift
    hi: np.ndarray
    flat: np.ndarray  # (k,) bool: every cost of the stencil equals J0 exactly
    truncation: np.ndarray  # (k,) |D(h) - D(2h)|, the part of `unc` that a smaller step shrinks
    floor: np.ndarray  # (k,) noise / h, the part of `unc` that a larger step shrinks
    D2: np.ndarray  # (k,) the central difference at the doubled step, D(2h)


class Noise(NamedTuple):
    """The noise of the cost near theta0: measured, and the floor of float64 rounding."""

    level: float  # the noise of one evaluation, absolute: max(measured, floor)
    measured: float  # ECnoise's estimate (0.0 when the cost did not move, NaN when unresolved)
    floor: float  # ROUNDOFF_ULPS * unit * |J0|: the rounding of the returned value alone
    unit: float  # the unit round-off of the arithmetic (u of float64, or of np.longdouble)

    @property
    def noisy(self):
        """Is the cost much noisier than float64 round-off (float32, quantized, saturated)?"""
        return self.floor > 0 and self.level > NOISY * self.floor

    def step_factor(self):
        """How much wider than u^(1/3) the central step must be: (noise / floor)^(1/3), as the
        optimal step of a central difference grows with the cube root of the noise."""
        if not self.noisy:
            return 1.0
        return min(MAX_NOISY_STEP, (self.level / self.floor) ** (1 / 3))


def central(J0, J, h, noise):
    """The error model of the central differences from the costs J (4, k) at the STENCIL.

    Parameters
    ----------
    J0 : float
        The cost at theta0.
    J : ndarray, shape (4, k)
        Costs at theta0 + (h, -h, 2h, -2h) * direction, per item.
    h : ndarray, shape (k,)
    noise : Noise

    Returns
    -------
    Estimate
    """
    Jp, Jm, Jp2, Jm2 = J
    D, D2 = (Jp - Jm) / (2 * h), (Jp2 - Jm2) / (4 * h)
    right, left = (Jp - J0) / h, (J0 - Jm) / h
    right2, left2 = (Jp2 - J0) / (2 * h), (J0 - Jm2) / (2 * h)
    floor = np.maximum(noise.level, ROUNDOFF_ULPS * noise.unit * np.max(np.abs(J), axis=0)) / h
    # (right2 - left2) - 2 (right - left) is the 4th difference / 2h: O(h^3) when smooth, the
    # jump of the slope at a kink, or the noise of the cost where this stencil sees it.
    local = np.abs((right2 - left2) - 2 * (right - left))
    truncation = np.abs(D - D2)  # D(2h) - D(h) ~ 3x the O(h^2) error of D(h)
    drift = np.abs(right - right2) + np.abs(left - left2)
    kink = (local > SAFETY * floor) & (drift < KINK_CLEAN * np.abs(right - left))
    slack = KINK_TOL * drift + SAFETY * floor
    lo = np.minimum(np.minimum(left, right), np.minimum(left2, right2)) - slack
    hi = np.maximum(np.maximum(left, right), np.maximum(left2, right2)) + slack
    flat = np.all(J == J0, axis=0)
    # The 4th difference of pure noise is about sqrt(70) x the noise (ECnoise's gamma_4):
    # only beyond that, by SAFETY, does it show curvature or a kink that the noise term of
    # `unc` does not already cover.
    beyond_noise = np.where(local * h > SAFETY * NOISE_4TH * floor * h, local, 0.0)
    return Estimate(D, truncation + beyond_noise + floor, left, right, kink, lo, hi, flat,
                    truncation, floor, D2)


def richardson(at_h, at_2h):
    """The fourth-order estimate (4 D(h) - D(2h)) / 3 from the Estimates at steps h and 2h,
    with the uncertainty |R(h) - R(2h)| (truncation, now O(h^4)) + the noise term at h.

    Where the cost is noisy (a saturated log(1 - sigmoid(z)), float32), a higher order
    allows a wider step, so the noise matters less: the error falls from noise^(2/3) to
    noise^(4/5)."""
    R = (4 * at_h.D - at_h.D2) / 3
    R2 = (4 * at_2h.D - at_2h.D2) / 3
    truncation = np.abs(R - R2)
    return at_h._replace(D=R, unc=truncation + at_h.floor, kink=at_h.kink | at_2h.kink,
                         truncation=truncation)


def forward(f, h, noise):
    """The one-sided estimate from costs f (3,) at theta0 + (0, h, 2h) * direction: the
    second-order forward difference, its uncertainty from the first-order one and noise."""
    D1 = (f[1] - f[0]) / h
    D2 = (-3 * f[0] + 4 * f[1] - f[2]) / (2 * h)
    unc = abs(D1 - D2) + 4 * noise.level / h
    nothing, no = np.full(1, np.nan), np.zeros(1, bool)
    return Estimate(np.array([D2]), np.array([unc]), nothing, nothing, no, nothing, nothing,
                    no, np.array([abs(D1 - D2)]), np.array([4 * noise.level / h]),
                    np.array([D1]))


def central_points(theta0, h, axes=None, directions=None, multipliers=STENCIL):
    """The points of `multipliers` (the STENCIL, or part of it) along `axes` (k,) or unit
    `directions` (k, n), steps h (k,): row i * k + j is theta0 + multipliers[i] * h[j] *
    (direction j)."""
    steps = np.outer(multipliers, h).ravel()
    if axes is not None:
        return Points(theta0, steps, axes=np.tile(axes, len(multipliers)))
    return Points(theta0, steps, directions=directions,
                  which=np.tile(np.arange(len(h)), len(multipliers)))


def clear(J0, J, h, noise, analytic, threshold):
    """Which items the costs J (2, k) at theta0 +- h already settle, and their Estimate.

    An item is clear when D(h) agrees with backprop within SAFETY x the noise term, or to a
    tenth of the threshold (relative): no truncation or kink conspires to match a wrong
    gradient that closely, so the +-2h costs would add nothing. Its uncertainty is the noise
    term plus the difference seen.
    """
    Jp, Jm = J
    D = (Jp - Jm) / (2 * h)
    floor = np.maximum(noise.level, ROUNDOFF_ULPS * noise.unit * np.max(np.abs(J), axis=0)) / h
    err = np.abs(analytic - D)
    settled = (err <= SAFETY * floor) | (err <= CLEAR * threshold * (np.abs(analytic) + np.abs(D)))
    nothing, no = np.full(len(D), np.nan), np.zeros(len(D), bool)
    return settled, Estimate(D, floor + err, (J0 - Jm) / h, (Jp - J0) / h, no, nothing, nothing,
                             (Jp == J0) & (Jm == J0), np.zeros(len(D)), floor, D)


def central_steps(theta, epsilon, factor=1.0):
    """Steps h (like theta) such that theta + h is exact: h = (theta + h) - theta.

    None: u^(1/3) max(1, |theta_i|) x `factor` (the noise's step factor); else `epsilon`.
    """
    if epsilon is None:
        h = CENTRAL_STEP * factor * np.maximum(1, np.abs(theta))
    else:
        h = np.full(theta.shape, epsilon, dtype=theta.dtype)
    return (theta + h) - theta


def complex_step(values, h):
    """Complex-step derivatives Im J(theta + i h e) / h from the complex costs (k,)."""
    return values.imag / h


def complex_uncertainty(D, noise):
    """The uncertainty of complex-step derivatives D (k,): no cancellation, so only the
    precision of the cost's arithmetic (u for float64; more where the noise probe measured
    it, e.g. a cost computed in float32), times COMPLEX_ULPS, of the largest |D|: an item's
    complex step carries the rounding of every term of the cost (a bias that batch norm
    cancels has a tiny derivative but not a tiny error)."""
    precision = noise.unit * noise.level / noise.floor if noise.floor > 0 else noise.unit
    return COMPLEX_ULPS * precision * (np.abs(D) + np.max(np.abs(np.nan_to_num(D)), initial=0))


def ecnoise(f):
    """The noise of equispaced costs f (m + 1,), by Moré and Wild's ECnoise.

    The k-th differences of the noise have variance (2k)! / (k!)^2 times the noise's; once
    smoothness has differenced away, three successive orders agree, and their differences
    change sign. Returns that estimate, 0.0 when the costs do not move, or NaN when no order
    is noise-dominated (the step is too large, or too small: more than half the costs equal).

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

"""Every tunable number of the checker, in one place, each with the reason for its value."""

import numpy as np

# -- precision ------------------------------------------------------------------------------
EPS = float(np.finfo(np.float64).eps)  # u, the unit round-off of float64: 2.2e-16
# The complex step re-runs an inconclusive check per entry ("directional": per direction)
# only up to this size, where that costs a few seconds at most.
SETTLE_MAX_N = 2000

# -- the verdict ----------------------------------------------------------------------------
THRESHOLD = 1e-7  # equation (2) below this passes, as in the course

# -- steps ----------------------------------------------------------------------------------
CENTRAL_STEP = EPS ** (1 / 3)  # 6.1e-6: balances truncation O(h^2) against round-off O(u/h)
COMPLEX_STEP = 1e-20  # the complex step has no cancellation, so the step can be tiny
MAX_EPSILON = 1.0  # a step above max(1, |theta|) no longer estimates a derivative at theta
MAX_NOISY_STEP = 1e3  # a noisy cost widens the step by at most this (then 6e-3 max(1, |theta|))

# -- the noise probe ------------------------------------------------------------------------
PROBE_STEP = 1e-2  # x the central step: small, so that a ReLU kink rarely falls inside the probe
PROBE_WIDEN = 100.0  # ... and widened by this while too many of its costs are equal,
PROBE_TRIES = 3  # ... at most this many times

# -- the error model ------------------------------------------------------------------------
ROUNDOFF_ULPS = 4.0  # the least noise of one evaluation, in units of u |J|: its rounding
NOISY = 100.0  # measured noise beyond this multiple of that floor: the step is chosen from it
PROBE_POINTS = 7  # equispaced costs of the noise probe (ECnoise's smallest table)
NOISE_AGREE = 4.0  # ECnoise: noise estimates of successive orders agree within this factor
COMPLEX_ULPS = 1e3  # error of a complex-step derivative, in units of the cost's precision x |D|

# -- judging --------------------------------------------------------------------------------
SAFETY = 10.0  # an entry is wrong only beyond this multiple of its uncertainty
CLEAR = 0.1  # an entry agreeing to this x the threshold (relative) needs no +-2h costs
# Items too uncertain to certify are re-measured at the step that balances their truncation
# against their noise, clipped to this range (x the step), and by Richardson at h and at
# REFINE_WIDE h: a higher order lets a wider step beat the noise.
REFINE_RANGE = (1e-3, 0.5)
REFINE_WIDE = 10.0
DOUBT = 3.0  # an entry beyond this x its uncertainty (but within SAFETY x) is reported WITHIN
# A bug persists across every decade of step; numerical error does not. The widest (6e-2
# max(1, |theta|)) still resolves a cost that float64 freezes at smaller steps (a saturated
# log(1 - sigmoid(z)), flat over steps of 0.1 in z; a sigmoid that underflows to subnormals).
CONFIRM_STEPS = (10.0, 100.0, 1000.0, 10000.0)
WIDE = 100.0  # a conviction needs a re-measurement at least this x the step (scale-invariance)
REFUTE = 2.0  # wider steps favouring backprop by this log-likelihood ratio (odds e^2) refute
CONFIRM_COUNT = 3  # the worst entries (or directions) re-measured per suspect tensor
KINK_CLEAN = 0.1  # at a kink the one-sided slopes at h and 2h agree to this fraction of the jump
KINK_TOL = 2.0  # the interval between one-sided slopes is widened by this x their drift
DIRECTIONS = 2  # random directions per tensor for method="directional"
MAX_FOUND = 10  # the bisection of "directional" stops after this many wrong entries per tensor
BATCH_RTOL = 1e-12  # a batched cost must match single calls this closely to be trusted
BATCH_BYTES = 32 * 2**20  # memory for the points of one batched call

# -- explaining and showing -----------------------------------------------------------------
PATTERN_RTOL = 1e-4  # "2.00 x the numerical gradient" must hold entrywise to this
FACTOR_ONE = 5e-3  # a factor this close to 1 (or -1) is not named as a factor
SHOWN_BELOW = 0.1  # differences below this x threshold are shown as a bound (their digits
#                    are round-off, which changes with the CPU's BLAS kernel)
PATTERN_SHOWN = 3  # wrong entries listed by value
VALUE_DIGITS = 4  # significant digits of an analytic or numeric value (more where two print alike)
KINKS_SHOWN = 5  # kinks listed in the notes
ROUNDOFF_NOTED = 1e-13  # a noise below this x |J| is reported as "float64 round-off"
# The threshold a noisy cost supports is this x the precision reached (and the difference):
# a check at a wider threshold re-measures fewer items, so it is less precise than this one.
SUPPORT_MARGIN = 2.0
SUPPORT_STEPS = (1.0, 2.0, 5.0)  # ... rounded up to one of these x a power of ten

# -- check_vjp ------------------------------------------------------------------------------
# vjp(a d1 + b d2) = a vjp(d1) + b vjp(d2) holds to round-off (~1e-15 relative) for a linear
# backward; a nonlinear one misses by O(1). 1e-6 leaves room for 1e9-fold cancellation.
LINEARITY_RTOL = 1e-6
# Exact in binary, so a d1 and b d2 add no rounding; a + b != 1, so that an affine
# vjp(dout) = J^T dout + c (a constant c) is caught as well.
LINEARITY_COEFFICIENTS = (0.75, -1.5)
# The random upstream gradients come from their own stream, not that of `seed` itself, which
# the pipeline uses for its random directions: a dout equal to a direction could hide an error.
DOUT_STREAM = 1
# A second check at a random dout, after one at the caller's: a few evaluations per input.
RANDOM_DOUT_METHOD = "directional"

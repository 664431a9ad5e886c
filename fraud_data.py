"""A seeded synthetic data set of mobile payments, about 4% of them fraudulent.

Every payment is drawn independently; ``N(mu, s)`` is a normal distribution with
mean mu and standard deviation s.

Features
--------
=======================  =========================================  =====================
raw quantity             how it is drawn                            row(s) of X
=======================  =========================================  =====================
amount                   log-normal, ``exp(N(3.4, 1.1))``: median   ``log_amount``
                         30 currency units, 9% above 130
hour of day              ``N(14, 6)`` wrapped into [0, 24): 13%     ``hour_sin``,
                         of payments fall at night (00:00-05:59)    ``hour_cos``
account age (days)       gamma, shape 1.3, scale 350: mean 455,     ``log_account_age``
                         5.5% younger than 45 days
distance from the usual  log-normal, ``exp(N(1.6, 1.7))`` km,       ``log_distance``
location (km)            heavy-tailed: median 5, 12.5% beyond 35
device change            1 with probability 0.15, else 0            ``device_change``
merchant risk score      beta(2, 8), in [0, 1], mean 0.2            ``merchant_risk``
transactions in the      Poisson with mean 3: 18% have 5 or more    ``tx_24h``
last 24 h
=======================  =========================================  =====================

The hour is encoded cyclically as sin and cos of 2 pi hour / 24, so that 23:59
sits next to 00:00. The amount is log-transformed, the account age and the
distance are ``log1p``-transformed, since they span decades.

Label
-----
A payment is fraudulent (y = 1) with probability ``sigmoid(s)``, drawn as a
Bernoulli variable. The fraud score ``s`` is mostly made of interactions, which a
linear model in the features cannot represent:

- new device AND far from the usual location (> 35 km): +8 (1.9% of payments);
- at night AND a large amount (> 130): +8 (1.1%);
- young account (< 45 days) AND a burst (>= 5 transactions in 24 h): +8 (1.0%);
- plus ``3 * merchant_risk`` and an intercept of -6.

About 93% of the payments in one of these groups are fraudulent and 0.5% of
the others. Fraud rate: about 4.1% overall; a split of 1000 payments varies
around it by about 0.6 percentage points (one standard deviation). Because
labels are random draws, no classifier is perfect: the true probability,
thresholded at 0.5, has a precision of about 0.93 and a recall of about 0.89.

Split and scaling
-----------------
Training and test payments come from two independent streams spawned from
`seed`, so the training set does not depend on `m_test`. Each feature is
standardized with the mean and standard deviation of the TRAINING set; the same
transform is applied to the test set, which therefore does not have mean 0 and
standard deviation 1 exactly.
"""

import numpy as np

from gc_utils import sigmoid

M_TRAIN = 2000
M_TEST = 1000

FEATURE_NAMES = (
    "log_amount",
    "hour_sin",
    "hour_cos",
    "log_account_age",
    "log_distance",
    "device_change",
    "merchant_risk",
    "tx_24h",
)

# Fraud score s = FRAUD_INTERCEPT + sum of the terms below; P(fraud) = sigmoid(s).
FRAUD_INTERCEPT = -6.0
FAR_KM, NEW_DEVICE_FAR = 35.0, 8.0
NIGHT_END_HOUR, LARGE_AMOUNT, NIGHT_LARGE_AMOUNT = 6.0, 130.0, 8.0
YOUNG_DAYS, BURST_TX, YOUNG_BURST = 45.0, 5, 8.0
MERCHANT_RISK_WEIGHT = 3.0


def load_payments(m_train=M_TRAIN, m_test=M_TEST, seed=0):
    """Draw the training and test payments, standardized with the training statistics.

    Parameters
    ----------
    m_train : int, at least 2
        Number of training payments.
    m_test : int, at least 1
        Number of test payments.
    seed : int, at least 0
        Seed of a private generator; the global NumPy state is not touched.

    Returns
    -------
    X_train : ndarray of float64, shape (n_x, m_train)
        One payment per column; n_x = len(feature_names) = 8.
    Y_train : ndarray of float64, shape (1, m_train)
        1.0 for fraud, 0.0 otherwise.
    X_test : ndarray of float64, shape (n_x, m_test)
    Y_test : ndarray of float64, shape (1, m_test)
    feature_names : list of str, length n_x
        Name of each row of X, in order.
    """
    # m_train >= 2 so that every training standard deviation is defined.
    for name, value, smallest in (("m_train", m_train, 2), ("m_test", m_test, 1),
                                  ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"`{name}` must be an int, got {type(value).__name__}")
        if value < smallest:
            raise ValueError(f"`{name}` must be at least {smallest}, got {value}")

    train_stream, test_stream = np.random.SeedSequence(int(seed)).spawn(2)
    X_train, Y_train = _draw_payments(int(m_train), np.random.default_rng(train_stream))
    X_test, Y_test = _draw_payments(int(m_test), np.random.default_rng(test_stream))

    # Training statistics only: the test set must not leak into the scaling.
    mean = X_train.mean(axis=1, keepdims=True)
    std = X_train.std(axis=1, keepdims=True)
    std[std == 0] = 1.0  # a constant feature stays 0 instead of becoming NaN
    return (X_train - mean) / std, Y_train, (X_test - mean) / std, Y_test, list(FEATURE_NAMES)


def _draw_payments(m, rng):
    """Raw (unscaled) features, shape (n_x, m), and labels, shape (1, m)."""
    amount = rng.lognormal(mean=3.4, sigma=1.1, size=m)
    hour = rng.normal(14.0, 6.0, size=m) % 24.0
    account_age = rng.gamma(shape=1.3, scale=350.0, size=m)
    distance = rng.lognormal(mean=1.6, sigma=1.7, size=m)
    device_change = (rng.random(m) < 0.15).astype(float)
    merchant_risk = rng.beta(2.0, 8.0, size=m)
    tx_24h = rng.poisson(3.0, size=m).astype(float)

    score = (
        FRAUD_INTERCEPT
        + NEW_DEVICE_FAR * (device_change * (distance > FAR_KM))
        + NIGHT_LARGE_AMOUNT * ((hour < NIGHT_END_HOUR) & (amount > LARGE_AMOUNT))
        + YOUNG_BURST * ((account_age < YOUNG_DAYS) & (tx_24h >= BURST_TX))
        + MERCHANT_RISK_WEIGHT * merchant_risk
    )
    fraud = rng.random(m) < sigmoid(score)

    angle = 2 * np.pi * hour / 24.0
    X = np.stack([
        np.log(amount),
        np.sin(angle),
        np.cos(angle),
        np.log1p(account_age),
        np.log1p(distance),
        device_change,
        merchant_risk,
        tx_24h,
    ])
    return X, fraud.astype(float).reshape(1, m)


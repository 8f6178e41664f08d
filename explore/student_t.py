"""Student's t quantiles in pure Python (for the 95% interval of a tabulation).

`ippmd tabulate` answers in well under a second; importing scipy (and numpy with it) alone costs
more than the whole query, so the one special function needed is computed here: the upper tail
P(T > t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2), the regularised incomplete beta function
by its continued fraction (modified Lentz), inverted by bisection to full double precision.
Tests hold it to scipy.stats.t.ppf and the intervals to R's qt().
"""

from __future__ import annotations

import math
from statistics import NormalDist

_EPSILON = 1e-16
_TINY = 1e-300
LARGE_DF = 1000


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1.0) < _EPSILON:
            break
    return result


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function, for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0 and df degrees of freedom."""
    return 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))


def _large_df_quantile(probability: float, df: float) -> float:
    """The Cornish-Fisher expansion of t in the normal quantile z (Abramowitz & Stegun 26.7.5):
    its error is of order df^-5, below double precision for df >= LARGE_DF, where the beta
    function's log-gamma differences start to lose digits."""
    z = NormalDist().inv_cdf(probability)
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / df ** (k + 1) for k, term in enumerate(terms))


def t_quantile(probability: float, df: float) -> float:
    """The t value with P(T <= t) = probability (0.5 < probability < 1), df >= 1."""
    if not 0.5 < probability < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 < probability < 1 and df >= 1 (got {probability}, {df})")
    if df >= LARGE_DF:
        return _large_df_quantile(probability, df)
    tail = 1.0 - probability
    low, high = 0.0, 1.0
    while t_upper_tail(high, df) > tail:
        low, high = high, high * 2.0
    for _ in range(200):  # bisection to adjacent doubles
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if t_upper_tail(middle, df) > tail:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)

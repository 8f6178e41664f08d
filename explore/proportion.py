"""95% intervals for a design-based share that stay inside [0, 1], as R's `survey::svyciprop` gives them.

The share p, its linearised standard error SE, the design's df (R's `degf()`) and n (rows used)
come from `ippmd.explore.tabulate`; this module turns them into an interval:

- **logit** (the default; `svyciprop(method = "logit")`): R fits `svyglm(y ~ 1, family =
  quasibinomial)`, whose intercept is logit(p) and whose sandwich SE is SE / (p (1 - p)) (the
  linearised variable of the intercept is the mean's divided by p (1 - p)); the interval is
  expit(logit(p) +/- t(0.975, df) x SE / (p (1 - p))).
- **beta** (Korn and Graubard 1998, Survey Methodology 24(2); `svyciprop(method = "beta")`):
  Clopper-Pearson with the effective sample size n_eff = p (1 - p) / SE^2, scaled by
  (t(0.975, n - 1) / t(0.975, df))^2: [qbeta(0.025, n_eff p, n_eff (1 - p) + 1),
  qbeta(0.975, n_eff p + 1, n_eff (1 - p))].
- **A share of 0 or 1** (more generally, SE = 0): logit(0) is minus infinity (R's svyglm does not
  converge and its interval collapses to about [1e-12, 6e-12]) and R's beta gives NaN
  (n_eff = 0 / 0). Either method then gives beta with n_eff = n, the design effect taken as 1
  (no variance to estimate it from) and still scaled for the design's df: at p = 0 the interval
  is [0, 1 - 0.025^(1 / n_eff)], never [0, 0]. (n_eff = n at p = 0 or 1 is the rule of WHO's
  VCQI `svypd`, after Dean and Pagano 2015, J. Survey Statistics and Methodology 3(4).) The row
  names this method: "beta (n_eff = n)".

Pure Python (no scipy: `ippmd tabulate` answers in well under a second): the beta quantile is
found by Newton steps kept inside a shrinking bracket on `regularized_beta`. Tests hold every
interval to R's svyciprop and to scipy.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Literal

from ippmd.explore.student_t import regularized_beta, t_quantile

Method = Literal["logit", "beta"]
METHODS: tuple[Method, ...] = ("logit", "beta")
DEFAULT: Method = "logit"
AT_BOUNDS = "beta (n_eff = n)"  # the method of a row whose share has no variance (0, 1, or SE = 0)
DESCRIPTION: dict[str, str] = {
    "logit": 'logit: expit(logit(p) +/- t(0.975, df) x SE / (p (1 - p))), R\'s svyciprop(method = "logit")',
    "beta": "beta: Korn-Graubard, Clopper-Pearson on n_eff = p (1 - p) / SE^2 x (t(0.975, n - 1) / "
    't(0.975, df))^2, R\'s svyciprop(method = "beta")',
}


@cache
def _t(probability: float, df: int) -> float:
    """t quantiles, computed once per df (a table has few distinct df and n)."""
    return t_quantile(probability, df)


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def beta_quantile(probability: float, a: float, b: float) -> float:
    """x with I_x(a, b) = probability (R's qbeta); a = 0 is a point mass at 0, b = 0 at 1."""
    if a <= 0.0:
        return 0.0
    if b <= 0.0:
        return 1.0
    if a == 1.0:  # I_x(1, b) = 1 - (1 - x)^b: the upper bound of a share of 0
        return -math.expm1(math.log1p(-probability) / b)
    if b == 1.0:  # I_x(a, 1) = x^a: the lower bound of a share of 1
        return math.exp(math.log(probability) / a)
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    low, high, x = 0.0, 1.0, a / (a + b)
    for _ in range(500):
        excess = regularized_beta(a, b, x) - probability
        if excess == 0.0:
            return x
        low, high = (low, x) if excess > 0 else (x, high)
        density = math.exp(log_norm + (a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x))
        step = x - excess / density if density > 0 else math.nan
        following = step if low < step < high else 0.5 * (low + high)
        if abs(following - x) <= 1e-15 * x or high - low <= 1e-16 * high:
            return following
        x = following
    return x


def logit_interval(p: float, std_error: float, df: int, confidence: float) -> tuple[float, float]:
    """R's svyciprop(method = "logit") for 0 < p < 1 and SE > 0."""
    half = _t(0.5 + confidence / 2, df) * std_error / (p * (1.0 - p))
    centre = math.log(p / (1.0 - p))
    return _expit(centre - half), _expit(centre + half)


def beta_interval(p: float, n_eff: float, n: int, df: int, confidence: float) -> tuple[float, float]:
    """R's svyciprop(method = "beta") given the effective sample size before its df scaling."""
    upper = 0.5 + confidence / 2
    n_eff *= (_t(upper, n - 1) / _t(upper, df)) ** 2
    alpha = 1.0 - confidence
    low = beta_quantile(alpha / 2, n_eff * p, n_eff * (1.0 - p) + 1.0)
    high = beta_quantile(1.0 - alpha / 2, n_eff * p + 1.0, n_eff * (1.0 - p))
    return low, high


def share_interval(
    p: float, std_error: float, n: int, df: int, method: Method, confidence: float
) -> tuple[float | None, float | None, str | None]:
    """(low, high, method used) for one share; (None, None, None) when df < 1 (no interval)."""
    if df < 1 or n < 2:
        return None, None, None
    if std_error <= 0.0 or p <= 0.0 or p >= 1.0:
        low, high = beta_interval(p, float(n), n, df, confidence)
        return low, high, AT_BOUNDS
    if method == "logit":
        return (*logit_interval(p, std_error, df, confidence), "logit")
    return (*beta_interval(p, p * (1.0 - p) / std_error**2, n, df, confidence), "beta")

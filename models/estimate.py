"""Estimate every spec with pyfixest: a pooled effect and one effect per country.

For each spec two weighted least-squares (linear probability or log-linear) models are fitted on
the same sample, with CRV1 standard errors clustered by community (the primary sampling unit):

* pooled: ``y ~ t + controls | region``: one common effect, region fixed effects (regions are
  nested in countries, so country fixed effects are absorbed too);
* by country: ``y ~ i(country, t) + controls | region``: ten country-specific slopes from one
  model, so their covariance is known and a focus country can be tested against its peers.

Controls and fixed effects are common to all countries in the interacted model. There is no
survey-design variance (strata, finite-population correction): weights plus clustering only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.spec import ModelSpec, SpecError, load_specs

LEVEL = 0.95
ESTIMATE_COLUMNS = (
    "spec",
    "country",
    "term",
    "estimate",
    "std_error",
    "p_value",
    "ci_low",
    "ci_high",
    "n_obs",
)
POOLED = "ALL"
_FOCUS = ("focus_estimate", "focus_std_error", "focus_p_value", "focus_ci_low", "focus_ci_high")
_CONTRASTS = tuple(
    f"{name}{suffix}"
    for name in ("peer_mean", "difference")
    for suffix in ("", "_std_error", "_ci_low", "_ci_high", "_p_value")
)
COMPARISON_SCHEMA: dict[str, type[pl.DataType]] = {
    "spec": pl.String,
    "term": pl.String,
    "focus": pl.String,
    "n_peers": pl.Int64,
    **dict.fromkeys((*_FOCUS, *_CONTRASTS), pl.Float64),
    "rank": pl.Int64,
    "n_ranked": pl.Int64,
}
_INTERACTION = re.compile(r"^country::(?P<country>[^:]+):(?P<term>.+)$")


@dataclass
class SpecFit:
    """The fitted models of one spec and the facts needed to read them."""

    spec: ModelSpec
    pooled: Any  # pyfixest Feols (lean)
    by_country: Any  # pyfixest Feols (lean)
    fixed_effects: tuple[str, ...]
    n_by_country: dict[str, int]
    countries: list[str]
    seconds: float
    frame: pl.DataFrame = field(repr=False)

    @property
    def n_obs(self) -> int:
        return int(sum(self.n_by_country.values()))


def control_terms(spec: ModelSpec, frame: pl.DataFrame) -> list[str]:
    """Controls as formula terms: text columns become categorical C(...), numbers enter as is."""
    return [f"C({c})" if frame.schema[c] == pl.String else c for c in spec.controls]


def fixed_effects_for(spec: ModelSpec, frame: pl.DataFrame) -> tuple[str, ...]:
    """The declared fixed effects, checked: each must be nested in country (so the country main
    effects stay absorbed), and a treatment must vary within its groups; otherwise fall back to
    country fixed effects (e.g. a regional programme would be swallowed by region dummies)."""
    chosen = []
    for fe in spec.fixed_effects:
        if fe == "country":
            chosen.append(fe)
            continue
        per_group = frame.group_by(fe).agg(pl.col("country").n_unique().alias("k"))
        if per_group["k"].max() > 1:
            raise SpecError(f"{spec.id}: fixed effect {fe} is not nested in country")
        varies = frame.group_by(fe).agg(pl.col(t).n_unique().alias(t) for t in spec.treatments)
        if all(varies[t].max() > 1 for t in spec.treatments):
            chosen.append(fe)
    return tuple(chosen) or ("country",)


def formula(spec: ModelSpec, frame: pl.DataFrame, fixed_effects: tuple[str, ...], by_country: bool) -> str:
    treatment = [f"i(country, {t})" if by_country else t for t in spec.treatments]
    rhs = " + ".join([*treatment, *control_terms(spec, frame)])
    return f"{spec.model_outcome} ~ {rhs} | {' + '.join(fixed_effects)}"


def fit_spec(spec: ModelSpec, frame: pl.DataFrame, countries: list[str]) -> SpecFit:
    """Both models of one spec on its analysis frame (lean fits: only what tables need)."""
    import pyfixest as pf

    start = time.perf_counter()
    fes = fixed_effects_for(spec, frame)
    data = frame.to_pandas()
    options: dict[str, Any] = {
        "vcov": {"CRV1": spec.cluster},
        "weights": spec.weights,
        "store_data": False,
        "lean": True,
        "copy_data": False,
        # Drop nothing silently: singletons would change the sample behind the reported counts.
        "fixef_rm": "none",
    }
    pooled = pf.feols(formula(spec, frame, fes, by_country=False), data, **options)
    by_country = pf.feols(formula(spec, frame, fes, by_country=True), data, **options)
    for model in (pooled, by_country):
        if int(model._N) != frame.height:  # the counts reported beside each estimate must be its sample
            raise SpecError(f"{spec.id}: pyfixest used {model._N} of {frame.height} rows")
    counts = dict(frame.group_by("country").len().iter_rows())
    return SpecFit(
        spec=spec,
        pooled=pooled,
        by_country=by_country,
        fixed_effects=fes,
        n_by_country={c: int(counts.get(c, 0)) for c in countries},
        countries=countries,
        seconds=time.perf_counter() - start,
        frame=frame,
    )


def fit_all(data: PackageData, specs: tuple[ModelSpec, ...] | None = None) -> list[SpecFit]:
    specs = load_specs() if specs is None else specs
    return [fit_spec(spec, analysis_frame(spec, data), data.countries) for spec in specs]


def _coefficients(fit: Any) -> dict[str, int]:
    return {str(name): i for i, name in enumerate(fit._coefnames)}


def _t_quantile(df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + LEVEL / 2, df))


def _p_value(t: float, df: float) -> float:
    from scipy import stats

    return float(2 * stats.t.sf(abs(t), df))


def country_effects(fit: SpecFit) -> dict[tuple[str, str], dict[str, float]]:
    """(country, term) -> estimate, std_error, p_value, ci_low, ci_high from the interacted model.

    A country where a treatment never varies has no estimate (pyfixest drops the collinear
    column); it is reported as missing rather than as zero.
    """
    model = fit.by_country
    tidy = model.tidy()
    out: dict[tuple[str, str], dict[str, float]] = {}
    for name, row in tidy.iterrows():
        match = _INTERACTION.match(str(name))
        if not match:
            continue
        out[(match["country"], match["term"])] = {
            "estimate": float(row["Estimate"]),
            "std_error": float(row["Std. Error"]),
            "p_value": float(row["Pr(>|t|)"]),
            "ci_low": float(row["2.5%"]),
            "ci_high": float(row["97.5%"]),
        }
    return out


def estimates_rows(fit: SpecFit) -> list[dict[str, Any]]:
    """Rows of estimates.csv for one spec: the pooled effect (country ALL), then each country."""
    rows = []
    tidy = fit.pooled.tidy()
    for term in fit.spec.treatments:
        row = tidy.loc[term]
        rows.append(
            {
                "spec": fit.spec.id,
                "country": POOLED,
                "term": term,
                "estimate": float(row["Estimate"]),
                "std_error": float(row["Std. Error"]),
                "p_value": float(row["Pr(>|t|)"]),
                "ci_low": float(row["2.5%"]),
                "ci_high": float(row["97.5%"]),
                "n_obs": fit.n_obs,
            }
        )
    effects = country_effects(fit)
    nan = float("nan")
    for term in fit.spec.treatments:
        for country in fit.countries:
            values = effects.get(
                (country, term),
                {"estimate": nan, "std_error": nan, "p_value": nan, "ci_low": nan, "ci_high": nan},
            )
            rows.append(
                {
                    "spec": fit.spec.id,
                    "country": country,
                    "term": term,
                    **values,
                    "n_obs": fit.n_by_country[country],
                }
            )
    return rows


def estimates_table(fits: list[SpecFit]) -> pl.DataFrame:
    rows = [row for fit in fits for row in estimates_rows(fit)]
    return pl.DataFrame(rows, schema_overrides={"n_obs": pl.Int64}).select(ESTIMATE_COLUMNS)


def focus_comparison(fit: SpecFit, focus: str) -> list[dict[str, Any]]:
    """Per treatment: the focus country's effect, the mean of its peers' effects, the difference
    (with the covariance of the interacted model, so the test is exact for this model) and the
    focus country's rank among the countries with an estimate (1 = largest signed effect)."""
    if focus not in fit.countries:
        raise ValueError(f"focus {focus!r} is not one of {fit.countries}")
    model = fit.by_country
    index = _coefficients(model)
    beta = np.asarray(model._beta_hat, dtype=float)
    vcov = np.asarray(model._vcov, dtype=float)
    df = float(model._df_t)
    q = _t_quantile(df)
    effects = country_effects(fit)
    rows = []
    for term in fit.spec.treatments:
        available = [c for c in fit.countries if (c, term) in effects]
        peers = [c for c in available if c != focus]
        # Every column on every row (null where it does not apply, e.g. no peers), so that the
        # table has the same columns whatever the package holds.
        row: dict[str, Any] = dict.fromkeys(COMPARISON_SCHEMA)
        row.update(spec=fit.spec.id, term=term, focus=focus, n_peers=len(peers))
        own = effects.get((focus, term))
        row.update(
            {f"focus_{k}": (own[k] if own else float("nan")) for k in ("estimate", "std_error", "p_value")}
        )
        row["focus_ci_low"] = own["ci_low"] if own else float("nan")
        row["focus_ci_high"] = own["ci_high"] if own else float("nan")

        def contrast(weights: dict[str, float], term: str = term) -> tuple[float, float]:
            c = np.zeros(beta.size)
            for country, w in weights.items():
                c[index[f"country::{country}:{term}"]] = w
            return float(c @ beta), float(np.sqrt(c @ vcov @ c))

        def interval(name: str, weights: dict[str, float]) -> dict[str, float]:
            """A linear combination of country effects: estimate, SE, CI and p-value columns."""
            value, se = contrast(weights)
            return {
                name: value,
                f"{name}_std_error": se,
                f"{name}_ci_low": value - q * se,
                f"{name}_ci_high": value + q * se,
                f"{name}_p_value": _p_value(value / se, df),
            }

        if peers:
            row.update(interval("peer_mean", {c: 1 / len(peers) for c in peers}))
        if peers and own:
            row.update(interval("difference", {focus: 1.0, **{c: -1 / len(peers) for c in peers}}))
            ordered = sorted(available, key=lambda c: -effects[(c, term)]["estimate"])
            row["rank"] = ordered.index(focus) + 1
            row["n_ranked"] = len(ordered)
        rows.append(row)
    return rows


def comparison_table(fits: list[SpecFit], focus: str) -> pl.DataFrame:
    """One row per spec and treatment; peer_mean*, difference*, rank and n_ranked are null when
    the focus country has no peers with an estimate (e.g. a one-country package)."""
    rows = [row for fit in fits for row in focus_comparison(fit, focus)]
    return pl.DataFrame(rows, schema=COMPARISON_SCHEMA)

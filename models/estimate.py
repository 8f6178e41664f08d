"""Estimate every spec with pyfixest: a pooled effect and one effect per country, with inference
that holds for each country's own number of communities.

For each spec two weighted models are fitted on the same sample (least squares: linear
probability or log-linear; or Poisson with `estimator: poisson`), with CRV1 standard errors
clustered by community (the primary sampling unit) and pyfixest's small-sample correction set
explicitly (`models/inference.yaml`):

* pooled: ``y ~ t + controls | region``: one common effect, region fixed effects (regions are
  nested in countries, so country fixed effects are absorbed too);
* by country: ``y ~ i(country, t) + controls | region``: ten country-specific slopes from one
  model, so their covariance is known and a focus country can be tested against its peers.

Degrees of freedom follow the clusters behind each number: t(G_c - 1) for a country's effect
(G_c = its communities in the sample), t(G - 1) for the pooled effect. A country-term whose
treatment varies only between communities, or with fewer treated (or untreated) communities than
the threshold in `models/inference.yaml`, gets few-cluster inference instead, chosen per term by
the rule in that file: CR2 with Bell-McCaffrey degrees of freedom, or the wild cluster restricted
bootstrap (`ippmd.models.inference`; the `method` column names it). Both are computed on one
absorbed model (fixed effect swept out, survey weights kept). The focus-against-peers comparison
of a term uses the same method when any country's effect of that term does. There is no
survey-design variance (strata, finite-population correction): weights plus clustering only.

Library warnings raised while fitting are captured and kept as `messages` of the fit (reported in
diagnostics.csv and the report), never printed raw.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from ippmd.core.scalars import as_number
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.design import codes, design
from ippmd.models.inference import (
    CR2,
    CRV1,
    WCR,
    AbsorbedWLS,
    BootstrapContrast,
    CR2Contrast,
    CR2Model,
    RankSets,
    WildBootstrap,
    benjamini_hochberg,
    holm,
    random_effects,
    rank_method_label,
    rank_sets,
    seeded_rng,
    settings,
    t_p_value,
    t_quantile,
    webb_weights,
)
from ippmd.models.spec import ModelSpec, SpecError, load_specs

LEVEL = settings().level
Z = 1.959963984540054  # standard normal 97.5% quantile, for the SE implied by a 95% interval
ESTIMATE_COLUMNS = (
    "spec",
    "country",
    "term",
    "family",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "ci_low",
    "ci_high",
    "method",
    "p_holm",
    "q_bh",
    "n_obs",
    "n_clusters",
)
POOLED = "ALL"
_QUANTITY = ("std_error", "statistic", "df", "p_value", "ci_low", "ci_high")  # beside each estimate
_FOCUS = ("focus_estimate", *(f"focus_{column}" for column in _QUANTITY))
_CONTRASTS = tuple(
    f"{name}{suffix}"
    for name in ("peer_mean", "difference")
    for suffix in ("", *(f"_{c}" for c in _QUANTITY))
)
_RANDOM = (
    "peer_mean_re", "peer_mean_re_std_error", "peer_mean_re_ci_low", "peer_mean_re_ci_high", "tau2",
    "cochran_q", "cochran_q_p_value", "prediction_low", "prediction_high",
)  # fmt: skip
_RANK_SETS = ("rank_marginal_low", "rank_marginal_high", "rank_simultaneous_low", "rank_simultaneous_high")
COMPARISON_SCHEMA: dict[str, type[pl.DataType]] = {
    "spec": pl.String,
    "term": pl.String,
    "family": pl.String,
    "focus": pl.String,
    "direction": pl.String,
    "n_peers": pl.Int64,
    **dict.fromkeys(_FOCUS, pl.Float64),
    "focus_method": pl.String,
    "focus_p_holm": pl.Float64,
    "focus_q_bh": pl.Float64,
    **dict.fromkeys(_CONTRASTS, pl.Float64),
    "peer_mean_method": pl.String,
    "method": pl.String,
    "p_holm": pl.Float64,
    "q_bh": pl.Float64,
    "rank": pl.Int64,
    **dict.fromkeys(_RANK_SETS, pl.Int64),
    "n_ranked": pl.Int64,
    "rank_method": pl.String,
    **dict.fromkeys(_RANDOM, pl.Float64),
    "cochran_q_df": pl.Int64,
    "peer_mean_re_method": pl.String,
}
_INTERACTION = re.compile(r"^country::(?P<country>[^:]+):(?P<term>.+)$")
_DROPPED = re.compile(r"dropped: \[(?P<names>[^\]]*)\]")


@dataclass(frozen=True)
class Message:
    """A warning raised while fitting, in our words: which spec, model and country, and why."""

    spec: str
    model: str
    country: str
    kind: str
    text: str


def translate_warning(spec: ModelSpec, model: str, warning: warnings.WarningMessage) -> list[Message]:
    """One captured library warning as our diagnostics (one per country it names)."""
    text = " ".join(str(warning.message).split())
    found = _DROPPED.search(text)
    if "multicollinearity" in text and found:
        names = [n.strip().strip("'\"") for n in found["names"].split(",") if n.strip()]
        out = []
        for name in names:
            match = _INTERACTION.match(name)
            country = match["country"] if match else ""
            what = (
                f"{match['term']} does not vary within {country}'s fixed-effect groups: no estimate"
                if match
                else f"{name} is collinear with the other regressors and was dropped"
            )
            out.append(Message(spec.id, model, country, "collinear", what))
        return out
    category = warning.category.__name__
    return [Message(spec.id, model, "", category, text[:300])]


@dataclass
class SpecFit:
    """The fitted models of one spec and the facts needed to read them."""

    spec: ModelSpec
    pooled: Any  # pyfixest Feols/Fepois (lean)
    by_country: Any  # pyfixest Feols/Fepois (lean)
    fixed_effects: tuple[str, ...]
    n_by_country: dict[str, int]
    countries: list[str]
    seconds: float
    frame: pl.DataFrame = field(repr=False)
    clusters_by_country: dict[str, int] = field(default_factory=dict)
    few_clusters: dict[tuple[str, str], str] = field(default_factory=dict)  # (country, term) -> why
    bootstrap: WildBootstrap | None = field(default=None, repr=False)
    messages: list[Message] = field(default_factory=list)
    cr2: CR2Model | None = field(default=None, repr=False)
    term_methods: dict[str, str] = field(default_factory=dict)  # flagged term -> WCR or CR2

    @property
    def n_obs(self) -> int:
        return int(sum(self.n_by_country.values()))

    @property
    def n_clusters(self) -> int:
        return int(sum(self.clusters_by_country.values()))

    def method(self, country: str, term: str) -> str:
        """The term's few-cluster method (WCR or CR2, `models/inference.yaml`) where the
        few-cluster rule applies to this country and the method could be prepared, else CRV1."""
        return self.term_methods.get(term, CRV1) if (country, term) in self.few_clusters else CRV1

    def term_method(self, term: str) -> str:
        """The comparison of a term uses the term's few-cluster method when any country's effect
        of it does (the same method for the focus, every peer and the difference)."""
        return self.term_methods.get(term, CRV1) if any(c_t[1] == term for c_t in self.few_clusters) else CRV1

    def few_cluster_contrast(self, term: str, weights: dict[str, float]) -> BootstrapContrast | CR2Contrast:
        """The few-cluster test of sum_j w_j b_j with the term's method."""
        if self.term_methods[term] == CR2:
            return self.cr2_contrast(weights)
        return self.bootstrap_contrast(weights)

    @cached_property
    def _contrasts(self) -> dict[tuple[str, tuple[tuple[str, float], ...]], BootstrapContrast | CR2Contrast]:
        """Few-cluster contrasts by (method, weights): each is computed once per spec."""
        return {}

    def _cached_contrast(self, method: str, weights: dict[str, float]) -> Any:
        key = (method, tuple(sorted(weights.items())))
        if key not in self._contrasts:
            few = self.cr2 if method == CR2 else self.bootstrap
            assert few is not None
            self._contrasts[key] = few.contrast(few.model.contrast_vector(weights))
        return self._contrasts[key]

    def bootstrap_contrast(self, weights: dict[str, float]) -> BootstrapContrast:
        """The WCR contrast sum_j w_j b_j (cached: the same draws for every contrast of the spec)."""
        return self._cached_contrast(WCR, weights)

    @cached_property
    def comparisons(self) -> dict[str, list[dict[str, Any]]]:
        """focus -> the rows of `focus_comparison` (cached)."""
        return {}

    def cr2_contrast(self, weights: dict[str, float]) -> CR2Contrast:
        """The CR2 contrast sum_j w_j b_j with Bell-McCaffrey degrees of freedom (cached)."""
        return self._cached_contrast(CR2, weights)

    @cached_property
    def effects(self) -> dict[tuple[str, str], dict[str, Any]]:
        return country_effects(self)

    @cached_property
    def ranks(self) -> dict[str, tuple[list[str], RankSets]]:
        """term -> (the countries with an estimate, their rank confidence sets): computed once
        per spec, the same whichever country is the focus."""
        return {term: term_rank_sets(self, term) for term in self.spec.treatments}


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
        if as_number(per_group["k"].max()) > 1:
            raise SpecError(f"{spec.id}: fixed effect {fe} is not nested in country")
        varies = frame.group_by(fe).agg(pl.col(t).n_unique().alias(t) for t in spec.treatments)
        if all(as_number(varies[t].max()) > 1 for t in spec.treatments):
            chosen.append(fe)
    return tuple(chosen) or ("country",)


def formula(spec: ModelSpec, frame: pl.DataFrame, fixed_effects: tuple[str, ...], by_country: bool) -> str:
    treatment = [f"i(country, {t})" if by_country else t for t in spec.treatments]
    rhs = " + ".join([*treatment, *control_terms(spec, frame)])
    return f"{spec.model_outcome} ~ {rhs} | {' + '.join(fixed_effects)}"


def few_cluster_terms(spec: ModelSpec, frame: pl.DataFrame, threshold: int) -> dict[tuple[str, str], str]:
    """(country, term) -> why CRV1 is not trusted there: the treatment varies only between
    communities, or fewer than `threshold` communities have a treated (or an untreated) unit."""
    out: dict[tuple[str, str], str] = {}
    cluster = pl.col(spec.cluster)
    for term in spec.treatments:
        within_cluster = frame.group_by(spec.cluster).agg(pl.col(term).n_unique().alias("k"))
        community_level = bool(within_cluster["k"].max() == 1)
        per = frame.group_by("country").agg(
            cluster.filter(pl.col(term) == 1).n_unique().alias("treated"),
            cluster.filter(pl.col(term) == 0).n_unique().alias("untreated"),
        )
        for country, treated, untreated in per.iter_rows():
            if community_level:
                out[(country, term)] = f"community-level treatment ({treated} treated communities)"
            elif min(treated, untreated) < threshold:
                out[(country, term)] = (
                    f"{min(treated, untreated)} {'treated' if treated <= untreated else 'untreated'} "
                    f"communities (< {threshold})"
                )
    return out


def prepare_few_cluster(
    spec: ModelSpec, frame: pl.DataFrame, fixed_effects: tuple[str, ...], methods: set[str]
) -> tuple[WildBootstrap | None, CR2Model | None, str | None]:
    """The WCR and/or CR2 machinery (as `methods` asks) for the by-country model, both on one
    absorbed fit, or None and the reason neither can be used."""
    if spec.estimator != "ols":
        return None, None, "few-cluster inference is implemented for least squares only: CRV1 is reported"
    if len(fixed_effects) != 1:
        return None, None, "few-cluster inference needs exactly one absorbed fixed effect: CRV1 is reported"
    config = settings()
    d = design(spec, frame, (), by_country=True)
    model = AbsorbedWLS.fit(
        d.y, d.X, d.names, d.weights, d.clusters, codes(frame[fixed_effects[0]]), config.ssc
    )
    bootstrap = cr2 = None
    try:
        if WCR in methods:
            draws = webb_weights(model.n_clusters, config.bootstrap_draws, config.bootstrap_seed, spec.id)
            bootstrap = WildBootstrap.prepare(model, draws, config.max_search_se)
        if CR2 in methods:
            cr2 = CR2Model.prepare(model)
    except ValueError as exc:
        return None, None, f"no few-cluster inference ({exc}): CRV1 is reported"
    return bootstrap, cr2, None


def term_methods_for(spec: ModelSpec, frame: pl.DataFrame, few: dict[tuple[str, str], str]) -> dict[str, str]:
    """The few-cluster method of each flagged term, by the rule in models/inference.yaml."""
    config = settings()
    out = {}
    for term in {t for _, t in few}:
        community_level = bool(frame.group_by(spec.cluster).agg(pl.col(term).n_unique())[term].max() == 1)
        out[term] = config.few_cluster_method(community_level)
    return out


def fit_spec(spec: ModelSpec, frame: pl.DataFrame, countries: list[str]) -> SpecFit:
    """Both models of one spec on its analysis frame (lean fits: only what tables need), and
    the few-cluster machinery (CR2 or WCR) where the few-cluster rule asks for it."""
    import pyfixest as pf

    start = time.perf_counter()
    config = settings()
    fes = fixed_effects_for(spec, frame)
    data = frame.to_pandas()
    options: dict[str, Any] = {
        "vcov": {"CRV1": spec.cluster},
        "weights": spec.weights,
        "ssc": pf.ssc(**config.ssc),
        "store_data": False,
        "lean": True,
        "copy_data": False,
        # Drop nothing silently: singletons would change the sample behind the reported counts.
        "fixef_rm": "none",
    }
    estimator = pf.fepois if spec.estimator == "poisson" else pf.feols
    messages: list[Message] = []
    models = {}
    for name, by_country in (("pooled", False), ("by_country", True)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            models[name] = estimator(formula(spec, frame, fes, by_country=by_country), data, **options)
        messages += [m for w in caught for m in translate_warning(spec, name, w)]
    for model in models.values():
        if int(model._N) != frame.height:  # the counts reported beside each estimate must be its sample
            raise SpecError(f"{spec.id}: pyfixest used {model._N} of {frame.height} rows")
    counts = dict(frame.group_by("country").len().iter_rows())
    clusters = dict(frame.group_by("country").agg(pl.col(spec.cluster).n_unique()).iter_rows())
    few = few_cluster_terms(spec, frame, config.few_treated_clusters)
    bootstrap = cr2 = None
    methods = term_methods_for(spec, frame, few)
    if few:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bootstrap, cr2, why_not = prepare_few_cluster(spec, frame, fes, set(methods.values()))
        messages += [m for w in caught for m in translate_warning(spec, "few-clusters", w)]
        if why_not:
            messages.append(Message(spec.id, "few-clusters", "", "few-clusters", why_not))
            methods = {}
    return SpecFit(
        spec=spec,
        pooled=models["pooled"],
        by_country=models["by_country"],
        fixed_effects=fes,
        n_by_country={c: int(counts.get(c, 0)) for c in countries},
        countries=countries,
        seconds=time.perf_counter() - start,
        frame=frame,
        clusters_by_country={c: int(clusters.get(c, 0)) for c in countries},
        few_clusters=few,
        bootstrap=bootstrap,
        messages=messages,
        cr2=cr2,
        term_methods=methods,
    )


def fit_all(data: PackageData, specs: tuple[ModelSpec, ...] | None = None) -> list[SpecFit]:
    specs = load_specs() if specs is None else specs
    return [fit_spec(spec, analysis_frame(spec, data), data.countries) for spec in specs]


def _coefficients(fit: Any) -> dict[str, int]:
    return {str(name): i for i, name in enumerate(fit._coefnames)}


@dataclass(frozen=True)
class Inference:
    """One quantity's inference, all of it from one method (named in `method`): its standard
    error, the statistic estimate / std_error, its df (None for the bootstrap), the p-value and
    the interval. CRV1 and CR2 refer the statistic to t(df); the WCR bootstrap refers the CRV1 t
    to its bootstrap distribution and inverts that test for the interval."""

    estimate: float
    std_error: float
    df: float | None
    p_value: float
    ci_low: float
    ci_high: float
    method: str

    @property
    def statistic(self) -> float:
        return self.estimate / self.std_error if self.std_error > 0 else math.nan

    def columns(self, value: str, prefix: str, method: str) -> dict[str, Any]:
        """The row's columns: `value` the estimate, `prefix` + std_error ... ci_high the rest,
        `method` the method's name."""
        return {
            value: self.estimate,
            **{f"{prefix}{column}": getattr(self, column) for column in _QUANTITY},
            method: self.method,
        }


def crv1_inference(estimate: float, se: float, df: float) -> Inference:
    """CRV1: the t-test and interval with t(df)."""
    q = t_quantile(df, LEVEL)
    return Inference(
        estimate=estimate,
        std_error=se,
        df=df,
        p_value=t_p_value(estimate / se, df) if se > 0 else math.nan,
        ci_low=estimate - q * se,
        ci_high=estimate + q * se,
        method=settings().method_label(CRV1, df),
    )


def few_cluster_inference(contrast: BootstrapContrast | CR2Contrast) -> Inference:
    """A few-cluster contrast's inference: CR2 (its SE, Bell-McCaffrey df, t(df)) or the WCR
    bootstrap-t (the CRV1 SE of its statistic, the bootstrap p-value and interval, no df)."""
    low, high = contrast.interval(LEVEL)
    df = contrast.df if isinstance(contrast, CR2Contrast) else None
    return Inference(
        estimate=contrast.estimate,
        std_error=contrast.std_error,
        df=df,
        p_value=contrast.p_value(0.0),
        ci_low=low,
        ci_high=high,
        method=settings().method_label(WCR if df is None else CR2, df),
    )


def country_effects(fit: SpecFit) -> dict[tuple[str, str], dict[str, Any]]:
    """(country, term) -> estimate, std_error, statistic, df, p_value, ci_low, ci_high, method,
    all from the method named: CRV1 with t(G_c - 1), or the term's few-cluster method (CR2 with
    t(Bell-McCaffrey df), or the WCR bootstrap-t, df missing). A country where a treatment never
    varies has no estimate (pyfixest drops the collinear column): it is reported as missing
    rather than as zero.
    """
    model = fit.by_country
    index = _coefficients(model)
    beta = np.asarray(model._beta_hat, dtype=float)
    se_all = np.sqrt(np.diag(np.asarray(model._vcov, dtype=float)))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name, i in index.items():
        match = _INTERACTION.match(name)
        if not match:
            continue
        country, term = match["country"], match["term"]
        if fit.method(country, term) == CRV1:
            df = float(fit.clusters_by_country.get(country, 0) - 1)
            inference = crv1_inference(float(beta[i]), float(se_all[i]), df)
        else:
            inference = few_cluster_inference(fit.few_cluster_contrast(term, {name: 1.0}))
        out[(country, term)] = inference.columns("estimate", "", "method")
    return out


def estimates_rows(fit: SpecFit) -> list[dict[str, Any]]:
    """Rows of estimates.csv for one spec: the pooled effect (country ALL), then each country."""
    rows = []
    index = _coefficients(fit.pooled)
    beta = np.asarray(fit.pooled._beta_hat, dtype=float)
    se_all = np.sqrt(np.diag(np.asarray(fit.pooled._vcov, dtype=float)))
    df = float(fit.n_clusters - 1)
    identity = {"spec": fit.spec.id, "family": fit.spec.family}
    for term in fit.spec.treatments:
        pooled = crv1_inference(float(beta[index[term]]), float(se_all[index[term]]), df)
        rows.append(
            {
                **identity,
                "country": POOLED,
                "term": term,
                **pooled.columns("estimate", "", "method"),
                "n_obs": fit.n_obs,
                "n_clusters": fit.n_clusters,
            }
        )
    missing = {
        **dict.fromkeys(("estimate", *_QUANTITY), math.nan),
        "df": None,
        "method": "none (no estimate)",
    }
    for term in fit.spec.treatments:
        for country in fit.countries:
            rows.append(
                {
                    **identity,
                    "country": country,
                    "term": term,
                    **fit.effects.get((country, term), missing),
                    "n_obs": fit.n_by_country[country],
                    "n_clusters": fit.clusters_by_country.get(country, 0),
                }
            )
    return rows


def adjust_within_families(
    rows: list[dict[str, Any]],
    families: list[Any],
    source: str,
    prefix: str = "",
    missing: float | None = None,
) -> None:
    """Holm (`prefix`p_holm) and Benjamini-Hochberg (`prefix`q_bh) adjustments of the p-values in
    `source`, within each family (rows whose `families` entry is equal); a missing p-value stays
    missing (`missing`) and does not count in its family."""
    for family in dict.fromkeys(families):
        members = [r for r, f in zip(rows, families, strict=True) if f == family]
        p = [r[source] for r in members]
        for r, ph, qb in zip(members, holm(p), benjamini_hochberg(p), strict=True):
            r[f"{prefix}p_holm"] = missing if math.isnan(ph) else ph
            r[f"{prefix}q_bh"] = missing if math.isnan(qb) else qb


def estimates_table(fits: list[SpecFit]) -> pl.DataFrame:
    """All rows, with Holm and Benjamini-Hochberg adjustments within each family declared in the
    specs, the pooled tests and the country tests of a family apart."""
    rows = [row for fit in fits for row in estimates_rows(fit)]
    families = [(r["family"], r["country"] == POOLED) for r in rows]
    adjust_within_families(rows, families, "p_value", missing=math.nan)
    schema = {
        "spec": pl.String, "country": pl.String, "term": pl.String, "family": pl.String,
        "estimate": pl.Float64, "std_error": pl.Float64, "statistic": pl.Float64, "df": pl.Float64,
        "p_value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "method": pl.String,
        "p_holm": pl.Float64, "q_bh": pl.Float64, "n_obs": pl.Int64, "n_clusters": pl.Int64,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(ESTIMATE_COLUMNS)


def _effective_se(row: dict[str, Any]) -> float:
    """The standard error a normal interval of the reported width would have: CRV1 rows get their
    t(G_c - 1) width, CR2 rows their t(Bell-McCaffrey df) width, bootstrap rows the bootstrap
    interval's (inf when unbounded)."""
    return (row["ci_high"] - row["ci_low"]) / (2 * Z)


def focus_comparison(fit: SpecFit, focus: str) -> list[dict[str, Any]]:
    """`_focus_comparison`, computed once per fit and focus (the benchmark draws each spec's
    charts from it as soon as the spec is fitted, then builds the table): fresh copies."""
    if focus not in fit.comparisons:
        fit.comparisons[focus] = _focus_comparison(fit, focus)
    return [dict(row) for row in fit.comparisons[focus]]


def _focus_comparison(fit: SpecFit, focus: str) -> list[dict[str, Any]]:
    """Per treatment: the focus country's effect; the mean of its peers' effects as fixed peers
    (estimand: the simple average of these peer countries' effects) and as a random-effects
    mean (models/inference.yaml's method, named on the row; tau^2, Cochran's Q, prediction for a typical
    peer); the difference focus - fixed peer mean (from the interacted model's covariance, or the
    term's few-cluster method, CR2 or WCR, when it has one); the focus's rank among the countries
    with an estimate (1 = the largest effect in the direction of the finding) with its marginal
    and simultaneous 95% confidence sets (Mogstad, Romano, Shaikh and Wilhelm 2024)."""
    if focus not in fit.countries:
        raise ValueError(f"focus {focus!r} is not one of {fit.countries}")
    combinations = Combinations.of(fit)
    return [_term_comparison(fit, focus, term, combinations) for term in fit.spec.treatments]


def _country_term(country: str, term: str) -> str:
    return f"country::{country}:{term}"


@dataclass(frozen=True)
class Combinations:
    """Linear combinations of the interacted model's country effects (its coefficients and CRV1
    covariance), with the term's few-cluster method when it has one."""

    fit: SpecFit
    index: dict[str, int]
    beta: np.ndarray
    vcov: np.ndarray

    @classmethod
    def of(cls, fit: SpecFit) -> Combinations:
        model = fit.by_country
        beta = np.asarray(model._beta_hat, dtype=float)
        return cls(fit, _coefficients(model), beta, np.asarray(model._vcov, dtype=float))

    def inference(self, term: str, weights: dict[str, float], df: float, method: str) -> Inference:
        """sum(weight x country effect) by the term's method: its few-cluster method (CR2 or WCR)
        when it has one, else CRV1 (the interacted model's covariance) with t(df)."""
        if method != CRV1:
            named = {_country_term(k, term): w for k, w in weights.items()}
            return few_cluster_inference(self.fit.few_cluster_contrast(term, named))
        c = np.zeros(self.beta.size)
        for country, w in weights.items():
            c[self.index[_country_term(country, term)]] = w
        return crv1_inference(float(c @ self.beta), float(np.sqrt(c @ self.vcov @ c)), df)


def _term_comparison(fit: SpecFit, focus: str, term: str, combinations: Combinations) -> dict[str, Any]:
    """One row of the comparison: the focus, its peers' means, the difference and the rank."""
    effects = fit.effects
    available = [c for c in fit.countries if (c, term) in effects]
    peers = [c for c in available if c != focus]
    method = fit.term_method(term) if (focus, term) in effects else CRV1
    # Every column on every row (null where it does not apply, e.g. no peers), so that the
    # table has the same columns whatever the package holds.
    row: dict[str, Any] = dict.fromkeys(COMPARISON_SCHEMA)
    row.update(spec=fit.spec.id, term=term, family=fit.spec.family, focus=focus, n_peers=len(peers))
    row["direction"] = fit.spec.direction.get(term)
    row["method"] = "none (no peers)" if not peers else "none (no focus estimate)"
    own = effects.get((focus, term))
    for key in ("estimate", *_QUANTITY):
        row[f"focus_{key}"] = own[key] if own else float("nan")
    row["focus_method"] = own["method"] if own else None
    if peers:
        peer_df = float(min(fit.clusters_by_country[c] for c in peers) - 1)
        peer_mean = combinations.inference(term, {c: 1 / len(peers) for c in peers}, peer_df, method)
        row.update(peer_mean.columns("peer_mean", "peer_mean_", "peer_mean_method"))
        row.update(_random_effects_peer_mean(effects, peers, term))
    if peers and own:
        focus_df = float(fit.clusters_by_country.get(focus, 0) - 1)
        weights = {focus: 1.0, **{c: -1 / len(peers) for c in peers}}
        difference = combinations.inference(term, weights, focus_df, method)
        row.update(difference.columns("difference", "difference_", "method"))
        row.update(_rank_columns(fit, focus, term))
    return row


def _random_effects_peer_mean(
    effects: dict[tuple[str, str], dict[str, Any]], peers: list[str], term: str
) -> dict[str, float | str]:
    """The peers' random-effects mean by the method of models/inference.yaml (`random_effects`),
    named in `peer_mean_re_method`: tau^2, Cochran's Q, prediction interval for a typical peer."""
    random = random_effects(
        [effects[(c, term)]["estimate"] for c in peers],
        [_effective_se(effects[(c, term)]) for c in peers],
        LEVEL,
        settings().random_effects,
    )
    return {
        "peer_mean_re": random.mean,
        "peer_mean_re_std_error": random.std_error,
        "peer_mean_re_ci_low": random.ci_low,
        "peer_mean_re_ci_high": random.ci_high,
        "tau2": random.tau2,
        "cochran_q": random.q,
        "cochran_q_df": random.q_df,
        "cochran_q_p_value": random.q_p_value,
        "prediction_low": random.prediction_low,
        "prediction_high": random.prediction_high,
        "peer_mean_re_method": random.method,
    }


@dataclass(frozen=True)
class RankInputs:
    """What the rank sets of a term are computed from: the countries with an estimate, their
    estimates, standard errors as implied by their reported intervals (inf where unbounded), the
    interacted model's CRV1 correlations, and the direction ranked (+1: rank 1 the most positive)."""

    countries: list[str]
    estimates: np.ndarray
    std_errors: np.ndarray
    correlation: np.ndarray
    sign: float


def rank_inputs(fit: SpecFit, term: str) -> RankInputs:
    effects = fit.effects
    available = [c for c in fit.countries if (c, term) in effects]
    combinations = Combinations.of(fit)
    positions = [combinations.index[_country_term(c, term)] for c in available]
    block = combinations.vcov[np.ix_(positions, positions)]
    scale = np.sqrt(np.diag(block))
    return RankInputs(
        countries=available,
        estimates=np.array([effects[(c, term)]["estimate"] for c in available]),
        std_errors=np.array([_effective_se(effects[(c, term)]) for c in available]),
        correlation=block / np.outer(scale, scale),
        sign=fit.spec.sign(term),
    )


def term_rank_sets(fit: SpecFit, term: str) -> tuple[list[str], RankSets]:
    """The rank confidence sets of the countries with an estimate of the term (`rank_sets`, from
    `rank_inputs`), seeded per spec and term."""
    config = settings()
    given = rank_inputs(fit, term)
    rng = seeded_rng(config.rank_seed, f"{fit.spec.id}:{term}")
    sets = rank_sets(
        given.estimates, given.std_errors, given.correlation, given.sign, LEVEL, config.rank_draws, rng
    )
    return given.countries, sets


def _rank_columns(fit: SpecFit, focus: str, term: str) -> dict[str, Any]:
    """The focus's rank among the countries with an estimate, with its marginal and its
    simultaneous confidence set (the latter from the family of every country's rank)."""
    available, sets = fit.ranks[term]
    where = available.index(focus)
    return {
        "rank": int(sets.rank[where]),
        **{column: int(getattr(sets, column.removeprefix("rank_"))[where]) for column in _RANK_SETS},
        "n_ranked": len(available),
        "rank_method": rank_method_label(settings().rank_draws),
    }


RANKS_SCHEMA: dict[str, type[pl.DataType]] = {
    "spec": pl.String,
    "term": pl.String,
    "direction": pl.String,
    "country": pl.String,
    "estimate": pl.Float64,
    "rank": pl.Int64,
    **dict.fromkeys(_RANK_SETS, pl.Int64),
    "n_ranked": pl.Int64,
    "rank_method": pl.String,
}


def ranks_table(fits: list[SpecFit]) -> pl.DataFrame:
    """ranks.csv: every country's rank and its marginal and simultaneous confidence sets, per spec
    and treatment (1 = the largest effect in the direction of the finding; terms estimated for
    fewer than two countries have no rank)."""
    label = rank_method_label(settings().rank_draws)
    rows = []
    for fit in fits:
        for term in fit.spec.treatments:
            available, sets = fit.ranks[term]
            if len(available) < 2:
                continue
            for where, country in enumerate(available):
                rows.append(
                    {
                        "spec": fit.spec.id,
                        "term": term,
                        "direction": fit.spec.direction.get(term),
                        "country": country,
                        "estimate": fit.effects[(country, term)]["estimate"],
                        "rank": int(sets.rank[where]),
                        **{c: int(getattr(sets, c.removeprefix("rank_"))[where]) for c in _RANK_SETS},
                        "n_ranked": len(available),
                        "rank_method": label,
                    }
                )
    return pl.DataFrame(rows, schema=RANKS_SCHEMA)


def comparison_table(fits: list[SpecFit], focus: str) -> pl.DataFrame:
    """One row per spec and treatment; peer_mean*, difference*, rank* and n_ranked are null
    when the focus country has no peers with an estimate (e.g. a one-country package). Holm and
    Benjamini-Hochberg adjust this report's comparisons within each family declared in the specs:
    `p_holm`/`q_bh` the difference tests, `focus_p_holm`/`focus_q_bh` the focus's effects against
    zero."""
    rows = [row for fit in fits for row in focus_comparison(fit, focus)]
    families = [r["family"] for r in rows]
    adjust_within_families(rows, families, "difference_p_value")
    adjust_within_families(rows, families, "focus_p_value", prefix="focus_")
    return pl.DataFrame(rows, schema=COMPARISON_SCHEMA)

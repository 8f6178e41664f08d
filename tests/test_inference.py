"""Few-cluster inference against independent implementations.

* The absorbed (Frisch-Waugh) WLS and its CRV1 covariance against statsmodels WLS on explicit
  region dummies and against pyfixest with the package's small-sample settings.
* The fast WCR bootstrap against a brute-force one: for each draw, statsmodels refits the
  dummy-variable model on y* = restricted fit + restricted residual x Webb weight and gives the
  CRV1 t-statistic; the two must agree draw by draw.
* CR2 with Bell-McCaffrey degrees of freedom against a brute-force computation on the explicit
  dummy-variable model (the N x N hat matrix, each cluster's (I - H)(I - H)' block and its root),
  and against R's clubSandwich (vcovCR type CR2, Satterthwaite df) when R has it.
* DerSimonian-Laird against statsmodels' combine_effects; Holm and Benjamini-Hochberg against
  statsmodels' multipletests.
The data are small simulated panels made here (a few hundred rows), so the file runs in seconds.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.design import codes, design
from ippmd.models.estimate import fit_spec, fixed_effects_for
from ippmd.models.inference import (
    WEBB,
    AbsorbedWLS,
    CR2Model,
    WildBootstrap,
    benjamini_hochberg,
    dersimonian_laird,
    holm,
    point_rank,
    rank_interval,
    seeded_rng,
    settings,
    webb_weights,
)
from ippmd.models.spec import get_spec

SSC = settings().ssc


def _panel(seed: int = 3, n_clusters: int = 18, per_cluster: int = 14) -> dict[str, np.ndarray]:
    """Two countries, three regions each, clusters nested in regions; a community-level treatment
    in few clusters, one household-level control, unequal weights and cluster shocks."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    region = cluster // 3  # six regions of three clusters
    country = (region >= 3).astype(int)
    treated_clusters = {0, 4, 9, 13, 16}
    t = np.isin(cluster, list(treated_clusters)).astype(float)
    x = rng.normal(size=cluster.size)
    w = rng.uniform(0.3, 3.0, size=cluster.size)
    y = (
        0.4 * region
        + 0.15 * t * (country == 0)
        - 0.05 * t * (country == 1)
        + 0.3 * x
        + rng.normal(scale=0.5, size=n_clusters)[cluster]
        + rng.normal(size=cluster.size)
    )
    X = np.column_stack([t * (country == 0), t * (country == 1), x])
    return {"y": y, "X": X, "w": w, "cluster": cluster, "region": region}


NAMES = ["country::A:t", "country::B:t", "x"]


def _dummies(region: np.ndarray) -> np.ndarray:
    return np.column_stack([(region == r).astype(float) for r in np.unique(region)])


def _statsmodels_fit(
    y: np.ndarray, X: np.ndarray, p: dict[str, np.ndarray]
) -> sm.regression.linear_model.RegressionResultsWrapper:
    """WLS with every region dummy spelled out, CRV1 by cluster (statsmodels' small-sample
    factor G/(G-1) x (N-1)/(N-K), K counting the dummies)."""
    full = np.column_stack([X, _dummies(p["region"])])
    return sm.WLS(y, full, weights=p["w"]).fit(cov_type="cluster", cov_kwds={"groups": p["cluster"]})


def test_absorbed_wls_equals_dummy_variable_wls_and_pyfixest() -> None:
    import pyfixest as pf

    p = _panel()
    model = AbsorbedWLS.fit(p["y"], p["X"], NAMES, p["w"], p["cluster"], p["region"], SSC)
    reference = _statsmodels_fit(p["y"], p["X"], p)
    np.testing.assert_allclose(model.beta, reference.params[:3], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.vcov(), reference.cov_params()[:3, :3], rtol=1e-8, atol=1e-14)
    frame = pd.DataFrame(
        {"y": p["y"], "tA": p["X"][:, 0], "tB": p["X"][:, 1], "x": p["X"][:, 2], "w": p["w"],
         "cluster": p["cluster"], "region": p["region"]}
    )  # fmt: skip
    fixest = pf.feols(
        "y ~ tA + tB + x | region", frame, vcov={"CRV1": "cluster"}, weights="w", ssc=pf.ssc(**SSC)
    )
    np.testing.assert_allclose(model.beta, fixest.coef().to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(model.vcov())), fixest.se().to_numpy(), rtol=1e-8)


def _brute_force_t(
    p: dict[str, np.ndarray], c: np.ndarray, r: float, draws: np.ndarray
) -> tuple[float, np.ndarray]:
    """The WCR t-statistics by refitting the dummy-variable model once per draw (statsmodels):
    restricted fit of c'b = r, y* = restricted fit + u_restricted * v, CRV1 t of c'b* - r."""
    full = np.column_stack([p["X"], _dummies(p["region"])])
    cc = np.concatenate([c, np.zeros(full.shape[1] - c.size)])
    # Restricted WLS by substitution: b = b0 + N g with c'b0 = r and N spanning c's complement.
    b0 = cc * r / (cc @ cc)
    null = np.linalg.svd(cc[None, :])[2][1:].T
    offset = full @ b0
    fit = sm.WLS(p["y"] - offset, full @ null, weights=p["w"]).fit()
    restricted = offset + fit.fittedvalues
    residual = p["y"] - restricted
    original = _statsmodels_fit(p["y"], p["X"], p)
    t = (cc @ original.params - r) / math.sqrt(cc @ original.cov_params() @ cc)
    out = []
    for b in range(draws.shape[1]):
        y_star = restricted + residual * draws[p["cluster"], b]
        refit = _statsmodels_fit(y_star, p["X"], p)
        out.append((cc @ refit.params - r) / math.sqrt(cc @ refit.cov_params() @ cc))
    return float(t), np.array(out)


@pytest.mark.parametrize(
    ("weights", "r"),
    [
        ({"country::A:t": 1.0}, 0.0),
        ({"country::A:t": 1.0}, 0.37),
        ({"country::A:t": 1.0, "country::B:t": -1.0}, -0.2),
    ],
)
def test_absorbed_wild_bootstrap_equals_refitting_every_draw(weights: dict[str, float], r: float) -> None:
    p = _panel()
    model = AbsorbedWLS.fit(p["y"], p["X"], NAMES, p["w"], p["cluster"], p["region"], SSC)
    draws = webb_weights(model.n_clusters, 60, 11, "test")
    bootstrap = WildBootstrap.prepare(model, draws)
    c = model.contrast_vector(weights)
    t_absorbed, draws_absorbed = bootstrap.contrast(c).t_draws(r)  # t-statistics
    t_refit, draws_refit = _brute_force_t(p, c, r, draws)
    assert t_absorbed == pytest.approx(t_refit, rel=1e-8)
    np.testing.assert_allclose(draws_absorbed, draws_refit, rtol=1e-7, atol=1e-9)


def test_bootstrap_interval_bounds_are_where_the_bootstrap_test_turns() -> None:
    """At each bound the brute-force p-value crosses 5%: above it just inside, at or below it
    just outside (checked with 199 refits per point)."""
    p = _panel(seed=8)
    model = AbsorbedWLS.fit(p["y"], p["X"], NAMES, p["w"], p["cluster"], p["region"], SSC)
    draws = webb_weights(model.n_clusters, 199, 5, "interval")
    contrast = WildBootstrap.prepare(model, draws).contrast(model.contrast_vector({"country::A:t": 1.0}))
    low, high = contrast.interval(0.95)
    assert low < contrast.estimate < high
    c = model.contrast_vector({"country::A:t": 1.0})
    width = high - low
    for bound, inward in ((low, 1.0), (high, -1.0)):
        inside_t, inside = _brute_force_t(p, c, bound + inward * 1e-4 * width, draws)
        outside_t, outside = _brute_force_t(p, c, bound - inward * 1e-4 * width, draws)
        assert np.mean(np.abs(inside) >= abs(inside_t)) > 0.05
        assert np.mean(np.abs(outside) >= abs(outside_t)) <= 0.05


def _brute_force_cr2(p: dict[str, np.ndarray], c: np.ndarray) -> tuple[float, float, float]:
    """Estimate, CR2 SE and Bell-McCaffrey df of c'b straight from the definitions, on the model
    with every region dummy spelled out: H = Z (Z'WZ)^-1 Z'W (N x N), A_g = the Moore-Penrose
    inverse root of [(I - H)(I - H)']_gg by eigendecomposition, V = sum_g (c'(Z'WZ)^-1 Z_g'W_g
    A_g e_g)^2, and df = tr(O)^2 / tr(O^2) with O = P'(I - H)(I - H)'P under a homoskedastic
    working model (P: one column per cluster, A_g W_g Z_g (Z'WZ)^-1 c on its rows)."""
    Z = np.column_stack([p["X"], _dummies(p["region"])])
    W = np.diag(p["w"])
    bread = np.linalg.inv(Z.T @ W @ Z)
    beta = bread @ Z.T @ W @ p["y"]
    e = p["y"] - Z @ beta
    residual_maker = np.eye(p["y"].size) - Z @ bread @ Z.T @ W
    outer = residual_maker @ residual_maker.T
    cc = np.concatenate([c, np.zeros(Z.shape[1] - c.size)])
    P = np.zeros((p["y"].size, p["cluster"].max() + 1))
    variance = 0.0
    for g in np.unique(p["cluster"]):
        rows = np.flatnonzero(p["cluster"] == g)
        values, vectors = np.linalg.eigh(outer[np.ix_(rows, rows)])
        root = np.where(values > 1e-10, 1 / np.sqrt(np.clip(values, 1e-10, None)), 0.0)
        A = vectors @ np.diag(root) @ vectors.T
        P[rows, g] = A @ W[np.ix_(rows, rows)] @ Z[rows] @ bread @ cc
        variance += float(P[rows, g] @ e[rows]) ** 2
    omega = P.T @ outer @ P
    return float(cc @ beta), math.sqrt(variance), float(np.trace(omega) ** 2 / (omega**2).sum())


CR2_CONTRASTS = [
    {"country::A:t": 1.0},
    {"country::B:t": 1.0},
    {"x": 1.0},
    {"country::A:t": 1.0, "country::B:t": -1.0},
]


@pytest.mark.parametrize("seed", [3, 8])
def test_cr2_and_bell_mccaffrey_df_equal_the_dummy_variable_definitions(seed: int) -> None:
    """The fast CR2 (fixed effects absorbed, low-rank roots) against the definitions on explicit
    dummies, with a cluster alone in its region (its B_g is singular: the pseudo-inverse)."""
    p = _panel(seed=seed)
    p["region"] = np.where(p["cluster"] == 17, 6, p["region"])  # cluster 17 alone in region 6
    model = AbsorbedWLS.fit(p["y"], p["X"], NAMES, p["w"], p["cluster"], p["region"], SSC)
    cr2 = CR2Model.prepare(model)
    for weights in CR2_CONTRASTS:
        c = model.contrast_vector(weights)
        ours = cr2.contrast(c)
        estimate, std_error, df = _brute_force_cr2(p, c)
        assert ours.estimate == pytest.approx(estimate, rel=1e-9), weights
        assert ours.std_error == pytest.approx(std_error, rel=1e-8), weights
        assert ours.df == pytest.approx(df, rel=1e-8), weights
        assert 1 < ours.df < model.n_clusters - 1
        low, high = ours.interval(0.95)
        assert high - low == pytest.approx(2 * stats.t.ppf(0.975, ours.df) * std_error, rel=1e-8)
        assert ours.p_value(low) == pytest.approx(0.05, abs=1e-9)


R_CR2 = """
suppressMessages(library(clubSandwich))
d <- read.csv(commandArgs(TRUE)[1])
cr2 <- function(fit, coefs) {
  coef_test(fit, vcov = vcovCR(fit, cluster = d$cluster, type = "CR2"), coefs = coefs,
            test = "Satterthwaite")
}
out <- cr2(lm(y ~ tA + tB + x + factor(region), data = d, weights = w), c("tA", "tB", "x"))
# b_A - b_B is the coefficient of tA once tA + tB is a regressor
d$tAB <- d$tA + d$tB
difference <- cr2(lm(y ~ tA + tAB + x + factor(region), data = d, weights = w), "tA")
write.csv(data.frame(se = c(out$SE, difference$SE), df = c(out$df_Satt, difference$df_Satt)),
          stdout(), row.names = FALSE)
"""


def _clubsandwich() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('clubSandwich', quietly = TRUE))"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _clubsandwich(), reason="R with clubSandwich is not installed")
def test_cr2_and_bell_mccaffrey_df_equal_clubsandwich(tmp_path: Path) -> None:
    """An independent implementation: clubSandwich's CR2 for a weighted lm with the region
    dummies (its default working model for weights that are not inverse variances: identity)."""
    p = _panel(seed=3)
    frame = pd.DataFrame(
        {"y": p["y"], "tA": p["X"][:, 0], "tB": p["X"][:, 1], "x": p["X"][:, 2], "w": p["w"],
         "cluster": p["cluster"], "region": p["region"]}
    )  # fmt: skip
    frame.to_csv(tmp_path / "panel.csv", index=False)
    (tmp_path / "cr2.R").write_text(R_CR2, encoding="utf-8")
    run = subprocess.run(
        ["Rscript", str(tmp_path / "cr2.R"), str(tmp_path / "panel.csv")],
        capture_output=True,
        text=True,
        check=True,
    )
    reference = pd.read_csv(io.StringIO(run.stdout))
    model = AbsorbedWLS.fit(p["y"], p["X"], NAMES, p["w"], p["cluster"], p["region"], SSC)
    cr2 = CR2Model.prepare(model)
    for weights, (se, df) in zip(CR2_CONTRASTS, reference.itertuples(index=False), strict=True):
        ours = cr2.contrast(model.contrast_vector(weights))
        assert ours.std_error == pytest.approx(se, rel=1e-8), weights
        assert ours.df == pytest.approx(df, rel=1e-6), weights


def test_webb_weights_are_seeded_and_take_the_six_values() -> None:
    first = webb_weights(40, 500, 1, "spec")
    assert np.array_equal(first, webb_weights(40, 500, 1, "spec"))
    assert not np.array_equal(first, webb_weights(40, 500, 1, "other spec"))
    assert set(np.unique(first)) == set(WEBB)
    assert abs(first.mean()) < 0.02 and abs((first**2).mean() - 1) < 0.02


def test_the_absorbed_model_of_a_real_spec_equals_pyfixest(package_dir: Path) -> None:
    """The package's community-level spec: same coefficients and CRV1 SEs as the pyfixest model
    that estimates.csv reports (so CR2 and the bootstrap are built on that very model)."""
    data = PackageData.load(package_dir)
    spec = get_spec("public_employment_programme_on_emigrant")
    frame = analysis_frame(spec, data)
    fit = fit_spec(spec, frame, data.countries)
    assert fit.cr2 is not None
    model = fit.cr2.model
    coef, se = fit.by_country.coef(), fit.by_country.se()
    for i, name in enumerate(model.names):
        assert model.beta[i] == pytest.approx(coef[name], rel=1e-9, abs=1e-12), name
        assert math.sqrt(model.vcov()[i, i]) == pytest.approx(se[name], rel=1e-7), name
    fes = fixed_effects_for(spec, frame)
    d = design(spec, frame, (), by_country=True)
    assert model.n_clusters == len(set(codes(frame[spec.cluster]).tolist())) == d.clusters.max() + 1
    assert fes == ("region_code",)


def test_dersimonian_laird_equals_statsmodels() -> None:
    rng = np.random.default_rng(4)
    effects = rng.normal(0.05, 0.04, size=9)
    errors = rng.uniform(0.01, 0.05, size=9)
    ours = dersimonian_laird(effects.tolist(), errors.tolist(), 0.95)
    theirs = combine_effects(effects, errors**2, method_re="dl")
    assert ours.mean == pytest.approx(theirs.mean_effect_re, rel=1e-10)
    assert ours.std_error == pytest.approx(theirs.sd_eff_w_re, rel=1e-10)
    assert ours.tau2 == pytest.approx(theirs.tau2, rel=1e-10, abs=1e-15)
    assert ours.q == pytest.approx(theirs.q, rel=1e-10)
    frame = theirs.summary_frame()
    assert ours.ci_low == pytest.approx(frame.loc["random effect", "ci_low"], rel=1e-9)
    assert ours.ci_high == pytest.approx(frame.loc["random effect", "ci_upp"], rel=1e-9)
    assert ours.prediction_low < ours.ci_low and ours.prediction_high > ours.ci_high
    assert theirs.tau2 > 0  # these inputs are heterogeneous: no truncation at 0 involved
    homogeneous = dersimonian_laird([0.1, 0.1, 0.1], [0.01, 0.02, 0.03], 0.95)
    assert (
        homogeneous.tau2 == 0
        and homogeneous.q == pytest.approx(0)
        and homogeneous.q_p_value == pytest.approx(1)
    )


def test_holm_and_benjamini_hochberg_equal_statsmodels() -> None:
    p = [0.001, 0.04, 0.03, 0.2, 0.0102, 0.7, 0.049, 0.0004]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-15)
    assert benjamini_hochberg(p) == pytest.approx(list(multipletests(p, method="fdr_bh")[1]), abs=1e-15)
    with_missing = holm([0.01, None, float("nan"), 0.04])
    assert with_missing[0] == pytest.approx(0.02) and with_missing[3] == pytest.approx(0.04)
    assert math.isnan(with_missing[1]) and math.isnan(with_missing[2])


def test_rank_intervals_follow_the_direction_and_the_uncertainty() -> None:
    estimates = np.array([0.30, 0.10, -0.25, 0.05, 0.00])
    corr = np.eye(5)
    precise = np.full(5, 1e-6)
    assert point_rank(estimates, 2, -1.0) == 1  # the strongest negative effect ranks first
    assert point_rank(estimates, 2, 1.0) == 5
    assert rank_interval(estimates, precise, corr, 2, -1.0, 0.95, 2000, seeded_rng(1, "x")) == (1, 1)
    assert rank_interval(estimates, precise, corr, 1, 1.0, 0.95, 2000, seeded_rng(1, "x")) == (2, 2)
    vague = np.full(5, 0.5)
    low, high = rank_interval(estimates, vague, corr, 1, 1.0, 0.95, 4000, seeded_rng(1, "x"))
    assert low == 1 and high == 5
    again = rank_interval(estimates, vague, corr, 1, 1.0, 0.95, 4000, seeded_rng(1, "x"))
    assert again == (low, high)
    unbounded = np.array([1e-6, math.inf, 1e-6, 1e-6, 1e-6])
    assert rank_interval(estimates, unbounded, corr, 1, 1.0, 0.95, 2000, seeded_rng(2, "y")) == (1, 5)


def test_community_level_terms_use_cr2_and_say_so(package_dir: Path) -> None:
    """The rule of models/inference.yaml: community-level treatments get CR2 with Bell-McCaffrey
    degrees of freedom, each row's interval t(df) x its CR2 SE."""
    data = PackageData.load(package_dir)
    spec = get_spec("public_employment_programme_on_emigrant")
    fit = fit_spec(spec, analysis_frame(spec, data), data.countries)
    reasons = {c: why for (c, term), why in fit.few_clusters.items()}
    assert set(reasons) == set(data.countries)
    assert all(why.startswith("community-level") for why in reasons.values())
    assert settings().few_cluster_method(community_level=True) == "CR2"
    assert fit.term_methods == {"public_employment_programme": "CR2"} and fit.bootstrap is None
    for country in data.countries:
        row = fit.effects[(country, "public_employment_programme")]
        cr2 = fit.cr2_contrast({f"country::{country}:public_employment_programme": 1.0})
        assert row["method"] == f"CR2 t({cr2.df:.1f}) Bell-McCaffrey" and row["df"] == cr2.df
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(cr2.interval(0.95))
        assert row["ci_low"] < row["estimate"] < row["ci_high"]
    household = get_spec("vocational_training_on_plans")
    other = fit_spec(household, analysis_frame(household, data), data.countries)
    row = other.effects[("KHM", "vocational_training")]
    assert row["method"] == f"CRV1 t({other.clusters_by_country['KHM'] - 1})"
    frame = analysis_frame(household, data).filter(pl.col("country") == "KHM")
    assert other.clusters_by_country["KHM"] == frame[household.cluster].n_unique()

"""The real-data fixed-effects benchmark of remittance costs (World Bank RPW corridors).

Needs the original file in ../shared/data/external (skipped when absent). The pyfixest fit is
checked against an independent least-squares fit with every dummy spelled out (numpy lstsq for
the coefficients, statsmodels OLS with corridor-clustered errors for the standard errors).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from ippmd.models.remittance_costs import (
    CostBenchmark,
    corridor_panel,
    cost_benchmark,
    fit_panel,
    original_path,
    receiver_contrasts,
)
from ippmd.reporting.benchmark import try_cost_benchmark

pytestmark = pytest.mark.external
COUNTRIES = ["ARM", "BFA", "CIV", "CRI", "DOM", "GEO", "HTI", "KHM", "MAR", "PHL"]


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    if not original_path().is_file():
        pytest.skip("the World Bank RPW original is not in ../shared/data/external")
    return corridor_panel(original_path())


@pytest.fixture(scope="module")
def bench(panel: pl.DataFrame) -> CostBenchmark:
    return cost_benchmark(COUNTRIES, "KHM")


def test_the_panel_holds_every_corridor_of_the_file(panel: pl.DataFrame) -> None:
    assert panel["corridor"].n_unique() > 300 and panel["receiver"].n_unique() > 100
    assert panel.filter(pl.col("receiver") == "BFA").is_empty()
    khm = panel.filter(pl.col("receiver") == "KHM")
    assert set(khm["sender"]) == {"THA"}
    # SOURCES.md: Thailand -> Cambodia costs 12.2% in 2015Q4
    assert khm.filter(pl.col("quarter") == "2015Q4")["cost"][0] == pytest.approx(12.2, abs=0.05)


@pytest.mark.slow  # fits the full dummy-variable model (about 9 s)
def test_receiver_effects_equal_an_independent_dummy_variable_fit(panel: pl.DataFrame) -> None:
    """Coefficients from numpy lstsq on [receiver dummies (first dropped), every sender dummy,
    quarter dummies (first dropped)]; CRV1 SEs from statsmodels OLS clustered by corridor."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyfixest: a receiver collinear with its senders (NAM)
        model = fit_panel(panel)
    receivers = sorted(panel["receiver"].unique().to_list())
    senders = sorted(panel["sender"].unique().to_list())
    quarters = sorted(panel["quarter"].unique().to_list())
    r, s, q = (panel[c].to_numpy() for c in ("receiver", "sender", "quarter"))
    names = [f"C(receiver)[T.{x}]" for x in receivers[1:]]
    X = np.column_stack(
        [(r == x).astype(float) for x in receivers[1:]]
        + [(s == x).astype(float) for x in senders]
        + [(q == x).astype(float) for x in quarters[1:]]
    )
    y = panel["cost"].to_numpy()
    coef = model.coef()
    kept = [i for i, n in enumerate(names) if n in coef.index]  # pyfixest drops a collinear receiver
    assert len(kept) >= len(names) - 2
    columns = kept + list(range(len(names), X.shape[1]))
    beta = np.linalg.lstsq(X[:, columns], y, rcond=None)[0]
    for j, i in enumerate(kept):
        assert coef[names[i]] == pytest.approx(beta[j], abs=1e-8), names[i]
    groups = pl.Series(panel["corridor"]).rank("dense").to_numpy()
    ols = sm.OLS(y, X[:, columns]).fit(cov_type="cluster", cov_kwds={"groups": groups})
    se = model.se()
    for j, i in enumerate(kept[:40]):
        assert se[names[i]] == pytest.approx(ols.bse[j], rel=1e-6), names[i]
    theta, _, row_of = receiver_contrasts(model, receivers)
    effects = {receivers[0]: 0.0, **{receivers[1 + i]: beta[j] for j, i in enumerate(kept)}}
    centre = np.mean(list(effects.values()))  # the mean receiver, from the independent fit
    for country in ("KHM", "PHL", "MAR", "CIV"):
        assert theta[row_of[country]] == pytest.approx(effects[country] - centre, abs=1e-8), country
    assert "NAM" not in row_of  # collinear with its senders: no effect, not counted in the mean


def test_cambodias_premium_is_reported_with_the_same_machinery(
    bench: CostBenchmark, panel: pl.DataFrame
) -> None:
    c = bench.comparison
    means = panel.group_by("receiver").agg(pl.col("cost").mean())
    raw = dict(means.filter(pl.col("receiver").is_in(COUNTRIES)).iter_rows())
    assert c["focus_raw_mean_cost"] == pytest.approx(raw["KHM"], rel=1e-12)
    assert c["raw_rank"] == 1 + sum(value > raw["KHM"] for value in raw.values())
    effects = bench.countries.filter(pl.col("estimate").is_not_null())
    peers = effects.filter(pl.col("country") != "KHM")
    assert c["peer_mean"] == pytest.approx(peers["estimate"].mean(), abs=1e-10)
    khm = effects.filter(pl.col("country") == "KHM")["estimate"][0]
    assert c["difference"] == pytest.approx(khm - c["peer_mean"], abs=1e-10)
    assert c["rank_low"] <= c["rank"] <= c["rank_high"] and c["n_ranked"] == 9
    ranked = effects.sort("estimate", descending=True)["country"].to_list()
    assert ranked.index("KHM") + 1 == c["rank"]  # rank 1 = the most expensive
    assert c["difference_ci_low"] < c["difference"] < c["difference_ci_high"]
    assert c["prediction_low"] < c["peer_mean_re"] < c["prediction_high"]
    assert bench.without_corridor == ["BFA"]  # Burkina Faso has no corridor: never imputed
    pairs = bench.pairs
    assert pairs.height == 8 and (pairs["p_holm"] >= pairs["p_value"] - 1e-15).all()
    assert (pairs["q_bh"] <= pairs["p_holm"] + 1e-15).all()
    # one corridor to Cambodia: the few-cluster rule brings in the bootstrap, and it is wider
    assert c["focus_corridors"] == 1 and c["bootstrap_method"].startswith("WCR")
    assert c["bootstrap_ci_high"] - c["bootstrap_ci_low"] > c["difference_ci_high"] - c["difference_ci_low"]
    assert bench.vintage == "RPW Dec 2020" and "Remittance Prices Worldwide" in bench.source


def test_without_the_original_the_benchmark_is_skipped_with_a_note(tmp_path: Path) -> None:
    bench, why = try_cost_benchmark(COUNTRIES, "KHM", tmp_path)
    assert bench is None and why is not None
    assert why.startswith("Skipped: the World Bank RPW original is not available")

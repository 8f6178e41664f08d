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
FIELDWORK = (2014, 2015)  # countries/*/country.yaml: fieldwork from 2014-04 (KHM) to 2015-07 (CRI)


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    if not original_path().is_file():
        pytest.skip("the World Bank RPW original is not in ../shared/data/external")
    return corridor_panel(original_path())


@pytest.fixture(scope="module")
def bench(panel: pl.DataFrame) -> CostBenchmark:
    return cost_benchmark(COUNTRIES, "KHM", fieldwork=FIELDWORK)


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
    # the rank as its confidence sets (Mogstad et al. 2024), no longer the plug-in rank interval
    assert c["rank_simultaneous_low"] <= c["rank_marginal_low"] <= c["rank"] <= c["rank_marginal_high"]
    assert c["rank_marginal_high"] <= c["rank_simultaneous_high"] and c["n_ranked"] == 9
    assert c["rank_method"].startswith("Mogstad-Romano-Shaikh-Wilhelm") and "rank_low" not in c
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


# --- the corridor comparison by window (issue 24 item 6) ---------------------------------------


def _corridor_statistics(panel: pl.DataFrame, first: str, last: str) -> dict[str, tuple[str, float]]:
    """Independently, with plain loops: corridor -> (receiver, mean over its quarters in the window
    of its cost minus the mean cost of the same sender's other corridors in that quarter)."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    receiver_of: dict[str, str] = {}
    for row in panel.iter_rows(named=True):
        if first <= row["quarter"] <= last:
            cells.setdefault((row["sender"], row["quarter"]), {})[row["corridor"]] = row["cost"]
            receiver_of[row["corridor"]] = row["receiver"]
    premiums: dict[str, list[float]] = {}
    for costs in cells.values():
        for corridor, cost in costs.items():
            others = [v for c, v in costs.items() if c != corridor]
            if others:
                premiums.setdefault(corridor, []).append(cost - sum(others) / len(others))
    return {c: (receiver_of[c], sum(v) / len(v)) for c, v in premiums.items()}


def test_the_windows_table_holds_the_headline_the_full_period_and_each_year(
    bench: CostBenchmark, panel: pl.DataFrame
) -> None:
    from ippmd.models.remittance_costs_corridor import WINDOW_COLUMNS

    table = bench.windows
    assert table is not None and tuple(table.columns) == WINDOW_COLUMNS
    roles = table["role"].to_list()
    assert roles[:2] == ["headline", "full period"] and set(roles[2:]) == {"year"}
    head, full = table.row(0, named=True), table.row(1, named=True)
    assert bench.headline == head
    assert (head["window"], head["first_quarter"], head["last_quarter"]) == (
        "fieldwork 2014-2015",
        "2014Q1",
        "2015Q4",
    )
    assert full["n_obs"] == panel.height and full["n_corridors"] == panel["corridor"].n_unique()
    # SOURCES.md / issue 24: Thailand -> Cambodia alone, 20 quarters from 2015Q4
    assert full["focus_corridors"] == 1 and full["focus_corridor_quarters"] == 20
    assert head["focus_corridor_quarters"] == 1  # the fieldwork years see only 2015Q4
    years = table.filter(pl.col("role") == "year")
    assert years.filter(pl.col("first_quarter") < "2015Q1")["estimate"].is_null().all()  # no corridor yet
    for row in table.filter(pl.col("estimate").is_not_null()).iter_rows(named=True):
        stats = _corridor_statistics(panel, row["first_quarter"], row["last_quarter"])
        (own,) = [v for r, v in stats.values() if r == "KHM"]
        assert row["estimate"] == pytest.approx(own, abs=1e-10), row["window"]
        assert row["ri_corridors"] == len(stats)


def test_the_randomisation_p_value_equals_a_direct_permutation_over_corridors(
    bench: CostBenchmark, panel: pl.DataFrame
) -> None:
    """One treated corridor: the exact p-value is the share of corridors whose statistic is at
    least as far from zero as Thailand -> Cambodia's; computed here from the loops above."""
    assert bench.windows is not None
    for row in bench.windows.filter(pl.col("ri_p_value").is_not_null()).iter_rows(named=True):
        stats = _corridor_statistics(panel, row["first_quarter"], row["last_quarter"])
        values = np.array([v for _, v in stats.values()])
        own = next(v for r, v in stats.values() if r == "KHM")
        assert row["ri_p_value"] == pytest.approx(np.mean(np.abs(values) >= abs(own) - 1e-12), abs=1e-12)
        assert row["ri_method"] == f"randomisation inference over {len(stats)} corridors (exact)"


def test_several_focus_corridors_are_permuted_as_sets(panel: pl.DataFrame) -> None:
    """The Philippines has many corridors: its p-value (seeded draws of as many corridors) agrees
    with an independent permutation of 20,000 draws within Monte Carlo error."""
    from ippmd.models.remittance_costs_corridor import corridor_windows

    row = corridor_windows(panel, "PHL", FIELDWORK).row(1, named=True)  # the full period
    stats = _corridor_statistics(panel, row["first_quarter"], row["last_quarter"])
    values = np.array([v for _, v in stats.values()])
    treated = np.array([r == "PHL" for r, _ in stats.values()])
    k = int(treated.sum())
    assert row["focus_corridors"] == k > 1 and row["estimate"] == pytest.approx(
        values[treated].mean(), abs=1e-10
    )
    rng = np.random.default_rng(20240)
    means = np.array([values[rng.choice(values.size, k, replace=False)].mean() for _ in range(20_000)])
    direct = np.mean(np.abs(means) >= abs(values[treated].mean()))
    assert row["ri_p_value"] == pytest.approx(direct, abs=0.01)
    assert "seeded draws of" in row["ri_method"]


def test_fieldwork_years_come_from_the_countries_table() -> None:
    from ippmd.models.remittance_costs_corridor import fieldwork_years

    countries = pl.DataFrame(
        {"fieldwork_start": ["2014-04", "2015-02", None], "fieldwork_end": ["2014-05", "2015-07", None],
         "survey_year": [2014, 2015, 2016]}
    )  # fmt: skip
    assert fieldwork_years(countries) == (2014, 2015)
    assert fieldwork_years(countries.with_columns(fieldwork_start=None, fieldwork_end=None)) == (2014, 2016)


def test_a_focus_without_a_corridor_gets_a_sentence_saying_so(panel: pl.DataFrame) -> None:
    """Burkina Faso has no corridor in the file: its windows have no estimate, and the headline
    sentence says there is no comparison (never an imputed one)."""
    from ippmd.models.remittance_costs_corridor import corridor_windows
    from ippmd.reporting.sections import headline_sentence

    table = corridor_windows(panel, "BFA", FIELDWORK)
    assert table["estimate"].is_null().all() and (table["focus_corridors"] == 0).all()
    sentence = headline_sentence(table.row(0, named=True), "Burkina Faso")
    assert sentence == (
        "Remitting to Burkina Faso (REAL data): no corridor to it in the file in the surveys' fieldwork "
        "years (2014Q1-2015Q4), so no corridor comparison."
    )

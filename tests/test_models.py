"""Cross-country models: planted-effect recovery, pyfixest against numpy, focus comparisons.

One package per session (conftest `package_dir`); the specs are fitted once per module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.estimate import (
    COMPARISON_SCHEMA,
    ESTIMATE_COLUMNS,
    POOLED,
    SpecFit,
    comparison_table,
    estimates_table,
    fit_all,
    fit_spec,
    fixed_effects_for,
    focus_comparison,
)
from ippmd.models.narrative import finding_sentence
from ippmd.models.planted import FLOOR, attainable, planted_table
from ippmd.models.spec import SpecError, get_spec, load_specs, parse_spec
from ippmd.synth.generator import planted_effects
from scipy import stats

REQUIRED_SPECS = {
    "vocational_training_on_plans",
    "public_agency_on_plans",
    "subsidy_on_emigrant",
    "subsidy_on_household_plans",
    "remittances_on_working_men",
    "remittances_on_working_women",
    "bank_account_on_remittances",
    "bank_account_on_informal_channel",
    "education_expenditure",
    "return_migrant_on_business",
    "return_migrant_on_agricultural_assets",
    "plans_on_school_attendance_boys",
    "plans_on_school_attendance_girls",
    "public_employment_programme_on_emigrant",
}


@pytest.fixture(scope="module")
def data(package_dir: Path) -> PackageData:
    return PackageData.load(package_dir)


@pytest.fixture(scope="module")
def fits(data: PackageData) -> list[SpecFit]:
    return fit_all(data)


@pytest.fixture(scope="module")
def recovery(fits: list[SpecFit]) -> pl.DataFrame:
    """Every estimate of a planted effect beside its planted and attainable size."""
    return estimates_table(fits).join(planted_table(fits), on=["spec", "term", "country"], how="inner")


# --- specs as data ---------------------------------------------------------------------------


def test_specs_cover_the_seed_findings_and_name_real_planted_effects() -> None:
    specs = load_specs()
    assert {s.id for s in specs} >= REQUIRED_SPECS
    known = set(planted_effects())
    for spec in specs:
        assert spec.finding.startswith('"') and spec.source, spec.id  # a quote, with its place
        assert set(spec.planted.values()) <= known, spec.id
        assert set(spec.planted) <= set(spec.treatments), spec.id


def test_a_bad_spec_is_refused_with_the_key_at_fault() -> None:
    good = {
        "id": "x",
        "title": "x",
        "finding": "x",
        "unit": "persons",
        "outcome": "working",
        "treatment": "vocational_training",
        "sample": "age >= 15",
    }
    parse_spec(good)
    with pytest.raises(SpecError, match="missing keys"):
        parse_spec({k: v for k, v in good.items() if k != "outcome"})
    with pytest.raises(SpecError, match="unknown keys"):
        parse_spec({**good, "treatmnet": "x"})
    with pytest.raises(SpecError, match="non-treatments"):
        parse_spec({**good, "planted": {"age": "vocational_training_on_plans"}})
    with pytest.raises(SpecError, match="cannot join"):
        parse_spec({**good, "joins": ["emigrants"]})


def test_region_fixed_effects_fall_back_to_country_when_the_treatment_is_regional(
    data: PackageData,
) -> None:
    spec = get_spec("return_migrant_on_business")
    frame = analysis_frame(spec, data)
    assert fixed_effects_for(spec, frame) == ("region_code",)
    first = sorted(frame["region_code"].unique().to_list())[::2]
    regional = frame.with_columns(has_return_migrant=pl.col("region_code").is_in(first).cast(pl.Int64))
    assert fixed_effects_for(spec, regional) == ("country",)


# --- estimates --------------------------------------------------------------------------------


def test_estimates_table_has_the_documented_columns_and_a_pooled_row(
    fits: list[SpecFit], data: PackageData
) -> None:
    table = estimates_table(fits)
    assert tuple(table.columns) == ESTIMATE_COLUMNS
    terms = [(f.spec.id, t) for f in fits for t in f.spec.treatments]
    assert table.height == len(terms) * (len(data.countries) + 1)
    for spec_id, term in terms:
        rows = table.filter((pl.col("spec") == spec_id) & (pl.col("term") == term))
        pooled = rows.filter(pl.col("country") == POOLED)
        assert pooled.height == 1
        assert pooled["n_obs"][0] == rows.filter(pl.col("country") != POOLED)["n_obs"].sum()
        assert rows.filter(pl.col("country") != POOLED)["estimate"].is_not_nan().all()


def test_pyfixest_equals_a_numpy_least_squares_fit(data: PackageData) -> None:
    """Independent reference: explicit country x treatment columns, control and region dummies,
    weights by sqrt(w) scaling, numpy lstsq. Coefficients agree to 1e-8."""
    spec = get_spec("vocational_training_on_plans")
    frame = analysis_frame(spec, data)
    fit = fit_spec(spec, frame, data.countries)
    w = frame["weight"].to_numpy()
    y = frame["plans_to_emigrate"].cast(pl.Float64).to_numpy()
    t = frame["vocational_training"].cast(pl.Float64).to_numpy()
    country = frame["country"].to_numpy()
    controls, names = [], []
    for band in sorted(frame["age_band"].unique().to_list())[1:]:
        controls.append((frame["age_band"] == band).cast(pl.Float64).to_numpy())
        names.append(f"C(age_band)[T.{band}]")
    for name in ("female", "urban"):
        controls.append(frame[name].cast(pl.Float64).to_numpy())
        names.append(name)
    regions = frame["region_code"].to_numpy()
    dummies = [(regions == r).astype(float) for r in sorted(set(regions))]

    def lstsq(columns: list[np.ndarray]) -> np.ndarray:
        X = np.column_stack(columns) * np.sqrt(w)[:, None]
        return np.linalg.lstsq(X, y * np.sqrt(w), rcond=None)[0]

    by_country = [t * (country == c) for c in data.countries]
    beta = lstsq(by_country + controls + dummies)
    coef = fit.by_country.coef()
    expected = dict(
        zip([f"country::{c}:vocational_training" for c in data.countries] + names, beta, strict=False)
    )
    assert set(expected) == set(coef.index)
    for name, value in expected.items():
        assert coef[name] == pytest.approx(value, abs=1e-8), name

    beta = lstsq([t, *controls, *dummies])
    pooled = fit.pooled.coef()
    for name, value in zip(["vocational_training", *names], beta, strict=False):
        assert pooled[name] == pytest.approx(value, abs=1e-8), name


# --- recovery of the planted effects -----------------------------------------------------------


def test_pooled_estimates_recover_every_planted_effect(recovery: pl.DataFrame) -> None:
    """Strict: every pooled estimate is within its interval of the pooled target, the
    regression-weighted average of the countries' attainable sizes (models/planted.py).

    With 16 pooled tests, 95% intervals would fail somewhere by chance more often than not
    (1 - 0.95^16 = 56%); the intervals are Bonferroni-adjusted (each at 5%/16) so that the whole
    family fails by chance at most 5% of the time. (With the default seed, 15 of 16 pooled 95%
    intervals cover; the public-employment-programme one misses by 0.0005.)
    """
    pooled = recovery.filter(pl.col("country") == POOLED)
    assert pooled.height >= 16
    z = stats.norm.ppf(1 - 0.05 / (2 * pooled.height))
    misses = pooled.filter((pl.col("estimate") - pl.col("attainable")).abs() > z * pl.col("std_error"))
    assert misses.is_empty(), misses.select("spec", "term", "estimate", "std_error", "attainable").rows()


def test_country_estimates_recover_planted_effects_within_tolerance(recovery: pl.DataFrame) -> None:
    """Per country, the 95% CI should contain the attainable planted size in about 95% of the
    160 cells (16 planted effects x 10 countries); at most 10% may miss (13 do with the default
    seed; 16 against the raw planted sizes, 3 of them where the generator's floor binds).

    Why more than 5% can miss: (1) CRV1 standard errors of one country's slope rest on that
    country's 25-100 communities only, and for the community-level programme on 3-21 treated
    communities, where clustered SEs are known to be too small (about 78% coverage for that spec
    in a 13-seed sweep); (2) the generator's probability floor also binds unevenly within a
    country (e.g. for people aged 50+ with few plans to emigrate), which the first-order
    attainable size does not capture. Over 13 seeds the miss rate was 8% on average.
    """
    cells = recovery.filter(pl.col("country") != POOLED)
    inside = (pl.col("ci_low") <= pl.col("attainable")) & (pl.col("attainable") <= pl.col("ci_high"))
    misses = cells.filter(~inside)
    assert cells.height >= 160
    assert misses.height <= 0.10 * cells.height, misses.select(
        "spec", "country", "estimate", "ci_low", "ci_high", "attainable"
    ).rows()


def test_attainable_size_differs_from_the_planted_one_only_where_the_generator_clips(
    recovery: pl.DataFrame,
) -> None:
    cells = recovery.filter(pl.col("country") != POOLED)
    for row in cells.iter_rows(named=True):
        p0 = row["untreated_rate"]
        if get_spec(row["spec"]).scale == "log":
            assert row["attainable"] == row["planted"]  # amounts are not clipped
        elif FLOOR <= p0 + row["planted"] <= 1 - FLOOR:
            assert row["attainable"] == pytest.approx(row["planted"], abs=1e-12)
        else:
            assert abs(row["attainable"]) < abs(row["planted"])
    assert attainable(-0.20, 0.10, "probability") == pytest.approx(FLOOR - 0.10)
    assert attainable(-0.20, 0.10, "log") == -0.20


# --- focus country against its peers -------------------------------------------------------------


def test_cambodia_vocational_training_is_null_while_the_peer_mean_is_positive(fits: list[SpecFit]) -> None:
    comparison = comparison_table(fits, "KHM")
    row = comparison.filter(pl.col("spec") == "vocational_training_on_plans").row(0, named=True)
    assert row["focus_p_value"] > 0.05
    assert row["focus_ci_low"] < 0 < row["focus_ci_high"]
    assert row["peer_mean_ci_low"] > 0
    assert row["n_peers"] == 9 and 1 <= row["rank"] <= 10


def test_any_country_can_be_the_focus(fits: list[SpecFit], data: PackageData) -> None:
    for focus in ("PHL", "ARM"):
        table = comparison_table(fits, focus)
        assert (table["focus"] == focus).all()
        assert table["rank"].is_between(1, len(data.countries)).all()
    with pytest.raises(ValueError, match="focus"):
        focus_comparison(fits[0], "XXX")


def test_peer_mean_is_the_mean_of_the_peer_estimates(fits: list[SpecFit]) -> None:
    table = estimates_table(fits)
    for row in comparison_table(fits, "KHM").iter_rows(named=True):
        peers = table.filter(
            (pl.col("spec") == row["spec"])
            & (pl.col("term") == row["term"])
            & ~pl.col("country").is_in(["KHM", POOLED])
        )
        assert row["peer_mean"] == pytest.approx(peers["estimate"].mean(), abs=1e-12)
        assert row["difference"] == pytest.approx(row["focus_estimate"] - row["peer_mean"], abs=1e-12)
        ranks = table.filter(
            (pl.col("spec") == row["spec"]) & (pl.col("term") == row["term"]) & (pl.col("country") != POOLED)
        ).sort("estimate", descending=True)
        assert ranks["country"].to_list().index("KHM") + 1 == row["rank"]


def test_a_country_without_treatment_variation_gets_no_estimate(data: PackageData) -> None:
    spec = get_spec("vocational_training_on_plans")
    frame = analysis_frame(spec, data).with_columns(
        vocational_training=pl.when(pl.col("country") == "KHM")
        .then(0)
        .otherwise(pl.col("vocational_training"))
    )
    with pytest.warns(UserWarning, match="multicollinearity"):
        fit = fit_spec(spec, frame, data.countries)
    rows = estimates_table([fit]).filter(pl.col("country") == "KHM")
    assert rows["estimate"].is_nan().all()
    row = focus_comparison(fit, "KHM")[0]
    assert np.isnan(row["focus_estimate"]) and row["n_peers"] == 9


def test_the_comparison_has_the_same_columns_with_or_without_peers(
    fits: list[SpecFit], data: PackageData
) -> None:
    """Regression: with one country there were no rank or peer columns at all (KeyError 'rank'
    in the report). Now every column is there, null where there are no peers."""
    assert comparison_table(fits, "KHM").schema == pl.Schema(COMPARISON_SCHEMA)
    spec = get_spec("vocational_training_on_plans")
    alone = analysis_frame(spec, data).filter(pl.col("country") == "KHM")
    fit = fit_spec(spec, alone, ["KHM"])
    table = comparison_table([fit], "KHM")
    assert table.schema == pl.Schema(COMPARISON_SCHEMA)
    row = table.row(0, named=True)
    assert row["n_peers"] == 0 and not np.isnan(row["focus_estimate"])
    for name in ("rank", "n_ranked", "peer_mean", "peer_mean_ci_low", "difference", "difference_p_value"):
        assert row[name] is None, name
    sentence = finding_sentence(spec, row, "Cambodia", synthetic=True)
    assert sentence.startswith("Cambodia (synthetic data): effect ")
    assert "no peers" in sentence and "no rank, peer mean or difference" in sentence
    assert "difference from the peer mean" not in sentence

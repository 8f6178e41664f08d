"""Cross-country models: planted-effect recovery, pyfixest against numpy, focus comparisons.

One package per session (conftest `package_dir`); the specs are fitted once per module.
"""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from scipy import stats

from ippmd.core.errors import InputError, Problem
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.derived import CATALOGUE_PATH, load_catalogue
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
from ippmd.models.frames import empty_frame, join_tables
from ippmd.models.inference import settings
from ippmd.models.planted import FLOOR, attainable, planted_table
from ippmd.models.spec import SPECS_DIR, get_spec, load_specs, parse_spec
from ippmd.reporting.narrative import finding_sentence
from ippmd.synth.generator import planted_effects
from tests.r_metafor import MetaSet, metafor_available, metafor_reference

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


def _refused(raised: pytest.ExceptionInfo[InputError], field: str) -> Problem:
    """The one problem of an InputError, which must be at `field` and be a spec error."""
    problems = [p for p in raised.value.problems if p.field == field]
    assert len(problems) == 1, raised.value.problems
    assert problems[0].code == "spec-error"
    return problems[0]


def _hint(problem: Problem) -> str:
    """The problem's hint; a problem without one fails the test."""
    assert problem.hint is not None, problem
    return problem.hint


def test_a_bad_spec_is_refused_with_the_key_at_fault() -> None:
    good = {
        "id": "x",
        "title": "x",
        "finding": "x",
        "unit": "persons",
        "joins": ["households"],  # region_code, community_id and weight are household columns
        "outcome": "working",
        "treatment": "vocational_training",
        "direction": "positive",
        "family": "labour_market",
        "sample": "age >= 15",
    }
    parse_spec(good)
    with pytest.raises(InputError) as raised:  # urban is a household column: it needs the join
        parse_spec({**{k: v for k, v in good.items() if k != "joins"}, "controls": ["urban"]}, "x.yaml")
    assert _refused(raised, "controls").message == "unknown variable 'urban' (not in persons)"
    with pytest.raises(InputError) as raised:
        parse_spec({k: v for k, v in good.items() if k != "outcome"}, "x.yaml")
    assert _refused(raised, "outcome").message == "missing required key"
    with pytest.raises(InputError) as raised:  # the multiplicity family is declared, not inferred
        parse_spec({k: v for k, v in good.items() if k != "family"}, "x.yaml")
    assert _refused(raised, "family").message == "missing required key"
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "family": "Labour market"}, "x.yaml")
    assert _refused(raised, "family").message.startswith("must be a family id (lower case letters")
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "treatmnet": "x"})
    assert "'treatment'" in _hint(_refused(raised, "treatmnet"))
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "direction": "up"})
    assert "'positive' or 'negative'" in _refused(raised, "direction").message
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "direction": {"age": "positive"}})
    assert "one direction per treatment" in _refused(raised, "direction").message
    wrong = (("scale", "logit", "probability, log"), ("estimator", "probit", "ols, poisson"))
    for key, value, allowed in wrong:
        with pytest.raises(InputError) as raised:  # the values of the Literal, named
            parse_spec({**good, key: value})
        assert _refused(raised, key).message == f"must be one of {allowed}"
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "estimator": "poisson"})  # Poisson effects are log points
    assert "scale: log" in _refused(raised, "estimator").message
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "planted": {"age": "vocational_training_on_plans"}})
    assert "non-treatments" in _refused(raised, "planted").message
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "joins": ["emigrants"]})
    assert "cannot join" in _refused(raised, "joins").message
    # Persons now carry community_id, so communities join onto them directly; a table without
    # the key is still refused, naming the join it needs.
    assert "public_employment_programme" in empty_frame("persons", ("communities",)).columns
    keyless = {"persons": pl.DataFrame({"person_id": ["x"]}), "communities": empty_frame("communities")}
    with pytest.raises(ValueError, match="join households first"):
        join_tables(keyless, "persons", ("communities",))
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "controls": ["urbn"]})
    assert "'urban'" in _hint(_refused(raised, "controls"))
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "controls": ["female"]})
    assert "list it under `derived`" in _hint(_refused(raised, "controls"))
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "derived": ["female"]})
    assert "not used" in _refused(raised, "derived").message
    with pytest.raises(InputError) as raised:
        parse_spec({**good, "sample": "age + 1"})
    assert "must be a condition" in _refused(raised, "sample").message
    with pytest.raises(InputError) as raised:  # a derived variable of another table
        parse_spec({**good, "derived": ["informal_channel"], "controls": ["informal_channel"]})
    assert "computed on households" in _refused(raised, "derived").message
    assert parse_spec({**good, "derived": ["female"], "sample": "female = 1"}).derived[0].name == "female"


def _specs_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """The real specs copied to tmp_path/specs, with `old` replaced by `new` in spec file `name`."""
    folder = tmp_path / "specs"
    shutil.copytree(SPECS_DIR, folder)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_a_typo_in_a_spec_sample_names_the_file_and_the_key(tmp_path: Path) -> None:
    spec_file = "04_remittances_on_working_men.yaml"
    folder = _specs_copy(tmp_path, spec_file, "sample: age >= 15 AND", "sample: agee >= 15 AND")
    with pytest.raises(InputError) as raised:
        load_specs(folder)
    problem = _refused(raised, "sample")
    assert problem.file == str(folder / spec_file)
    assert "'agee'" in problem.message and "persons joined with households" in problem.message
    assert "'age'" in _hint(problem)
    assert f"{folder / spec_file}, field 'sample': unknown column" in str(raised.value)
    assert len(raised.value.problems) == 1  # the other fifteen specs are fine


def test_invalid_sql_and_a_type_mismatch_in_a_sample_are_refused(tmp_path: Path) -> None:
    folder = _specs_copy(
        tmp_path, "06_subsidy_on_emigrant.yaml", "sample: agricultural = 1", "sample: agricultural ="
    )
    with pytest.raises(InputError) as raised:
        load_specs(folder)
    assert _refused(raised, "sample").message.startswith("invalid SQL")
    folder = _specs_copy(
        tmp_path / "2",
        "06_subsidy_on_emigrant.yaml",
        "sample: agricultural = 1",
        "sample: remittance_channel > 1",
    )
    with pytest.raises(InputError) as raised:
        load_specs(folder)
    assert "cannot compare string with numeric" in _refused(raised, "sample").message


def test_an_unknown_derived_name_in_a_spec_is_refused(tmp_path: Path) -> None:
    spec_file = "01_vocational_training_on_plans.yaml"
    folder = _specs_copy(tmp_path, spec_file, "derived: [age_band_15_plus,", "derived: [age_band,")
    with pytest.raises(InputError) as raised:
        load_specs(folder)
    problem = _refused(raised, "derived")
    assert problem.file == str(folder / spec_file) and problem.value == "age_band"
    assert "unknown derived variable 'age_band'" in problem.message
    assert "age_band_15_plus" in _hint(problem)  # the catalogue's names are offered
    # ... and the control it no longer defines is named too
    assert "list it under `derived`" in _hint(_refused(raised, "controls"))


def test_sql_defined_inside_a_spec_is_refused(tmp_path: Path) -> None:
    folder = _specs_copy(
        tmp_path,
        "12_plans_on_school_attendance_girls.yaml",
        "derived: [age_years]",
        "derive:\n  age_years: CAST(age AS VARCHAR)",
    )
    with pytest.raises(InputError) as raised:
        load_specs(folder)
    assert "derived.yaml" in _hint(_refused(raised, "derive"))


def _catalogue_copy(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "derived.yaml"
    text = CATALOGUE_PATH.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_a_catalogue_entry_naming_an_unknown_column_is_refused(tmp_path: Path) -> None:
    path = _catalogue_copy(tmp_path, "sql: CAST(sex = 2 AS INTEGER)", "sql: CAST(gender = 2 AS INTEGER)")
    with pytest.raises(InputError) as raised:
        load_catalogue(path)
    problem = _refused(raised, "derived.female.sql")
    assert (
        problem.file == str(path) and "'gender'" in problem.message and "(not in persons)" in problem.message
    )
    with pytest.raises(InputError):  # and the specs are not loaded on top of it
        load_specs(SPECS_DIR, path)


def test_a_catalogue_with_a_duplicate_a_wrong_type_or_a_missing_key_is_refused(tmp_path: Path) -> None:
    entries = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))["derived"]
    female = next(e for e in entries if e["name"] == "female")
    cases = {
        "derived.female.name": [*entries, female],
        "derived.female.type": [{**e, "type": "string"} if e is female else e for e in entries],
        "derived.female.label": [
            {k: v for k, v in e.items() if k != "label"} for e in entries if e is female
        ],
        "derived.urban.name": [{**female, "name": "urban"}],  # a household column on persons frames
    }
    for field, case in cases.items():
        path = tmp_path / f"{field}.yaml"
        path.write_text(yaml.safe_dump({"derived": case}), encoding="utf-8")
        with pytest.raises(InputError) as raised:
            load_catalogue(path)
        assert _refused(raised, field).file == str(path)


def test_the_catalogue_defines_each_derived_variable_once_and_every_one_is_used() -> None:
    entries = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))["derived"]
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names))
    assert set(load_catalogue()) == set(names)
    used = {variable.name for spec in load_specs() for variable in spec.derived}
    assert used == set(names)
    # The two different age bands of the specs have two different names.
    bands = {
        spec.id: [d.name for d in spec.derived if d.name.startswith("age_band")] for spec in load_specs()
    }
    assert bands["vocational_training_on_plans"] == ["age_band_15_plus"]
    assert bands["remittances_on_working_men"] == ["age_band_15_64"]
    for path in SPECS_DIR.glob("*.yaml"):  # no SQL for a derived variable inside a spec
        assert "derive:" not in path.read_text(encoding="utf-8"), path.name


def test_the_real_specs_load_and_their_derived_variables_match_the_data(data: PackageData) -> None:
    for spec in load_specs():
        frame = analysis_frame(spec, data)
        for variable in spec.derived:
            if variable.name in frame.columns:
                assert (
                    str(frame.schema[variable.name])
                    .lower()
                    .startswith(
                        {"integer": "int", "string": "str", "number": "float", "boolean": "bool"}[
                            variable.type
                        ]
                    )
                ), (spec.id, variable.name)


def test_the_benchmark_command_reports_a_broken_spec_with_its_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package_dir: Path
) -> None:
    """In-process CLI: `ippmd benchmark` has no option for another specs folder, so the broken
    copy is put in place of the shipped specs by patching the benchmark's loader."""
    from typer.testing import CliRunner

    from ippmd.cli import app

    spec_file = "01_vocational_training_on_plans.yaml"
    folder = _specs_copy(tmp_path, spec_file, "sample: age >= 15", "sample: age >= 15 AND wroking = 1")
    monkeypatch.setattr("ippmd.reporting.benchmark.load_specs", lambda: load_specs(folder))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["benchmark", "--package", str(package_dir), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = "".join(result.output.split())  # the console wraps long lines, even inside a path
    assert spec_file in text and "field'sample'" in text and "'wroking'" in text, result.output
    assert "internalerror" not in text
    # refused before any output is written: at most the folder the CLI claimed, with its marker
    assert not out.exists() or [p.name for p in out.iterdir()] == [".ippmd-benchmark"]


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
    for band in sorted(frame["age_band_15_plus"].unique().to_list())[1:]:
        controls.append((frame["age_band_15_plus"] == band).cast(pl.Float64).to_numpy())
        names.append(f"C(age_band_15_plus)[T.{band}]")
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

    With 18 pooled tests, 95% intervals would fail somewhere by chance more often than not
    (1 - 0.95^18 = 60%); the intervals are Bonferroni-adjusted (each at 5%/18) so that the whole
    family fails by chance at most 5% of the time. (With the default seed, 17 of 18 pooled 95%
    intervals cover; the public-employment-programme one misses by 0.0005.)
    """
    pooled = recovery.filter(pl.col("country") == POOLED)
    assert pooled.height >= 18
    z = stats.norm.ppf(1 - 0.05 / (2 * pooled.height))
    misses = pooled.filter((pl.col("estimate") - pl.col("attainable")).abs() > z * pl.col("std_error"))
    assert misses.is_empty(), misses.select("spec", "term", "estimate", "std_error", "attainable").rows()


def test_country_estimates_recover_planted_effects_within_tolerance(recovery: pl.DataFrame) -> None:
    """Per country, the 95% CI should contain the attainable planted size in about 95% of the
    180 cells (18 planted effects x 10 countries); at most 10% may miss (12 do with the default
    seed, 13 against the raw planted sizes).

    Why more than 5% can miss: (1) a country's CRV1 interval rests on its 25-100 communities,
    with t(G_c - 1); the community-level programme (3-21 treated communities) now gets CR2 with
    Bell-McCaffrey degrees of freedom (models/inference.yaml), whose coverage
    bench/bench_inference_mc.py measures over many seeds; (2) the generator's probability floor
    binds unevenly within a country (e.g. for people aged 50+ with few plans to emigrate), which
    the first-order attainable size does not capture.
    """
    cells = recovery.filter(pl.col("country") != POOLED)
    inside = (pl.col("ci_low") <= pl.col("attainable")) & (pl.col("attainable") <= pl.col("ci_high"))
    misses = cells.filter(~inside)
    assert cells.height >= 180
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
        sign = get_spec(row["spec"]).sign(row["term"])  # rank 1 = largest in the finding's direction
        ranks = (
            table.filter(
                (pl.col("spec") == row["spec"])
                & (pl.col("term") == row["term"])
                & (pl.col("country") != POOLED)
            )
            .with_columns(signed=pl.col("estimate") * sign)
            .sort("signed", descending=True)
        )
        assert ranks["country"].to_list().index("KHM") + 1 == row["rank"]
        assert row["rank_marginal_low"] <= row["rank"] <= row["rank_marginal_high"]
        assert row["rank_simultaneous_low"] <= row["rank"] <= row["rank_simultaneous_high"]
        assert row["direction"] == ("negative" if sign < 0 else "positive")


def test_a_country_without_treatment_variation_gets_no_estimate(data: PackageData) -> None:
    spec = get_spec("vocational_training_on_plans")
    frame = analysis_frame(spec, data).with_columns(
        vocational_training=pl.when(pl.col("country") == "KHM")
        .then(0)
        .otherwise(pl.col("vocational_training"))
    )
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        fit = fit_spec(spec, frame, data.countries)
    assert not escaped  # pyfixest's warning is captured and turned into a diagnostic of ours
    (message,) = [m for m in fit.messages if m.kind == "collinear"]
    assert message.country == "KHM" and "does not vary" in message.text and message.model == "by_country"
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
    for name in (
        "rank", "rank_marginal_low", "rank_marginal_high", "rank_simultaneous_low",
        "rank_simultaneous_high", "rank_method", "n_ranked", "peer_mean", "peer_mean_ci_low", "difference",
        "difference_p_value", "p_holm", "q_bh", "peer_mean_re", "tau2",
    ):  # fmt: skip
        assert row[name] is None, name
    sentence = finding_sentence(spec, row, "Cambodia", synthetic=True)
    assert sentence.startswith("Cambodia (synthetic data): effect ")
    assert "no peers" in sentence and "no rank, peer mean or difference" in sentence
    assert "difference from the peer mean" not in sentence


# --- inference columns ------------------------------------------------------------------------


def test_country_rows_use_their_own_clusters_for_degrees_of_freedom(fits: list[SpecFit]) -> None:
    """CRV1 country rows: df = G_c - 1 and the interval is estimate +/- t(G_c - 1) SE (not the
    pooled t(589)); few-cluster rows (the community-level programme) are CR2 rows whose df is the
    Bell-McCaffrey df and whose interval is estimate +/- t(df) x the CR2 SE."""
    table = estimates_table(fits)
    crv1 = table.filter(pl.col("method").str.starts_with("CRV1") & (pl.col("country") != POOLED))
    assert crv1.height > 100
    assert (crv1["df"] == crv1["n_clusters"] - 1).all()
    half = crv1["ci_high"] - crv1["estimate"]
    expected = stats.t.ppf(0.975, crv1["df"].to_numpy()) * crv1["std_error"].to_numpy()
    np.testing.assert_allclose(half.to_numpy(), expected, rtol=1e-9)
    p = 2 * stats.t.sf((crv1["estimate"] / crv1["std_error"]).abs().to_numpy(), crv1["df"].to_numpy())
    np.testing.assert_allclose(crv1["p_value"].to_numpy(), p, rtol=1e-9)
    pooled = table.filter(pl.col("country") == POOLED)
    assert (pooled["df"] == pooled["n_clusters"] - 1).all() and (pooled["n_clusters"] > 500).all()
    cr2 = table.filter(pl.col("method").str.starts_with("CR2"))
    assert set(cr2["spec"]) == {"public_employment_programme_on_emigrant"} and cr2.height == 10
    assert (cr2["df"] > 1).all() and (cr2["df"] < cr2["n_clusters"] - 1).all()
    labels = [f"CR2 t({df:.1f}) Bell-McCaffrey" for df in cr2["df"]]
    assert cr2["method"].to_list() == labels
    p = 2 * stats.t.sf((cr2["estimate"] / cr2["std_error"]).abs().to_numpy(), cr2["df"].to_numpy())
    np.testing.assert_allclose(cr2["p_value"].to_numpy(), p, rtol=1e-9)  # std_error is the CR2 SE
    fit = next(f for f in fits if f.spec.id == "public_employment_programme_on_emigrant")
    crv1_se = fit.by_country.se()
    for row in cr2.iter_rows(named=True):  # not the CRV1 SE of the same coefficient (issue 24)
        assert row["std_error"] != pytest.approx(
            crv1_se[f"country::{row['country']}:{row['term']}"], rel=1e-3
        )
    assert not table["method"].str.starts_with("WCR").any()


def _assert_one_method(frame: pl.DataFrame, value: str, prefix: str, method: str) -> int:
    """On every row with an estimate: statistic = estimate / std_error, and for t-based methods
    (CRV1, CR2) the df named in the method, p = 2 t.sf(|statistic|, df) and the interval
    estimate +/- t(df) x std_error; returns the number of rows checked."""
    rows = frame.filter(pl.col(value).is_not_null() & pl.col(value).is_not_nan())
    for row in rows.iter_rows(named=True):
        estimate, se, df = row[value], row[f"{prefix}std_error"], row[f"{prefix}df"]
        where = (row["spec"], row["term"], row.get("country") or row.get("focus"), value)
        assert row[f"{prefix}statistic"] == pytest.approx(estimate / se, rel=1e-12), where
        label = row[method]
        if label.startswith("CRV1"):
            assert label == f"CRV1 t({df:g})", where
        else:
            assert label == f"CR2 t({df:.1f}) Bell-McCaffrey", where
        assert row[f"{prefix}p_value"] == pytest.approx(
            2 * stats.t.sf(abs(estimate / se), df), rel=1e-9, abs=1e-300
        ), where
        half = stats.t.ppf(0.975, df) * se
        assert row[f"{prefix}ci_low"] == pytest.approx(estimate - half, rel=1e-9, abs=1e-12), where
        assert row[f"{prefix}ci_high"] == pytest.approx(estimate + half, rel=1e-9, abs=1e-12), where
    return rows.height


def test_every_row_takes_its_standard_error_statistic_df_p_and_interval_from_one_method(
    fits: list[SpecFit],
) -> None:
    """Issue 24 item 2: estimate / std_error is the row's statistic and the p-value and interval
    are t(df) of that statistic with the df its method names, on every row of estimates.csv and
    of comparison.csv (the focus, the fixed peer mean and the difference) for two foci."""
    checked = _assert_one_method(estimates_table(fits), "estimate", "", "method")
    assert checked == estimates_table(fits)["estimate"].is_not_nan().sum() > 190
    for focus in ("KHM", "GEO"):
        comparison = comparison_table(fits, focus)
        for value, prefix, method in (
            ("focus_estimate", "focus_", "focus_method"),
            ("peer_mean", "peer_mean_", "peer_mean_method"),
            ("difference", "difference_", "method"),
        ):
            assert _assert_one_method(comparison, value, prefix, method) == comparison.height == 19
        cr2 = comparison.filter(pl.col("method").str.starts_with("CR2"))
        assert cr2.height == 1 and cr2["peer_mean_method"][0].startswith("CR2")
        assert cr2["peer_mean_df"][0] != cr2["difference_df"][0]  # each contrast its own df


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_multiplicity_columns_equal_statsmodels_over_their_families(fits: list[SpecFit]) -> None:
    """Holm and BH within each family declared in the specs: in estimates.csv the country rows and
    the pooled rows of a family apart, in comparison.csv the differences and the focus effects."""
    from statsmodels.stats.multitest import multipletests

    table = estimates_table(fits).filter(pl.col("p_value").is_not_nan())
    declared = {spec.id: spec.family for spec in load_specs()}
    assert table["family"].to_list() == [declared[s] for s in table["spec"]]
    groups = table.with_columns(pooled=pl.col("country") == POOLED).partition_by("family", "pooled")
    assert len(groups) == 2 * len(set(declared.values())) == 8
    for group in groups:
        p = group["p_value"]
        np.testing.assert_allclose(group["p_holm"], multipletests(p, method="holm")[1], rtol=1e-12)
        np.testing.assert_allclose(group["q_bh"], multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    whole = table.filter(pl.col("country") != POOLED)  # not over the whole table any more
    assert not np.allclose(whole["p_holm"], multipletests(whole["p_value"], method="holm")[1])
    for family in comparison_table(fits, "PHL").partition_by("family"):
        differences = family["difference_p_value"].to_numpy()
        np.testing.assert_allclose(family["p_holm"], multipletests(differences, method="holm")[1], rtol=1e-12)
        np.testing.assert_allclose(family["q_bh"], multipletests(differences, method="fdr_bh")[1], rtol=1e-12)
        zero = family["focus_p_value"].to_numpy()
        np.testing.assert_allclose(family["focus_p_holm"], multipletests(zero, method="holm")[1], rtol=1e-12)
        np.testing.assert_allclose(family["focus_q_bh"], multipletests(zero, method="fdr_bh")[1], rtol=1e-12)


def _peer_rows(table: pl.DataFrame, row: dict, focus: str) -> tuple[np.ndarray, np.ndarray]:
    """The peers' estimates of a comparison row and the SE each one's reported interval implies."""
    peers = table.filter(
        (pl.col("spec") == row["spec"])
        & (pl.col("term") == row["term"])
        & ~pl.col("country").is_in([focus, POOLED])
    )
    se = ((peers["ci_high"] - peers["ci_low"]) / (2 * stats.norm.ppf(0.975))).to_numpy()
    return peers["estimate"].to_numpy(), se


@pytest.mark.skipif(not metafor_available(), reason="R with metafor is not installed")
@pytest.mark.parametrize("focus", ["KHM", "PHL"])
def test_random_effects_peer_mean_equals_metafor_on_the_peer_rows(
    fits: list[SpecFit], focus: str, tmp_path: Path
) -> None:
    """REML tau^2 with the Hartung-Knapp-Sidik-Jonkman interval and metafor's prediction interval
    on the package's own peer effects, each with the SE its reported interval implies: R's
    rma(method = "REML", test as models/inference.yaml says) and predict() agree to 1e-6
    (relative) on every row."""
    table = estimates_table(fits)
    comparison = comparison_table(fits, focus).filter(pl.col("n_peers") > 0)
    sets = []
    for row in comparison.iter_rows(named=True):
        estimates, errors = (v.tolist() for v in _peer_rows(table, row, focus))
        name = f"{row['spec']}:{row['term']}"
        sets.append(MetaSet(name, estimates, errors, interval=settings().random_effects.interval))
    reference = metafor_reference(sets, tmp_path)
    columns = {
        "peer_mean_re": "mean", "peer_mean_re_std_error": "se", "tau2": "tau2",
        "peer_mean_re_ci_low": "ci_low", "peer_mean_re_ci_high": "ci_high",
        "prediction_low": "pi_low", "prediction_high": "pi_high", "cochran_q": "q",
    }  # fmt: skip
    for row, meta in zip(comparison.iter_rows(named=True), sets, strict=True):
        theirs = reference[meta.name]
        assert theirs["used"] == "REML", meta.name
        for column, name in columns.items():
            assert row[column] == pytest.approx(theirs[name], rel=1e-6, abs=1e-10), (meta.name, column)
        k = len(meta.estimates)
        tau2 = meta.label(theirs["used"], theirs["step"])
        interval = settings().random_effects.interval
        assert row["peer_mean_re_method"] == f"{tau2}; {interval} t({k - 1}); prediction t({k - 1})"
        assert row["method"] is not None and row["focus_method"] is not None


def test_random_effects_peer_mean_is_dersimonian_laird_when_the_settings_ask(
    fits: list[SpecFit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DerSimonian-Laird with a normal interval (models/inference.yaml `random_effects`) on the
    peers' estimates, each with the SE its reported interval implies, equals statsmodels."""
    from statsmodels.stats.meta_analysis import combine_effects

    from ippmd.models import estimate
    from ippmd.models.inference import DL, NORMAL, settings

    config = settings()
    dl = dataclasses.replace(config.random_effects, tau2=DL, interval=NORMAL)
    monkeypatch.setattr(estimate, "settings", lambda: dataclasses.replace(config, random_effects=dl))
    table = estimates_table(fits)
    for fit in fits:
        for row in estimate._focus_comparison(fit, "KHM"):
            if not row["n_peers"]:
                continue
            y, se = _peer_rows(table, row, "KHM")
            reference = combine_effects(y, se**2, method_re="dl")
            # statsmodels leaves the moment estimate of tau^2 negative when Q < k - 1; DerSimonian
            # and Laird truncate it at 0, and the random-effects mean is then the fixed-effect one.
            truncated = reference.tau2 < 0
            mean = reference.mean_effect_fe if truncated else reference.mean_effect_re
            assert row["peer_mean_re"] == pytest.approx(mean, rel=1e-9), row["spec"]
            assert row["tau2"] == pytest.approx(max(reference.tau2, 0.0), rel=1e-9, abs=1e-14)
            assert row["cochran_q"] == pytest.approx(reference.q, rel=1e-9)
            assert row["prediction_low"] <= row["peer_mean_re_ci_low"] <= row["peer_mean_re"]
            assert row["peer_mean_re_method"].startswith("DL tau2; normal interval")
            assert row["method"] is not None and row["focus_method"] is not None


def test_the_community_level_comparison_uses_cr2_for_focus_peers_and_difference(fits: list[SpecFit]) -> None:
    fit = next(f for f in fits if f.spec.id == "public_employment_programme_on_emigrant")
    row = comparison_table([fit], "GEO").row(0, named=True)
    assert row["method"].startswith("CR2") and row["focus_method"].startswith("CR2")
    # GEO has three treated communities: its CR2 interval is far wider than CRV1's would be
    crv1_half = stats.t.ppf(0.975, 57) * fit.by_country.se()["country::GEO:public_employment_programme"]
    assert row["focus_ci_high"] - row["focus_ci_low"] > 3 * crv1_half
    term = "public_employment_programme"
    peers = [c for c in fit.countries if c != "GEO"]
    difference = fit.cr2_contrast(
        {f"country::GEO:{term}": 1.0, **{f"country::{c}:{term}": -1 / len(peers) for c in peers}}
    )
    assert row["method"] == f"CR2 t({difference.df:.1f}) Bell-McCaffrey"
    assert row["difference_p_value"] == pytest.approx(difference.p_value(), rel=1e-12)
    assert (row["difference_ci_low"], row["difference_ci_high"]) == pytest.approx(difference.interval(0.95))
    peer_mean = fit.cr2_contrast({f"country::{c}:{term}": 1 / len(peers) for c in peers})
    assert row["peer_mean_p_value"] == pytest.approx(peer_mean.p_value(), rel=1e-12)
    # the standard errors and df on the row are the CR2 ones of the same contrasts (issue 24)
    assert row["difference_std_error"] == pytest.approx(difference.std_error, rel=1e-12)
    assert row["difference_df"] == pytest.approx(difference.df, rel=1e-12)
    assert row["peer_mean_std_error"] == pytest.approx(peer_mean.std_error, rel=1e-12)
    assert row["peer_mean_method"] == f"CR2 t({peer_mean.df:.1f}) Bell-McCaffrey"
    focus = fit.cr2_contrast({f"country::GEO:{term}": 1.0})
    assert row["focus_std_error"] == pytest.approx(focus.std_error, rel=1e-12)


def test_bootstrap_rows_carry_the_crv1_t_they_refer_to_the_bootstrap(
    data: PackageData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the wild cluster bootstrap as the few-cluster method (models/inference.yaml), a row's
    std_error is the CRV1 SE of the bootstrap's statistic, statistic = estimate / std_error, no
    df, and the p-value and interval are the bootstrap's; the method says so."""
    from ippmd.models import estimate

    config = settings()
    wcr = dataclasses.replace(
        config, few_cluster_methods={"community_level": "WCR", "within_community": "WCR"}, bootstrap_draws=199
    )
    monkeypatch.setattr(estimate, "settings", lambda: wcr)
    spec = get_spec("public_employment_programme_on_emigrant")
    fit = fit_spec(spec, analysis_frame(spec, data), data.countries)
    rows = estimates_table([fit]).filter(pl.col("country") != POOLED)
    crv1_se = fit.by_country.se()
    assert (rows["method"] == "WCR bootstrap-t (Webb, B=199; CRV1 SE)").all() and rows["df"].is_null().all()
    for row in rows.iter_rows(named=True):
        name = f"country::{row['country']}:{row['term']}"
        contrast = fit.bootstrap_contrast({name: 1.0})
        assert row["std_error"] == pytest.approx(crv1_se[name], rel=1e-7)
        assert row["statistic"] == pytest.approx(row["estimate"] / row["std_error"], rel=1e-12)
        assert row["p_value"] == contrast.p_value() and (row["ci_low"], row["ci_high"]) == contrast.interval(
            0.95
        )
    row = comparison_table([fit], "GEO").row(0, named=True)
    assert row["method"] == row["peer_mean_method"] == row["focus_method"] == rows["method"][0]
    assert row["difference_df"] is None and row["peer_mean_df"] is None
    for value, prefix in (("peer_mean", "peer_mean_"), ("difference", "difference_")):
        assert row[f"{prefix}statistic"] == pytest.approx(row[value] / row[f"{prefix}std_error"], rel=1e-12)


def test_poisson_keeps_the_zero_spenders_and_equals_a_statsmodels_glm(data: PackageData) -> None:
    """The zeros-kept model: every household with a known amount (about a third spend nothing),
    and its pooled coefficients equal a Poisson GLM with explicit region dummies."""
    import statsmodels.api as sm

    spec, log_spec = get_spec("education_expenditure_poisson"), get_spec("education_expenditure")
    frame, log_frame = analysis_frame(spec, data), analysis_frame(log_spec, data)
    zeros = int((frame["education_expenditure_usd"] == 0).sum())
    assert 0.2 < zeros / frame.height < 0.5 and frame.height == log_frame.height + zeros
    frame = frame.filter(pl.col("country").is_in(["KHM", "MAR", "PHL"]))  # three countries: quick
    fit = fit_spec(spec, frame, ["KHM", "MAR", "PHL"])
    regions = frame["region_code"].to_numpy()
    X = np.column_stack(
        [
            frame["remittances_received"].to_numpy().astype(float),
            frame["has_emigrant"].to_numpy().astype(float),
            frame["urban"].to_numpy().astype(float),
            *[(regions == r).astype(float) for r in sorted(set(regions))],
        ]
    )
    glm = sm.GLM(
        frame["education_expenditure_usd"].to_numpy(),
        X,
        family=sm.families.Poisson(),
        freq_weights=frame["weight"].to_numpy(),
    ).fit(tol=1e-12)
    coef = fit.pooled.coef()
    for i, name in enumerate(["remittances_received", "has_emigrant", "urban"]):
        assert coef[name] == pytest.approx(glm.params[i], abs=1e-6), name


def test_descriptive_intervals_use_t_with_the_cells_communities(package_dir: Path) -> None:
    from ippmd.core.calibration import weighted_share
    from ippmd.models.descriptives import _and, design_frame, figure_definitions, figure_shares

    data = PackageData.load(package_dir)
    shares = figure_shares(data)
    # every cell equals the calibration report's estimator on that country's rows alone
    figure = figure_definitions()["fig_1_6"]
    frame = design_frame(data, figure["unit"])
    panel, group = figure["panels"][0], figure["groups"][-1]
    universe = _and(figure["universe"], panel["where"], group["where"])
    for country in ("MAR", "KHM"):
        alone = weighted_share(frame.filter(pl.col("country") == country), figure["value"], universe)
        row = shares.filter(
            (pl.col("figure") == "fig_1_6")
            & (pl.col("country") == country)
            & (pl.col("panel") == panel["label"])
            & (pl.col("group") == group["label"])
        ).row(0, named=True)
        assert row["estimate"] == pytest.approx(alone["estimate"], rel=1e-12)
        assert row["std_error"] == pytest.approx(alone["std_error"], rel=1e-10)
        assert row["n"] == alone["n"]
    inside = shares.filter((pl.col("ci_low") > 0) & (pl.col("ci_high") < 1) & (pl.col("n_clusters") > 1))
    half = (inside["ci_high"] - inside["estimate"]).to_numpy()
    expected = stats.t.ppf(0.975, inside["n_clusters"].to_numpy() - 1) * inside["std_error"].to_numpy()
    np.testing.assert_allclose(half, expected, rtol=1e-9)
    assert (inside["n_clusters"] <= 100).all()  # a country's communities, not the pooled 590
    groups = set(shares.filter(pl.col("figure") == "fig_1_6")["group"])
    assert {"Receives remittances", "Does not receive remittances"} <= groups  # Figure 1.6's split

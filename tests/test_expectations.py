"""Expectation suites (quality/suites/*.yaml) and their two engines: GX and the polars translator.

GX runs cost seconds each, so few tests call it: the clean package (no failure, no progress bar, no
socket), a fresh process with sockets refused (import and run stay offline), the broken tables (same
failures as polars) and the context configuration. Everything else runs the polars engine.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from ippmd.core.calibration import target_measures
from ippmd.core.errors import InputError
from ippmd.core.schema import RESOURCES, harmonized_schema, universe_mask
from ippmd.quality.engine_gx import run_suites
from ippmd.quality.engine_polars import SUPPORTED, run_suites_polars
from ippmd.quality.expectations import Check, Failure, prepare
from ippmd.quality.suites import load_distribution, load_suite, schema_expectations, suite_resources

ROOT = Path(__file__).resolve().parents[1]
Tables = dict[str, pl.DataFrame]


def signature(failure: Failure) -> tuple:
    """What both engines must agree on."""
    return (
        failure.resource,
        failure.expectation_type,
        failure.columns,
        failure.rule,
        failure.country,
        failure.unexpected_count,
        failure.unexpected_keys,
        failure.unexpected_values,
        failure.error is None,
    )


def assert_same_failures(gx: list[Failure], polars: list[Failure]) -> None:
    assert [signature(f) for f in gx] == [signature(f) for f in polars]
    for a, b in zip(gx, polars, strict=True):
        if a.observed is not None or b.observed is not None:
            assert a.observed == pytest.approx(b.observed, abs=1e-9)


# --- the suites as data ------------------------------------------------------------------------------


def test_generated_rules_cover_every_schema_constraint() -> None:
    """Every required/unique/enum/pattern/min/max constraint has its unconditional expectation,
    generated from the schema (the suite files hold none of them)."""
    for resource in RESOURCES:
        suite = load_suite(resource)
        generated = [e for e in suite.expectations if "schema_constraint" in e["meta"]]
        assert generated == schema_expectations(resource)
        have = {(e["type"], e["kwargs"]["column"]): e["kwargs"] for e in generated if "where" not in e}
        for f in harmonized_schema(resource)["fields"]:
            name, c = f["name"], f.get("constraints", {})
            where = f"{resource}.{name}"
            if c.get("required"):
                assert ("expect_column_values_to_not_be_null", name) in have, where
            if c.get("unique"):
                assert ("expect_column_values_to_be_unique", name) in have, where
            if "enum" in c:
                kwargs = have.get(("expect_column_values_to_be_in_set", name))
                assert kwargs is not None and set(kwargs["value_set"]) == set(c["enum"]), where
            if "pattern" in c:
                kwargs = have.get(("expect_column_values_to_match_regex", name))
                assert kwargs is not None and kwargs["regex"] == c["pattern"], where
            if "minimum" in c or "maximum" in c:
                kwargs = have.get(("expect_column_values_to_be_between", name))
                assert kwargs is not None, where
                assert kwargs.get("min_value") == c.get("minimum"), where
                assert kwargs.get("max_value") == c.get("maximum"), where
        for e in suite.written:
            assert "schema_constraint" not in e["meta"], e


def test_null_rules_match_schema_universes(tables: Tables) -> None:
    """Each field with a universe is blank-checked exactly outside it (and, if checked, answered inside)."""
    for prep in prepare(tables):
        frame = prep.frame
        for f in harmonized_schema(prep.resource)["fields"]:
            if "universe" not in f:
                continue
            inside = universe_mask(frame, f)
            blank = [
                c
                for c in prep.checks
                if c.type == "expect_column_values_to_be_null" and c.kwargs["column"] == f["name"]
            ]
            assert len(blank) == 1, f"{prep.resource}.{f['name']}: one null rule outside its universe"
            assert blank[0].mask is not None, f"{prep.resource}.{f['name']}: null rule without a mask"
            outside = frame[blank[0].mask]
            assert (outside == ~inside).all(), (
                f"{prep.resource}.{f['name']}: null rule != NOT ({f['universe']})"
            )
            for c in prep.checks:
                if c.type == "expect_column_values_to_not_be_null" and c.kwargs["column"] == f["name"]:
                    # inside the universe only; it may leave out answers flagged don't know or
                    # refused (<stem>_nonresponse, issue 13)
                    assert c.mask and (frame[c.mask] & ~inside).not_().all(), (
                        f"{f['name']}: not-null rule outside the universe"
                    )


def test_suites_are_well_formed() -> None:
    assert suite_resources() == list(RESOURCES)
    for resource in RESOURCES:
        suite = load_suite(resource)
        assert suite.resource == resource
        for e in suite.expectations:
            assert e["type"] in SUPPORTED, e
            assert set(e) <= {"type", "kwargs", "where", "meta"}, e
            assert e["meta"]["rule"].strip() and e["meta"]["hint"].strip(), e
            placeholder = r"\{(field|source|values|codes|bounds|pattern|universe|universe_columns|title)\}"
            assert not re.search(placeholder, e["meta"]["rule"] + e["meta"]["hint"]), e  # all filled
    spec = load_distribution()
    measures = target_measures()
    for key, entry in spec["targets"].items():
        assert key in measures, key
        assert 0 < entry.get("tolerance", spec["default_tolerance"]) <= 0.25, key


@pytest.fixture
def suites_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of quality/suites/ that the loader reads instead (caches cleared around the test)."""
    import shutil

    from ippmd.quality import suites

    folder = tmp_path / "suites"
    shutil.copytree(suites.SUITES_DIR, folder)
    monkeypatch.setattr(suites, "SUITES_DIR", folder)
    caches = (suites.load_suite, suites.load_distribution, suites._read_yaml)
    for cached in (*caches, suites.table_columns):
        cached.cache_clear()
    yield folder
    for cached in (*caches, suites.table_columns):
        cached.cache_clear()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            'where: "relation_to_head = 5"',
            'where: "relation_to_hed = 5"',
            "expectations[2].where",
            "relation_to_hed",
        ),
        ('where: "relation_to_head = 5"', 'where: "relation_to_head = = 5"', "expectations[2].where", "SQL"),
        (
            'where: "relation_to_head = 5"',
            'where: "relation_to_head + 5"',
            "expectations[2].where",
            "not a condition",
        ),
        (
            "kwargs: {column: age, min_value: 25}",
            "kwargs: {column: aeg, min_value: 25}",
            "expectations[2].kwargs",
            "aeg",
        ),
        (
            "type: expect_compound_columns_to_be_unique",
            "type: expect_column_values_to_be_increasing",
            "expectations[0].type",
            "must be a supported expectation type",
        ),
        ('      rule: "Head and spouse are at least 12"\n', "", "expectations[1].meta.rule", "missing"),
        ('    where: "relation_to_head IN (1, 2)"', "    wher: x", "expectations[1].wher", "unknown key"),
        ("key: person_id", "key: [person_id]", "key", "must be a column name"),
        ("country_column: country  # splits failures by country\n", "", "country_column", "missing"),
    ],
)
def test_a_broken_suite_fails_when_loaded_naming_file_and_key(
    suites_copy: Path, old: str, new: str, key: str, message: str
) -> None:
    _edit(suites_copy / "persons.yaml", old, new)
    with pytest.raises(InputError) as info:
        load_suite("persons")
    (problem,) = info.value.problems
    assert problem.file == str(suites_copy / "persons.yaml")
    assert problem.field == key
    assert message in problem.message


def test_a_hand_copy_of_a_schema_rule_is_refused(suites_copy: Path) -> None:
    """Stating a schema constraint again in a suite file fails at load: each rule is stated once."""
    copy = """  - type: expect_column_values_to_be_in_set
    kwargs: {column: sex, value_set: [1, 2]}
    meta: {id: sex-is-1-or-2, rule: "sex is 1 or 2", hint: "recode sex"}
"""
    _edit(suites_copy / "persons.yaml", "expectations:\n", "expectations:\n" + copy)
    with pytest.raises(InputError, match="restates a schema constraint"):
        load_suite("persons")


def test_a_broken_distribution_rule_fails_when_loaded(suites_copy: Path) -> None:
    _edit(suites_copy / "distribution.yaml", "kwargs: {column: weight,", "kwargs: {column: wieght,")
    with pytest.raises(InputError) as info:
        load_distribution()
    assert info.value.problems[0].field == "per_country[0].kwargs"


def test_polars_engine_refuses_what_it_does_not_translate(tables: Tables) -> None:
    [prep] = [p for p in prepare({"countries": tables["countries"]}) if p.resource == "countries"]
    from ippmd.quality.engine_polars import _outcome

    def check(type_: str, kwargs: dict) -> Check:
        return Check("countries", 0, type_, kwargs, None, {"rule": "r", "hint": "h"})

    with pytest.raises(ValueError, match="not supported"):
        _outcome(prep, check("expect_column_values_to_be_increasing", {"column": "survey_year"}))
    with pytest.raises(ValueError, match="not supported"):
        _outcome(prep, check("expect_column_values_to_not_be_null", {"column": "iso3", "mostly": 0.9}))


def test_great_expectations_is_imported_lazily() -> None:
    """The polars engine, the suites and even the GX adapter's module load without importing GX."""
    modules = "ippmd.quality.engine_polars, ippmd.quality.engine_gx, ippmd.quality.validate"
    code = f"import sys, {modules}; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the clean package ---------------------------------------------------------------------------------


def test_clean_package_passes_polars(tables: Tables) -> None:
    assert [str(f) for f in run_suites_polars(tables)] == []


@pytest.mark.slow
def test_clean_package_passes_gx_quietly_and_offline(
    tables: Tables, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GX (imported here if not yet) passes the package, prints nothing and opens no connection."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"GX tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    gx_failures = run_suites(tables)
    out, err = capfd.readouterr()
    for text in (out, err):
        assert "%|" not in text and "Calculating Metrics" not in text
    assert out == ""
    assert gx_failures == []


OFFLINE_RUN = """
import socket, sys
from pathlib import Path

def refuse(*args, **kwargs):
    raise SystemExit(f"network access: {args}")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
import polars as pl
from ippmd.quality.engine_gx import run_suites

data = Path(sys.argv[1]) / "data"
tables = {name: pl.read_parquet(data / f"{name}.parquet") for name in ("countries", "communities")}
print(len(run_suites(tables)), "great_expectations" in sys.modules)
"""


@pytest.mark.slow
def test_gx_import_and_run_stay_offline(package_dir: Path) -> None:
    """In a fresh process with sockets refused: GX imports, validates and never dials out."""
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_RUN, str(package_dir)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True"]
    assert "%|" not in done.stderr and "Calculating Metrics" not in done.stderr


def test_gx_context_is_ephemeral_without_analytics_or_progress_bars() -> None:
    import os

    from ippmd.quality.engine_gx import _context, import_gx

    gx = import_gx()
    assert os.environ["GX_ANALYTICS_ENABLED"] == "False"
    context = _context(gx)
    assert type(context).__name__ == "EphemeralDataContext"
    assert context.variables.analytics_enabled is False
    assert context.progress_bars.globally is False
    assert context.progress_bars.metric_calculations is False


# --- planted defects -------------------------------------------------------------------------------------


def _set(frame: pl.DataFrame, key: str, value: str, **columns: object) -> pl.DataFrame:
    """`frame` with the given columns of the row(s) whose `key` is `value` replaced."""
    hit = pl.col(key) == value
    return frame.with_columns(
        pl.when(hit).then(pl.lit(v).cast(frame.schema[c])).otherwise(pl.col(c)).alias(c)
        for c, v in columns.items()
    )


def _households(t: Tables, iso3: str, where: pl.Expr | None = None) -> list[str]:
    scope = (pl.col("country") == iso3) & (True if where is None else where)
    return t["households"].filter(scope)["household_id"].to_list()


def _person(t: Tables, household_id: str, where: pl.Expr | None = None) -> str:
    scope = (pl.col("household_id") == household_id) & (True if where is None else where)
    return t["persons"].filter(scope)["person_id"][0]


def expect(resource: str, type_: str, column: str, rule: str, **found: object) -> dict:
    """The failure a planted defect must produce (`rule`: a fragment of meta.rule)."""
    return {"resource": resource, "type": type_, "column": column, "rule": rule, **found}


# Each planter changes one household (by its rank among the country's households, so planters do not
# collide) and returns the expected failure: resource, type, column, a rule fragment, country, key.
Planter = Callable[[Tables, str, int], tuple[Tables, dict]]


def duplicate_person(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    pid = _person(t, _households(t, iso3)[rank])
    row = t["persons"].filter(pl.col("person_id") == pid)
    t = {**t, "persons": pl.concat([t["persons"], row])}
    return t, expect(
        "persons", "expect_column_values_to_be_unique", "person_id", "identifies", key=pid, count=2
    )


def age_200(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    pid = _person(t, _households(t, iso3)[rank], pl.col("relation_to_head") == 2)
    t = {**t, "persons": _set(t["persons"], "person_id", pid, age=200)}
    return t, expect(
        "persons", "expect_column_values_to_be_between", "age", "is between 0 and 110", key=pid, value=200
    )


def sex_3(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    pid = _person(t, _households(t, iso3)[rank])
    t = {**t, "persons": _set(t["persons"], "person_id", pid, sex=3)}
    return t, expect(
        "persons", "expect_column_values_to_be_in_set", "sex", "`sex` is one of", key=pid, value=3
    )


def head_aged_8(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    pid = _person(t, _households(t, iso3)[rank], pl.col("relation_to_head") == 1)
    t = {**t, "persons": _set(t["persons"], "person_id", pid, age=8)}
    return t, expect(
        "persons",
        "expect_column_values_to_be_between",
        "age",
        "Head and spouse are at least 12",
        key=pid,
        value=8,
    )


def school_at_40(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    hid = _households(t, iso3)[rank]
    pid = _person(t, hid, pl.col("age") > 24)
    t = {**t, "persons": _set(t["persons"], "person_id", pid, age=40, attending_school=1)}
    return t, expect(
        "persons",
        "expect_column_values_to_be_null",
        "attending_school",
        "outside its universe",
        key=pid,
        value=1,
    )


def size_off_by_one(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    hid = _households(t, iso3)[rank]
    size = t["households"].filter(pl.col("household_id") == hid)["household_size"][0]
    t = {**t, "households": _set(t["households"], "household_id", hid, household_size=size + 1)}
    return t, expect(
        "households",
        "expect_column_pair_values_to_be_equal",
        "household_size+members_listed",
        "members listed",
        key=hid,
        value=(size + 1, size),
    )


def remittance_amount_missing(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    hid = _households(t, iso3, pl.col("remittances_received") == 1)[rank]
    t = {**t, "households": _set(t["households"], "household_id", hid, remittances_lcu=None)}
    return t, expect(
        "households",
        "expect_column_values_to_not_be_null",
        "remittances_lcu",
        "remittances_received = 1",
        key=hid,
    )


def channel_without_remittances(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    hid = _households(t, iso3, pl.col("remittances_received") == 0)[rank]
    t = {**t, "households": _set(t["households"], "household_id", hid, remittance_channel="bank")}
    return t, expect(
        "households",
        "expect_column_values_to_be_null",
        "remittance_channel",
        "blank outside its universe (remittances_received = 1)",
        key=hid,
        value="bank",
    )


def plans_doubled(t: Tables, iso3: str, rank: int) -> tuple[Tables, dict]:
    """As many more persons 15+ planning to emigrate as there were: the country's share doubles."""
    persons = t["persons"]
    scope = (pl.col("country") == iso3) & (pl.col("age") >= 15)
    planners = persons.filter(scope & (pl.col("plans_to_emigrate") == 1)).height
    extra = persons.filter(scope & (pl.col("plans_to_emigrate") == 0)).head(planners)["person_id"]
    persons = persons.with_columns(
        pl.when(pl.col("person_id").is_in(extra.implode()))
        .then(1)
        .otherwise(pl.col("plans_to_emigrate"))
        .alias("plans_to_emigrate")
    )
    return {**t, "persons": persons}, expect(
        "persons", "expect_column_mean_to_be_between", "target_plans_to_emigrate", "planning to emigrate"
    )


PLANTERS: list[Planter] = [
    duplicate_person,
    age_200,
    sex_3,
    head_aged_8,
    school_at_40,
    size_off_by_one,
    remittance_amount_missing,
    channel_without_remittances,
    plans_doubled,
]


def find(failures: list[Failure], expected: dict, country: str) -> Failure:
    """The failure matching `expected`, with the planted row among its examples."""
    wanted = (expected["resource"], expected["type"], expected["column"], country)
    matches = [
        f
        for f in failures
        if (f.resource, f.expectation_type, f.column, f.country) == wanted and expected["rule"] in f.rule
    ]
    assert len(matches) == 1, (expected, [str(f) for f in failures])
    failure = matches[0]
    if "key" in expected:
        assert expected["key"] in failure.unexpected_keys
        assert failure.key_column == {"persons": "person_id", "households": "household_id"}[failure.resource]
    if "value" in expected:
        assert expected["value"] in failure.unexpected_values
    if "count" in expected:
        assert failure.unexpected_count == expected["count"]
    return failure


@pytest.mark.parametrize("planter", PLANTERS, ids=lambda p: p.__name__)
def test_planted_defect_is_named(tables: Tables, planter: Planter) -> None:
    broken, expected = planter(dict(tables), "KHM", 10)
    failures = run_suites_polars(broken, countries=["KHM"])
    failure = find(failures, expected, "KHM")
    if failure.expectation_type == "expect_column_mean_to_be_between":
        target = 0.10  # countries/KHM/country.yaml targets.plans_to_emigrate
        assert failure.unexpected_count is None and failure.observed > target + 0.05
    clean = {signature(f) for f in run_suites_polars(tables, countries=["KHM"])}
    assert signature(failure) not in clean


@pytest.fixture(scope="module")
def broken(tables: Tables) -> tuple[Tables, list[tuple[dict, str]]]:
    """All defects at once, in KHM (one household each) and a second age 200 in HTI."""
    planted = dict(tables)
    expected = []
    for rank, planter in enumerate(PLANTERS):
        planted, exp = planter(planted, "KHM", 10 + rank)
        expected.append((exp, "KHM"))
    planted, exp = age_200(planted, "HTI", 3)
    expected.append((exp, "HTI"))
    return planted, expected


@pytest.mark.slow
def test_broken_tables_same_failures_with_both_engines(broken: tuple[Tables, list[tuple[dict, str]]]) -> None:
    planted, expected = broken
    polars_failures = run_suites_polars(planted, countries=["HTI", "KHM"])
    for exp, country in expected:
        find(polars_failures, exp, country)
    assert {f.country for f in polars_failures} == {"HTI", "KHM"}
    assert_same_failures(run_suites(planted, countries=["HTI", "KHM"]), polars_failures)


def test_country_filter_and_unknown_country(tables: Tables) -> None:
    """Only the countries asked for are checked; a country without country.yaml gets no target rules."""

    def country(name: str) -> str:
        return "iso3" if name == "countries" else "country"

    khm = {name: frame.filter(pl.col(country(name)) == "KHM") for name, frame in tables.items()}
    zzz = {name: frame.with_columns(pl.lit("ZZZ").alias(country(name))) for name, frame in khm.items()}
    both = {name: pl.concat([tables[name], zzz[name]]) for name in tables}
    prepared = {p.resource: p for p in prepare(both, countries=["KHM", "ZZZ"])}
    per_country = [c for p in prepared.values() for c in p.checks if c.meta.get("country") == "ZZZ"]
    assert per_country and all("target" not in c.meta for c in per_country)  # only the weight rule
    assert any(c.meta.get("target") for c in prepared["persons"].checks if c.meta.get("country") == "KHM")
    assert set(prepared["households"].frame["country"].unique()) == {"KHM", "ZZZ"}
    failures = run_suites_polars(both, countries=["ZZZ"])
    assert {f.country for f in failures} <= {"ZZZ"}

"""The expectation suites evaluated directly with polars: the fast path of `ippmd validate`.

Importing Great Expectations alone takes ~2.5 s, over the 2 s budget for checking one country, so
this module translates exactly the expectation types and kwargs the suites use into polars and
raises on anything else. The rows a rule applies to are its `where` mask, evaluated once by
`quality.expectations.prepare` for both engines. Semantics follow GX's pandas engine
(`quality.engine_gx`, which stays the authoritative engine on build/check/admit): map expectations
ignore null values (except the null/not-null ones), pair and multi-column rows are dropped per
`ignore_row_if`. The parity test in tests/test_expectations.py holds both engines to the same failures.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ippmd.quality.expectations import Check, Failure, Outcome, Prepared, failures_of, prepare
from ippmd.quality.suites import AGGREGATE_TYPES

# Kwargs each supported expectation type accepts (beyond its column/column_A+B/column_list).
SUPPORTED: dict[str, set[str]] = {
    "expect_column_values_to_not_be_null": set(),
    "expect_column_values_to_be_null": set(),
    "expect_column_values_to_be_between": {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_values_to_be_in_set": {"value_set"},
    "expect_column_values_to_match_regex": {"regex"},
    "expect_column_values_to_be_unique": set(),
    "expect_compound_columns_to_be_unique": {"ignore_row_if"},
    "expect_column_pair_values_to_be_equal": {"ignore_row_if"},
    "expect_column_pair_values_a_to_be_greater_than_b": {"ignore_row_if", "or_equal"},
    "expect_column_mean_to_be_between": {"min_value", "max_value", "strict_min", "strict_max"},
}
_COLUMN_KWARGS = {"column", "column_A", "column_B", "column_list"}


def _within(column: pl.Expr, kwargs: dict[str, Any]) -> pl.Expr:
    """GX's between: inclusive bounds unless strict; a missing bound is open."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        raise ValueError("between needs min_value or max_value")
    ok = pl.lit(True)
    if low is not None:
        ok = ok & (column > low if kwargs.get("strict_min") else column >= low)
    if high is not None:
        ok = ok & (column < high if kwargs.get("strict_max") else column <= high)
    return ok


def _domain(check: Check) -> pl.Expr:
    """Rows the expectation looks at: its row condition, minus the rows GX ignores."""
    kwargs, columns = check.kwargs, [pl.col(c) for c in check.columns]
    domain = pl.col(check.mask) if check.mask else pl.lit(True)
    if check.type in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null"):
        return domain
    if "column" in kwargs:
        return domain & columns[0].is_not_null()
    nulls = [c.is_null() for c in columns]
    if "column_A" in kwargs:
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        rules = {"both_values_are_missing": "all", "either_value_is_missing": "any", "neither": None}
    else:
        ignore = kwargs.get("ignore_row_if", "all_values_are_missing")
        rules = {"all_values_are_missing": "all", "any_value_is_missing": "any", "never": None}
    if ignore not in rules:
        raise ValueError(f"unsupported ignore_row_if {ignore!r} in {check.type}")
    if rules[ignore] == "all":
        return domain & ~pl.all_horizontal(nulls)
    if rules[ignore] == "any":
        return domain & ~pl.any_horizontal(nulls)
    return domain


def _failing(check: Check) -> pl.Expr:
    """True for a row of the domain that breaks the expectation."""
    kwargs, kind = check.kwargs, check.type
    columns = [pl.col(c) for c in check.columns]
    if kind == "expect_column_values_to_not_be_null":
        return columns[0].is_null()
    if kind == "expect_column_values_to_be_null":
        return columns[0].is_not_null()
    if kind == "expect_column_values_to_be_between":
        return ~_within(columns[0], kwargs)
    if kind == "expect_column_values_to_be_in_set":
        return ~columns[0].is_in(list(kwargs["value_set"]))
    if kind == "expect_column_values_to_match_regex":
        return ~columns[0].cast(pl.String).str.contains(kwargs["regex"])
    if kind == "expect_column_values_to_be_unique":
        return columns[0].is_duplicated()
    if kind == "expect_compound_columns_to_be_unique":
        return pl.struct(columns).is_duplicated()
    if kind == "expect_column_pair_values_to_be_equal":
        return ~(columns[0] == columns[1]).fill_null(False)  # pandas: NaN == x is False
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        ok = columns[0] >= columns[1] if kwargs.get("or_equal") else columns[0] > columns[1]
        return ~ok.fill_null(False)
    raise ValueError(f"unsupported expectation type {kind!r}")


def _validate_check(check: Check) -> None:
    """Refuse what the translator does not implement, instead of judging it wrongly."""
    if check.type not in SUPPORTED:
        raise ValueError(
            f"{check.resource}: expectation type {check.type!r} is not supported by the polars engine"
        )
    unknown = set(check.kwargs) - _COLUMN_KWARGS - SUPPORTED[check.type]
    if unknown:
        raise ValueError(
            f"{check.resource}: {check.type} kwargs {sorted(unknown)} are not supported by the polars engine"
        )


def _outcome(prep: Prepared, check: Check) -> Outcome:
    _validate_check(check)
    needed = set(check.columns)
    missing = sorted(needed - set(prep.frame.columns))
    if missing:
        return Outcome(check, success=False, error=f"column(s) not found: {', '.join(missing)}")
    domain = prep.frame.filter(_domain(check))
    if check.type in AGGREGATE_TYPES:
        observed = domain.select(pl.col(check.columns[0]).mean()).item()
        ok = observed is not None and pl.select(_within(pl.lit(observed), check.kwargs)).item()
        return Outcome(check, success=bool(ok), observed=observed)
    failing = domain.filter(_failing(check))
    if failing.height == 0:
        return Outcome(check, success=True)
    values = (
        failing.get_column(check.columns[0]).to_list()
        if len(check.columns) == 1
        else list(failing.select(check.columns).iter_rows())
    )
    countries = (
        failing.get_column(prep.country_column).to_list()
        if prep.country_column in failing.columns
        else [None] * failing.height
    )
    keys = failing.get_column(prep.key).to_list() if prep.key in failing.columns else [None] * failing.height
    return Outcome(check, success=False, rows=list(zip(countries, keys, values, strict=True)))


def run_suites_polars(tables: dict[str, pl.DataFrame], countries: list[str] | None = None) -> list[Failure]:
    """Validate the tables against the suites with polars; same arguments and results as `run_suites`."""
    failures: list[Failure] = []
    for prep in prepare(tables, countries):
        for check in prep.checks:
            failures += failures_of(prep, _outcome(prep, check))
    return failures

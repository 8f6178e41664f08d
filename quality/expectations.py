"""The expectation suites made ready to run on tables, and what an engine found turned into failures.

`prepare` evaluates every `where` once into a boolean mask column, adds the derived and indicator
columns, and lists the checks per resource; both engines (`quality.engine_gx`, the reference, and
`quality.engine_polars`, the fast path) judge exactly those rows, and `failures_of` reports their
outcomes the same way. The suites themselves are loaded and checked by `quality.suites`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import polars as pl

from ippmd.core.calibration import target_measures
from ippmd.core.home import countries_dir
from ippmd.core.i18n import significant, t
from ippmd.core.metadata import load_country
from ippmd.quality.suites import (
    AGGREGATE_TYPES,
    all_of,
    load_distribution,
    load_suite,
    rule_and_hint,
    say,
    suite_resources,
    where_columns,
)

MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Failure:
    """One failed expectation, for one country where the failing rows (or the rule) belong to one."""

    resource: str
    expectation_type: str
    columns: tuple[str, ...]
    rule: str
    hint: str
    country: str | None
    unexpected_count: int | None  # failing rows; None for aggregate expectations and errors
    unexpected_values: tuple[Any, ...] = ()  # up to 10 distinct failing values (tuples for pairs)
    unexpected_keys: tuple[Any, ...] = ()  # key (e.g. person_id) of up to 10 failing rows
    key_column: str | None = None
    observed: Any = None  # the aggregate (e.g. a mean) for aggregate expectations
    condition: str | None = None  # the row condition, readable
    error: str | None = None  # the expectation could not be evaluated (e.g. missing column)

    @property
    def column(self) -> str:
        return "+".join(self.columns)

    def __str__(self) -> str:
        where = f"{self.resource}.{self.column}" + (f" [{self.country}]" if self.country else "")
        if self.error:
            return f"{where}: {self.rule}: error: {self.error}"
        if self.unexpected_count is None:
            return f"{where}: {self.rule} (observed {self.observed})"
        shown = ", ".join(map(str, self.unexpected_keys[:3]))
        return f"{where}: {self.rule}: {self.unexpected_count} rows (e.g. {self.key_column} {shown})"


@dataclass
class Check:
    """One expectation of a suite, ready to run: GX type, kwargs, the rows it applies to, and meta.

    `where` is the one condition language: a polars SQL expression over the table's columns.
    `prepare` evaluates it once into the boolean column `mask` of the prepared frame (NULL counts
    as not selected); both engines read that column, so they judge exactly the same rows.
    """

    resource: str
    position: int
    type: str
    kwargs: dict[str, Any]
    where: str | None
    meta: dict[str, Any]
    mask: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        if "column" in self.kwargs:
            return (self.kwargs["column"],)
        if "column_A" in self.kwargs:
            return (self.kwargs["column_A"], self.kwargs["column_B"])
        return tuple(self.kwargs.get("column_list", ()))


@dataclass
class Prepared:
    """A resource's table (filtered, with derived columns) and the checks to run on it."""

    resource: str
    frame: pl.DataFrame
    key: str
    country_column: str
    checks: list[Check]


@dataclass
class Outcome:
    """What an engine found for one check; `rows` are (country, key, value) of failing rows."""

    check: Check
    success: bool
    rows: list[tuple[Any, Any, Any]] = field(default_factory=list)
    observed: Any = None
    error: str | None = None


# --- preparation (shared by both engines) -------------------------------------------------------------


def _scope(tables: dict[str, pl.DataFrame], countries: Iterable[str] | None) -> list[str]:
    """Countries to check: those asked for, else every country present in the tables."""
    if countries is not None:
        return sorted(set(countries))
    found: set[str] = set()
    for name, frame in tables.items():
        column = "iso3" if name == "countries" else "country"
        if column in frame.columns:
            found.update(v for v in frame[column].unique().to_list() if v is not None)
    return sorted(found)


def _derived(
    frame: pl.DataFrame, name: str, spec: dict[str, Any], tables: dict[str, pl.DataFrame]
) -> pl.DataFrame | None:
    """`frame` with one derived column, or None when the table it needs is not given."""
    other = tables.get(spec["from"])
    if other is None:
        return None
    by, key = spec["by"], spec.get("key", spec["by"])
    if "value" in spec:  # look-up: the value of the row of `from` whose `by` equals our `key`
        looked = other.select(pl.col(by).alias(key), pl.col(spec["value"]).alias(name)).unique(
            key, keep="first"
        )
        return frame.join(looked, on=key, how="left", maintain_order="left")
    if "where" in spec:
        other = other.filter(pl.sql_expr(spec["where"]).fill_null(False))
    counts = other.group_by(by).agg(pl.len().cast(pl.Int64).alias(name)).rename({by: key})
    joined = frame.join(counts, on=key, how="left", maintain_order="left")
    return joined.with_columns(pl.col(name).fill_null(0))


def _suite_checks(resource: str, skipped: set[str]) -> list[Check]:
    checks = []
    for entry in load_suite(resource).expectations:
        check = Check(
            resource=resource,
            position=0,
            type=entry["type"],
            kwargs=dict(entry["kwargs"]),
            where=entry.get("where"),
            meta=dict(entry.get("meta", {})),
        )
        check.meta["rule"], check.meta["hint"] = rule_and_hint(
            resource, check.meta, entry["kwargs"].get("column")
        )
        # A rule on a derived column whose source table was not passed cannot be judged: skip it.
        if skipped & (set(check.columns) | where_columns(check.where)):
            continue
        checks.append(check)
    return checks


def _has_country_file(iso3: str) -> bool:
    return (countries_dir() / iso3 / "country.yaml").exists()


def _distribution_checks(
    scope: list[str], present: set[str]
) -> tuple[dict[str, list[Check]], dict[str, dict[str, str]]]:
    """Per-country checks by resource, and the indicator columns (name -> SQL) they need."""
    spec = load_distribution()
    measures = target_measures()
    checks: dict[str, list[Check]] = {}
    indicators: dict[str, dict[str, str]] = {}

    def country_is(resource: str, iso3: str) -> str:
        return f"{load_suite(resource).country_column} = '{iso3}'"

    for iso3 in scope:
        for rule in spec.get("per_country", []):
            if rule["resource"] not in present:
                continue
            checks.setdefault(rule["resource"], []).append(
                Check(
                    resource=rule["resource"],
                    position=0,
                    type=rule["type"],
                    kwargs=dict(rule["kwargs"]),
                    where=all_of(country_is(rule["resource"], iso3), rule.get("where")),
                    meta={**rule["meta"], **_per_country_words(rule["meta"]), "country": iso3},
                )
            )
        if not _has_country_file(iso3):
            continue  # no calibration targets for this country
        targets = load_country(iso3).get("targets") or {}
        for key, entry in spec["targets"].items():
            target, measure = targets.get(key), measures[key]
            if not isinstance(target, dict) or "value" not in target or measure["table"] not in present:
                continue
            value = float(target["value"])
            tolerance = float(entry.get("tolerance", spec["default_tolerance"]))
            origin = (
                t("checks.target-assumed")
                if target.get("assumed")
                else t("checks.target-published", source=str(target.get("source", "?")))
            )
            column = f"target_{key}"
            indicators.setdefault(measure["table"], {})[column] = measure["value"]
            label = entry.get("label")
            words = {
                "label": key if label is None else say(f"distribution.targets.{key}.label", label),
                "country": iso3,
                "tolerance": tolerance,
                "target": significant(value, 3),
                "origin": origin,
                "key": key,
                "columns": measure["value"],
            }
            checks.setdefault(measure["table"], []).append(
                Check(
                    resource=measure["table"],
                    position=0,
                    type="expect_column_mean_to_be_between",
                    kwargs={
                        "column": column,
                        "min_value": round(max(0.0, value - tolerance), 6),
                        "max_value": round(min(1.0, value + tolerance), 6),
                    },
                    where=all_of(country_is(measure["table"], iso3), measure.get("universe")),
                    meta={
                        "rule": say("distribution.rule", spec["rule"], **words),
                        "hint": say("distribution.hint", spec["hint"], **words),
                        "country": iso3,
                        "target": key,
                    },
                )
            )
    return checks, indicators


def _per_country_words(meta: dict[str, Any]) -> dict[str, str]:
    """The rule and hint of a per-country rule of distribution.yaml in the current language."""
    key = f"distribution.{meta['id']}"
    return {"rule": say(f"{key}.rule", meta["rule"]), "hint": say(f"{key}.hint", meta["hint"])}


def _with_masks(frame: pl.DataFrame, checks: list[Check]) -> pl.DataFrame:
    """Evaluate each distinct `where` once, as a boolean column `__where_<n>` (NULL -> False).

    A `where` naming a column the table lacks (a broken submission) selects no row; the rule's
    own columns are still reported missing by the engines.
    """
    masks: dict[str, str] = {}
    expressions = []
    for check in checks:
        if check.where is None:
            continue
        if check.where not in masks:
            masks[check.where] = f"__where_{len(masks)}"
            if where_columns(check.where) <= set(frame.columns):
                expression = pl.sql_expr(check.where).fill_null(False)
            else:
                expression = pl.lit(False)
            expressions.append(expression.alias(masks[check.where]))
        check.mask = masks[check.where]
    return frame.with_columns(expressions) if expressions else frame


def prepare(tables: dict[str, pl.DataFrame], countries: Iterable[str] | None = None) -> list[Prepared]:
    """Filter to `countries`, add derived, indicator and mask columns, and list the checks per resource."""
    scope = _scope(tables, countries)
    filtered: dict[str, pl.DataFrame] = {}
    for name in suite_resources():
        if name not in tables:
            continue
        frame = tables[name]
        column = load_suite(name).country_column
        if countries is not None and column in frame.columns:
            frame = frame.filter(pl.col(column).is_in(scope))
        filtered[name] = frame
    extra_checks, indicators = _distribution_checks(scope, set(filtered))
    prepared = []
    for name, frame in filtered.items():
        suite = load_suite(name)
        skipped: set[str] = set()
        for derived_name, spec in suite.derived_columns.items():
            with_column = _derived(frame, derived_name, spec, filtered)
            if with_column is None:
                skipped.add(derived_name)
            else:
                frame = with_column
        for column, sql in indicators.get(name, {}).items():
            # A column the outcome needs is missing: the mean check then reports the missing column.
            with contextlib.suppress(pl.exceptions.PolarsError):
                frame = frame.with_columns(pl.sql_expr(sql).fill_null(False).cast(pl.Int64).alias(column))
        checks = _suite_checks(name, skipped) + extra_checks.get(name, [])
        for position, check in enumerate(checks):
            check.position = position
        frame = _with_masks(frame, checks)
        prepared.append(Prepared(name, frame, suite.key, suite.country_column, checks))
    return prepared


# --- outcomes -> failures -----------------------------------------------------------------------------


def plain(value: Any, dtype: pl.DataType | None = None) -> Any:
    """A Python value for reports: numpy scalars unwrapped, NaN as None, floats of integer columns as int."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if dtype is not None and dtype.is_integer() and value.is_integer():
            return int(value)
    return value


def _row_value(prepared: Prepared, check: Check, value: Any) -> Any:
    schema = prepared.frame.schema
    columns = check.columns
    if len(columns) == 1:
        return plain(value, schema.get(columns[0]))
    return tuple(plain(v, schema.get(c)) for v, c in zip(value, columns, strict=True))


def failures_of(prepared: Prepared, outcome: Outcome) -> list[Failure]:
    """The failures of one check: one per country of its failing rows (or its own country)."""
    check = outcome.check
    if outcome.success:
        return []
    failure = partial(  # the fields every failure of this check shares
        Failure,
        resource=check.resource,
        expectation_type=check.type,
        columns=check.columns,
        rule=str(check.meta.get("rule", check.type)),
        hint=str(check.meta.get("hint", "")),
        key_column=prepared.key,
        condition=check.where,
    )
    own_country = check.meta.get("country")
    if outcome.error is not None:
        return [failure(country=own_country, unexpected_count=None, error=outcome.error)]
    if check.type in AGGREGATE_TYPES:
        return [failure(country=own_country, unexpected_count=None, observed=plain(outcome.observed))]
    groups: dict[Any, list[tuple[Any, Any]]] = {}
    for country, key, value in outcome.rows:
        groups.setdefault(country, []).append((key, value))
    failures = []
    for country in sorted(groups, key=lambda c: (c is None, str(c))):
        rows = groups[country]
        values: list[Any] = []
        for _, value in rows:
            shown = _row_value(prepared, check, value)
            if shown not in values:
                values.append(shown)
                if len(values) == MAX_EXAMPLES:
                    break
        failures.append(
            failure(
                country=country,
                unexpected_count=len(rows),
                unexpected_values=tuple(values),
                unexpected_keys=tuple(key for key, _ in rows[:MAX_EXAMPLES]),
            )
        )
    return failures

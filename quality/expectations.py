"""Expectation suites of the harmonized resources, run with Great Expectations (the authoritative engine).

Each rule is stated once. Rules that mirror a Table Schema constraint are generated from the schema
(`schema_expectations`); `quality/suites/<resource>.yaml` holds only what a schema cannot say
(cross-field, cross-table, completeness), and `distribution.yaml` the calibration-target shares,
expanded per country. The one condition language is polars SQL (`where`), checked when a suite
loads against the table's columns, with file and key named on error.

`prepare` evaluates every `where` once into a boolean mask column. GX then runs without row
conditions: each rule reads its columns masked to the selected rows (NULL elsewhere, which every
supported expectation skips), so no pandas `query` runs. `quality.expectations_polars` evaluates
the same prepared checks with polars, the fast path of `ippmd validate` (GX costs seconds to import).

Great Expectations is imported inside `run_suites` only, with analytics off and progress bars off.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from ippmd.core.calibration import target_measures
from ippmd.core.errors import InputError, Problem
from ippmd.core.home import countries_dir, package_data
from ippmd.core.io import load_yaml
from ippmd.core.metadata import load_country
from ippmd.core.schema import RESOURCES, harmonized_schema, polars_schema

SUITES_DIR = package_data(__package__, "suites")
MAX_EXAMPLES = 10
# Expectations judged on an aggregate (no failing rows; `observed` instead).
AGGREGATE_TYPES = frozenset({"expect_column_mean_to_be_between"})


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


# --- suites as data, checked when loaded ----------------------------------------------------------------

SUPPORTED_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_mean_to_be_between",
    }
)
# ignore_row_if values under which a masked-out row (all its columns NULL) is skipped by GX.
_SKIPS_ALL_NULL = {
    "both_values_are_missing",
    "either_value_is_missing",
    "all_values_are_missing",
    "any_value_is_missing",
}
ENTRY_KEYS = {"type", "kwargs", "where", "meta"}


def _suite_file(resource: str) -> Path:
    return SUITES_DIR / f"{resource}.yaml"


def _spec_error(file: Path | str, key: str, message: str) -> InputError:
    """A suite that cannot be run as written: a bug of the suite file, named by file and key."""
    return InputError([Problem(str(file), message, field=key, code="suite-error")])


@cache
def _read_yaml(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _spec_error(path, "", f"not valid YAML: {exc}") from None


@cache
def table_columns(resource: str) -> dict[str, pl.DataType]:
    """Columns (and dtypes) a rule of `resource` may name: the schema's fields and the derived ones."""
    columns: dict[str, pl.DataType] = {k: v() for k, v in polars_schema(harmonized_schema(resource)).items()}
    suite = _read_yaml(_suite_file(resource)) or {}
    for name in suite.get("derived_columns") or {}:
        columns[name] = pl.Int64()
    return columns


def check_sql(sql: Any, columns: dict[str, pl.DataType], file: Path | str, key: str) -> str:
    """Parse a `where` (polars SQL) and evaluate it on an empty frame with the table's columns:
    a typo or an unknown column fails here, when the suite loads, not in the middle of a build."""
    if not isinstance(sql, str) or not sql.strip():
        raise _spec_error(file, key, "must be a non-empty SQL expression")
    empty = pl.DataFrame(schema=columns)
    try:
        result = empty.select(pl.sql_expr(sql).alias("where"))
    except Exception as exc:  # polars raises SQL, column and compute errors of several classes
        message = str(exc).splitlines()[0]
        raise _spec_error(file, key, f"cannot evaluate SQL {sql!r}: {message}") from None
    if result.schema["where"] != pl.Boolean:
        raise _spec_error(file, key, f"SQL {sql!r} is not a condition (gives {result.schema['where']})")
    return sql


def _check_entry(entry: Any, columns: dict[str, pl.DataType], file: Path, key: str) -> dict[str, Any]:
    if not isinstance(entry, dict) or not {"type", "kwargs", "meta"} <= set(entry):
        raise _spec_error(file, key, "an expectation needs type, kwargs and meta")
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise _spec_error(file, key, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(ENTRY_KEYS)}")
    if entry["type"] not in SUPPORTED_TYPES:
        raise _spec_error(file, f"{key}.type", f"unsupported expectation type {entry['type']!r}")
    named = [entry["kwargs"].get(k) for k in ("column", "column_A", "column_B")]
    named += list(entry["kwargs"].get("column_list", []))
    for column in filter(None, named):
        if column not in columns:
            raise _spec_error(file, f"{key}.kwargs", f"unknown column {column!r}")
    meta = entry["meta"]
    if not isinstance(meta, dict) or not str(meta.get("rule", "")).strip() or not str(meta.get("hint", "")):
        raise _spec_error(file, f"{key}.meta", "meta needs a rule and a hint")
    if entry.get("where") is not None:
        check_sql(entry["where"], columns, file, f"{key}.where")
        ignore = entry["kwargs"].get("ignore_row_if")
        if ignore is not None and ignore not in _SKIPS_ALL_NULL:
            raise _spec_error(
                file, f"{key}.kwargs.ignore_row_if", f"{ignore!r} cannot be combined with where"
            )
    return entry


def _identity(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two expectations the same rule (for refusing hand copies of schema rules)."""
    kwargs = {k: v for k, v in entry["kwargs"].items() if k not in ("mostly",)}
    return entry["type"], repr(sorted(kwargs.items())), entry.get("where")


@cache
def _schema_wording() -> dict[str, Any]:
    return _read_yaml(SUITES_DIR / "schema_rules.yaml")


def _values_text(field: dict[str, Any]) -> str:
    labels = {c["value"]: c["label"] for c in field.get("categories", [])}
    return ", ".join(f"{v} ({labels[v]})" if v in labels else str(v) for v in field["constraints"]["enum"])


def _bounds_text(constraints: dict[str, Any]) -> str:
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def schema_expectations(resource: str) -> list[dict[str, Any]]:
    """The expectations that mirror the resource's Table Schema, generated from it (never copied):
    required, unique, pattern, enum, range, and blank outside the field's universe."""
    wording = _schema_wording()
    entries = []
    for spec in harmonized_schema(resource)["fields"]:
        name, constraints = spec["name"], spec.get("constraints", {})
        source = spec.get("sourceVariable") or wording["derived_source"].format(field=name)
        words = {"field": name, "source": source, "title": spec.get("title", name)}
        generated: list[tuple[str, dict[str, Any], str | None]] = []
        if constraints.get("required"):
            generated.append(("required", {}, None))
        if constraints.get("unique"):
            generated.append(("unique", {}, None))
        if "pattern" in constraints:
            generated.append(("pattern", {"regex": constraints["pattern"]}, None))
            words["pattern"] = constraints["pattern"]
        if "enum" in constraints:
            generated.append(("enum", {"value_set": list(constraints["enum"])}, None))
            words["values"] = _values_text(spec)
            words["codes"] = ", ".join(map(str, constraints["enum"]))
        if "minimum" in constraints or "maximum" in constraints:
            bounds = {
                key: constraints[limit]
                for key, limit in (("min_value", "minimum"), ("max_value", "maximum"))
                if limit in constraints
            }
            generated.append(("range", bounds, None))
            words["bounds"] = _bounds_text(constraints)
        if "universe" in spec:
            universe = spec["universe"]
            generated.append(("universe", {}, f"NOT COALESCE({universe}, FALSE)"))
            words["universe"] = universe
            words["universe_columns"] = " or ".join(pl.sql_expr(universe).meta.root_names())
        for constraint, kwargs, where in generated:
            text = wording[constraint]
            entry: dict[str, Any] = {
                "type": text["type"],
                "kwargs": {"column": name, **kwargs},
                "meta": {
                    "rule": text["rule"].format(**words),
                    "hint": text["hint"].format(**words),
                    "schema_constraint": constraint,
                },
            }
            if where:
                entry["where"] = where
            entries.append(entry)
    return entries


@cache
def load_suite(resource: str) -> dict[str, Any]:
    """The suite of one resource: the rules generated from its schema, then those of
    quality/suites/<resource>.yaml, each checked (types, columns, SQL) with file and key named."""
    file = _suite_file(resource)
    suite = copy.deepcopy(_read_yaml(file))
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise _spec_error(file, "expectations", "a suite is a mapping with an expectations list")
    for key in ("resource", "key", "country_column"):
        if key not in suite:
            raise _spec_error(file, key, "missing")
    columns = table_columns(resource)
    for name, spec in (suite.get("derived_columns") or {}).items():
        if spec.get("where") is not None and spec.get("from") in RESOURCES:
            check_sql(spec["where"], table_columns(spec["from"]), file, f"derived_columns.{name}.where")
    generated = schema_expectations(resource)
    from_schema = {_identity(e) for e in generated}
    written = []
    for position, entry in enumerate(suite["expectations"]):
        key = f"expectations[{position}]"
        written.append(_check_entry(entry, columns, file, key))
        if _identity(entry) in from_schema:
            raise _spec_error(
                file,
                key,
                f"restates a schema constraint of {resource} (generated from it): remove it",
            )
    return {**suite, "expectations": generated + written, "written": written}


@cache
def load_distribution() -> dict[str, Any]:
    """distribution.yaml, with every per-country `where` and every target universe checked."""
    file = SUITES_DIR / "distribution.yaml"
    spec = copy.deepcopy(_read_yaml(file))
    measures = target_measures()
    for position, rule in enumerate(spec.get("per_country", [])):
        key = f"per_country[{position}]"
        if rule.get("resource") not in RESOURCES:
            raise _spec_error(file, f"{key}.resource", f"unknown resource {rule.get('resource')!r}")
        _check_entry(
            {k: v for k, v in rule.items() if k != "resource"}, table_columns(rule["resource"]), file, key
        )
    measures_file = "countries/target_measures.yaml"
    for key in spec["targets"]:
        if key not in measures:
            raise _spec_error(file, f"targets.{key}", f"no measure {key!r} in {measures_file}")
        measure = measures[key]
        columns = table_columns(measure["table"])
        for part in ("value", "universe"):
            if measure.get(part):
                sql = measure[part] if part == "universe" else f"({measure[part]}) IS NOT NULL"
                check_sql(sql, columns, measures_file, f"{key}.{part}")
    return spec


def suite_resources() -> list[str]:
    """Resources with a suite, in package order."""
    return [name for name in RESOURCES if _suite_file(name).exists()]


def all_of(*conditions: str | None) -> str | None:
    """Several `where`s that must all hold, as one SQL expression."""
    parts = [c for c in conditions if c]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " AND ".join(f"({c})" for c in parts)


def where_columns(where: str | None) -> set[str]:
    return set(pl.sql_expr(where).meta.root_names()) if where else set()


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
    for entry in load_suite(resource)["expectations"]:
        check = Check(
            resource=resource,
            position=0,
            type=entry["type"],
            kwargs=dict(entry["kwargs"]),
            where=entry.get("where"),
            meta=dict(entry.get("meta", {})),
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
        return f"{load_suite(resource)['country_column']} = '{iso3}'"

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
                    meta={**rule.get("meta", {}), "country": iso3},
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
            origin = "assumed" if target.get("assumed") else f"published, {target.get('source', '?')}"
            column = f"target_{key}"
            indicators.setdefault(measure["table"], {})[column] = measure["value"]
            words = {
                "label": entry.get("label", key),
                "country": iso3,
                "tolerance": tolerance,
                "target": value,
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
                        "rule": spec["rule"].format(**words),
                        "hint": spec["hint"].format(**words),
                        "country": iso3,
                        "target": key,
                    },
                )
            )
    return checks, indicators


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
        column = load_suite(name)["country_column"]
        if countries is not None and column in frame.columns:
            frame = frame.filter(pl.col(column).is_in(scope))
        filtered[name] = frame
    extra_checks, indicators = _distribution_checks(scope, set(filtered))
    prepared = []
    for name, frame in filtered.items():
        suite = load_suite(name)
        skipped: set[str] = set()
        for derived_name, spec in (suite.get("derived_columns") or {}).items():
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
        prepared.append(Prepared(name, frame, suite["key"], suite["country_column"], checks))
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
    common = {
        "resource": check.resource,
        "expectation_type": check.type,
        "columns": check.columns,
        "rule": str(check.meta.get("rule", check.type)),
        "hint": str(check.meta.get("hint", "")),
        "key_column": prepared.key,
        "condition": check.where,
    }
    own_country = check.meta.get("country")
    if outcome.error is not None:
        return [Failure(**common, country=own_country, unexpected_count=None, error=outcome.error)]
    if check.type in AGGREGATE_TYPES:
        return [
            Failure(**common, country=own_country, unexpected_count=None, observed=plain(outcome.observed))
        ]
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
            Failure(
                **common,
                country=country,
                unexpected_count=len(rows),
                unexpected_values=tuple(values),
                unexpected_keys=tuple(key for key, _ in rows[:MAX_EXAMPLES]),
            )
        )
    return failures


# --- the GX engine ------------------------------------------------------------------------------------


def import_gx() -> Any:
    """Import GX with analytics off (the switch must be set before the import)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    with warnings.catch_warnings():  # GX 1.24 imports the deprecated sre_constants/sre_parse
        warnings.simplefilter("ignore", DeprecationWarning)
        import great_expectations as gx

    return gx


def _context(gx: Any) -> Any:
    """An in-memory context: nothing written to disk, no analytics, no progress bars."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _exception_message(info: Any) -> str | None:
    """The first exception message in a GX exception_info (flat, or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception") and info.get("exception_message"):
        return str(info["exception_message"])
    for value in info.values():
        found = _exception_message(value)
        if found:
            return found
    return None


def _gx_outcome(prepared: Prepared, check: Check, result: Any, names: dict[str, str]) -> Outcome:
    """An Outcome from a GX result; `names` maps the masked columns GX saw back to the table's."""
    error = _exception_message(result.exception_info)
    if error:
        return Outcome(check, success=False, error=error)
    if result.success:
        return Outcome(check, success=True)
    found = result.result or {}
    if check.type in AGGREGATE_TYPES:
        return Outcome(check, success=False, observed=found.get("observed_value"))
    columns = [names.get(c, c) for c in check.columns]
    rows = []
    for index in found.get("unexpected_index_list") or []:
        value = index.get(columns[0]) if len(columns) == 1 else tuple(index.get(c) for c in columns)
        rows.append((index.get(prepared.country_column), index.get(prepared.key), value))
    return Outcome(check, success=False, rows=rows)


def run_suites(
    tables: dict[str, pl.DataFrame],
    countries: list[str] | None = None,
    resources: Sequence[str] | None = None,
) -> list[Failure]:
    """Validate the tables against the suites with Great Expectations (pandas, ephemeral context).

    `tables`: harmonized resources by name (any subset); `countries`: ISO3 codes to check (default:
    all present); `resources`: the suites to judge (default all; the other tables still feed
    cross-table rules). Rules that need a table not given are skipped. Failures are ordered by
    resource, suite position and country.
    """
    prepared = [p for p in prepare(tables, countries) if resources is None or p.resource in resources]
    gx = import_gx()
    context = _context(gx)
    source = context.data_sources.add_pandas("ippmd")
    shares = {prep.resource: [c for c in prep.checks if _is_share(c)] for prep in prepared}
    outcomes = {
        prep.resource: _gx_validate(
            gx, source, prep, prep.resource, [c for c in prep.checks if not _is_share(c)]
        )
        for prep in prepared
    }
    judged = _gx_validate_shares(gx, source, [(prep, shares[prep.resource]) for prep in prepared])
    failures: list[Failure] = []
    for prep in prepared:
        outcomes[prep.resource].update(judged.get(prep.resource, {}))
        for check in prep.checks:
            failures += failures_of(prep, outcomes[prep.resource][check.position])
    return failures


def _is_share(check: Check) -> bool:
    """A country-level aggregate (distribution) rule, judged on the share table."""
    return check.type in AGGREGATE_TYPES and "country" in check.meta


def share_table(prep: Prepared, checks: list[Check]) -> tuple[pl.DataFrame, dict[int, str]]:
    """One row per country-level aggregate rule: the mean polars measured on its rows, and its bounds.

    Distribution rules are one mean per country and target (about 300 at 1x). GX judges them on this
    table, three expectations in all, instead of 300 expectations that each rescan a whole column in
    Python (GX's pandas mean first looks for Decimal objects value by value).
    """
    rows, errors = [], {}
    for check in checks:
        column = check.columns[0]
        if column not in prep.frame.columns:
            errors[check.position] = f"column(s) not found: {column}"
            continue
        selected = prep.frame.filter(pl.col(check.mask)) if check.mask else prep.frame
        observed = selected.select(pl.col(column).cast(pl.Float64).mean()).item()
        rows.append(
            {
                "rule": f"{prep.resource}:{check.position}",
                "country": check.meta.get("country"),
                "observed": observed,
                "min_value": float(check.kwargs.get("min_value", -math.inf)),
                "max_value": float(check.kwargs.get("max_value", math.inf)),
            }
        )
    schema = {"rule": pl.String, "country": pl.String, "observed": pl.Float64}
    schema |= {"min_value": pl.Float64, "max_value": pl.Float64}
    return pl.DataFrame(rows, schema=schema), errors


def _gx_validate_shares(
    gx: Any, source: Any, parts: list[tuple[Prepared, list[Check]]]
) -> dict[str, dict[int, Outcome]]:
    """Judge the aggregate rules of every resource with GX, on one share table: each share was
    measured (not NULL: its rows exist), and lies within its bounds."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    outcomes: dict[str, dict[int, Outcome]] = {}
    tables, by_rule = [], {}
    for prep, checks in parts:
        table, errors = share_table(prep, checks)
        tables.append(table)
        found = outcomes.setdefault(prep.resource, {})
        for check in checks:
            if check.position in errors:
                found[check.position] = Outcome(check, success=False, error=errors[check.position])
            else:
                by_rule[f"{prep.resource}:{check.position}"] = (prep.resource, check)
    table = pl.concat(tables) if tables else pl.DataFrame()
    if table.height == 0:
        return outcomes
    batch = (
        source.add_dataframe_asset("shares")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": table.to_pandas(use_pyarrow_extension_array=False)})
    )
    rules = [
        ("expect_column_values_to_not_be_null", {"column": "observed"}),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "observed", "column_B": "min_value", "or_equal": True},
        ),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "max_value", "column_B": "observed", "or_equal": True},
        ),
    ]
    suite = gx.ExpectationSuite(
        name="ippmd_shares", expectations=[ExpectationConfiguration(type=t, kwargs=k) for t, k in rules]
    )
    results = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["rule"]}
    )
    del batch
    source.delete_asset("shares")
    failed: set[str] = set()
    for result in results.results:
        error = _exception_message(result.exception_info)
        if error:
            raise RuntimeError(f"GX could not judge the distribution shares: {error}")
        failed |= {str(i["rule"]) for i in (result.result or {}).get("unexpected_index_list") or []}
    observed = dict(zip(table["rule"].to_list(), table["observed"].to_list(), strict=True))
    for rule, (resource, check) in by_rule.items():
        outcomes[resource][check.position] = Outcome(
            check, success=rule not in failed, observed=observed[rule]
        )
    return outcomes


def _masked(frame: pl.DataFrame, check: Check) -> tuple[list[pl.Expr], dict[str, str]]:
    """The check's columns restricted to its `where` rows, for GX without a row condition.

    Outside the mask a value becomes NULL, which map, pair (ignore_row_if), compound and mean
    expectations all skip; for not-null, outside rows get a stand-in value so they pass.
    """
    if check.mask is None:
        return [], {}
    expressions, names = [], {}
    for column in check.columns:
        if column not in frame.columns:
            continue  # GX reports the missing column itself
        name = f"{column}__{check.mask}"
        selected = pl.col(check.mask)
        if check.type == "expect_column_values_to_not_be_null":
            stand_in = pl.lit("", dtype=pl.String) if frame.schema[column] == pl.String else pl.lit(0)
            value = pl.when(selected).then(pl.col(column)).otherwise(stand_in.cast(frame.schema[column]))
        else:
            value = pl.when(selected).then(pl.col(column))
        expressions.append(value.alias(name))
        names[column] = name
    return expressions, names


def _gx_validate(gx: Any, source: Any, prep: Prepared, name: str, checks: list[Check]) -> dict[int, Outcome]:
    """Run `checks` as one GX suite on one pandas batch of the (masked) columns they need."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    index_columns = list(dict.fromkeys([prep.key, prep.country_column]))
    needed = [c for c in index_columns if c in prep.frame.columns]
    expressions: dict[str, pl.Expr] = {}
    renames: dict[int, dict[str, str]] = {}
    for check in checks:
        masked, names = _masked(prep.frame, check)
        renames[check.position] = names
        expressions.update((e.meta.output_name(), e) for e in masked)
        needed += [c for c in check.columns if c in prep.frame.columns and c not in names]
    columns = [pl.col(c) for c in dict.fromkeys(needed)]
    frame = prep.frame.select(*columns, *expressions.values())
    batch = (
        source.add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=False)})
    )

    def gx_kwargs(check: Check) -> dict[str, Any]:
        names = renames[check.position]
        kwargs = dict(check.kwargs)
        for key in ("column", "column_A", "column_B"):
            if key in kwargs:
                kwargs[key] = names.get(kwargs[key], kwargs[key])
        if "column_list" in kwargs:
            kwargs["column_list"] = [names.get(c, c) for c in kwargs["column_list"]]
        return kwargs

    def run(selected: list[Check], result_format: str) -> dict[int, Any]:
        # Built in one go: add_expectation_configuration would upsert (replace a rule on the same domain).
        suite = gx.ExpectationSuite(
            name=f"ippmd_{name}_{result_format.lower()}",
            expectations=[
                ExpectationConfiguration(
                    type=c.type, kwargs=gx_kwargs(c), meta={**c.meta, "ippmd_position": c.position}
                )
                for c in selected
            ],
        )
        if len(suite.expectations) != len(selected):
            raise RuntimeError(f"GX refused {len(selected) - len(suite.expectations)} expectations of {name}")
        results = batch.validate(
            suite,
            result_format={
                "result_format": result_format,
                "unexpected_index_column_names": index_columns,
                "partial_unexpected_count": MAX_EXAMPLES,
            },
        )
        return {r.expectation_config.meta["ippmd_position"]: r for r in results.results}

    # A verdict first (cheap: no failing-row metrics), then every failing row of the rules that
    # failed, so failures still split by country and name their rows.
    by_position = run(checks, "BOOLEAN_ONLY")
    failed = [c for c in checks if not by_position[c.position].success]
    if failed:
        by_position.update(run(failed, "COMPLETE"))
    source.delete_asset(name)  # GX's context would otherwise keep the pandas frame alive
    return {c.position: _gx_outcome(prep, c, by_position[c.position], renames[c.position]) for c in checks}

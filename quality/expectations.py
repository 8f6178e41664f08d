"""Expectation suites of the harmonized resources, run with Great Expectations (the authoritative engine).

The suites are data: `quality/suites/<resource>.yaml` in GX 1.x vocabulary (expectation type, kwargs,
optional row_condition as a GX Condition dict, meta.rule and meta.hint) and `distribution.yaml`
(calibration-target shares, expanded per country here). This module loads them, prepares the tables
(country filter, derived columns, target indicators) and turns results into `Failure`s; the GX part is
`run_suites`. `quality.expectations_polars.run_suites_polars` evaluates the same prepared checks with
polars: GX costs ~2.5 s to import, too slow for `ippmd validate` on one country.

Great Expectations is imported inside `run_suites` only, with analytics off and progress bars off.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import polars as pl
import yaml
from ippmd.core.calibration import target_measures
from ippmd.core.home import countries_dir, package_data
from ippmd.core.metadata import load_country
from ippmd.core.schema import RESOURCES

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
    """One expectation of a suite, ready to run: GX type, kwargs, row condition and meta."""

    resource: str
    position: int
    type: str
    kwargs: dict[str, Any]
    row_condition: dict[str, Any] | None
    meta: dict[str, Any]

    @property
    def columns(self) -> tuple[str, ...]:
        if "column" in self.kwargs:
            return (self.kwargs["column"],)
        if "column_A" in self.kwargs:
            return (self.kwargs["column_A"], self.kwargs["column_B"])
        return tuple(self.kwargs.get("column_list", ()))

    def gx_kwargs(self) -> dict[str, Any]:
        if self.row_condition is None:
            return dict(self.kwargs)
        return {**self.kwargs, "row_condition": self.row_condition}


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


# --- suites as data -----------------------------------------------------------------------------------


@cache
def load_suite(resource: str) -> dict[str, Any]:
    """The suite of one resource as written in quality/suites/<resource>.yaml."""
    return yaml.safe_load((SUITES_DIR / f"{resource}.yaml").read_text(encoding="utf-8"))


@cache
def load_distribution() -> dict[str, Any]:
    return yaml.safe_load((SUITES_DIR / "distribution.yaml").read_text(encoding="utf-8"))


def suite_resources() -> list[str]:
    """Resources with a suite, in package order."""
    return [name for name in RESOURCES if (SUITES_DIR / f"{name}.yaml").exists()]


# --- row conditions -----------------------------------------------------------------------------------

_SQL_TERM = re.compile(
    r"\s*(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=|!=|<>|==|=|<|>)\s*"
    r"(?P<value>'[^']*'|-?[0-9]+(?:\.[0-9]+)?)\s*"
)
_SQL_OPS = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def comparison(column: str, operator: str, parameter: Any) -> dict[str, Any]:
    """A GX 1.x ComparisonCondition, as data."""
    return {"type": "comparison", "column": {"name": column}, "operator": operator, "parameter": parameter}


def sql_to_conditions(sql: str) -> list[dict[str, Any]]:
    """GX conditions for a universe of target_measures.yaml: `column op literal` terms joined by AND.

    Anything else raises: a universe we cannot translate must not silently widen the rule.
    """
    conditions = []
    for term in re.split(r"\s+AND\s+", sql.strip(), flags=re.IGNORECASE):
        match = _SQL_TERM.fullmatch(term)
        if not match:
            raise ValueError(f"cannot translate {sql!r} into a GX row condition (term {term!r})")
        raw = match["value"]
        value: Any = raw[1:-1] if raw.startswith("'") else (float(raw) if "." in raw else int(raw))
        conditions.append(comparison(match["column"], _SQL_OPS[match["op"]], value))
    return conditions


def all_of(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return conditions[0] if len(conditions) == 1 else {"type": "and", "conditions": conditions}


def describe_condition(condition: dict[str, Any] | None) -> str | None:
    """The row condition as text, e.g. `(age < 6 OR age > 24)`."""
    if condition is None:
        return None
    kind = condition["type"]
    if kind == "comparison":
        column, op, value = condition["column"]["name"], condition["operator"], condition["parameter"]
        if op in ("IN", "NOT_IN"):
            listed = ", ".join(map(repr, value))
            return f"{column} {'IN' if op == 'IN' else 'NOT IN'} ({listed})"
        return f"{column} {op} {value!r}"
    if kind == "nullity":
        return f"{condition['column']['name']} IS {'NULL' if condition['is_null'] else 'NOT NULL'}"
    if kind in ("and", "or"):
        joined = f" {kind.upper()} ".join(describe_condition(c) or "" for c in condition["conditions"])
        return f"({joined})"
    raise ValueError(f"unknown row condition type {kind!r}")


def condition_columns(condition: dict[str, Any] | None) -> set[str]:
    if condition is None:
        return set()
    if condition.get("type") in ("and", "or"):
        return set().union(*(condition_columns(c) for c in condition["conditions"]))
    if condition.get("type") in ("comparison", "nullity"):
        return {condition["column"]["name"]}
    raise ValueError(f"unsupported row condition {condition!r}")


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
            row_condition=entry.get("row_condition"),
            meta=dict(entry.get("meta", {})),
        )
        # A rule on a derived column whose source table was not passed cannot be judged: skip it.
        if skipped & (set(check.columns) | condition_columns(check.row_condition)):
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

    def country_is(resource: str, iso3: str) -> dict[str, Any]:
        return comparison(load_suite(resource)["country_column"], "==", iso3)

    for iso3 in scope:
        for rule in spec.get("per_country", []):
            if rule["resource"] not in present:
                continue
            extra = [rule["row_condition"]] if rule.get("row_condition") else []
            if any(c["type"] == "or" for c in extra):
                raise ValueError("distribution.yaml per_country: a row_condition cannot be an OR (GX 1.x)")
            checks.setdefault(rule["resource"], []).append(
                Check(
                    resource=rule["resource"],
                    position=0,
                    type=rule["type"],
                    kwargs=dict(rule["kwargs"]),
                    row_condition=all_of([country_is(rule["resource"], iso3), *extra]),
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
            universe = sql_to_conditions(measure["universe"]) if measure.get("universe") else []
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
                    row_condition=all_of([country_is(measure["table"], iso3), *universe]),
                    meta={
                        "rule": spec["rule"].format(**words),
                        "hint": spec["hint"].format(**words),
                        "country": iso3,
                        "target": key,
                    },
                )
            )
    return checks, indicators


def prepare(tables: dict[str, pl.DataFrame], countries: Iterable[str] | None = None) -> list[Prepared]:
    """Filter to `countries`, add derived and indicator columns, and list the checks per resource."""
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
        "condition": describe_condition(check.row_condition),
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


def _import_gx() -> Any:
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


def _gx_outcome(prepared: Prepared, check: Check, result: Any) -> Outcome:
    error = _exception_message(result.exception_info)
    if error:
        return Outcome(check, success=False, error=error)
    if result.success:
        return Outcome(check, success=True)
    found = result.result or {}
    if check.type in AGGREGATE_TYPES:
        return Outcome(check, success=False, observed=found.get("observed_value"))
    columns = check.columns
    rows = []
    for index in found.get("unexpected_index_list") or []:
        value = index.get(columns[0]) if len(columns) == 1 else tuple(index.get(c) for c in columns)
        rows.append((index.get(prepared.country_column), index.get(prepared.key), value))
    return Outcome(check, success=False, rows=rows)


def run_suites(tables: dict[str, pl.DataFrame], countries: list[str] | None = None) -> list[Failure]:
    """Validate the tables against the suites with Great Expectations (pandas, ephemeral context).

    `tables`: harmonized resources by name (any subset); `countries`: ISO3 codes to check (default:
    all present). Rules that need a table not given are skipped. Failures are ordered by resource,
    suite position and country.
    """
    prepared = prepare(tables, countries)
    gx = _import_gx()
    context = _context(gx)
    source = context.data_sources.add_pandas("ippmd")
    failures: list[Failure] = []
    for prep in prepared:
        # Two batches per resource: the suite's rules on the table, and the per-country rules on the
        # few columns they read (pandas `query`, behind every row condition, costs per column).
        outcomes: dict[int, Outcome] = {}
        suite_rules = [c for c in prep.checks if "country" not in c.meta]
        country_rules = [c for c in prep.checks if "country" in c.meta]
        for part, checks in (("rules", suite_rules), ("countries", country_rules)):
            if checks:
                outcomes.update(_gx_validate(gx, source, prep, f"{prep.resource}_{part}", checks))
        for check in prep.checks:
            failures += failures_of(prep, outcomes[check.position])
    return failures


def _gx_validate(gx: Any, source: Any, prep: Prepared, name: str, checks: list[Check]) -> dict[int, Outcome]:
    """Run `checks` as one GX suite on one pandas batch of the columns they need."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    index_columns = list(dict.fromkeys([prep.key, prep.country_column]))
    needed = set(index_columns)
    for check in checks:
        needed |= set(check.columns) | condition_columns(check.row_condition)
    frame = prep.frame.select(c for c in prep.frame.columns if c in needed)
    batch = (
        source.add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=False)})
    )
    # Built in one go: add_expectation_configuration would upsert (replace a rule on the same domain).
    suite = gx.ExpectationSuite(
        name=f"ippmd_{name}",
        expectations=[
            ExpectationConfiguration(
                type=c.type, kwargs=c.gx_kwargs(), meta={**c.meta, "ippmd_position": c.position}
            )
            for c in checks
        ],
    )
    if len(suite.expectations) != len(checks):
        raise RuntimeError(f"GX refused {len(checks) - len(suite.expectations)} expectations of {name}")
    results = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",  # every failing row, so failures split by country
            "unexpected_index_column_names": index_columns,
            "partial_unexpected_count": MAX_EXAMPLES,
        },
    )
    by_position = {r.expectation_config.meta["ippmd_position"]: r for r in results.results}
    return {c.position: _gx_outcome(prep, c, by_position[c.position]) for c in checks}

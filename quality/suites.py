"""The expectation suites of the harmonized resources, as data: loaded and checked, engine-free.

Each rule is stated once. Rules that mirror a Table Schema constraint are generated from the schema
(`schema_expectations`); `quality/suites/<resource>.yaml` holds only what a schema cannot say
(cross-field, cross-table, completeness), and `distribution.yaml` the calibration-target shares,
expanded per country. The one condition language is polars SQL (`where`), checked when a suite
loads against the table's columns, with file and key named on error.

`quality.expectations` turns the suites into checks on tables; `quality.engine_gx` and
`quality.engine_polars` judge them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.calibration import target_measures
from ippmd.core.config import load_checked
from ippmd.core.errors import InputError, Problem
from ippmd.core.home import package_data
from ippmd.core.i18n import SOURCE, Language, fill, language, translated, using
from ippmd.core.schema import RESOURCES, harmonized_schema, polars_schema

SUITES_DIR = package_data(__package__, "suites")
# Expectations judged on an aggregate (no failing rows; `observed` instead).
AGGREGATE_TYPES = frozenset({"expect_column_mean_to_be_between"})


@dataclass(frozen=True)
class Suite:
    """The suite of one resource: the rules generated from its schema, then the written ones."""

    resource: str
    key: str  # names failing rows in reports
    country_column: str  # splits failures by country
    derived_columns: dict[str, dict[str, Any]]  # columns counted or looked up in another table
    expectations: list[dict[str, Any]]  # generated + written, in that order
    written: list[dict[str, Any]]  # the rules of quality/suites/<resource>.yaml


# ignore_row_if values under which a masked-out row (all its columns NULL) is skipped by GX.
_SKIPS_ALL_NULL = {
    "both_values_are_missing",
    "either_value_is_missing",
    "all_values_are_missing",
    "any_value_is_missing",
}
SUITE_ERROR = "suite-error"


def _suite_file(resource: str) -> Path:
    return SUITES_DIR / f"{resource}.yaml"


def _spec_error(file: Path | str, key: str, message: str) -> InputError:
    """A suite that cannot be run as written: a bug of the suite file, named by file and key."""
    return InputError([Problem(str(file), message, field=key, code=SUITE_ERROR)])


@cache
def _read_yaml(path: Path, family: str) -> Any:
    """A file of quality/suites/, its shape checked by schemas/config/<family>.schema.json."""
    return load_checked(path, family, SUITE_ERROR)


@cache
def table_columns(resource: str) -> dict[str, pl.DataType]:
    """Columns (and dtypes) a rule of `resource` may name: the schema's fields and the derived ones."""
    columns: dict[str, pl.DataType] = {k: v() for k, v in polars_schema(harmonized_schema(resource)).items()}
    suite = _read_yaml(_suite_file(resource), "suite")
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


def _check_entry(
    entry: dict[str, Any], columns: dict[str, pl.DataType], file: Path, key: str
) -> dict[str, Any]:
    """An expectation (its shape checked by the schema): its columns exist, its `where` is a condition."""
    named = [entry["kwargs"].get(k) for k in ("column", "column_A", "column_B")]
    named += list(entry["kwargs"].get("column_list", []))
    for column in filter(None, named):
        if column not in columns:
            raise _spec_error(file, f"{key}.kwargs", f"unknown column {column!r}")
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
    return _read_yaml(SUITES_DIR / "schema_rules.yaml", "schema-rules")


def _values_text(field: dict[str, Any]) -> str:
    labels = {c["value"]: c["label"] for c in field.get("categories", [])}
    return ", ".join(f"{v} ({labels[v]})" if v in labels else str(v) for v in field["constraints"]["enum"])


def say(key: str, english: str, /, **words: Any) -> str:
    """A text of quality/suites/ (English there) in the current language (data domain `suites`),
    its placeholders filled."""
    return fill(translated("suites", key, english), **words)


def _bounds_text(constraints: dict[str, Any]) -> str:
    low, high = constraints.get("minimum"), constraints.get("maximum")
    words = _schema_wording()["words"]
    if low is not None and high is not None:
        return say("schema.words.between", words["between"], low=low, high=high)
    if low is not None:
        return say("schema.words.at_least", words["at_least"], low=low)
    return say("schema.words.at_most", words["at_most"], high=high)


def schema_expectations(resource: str) -> list[dict[str, Any]]:
    """The expectations that mirror the resource's Table Schema, generated from it (never copied):
    required, unique, pattern, enum, range, and blank outside the field's universe; their rules
    and hints in the current language."""
    wording = _schema_wording()
    entries = []
    for spec in harmonized_schema(resource)["fields"]:
        name, constraints = spec["name"], spec.get("constraints", {})
        source = spec.get("sourceVariable") or say(
            "schema.derived_source", wording["derived_source"], field=name
        )
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
            either = say("schema.words.or", wording["words"]["or"])
            words["universe_columns"] = either.join(pl.sql_expr(universe).meta.root_names())
        for constraint, kwargs, where in generated:
            text = wording[constraint]
            entry: dict[str, Any] = {
                "type": text["type"],
                "kwargs": {"column": name, **kwargs},
                "meta": {
                    "rule": say(f"schema.{constraint}.rule", text["rule"], **words),
                    "hint": say(f"schema.{constraint}.hint", text["hint"], **words),
                    "schema_constraint": constraint,
                },
            }
            if where:
                entry["where"] = where
            entries.append(entry)
    return entries


@cache
def load_suite(resource: str) -> Suite:
    """The suite of one resource: the rules generated from its schema, then those of
    quality/suites/<resource>.yaml, each checked (shape by schemas/config/suite.schema.json, then
    columns and SQL) with file and key named. Kept in English whatever the language of the first
    call (it is cached): `rule_and_hint` words a rule in the reader's language when it fails."""
    with using(SOURCE):
        return _load_suite(resource)


def _load_suite(resource: str) -> Suite:
    file = _suite_file(resource)
    suite = copy.deepcopy(_read_yaml(file, "suite"))
    if suite["resource"] != resource:
        raise _spec_error(file, "resource", f"the suite of {resource} names {suite['resource']!r}")
    columns = table_columns(resource)
    derived = suite.get("derived_columns") or {}
    for name, spec in derived.items():
        if spec.get("where") is not None and spec.get("from") in RESOURCES:
            check_sql(spec["where"], table_columns(spec["from"]), file, f"derived_columns.{name}.where")
    generated = schema_expectations(resource)
    from_schema = {_identity(e) for e in generated}
    written = []
    _unique_ids(suite["expectations"], file, "expectations")
    for position, entry in enumerate(suite["expectations"]):
        key = f"expectations[{position}]"
        written.append(_check_entry(entry, columns, file, key))
        if _identity(entry) in from_schema:
            raise _spec_error(
                file,
                key,
                f"restates a schema constraint of {resource} (generated from it): remove it",
            )
    return Suite(
        resource=suite["resource"],
        key=suite["key"],
        country_column=suite["country_column"],
        derived_columns=derived,
        expectations=generated + written,
        written=written,
    )


@cache
def load_distribution() -> dict[str, Any]:
    """distribution.yaml, with every per-country `where` and every target universe checked."""
    file = SUITES_DIR / "distribution.yaml"
    spec = copy.deepcopy(_read_yaml(file, "distribution"))
    measures = target_measures()
    _unique_ids(spec.get("per_country", []), file, "per_country")
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


def _unique_ids(entries: list[dict[str, Any]], file: Path, where: str) -> None:
    """Each rule's `meta.id` (its key in the translations) is given once in its file."""
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        rule_id = entry["meta"]["id"]
        if rule_id in seen:
            raise _spec_error(file, f"{where}[{position}].meta.id", f"id {rule_id!r} is given twice")
        seen.add(rule_id)


@cache
def schema_texts(resource: str, code: Language) -> dict[tuple[str, str], tuple[str, str]]:
    """(column, constraint) -> (rule, hint) of the expectations generated from the resource's
    schema, in language `code` (load_suite keeps them in English)."""
    return {
        (entry["kwargs"]["column"], entry["meta"]["schema_constraint"]): (
            entry["meta"]["rule"],
            entry["meta"]["hint"],
        )
        for entry in schema_expectations(resource)
    }


def rule_and_hint(resource: str, meta: dict[str, Any], column: str | None) -> tuple[str, str]:
    """A suite rule and its hint in the current language: generated from the schema (by column and
    constraint) or written in quality/suites/<resource>.yaml (by its id)."""
    constraint = meta.get("schema_constraint")
    if constraint is not None and column is not None:
        return schema_texts(resource, language())[(column, constraint)]
    rule, hint = str(meta.get("rule", "")), str(meta.get("hint", ""))
    if "id" not in meta:
        return rule, hint
    key = f"{resource}.{meta['id']}"
    return translated("suites", f"{key}.rule", rule), translated("suites", f"{key}.hint", hint)


def suites_english() -> dict[str, str]:
    """The English of the data domain `suites` by key: every rule and hint of quality/suites/."""
    wording = _schema_wording()
    english = {"schema.derived_source": wording["derived_source"]}
    for constraint in ("required", "unique", "pattern", "enum", "range", "universe"):
        english[f"schema.{constraint}.rule"] = wording[constraint]["rule"]
        english[f"schema.{constraint}.hint"] = wording[constraint]["hint"]
    english.update({f"schema.words.{name}": text for name, text in wording["words"].items()})
    for resource in suite_resources():
        for entry in _read_yaml(_suite_file(resource), "suite")["expectations"]:
            english[f"{resource}.{entry['meta']['id']}.rule"] = entry["meta"]["rule"]
            english[f"{resource}.{entry['meta']['id']}.hint"] = entry["meta"]["hint"]
    distribution = _read_yaml(SUITES_DIR / "distribution.yaml", "distribution")
    english["distribution.rule"], english["distribution.hint"] = distribution["rule"], distribution["hint"]
    for key, target in distribution["targets"].items():
        if "label" in target:
            english[f"distribution.targets.{key}.label"] = target["label"]
    for entry in distribution.get("per_country", []):
        english[f"distribution.{entry['meta']['id']}.rule"] = entry["meta"]["rule"]
        english[f"distribution.{entry['meta']['id']}.hint"] = entry["meta"]["hint"]
    return english


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

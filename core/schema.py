"""The data model, read from the Table Schemas in `schemas/` (the single source of truth)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import UsageError
from ippmd.core.home import schemas_dir

# Survey resources of the harmonized package, in dependency order (referenced tables first).
RESOURCES = ("countries", "communities", "households", "persons", "emigrants")
# Country-level indicators from the original public files (real data, issue 3).
INDICATORS = "country_indicators"
PACKAGE_RESOURCES = (*RESOURCES, INDICATORS)
SUBMISSION_TABLES = ("communities", "households", "persons", "emigrants")

POLARS_TYPES: dict[str, type[pl.DataType]] = {
    "integer": pl.Int64,
    "number": pl.Float64,
    "string": pl.String,
}


@cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def harmonized_schema(resource: str) -> dict[str, Any]:
    return _load(schemas_dir("harmonized", f"{resource}.json"))


def submission_schema(table: str) -> dict[str, Any]:
    return _load(schemas_dir("submission", f"{table}.json"))


def field_names(schema: dict[str, Any]) -> list[str]:
    return [f["name"] for f in schema["fields"]]


def polars_schema(schema: dict[str, Any]) -> dict[str, type[pl.DataType]]:
    return {f["name"]: POLARS_TYPES[f["type"]] for f in schema["fields"]}


def conform(frame: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    """Select the schema's fields in order with the schema's types."""
    return frame.select(pl.col(name).cast(dtype) for name, dtype in polars_schema(schema).items())


def universe_mask(frame: pl.DataFrame, field: dict[str, Any]) -> pl.Series:
    """True where the field's question applies (its `universe`), as a polars SQL expression."""
    if "universe" not in field:
        return pl.Series([True] * frame.height, dtype=pl.Boolean)
    return frame.select(pl.sql_expr(field["universe"]).fill_null(False)).to_series()


_AGGREGATE = re.compile(
    r"\b(avg|sum|min|max|count|median|mode|stddev|stddev_pop|stddev_samp|stdev|variance|var_pop|"
    r"var_samp|first|last|array_agg|string_agg|quantile_cont|quantile_disc|percentile_cont|rank|"
    r"dense_rank|row_number|lag|lead)\s*\(|\bover\s*\(",
    re.IGNORECASE,
)


# A query inside a condition (a subquery, or a table function such as read_parquet) would read
# other tables or any file on disk, and wait forever on a FIFO: a condition reads its own row.
_QUERY = re.compile(r"\b(select|from|with)\b|\b(read|scan)_\w+\s*\(", re.IGNORECASE)


def check_condition(where: str, option: str = "--where") -> None:
    """A user's SQL condition selects rows by their own values: no aggregate, window function,
    subquery or table function (UsageError, exit 2), checked before polars parses it."""
    bare = re.sub(r"'(?:[^']|'')*'", "''", where)  # text in quotes is a value, not SQL
    aggregate = _AGGREGATE.search(bare)
    if aggregate:  # it would compare each row with the whole table, not select rows by their values
        raise UsageError(
            f"{option} {where!r} uses {aggregate.group(1).upper()}(...), an aggregate: a condition "
            "selects rows by their own values (compare with a number instead)"
        )
    query = _QUERY.search(bare)
    if query:
        raise UsageError(
            f"{option} {where!r} holds a query ({query.group(0).strip()}): a condition compares the "
            'row\'s own columns with values, e.g. "age >= 15 AND sex = 2"'
        )


def row_mask(frame: pl.DataFrame, where: str, option: str = "--where") -> pl.Series:
    """Rows a user's SQL condition selects (NULL counts as not selected): the one reading of a
    `--where` for every command, refusing with UsageError (exit 2) what is not a true/false condition."""
    check_condition(where, option)
    try:
        mask = frame.select(pl.sql_expr(where).alias("where")).to_series()
    except Exception as exc:  # polars raises SQL, column and type errors of several classes
        message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise UsageError(f"{option} {where!r} cannot be evaluated: {message}") from None
    if mask.dtype != pl.Boolean:
        raise UsageError(f"{option} {where!r} is not a condition (it gives {mask.dtype}, not true/false)")
    return mask.fill_null(False)

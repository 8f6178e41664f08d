"""The catalogue of derived model variables (`models/derived.yaml`) and the SQL checks of specs.

A derived variable is computed from the columns of one microdata table by a polars SQL
expression. It is defined once here, by name, and specs refer to it by that name only: two
variables that mean different things cannot share a name, and a spec cannot redefine one.

Every SQL expression (catalogue `sql`, spec `sample`) is evaluated when it is loaded on an EMPTY
frame with the real columns and dtypes of its table, so a typo, an unknown column or a type
mismatch is reported with the file and key at fault before any data are read.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core import config
from ippmd.core.errors import InputError, Problem
from ippmd.core.home import package_data
from ippmd.models.frames import UNITS, describe_frame, empty_frame

CATALOGUE_PATH = package_data(__package__, "derived.yaml")
SPEC_ERROR = "spec-error"
# Declared type -> test of the dtype the expression really produces.
TYPES: dict[str, Callable[[pl.DataType], bool]] = {
    "integer": lambda dtype: dtype.is_integer(),
    "number": lambda dtype: dtype.is_float(),
    "string": lambda dtype: dtype == pl.String,
    "boolean": lambda dtype: dtype == pl.Boolean,
}


@dataclass(frozen=True)
class DerivedVariable:
    """One model variable computed from its table's columns, e.g. an age band or a 0/1 dummy."""

    name: str
    table: str
    sql: str
    type: str
    label: str

    def expression(self) -> pl.Expr:
        return pl.sql_expr(self.sql).alias(self.name)


class SqlCheckError(Exception):
    """A SQL expression that cannot be evaluated on its frame (message, and how to fix it)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def spec_problem(
    file: Path | str, field: str | None, message: str, value: str | None = None, hint: str | None = None
) -> Problem:
    return Problem(file=str(file), message=message, field=field, value=value, code=SPEC_ERROR, hint=hint)


def close_matches(name: str, candidates: list[str]) -> str | None:
    """'did you mean ...?' for a misspelt name, or None."""
    found = difflib.get_close_matches(name, candidates, n=3)
    return f"did you mean {' or '.join(repr(f) for f in found)}?" if found else None


def _first_paragraph(exc: Exception) -> str:
    return " ".join(str(exc).split("\n\n")[0].split())


def sql_dtype(sql: str, frame: pl.DataFrame, frame_name: str) -> pl.DataType:
    """The dtype a polars SQL expression gives on `frame` (normally empty, so checking is free).

    Raises SqlCheckError for a syntax error, an unknown column or an invalid operation (such as
    comparing text with a number), in words that name the frame.
    """
    try:
        expr = pl.sql_expr(sql)
    except pl.exceptions.PolarsError as exc:
        raise SqlCheckError(f"invalid SQL: {_first_paragraph(exc)}") from None
    try:
        unknown = [name for name in expr.meta.root_names() if name not in frame.columns]
    except pl.exceptions.PolarsError:
        unknown = []  # left to the evaluation below to report
    if unknown:
        hints = [h for h in (close_matches(name, frame.columns) for name in unknown) if h]
        raise SqlCheckError(
            f"unknown column{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))} (not in {frame_name})",
            hint=" ".join(hints) or None,
        )
    try:
        result = frame.select(expr)
    except pl.exceptions.PolarsError as exc:
        raise SqlCheckError(f"SQL cannot be evaluated on {frame_name}: {_first_paragraph(exc)}") from None
    if result.width != 1:
        raise SqlCheckError(f"SQL must be one expression, it gives {result.width} columns")
    return result.dtypes[0]


def read_yaml(path: Path) -> Any:
    """A YAML file of specs or derived variables; unreadable, not YAML or a key given twice is an
    InputError naming the file (and line)."""
    return config.read_yaml(path, SPEC_ERROR)


def _joinable(table: str) -> tuple[str, ...]:
    """Every table that a frame on `table` can have joined on (its derived names must not clash)."""
    return UNITS[UNITS.index(table) + 1 :]


def check_entry(raw: dict[str, Any], path: Path) -> tuple[DerivedVariable | None, list[Problem]]:
    """One catalogue entry (its shape checked by the schema): table, type, name, SQL evaluated on
    the table's columns."""
    where = f"derived.{raw['name']}"
    entry = DerivedVariable(**{f.name: str(raw[f.name]).strip() for f in fields(DerivedVariable)})
    if entry.table not in UNITS:
        return None, [
            spec_problem(path, f"{where}.table", f"table must be one of {', '.join(UNITS)}", entry.table)
        ]
    if entry.type not in TYPES:
        return None, [
            spec_problem(path, f"{where}.type", f"type must be one of {', '.join(TYPES)}", entry.type)
        ]
    joinable = _joinable(entry.table)
    if entry.name in empty_frame(entry.table, joinable).columns:
        return None, [
            spec_problem(
                path,
                f"{where}.name",
                f"{entry.name!r} is already a column of {describe_frame(entry.table, joinable)}",
                hint="give the derived variable a name of its own",
            )
        ]
    try:
        dtype = sql_dtype(entry.sql, empty_frame(entry.table), entry.table)
    except SqlCheckError as exc:
        return None, [spec_problem(path, f"{where}.sql", exc.message, entry.sql, exc.hint)]
    if not TYPES[entry.type](dtype):
        return None, [
            spec_problem(
                path, f"{where}.type", f"declared {entry.type}, but the SQL gives {dtype}", entry.type
            )
        ]
    return entry, []


def parse_catalogue(raw: Any, path: Path) -> dict[str, DerivedVariable]:
    """The catalogue's entries by name (schemas/config/derived.schema.json states the shape);
    every problem found raises one InputError."""
    shape = config.schema_problems(raw, "derived", path, SPEC_ERROR)
    if shape:
        raise InputError(shape)
    problems: list[Problem] = []
    catalogue: dict[str, DerivedVariable] = {}
    for item in raw["derived"]:
        entry, found = check_entry(item, path)
        problems += found
        if entry is None:
            continue
        if entry.name in catalogue:
            problems.append(
                spec_problem(
                    path, f"derived.{entry.name}.name", "duplicate name: each variable is defined once"
                )
            )
            continue
        catalogue[entry.name] = entry
    if problems:
        raise InputError(problems)
    return catalogue


@cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, DerivedVariable]:
    """The derived variables of `path` (default models/derived.yaml), checked, by name."""
    return parse_catalogue(read_yaml(path), path)

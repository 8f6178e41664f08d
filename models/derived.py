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
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from ippmd.core.errors import InputError, Problem
from ippmd.core.home import package_data
from ippmd.core.io import load_yaml
from ippmd.models.frames import UNITS, describe_frame, empty_frame

CATALOGUE_PATH = package_data(__package__, "derived.yaml")
SPEC_ERROR = "spec-error"
ENTRY_KEYS = ("name", "table", "sql", "type", "label")
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
    """A YAML file's content; a syntax error is an InputError naming the file and line."""
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            [
                Problem(
                    file=str(path),
                    row=mark.line + 1 if mark is not None else None,
                    message=f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                    code=SPEC_ERROR,
                )
            ]
        ) from None


def _joinable(table: str) -> tuple[str, ...]:
    """Every table that a frame on `table` can have joined on (its derived names must not clash)."""
    return UNITS[UNITS.index(table) + 1 :]


def check_entry(raw: Any, index: int, path: Path) -> tuple[DerivedVariable | None, list[Problem]]:
    """One catalogue entry checked: keys, table, type, SQL evaluated on the table's columns."""
    where = f"derived[{index}]"
    if not isinstance(raw, dict):
        return None, [
            spec_problem(path, where, "an entry must be a mapping with keys " + ", ".join(ENTRY_KEYS))
        ]
    if isinstance(raw.get("name"), str) and raw["name"]:
        where = f"derived.{raw['name']}"
    problems = [
        spec_problem(path, f"{where}.{key}", "missing key")
        for key in ENTRY_KEYS
        if raw.get(key) in (None, "")
    ]
    problems += [
        spec_problem(path, f"{where}.{key}", "unknown key", hint=close_matches(str(key), list(ENTRY_KEYS)))
        for key in raw
        if key not in ENTRY_KEYS
    ]
    if problems:
        return None, problems
    entry = DerivedVariable(**{key: str(raw[key]).strip() for key in ENTRY_KEYS})
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
    """The catalogue's entries by name; every problem found raises one InputError."""
    if not isinstance(raw, dict) or set(raw) != {"derived"} or not isinstance(raw["derived"], list):
        raise InputError(
            [
                spec_problem(
                    path, None, "the catalogue must have one key, `derived`, holding a list of entries"
                )
            ]
        )
    problems: list[Problem] = []
    catalogue: dict[str, DerivedVariable] = {}
    for index, item in enumerate(raw["derived"]):
        entry, found = check_entry(item, index, path)
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

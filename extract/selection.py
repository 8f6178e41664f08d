"""Turn a request (countries, tables, variables) into exactly what goes in the extract.

Everything the user names is checked against the package first, and every unknown name is
reported at once with its close matches, so a typo never yields a silently smaller extract.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ippmd.core.errors import InputError, Problem
from ippmd.extract.source import Source


@dataclass(frozen=True)
class Selection:
    """The resolved request: rows (countries), tables in package order, columns in schema order."""

    countries: tuple[str, ...]
    tables: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    variables: tuple[str, ...] | None  # the requested variables (None: all)
    dropped_foreign_keys: tuple[str, ...]  # "table.field -> other.field", target table not chosen


def key_fields(schema: dict[str, Any]) -> list[str]:
    """Primary-key and foreign-key fields: what links tables, so always extracted."""
    keys = list(schema.get("primaryKey", []))
    for fk in schema.get("foreignKeys", []):
        keys += [f for f in fk["fields"] if f not in keys]
    return keys


def country_column(schema: dict[str, Any]) -> str | None:
    """The column rows are filtered on by country: `country` in microdata, `iso3` elsewhere."""
    names = {f["name"] for f in schema["fields"]}
    return next((c for c in ("country", "iso3") if c in names), None)


def kept_foreign_keys(schema: dict[str, Any], tables: Iterable[str]) -> list[dict[str, Any]]:
    """Foreign keys whose referenced table is in the extract (others would not validate)."""
    chosen = set(tables)
    return [fk for fk in schema.get("foreignKeys", []) if fk["reference"]["resource"] in chosen]


def _unique(values: Sequence[str] | None) -> list[str]:
    seen: dict[str, None] = {}
    for value in values or []:
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _suggest(word: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def _countries(source: Source, asked: list[str], problems: list[Problem]) -> tuple[str, ...]:
    known = source.countries
    if not asked:
        return tuple(known)
    by_name = {name.casefold(): iso3 for iso3, name in source.country_names.items()}
    chosen = []
    for value in asked:
        code = value.upper()
        if code in known:
            chosen.append(code)
            continue
        hint = _suggest(code, known)
        close_names = difflib.get_close_matches(value.casefold(), list(by_name), n=1, cutoff=0.6)
        if close_names:
            iso3 = by_name[close_names[0]]
            hint = f"; did you mean {iso3!r} ({source.country_names[iso3]})?"
        problems.append(
            Problem(
                file=str(source.descriptor_path),
                message=f"no country {value!r} in the package{hint} Countries: {', '.join(known)}",
                value=value,
                code="unknown-country",
            )
        )
    return tuple(c for c in known if c in chosen)


def _tables(source: Source, asked: list[str], problems: list[Problem]) -> list[str]:
    known = list(source.resources)
    for value in asked:
        if value not in known:
            problems.append(
                Problem(
                    file=str(source.descriptor_path),
                    message=f"no table {value!r} in the package{_suggest(value, known)} "
                    f"Tables: {', '.join(known)}",
                    value=value,
                    code="unknown-table",
                )
            )
    return [t for t in known if t in asked] if asked else known


def resolve(
    source: Source,
    countries: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
) -> Selection:
    """Check a request against the package and resolve it (None or empty means all).

    With variables and no tables, the tables are those that have at least one of the variables;
    with both, a chosen table without any of them still comes with its keys.
    """
    problems: list[Problem] = []
    asked_tables, asked_variables = _unique(tables), _unique(variables)
    chosen_countries = _countries(source, _unique(countries), problems)
    chosen_tables = _tables(source, asked_tables, problems)
    fields = {t: [f["name"] for f in source.resources[t]["schema"]["fields"]] for t in source.resources}

    if asked_variables:
        pool = {name for t in chosen_tables for name in fields[t]}
        for value in asked_variables:
            if value in pool:
                continue
            elsewhere = [t for t in source.resources if value in fields[t]]
            if elsewhere:
                message = (
                    f"variable {value!r} is not in the chosen tables ({', '.join(chosen_tables)}); "
                    f"it is in {', '.join(elsewhere)}"
                )
            else:
                everything = {name for names in fields.values() for name in names}
                message = f"no variable {value!r} in the package{_suggest(value, everything)}"
            problems.append(
                Problem(
                    file=str(source.descriptor_path),
                    message=message,
                    value=value,
                    code="unknown-variable",
                    hint="`ippmd extract --list` lists every table and variable",
                )
            )
        if not asked_tables:
            chosen_tables = [t for t in chosen_tables if set(asked_variables) & set(fields[t])]
    if problems:
        raise InputError(problems)

    columns: dict[str, tuple[str, ...]] = {}
    dropped: list[str] = []
    for table in chosen_tables:
        schema = source.resources[table]["schema"]
        wanted = set(key_fields(schema)) | (set(asked_variables) if asked_variables else set(fields[table]))
        columns[table] = tuple(name for name in fields[table] if name in wanted)
        kept = kept_foreign_keys(schema, chosen_tables)
        for fk in schema.get("foreignKeys", []):
            if fk not in kept:
                ref = fk["reference"]
                dropped.append(
                    f"{table}.{','.join(fk['fields'])} -> {ref['resource']}.{','.join(ref['fields'])}"
                )
    return Selection(
        countries=chosen_countries,
        tables=tuple(chosen_tables),
        columns=columns,
        variables=tuple(asked_variables) if asked_variables else None,
        dropped_foreign_keys=tuple(dropped),
    )

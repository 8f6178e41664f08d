"""Turn a request (countries, tables, variables) into exactly what goes in the extract.

Everything the user names is checked against the package first, and every unknown name is
reported at once with its close matches, so a typo never yields a silently smaller extract.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.i18n import t
from ippmd.core.schema import check_condition
from ippmd.extract.corridors import CORRIDOR, MEASURES, TARGET, output_names
from ippmd.extract.source import Source


@dataclass(frozen=True)
class Selection:
    """The resolved request: rows (countries), tables in package order, columns in schema order."""

    countries: tuple[str, ...]
    tables: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    variables: tuple[str, ...] | None  # the requested variables (None: all)
    dropped_foreign_keys: tuple[str, ...]  # "table.field -> other.field", target table not chosen
    # target table -> (source table, source column, name on the target), in request order
    attachments: dict[str, tuple[tuple[str, str, str], ...]] = field(default_factory=dict)
    where: str | None = None  # polars SQL case selection
    where_tables: tuple[str, ...] = ()  # the tables it filters: those with every column it names
    corridors: tuple[str, ...] = ()  # corridor measures put on the emigrants (extract.corridors)

    def output_columns(self, table: str) -> tuple[str, ...]:
        """The table's own columns, then the attached ones, then the corridor measures."""
        corridor = [name for m in self.corridors for name in output_names(m)] if table == TARGET else []
        return (*self.columns[table], *(name for _, _, name in self.attachments.get(table, ())), *corridor)


def key_fields(schema: dict[str, Any]) -> list[str]:
    """Primary-key and foreign-key fields: what links tables, so always extracted."""
    keys = list(schema.get("primaryKey", []))
    for fk in schema.get("foreignKeys", []):
        keys += [f for f in fk["fields"] if f not in keys]
    return keys


def design_fields(resource: Mapping[str, Any]) -> list[str]:
    """The survey-design variables (weight, PSU, strata) a resource declares: always extracted."""
    return list(dict.fromkeys(resource.get("surveyDesign", {}).values()))


def link_key(resource: Mapping[str, Any]) -> str | None:
    """The one-column primary key by which another table's rows point at this one."""
    keys = resource["schema"].get("primaryKey", [])
    return keys[0] if len(keys) == 1 else None


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
    return t("cli.did-you-mean", names=t("cli.or").join(repr(m) for m in matches)) if matches else ""


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
            hint = t("cli.country-named", code=repr(iso3), name=source.country_names[iso3])
        problems.append(
            Problem(
                file=str(source.descriptor_path),
                message=t(
                    "cli.no-country", value=repr(value), suggestion=hint or ".", countries=", ".join(known)
                ),
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
                    message=t(
                        "cli.no-table",
                        value=repr(value),
                        suggestion=_suggest(value, known) or ".",
                        tables=", ".join(known),
                    ),
                    value=value,
                    code="unknown-table",
                )
            )
    return [tb for tb in known if tb in asked] if asked else known


def _attachments(
    source: Source, chosen: list[str], asked: list[str], fields: dict[str, list[str]]
) -> dict[str, tuple[tuple[str, str, str], ...]]:
    """`households.weight` -> every chosen table that holds the households key (household_id)
    gets that column; a name already on the table becomes `households_weight`."""
    problems, found = [], {}
    for value in asked:
        table, _, column = value.partition(".")
        key = link_key(source.resources[table]) if table in source.resources else None
        if table not in source.resources or not column:
            message = t("cli.attach-form", value=repr(value))
            message += _suggest(table, source.resources) if table not in source.resources else ""
        elif column not in fields[table]:
            message = t(
                "cli.no-variable-in",
                column=repr(column),
                table=table,
                suggestion=_suggest(column, fields[table]),
            )
        elif not [tb for tb in chosen if tb != table and key in fields[tb]]:
            message = t("cli.attach-no-key", value=value, table=table, key=repr(key))
        else:
            found[value] = (table, column, key)
            continue
        problems.append(Problem(str(source.descriptor_path), message, value=value, code="unknown-variable"))
    if problems:
        raise InputError(problems)
    out: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, key in found.values():
        for target in chosen:
            if target != table and key in fields[target]:
                name = column if column not in fields[target] else f"{table}_{column}"
                out.setdefault(target, []).append((table, column, name))
    return {tb: tuple(v) for tb, v in out.items()}


def where_columns(expression: str) -> list[str]:
    """The column names a polars SQL condition reads (a syntax error is a usage error)."""
    check_condition(expression)
    try:
        return pl.sql_expr(expression).meta.root_names()
    except Exception as exc:  # polars raises several SQL error types
        raise UsageError(t("cli.where-invalid", expression=repr(expression), error=str(exc))) from exc


def _where_tables(expression: str, columns: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The tables a case selection applies to, after checking every name it uses."""
    names = where_columns(expression)
    everything = {c for cols in columns.values() for c in cols}
    for name in names:
        if name not in everything:
            suggestion = _suggest(name, everything) or "."
            raise UsageError(
                t("cli.where-no-column", expression=repr(expression), name=repr(name), suggestion=suggestion)
            )
    targets = tuple(tb for tb, cols in columns.items() if set(names) <= set(cols))
    if not targets:
        raise UsageError(t("cli.where-no-table", expression=repr(expression), names=", ".join(names)))
    return targets


def resolve(
    source: Source,
    countries: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
    attach: Sequence[str] | None = None,
    where: str | None = None,
    rectangular: bool = False,
) -> Selection:
    """Check a request against the package and resolve it (None or empty means all).

    With variables and no tables, the tables are those that have at least one of the variables;
    with both, a chosen table without any of them still comes with its keys. `rectangular`:
    the records carry the variables of the tables above them (see `_rectangular`).
    """
    problems: list[Problem] = []
    asked_tables, asked_variables = _unique(tables), _unique(variables)
    chosen_countries = _countries(source, _unique(countries), problems)
    chosen_tables = _tables(source, asked_tables, problems)
    fields = {tb: [f["name"] for f in source.resources[tb]["schema"]["fields"]] for tb in source.resources}

    if asked_variables:
        pool = {name for tb in chosen_tables for name in fields[tb]}
        for value in asked_variables:
            if value in pool:
                continue
            elsewhere = [tb for tb in source.resources if value in fields[tb]]
            if elsewhere:
                message = t(
                    "cli.variable-elsewhere",
                    value=repr(value),
                    chosen=", ".join(chosen_tables),
                    elsewhere=", ".join(elsewhere),
                )
            else:
                everything = {name for names in fields.values() for name in names}
                message = t("cli.no-variable", value=repr(value), suggestion=_suggest(value, everything))
            problems.append(
                Problem(
                    file=str(source.descriptor_path),
                    message=message,
                    value=value,
                    code="unknown-variable",
                    hint=t("cli.variable-hint"),
                )
            )
        if not asked_tables:
            chosen_tables = [tb for tb in chosen_tables if set(asked_variables) & set(fields[tb])]
    if problems:
        raise InputError(problems)

    columns: dict[str, tuple[str, ...]] = {}
    for table in chosen_tables:
        schema = source.resources[table]["schema"]
        always = {*key_fields(schema), *design_fields(source.resources[table])}
        if country_column(schema) == "country":  # the country on every microdata table
            always.add("country")
        wanted = always | (set(asked_variables) if asked_variables else set(fields[table]))
        columns[table] = tuple(name for name in fields[table] if name in wanted)
    asked_attach = _unique(attach)
    corridors = _corridors(
        source, chosen_tables, [a for a in asked_attach if a.partition(".")[0] == CORRIDOR]
    )
    asked_attach = [a for a in asked_attach if a.partition(".")[0] != CORRIDOR]
    attachments = _attachments(source, chosen_tables, asked_attach, fields)
    if rectangular:
        chosen_tables, columns, attachments = _rectangular(source, chosen_tables, columns, attachments)
    output = {tb: (*columns[tb], *(n for _, _, n in attachments.get(tb, ()))) for tb in chosen_tables}
    for measure in corridors if TARGET in output else ():
        output[TARGET] = (*output[TARGET], *output_names(measure))
    condition = where.strip() if where and where.strip() else None
    return Selection(
        countries=chosen_countries,
        tables=tuple(chosen_tables),
        columns=columns,
        variables=tuple(asked_variables) if asked_variables else None,
        dropped_foreign_keys=tuple(_dropped_links(source, chosen_tables)),
        attachments=attachments,
        where=condition,
        where_tables=_where_tables(condition, output) if condition else (),
        corridors=corridors,
    )


def _corridors(source: Source, chosen: list[str], asked: list[str]) -> tuple[str, ...]:
    """The corridor measures asked for (`corridor.remittance_cost`), each checked."""
    problems = []
    for value in asked:
        measure = value.partition(".")[2]
        if measure not in MEASURES:
            message = t(
                "cli.no-measure",
                measure=repr(measure),
                suggestion=_suggest(measure, MEASURES) or ".",
                measures=", ".join(MEASURES),
            )
        elif TARGET not in chosen:
            message = t("cli.measure-table", value=value, table=TARGET)
        else:
            continue
        problems.append(Problem(str(source.descriptor_path), message, value=value, code="unknown-variable"))
    if problems:
        raise InputError(problems)
    return tuple(a.partition(".")[2] for a in asked)


def _dropped_links(source: Source, chosen: list[str]) -> list[str]:
    """The foreign keys of chosen tables whose target table is not chosen, as text."""
    dropped = []
    for table in chosen:
        schema = source.resources[table]["schema"]
        kept = kept_foreign_keys(schema, chosen)
        for fk in schema.get("foreignKeys", []):
            if fk not in kept:
                ref = fk["reference"]
                dropped.append(
                    f"{table}.{','.join(fk['fields'])} -> {ref['resource']}.{','.join(ref['fields'])}"
                )
    return dropped


Attachments = dict[str, tuple[tuple[str, str, str], ...]]


def _rectangular(
    source: Source, chosen: list[str], columns: dict[str, tuple[str, ...]], attachments: Attachments
) -> tuple[list[str], dict[str, tuple[str, ...]], Attachments]:
    """IPUMS's rectangular layout: each record table (one no other chosen table points into)
    carries every chosen variable of the chosen tables it points into (a person row, its
    household's and community's), and those tables leave the extract. A variable the record
    already holds under the same name (its household's weight, community, region) is not
    repeated: the package copies them down from the household."""
    parents = {
        table: [
            other
            for other in chosen
            if other != table and (key := link_key(source.resources[other])) and key in columns[table]
        ]
        for table in chosen
    }
    above = {parent for found in parents.values() for parent in found}
    records = [table for table in chosen if table not in above]
    joined: dict[str, tuple[tuple[str, str, str], ...]] = {}
    for table in records:
        added = list(attachments.get(table, ()))
        held = {*columns[table], *(name for _, _, name in added)}
        for parent in parents[table]:
            for column in columns[parent]:
                if column not in held:
                    added.append((parent, column, column))
                    held.add(column)
        if added:
            joined[table] = tuple(added)
    return records, {tb: columns[tb] for tb in records}, joined

"""What can be extracted: tables, variables and countries (`ippmd extract --list`).

Read from the built descriptor, never from the schema folder, so the list shows exactly what an
extract of that package can contain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ippmd.extract.selection import country_column, key_fields
from ippmd.extract.source import Source, open_package


@dataclass(frozen=True)
class Variable:
    """One variable of one table, with what a user needs to pick it."""

    table: str
    name: str
    label: str
    type: str
    key: bool  # always extracted with its table (primary key or link to another table)
    unit: str | None = None
    universe: str | None = None
    categories: tuple[tuple[Any, str], ...] = ()


def variable_catalog(package_dir: Path | Source) -> list[Variable]:
    """Every variable of every table, in package and schema order."""
    source = package_dir if isinstance(package_dir, Source) else open_package(package_dir)
    variables = []
    for name, resource in source.resources.items():
        schema = resource["schema"]
        keys = key_fields(schema)
        for field in schema["fields"]:
            variables.append(
                Variable(
                    table=name,
                    name=field["name"],
                    label=field.get("title", ""),
                    type=field["type"],
                    key=field["name"] in keys,
                    unit=field.get("unit"),
                    universe=field.get("universe"),
                    categories=tuple((c["value"], c["label"]) for c in field.get("categories", [])),
                )
            )
    return variables


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def list_variables(package_dir: Path) -> str:
    """Markdown listing of countries, tables and variables, for choosing an extract."""
    source = open_package(package_dir)
    catalog = variable_catalog(source)
    names = source.country_names
    lines = [
        f"# {source.descriptor.get('title', source.descriptor.get('name', 'package'))}",
        "",
        f"Version {source.descriptor.get('version', '?')}. Countries (`--countries`): "
        + ", ".join(f"{iso3} ({names.get(iso3, iso3)})" for iso3 in source.countries)
        + ".",
        "",
        "Key variables (*key*) always come with their table. A variable named with `--variables` "
        "is taken from every chosen table that has it.",
        "",
    ]
    for table, resource in source.resources.items():
        column = country_column(resource["schema"])
        synthetic = " SYNTHETIC microdata." if resource.get("synthetic") else ""
        real = " Real data." if resource.get("synthetic") is False else ""
        lines += [
            f"## {table}: {resource.get('title', table)}",
            "",
            f"{resource.get('rows', 0):,} rows; countries by `{column}`.{synthetic}{real}"
            if column
            else f"{resource.get('rows', 0):,} rows.{synthetic}{real}",
            "",
            "| variable | label | type | unit | values |",
            "|---|---|---|---|---|",
        ]
        for var in (v for v in catalog if v.table == table):
            values = "; ".join(f"{value} = {label}" for value, label in var.categories)
            name = f"`{var.name}` *key*" if var.key else f"`{var.name}`"
            cells = [name, var.label, var.type, var.unit or "", values]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)

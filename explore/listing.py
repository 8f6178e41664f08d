"""`ippmd extract --list`: what an extract can select, as tables in a terminal or Markdown in a pipe.

The variables come from the extract stage's own catalogue (passed in by the command line), so
the list shows exactly what `ippmd extract` accepts; this module only lays it out. In a terminal
each table is a rich table fitted to the window; piped or redirected, the output is plain
Markdown with one line per row, never wrapped (a Markdown table row cannot span lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from ippmd.core.errors import UsageError
from ippmd.explore.design import suggest


class VariableLike(Protocol):
    """What the listing needs of a variable (ippmd.extract.Variable has it); read-only, so a frozen
    dataclass fits."""

    @property
    def table(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def key(self) -> bool: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def categories(self) -> tuple[tuple[Any, str], ...]: ...


def chosen_tables(descriptor: Mapping[str, Any], tables: Sequence[str] | None) -> list[str]:
    """The tables asked for (package order), or all; an unknown name is a usage error."""
    known = [r["name"] for r in descriptor["resources"]]
    for name in tables or ():
        if name not in known:
            raise UsageError(
                f"unknown table {name!r} for --tables{suggest(name, known)} (tables: {', '.join(known)})"
            )
    return [t for t in known if not tables or t in tables]


def _country_column(resource: Mapping[str, Any]) -> str | None:
    names = {f["name"] for f in resource["schema"]["fields"]}
    return next((c for c in ("country", "iso3") if c in names), None)


def _table_line(resource: Mapping[str, Any]) -> str:
    column = _country_column(resource)
    synthetic = resource.get("synthetic")
    origin = " SYNTHETIC microdata." if synthetic is True else " Real data." if synthetic is False else ""
    by = f"; countries by `{column}`" if column else ""
    return f"{resource.get('rows', 0):,} rows{by}.{origin}"


def _values(variable: VariableLike) -> str:
    return "; ".join(f"{value} = {label}" for value, label in variable.categories)


def _heading(descriptor: Mapping[str, Any], names: Mapping[str, str]) -> tuple[str, str]:
    title = str(descriptor.get("title", descriptor.get("name", "package")))
    countries = ", ".join(f"{c} ({names.get(c, c)})" for c in descriptor.get("countries", []))
    return title, f"Version {descriptor.get('version', '?')}. Countries (`--countries`): {countries}."


KEY_NOTE = (
    "Key variables (*key*) always come with their table. A variable named with `--variables` is "
    "taken from every chosen table that has it."
)


def listing_markdown(
    descriptor: Mapping[str, Any],
    names: Mapping[str, str],
    variables: Sequence[VariableLike],
    tables: Sequence[str] | None = None,
) -> str:
    """Markdown: a heading, the countries, then one table of variables per chosen table."""
    title, countries = _heading(descriptor, names)
    lines = [f"# {title}", "", countries, "", KEY_NOTE, ""]
    resources = {r["name"]: r for r in descriptor["resources"]}
    for table in chosen_tables(descriptor, tables):
        resource = resources[table]
        lines += [f"## {table}: {resource.get('title', table)}", "", _table_line(resource), ""]
        lines += ["| variable | label | type | unit | values |", "|---|---|---|---|---|"]
        for var in (v for v in variables if v.table == table):
            name = f"`{var.name}` *key*" if var.key else f"`{var.name}`"
            cells = [name, var.label, var.type, var.unit or "", _values(var)]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def print_listing(
    console: Console,
    descriptor: Mapping[str, Any],
    names: Mapping[str, str],
    variables: Sequence[VariableLike],
    tables: Sequence[str] | None = None,
) -> None:
    """Rich tables, one per chosen table, for a terminal."""
    title, countries = _heading(descriptor, names)
    console.print(title, style="bold", markup=False)
    console.print(countries.replace("`", ""), highlight=False)
    console.print(KEY_NOTE.replace("`", "").replace("*", ""), highlight=False)
    resources = {r["name"]: r for r in descriptor["resources"]}
    for table in chosen_tables(descriptor, tables):
        resource = resources[table]
        view = Table(
            title=f"{table}: {resource.get('title', table)}",
            caption=_table_line(resource).replace("`", ""),
            title_justify="left",
            expand=False,
        )
        for column, style in (
            ("variable", "bold"),
            ("label", ""),
            ("type", "dim"),
            ("unit", ""),
            ("values", ""),
        ):
            view.add_column(
                column, style=style or None, overflow="fold", no_wrap=column in ("variable", "type")
            )
        for var in (v for v in variables if v.table == table):
            name = f"{var.name} (key)" if var.key else var.name
            view.add_row(name, var.label, var.type, var.unit or "", _values(var))
        console.print(view)


def render_listing(
    console: Console,
    descriptor: Mapping[str, Any],
    names: Mapping[str, str],
    variables: Sequence[VariableLike],
    tables: Sequence[str] | None = None,
) -> None:
    """Rich tables on a terminal; Markdown, unwrapped, when the output is a pipe or a file."""
    if console.is_terminal:
        print_listing(console, descriptor, names, variables, tables)
    else:
        console.file.write(listing_markdown(descriptor, names, variables, tables) + "\n")

"""`ippmd extract --list`: what an extract can select, as tables in a terminal or Markdown in a pipe.

The variables come from the extract stage's own catalogue (passed in by the command line), so
the list shows exactly what `ippmd extract` accepts; this module only lays it out. In a terminal
each table is a rich table fitted to the window; piped or redirected, the output is plain
Markdown with one line per row, never wrapped (a Markdown table row cannot span lines). Titles,
labels and value labels are in the command's language (ippmd.package.translate); names, types and
codes stay as they are: they are what `ippmd extract` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from ippmd.core.errors import UsageError
from ippmd.core.i18n import t, translated
from ippmd.explore.design import suggest
from ippmd.package.translate import DOMAIN, category_key, field_key, heading_text


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
                t(
                    "cli.unknown-table-option",
                    name=repr(name),
                    suggestion=suggest(name, known),
                    tables=", ".join(known),
                )
            )
    return [table for table in known if not tables or table in tables]


def _country_column(resource: Mapping[str, Any]) -> str | None:
    names = {f["name"] for f in resource["schema"]["fields"]}
    return next((c for c in ("country", "iso3") if c in names), None)


def _table_line(resource: Mapping[str, Any]) -> str:
    column = _country_column(resource)
    synthetic = resource.get("synthetic")
    origins = {True: " " + t("cli.listing-synthetic"), False: " " + t("cli.listing-real")}
    origin = origins.get(synthetic, "") if isinstance(synthetic, bool) else ""
    by = t("cli.listing-countries-by", column=column) if column else ""
    return f"{t('cli.listing-rows', rows=resource.get('rows', 0))}{by}.{origin}"


def _table_title(resource: Mapping[str, Any]) -> str:
    name = str(resource["name"])
    return heading_text(name, "title", str(resource.get("title", name)))


def _label(variable: VariableLike) -> str:
    return translated(DOMAIN, field_key(variable.table, variable.name, "title"), variable.label)


def _values(variable: VariableLike) -> str:
    return "; ".join(
        f"{value} = {translated(DOMAIN, category_key(variable.table, variable.name, value), label)}"
        for value, label in variable.categories
    )


def _heading(descriptor: Mapping[str, Any], names: Mapping[str, str]) -> tuple[str, str]:
    title = str(descriptor.get("title", descriptor.get("name", "package")))
    countries = ", ".join(f"{c} ({names.get(c, c)})" for c in descriptor.get("countries", []))
    version = str(descriptor.get("version", "?"))
    return heading_text("package", "title", title), t(
        "cli.listing-version", version=version, countries=countries
    )


def _columns() -> list[str]:
    """The listing's column headings (the codebook's words)."""
    return [
        t("docs.column-variable"),
        t("docs.column-label"),
        t("docs.column-type"),
        t("docs.column-unit"),
        t("cli.listing-values"),
    ]


def listing_markdown(
    descriptor: Mapping[str, Any],
    names: Mapping[str, str],
    variables: Sequence[VariableLike],
    tables: Sequence[str] | None = None,
) -> str:
    """Markdown: a heading, the countries, then one table of variables per chosen table."""
    title, countries = _heading(descriptor, names)
    key = t("cli.listing-key")
    lines = [f"# {title}", "", countries, "", t("cli.listing-key-note"), ""]
    resources = {r["name"]: r for r in descriptor["resources"]}
    for table in chosen_tables(descriptor, tables):
        resource = resources[table]
        lines += [f"## {table}: {_table_title(resource)}", "", _table_line(resource), ""]
        lines += ["| " + " | ".join(_columns()) + " |", "|---|---|---|---|---|"]
        for var in (v for v in variables if v.table == table):
            name = f"`{var.name}` *{key}*" if var.key else f"`{var.name}`"
            cells = [name, _label(var), var.type, var.unit or "", _values(var)]
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
    console.print(t("cli.listing-key-note").replace("`", "").replace("*", ""), highlight=False)
    key = t("cli.listing-key")
    resources = {r["name"]: r for r in descriptor["resources"]}
    for table in chosen_tables(descriptor, tables):
        resource = resources[table]
        view = Table(
            title=f"{table}: {_table_title(resource)}",
            caption=_table_line(resource).replace("`", ""),
            title_justify="left",
            expand=False,
        )
        styles = ("bold", None, "dim", None, None)
        for index, (column, style) in enumerate(zip(_columns(), styles, strict=True)):
            view.add_column(column, style=style, overflow="fold", no_wrap=index in (0, 2))
        for var in (v for v in variables if v.table == table):
            name = f"{var.name} ({key})" if var.key else var.name
            view.add_row(name, _label(var), var.type, var.unit or "", _values(var))
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

"""`ippmd extract`: a self-contained extract of chosen countries, tables and variables."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from ippmd.commands.options import Countries, Lang, Package, package_folder, split
from ippmd.commands.output import say, terminal, warn_synthetic
from ippmd.core.errors import InputError, UsageError
from ippmd.core.i18n import SOURCE, choose_language, t
from ippmd.core.iso3 import iso3_options

if TYPE_CHECKING:
    from ippmd.core.i18n import Language
    from ippmd.extract import ExtractSummary
    from ippmd.extract.formats import FormatName


def extract(
    countries: Countries = None,
    tables: Annotated[str | None, typer.Option(help="Comma-separated tables (default: all).")] = None,
    variables: Annotated[
        str | None, typer.Option(help="Comma-separated variables (keys always kept).")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv, parquet, dta (Stata), sav (SPSS) or ipums (fixed-width .dat, a DDI per file).",
        ),
    ] = "csv",
    out: Annotated[Path | None, typer.Option(help="The zip file to write.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print the tables and variables, then exit.")] = False,
    package: Package = None,
    attach: Annotated[
        str | None,
        typer.Option(
            help="Variables of linked tables to put on each row, e.g. households.weight,households.urban."
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(help='Case selection (SQL), e.g. "age >= 15", on the tables that have its columns.'),
    ] = None,
    rectangular: Annotated[
        bool,
        typer.Option(
            "--rectangular",
            help="IPUMS's rectangular layout: household and community variables on each person "
            "(and emigrant) row, instead of their own files.",
        ),
    ] = False,
    lang: Lang = None,
) -> None:
    """Write a self-contained extract (data, descriptor, codebook, DDI, licence, citation, checksums).

    --lang (else $IPPMD_LANG, else English, not the country's language: an extract is for every
    reader) sets the language of the Stata/SPSS labels and notes, codebook, notice and load.R."""
    chosen = choose_language(lang)  # before any message
    if countries:
        iso3_options(countries, "--countries")  # before any read
    package = package_folder(package, verify=False)
    fmt = fmt.strip().lower()

    if list_:
        _list_extractable(package, split(tables))
        return
    if out is None:
        raise UsageError(t("cli.out-required"))
    started = time.perf_counter()
    summary = write_extract(
        package, out, countries, tables, variables, fmt, attach, where, rectangular, chosen
    )
    if '"synthetic": true' in package.joinpath("datapackage.json").read_text(encoding="utf-8"):
        warn_synthetic()
    say(summary.describe())
    say(t("extract.summary-wrote", out=str(out), seconds=time.perf_counter() - started))


def _list_extractable(package: Path, tables: list[str] | None) -> None:
    """`extract --list`: rich tables in a terminal, unwrapped Markdown when piped (`--tables` honoured)."""
    from ippmd.explore.listing import render_listing
    from ippmd.extract import variable_catalog
    from ippmd.extract.source import open_package

    source = open_package(package)
    render_listing(terminal(), source.descriptor, source.country_names, variable_catalog(source), tables)


def write_extract(
    package: Path,
    out: Path,
    countries: str | None,
    tables: str | None,
    variables: str | None,
    fmt: str,
    attach: str | None,
    where: str | None,
    rectangular: bool,
    lang: Language = SOURCE,
) -> ExtractSummary:
    """The zip of `extract`'s options, as given on the command line (the portal's POST
    /api/v1/extracts writes it here too, so the bytes are the same): an unknown table, variable or
    format given is a UsageError naming each (exit 2); other problems an InputError (exit 1)."""
    from ippmd.extract import make_extract

    codes = iso3_options(countries, "--countries") if countries else None
    fmt = fmt.strip().lower()
    selections = {"countries": countries, "tables": tables, "variables": variables, "attach": attach}
    request = (
        ["ippmd", "extract"]
        + [f"--{name} {value}" for name, value in selections.items() if value]
        + ([f'--where "{where}"'] if where else [])
        + [f"--format {fmt}"]
        + (["--rectangular"] if rectangular else [])
        + ([f"--lang {lang}"] if lang != SOURCE else [])  # the language, however it was chosen
    )
    try:
        return make_extract(
            package,
            out,
            countries=codes,
            tables=split(tables),
            variables=split(variables),
            fmt=cast("FormatName", fmt),  # checked there, with the other selections (naming the closest)
            command_line=" ".join(request),
            attach=split(attach),
            where=where,
            rectangular=rectangular,
            lang=lang,
        )
    except InputError as exc:
        given = {fmt, *(split(",".join(v for v in selections.values() if v)) or [])}
        if all(p.value is not None and p.value in given for p in exc.problems):
            # an unknown table, variable or format given on the command line: one line each
            raise UsageError(*(p.message for p in exc.problems)) from None
        raise

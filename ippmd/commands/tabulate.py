"""`ippmd tabulate`: design-based estimates of one variable, as R's survey package gives them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from ippmd.commands.options import Countries, Package, chosen, country_codes_of, package_folder, split
from ippmd.commands.output import Unanswered, say, terminal, warn_synthetic
from ippmd.core.errors import UsageError
from ippmd.core.io import package_files, refuse_output_over, write_atomic

if TYPE_CHECKING:
    from ippmd.explore.tabulate import Query, Tabulation


def tabulate(
    variable: Annotated[str, typer.Argument(help="Variable to estimate, e.g. remittances_received.")],
    table: Annotated[str, typer.Option(help="Its table: households, persons, emigrants or communities.")],
    by: Annotated[
        str | None, typer.Option(help="Comma-separated columns to estimate by, e.g. country,sex.")
    ] = None,
    where: Annotated[
        str | None, typer.Option(help='A domain, as a polars SQL condition, e.g. "age >= 15".')
    ] = None,
    countries: Countries = None,
    interval: Annotated[
        str | None,
        typer.Option(
            help="95% interval of a share: logit (default) or beta (Korn-Graubard), as R's svyciprop; "
            "a share of 0 or 1 gets beta with n_eff = n. Means: estimate +/- t x SE.",
        ),
    ] = None,
    package: Package = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv, json, md, html or xlsx (default: from the --out suffix; else a table on a terminal, "
            "CSV when piped).",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
) -> None:
    """Design-based weighted mean or shares, with SE, 95% CI, n and PSUs (as R's survey package).

    Exit 0 ok; 1 the query selects no rows; 2 an unknown table, variable, column, country, interval
    method (or --interval for a mean) or bad SQL.
    """
    from ippmd.explore.render import Format, print_table, render

    codes = tuple(country_codes_of(countries) or ()) or None  # arguments first, before any read
    package = package_folder(package)
    refuse_output_over(out, package_files(package), "--out")
    asked = fmt.strip().lower() if fmt else (out.suffix.lstrip(".").lower() if out is not None else None)
    formats = get_args(Format)
    chosen_format: Format | None = None if asked is None else chosen(asked, formats)
    if asked is not None and chosen_format is None:
        raise UsageError(f"unknown format {asked!r}; use one of {', '.join(formats)}")
    if chosen_format == "xlsx" and out is None:
        raise UsageError("--format xlsx needs --out FILE.xlsx")
    result = run_tabulation(package, tabulation_query(variable, table, by, where, codes, interval))
    if chosen_format is None and sys.stdout.isatty():
        print_table(result, terminal())
        return
    data = render(result, chosen_format or "csv")
    if result.synthetic:
        warn_synthetic()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, data)
        say(f"wrote {out} ({result.frame.height} rows)")


def tabulation_query(
    variable: str,
    table: str,
    by: str | None,
    where: str | None,
    codes: tuple[str, ...] | None,
    interval: str | None,
) -> Query:
    """The query of `tabulate`'s arguments (the portal's /api/v1/tabulate builds it here too):
    an unknown --interval method is a UsageError (exit 2; 400 in the portal)."""
    from ippmd.explore.proportion import METHODS
    from ippmd.explore.tabulate import Query

    method = None if interval is None else chosen(interval.strip().lower(), METHODS)
    if interval is not None and method is None:
        raise UsageError(f"unknown --interval {interval.strip()!r}; use one of {', '.join(METHODS)}")
    return Query(
        variable=variable.strip(),
        table=table.strip(),
        by=tuple(dict.fromkeys(split(by) or ())),
        where=where,
        countries=codes,
        interval=method,
    )


def run_tabulation(package: Path, query: Query) -> Tabulation:
    """The estimates of `query` (the CLI and the portal): a query selecting no rows is Unanswered (exit 1)."""
    from ippmd.explore.tabulate import EmptySelection, tabulate

    try:
        return tabulate(package, query)
    except EmptySelection as exc:
        raise Unanswered(str(exc)) from None

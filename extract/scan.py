"""`ippmd.scan`: one table of the built package as a polars LazyFrame, for data larger than memory.

Why: `ippmd.load` reads a whole table. At census scale an analyst wants the rows of one
country and a few columns, aggregated before anything comes into memory. `scan` opens only the
Parquet partitions of the countries asked for (hive layout, `data/parquet/<table>/country=XXX/`),
each verified against its SHA-256 in datapackage.json, and returns a lazy query: polars reads
only the columns the query uses and pushes the condition into the scan. The request is checked
as `load` and `extract` check it (unknown names stop with a suggestion, exit 2); keys, the
country and the survey-design variables always come with the table. Codes are as stored (no
value labels: a lazy frame carries no metadata; `ippmd.load` labels eager frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from ippmd.core.errors import UsageError
from ippmd.core.home import project_home
from ippmd.extract.selection import country_column, resolve
from ippmd.extract.source import open_package


def scan(
    table: str,
    countries: Sequence[str] | str | None = None,
    variables: Sequence[str] | str | None = None,
    where: str | None = None,
    package: Path | str | None = None,
) -> pl.LazyFrame:
    """A lazy frame of one table (default package: the project home): the chosen countries'
    partitions only, the chosen variables (keys and design variables kept), rows where `where`
    (polars SQL) holds."""
    source = open_package(Path(package) if package is not None else project_home())
    if table not in source.resources:
        raise UsageError(f"no table {table!r} in the package; tables: {', '.join(source.resources)}")
    countries, variables = ([v] if isinstance(v, str) else v for v in (countries, variables))
    selection = resolve(source, countries, [table], variables, None, where)
    columns = list(selection.output_columns(table))
    built = source.package
    partitioned = built.resource(table).partitions
    if partitioned:
        files = built.partition_files(table, list(selection.countries))
        frame = pl.scan_parquet(files, hive_partitioning=True, glob=False)
    else:
        frame = pl.scan_parquet(built.file(table, "parquet"), glob=False)
        column = country_column(source.resources[table]["schema"])
        if column is not None and countries:
            frame = frame.filter(pl.col(column).is_in(list(selection.countries)))
    if selection.where:
        frame = frame.filter(pl.sql_expr(selection.where))
    return frame.select(columns)

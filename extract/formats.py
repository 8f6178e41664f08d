"""Writing one table of an extract in the chosen file format.

CSV rows are cut from the package CSV as text (read as strings, written back the same way), so
the `NIU`/empty coding and number spelling are exactly those of the package file that
`frictionless validate` checked. Parquet, Stata and SPSS are cut from the typed Parquet file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ippmd.core.errors import InputError, Problem
from ippmd.core.text import first_formula_cell
from ippmd.extract.statfiles import write_stat_file
from ippmd.package.write import labelled_schema

FormatName = Literal["csv", "parquet", "dta", "sav", "ipums"]


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    mediatype: str
    title: str
    deflate: bool  # compress inside the zip (Parquet is already zstd-compressed)


FORMATS: dict[FormatName, Format] = {
    "csv": Format("csv", "csv", "text/csv", "CSV (UTF-8)", True),
    "parquet": Format("parquet", "parquet", "application/vnd.apache.parquet", "Apache Parquet", False),
    "dta": Format("dta", "dta", "application/x-stata-dta", "Stata 14+ (.dta format 118)", True),
    "sav": Format("sav", "sav", "application/x-spss-sav", "SPSS (.sav)", True),
    # IPUMS's own layout: fixed-width text, one DDI per file (data/<table>.xml) placing each variable
    "ipums": Format(
        "ipums", "dat", "text/plain", "IPUMS-style fixed-width text (.dat) with a DDI per file", True
    ),
}


def _row_filter(column: str | None, countries: tuple[str, ...]) -> pl.Expr:
    return pl.col(column).is_in(list(countries)) if column else pl.lit(True)


def typed_rows(parquet: Path, column: str | None, countries: tuple[str, ...]) -> pl.DataFrame:
    """The chosen countries' rows of a table, all columns, typed (from the package Parquet)."""
    return pl.scan_parquet(parquet, glob=False).filter(_row_filter(column, countries)).collect()


def write_csv(text: pl.DataFrame, dest: Path) -> int:
    """Write rows cut from the package CSV as text (NIU and empty cells as they were).

    A cell a spreadsheet would run as a formula is refused (the package's own check, repeated
    for a package edited after its build): nothing written for spreadsheet users starts with one."""
    formula = first_formula_cell(text)
    if formula is not None:
        column, row, value = formula
        message = "value starts with a spreadsheet formula character; the package was altered after its build"
        raise InputError(
            [Problem(dest.name, message, row=row + 1, field=column, value=value[:40], code="formula-cell")]
        )
    text.write_csv(dest, null_value="", line_terminator="\n")
    return text.height


def csv_rows(csv: Path, column: str | None, countries: tuple[str, ...]) -> pl.DataFrame:
    """The chosen countries' rows of a package CSV, every cell as text."""
    return pl.scan_csv(csv, infer_schema=False, glob=False).filter(_row_filter(column, countries)).collect()


def _parquet_table(
    frame: pl.DataFrame, fields: list[dict[str, Any]], file_metadata: dict[str, str]
) -> pa.Table:
    """Arrow table with each field's label, unit, universe and value labels as field metadata."""
    table = frame.to_arrow()
    return table.cast(labelled_schema(fields, table.schema)).replace_schema_metadata(file_metadata)


def write_typed(
    frame: pl.DataFrame,
    fields: list[dict[str, Any]],
    fmt: FormatName,
    dest: Path,
    file_label: str,
    niu: dict[str, pl.Series] | None = None,
    notes: list[str] | None = None,
    file_metadata: dict[str, str] | None = None,
    shown: list[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """Write typed rows (columns = fields) as Parquet, Stata or SPSS; returns renamed columns.

    `niu` marks the nulls that are *not in universe* (others are *unknown*); `notes` (the
    synthetic notice, missing codes, citation) go into Stata and SPSS files, `file_metadata`
    into the Parquet footer. `shown`: the fields with labels in the reader's language, for Stata
    and SPSS (a Parquet file keeps the package's English, as CSV keeps its text).
    """
    if fmt == "parquet":
        pq.write_table(_parquet_table(frame, fields, file_metadata or {}), dest, compression="zstd")
        return {}
    if fmt in ("dta", "sav"):
        return write_stat_file(frame, fields, dest, fmt, file_label, niu=niu, notes=notes, shown=shown)
    raise ValueError(f"not a typed format: {fmt}")

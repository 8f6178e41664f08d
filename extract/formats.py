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
from ippmd.extract.statfiles import write_stat_file

FormatName = Literal["csv", "parquet", "dta", "sav"]


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    mediatype: str
    title: str
    deflate: bool  # compress inside the zip (Parquet is already zstd-compressed)


FORMATS: dict[str, Format] = {
    "csv": Format("csv", "csv", "text/csv", "CSV (UTF-8)", True),
    "parquet": Format("parquet", "parquet", "application/vnd.apache.parquet", "Apache Parquet", False),
    "dta": Format("dta", "dta", "application/x-stata-dta", "Stata 14+ (.dta format 118)", True),
    "sav": Format("sav", "sav", "application/x-spss-sav", "SPSS (.sav)", True),
}


def _row_filter(column: str | None, countries: tuple[str, ...]) -> pl.Expr:
    return pl.col(column).is_in(list(countries)) if column else pl.lit(True)


def typed_rows(parquet: Path, column: str | None, countries: tuple[str, ...]) -> pl.DataFrame:
    """The chosen countries' rows of a table, all columns, typed (from the package Parquet)."""
    return pl.scan_parquet(parquet).filter(_row_filter(column, countries)).collect()


def write_csv(
    csv: Path, column: str | None, countries: tuple[str, ...], columns: tuple[str, ...], dest: Path
) -> int:
    """Cut rows and columns from the package CSV as text; returns the number of rows."""
    frame = (
        pl.scan_csv(csv, infer_schema=False).filter(_row_filter(column, countries)).select(columns).collect()
    )
    frame.write_csv(dest, null_value="", line_terminator="\n")
    return frame.height


def write_typed(
    frame: pl.DataFrame,
    fields: list[dict[str, Any]],
    fmt: FormatName,
    dest: Path,
    file_label: str,
) -> dict[str, str]:
    """Write typed rows (columns = fields) as Parquet, Stata or SPSS; returns renamed columns."""
    if fmt == "parquet":
        frame.write_parquet(dest, compression="zstd", statistics=True)
        return {}
    if fmt in ("dta", "sav"):
        return write_stat_file(frame, fields, dest, fmt, file_label)
    raise ValueError(f"not a typed format: {fmt}")

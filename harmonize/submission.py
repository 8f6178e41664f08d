"""Read a submission folder into typed polars frames, naming file, row and field of any bad cell."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.limits import limit
from ippmd.core.metadata import read_submission_metadata
from ippmd.core.schema import SUBMISSION_TABLES, field_names, polars_schema, submission_schema

METADATA_FILE = "metadata.yaml"
# Formats a table may come in, by preference: CSV (the submission format), then Stata, SPSS.
TABLE_SUFFIXES = (".csv", ".dta", ".sav")


@dataclass
class Submission:
    """A country's submission: its metadata and one typed frame per table."""

    folder: Path
    metadata: dict[str, Any]
    tables: dict[str, pl.DataFrame]
    files: dict[str, str]

    @property
    def iso3(self) -> str:
        return str(self.metadata["country_iso3"])


def _table_file(folder: Path, table: str) -> Path:
    for suffix in TABLE_SUFFIXES:
        path = folder / f"{table}{suffix}"
        if path.exists():
            return path
    raise InputError([Problem(str(folder / f"{table}.csv"), "table file is missing")])


def _read_raw(path: Path) -> pl.DataFrame:
    """All columns as strings, exactly as written in the file."""
    if path.suffix == ".csv":
        try:
            # bytes, not the path: polars would read [ ] in a path as a glob
            return pl.read_csv(path.read_bytes(), infer_schema=False, encoding="utf8")
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError([Problem(str(path), f"cannot read as UTF-8 CSV: {exc}")]) from exc
    frame = read_stat_table(path)
    return frame.with_columns(pl.col(c).cast(pl.String) for c in frame.columns)


# The limits of a submitted table (core/limits.yaml, as for a CSV table), applied to a Stata or
# SPSS file from its header, before it is read or converted.
MAX_ROWS = limit("rows")
MAX_COLUMNS = limit("columns")


def read_stat_table(path: Path) -> pl.DataFrame:
    """A Stata (.dta) or SPSS (.sav) table, with integers stored as doubles turned back into integers."""
    import pyreadstat

    reader = pyreadstat.read_dta if path.suffix.lower() == ".dta" else pyreadstat.read_sav
    try:  # the header first: a compressed file of a few MB can hold millions of rows
        _, meta = reader(str(path), metadataonly=True)
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputError([Problem(path.name, f"cannot read: {exc}", code="format-error")]) from exc
    rows, columns = int(meta.number_rows or 0), int(meta.number_columns or 0)
    if rows > MAX_ROWS or columns > MAX_COLUMNS:
        message = (
            f"file holds {rows:,} rows and {columns:,} columns; a submitted table is limited to "
            f"{MAX_ROWS:,} rows and {MAX_COLUMNS} columns"
        )
        raise InputError([Problem(path.name, message, code="too-many-rows")])
    try:
        frame, _ = reader(str(path), output_format="polars")
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputError([Problem(path.name, f"cannot read: {exc}", code="format-error")]) from exc
    return frame.with_columns(pl.col(c).cast(pl.Int64) for c in frame.columns if _whole_numbers(frame[c]))


def _whole_numbers(column: pl.Series) -> bool:
    values = column.drop_nulls()
    return column.dtype.is_float() and not values.is_empty() and bool((values == values.round(0)).all())


def _typed(raw: pl.DataFrame, table: str, path: Path) -> pl.DataFrame:
    """Cast to the submission schema, reporting every cell that does not parse."""
    schema = submission_schema(table)
    expected = field_names(schema)
    missing = [c for c in expected if c not in raw.columns]
    if missing:
        raise InputError(
            [Problem(str(path), "required column is missing", field=c, code="missing-label") for c in missing]
        )
    problems: list[Problem] = []
    columns = []
    for name, dtype in polars_schema(schema).items():
        text = raw[name].str.strip_chars().replace("", None)
        typed = text.cast(dtype, strict=False)
        bad = (typed.is_null() & text.is_not_null()).arg_true()
        for i in bad[:20].to_list():
            problems.append(
                Problem(
                    str(path),
                    f"not a valid {dtype.__name__.lower()}",
                    row=i + 2,
                    field=name,
                    value=text[i],
                    code="type-error",
                )
            )
        columns.append(typed.alias(name))
    if problems:
        raise InputError(problems)
    return pl.DataFrame(columns)


def read_submission(folder: Path) -> Submission:
    """Read metadata.yaml and the four tables of a submission folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), "submission folder does not exist")])
    metadata = read_submission_metadata(folder / METADATA_FILE)
    tables, files = {}, {}
    for table in SUBMISSION_TABLES:
        path = _table_file(folder, table)
        tables[table] = _typed(_read_raw(path), table, path)
        files[table] = str(path)
    return Submission(folder=folder, metadata=metadata, tables=tables, files=files)

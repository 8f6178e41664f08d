"""Read a submission folder into typed polars frames, naming file, row and field of any bad cell."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import InputError, Problem, problem_hint
from ippmd.core.i18n import t
from ippmd.core.limits import limit
from ippmd.core.metadata import read_submission_metadata
from ippmd.core.schema import SUBMISSION_TABLES, field_names, polars_schema, submission_schema

METADATA_FILE = "metadata.yaml"
# Formats a table may come in: CSV (the submission format), Stata, SPSS; one file per table.
TABLE_SUFFIXES = (".csv", ".dta", ".sav")
STAT_SUFFIXES = (".dta", ".sav")


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


def table_files(folder: Path) -> dict[str, Path]:
    """The file of each table found in `folder` (named `<table>.csv`, `.dta` or `.sav`).

    Two files for one table (persons.csv and persons.dta, a .dta and a .sav, or Persons.CSV beside
    persons.csv: names compared in any case) are a named ambiguity, never a silent choice."""
    by_name: dict[str, list[str]] = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            by_name.setdefault(path.name.casefold(), []).append(path.name)
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for table in SUBMISSION_TABLES:
        names = sorted(name for suffix in TABLE_SUFFIXES for name in by_name.get(f"{table}{suffix}", []))
        if len(names) > 1:
            problems.append(
                Problem(
                    " and ".join(names),
                    t("harmonize.ambiguous-table", count=len(names), table=table),
                    code="ambiguous-table",
                    hint=problem_hint("ambiguous-table"),
                )
            )
        elif names and names[0] == names[0].lower():
            found[table] = Path(folder) / names[0]
    if problems:
        raise InputError(problems)
    return found


def _read_raw(path: Path, table: str) -> pl.DataFrame:
    """All columns as strings, exactly as written in the file (a Stata or SPSS file's numbers as a
    CSV would hold them); contradicting value labels of a Stata or SPSS file are an InputError."""
    if path.suffix == ".csv":
        try:
            # bytes, not the path: polars would read [ ] in a path as a glob
            return pl.read_csv(path.read_bytes(), infer_schema=False, encoding="utf8")
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError([Problem(str(path), t("harmonize.cannot-read-csv", error=str(exc)))]) from exc
    stat = read_stat_table(path, table)
    if stat.problems:
        raise InputError(stat.problems)
    return stat.frame


# The limits of a submitted table (core/limits.yaml, as for a CSV table), applied to a Stata or
# SPSS file from its header, before it is read or converted.
MAX_ROWS = limit("rows")
MAX_COLUMNS = limit("columns")
INT64_LIMIT = 2.0**63  # floats of this magnitude or more are no 64-bit integer


@dataclass(frozen=True)
class StatTable:
    """A Stata or SPSS table as text, and what its value labels contradict in the schema."""

    frame: pl.DataFrame  # every column as text, numbers as a CSV would hold them; null = missing
    problems: list[Problem]
    variables: dict[str, str]  # schema name -> the file's name, where they differ (Stata's 32 characters)


# Stata names hold 32 characters: a longer field of the submission format is read from a .dta
# variable named with its first 32 (households.education_expenditure_nonresponse has 33).
STATA_NAME_LIMIT = 32


def read_stat_table(path: Path, table: str) -> StatTable:
    """A Stata (.dta) or SPSS (.sav) table as text: whole numbers stored as doubles are written
    as integers (1 not 1.0), every other number as the shortest text that reads back to it
    (1e+300, inf), so the checks of a CSV table judge every cell of any size."""
    frame, value_labels = _read_stat(path)
    schema = submission_schema(table)
    variables = {}
    if path.suffix.lower() == ".dta":
        variables = {f["name"]: f["name"][:STATA_NAME_LIMIT] for f in schema["fields"]}
        variables = {name: short for name, short in variables.items() if short != name}
    names = {submitted: name for name, submitted in variables.items()}
    labels = {names.get(variable, variable): codes for variable, codes in value_labels.items()}
    problems = [
        replace(p, field=variables.get(p.field or "", p.field))
        for p in label_problems(path.name, labels, schema)
    ]
    text = frame.select(_as_text(frame[c]).alias(names.get(c, c)) for c in frame.columns)
    return StatTable(text, problems, variables)


def _read_stat(path: Path) -> tuple[pl.DataFrame, dict[str, dict[Any, str]]]:
    """The cells and value labels of a Stata or SPSS file, refused from its header when too big."""
    import pyreadstat

    reader = pyreadstat.read_dta if path.suffix.lower() == ".dta" else pyreadstat.read_sav
    try:  # the header first: a compressed file of a few MB can hold millions of rows
        _, meta = reader(str(path), metadataonly=True)
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputError(
            [Problem(path.name, t("harmonize.cannot-read", error=str(exc)), code="format-error")]
        ) from exc
    rows, columns = int(meta.number_rows or 0), int(meta.number_columns or 0)
    if rows > MAX_ROWS or columns > MAX_COLUMNS:
        message = t(
            "harmonize.stat-too-large", rows=rows, columns=columns, max_rows=MAX_ROWS, max_columns=MAX_COLUMNS
        )
        raise InputError([Problem(path.name, message, code="too-many-rows")])
    try:
        frame, meta = reader(str(path), output_format="polars")
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputError(
            [Problem(path.name, t("harmonize.cannot-read", error=str(exc)), code="format-error")]
        ) from exc
    return frame, dict(meta.variable_value_labels or {})


def _as_text(column: pl.Series) -> pl.Series:
    """A column's cells as a CSV would hold them."""
    if not column.dtype.is_float():
        return column.cast(pl.String)
    whole = column.is_finite() & (column == column.round(0)) & (column.abs() < INT64_LIMIT)
    as_integer = column.cast(pl.Int64, strict=False).cast(pl.String)
    text = pl.select(pl.when(whole).then(as_integer).otherwise(column.cast(pl.String)))
    return text.to_series().alias(column.name)


def _label_key(label: object) -> str:
    return " ".join(str(label).casefold().split())


def _code(value: object) -> object:
    """A label's code as the schema writes it (SPSS gives 1.0 for 1)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def label_problems(
    file: str, value_labels: dict[str, dict[Any, str]], schema: dict[str, Any]
) -> list[Problem]:
    """Value labels of a Stata or SPSS file that contradict the schema's categories: a code whose
    label is the schema's label of another code (sex 1 = "Female" where the schema says
    1 = Male, 2 = Female). Labels that agree, are absent or are in another language pass."""
    problems = []
    for field in schema["fields"]:
        categories = {_code(c["value"]): str(c["label"]) for c in field.get("categories", [])}
        codes_of = {_label_key(label): code for code, label in categories.items()}
        for value, label in (value_labels.get(field["name"]) or {}).items():
            code = _code(value)
            other = codes_of.get(_label_key(label))
            if code not in categories or other is None or other == code:
                continue
            problems.append(
                Problem(
                    file,
                    t(
                        "harmonize.label-conflict",
                        code=str(code),
                        label=repr(label),
                        meant=repr(categories[code]),
                        other=str(other),
                    ),
                    field=field["name"],
                    value=str(code),
                    code="value-label-conflict",
                    hint=problem_hint("value-label-conflict"),
                )
            )
    return problems


def _typed(raw: pl.DataFrame, table: str, path: Path) -> pl.DataFrame:
    """Cast to the submission schema, reporting every cell that does not parse (at its line in a
    CSV file, header = line 1; at its record number in a Stata or SPSS file)."""
    first = 2 if path.suffix == ".csv" else 1
    schema = submission_schema(table)
    expected = field_names(schema)
    missing = [c for c in expected if c not in raw.columns]
    if missing:
        raise InputError(
            [
                Problem(str(path), t("harmonize.missing-column"), field=c, code="missing-label")
                for c in missing
            ]
        )
    problems: list[Problem] = []
    columns = []
    for name, dtype in polars_schema(schema).items():
        text = raw[name].str.strip_chars().replace("", None)
        typed = text.cast(dtype, strict=False)
        bad = (typed.is_null() & text.is_not_null()).arg_true()
        message = _type_message(dtype)
        for i in bad[:20].to_list():
            problems.append(
                Problem(
                    str(path),
                    message,
                    row=i + first,
                    field=name,
                    value=text[i],
                    code="type-error",
                )
            )
        columns.append(typed.alias(name))
    if problems:
        raise InputError(problems)
    return pl.DataFrame(columns)


def _type_message(dtype: Any) -> str:
    """A cell that does not parse as its column's type, said in the words of the structural layer."""
    if dtype == pl.Int64:
        return t("harmonize.not-integer")
    if dtype == pl.Float64:
        return t("harmonize.not-number")
    return t("harmonize.not-type", type=str(dtype).lower())


def read_submission(folder: Path) -> Submission:
    """Read metadata.yaml and the four tables of a submission folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), t("harmonize.no-folder"))])
    metadata = read_submission_metadata(folder / METADATA_FILE)
    tables, files = {}, {}
    found = table_files(folder)
    for table in SUBMISSION_TABLES:
        if table not in found:
            raise InputError([Problem(str(folder / f"{table}.csv"), t("harmonize.missing-table"))])
        path = found[table]
        tables[table] = _typed(_read_raw(path, table), table, path)
        files[table] = str(path)
    return Submission(folder=folder, metadata=metadata, tables=tables, files=files)

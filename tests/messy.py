"""A corpus of messy submissions, each planted programmatically in a valid synthetic one.

Each case changes the files as a statistics office's spreadsheet or a hurried hand would
(semicolons and decimal commas, `29 ans` in an integer column, a renamed column, region codes
that lost their leading zeros...) and lists every defect it plants: the file, the field, the
problem code and, when the defect has one, the line. tests/test_messy_submissions.py holds
`ippmd validate` to reporting each planted defect once, in the first round.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ippmd.core.errors import Problem


@dataclass(frozen=True)
class Defect:
    """One planted defect, as validate should report it."""

    file: str
    code: str
    field: str | None = None
    row: int | None = None

    def matches(self, p: Problem) -> bool:
        return (
            p.file == self.file
            and p.code == self.code
            and p.field == self.field
            and (self.row is None or p.row == self.row)
        )


# --- reading and writing tables as a spreadsheet would ---------------------------------------


def read_rows(folder: Path, table: str) -> tuple[list[str], list[list[str]]]:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_rows(
    folder: Path, table: str, header: list[str], rows: list[list[str]], delimiter: str = ","
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    (folder / f"{table}.csv").write_text(buffer.getvalue(), encoding="utf-8")


def edit_metadata(folder: Path, edit: Callable[[dict], None]) -> None:
    meta = yaml.safe_load((folder / "metadata.yaml").read_text(encoding="utf-8"))
    edit(meta)
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), "utf-8")


def line_of(rows: list[list[str]], index: int) -> int:
    """The file line of data row `index` (header = line 1)."""
    return index + 2


# --- the plants -------------------------------------------------------------------------------

NUMBER_COLUMNS = {
    "households": ["weight", "agricultural_assets", "remittances_amount", "education_expenditure"],
    "persons": ["years_abroad"],
}


def decimal_commas(folder: Path, table: str, delimiter: str) -> list[Defect]:
    """Write the table with `delimiter` and every decimal point of a number column as a comma:
    one decimal-comma problem per column that holds a decimal (at its first line)."""
    header, rows = read_rows(folder, table)
    defects = []
    for column in NUMBER_COLUMNS[table]:
        i = header.index(column)
        first = next((n for n, row in enumerate(rows) if "." in row[i]), None)
        if first is None:
            continue
        for row in rows:
            row[i] = row[i].replace(".", ",")
        defects.append(Defect(f"{table}.csv", "decimal-comma", column, line_of(rows, first)))
    write_rows(folder, table, header, rows, delimiter)
    return defects


def with_delimiter(folder: Path, table: str, delimiter: str) -> list[Defect]:
    header, rows = read_rows(folder, table)
    write_rows(folder, table, header, rows, delimiter)
    return [Defect(f"{table}.csv", "delimiter-error")]


def rename_column(folder: Path, table: str, column: str, written: str) -> list[Defect]:
    text = (folder / f"{table}.csv").read_text(encoding="utf-8")
    first, rest = text.split("\n", 1)
    delimiter = next((d for d in (";", "\t", "|") if d in first and "," not in first), ",")
    names = first.split(delimiter)
    names[names.index(column)] = written
    (folder / f"{table}.csv").write_text(delimiter.join(names) + "\n" + rest, encoding="utf-8")
    return [Defect(f"{table}.csv", "near-miss-label", column, 1)]


def set_value(folder: Path, table: str, column: str, value: str, index: int) -> list[Defect]:
    """Write `value` in data row `index` of a comma-separated table: a type error there."""
    header, rows = read_rows(folder, table)
    rows[index][header.index(column)] = value
    write_rows(folder, table, header, rows)
    return [Defect(f"{table}.csv", "type-error", column, line_of(rows, index))]


def strip_zeros(folder: Path, table: str, column: str) -> list[Defect]:
    """Drop the leading zeros of every code of a column, as a spreadsheet does: one problem per
    code that lost them (at its first line)."""
    header, rows = read_rows(folder, table)
    i = header.index(column)
    firsts: dict[str, int] = {}
    for n, row in enumerate(rows):
        code = row[i]
        if len(code) > 1 and code.startswith("0") and code.isdigit():
            row[i] = code.lstrip("0") or "0"
            firsts.setdefault(code, line_of(rows, n))
    write_rows(folder, table, header, rows)
    return [Defect(f"{table}.csv", "leading-zeros", column, line) for line in sorted(firsts.values())]


def pad_education_codes(folder: Path) -> None:
    """Zero-pad the national education codes (metadata and tables), as some countries write them."""
    edit_metadata(
        folder,
        lambda meta: meta.update(
            education_levels=[{**lv, "code": str(lv["code"]).zfill(2)} for lv in meta["education_levels"]]
        ),
    )
    for table in ("persons", "emigrants"):
        header, rows = read_rows(folder, table)
        i = header.index("education_code")
        for row in rows:
            row[i] = row[i].zfill(2) if row[i] else ""
        write_rows(folder, table, header, rows)


def first_row(folder: Path, table: str, column: str, accept: Callable[[str], bool]) -> int:
    header, rows = read_rows(folder, table)
    i = header.index(column)
    return next(n for n, row in enumerate(rows) if accept(row[i]))


# --- the cases --------------------------------------------------------------------------------


def issue_scenario(folder: Path) -> list[Defect]:
    """Issue 22's submission: a CIV kit filled in by hand in a French-language spreadsheet."""
    defects = strip_zeros(folder, "communities", "region_code")
    defects += set_value(folder, "persons", "age", "29 ans", first_row(folder, "persons", "age", str.isdigit))
    index = first_row(folder, "emigrants", "year_left", str.isdigit)
    defects += set_value(folder, "emigrants", "year_left", "15/03/2000", index)
    defects += decimal_commas(folder, "households", ";")
    defects += [Defect("households.csv", "delimiter-error")]
    defects += rename_column(folder, "households", "remittances_amount", "Remittances amount")
    edit_metadata(folder, lambda meta: meta["fieldwork"].update(start="15/09/2014"))
    defects.append(Defect("metadata.yaml", "metadata-error", "fieldwork.start"))
    return defects


def semicolons(folder: Path) -> list[Defect]:
    defects = set_value(folder, "persons", "age", "29 ans", 3)
    return defects + with_delimiter(folder, "persons", ";")


def tabs_and_a_renamed_column(folder: Path) -> list[Defect]:
    defects = with_delimiter(folder, "emigrants", "\t")
    return defects + rename_column(folder, "emigrants", "year_left", "Year Left")


def quoted_decimal_commas(folder: Path) -> list[Defect]:
    """A comma-separated file whose decimals are written `"1,5"` (quoted, as Excel writes them)."""
    return decimal_commas(folder, "households", ",")


def renamed_columns(folder: Path) -> list[Defect]:
    defects = rename_column(folder, "communities", "region_code", "Region Code")
    defects += rename_column(folder, "persons", "education_code", "Éducation-code")
    return defects + rename_column(folder, "households", "household_size", "household size ")


def region_zeros(folder: Path) -> list[Defect]:
    return strip_zeros(folder, "communities", "region_code")


def education_zeros(folder: Path) -> list[Defect]:
    pad_education_codes(folder)
    return strip_zeros(folder, "persons", "education_code")


def type_errors_and_unknown_codes(folder: Path) -> list[Defect]:
    """A type error and an unknown destination in other rows: both reported in the first round
    (harmonization runs on the rows that parse)."""
    defects = set_value(folder, "persons", "sex", "M", 0)
    header, rows = read_rows(folder, "emigrants")
    i = header.index("destination")
    rows[4][i] = "Atlantis"
    write_rows(folder, "emigrants", header, rows)
    return [*defects, Defect("emigrants.csv", "unknown-code", "destination", line_of(rows, 4))]


def pipes_with_decimal_commas_and_a_lost_table(folder: Path) -> list[Defect]:
    (folder / "emigrants.csv").unlink()
    defects = [Defect("emigrants.csv", "missing-file")]
    defects += set_value(folder, "persons", "age", "vingt", 2)
    defects += decimal_commas(folder, "households", "|")
    return [*defects, Defect("households.csv", "delimiter-error")]


def a_missing_column_and_region_zeros(folder: Path) -> list[Defect]:
    """A column left out stops harmonization; the region codes of the tables read are still
    checked in the same round."""
    header, rows = read_rows(folder, "persons")
    i = header.index("age")
    write_rows(folder, "persons", header[:i] + header[i + 1 :], [row[:i] + row[i + 1 :] for row in rows])
    return [
        Defect("persons.csv", "missing-label", "age", 1),
        *strip_zeros(folder, "communities", "region_code"),
    ]


def a_household_sent_twice(folder: Path) -> list[Defect]:
    """A line pasted twice: one duplicate key, not also a `unique` constraint error (in every language)."""
    header, rows = read_rows(folder, "households")
    rows.append(list(rows[1]))
    write_rows(folder, "households", header, rows)
    return [Defect("households.csv", "primary-key", "household_number", line_of(rows, len(rows) - 1))]


def windows_1252_with_a_bad_code(folder: Path) -> list[Defect]:
    """A table saved as Windows-1252 (Excel's "CSV" on a French Windows) with a sex code 3: the
    encoding is said once and the file read as such, so the code is found in the same round."""
    defects = set_value(folder, "emigrants", "sex", "3", 6)
    defects = [Defect(d.file, "constraint-error", d.field, d.row) for d in defects]
    text = (folder / "emigrants.csv").read_text(encoding="utf-8")
    first = next(n for n, line in enumerate(text.split("\n"), start=1) if not line.isascii())
    (folder / "emigrants.csv").write_bytes(text.encode("cp1252"))
    return [Defect("emigrants.csv", "encoding-error", None, first), *defects]


# name -> (the country of the valid submission it starts from, the plant)
CASES: dict[str, tuple[str, Callable[[Path], list[Defect]]]] = {
    "issue-22-scenario": ("CIV", issue_scenario),
    "semicolons": ("KHM", semicolons),
    "tabs-and-a-renamed-column": ("KHM", tabs_and_a_renamed_column),
    "quoted-decimal-commas": ("KHM", quoted_decimal_commas),
    "renamed-columns": ("KHM", renamed_columns),
    "region-zeros": ("CIV", region_zeros),
    "education-zeros": ("KHM", education_zeros),
    "type-errors-and-unknown-codes": ("KHM", type_errors_and_unknown_codes),
    "pipes-decimal-commas-and-a-lost-table": ("CIV", pipes_with_decimal_commas_and_a_lost_table),
    "a-missing-column-and-region-zeros": ("CIV", a_missing_column_and_region_zeros),
    "a-household-sent-twice": ("KHM", a_household_sent_twice),
    "windows-1252-with-a-bad-code": ("CIV", windows_1252_with_a_bad_code),
}

"""Reading the originals as grids of cell values, and the cell-level rules shared by all parsers.

Every parser works on plain rows of values so that one set of rules (missing markers, year headers,
error locations) covers .xlsx (openpyxl), legacy .xls (xlrd) and CSV alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ippmd.core.errors import InputError, Problem

Cell = str | int | float | None

# Written in the originals for "no data": UN DESA `..`, World Bank blank, a lone space or `-`.
MISSING_TEXT = frozenset({"", "..", "-"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Value:
    """One country-year cell of a by-country table, and where it is (for the `method` column)."""

    iso3: str
    year: int
    value: float
    where: str


@dataclass(frozen=True)
class Sheet:
    """One worksheet's values, with the file label used in error messages."""

    file: str
    name: str
    rows: list[tuple[Cell, ...]]

    @property
    def where(self) -> str:
        return f"{self.file} [sheet {self.name}]"

    def at(self, row: int, col: int) -> str:
        """Where a 0-based cell is, for the `method` column: "sheet 'Table 1' row 127 col K"."""
        return f"sheet '{self.name}' row {row + 1} col {column_letter(col)}"

    def cell(self, row: int, col: int) -> Cell:
        """Value at 0-based (row, col); None beyond the sheet's used range."""
        if row >= len(self.rows) or col >= len(self.rows[row]):
            return None
        return self.rows[row][col]

    def problem(
        self, message: str, row: int | None = None, col: int | None = None, value: Cell = None
    ) -> Problem:
        """A Problem at 0-based (row, col), shown 1-based with the Excel column letter."""
        return Problem(
            file=self.where,
            message=message,
            row=None if row is None else row + 1,
            field=None if col is None else column_letter(col),
            value=None if value is None else str(value),
        )


def column_letter(col: int) -> str:
    """Excel column name of a 0-based index (0 -> A, 26 -> AA)."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_sheets(path: Path, sheets: Sequence[str | int], label: str | None = None) -> dict[str | int, Sheet]:
    """Read the named (or 0-based numbered) sheets of an .xlsx or .xls workbook, values only."""
    label = label or path.name
    if not path.is_file():
        raise InputError([Problem(file=label, message=f"original file not found at {path}")])
    if path.suffix.lower() == ".xls":
        return _read_xls(path, sheets, label)
    return _read_xlsx(path, sheets, label)


def _sheet_name(available: list[str], wanted: str | int, label: str) -> str:
    if isinstance(wanted, int):
        if wanted < len(available):
            return available[wanted]
    elif wanted in available:
        return wanted
    raise InputError([Problem(file=label, message=f"no sheet {wanted!r}; the workbook has {available}")])


def _read_xlsx(path: Path, sheets: Sequence[str | int], label: str) -> dict[str | int, Sheet]:
    import openpyxl

    # read_only + data_only: streamed cells and cached formula results (the "World" totals).
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        out = {}
        for wanted in sheets:
            name = _sheet_name(book.sheetnames, wanted, label)
            rows = [tuple(map(plain_cell, row)) for row in book[name].iter_rows(values_only=True)]
            out[wanted] = Sheet(label, name, rows)
        return out
    finally:
        book.close()


def _read_xls(path: Path, sheets: Sequence[str | int], label: str) -> dict[str | int, Sheet]:
    import xlrd

    book = xlrd.open_workbook(str(path), on_demand=True)
    try:
        out = {}
        for wanted in sheets:
            name = _sheet_name(book.sheet_names(), wanted, label)
            sheet = book.sheet_by_name(name)
            rows: list[tuple[Cell, ...]] = []
            for r in range(sheet.nrows):
                types, values = sheet.row_types(r), sheet.row_values(r)
                rows.append(
                    tuple(
                        None if t in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK) else plain_cell(v)
                        for t, v in zip(types, values, strict=True)
                    )
                )
            out[wanted] = Sheet(label, name, rows)
        return out
    finally:
        book.release_resources()


def plain_cell(value: object) -> Cell:
    """A workbook value as a Cell: text and numbers as they are, anything else (a date, a formula
    object) as its text, which the parsers then report as "not a number" instead of crashing on."""
    return value if value is None or isinstance(value, str | int | float) else str(value)


def header_text(value: Cell) -> str:
    """A header cell with white space collapsed and lower-cased ("Sort\\norder" -> "sort order")."""
    return " ".join(str(value).split()).lower() if value is not None else ""


def find_row(sheet: Sheet, predicate: Callable[[tuple[Cell, ...]], bool], what: str, start: int = 0) -> int:
    """0-based index of the first row from `start` that matches, or an InputError naming `what`."""
    for index in range(start, len(sheet.rows)):
        if predicate(sheet.rows[index]):
            return index
    raise InputError([sheet.problem(f"{what} not found")])


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_number(value: Cell, *, zero_is_missing: bool = False) -> float | None:
    """A cell as a float, None when it says "no data"; ValueError for any other text.

    Zero means "no data" in the KNOMAD and bilateral files (`zero_is_missing`), never elsewhere.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif value is None or value.strip() in MISSING_TEXT:
        return None
    elif _NUMBER.match(value.strip().replace(",", "")):
        number = float(value.strip().replace(",", ""))
    else:
        raise ValueError(f"not a number: {value!r}")
    if math.isnan(number) or (zero_is_missing and number == 0):
        return None
    return number


def year_of(value: Cell) -> int | None:
    """A header cell naming a plain year (1990, 1990.0, "1990"), else None ("2018e" is an estimate)."""
    if isinstance(value, bool):
        return None
    if (isinstance(value, int | float) and float(value).is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*\d{4}\s*", value)
    ):
        year = int(value)
    else:
        return None
    return year if 1900 <= year <= 2100 else None


def number_or_problem(
    sheet: Sheet, row: int, col: int, problems: list[Problem], *, zero_is_missing: bool = False
) -> float | None:
    """to_number on one cell, collecting a Problem (with its location) instead of raising."""
    value = sheet.cell(row, col)
    try:
        return to_number(value, zero_is_missing=zero_is_missing)
    except ValueError:
        problems.append(sheet.problem("expected a number or a missing-value marker", row, col, value))
        return None

"""IPUMS-style fixed-width data files (`ippmd extract --format ipums`).

Why: IPUMS ships every extract as a fixed-width `.dat` file with a DDI codebook that places each
variable (columns, implied decimals) and lists its codes, and its clients (`ipumspy`,
`ipumsr`) read exactly that. Each table becomes one such file with a DDI of its own (one record
type per DDI, as `ipumspy.readers.read_ipums_ddi` requires).

The cells are cut from the package CSV as text, so no number is re-spelled by a float: a number
field keeps every digit, written as an integer with `decimals` implied places (1.52053 with 6
places is `1520530`). Missing values are coded as in SPSS (ippmd.package.missing): -9 not in
universe and -8 unknown in numeric fields that cannot be negative, `NIU` and blank in strings;
other numeric fields leave the cell blank. Numbers are right-aligned, text left-aligned, lines
end in `\\n`, the file is UTF-8 and widths count characters.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.package.ddi import Location, missing_codes

NIU_TEXT = "NIU"  # how the package CSV writes a value not in universe (ippmd.package.missing)


def _decimal(text: str, file: str, field: str, row: int) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(
            [Problem(file, "not a number in the package CSV", row=row, field=field, value=text[:40])]
        ) from None
    if not value.is_finite():
        raise InputError([Problem(file, "not a finite number", row=row, field=field, value=text[:40])])
    return value


def _places(values: list[Decimal]) -> int:
    """The implied decimal places that hold every value exactly."""
    return max((max(0, -int(v.as_tuple().exponent)) for v in values), default=0)


def _number_cells(column: pl.Series, field: dict[str, Any], file: str) -> tuple[list[str], int]:
    """A numeric column as integer text with implied decimals, missing values coded."""
    niu_code, unknown_code = missing_codes(field, "ipums")
    texts = column.to_list()
    values = {
        i: _decimal(text, file, field["name"], i + 2)
        for i, text in enumerate(texts)
        if text not in (None, NIU_TEXT)
    }
    places = _places(list(values.values())) if field["type"] == "number" else 0
    scale = Decimal(10) ** places
    cells = []
    for i, text in enumerate(texts):
        if i in values:
            cells.append(str(int(values[i] * scale)))
        else:
            code = niu_code if text == NIU_TEXT else unknown_code
            cells.append("" if code is None else str(int(Decimal(code) * scale)))
    return cells, places


def _text_cells(column: pl.Series, field: dict[str, Any], file: str) -> list[str]:
    cells = ["" if text is None else text for text in column.to_list()]
    for i, cell in enumerate(cells):
        if "\n" in cell or "\r" in cell or cell != cell.strip():
            message = "a line break or edge space cannot be kept in a fixed-width file"
            raise InputError([Problem(file, message, row=i + 2, field=field["name"], value=cell[:40])])
    return cells


def write_fixed_width(text: pl.DataFrame, fields: list[dict[str, Any]], dest: Path) -> dict[str, Location]:
    """Write the rows (package CSV text, columns = `fields`) as a fixed-width file; returns
    each variable's place in the record, for the DDI."""
    file = dest.name
    by_name = {f["name"]: f for f in fields}
    columns: list[tuple[list[str], bool]] = []
    locations: dict[str, Location] = {}
    start = 1
    for name in text.columns:
        field = by_name[name]
        if field["type"] in ("integer", "number"):
            cells, places = _number_cells(text[name], field, file)
            numeric = True
        else:
            cells, places, numeric = _text_cells(text[name], field, file), 0, False
        width = max((len(cell) for cell in cells), default=0) or 1
        locations[name] = Location(start, width, places)
        columns.append(([c.rjust(width) if numeric else c.ljust(width) for c in cells], numeric))
        start += width
    lines = ["".join(row) for row in zip(*(cells for cells, _ in columns), strict=True)]
    dest.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8", newline="\n")
    return locations

"""Text that is safe to show and to hand to spreadsheets: no control characters, no formulas.

Control characters (C0, DEL, C1: terminal escapes among them) are removed from everything
printed or written to HTML or Markdown, so a cell cannot clear the screen and paint a fake VALID.
A text cell that starts with a spreadsheet formula character is refused where it is written for
spreadsheet users (package and extract CSVs); numbers such as -1.5 are not formulas.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars is imported where frames are checked: core.errors imports this module
    import polars as pl

# C0 controls but tab and line feed, DEL, and C1 controls (U+0080-U+009F, e.g. CSI U+009B).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ONE_LINE = re.compile(r"[\t\n]")
FORMULA_PATTERN = r"^[=+\-@\t\r]"  # what Excel, LibreOffice and Sheets read as the start of a formula


def printable(text: str, one_line: bool = True) -> str:
    """`text` without control characters or lone surrogates (as '?'); tabs and line breaks become
    spaces when `one_line`."""
    cleaned = _CONTROL.sub("", text)
    if one_line:
        cleaned = _ONE_LINE.sub(" ", cleaned)
    if any("\ud800" <= c <= "\udfff" for c in cleaned):
        cleaned = cleaned.encode("utf-8", "replace").decode("utf-8")
    return cleaned


def formula_cells(text: pl.Expr) -> pl.Expr:
    """True for text cells a spreadsheet would run as a formula (not plain numbers)."""
    import polars as pl

    return text.str.contains(FORMULA_PATTERN) & text.cast(pl.Float64, strict=False).is_null()


def first_formula_cell(frame: pl.DataFrame) -> tuple[str, int, str] | None:
    """The first (column, 1-based row, value) of `frame` that is a formula cell, if any."""
    import polars as pl

    columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not columns:
        return None
    first = (formula_cells(pl.col(c)).fill_null(False).arg_true().first().alias(c) for c in columns)
    hits = frame.select(first)
    for column in columns:
        row = hits[column][0]
        if row is not None:
            return column, int(row) + 1, str(frame[column][int(row)])
    return None

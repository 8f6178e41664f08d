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
# ... and the Unicode controls that reorder or break what is shown: bidirectional embeddings,
# overrides and isolates (a right-to-left override can make "VALID" of "DILAV"), line and paragraph
# separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_ONE_LINE = re.compile(r"[\t\n]")
FORMULA_PATTERN = r"^[=+\-@\t\r]"  # what Excel, LibreOffice and Sheets read as the start of a formula
# A plain number (what is not a formula although it starts with + or -), as a regex for polars.
PLAIN_NUMBER_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# The characters `printable` removes, as a regex for polars (Rust syntax): refused in cells.
CONTROL_PATTERN = r"[\x00-\x1F\x7F-\x{9F}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{2028}\x{2029}]"


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

    return text.str.contains(FORMULA_PATTERN) & ~text.str.contains(PLAIN_NUMBER_PATTERN)


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

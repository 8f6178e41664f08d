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

# The control characters, stated once as code point ranges: C0 controls, DEL and C1 controls
# (U+0080-U+009F, e.g. CSI U+009B: terminal escapes), and the Unicode controls that reorder or
# break what is shown: bidirectional marks, embeddings, overrides and isolates (a right-to-left
# override can make "VALID" of "DILAV"), line and paragraph separators.
CONTROL_RANGES = (
    (0x00, 0x1F), (0x7F, 0x9F), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069), (0x2028, 0x2029),
)  # fmt: skip
CONTROL_CHARS = frozenset(chr(c) for first, last in CONTROL_RANGES for c in range(first, last + 1))
# The same, as a regex for polars (Rust syntax): refused in cells.
CONTROL_PATTERN = "[" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in CONTROL_RANGES) + "]"
# What `printable` removes: the same but tab and line feed (made spaces, or kept).
_CONTROL = re.compile("[" + "".join(re.escape(c) for c in sorted(CONTROL_CHARS - {"\t", "\n"})) + "]")
_ONE_LINE = re.compile(r"[\t\n]")
FORMULA_PATTERN = r"^[=+\-@\t\r]"  # what Excel, LibreOffice and Sheets read as the start of a formula
# A plain number (what is not a formula although it starts with + or -), as a regex for polars.
PLAIN_NUMBER_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def printable(text: str, one_line: bool = True) -> str:
    """`text` without control characters or lone surrogates (as '?'); tabs and line breaks become
    spaces when `one_line`."""
    cleaned = _CONTROL.sub("", text)
    if one_line:
        cleaned = _ONE_LINE.sub(" ", cleaned)
    return _without_lone_surrogates(cleaned)


def _without_lone_surrogates(text: str) -> str:
    """Lone surrogates (from undecodable file names) as '?': they cannot be written as UTF-8."""
    if any("\ud800" <= c <= "\udfff" for c in text):
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def shown(text: str) -> str:
    """`text` for a terminal: control characters written out as \\xNN (tab and line feed kept),
    so that a code given as `KH\\x1b[2JM` is printed as what it is, and cannot clear the screen."""
    escaped = _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )
    return _without_lone_surrogates(escaped)


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

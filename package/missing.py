"""The two kinds of missing value, and how each file format writes them.

Why one place: *not in universe* (the question was not asked of this unit) and *unknown* (asked,
not answered: don't know, refused, or lost) mean different things for an analyst, so every
format keeps them apart and every document (codebook, DDI, extract notes) states the same codes.

| format  | not in universe                    | unknown                                |
|---------|------------------------------------|----------------------------------------|
| CSV     | `NIU`                              | empty cell                             |
| Stata   | extended missing `.n`              | extended missing `.u`                  |
| SPSS    | user-missing -9 (strings: `NIU`)   | user-missing -8 (strings: empty)       |
| IPUMS   | -9 (strings: `NIU`)                | -8 (strings: blank)                    |
| Parquet | null; the row's universe is false  | null; the row's universe is true       |

"Strings" are free text: in Stata and SPSS a string with categories is written as a labelled
integer (ippmd.package.labels.integer_codes) and takes the numbers' codes.

The SPSS codes are negative, outside every coded or measured value of the microdata (all have
a minimum of 0 or more); a field that could take them keeps system missing instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from ippmd.core.schema import universe_mask

NIU_LABEL = "Not in universe"
UNKNOWN_LABEL = "Unknown (don't know, refused or not reported)"
SPSS_NIU, SPSS_UNKNOWN = -9, -8
STATA_NIU, STATA_UNKNOWN = "n", "u"


@dataclass(frozen=True)
class MissingCodes:
    """How one format writes the two missing kinds (for documents)."""

    niu: str
    unknown: str


CODES: dict[str, MissingCodes] = {
    "csv": MissingCodes("NIU", "(empty cell)"),
    "dta": MissingCodes(".n", ".u"),
    "sav": MissingCodes(str(SPSS_NIU), str(SPSS_UNKNOWN)),
    # IPUMS-style fixed-width text: the SPSS codes; strings NIU and blank
    "ipums": MissingCodes(str(SPSS_NIU), str(SPSS_UNKNOWN)),
    "parquet": MissingCodes("null where the universe is false", "null where the universe is true"),
}


def can_be_missing(field: dict[str, Any]) -> bool:
    """A field whose value may be absent: not required, or asked of a universe only."""
    return "universe" in field or not field.get("constraints", {}).get("required", False)


def spss_codes_fit(field: dict[str, Any]) -> bool:
    """Negative user-missing codes cannot be confused with a value of this field."""
    if field["type"] == "string":
        return True
    constraints = field.get("constraints", {})
    values = [c["value"] for c in field.get("categories", [])]
    if values:
        return min(values) >= 0
    return constraints.get("minimum") is not None and constraints["minimum"] >= 0


def missing_kinds(frame: pl.DataFrame, field: dict[str, Any]) -> tuple[pl.Series, pl.Series]:
    """Boolean masks (not in universe, unknown) of one field's nulls, from its universe."""
    null = frame[field["name"]].is_null()
    inside = universe_mask(frame, field)
    return (null & ~inside).alias("niu"), (null & inside).alias("unknown")

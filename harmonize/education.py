"""National education levels to ISCED 2011 levels and years of schooling."""

from __future__ import annotations

from typing import Any

import polars as pl

from ippmd.core.errors import InputError
from ippmd.harmonize.correspondence import recode
from ippmd.harmonize.regions import said_with_lost_zeros


def education_table(levels: list[dict[str, Any]], code_column: str) -> pl.DataFrame:
    """The country's correspondence table: national code -> ISCED level, years."""
    return pl.DataFrame(
        {
            code_column: [str(lv["code"]) for lv in levels],
            "education_level": [int(lv["isced"]) for lv in levels],
            "education_years": [int(lv["years"]) for lv in levels],
        },
        schema={code_column: pl.String, "education_level": pl.Int64, "education_years": pl.Int64},
    )


def harmonize_education(
    frame: pl.DataFrame, levels: list[dict[str, Any]], *, code_column: str, file: str
) -> pl.DataFrame:
    """Add education_level (ISCED) and education_years; an unmapped national code is an error
    (one that lost its leading zeros said so)."""
    table = education_table(levels, code_column)
    try:
        return recode(frame, code_column, table, file=file, what="national education code")
    except InputError as exc:
        raise said_with_lost_zeros(exc, table[code_column].to_list()) from None

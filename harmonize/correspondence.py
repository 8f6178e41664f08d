"""Recode through a correspondence table, failing loudly on any code the table lacks."""

from __future__ import annotations

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.i18n import t


def recode(
    frame: pl.DataFrame,
    column: str,
    table: pl.DataFrame,
    *,
    file: str,
    what: str,
) -> pl.DataFrame:
    """Left-join `table` on `column`; a non-null code absent from the table is an error.

    `table` has `column` as its key; its other columns are added to the frame.
    """
    joined = frame.with_row_index("__row").join(table, on=column, how="left", maintain_order="left")
    added = [c for c in table.columns if c != column]
    unknown = joined.filter(pl.col(column).is_not_null() & pl.col(added[0]).is_null())
    if unknown.height:
        named = _what(what)
        known = ", ".join(table[column].cast(pl.String).to_list()[:12])
        codes = sorted(set(unknown[column].cast(pl.String).to_list()))
        problems = [
            Problem(
                file,
                t("checks.code-not-in-table", what=named, known=known),
                row=int(r) + 2,
                field=column,
                value=str(v),
                code="unknown-code",
            )
            for r, v in unknown.select("__row", column).head(20).iter_rows()
        ]
        if unknown.height > 20:
            problems.append(
                Problem(
                    file,
                    t("checks.unknown-codes-rows", count=unknown.height, codes=str(codes[:10])),
                    field=column,
                    code="unknown-code",
                )
            )
        raise InputError(problems)
    return joined.drop("__row")


def _what(what: str) -> str:
    """What a recoded column holds, in the current language (the callers name it in English)."""
    words = {
        "region code": t("checks.what-region-code"),
        "national education code": t("checks.what-education-code"),
    }
    return words.get(what, what)

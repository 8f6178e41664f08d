"""Recode through a correspondence table, failing loudly on any code the table lacks."""

from __future__ import annotations

import polars as pl

from ippmd.core.errors import InputError, Problem


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
        codes = sorted(set(unknown[column].cast(pl.String).to_list()))
        problems = [
            Problem(
                file,
                f"{what} is not in the correspondence table (known: "
                f"{', '.join(table[column].cast(pl.String).to_list()[:12])})",
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
                    f"{unknown.height} rows in all with unknown codes {codes[:10]}",
                    field=column,
                    code="unknown-code",
                )
            )
        raise InputError(problems)
    return joined.drop("__row")

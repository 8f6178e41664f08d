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
        codes = sorted(set(unknown[column].cast(pl.String).to_list()))
        known = table[column].cast(pl.String).to_list()
        restored = lost_zeros(codes, known)
        problems = [
            Problem(
                file,
                t("harmonize.lost-zeros", written=str(v), code=restored[str(v)])
                if str(v) in restored
                else t("harmonize.not-in-table", what=what, known=", ".join(known[:12])),
                row=int(r) + 2,
                field=column,
                value=str(v),
                code="leading-zeros" if str(v) in restored else "unknown-code",
            )
            for r, v in unknown.select("__row", column).head(20).iter_rows()
        ]
        if unknown.height > 20:
            problems.append(
                Problem(
                    file,
                    t("harmonize.unknown-codes", count=unknown.height, codes=", ".join(codes[:10])),
                    field=column,
                    code="unknown-code",
                )
            )
        raise InputError(problems)
    return joined.drop("__row")


def lost_zeros(codes: list[str], known: list[str]) -> dict[str, str]:
    """Codes that are a known zero-padded code with its leading zeros lost (`5` for `05`, as a
    spreadsheet writes a code it read as a number) -> that known code. Only digits are matched,
    and only when exactly one known code fits."""
    padded: dict[str, list[str]] = {}
    for code in known:
        if code.isdigit() and code.startswith("0") and len(code) > 1:
            padded.setdefault(code.lstrip("0") or "0", []).append(code)
    return {
        code: padded[code][0]
        for code in codes
        if code.isdigit() and code not in known and len(padded.get(code, [])) == 1
    }

"""National region codes to ISO 3166-2 codes and names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl

from ippmd.core.errors import InputError
from ippmd.core.i18n import t
from ippmd.harmonize.correspondence import recode


def harmonize_regions(frame: pl.DataFrame, regions: list[dict[str, Any]], *, file: str) -> pl.DataFrame:
    """Replace the national region_code by its ISO 3166-2 code and add region_name."""
    table = pl.DataFrame(
        {
            "region_code": [str(r["code"]) for r in regions],
            "region_iso": [str(r["iso_3166_2"]) for r in regions],
            "region_name": [str(r["name"]) for r in regions],
        }
    )
    try:
        recoded = recode(frame, "region_code", table, file=file, what="region code")
    except InputError as exc:
        raise said_with_lost_zeros(exc, table["region_code"].to_list()) from None
    return recoded.drop("region_code").rename({"region_iso": "region_code"})


def lost_zeros(codes: list[str], known: list[str]) -> dict[str, str]:
    """Codes that are a known zero-padded code with its leading zeros lost (`5` for `05`, as a
    spreadsheet writes a code it read as a number) -> that known code: regions, education levels
    or any code the metadata lists. Only digits are matched, and only when one known code fits."""
    padded: dict[str, list[str]] = {}
    for code in known:
        if code.isdigit() and code.startswith("0") and len(code) > 1:
            padded.setdefault(code.lstrip("0") or "0", []).append(code)
    return {
        code: padded[code][0]
        for code in codes
        if code.isdigit() and code not in known and len(padded.get(code, [])) == 1
    }


def said_with_lost_zeros(error: InputError, known: list[str]) -> InputError:
    """A recoding's unknown codes, those that lost their leading zeros said so (`ippmd build`)."""
    restored = lost_zeros(sorted({p.value for p in error.problems if p.value is not None}), known)
    return InputError(
        [
            replace(
                p,
                message=t("harmonize.lost-zeros", written=p.value, code=restored[p.value]),
                code="leading-zeros",
            )
            if p.value in restored
            else p
            for p in error.problems
        ]
    )

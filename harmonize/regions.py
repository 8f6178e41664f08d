"""National region codes to ISO 3166-2 codes and names."""

from __future__ import annotations

from typing import Any

import polars as pl

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
    recoded = recode(frame, "region_code", table, file=file, what=t("harmonize.what-region"))
    return recoded.drop("region_code").rename({"region_iso": "region_code"})

"""The indicator table: one row per country x indicator x partner x period x vintage.

The columns and their order come from schemas/harmonized/country_indicators.json (the single source
of truth); this module turns parsed values into that table and keeps it deterministic.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.home import schemas_dir
from ippmd.indicators.provenance import Source

SCHEMA_FILE = schemas_dir("harmonized", "country_indicators.json")

# Partner code of every value that is not bilateral ("all partners").
ALL_PARTNERS = "WLD"

# Indicator -> unit (the schema's `indicator` enum must list exactly these names).
INDICATORS: dict[str, str] = {
    "population": "persons",
    "emigrant_stock": "persons",
    "emigrant_stock_share": "% of population",
    "immigrant_stock": "persons",
    "immigrant_stock_share": "% of population",
    "emigrants_by_destination": "persons",
    "remittance_cost_usd200": "% of amount sent",
    "remittance_inflows": "US$ million",
    "remittances_by_sender": "US$ million",
    "remittances_pct_gdp": "% of GDP",
    "remittance_cost_usd200_wdi": "% of amount sent",
    # Corridors (partner = the other end): what `ippmd extract --attach corridor.*` puts on emigrants
    "corridor_migrant_stock": "persons",
    "corridor_remittance_flow": "US$ million",
    "corridor_remittance_cost": "% of amount sent",
}

# Deterministic order of the rows (the primary key, most significant first).
SORT_KEY = ["iso3", "indicator", "vintage", "partner_iso3", "period"]
_POLARS_TYPES = {"string": pl.String, "integer": pl.Int64, "number": pl.Float64}


@cache
def schema() -> dict[str, Any]:
    return json.loads(Path(SCHEMA_FILE).read_text(encoding="utf-8"))


def polars_schema() -> dict[str, type[pl.DataType]]:
    return {f["name"]: _POLARS_TYPES[f["type"]] for f in schema()["fields"]}


@dataclass(frozen=True)
class Row:
    """One indicator value with where it came from (`method` names the sheet, row and column)."""

    iso3: str
    indicator: str
    period: str
    value: float
    source: Source
    method: str
    partner_iso3: str = ALL_PARTNERS
    n_corridors: int | None = None

    @property
    def year(self) -> int:
        return int(self.period[:4])

    def record(self) -> dict[str, Any]:
        return {
            "iso3": self.iso3,
            "indicator": self.indicator,
            "partner_iso3": self.partner_iso3,
            "period": self.period,
            "year": self.year,
            "value": float(self.value),
            "unit": INDICATORS[self.indicator],
            "n_corridors": self.n_corridors,
            "source": self.source.id,
            "vintage": self.source.vintage,
            "source_file": self.source.file,
            "method": self.method,
        }


def to_frame(rows: Iterable[Row]) -> pl.DataFrame:
    """The rows as a table in schema order, sorted by the primary key; a duplicate key is a bug."""
    frame = pl.DataFrame([r.record() for r in rows], schema=polars_schema(), orient="row")
    frame = frame.sort(SORT_KEY)
    duplicated = frame.select(SORT_KEY).is_duplicated()
    if duplicated.any():
        raise ValueError(
            f"duplicate indicator keys: {frame.filter(duplicated).select(SORT_KEY).head(5).rows()}"
        )
    return frame


def top_partners(values: Iterable[tuple[str, float, str]], n: int = 10) -> list[tuple[str, float, str]]:
    """The n largest positive (partner, value, where) entries; ties broken by partner code."""
    positive = [v for v in values if v[1] > 0]
    return sorted(positive, key=lambda v: (-v[1], v[0]))[:n]


def _text(value: object) -> str:
    """One fixed spelling per value: integers without a decimal point, floats as Python's shortest repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write UTF-8 CSV ("\\n" line ends, minimal quoting, empty = null) via a temp file and os.replace.

    The same frame always gives the same bytes, and the file is either the old one or the
    complete new one, never half written.
    """
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    for record in frame.iter_rows():
        writer.writerow([_text(v) for v in record])
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(buffer.getvalue())
        os.chmod(temp, 0o644)  # mkstemp creates 0600; a data file is world-readable
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

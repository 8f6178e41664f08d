"""`--attach corridor.<measure>`: the real figure of each emigrant's corridor, from the package's
country indicators.

Why: each emigrant has a destination, and the package holds real bilateral data on the corridor
from that destination back to the origin country (World Bank Remittance Prices Worldwide by
corridor and year, UN DESA 2015 bilateral migrant stocks, World Bank 2017 bilateral remittance
estimates). IPUMS attaches only within a household; attaching the corridor lets an analyst put a
synthetic emigrant next to the real cost of sending money home from where he lives.

Each measure adds its value, for the cost the year used (the origin survey's year, else the
nearest year with data, the earlier on a tie), and a `_match` column saying why a value is
missing: `matched`, `no corridor data` or `destination unknown`. The values are REAL (each
column's description names its source and vintage); the emigrants they sit beside are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from ippmd.package.read import BuiltPackage

CORRIDOR = "corridor"  # the table name used in --attach corridor.<measure>
TARGET = "emigrants"  # the table whose rows have a corridor (country -> destination)
INDICATORS = "country_indicators"
MATCHED, NO_DATA, UNKNOWN = "matched", "no corridor data", "destination unknown"


@dataclass(frozen=True)
class Measure:
    """One corridor measure: the indicator it reads and how it is worded."""

    indicator: str
    title: str
    unit: str
    by_year: bool  # a series by year: the survey's year is chosen, else the nearest


MEASURES: dict[str, Measure] = {
    "remittance_cost": Measure(
        "corridor_remittance_cost",
        "Cost of sending USD 200 from the destination to the origin country (corridor)",
        "% of amount sent",
        True,
    ),
    "migrant_stock": Measure(
        "corridor_migrant_stock",
        "Emigrants of the origin country living in the destination, 2015 (corridor)",
        "persons",
        False,
    ),
    "remittance_flow": Measure(
        "corridor_remittance_flow",
        "Remittances from the destination to the origin country, 2017 (corridor)",
        "US$ million",
        False,
    ),
}


def output_names(measure: str) -> list[str]:
    """The columns a measure adds to each emigrant row."""
    return [measure, *([f"{measure}_year"] if MEASURES[measure].by_year else []), f"{measure}_match"]


def _sources(package: BuiltPackage, indicator: str) -> str:
    """Source and vintage of an indicator's rows, from the package's own table and descriptor."""
    rows = package.read_table(INDICATORS).filter(pl.col("indicator") == indicator)
    files = sorted(set(rows["source_file"].to_list()))
    listed = {s.get("file"): s for s in package.resource(INDICATORS).raw.get("sources", [])}
    parts = []
    for file in files:
        entry = listed.get(file, {})
        parts.append(f"{entry.get('title', file)}, {entry.get('path', '')} (file {file})".replace(", ,", ","))
    vintages = sorted(set(rows["vintage"].to_list()))
    return f"REAL data. Source: {'; '.join(parts)}. Vintage: {', '.join(vintages)}."


def fields(package: BuiltPackage, measure: str) -> list[dict[str, Any]]:
    """The field descriptions of a measure's columns (source and vintage in the description)."""
    spec = MEASURES[measure]
    where = _sources(package, spec.indicator)
    out: list[dict[str, Any]] = [
        {
            "name": measure,
            "type": "number",
            "title": spec.title,
            "description": f"{where} Joined on the emigrant's country (origin) and destination "
            f"(partner); null when `{measure}_match` is not `matched`.",
            "unit": spec.unit,
        }
    ]
    if spec.by_year:
        out.append(
            {
                "name": f"{measure}_year",
                "type": "integer",
                "title": f"Year of {measure}",
                "description": "The origin survey's year, else the nearest year with data for the "
                "corridor (the earlier on a tie).",
            }
        )
    out.append(
        {
            "name": f"{measure}_match",
            "type": "string",
            "title": f"Why {measure} is or is not given",
            "description": f"`{MATCHED}`; `{NO_DATA}` (the source has no value for this corridor); "
            f"`{UNKNOWN}` (the emigrant's destination is not a country code).",
            "constraints": {"enum": [MATCHED, NO_DATA, UNKNOWN]},
        }
    )
    return out


def _values(package: BuiltPackage, measure: str, origins: list[str]) -> pl.DataFrame:
    """country, destination, value (and year) of a measure, one row per corridor."""
    spec = MEASURES[measure]
    rows = (
        package.read_table(INDICATORS)
        .filter((pl.col("indicator") == spec.indicator) & pl.col("iso3").is_in(origins))
        .select(pl.col("iso3").alias("country"), pl.col("partner_iso3").alias("destination"), "year", "value")
    )
    if not spec.by_year:
        return rows.select("country", "destination", pl.col("value").alias(measure))
    years = package.read_table("countries").select(pl.col("iso3").alias("country"), "survey_year")
    return (
        rows.join(years, on="country", how="inner")
        .with_columns(distance=(pl.col("year") - pl.col("survey_year")).abs())
        .sort("country", "destination", "distance", "year")
        .unique(["country", "destination"], keep="first", maintain_order=True)
        .select(
            "country", "destination", pl.col("value").alias(measure), pl.col("year").alias(f"{measure}_year")
        )
    )


def attach(package: BuiltPackage, rows: pl.DataFrame, measures: list[str]) -> pl.DataFrame:
    """The measures' columns for `rows` (country, destination), in row order."""
    origins = sorted(set(rows["country"].drop_nulls().to_list()))
    known = rows["destination"].is_not_null() & rows["destination"].str.contains("^[A-Z]{3}$")
    out = []
    for measure in measures:
        joined = rows.select("country", "destination").join(
            _values(package, measure, origins),
            on=["country", "destination"],
            how="left",
            maintain_order="left",
        )
        match = (
            pl.when(~pl.col("known"))
            .then(pl.lit(UNKNOWN))
            .when(pl.col(measure).is_null())
            .then(pl.lit(NO_DATA))
            .otherwise(pl.lit(MATCHED))
        )
        values = [pl.when(pl.col("known")).then(pl.col(c)).alias(c) for c in output_names(measure)[:-1]]
        out.append(joined.with_columns(known=known).select([*values, match.alias(f"{measure}_match")]))
    return pl.concat(out, how="horizontal") if out else pl.DataFrame()


def matched_shares(rows: pl.DataFrame, measures: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per measure, the share of each country's emigrant rows that found their corridor."""
    shares = {}
    for measure in measures:
        by_country = (
            rows.group_by("country")
            .agg((pl.col(f"{measure}_match") == MATCHED).mean().alias("share"))
            .sort("country")
        )
        shares[measure] = {str(c): float(v) for c, v in by_country.iter_rows()}
    return shares

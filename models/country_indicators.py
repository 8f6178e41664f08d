"""Real country-level indicators beside the survey benchmarks: remittance costs, migrant stocks.

They come from the package's optional `country_indicators` resource (columns iso3, indicator,
partner_iso3, period, year, value, unit, n_corridors, source, vintage, source_file, method),
found through datapackage.json. When the package has no such resource the section is skipped
and the report says so.

Choices, so that countries are compared like with like:
* country level: the aggregate row (partner WLD or empty) when given, else the simple mean of
  the country's corridors;
* annual periods only (quarters only where an indicator has no annual value at all);
* one vintage per indicator and period: the one covering most countries, ties to the latest;
* a reference period per group (remittance cost; the two migrant stocks together): the latest
  period in which the focus country has every indicator of the group. Ranks and sentences use
  it; the remittance-cost chart shows every annual period.
A country without a value is shown as missing, never imputed.
"""

from __future__ import annotations

import re

import polars as pl

from ippmd.models.data import PackageData

RESOURCE = "country_indicators"
REMITTANCE_COST = "remittance_cost_usd200"
STOCKS = ("emigrant_stock_share", "immigrant_stock_share")
GROUPS = ((REMITTANCE_COST,), STOCKS)
SDG_TARGET = 3.0  # % of the amount sent (SDG 10.c / Addis Ababa Action Agenda)
AGGREGATE_PARTNERS = ("", "WLD", "ALL", "TOTAL")
INDICATOR_COLUMNS = (
    "country",
    "indicator",
    "period",
    "reference",
    "value",
    "unit",
    "n_corridors",
    "source",
    "vintage",
)
_TEXT = ("iso3", "indicator", "partner_iso3", "period", "unit", "source", "vintage")


def load_country_indicators(data: PackageData) -> pl.DataFrame | None:
    """The resource as a frame with typed columns, or None when the package has none."""
    if RESOURCE not in data.package.resources:
        return None
    frame = data.package.read_table(RESOURCE)
    for name in (*_TEXT, "value", "n_corridors"):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(name))
    return frame.with_columns(
        *(pl.col(n).cast(pl.String) for n in _TEXT),
        pl.col("value").cast(pl.Float64, strict=False),
        pl.col("n_corridors").cast(pl.Int64, strict=False),
    ).with_columns(pl.col("partner_iso3").fill_null(""))


def _country_level(frame: pl.DataFrame) -> pl.DataFrame:
    """One value per country, indicator, period and vintage."""
    keys = ["iso3", "indicator", "period", "vintage"]
    is_aggregate = pl.col("partner_iso3").str.to_uppercase().is_in(list(AGGREGATE_PARTNERS))
    aggregate = frame.filter(is_aggregate)
    bilateral = frame.filter(~is_aggregate).join(aggregate.select(keys).unique(), on=keys, how="anti")
    averaged = (
        bilateral.drop_nulls("value")
        .group_by(keys)
        .agg(
            pl.col("value").mean(),
            pl.col("unit").first(),
            pl.len().cast(pl.Int64).alias("n_corridors"),
            pl.col("source").first(),
        )
    )
    columns = [*keys, "value", "unit", "n_corridors", "source"]
    return pl.concat([aggregate.select(columns), averaged.select(columns)]).drop_nulls("value")


def _one_vintage(frame: pl.DataFrame) -> pl.DataFrame:
    """Per indicator and period, the vintage covering most countries (ties: the latest)."""
    coverage = (
        frame.group_by("indicator", "period", "vintage")
        .agg(pl.col("iso3").n_unique().alias("k"))
        .sort(["indicator", "period", "k", "vintage"], descending=[False, False, True, True], nulls_last=True)
        .group_by("indicator", "period", maintain_order=True)
        .first()
    )
    return frame.join(
        coverage.select("indicator", "period", "vintage"), on=["indicator", "period", "vintage"]
    )


def _annual(frame: pl.DataFrame) -> pl.DataFrame:
    annual = pl.col("period").str.contains(r"^\d{4}$")
    has_annual = frame.filter(annual)["indicator"].unique().to_list()
    return frame.filter(annual | ~pl.col("indicator").is_in(has_annual))


def reference_period(frame: pl.DataFrame, indicators: tuple[str, ...], focus: str) -> str | None:
    """Latest period where the focus country has every indicator of the group (else any country)."""
    for subset in (frame.filter(pl.col("iso3") == focus), frame):
        counts = (
            subset.filter(pl.col("indicator").is_in(list(indicators)))
            .group_by("period", "iso3")
            .agg(pl.col("indicator").n_unique().alias("k"))
        )
        periods = sorted(
            set(counts.filter(pl.col("k") == len(indicators))["period"].to_list()), key=_period_key
        )
        if periods:
            return periods[-1]
    return None


def _period_key(period: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})(?:Q(\d))?", period)
    return (int(match.group(1)), int(match.group(2) or 9)) if match else (0, 0)


def indicator_benchmarks(data: PackageData, focus: str) -> pl.DataFrame | None:
    """Remittance cost (all annual periods) and migrant stocks for every package country, with
    the reference period flagged; None when the package has no country_indicators resource."""
    raw = load_country_indicators(data)
    if raw is None:
        return None
    wanted = [REMITTANCE_COST, *STOCKS]
    level = _annual(_one_vintage(_country_level(raw.filter(pl.col("indicator").is_in(wanted)))))
    rows = []
    for group in GROUPS:
        reference = reference_period(level, group, focus)
        for indicator in group:
            subset = level.filter(pl.col("indicator") == indicator)
            periods = sorted(
                set(subset["period"].to_list()) | ({reference} if reference else set()), key=_period_key
            )
            values = {(r["iso3"], r["period"]): r for r in subset.iter_rows(named=True)}
            for period in periods:
                for country in data.countries:
                    row = values.get((country, period), {})
                    rows.append(
                        {
                            "country": country,
                            "indicator": indicator,
                            "period": period,
                            "reference": period == reference,
                            "value": row.get("value"),
                            "unit": row.get("unit"),
                            "n_corridors": row.get("n_corridors"),
                            "source": row.get("source"),
                            "vintage": row.get("vintage"),
                        }
                    )
    schema = {
        "country": pl.String,
        "indicator": pl.String,
        "period": pl.String,
        "reference": pl.Boolean,
        "value": pl.Float64,
        "unit": pl.String,
        "n_corridors": pl.Int64,
        "source": pl.String,
        "vintage": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).select(INDICATOR_COLUMNS)

"""Per-country summaries of every variable for the codebook site (IPUMS-style frequencies).

Weighted figures use the table's survey design weight (persons and emigrants: their household's),
so that a share is a population estimate; unweighted counts say how many records stand behind it.
A missing value is *NIU* when the row is outside the variable's universe and *unknown* otherwise.
Weighted quantiles are the smallest value whose cumulative weight share reaches p (the inverse of
the weighted distribution function, no interpolation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ippmd.explore.design import COUNTRY
from ippmd.explore.tabulate import group_sums, variable_kind

QUANTILES = (0.25, 0.5, 0.75)
TOP_VALUES = 10  # uncategorised text: the most frequent values shown per country
_W = "__w"
_V = "__v"  # the variable, under a name no field has (the `country` field is summarised too)


@dataclass
class CountrySummary:
    """One variable in one country."""

    rows: int
    valid: int
    unknown: int
    niu: int
    frequencies: list[tuple[Any, int, float]] = field(default_factory=list)  # value, n, weighted share
    distinct: int = 0
    mean: float | None = None
    unweighted_mean: float | None = None
    quantiles: dict[float, float] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None

    @property
    def available(self) -> bool:
        return self.valid > 0


@dataclass
class VariableSummary:
    table: str
    field: dict[str, Any]
    kind: str  # mean, share, categorical, text (uncategorised strings), key
    countries: dict[str, CountrySummary]


def _kind(field_schema: dict[str, Any], keys: set[str]) -> str:
    if field_schema["name"] in keys:
        return "key"
    kind = variable_kind(field_schema)
    categorised = field_schema.get("categories") or field_schema.get("constraints", {}).get("enum")
    if kind == "categorical" and not categorised:
        return "text"
    return kind


def summarise_table(
    frame: pl.DataFrame, table: str, fields: list[dict[str, Any]], keys: set[str], countries: list[str]
) -> list[VariableSummary]:
    """Summaries of every field of one table; `frame` has the fields, `country` and `__w`."""
    frame = frame.with_row_index("__row")  # a total order for the sums (see group_sums)
    summaries = []
    for field_schema in fields:
        name = field_schema["name"]
        kind = _kind(field_schema, keys)
        universe = field_schema.get("universe")
        inside = pl.sql_expr(universe).fill_null(False) if universe else pl.lit(True)
        counts = frame.group_by(COUNTRY).agg(
            pl.len().alias("rows"),
            pl.col(name).is_not_null().sum().alias("valid"),
            (pl.col(name).is_null() & inside).sum().alias("unknown"),
            (pl.col(name).is_null() & ~inside).sum().alias("niu"),
        )
        per_country = {
            row[COUNTRY]: CountrySummary(
                rows=row["rows"], valid=row["valid"], unknown=row["unknown"], niu=row["niu"]
            )
            for row in counts.iter_rows(named=True)
        }
        for code in countries:
            per_country.setdefault(code, CountrySummary(rows=0, valid=0, unknown=0, niu=0))
        valid = frame.select(COUNTRY, pl.col(name).alias(_V), _W, "__row").filter(pl.col(_V).is_not_null())
        if kind in ("share", "categorical", "text", "key"):
            _frequencies(valid, per_country, top=None if kind in ("share", "categorical") else TOP_VALUES)
        else:
            _numeric(valid, per_country)
        summaries.append(VariableSummary(table, field_schema, kind, {c: per_country[c] for c in countries}))
    return summaries


def _frequencies(valid: pl.DataFrame, out: dict[str, CountrySummary], top: int | None) -> None:
    counts = group_sums(valid, [COUNTRY, _V], {"n": pl.lit(1), "w": pl.col(_W)}, ("__row",))
    totals = group_sums(counts, [COUNTRY], {"total": pl.col("w")}, (_V,))
    table = (
        counts.join(totals, on=COUNTRY)
        .with_columns((pl.col("w") / pl.col("total")).alias("share"), pl.col("n").cast(pl.Int64))
        .sort(COUNTRY, "n", _V, descending=[False, True, False])
    )
    for (code,), group in table.group_by(COUNTRY, maintain_order=True):
        if code not in out:
            continue
        rows = list(group.select(_V, "n", "share").iter_rows())
        out[code].distinct = len(rows)
        out[code].frequencies = rows[:top] if top else rows


def _numeric(valid: pl.DataFrame, out: dict[str, CountrySummary]) -> None:
    value = pl.col(_V).cast(pl.Float64)
    sums = group_sums(
        valid, [COUNTRY], {"wy": pl.col(_W) * value, "w": pl.col(_W), "y": value, "n": pl.lit(1)}, ("__row",)
    )
    # the cumulative weight share in value order (cum_sum is sequential: the same bits every run)
    ordered = valid.sort(COUNTRY, _V, "__row").with_columns(pl.col(_W).cum_sum().over(COUNTRY).alias("__cum"))
    ordered = ordered.with_columns((pl.col("__cum") / pl.col("__cum").max().over(COUNTRY)).alias("__cum"))
    spread = ordered.group_by(COUNTRY).agg(
        pl.col(_V).min().alias("minimum"),
        pl.col(_V).max().alias("maximum"),
        # a tolerance so that a cumulative share of exactly p (up to rounding) counts as reaching p
        *(pl.col(_V).filter(pl.col("__cum") >= p - 1e-12).first().alias(f"q{p}") for p in QUANTILES),
    )
    for row in sums.join(spread, on=COUNTRY).iter_rows(named=True):
        summary = out.get(row[COUNTRY])
        if summary is None:
            continue
        summary.mean, summary.unweighted_mean = row["wy"] / row["w"], row["y"] / row["n"]
        summary.minimum, summary.maximum = row["minimum"], row["maximum"]
        summary.quantiles = {p: row[f"q{p}"] for p in QUANTILES}

"""Weighted shares of the built tables against each country's calibration targets.

Standard errors are design-based: households weighted, clustered by community (the primary
sampling unit), by linearization of the weighted mean. Community shares are unweighted.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import polars as pl

from ippmd.core.home import countries_dir
from ippmd.core.io import load_yaml
from ippmd.core.metadata import load_country
from ippmd.core.scalars import as_number


@cache
def target_measures() -> dict[str, dict[str, str]]:
    return load_yaml(countries_dir().joinpath("target_measures.yaml").read_text(encoding="utf-8"))


def _with_design(tables: dict[str, pl.DataFrame], table: str) -> pl.DataFrame:
    """The table with `weight` and `cluster` columns."""
    frame = tables[table]
    if table == "communities":
        return frame.with_columns(weight=pl.lit(1.0), cluster=pl.col("community_id"))
    if table == "households":
        return frame.with_columns(cluster=pl.col("community_id"))
    design = tables["households"].select("household_id", "weight", "community_id", "agricultural")
    extra = [c for c in design.columns if c in frame.columns and c != "household_id"]
    return frame.join(design.drop(extra), on="household_id", how="left").with_columns(
        cluster=pl.col("community_id")
    )


def weighted_share(frame: pl.DataFrame, value: str, universe: str | None) -> dict[str, float]:
    """Weighted share of `value` within `universe`, with its clustered standard error."""
    scoped = frame.filter(pl.sql_expr(universe)) if universe else frame
    scoped = scoped.with_columns(y=pl.sql_expr(value).fill_null(False).cast(pl.Float64))
    n = scoped.height
    if n == 0:
        return {"estimate": float("nan"), "std_error": float("nan"), "n": 0}
    total_weight = as_number(scoped["weight"].sum())
    estimate = as_number((scoped["y"] * scoped["weight"]).sum()) / total_weight
    clusters = scoped.group_by("cluster").agg(z=((pl.col("y") - estimate) * pl.col("weight")).sum())
    m = clusters.height
    variance = (m / max(m - 1, 1)) * as_number((clusters["z"] ** 2).sum()) / total_weight**2
    return {"estimate": estimate, "std_error": variance**0.5, "n": n}


def calibration_report(tables: dict[str, pl.DataFrame], iso3: str) -> list[dict[str, Any]]:
    """One row per target: target value, source or 'assumed', weighted estimate and its SE."""
    targets = load_country(iso3)["targets"]
    subset = {
        name: frame.filter(pl.col("country") == iso3)
        for name, frame in tables.items()
        if "country" in frame.columns
    }
    rows = []
    for key, measure in target_measures().items():
        entry = targets.get(key)
        if not entry or "value" not in entry:
            continue
        frame = _with_design(subset, measure["table"])
        result = weighted_share(frame, measure["value"], measure.get("universe"))
        rows.append(
            {
                "country": iso3,
                "target": key,
                "value": float(entry["value"]),
                "assumed": bool(entry.get("assumed", False)),
                **result,
            }
        )
    return rows

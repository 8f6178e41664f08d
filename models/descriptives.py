"""Descriptive benchmarks: the seed chapter's Figures 1.5-1.7 for every country, weighted.

Shares use the household weights and a design-based standard error (linearization of the
weighted mean, clustered by community): the estimator of `ippmd.core.calibration.weighted_share`
that the calibration report uses, computed here for all countries of a cell at once (a test
checks the two agree). Intervals are t intervals with m - 1 degrees of freedom
(estimate +/- t(m - 1) SE, m = the communities with a row in the cell: the clusters behind the
variance), clipped to [0, 1]. The figure definitions are data, in `models/figures.yaml`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import polars as pl

from ippmd.core.home import package_data
from ippmd.core.io import load_yaml
from ippmd.models.data import PackageData
from ippmd.models.inference import t_quantile

FIGURES_FILE = package_data(__package__, "figures.yaml")
LEVEL = 0.95
DESCRIPTIVE_COLUMNS = (
    "figure",
    "seed_figure",
    "country",
    "panel",
    "group",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "n",
    "n_clusters",
)


@cache
def figure_definitions() -> dict[str, dict[str, Any]]:
    return load_yaml(FIGURES_FILE.read_text(encoding="utf-8"))


def design_frame(data: PackageData, unit: str) -> pl.DataFrame:
    """The unit's rows with household `weight` and `cluster` (= community) attached."""
    joins = ("households",) if unit == "persons" else ()
    frame = data.joined(unit, joins)
    return frame.with_columns(cluster=pl.col("community_id"))


def _and(*clauses: str) -> str:
    kept = [c for c in clauses if c and c.strip().lower() != "all"]
    return " AND ".join(f"({c})" for c in kept) if kept else "TRUE"


def _country_shares(frame: pl.DataFrame, value: str, universe: str) -> dict[str, dict[str, float]]:
    """Per country: what core.calibration.weighted_share gives for that country's rows (weighted
    share of `value` within `universe`, its clustered SE, n) and m, the communities in the cell,
    from group-bys over all countries at once instead of one pass per country."""
    scoped = frame.filter(pl.sql_expr(universe)).with_columns(
        y=pl.sql_expr(value).fill_null(False).cast(pl.Float64)
    )
    weight = pl.col("weight")
    clusters = scoped.group_by("country", "cluster").agg(
        yw=(pl.col("y") * weight).sum(), w=weight.sum(), n=pl.len()
    )
    per = clusters.group_by("country").agg(
        estimate=pl.col("yw").sum() / pl.col("w").sum(), w=pl.col("w").sum(), n=pl.col("n").sum(), m=pl.len()
    )
    z = (
        clusters.join(per.select("country", "estimate"), on="country")
        .group_by("country")
        .agg(zz=((pl.col("yw") - pl.col("estimate") * pl.col("w")) ** 2).sum())
    )
    out: dict[str, dict[str, float]] = {}
    for country, estimate, w, n, m, zz in per.join(z, on="country").iter_rows():
        variance = (m / max(m - 1, 1)) * float(zz) / w**2
        out[country] = {"estimate": float(estimate), "std_error": variance**0.5, "n": n, "m": m}
    return out


def figure_shares(data: PackageData, figures: dict[str, dict[str, Any]] | None = None) -> pl.DataFrame:
    """One row per figure x country x panel x group: weighted share, SE, 95% CI and n."""
    figures = figure_definitions() if figures is None else figures
    nan = float("nan")
    empty = {"estimate": nan, "std_error": nan, "n": 0, "m": 0}
    rows = []
    for key, figure in figures.items():
        frame = design_frame(data, figure["unit"])
        cells = {
            (p, g): _country_shares(
                frame, figure["value"], _and(figure["universe"], panel["where"], group["where"])
            )
            for p, panel in enumerate(figure["panels"])
            for g, group in enumerate(figure["groups"])
        }
        for country in data.countries:
            for p, panel in enumerate(figure["panels"]):
                for g, group in enumerate(figure["groups"]):
                    share = cells[(p, g)].get(country, empty)
                    estimate, se, m = share["estimate"], share["std_error"], share["m"]
                    half = t_quantile(m - 1, LEVEL) * se if m > 1 else nan
                    rows.append(
                        {
                            "figure": key,
                            "seed_figure": figure["seed_figure"],
                            "country": country,
                            "panel": panel["label"],
                            "group": group["label"],
                            "estimate": estimate,
                            "std_error": se,
                            "ci_low": max(0.0, estimate - half),
                            "ci_high": min(1.0, estimate + half),
                            "n": int(share["n"]),
                            "n_clusters": int(m),
                        }
                    )
    return pl.DataFrame(rows, schema_overrides={"n": pl.Int64, "n_clusters": pl.Int64}).select(
        DESCRIPTIVE_COLUMNS
    )

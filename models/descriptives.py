"""Descriptive benchmarks: the seed chapter's Figures 1.5-1.7 for every country, weighted.

Shares use the household weights and a design-based standard error (linearization of the
weighted mean, clustered by community) from `ippmd.core.calibration.weighted_share`, the same
estimator the calibration report uses. Intervals are t intervals with m - 1 degrees of freedom
(estimate +/- t(m - 1) SE, m = the communities with a row in the cell: the clusters behind the
variance), clipped to [0, 1]. The figure definitions are data, in `models/figures.yaml`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import polars as pl
from ippmd.core.calibration import weighted_share
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


def figure_shares(data: PackageData, figures: dict[str, dict[str, Any]] | None = None) -> pl.DataFrame:
    """One row per figure x country x panel x group: weighted share, SE, 95% CI and n."""
    figures = figure_definitions() if figures is None else figures
    rows = []
    for key, figure in figures.items():
        frame = design_frame(data, figure["unit"])
        by_country = {c: frame.filter(pl.col("country") == c) for c in data.countries}
        for country in data.countries:
            for panel in figure["panels"]:
                for group in figure["groups"]:
                    universe = _and(figure["universe"], panel["where"], group["where"])
                    share = weighted_share(by_country[country], figure["value"], universe)
                    estimate, se = share["estimate"], share["std_error"]
                    m = by_country[country].filter(pl.sql_expr(universe))["cluster"].n_unique()
                    half = t_quantile(m - 1, LEVEL) * se if m > 1 else float("nan")
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

"""Descriptive benchmarks: the seed chapter's Figures 1.5-1.7 for every country, weighted.

Shares use the household weights and a design-based standard error (linearization of the
weighted mean, clustered by community) from `ippmd.core.calibration.weighted_share`, the same
estimator the calibration report uses. Intervals are Wald intervals (estimate +/- 1.96 SE),
clipped to [0, 1]. The figure definitions are data, in `models/figures.yaml`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import polars as pl
import yaml
from ippmd.core.calibration import weighted_share
from ippmd.core.home import package_data
from ippmd.models.data import PackageData

FIGURES_FILE = package_data(__package__, "figures.yaml")
Z95 = 1.959963984540054
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
)


@cache
def figure_definitions() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(FIGURES_FILE.read_text(encoding="utf-8"))


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
                    rows.append(
                        {
                            "figure": key,
                            "seed_figure": figure["seed_figure"],
                            "country": country,
                            "panel": panel["label"],
                            "group": group["label"],
                            "estimate": estimate,
                            "std_error": se,
                            "ci_low": max(0.0, estimate - Z95 * se),
                            "ci_high": min(1.0, estimate + Z95 * se),
                            "n": int(share["n"]),
                        }
                    )
    return pl.DataFrame(rows, schema_overrides={"n": pl.Int64}).select(DESCRIPTIVE_COLUMNS)

"""The real remittance-cost benchmark as what it is: a corridor comparison, by time window.

A receiving country with one corridor in the World Bank RPW file (Cambodia: Thailand->Cambodia
only, priced from 2015Q4) has a "receiver effect" that is that corridor against the sender's
other corridors in the same quarter, and nothing more. This module states that comparison
directly and says over which quarters it is made:

    premium[c, q] = cost[c, q] - mean(cost[c', q] for the sender's other corridors c' priced in q)

A corridor's premium is the mean of premium[c, q] over its quarters in the window (a quarter in
which the sender prices no other corridor gives none); the focus's estimate is the mean over its
corridors (each corridor counted once). Units: percentage points of the amount sent (USD 200).

Inference fit for one treated corridor: randomisation inference over corridors. Under the null
that the focus's corridors are like any corridor of the file against their sender's others, the
focus's estimate is a draw from the same statistic computed for every set of as many corridors;
the two-sided p-value is the share of those sets whose |statistic| is at least the focus's (every
corridor enumerated for one focus corridor; seeded draws of sets otherwise). No interval is
given: with one treated corridor none can be defended (the CRV1 and wild-bootstrap intervals of
the panel fit are not valid there; issue 24).

Windows: the calendar years of the surveys' fieldwork (from the package's `countries` table,
`fieldwork_start` and `fieldwork_end`) are the headline, because the surveys' remittance questions
refer to the costs of that time; the full period of the file and each calendar year are shown
beside it, so that a reader sees how the comparison moves with the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import polars as pl

from ippmd.models.inference import seeded_rng, settings

HEADLINE = "fieldwork"
FULL = "full period"
WINDOW_COLUMNS = (
    "window", "role", "first_quarter", "last_quarter", "n_obs", "n_corridors", "focus", "focus_senders",
    "focus_corridors", "focus_corridor_quarters", "focus_compared_quarters", "estimate",
    "ri_p_value", "ri_corridors", "ri_method",
)  # fmt: skip


@dataclass(frozen=True)
class Window:
    """A span of quarters, inclusive ('2014Q1'-'2015Q4'), and what it is in the report."""

    name: str
    role: str  # headline, full period or year
    first: str
    last: str


def fieldwork_years(countries: pl.DataFrame) -> tuple[int, int]:
    """The first and last calendar year of the surveys' fieldwork ('YYYY-MM' start and end)."""
    starts = countries["fieldwork_start"].drop_nulls().cast(pl.String).str.slice(0, 4).cast(pl.Int64)
    ends = countries["fieldwork_end"].drop_nulls().cast(pl.String).str.slice(0, 4).cast(pl.Int64)
    years = pl.concat([starts, ends])
    if years.is_empty():
        years = countries["survey_year"].drop_nulls().cast(pl.Int64)
    return int(years.min()), int(years.max())  # type: ignore[arg-type]


def windows(panel: pl.DataFrame, fieldwork: tuple[int, int]) -> list[Window]:
    """The headline (the fieldwork years), the full period of the file, then each calendar year."""
    first, last = str(panel["quarter"].min()), str(panel["quarter"].max())
    years = sorted({int(q[:4]) for q in panel["quarter"].unique().to_list()})
    start, end = fieldwork
    label = f"{start}" if start == end else f"{start}-{end}"
    return [
        Window(f"{HEADLINE} {label}", "headline", f"{start}Q1", f"{end}Q4"),
        Window(f"{FULL} {first}-{last}", FULL, first, last),
        *(Window(str(year), "year", f"{year}Q1", f"{year}Q4") for year in years),
    ]


def corridor_premiums(panel: pl.DataFrame) -> pl.DataFrame:
    """Each corridor-quarter's cost against the mean of the same sender's other corridors in the
    same quarter (null when the sender prices no other corridor that quarter)."""
    by_cell = panel.group_by("sender", "quarter").agg(
        pl.col("cost").sum().alias("cell_sum"), pl.len().alias("cell_n")
    )
    return (
        panel.join(by_cell, on=["sender", "quarter"])
        .with_columns(
            premium=pl.when(pl.col("cell_n") > 1)
            .then(pl.col("cost") - (pl.col("cell_sum") - pl.col("cost")) / (pl.col("cell_n") - 1))
            .otherwise(None)
        )
        .drop("cell_sum", "cell_n")
    )


def corridor_statistics(premiums: pl.DataFrame) -> pl.DataFrame:
    """corridor, receiver, statistic: each corridor's mean premium over its compared quarters."""
    return (
        premiums.drop_nulls("premium")
        .group_by("corridor", "receiver")
        .agg(pl.col("premium").mean().alias("statistic"))
        .sort("corridor")
    )


def randomisation_p_value(statistics: np.ndarray, treated: np.ndarray, draws: int, key: str) -> float:
    """Two-sided p-value of the mean statistic of the treated corridors among the same mean over
    every set of as many corridors: exact for one treated corridor, else over seeded draws."""
    observed = abs(float(statistics[treated].mean()))
    k, n = int(treated.sum()), statistics.size
    tolerance = 1e-12 * max(1.0, observed)
    if k == 1:
        return float(np.mean(np.abs(statistics) >= observed - tolerance))
    rng = seeded_rng(settings().bootstrap_seed, key)
    sets = np.argsort(rng.random((draws, n)), axis=1)[:, :k]
    means = np.abs(statistics[sets].mean(axis=1))
    return float((1 + np.sum(means >= observed - tolerance)) / (1 + draws))


def window_row(premiums: pl.DataFrame, focus: str, window: Window) -> dict[str, object]:
    """One row of the windows table: the window's size, the focus's corridors and quarters, the
    estimate and its randomisation-inference p-value (None without a compared focus quarter)."""
    inside = premiums.filter(pl.col("quarter").is_between(pl.lit(window.first), pl.lit(window.last)))
    own = inside.filter(pl.col("receiver") == focus)
    stats = corridor_statistics(inside)
    treated = (stats["receiver"] == focus).to_numpy()
    estimate = p_value = None
    if treated.any():
        values = stats["statistic"].to_numpy()
        estimate = float(values[treated].mean())
        draws = settings().bootstrap_draws
        p_value = randomisation_p_value(values, treated, draws, f"rpw-ri:{focus}:{window.name}")
    k = int(treated.sum())
    method = (
        f"randomisation inference over {stats.height} corridors"
        + (" (exact)" if k == 1 else f" ({settings().bootstrap_draws} seeded draws of {k} corridors)")
        if k
        else None
    )
    return {
        "window": window.name,
        "role": window.role,
        "first_quarter": window.first,
        "last_quarter": window.last,
        "n_obs": inside.height,
        "n_corridors": inside["corridor"].n_unique(),
        "focus": focus,
        "focus_senders": ", ".join(sorted(own["sender"].unique().to_list())) or None,
        "focus_corridors": own["corridor"].n_unique(),
        "focus_corridor_quarters": own.height,
        "focus_compared_quarters": own["premium"].drop_nulls().len(),
        "estimate": estimate,
        "ri_p_value": p_value,
        "ri_corridors": stats.height if k else None,
        "ri_method": method,
    }


def corridor_windows(panel: pl.DataFrame, focus: str, fieldwork: tuple[int, int]) -> pl.DataFrame:
    """The windows table: the headline (fieldwork years) first, then the full period, then years."""
    premiums = corridor_premiums(panel)
    rows = [window_row(premiums, focus, w) for w in windows(panel, fieldwork)]
    schema = {
        "window": pl.String, "role": pl.String, "first_quarter": pl.String, "last_quarter": pl.String,
        "n_obs": pl.Int64, "n_corridors": pl.Int64, "focus": pl.String, "focus_senders": pl.String,
        "focus_corridors": pl.Int64,
        "focus_corridor_quarters": pl.Int64, "focus_compared_quarters": pl.Int64,
        "estimate": pl.Float64, "ri_p_value": pl.Float64, "ri_corridors": pl.Int64, "ri_method": pl.String,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(WINDOW_COLUMNS)


def sign_changes(table: pl.DataFrame) -> int:
    """How often the estimate changes sign from one calendar year to the next."""
    values = table.filter(pl.col("role") == "year")["estimate"].drop_nulls().to_list()
    return sum(1 for a, b in pairwise(values) if math.copysign(1, a) != math.copysign(1, b))

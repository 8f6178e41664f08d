"""Household flags derived from the members and emigrants listed (never asked directly)."""

from __future__ import annotations

import polars as pl


def household_flags(households: pl.DataFrame, persons: pl.DataFrame, emigrants: pl.DataFrame) -> pl.DataFrame:
    """Add n_emigrants, has_emigrant, has_return_migrant, has_member_planning_emigration, has_immigrant."""
    members = persons.group_by("household_id").agg(
        has_return_migrant=(pl.col("return_migrant") == 1).any().cast(pl.Int64),
        has_member_planning_emigration=(pl.col("plans_to_emigrate") == 1).any().cast(pl.Int64),
        has_immigrant=(pl.col("born_abroad") == 1).any().cast(pl.Int64),
    )
    abroad = emigrants.group_by("household_id").agg(n_emigrants=pl.len().cast(pl.Int64))
    return (
        households.join(members, on="household_id", how="left", maintain_order="left")
        .join(abroad, on="household_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("n_emigrants").fill_null(0),
            pl.col("has_return_migrant", "has_member_planning_emigration", "has_immigrant").fill_null(0),
        )
        .with_columns(has_emigrant=(pl.col("n_emigrants") > 0).cast(pl.Int64))
    )

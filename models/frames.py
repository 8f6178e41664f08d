"""How a model frame is assembled from the microdata tables, shared by estimation and spec checks.

The same join code builds the real frame (from the package's tables) and an empty one (from the
harmonized Table Schemas), so the columns a spec is checked against when it is loaded are the
columns it will meet when it is estimated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

import polars as pl

from ippmd.core.schema import harmonized_schema, polars_schema

UNITS = ("persons", "households", "communities")
# What each unit can be joined with, and on which key (persons -> households -> communities).
JOIN_KEYS = {"households": "household_id", "communities": "community_id"}


def join_tables(tables: Mapping[str, pl.DataFrame], unit: str, joins: Iterable[str] = ()) -> pl.DataFrame:
    """The unit's table with the named tables left-joined on (households first, then communities);
    a column already present on the left is kept from the left.

    Raises ValueError when a join key is missing (communities onto persons without households).
    """
    joins = set(joins)
    frame = tables[unit]
    for other in JOIN_KEYS:
        if other not in joins:
            continue
        on = JOIN_KEYS[other]
        if on not in frame.columns:
            raise ValueError(f"cannot join {other} onto {unit}: no {on} (join households first)")
        right = tables[other]
        right = right.drop([c for c in right.columns if c in frame.columns and c != on])
        frame = frame.join(right, on=on, how="left")
    return frame


@cache
def empty_tables() -> dict[str, pl.DataFrame]:
    """Each unit's table with no rows, typed by its harmonized Table Schema."""
    return {unit: pl.DataFrame(schema=polars_schema(harmonized_schema(unit))) for unit in UNITS}


def empty_frame(unit: str, joins: Iterable[str] = ()) -> pl.DataFrame:
    """The model frame of a unit and its joins, with its real columns and dtypes but no rows."""
    return _empty_frame(unit, frozenset(joins))


@cache
def _empty_frame(unit: str, joins: frozenset[str]) -> pl.DataFrame:
    # a join of empty frames still costs polars ~15 ms; 17 specs share five frames
    return join_tables(empty_tables(), unit, joins)


def describe_frame(unit: str, joins: Iterable[str] = ()) -> str:
    """How a frame is named in messages: 'persons joined with households'."""
    joins = [j for j in JOIN_KEYS if j in set(joins)]
    return unit + (f" joined with {', '.join(joins)}" if joins else "")

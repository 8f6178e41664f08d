"""Numbers out of polars aggregations (sum, min, max, mean), which are typed as any Python literal."""

from __future__ import annotations

from decimal import Decimal


def as_number(value: object) -> int | float:
    """An aggregate of a non-empty numeric column as a Python number (a Decimal sum as a float).

    Anything else is a bug in the caller (a text column, an empty one), not a condition of the data.
    """
    if isinstance(value, Decimal):
        return float(value)
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number from a numeric column, got {value!r}")
    return value

"""Local currency to US dollars, at the exchange rate the submission's metadata declares."""

from __future__ import annotations

import polars as pl


def to_usd(amount_lcu: pl.Expr, lcu_per_usd: float) -> pl.Expr:
    """USD value of a local-currency amount, rounded to cents (nulls stay null)."""
    if not lcu_per_usd > 0:
        raise ValueError(f"exchange rate must be positive, got {lcu_per_usd!r}")
    return (amount_lcu / lcu_per_usd).round(2)

"""The diagnostics table: per spec, term and country, the sample, the clusters, the few-cluster
rule and the inference method used, with our notes on every library warning raised while fitting."""

from __future__ import annotations

import polars as pl

from ippmd.models.estimate import SpecFit


def diagnostics_table(fits: list[SpecFit]) -> pl.DataFrame:
    """Per spec, term and country: sample size, treated units and communities, whether the
    few-cluster rule applies (and why), the inference method used, and our notes on every
    library warning raised while fitting (a country's own, then the spec's)."""
    frames = []
    for fit in fits:
        cluster = pl.col(fit.spec.cluster)
        spec_notes = [m.text for m in fit.messages if not m.country]
        for term in fit.spec.treatments:
            per = fit.frame.group_by("country").agg(
                pl.len().cast(pl.Int64).alias("n_obs"),
                pl.col(term).sum().cast(pl.Int64).alias("n_treated"),
                cluster.n_unique().cast(pl.Int64).alias("n_clusters"),
                cluster.filter(pl.col(term) == 1).n_unique().cast(pl.Int64).alias("n_treated_clusters"),
                cluster.filter(pl.col(term) == 0).n_unique().cast(pl.Int64).alias("n_untreated_clusters"),
            )
            countries = per["country"].to_list()
            reasons = [fit.few_clusters.get((c, term)) for c in countries]
            methods = [(fit.effects.get((c, term)) or {}).get("method") for c in countries]
            notes = [
                "; ".join([*(m.text for m in fit.messages if m.country == c), *spec_notes]) or None
                for c in countries
            ]
            frames.append(
                per.with_columns(
                    spec=pl.lit(fit.spec.id),
                    term=pl.lit(term),
                    fixed_effects=pl.lit(" + ".join(fit.fixed_effects)),
                    few_clusters=pl.Series([r is not None for r in reasons]),
                    few_clusters_reason=pl.Series(reasons, dtype=pl.String),
                    method=pl.Series(methods, dtype=pl.String),
                    notes=pl.Series(notes, dtype=pl.String),
                )
            )
    columns = [
        "spec", "term", "country", "fixed_effects", "n_obs", "n_treated", "n_clusters",
        "n_treated_clusters", "n_untreated_clusters", "few_clusters", "few_clusters_reason", "method",
        "notes",
    ]  # fmt: skip
    order = {fit.spec.id: i for i, fit in enumerate(fits)}
    return (
        pl.concat(frames)
        .select(columns)
        .with_columns(pl.col("spec").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort("_order", "term", "country")
        .drop("_order")
    )

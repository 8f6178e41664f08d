"""What each estimate should recover in the synthetic data: the planted effect sizes.

Two corrections make the planted size a fair yardstick:

* Attainable size. The generator draws 0/1 outcomes with probability clip(b + shifts, 0.005,
  0.995) (synth/sampler.py). Where the untreated rate p0 is below the size of a negative
  effect (e.g. informal channels in Haiti: p0 about 0.10, planted -0.20) the treated cannot fall
  below 0.005, so the data carry clip(p0 + effect) - p0, not the planted effect. We compare with
  that first-order attainable size (heterogeneity inside a country, e.g. by age, can still
  attenuate a little more).
* Pooled target. With country-specific sizes (overrides such as KHM) a pooled slope estimates a
  regression-weighted average of them; the weights come from the residualized treatment.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ippmd.models.design import codes, design, within, wls
from ippmd.models.estimate import SpecFit
from ippmd.models.spec import ModelSpec
from ippmd.synth.generator import planted_effect

FLOOR, CEILING = 0.005, 0.995


def planted_size(name: str, iso3: str) -> float:
    """The planted size for one country: its override in planted_effects.yaml, else the default."""
    return planted_effect(name, iso3)


def untreated_rates(spec: ModelSpec, frame: pl.DataFrame, term: str) -> dict[str, float]:
    """Weighted mean outcome of the untreated, per country (the base the effect is added to)."""
    rates = (
        frame.filter(pl.col(term) == 0)
        .group_by("country")
        .agg(
            ((pl.col(spec.model_outcome) * pl.col(spec.weights)).sum() / pl.col(spec.weights).sum()).alias(
                "p0"
            )
        )
    )
    return dict(rates.iter_rows())


def attainable(effect: float, p0: float | None, scale: str) -> float:
    """The effect the generator can deliver given its probability floor and ceiling."""
    if scale != "probability" or p0 is None or np.isnan(p0):
        return effect
    return float(np.clip(p0 + effect, FLOOR, CEILING) - p0)


def regression_weights(
    spec: ModelSpec, frame: pl.DataFrame, fixed_effects: tuple[str, ...], term: str
) -> dict[str, float]:
    """Country weights of the pooled slope on `term`: sum_c w d~ d / sum w d~^2 by country, with
    d~ the treatment residualized on every other regressor (Frisch-Waugh-Lovell; the fixed
    effects are swept out by weighted demeaning rather than dummy columns)."""
    full = design(spec, frame, (), by_country=False)
    j = full.names.index(term)
    groups = [codes(frame[fe]) for fe in fixed_effects]
    swept = within(full.X, groups, full.weights)
    d, others = swept[:, j], np.delete(swept, j, axis=1)
    residual = d - others @ wls(d, others, full.weights) if others.shape[1] else d
    raw = full.X[:, j]
    numerator = full.weights * residual * raw
    total = float((full.weights * residual * raw).sum())
    levels, which = np.unique(full.countries, return_inverse=True)
    sums = np.bincount(which.ravel(), weights=numerator, minlength=levels.size)
    return {str(c): float(sums[i] / total) for i, c in enumerate(levels)}


def planted_table(
    fits: list[SpecFit], synthetic: set[str] | None = None, pooled: bool = True
) -> pl.DataFrame:
    """One row per (spec, term, country) with a planted effect, plus (unless `pooled` is False)
    the pooled (ALL) target: planted size, untreated rate, attainable size. Only synthetic
    countries have planted effects (a pooled target is given only when every country in the
    sample is synthetic)."""
    rows = []
    for fit in fits:
        spec, frame = fit.spec, fit.frame
        present = set(frame["country"].unique().to_list())
        if synthetic is not None:
            frame = frame.filter(pl.col("country").is_in(sorted(synthetic)))
        for term, name in spec.planted.items():
            p0 = untreated_rates(spec, frame, term)
            sizes = {}
            for country in sorted(frame["country"].unique().to_list()):
                planted = planted_size(name, country)
                sizes[country] = attainable(planted, p0.get(country), spec.scale)
                rows.append(
                    {
                        "spec": spec.id,
                        "term": term,
                        "country": country,
                        "planted_effect": name,
                        "planted": planted,
                        "untreated_rate": p0.get(country),
                        "attainable": sizes[country],
                    }
                )
            if not pooled or (synthetic is not None and not present <= synthetic):
                continue
            weights = regression_weights(spec, frame, fit.fixed_effects, term)
            planted_pooled = sum(weights[c] * planted_size(name, c) for c in weights)
            rows.append(
                {
                    "spec": spec.id,
                    "term": term,
                    "country": "ALL",
                    "planted_effect": name,
                    "planted": planted_pooled,
                    "untreated_rate": None,
                    "attainable": sum(weights[c] * sizes[c] for c in weights),
                }
            )
    return pl.DataFrame(rows, schema_overrides={"untreated_rate": pl.Float64})

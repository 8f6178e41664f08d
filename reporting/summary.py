"""The report's opening summary: at most five sentences, the findings that survive their family's
multiplicity adjustment, each with its valid interval, then the real-data corridor headline.

A finding survives when its effect against zero keeps Holm's adjusted p-value below 5% within
the family declared in its spec (`focus_p_holm` of comparison.csv); its interval is the row's own
(`focus_ci_low`-`focus_ci_high`, from the method named in `focus_method`). The same sentences are
made for any focus country; a sentence about synthetic data says so.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ippmd.models.remittance_costs import CostBenchmark
from ippmd.models.spec import ModelSpec
from ippmd.reporting.findings import family_words
from ippmd.reporting.narrative import fmt_effect, fmt_interval, fmt_p, labelled
from ippmd.reporting.sections import headline_sentence

MAX_SENTENCES = 5  # issue 24 item 9: a summary people read (assumed: true)
ALPHA = 0.05  # the adjusted p-value a finding must stay below (assumed: true, the report's 5% throughout)
NAMED = MAX_SENTENCES - 3  # survivors with a sentence each (besides the count, the rest, the corridor)


def _survivors(comparison: pl.DataFrame) -> list[dict[str, Any]]:
    """The comparison rows whose effect survives Holm within its family, strongest first."""
    kept = comparison.filter(pl.col("focus_p_holm").is_not_null() & (pl.col("focus_p_holm") < ALPHA))
    return kept.sort("focus_p_holm", "spec", "term").to_dicts()


def _effect_words(row: dict[str, Any], spec: ModelSpec, short: bool = False) -> str:
    """'effect +5.1 pp (95% CI +2.0 to +8.2 pp, CR2 t(3.1) Bell-McCaffrey; Holm p = 0.010 in the
    labour market family)'; `short`: the effect and its interval only."""
    s = spec.scale
    interval = fmt_interval(row["focus_ci_low"], row["focus_ci_high"], s)
    if short:
        return f"{fmt_effect(row['focus_estimate'], s)} ({interval})"
    method = f", {row['focus_method']}" if row.get("focus_method") else ""
    family = f" in the {family_words(str(row['family']))} family" if row.get("family") else ""
    return (
        f"effect {fmt_effect(row['focus_estimate'], s)} (95% CI {interval}{method}; Holm "
        f"{fmt_p(row['focus_p_holm'])}{family})"
    )


def summary_sentences(
    comparison: pl.DataFrame,
    specs: dict[str, ModelSpec],
    country_name: str,
    synthetic: bool,
    bench: CostBenchmark | None,
) -> list[str]:
    """The summary, at most MAX_SENTENCES sentences: the count of survivors, one sentence per
    survivor (up to NAMED, the rest together in one), and the corridor headline when there is one."""
    name = labelled(country_name, synthetic)
    survivors = _survivors(comparison)
    differences = comparison.filter(pl.col("p_holm").is_not_null() & (pl.col("p_holm") < ALPHA)).height
    sentences = [
        f"Of the {comparison.height} findings tested for {name}, {len(survivors)} "
        f"{'has an effect that survives' if len(survivors) == 1 else 'have an effect that survives'} "
        f"Holm's adjustment within its family at 5%, and {differences} a difference from the peer mean "
        "that does."
    ]

    def label(row: dict[str, Any]) -> str:
        spec = specs[row["spec"]]
        return f"{spec.label(spec.model_outcome)} ~ {spec.label(row['term'])}"

    for row in survivors[:NAMED]:
        sentences.append(f"{label(row)}, {name}: {_effect_words(row, specs[row['spec']])}.")
    rest = survivors[NAMED:]
    if rest:
        parts = [f"{label(row)} {_effect_words(row, specs[row['spec']], short=True)}" for row in rest]
        sentences.append(
            f"Also surviving for {name} (effect, 95% CI; method and Holm p in the table below): "
            + "; ".join(parts)
            + "."
        )
    head = bench.headline if bench is not None else None
    if head is not None:
        sentences.append(headline_sentence(head, country_name))
    return sentences  # at most 1 + NAMED + 1 + 1 = MAX_SENTENCES

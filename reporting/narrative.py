"""Short generated sentences for the report: one per finding and one per descriptive figure.

Numbers are formatted by scale: probability-scale effects in percentage points (pp), log-scale
effects in log points. Every sentence names the country so that it can be quoted on its own, and
a sentence about synthetic microdata says so where it names the country ("Cambodia (synthetic
data): ..."), so that no quoted sentence passes a synthetic number off as a finding.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from ippmd.core.scalars import as_number
from ippmd.models.spec import ModelSpec

SEED_REPORT = "the Cambodia report (OECD/CDRI 2017)"  # the seed chapter the findings quote


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


SYNTHETIC_LABEL = "(synthetic data)"


def labelled(name: str, synthetic: bool) -> str:
    """The country name as a sentence shows it: 'Cambodia (synthetic data)' for synthetic data."""
    return f"{name} {SYNTHETIC_LABEL}" if synthetic else name


def fmt_effect(value: float | None, scale: str, unit: bool = True) -> str:
    if value is None or _missing(value):
        return "n/a"
    if scale == "probability":
        return f"{value * 100:+.1f}" + (" pp" if unit else "")
    return f"{value:+.3f}" + (" log points" if unit else "")


def fmt_p(p: float | None) -> str:
    if p is None or _missing(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def fmt_interval(low: float | None, high: float | None, scale: str) -> str:
    """'a to b pp'; an unbounded side (a bootstrap that excludes no value) shows as 'unbounded'."""

    def side(value: float | None) -> str:
        if value is not None and isinstance(value, float) and math.isinf(value):
            return "unbounded"
        return fmt_effect(value, scale, False)

    unit = " pp" if scale == "probability" else " log points"
    return f"{side(low)} to {side(high)}{unit}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rank_set_words(low: int, high: int) -> str:
    """A rank confidence set as what it is: '3rd' when it holds one rank, else 'between 1st and 10th'."""
    return ordinal(low) if low == high else f"between {ordinal(low)} and {ordinal(high)}"


def rank_text(row: dict[str, Any]) -> str:
    """'ranked between 6th and 10th of 10 (95% confidence set; simultaneous over all 10 countries:
    between 1st and 10th; 6th by the estimates; 1 = ...)', from a comparison row."""
    n = row["n_ranked"]
    return (
        f"ranked {rank_set_words(row['rank_marginal_low'], row['rank_marginal_high'])} of {n} "
        f"(95% confidence set; simultaneous over all {n} countries: "
        f"{rank_set_words(row['rank_simultaneous_low'], row['rank_simultaneous_high'])}; "
        f"{ordinal(row['rank'])} by the estimates; {rank_words(row.get('direction'))})"
    )


def rank_words(direction: str | None) -> str:
    """What rank 1 means for a finding: the largest effect in its direction."""
    return "1 = the most negative effect" if direction == "negative" else "1 = the most positive effect"


def finding_sentence(
    spec: ModelSpec,
    row: dict[str, Any],
    country_name: str,
    *,
    synthetic: bool,
    peers_synthetic: bool | None = None,
) -> str:
    """'<Country> (synthetic data): effect X (95% CI a to b, method), ranked between lo and hi of n
    (95% confidence set; simultaneous ...; 1 = ...), fixed peer mean Y (95% CI ...), random-effects
    peer mean ...; difference from the fixed peer mean D (p, Holm p)'; without peers with an
    estimate, a statement that there are none instead. `synthetic` is whether the focus country's
    microdata are synthetic, `peers_synthetic` whether any peer's are (default: the same)."""
    s = spec.scale
    name = labelled(country_name, synthetic)
    peers_synthetic = synthetic if peers_synthetic is None else peers_synthetic
    if _missing(row.get("focus_estimate")):
        return f"{name}: no estimate ({spec.label(row['term'])} does not vary in the sample)."
    method = f", {row['focus_method']}" if row.get("focus_method") else ""
    text = (
        f"{name}: effect {fmt_effect(row['focus_estimate'], s)} "
        f"(95% CI {fmt_interval(row['focus_ci_low'], row['focus_ci_high'], s)}{method})"
    )
    if not row.get("n_peers") or _missing(row.get("peer_mean")) or _missing(row.get("rank")):
        text += (
            "; no peers: no other country in the package has an estimate of this effect, "
            "so there is no rank, peer mean or difference."
        )
    else:
        against = "against peers with synthetic data: " if peers_synthetic and not synthetic else ""
        text += (
            f", {against}{rank_text(row)}, "
            f"peer mean {fmt_effect(row.get('peer_mean'), s)} "
            f"(95% CI {fmt_interval(row.get('peer_mean_ci_low'), row.get('peer_mean_ci_high'), s)})"
        )
        if not _missing(row.get("peer_mean_re")):
            how = f"; {row['peer_mean_re_method']}" if row.get("peer_mean_re_method") else ""
            if row.get("tau2") == 0:
                how += "; tau2 = 0: the peers differ no more than their standard errors allow"
            text += (
                f", random-effects peer mean {fmt_effect(row['peer_mean_re'], s)} (95% CI "
                f"{fmt_interval(row.get('peer_mean_re_ci_low'), row.get('peer_mean_re_ci_high'), s)}; "
                f"a typical peer: {fmt_interval(row.get('prediction_low'), row.get('prediction_high'), s)}"
                f"{how})"
            )
        holm_p = "" if _missing(row.get("p_holm")) else f"; Holm {fmt_p(row['p_holm'])}"
        if holm_p and row.get("family"):
            holm_p += f" within the {str(row['family']).replace('_', ' ')} family"
        text += (
            f"; difference from the peer mean {fmt_effect(row.get('difference'), s)} "
            f"({fmt_p(row.get('difference_p_value'))}{holm_p})."
        )
    verdict = "significantly different" if row["focus_p_value"] < 0.05 else "not significantly different"
    text += f" The effect for {name} is {verdict} from zero at 5% ({fmt_p(row['focus_p_value'])})."
    return text


def shows_sentence(spec: ModelSpec, row: dict[str, Any], country_name: str, *, synthetic: bool) -> str:
    """What the focus country's estimate shows, against the sign the finding names (the spec's
    `direction`; for a finding of no link in Cambodia, the sign it reports elsewhere)."""
    name = labelled(country_name, synthetic)
    if _missing(row.get("focus_estimate")):
        return f"What the estimate for {name} shows: nothing (no estimate)."
    direction = row.get("direction") or "positive"
    sign = "positive" if row["focus_estimate"] > 0 else "negative"
    if row["focus_p_value"] >= 0.05:
        verdict = "no effect distinguishable from zero at 5%"
    elif sign == direction:
        verdict = f"a {sign} effect, significant at 5%: the sign the finding names"
    else:
        verdict = f"a {sign} effect, significant at 5%: against the sign the finding names ({direction})"
    return f"What the estimate for {name} shows: {verdict}."


def planted_sentence(spec: ModelSpec, planted: dict[str, Any] | None) -> str:
    if not planted:
        return "No effect of this treatment is planted at this level in the synthetic data."
    s = spec.scale
    text = f"Planted size in the synthetic data: {fmt_effect(planted['planted'], s)}"
    if abs(planted["attainable"] - planted["planted"]) > 1e-9:
        text += (
            f" (attainable {fmt_effect(planted['attainable'], s)}: the generator keeps probabilities"
            " within [0.005, 0.995])"
        )
    return text + "."


def descriptive_sentences(
    shares: pl.DataFrame, focus: str, country_name: str, *, synthetic: bool
) -> list[str]:
    """One sentence per panel: the focus country's share in each group with its 95% CI."""
    name = labelled(country_name, synthetic)
    sentences = []
    own = shares.filter(pl.col("country") == focus)
    for panel in own["panel"].unique(maintain_order=True).to_list():
        parts = [
            f"{r['group'].lower()} {r['estimate'] * 100:.1f}% "
            f"(95% CI {r['ci_low'] * 100:.1f} to {r['ci_high'] * 100:.1f}; n = {r['n']:,}"
            + (f" in {r['n_clusters']} communities)" if r.get("n_clusters") is not None else ")")
            for r in own.filter(pl.col("panel") == panel).iter_rows(named=True)
        ]
        sentences.append(f"{name}, {panel.lower()}: " + "; ".join(parts) + ".")
    return sentences


INDICATOR_LABELS = {
    "remittance_cost_usd200": "cost of remitting USD 200",
    "emigrant_stock_share": "emigrant stock",
    "immigrant_stock_share": "immigrant stock",
}


def indicator_sentences(
    frame: pl.DataFrame, focus: str, country_name: str, target: float | None = None
) -> list[str]:
    """Per indicator: the focus value, its rank (1 = highest) among countries with data, the gap
    to the target when one is given, and which countries have no value (never imputed). These
    are published (real) country figures, so the country name carries no synthetic label."""
    sentences = []
    for indicator in frame["indicator"].unique(maintain_order=True).to_list():
        rows = frame.filter(pl.col("indicator") == indicator)
        period = str(rows["period"].drop_nulls().first())  # "None" when no row names a period
        own = rows.filter(pl.col("country") == focus)["value"].first()
        missing = rows.filter(pl.col("value").is_null())["country"].to_list()
        ranked = (
            rows.filter(pl.col("value").is_not_null()).sort("value", descending=True)["country"].to_list()
        )
        label = INDICATOR_LABELS.get(indicator, indicator.replace("_", " "))
        if own is None:
            text = f"{country_name}: no value of the {label} for {period}."
        else:
            value = as_number(own)
            unit = "% of the amount sent" if indicator == "remittance_cost_usd200" else "% of the population"
            text = (
                f"{country_name}: {label} {value:.2f}{unit} in {period}, "
                f"rank {ranked.index(focus) + 1} of {len(ranked)} (1 = highest)"
            )
            if target is not None:
                text += f", {value - target:+.2f} points against the {target:g}% SDG target"
            text += "."
        if missing:
            text += f" No data (not imputed): {', '.join(missing)}."
        sentences.append(text)
    return sentences

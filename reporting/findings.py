"""The regression findings of a benchmark report: per spec and treatment the attributed quote,
what the focus country's estimate shows, the generated sentence, the effect chart and a row of the
summary table. Quotes of the seed chapter are attributed to it ("The Cambodia report (OECD/CDRI
2017) found:"); the text beside each quote says what the focus country's estimate shows, labelled
synthetic where its data are."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import polars as pl

from ippmd.models.estimate import POOLED, SpecFit, estimates_table, focus_comparison
from ippmd.models.planted import planted_table
from ippmd.models.spec import ModelSpec
from ippmd.reporting import charts as ch
from ippmd.reporting.charts import Charts
from ippmd.reporting.narrative import (
    SEED_REPORT,
    finding_sentence,
    fmt_effect,
    fmt_interval,
    fmt_p,
    labelled,
    ordinal,
    planted_sentence,
    rank_set_words,
    rank_words,
    shows_sentence,
)
from ippmd.reporting.provenance import SURVEY, SYNTHETIC, combined_origin
from ippmd.reporting.report import Section

PlantedRows = dict[tuple[str, str, str], dict[str, Any]]  # (spec, term, country) -> planted.csv row


@dataclass(frozen=True)
class Findings:
    """The report's regression part: sections, effect charts, generated sentences, summary rows."""

    sections: list[Section]
    charts: Charts
    sentences: list[str]
    summary: list[list[str]]


def summary_header(focus: str) -> list[str]:
    """The columns of the summary table (one row per spec and treatment)."""
    return [
        "Finding (outcome ~ treatment)",
        f"{focus} effect",
        "95% CI",
        "Method",
        "Rank: 95% confidence set (simultaneous)",
        "Fixed peer mean",
        "Random-effects peer mean",
        "Difference p",
        "Holm p",
    ]


def chart_name(spec: ModelSpec, term: str) -> str:
    return f"effect_{spec.id}" if len(spec.treatments) == 1 else f"effect_{spec.id}__{term}"


def method_short(method: str | None) -> str:
    """The summary table's name of a row's inference."""
    if not method:
        return "n/a"
    if method.startswith("WCR"):
        return "WCR bootstrap"
    return method.removesuffix(" Bell-McCaffrey") + " BM" if method.startswith("CR2") else method


def chart_title(spec: ModelSpec, term: str) -> str:
    """'outcome ~ treatment (sample)': the sample from the spec title's parentheses, so that the
    men's and the women's charts differ."""
    sample = spec.title[spec.title.rfind("(") + 1 : spec.title.rfind(")")] if "(" in spec.title else ""
    title = f"{spec.label(spec.model_outcome)} ~ {spec.label(term)}"
    return f"{title} ({sample})" if sample and sample not in title else title


def term_chart(
    fit: SpecFit,
    term: str,
    rows: pl.DataFrame,
    compared: dict[str, Any],
    planted_rows: PlantedRows,
    focus: str,
    footer: tuple[str, ...],
) -> dict[str, Any]:
    """The effect chart of one spec and treatment: its estimates.csv rows, its comparison row
    (the peer mean) and the planted sizes."""
    spec = fit.spec
    sizes = {c: (planted_rows.get((spec.id, term, c)) or {}).get("attainable") for c in fit.countries}
    effects = rows.filter(pl.col("country") != POOLED).with_columns(
        planted=pl.col("country").replace_strict(sizes, default=None, return_dtype=pl.Float64)
    )
    probability = spec.scale == "probability"
    return ch.effect_chart(
        effects,
        focus,
        compared.get("peer_mean"),
        chart_title(spec, term),
        "Effect (percentage points)" if probability else "Effect (log points)",
        footer,
        factor=100.0 if probability else 1.0,
    )


def fit_charts(fit: SpecFit, focus: str, synthetic: set[str], footer: tuple[str, ...]) -> Charts:
    """The effect charts of one fitted spec, the same dicts `finding_sections` makes from the
    full tables (the multiplicity columns, which need every spec, are not drawn), so that they
    can be drawn while the next specs are fitted."""
    estimates = estimates_table([fit])
    compared = {r["term"]: r for r in focus_comparison(fit, focus)}
    planted = planted_table([fit], synthetic, pooled=False) if synthetic else None
    planted_rows = _planted_rows(planted)
    return {
        chart_name(fit.spec, term): term_chart(
            fit,
            term,
            estimates.filter(pl.col("term") == term),
            compared[term],
            planted_rows,
            focus,
            footer,
        )
        for term in fit.spec.treatments
    }


def family_words(family: str) -> str:
    """A multiplicity family's id in words ('labour_market' -> 'labour market')."""
    return family.replace("_", " ")


def families_sentence(comparison: pl.DataFrame) -> str:
    """One line naming each multiplicity family declared in the specs and how many findings it holds."""
    counts = comparison.group_by("family", maintain_order=True).len().iter_rows()
    listed = ", ".join(f"{family_words(family)} ({n})" for family, n in counts)
    return (
        "Multiplicity families, declared in the specs (findings in brackets): "
        f"{listed}; Holm and Benjamini-Hochberg adjust within each family, never across families."
    )


def multiplicity_paragraph(
    comparison: pl.DataFrame, fits: list[SpecFit], country_name: str, synthetic: bool
) -> str:
    """The declared families, then which focus-against-peers differences, and which focus effects,
    survive Holm and BH at 5% within their family."""
    labels = {
        (fit.spec.id, term): f"{fit.spec.label(fit.spec.model_outcome)} ~ {fit.spec.label(term)}"
        + (" (Poisson)" if fit.spec.estimator == "poisson" else "")
        for fit in fits
        for term in fit.spec.treatments
    }
    name = labelled(country_name, synthetic)

    def survivors(column: str) -> list[str]:
        kept = comparison.filter(pl.col(column).is_not_null() & (pl.col(column) < 0.05))
        return [labels[(r["spec"], r["term"])] for r in kept.iter_rows(named=True)]

    tested = comparison.filter(pl.col("difference_p_value").is_not_null()).height
    parts = [families_sentence(comparison)]
    for what, prefix in (("difference from the peer mean", ""), ("effect against zero", "focus_")):
        holm_kept, bh_kept = survivors(f"{prefix}p_holm"), survivors(f"{prefix}q_bh")
        family = tested if not prefix else comparison.filter(pl.col("focus_p_value").is_not_null()).height
        parts.append(
            f"Of the {family} tests of the {what} of {name}, {len(holm_kept)} survive Holm's adjustment "
            f"at 5% ({', '.join(holm_kept) or 'none'}) and {len(bh_kept)} the Benjamini-Hochberg false "
            f"discovery rate at 5% ({', '.join(bh_kept) or 'none'})."
        )
    return " ".join(parts)


def _planted_rows(planted: pl.DataFrame | None) -> PlantedRows:
    return {
        (r["spec"], r["term"], r["country"]): r
        for r in (planted.iter_rows(named=True) if planted is not None else [])
    }


def finding_sections(
    fits: list[SpecFit],
    estimates: pl.DataFrame,
    comparison: pl.DataFrame,
    planted: pl.DataFrame | None,
    diagnostics: pl.DataFrame,
    focus: str,
    country_name: str,
    origins: dict[str, str] | None = None,
    footer: tuple[str, ...] = (),
) -> Findings:
    """Per spec and treatment: a section (attributed quote, what the focus's estimate shows,
    generated text, chart), the chart spec, the generated sentence and a row of the summary
    table. `origins` (iso3 -> synthetic/survey; default: every country synthetic) labels the
    sentences about synthetic data."""
    origins = origins or {}
    synthetic = origins.get(focus, SYNTHETIC) != SURVEY
    planted_rows = _planted_rows(planted)
    compared = {(r["spec"], r["term"]): r for r in comparison.iter_rows(named=True)}
    flagged = diagnostics.filter(pl.col("few_clusters") & (pl.col("country") == focus))
    few = {(r["spec"], r["term"]): r["few_clusters_reason"] for r in flagged.iter_rows(named=True)}
    sections: list[Section] = []
    charts: Charts = {}
    sentences: list[str] = []
    summary: list[list[str]] = []
    for fit in fits:
        spec = fit.spec
        for term in spec.treatments:
            row = compared[(spec.id, term)]
            rows = estimates.filter((pl.col("spec") == spec.id) & (pl.col("term") == term))
            chart = chart_name(spec, term)
            charts[chart] = term_chart(fit, term, rows, row, planted_rows, focus, footer)
            present = [c for c, n in fit.n_by_country.items() if n > 0]
            peers_synthetic = combined_origin([c for c in present if c != focus], origins) == SYNTHETIC
            sentence = finding_sentence(
                spec, row, country_name, synthetic=synthetic, peers_synthetic=peers_synthetic
            )
            sentences.append(sentence)
            pooled = rows.filter(pl.col("country") == POOLED).row(0, named=True)
            pooled_synthetic = combined_origin(present, origins) == SYNTHETIC
            paragraphs = [
                '<span class="shows">'
                + html.escape(shows_sentence(spec, row, country_name, synthetic=synthetic))
                + "</span>",
                f'<span class="finding-text">{html.escape(sentence)}</span>',
                html.escape(planted_sentence(spec, planted_rows.get((spec.id, term, focus)))),
                html.escape(_pooled_sentence(fit, pooled, pooled_synthetic)),
            ]
            if (spec.id, term) in few:
                name = labelled(country_name, synthetic)
                paragraphs.append(
                    html.escape(
                        f"Few clusters in {name}: {few[(spec.id, term)]}. CRV1 standard errors are too "
                        f"small there; the interval and tests use {row.get('focus_method')}."
                    )
                )
            every_rank = every_rank_sentence(fit, term)
            if every_rank:
                paragraphs.append(html.escape(every_rank))
            if spec.note:
                paragraphs.append(html.escape(spec.note))
            sections.append(_finding_section(spec, term, paragraphs, chart))
            summary.append(_summary_row(spec, term, row))
    return Findings(sections, charts, sentences, summary)


def _pooled_sentence(fit: SpecFit, pooled: dict[str, Any], synthetic: bool) -> str:
    """The pooled effect and how the model was specified."""
    spec, s = fit.spec, fit.spec.scale
    return (
        f"{labelled('Pooled over all countries', synthetic)}: {fmt_effect(pooled['estimate'], s)} (95% CI "
        f"{fmt_interval(pooled['ci_low'], pooled['ci_high'], s)}, {pooled['method']}), "
        f"n = {pooled['n_obs']:,}. Outcome: {spec.label(spec.model_outcome)}; sample: "
        f"{spec.sample}; controls: {', '.join(spec.controls) or 'none'}; fixed effects: "
        f"{' + '.join(fit.fixed_effects)}; estimator: {spec.estimator}."
    )


def _finding_section(spec: ModelSpec, term: str, paragraphs: list[str], chart: str) -> Section:
    """A finding's section: the seed chapter's words, attributed, above what the estimate shows."""
    heading = spec.title + (f": {spec.label(term)}" if len(spec.treatments) > 1 else "")
    return Section(
        heading,
        paragraphs,
        quote=spec.finding,
        quote_intro=f"{SEED_REPORT[0].upper()}{SEED_REPORT[1:]} found (about Cambodia):",
        source=spec.source or None,
        chart=chart,
        level=3,
    )


def _rank_cell(row: dict[str, Any]) -> str:
    """'between 6th and 10th of 10 (between 1st and 10th)': the marginal set, then the simultaneous one."""
    marginal = rank_set_words(row["rank_marginal_low"], row["rank_marginal_high"])
    simultaneous = rank_set_words(row["rank_simultaneous_low"], row["rank_simultaneous_high"])
    return f"{marginal} of {row['n_ranked']} ({simultaneous})"


def every_rank_sentence(fit: SpecFit, term: str) -> str | None:
    """Every country's rank as its 95% confidence sets, marginal and simultaneous (None without
    two countries to rank)."""
    countries, sets = fit.ranks[term]
    if len(countries) < 2:
        return None
    order = sorted(range(len(countries)), key=lambda j: (int(sets.rank[j]), countries[j]))
    parts = []
    for j in order:
        marginal = rank_set_words(int(sets.marginal_low[j]), int(sets.marginal_high[j]))
        simultaneous = rank_set_words(int(sets.simultaneous_low[j]), int(sets.simultaneous_high[j]))
        parts.append(f"{countries[j]} {marginal} ({simultaneous}; estimate {ordinal(int(sets.rank[j]))})")
    return (
        f"Every country's rank (synthetic data; {rank_words(fit.spec.direction.get(term))}), as its 95% "
        "confidence set, marginal and in brackets simultaneous over all "
        f"{len(countries)} countries (Mogstad, Romano, Shaikh and Wilhelm 2024; ranks.csv): "
        + "; ".join(parts)
        + "."
    )


def _summary_row(spec: ModelSpec, term: str, row: dict[str, Any]) -> list[str]:
    """One row of the summary table, in the columns of `summary_header`."""
    s = spec.scale
    no_rank = row.get("rank") is None
    return [
        f"{spec.label(spec.model_outcome)} ~ {spec.label(term)}"
        + (" (Poisson)" if spec.estimator == "poisson" else ""),
        fmt_effect(row.get("focus_estimate"), s),
        fmt_interval(row.get("focus_ci_low"), row.get("focus_ci_high"), s),
        method_short(row.get("focus_method")),
        "n/a (no peers)" if no_rank else _rank_cell(row),
        fmt_effect(row.get("peer_mean"), s),
        fmt_effect(row.get("peer_mean_re"), s),
        fmt_p(row.get("difference_p_value")),
        fmt_p(row.get("p_holm")),
    ]

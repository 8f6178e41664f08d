"""Cross-country benchmarks of one focus country against its peers: the public entry point.

`run_benchmark(package_dir, focus, out_dir)` estimates every spec in `models/specs/`, computes
the descriptive figures and (when the package has them) the country indicators, and writes CSV
files, charts (PNG and SVG), regression tables (Markdown, HTML, LaTeX) and one offline
`report.html` into out_dir. The same package (and SOURCE_DATE_EPOCH, for the date stamp) gives
the same files. Every report is stamped with the ippmd version, the package version, a hash of
the package's data (from the resource hashes in datapackage.json), the seeds and a date.

Quotes of the seed chapter are attributed to it ("The Cambodia report (OECD/CDRI 2017) found:");
the text beside each quote says what the focus country's estimate shows, labelled synthetic.

Every CSV made from the microdata carries a `data_origin` column ("synthetic" or "survey", from
the package's `countries` table): per country, and for rows that combine countries (pooled ALL
rows, the focus-against-peers comparison) "synthetic" as soon as one country in the model is
synthetic. Every generated sentence about a synthetic country says so ("Cambodia (synthetic
data): ..."). `country_indicators.csv` holds published (real) figures and is not labelled.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import html
import importlib
import math
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from ippmd import SYNTHETIC_NOTICE, __version__
from ippmd.core.errors import InputError, Problem
from ippmd.indicators.provenance import sources
from ippmd.models import charts as ch
from ippmd.models import render
from ippmd.models.country_indicators import REMITTANCE_COST, SDG_TARGET, STOCKS, indicator_benchmarks
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.descriptives import figure_definitions, figure_shares
from ippmd.models.estimate import (
    POOLED,
    Message,
    SpecFit,
    comparison_table,
    estimates_table,
    fit_spec,
    focus_comparison,
)
from ippmd.models.inference import CR2, WCR, Settings, settings
from ippmd.models.narrative import (
    descriptive_sentences,
    finding_sentence,
    fmt_effect,
    fmt_interval,
    fmt_p,
    indicator_sentences,
    labelled,
    planted_sentence,
    shows_sentence,
)
from ippmd.models.planted import planted_table
from ippmd.models.remittance_costs import CostBenchmark, try_cost_benchmark
from ippmd.models.report import Section, html_table, render_report, vega_bundle
from ippmd.models.spec import ModelSpec, load_specs
from ippmd.models.tables import write_regression_tables

SEED_REPORT = "the Cambodia report (OECD/CDRI 2017)"
SIGNIFICANT_DIGITS = 12
FAR_WIDER = 1.5  # a bootstrap interval this many times the CRV1 width is called "far wider" (assumed)
PNG_SCALE = 2  # PNGs at twice the SVG's size, sharp on high-density screens and in print
# Chart processes beside this one: one, for two cores (this process fits the models while the
# charts of the specs fitted so far are drawn; a second chart process only competed with the fits:
# 10.9 s against 11.1 s wall and 17.1 against 18.3 CPU seconds, three runs each of `ippmd benchmark`
# on this package, 2026-12-01, bench of issue 12).
CHART_PROCESSES = 1
Progress = Callable[[str], None]
Charts = dict[str, dict[str, Any]]  # chart name -> Vega-Lite spec
SYNTHETIC, SURVEY = "synthetic", "survey"
# The CSV outputs computed from the microdata: each gets a data_origin column.
MICRODATA_OUTPUTS = ("estimates", "comparison", "diagnostics", "planted", "descriptives")
REAL_OUTPUTS = ("remittance_cost_effects", "remittance_cost_pairs", "remittance_cost_comparison")


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """CSV with floats at 12 significant digits: polars sums groups in a varying order, so the
    last bits of a clustered SE can differ between runs; rounding keeps the files identical."""
    frame.with_columns(pl.col(pl.Float64).round_sig_figs(SIGNIFICANT_DIGITS)).write_csv(path)
    return path


class ChartPool:
    """Charts drawn by worker processes (`ippmd.models.render.ChartWorkers`) while the models
    are fitted; the files are the same as drawn here."""

    def __init__(self) -> None:
        self.workers = render.ChartWorkers(ch.VL_VERSION, PNG_SCALE, CHART_PROCESSES)
        self.names: list[str] = []

    def start(self, charts: dict[str, dict[str, Any]], directory: Path) -> None:
        """Queue every chart (specs are built with validate=False for speed; tests validate
        every spec against the Vega-Lite schema)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.names += self.workers.start(charts, directory)

    def finish(self) -> dict[str, Path]:
        """The files of the queued charts, keyed chart_<name>_<fmt>."""
        drawn = self.workers.finish()
        return {f"chart_{name}_{fmt}": Path(path) for name in self.names for fmt, path in drawn[name].items()}

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already raised by `finish` on the way out
            self.workers.finish()


def data_hash(descriptor: dict[str, Any]) -> str:
    """A short fingerprint of the package's data: SHA-256 over the resources' recorded hashes."""
    lines = sorted(f"{r.get('name')}:{r.get('hash', '')}" for r in descriptor.get("resources", []))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def report_date() -> str:
    """SOURCE_DATE_EPOCH (reproducible builds) when set, else today's date (UTC)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
        if epoch and epoch.isdigit()
        else datetime.datetime.now(tz=datetime.UTC)
    )
    return moment.date().isoformat()


def provenance(data: PackageData) -> dict[str, str]:
    """What every report and chart says about where its numbers come from."""
    config = settings()
    build = data.descriptor.get("build", {})
    return {
        "ippmd_version": __version__,
        "package_version": str(data.descriptor.get("version", "")),
        "data_hash": data_hash(data.descriptor),
        "package_seed": str(build.get("seed", "")),
        "package_scale": str(build.get("scale", "")),
        "bootstrap_seed": str(config.bootstrap_seed),
        "rank_seed": str(config.rank_seed),
        "date": report_date(),
    }


def synthetic_footer(stamp: dict[str, str]) -> tuple[str, ...]:
    return (
        "SYNTHETIC DATA: illustrates the method; not a finding about any real country.",
        f"Source: ippmd {stamp['ippmd_version']} benchmark of the synthetic IPPMD package "
        f"{stamp['package_version']} (data {stamp['data_hash']}, seed {stamp['package_seed']}).",
    )


# Names this module writes; a rerun into the same folder removes its own outputs that it did not
# write this time (e.g. country_indicators.csv once the resource is gone), and nothing else.
OWN_OUTPUTS = (
    "estimates.csv", "comparison.csv", "diagnostics.csv", "planted.csv", "descriptives.csv",
    "country_indicators.csv", "report.html", "tables/regression_tables.*", "charts/effect_*.png",
    "charts/effect_*.svg", "charts/fig_*.png", "charts/fig_*.svg", "charts/remittance_cost.*",
    "charts/migrant_stocks.*", "charts/remittance_cost_premium.*", "remittance_cost_effects.csv",
    "remittance_cost_pairs.csv", "remittance_cost_comparison.csv",
)  # fmt: skip


def country_origins(data: PackageData) -> dict[str, str]:
    """iso3 -> "synthetic" or "survey", from the countries table. Anything but an explicit
    "survey" (a missing column or value, an unknown word) counts as synthetic."""
    table = data.tables["countries"]
    if "data_origin" not in table.columns:
        return dict.fromkeys(table["iso3"].to_list(), SYNTHETIC)
    return {
        iso3: SURVEY if origin == SURVEY else SYNTHETIC
        for iso3, origin in table.select("iso3", "data_origin").iter_rows()
    }


def combined_origin(countries: list[str] | set[str], origins: dict[str, str]) -> str:
    """The origin of a figure computed from several countries: synthetic if any of them is."""
    if not countries or any(origins.get(c, SYNTHETIC) != SURVEY for c in countries):
        return SYNTHETIC
    return SURVEY


def model_origins(fits: list[SpecFit], origins: dict[str, str]) -> dict[str, str]:
    """spec id -> combined origin of the countries in its estimation sample."""
    return {
        fit.spec.id: combined_origin([c for c, n in fit.n_by_country.items() if n > 0], origins)
        for fit in fits
    }


def with_data_origin(
    frame: pl.DataFrame, origins: dict[str, str], pooled: dict[str, str] | None = None
) -> pl.DataFrame:
    """The frame with a last column data_origin: the country's origin on country rows; on pooled
    (ALL) rows and on rows without a country column (one spec's focus-against-peers comparison),
    the spec's combined origin from `pooled`. Unknown countries and specs count as synthetic."""
    pooled = pooled or {}

    def by_spec() -> pl.Expr:
        return pl.col("spec").replace_strict(pooled, default=SYNTHETIC, return_dtype=pl.String)

    if "country" in frame.columns:
        origin = pl.col("country").replace_strict(origins, default=SYNTHETIC, return_dtype=pl.String)
        if "spec" in frame.columns:
            origin = pl.when(pl.col("country") == POOLED).then(by_spec()).otherwise(origin)
    elif "spec" in frame.columns:
        origin = by_spec()
    else:
        origin = pl.lit(combined_origin(set(origins), origins))
    return frame.with_columns(origin.alias("data_origin"))


def remove_stale(out_dir: Path, written: dict[str, Path]) -> list[Path]:
    keep = {path.resolve() for path in written.values()}
    stale = [p for pattern in OWN_OUTPUTS for p in out_dir.glob(pattern) if p.resolve() not in keep]
    for path in stale:
        path.unlink()
    return stale


def chart_name(spec: ModelSpec, term: str) -> str:
    return f"effect_{spec.id}" if len(spec.treatments) == 1 else f"effect_{spec.id}__{term}"


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


def method_paragraphs(country_name: str, focus: str, n_specs: int, n_peers: int) -> list[str]:
    name = html.escape(country_name)
    config = settings()
    ssc = ", ".join(f"{key}={value}" for key, value in config.ssc.items())
    against = f" against its {n_peers} peer countries" if n_peers else ""
    alone = (
        f" The package holds no other country: there are no peers, so the report gives the effects for "
        f"{name} without ranks, peer means or differences."
        if not n_peers
        else ""
    )
    return [
        f"Benchmarks of {name} ({focus}){against} on {n_specs} regressions. Each tests a finding "
        f"that {html.escape(SEED_REPORT)}, ch. 1, reported for Cambodia; the quotes are that report's "
        f"words about Cambodia, and the text under each says what the estimate for {name} shows. "
        f"Also the descriptive Figures 1.5-1.7 of that chapter, a fixed-effects benchmark of "
        f"remittance costs on real data, and published country indicators.{alone}",
        "<strong>The survey estimates are on SYNTHETIC data. They illustrate the method and are not "
        f"findings about {name} or any real country.</strong> The synthetic microdata contain planted "
        "relationships of assumed size; every effect chart marks the planted size (black tick) so that "
        "the reader can see whether the method recovers it.",
        "Method: weighted least squares with the household sampling weights (a linear probability model "
        "for yes/no outcomes, log-linear for amounts; Poisson with fixed effects where zeros are kept), "
        "region fixed effects (regions are nested in countries, so country fixed effects are absorbed) "
        "and the controls listed in each spec. The pooled model gives one effect; a second model "
        "interacts the treatment with the country, <code>i(country, treatment)</code>, and gives each "
        "country's effect with common controls. Standard errors are CRV1, clustered by community (the "
        "primary sampling unit), with the weights and pyfixest's small-sample correction set explicitly "
        f"({html.escape(ssc)}); <strong>there is no survey-design variance (no strata, no "
        "finite-population correction)</strong>. A country's interval and test use t(G<sub>c</sub> - 1), "
        "G<sub>c</sub> = that country's communities in the sample; descriptive intervals t(m - 1).",
        "Few clusters: a treatment given to whole communities (the public employment programme), or one "
        f"with fewer than {config.few_treated_clusters} treated (or untreated) communities in a country "
        "(threshold assumed, in models/inference.yaml), gets few-cluster inference by the rule of that "
        f"file: {few_cluster_rule(config)}. "
        "The <code>method</code> column of every row says which inference it carries; the focus-against-"
        "peers test of such a term uses the same method for the focus, every peer and the difference.",
        "Peers. The fixed peer mean is the simple average of the peer countries' effects (estimand: "
        "these peers, each counted once); its interval and the test of the focus country against it "
        "use the covariance of the interacted model. The random-effects mean (DerSimonian-Laird) treats "
        "the peers as a draw from a population of countries: it reports tau<sup>2</sup>, Cochran's Q and "
        "a 95% prediction interval for a typical peer. Rank 1 is the largest effect in the direction "
        f"of the finding (the most negative effect when the finding is negative); the rank's 95% "
        f"interval comes from {config.rank_draws:,} draws of the joint distribution of the estimates "
        "(seeded). Multiplicity: Holm (family-wise) and Benjamini-Hochberg (false discovery rate) "
        "adjust over the comparisons of this report, and over all country tests in estimates.csv.",
    ]


def few_cluster_rule(config: Settings) -> str:
    """The few-cluster methods in words, as models/inference.yaml chooses them."""
    words = {
        CR2: "CR2 standard errors with Bell-McCaffrey degrees of freedom (fixed effects absorbed, the "
        "survey weights kept, a homoskedastic working model; intervals t(df) with df from the "
        "leverage of the clusters, often 2 to 5 with few treated communities)",
        WCR: f"the wild cluster restricted bootstrap (Webb weights, survey weights kept, fixed effects "
        f"absorbed, {config.bootstrap_draws} draws, seed {config.bootstrap_seed}; its interval inverts "
        "the bootstrap test and may be unbounded)",
    }
    where = {"community_level": "community-level treatments", "within_community": "other flagged terms"}
    chosen = config.few_cluster_methods
    if len(set(chosen.values())) == 1:
        return words[next(iter(chosen.values()))]
    return "; ".join(f"{where[k]}: {words[v]}" for k, v in chosen.items())


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
    planted_rows: dict[tuple[str, str, str], dict[str, Any]],
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
    planted_rows = {
        (r["spec"], r["term"], r["country"]): r
        for r in (planted.iter_rows(named=True) if planted is not None else [])
    }
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
) -> tuple[list[Section], Charts, list[str], list[list[str]]]:
    """Per spec and treatment: a section (attributed quote, what the focus's estimate shows,
    generated text, chart), the chart spec, the generated sentence and a row of the summary
    table. `origins` (iso3 -> synthetic/survey; default: every country synthetic) labels the
    sentences about synthetic data."""
    origins = origins or {}
    synthetic = origins.get(focus, SYNTHETIC) != SURVEY
    name = labelled(country_name, synthetic)
    planted_rows = {
        (r["spec"], r["term"], r["country"]): r
        for r in (planted.iter_rows(named=True) if planted is not None else [])
    }
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
            pooled_label = labelled("Pooled over all countries", pooled_synthetic)
            s = spec.scale
            paragraphs = [
                '<span class="shows">'
                + html.escape(shows_sentence(spec, row, country_name, synthetic=synthetic))
                + "</span>",
                f'<span class="finding-text">{html.escape(sentence)}</span>',
                html.escape(planted_sentence(spec, planted_rows.get((spec.id, term, focus)))),
                html.escape(
                    f"{pooled_label}: {fmt_effect(pooled['estimate'], s)} (95% CI "
                    f"{fmt_interval(pooled['ci_low'], pooled['ci_high'], s)}, {pooled['method']}), "
                    f"n = {pooled['n_obs']:,}. Outcome: {spec.label(spec.model_outcome)}; sample: "
                    f"{spec.sample}; controls: {', '.join(spec.controls) or 'none'}; fixed effects: "
                    f"{' + '.join(fit.fixed_effects)}; estimator: {spec.estimator}."
                ),
            ]
            if (spec.id, term) in few:
                paragraphs.append(
                    html.escape(
                        f"Few clusters in {name}: {few[(spec.id, term)]}. CRV1 standard errors are too "
                        f"small there; the interval and tests use {row.get('focus_method')}."
                    )
                )
            if spec.note:
                paragraphs.append(html.escape(spec.note))
            heading = spec.title + (f": {spec.label(term)}" if len(spec.treatments) > 1 else "")
            sections.append(
                Section(
                    heading,
                    paragraphs,
                    quote=spec.finding,
                    quote_intro=f"{SEED_REPORT[0].upper()}{SEED_REPORT[1:]} found (about Cambodia):",
                    source=spec.source or None,
                    chart=chart,
                    level=3,
                )
            )
            no_rank = row.get("rank") is None
            summary.append(
                [
                    f"{spec.label(spec.model_outcome)} ~ {spec.label(term)}"
                    + (" (Poisson)" if spec.estimator == "poisson" else ""),
                    fmt_effect(row.get("focus_estimate"), s),
                    fmt_interval(row.get("focus_ci_low"), row.get("focus_ci_high"), s),
                    method_short(row.get("focus_method")),
                    "n/a (no peers)"
                    if no_rank
                    else f"{row['rank']} of {row['n_ranked']} [{row['rank_low']}-{row['rank_high']}]",
                    fmt_effect(row.get("peer_mean"), s),
                    fmt_effect(row.get("peer_mean_re"), s),
                    fmt_p(row.get("difference_p_value")),
                    fmt_p(row.get("p_holm")),
                ]
            )
    return sections, charts, sentences, summary


def multiplicity_paragraph(
    comparison: pl.DataFrame, fits: list[SpecFit], country_name: str, synthetic: bool
) -> str:
    """Which focus-against-peers differences, and which focus effects, survive Holm and BH at 5%."""
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
    parts = []
    for what, prefix in (("difference from the peer mean", ""), ("effect against zero", "focus_")):
        holm_kept, bh_kept = survivors(f"{prefix}p_holm"), survivors(f"{prefix}q_bh")
        family = tested if not prefix else comparison.filter(pl.col("focus_p_value").is_not_null()).height
        parts.append(
            f"Of the {family} tests of the {what} of {name}, {len(holm_kept)} survive Holm's adjustment "
            f"at 5% ({', '.join(holm_kept) or 'none'}) and {len(bh_kept)} the Benjamini-Hochberg false "
            f"discovery rate at 5% ({', '.join(bh_kept) or 'none'})."
        )
    return " ".join(parts)


def descriptive_sections(
    shares: pl.DataFrame, focus: str, country_name: str, synthetic: bool = True, footer: tuple[str, ...] = ()
) -> tuple[list[Section], Charts]:
    sections: list[Section] = []
    charts: Charts = {}
    for key, figure in figure_definitions().items():
        subset = shares.filter(pl.col("figure") == key)
        title = f"{figure['seed_figure']}: {figure['title']}"
        charts[key] = ch.share_chart(subset, focus, title, figure["measure"], footer)
        paragraphs = [
            html.escape(
                figure["measure"] + "; weighted, 95% CI t(m - 1) with m the communities in the cell, "
                "clustered by community."
            )
        ]
        sentences = descriptive_sentences(subset, focus, country_name, synthetic=synthetic)
        paragraphs += [html.escape(s) for s in sentences]
        sections.append(Section(title, paragraphs, chart=key, level=3))
    return sections, charts


def real_footer(source: str, vintage: str) -> tuple[str, ...]:
    return ("REAL DATA (published figures, not synthetic).", f"Source: {source}; vintage {vintage}.")


def indicator_sections(
    indicators: pl.DataFrame | None, focus: str, country_name: str
) -> tuple[list[Section], Charts]:
    """Remittance cost against the SDG target and migrant stocks; a 'skipped' note when the
    package has no country_indicators resource."""
    if indicators is None:
        note = (
            "Skipped: this package has no <code>country_indicators</code> resource in datapackage.json, "
            f"so remittance costs (against the {SDG_TARGET:g}% SDG target) and migrant stocks are not "
            "shown. They appear here once the resource is added to the package."
        )
        return [
            Section("Remittance costs and migrant stocks: skipped", [note], level=3, css_class="skipped")
        ], {}
    parts = (
        ("remittance_cost", "Cost of remitting USD 200", [REMITTANCE_COST], SDG_TARGET),
        ("migrant_stocks", "Migrant stocks", list(STOCKS), None),
    )
    sections: list[Section] = []
    charts: Charts = {}
    for key, heading, names, target in parts:
        frame = indicators.filter(pl.col("indicator").is_in(names))
        current = frame.filter(pl.col("reference"))
        if current["value"].is_null().all():
            sections.append(Section(f"{heading}: no data in the package", level=3, css_class="skipped"))
            continue
        sourced = current.drop_nulls("source")
        known = sources()
        names = {
            known[i].producer + ", " + known[i].title if i in known else i
            for i in sourced["source"].to_list()
        }
        footer = real_footer(
            "; ".join(sorted(names)) or "package country_indicators",
            "; ".join(sorted(set(sourced["vintage"].drop_nulls().to_list()))) or "not stated",
        )
        chart = (
            ch.cost_chart(frame, focus, SDG_TARGET, footer)
            if target is not None
            else ch.stock_chart(frame, focus, footer)
        )
        charts[key] = chart
        sentences = indicator_sentences(current, focus, country_name, target)
        sections.append(Section(heading, [html.escape(s) for s in sentences], chart=key, level=3))
    return sections, charts


def cost_benchmark_sections(
    bench: CostBenchmark | None, skipped: str | None, focus: str, country_name: str, names: dict[str, str]
) -> tuple[list[Section], Charts]:
    """The real-data fixed-effects benchmark of remittance costs (or why it was skipped)."""
    heading = "Remittance costs by corridor: fixed-effects benchmark (REAL data)"
    if bench is None:
        return [Section(heading, [html.escape(skipped or "Skipped.")], level=3, css_class="skipped")], {}
    footer = real_footer(bench.source, bench.vintage)
    none = [names.get(c, c) for c in bench.without_corridor]
    missing = (
        f" {', '.join(none)} {'has' if len(none) == 1 else 'have'} no corridor in the file: no estimate, "
        "never imputed."
        if none
        else ""
    )
    paragraphs = [
        "<strong>REAL data</strong>: "
        + html.escape(
            f"{bench.source}, vintage {bench.vintage}; {bench.n_obs:,} corridor-quarters, "
            f"{bench.n_corridors} corridors, {bench.n_receivers} receiving and {bench.n_senders} sending "
            f"countries, {bench.periods[0]}-{bench.periods[1]}: every corridor of the file."
        ),
        html.escape(
            "Model (pyfixest): cost of sending USD 200 (% of the amount sent) ~ receiving-country effects "
            "| sending-country + quarter fixed effects. Weighting: none; each priced corridor-quarter "
            "counts once (a corridor priced in more quarters weighs more; no volume weights). Standard "
            "errors CRV1 clustered by corridor. Effects are in percentage points of the amount sent, "
            "against the mean of all receiving countries; the premium compares costs for the same "
            "sender and quarter." + missing
        ),
    ]
    comparison = bench.comparison
    charts: Charts = {}
    if comparison:
        c = comparison
        rank = (
            f"rank {c['rank']} of {c['n_ranked']} (95% interval {c['rank_low']}-{c['rank_high']}; "
            "1 = the most expensive)"
        )
        text = (
            f"{country_name} (REAL data): premium over the peer mean {c['difference']:+.2f} pp of the amount "
            f"sent (95% CI {c['difference_ci_low']:+.2f} to {c['difference_ci_high']:+.2f}, {c['method']}; "
            f"{fmt_p(c['difference_p_value'])}), {rank}; fixed peer mean {c['peer_mean']:+.2f} pp "
            f"(95% CI {c['peer_mean_ci_low']:+.2f} to {c['peer_mean_ci_high']:+.2f}), random-effects peer "
            f"mean {c['peer_mean_re']:+.2f} pp (tau2 = {c['tau2']:.2f}; Cochran's Q = {c['cochran_q']:.1f}, "
            f"{fmt_p(c['cochran_q_p_value'])}; a typical peer: {c['prediction_low']:+.2f} to "
            f"{c['prediction_high']:+.2f} pp)."
        )
        text += (
            f" Unadjusted (the simple mean of its corridor-quarters), remitting to {country_name} costs "
            f"{c['focus_raw_mean_cost']:.2f}% of the amount sent, rank {c['raw_rank']} of {c['n_ranked']}: "
            "the premium compares it with its peers for the same sender and quarter instead."
        )
        if c.get("bootstrap_method"):

            def bound(value: float) -> str:
                return "unbounded" if math.isinf(value) else f"{value:+.2f}"

            text += (
                f" With {c['focus_corridors']} corridor(s) to {country_name}, the {c['bootstrap_method']} "
                f"gives {fmt_p(c['bootstrap_p_value'])} and a 95% interval {bound(c['bootstrap_ci_low'])} to "
                f"{bound(c['bootstrap_ci_high'])} pp of the amount sent"
            )
            width = c["bootstrap_ci_high"] - c["bootstrap_ci_low"]
            if width > FAR_WIDER * (c["difference_ci_high"] - c["difference_ci_low"]):
                text += ", far wider: read the CRV1 interval as optimistic."
            else:
                text += ", close to the CRV1 interval."
        paragraphs.append(f'<span class="finding-text">{html.escape(text)}</span>')
        pairs = bench.pairs
        kept = pairs.filter(pl.col("p_holm") < 0.05)["peer"].to_list()
        paragraphs.append(
            html.escape(
                f"{country_name} against each of its {pairs.height} peers: {len(kept)} of the differences "
                f"survive Holm's adjustment at 5% ({', '.join(kept) or 'none'})."
            )
        )
        charts["remittance_cost_premium"] = ch.premium_chart(bench.countries, focus, c["peer_mean"], footer)
    for note in bench.notes:
        paragraphs.append(html.escape(f"Note: {note}"))
    table = None
    if bench.pairs.height:
        table = html_table(
            ["Peer", "Difference (pp)", "95% CI", "p", "Holm p", "BH q"],
            [
                [
                    r["peer"],
                    f"{r['difference']:+.2f}",
                    f"{r['ci_low']:+.2f} to {r['ci_high']:+.2f}",
                    fmt_p(r["p_value"]),
                    fmt_p(r["p_holm"]),
                    fmt_p(r["q_bh"]),
                ]
                for r in bench.pairs.iter_rows(named=True)
            ],
        )
    chart = "remittance_cost_premium" if charts else None
    return [Section(heading, paragraphs, table_html=table, chart=chart, level=3)], charts


def diagnostics_section(fits: list[SpecFit], extra: list[Message]) -> Section:
    """Library warnings in our words, and where the few-cluster rule applied."""
    messages = [m for fit in fits for m in fit.messages] + extra
    rows = [[m.spec, m.model, m.country or "all", m.kind, m.text] for m in messages]
    few = sum(len(fit.few_clusters) for fit in fits)
    paragraphs = [
        html.escape(
            f"{len(messages)} warning(s) raised while fitting, each turned into a note here and in "
            f"diagnostics.csv (nothing printed raw); the few-cluster rule applies to {few} country-terms "
            "(diagnostics.csv, columns few_clusters_reason and method)."
        )
    ]
    table = html_table(["Spec", "Model", "Country", "Kind", "Note"], rows) if rows else None
    return Section("Diagnostics", paragraphs, table_html=table, level=2)


def _files_paragraph(has_planted: bool, has_costs: bool) -> str:
    planted = "<a href='planted.csv'>planted.csv</a>, " if has_planted else ""
    costs = (
        "; real-data remittance costs in "
        "<a href='remittance_cost_effects.csv'>remittance_cost_effects.csv</a>, "
        "<a href='remittance_cost_pairs.csv'>remittance_cost_pairs.csv</a> and "
        "<a href='remittance_cost_comparison.csv'>remittance_cost_comparison.csv</a>"
        if has_costs
        else ""
    )
    return (
        "Estimates: <a href='estimates.csv'>estimates.csv</a> (pooled rows have country ALL; "
        "<code>method</code> names each row's inference: <code>std_error</code> is CRV1 on every row, "
        "few-cluster rows take their p-value and interval from their method (CR2 rows: df = the "
        "Bell-McCaffrey degrees of freedom; bootstrap rows: no df); "
        "<code>p_holm</code>/<code>q_bh</code> adjust "
        "over all country rows, and separately over the pooled rows), "
        "<a href='comparison.csv'>comparison.csv</a> (focus against peers; <code>rank_low</code>-"
        "<code>rank_high</code> is the rank's 95% interval, rank 1 = the largest effect in the "
        "direction of the finding; <code>p_holm</code>/<code>q_bh</code> adjust the difference tests "
        "of this report, <code>focus_p_holm</code>/<code>focus_q_bh</code> its effects against zero), "
        f"<a href='diagnostics.csv'>diagnostics.csv</a>, {planted}"
        "<a href='descriptives.csv'>descriptives.csv</a>; regression tables in "
        "<a href='tables/regression_tables.md'>Markdown</a>, "
        "<a href='tables/regression_tables.html'>HTML</a> and "
        f"<a href='tables/regression_tables.tex'>LaTeX</a>; charts as PNG and SVG in charts/{costs}."
    )


def _stamp_paragraph(stamp: dict[str, str]) -> str:
    return html.escape(
        f"ippmd {stamp['ippmd_version']}; package version {stamp['package_version']}, data hash "
        f"{stamp['data_hash']} (SHA-256 over the resource hashes in datapackage.json), synthetic seed "
        f"{stamp['package_seed']} at scale {stamp['package_scale']}; bootstrap seed "
        f"{stamp['bootstrap_seed']}, "
        f"rank-draw seed {stamp['rank_seed']}; report date {stamp['date']}."
    )


def cost_outputs(bench: CostBenchmark | None) -> dict[str, pl.DataFrame]:
    """The real-data CSVs, each with data_origin 'real', source and vintage columns."""
    if bench is None:
        return {}
    label = {"data_origin": pl.lit("real"), "source": pl.lit(bench.source), "vintage": pl.lit(bench.vintage)}
    outputs = {
        "remittance_cost_effects": bench.countries.with_columns(**label),
        "remittance_cost_pairs": bench.pairs.with_columns(**label),
    }
    if bench.comparison:
        outputs["remittance_cost_comparison"] = pl.DataFrame([bench.comparison]).with_columns(**label)
    return outputs


def run_benchmark(
    package_dir: Path,
    focus: str = "KHM",
    out_dir: Path | None = None,
    progress: Progress | None = None,
    external_dir: Path | None = None,
) -> dict[str, Any]:
    """Benchmark `focus` (ISO3) against the other package countries; write everything into
    out_dir (default reports/<focus>). `progress` is told each step; `external_dir` holds the
    original public files (default ../shared/data/external). Returns the paths written
    (`files`), the generated sentences (`findings`), the summary rows (`summary`), `n_charts`,
    whether country indicators were found, the provenance stamp and timings."""
    pool = ChartPool()
    try:
        with warnings.catch_warnings(record=True) as caught, ThreadPoolExecutor(max_workers=1) as side:
            warnings.simplefilter("always")
            bundle = side.submit(vega_bundle)  # the report's JavaScript, built while the models fit
            # pyfixest takes about a second to import (pandas, formulaic, great_tables, IPython):
            # a side thread imports it while this one reads the package (polars, outside the GIL).
            fixest = side.submit(importlib.import_module, "pyfixest.estimation")
            result = _run_benchmark(
                package_dir, focus, out_dir, progress or (lambda _step: None), external_dir, caught, pool
            )
            bundle.result()
            fixest.result()
    finally:
        pool.close()
    return result


def _run_benchmark(
    package_dir: Path,
    focus: str,
    out_dir: Path | None,
    progress: Progress,
    external_dir: Path | None,
    caught: list[warnings.WarningMessage],
    pool: ChartPool,
) -> dict[str, Any]:
    started = time.perf_counter()
    focus = focus.strip().upper()
    out_dir = Path(out_dir) if out_dir is not None else Path("reports") / focus
    timings: dict[str, float] = {}
    progress("checking specs")
    specs = load_specs()  # checked first: a broken spec fails before any data are read

    progress("loading the package")
    data = PackageData.load(Path(package_dir))
    if focus not in data.countries:
        known = ", ".join(data.countries)
        raise InputError(
            [
                Problem(
                    file="datapackage.json",
                    field="focus",
                    value=focus,
                    code="unknown-focus-country",
                    message=f"focus country {focus} is not in the package; its countries are: {known}",
                    hint=f"choose one of {known}, or build a package that includes {focus}",
                )
            ]
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    country_name = data.country_names.get(focus, focus)
    origins = country_origins(data)
    synthetic = {c for c, origin in origins.items() if origin == SYNTHETIC}
    stamp = provenance(data)
    footer = synthetic_footer(stamp)
    timings["load"] = time.perf_counter() - started

    # The parts that need no model come first, so that their charts are drawn (on the pool, in
    # other processes) while the remittance costs and the survey models are fitted.
    tick = time.perf_counter()
    focus_synthetic = focus in synthetic
    progress("descriptive figures and country indicators")
    shares = figure_shares(data)
    indicators = indicator_benchmarks(data, focus)
    described, share_charts = descriptive_sections(shares, focus, country_name, focus_synthetic, footer)
    indicated, indicator_charts = indicator_sections(indicators, focus, country_name)
    pool.start({**share_charts, **indicator_charts}, out_dir / "charts")
    timings["figures"] = time.perf_counter() - tick
    tick = time.perf_counter()
    progress("remittance costs: fixed effects on the real RPW corridors")
    costs, skipped = try_cost_benchmark(data.countries, focus, external_dir)
    timings["remittance_costs"] = time.perf_counter() - tick
    costed, cost_charts = cost_benchmark_sections(costs, skipped, focus, country_name, data.country_names)
    pool.start(cost_charts, out_dir / "charts")
    early = {**share_charts, **cost_charts, **indicator_charts}

    tick = time.perf_counter()
    progress("loading pyfixest")
    import pyfixest.estimation  # noqa: F401  (pyfixest imports lazily: load it outside the fit timing)

    timings["import_pyfixest"] = time.perf_counter() - tick
    tick = time.perf_counter()
    progress(f"fitting {len(specs)} specs (with few-cluster inference where clusters are few)")
    fits = []
    for spec in specs:
        fits.append(fit_spec(spec, analysis_frame(spec, data), data.countries))
        # each spec's charts are drawn (in the chart processes) while the next ones are fitted
        pool.start(fit_charts(fits[-1], focus, synthetic, footer), out_dir / "charts")
    timings["fit"] = time.perf_counter() - tick

    tick = time.perf_counter()
    progress("inference: intervals, ranks, peer means, multiplicity")
    estimates = estimates_table(fits)
    comparison = comparison_table(fits, focus)
    planted = planted_table(fits, synthetic) if synthetic else None
    diagnostics = diagnostics_table(fits)
    timings["inference"] = time.perf_counter() - tick

    tick = time.perf_counter()
    found, effect_charts, sentences, summary = finding_sections(
        fits, estimates, comparison, planted, diagnostics, focus, country_name, origins, footer
    )
    charts = {**effect_charts, **early}
    progress(f"rendering {len(charts)} charts (SVG, PNG at {PNG_SCALE}x) and writing tables")
    pool.start({k: v for k, v in effect_charts.items() if k not in pool.names}, out_dir / "charts")
    outputs = {
        "estimates": estimates,
        "comparison": comparison,
        "diagnostics": diagnostics,
        "planted": planted,
        "descriptives": shares,
        "country_indicators": indicators,
        **cost_outputs(costs),
    }
    pooled_origins = model_origins(fits, origins)
    files = {
        name: write_csv(
            with_data_origin(frame, origins, pooled_origins) if name in MICRODATA_OUTPUTS else frame,
            out_dir / f"{name}.csv",
        )
        for name, frame in outputs.items()
        if frame is not None
    }
    tables = write_regression_tables(fits, out_dir / "tables")
    files.update({f"regression_tables_{fmt}": path for fmt, path in tables.items()})
    timings["tables"] = time.perf_counter() - tick
    tick = time.perf_counter()
    files.update(pool.finish())
    timings["charts"] = time.perf_counter() - tick

    header = [
        "Finding (outcome ~ treatment)",
        f"{focus} effect",
        "95% CI",
        "Method",
        "Rank [95% interval]",
        "Fixed peer mean",
        "Random-effects peer mean",
        "Difference p",
        "Holm p",
    ]
    n_peers = len(data.countries) - 1
    leftover = [
        Message("benchmark", "report", "", w.category.__name__, " ".join(str(w.message).split())[:300])
        for w in caught
    ]
    sections = [
        Section(
            "About this report",
            method_paragraphs(country_name, focus, len(specs), n_peers),
            css_class="method",
        ),
        Section("Provenance", [_stamp_paragraph(stamp)], css_class="method"),
        Section(
            f"Summary: {labelled(country_name, focus_synthetic)} against its peers (SYNTHETIC data)",
            [
                html.escape(
                    "Effects in percentage points (pp) for yes/no outcomes, log points for amounts. Rank 1 "
                    "= the largest effect in the direction of the finding; in brackets its 95% interval."
                ),
                html.escape(multiplicity_paragraph(comparison, fits, country_name, focus_synthetic)),
            ],
            table_html=html_table(header, summary),
        ),
        Section("Regression benchmarks (SYNTHETIC data)"),
        *found,
        Section("Descriptive benchmarks (seed Figures 1.5-1.7, SYNTHETIC data)"),
        *described,
        Section("Remittance costs on real data"),
        *costed,
        Section("Country indicators (published data, not synthetic)"),
        *indicated,
        diagnostics_section(fits, leftover),
        Section("Files", [_files_paragraph(planted is not None, costs is not None)]),
    ]
    title = f"IPPMD cross-country benchmarks: {country_name} ({focus}) and its peers (SYNTHETIC DATA)"
    progress("writing report.html")
    files["report"] = out_dir / "report.html"
    files["report"].write_text(render_report(title, SYNTHETIC_NOTICE, sections, charts), encoding="utf-8")
    remove_stale(out_dir, files)
    timings["total"] = time.perf_counter() - started
    return {
        "focus": focus,
        "country_name": country_name,
        "out_dir": out_dir,
        "files": files,
        "n_specs": len(specs),
        "n_charts": len(charts),
        "findings": sentences,
        "summary": [dict(zip(header, row, strict=True)) for row in summary],
        "country_indicators": indicators is not None,
        "remittance_costs": costs is not None,
        "provenance": stamp,
        "timings": timings,
    }

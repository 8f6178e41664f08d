"""The report's other sections, in words: how the benchmarks were made, the descriptive figures,
the country indicators, the real-data remittance-cost benchmark, the diagnostics, the files and
the provenance stamp. Every generated sentence about a synthetic country says so ("Cambodia
(synthetic data): ..."); published (real) figures are labelled REAL."""

from __future__ import annotations

import html
from typing import Any

import polars as pl

from ippmd.indicators.provenance import sources
from ippmd.models import inference
from ippmd.models.country_indicators import REMITTANCE_COST, SDG_TARGET, STOCKS
from ippmd.models.descriptives import figure_definitions
from ippmd.models.estimate import Message, SpecFit
from ippmd.models.inference import CR2, WCR, Settings, settings
from ippmd.models.remittance_costs import CostBenchmark
from ippmd.reporting import charts as ch
from ippmd.reporting.charts import Charts
from ippmd.reporting.narrative import (
    SEED_REPORT,
    descriptive_sentences,
    fmt_p,
    indicator_sentences,
    ordinal,
    rank_set_words,
)
from ippmd.reporting.provenance import real_footer
from ippmd.reporting.report import Section, html_table


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
        "use the covariance of the interacted model. The random-effects mean "
        f"({random_effects_rule(config.random_effects)}) treats "
        "the peers as a draw from a population of countries: it reports tau<sup>2</sup>, Cochran's Q and "
        "a 95% prediction interval for a typical peer. Rank 1 is the largest effect in the direction "
        "of the finding (the most negative effect when the finding is negative); a rank is given as "
        "its 95% confidence set (Mogstad, Romano, Shaikh and Wilhelm 2024: marginal, and simultaneous "
        "over all countries), from the bootstrap of pairwise differences with "
        f"{config.rank_draws:,} seeded normal draws of the joint distribution of the estimates. "
        "Multiplicity: Holm (family-wise) and Benjamini-Hochberg (false discovery rate) adjust within "
        "each family declared in the specs (the policy sector of the seed chapter, the <code>family</code> "
        "column): over the comparisons of this report, and in estimates.csv over the country tests and, "
        "apart, the pooled tests of each family.",
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


def random_effects_rule(options: inference.MetaSettings) -> str:
    """The random-effects method in words (HTML, no parentheses: it is read inside some), as
    models/inference.yaml chooses it."""
    tau2 = {
        inference.REML: "REML tau<sup>2</sup>, or DerSimonian-Laird's where Fisher scoring does not "
        "converge even with smaller steps",
        inference.DL: "DerSimonian-Laird tau<sup>2</sup>",
    }[options.tau2]
    if options.interval == inference.NORMAL:
        interval, crit = "a normal interval of the mean", "z"
    else:
        truncation = "at least 1" if options.interval == inference.HKSJ_TRUNCATED else "not truncated at 1"
        interval = (
            f"a Hartung-Knapp-Sidik-Jonkman interval, t(k - 1) with the Knapp-Hartung factor {truncation}"
        )
        crit = "t(k - 1)"
    if options.prediction == inference.PREDICTION_RILEY:
        crit = "t(k - 2)"
    return (
        f"{tau2}; {interval}; a prediction interval {crit} x sqrt(SE<sup>2</sup> + tau<sup>2</sup>); "
        "k = the peers with an estimate; as R's metafor computes them, each row naming its method in "
        "<code>peer_mean_re_method</code>"
    )


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
        cited = {
            known[i].producer + ", " + known[i].title if i in known else i
            for i in sourced["source"].to_list()
        }
        footer = real_footer(
            "; ".join(sorted(cited)) or "package country_indicators",
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


COST_HEADING = "Remittance costs by corridor (REAL data)"


def cost_benchmark_sections(
    bench: CostBenchmark | None, skipped: str | None, focus: str, country_name: str, names: dict[str, str]
) -> tuple[list[Section], Charts]:
    """The real-data remittance-cost benchmark (or why it was skipped): the corridor comparison by
    window first (its headline window and why), then the panel fit of every receiving country."""
    if bench is None:
        return [Section(COST_HEADING, [html.escape(skipped or "Skipped.")], level=3, css_class="skipped")], {}
    corridor = Section(
        f"{COST_HEADING}: {country_name}'s corridors against the same sender's other corridors",
        [*_cost_data_paragraphs(bench, names), *corridor_paragraphs(bench, country_name)],
        table_html=_windows_table(bench.windows) if bench.windows is not None else None,
        level=3,
    )
    paragraphs = [_panel_model_paragraph()]
    charts: Charts = {}
    few = bool(bench.comparison) and bench.comparison["focus_corridors"] < settings().few_treated_clusters
    if bench.comparison:
        c = bench.comparison
        paragraphs.append(f'<span class="finding-text">{html.escape(_premium_text(c, country_name))}</span>')
        if not few:
            pairs = bench.pairs
            kept = pairs.filter(pl.col("p_holm") < 0.05)["peer"].to_list()
            paragraphs.append(
                html.escape(
                    f"{country_name} against each of its {pairs.height} peers: {len(kept)} of the "
                    f"differences survive Holm's adjustment at 5% ({', '.join(kept) or 'none'})."
                )
            )
        footer = real_footer(bench.source, bench.vintage)
        charts["remittance_cost_premium"] = ch.premium_chart(
            bench.countries, focus, c["peer_mean"], footer, settings().few_treated_clusters
        )
    for note in bench.notes:
        paragraphs.append(html.escape(f"Note: {note}"))
    table = _pairs_table(bench.pairs) if bench.pairs.height and not few else None
    chart = "remittance_cost_premium" if charts else None
    panel = Section(
        f"{COST_HEADING}: every receiving country, full period {bench.periods[0]}-{bench.periods[1]}",
        paragraphs,
        table_html=table,
        chart=chart,
        level=3,
    )
    return [corridor, panel], charts


def _cost_data_paragraphs(bench: CostBenchmark, names: dict[str, str]) -> list[str]:
    """The data (REAL): source, vintage, size, and the package countries without a corridor."""
    none = [names.get(c, c) for c in bench.without_corridor]
    missing = (
        f" {', '.join(none)} {'has' if len(none) == 1 else 'have'} no corridor in the file: no estimate, "
        "never imputed."
        if none
        else ""
    )
    return [
        "<strong>REAL data</strong>: "
        + html.escape(
            f"{bench.source}, vintage {bench.vintage}; {bench.n_obs:,} corridor-quarters, "
            f"{bench.n_corridors} corridors, {bench.n_receivers} receiving and {bench.n_senders} sending "
            f"countries, {bench.periods[0]}-{bench.periods[1]}: every corridor of the file. Cost = "
            "average total cost of sending USD 200, % of the amount sent." + missing
        ),
    ]


def corridor_paragraphs(bench: CostBenchmark, country_name: str) -> list[str]:
    """What the comparison is, the headline window and why, and its estimate with randomisation
    inference (no interval)."""
    paragraphs = [
        html.escape(
            "What is compared: each corridor's cost against the mean cost of the same sending country's "
            "other corridors in the same quarter (percentage points of the amount sent), averaged over "
            f"the quarters of a window and over {country_name}'s corridors. A country with one corridor in "
            "the file is that one corridor against its sender's others, and nothing more. Inference: "
            "randomisation inference over corridors (the same statistic for every corridor of the file "
            "in the window; two-sided p-value = the share at least as far from zero). No interval is "
            "shown: with one or a few treated corridors no interval can be defended (neither the "
            "corridor-clustered CRV1 nor the wild cluster bootstrap)."
        )
    ]
    head = bench.headline
    if head is None:
        return paragraphs
    sentence = html.escape(headline_sentence(head, country_name))
    paragraphs.append(f'<span class="finding-text">{sentence}</span>')
    paragraphs.append(
        html.escape(
            f"Why this window is the headline: the surveys' fieldwork ran in {head['window'].split()[-1]} "
            "(calendar years, from the package's countries table), and their remittance questions refer to "
            "that time; the full period and each year are shown beside it (remittance_cost_windows.csv)."
        )
    )
    return paragraphs


def headline_sentence(head: dict[str, Any], country_name: str) -> str:
    """The corridor comparison in the headline window, in one sentence."""
    where = f"{head['first_quarter']}-{head['last_quarter']}"
    if not head["focus_corridors"]:
        return (
            f"Remitting to {country_name} (REAL data): no corridor to it in the file in the surveys' "
            f"fieldwork years ({where}), so no corridor comparison."
        )
    if head["estimate"] is None:
        return (
            f"Remitting to {country_name} (REAL data) in the surveys' fieldwork years ({where}): no "
            f"comparison ({head['focus_corridor_quarters']} priced corridor-quarter(s) with another "
            "corridor of the same sender in the same quarter)."
        )
    more = "more" if head["estimate"] >= 0 else "less"
    senders = head["focus_senders"]
    whose = f"{senders}'s" if senders and "," not in senders else f"the same sender's ({senders})"
    return (
        f"Remitting to {country_name} (REAL data) in the surveys' fieldwork years ({where}) cost "
        f"{abs(head['estimate']):.2f} pp of the amount sent {more} than {whose} other corridors "
        f"in the same quarter ({head['focus_corridors']} corridor(s), {head['focus_compared_quarters']} "
        f"corridor-quarter(s) compared; {head['ri_method']}: {fmt_p(head['ri_p_value'])}; no interval)."
    )


WINDOW_HEADER = [
    "Window", "Quarters", "n", "Corridors", "Focus corridor-quarters (compared)", "Estimate (pp)",
    "Randomisation p",
]  # fmt: skip


def _windows_table(windows: pl.DataFrame) -> str:
    """The corridor comparison by window: the headline first."""

    def estimate(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.2f}"

    return html_table(
        WINDOW_HEADER,
        [
            [
                r["window"] + (" (headline)" if r["role"] == "headline" else ""),
                f"{r['first_quarter']}-{r['last_quarter']}",
                f"{r['n_obs']:,}",
                str(r["n_corridors"]),
                f"{r['focus_corridor_quarters']} ({r['focus_compared_quarters']})",
                estimate(r["estimate"]),
                "n/a" if r["ri_p_value"] is None else fmt_p(r["ri_p_value"]),
            ]
            for r in windows.iter_rows(named=True)
        ],
    )


def _panel_model_paragraph() -> str:
    """The panel fit of every receiving country, and what it can say."""
    return html.escape(
        "Model (pyfixest), full period: cost of sending USD 200 (% of the amount sent) ~ receiving-country "
        "effects | sending-country + quarter fixed effects. Weighting: none; each priced corridor-quarter "
        "counts once (a corridor priced in more quarters weighs more; no volume weights). Standard "
        "errors CRV1 clustered by corridor, valid for countries with many corridors. Effects are in "
        "percentage points of the amount sent, against the mean of all receiving countries; the premium "
        "compares costs for the same sender and quarter."
    )


def _premium_text(c: dict[str, Any], country_name: str) -> str:
    """The focus country's premium over its peers in the panel fit; with few corridors, the
    estimate only (its intervals and rank sets would rest on one or a few clusters)."""
    few = c["focus_corridors"] < settings().few_treated_clusters
    if few:
        text = (
            f"{country_name} (REAL data): premium over the peer mean {c['difference']:+.2f} pp of the "
            f"amount sent in the panel fit, resting on {c['focus_corridors']} corridor(s). No interval, "
            "p-value or rank set is shown for it: the corridor-clustered CRV1 interval and the wild "
            "cluster bootstrap are not valid with so few treated corridors (the corridor comparison above "
            "gives its randomisation inference). Fixed peer mean "
        )
    else:
        rank = rank_set_words(c["rank_marginal_low"], c["rank_marginal_high"])
        text = (
            f"{country_name} (REAL data): premium over the peer mean {c['difference']:+.2f} pp of the "
            f"amount sent (95% CI {c['difference_ci_low']:+.2f} to {c['difference_ci_high']:+.2f}, "
            f"{c['method']}; {fmt_p(c['difference_p_value'])}), ranked {rank} of {c['n_ranked']} (95% "
            f"confidence set; simultaneous: "
            f"{rank_set_words(c['rank_simultaneous_low'], c['rank_simultaneous_high'])}; "
            f"{ordinal(c['rank'])} by the estimates; 1 = the most expensive); fixed peer mean "
        )
    text += (
        f"{c['peer_mean']:+.2f} pp (95% CI {c['peer_mean_ci_low']:+.2f} to {c['peer_mean_ci_high']:+.2f}), "
        f"random-effects peer mean {c['peer_mean_re']:+.2f} pp (95% CI {c['peer_mean_re_ci_low']:+.2f} to "
        f"{c['peer_mean_re_ci_high']:+.2f}, {c['peer_mean_re_method']}; tau2 = {c['tau2']:.2f}; "
        f"Cochran's Q = {c['cochran_q']:.1f}, {fmt_p(c['cochran_q_p_value'])}; a typical peer: "
        f"{c['prediction_low']:+.2f} to {c['prediction_high']:+.2f} pp)."
    )
    return text + (
        f" Unadjusted (the simple mean of its corridor-quarters), remitting to {country_name} costs "
        f"{c['focus_raw_mean_cost']:.2f}% of the amount sent, rank {c['raw_rank']} of {c['n_ranked']}: "
        "the premium compares it with its peers for the same sender and quarter instead."
    )


def _pairs_table(pairs: pl.DataFrame) -> str:
    """The focus against each peer, with Holm and BH adjustments."""
    return html_table(
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
            for r in pairs.iter_rows(named=True)
        ],
    )


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


def files_paragraph(has_planted: bool, has_costs: bool) -> str:
    planted = "<a href='planted.csv'>planted.csv</a>, " if has_planted else ""
    costs = (
        "; real-data remittance costs in "
        "<a href='remittance_cost_effects.csv'>remittance_cost_effects.csv</a>, "
        "<a href='remittance_cost_pairs.csv'>remittance_cost_pairs.csv</a>, "
        "<a href='remittance_cost_comparison.csv'>remittance_cost_comparison.csv</a> and "
        "<a href='remittance_cost_windows.csv'>remittance_cost_windows.csv</a> (the corridor "
        "comparison by window: n, corridors, the focus's corridor-quarters, estimate, randomisation "
        "p-value)"
        if has_costs
        else ""
    )
    return (
        "Estimates: <a href='estimates.csv'>estimates.csv</a> (pooled rows have country ALL; "
        "<code>method</code> names each row's inference, and the row's <code>std_error</code>, "
        "<code>statistic</code> (= estimate / std_error), <code>df</code>, p-value and interval all come "
        "from it (CR2 rows: the CR2 standard error and the Bell-McCaffrey degrees of freedom; bootstrap "
        "rows: the CRV1 t referred to its bootstrap distribution, no df); "
        "<code>p_holm</code>/<code>q_bh</code> adjust "
        "within each <code>family</code>, the country rows and the pooled rows apart), "
        "<a href='comparison.csv'>comparison.csv</a> (focus against peers; rank 1 = the largest effect "
        "in the direction of the finding; <code>rank_marginal_low</code>-<code>rank_marginal_high</code> "
        "is the 95% confidence set of the focus's rank, <code>rank_simultaneous_low</code>-"
        "<code>rank_simultaneous_high</code> its set in the simultaneous 95% sets of every country's "
        "rank, <code>rank_method</code> names the method; the focus, the peer mean and the difference "
        "each carry their method (<code>focus_method</code>, <code>peer_mean_method</code>, "
        "<code>method</code>) "
        "with the standard error, statistic, df, p-value and interval it gives; "
        "<code>p_holm</code>/<code>q_bh</code> adjust "
        "the difference tests of this report, <code>focus_p_holm</code>/<code>focus_q_bh</code> its "
        "effects against zero, within each <code>family</code>), "
        "<a href='ranks.csv'>ranks.csv</a> (every country's rank with both sets), "
        f"<a href='diagnostics.csv'>diagnostics.csv</a>, {planted}"
        "<a href='descriptives.csv'>descriptives.csv</a>; regression tables in "
        "<a href='tables/regression_tables.md'>Markdown</a>, "
        "<a href='tables/regression_tables.html'>HTML</a> and "
        f"<a href='tables/regression_tables.tex'>LaTeX</a>; charts as PNG and SVG in charts/{costs}."
    )


def stamp_paragraph(stamp: dict[str, str]) -> str:
    return html.escape(
        f"ippmd {stamp['ippmd_version']}; package version {stamp['package_version']}, data hash "
        f"{stamp['data_hash']} (the dataHash of datapackage.json), synthetic seed "
        f"{stamp['package_seed']} at scale {stamp['package_scale']}; bootstrap seed "
        f"{stamp['bootstrap_seed']}, "
        f"rank-draw seed {stamp['rank_seed']}; report date {stamp['date']}."
    )

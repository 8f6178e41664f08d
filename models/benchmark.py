"""Cross-country benchmarks of one focus country against its peers: the public entry point.

`run_benchmark(package_dir, focus, out_dir)` estimates every spec in `models/specs/`, computes
the descriptive figures and (when the package has them) the country indicators, and writes CSV
files, charts (PNG and SVG), regression tables (Markdown, HTML, LaTeX) and one offline
`report.html` into out_dir. The same package gives the same files.

Every CSV made from the microdata carries a `data_origin` column ("synthetic" or "survey", from
the package's `countries` table): per country, and for rows that combine countries (pooled ALL
rows, the focus-against-peers comparison) "synthetic" as soon as one country in the model is
synthetic. Every generated sentence about a synthetic country says so ("Cambodia (synthetic
data): ..."). `country_indicators.csv` holds published (real) figures and is not labelled.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import polars as pl
from ippmd.core.errors import InputError, Problem
from ippmd.models import charts as ch
from ippmd.models.country_indicators import REMITTANCE_COST, SDG_TARGET, STOCKS, indicator_benchmarks
from ippmd.models.data import PackageData
from ippmd.models.descriptives import figure_definitions, figure_shares
from ippmd.models.estimate import POOLED, SpecFit, comparison_table, estimates_table, fit_all
from ippmd.models.narrative import (
    descriptive_sentences,
    finding_sentence,
    fmt_effect,
    fmt_p,
    indicator_sentences,
    labelled,
    planted_sentence,
)
from ippmd.models.planted import planted_table
from ippmd.models.report import Section, html_table, render_report
from ippmd.models.spec import ModelSpec, load_specs
from ippmd.models.tables import write_regression_tables

from ippmd import SYNTHETIC_NOTICE

FEW_CLUSTERS = 10  # below this many treated (or untreated) communities, CRV1 SEs are unreliable
SIGNIFICANT_DIGITS = 12
Charts = dict[str, dict[str, Any]]  # chart name -> Vega-Lite spec
SYNTHETIC, SURVEY = "synthetic", "survey"
# The CSV outputs computed from the microdata: each gets a data_origin column.
MICRODATA_OUTPUTS = ("estimates", "comparison", "diagnostics", "planted", "descriptives")


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """CSV with floats at 12 significant digits: polars sums groups in a varying order, so the
    last bits of a clustered SE can differ between runs; rounding keeps the files identical."""
    frame.with_columns(pl.col(pl.Float64).round_sig_figs(SIGNIFICANT_DIGITS)).write_csv(path)
    return path


def save_chart(spec: dict[str, Any], name: str, directory: Path) -> dict[str, Path]:
    """SVG through vl-convert, and the PNG rasterized from that SVG (the same bytes as
    `chart.save("x.png")`, in about half the time)."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    directory.mkdir(parents=True, exist_ok=True)
    paths = {"png": directory / f"{name}.png", "svg": directory / f"{name}.svg"}
    svg = vl_convert.vegalite_to_svg(spec, vl_version=vl_version_for_vl_convert())
    paths["svg"].write_text(svg, encoding="utf-8")
    paths["png"].write_bytes(vl_convert.svg_to_png(svg))
    return paths


# Names this module writes; a rerun into the same folder removes its own outputs that it did not
# write this time (e.g. country_indicators.csv once the resource is gone), and nothing else.
OWN_OUTPUTS = (
    "estimates.csv", "comparison.csv", "diagnostics.csv", "planted.csv", "descriptives.csv",
    "country_indicators.csv", "report.html", "tables/regression_tables.*", "charts/effect_*.png",
    "charts/effect_*.svg", "charts/fig_*.png", "charts/fig_*.svg", "charts/remittance_cost.*",
    "charts/migrant_stocks.*",
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
    """Per spec, term and country: sample size, treated units and treated communities, and a
    flag where too few communities are treated (or untreated) for reliable clustered SEs."""
    frames = []
    for fit in fits:
        cluster = pl.col(fit.spec.cluster)
        for term in fit.spec.treatments:
            per = fit.frame.group_by("country").agg(
                pl.len().cast(pl.Int64).alias("n_obs"),
                pl.col(term).sum().cast(pl.Int64).alias("n_treated"),
                cluster.n_unique().cast(pl.Int64).alias("n_clusters"),
                cluster.filter(pl.col(term) == 1).n_unique().cast(pl.Int64).alias("n_treated_clusters"),
                cluster.filter(pl.col(term) == 0).n_unique().cast(pl.Int64).alias("n_untreated_clusters"),
            )
            few = pl.min_horizontal("n_treated_clusters", "n_untreated_clusters") < FEW_CLUSTERS
            frames.append(
                per.with_columns(
                    spec=pl.lit(fit.spec.id),
                    term=pl.lit(term),
                    fixed_effects=pl.lit(" + ".join(fit.fixed_effects)),
                    few_clusters=few,
                )
            )
    columns = [
        "spec", "term", "country", "fixed_effects", "n_obs", "n_treated", "n_clusters",
        "n_treated_clusters", "n_untreated_clusters", "few_clusters",
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
    against = f" against its {n_peers} peer countries" if n_peers else ""
    alone = (
        f" The package holds no other country: there are no peers, so the report gives the effects for "
        f"{name} without ranks, peer means or differences."
        if not n_peers
        else ""
    )
    return [
        f"Benchmarks of {name} ({focus}){against} on {n_specs} regressions "
        "testing findings of the IPPMD Cambodia report (OECD/CDRI 2017, ch. 1), and on the descriptive "
        f"Figures 1.5-1.7 of that chapter.{alone}",
        "<strong>These are estimates on SYNTHETIC data. They illustrate the method and are not findings "
        f"about {name} or any real country.</strong> The synthetic microdata contain planted relationships "
        "of assumed size; every effect chart marks the planted size (black tick) so that the reader can see "
        "whether the method recovers it.",
        "Method: weighted least squares with the household sampling weights (a linear probability model "
        "for yes/no outcomes, log-linear for amounts), region fixed effects (regions are nested in "
        "countries, so country fixed effects are absorbed) and the controls listed in each spec. The pooled "
        "model gives one effect; a second model interacts the treatment with the country, "
        "<code>i(country, treatment)</code>, and gives each country's effect with common controls. "
        "Standard errors are CRV1, clustered by community (the primary sampling unit), with the weights; "
        "<strong>there is no survey-design variance (no strata, no finite-population correction)</strong>. "
        "The peer mean is the unweighted mean of the peers' effects; its CI and the test of the focus "
        "country against it use the covariance matrix of the interacted model. Rank 1 is the largest "
        f"(most positive) effect. Where fewer than {FEW_CLUSTERS} communities are treated (community-level "
        "programmes), clustered standard errors are too small: read that country's interval as optimistic.",
    ]


def finding_sections(
    fits: list[SpecFit],
    estimates: pl.DataFrame,
    comparison: pl.DataFrame,
    planted: pl.DataFrame | None,
    diagnostics: pl.DataFrame,
    focus: str,
    country_name: str,
    origins: dict[str, str] | None = None,
) -> tuple[list[Section], Charts, list[str], list[list[str]]]:
    """Per spec and treatment: a section (quote, generated text, chart), the chart spec, the
    generated sentence and a row of the summary table. `origins` (iso3 -> synthetic/survey;
    default: every country synthetic) labels the sentences about synthetic data."""
    origins = origins or {}
    synthetic = origins.get(focus, SYNTHETIC) != SURVEY
    name = labelled(country_name, synthetic)
    planted_rows = {
        (r["spec"], r["term"], r["country"]): r
        for r in (planted.iter_rows(named=True) if planted is not None else [])
    }
    compared = {(r["spec"], r["term"]): r for r in comparison.iter_rows(named=True)}
    flagged = diagnostics.filter(pl.col("few_clusters") & (pl.col("country") == focus))
    few = set(flagged.select("spec", "term").iter_rows())
    sections: list[Section] = []
    charts: Charts = {}
    sentences: list[str] = []
    summary: list[list[str]] = []
    for fit in fits:
        spec = fit.spec
        for term in spec.treatments:
            row = compared[(spec.id, term)]
            rows = estimates.filter((pl.col("spec") == spec.id) & (pl.col("term") == term))
            sizes = {c: (planted_rows.get((spec.id, term, c)) or {}).get("attainable") for c in fit.countries}
            effects = rows.filter(pl.col("country") != POOLED).with_columns(
                planted=pl.col("country").replace_strict(sizes, default=None, return_dtype=pl.Float64)
            )
            axis = "Effect (probability points)" if spec.scale == "probability" else "Effect (log points)"
            name = chart_name(spec, term)
            charts[name] = ch.effect_chart(
                effects, focus, row.get("peer_mean"), spec.label(term), axis
            ).to_dict()
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
                f'<span class="finding-text">{html.escape(sentence)}</span>',
                html.escape(planted_sentence(spec, planted_rows.get((spec.id, term, focus)))),
                html.escape(
                    f"{pooled_label}: {fmt_effect(pooled['estimate'], s)} (95% CI "
                    f"{fmt_effect(pooled['ci_low'], s, False)} to {fmt_effect(pooled['ci_high'], s)}), "
                    f"n = {pooled['n_obs']:,}. Outcome: {spec.label(spec.model_outcome)}; sample: "
                    f"{spec.sample}; controls: {', '.join(spec.controls) or 'none'}; fixed effects: "
                    f"{' + '.join(fit.fixed_effects)}."
                ),
            ]
            if (spec.id, term) in few:
                paragraphs.append(
                    html.escape(
                        f"Caution: fewer than {FEW_CLUSTERS} communities in {name} are treated (or "
                        "untreated); its clustered standard error is unreliable (too small)."
                    )
                )
            if spec.note:
                paragraphs.append(html.escape(spec.note))
            heading = spec.title + (f": {spec.label(term)}" if len(spec.treatments) > 1 else "")
            sections.append(
                Section(
                    heading, paragraphs, quote=spec.finding, source=spec.source or None, chart=name, level=3
                )
            )
            summary.append(
                [
                    f"{spec.label(spec.model_outcome)} ~ {spec.label(term)}",
                    fmt_effect(row.get("focus_estimate"), s),
                    f"{fmt_effect(row.get('focus_ci_low'), s, False)} to "
                    f"{fmt_effect(row.get('focus_ci_high'), s, False)}",
                    "n/a (no peers)" if row.get("rank") is None else f"{row['rank']} of {row['n_ranked']}",
                    fmt_effect(row.get("peer_mean"), s),
                    fmt_p(row.get("difference_p_value")),
                ]
            )
    return sections, charts, sentences, summary


def descriptive_sections(
    shares: pl.DataFrame, focus: str, country_name: str, synthetic: bool = True
) -> tuple[list[Section], Charts]:
    sections: list[Section] = []
    charts: Charts = {}
    for key, figure in figure_definitions().items():
        subset = shares.filter(pl.col("figure") == key)
        title = f"{figure['seed_figure']}: {figure['title']}"
        charts[key] = ch.share_chart(subset, focus, title, figure["measure"]).to_dict()
        paragraphs = [html.escape(figure["measure"] + "; weighted, 95% CI clustered by community.")]
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
        chart = (
            ch.cost_chart(frame, focus, SDG_TARGET) if target is not None else ch.stock_chart(frame, focus)
        )
        charts[key] = chart.to_dict()
        sentences = indicator_sentences(current, focus, country_name, target)
        sections.append(Section(heading, [html.escape(s) for s in sentences], chart=key, level=3))
    return sections, charts


def _files_paragraph(has_planted: bool) -> str:
    planted = "<a href='planted.csv'>planted.csv</a>, " if has_planted else ""
    return (
        "Estimates: <a href='estimates.csv'>estimates.csv</a> (pooled rows have country ALL), "
        "<a href='comparison.csv'>comparison.csv</a> (focus against peers), "
        f"<a href='diagnostics.csv'>diagnostics.csv</a>, {planted}"
        "<a href='descriptives.csv'>descriptives.csv</a>; regression tables in "
        "<a href='tables/regression_tables.md'>Markdown</a>, "
        "<a href='tables/regression_tables.html'>HTML</a> and "
        "<a href='tables/regression_tables.tex'>LaTeX</a>; charts as PNG and SVG in charts/."
    )


def run_benchmark(package_dir: Path, focus: str = "KHM", out_dir: Path | None = None) -> dict[str, Any]:
    """Benchmark `focus` (ISO3) against the other package countries; write everything into
    out_dir (default reports/<focus>). Returns the paths written (`files`), the generated
    sentences (`findings`), `n_charts`, whether country indicators were found, and timings."""
    started = time.perf_counter()
    focus = focus.strip().upper()
    out_dir = Path(out_dir) if out_dir is not None else Path("reports") / focus
    timings: dict[str, float] = {}

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
    timings["load"] = time.perf_counter() - started

    tick = time.perf_counter()
    import pyfixest.estimation  # noqa: F401  (pyfixest imports lazily: load it outside the fit timing)

    timings["import_pyfixest"] = time.perf_counter() - tick
    specs = load_specs()
    tick = time.perf_counter()
    fits = fit_all(data, specs)
    timings["fit"] = time.perf_counter() - tick

    tick = time.perf_counter()
    estimates = estimates_table(fits)
    comparison = comparison_table(fits, focus)
    planted = planted_table(fits, synthetic) if synthetic else None
    diagnostics = diagnostics_table(fits)
    shares = figure_shares(data)
    indicators = indicator_benchmarks(data, focus)
    outputs = {
        "estimates": estimates,
        "comparison": comparison,
        "diagnostics": diagnostics,
        "planted": planted,
        "descriptives": shares,
        "country_indicators": indicators,
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
    found, effect_charts, sentences, summary = finding_sections(
        fits, estimates, comparison, planted, diagnostics, focus, country_name, origins
    )
    described, share_charts = descriptive_sections(shares, focus, country_name, focus in synthetic)
    indicated, indicator_charts = indicator_sections(indicators, focus, country_name)
    charts = {**effect_charts, **share_charts, **indicator_charts}
    for name, spec in charts.items():
        for fmt, path in save_chart(spec, name, out_dir / "charts").items():
            files[f"chart_{name}_{fmt}"] = path
    timings["charts"] = time.perf_counter() - tick

    header = [
        "Finding (outcome ~ treatment)",
        f"{focus} effect",
        "95% CI",
        "Rank",
        "Peer mean",
        "Difference p",
    ]
    n_peers = len(data.countries) - 1
    sections = [
        Section(
            "About this report",
            method_paragraphs(country_name, focus, len(specs), n_peers),
            css_class="method",
        ),
        Section(
            f"Summary: {country_name} against its peers (SYNTHETIC data)",
            ["Effects in percentage points (pp) for yes/no outcomes, log points for amounts."],
            table_html=html_table(header, summary),
        ),
        Section("Regression benchmarks"),
        *found,
        Section("Descriptive benchmarks (seed Figures 1.5-1.7)"),
        *described,
        Section("Country indicators (published data, not synthetic)"),
        *indicated,
        Section("Files", [_files_paragraph(planted is not None)]),
    ]
    title = f"IPPMD cross-country benchmarks: {country_name} ({focus}) and its peers (SYNTHETIC DATA)"
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
        "country_indicators": indicators is not None,
        "timings": timings,
    }

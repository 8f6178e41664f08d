"""Cross-country benchmarks of one focus country against its peers: the public entry point.

`run_benchmark(package_dir, focus, out_dir)` estimates every spec in `models/specs/`, computes
the descriptive figures and (when the package has them) the country indicators, and writes CSV
files, charts (PNG and SVG), regression tables (Markdown, HTML, LaTeX) and one offline
`report.html` into out_dir. The same package (and SOURCE_DATE_EPOCH, for the date stamp) gives
the same files; `reporting.provenance` says what every report is stamped with.

The estimation is done by `ippmd.models`; this module only runs the steps in order, each a
function below, passing small frozen records from one to the next. The parts that need no model
come first, so that their charts are drawn (on the chart pool, in other processes) while the
remittance costs and the survey models are fitted.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ippmd import SYNTHETIC_NOTICE
from ippmd.core.errors import InputError, Problem
from ippmd.models.country_indicators import indicator_benchmarks
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.descriptives import figure_shares
from ippmd.models.diagnostics import diagnostics_table
from ippmd.models.estimate import Message, SpecFit, comparison_table, estimates_table, fit_spec, ranks_table
from ippmd.models.planted import planted_table
from ippmd.models.remittance_costs import CostBenchmark, cost_benchmark
from ippmd.models.remittance_costs_corridor import fieldwork_years
from ippmd.models.spec import ModelSpec, load_specs
from ippmd.reporting.charts import Charts
from ippmd.reporting.findings import (
    Findings,
    finding_sections,
    fit_charts,
    multiplicity_paragraph,
    summary_header,
)
from ippmd.reporting.narrative import labelled
from ippmd.reporting.outputs import PNG_SCALE, ChartPool, cost_outputs, remove_stale, write_csvs
from ippmd.reporting.provenance import SYNTHETIC, country_origins, model_origins, provenance, synthetic_footer
from ippmd.reporting.report import Section, html_table, render_report, vega_bundle
from ippmd.reporting.sections import (
    cost_benchmark_sections,
    descriptive_sections,
    diagnostics_section,
    files_paragraph,
    indicator_sections,
    method_paragraphs,
    stamp_paragraph,
)
from ippmd.reporting.summary import summary_sentences
from ippmd.reporting.tables import write_regression_tables

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Setting:
    """What every step needs: the specs, the package, the focus and how its outputs are labelled."""

    specs: tuple[ModelSpec, ...]
    data: PackageData
    focus: str
    country_name: str
    out_dir: Path
    origins: dict[str, str]  # iso3 -> synthetic or survey
    synthetic: set[str]
    stamp: dict[str, str]  # the provenance of every report and chart
    footer: tuple[str, ...]  # the synthetic charts' source lines

    @property
    def charts_dir(self) -> Path:
        return self.out_dir / "charts"


@dataclass(frozen=True)
class Described:
    """The descriptive figures and the country indicators, with their sections and charts."""

    shares: pl.DataFrame
    indicators: pl.DataFrame | None
    figure_sections: list[Section]
    figure_charts: Charts
    indicator_sections: list[Section]
    indicator_charts: Charts


@dataclass(frozen=True)
class Costed:
    """The real-data remittance-cost benchmark (None when skipped), its section and chart."""

    bench: CostBenchmark | None
    sections: list[Section]
    charts: Charts


@dataclass(frozen=True)
class Inferred:
    """The tables computed from all the fits together."""

    estimates: pl.DataFrame
    comparison: pl.DataFrame
    ranks: pl.DataFrame
    planted: pl.DataFrame | None
    diagnostics: pl.DataFrame


class Stopwatch:
    """Seconds per named step, for the caller's summary line and the benchmarks in bench/."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, step: str, since_start: bool = False) -> Iterator[None]:
        tick = self.started if since_start else time.perf_counter()
        yield
        self.timings[step] = time.perf_counter() - tick


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
    """The steps in order; see `run_benchmark` for what is returned."""
    clock = Stopwatch()
    with clock.timed("load", since_start=True):
        setting = prepare(package_dir, focus, out_dir, progress)
    with clock.timed("figures"):
        described = describe(setting, pool, progress)
    costed = benchmark_costs(setting, pool, progress, external_dir, clock)
    fits = fit_specs(setting, pool, progress, clock)
    with clock.timed("inference"):
        inferred = infer(setting, fits, progress)
    with clock.timed("tables"):
        found = find(setting, fits, inferred)
        charts = {**found.charts, **described.figure_charts, **costed.charts, **described.indicator_charts}
        progress(f"rendering {len(charts)} charts (SVG, PNG at {PNG_SCALE}x) and writing tables")
        pool.start({k: v for k, v in found.charts.items() if k not in pool.names}, setting.charts_dir)
        files = write_tables(setting, fits, inferred, described, costed)
    with clock.timed("charts"):
        files.update(pool.finish())
    sections = report_sections(setting, fits, inferred, described, costed, found, library_notes(caught))
    files["report"] = write_report(setting, sections, charts, progress)
    remove_stale(setting.out_dir, files)
    clock.timings["total"] = time.perf_counter() - clock.started
    return {
        "focus": setting.focus,
        "country_name": setting.country_name,
        "out_dir": setting.out_dir,
        "files": files,
        "n_specs": len(setting.specs),
        "n_charts": len(charts),
        "findings": found.sentences,
        "summary": [dict(zip(summary_header(setting.focus), row, strict=True)) for row in found.summary],
        "country_indicators": described.indicators is not None,
        "remittance_costs": costed.bench is not None,
        "provenance": setting.stamp,
        "timings": clock.timings,
    }


def prepare(package_dir: Path, focus: str, out_dir: Path | None, progress: Progress) -> Setting:
    """The specs (checked first: a broken spec fails before any data are read), the package, and
    the focus country, refused when the package does not hold it."""
    focus = focus.strip().upper()
    out_dir = Path(out_dir) if out_dir is not None else Path("reports") / focus
    progress("checking specs")
    specs = load_specs()
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
    origins = country_origins(data)
    stamp = provenance(data)
    return Setting(
        specs=specs,
        data=data,
        focus=focus,
        country_name=data.country_names.get(focus, focus),
        out_dir=out_dir,
        origins=origins,
        synthetic={c for c, origin in origins.items() if origin == SYNTHETIC},
        stamp=stamp,
        footer=synthetic_footer(stamp),
    )


def describe(setting: Setting, pool: ChartPool, progress: Progress) -> Described:
    """The descriptive figures and the country indicators; their charts go to the pool at once."""
    focus, name = setting.focus, setting.country_name
    progress("descriptive figures and country indicators")
    shares = figure_shares(setting.data)
    indicators = indicator_benchmarks(setting.data, focus)
    described, share_charts = descriptive_sections(
        shares, focus, name, focus in setting.synthetic, setting.footer
    )
    indicated, indicator_charts = indicator_sections(indicators, focus, name)
    pool.start({**share_charts, **indicator_charts}, setting.charts_dir)
    return Described(shares, indicators, described, share_charts, indicated, indicator_charts)


def try_cost_benchmark(
    package_countries: list[str],
    focus: str,
    source_dir: Path | None = None,
    fieldwork: tuple[int, int] | None = None,
) -> tuple[CostBenchmark | None, str | None]:
    """The benchmark, or None and why it was skipped (the original file absent or changed)."""
    try:
        return cost_benchmark(package_countries, focus, source_dir, fieldwork), None
    except InputError as exc:
        reasons = "; ".join(p.message for p in exc.problems)
        return None, f"Skipped: the World Bank RPW original is not available ({reasons})."


def benchmark_costs(
    setting: Setting, pool: ChartPool, progress: Progress, external_dir: Path | None, clock: Stopwatch
) -> Costed:
    """The fixed-effects benchmark of remittance costs on the real RPW corridors, or why not."""
    progress("remittance costs: fixed effects on the real RPW corridors")
    with clock.timed("remittance_costs"):
        fieldwork = fieldwork_years(setting.data.tables["countries"])
        bench, skipped = try_cost_benchmark(setting.data.countries, setting.focus, external_dir, fieldwork)
    sections, charts = cost_benchmark_sections(
        bench, skipped, setting.focus, setting.country_name, setting.data.country_names
    )
    pool.start(charts, setting.charts_dir)
    return Costed(bench, sections, charts)


def fit_specs(setting: Setting, pool: ChartPool, progress: Progress, clock: Stopwatch) -> list[SpecFit]:
    """Every spec fitted in turn; each spec's charts are drawn (in the chart processes) while the
    next ones are fitted."""
    with clock.timed("import_pyfixest"):
        progress("loading pyfixest")
        import pyfixest.estimation  # noqa: F401  (pyfixest imports lazily: load it outside the fit timing)
    specs, data = setting.specs, setting.data
    with clock.timed("fit"):
        progress(f"fitting {len(specs)} specs (with few-cluster inference where clusters are few)")
        fits = []
        for spec in specs:
            fits.append(fit_spec(spec, analysis_frame(spec, data), data.countries))
            charts = fit_charts(fits[-1], setting.focus, setting.synthetic, setting.footer)
            pool.start(charts, setting.charts_dir)
    return fits


def infer(setting: Setting, fits: list[SpecFit], progress: Progress) -> Inferred:
    """Intervals, ranks, peer means and multiplicity over all the fits."""
    progress("inference: intervals, ranks, peer means, multiplicity")
    return Inferred(
        estimates=estimates_table(fits),
        comparison=comparison_table(fits, setting.focus),
        ranks=ranks_table(fits),
        planted=planted_table(fits, setting.synthetic) if setting.synthetic else None,
        diagnostics=diagnostics_table(fits),
    )


def find(setting: Setting, fits: list[SpecFit], inferred: Inferred) -> Findings:
    """The findings of every spec and treatment: sections, effect charts, sentences, summary rows."""
    return finding_sections(
        fits, inferred.estimates, inferred.comparison, inferred.planted, inferred.diagnostics,
        setting.focus, setting.country_name, setting.origins, setting.footer,
    )  # fmt: skip


def library_notes(caught: list[warnings.WarningMessage]) -> list[Message]:
    """Warnings raised outside the model fits (which turn their own into notes), for Diagnostics."""
    return [
        Message("benchmark", "report", "", w.category.__name__, " ".join(str(w.message).split())[:300])
        for w in caught
    ]


def write_tables(
    setting: Setting, fits: list[SpecFit], inferred: Inferred, described: Described, costed: Costed
) -> dict[str, Path]:
    """The CSV files (labelled with their data's origin) and the regression tables."""
    outputs = {
        "estimates": inferred.estimates,
        "comparison": inferred.comparison,
        "ranks": inferred.ranks,
        "diagnostics": inferred.diagnostics,
        "planted": inferred.planted,
        "descriptives": described.shares,
        "country_indicators": described.indicators,
        **cost_outputs(costed.bench),
    }
    files = write_csvs(outputs, setting.origins, model_origins(fits, setting.origins), setting.out_dir)
    tables = write_regression_tables(fits, setting.out_dir / "tables")
    files.update({f"regression_tables_{fmt}": path for fmt, path in tables.items()})
    return files


def report_sections(
    setting: Setting,
    fits: list[SpecFit],
    inferred: Inferred,
    described: Described,
    costed: Costed,
    found: Findings,
    leftover: list[Message],
) -> list[Section]:
    """The report from top to bottom: the summary (at most five sentences), how it was made,
    provenance, the summary table, then each part in turn."""
    focus, name = setting.focus, setting.country_name
    focus_synthetic = focus in setting.synthetic
    specs = {spec.id: spec for spec in setting.specs}
    summary = summary_sentences(inferred.comparison, specs, name, focus_synthetic, costed.bench)
    return [
        Section(
            "Summary",
            [f'<span class="summary-text">{html.escape(sentence)}</span>' for sentence in summary],
            css_class="summary",
        ),
        Section(
            "About this report",
            method_paragraphs(name, focus, len(setting.specs), len(setting.data.countries) - 1),
            css_class="method",
        ),
        Section("Provenance", [stamp_paragraph(setting.stamp)], css_class="method"),
        Section(
            f"All findings: {labelled(name, focus_synthetic)} against its peers (SYNTHETIC data)",
            [
                html.escape(
                    "Effects in percentage points (pp) for yes/no outcomes, log points for amounts. Rank 1 "
                    "= the largest effect in the direction of the finding; a rank is shown as its 95% "
                    "confidence set (Mogstad, Romano, Shaikh and Wilhelm 2024), the marginal set first, "
                    "then in brackets the simultaneous set over all countries."
                ),
                html.escape(multiplicity_paragraph(inferred.comparison, fits, name, focus_synthetic)),
            ],
            table_html=html_table(summary_header(focus), found.summary),
        ),
        Section("Regression benchmarks (SYNTHETIC data)"),
        *found.sections,
        Section("Descriptive benchmarks (seed Figures 1.5-1.7, SYNTHETIC data)"),
        *described.figure_sections,
        Section("Remittance costs on real data"),
        *costed.sections,
        Section("Country indicators (published data, not synthetic)"),
        *described.indicator_sections,
        diagnostics_section(fits, leftover),
        Section("Files", [files_paragraph(inferred.planted is not None, costed.bench is not None)]),
    ]


def write_report(setting: Setting, sections: list[Section], charts: Charts, progress: Progress) -> Path:
    """report.html: one offline page, titled SYNTHETIC DATA."""
    title = (
        f"IPPMD cross-country benchmarks: {setting.country_name} ({setting.focus}) and its peers "
        "(SYNTHETIC DATA)"
    )
    progress("writing report.html")
    path = setting.out_dir / "report.html"
    path.write_text(render_report(title, SYNTHETIC_NOTICE, sections, charts), encoding="utf-8")
    return path

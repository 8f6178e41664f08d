"""The benchmark outputs and the offline report (run once per module on a copy of the package
with a small fake `country_indicators` resource)."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from ippmd import SYNTHETIC_NOTICE
from ippmd.build import build
from ippmd.core.errors import InputError
from ippmd.models.country_indicators import indicator_benchmarks
from ippmd.models.data import PackageData
from ippmd.models.descriptives import DESCRIPTIVE_COLUMNS
from ippmd.models.estimate import ESTIMATE_COLUMNS
from ippmd.models.spec import get_spec
from ippmd.package.write import data_hash
from ippmd.reporting.benchmark import run_benchmark
from ippmd.reporting.narrative import (
    descriptive_sentences,
    finding_sentence,
    fmt_effect,
    ordinal,
    rank_set_words,
    shows_sentence,
)
from ippmd.reporting.provenance import with_data_origin
from ippmd.reporting.sections import indicator_sections

CHROMIUM = Path("/usr/bin/chromium")
MICRODATA_CSVS = ("estimates", "comparison", "ranks", "descriptives", "diagnostics", "planted")
LABEL = "Cambodia (synthetic data)"
INDICATOR_FIELDS = [
    ("iso3", "string"),
    ("indicator", "string"),
    ("partner_iso3", "string"),
    ("period", "string"),
    ("year", "integer"),
    ("value", "number"),
    ("unit", "string"),
    ("n_corridors", "integer"),
    ("source", "string"),
    ("vintage", "string"),
    ("source_file", "string"),
    ("method", "string"),
]


def _row(
    iso3: str, indicator: str, period: str, value: float, partner: str = "", corridors: int | None = None
) -> dict[str, Any]:
    return {
        "iso3": iso3,
        "indicator": indicator,
        "partner_iso3": partner,
        "period": period,
        "year": int(period[:4]),
        "value": value,
        "unit": "percent",
        "n_corridors": corridors,
        "source": "fake for tests",
        "vintage": "test",
        "source_file": "none",
        "method": "none",
    }


def _fake_indicators() -> list[dict[str, Any]]:
    """Annual and quarterly costs (the quarter differs), MAR only as two corridors (to be
    averaged), BFA without any cost (to stay missing); both stocks for everyone in 2015."""
    costs = {"ARM": 2.5, "CIV": 11.0, "CRI": 4.5, "DOM": 5.6, "GEO": 3.9, "HTI": 5.1, "KHM": 13.6, "PHL": 4.2}
    rows = []
    for iso3, value in costs.items():
        rows.append(_row(iso3, "remittance_cost_usd200", "2016", value, corridors=2))
        rows.append(_row(iso3, "remittance_cost_usd200", "2016Q4", value + 1.0, corridors=2))
    rows.append(_row("MAR", "remittance_cost_usd200", "2016", 6.0, partner="FRA", corridors=1))
    rows.append(_row("MAR", "remittance_cost_usd200", "2016", 8.0, partner="ESP", corridors=1))
    for iso3 in ("ARM", "BFA", "CIV", "CRI", "DOM", "GEO", "HTI", "KHM", "MAR", "PHL"):
        rows.append(_row(iso3, "emigrant_stock_share", "2015", 7.6 if iso3 == "KHM" else 12.0))
        rows.append(_row(iso3, "immigrant_stock_share", "2015", 0.5))
    return rows


@pytest.fixture(scope="module")
def indicator_package(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session package with data/country_indicators.csv listed as a resource."""
    root = tmp_path_factory.mktemp("package-with-indicators")
    shutil.copytree(package_dir / "data", root / "data")
    names = [name for name, _ in INDICATOR_FIELDS]
    with (root / "data" / "country_indicators.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(_fake_indicators())
    descriptor = json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))
    resources = [r for r in descriptor["resources"] if r["name"] != "country_indicators"]
    table = root / "data" / "country_indicators.csv"
    resources.append(
        {
            "name": "country_indicators",
            "title": "Country indicators (fake values for the test)",
            "path": "data/country_indicators.csv",
            "format": "csv",
            "hash": "sha256:" + hashlib.sha256(table.read_bytes()).hexdigest(),
            "rows": len(_fake_indicators()),
            "schema": {"fields": [{"name": n, "type": t} for n, t in INDICATOR_FIELDS]},
        }
    )
    _write_descriptor(root, {**descriptor, "resources": resources})
    return root


def _write_descriptor(root: Path, descriptor: dict[str, Any]) -> None:
    """A descriptor whose dataHash is its listed files' (the reader holds the two together)."""
    descriptor["dataHash"] = data_hash(descriptor["resources"])
    (root / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")


@pytest.fixture(scope="module")
def package_without_indicators(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session package seen through a descriptor that lists no country_indicators."""
    root = tmp_path_factory.mktemp("package-without-indicators")
    shutil.copytree(package_dir / "data", root / "data", copy_function=os.link)  # inside the package
    descriptor = json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))
    resources = [r for r in descriptor["resources"] if r["name"] != "country_indicators"]
    _write_descriptor(root, {**descriptor, "resources": resources})
    return root


@pytest.fixture(scope="module")
def result(indicator_package: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_benchmark(indicator_package, "KHM", tmp_path_factory.mktemp("report-KHM"))


@pytest.fixture(scope="module")
def report(result: dict[str, Any]) -> str:
    return result["files"]["report"].read_text(encoding="utf-8")


def test_outputs_exist_with_the_documented_columns(result: dict[str, Any]) -> None:
    out: Path = result["out_dir"]
    for name in ("estimates.csv", "comparison.csv", "descriptives.csv", "diagnostics.csv", "report.html"):
        assert (out / name).stat().st_size > 0, name
    for fmt in ("md", "html", "tex"):
        assert (out / "tables" / f"regression_tables.{fmt}").stat().st_size > 0
    estimates = pl.read_csv(out / "estimates.csv")
    assert tuple(estimates.columns) == (*ESTIMATE_COLUMNS, "data_origin")
    pooled = estimates.filter(pl.col("country") == "ALL")
    assert set(pooled["spec"]) == set(estimates["spec"])
    assert estimates.filter(pl.col("country") != "ALL")["country"].n_unique() == 10
    descriptives = pl.read_csv(out / "descriptives.csv")
    assert tuple(descriptives.columns) == (*DESCRIPTIVE_COLUMNS, "data_origin")
    assert set(descriptives["figure"]) == {"fig_1_5", "fig_1_6", "fig_1_7"}
    assert (descriptives["ci_low"] <= descriptives["estimate"]).all()
    assert (descriptives["estimate"] <= descriptives["ci_high"]).all()
    pngs, svgs = sorted((out / "charts").glob("*.png")), sorted((out / "charts").glob("*.svg"))
    assert len(pngs) == len(svgs) == result["n_charts"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert all("<svg" in p.read_text(encoding="utf-8")[:500] for p in svgs)


def test_regression_tables_are_complete(result: dict[str, Any]) -> None:
    tables = result["out_dir"] / "tables"
    md = (tables / "regression_tables.md").read_text(encoding="utf-8")
    assert md.count("\n## ") == result["n_specs"]
    assert "country=KHM" in md and "CRV1" in md and "SYNTHETIC" in md
    tex = (tables / "regression_tables.tex").read_text(encoding="utf-8")
    assert tex.count("\\begin{tabularx}") == result["n_specs"]
    html = (tables / "regression_tables.html").read_text(encoding="utf-8")
    assert "etable-vocational_training_on_plans" in html and "http" not in html


def test_report_is_self_contained_and_labelled_synthetic(report: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=", report, re.IGNORECASE)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?:", report, re.IGNORECASE)
    assert not re.search(r"\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", report, re.IGNORECASE)
    assert "vegaEmbed" in report  # the inlined bundle
    notice = report.index(SYNTHETIC_NOTICE)
    assert notice < report.index("<section") < report.index('class="chart"')
    assert "not findings about Cambodia" in report
    assert "no survey-design variance" in report
    assert "clustered by community" in report


def test_report_text_states_each_finding_for_cambodia(result: dict[str, Any], report: str) -> None:
    comparison = pl.read_csv(result["out_dir"] / "comparison.csv")
    assert len(result["findings"]) == comparison.height
    row = comparison.filter(pl.col("spec") == "vocational_training_on_plans").row(0, named=True)
    sentence = next(s for s in result["findings"] if "rank" in s)
    expected = (
        f"{LABEL}: effect {fmt_effect(row['focus_estimate'], 'probability')} (95% CI "
        f"{fmt_effect(row['focus_ci_low'], 'probability', False)} to "
        f"{fmt_effect(row['focus_ci_high'], 'probability')}, CRV1 t({row['focus_df']:g})), "
        f"ranked {rank_set_words(row['rank_marginal_low'], row['rank_marginal_high'])} of 10 (95% "
        "confidence set; simultaneous over all 10 countries: "
        f"{rank_set_words(row['rank_simultaneous_low'], row['rank_simultaneous_high'])}; "
        f"{ordinal(row['rank'])} by the estimates; "
        f"1 = the most positive effect), peer mean {fmt_effect(row['peer_mean'], 'probability')}"
    )
    assert sentence.startswith(expected)
    assert "not significantly different from zero" in sentence
    for text in result["findings"]:
        assert text.startswith(f"{LABEL}: effect ") and html.escape(text) in report


def test_every_microdata_csv_says_its_data_are_synthetic(result: dict[str, Any]) -> None:
    """Regression: the CSVs carried no synthetic marker, so a row could be quoted as a finding."""
    out: Path = result["out_dir"]
    for name in MICRODATA_CSVS:
        table = pl.read_csv(out / f"{name}.csv")
        assert table.columns[-1] == "data_origin", name
        assert table["data_origin"].to_list() == ["synthetic"] * table.height, name
    estimates = pl.read_csv(out / "estimates.csv")
    assert estimates.filter(pl.col("country") == "ALL").height > 0  # pooled rows are labelled too
    indicators = (out / "country_indicators.csv").read_text(encoding="utf-8")  # real data
    assert "data_origin" not in indicators.splitlines()[0] and "synthetic" not in indicators


def test_every_generated_sentence_about_cambodia_says_synthetic(result: dict[str, Any], report: str) -> None:
    """Regression: 'Cambodia: effect -9.6 pp ... significantly different from zero' could be
    quoted alone. Every sentence naming Cambodia now carries the label, except the sentences on
    the published (real) country indicators."""
    for text in result["findings"]:
        assert text.startswith(f"{LABEL}: ") and f"The effect for {LABEL} is " in text
    assert f"{LABEL}, " in report  # descriptive sentences
    assert "Pooled over all countries (synthetic data): " in report
    unlabelled = re.findall(r"(?:<p>|>)(?:The )?(?:effect for )?Cambodia[:,] ([a-z ]+)", report)
    assert unlabelled and set(unlabelled) <= {
        "cost of remitting ",
        "emigrant stock ",
        "immigrant stock ",
    }, unlabelled
    assert not re.search(r"Cambodia (?:effect|is|are)\b", report)


def test_data_origin_follows_each_country_and_is_synthetic_when_any_pooled_one_is() -> None:
    origins = {"KHM": "synthetic", "SEN": "survey", "CIV": "survey"}
    pooled = {"mixed": "synthetic", "real": "survey"}
    estimates = pl.DataFrame(
        {
            "spec": ["mixed", "mixed", "mixed", "real", "real", "new"],
            "country": ["ALL", "KHM", "SEN", "ALL", "SEN", "ALL"],
        }
    )
    labelled = with_data_origin(estimates, origins, pooled)
    assert labelled["data_origin"].to_list() == [
        "synthetic", "synthetic", "survey", "survey", "survey", "synthetic",
    ]  # fmt: skip
    comparison = pl.DataFrame({"spec": ["mixed", "real"], "focus": ["SEN", "SEN"]})
    assert with_data_origin(comparison, origins, pooled)["data_origin"].to_list() == ["synthetic", "survey"]
    shares = pl.DataFrame({"figure": ["f", "f", "f"], "country": ["KHM", "CIV", "XYZ"]})
    assert with_data_origin(shares, origins)["data_origin"].to_list() == ["synthetic", "survey", "synthetic"]


def test_sentences_carry_the_synthetic_label_only_for_synthetic_data() -> None:
    spec = get_spec("vocational_training_on_plans")
    row = {
        "term": "vocational_training", "n_peers": 2, "focus_estimate": -0.096, "focus_ci_low": -0.11,
        "focus_ci_high": -0.08, "focus_p_value": 0.0001, "rank": 3, "rank_marginal_low": 2,
        "rank_marginal_high": 3, "rank_simultaneous_low": 1, "rank_simultaneous_high": 3, "n_ranked": 3,
        "direction": "positive", "focus_method": "CRV1 t(99)", "peer_mean": 0.05,
        "peer_mean_ci_low": 0.01, "peer_mean_ci_high": 0.09, "difference": -0.146,
        "difference_p_value": 0.001,
    }  # fmt: skip
    synthetic = finding_sentence(spec, row, "Cambodia", synthetic=True)
    assert synthetic.startswith(f"{LABEL}: effect -9.6 pp (95% CI -11.0 to -8.0 pp, CRV1 t(99))")
    assert (
        "ranked between 2nd and 3rd of 3 (95% confidence set; simultaneous over all 3 countries: "
        "between 1st and 3rd; 3rd by the estimates; 1 = the most positive effect)"
    ) in synthetic
    shows = shows_sentence(spec, row, "Cambodia", synthetic=True)
    assert shows == (
        f"What the estimate for {LABEL} shows: a negative effect, significant at 5%: against the "
        "sign the finding names (positive)."
    )
    assert f"The effect for {LABEL} is significantly different from zero" in synthetic
    survey = finding_sentence(spec, row, "Senegal", synthetic=False, peers_synthetic=False)
    assert survey.startswith("Senegal: effect -9.6 pp") and "synthetic" not in survey
    mixed = finding_sentence(spec, row, "Senegal", synthetic=False, peers_synthetic=True)
    assert mixed.startswith("Senegal: effect")
    assert "against peers with synthetic data: ranked between 2nd and 3rd of 3" in mixed
    shares = pl.DataFrame(
        {"country": ["KHM"], "panel": ["Men"], "group": ["Receives"], "estimate": [0.5],
         "ci_low": [0.4], "ci_high": [0.6], "n": [100], "n_clusters": [30]}
    )  # fmt: skip
    assert descriptive_sentences(shares, "KHM", "Cambodia", synthetic=True)[0].startswith(f"{LABEL}, men: ")
    assert descriptive_sentences(shares, "KHM", "Cambodia", synthetic=False)[0].startswith("Cambodia, men: ")


def test_country_indicators_are_read_through_the_descriptor(result: dict[str, Any], report: str) -> None:
    assert result["country_indicators"]
    table = pl.read_csv(result["out_dir"] / "country_indicators.csv", schema_overrides={"period": pl.String})
    cost = table.filter(pl.col("indicator") == "remittance_cost_usd200")
    assert set(cost["period"]) == {"2016"}  # annual preferred over the quarter
    assert cost["reference"].all()
    values = dict(cost.select("country", "value").iter_rows())
    assert values["KHM"] == 13.6
    assert values["MAR"] == pytest.approx(7.0)  # mean of its two corridors
    assert values["BFA"] is None  # missing stays missing
    assert "SDG target" in report and "No data (not imputed): BFA" in report
    assert "charts" in str(result["files"]["chart_remittance_cost_png"])


def test_without_the_resource_the_indicator_section_is_skipped(package_without_indicators: Path) -> None:
    assert indicator_benchmarks(PackageData.load(package_without_indicators), "KHM") is None
    sections, charts = indicator_sections(None, "KHM", "Cambodia")
    assert charts == {}
    assert sections[0].css_class == "skipped"
    assert "no <code>country_indicators</code> resource" in sections[0].paragraphs[0]


def test_real_indicators_reproduce_the_seed_where_the_package_has_them(package_dir: Path) -> None:
    """Seed: Cambodia's emigrants are about 7.6% of its population (2015) and its remittance
    cost (about 13% in 2016) is the highest of the ten countries."""
    data = PackageData.load(package_dir)
    table = indicator_benchmarks(data, "KHM")
    if table is None:
        pytest.skip("this package has no country_indicators resource")
    stock = table.filter((pl.col("indicator") == "emigrant_stock_share") & pl.col("reference"))
    assert stock.filter(pl.col("country") == "KHM")["value"][0] == pytest.approx(7.6, abs=0.05)
    cost = table.filter((pl.col("indicator") == "remittance_cost_usd200") & (pl.col("period") == "2016"))
    ranked = cost.drop_nulls("value").sort("value", descending=True)
    assert ranked["country"][0] == "KHM" and 12.5 < ranked["value"][0] < 14.5
    assert cost.filter(pl.col("country") == "BFA")["value"].is_null().all()  # no corridor: not imputed


def test_the_report_names_the_random_effects_method_of_every_row(result: dict[str, Any], report: str) -> None:
    """comparison.csv names each row's random-effects method (REML, HKSJ t(k - 1), by
    models/inference.yaml), the report's sentences repeat it beside the mean's interval, and the
    methods paragraph says how it is computed; the real-data premium names its own."""
    out: Path = result["out_dir"]
    comparison = pl.read_csv(out / "comparison.csv").filter(pl.col("n_peers") > 0)
    methods = comparison["peer_mean_re_method"].to_list()
    assert all(
        m.startswith("REML tau2") and m.endswith("; HKSJ-truncated t(8); prediction t(8)") for m in methods
    )
    text = html.unescape(re.sub(r"<[^>]+>", "", report))
    for row in comparison.iter_rows(named=True):
        assert f"; {row['peer_mean_re_method']}" in text, row["spec"]
        assert row["prediction_low"] <= row["peer_mean_re_ci_low"] <= row["peer_mean_re"]
    assert "Knapp-Hartung factor at least 1" in text  # the truncated HKSJ of models/inference.yaml
    assert "random-effects mean (DerSimonian-Laird)" not in text
    costs = pl.read_csv(out / "remittance_cost_comparison.csv")
    assert costs["peer_mean_re_method"][0].startswith("REML tau2; HKSJ-truncated t(")
    assert f", {costs['peer_mean_re_method'][0]}; tau2 = " in text


def test_an_unknown_focus_country_is_refused_naming_the_package_countries(
    package_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError) as raised:
        run_benchmark(package_dir, "XYZ", tmp_path / "out")
    (problem,) = raised.value.problems
    assert problem.file == "datapackage.json" and problem.value == "XYZ"
    assert "not in the package" in problem.message
    for iso3 in PackageData.load(package_dir).countries:
        assert iso3 in problem.message
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_one_country_package_is_benchmarked_without_peers(tmp_path: Path) -> None:
    """Regression: a package with a single country raised KeyError: 'rank'."""
    package = tmp_path / "package"
    build(package, ["KHM"], expectations=False)
    result = run_benchmark(package, "KHM", tmp_path / "out")
    comparison = pl.read_csv(result["out_dir"] / "comparison.csv")
    assert (comparison["n_peers"] == 0).all()
    for name in ("rank", "n_ranked", "peer_mean", "difference"):
        assert comparison[name].is_null().all(), name
    assert len(result["findings"]) == comparison.height
    assert all(text.startswith(f"{LABEL}: ") for text in result["findings"])
    assert any("no peers" in text for text in result["findings"])
    report = result["files"]["report"].read_text(encoding="utf-8")
    assert "there are no peers" in report and "n/a (no peers)" in report
    estimates = pl.read_csv(result["out_dir"] / "estimates.csv")
    assert set(estimates["country"]) == {"KHM", "ALL"}
    assert set(estimates["data_origin"]) == {"synthetic"}


@pytest.mark.slow
def test_the_same_package_gives_the_same_files(
    result: dict[str, Any], indicator_package: Path, tmp_path: Path
) -> None:
    again = run_benchmark(indicator_package, "KHM", tmp_path / "again")
    first = sorted(p.relative_to(result["out_dir"]) for p in result["out_dir"].rglob("*") if p.is_file())
    second = sorted(p.relative_to(again["out_dir"]) for p in again["out_dir"].rglob("*") if p.is_file())
    assert first == second
    changed = [
        p for p in first if (result["out_dir"] / p).read_bytes() != (again["out_dir"] / p).read_bytes()
    ]
    assert not changed


def test_a_rerun_removes_its_own_stale_outputs_only(tmp_path: Path) -> None:
    from ippmd.reporting.outputs import remove_stale

    out = tmp_path / "out"
    (out / "charts").mkdir(parents=True)
    for name in ("country_indicators.csv", "charts/remittance_cost.png", "charts/mine.png", "notes.txt"):
        (out / name).write_text("x", encoding="utf-8")
    removed = remove_stale(out, {"notes": out / "notes.txt"})
    assert sorted(p.name for p in removed) == ["country_indicators.csv", "remittance_cost.png"]
    assert (out / "charts" / "mine.png").exists() and (out / "notes.txt").exists()


@pytest.mark.slow  # starts chromium (about 25 s)
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_every_chart_renders_in_a_headless_browser(result: dict[str, Any], tmp_path: Path) -> None:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        result["files"]["report"].resolve().as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    rendered = re.findall(r'<div class="chart[^"]*" id="(chart-[^"]+)"[^>]*><svg[^>]*class="marks"', dom)
    assert len(rendered) == result["n_charts"], sorted(rendered)
    assert len(set(rendered)) == len(rendered)
    assert "Chart failed" not in dom.split("<script")[0] + dom.split("</script>")[-1]


# --- a report for any focus; charts that stand alone; provenance ---------------------------------


@pytest.fixture(scope="module")
def phl_sections(indicator_package: Path) -> dict[str, Any]:
    """The regression sections of a PHL report, built from the same fits as a full run would."""
    from ippmd.models.diagnostics import diagnostics_table
    from ippmd.models.estimate import comparison_table, estimates_table, fit_all
    from ippmd.models.planted import planted_table
    from ippmd.reporting.findings import finding_sections
    from ippmd.reporting.sections import method_paragraphs

    data = PackageData.load(indicator_package)
    chosen = (
        "vocational_training_on_plans",
        "public_employment_programme_on_emigrant",
        "education_expenditure",
    )
    fits = fit_all(data, tuple(get_spec(spec_id) for spec_id in chosen))  # three specs keep it quick
    comparison = comparison_table(fits, "PHL")
    found = finding_sections(
        fits, estimates_table(fits), comparison, planted_table(fits), diagnostics_table(fits), "PHL",
        "Philippines",
    )  # fmt: skip
    return {
        "sections": found.sections,
        "charts": found.charts,
        "sentences": found.sentences,
        "method": method_paragraphs("Philippines", "PHL", len(fits), 9),
        "comparison": comparison,
    }


def test_a_philippines_report_attributes_the_quotes_and_speaks_of_its_own_focus(
    phl_sections: dict[str, Any],
) -> None:
    """Regression: `--focus PHL` framed every section with the Cambodia report's sentences as if
    they were about the Philippines."""
    label = "Philippines (synthetic data)"
    for section in phl_sections["sections"]:
        assert section.quote_intro == "The Cambodia report (OECD/CDRI 2017) found (about Cambodia):"
        shows = section.paragraphs[0]
        assert f"What the estimate for {label} shows: " in shows, shows
    for sentence in phl_sections["sentences"]:
        assert sentence.startswith(f"{label}: ") and "Cambodia" not in sentence
    method = " ".join(phl_sections["method"])
    assert "reported for Cambodia" in method and "Benchmarks of Philippines (PHL)" in method


def _found(pattern: str, text: str, flags: int = 0) -> str:
    """The first group of the pattern's first match in the text; no match fails the test."""
    match = re.search(pattern, text, flags)
    assert match is not None, f"{pattern!r} not found in {text[:200]!r}"
    return match.group(1)


def _chart_specs(report: str) -> dict[str, Any]:
    """The Vega-Lite specs the page embeds, by chart id."""
    specs: dict[str, Any] = json.loads(_found(r"const charts = (\{.*?\});\n", report, re.S))
    return specs


def _subtitle(spec: dict[str, Any]) -> list[str]:
    title = spec["title"]
    return [title["subtitle"]] if isinstance(title["subtitle"], str) else list(title["subtitle"])


def test_every_chart_stands_alone(result: dict[str, Any], report: str) -> None:
    """Outcome ~ treatment in the title, SYNTHETIC or REAL and the source in the subtitle,
    different titles for men and women, effects in percentage points as in the text."""
    specs = _chart_specs(report)
    assert len(specs) == result["n_charts"]
    for chart_id, spec in specs.items():
        subtitle = " ".join(_subtitle(spec))
        real = chart_id in {"chart-remittance_cost", "chart-migrant_stocks", "chart-remittance_cost_premium"}
        assert ("REAL DATA" if real else "SYNTHETIC DATA") in subtitle, chart_id
        assert "Source: " in subtitle, chart_id
        if chart_id.startswith("chart-effect_"):
            assert " ~ " in spec["title"]["text"], chart_id
    men = specs["chart-effect_remittances_on_working_men"]["title"]["text"]
    women = specs["chart-effect_remittances_on_working_women"]["title"]["text"]
    assert men != women and "men" in men and "women" in women
    estimates = pl.read_csv(result["out_dir"] / "estimates.csv")
    khm = estimates.filter((pl.col("spec") == "vocational_training_on_plans") & (pl.col("country") == "KHM"))[
        "estimate"
    ][0]
    plotted = specs["chart-effect_vocational_training_on_plans"]["layer"][1]["data"]["values"]
    point = next(v for v in plotted if v["country"] == "KHM")
    assert point["estimate"] == pytest.approx(100 * khm, abs=1e-4)  # percentage points
    assert "percentage points" in json.dumps(specs["chart-effect_vocational_training_on_plans"])


def test_chart_specs_are_valid_vega_lite(report: str) -> None:
    """The benchmark builds specs without altair's validation (speed): validate them here."""
    import altair as alt
    from altair.utils.schemapi import validate_jsonschema

    from ippmd.reporting.charts import FONT

    specs = _chart_specs(report)
    schema = alt.vegalite.v6.schema.core.load_schema()
    for spec in specs.values():
        validate_jsonschema(spec, schema)  # raises on the first invalid spec

    def fonts(node: Any) -> set[str]:
        if isinstance(node, dict):
            named = {v for k, v in node.items() if k.lower().endswith("font") and isinstance(v, str)}
            return named.union(*(fonts(v) for v in node.values()))
        return set().union(*(fonts(v) for v in node)) if isinstance(node, list) else set()

    # the chart processes see only vl-convert's own font: text in any other is not drawn
    assert set().union(*(fonts(spec) for spec in specs.values())) == {FONT}


def test_pngs_are_drawn_at_twice_the_svg_size(result: dict[str, Any]) -> None:
    import struct

    for png in sorted((result["out_dir"] / "charts").glob("*.png"))[:6]:
        width, height = struct.unpack(">II", png.read_bytes()[16:24])
        svg = png.with_suffix(".svg").read_text(encoding="utf-8")[:600]
        svg_width = float(_found(r'width="([\d.]+)"', svg))
        svg_height = float(_found(r'height="([\d.]+)"', svg))
        assert width == pytest.approx(2 * svg_width, abs=2), png.name
        assert height == pytest.approx(2 * svg_height, abs=2), png.name


def test_end_of_line_labels_are_moved_apart() -> None:
    from ippmd.reporting.charts import dodge

    values = [6.0, 6.05, 11.0, 4.5, 6.02]  # three lines ending within 0.05 of each other
    placed = dodge(values, 0.5)
    assert sorted(range(5), key=lambda i: placed[i]) == sorted(range(5), key=lambda i: values[i])
    gaps = np.diff(sorted(placed))
    assert (gaps >= 0.5 - 1e-9).all()
    assert placed[2] == 11.0 and placed[3] == 4.5  # labels with room stay where their lines end
    assert dodge([1.0, 3.0], 0.5) == [1.0, 3.0]


def test_the_report_is_stamped_with_version_data_hash_seed_and_date(
    result: dict[str, Any], report: str, indicator_package: Path
) -> None:
    from ippmd import __version__

    descriptor = json.loads((indicator_package / "datapackage.json").read_text(encoding="utf-8"))
    expected = descriptor["dataHash"]  # the one hash: the same string the extracts, DDI and citation cite
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", expected)
    stamp = result["provenance"]
    assert stamp["data_hash"] == expected and f"data hash {expected}" in report
    assert f"ippmd {__version__}" in report and f"synthetic seed {descriptor['build']['seed']}" in report
    assert re.search(r"report date \d{4}-\d{2}-\d{2}", report)
    svgs = sorted((result["out_dir"] / "charts").glob("effect_*.svg"))
    # each chart's source line
    assert svgs and all(expected in svg.read_text(encoding="utf-8") for svg in svgs)


def test_the_comparison_csv_documents_ranks_and_multiplicity(result: dict[str, Any], report: str) -> None:
    comparison = pl.read_csv(result["out_dir"] / "comparison.csv")
    for column in (
        "rank_marginal_low", "rank_marginal_high", "rank_simultaneous_low", "rank_simultaneous_high",
        "rank_method", "p_holm", "q_bh", "method", "peer_mean_re", "tau2",
    ):  # fmt: skip
        assert column in comparison.columns, column
    for kind in ("marginal", "simultaneous"):
        assert (comparison[f"rank_{kind}_low"] <= comparison["rank"]).all()
        assert (comparison["rank"] <= comparison[f"rank_{kind}_high"]).all()
    assert comparison["rank_method"].str.starts_with("Mogstad-Romano-Shaikh-Wilhelm (2024)").all()
    assert "rank 1 = the largest effect in the direction of the finding" in report
    # every country's sets, in ranks.csv and in the report; the focus's agree with comparison.csv
    ranks = pl.read_csv(result["out_dir"] / "ranks.csv")
    counts = ranks.group_by("spec", "term").agg(pl.len(), pl.col("n_ranked").first())
    assert (counts["len"] == counts["n_ranked"]).all() and counts.height == comparison.height
    focus = ranks.filter(pl.col("country") == "KHM").join(comparison, on=["spec", "term"], suffix="_c")
    for column in ("rank", "rank_marginal_low", "rank_marginal_high", "rank_simultaneous_low"):
        assert (focus[column] == focus[f"{column}_c"]).all(), column
    row = ranks.row(0, named=True)
    low, high = row["rank_marginal_low"], row["rank_marginal_high"]
    assert f"{row['country']} {rank_set_words(low, high)} (" in report
    assert html.escape("survive Holm's adjustment at 5%") in report
    # the multiplicity families declared in the specs, each named with its number of findings
    families = comparison.group_by("family", maintain_order=True).len().rows()
    assert len(families) == 4 and sum(n for _, n in families) == comparison.height
    listed = ", ".join(f"{family.replace('_', ' ')} ({n})" for family, n in families)
    assert (
        html.escape(f"Multiplicity families, declared in the specs (findings in brackets): {listed};")
        in report
    )


def test_the_real_remittance_cost_benchmark_is_in_the_khm_report(result: dict[str, Any], report: str) -> None:
    if not result["remittance_costs"]:
        pytest.skip("the World Bank RPW original is not in ../shared/data/external")
    out = result["out_dir"]
    effects = pl.read_csv(out / "remittance_cost_effects.csv")
    assert set(effects["data_origin"]) == {"real"} and set(effects["vintage"]) == {"RPW Dec 2020"}
    assert effects.filter(pl.col("country") == "BFA")["estimate"].is_null().all()
    comparison = pl.read_csv(out / "remittance_cost_comparison.csv")
    assert comparison["rank_marginal_low"][0] <= comparison["rank"][0] <= comparison["rank_marginal_high"][0]
    assert "Cambodia (REAL data): premium over the peer mean" in report
    assert "Burkina Faso has no corridor in the file" in report
    assert "Weighting: none" in report and "clustered by corridor" in report
    # one corridor to Cambodia: no CRV1 or bootstrap interval, no rank set is shown for its premium
    text = html.unescape(re.sub(r"<[^>]+>", "", report))
    premium = _found(r"(Cambodia \(REAL data\): premium over the peer mean[^\n]*?)Fixed peer mean", text)
    assert "No interval, p-value or rank set is shown" in premium and "95% CI" not in premium
    assert "WCR" not in text.split("Remittance costs on real data")[-1].split("Country indicators")[0]


def test_the_corridor_windows_are_a_csv_and_a_table_with_the_headline_first(
    result: dict[str, Any], report: str
) -> None:
    if not result["remittance_costs"]:
        pytest.skip("the World Bank RPW original is not in ../shared/data/external")
    from ippmd.models.remittance_costs_corridor import WINDOW_COLUMNS

    windows = pl.read_csv(result["out_dir"] / "remittance_cost_windows.csv")
    assert tuple(windows.columns) == (*WINDOW_COLUMNS, "data_origin", "source", "vintage")
    assert set(windows["data_origin"]) == {"real"}
    head = windows.row(0, named=True)
    # the headline: the calendar years of the package's surveys (fieldwork 2014-04 to 2015-07)
    assert head["role"] == "headline" and head["window"] == "fieldwork 2014-2015"
    assert windows["role"][1] == "full period" and windows.height >= 3
    text = html.unescape(re.sub(r"<[^>]+>", "", report))
    assert "Window" in text and "fieldwork 2014-2015 (headline)" in text
    assert "Why this window is the headline: the surveys' fieldwork ran in 2014-2015" in text
    assert f"{head['ri_method']}: p = {head['ri_p_value']:.3f}; no interval)" in text
    assert "remittance_cost_windows.csv" in report


def _section_text(report: str, anchor: str) -> str:
    return _found(rf'<section id="{anchor}"[^>]*>(.*?)</section>', report, re.S)


def test_the_report_opens_with_contents_and_a_summary_of_at_most_five_sentences(
    result: dict[str, Any], report: str
) -> None:
    contents = _found(r'<nav id="contents">(.*?)</nav>', report, re.S)
    anchors = re.findall(r'href="#([^"]+)"', contents)
    sections = re.findall(r'<section id="([^"]+)"', report)
    assert anchors == sections and len(set(sections)) == len(sections)  # every section, in order, once
    assert report.index('<nav id="contents">') < report.index("<section") and sections[0] == "section-summary"
    summary = _section_text(report, "section-summary")
    sentences = [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>", summary)]
    assert 1 <= len(sentences) <= 5
    for sentence in sentences:
        assert sentence.endswith(".") and len(re.findall(r"\.(?:\s|$)", sentence)) == 1, sentence
    from ippmd.reporting.summary import NAMED

    comparison = pl.read_csv(result["out_dir"] / "comparison.csv")
    kept = comparison.filter(pl.col("focus_p_holm") < 0.05)
    assert sentences[0].startswith(f"Of the {comparison.height} findings tested for {LABEL}, {kept.height} ")
    for row in (
        kept.sort("focus_p_holm", "spec", "term").head(NAMED).iter_rows(named=True)
    ):  # each with its interval
        interval = f"95% CI {fmt_effect(row['focus_ci_low'], 'probability', False)} to "
        named = [s for s in sentences[1:] if row["focus_method"] in s and f"{LABEL}: effect" in s]
        assert any(interval in s for s in named) or get_spec(row["spec"]).scale == "log", row["spec"]
    if result["remittance_costs"]:
        assert sentences[-1].startswith("Remitting to Cambodia (REAL data) in the surveys' fieldwork years")


def test_a_philippines_summary_speaks_of_the_philippines(phl_sections: dict[str, Any]) -> None:
    from ippmd.reporting.summary import summary_sentences

    specs = {spec_id: get_spec(spec_id) for spec_id in phl_sections["comparison"]["spec"].unique()}
    sentences = summary_sentences(phl_sections["comparison"], specs, "Philippines", True, None)
    assert 1 <= len(sentences) <= 5 and "Cambodia" not in " ".join(sentences)
    n = phl_sections["comparison"].height
    assert sentences[0].startswith(f"Of the {n} findings tested for Philippines (synthetic data), ")


def test_library_warnings_become_diagnostics_not_output(result: dict[str, Any]) -> None:
    diagnostics = pl.read_csv(result["out_dir"] / "diagnostics.csv")
    assert {"few_clusters_reason", "method", "notes"} <= set(diagnostics.columns)
    pep = diagnostics.filter(pl.col("spec") == "public_employment_programme_on_emigrant")
    assert pep["few_clusters"].all() and pep["method"].str.starts_with("CR2").all()

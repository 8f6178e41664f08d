"""`ippmd site`: a static, offline codebook site of the built package (IPUMS-style).

One folder of plain HTML files, every style, script and chart inline (no CDN, no fonts, no
request of any kind), so it opens from `file://` on a machine without network:

- `index.html`: every variable, searchable as you type by name, label or value label, with an
  extract builder that writes the `ippmd extract` command of the ticked variables;
- `variables/<table>.<variable>.html`: label, type, unit, universe, source variable, value labels,
  weighted and unweighted frequencies per country (mean and quantiles for numbers), availability,
  comparability notes per country from the country metadata, and the extract command;
- `availability.html`: the variable x country matrix, computed (non-missing in that country);
- `indicators/<indicator>.html`: each REAL country indicator with its source, vintage and a chart.

Pages about the microdata say they are SYNTHETIC; the indicator pages say they are real.

Three languages: English at the root, the same pages in French under `fr/` and in Spanish under
`es/` (every link relative, so each tree works on its own), a language switch on every page that
links to the same page in the other two. Fixed texts come from the `docs` catalogue, variable
labels and value labels from the `codebook` catalogue (ippmd.package.translate), numbers are
written by Babel in the page's language; codes, names and commands stay as they are. The
statistics are computed once and each language renders them.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from babel.numbers import format_decimal

from ippmd import synthetic_notice
from ippmd.core.home import package_data
from ippmd.core.i18n import LANGUAGE_NAMES, LANGUAGES, LOCALES, SOURCE, Language, language, number, t, using
from ippmd.core.io import claim_output_folder, load_yaml, write_atomic
from ippmd.explore.design import COUNTRY, Package
from ippmd.explore.notes import comparability_notes
from ippmd.explore.stats import QUANTILES, VariableSummary, summarise_table
from ippmd.explore.svg import bar_chart, line_chart
from ippmd.package.read import SurveyDesign
from ippmd.package.translate import translated_field

INDICATORS = "country_indicators"


@dataclass(frozen=True)
class SiteSummary:
    """What `write_site` wrote."""

    out: Path
    variables: int
    indicators: int
    pages: int


@cache
def _asset(name: str) -> str:
    return package_data(__package__, "assets", name).read_text(encoding="utf-8")


@cache
def _indicator_sources() -> dict[str, dict[str, Any]]:
    """Provenance blocks of the indicator originals (citation, licence), from the indicators stage."""
    return load_yaml(package_data("ippmd.indicators", "sources.yaml").read_text(encoding="utf-8"))


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fold(text: str) -> str:
    """Lower case without accents: what the search compares (the script folds the query alike)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def variable_file(table: str, name: str) -> str:
    return f"variables/{table}.{name}.html"


def indicator_file(indicator: str) -> str:
    return f"indicators/{re.sub(r'[^a-z0-9_]+', '-', indicator.lower())}.html"


def language_folder(code: Language) -> str:
    """Where a language's pages are, relative to the site's root: English at the root."""
    return "" if code == SOURCE else f"{code}/"


def _language_switch(path: str) -> str:
    """Links to the same page (`path`, relative to a language's folder) in the other languages."""
    here = language()
    root = "../" * (language_folder(here) + path).count("/")
    links = [
        f'<strong lang="{code}">{LANGUAGE_NAMES[code]}</strong>'
        if code == here
        else f'<a href="{root}{language_folder(code)}{path}" hreflang="{code}" lang="{code}">'
        f"{LANGUAGE_NAMES[code]}</a>"
        for code in LANGUAGES
    ]
    return f'<nav class="languages" aria-label="{_e(t("docs.site-languages"))}">{" ".join(links)}</nav>'


def page(title: str, body: str, path: str, script: str = "") -> str:
    """A whole page in the current language: inline style, the site's navigation and language
    switch, the body, an optional inline script. `path` is the page's place in its language's folder."""
    up = "../" * path.count("/")
    nav = (
        f'<header class="site"><a href="{up}index.html">{_e(t("docs.site-nav-codebook"))}</a>'
        f'<a href="{up}availability.html">{_e(t("docs.site-nav-availability"))}</a>'
        f'<a href="{up}index.html#indicators">{_e(t("docs.site-nav-indicators"))}</a>'
        f"{_language_switch(path)}</header>"
    )
    tail = f"<script>{script}</script>" if script else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{language()}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_asset('site.css')}</style></head>"
        f"<body>{nav}<main>{body}</main>{tail}</body></html>\n"
    )


def _table(
    header: Iterable[str],
    rows: Iterable[Iterable[str]],
    numeric_from: int = 99,
    cls: str = "",
    numeric_to: int = 999,
) -> str:
    """An HTML table; cells are already HTML; columns numeric_from..numeric_to-1 are right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if numeric_from <= i < numeric_to else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _number(value: float | None, digits: int = 4) -> str:
    """Whole numbers as they are; others to `digits` significant digits, trailing zeros kept,
    written by Babel in the page's language (the digits are chosen first, so no language rounds
    differently)."""
    if value is None:
        return ""
    if value == int(value) or abs(value) >= 10**digits:
        return number(round(value))
    shown = Decimal(f"{value:#.{digits}g}")
    decimals = max(0, -int(shown.as_tuple().exponent))
    return format_decimal(shown, "#,##0" + ("." + "0" * decimals if decimals else ""), LOCALES[language()])


def _count(value: int) -> str:
    """A count, grouped in the page's language."""
    return number(value)


def _percent(share: float) -> str:
    """A share as a percentage with one decimal (rounded by Python first: the same digits in
    every language)."""
    return t("docs.site-percent", value=round(share * 100, 1))


class Site:
    """The data behind the pages: package, country names and origins, variable summaries."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.countries: list[str] = list(package.built.countries)
        self.names: dict[str, str] = dict(package.built.country_names)
        self.origins: dict[str, str] = dict(package.built.origins)
        self.summaries: list[VariableSummary] = []
        for name in package.survey_tables:
            self.summaries += self._summarise(name)
        self.summaries += self._summarise_countries()

    def _summarise(self, table: str) -> list[VariableSummary]:
        design = self.package.design(table)
        fields = self.package.resource(table)["schema"]["fields"]
        own = [f["name"] for f in fields]
        frame = self.package.read(table, list(dict.fromkeys(own + design.fields())))
        frame = frame.with_columns(
            (pl.col(design.weight).cast(pl.Float64) if design.weight else pl.lit(1.0)).alias("__w")
        )
        return summarise_table(frame, table, fields, self._keys(table), self.countries)

    def _summarise_countries(self) -> list[VariableSummary]:
        fields = self.package.resource("countries")["schema"]["fields"]
        frame = pl.read_parquet(self.package.parquet_path("countries"), glob=False)
        frame = frame.with_columns(pl.col("iso3").alias(COUNTRY), pl.lit(1.0).alias("__w"))
        return summarise_table(frame, "countries", fields, set(), self.countries)

    def _keys(self, table: str) -> set[str]:
        return set(self.package.resource(table)["schema"].get("primaryKey", []))

    def synthetic(self, table: str) -> bool:
        """Microdata generated, not surveyed (the countries table is metadata: never synthetic)."""
        return bool(self.package.resource(table).get("synthetic"))

    def country_label(self, code: str) -> str:
        return f"{self.names.get(code, code)} ({code})"


# --- variable pages ----------------------------------------------------------------------------


def _frequency_table(site: Site, summary: VariableSummary, field: dict[str, Any]) -> str:
    categories = field.get("categories", [])
    listed = [c["value"] for c in categories]
    labels = {c["value"]: c["label"] for c in categories}
    seen = {v for s in summary.countries.values() for v, _, _ in s.frequencies}
    values = listed + sorted(seen - set(listed), key=str)
    header = [t("docs.site-col-value"), t("docs.site-col-label"), *(_e(c) for c in site.countries)]
    found = {code: {v: (n, w) for v, n, w in s.frequencies} for code, s in summary.countries.items()}
    rows = []
    for value in values:
        cells = [f"<code>{_e(value)}</code>", _e(labels.get(value, ""))]
        for code in site.countries:
            if value in found[code]:
                n, share = found[code][value]
                cells.append(f'{_e(_percent(share))}<br><span class="muted">n={_count(n)}</span>')
            else:
                cells.append('<span class="muted">0</span>' if summary.countries[code].valid else "")
        rows.append(cells)
    missing = ((t("docs.site-row-unknown"), "unknown"), (t("docs.site-row-niu"), "niu"))
    for label, attribute in missing:
        rows.append(
            ["", _e(label), *(_count(getattr(summary.countries[c], attribute)) for c in site.countries)]
        )
    rows.append(
        [
            "",
            f"<strong>{_e(t('docs.site-row-valid'))}</strong>",
            *(_count(summary.countries[c].valid) for c in site.countries),
        ]
    )
    return f"<p>{_e(t('docs.site-frequency-note'))}</p>" + _table(header, rows, numeric_from=2)


def _numeric_table(site: Site, summary: VariableSummary) -> str:
    header = [
        t("docs.site-col-country"),
        t("docs.site-col-valid-n"),
        t("docs.site-col-weighted-mean"),
        t("docs.site-col-unweighted-mean"),
        *(_e(t("docs.site-col-quantile", percent=f"{int(p * 100)}")) for p in QUANTILES),
        t("docs.site-col-min"),
        t("docs.site-col-max"),
        t("docs.site-col-unknown"),
        t("docs.site-col-niu"),
    ]
    rows = []
    for code in site.countries:
        s = summary.countries[code]
        rows.append(
            [
                _e(site.country_label(code)),
                _count(s.valid),
                _number(s.mean),
                _number(s.unweighted_mean),
                *(_number(s.quantiles.get(p)) for p in QUANTILES),
                _number(s.minimum),
                _number(s.maximum),
                _count(s.unknown),
                _count(s.niu),
            ]
        )
    return _table(header, rows, numeric_from=1)


def _text_table(site: Site, summary: VariableSummary) -> str:
    rows = []
    for code in site.countries:
        s = summary.countries[code]
        top = "; ".join(f"<code>{_e(v)}</code> ({_count(n)}, {_e(_percent(w))})" for v, n, w in s.frequencies)
        hidden = s.distinct - len(s.frequencies)
        more = (
            f' <span class="muted">{_e(t("docs.site-and-more", count=hidden))}</span>' if hidden > 0 else ""
        )
        rows.append([_e(site.country_label(code)), _count(s.valid), _count(s.distinct), top + more])
    header = [
        t("docs.site-col-country"),
        t("docs.site-col-valid-n"),
        t("docs.site-col-distinct"),
        t("docs.site-col-values"),
    ]
    return f"<p>{_e(t('docs.site-text-note'))}</p>" + _table(header, rows, numeric_from=1, numeric_to=3)


def _country_value_table(site: Site, summary: VariableSummary) -> str:
    rows = []
    for code in site.countries:
        s = summary.countries[code]
        value = s.frequencies[0][0] if s.frequencies else (s.mean if s.mean is not None else "")
        if isinstance(value, float) and value == int(value):
            value = int(value)
        rows.append([_e(site.country_label(code)), _e(value)])
    return _table([t("docs.site-col-country"), t("docs.site-col-value")], rows)


def _chart(site: Site, summary: VariableSummary, field: dict[str, Any]) -> str:
    """Weighted share of Yes, or weighted mean, by country (SYNTHETIC)."""
    label = field.get("title", field["name"])
    if summary.kind == "share":
        bars = []
        for code in site.countries:
            shares = {v: w for v, _, w in summary.countries[code].frequencies}
            if summary.countries[code].valid:
                bars.append((site.names.get(code, code), shares.get(1, 0.0), None, None))
        return bar_chart(bars, t("docs.site-chart-share", label=label), percent=True)
    if summary.kind == "mean":
        bars = [
            (site.names.get(c, c), s.mean, None, None)
            for c, s in summary.countries.items()
            if s.mean is not None
        ]
        unit = field.get("unit", "")
        return bar_chart(bars, t("docs.site-chart-mean", label=label), axis_label=unit)
    return ""


def _availability_row(site: Site, summary: VariableSummary) -> str:
    cells = []
    for code in site.countries:
        s = summary.countries[code]
        if s.available:
            title = t("docs.site-valid-of-rows", valid=s.valid, rows=s.rows)
            cells.append(f'<td class="yes" title="{_e(title)}">&#10003;</td>')
        else:
            cells.append(f'<td class="no" title="{_e(t("docs.site-no-value", rows=s.rows))}">&#8212;</td>')
    head = "".join(f"<th>{_e(c)}</th>" for c in site.countries)
    row = "".join(cells)
    return f'<table class="matrix"><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>'


def extract_command(table: str, name: str) -> str:
    return f"ippmd extract --tables {table} --variables {name} --out {name}.zip"


def _design_text(design: SurveyDesign) -> str:
    """How a table is weighted, in the page's language (field names as they are)."""
    weight = (
        t("docs.site-design-weight", weight=design.weight) if design.weight else t("docs.site-design-equal")
    )
    strata = (
        t("docs.site-design-strata", strata=design.strata) if design.strata else t("docs.site-design-country")
    )
    origin = t("docs.site-design-declared") if design.declared else t("docs.site-design-default")
    return t("docs.site-design", weight=weight, psu=design.psu, strata=strata, origin=origin)


def _variable_meta(site: Site, table: str, f: dict[str, Any], summary: VariableSummary) -> str:
    resource = site.package.resource(table)
    design = site.package.design(table) if table in site.package.survey_tables else None
    meta = [
        (t("docs.site-meta-table"), f"<code>{_e(table)}</code>: {_e(resource.get('title', table))}"),
        (t("docs.site-meta-label"), _e(f.get("title", ""))),
        (t("docs.site-meta-description"), _e(f.get("description", ""))),
        (t("docs.site-meta-type"), _e(f["type"]) + (_e(t("docs.site-key")) if summary.kind == "key" else "")),
        (t("docs.site-meta-unit"), _e(f.get("unit", ""))),
        (
            t("docs.site-meta-universe"),
            f"<code>{_e(f['universe'])}</code>" if f.get("universe") else _e(t("docs.site-all-records")),
        ),
        (
            t("docs.site-meta-source-variable"),
            f"<code>{_e(f['sourceVariable'])}</code>"
            if f.get("sourceVariable")
            else _e(t("docs.site-derived")),
        ),
        (
            t("docs.site-meta-weighted-by"),
            _e(_design_text(design)) if design else _e(t("docs.site-one-per-country")),
        ),
    ]
    return '<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in meta if v) + "</dl>"


def _variable_page(site: Site, summary: VariableSummary) -> str:
    table = summary.table
    f = translated_field(table, summary.field)
    name = f["name"]
    parts = [f"<h1><code>{_e(name)}</code> &#8212; {_e(f.get('title', ''))}</h1>"]
    if site.synthetic(table):
        parts.append(f'<p class="notice">{_e(t("common.synthetic-notice"))}</p>')
    elif table == "countries":
        synthetic = [c for c, o in site.origins.items() if o != "survey"]
        listed = ", ".join(synthetic) or t("docs.site-no-country")
        parts.append(f'<p class="real">{_e(t("docs.site-countries-note", countries=listed))}</p>')
    parts.append(_variable_meta(site, table, f, summary))
    if f.get("categories"):
        parts.append(f"<h2>{_e(t('docs.site-value-labels'))}</h2>")
        parts.append(
            _table(
                [t("docs.site-col-value"), t("docs.site-col-label")],
                [[f"<code>{_e(c['value'])}</code>", _e(c["label"])] for c in f["categories"]],
            )
        )
    if table == "countries":
        parts.append(f"<h2>{_e(t('docs.site-value-by-country'))}</h2>")
        parts.append(_country_value_table(site, summary))
    else:
        parts.append(f"<h2>{_e(t('docs.site-frequencies-by-country'))}</h2>")
        if summary.kind in ("share", "categorical"):
            parts.append(_frequency_table(site, summary, f))
        elif summary.kind == "mean":
            parts.append(_numeric_table(site, summary))
        else:
            parts.append(_text_table(site, summary))
        parts.append(_chart(site, summary, f))
        parts.append(f"<h2>{_e(t('docs.site-availability'))}</h2><p>{_e(t('docs.site-available-note'))}</p>")
        parts.append(_availability_row(site, summary))
    parts += _notes_and_extract(site, table, summary.field)
    return page(
        t("docs.site-variable-title", name=name, table=table, label=f.get("title", "")),
        "".join(parts),
        variable_file(table, name),
    )


def _notes_and_extract(site: Site, table: str, field: dict[str, Any]) -> list[str]:
    """Comparability notes (in the page's language; names, citations and notes quoted from the
    country metadata stay as written there) and the extract command."""
    name = field["name"]
    rows = []
    for code in site.countries:
        notes = comparability_notes(code, table, field, site.origins.get(code, "synthetic"))
        listed = "".join(f"<li>{_e(n)}</li>" for n in notes)
        rows.append([_e(site.country_label(code)), f"<ul>{listed}</ul>"])
    parts = [
        f"<h2>{_e(t('docs.site-comparability'))}</h2>",
        _table([t("docs.site-col-country"), t("docs.site-col-notes")], rows),
        f'<h2 id="extract">{_e(t("docs.site-extract-heading"))}</h2>',
        f"<pre><code>{_e(extract_command(table, name))}</code></pre><p>{t('docs.site-extract-note')}</p>",
    ]
    if table in site.package.survey_tables:
        command = f"ippmd tabulate {name} --table {table} --by country"
        parts.append(f"<p>{_e(t('docs.site-tabulate'))} <code>{_e(command)}</code></p>")
    return parts


# --- index and availability ---------------------------------------------------------------------


def _search_text(summary: VariableSummary) -> str:
    """What the search compares: name, table, label, description and value labels, in the page's
    language and (on a translated page) in English too."""
    fields = [translated_field(summary.table, summary.field)]
    if language() != SOURCE:
        fields.append(summary.field)
    words = [summary.field["name"], summary.table]
    for f in fields:
        words += [
            f.get("title", ""),
            f.get("description", ""),
            *(str(c["label"]) for c in f.get("categories", [])),
        ]
    words += [str(c["value"]) for c in summary.field.get("categories", [])]
    return fold(" ".join(words))


def _index_row(site: Site, s: VariableSummary) -> str:
    f = translated_field(s.table, s.field)
    available = sum(c.available for c in s.countries.values())
    values = "; ".join(f"{c['value']} = {c['label']}" for c in f.get("categories", []))
    if len(values) > 160:
        values = values[:157] + "..."
    link = variable_file(s.table, f["name"])
    return (
        f'<tr data-search="{_e(_search_text(s))}" data-table="{_e(s.table)}" data-name="{_e(f["name"])}">'
        f'<td><input type="checkbox" aria-label="{_e(t("docs.site-select", name=f["name"]))}"></td>'
        f'<td><a href="{link}"><code>{_e(f["name"])}</code></a></td>'
        f"<td>{_e(s.table)}</td><td>{_e(f.get('title', ''))}</td><td>{_e(f['type'])}</td>"
        f'<td class="num">{available}/{len(site.countries)}</td><td class="labels">{_e(values)}</td>'
        f'<td><a href="{link}#extract">{_e(t("docs.site-extract-link"))}</a></td></tr>'
    )


def _index(site: Site, indicators: list[tuple[str, str, str]]) -> str:
    descriptor = site.package.descriptor
    synthetic = [c for c, o in site.origins.items() if o != "survey"]
    data_hash = str(site.package.built.data_hash)
    summary = t(
        "docs.site-index-summary",
        version=str(descriptor.get("version", "?")),
        hash=data_hash,
        variables=len(site.summaries),
        tables=len({s.table for s in site.summaries}),
        countries=len(site.countries),
        names=", ".join(site.country_label(c) for c in site.countries),
    )
    body = [
        f"<h1>{_e(descriptor.get('title', 'Codebook'))}</h1>",
        f"<p>{_e(summary).replace(_e(data_hash), f'<code>{_e(data_hash)}</code>')}</p>",
    ]
    if synthetic:
        body.append(f'<p class="notice">{_e(synthetic_notice(synthetic))}</p>')
    header = [
        "",
        t("docs.site-col-variable"),
        t("docs.site-col-table"),
        t("docs.site-col-label"),
        t("docs.site-col-type"),
        t("docs.site-col-countries"),
        t("docs.site-col-value-labels"),
        "",
    ]
    count_template = t("docs.site-search-count", shown="{shown}", total="{total}")  # search.js fills it
    body += [
        f'<p><label for="search"><strong>{_e(t("docs.site-search"))}</strong> '
        f"{_e(t('docs.site-search-by'))} </label><br>"
        '<input id="search" type="search" autocomplete="off" autofocus '
        f'placeholder="{_e(t("docs.site-search-example"))}">'
        f'<span id="count" data-of="{_e(count_template)}"></span></p>',
        f"<p>{_e(t('docs.site-tick'))}</p>",
        f'<pre id="command" data-empty="{_e(t("docs.site-tick-empty"))}"></pre>',
        '<table id="variables"><thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in header)
        + "</tr></thead><tbody>"
        + "".join(_index_row(site, s) for s in site.summaries)
        + "</tbody></table>",
        f'<h2 id="indicators">{_e(t("docs.site-indicators-heading"))}</h2>',
        f'<p class="real">{_e(t("docs.site-real-notice"))}</p>',
        _table(
            [t("docs.site-col-indicator"), t("docs.site-col-label"), t("docs.site-col-vintages")],
            [
                [f'<a href="{indicator_file(i)}"><code>{_e(i)}</code></a>', _e(label), _e(v)]
                for i, label, v in indicators
            ],
        ),
    ]
    title = t("docs.site-index-title", title=str(descriptor.get("title", "")))
    return page(title, "".join(body), "index.html", script=_asset("search.js"))


def _availability(site: Site) -> str:
    head = [t("docs.site-col-variable"), t("docs.site-col-table"), *(_e(c) for c in site.countries)]
    rows = []
    for s in site.summaries:
        if s.table == "countries":
            continue
        cells = [
            f'<a href="{variable_file(s.table, s.field["name"])}"><code>{_e(s.field["name"])}</code></a>',
            _e(s.table),
        ]
        for code in site.countries:
            c = s.countries[code]
            title = _e(t("docs.site-valid-of-rows", valid=c.valid, rows=c.rows))
            cells.append(f'<span title="{title}">&#10003;</span>' if c.available else "&#8212;")
        rows.append(cells)
    matrix = _table(head, rows).replace('<table class="">', '<table class="matrix">')
    # colour the cells by their mark
    matrix = matrix.replace("<td><span title=", '<td class="yes"><span title=').replace(
        "<td>&#8212;</td>", '<td class="no">&#8212;</td>'
    )
    body = (
        f"<h1>{_e(t('docs.site-availability-title'))}</h1>"
        f"<p>{_e(t('docs.site-availability-note'))}</p>"
        f'<p class="notice">{_e(t("common.synthetic-notice"))}</p>' + matrix
    )
    return page(t("docs.site-availability-title"), body, "availability.html")


# --- indicator pages -----------------------------------------------------------------------------


def _period_x(period: str) -> float:
    """A period on a year axis: 2015 -> 2015.0, 2015Q3 -> 2015.625 (the quarter's middle)."""
    if "Q" in period:
        year, quarter = period.split("Q")
        return int(year) + (int(quarter) - 0.5) / 4
    return float(period)


def _indicator_page(site: Site, indicator: str, label: str, frame: pl.DataFrame) -> str:
    descriptor_sources = {
        s.get("file"): s for s in site.package.resource(INDICATORS).get("sources", []) if isinstance(s, dict)
    }
    parts = [
        f"<h1><code>{_e(indicator)}</code></h1>",
        f"<p>{_e(label)}</p>",
        f'<p class="real">{_e(t("docs.site-real-notice"))}</p>',
    ]
    for (source, vintage), group in frame.group_by("source", "vintage", maintain_order=True):
        unit = ", ".join(sorted(group["unit"].unique().to_list()))
        parts.append(f"<h2>{_e(vintage)}</h2>")
        parts.append(_vintage_meta(str(source), str(vintage), unit, group, descriptor_sources))
        parts += _world_parts(
            site, indicator, str(vintage), unit, group.filter(pl.col("partner_iso3") == "WLD")
        )
        bilateral = group.filter(pl.col("partner_iso3") != "WLD").sort(
            ["iso3", "value"], descending=[False, True]
        )
        parts += _bilateral_parts(site, indicator, str(vintage), unit, bilateral)
    return page(
        t("docs.site-indicator-title", indicator=indicator), "".join(parts), indicator_file(indicator)
    )


def _vintage_meta(
    source: str, vintage: str, unit: str, group: pl.DataFrame, descriptor_sources: dict[Any, dict[str, Any]]
) -> str:
    """Where one vintage's values come from: source, citation, release, file, licence, unit, method."""
    block = _indicator_sources().get(source, {})
    files = sorted(group["source_file"].unique().to_list())
    described = [descriptor_sources.get(f, {}) for f in files]
    title = block.get("title") or next((d.get("title") for d in described if d.get("title")), source)
    url = block.get("url") or next((d.get("path") for d in described if d.get("path")), "")
    meta = [
        (
            t("docs.site-meta-source"),
            f"{_e(title)}" + (f' (<a href="{_e(url)}">{_e(url)}</a>)' if url else ""),
        ),
        (t("docs.site-meta-citation"), _e(block.get("citation", ""))),
        (
            t("docs.site-meta-vintage"),
            _e(vintage)
            + (_e(t("docs.site-released", date=str(block["released"]))) if block.get("released") else ""),
        ),
        (t("docs.site-meta-original-file"), ", ".join(f"<code>{_e(f)}</code>" for f in files)),
        (t("docs.site-meta-licence"), _e(block.get("license", ""))),
        (t("docs.site-meta-unit"), _e(unit)),
        (t("docs.site-meta-method"), _e(group["method"][0])),
    ]
    return '<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in meta if v) + "</dl>"


def _world_parts(site: Site, indicator: str, vintage: str, unit: str, world: pl.DataFrame) -> list[str]:
    """A country's own values (partner WLD): a line chart over periods (annual preferred), or
    bars for one period, and each country's latest value."""
    if not world.height:
        return []
    annual = world.filter(~pl.col("period").str.contains("Q"))
    world = annual if annual.height else world
    periods = sorted(world["period"].unique().to_list())
    parts = []
    if len(periods) > 1:
        series = {
            site.names.get(code, code): [
                (_period_x(p), v) for p, v in g.select("period", "value").iter_rows()
            ]
            for (code,), g in world.sort("iso3", "period").group_by("iso3", maintain_order=True)
        }
        title = t("docs.site-chart-indicator", indicator=indicator, vintage=vintage)
        parts.append(line_chart(series, title, axis_label=unit))
    else:
        bars = [
            (site.names.get(c, c), v, None, None)
            for c, v in world.sort("iso3").select("iso3", "value").iter_rows()
        ]
        title = t("docs.site-chart-indicator-period", indicator=indicator, period=periods[0], vintage=vintage)
        parts.append(bar_chart(bars, title, axis_label=unit))
    latest = world.sort("iso3", "period").group_by("iso3", maintain_order=True).last()
    rows = [
        [
            _e(site.country_label(r["iso3"])),
            _e(r["period"]),
            _number(r["value"], 6),
            _e(r["n_corridors"] if r["n_corridors"] is not None else ""),
        ]
        for r in latest.iter_rows(named=True)
    ]
    parts.append(f"<p>{_e(t('docs.site-latest'))}</p>")
    header = [
        t("docs.site-col-country"),
        t("docs.site-col-period"),
        t("docs.site-col-value"),
        t("docs.site-col-corridors"),
    ]
    parts.append(_table(header, rows, numeric_from=2))
    return parts


def _bilateral_parts(
    site: Site, indicator: str, vintage: str, unit: str, bilateral: pl.DataFrame
) -> list[str]:
    """Values by partner country: the three largest partners of each country, then every row."""
    if not bilateral.height:
        return []
    top = bilateral.group_by("iso3", maintain_order=True).head(3)
    bars = [(f"{r['iso3']} - {r['partner_iso3']}", r["value"], None, None) for r in top.iter_rows(named=True)]
    rows = [
        [
            _e(site.country_label(r["iso3"])),
            _e(r["partner_iso3"]),
            _e(r["period"]),
            _number(r["value"], 6),
        ]
        for r in bilateral.iter_rows(named=True)
    ]
    return [
        bar_chart(bars, t("docs.site-chart-partners", indicator=indicator, vintage=vintage), axis_label=unit),
        _table(
            [
                t("docs.site-col-country"),
                t("docs.site-col-partner"),
                t("docs.site-col-period"),
                t("docs.site-col-value"),
            ],
            rows,
            numeric_from=3,
        ),
    ]


def _indicator_labels(site: Site) -> dict[str, str]:
    """Each indicator's label in the page's language, in the schema's order."""
    if INDICATORS not in site.package.resources:
        return {}
    field = site.package.fields(INDICATORS).get("indicator", {})
    return {c["value"]: c["label"] for c in translated_field(INDICATORS, field).get("categories", [])}


def _indicator_pages(site: Site, frame: pl.DataFrame) -> dict[str, str]:
    """Indicator -> page, in the schema's order, then any indicator it does not list."""
    labels = _indicator_labels(site)
    present = frame["indicator"].unique().to_list()
    names = [i for i in labels if i in present] + sorted(set(present) - set(labels))
    return {
        name: _indicator_page(
            site, name, str(labels.get(name, name)), frame.filter(pl.col("indicator") == name)
        )
        for name in names
    }


def _indicators(site: Site) -> pl.DataFrame | None:
    """The real indicators table, whole (None when the package or its reader lacks it)."""
    if INDICATORS not in site.package.resources:
        return None
    frame = pl.read_parquet(site.package.parquet_path(INDICATORS), glob=False)
    return frame if "iso3" in frame.columns else None  # partitioned readers drop it


def _pages(site: Site, indicators: pl.DataFrame | None) -> dict[str, str]:
    """Every page of one language (the current one), by its path in that language's folder."""
    pages = {variable_file(s.table, s.field["name"]): _variable_page(site, s) for s in site.summaries}
    listed = []
    if indicators is not None:
        labels = _indicator_labels(site)
        vintages = indicators.select("indicator", "vintage").unique().sort("indicator", "vintage")
        for name, text in _indicator_pages(site, indicators).items():
            pages[indicator_file(name)] = text
            of_name = vintages.filter(pl.col("indicator") == name)["vintage"].to_list()
            listed.append((name, labels.get(name, name), "; ".join(of_name)))
    pages["index.html"] = _index(site, listed)
    pages["availability.html"] = _availability(site)
    return pages


def write_site(package_dir: Path | Package, out: Path) -> SiteSummary:
    """Write the codebook site into `out` (created; stale pages of an earlier run removed): English
    at the root, French in `fr/`, Spanish in `es/`."""
    package = package_dir if isinstance(package_dir, Package) else Package(package_dir)
    site = Site(package)
    indicators = _indicators(site)
    pages: dict[str, str] = {}
    for code in LANGUAGES:
        with using(code):
            pages |= {language_folder(code) + path: text for path, text in _pages(site, indicators).items()}
    out = claim_output_folder(Path(out), "site")
    for code in LANGUAGES:
        for folder in (f"{language_folder(code)}variables", f"{language_folder(code)}indicators"):
            (out / folder).mkdir(parents=True, exist_ok=True)
            for old in (out / folder).glob("*.html"):
                if f"{folder}/{old.name}" not in pages:
                    old.unlink()
    for relative, text in pages.items():
        write_atomic(out / relative, text)
    indicator_pages = sum(path.startswith("indicators/") for path in pages)
    return SiteSummary(out=out, variables=len(site.summaries), indicators=indicator_pages, pages=len(pages))

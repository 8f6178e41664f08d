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
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from ippmd import SYNTHETIC_NOTICE, synthetic_notice
from ippmd.core.home import package_data
from ippmd.core.io import claim_output_folder, load_yaml, write_atomic
from ippmd.explore.design import COUNTRY, Package
from ippmd.explore.notes import comparability_notes
from ippmd.explore.stats import QUANTILES, VariableSummary, summarise_table
from ippmd.explore.svg import bar_chart, line_chart

INDICATORS = "country_indicators"
REAL_NOTICE = (
    "REAL DATA: these country indicators are read from the original public files (UN DESA, World "
    "Bank, KNOMAD); each value carries its source, vintage, file and method."
)


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


def page(title: str, body: str, depth: int, script: str = "") -> str:
    """A whole page: inline style, the site's navigation, the body, an optional inline script."""
    up = "../" * depth
    nav = (
        f'<header class="site"><a href="{up}index.html">Codebook</a>'
        f'<a href="{up}availability.html">Availability</a>'
        f'<a href="{up}index.html#indicators">Country indicators</a></header>'
    )
    tail = f"<script>{script}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
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
    """Whole numbers as they are; others to `digits` significant digits, trailing zeros kept."""
    if value is None:
        return ""
    if value == int(value) or abs(value) >= 10**digits:
        return f"{round(value):,}"
    return f"{value:#,.{digits}g}".rstrip(".")


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


def _frequency_table(site: Site, summary: VariableSummary) -> str:
    categories = summary.field.get("categories", [])
    listed = [c["value"] for c in categories]
    labels = {c["value"]: c["label"] for c in categories}
    seen = {v for s in summary.countries.values() for v, _, _ in s.frequencies}
    values = listed + sorted(seen - set(listed), key=str)
    header = ["value", "label", *(_e(c) for c in site.countries)]
    found = {code: {v: (n, w) for v, n, w in s.frequencies} for code, s in summary.countries.items()}
    rows = []
    for value in values:
        cells = [f"<code>{_e(value)}</code>", _e(labels.get(value, ""))]
        for code in site.countries:
            if value in found[code]:
                n, share = found[code][value]
                cells.append(f'{share * 100:.1f}%<br><span class="muted">n={n:,}</span>')
            else:
                cells.append('<span class="muted">0</span>' if summary.countries[code].valid else "")
        rows.append(cells)
    for label, attribute in (("unknown (missing)", "unknown"), ("NIU (not in universe)", "niu")):
        rows.append(["", label, *(f"{getattr(summary.countries[c], attribute):,}" for c in site.countries)])
    rows.append(
        ["", "<strong>valid records</strong>", *(f"{summary.countries[c].valid:,}" for c in site.countries)]
    )
    return (
        "<p>Each cell: the weighted share of the country's valid records, and the unweighted "
        "count n.</p>" + _table(header, rows, numeric_from=2)
    )


def _numeric_table(site: Site, summary: VariableSummary) -> str:
    header = [
        "country",
        "valid n",
        "weighted mean",
        "unweighted mean",
        *(f"p{int(p * 100)} (weighted)" for p in QUANTILES),
        "min",
        "max",
        "unknown",
        "NIU",
    ]
    rows = []
    for code in site.countries:
        s = summary.countries[code]
        rows.append(
            [
                _e(site.country_label(code)),
                f"{s.valid:,}",
                _number(s.mean),
                _number(s.unweighted_mean),
                *(_number(s.quantiles.get(p)) for p in QUANTILES),
                _number(s.minimum),
                _number(s.maximum),
                f"{s.unknown:,}",
                f"{s.niu:,}",
            ]
        )
    return _table(header, rows, numeric_from=1)


def _text_table(site: Site, summary: VariableSummary) -> str:
    rows = []
    for code in site.countries:
        s = summary.countries[code]
        top = "; ".join(f"<code>{_e(v)}</code> ({n:,}, {w * 100:.1f}%)" for v, n, w in s.frequencies)
        more = (
            f' <span class="muted">and {s.distinct - len(s.frequencies):,} more</span>'
            if s.distinct > len(s.frequencies)
            else ""
        )
        rows.append([_e(site.country_label(code)), f"{s.valid:,}", f"{s.distinct:,}", top + more])
    return "<p>Most frequent values (unweighted count, weighted share of valid records).</p>" + _table(
        ["country", "valid n", "distinct values", "values"], rows, numeric_from=1, numeric_to=3
    )


def _country_value_table(site: Site, summary: VariableSummary) -> str:
    rows = []
    for code in site.countries:
        s = summary.countries[code]
        value = s.frequencies[0][0] if s.frequencies else (s.mean if s.mean is not None else "")
        if isinstance(value, float) and value == int(value):
            value = int(value)
        rows.append([_e(site.country_label(code)), _e(value)])
    return _table(["country", "value"], rows)


def _chart(site: Site, summary: VariableSummary) -> str:
    """Weighted share of Yes, or weighted mean, by country (SYNTHETIC)."""
    label = summary.field.get("title", summary.field["name"])
    if summary.kind == "share":
        bars = []
        for code in site.countries:
            shares = {v: w for v, _, w in summary.countries[code].frequencies}
            if summary.countries[code].valid:
                bars.append((site.names.get(code, code), shares.get(1, 0.0), None, None))
        return bar_chart(bars, f"{label}: weighted share Yes (SYNTHETIC data)", percent=True)
    if summary.kind == "mean":
        bars = [
            (site.names.get(c, c), s.mean, None, None)
            for c, s in summary.countries.items()
            if s.mean is not None
        ]
        unit = summary.field.get("unit", "")
        return bar_chart(bars, f"{label}: weighted mean (SYNTHETIC data)", axis_label=unit)
    return ""


def _availability_row(site: Site, summary: VariableSummary) -> str:
    cells = []
    for code in site.countries:
        s = summary.countries[code]
        if s.available:
            cells.append(f'<td class="yes" title="{s.valid:,} of {s.rows:,} records">&#10003;</td>')
        else:
            cells.append(f'<td class="no" title="no value in {s.rows:,} records">&#8212;</td>')
    head = "".join(f"<th>{_e(c)}</th>" for c in site.countries)
    row = "".join(cells)
    return f'<table class="matrix"><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>'


def extract_command(table: str, name: str) -> str:
    return f"ippmd extract --tables {table} --variables {name} --out {name}.zip"


def _variable_page(site: Site, summary: VariableSummary) -> str:
    f, table = summary.field, summary.table
    name = f["name"]
    resource = site.package.resource(table)
    design = site.package.design(table) if table in site.package.survey_tables else None
    meta = [
        ("Table", f"<code>{_e(table)}</code>: {_e(resource.get('title', table))}"),
        ("Label", _e(f.get("title", ""))),
        ("Description", _e(f.get("description", ""))),
        ("Type", _e(f["type"]) + (" (key)" if summary.kind == "key" else "")),
        ("Unit", _e(f.get("unit", ""))),
        ("Universe", f"<code>{_e(f['universe'])}</code>" if f.get("universe") else "all records"),
        (
            "Source variable",
            f"<code>{_e(f['sourceVariable'])}</code>" if f.get("sourceVariable") else "derived",
        ),
        ("Weighted by", _e(design.describe()) if design else "one record per country"),
    ]
    parts = [f"<h1><code>{_e(name)}</code> &#8212; {_e(f.get('title', ''))}</h1>"]
    if site.synthetic(table):
        parts.append(f'<p class="notice">{_e(SYNTHETIC_NOTICE)}</p>')
    elif table == "countries":
        synthetic = [c for c, o in site.origins.items() if o != "survey"]
        parts.append(
            '<p class="real">Country metadata from countries/&lt;ISO3&gt;/country.yaml: each value cites '
            "its source or is marked assumed. The microdata of "
            f"{_e(', '.join(synthetic) or 'no country')} in this package are SYNTHETIC.</p>"
        )
    parts.append('<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta if v) + "</dl>")
    if f.get("categories"):
        parts.append("<h2>Value labels</h2>")
        parts.append(
            _table(
                ["value", "label"],
                [[f"<code>{_e(c['value'])}</code>", _e(c["label"])] for c in f["categories"]],
            )
        )
    parts.append("<h2>Value by country</h2>" if table == "countries" else "<h2>Frequencies by country</h2>")
    if table == "countries":
        parts.append(_country_value_table(site, summary))
    elif summary.kind in ("share", "categorical"):
        parts.append(_frequency_table(site, summary))
    elif summary.kind == "mean":
        parts.append(_numeric_table(site, summary))
    else:
        parts.append(_text_table(site, summary))
    if table != "countries":
        parts.append(_chart(site, summary))
        parts.append(
            "<h2>Availability</h2><p>Available = at least one non-missing value in that country.</p>"
        )
        parts.append(_availability_row(site, summary))
    parts.append("<h2>Comparability notes by country</h2>")
    rows = []
    for code in site.countries:
        notes = comparability_notes(code, table, f, site.origins.get(code, "synthetic"))
        rows.append(
            [_e(site.country_label(code)), "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"]
        )
    parts.append(_table(["country", "notes"], rows))
    parts.append('<h2 id="extract">Extract this variable</h2>')
    parts.append(
        f"<pre><code>{_e(extract_command(table, name))}</code></pre><p>Keys (and links to other tables) "
        "come with it; add <code>--countries KHM,PHL</code> for some countries only, "
        "<code>--format dta</code> or <code>sav</code> for Stata or SPSS.</p>"
    )
    if design:
        command = f"ippmd tabulate {name} --table {table} --by country"
        parts.append(f"<p>A design-based table: <code>{_e(command)}</code></p>")
    return page(f"{name} ({table}): {f.get('title', '')}", "".join(parts), depth=1)


# --- index and availability ---------------------------------------------------------------------


def _search_text(summary: VariableSummary) -> str:
    f = summary.field
    words = [
        f["name"],
        summary.table,
        f.get("title", ""),
        f.get("description", ""),
        *(str(c["label"]) for c in f.get("categories", [])),
        *(str(c["value"]) for c in f.get("categories", [])),
    ]
    return fold(" ".join(words))


def _index(site: Site, indicators: list[tuple[str, str, str]]) -> str:
    descriptor = site.package.descriptor
    rows = []
    for s in site.summaries:
        f = s.field
        available = sum(c.available for c in s.countries.values())
        values = "; ".join(f"{c['value']} = {c['label']}" for c in f.get("categories", []))
        if len(values) > 160:
            values = values[:157] + "..."
        rows.append(
            f'<tr data-search="{_e(_search_text(s))}" data-table="{_e(s.table)}" data-name="{_e(f["name"])}">'
            f'<td><input type="checkbox" aria-label="select {_e(f["name"])}"></td>'
            f'<td><a href="{variable_file(s.table, f["name"])}"><code>{_e(f["name"])}</code></a></td>'
            f"<td>{_e(s.table)}</td><td>{_e(f.get('title', ''))}</td><td>{_e(f['type'])}</td>"
            f'<td class="num">{available}/{len(site.countries)}</td><td class="labels">{_e(values)}</td>'
            f'<td><a href="{variable_file(s.table, f["name"])}#extract">extract</a></td></tr>'
        )
    synthetic = [c for c, o in site.origins.items() if o != "survey"]
    body = [
        f"<h1>{_e(descriptor.get('title', 'Codebook'))}</h1>",
        f"<p>Codebook of package version {_e(descriptor.get('version', '?'))} "
        f"(data hash <code>{_e(site.package.built.data_hash)}</code>): "
        f"{len(site.summaries)} variables in {len({s.table for s in site.summaries})} tables, "
        f"{len(site.countries)} countries: "
        f"{_e(', '.join(site.country_label(c) for c in site.countries))}.</p>",
    ]
    if synthetic:
        body.append(f'<p class="notice">{_e(synthetic_notice(synthetic))}</p>')
    body += [
        '<p><label for="search"><strong>Search</strong> by name, label or value label: </label><br>'
        '<input id="search" type="search" autocomplete="off" autofocus '
        'placeholder="e.g. remittances, Mobile money, education"><span id="count"></span></p>',
        "<p>Tick variables to build an extract command:</p>",
        '<pre id="command"></pre>',
        '<table id="variables"><thead><tr><th></th><th>variable</th><th>table</th><th>label</th>'
        "<th>type</th><th>countries</th><th>value labels</th><th></th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>",
        '<h2 id="indicators">Country indicators (real data)</h2>',
        f'<p class="real">{_e(REAL_NOTICE)}</p>',
        _table(
            ["indicator", "label", "vintages"],
            [
                [f'<a href="{indicator_file(i)}"><code>{_e(i)}</code></a>', _e(label), _e(v)]
                for i, label, v in indicators
            ],
        ),
    ]
    return page(
        "Codebook: " + str(descriptor.get("title", "")), "".join(body), depth=0, script=_asset("search.js")
    )


def _availability(site: Site) -> str:
    head = ["variable", "table", *(_e(c) for c in site.countries)]
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
            cells.append(
                f'<span title="{c.valid:,} of {c.rows:,} records">&#10003;</span>'
                if c.available
                else "&#8212;"
            )
        rows.append(cells)
    matrix = _table(head, rows).replace('<table class="">', '<table class="matrix">')
    # colour the cells by their mark
    matrix = matrix.replace("<td><span title=", '<td class="yes"><span title=').replace(
        "<td>&#8212;</td>", '<td class="no">&#8212;</td>'
    )
    body = (
        "<h1>Availability: variable x country</h1>"
        "<p>&#10003; = at least one non-missing value in that country's records (hover for the count); "
        "&#8212; = no value at all. Computed from the data, not declared.</p>"
        f'<p class="notice">{_e(SYNTHETIC_NOTICE)}</p>' + matrix
    )
    return page("Availability: variable x country", body, depth=0)


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
        f'<p class="real">{_e(REAL_NOTICE)}</p>',
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
    return page(f"{indicator} (real country indicator)", "".join(parts), depth=1)


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
        ("Source", f"{_e(title)}" + (f' (<a href="{_e(url)}">{_e(url)}</a>)' if url else "")),
        ("Citation", _e(block.get("citation", ""))),
        (
            "Vintage",
            _e(vintage) + (f", released {_e(block['released'])}" if block.get("released") else ""),
        ),
        ("Original file", ", ".join(f"<code>{_e(f)}</code>" for f in files)),
        ("Licence", _e(block.get("license", ""))),
        ("Unit", _e(unit)),
        ("Method (first row)", _e(group["method"][0])),
    ]
    return '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta if v) + "</dl>"


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
        parts.append(line_chart(series, f"{indicator}, {vintage} (real data)", axis_label=unit))
    else:
        bars = [
            (site.names.get(c, c), v, None, None)
            for c, v in world.sort("iso3").select("iso3", "value").iter_rows()
        ]
        parts.append(bar_chart(bars, f"{indicator}, {periods[0]}, {vintage} (real data)", axis_label=unit))
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
    parts.append("<p>Latest value of each country in this vintage:</p>")
    parts.append(_table(["country", "period", "value", "corridors"], rows, numeric_from=2))
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
        bar_chart(bars, f"{indicator}: three largest partners, {vintage} (real data)", axis_label=unit),
        _table(["country", "partner", "period", "value"], rows, numeric_from=3),
    ]


def _indicator_pages(site: Site) -> dict[str, str]:
    """indicator file -> page, and the index rows (indicator, label, vintages)."""
    if INDICATORS not in site.package.resources:
        return {}
    frame = pl.read_parquet(site.package.parquet_path(INDICATORS), glob=False)
    if "iso3" not in frame.columns:  # partitioned readers drop it; the whole file keeps it
        return {}
    field = site.package.fields(INDICATORS).get("indicator", {})
    labels = {c["value"]: c["label"] for c in field.get("categories", [])}
    order = [c["value"] for c in field.get("categories", [])]
    present = frame["indicator"].unique().to_list()
    names = [i for i in order if i in present] + sorted(set(present) - set(order))
    return {
        name: _indicator_page(site, name, labels.get(name, name), frame.filter(pl.col("indicator") == name))
        for name in names
    }


def write_site(package_dir: Path | Package, out: Path) -> SiteSummary:
    """Write the codebook site into `out` (created; stale pages of an earlier run removed)."""
    package = package_dir if isinstance(package_dir, Package) else Package(package_dir)
    site = Site(package)
    pages: dict[str, str] = {}
    for summary in site.summaries:
        pages[variable_file(summary.table, summary.field["name"])] = _variable_page(site, summary)
    indicator_pages = _indicator_pages(site)
    frame_labels = package.fields(INDICATORS).get("indicator", {}) if INDICATORS in package.resources else {}
    labels = {c["value"]: c["label"] for c in frame_labels.get("categories", [])}
    vintages: dict[str, list[str]] = {}
    if indicator_pages:
        ind = pl.read_parquet(
            package.parquet_path(INDICATORS), columns=["indicator", "vintage"], glob=False
        ).unique()
        for name, vintage in ind.sort("indicator", "vintage").iter_rows():
            vintages.setdefault(name, []).append(vintage)
    for name, text in indicator_pages.items():
        pages[indicator_file(name)] = text
    listed = [(n, labels.get(n, n), "; ".join(vintages.get(n, []))) for n in indicator_pages]
    pages["index.html"] = _index(site, listed)
    pages["availability.html"] = _availability(site)
    out = claim_output_folder(Path(out), "site")
    for folder in ("variables", "indicators"):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for old in (out / folder).glob("*.html"):
            if f"{folder}/{old.name}" not in pages:
                old.unlink()
    for relative, text in pages.items():
        write_atomic(out / relative, text)
    return SiteSummary(
        out=out, variables=len(site.summaries), indicators=len(indicator_pages), pages=len(pages)
    )

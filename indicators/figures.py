"""Figures 1.2 and 1.3 of the IPPMD country reports, redrawn from the indicator table.

Each figure writes the table behind it (CSV), PNG and SVG, and names its source and vintage under
the chart. A country without data is shown as "no data", never as a zero bar; the SDG 10.c line
is read from targets.yaml.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

import altair as alt
import polars as pl

from ippmd.indicators.codes import ippmd_countries
from ippmd.indicators.provenance import sources, targets
from ippmd.indicators.table import write_csv

WIDTH, HEIGHT = 520, 300
FOOTER_CHARS = 100  # characters per source line under a chart
DIMMED = 0.45
COLORS = {"Emigrants": "#1f4e79", "Immigrants": "#9dc3e6", "Cost": "#1f4e79"}


def _highlighted(highlight: str | Iterable[str] | None) -> list[str]:
    codes = [highlight] if isinstance(highlight, str) else list(highlight or [])
    unknown = [c for c in codes if c not in ippmd_countries()]
    if unknown:
        raise ValueError(f"highlight must be IPPMD countries {sorted(ippmd_countries())}, got {unknown}")
    return codes


def _source_lines(table: pl.DataFrame) -> list[str]:
    """One "Source:" line per original behind the table, with its vintage."""
    ids = sorted(set(table["source"].drop_nulls()))
    return [f"Source: {sources()[i].producer}, {sources()[i].title} ({sources()[i].vintage})." for i in ids]


def _footer(lines: list[str]) -> alt.Chart:
    lines = [part for line in lines for part in textwrap.wrap(line, FOOTER_CHARS, subsequent_indent="  ")]
    data = alt.Data(values=[{"i": i, "line": line} for i, line in enumerate(lines)])
    return (
        alt.Chart(data)
        .mark_text(align="left", baseline="top", fontSize=10, color="#444444")
        .encode(text="line:N", y=alt.Y("i:O", axis=None), x=alt.value(0))
        .properties(width=WIDTH, height=14 * len(lines))
    )


def _label_weight(names: list[str]) -> dict[str, str]:
    """Axis labels of highlighted countries in bold (a Vega expression on the label text)."""
    listed = ",".join(repr(n) for n in names)
    return {"expr": f"indexof([{listed}], datum.label) >= 0 ? 'bold' : 'normal'"}


def _save(chart: alt.TopLevelMixin, table: pl.DataFrame, out_dir: Path, name: str) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(table, out_dir / f"{name}.csv")
    for suffix in ("png", "svg"):
        chart.save(str(out_dir / f"{name}.{suffix}"))  # vl-convert, no browser or network needed


def _by_country(values: pl.DataFrame, highlight: list[str]) -> pl.DataFrame:
    """One row per IPPMD country (a country without a value keeps a row with an empty value)."""
    countries = pl.DataFrame(
        {"iso3": list(ippmd_countries()), "country": list(ippmd_countries().values())},
        schema={"iso3": pl.String, "country": pl.String},
    )
    table = countries.join(values, on="iso3", how="left")
    return table.with_columns(pl.col("iso3").is_in(highlight).alias("highlighted"))


def figure_1_2_table(frame: pl.DataFrame, highlight: str | Iterable[str] | None = "KHM") -> pl.DataFrame:
    """Emigrant and immigrant stocks as % of population, 2015, UN DESA 2015 revision."""
    highlight_codes = _highlighted(highlight)
    parts = []
    for measure, indicator in (
        ("Emigrants", "emigrant_stock_share"),
        ("Immigrants", "immigrant_stock_share"),
    ):
        values = frame.filter(
            pl.col("indicator") == indicator,
            pl.col("period") == "2015",
            pl.col("vintage") == "UN DESA 2015 revision",
            pl.col("partner_iso3") == "WLD",
        ).select("iso3", "value", "unit", "period", "source", "vintage")
        part = _by_country(values, highlight_codes).with_columns(pl.lit(measure).alias("measure"))
        parts.append(part)
    table = pl.concat(parts)
    emigrants = table.filter(pl.col("measure") == "Emigrants")
    order = emigrants.sort("value", "iso3", descending=[True, False], nulls_last=True)
    rank = {iso3: i for i, iso3 in enumerate(order["iso3"])}
    table = table.with_columns(pl.col("iso3").replace_strict(rank, return_dtype=pl.Int64).alias("order"))
    return table.sort("order", "measure").select(
        "iso3", "country", "measure", "period", "value", "unit", "source", "vintage", "highlighted"
    )


def figure_1_2(
    frame: pl.DataFrame, highlight: str | Iterable[str] | None = "KHM", *, out_dir: Path
) -> alt.VConcatChart:
    """Emigrant and immigrant stocks as a percentage of the population (2015), grouped bars."""
    table = figure_1_2_table(frame, highlight)
    names = table.filter("highlighted")["country"].unique(maintain_order=True).to_list()
    order = table["country"].unique(maintain_order=True).to_list()
    data = alt.Data(values=table.to_dicts())
    base = alt.Chart(data).encode(
        x=alt.X(
            "country:N",
            sort=order,
            title=None,
            axis=alt.Axis(labelAngle=-35, labelFontWeight=_label_weight(names)),
        ),
    )
    bars = base.mark_bar().encode(
        xOffset=alt.XOffset("measure:N", sort=["Emigrants", "Immigrants"]),
        y=alt.Y("value:Q", title="% of population"),
        color=alt.Color(
            "measure:N",
            title=None,
            scale=alt.Scale(
                domain=["Emigrants", "Immigrants"], range=[COLORS["Emigrants"], COLORS["Immigrants"]]
            ),
            legend=alt.Legend(orient="top-right"),
        ),
        opacity=alt.condition(alt.datum.highlighted, alt.value(1.0), alt.value(DIMMED))
        if names
        else alt.value(1.0),
        tooltip=["country:N", "measure:N", alt.Tooltip("value:Q", format=".1f")],
    )
    missing = (
        base.transform_filter("datum.value === null")
        .mark_text(text="no data", angle=270, align="left", dy=0, fontSize=10)
        .encode(y=alt.datum(0), xOffset=alt.XOffset("measure:N"))
    )
    subtitle = ["Emigrant stock (born in the country, living abroad) and immigrant stock, mid-2015"]
    if names:
        subtitle.append(f"Highlighted: {', '.join(names)}")
    chart = (bars + missing).properties(
        width=WIDTH,
        height=HEIGHT,
        title=alt.TitleParams(
            "Emigrant and immigrant stocks as a percentage of the population, 2015",
            subtitle=subtitle,
            anchor="start",
        ),
    )
    lines = [
        *_source_lines(table),
        "Emigrants: Table 16 (WORLD row) / Table 2 population; immigrants: Table 3.",
    ]
    figure = alt.vconcat(chart, _footer(lines), spacing=8).configure_view(stroke=None)
    _save(figure, table, out_dir, "figure_1_2")
    return figure


def latest_common_period(frame: pl.DataFrame) -> str:
    """Latest quarter in which every country with any remittance_cost_usd200 value has one."""
    costs = frame.filter(pl.col("indicator") == "remittance_cost_usd200", pl.col("period").str.contains("Q"))
    countries = costs["iso3"].n_unique()
    complete = (
        costs.group_by("period").agg(pl.col("iso3").n_unique().alias("n")).filter(pl.col("n") == countries)
    )
    if complete.is_empty():
        raise ValueError("no quarter with a remittance cost for every country that has any")
    return str(complete["period"].max())


def figure_1_3_table(
    frame: pl.DataFrame, highlight: str | Iterable[str] | None = "KHM", period: str = "2016"
) -> pl.DataFrame:
    """Cost of remitting USD 200 per IPPMD country for one period; empty value = no data."""
    highlight_codes = _highlighted(highlight)
    target = targets()["sdg_10c_average_cost"]
    values = frame.filter(
        pl.col("indicator") == "remittance_cost_usd200",
        pl.col("period") == period,
        pl.col("partner_iso3") == "WLD",
    ).select("iso3", "period", "value", "unit", "n_corridors", "source", "vintage")
    table = _by_country(values, highlight_codes).with_columns(
        pl.lit(period).alias("period"),
        pl.lit(target["unit"]).alias("unit"),
        pl.when(pl.col("value").is_null()).then(pl.lit("no data")).otherwise(pl.lit("")).alias("note"),
        pl.lit(float(target["value"])).alias("sdg_10c_target"),
    )
    columns = ["iso3", "country", "period", "value", "unit", "n_corridors", "note", "sdg_10c_target"]
    ordered = table.sort(pl.col("value").is_null(), pl.col("value"), "iso3", descending=[False, True, False])
    return ordered.select(*columns, "source", "vintage", "highlighted")


def figure_1_3(
    frame: pl.DataFrame, highlight: str | Iterable[str] | None = "KHM", *, out_dir: Path, period: str = "2016"
) -> alt.VConcatChart:
    """Cost of remitting USD 200 (% of amount sent) in `period` ("2016", "2016Q4" or "latest"), SDG line."""
    if period == "latest":
        period = latest_common_period(frame)
    table = figure_1_3_table(frame, highlight, period)
    target = targets()["sdg_10c_average_cost"]
    names = table.filter("highlighted")["country"].to_list()
    order = table["country"].to_list()
    when = f"{period} (annual mean of quarterly corridor averages)" if "Q" not in period else period
    data = alt.Data(values=table.to_dicts())
    x = alt.X(
        "country:N",
        sort=order,
        title=None,
        axis=alt.Axis(labelAngle=-35, labelFontWeight=_label_weight(names)),
    )
    bars = (
        alt.Chart(data)
        .mark_bar(color=COLORS["Cost"])
        .encode(
            x=x,
            y=alt.Y("value:Q", title="% of amount sent"),
            opacity=alt.condition(alt.datum.highlighted, alt.value(1.0), alt.value(DIMMED))
            if names
            else alt.value(1.0),
            tooltip=["country:N", alt.Tooltip("value:Q", format=".1f"), "n_corridors:Q"],
        )
    )
    missing = (
        alt.Chart(data)
        .transform_filter("datum.value === null")
        .mark_text(text="no data", angle=270, align="left", dx=4, fontSize=10)
        .encode(x=x, y=alt.datum(0))
    )
    rule_data = alt.Data(values=[{"target": float(target["value"]), "label": target["label"]}])
    rule = alt.Chart(rule_data).mark_rule(color="#c00000", strokeDash=[6, 4]).encode(y="target:Q")
    rule_label = (
        alt.Chart(rule_data)
        .mark_text(align="right", baseline="bottom", color="#c00000", dy=-3, fontSize=10)
        .encode(y="target:Q", x=alt.value(WIDTH), text="label:N")
    )
    subtitle = [when]
    if names:
        subtitle.append(f"Highlighted: {', '.join(names)}")
    chart = (bars + missing + rule + rule_label).properties(
        width=WIDTH,
        height=HEIGHT,
        title=alt.TitleParams(
            f"Costs of remitting USD 200 (% of amount sent), {when}", subtitle=subtitle[1:], anchor="start"
        ),
    )
    target_sources = "; ".join(s["short"] for s in target["sources"])
    lines = [
        *_source_lines(table),
        "Cost of a country = simple mean over its receiving corridors with data; "
        "no data = no priced corridor.",
        f"Target line: {target['label']} ({target_sources}).",
    ]
    figure = alt.vconcat(chart, _footer(lines), spacing=8).configure_view(stroke=None)
    _save(figure, table, out_dir, "figure_1_3")
    return figure

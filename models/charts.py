"""Altair charts of the benchmarks, with the focus country highlighted.

Charts are plain Vega-Lite specs: the same object is saved as PNG and SVG (through vl-convert)
and embedded in the offline report. No selections or generated names, so the specs, and the
files made from them, are identical for the same inputs.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

FOCUS_COLOUR = "#c0392b"
PEER_COLOUR = "#4c78a8"
PEER_MEAN_COLOUR = "#e67e22"
FONT = "DejaVu Sans, Arial, sans-serif"
PLANTED_NOTE = "Dot: estimate; line: 95% CI; black tick: planted size in the synthetic data."
NOT_PLANTED_NOTE = "Dot: estimate; line: 95% CI. No effect is planted at this level in the synthetic data."


def _records(frame: pl.DataFrame, digits: int = 6) -> list[dict[str, Any]]:
    """Rows for an inline dataset, floats rounded so that the spec text is stable."""
    rounded = frame.with_columns(pl.col(pl.Float64).round(digits))
    return rounded.to_dicts()


def _bold_focus(focus: str) -> alt.ExprRef:
    return alt.ExprRef(expr=f"datum.value === '{focus}' ? 'bold' : 'normal'")


def _configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return chart.configure(font=FONT).configure_view(stroke=None).configure_title(anchor="start")


def share_chart(shares: pl.DataFrame, focus: str, title: str, measure: str) -> alt.TopLevelMixin:
    """Grouped bars of weighted shares with 95% CIs, one facet per panel, focus opaque."""
    data = alt.Data(
        values=_records(shares.select("country", "panel", "group", "estimate", "ci_low", "ci_high", "n"))
    )
    groups = list(dict.fromkeys(shares["group"].to_list()))
    # The data go on the facet only: layers with their own data would not be split by panel.
    base = alt.Chart().encode(
        x=alt.X(
            "country:N",
            title=None,
            axis=alt.Axis(labelAngle=0, labelFontWeight=_bold_focus(focus)),
        ),
        xOffset=alt.XOffset("group:N", sort=groups),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("estimate:Q", title="Share", axis=alt.Axis(format="%"), scale=alt.Scale(zero=True)),
        color=alt.Color("group:N", sort=groups, legend=alt.Legend(title=None, orient="bottom", columns=2)),
        opacity=alt.condition(alt.datum.country == focus, alt.value(1.0), alt.value(0.4)),
        tooltip=[
            alt.Tooltip("country:N"),
            alt.Tooltip("group:N"),
            alt.Tooltip("estimate:Q", format=".1%"),
            alt.Tooltip("ci_low:Q", format=".1%", title="95% CI low"),
            alt.Tooltip("ci_high:Q", format=".1%", title="95% CI high"),
            alt.Tooltip("n:Q", title="unweighted n"),
        ],
    )
    errors = base.mark_rule(color="black", strokeWidth=1).encode(y="ci_low:Q", y2="ci_high:Q")
    layered = alt.layer(bars, errors).properties(width=520, height=200)
    panels = shares["panel"].unique(maintain_order=True).to_list()
    chart = layered.facet(
        row=alt.Row(
            "panel:N",
            title=None,
            sort=panels,
            header=alt.Header(labelAngle=0, labelAlign="left", labels=len(panels) > 1),
        ),
        data=data,
    ).properties(
        title=alt.TitleParams(
            title,
            subtitle=[
                measure,
                f"Weighted, 95% CI clustered by community; focus country {focus} in full colour.",
            ],
        )
    )
    return _configure(chart)


def effect_chart(
    effects: pl.DataFrame, focus: str, peer_mean: float | None, title: str, axis_title: str
) -> alt.TopLevelMixin:
    """Dot-and-whisker of the country effects (sorted by size) with the peer mean, zero, and the
    planted size of the synthetic data as a black tick."""
    frame = effects.select("country", "estimate", "ci_low", "ci_high", "planted").with_columns(
        role=pl.when(pl.col("country") == focus).then(pl.lit(focus)).otherwise(pl.lit("peers"))
    )
    data = alt.Data(values=_records(frame))
    roles = alt.Scale(domain=[focus, "peers"], range=[FOCUS_COLOUR, PEER_COLOUR])
    colour = alt.Color("role:N", scale=roles, legend=alt.Legend(title=None, orient="right"))
    y = alt.Y(
        "country:N",
        title=None,
        sort=alt.EncodingSortField("estimate", order="descending"),
        axis=alt.Axis(labelFontWeight=_bold_focus(focus)),
    )
    base = alt.Chart(data).encode(y=y)
    interval = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title=axis_title),
        x2="ci_high:Q",
        color=alt.Color("role:N", scale=roles, legend=None),
    )
    point = base.mark_point(filled=True, size=70, opacity=1).encode(
        x="estimate:Q",
        color=colour,
        tooltip=[
            alt.Tooltip("country:N"),
            alt.Tooltip("estimate:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f", title="95% CI low"),
            alt.Tooltip("ci_high:Q", format=".3f", title="95% CI high"),
            alt.Tooltip("planted:Q", format=".3f", title="planted (synthetic)"),
        ],
    )
    planted = base.mark_tick(color="black", thickness=2, size=14).encode(x="planted:Q")
    references = [{"x": 0.0, "what": "zero"}]
    if peer_mean is not None:
        references.append({"x": round(float(peer_mean), 6), "what": "peer mean"})
    lines = (
        alt.Chart(alt.Data(values=references))
        .mark_rule(strokeDash=[5, 3])
        .encode(
            x="x:Q",
            color=alt.Color(
                "what:N",
                scale=alt.Scale(domain=["zero", "peer mean"], range=["#999999", PEER_MEAN_COLOUR]),
                legend=alt.Legend(title=None, orient="right"),
            ),
        )
    )
    chart = (
        alt.layer(lines, interval, point, planted)
        .resolve_scale(color="independent")
        .properties(
            width=420,
            height=alt.Step(18),
            title=alt.TitleParams(
                title,
                subtitle=[PLANTED_NOTE if frame["planted"].is_not_null().any() else NOT_PLANTED_NOTE],
            ),
        )
    )
    return _configure(chart)


def cost_chart(costs: pl.DataFrame, focus: str, target: float) -> alt.TopLevelMixin:
    """Cost of sending USD 200 (% of the amount) per country and year against the SDG target;
    countries labelled at the reference period."""
    frame = costs.filter(pl.col("value").is_not_null()).with_columns(
        role=pl.when(pl.col("country") == focus).then(pl.lit(focus)).otherwise(pl.lit("peers"))
    )
    frame = frame.select("country", "period", "value", "role", "reference")
    reference = costs.filter(pl.col("reference"))["period"].drop_nulls().first() or ""
    data = alt.Data(values=_records(frame))
    roles = alt.Scale(domain=[focus, "peers"], range=[FOCUS_COLOUR, PEER_COLOUR])
    periods = sorted(frame["period"].unique().to_list())
    base = alt.Chart(data).encode(
        x=alt.X("period:O", title=None, sort=periods, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title="% of USD 200 sent", scale=alt.Scale(zero=True)),
        detail="country:N",
        color=alt.Color("role:N", scale=roles, legend=alt.Legend(title=None, orient="right")),
    )
    lines = base.mark_line().encode(
        strokeWidth=alt.condition(alt.datum.country == focus, alt.value(3), alt.value(1.2)),
        opacity=alt.condition(alt.datum.country == focus, alt.value(1.0), alt.value(0.55)),
    )
    points = base.mark_point(filled=True, size=25).encode(
        tooltip=[alt.Tooltip("country:N"), alt.Tooltip("period:N"), alt.Tooltip("value:Q", format=".2f")]
    )
    labels = (
        base.mark_text(align="left", dx=5, fontSize=10)
        .encode(text="country:N")
        .transform_filter(alt.datum.reference == True)  # noqa: E712 (a Vega expression)
    )
    goal = [{"y": target, "label": f"SDG target {target:g}%"}]
    line = alt.Chart(alt.Data(values=goal)).mark_rule(color="black", strokeDash=[5, 3]).encode(y="y:Q")
    text = (
        alt.Chart(alt.Data(values=goal))
        .mark_text(align="left", dx=4, dy=-6, color="black")
        .encode(y="y:Q", text="label:N", x=alt.value(0))
    )
    chart = alt.layer(lines, points, labels, line, text).properties(
        width=560,
        height=260,
        title=alt.TitleParams(
            "Cost of remitting USD 200 to each country",
            subtitle=[
                f"Average total cost, % of the amount sent, by year; labels at {reference};"
                " dashed: SDG target."
            ],
        ),
    )
    return _configure(chart)


def stock_chart(stocks: pl.DataFrame, focus: str) -> alt.TopLevelMixin:
    """Emigrant and immigrant stocks as % of the population, per country."""
    labels = {"emigrant_stock_share": "Emigrants", "immigrant_stock_share": "Immigrants"}
    frame = (
        stocks.filter(pl.col("value").is_not_null() & pl.col("reference"))
        .with_columns(pl.col("indicator").replace_strict(labels, default=pl.col("indicator")).alias("stock"))
        .select("country", "stock", "value", "period")
    )
    period = stocks.filter(pl.col("reference"))["period"].drop_nulls().first() or ""
    data = alt.Data(values=_records(frame))
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "country:N",
                title=None,
                axis=alt.Axis(labelAngle=0, labelFontWeight=_bold_focus(focus)),
            ),
            xOffset=alt.XOffset("stock:N"),
            y=alt.Y("value:Q", title="% of population"),
            color=alt.Color("stock:N", legend=alt.Legend(title=None, orient="bottom")),
            opacity=alt.condition(alt.datum.country == focus, alt.value(1.0), alt.value(0.45)),
            tooltip=[alt.Tooltip("country:N"), alt.Tooltip("stock:N"), alt.Tooltip("value:Q", format=".2f")],
        )
        .properties(
            width=520,
            height=220,
            title=alt.TitleParams(
                "Emigrant and immigrant stocks", subtitle=[f"% of the population, {period}."]
            ),
        )
    )
    return _configure(chart)

"""Altair charts of the benchmarks, with the focus country highlighted.

Charts are plain Vega-Lite specs: the same object is saved as PNG and SVG (through vl-convert)
and embedded in the offline report. No selections or generated names, so the specs, and the
files made from them, are identical for the same inputs.

Every chart stands alone when exported: the title says outcome ~ treatment (or the measure), the
subtitle says whether the data are SYNTHETIC or REAL and gives the source (`footer` lines passed
in by the report: package version and data hash, or the original file and its vintage); effects
on yes/no outcomes are drawn in percentage points, as the text gives them.
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
LABEL_GAP_PX = 12  # least vertical distance between two end-of-line labels (assumed legible)
UNBOUNDED_REACH = 1.5  # an unbounded interval is drawn to 1.5 x the largest finite value (assumed)


def dodge(values: list[float], gap: float) -> list[float]:
    """Label positions near `values` with at least `gap` between any two (same order): labels of
    lines that end close together (e.g. MAR and CRI) would otherwise print over each other.
    Overlapping labels form a group spaced by `gap` around its members' mean; groups that then
    overlap merge, until none do. A label with room stays where its line ends."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    groups: list[list[int]] = []  # runs of indices into `order`

    def span(group: list[int]) -> tuple[float, float]:
        centre = sum(values[order[k]] for k in group) / len(group)
        low = centre - gap * (len(group) - 1) / 2
        return low, low + gap * (len(group) - 1)

    for k in range(len(order)):
        groups.append([k])
        while len(groups) > 1 and span(groups[-1])[0] < span(groups[-2])[1] + gap - 1e-12:
            last = groups.pop()
            groups[-1] += last
    out = [0.0] * len(values)
    for group in groups:
        low, _ = span(group)
        for position, k in enumerate(group):
            out[order[k]] = low + gap * position
    return out


def _records(frame: pl.DataFrame, digits: int = 6) -> list[dict[str, Any]]:
    """Rows for an inline dataset, floats rounded so that the spec text is stable."""
    rounded = frame.with_columns(pl.col(pl.Float64).round(digits))
    return rounded.to_dicts()


def _bold_focus(focus: str) -> alt.ExprRef:
    return alt.ExprRef(expr=f"datum.value === '{focus}' ? 'bold' : 'normal'")


def _configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return chart.configure(font=FONT).configure_view(stroke=None).configure_title(anchor="start")


def share_chart(
    shares: pl.DataFrame, focus: str, title: str, measure: str, footer: tuple[str, ...] = ()
) -> alt.TopLevelMixin:
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
                f"Weighted, 95% CI t(m-1) with m communities; focus country {focus} in full colour.",
                *footer,
            ],
        )
    )
    return _configure(chart)


def effect_chart(
    effects: pl.DataFrame,
    focus: str,
    peer_mean: float | None,
    title: str,
    axis_title: str,
    footer: tuple[str, ...] = (),
    factor: float = 1.0,
) -> alt.TopLevelMixin:
    """Dot-and-whisker of the country effects (sorted by size) with the peer mean, zero, and the
    planted size of the synthetic data as a black tick. `factor` converts to the axis unit (100
    for percentage points); an unbounded bootstrap interval is drawn to the plot's edge."""
    frame = effects.select("country", "estimate", "ci_low", "ci_high", "planted").with_columns(
        (pl.col(c) * factor) for c in ("estimate", "ci_low", "ci_high", "planted")
    )
    finite = pl.concat([frame["estimate"], frame["ci_low"], frame["ci_high"]]).filter(
        pl.concat([frame["estimate"], frame["ci_low"], frame["ci_high"]]).is_finite()
    )
    span = float(finite.abs().max() or 1.0) * UNBOUNDED_REACH
    frame = frame.with_columns(
        pl.col("ci_low").clip(-span, span),
        pl.col("ci_high").clip(-span, span),
        role=pl.when(pl.col("country") == focus).then(pl.lit(focus)).otherwise(pl.lit("peers")),
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
        x=alt.X("ci_low:Q", title=axis_title, axis=alt.Axis(labelOverlap=True)),
        x2="ci_high:Q",
        color=alt.Color("role:N", scale=roles, legend=None),
    )
    point = base.mark_point(filled=True, size=70, opacity=1).encode(
        x="estimate:Q",
        color=colour,
        tooltip=[
            alt.Tooltip("country:N"),
            alt.Tooltip("estimate:Q", format=".2f"),
            alt.Tooltip("ci_low:Q", format=".2f", title="95% CI low"),
            alt.Tooltip("ci_high:Q", format=".2f", title="95% CI high"),
            alt.Tooltip("planted:Q", format=".2f", title="planted (synthetic)"),
        ],
    )
    planted = base.mark_tick(color="black", thickness=2, size=14).encode(x="planted:Q")
    references = [{"x": 0.0, "what": "zero"}]
    if peer_mean is not None:
        references.append({"x": round(float(peer_mean) * factor, 6), "what": "peer mean"})
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
    note = PLANTED_NOTE if frame["planted"].is_not_null().any() else NOT_PLANTED_NOTE
    chart = (
        alt.layer(lines, interval, point, planted)
        .resolve_scale(color="independent")
        .properties(
            width=420,
            height=alt.Step(18),
            title=alt.TitleParams(title, subtitle=[note, *footer]),
        )
    )
    return _configure(chart)


def premium_chart(
    costs: pl.DataFrame, focus: str, peer_mean: float | None, footer: tuple[str, ...] = ()
) -> alt.TopLevelMixin:
    """Receiving-country cost effects (pp of the amount sent, against the mean receiver) with
    their 95% CIs, for the package countries with a corridor."""
    frame = costs.filter(pl.col("estimate").is_not_null())
    effects = frame.select("country", "estimate", "ci_low", "ci_high", planted=pl.lit(None, dtype=pl.Float64))
    chart = effect_chart(
        effects,
        focus,
        peer_mean,
        "Cost of remitting USD 200 ~ receiving country (sender and quarter fixed effects)",
        "Cost effect (percentage points of the amount sent)",
        footer,
    )
    chart.title = alt.TitleParams(
        chart.title.text,
        subtitle=["Dot: estimate; line: 95% CI, CRV1 clustered by corridor.", *footer],
    )
    return chart


def cost_chart(
    costs: pl.DataFrame, focus: str, target: float, footer: tuple[str, ...] = ()
) -> alt.TopLevelMixin:
    """Cost of sending USD 200 (% of the amount) per country and year against the SDG target;
    countries labelled at the reference period, labels moved apart where lines end close."""
    frame = costs.filter(pl.col("value").is_not_null()).with_columns(
        role=pl.when(pl.col("country") == focus).then(pl.lit(focus)).otherwise(pl.lit("peers"))
    )
    frame = frame.select("country", "period", "value", "role", "reference")
    height = 260
    top = max(float(frame["value"].max() or 1.0), target) * 1.05
    at_reference = frame.filter(pl.col("reference"))
    positions = dodge(at_reference["value"].to_list(), LABEL_GAP_PX * top / height)
    label_rows = at_reference.with_columns(label_y=pl.Series(positions, dtype=pl.Float64))
    reference = costs.filter(pl.col("reference"))["period"].drop_nulls().first() or ""
    data = alt.Data(values=_records(frame))
    roles = alt.Scale(domain=[focus, "peers"], range=[FOCUS_COLOUR, PEER_COLOUR])
    periods = sorted(frame["period"].unique().to_list())
    base = alt.Chart(data).encode(
        x=alt.X("period:O", title=None, sort=periods, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title="% of USD 200 sent", scale=alt.Scale(domain=[0, top])),
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
        alt.Chart(alt.Data(values=_records(label_rows)))
        .mark_text(align="left", dx=6, fontSize=10)
        .encode(
            x=alt.X("period:O", sort=periods),
            y=alt.Y("label_y:Q", scale=alt.Scale(domain=[0, top])),
            text="country:N",
            color=alt.Color("role:N", scale=roles, legend=None),
        )
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
        height=height,
        title=alt.TitleParams(
            "Cost of remitting USD 200 to each country",
            subtitle=[
                f"Average total cost, % of the amount sent, by year; labels at {reference};"
                " dashed: SDG target.",
                *footer,
            ],
        ),
    )
    return _configure(chart)


def stock_chart(stocks: pl.DataFrame, focus: str, footer: tuple[str, ...] = ()) -> alt.TopLevelMixin:
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
                "Emigrant and immigrant stocks", subtitle=[f"% of the population, {period}.", *footer]
            ),
        )
    )
    return _configure(chart)

"""Vega-Lite charts of the benchmarks, with the focus country highlighted.

Charts are plain Vega-Lite specs (dicts), written out here rather than through altair's objects:
building, copying and serialising altair objects cost more than drawing the charts, and the
benchmark must stay fast. The specs are what altair would give for the same chart (the same
schema version, `SCHEMA_URL`; tests validate every spec against altair's Vega-Lite schema). The
same dict is saved as PNG and SVG (through vl-convert, `VL_VERSION`) and embedded in the offline
report. No selections or generated names, so the specs, and the files made from them, are
identical for the same inputs.

Every chart stands alone when exported: the title says outcome ~ treatment (or the measure), the
subtitle says whether the data are SYNTHETIC or REAL and gives the source (`footer` lines passed
in by the report: package version and data hash, or the original file and its vintage); effects
on yes/no outcomes are drawn in percentage points, as the text gives them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ippmd.core.scalars import as_number

# The Vega-Lite version of the pinned altair (altair.SCHEMA_URL; a test checks they agree) and
# vl-convert's name for it (altair.utils._importers.vl_version_for_vl_convert).
SCHEMA_URL = "https://vega.github.io/schema/vega-lite/v6.4.1.json"
VL_VERSION = "v6_4"
Spec = dict[str, Any]
Charts = dict[str, Spec]  # chart name -> Vega-Lite spec
FOCUS_COLOUR = "#c0392b"
PEER_COLOUR = "#4c78a8"
PEER_MEAN_COLOUR = "#e67e22"
FONT = "Liberation Sans, Arial, sans-serif"  # the first is in vl-convert (render-fonts.conf)
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


def _data(records: list[dict[str, Any]]) -> Spec:
    return {"values": records}


def _bold_focus(focus: str) -> Spec:
    return {"expr": f"datum.value === '{focus}' ? 'bold' : 'normal'"}


def _if_focus(focus: str, inside: Any, outside: Any) -> Spec:
    """An encoding value for the focus country, another for the rest (altair's alt.condition)."""
    return {"condition": {"test": f"(datum.country === '{focus}')", "value": inside}, "value": outside}


def _nominal(field: str, **extra: Any) -> Spec:
    return {"field": field, "type": "nominal", **extra}


def _quantitative(field: str, **extra: Any) -> Spec:
    return {"field": field, "type": "quantitative", **extra}


def _title(text: str, subtitle: list[str]) -> Spec:
    return {"text": text, "subtitle": subtitle}


def _top(spec: Spec) -> Spec:
    """The top-level spec with the package's configuration (font, no view frame, titles left)."""
    return {
        "$schema": SCHEMA_URL,
        "config": {
            "font": FONT,
            "title": {"anchor": "start"},
            "view": {"continuousHeight": 300, "continuousWidth": 300, "stroke": None},
        },
        **spec,
    }


def _roles(focus: str) -> Spec:
    return {"domain": [focus, "peers"], "range": [FOCUS_COLOUR, PEER_COLOUR]}


def share_chart(
    shares: pl.DataFrame, focus: str, title: str, measure: str, footer: tuple[str, ...] = ()
) -> Spec:
    """Grouped bars of weighted shares with 95% CIs, one facet per panel, focus opaque."""
    data = _data(_records(shares.select("country", "panel", "group", "estimate", "ci_low", "ci_high", "n")))
    groups = list(dict.fromkeys(shares["group"].to_list()))
    # The data go on the facet only: layers with their own data would not be split by panel.
    x = _nominal("country", title=None, axis={"labelAngle": 0, "labelFontWeight": _bold_focus(focus)})
    offset = _nominal("group", sort=groups)
    bars = {
        "mark": {"type": "bar"},
        "encoding": {
            "x": x,
            "xOffset": offset,
            "y": _quantitative("estimate", title="Share", axis={"format": "%"}, scale={"zero": True}),
            "color": _nominal("group", sort=groups, legend={"title": None, "orient": "bottom", "columns": 2}),
            "opacity": _if_focus(focus, 1.0, 0.4),
            "tooltip": [
                _nominal("country"),
                _nominal("group"),
                _quantitative("estimate", format=".1%"),
                _quantitative("ci_low", format=".1%", title="95% CI low"),
                _quantitative("ci_high", format=".1%", title="95% CI high"),
                _quantitative("n", title="unweighted n"),
            ],
        },
    }
    errors = {
        "mark": {"type": "rule", "color": "black", "strokeWidth": 1},
        "encoding": {"x": x, "xOffset": offset, "y": _quantitative("ci_low"), "y2": {"field": "ci_high"}},
    }
    panels = shares["panel"].unique(maintain_order=True).to_list()
    header = {"labelAngle": 0, "labelAlign": "left", "labels": len(panels) > 1}
    return _top(
        {
            "data": data,
            "facet": {"row": _nominal("panel", title=None, sort=panels, header=header)},
            "spec": {"layer": [bars, errors], "width": 520, "height": 200},
            "title": _title(
                title,
                [
                    measure,
                    f"Weighted, 95% CI t(m-1) with m communities; focus country {focus} in full colour.",
                    *footer,
                ],
            ),
        }
    )


def effect_chart(
    effects: pl.DataFrame,
    focus: str,
    peer_mean: float | None,
    title: str,
    axis_title: str,
    footer: tuple[str, ...] = (),
    factor: float = 1.0,
    note: str | None = None,
) -> Spec:
    """Dot-and-whisker of the country effects (sorted by size) with the peer mean, zero, and the
    planted size of the synthetic data as a black tick. `factor` converts to the axis unit (100
    for percentage points); an unbounded interval is drawn to the plot's edge. `note` replaces
    the subtitle's first line (how to read the marks)."""
    frame = effects.select("country", "estimate", "ci_low", "ci_high", "planted").with_columns(
        (pl.col(c) * factor) for c in ("estimate", "ci_low", "ci_high", "planted")
    )
    finite = pl.concat([frame["estimate"], frame["ci_low"], frame["ci_high"]]).filter(
        pl.concat([frame["estimate"], frame["ci_low"], frame["ci_high"]]).is_finite()
    )
    span = float(as_number(finite.abs().max() or 1.0)) * UNBOUNDED_REACH
    frame = frame.with_columns(
        pl.col("ci_low").clip(-span, span),
        pl.col("ci_high").clip(-span, span),
        role=pl.when(pl.col("country") == focus).then(pl.lit(focus)).otherwise(pl.lit("peers")),
    )
    records = _records(frame)
    y = _nominal(
        "country",
        title=None,
        sort={"field": "estimate", "order": "descending"},
        axis={"labelFontWeight": _bold_focus(focus)},
    )
    references = [{"x": 0.0, "what": "zero"}]
    if peer_mean is not None:
        references.append({"x": round(float(peer_mean) * factor, 6), "what": "peer mean"})
    lines = {
        "data": _data(references),
        "mark": {"type": "rule", "strokeDash": [5, 3]},
        "encoding": {
            "x": _quantitative("x"),
            "color": _nominal(
                "what",
                scale={"domain": ["zero", "peer mean"], "range": ["#999999", PEER_MEAN_COLOUR]},
                legend={"title": None, "orient": "right"},
            ),
        },
    }
    interval = {
        "data": _data(records),
        "mark": {"type": "rule", "strokeWidth": 2},
        "encoding": {
            "y": y,
            "x": _quantitative("ci_low", title=axis_title, axis={"labelOverlap": True}),
            "x2": {"field": "ci_high"},
            "color": _nominal("role", scale=_roles(focus), legend=None),
        },
    }
    point = {
        "data": _data(records),
        "mark": {"type": "point", "filled": True, "size": 70, "opacity": 1},
        "encoding": {
            "y": y,
            "x": _quantitative("estimate"),
            "color": _nominal("role", scale=_roles(focus), legend={"title": None, "orient": "right"}),
            "tooltip": [
                _nominal("country"),
                _quantitative("estimate", format=".2f"),
                _quantitative("ci_low", format=".2f", title="95% CI low"),
                _quantitative("ci_high", format=".2f", title="95% CI high"),
                _quantitative("planted", format=".2f", title="planted (synthetic)"),
            ],
        },
    }
    planted = {
        "data": _data(records),
        "mark": {"type": "tick", "color": "black", "thickness": 2, "size": 14},
        "encoding": {"y": y, "x": _quantitative("planted")},
    }
    if note is None:
        note = PLANTED_NOTE if frame["planted"].is_not_null().any() else NOT_PLANTED_NOTE
    return _top(
        {
            "layer": [lines, interval, point, planted],
            "resolve": {"scale": {"color": "independent"}},
            "width": 420,
            "height": {"step": 18},
            "title": _title(title, [note, *footer]),
        }
    )


def premium_chart(
    costs: pl.DataFrame,
    focus: str,
    peer_mean: float | None,
    footer: tuple[str, ...] = (),
    min_corridors: int = 0,
) -> Spec:
    """Receiving-country cost effects (pp of the amount sent, against the mean receiver) with
    their 95% CIs, for the package countries with a corridor; a country with fewer than
    `min_corridors` corridors has no valid interval, and none is drawn."""
    frame = costs.filter(pl.col("estimate").is_not_null())
    valid = pl.col("n_corridors") >= min_corridors
    effects = frame.select(
        "country",
        "estimate",
        ci_low=pl.when(valid).then(pl.col("ci_low")),
        ci_high=pl.when(valid).then(pl.col("ci_high")),
        planted=pl.lit(None, dtype=pl.Float64),
    )
    without = frame.filter(~valid).height
    few = f" No line: fewer than {min_corridors} corridors, no valid interval." if without else ""
    return effect_chart(
        effects,
        focus,
        peer_mean,
        "Cost of remitting USD 200 ~ receiving country (sender and quarter fixed effects)",
        "Cost effect (percentage points of the amount sent)",
        footer,
        note="Dot: estimate; line: 95% CI, CRV1 clustered by corridor." + few,
    )


def cost_chart(costs: pl.DataFrame, focus: str, target: float, footer: tuple[str, ...] = ()) -> Spec:
    """Cost of sending USD 200 (% of the amount) per country and year against the SDG target;
    countries labelled at the reference period, labels moved apart where lines end close."""
    frame = costs.filter(pl.col("value").is_not_null()).with_columns(
        role=pl.when(pl.col("country") == focus).then(pl.lit(focus)).otherwise(pl.lit("peers"))
    )
    frame = frame.select("country", "period", "value", "role", "reference")
    height = 260
    top = max(float(as_number(frame["value"].max() or 1.0)), target) * 1.05
    at_reference = frame.filter(pl.col("reference"))
    positions = dodge(at_reference["value"].to_list(), LABEL_GAP_PX * top / height)
    label_rows = at_reference.with_columns(label_y=pl.Series(positions, dtype=pl.Float64))
    reference = str(costs.filter(pl.col("reference"))["period"].drop_nulls().first() or "")
    data = _data(_records(frame))
    periods = sorted(frame["period"].unique().to_list())
    x = {"field": "period", "type": "ordinal", "title": None, "sort": periods, "axis": {"labelAngle": 0}}
    y = _quantitative("value", title="% of USD 200 sent", scale={"domain": [0, top]})
    colour = _nominal("role", scale=_roles(focus), legend={"title": None, "orient": "right"})
    detail = _nominal("country")
    lines = {
        "data": data,
        "mark": {"type": "line"},
        "encoding": {
            "x": x,
            "y": y,
            "detail": detail,
            "color": colour,
            "strokeWidth": _if_focus(focus, 3, 1.2),
            "opacity": _if_focus(focus, 1.0, 0.55),
        },
    }
    points = {
        "data": data,
        "mark": {"type": "point", "filled": True, "size": 25},
        "encoding": {
            "x": x,
            "y": y,
            "detail": detail,
            "color": colour,
            "tooltip": [_nominal("country"), _nominal("period"), _quantitative("value", format=".2f")],
        },
    }
    labels = {
        "data": _data(_records(label_rows)),
        "mark": {"type": "text", "align": "left", "dx": 6, "fontSize": 10},
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "sort": periods},
            "y": _quantitative("label_y", scale={"domain": [0, top]}),
            "text": _nominal("country"),
            "color": _nominal("role", scale=_roles(focus), legend=None),
        },
    }
    goal = _data([{"y": target, "label": f"SDG target {target:g}%"}])
    line = {
        "data": goal,
        "mark": {"type": "rule", "color": "black", "strokeDash": [5, 3]},
        "encoding": {"y": _quantitative("y")},
    }
    text = {
        "data": goal,
        "mark": {"type": "text", "align": "left", "dx": 4, "dy": -6, "color": "black"},
        "encoding": {"y": _quantitative("y"), "text": _nominal("label"), "x": {"value": 0}},
    }
    return _top(
        {
            "layer": [lines, points, labels, line, text],
            "width": 560,
            "height": height,
            "title": _title(
                "Cost of remitting USD 200 to each country",
                [
                    f"Average total cost, % of the amount sent, by year; labels at {reference};"
                    " dashed: SDG target.",
                    *footer,
                ],
            ),
        }
    )


def stock_chart(stocks: pl.DataFrame, focus: str, footer: tuple[str, ...] = ()) -> Spec:
    """Emigrant and immigrant stocks as % of the population, per country."""
    labels = {"emigrant_stock_share": "Emigrants", "immigrant_stock_share": "Immigrants"}
    frame = (
        stocks.filter(pl.col("value").is_not_null() & pl.col("reference"))
        .with_columns(pl.col("indicator").replace_strict(labels, default=pl.col("indicator")).alias("stock"))
        .select("country", "stock", "value", "period")
    )
    period = str(stocks.filter(pl.col("reference"))["period"].drop_nulls().first() or "")
    return _top(
        {
            "data": _data(_records(frame)),
            "mark": {"type": "bar"},
            "encoding": {
                "x": _nominal(
                    "country", title=None, axis={"labelAngle": 0, "labelFontWeight": _bold_focus(focus)}
                ),
                "xOffset": _nominal("stock"),
                "y": _quantitative("value", title="% of population"),
                "color": _nominal("stock", legend={"title": None, "orient": "bottom"}),
                "opacity": _if_focus(focus, 1.0, 0.45),
                "tooltip": [_nominal("country"), _nominal("stock"), _quantitative("value", format=".2f")],
            },
            "width": 520,
            "height": 220,
            "title": _title("Emigrant and immigrant stocks", [f"% of the population, {period}.", *footer]),
        }
    )

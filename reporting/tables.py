"""Regression tables (pyfixest etable) in Markdown, HTML and LaTeX, one section per spec.

pyfixest's `etable` builds a `maketables.ETable` and renders it in the format asked for; the
table is built here once per spec (as `etable` builds it): LaTeX is its own rendering (what
`etable(type="tex")` gives), Markdown and HTML are rendered here from its frame (what
`etable(type="df")` gives). `etable(type="md")` prints instead of returning, and its HTML goes
through great_tables, which took longer than every other part of the tables together; the HTML
here is a plain table with the same cells, rows and notes, styled by one stylesheet, with an id
derived from the spec (so that the files are identical across runs).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ippmd.models.estimate import SpecFit

HEADS = ["Pooled", "By country"]
TEX_PACKAGES = "booktabs, threeparttable, makecell, tabularx"


def _notes(fit: SpecFit) -> str:
    fes = " + ".join(fit.fixed_effects)
    estimator = (
        "Poisson pseudo-maximum likelihood (zeros kept)"
        if fit.spec.estimator == "poisson"
        else f"Weighted least squares ({fit.spec.scale} scale)"
    )
    return (
        f"SYNTHETIC DATA. {estimator}, household weights; "
        f"fixed effects: {fes}; CRV1 standard errors clustered by {fit.spec.cluster} in parentheses "
        "(no strata or finite-population correction). * p<0.05, ** p<0.01, *** p<0.001, from "
        "pyfixest's t(G - 1) with all G communities; the country rows of estimates.csv use t(G_c - 1), "
        "or, where their method column says so, CR2 with Bell-McCaffrey df (their std_error is then "
        "the CR2 one) or the wild cluster bootstrap."
    )


def _labels(fit: SpecFit) -> dict[str, str]:
    """Row labels: the catalogue's for derived variables, overridden by the spec's own."""
    derived = {variable.name: variable.label for variable in fit.spec.derived}
    return {"urban": "Urban", **derived, **fit.spec.labels}


def _markdown(frame: pd.DataFrame) -> str:
    """A pipe table: one row per coefficient (estimate and SE in one cell), then FE and stats."""
    heads = [" ".join(str(part) for part in column[1:] if str(part)) for column in frame.columns]
    lines = ["| | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for index, row in frame.iterrows():
        label = str(index[-1] if isinstance(index, tuple) else index).replace("|", "\\|")
        cells = [" ".join(str(v).split()) for v in row.tolist()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


HTML_STYLE = (
    "body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 1em 2em; color: #222; }\n"
    "table.etable { border-collapse: collapse; margin: 0.5em 0 0.5em; font-size: 0.9em; }\n"
    "table.etable th, table.etable td { padding: 0.2em 0.8em; text-align: center; }\n"
    "table.etable th:first-child, table.etable td:first-child { text-align: left; }\n"
    "table.etable thead tr:first-child th { border-top: 2px solid black; }\n"
    "table.etable thead tr:last-child th { border-bottom: 1px solid black; }\n"
    "table.etable tbody.group + tbody.group tr:first-child td { border-top: 1px solid black; }\n"
    "table.etable tbody.group:last-of-type tr:last-child td { border-bottom: 2px solid black; }\n"
    "p.notes { font-size: 0.8em; max-width: 60em; }\n"
)


def _html(frame: pd.DataFrame, anchor: str, notes: str) -> str:
    """The table as HTML: a header row with the dependent variable spanning its models, one with
    the model heads and numbers, one body per row group (coefficients, fixed effects,
    statistics), the estimate and its SE on two lines of one cell."""
    columns = list(frame.columns)
    top = [str(c[0]) if isinstance(c, tuple) else "" for c in columns]
    spans, start = [], 0
    for end in range(1, len(top) + 1):
        if end == len(top) or top[end] != top[start]:
            colspan = f' colspan="{end - start}"' if end - start > 1 else ""
            spans.append(f"<th{colspan}>{html.escape(top[start])}</th>")
            start = end
    lower = [c[1:] if isinstance(c, tuple) else (c,) for c in columns]
    heads = [" ".join(str(part) for part in parts if str(part)) for parts in lower]
    head = (
        "<tr><th></th>" + "".join(spans) + "</tr>"
        "<tr><th></th>" + "".join(f"<th>{html.escape(h)}</th>" for h in heads) + "</tr>"
    )
    groups: dict[str, list[str]] = {}
    for index, row in frame.iterrows():
        group, label = (index[0], index[-1]) if isinstance(index, tuple) else ("", index)
        cells = "".join(
            "<td>" + "<br>".join(html.escape(part.strip()) for part in str(v).split("\n")) + "</td>"
            for v in row.tolist()
        )
        groups.setdefault(str(group), []).append(f"<tr><td>{html.escape(str(label))}</td>{cells}</tr>")
    bodies = "".join(f'<tbody class="group">{"".join(rows)}</tbody>' for rows in groups.values())
    return (
        f'<table class="etable" id="{html.escape(anchor)}"><thead>{head}</thead>{bodies}</table>\n'
        f'<p class="notes">{html.escape(notes)}</p>'
    )


def _tex_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text)


def etable(models: list[Any], **options: Any) -> Any:
    """The `maketables.ETable` that `pyfixest.etable(models, type=..., **options)` renders (the
    same arguments and pyfixest defaults: significance levels 0.001, 0.01, 0.05, head order dh)."""
    import maketables

    return maketables.ETable(
        models=models,
        signif_code=[0.001, 0.01, 0.05],
        coef_fmt=None,
        custom_stats=None,
        custom_model_stats=None,
        keep=[],
        drop=[],
        exact_match=False,
        cat_template=None,
        show_fe=True,
        felabels=None,
        fe_present="x",
        fe_absent="-",
        head_order="dh",
        **options,
    )


def write_regression_tables(fits: list[SpecFit], out_dir: Path) -> dict[str, Path]:
    """Write regression_tables.{md,html,tex} into out_dir; returns the paths by format."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, htm, tex = [], [], []
    for fit in fits:
        models = [fit.pooled, fit.by_country]
        built = etable(models, labels=_labels(fit), model_heads=HEADS, notes=_notes(fit))
        frame = built.df
        depvar = fit.spec.label(fit.spec.model_outcome)
        md.append(
            f"## {fit.spec.title}\n\nSpec `{fit.spec.id}`; dependent variable: {depvar}.\n\n"
            f"{_markdown(frame)}\n\n{_notes(fit)}\n"
        )
        htm.append(
            f'<section id="{fit.spec.id}"><h2>{html.escape(fit.spec.title)}</h2>\n'
            f"<p>Spec <code>{fit.spec.id}</code>; dependent variable: {html.escape(depvar)}.</p>\n"
            f"{_html(frame, 'etable-' + fit.spec.id, _notes(fit))}\n</section>"
        )
        built.notes = _tex_escape(_notes(fit)).replace("<", "$<$")  # the notes are used when rendered
        tex.append(
            f"% {fit.spec.id}: {fit.spec.title}\n"
            f"\\subsection*{{{_tex_escape(fit.spec.title)}}}\n"
            f"{built.make(type='tex')}\n"
        )
    paths = {
        "md": out_dir / "regression_tables.md",
        "html": out_dir / "regression_tables.html",
        "tex": out_dir / "regression_tables.tex",
    }
    paths["md"].write_text("# Regression tables (SYNTHETIC DATA)\n\n" + "\n".join(md), encoding="utf-8")
    paths["html"].write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Regression tables (SYNTHETIC DATA)</title><style>\n{HTML_STYLE}</style></head><body>\n"
        "<h1>Regression tables (SYNTHETIC DATA)</h1>\n" + "\n".join(htm) + "\n</body></html>\n",
        encoding="utf-8",
    )
    paths["tex"].write_text(
        f"% Regression tables (SYNTHETIC DATA). Requires the LaTeX packages {TEX_PACKAGES}.\n\n"
        + "\n".join(tex),
        encoding="utf-8",
    )
    return paths

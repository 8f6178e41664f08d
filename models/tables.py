"""Regression tables (pyfixest etable) in Markdown, HTML and LaTeX, one section per spec.

`etable(type="md")` prints instead of returning, so Markdown is rendered here from
`etable(type="df")`. The HTML of etable carries a random element id; it is replaced by one
derived from the spec so that the files are identical across runs.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

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
        "pyfixest's t(G - 1) with all G communities; the country intervals and tests of estimates.csv "
        "use t(G_c - 1), or the wild cluster bootstrap where its method column says so."
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


def _tex_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text)


def _stable_html(table: str, anchor: str) -> str:
    match = re.search(r'<div id="([^"]+)"', table)
    return table.replace(match.group(1), anchor) if match else table


def write_regression_tables(fits: list[SpecFit], out_dir: Path) -> dict[str, Path]:
    """Write regression_tables.{md,html,tex} into out_dir; returns the paths by format."""
    import pyfixest as pf

    out_dir.mkdir(parents=True, exist_ok=True)
    md, htm, tex = [], [], []
    for fit in fits:
        models = [fit.pooled, fit.by_country]
        options = {"labels": _labels(fit), "model_heads": HEADS, "notes": _notes(fit)}
        frame = pf.etable(models, type="df", **options)
        depvar = fit.spec.label(fit.spec.model_outcome)
        md.append(
            f"## {fit.spec.title}\n\nSpec `{fit.spec.id}`; dependent variable: {depvar}.\n\n"
            f"{_markdown(frame)}\n\n{_notes(fit)}\n"
        )
        table = pf.etable(models, type="html", **options)
        htm.append(
            f'<section id="{fit.spec.id}"><h2>{html.escape(fit.spec.title)}</h2>\n'
            f"{_stable_html(table, 'etable-' + fit.spec.id)}\n</section>"
        )
        tex_notes = _tex_escape(_notes(fit)).replace("<", "$<$")
        tex.append(
            f"% {fit.spec.id}: {fit.spec.title}\n"
            f"\\subsection*{{{_tex_escape(fit.spec.title)}}}\n"
            f"{pf.etable(models, type='tex', **{**options, 'notes': tex_notes})}\n"
        )
    paths = {
        "md": out_dir / "regression_tables.md",
        "html": out_dir / "regression_tables.html",
        "tex": out_dir / "regression_tables.tex",
    }
    paths["md"].write_text("# Regression tables (SYNTHETIC DATA)\n\n" + "\n".join(md), encoding="utf-8")
    paths["html"].write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Regression tables (SYNTHETIC DATA)</title></head><body>\n"
        "<h1>Regression tables (SYNTHETIC DATA)</h1>\n" + "\n".join(htm) + "\n</body></html>\n",
        encoding="utf-8",
    )
    paths["tex"].write_text(
        f"% Regression tables (SYNTHETIC DATA). Requires the LaTeX packages {TEX_PACKAGES}.\n\n"
        + "\n".join(tex),
        encoding="utf-8",
    )
    return paths

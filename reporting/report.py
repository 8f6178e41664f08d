"""One self-contained HTML page: text, tables and Vega-Lite charts that render offline.

The Vega, Vega-Lite and vega-embed JavaScript is inlined from vl-convert's bundle (the same one
altair's `inline=True` uses), so the page loads no script from the network. Specs are embedded
as JSON and drawn as SVG by vega-embed when the page opens.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ippmd.core.env import env_cache
from ippmd.reporting.charts import VL_VERSION


@dataclass
class Section:
    """A block of the report: heading, optional quote, paragraphs, table and chart."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    quote: str | None = None
    quote_intro: str | None = None  # who said it, e.g. "The Cambodia report (OECD/CDRI 2017) found:"
    source: str | None = None
    table_html: str | None = None
    chart: str | None = None
    level: int = 2
    css_class: str = ""


def _cache_dir() -> Path:
    return (env_cache("XDG_CACHE_HOME") or Path.home() / ".cache") / "ippmd"


@cache
def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (exposes window.vegaEmbed). Bundling takes
    about 1.5 s and gives the same text for the same vl-convert and Vega-Lite versions, so it is
    kept in the user's cache folder (a cache that cannot be written is skipped)."""
    import vl_convert

    version = VL_VERSION
    # vl-convert's stub declares no __version__ (the module has one: the distribution's is 1.9.0.post1)
    vl_convert_version = vl_convert.__version__  # type: ignore[attr-defined]
    path = _cache_dir() / f"vega-bundle-{version}-vl-convert-{vl_convert_version}.js"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    # the stub makes `snippet` required; at runtime it defaults to None (the bundle exposing vegaEmbed)
    bundle = vl_convert.javascript_bundle(vl_version=version)  # type: ignore[call-arg]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass
    return bundle


def _script_safe(text: str) -> str:
    """Text that cannot close the <script> element it is placed in."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def chart_id(name: str) -> str:
    return "chart-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1000px; margin: 0 auto; padding: 0 1em 3em;
       color: #222; line-height: 1.45; }
.notice { background: #fdecea; border: 2px solid #c0392b; padding: 0.8em 1em; margin: 1em 0;
          font-weight: bold; }
.method { background: #f4f6f8; border-left: 4px solid #4c78a8; padding: 0.5em 1em; }
blockquote { color: #555; border-left: 3px solid #ccc; margin: 0.5em 0; padding-left: 1em;
             font-style: italic; }
.source { color: #777; font-size: 0.85em; }
.finding-text { font-weight: bold; }
.shows { color: #1a5276; }
.quote-intro { margin-bottom: 0; color: #555; }
table.summary { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
table.summary th, table.summary td { border-bottom: 1px solid #ddd; padding: 0.25em 0.5em;
                                     text-align: right; }
table.summary th:first-child, table.summary td:first-child { text-align: left; }
.chart { margin: 0.5em 0 1.5em; min-height: 60px; overflow-x: auto; }
.skipped { color: #7f6000; background: #fff8e1; padding: 0.5em 1em; }
#contents { font-size: 0.9em; } #contents ol, #contents ul { margin: 0.2em 0; }
.summary-text { font-size: 1.05em; }
"""


def section_ids(sections: list[Section]) -> list[str]:
    """A unique anchor for each section, from its heading ('section-remittance-costs-2')."""
    ids: list[str] = []
    for section in sections:
        base = "section-" + (re.sub(r"[^a-z0-9]+", "-", section.heading.lower()).strip("-") or "part")
        anchor, n = base, 1
        while anchor in ids:
            n += 1
            anchor = f"{base}-{n}"
        ids.append(anchor)
    return ids


def contents_list(sections: list[Section], ids: list[str]) -> str:
    """The contents: every level-2 section, its level-3 sections nested under it."""
    items: list[str] = []
    nested: list[str] = []

    def close() -> None:
        if nested and items:
            items[-1] = items[-1].removesuffix("</li>") + "<ul>" + "".join(nested) + "</ul></li>"
        nested.clear()

    for section, anchor in zip(sections, ids, strict=True):
        link = f'<li><a href="#{anchor}">{html.escape(section.heading)}</a></li>'
        if section.level <= 2:
            close()
            items.append(link)
        else:
            nested.append(link)
    close()
    return '<nav id="contents"><h2>Contents</h2><ol>' + "".join(items) + "</ol></nav>"


def render_report(
    title: str,
    notice: str,
    sections: list[Section],
    charts: dict[str, dict[str, Any]],
) -> str:
    """The page as one string, opening with a contents list; `charts` maps names used by sections
    to Vega-Lite specs."""
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<div class="notice" id="synthetic-notice">{html.escape(notice)}</div>',
    ]
    ids = section_ids(sections)
    body.append(contents_list(sections, ids))
    for section, anchor in zip(sections, ids, strict=True):
        level = min(max(section.level, 2), 4)
        css = f' class="{section.css_class}"' if section.css_class else ""
        body.append(f'<section id="{anchor}"{css}>')
        body.append(f"<h{level}>{html.escape(section.heading)}</h{level}>")
        if section.quote:
            if section.quote_intro:
                body.append(f'<p class="quote-intro">{html.escape(section.quote_intro)}</p>')
            body.append(f"<blockquote>{html.escape(section.quote)}</blockquote>")
        if section.source:
            body.append(f'<p class="source">{html.escape(section.source)}</p>')
        body.extend(f"<p>{paragraph}</p>" for paragraph in section.paragraphs)
        if section.table_html:
            body.append(section.table_html)
        if section.chart:
            body.append(f'<div class="chart" id="{chart_id(section.chart)}"></div>')
        body.append("</section>")
    specs = {chart_id(name): spec for name, spec in charts.items()}
    payload = _script_safe(json.dumps(specs, sort_keys=True, ensure_ascii=False))
    embed = (
        "const charts = " + payload + ";\n"
        "for (const [id, spec] of Object.entries(charts)) {\n"
        "  vegaEmbed('#' + id, spec, {renderer: 'svg', actions: false})\n"
        "    .catch((error) => { document.getElementById(id).textContent = 'Chart failed: ' + error; });\n"
        "}\n"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{CSS}</style>\n"
        f'<script type="text/javascript">\n{_script_safe(vega_bundle())}\n</script>\n'
        "</head>\n<body>\n" + "\n".join(body) + "\n"
        f'<script type="text/javascript">\n{embed}</script>\n'
        "</body>\n</html>\n"
    )


def html_table(header: list[str], rows: list[list[str]], css_class: str = "summary") -> str:
    """A small HTML table; cells are escaped here."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    lines = ["".join(f"<td>{html.escape(str(c))}</td>" for c in row) for row in rows]
    body = "".join(f"<tr>{line}</tr>" for line in lines)
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

"""A tabulation as CSV, Markdown, HTML, Excel or a terminal table; the same bytes for the same query.

CSV keeps codes and full precision (for machines); the other formats show value labels, rounded
numbers, the synthetic-data notice and the method notes (for people).
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import zipfile
from datetime import datetime
from typing import Any, Literal, get_args

from rich.console import Console
from rich.table import Table

from ippmd import SYNTHETIC_NOTICE
from ippmd.explore.tabulate import RESULT_COLUMNS, Tabulation

Format = Literal["csv", "json", "md", "html", "xlsx"]
FORMATS: tuple[Format, ...] = get_args(Format)
FIXED_TIME = datetime(2017, 1, 1)  # xlsx properties and zip entries: no build time in the bytes
METHOD_HEADER = "interval method"
RESULT_HEADER = ("estimate", "std. error", "95% interval", METHOD_HEADER, "n", "PSUs", "df")


def _decimals(tab: Tabulation, std_error: float | None) -> int:
    """Shares to 4 decimals; means to two significant digits of their standard error."""
    if tab.kind != "mean":
        return 4
    if not std_error or not math.isfinite(std_error):
        return 2
    return min(6, max(0, 1 - math.floor(math.log10(std_error))))


def _label(field_schema: dict[str, Any], value: Any) -> str:
    labels = {c["value"]: c["label"] for c in field_schema.get("categories", [])}
    return labels.get(value, "" if value is None else str(value))


def display_rows(tab: Tabulation) -> tuple[list[str], list[list[str]]]:
    """Header and rows for people: labels for coded columns, rounded numbers, the interval in one cell."""
    keys = [c for c in tab.frame.columns if c not in (*RESULT_COLUMNS, "data_origin", "category", "label")]
    header = [
        *keys,
        *(["category"] if tab.kind == "categorical" else []),
        *RESULT_HEADER,
    ]
    rows = []
    for row in tab.frame.iter_rows(named=True):
        d = _decimals(tab, row["std_error"])
        cells = [_label(tab.by_fields.get(k, {}), row[k]) for k in keys]
        if tab.kind == "categorical":
            cells.append(str(row["label"]))
        interval = (
            f"[{row['ci_low']:,.{d}f}, {row['ci_high']:,.{d}f}]"
            if row["ci_low"] is not None
            else "n/a (df < 1)"
        )
        cells += [
            f"{row['estimate']:,.{d}f}",
            f"{row['std_error']:,.{d}f}",
            interval,
            row["interval"] or "",
            f"{row['n']:,}",
            str(row["psu"]),
            str(row["df"]),
        ]
        rows.append(cells)
    return header, rows


def _numeric_cells(header: list[str]) -> set[int]:
    """Positions of the right-aligned cells of a display row: the result cells but the method."""
    first = len(header) - len(RESULT_HEADER)
    return {first + i for i, name in enumerate(RESULT_HEADER) if name != METHOD_HEADER}


def title(tab: Tabulation) -> str:
    by = f" by {', '.join(tab.query.by)}" if tab.query.by else ""
    return f"{tab.query.variable} ({tab.query.table}){by}"


def notice(tab: Tabulation) -> str | None:
    return SYNTHETIC_NOTICE if tab.synthetic else None


def to_csv(tab: Tabulation) -> bytes:
    return tab.frame.write_csv(float_precision=None).encode("utf-8")


def _finite(value: Any) -> Any:
    """JSON has no NaN: an interval that cannot be computed (df < 1) is null, as in the CSV."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def to_json(tab: Tabulation) -> bytes:
    """For programs: the CSV's columns and values as rows, with the package's dataHash, the
    query, the notes and the synthetic notice (the shape the portal's API answers with)."""
    q = tab.query
    document = {
        "dataHash": tab.data_hash,
        "query": {
            "variable": q.variable,
            "table": q.table,
            "by": list(q.by),
            "where": q.where,
            "countries": list(q.countries) if q.countries else None,
            "interval": q.interval,
        },
        "statistic": tab.statistic(),
        "synthetic": tab.synthetic,
        "notice": notice(tab),
        "notes": tab.notes(),
        "columns": tab.frame.columns,
        "rows": [{k: _finite(v) for k, v in row.items()} for row in tab.frame.to_dicts()],
    }
    return (json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode("utf-8")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(tab: Tabulation) -> bytes:
    header, rows = display_rows(tab)
    lines = [f"# {title(tab)}", "", f"{tab.statistic()[0].upper()}{tab.statistic()[1:]}.", ""]
    if notice(tab):
        lines += [f"> **{notice(tab)}**", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    lines += ["", *(f"- {_md_cell(note)}" for note in tab.notes()), ""]
    return "\n".join(lines).encode("utf-8")


PAGE_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;max-width:70rem}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .6rem}
th{background:#f3f5f7;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.notice{background:#fff4d6;border-left:4px solid #d4a72c;padding:.6rem 1rem;font-weight:600}
.notes{color:#444;font-size:.9rem}
"""


def to_html(tab: Tabulation) -> bytes:
    header, rows = display_rows(tab)
    numeric = _numeric_cells(header)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{html.escape(c)}</td>' if i in numeric else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    banner = f'<p class="notice">{html.escape(notice(tab) or "")}</p>' if notice(tab) else ""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in tab.notes())
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title(tab))}</title><style>{PAGE_STYLE}</style></head><body>"
        f"<h1>{html.escape(title(tab))}</h1><p>{html.escape(tab.statistic())}</p>{banner}"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"
        f'<ul class="notes">{notes}</ul></body></html>\n'
    )
    return page.encode("utf-8")


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a workbook with fixed times: openpyxl stamps the zip entries and the `modified`
    property (docProps/core.xml) with the time of saving, whatever the properties say."""
    out = io.BytesIO()
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*", rf"\g<1>{stamp}", content.decode("utf-8")
                )
                content = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, content)
    return out.getvalue()


def to_xlsx(tab: Tabulation) -> bytes:
    from openpyxl import Workbook  # heavy; only this format needs it

    book = Workbook()
    sheet = book.worksheets[0]  # a new workbook's one (active) sheet
    sheet.title = "tabulation"
    sheet.append(tab.frame.columns)
    for row in tab.frame.iter_rows():
        sheet.append(list(row))
    notes = book.create_sheet("notes")
    for line in [title(tab), tab.statistic(), *([notice(tab)] if notice(tab) else []), *tab.notes()]:
        notes.append([line])
    book.properties.created = FIXED_TIME
    book.properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_zip(buffer.getvalue())


def render(tab: Tabulation, fmt: Format) -> bytes:
    """The tabulation in one of FORMATS."""
    writers = {"csv": to_csv, "json": to_json, "md": to_markdown, "html": to_html, "xlsx": to_xlsx}
    return writers[fmt](tab)


def print_table(tab: Tabulation, console: Console) -> None:
    """A rich table for the terminal, with the notice and the notes."""
    header, rows = display_rows(tab)
    table = Table(title=title(tab), caption=tab.statistic(), show_lines=False)
    numeric = _numeric_cells(header)
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i in numeric else "left")
    for row in rows:
        table.add_row(*row)
    if notice(tab):
        console.print(notice(tab), style="yellow", markup=False)
    console.print(table)
    for note in tab.notes():
        console.print(f"  {note}", markup=False, highlight=False)

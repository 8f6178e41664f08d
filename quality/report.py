"""A validation report, for people (terminal, offline HTML) and machines (JSON)."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ippmd.core.errors import Problem
from ippmd.core.io import write_atomic
from rich.console import Console


@dataclass
class Report:
    """Every problem found in one submission or package, with what was checked."""

    target: str
    problems: list[Problem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    country: str | None = None
    layers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, int]:
        return dict(sorted(Counter(p.code for p in self.errors).items()))

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "valid": self.valid,
            "country": self.country,
            "layers": self.layers,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "error_count": len(self.errors),
            "summary": self.summary(),
            "problems": [p.as_record() for p in self.problems],
        }

    def write_json(self, path: Path) -> None:  # whole or not at all: a full disk leaves no 0-byte report
        write_atomic(path, json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")

    def write_html(self, path: Path) -> None:
        write_atomic(path, render_html(self))


def render_terminal(report: Report, console: Console) -> None:
    """A readable summary: verdict, counts by kind, then the problems (at most 200)."""
    from rich.table import Table
    from rich.text import Text

    verdict = ("VALID", "bold green") if report.valid else ("INVALID", "bold red")
    console.print(
        Text.assemble(
            verdict,
            f" {report.target}  ({report.country or 'unknown country'}, {report.seconds:.2f} s, "
            f"checked: {', '.join(report.layers)})",
        )
    )
    if report.rows:
        console.print(Text("rows: " + ", ".join(f"{k} {v:,}" for k, v in report.rows.items())))
    if not report.problems:
        return
    counts = Table(title="Problems by kind", show_lines=False)
    counts.add_column("code")
    counts.add_column("count", justify="right")
    counts.add_column("how to fix")
    hints = {p.code: p.hint or "" for p in report.problems}
    for code, n in Counter(p.code for p in report.problems).most_common():
        counts.add_row(Text(code), str(n), Text(hints[code]))
    console.print(counts)
    detail = Table(title="Problems", show_lines=False)
    for column in ("file", "row", "field", "value", "problem"):
        detail.add_column(column, overflow="fold")
    for p in report.problems[:200]:
        detail.add_row(
            Text(p.file),
            "" if p.row is None else str(p.row),
            Text(p.field or ""),
            Text(p.value or ""),
            Text(f"{p.code}: {p.message}"),
        )
    console.print(detail)
    if len(report.problems) > 200:
        console.print(f"... and {len(report.problems) - 200} more (use --json or --html for all)")


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{font-size:1.4rem}.ok{color:#0a7a2f}.bad{color:#b3261e}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}code{background:#f6f6f6;padding:0 .2rem}
td.n{text-align:right}.hint{color:#555}
"""


def render_html(report: Report) -> str:
    """One self-contained page (inline CSS, no scripts, no external links): works offline."""
    esc = html.escape
    verdict = '<span class="ok">VALID</span>' if report.valid else '<span class="bad">INVALID</span>'
    kinds = "".join(
        f"<tr><td><code>{esc(code)}</code></td><td class=n>{n}</td><td class=hint>"
        f"{esc(next((p.hint or '' for p in report.problems if p.code == code), ''))}</td></tr>"
        for code, n in Counter(p.code for p in report.problems).most_common()
    )
    rows = "".join(
        f"<tr><td>{esc(p.severity)}</td><td><code>{esc(p.code)}</code></td><td>{esc(p.file)}</td>"
        f"<td class=n>{'' if p.row is None else p.row}</td><td>{esc(p.field or '')}</td>"
        f"<td>{esc(p.value or '')}</td><td>{esc(p.message)}</td></tr>"
        for p in report.problems
    )
    sizes = ", ".join(f"{esc(k)} {v:,}" for k, v in report.rows.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ippmd validation: {esc(report.target)}</title>
<style>{CSS}</style></head><body>
<h1>{verdict} {esc(report.target)}</h1>
<p>Country: {esc(report.country or "unknown")}. Checked: {esc(", ".join(report.layers))}.
Rows: {sizes or "none read"}. {len(report.errors)} error(s), {len(report.problems) - len(report.errors)}
warning(s), in {report.seconds:.2f} s.</p>
<h2>Problems by kind</h2><table><tr><th>code</th><th>count</th><th>how to fix</th></tr>{kinds}</table>
<h2>All problems</h2>
<table><tr><th>severity</th><th>code</th><th>file</th><th>row</th><th>field</th><th>value</th><th>problem</th></tr>
{rows}</table>
<p>Rows are lines in the file (the header is line 1). Generated by <code>ippmd validate</code>.</p>
</body></html>
"""

"""A validation report, for people (terminal, offline HTML) and machines (JSON)."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from ippmd.core.errors import Problem
from ippmd.core.io import write_atomic
from ippmd.core.text import printable


@dataclass
class Report:
    """Every problem found in one submission or package, with what was checked."""

    target: str
    problems: list[Problem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    country: str | None = None
    layers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)  # layer -> why it did not run
    notes: list[str] = field(default_factory=list)
    kind: str = "submission"  # or "package" (`ippmd check`)

    def __setattr__(self, name: str, value: object) -> None:
        """The target and country come from paths and files: no control character is kept."""
        if name in ("target", "country") and isinstance(value, str):
            value = printable(value)
        super().__setattr__(name, value)

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
            "kind": self.kind,
            "valid": self.valid,
            "country": self.country,
            "layers": self.layers,
            "skipped": self.skipped,
            "notes": self.notes,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "error_count": len(self.errors),
            "summary": self.summary(),
            "problems": [p.as_record() for p in self.problems],
        }

    def write_json(self, path: Path) -> None:
        write_json([self], path)

    def write_html(self, path: Path) -> None:
        write_html([self], path)


def reports_dict(reports: list[Report]) -> dict[str, object]:
    """One report as its own record; several as {valid, error_count, problems, reports}, where
    `problems` holds every problem of every report, each with its `target`."""
    if len(reports) == 1:
        return reports[0].as_dict()
    return {
        "valid": all(r.valid for r in reports),
        "error_count": sum(len(r.errors) for r in reports),
        "problems": [{"target": r.target, **p.as_record()} for r in reports for p in r.problems],
        "reports": [r.as_dict() for r in reports],
    }


def write_json(reports: list[Report], path: Path) -> None:
    """Whole or not at all: a full disk leaves no 0-byte report."""
    write_atomic(path, json.dumps(reports_dict(reports), indent=2, ensure_ascii=False) + "\n")


def write_html(reports: list[Report], path: Path) -> None:
    write_atomic(path, render_html(reports))


MAX_TERMINAL = 200  # problems shown on the terminal; --json and --html hold all


# What a row and a field are called in a file of each kind (a Stata or SPSS row is the record
# number the user's Stata or SPSS shows: its observation or case number).
UNITS = {".csv": ("line", "column"), ".dta": ("observation", "variable"), ".sav": ("case", "variable")}


def _units(file: str) -> tuple[str, str]:
    return UNITS.get(Path(file).suffix.lower(), ("line", "key"))


def _where(p: Problem) -> str:
    row, field = _units(p.file)
    parts = [] if p.row is None else [f"{row} {p.row}"]
    if p.field:
        parts.append(f"{field} {p.field}")
    return ", ".join(parts)


def _groups(problems: list[Problem]) -> list[list[Problem]]:
    """Problems of one file, column, code, message and hint together (in order of first sight)."""
    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.file, p.field, p.code, p.message, p.hint, p.row is None), []).append(p)
    return list(groups.values())


def _lines(group: list[Problem], width: int, hint_shown: bool = False) -> list[str]:
    import textwrap

    first = group[0]
    if len(group) == 1:
        where = _where(first)
        value = f" = {first.value!r}" if first.value is not None else ""
        head = f"{where}{value}: {first.message}" if where else f"{first.message}{value}"
    else:
        rows = [str(p.row) for p in group[:12]]
        more = f" and {len(group) - 12} more" if len(group) > 12 else ""
        values = sorted({p.value for p in group if p.value is not None})
        shown = (
            f" (values {', '.join(map(repr, values[:6]))}{', ...' if len(values) > 6 else ''})"
            if values
            else ""
        )
        row, field = _units(first.file)
        column = f", {field} {first.field}" if first.field else ""
        head = f"{row}s {', '.join(rows)}{more}{column}: {first.message}{shown}"
    wrap = textwrap.TextWrapper(width=width, initial_indent="  ", subsequent_indent="    ")
    out = wrap.wrap(f"{head} [{first.code}]")
    if first.hint and hint_shown:
        out.append("    fix: as above")
    elif first.hint:
        out += textwrap.wrap(
            first.hint, width=width, initial_indent="    fix: ", subsequent_indent="         "
        )
    if len(group) == 1 and first.context:
        out += textwrap.wrap(
            f"({first.context})", width=width, initial_indent="    ", subsequent_indent="    "
        )
    return out


def render_terminal(report: Report, console: Console) -> None:
    """The verdict, what was checked and skipped, then the problems by file (readable at 80
    columns): each with its line, column, value, rule and how to fix it."""
    from rich.text import Text

    width = max(60, min(console.width, 100)) - 1
    verdict = ("VALID", "bold green") if report.valid else ("INVALID", "bold red")
    what = report.country or ("" if report.kind == "package" else "country unknown")
    counts = f"{len(report.errors)} error(s)" + (
        f", {len(report.problems) - len(report.errors)} warning(s)"
        if len(report.problems) > len(report.errors)
        else ""
    )
    console.print(
        Text.assemble(verdict, f" {report.target}" + (f" ({what})" if what else "")), soft_wrap=True
    )
    info = [f"{counts} in {report.seconds:.2f} s", "checked: " + (", ".join(report.layers) or "nothing")]
    info += [f"skipped: {layer}, because {why}" for layer, why in report.skipped.items()]
    if report.rows:
        info.append("rows: " + ", ".join(f"{k} {v:,}" for k, v in report.rows.items()))
    info += [f"note: {note}" for note in report.notes]
    import textwrap

    for line in info:
        console.print(
            "\n".join(textwrap.wrap(line, width=width, initial_indent="  ", subsequent_indent="    ")),
            markup=False,
            highlight=False,
        )
    shown = 0
    for file in dict.fromkeys(p.file for p in report.problems):
        if shown >= MAX_TERMINAL:
            break
        console.print()
        console.print(Text(file, style="bold"), soft_wrap=True)
        previous = None
        for group in _groups([p for p in report.problems if p.file == file]):
            if shown >= MAX_TERMINAL:
                break
            shown += len(group)
            lines = _lines(group, width, hint_shown=group[0].hint == previous)
            previous = group[0].hint
            console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    if len(report.problems) > shown:
        console.print(f"... and {len(report.problems) - shown} more (use --json or --html for all)")


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{font-size:1.4rem}.ok{color:#0a7a2f}.bad{color:#b3261e}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}code{background:#f6f6f6;padding:0 .2rem}
td.n{text-align:right}.hint{color:#555}.ctx{color:#777;font-size:.9em}
"""


def _html_section(report: Report) -> str:
    esc = html.escape
    verdict = '<span class="ok">VALID</span>' if report.valid else '<span class="bad">INVALID</span>'
    rows = "".join(
        f"<tr><td>{esc(p.severity)}</td><td><code>{esc(p.code)}</code></td><td>{esc(p.file)}</td>"
        f"<td class=n>{'' if p.row is None else p.row}</td><td>{esc(p.field or '')}</td>"
        f"<td>{esc(p.value or '')}</td><td>{esc(p.message)}"
        f"{f'<br><span class=ctx>{esc(p.context)}</span>' if p.context else ''}</td>"
        f"<td class=hint>{esc(p.hint or '')}</td></tr>"
        for p in report.problems
    )
    sizes = ", ".join(f"{esc(k)} {v:,}" for k, v in report.rows.items())
    skipped = "".join(f"<li>{esc(layer)}: {esc(why)}</li>" for layer, why in report.skipped.items())
    notes = "".join(f"<li>{esc(note)}</li>" for note in report.notes)
    country = f"Country: {esc(report.country)}. " if report.country else ""
    table = (
        "<table><tr><th>severity</th><th>code</th><th>file</th><th>line</th><th>column</th><th>value</th>"
        f"<th>problem</th><th>how to fix</th></tr>{rows}</table>"
        if report.problems
        else "<p>No problems.</p>"
    )
    return f"""<section>
<h1>{verdict} {esc(report.target)}</h1>
<p>{country}Checked: {esc(", ".join(report.layers) or "nothing")}.
{f"Rows: {sizes}. " if sizes else ""}{len(report.errors)} error(s),
{len(report.problems) - len(report.errors)} warning(s), in {report.seconds:.2f} s.</p>
{f"<p>Skipped:</p><ul>{skipped}</ul>" if skipped else ""}{f"<ul>{notes}</ul>" if notes else ""}
{table}
</section>
"""


def render_html(reports: Report | list[Report]) -> str:
    """One self-contained page (inline CSS, no scripts, no external links): works offline."""
    esc = html.escape
    reports = [reports] if isinstance(reports, Report) else reports
    command = "ippmd check" if all(r.kind == "package" for r in reports) else "ippmd validate"
    title = reports[0].target if len(reports) == 1 else f"{len(reports)} {reports[0].kind}s"
    body = "".join(_html_section(r) for r in reports)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(command)}: {esc(title)}</title>
<style>{CSS}</style></head><body>
{body}
<p>Lines are lines in the file (the header is line 1); in a Stata or SPSS file, the observation
(case) number. Generated by <code>{esc(command)}</code>.</p>
</body></html>
"""

"""A validation report, for people (terminal, offline HTML) and machines (JSON).

All three group the problems the same way: by file, then field, then rule (one problem code in
one wording, with one hint), each group with its count, its first rows and every row on demand
(the HTML in a <details> element, no script; the JSON in `groups`, beside the flat `problems`
list that stays for compatibility). What is written for people is in the current language
(ippmd.core.i18n): headings, labels, counts (grouped by Babel). Messages and hints come
translated from where problems are made. JSON keys, codes, file and field names are identifiers
and stay as they are; so do line numbers, which people look up in their editor as written.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.text import Text

from ippmd.core.errors import Problem
from ippmd.core.i18n import language, t
from ippmd.core.io import write_atomic
from ippmd.core.text import printable


@dataclass(frozen=True)
class Rule:
    """One defect: the problems of one file and field that break one rule in one wording."""

    problems: tuple[Problem, ...]

    @property
    def first(self) -> Problem:
        return self.problems[0]

    def as_record(self) -> dict[str, object]:
        first = self.first
        return {
            "code": first.code,
            "severity": first.severity,
            "message": first.message,
            "hint": first.hint,
            "count": len(self.problems),
            "rows": [{"row": p.row, "value": p.value, "context": p.context} for p in self.problems],
        }


@dataclass(frozen=True)
class FieldGroup:
    """The rules one field (column, variable or metadata key; None: the file as a whole) breaks."""

    field: str | None
    rules: tuple[Rule, ...]

    @property
    def count(self) -> int:
        return sum(len(rule.problems) for rule in self.rules)

    def as_record(self) -> dict[str, object]:
        return {"field": self.field, "count": self.count, "rules": [r.as_record() for r in self.rules]}


@dataclass(frozen=True)
class FileGroup:
    """The problems of one file, by field and rule."""

    file: str
    fields: tuple[FieldGroup, ...]

    @property
    def count(self) -> int:
        return sum(group.count for group in self.fields)

    @property
    def rules(self) -> list[Rule]:
        return [rule for group in self.fields for rule in group.rules]

    def as_record(self) -> dict[str, object]:
        return {"file": self.file, "count": self.count, "fields": [f.as_record() for f in self.fields]}


def grouped(problems: list[Problem]) -> list[FileGroup]:
    """Problems by file, field and rule (code, message, hint, severity; rows apart from row-less
    problems), each level in the order first seen: the one grouping of terminal, HTML and JSON."""
    tree: dict[str, dict[str | None, dict[tuple[object, ...], list[Problem]]]] = {}
    for p in problems:
        rule = (p.code, p.message, p.hint, p.severity, p.row is None)
        tree.setdefault(p.file, {}).setdefault(p.field, {}).setdefault(rule, []).append(p)
    return [
        FileGroup(
            file,
            tuple(
                FieldGroup(name, tuple(Rule(tuple(members)) for members in rules.values()))
                for name, rules in fields.items()
            ),
        )
        for file, fields in tree.items()
    ]


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
        """JSON-ready: `problems` one record per problem (as before), `groups` the same problems by
        file, field and rule; `language` is the language of messages and hints."""
        return {
            "target": self.target,
            "kind": self.kind,
            "valid": self.valid,
            "country": self.country,
            "language": language(),
            "layers": self.layers,
            "skipped": self.skipped,
            "notes": self.notes,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "error_count": len(self.errors),
            "summary": self.summary(),
            "problems": [p.as_record() for p in self.problems],
            "groups": [g.as_record() for g in grouped(self.problems)],
        }

    def write_json(self, path: Path) -> None:
        write_json([self], path)

    def write_html(self, path: Path) -> None:
        write_html([self], path)


def reports_dict(reports: list[Report]) -> dict[str, object]:
    """One report as its own record; several as {valid, error_count, problems, groups, reports},
    where `problems` and `groups` hold those of every report, each with its `target`."""
    if len(reports) == 1:
        return reports[0].as_dict()
    return {
        "valid": all(r.valid for r in reports),
        "error_count": sum(len(r.errors) for r in reports),
        "language": language(),
        "problems": [{"target": r.target, **p.as_record()} for r in reports for p in r.problems],
        "groups": [{"target": r.target, **g.as_record()} for r in reports for g in grouped(r.problems)],
        "reports": [r.as_dict() for r in reports],
    }


def write_json(reports: list[Report], path: Path) -> None:
    """Whole or not at all: a full disk leaves no 0-byte report."""
    write_atomic(path, json.dumps(reports_dict(reports), indent=2, ensure_ascii=False) + "\n")


def write_html(reports: list[Report], path: Path) -> None:
    write_atomic(path, render_html(reports))


MAX_TERMINAL = 200  # problems shown on the terminal; --json and --html hold all
FIRST_ROWS_TERMINAL = 12  # row numbers a group lists on the terminal
FIRST_ROWS_HTML = 5  # rows a group shows before its <details> (which holds them all)
VALUES_SHOWN = 6  # distinct values a terminal group names


class Units(NamedTuple):
    """What a row and a field are called in a file of one kind, in the current language."""

    row: str
    rows: str
    field: str


def units(file: str) -> Units:
    """A CSV has lines and columns; a Stata row is the observation and an SPSS row the case number
    the user's software shows; metadata.yaml (and any other file) has lines and keys."""
    suffix = Path(file).suffix.lower()
    if suffix == ".csv":
        return Units(t("report.line"), t("report.lines"), t("report.column"))
    if suffix == ".dta":
        return Units(t("report.observation"), t("report.observations"), t("report.variable"))
    if suffix == ".sav":
        return Units(t("report.case"), t("report.cases"), t("report.variable"))
    return Units(t("report.line"), t("report.lines"), t("report.key"))


def layer_name(layer: str) -> str:
    """A layer of checks (an identifier in the JSON) as people read it."""
    engine = re.fullmatch(r"expectations \((\w+)\)", layer)
    if engine:
        return t("report.layer-expectations", engine=engine[1])
    names = {
        "descriptor": t("report.layer-descriptor"),
        "structure": t("report.layer-structure"),
        "identifiers": t("report.layer-identifiers"),
        "metadata": t("report.layer-metadata"),
        "plausibility": t("report.layer-plausibility"),
        "harmonization": t("report.layer-harmonization"),
        "package rules": t("report.layer-package-rules"),
        "admitted": t("cli.layer-admitted"),  # ippmd.admit's last step (domain of the CLI's lines)
    }
    return names.get(layer, layer)


def severity_name(severity: str) -> str:
    return {"error": t("report.error"), "warning": t("report.warning")}.get(severity, severity)


def _counts(report: Report) -> str:
    """The count of errors, and of warnings when there are some: "3 error(s), 1 warning(s)"."""
    warnings = len(report.problems) - len(report.errors)
    counts = t("report.errors", count=len(report.errors))
    return counts + (", " + t("report.warnings", count=warnings) if warnings else "")


def _checked(report: Report) -> str:
    return ", ".join(layer_name(layer) for layer in report.layers) or t("report.nothing")


def _sizes(report: Report) -> str:
    return ", ".join(t("report.table-rows", table=name, count=n) for name, n in report.rows.items())


def _verdict(report: Report) -> str:
    return t("report.valid") if report.valid else t("report.invalid")


def _rows_listed(rule: Rule, first: int) -> str:
    """The first row numbers of a rule broken in many rows: "lines 3, 4, 7 and 10 more"."""
    rows = [p.row for p in rule.problems if p.row is not None]
    listed = ", ".join(str(row) for row in rows[:first])
    more = " " + t("report.and-more", count=len(rows) - first) if len(rows) > first else ""
    return f"{units(rule.first.file).rows} {listed}{more}"


def _where(p: Problem) -> str:
    unit = units(p.file)
    parts = [] if p.row is None else [f"{unit.row} {p.row}"]
    if p.field:
        parts.append(f"{unit.field} {p.field}")
    return ", ".join(parts)


def _head(rule: Rule) -> str:
    """A rule's line on the terminal: where, what and the values."""
    first = rule.first
    if len(rule.problems) == 1 or first.row is None:
        where = _where(first)
        value = f" = {first.value!r}" if first.value is not None else ""
        times = f" (×{len(rule.problems)})" if len(rule.problems) > 1 else ""
        return (f"{where}{value}: {first.message}" if where else f"{first.message}{value}") + times
    values = sorted({p.value for p in rule.problems if p.value is not None})
    named = ", ".join(map(repr, values[:VALUES_SHOWN])) + (", ..." if len(values) > VALUES_SHOWN else "")
    shown = f" ({t('report.values', values=named)})" if values else ""
    column = f", {units(first.file).field} {first.field}" if first.field else ""
    return f"{_rows_listed(rule, FIRST_ROWS_TERMINAL)}{column}: {first.message}{shown}"


def _lines(rule: Rule, width: int, hint_shown: bool = False) -> list[str]:
    first = rule.first
    # Codes, file and column names are not split at their hyphens ([constraint-error] stays whole).
    wrap = textwrap.TextWrapper(
        width=width, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
    )
    out = wrap.wrap(f"{_head(rule)} [{first.code}]")
    fix = f"    {t('report.fix')} "
    if first.hint and hint_shown:
        out.append(fix + t("report.as-above"))
    elif first.hint:
        out += textwrap.wrap(first.hint, width=width, initial_indent=fix, subsequent_indent=" " * len(fix))
    if len(rule.problems) == 1 and first.context:
        out += textwrap.wrap(
            f"({first.context})", width=width, initial_indent="    ", subsequent_indent="    "
        )
    return out


def _summary_lines(report: Report) -> list[str]:
    """What was checked and skipped, the sizes and notes: the lines under the verdict."""
    info = [
        t("report.took", counts=_counts(report), seconds=report.seconds),
        t("report.checked", layers=_checked(report)),
    ]
    info += [t("report.skipped", layer=layer_name(layer), why=why) for layer, why in report.skipped.items()]
    if report.rows:
        info.append(t("report.rows", sizes=_sizes(report)))
    info += [t("report.note", note=note) for note in report.notes]
    return info


def render_terminal(report: Report, console: Console) -> None:
    """The verdict, what was checked and skipped, then the problems by file, field and rule
    (readable at 80 columns): each with its lines, column, values, rule and how to fix it."""
    width = max(60, min(console.width, 100)) - 1
    style = "bold green" if report.valid else "bold red"
    what = report.country or ("" if report.kind == "package" else t("report.country-unknown"))
    console.print(
        Text.assemble((_verdict(report), style), f" {report.target}" + (f" ({what})" if what else "")),
        soft_wrap=True,
    )
    for line in _summary_lines(report):
        console.print(
            "\n".join(textwrap.wrap(line, width=width, initial_indent="  ", subsequent_indent="    ")),
            markup=False,
            highlight=False,
        )
    shown = 0
    for group in grouped(report.problems):
        if shown >= MAX_TERMINAL:
            break
        console.print()
        console.print(Text(group.file, style="bold"), soft_wrap=True)
        previous = None
        for rule in group.rules:
            if shown >= MAX_TERMINAL:
                break
            shown += len(rule.problems)
            lines = _lines(rule, width, hint_shown=rule.first.hint == previous)
            previous = rule.first.hint
            console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    if len(report.problems) > shown:
        console.print(t("report.more-problems", count=len(report.problems) - shown))


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem}h3{font-size:1rem;margin:1rem 0 .3rem}
.ok{color:#0a7a2f}.bad{color:#b3261e}small{color:#666;font-weight:normal}
.rule{border-left:4px solid #b3261e;padding:.1rem .8rem;margin:.6rem 0}.rule.warning{border-color:#c98a00}
.rule p{margin:.3rem 0}.sev{font-weight:bold}summary{cursor:pointer;color:#244f8f}
table{border-collapse:collapse;margin:.4rem 0}th,td{border:1px solid #ddd;padding:.2rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}code{background:#f6f6f6;padding:0 .2rem}
td.n{text-align:right}.hint{color:#444}
"""


def _html_rows(rule: Rule) -> str:
    """A table of a rule's rows (its line, value and detail columns, those that hold something)."""
    esc = html.escape
    columns = [
        (units(rule.first.file).row, lambda p: "" if p.row is None else str(p.row), " class=n"),
        (t("report.value"), lambda p: esc(p.value or ""), ""),
        (t("report.detail"), lambda p: esc(p.context or ""), ""),
    ]
    kept = [c for c in columns if any(c[1](p) for p in rule.problems)]
    if not kept:
        return ""
    head = "".join(f"<th>{esc(name)}</th>" for name, _, _ in kept)
    body = "".join(
        "<tr>" + "".join(f"<td{css}>{cell(p)}</td>" for _, cell, css in kept) + "</tr>" for p in rule.problems
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _html_rule(rule: Rule) -> str:
    """One rule: severity, message, code and count, its hint once, its first rows, and every row
    in a <details> when there are more than the first."""
    esc = html.escape
    first, count = rule.first, len(rule.problems)
    table = _html_rows(rule)
    if count > FIRST_ROWS_HTML and table:
        listed = esc(_rows_listed(rule, FIRST_ROWS_HTML)) if first.row is not None else ""
        shown = esc(t("report.show-all", count=count))
        table = f"<details><summary>{listed} · {shown}</summary>{table}</details>"
    hint = f"<p class=hint>{esc(t('report.how-to-fix'))} {esc(first.hint)}</p>" if first.hint else ""
    severity = f"<span class=sev>{esc(severity_name(first.severity))}</span>"
    return (
        f'<div class="rule {esc(first.severity)}"><p>{severity} {esc(first.message)} '
        f"<code>{esc(first.code)}</code> "
        f"<small>{esc(t('report.problem-count', count=count))}</small></p>{hint}{table}</div>"
    )


def _html_file(group: FileGroup) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(group.file)} <small>{esc(t('report.problem-count', count=group.count))}</small></h2>"]
    for fields in group.fields:
        name = (
            f"{esc(units(group.file).field)} <code>{esc(fields.field)}</code>"
            if fields.field
            else esc(t("report.whole-file"))
        )
        parts.append(f"<h3>{name} <small>{esc(t('report.problem-count', count=fields.count))}</small></h3>")
        parts += [_html_rule(rule) for rule in fields.rules]
    return "\n".join(parts)


def _html_section(report: Report) -> str:
    esc = html.escape
    css = "ok" if report.valid else "bad"
    verdict = f'<span class="{css}">{esc(_verdict(report))}</span>'
    facts = [t("report.html-country", country=report.country)] if report.country else []
    facts.append(t("report.html-checked", layers=_checked(report)))
    if report.rows:
        facts.append(t("report.html-rows", sizes=_sizes(report)))
    warnings = len(report.problems) - len(report.errors)
    counts = t("report.errors", count=len(report.errors)) + ", " + t("report.warnings", count=warnings)
    facts.append(t("report.took", counts=counts, seconds=report.seconds) + ".")
    skipped = "".join(
        f"<li>{esc(layer_name(layer))}: {esc(why)}</li>" for layer, why in report.skipped.items()
    )
    notes = "".join(f"<li>{esc(note)}</li>" for note in report.notes)
    lists = (f"<p>{esc(t('report.html-skipped'))}</p><ul>{skipped}</ul>" if skipped else "") + (
        f"<ul>{notes}</ul>" if notes else ""
    )
    problems = "\n".join(_html_file(g) for g in grouped(report.problems))
    return f"""<section>
<h1>{verdict} {esc(report.target)}</h1>
<p>{esc(" ".join(facts))}</p>
{lists}
{problems or f"<p>{esc(t('report.no-problems'))}</p>"}
</section>
"""


def render_html(reports: Report | list[Report]) -> str:
    """One self-contained page (inline CSS, no scripts, no external links): works offline; the
    rows of a rule broken many times open on demand (<details>)."""
    esc = html.escape
    reports = [reports] if isinstance(reports, Report) else reports
    packages = all(r.kind == "package" for r in reports)
    command = "ippmd check" if packages else "ippmd validate"
    if len(reports) == 1:
        title = reports[0].target
    elif packages:
        title = t("report.title-packages", count=len(reports))
    else:
        title = t("report.title-submissions", count=len(reports))
    body = "".join(_html_section(r) for r in reports)
    return f"""<!DOCTYPE html>
<html lang="{language()}"><head><meta charset="utf-8"><title>{esc(command)}: {esc(title)}</title>
<style>{CSS}</style></head><body>
{body}
<p>{esc(t("report.html-lines-note"))} {esc(t("report.generated-by", command=command))}</p>
</body></html>
"""

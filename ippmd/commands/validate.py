"""`ippmd validate`: every problem of country submissions, each with its fix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from ippmd.commands.options import HtmlReport, JsonReport, chosen
from ippmd.commands.output import terminal, verdict
from ippmd.core.errors import UsageError
from ippmd.core.io import refuse_output_over
from ippmd.core.text import printable

if TYPE_CHECKING:
    from ippmd.quality.validate import Engine


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Submission folder(s) or .zip file(s).")],
    json_file: JsonReport = None,
    html_file: HtmlReport = None,
    engine: Annotated[str, typer.Option(help="Expectation engine: polars (fast) or gx.")] = "polars",
) -> None:
    """Check country submissions: exit 0 all valid, 1 any invalid, 2 unusable arguments."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(printable(f"{', '.join(map(str, missing))} does not exist"))
    expectations = _engine(engine)
    for path in paths:
        if path.is_file() and path.suffix.lower() != ".zip":
            raise UsageError(
                f"{path} is a file, not a submission: give the submission folder that holds "
                "metadata.yaml and the four tables (or a .zip of it)"
            )
    from ippmd.quality.report import render_terminal, write_html, write_json
    from ippmd.quality.validate import validate_submission

    for option, file in (("--json", json_file), ("--html", html_file)):
        refuse_output_over(file, list(paths), option)
    reports = [validate_submission(path, engine=expectations) for path in paths]
    if json_file:  # files first: they hold every problem of every submission
        write_json(reports, json_file)
    if html_file:
        write_html(reports, html_file)
    for report in reports:
        render_terminal(report, terminal())
    verdict(all(r.valid for r in reports))


def _engine(value: str) -> Engine:
    """The expectation engine of --engine."""
    from ippmd.quality.validate import Engine

    known: Engine | None = chosen(value.strip().lower(), get_args(Engine))
    if known is None:
        raise UsageError(f"--engine must be {' or '.join(get_args(Engine))}")
    return known

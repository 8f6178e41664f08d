"""`ippmd validate`: every problem of country submissions, each with its fix."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from ippmd.commands.options import CountryLang, HtmlReport, JsonReport, chosen
from ippmd.commands.output import terminal, verdict
from ippmd.core.errors import UsageError
from ippmd.core.i18n import choose_language, t
from ippmd.core.io import refuse_output_over
from ippmd.core.text import printable

if TYPE_CHECKING:
    from ippmd.quality.validate import Engine


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Submission folder(s) or .zip file(s).")],
    json_file: JsonReport = None,
    html_file: HtmlReport = None,
    engine: Annotated[str, typer.Option(help="Expectation engine: polars (fast) or gx.")] = "polars",
    lang: CountryLang = None,
) -> None:
    """Check country submissions: exit 0 all valid, 1 any invalid, 2 unusable arguments."""
    choose_language(lang, submissions_country(paths))
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(printable(t("commands.does-not-exist", path=", ".join(map(str, missing)))))
    expectations = _engine(engine)
    for path in paths:
        if path.is_file() and path.suffix.lower() != ".zip":
            raise UsageError(printable(t("commands.not-a-submission", path=str(path))))
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
        raise UsageError(t("commands.engine-choices", choices=", ".join(get_args(Engine))))
    return known


# A top-level `country_iso3: XXX` line of metadata.yaml (quoted or not, a comment after it).
COUNTRY_LINE = re.compile(rb"""^country_iso3:[ \t]*["']?([A-Za-z]{3})["']?[ \t]*(?:#[^\n]*)?\r?$""", re.M)
PEEK_BYTES = 64 * 1024  # metadata.yaml's first bytes: country_iso3 is near its top
# What a damaged zip or file may raise while it is peeked at: then no country (validation says why).
PEEK_FAILURES = (
    OSError, ValueError, RuntimeError, EOFError, NotImplementedError, zipfile.BadZipFile, zlib.error,
)  # fmt: skip


def submission_country(path: Path) -> str | None:
    """The country of a submission (folder or .zip), read only to choose the language of the report:
    its metadata.yaml's `country_iso3` line, None when the file is missing, unreadable, or names no
    one country. Nothing else is read, so a broken file is reported by validation as it would be."""
    try:
        head = _metadata_head(path)
    except PEEK_FAILURES:
        return None
    lines = COUNTRY_LINE.findall(head.removeprefix(b"\xef\xbb\xbf"))  # no byte-order mark
    found = {code.decode("ascii").upper() for code in lines}
    return found.pop() if len(found) == 1 else None


def submissions_country(paths: list[Path]) -> str | None:
    """The one country of all the submissions given (None when they differ or none is known)."""
    countries = {submission_country(path) for path in paths}
    return countries.pop() if len(countries) == 1 else None


def _metadata_head(path: Path) -> bytes:
    """The first bytes of metadata.yaml, at the top of a folder or zip or in its one top folder
    (where validation looks); only a regular file is read (never a link, FIFO or device)."""
    if path.is_symlink():
        return b""
    if path.is_dir():
        children = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(("__MACOSX", "."))]
        places = [path, *children] if len(children) == 1 else [path]
        files = [p / "metadata.yaml" for p in places if (p / "metadata.yaml").is_file()]
        if not files or files[0].is_symlink():
            return b""
        with files[0].open("rb") as handle:
            return handle.read(PEEK_BYTES)
    if path.is_file() and path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [
                n for n in archive.namelist() if n.split("/")[-1] == "metadata.yaml" and n.count("/") <= 1
            ]
            if not names:
                return b""
            with archive.open(min(names, key=lambda n: n.count("/"))) as handle:
                return handle.read(PEEK_BYTES)
    return b""

"""`ippmd site`: the offline, searchable codebook site of a built package."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import Lang, Package, home_path, package_folder, writable_folder
from ippmd.commands.output import say
from ippmd.core.i18n import choose_language, t
from ippmd.core.io import package_files, refuse_output_over


def site(
    out: Annotated[
        Path | None, typer.Option(help="Folder to write (default: reports/site in the project home).")
    ] = None,
    package: Package = None,
    lang: Lang = None,
) -> None:
    """Write the offline, searchable codebook site (HTML, no network): variables, availability, indicators.

    The site holds every page in English, French and Spanish (a switch on each); --lang (else
    $IPPMD_LANG, else English) is the language of this command's own lines."""
    choose_language(lang)
    from ippmd.explore.site import write_site

    package = package_folder(package)
    out = out or home_path("reports", "site")
    refuse_output_over(out, package_files(package), "--out")
    writable_folder(out)
    started = time.perf_counter()
    summary = write_site(package, out)
    say(
        t(
            "cli.site-wrote",
            pages=summary.pages,
            variables=summary.variables,
            indicators=summary.indicators,
            path=str(out / "index.html"),
            seconds=time.perf_counter() - started,
        )
    )

"""`ippmd site`: the offline, searchable codebook site of a built package."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import Package, home_path, package_folder, writable_folder
from ippmd.commands.output import say
from ippmd.core.io import package_files, refuse_output_over


def site(
    out: Annotated[
        Path | None, typer.Option(help="Folder to write (default: reports/site in the project home).")
    ] = None,
    package: Package = None,
) -> None:
    """Write the offline, searchable codebook site (HTML, no network): variables, availability, indicators."""
    from ippmd.explore.site import write_site

    package = package_folder(package)
    out = out or home_path("reports", "site")
    refuse_output_over(out, package_files(package), "--out")
    writable_folder(out)
    started = time.perf_counter()
    summary = write_site(package, out)
    say(
        f"wrote {summary.pages} pages ({summary.variables} variables, {summary.indicators} country "
        f"indicators) to {out / 'index.html'} in {time.perf_counter() - started:.1f} s"
    )

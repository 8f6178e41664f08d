"""`ippmd codebook`: the codebook of a built package, as Markdown or DDI Codebook 2.5 XML.

The Markdown is written in one language (--lang, else $IPPMD_LANG, else English: the codebook is
for every reader, so no country's default applies); the DDI holds all three in one file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import Lang, chosen, home_path, package_folder
from ippmd.commands.output import say
from ippmd.core.errors import UsageError
from ippmd.core.io import package_files, refuse_output_over

FORMATS = ("markdown", "md", "ddi")  # md: markdown's short name


def codebook(
    package: Annotated[
        Path | None, typer.Option(help="Folder of the built package to document (default: home).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="File to write (default: codebook.md, or codebook.xml for ddi, in the project home)."
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="markdown (default) or ddi (DDI Codebook 2.5 XML).")
    ] = "markdown",
    lang: Lang = None,
) -> None:
    """Write the codebook generated from the schemas and the built package (Markdown or DDI 2.5)."""
    from ippmd.core.i18n import choose_language, t
    from ippmd.package.codebook import write_codebook

    choose_language(lang)

    fmt = fmt.strip().lower()
    if chosen(fmt, FORMATS) is None:
        raise UsageError(t("cli.format-choice", format=fmt))
    # --package is the package folder, as in every other command (its datapackage.json is accepted too).
    if package is not None and package.name == "datapackage.json":
        package = package.parent
    folder = package_folder(package)
    out = out or home_path("codebook.xml" if fmt == "ddi" else "codebook.md")
    refuse_output_over(out, package_files(folder), "--out")
    if fmt == "ddi":
        from ippmd.package.ddi import write_ddi
        from ippmd.package.read import read_package  # polars and pyarrow: not at CLI start

        write_ddi(dict(read_package(folder).descriptor), folder, out)
    else:
        write_codebook(folder / "datapackage.json", out)
    say(t("cli.wrote", path=str(out)))

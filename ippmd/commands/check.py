"""`ippmd check`: the quality layers, run on a built package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ippmd.commands.options import HtmlReport, JsonReport, Lang, Package, package_folder
from ippmd.commands.output import terminal, verdict
from ippmd.core.i18n import choose_language
from ippmd.core.io import package_files, refuse_output_over

if TYPE_CHECKING:
    from ippmd.quality.report import Report


def check(
    package: Package = None, json_file: JsonReport = None, html_file: HtmlReport = None, lang: Lang = None
) -> None:
    """Run the quality layers on the built package (datapackage.json + data/)."""
    choose_language(lang)  # a package has no one country: --lang, else $IPPMD_LANG, else English
    package = package_folder(package, verify=False)  # recovers a killed writer's publish first
    for option, file in (("--json", json_file), ("--html", html_file)):
        refuse_output_over(file, package_files(package), option)
    from ippmd.quality.validate import check_package

    report = check_package(package)
    show_report(report, json_file, html_file)
    verdict(report.valid)


def show_report(report: Report, json_file: Path | None = None, html_file: Path | None = None) -> None:
    """A quality report in its files (first: they hold every problem), then on the terminal."""
    from ippmd.quality.report import render_terminal

    if json_file:
        report.write_json(json_file)
    if html_file:
        report.write_html(html_file)
    render_terminal(report, terminal())

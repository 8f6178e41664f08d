"""`ippmd check`: the quality layers, run on a built package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ippmd.commands.options import HtmlReport, JsonReport, Package, home_path, package_folder
from ippmd.commands.output import say, terminal, verdict
from ippmd.core.errors import UsageError
from ippmd.core.io import package_files, refuse_output_over
from ippmd.core.publish import has_descriptor, staging_leftovers

if TYPE_CHECKING:
    from ippmd.quality.report import Report


def check(package: Package = None, json_file: JsonReport = None, html_file: HtmlReport = None) -> None:
    """Run the quality layers on the built package (datapackage.json + data/)."""
    refuse_an_interrupted_publish(package or home_path())
    package = package_folder(package, verify=False)
    for option, file in (("--json", json_file), ("--html", html_file)):
        refuse_output_over(file, package_files(package), option)
    from ippmd.quality.validate import check_package

    report = check_package(package)
    show_report(report, json_file, html_file)
    verdict(report.valid)


def refuse_an_interrupted_publish(package: Path) -> None:
    """`check` only reads, so it never finishes nor undoes a writer's leftover (build and admit do,
    under the package's lock). Without its descriptor the package is mid-publish: exit 2, saying
    how to go on; with it, the package is checked as it is, after a warning."""
    leftovers = staging_leftovers(package)
    if not leftovers:
        return
    if not has_descriptor(package):
        raise UsageError(
            f"a publish into {package} was interrupted ({leftovers[0].name} is left, datapackage.json "
            f"is missing or not a file): the next `ippmd build --out {package}` or "
            f"`ippmd admit ... --out {package}` finishes or rolls it back"
        )
    say(
        f"warning: {package} holds {leftovers[0].name}, the staging folder of a writer that is running "
        "or was interrupted; checking the package as it is",
        fold=False,
    )


def show_report(report: Report, json_file: Path | None = None, html_file: Path | None = None) -> None:
    """A quality report in its files (first: they hold every problem), then on the terminal."""
    from ippmd.quality.report import render_terminal

    if json_file:
        report.write_json(json_file)
    if html_file:
        report.write_html(html_file)
    render_terminal(report, terminal())

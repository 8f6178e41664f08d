"""`ippmd admit`: a validated submission added to (or replacing its country in) a package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ippmd.commands.check import show_report
from ippmd.commands.options import CountryLang, SuiteEngine, home_path, suite_engine
from ippmd.commands.output import console, plain, say, verdict
from ippmd.commands.validate import submission_country
from ippmd.core.errors import UsageError
from ippmd.core.i18n import choose_language, t
from ippmd.core.io import refuse_inside_a_package
from ippmd.core.text import printable


def admit(
    path: Annotated[Path, typer.Argument(help="Submission folder or .zip.")],
    out: Annotated[Path | None, typer.Option(help="Folder of the package to update (default: home).")] = None,
    engine: SuiteEngine = "gx",
    lang: CountryLang = None,
) -> None:
    """Validate a submission and add (or replace) its country in the package; all or nothing."""
    choose_language(lang, submission_country(path))
    suites = suite_engine(engine)
    if not path.exists():
        raise UsageError(printable(t("commands.does-not-exist", path=str(path))))
    from ippmd.admit import admit as admit_submission

    out = out or home_path()
    refuse_inside_a_package(out, "--out")  # a package inside another's data/ or admitted/
    with console.status(plain(t("commands.admitting"))) as status:
        report = admit_submission(path, out, progress=lambda step: status.update(plain(step)), engine=suites)
    show_report(report)
    if not report.valid:
        console.print(
            Text.assemble((t("commands.not-admitted"), "bold red"), " " + t("commands.package-unchanged"))
        )
        verdict(False)
    say(t("commands.admitted", country=str(report.country), descriptor=str(out / "datapackage.json")))

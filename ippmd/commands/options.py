"""The options several commands share, each declared once, and how their values are read.

A value a command cannot use is a `UsageError` (exit 2), raised before anything is written and
reported by `ippmd.cli`. Flags (bool options) are named by their parameter, as typer does for
`--quiet/--no-quiet`: declare them as `quiet: Quiet = False`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar, get_args

import typer

from ippmd.core.errors import UsageError
from ippmd.core.home import HOME_ENV, project_home
from ippmd.core.i18n import t
from ippmd.core.iso3 import iso3_options

if TYPE_CHECKING:
    from ippmd.quality.validate import Engine

Home = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Project home: the built package, reports/ and countries/<ISO3>/raw/ "
        f"(default ${HOME_ENV}, else the current folder).",
    ),
]
Package = Annotated[
    Path | None, typer.Option("--package", help="Folder of the built package (default: home).")
]
Countries = Annotated[
    str | None, typer.Option("--countries", help="Comma-separated ISO3 codes (default: all).")
]
Quiet = Annotated[bool, typer.Option(help="No progress display.")]
# The language of what a command writes for people (messages, reports, guides, labels); data
# files keep machine formats. Read by ippmd.core.i18n.choose_language.
Lang = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of messages, reports and labels: en, fr or es (default $IPPMD_LANG, else en).",
    ),
]
# The same for the commands about one country's submission (template, validate, admit), whose
# default is that country's language.
CountryLang = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of messages, reports and labels: en, fr or es (default $IPPMD_LANG, else the "
        "country's language, else en).",
    ),
]
# --force of the commands that write a new folder (synth, template) and of those that write
# their own files into one (figures, benchmark); build's says what it keeps.
ForceFilled = Annotated[bool, typer.Option(help="Write into a folder that already holds files.")]
ForceBeside = Annotated[bool, typer.Option(help="Write into a folder that holds other files.")]
SuiteEngine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Engine of the package's expectation suites: gx (Great Expectations, the reference) or "
        "polars (the same suites translated, held to GX's verdicts by the tests; no 4 s GX start).",
    ),
]
# Report files of `validate` and `check`.
JsonReport = Annotated[Path | None, typer.Option("--json", help="Write one record per problem (JSON).")]
HtmlReport = Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")]

Choice = TypeVar("Choice", bound=str)


def chosen(value: str, choices: tuple[Choice, ...]) -> Choice | None:
    """`value` as one of `choices` (a stage's Literal, through typing.get_args), else None."""
    return next((choice for choice in choices if choice == value), None)


def split(value: str | None) -> list[str] | None:
    """A comma-separated option as its items (None when not given)."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def country_codes_of(value: str | None, option: str = "--countries") -> list[str] | None:
    """The ISO3 codes of --countries (three ASCII capitals each: `ippmd.core.iso3`), every one a
    country the project knows; None (all) when not given."""
    if not value:
        return None
    from ippmd.core.metadata import country_codes

    codes = iso3_options(value, option)
    unknown = [c for c in codes if c not in country_codes()]
    if unknown:
        raise UsageError(
            t("cli.unknown-countries", codes=", ".join(unknown), known=", ".join(country_codes()))
        )
    return codes


def suite_engine(value: str) -> Engine:
    """The engine of --engine for the package's expectation suites (build, admit)."""
    from ippmd.quality.validate import Engine

    engine = value.strip().lower()
    known: Engine | None = chosen(engine, get_args(Engine))
    if known is None:
        raise UsageError(t("cli.engine-choice", engine=repr(engine)))
    return known


def home_path(*parts: str) -> Path:
    """A place in the project home, for defaults of --out and --package."""
    return project_home().joinpath(*parts)


def package_folder(package: Path | None, verify: bool = True) -> Path:
    """The package folder given, else the home; exit 2 when it holds no datapackage.json.

    Recovery first: what a killed `build` or `admit` left in it is finished or undone before
    anything is judged (`ippmd.core.publish.recover_before_reading`: a reader writes only there,
    and only to complete the package's own publish). `verify`: check its Parquet files against
    the descriptor's hashes first (exit 1 naming a corrupt or edited file), for the commands
    that read them."""
    package = package or home_path()
    from ippmd.core.publish import recover_before_reading

    recover_before_reading(package)
    from ippmd.package.read import read_package  # polars and pyarrow: not at CLI start

    built = read_package(package)  # the one reader: not built yet (2), or a named problem (1)
    if verify:
        built.verify()
    return package


def writable_folder(path: Path) -> None:
    """Exit 2 when an output folder's path is taken by a file."""
    if path.exists() and not path.is_dir():
        raise UsageError(t("cli.not-a-folder", path=str(path)))

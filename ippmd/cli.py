"""The `ippmd` command line (app floor): exit 0 ok, 1 bad data, 2 usage or environment.

One module per command in `ippmd.commands`; this one builds the app, registers the commands in
the order `--help` lists them, and reports what they raise, once and in one form (`report`).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from ippmd.commands import (
    admit,
    benchmark,
    build,
    check,
    codebook,
    diff,
    extract,
    figures,
    serve,
    site,
    sources,
    synth,
    tabulate,
    template,
    token,
    validate,
)
from ippmd.commands.options import Home
from ippmd.commands.output import Unanswered, Unusable, console, say
from ippmd.core.env import check_environment, env_flag
from ippmd.core.errors import InputError, UsageError
from ippmd.core.home import HOME_ENV
from ippmd.core.i18n import t
from ippmd.core.text import shown

COMMANDS = (
    synth.synth,
    build.build,
    codebook.codebook,
    sources.sources,
    figures.figures,
    benchmark.benchmark,
    extract.extract,
    diff.diff,
    tabulate.tabulate,
    site.site,
    validate.validate,
    check.check,
    template.template,
    admit.admit,
    token.token,
    serve.serve,
)


def _no_type_for_flags() -> None:
    """`--help`, `--quiet` and the other flags take no value: show no `<bool>` type for them.

    The one use of a private typer method, `TyperOption.display_type_rich` (typer 0.29), kept
    here: if an upgrade renames it, importing the CLI fails (AttributeError); if it changes what
    it does, tests/test_validation_report.py's `test_help_shows_no_type_for_flags` fails."""
    from typer.core import TyperOption

    shown_type = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        return None if getattr(self, "is_flag", False) else shown_type(self, ctx)  # type: ignore[arg-type]

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_type_for_flags()


def report(exc: UsageError | InputError | Unanswered | OSError) -> int:
    """Say what went wrong, once, in one form; return the exit code (1 bad data, 2 usage or
    environment). Messages are never folded (paths stay copyable) nor read as markup."""
    if isinstance(exc, UsageError):  # one line per message (extract names each unknown it was given)
        for message in exc.args or (str(exc),):
            _error(str(message))
        return 2
    if isinstance(exc, Unanswered):
        _error(str(exc))
        return 1
    if isinstance(exc, InputError):  # every problem, one a line, then how to go on (exc.add_note)
        _error(t("common.problems-in-input", count=len(exc.problems)))
        say(str(exc), fold=False)
        for note in getattr(exc, "__notes__", ()):
            say(note, fold=False)
        return 2 if isinstance(exc, Unusable) else 1
    # an OSError: the environment (read-only, disk full, wrong path), not a bug
    _error(f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""))
    return 2


def _error(message: str) -> None:
    """`error: message` on one line, the label red on a terminal; control characters written out."""
    one_line = shown(message).replace("\t", " ").replace("\n", " ")
    console.print(
        Text.assemble((t("cli.error-label"), "bold red"), " ", one_line), highlight=False, soft_wrap=True
    )


class ReportingGroup(TyperGroup):
    """The app's command group: what its commands and callbacks raise is reported here, in
    `main()` as in tests that invoke `app` through typer's CliRunner (which bypasses `main()`)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            check_environment()  # garbage in any variable the package reads: exit 2, naming it
            return super().main(*args, **kwargs)
        except (UsageError, InputError, Unanswered, OSError) as exc:
            sys.exit(report(exc))


app = typer.Typer(
    cls=ReportingGroup,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    help="Harmonized IPPMD migration-and-development survey package.",
)


def _print_version(value: bool) -> None:
    if value:
        from ippmd import __version__
        from ippmd.package.write import data_version

        print(f"ippmd {__version__} (data package {data_version()})")
        raise typer.Exit(0)


@app.callback()
def _home(
    home: Home = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the code and data versions, then exit.",
        ),
    ] = False,
) -> None:
    """Harmonized IPPMD migration-and-development survey package."""
    if home is not None:
        if not home.is_dir():
            raise UsageError(f"--home {home} is not a folder")
        os.environ[HOME_ENV] = str(home.resolve())


for command in COMMANDS:
    app.command()(command)


def _debugging() -> bool:
    """IPPMD_DEBUG set to a yes (checked by `check_environment` when the app started)."""
    try:
        return env_flag("IPPMD_DEBUG")
    except UsageError:
        return False


def main() -> None:
    """The console entry point: a last safety net, so no user ever sees a bare traceback."""
    try:
        app()  # exits itself (SystemExit): on success, on usage errors, and through `report`
    except Exception as exc:
        if _debugging():
            raise
        say(f"internal error: {exc.__class__.__name__}: {exc}")
        say("This is a bug in ippmd; rerun with IPPMD_DEBUG=1 for the traceback and report it.")
        sys.exit(1)


if __name__ == "__main__":
    main()

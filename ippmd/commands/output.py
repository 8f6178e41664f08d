"""One console for every command, and the outcomes a command reports that are not plain errors.

Messages go to stderr (`console`, `say`), so that standard output carries only what a command
answers (`terminal()`: a tabulation, a quality report, a listing, a diff). The console never
hands the terminal a control character: a country code or path given as `KH\\x1b[2JM` would
clear the screen; it is written out (core.text.shown). Nor is any text read as rich markup: a
path, name or cell holding `[/b]` or `[link=...]` is printed as typed (a `[/b]` with no opening
tag made rich raise, so a command that had done its work reported "a bug in ippmd"). Styles are
given as `style=` or `rich.text.Text`, never as markup in a string.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ippmd.core.errors import InputError
from ippmd.core.i18n import t
from ippmd.core.text import shown


class SafeConsole(Console):
    """A console that writes out the control characters of what it prints and reads no markup in
    it, a table's cells and titles included (see the module)."""

    def __init__(self, **options: Any) -> None:  # rich's Console options
        super().__init__(**{"markup": False, **options})

    def print(self, *objects: Any, **options: Any) -> None:  # rich's signature: any renderable, its options
        cleaned = (shown(o) if isinstance(o, str) else o for o in objects)
        super().print(*cleaned, **options)


console = SafeConsole(stderr=True)


def terminal() -> SafeConsole:
    """A console on standard output, for what a command answers (tables, reports, listings)."""
    return SafeConsole()


def plain(text: str) -> Text:
    """`text` as a renderable that rich shows literally wherever markup would be read (a status
    line, a spinner), control characters written out."""
    return Text(shown(text))


def say(text: str, *, fold: bool = True) -> None:
    """Print a line of a command to stderr as given (never read as markup: a path with [brackets]
    stays whole), folded at the terminal's width unless `fold` is False."""
    console.print(text, markup=False, highlight=False, soft_wrap=not fold)


def warn_synthetic() -> None:
    """The notice every command that writes or shows synthetic microdata prints with it, in the
    command's language (ippmd.SYNTHETIC_NOTICE in English)."""
    console.print(t("common.synthetic-notice"), style="yellow")


def progress_bar(quiet: bool) -> Progress:
    """The progress display of the long commands (build, benchmark): only on a terminal."""
    return Progress(
        TextColumn("{task.description}", markup=False),  # a step may name a path: never markup
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not sys.stderr.isatty(),
    )


def verdict(ok: bool) -> NoReturn:
    """Exit 0 or 1 for a command whose answer is yes or no (valid, identical, admitted)."""
    raise typer.Exit(0 if ok else 1)


class Unusable(InputError):
    """Problems of an input that leave a command without an answer where exit 1 is an answer
    (`diff`: 1 means "different"): reported as problems, exit 2."""


class Unanswered(Exception):
    """A valid request the data hold nothing for (a tabulation selecting no rows): one line, exit 1."""

"""One console for every command, and the outcomes a command reports that are not plain errors.

Messages go to stderr (`console`, `say`), so that standard output carries only what a command
answers (`terminal()`: a tabulation, a quality report, a listing, a diff). The console never
hands the terminal a control character: a country code or path given as `KH\\x1b[2JM` would
clear the screen; it is written out (core.text.shown).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ippmd import SYNTHETIC_NOTICE
from ippmd.core.errors import InputError
from ippmd.core.text import shown


class SafeConsole(Console):
    """A console that writes out the control characters of what it prints (see the module)."""

    def print(self, *objects: Any, **options: Any) -> None:  # rich's signature: any renderable, its options
        cleaned = (shown(o) if isinstance(o, str) else o for o in objects)
        super().print(*cleaned, **options)


console = SafeConsole(stderr=True)


def terminal() -> SafeConsole:
    """A console on standard output, for what a command answers (tables, reports, listings)."""
    return SafeConsole()


def say(text: str, *, fold: bool = True) -> None:
    """Print a line of a command to stderr as given (never read as markup: a path with [brackets]
    stays whole), folded at the terminal's width unless `fold` is False."""
    console.print(text, markup=False, highlight=False, soft_wrap=not fold)


def warn_synthetic() -> None:
    """The notice every command that writes or shows synthetic microdata prints with it."""
    console.print(f"[yellow]{SYNTHETIC_NOTICE}[/]")


def progress_bar(quiet: bool) -> Progress:
    """The progress display of the long commands (build, benchmark): only on a terminal."""
    return Progress(
        TextColumn("{task.description}"),
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

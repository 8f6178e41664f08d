"""The environment variables ippmd reads, in one table, and typed accessors that check them.

A variable holding garbage is the environment's fault: the accessor raises `UsageError` (exit 2)
naming the variable, its value and what it must be, never a traceback deep inside a command. An
unset or empty variable means "not set" (the default). `check_environment()` checks them all at
once, so a command can refuse a bad environment before it writes anything.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ippmd.core.errors import UsageError
from ippmd.core.text import printable

Kind = Literal["folder", "cache", "seconds", "epoch", "flag", "step", "word"]

# Words a flag may hold, after folding case: true, then false.
FLAG_WORDS = {word: True for word in ("1", "true", "yes", "on")} | {
    word: False for word in ("0", "false", "no", "off")
}
STEP_PATTERN = re.compile(r"[a-z]+(?:-[a-z]+)*(?::[1-9][0-9]{0,5})?")


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, kind, what it is for and the values it may hold."""

    name: str
    kind: Kind
    meaning: str
    allowed: str  # said in the error and in the README's table
    low: float | None = None  # the range of a number, both ends included
    high: float | None = None
    choices: tuple[str, ...] = ()  # the words a "word" variable may hold


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "IPPMD_HOME",
        "folder",
        "the project home, which `--home` sets",
        "a folder; default: the current folder",
    ),
    Variable(
        "IPPMD_RAW_ROOT",
        "folder",
        "where licensed raw submissions live (`<ISO3>/raw/`)",
        "a folder; default: `countries/` in the home",
    ),
    Variable(
        "IPPMD_SHARED",
        "folder",
        "the shared folder with the original public files",
        "a folder; default: `../shared` beside the home",
    ),
    Variable(
        "IPPMD_LOCK_WAIT",
        "seconds",
        "how long a second `build` or `admit` waits for the package lock",
        "seconds, 0 to 86400; default 600",
        low=0,
        high=86400,
    ),
    Variable(
        "IPPMD_KILL_AT",
        "step",
        "test hook: SIGKILL the writer at a publishing step (`core/publish.py`)",
        "a step name, or `step:n` for its n-th pass",
    ),
    Variable(
        "SOURCE_DATE_EPOCH",
        "epoch",
        "the date stamped on reports (reproducible builds)",
        "whole seconds since 1970-01-01 UTC, 0 to 253402300799 (year 9999); default: today",
        low=0,
        high=253402300799,
    ),
    Variable(
        "XDG_CACHE_HOME",
        "cache",
        "where the report's bundled chart library (Vega) is cached, in `ippmd/`",
        "an absolute path (a relative one is ignored, as the XDG spec says); default: `~/.cache`",
    ),
    Variable(
        "IPPMD_LANG",
        "word",
        "the language of messages, reports, guides and labels, which `--lang` sets per command",
        "en, fr or es; default: the country's language (countries/<ISO3>/country.yaml), else en",
        choices=("en", "fr", "es"),  # ippmd.core.i18n.LANGUAGES (tests/test_i18n.py keeps them equal)
    ),
    Variable(
        "IPPMD_DEBUG", "flag", "show the traceback of an internal error", "1/true/yes/on or 0/false/no/off"
    ),
)
BY_NAME = {v.name: v for v in VARIABLES}


def _raw(name: str, kind: Kind) -> tuple[Variable, str | None]:
    """The table's row for `name` (a wrong name or kind is a bug of the caller) and its value, None
    when unset or empty."""
    variable = BY_NAME[name]
    if variable.kind != kind:
        raise TypeError(f"{name} is a {variable.kind} variable, not {kind}")
    return variable, os.environ.get(name) or None


def bad_value(variable: Variable, value: str, why: str) -> UsageError:
    """The one error for a variable holding garbage: its name, its value, what is wrong, what it must be."""
    shown = printable(value if len(value) <= 60 else value[:60] + "...")
    must = f"it must be {variable.allowed} ({variable.meaning})"
    return UsageError(f"${variable.name}={shown!r}: {why}; {must}")


def env_folder(name: str) -> Path | None:
    """A folder named by a variable, `~` expanded; None when unset. Whether it exists is the
    caller's to say (it knows what the folder is for)."""
    variable, value = _raw(name, "folder")
    if value is None:
        return None
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~someone" of an unknown user
        raise bad_value(variable, value, "its ~ names no known user") from None


def env_cache(name: str) -> Path | None:
    """An XDG base folder: an absolute path, else None (unset, empty or relative: the XDG Base
    Directory spec says a relative path is invalid and is ignored)."""
    _variable, value = _raw(name, "cache")
    return Path(value) if value is not None and Path(value).is_absolute() else None


# A plain decimal number in ASCII digits: float() would also take "1_0", "٣" or "infinity".
DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _number(variable: Variable, value: str) -> float:
    if not DECIMAL.fullmatch(value):
        raise bad_value(variable, value, "not a number")
    number = float(value)
    if not math.isfinite(number):
        raise bad_value(variable, value, "not a finite number")
    if (variable.low is not None and number < variable.low) or (
        variable.high is not None and number > variable.high
    ):
        raise bad_value(variable, value, "out of range")
    return number


def env_seconds(name: str, default: float) -> float:
    """A duration in seconds (finite, within the table's range); `default` when unset."""
    variable, value = _raw(name, "seconds")
    return default if value is None else _number(variable, value.strip())


def env_epoch(name: str) -> int | None:
    """Whole seconds since 1970 (SOURCE_DATE_EPOCH: digits only, as reproducible-builds.org
    specifies); None when unset."""
    variable, value = _raw(name, "epoch")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise bad_value(variable, value, "not a whole number of seconds")
    digits = value.lstrip("0") or "0"
    if len(digits) > 15 or not float(variable.low or 0) <= int(digits) <= float(variable.high or 0):
        raise bad_value(variable, value, "out of range")
    return int(digits)


def env_flag(name: str) -> bool:
    """A yes/no switch; False when unset."""
    variable, value = _raw(name, "flag")
    if value is None:
        return False
    word = value.strip().lower()
    if word not in FLAG_WORDS:
        raise bad_value(variable, value, "not a yes/no value")
    return FLAG_WORDS[word]


def env_step(name: str, steps: Sequence[str] | None = None) -> tuple[str, int | None] | None:
    """A step name and the pass of it (`step` or `step:n`), one of `steps` when given (the reader
    knows which exist); None when unset."""
    variable, value = _raw(name, "step")
    if value is None:
        return None
    if not STEP_PATTERN.fullmatch(value):
        raise bad_value(variable, value, "not a step name")
    step, _, count = value.partition(":")
    if steps is not None and step not in steps:
        raise bad_value(variable, value, f"there is no step {step!r} (the steps: {', '.join(steps)})")
    return step, int(count) if count else None


def env_word(name: str) -> str | None:
    """One of the variable's words (stripped, any case); None when unset."""
    variable, value = _raw(name, "word")
    if value is None or not value.strip():
        return None
    word = value.strip().lower()
    if word not in variable.choices:
        raise bad_value(variable, value, "not one of its words")
    return word


def check_environment() -> None:
    """Read every variable of the table once, so garbage in any of them fails now (exit 2)."""
    readers: dict[Kind, Callable[[str], object]] = {
        "folder": env_folder,
        "cache": env_cache,
        "seconds": lambda name: env_seconds(name, 0.0),
        "epoch": env_epoch,
        "flag": env_flag,
        "step": env_step,
        "word": env_word,
    }
    for variable in VARIABLES:
        readers[variable.kind](variable.name)

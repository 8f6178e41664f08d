"""Variable names Stata and SPSS accept, shortened deterministically when they do not.

Stata allows 32 characters ([A-Za-z_][A-Za-z0-9_]*, no reserved words) and pyreadstat names a
variable's value-label set `<name><n>`, which must fit in 32 characters too; SPSS allows 64
bytes starting with a letter, no reserved words. A longer name is shortened by one rule: the
words of extract/abbreviations.yaml are abbreviated, longest first, until it fits
(`education_expenditure_nonresponse` -> `education_expenditure_nonresp`); only a name that still
does not fit gets a cut with a hash. The new names are listed in the manifest, codebook and DDI.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Literal

import yaml

from ippmd.core.home import package_data

StatFormat = Literal["dta", "sav"]

NAME_LIMIT: dict[str, int] = {"dta": 32, "sav": 64}
STATA_RESERVED = frozenset(
    [
        "_all",
        "_b",
        "byte",
        "_coef",
        "_cons",
        "double",
        "float",
        "if",
        "in",
        "int",
        "long",
        "_n",
        "_N",
        "_pi",
        "_pred",
        "_rc",
        "_skip",
        "strL",
        "using",
        "with",
    ]
)
SPSS_RESERVED = frozenset(["ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"])
_INVALID = re.compile(r"[^A-Za-z0-9_]")


def _reserved(name: str, fmt: StatFormat) -> bool:
    if fmt == "sav":
        return name.upper() in SPSS_RESERVED
    return name in STATA_RESERVED or re.fullmatch(r"str[0-9]+", name) is not None


def _valid(name: str, fmt: StatFormat, limit: int) -> bool:
    return (
        0 < len(name.encode("utf-8")) <= limit
        and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) is not None
        and not _reserved(name, fmt)
    )


@cache
def abbreviations() -> dict[str, str]:
    """extract/abbreviations.yaml: word -> short form, checked when loaded (file and key named)."""
    path = package_data(__package__, "abbreviations.yaml")
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(table, dict):
        raise ValueError(f"{path}: must map words to their short forms")
    for word, short in table.items():
        if not (isinstance(word, str) and isinstance(short, str) and 0 < len(short) < len(word)):
            raise ValueError(f"{path}: key {word!r}: the short form must be a shorter, non-empty text")
    return table


def abbreviated(name: str, fits: Callable[[str], bool]) -> str | None:
    """The name with its words abbreviated, longest first (the last of equal ones first), one
    at a time until it fits; None when it never does."""
    words = name.split("_")
    order = sorted(range(len(words)), key=lambda i: (-len(words[i]), -i))
    for i in order:
        if fits("_".join(words)):
            break
        words[i] = abbreviations().get(words[i], words[i])
    candidate = "_".join(words)
    return candidate if fits(candidate) else None


def _shorten(name: str, limit: int, attempt: int) -> str:
    cleaned = _INVALID.sub("_", name)
    if not cleaned[:1].isalpha():
        cleaned = "v" + cleaned
    digest = hashlib.sha256(f"{name}#{attempt}".encode()).hexdigest()[:4]
    return f"{cleaned[: limit - 5].rstrip('_')}_{digest}"


def stat_names(names: Sequence[str], fmt: StatFormat, labelled: Iterable[str] = ()) -> dict[str, str]:
    """Map each column name to a name valid in `fmt` (itself when already valid), uniquely.

    `labelled` are the columns that get value labels, in column order: for Stata their
    label-set name (name + running number) must also fit in 32 characters.
    """
    labelled_order = {name: i for i, name in enumerate(n for n in names if n in set(labelled))}
    mapping: dict[str, str] = {}
    taken: set[str] = set()

    def fold(text: str) -> str:  # SPSS names are case-insensitive
        return text.upper() if fmt == "sav" else text

    for name in names:
        limit = NAME_LIMIT[fmt]
        if fmt == "dta" and name in labelled_order:
            limit -= len(str(labelled_order[name]))

        def fits(text: str, limit: int = limit) -> bool:
            return _valid(text, fmt, limit) and fold(text) not in taken

        new, attempt = (name if fits(name) else abbreviated(name, fits) or name), 0
        while not fits(new):
            new = _shorten(name, limit, attempt)
            attempt += 1
        mapping[name] = new
        taken.add(fold(new))
    return mapping

"""Variable names Stata and SPSS accept, shortened deterministically when they do not.

Stata allows 32 characters ([A-Za-z_][A-Za-z0-9_]*, no reserved words) and pyreadstat names a
variable's value-label set `<name><n>`, which must fit in 32 characters too; SPSS allows 64
bytes starting with a letter, no reserved words. Every package name fits today; a future
longer one gets a stable short name (prefix + hash) recorded in the manifest and codebook.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Literal

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
        new, attempt = name, 0
        while not _valid(new, fmt, limit) or fold(new) in taken:
            new = _shorten(name, limit, attempt)
            attempt += 1
        mapping[name] = new
        taken.add(fold(new))
    return mapping

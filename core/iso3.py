"""What an ISO3 country code is, decided once: three ASCII capital letters, A to Z.

Python's own tests are Unicode-wide and let look-alikes through: `"ÀBC".isalpha()` and the
fullwidth `"ＫＨＭ".isalpha()` are true, `"ſen".upper()` is `"SEN"` and `"ıdn".upper()` is
`"IDN"`, and a regex `$` matches before a trailing line break (`"KHM\\n"`). Every command option
and file field that takes a country code asks this module: options through `iso3_option`
(UsageError, exit 2; ASCII lower case is taken as capitals there), data through `is_iso3` or
`iso3_fault` (a Problem of the caller's, exit 1: a file holds the code exactly).
"""

from __future__ import annotations

from ippmd.core.errors import UsageError
from ippmd.core.i18n import t
from ippmd.core.text import printable

ASCII_CAPITALS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_iso3(value: object) -> bool:
    """Whether `value` is a string of exactly three ASCII capital letters."""
    return isinstance(value, str) and len(value) == 3 and all(c in ASCII_CAPITALS for c in value)


def iso3_fault(value: object) -> str | None:
    """Why `value` is not an ISO3 code (a message naming the rule, in the current language), or
    None when it is one."""
    if is_iso3(value):
        return None
    hint = _capitalised(value)
    return t("cli.not-iso3") + (t("cli.did-you-mean", names=hint) if hint else "")


def _capitalised(value: object) -> str | None:
    """The code a user probably meant when they typed ASCII letters in lower case ("khm")."""
    if not isinstance(value, str) or not value.isascii():
        return None
    upper = value.strip().upper()
    return upper if upper != value and is_iso3(upper) else None


def iso3_option(value: str, option: str) -> str:
    """An ISO3 code given on the command line (`option` names where), surrounding spaces dropped
    and ASCII letters taken in either case (`--countries khm`, as the commands always allowed);
    anything else that is not three ASCII capitals is a UsageError (exit 2). Only ASCII is
    upper-cased: `str.upper` would make SEN of "ſen"."""
    code = value.strip(" ")
    code = code.upper() if code.isascii() else code
    fault = iso3_fault(code)
    if fault is not None:
        hint = _capitalised(code)
        raise UsageError(
            t("cli.option-not-iso3", option=option, code=printable(repr(code)))
            + (t("cli.did-you-mean", names=hint) if hint else "")
        )
    return code


def iso3_options(value: str, option: str) -> list[str]:
    """The codes of a comma-separated option (`--countries KHM,SEN`), each held to `iso3_option`,
    in the order given, without repeats (none for an empty value: the caller's default)."""
    codes = [iso3_option(item, option) for item in value.split(",") if item.strip(" ")]
    return list(dict.fromkeys(codes))

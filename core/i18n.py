"""The language people read ippmd in: English, French or Spanish, with numbers in its locale.

Translations are data: one catalogue per language, `core/translations/<lang>/`, split into
domains (one YAML file each, a flat map of key to text, checked when loaded). A message is asked
for by `domain.key`: `t("common.problems-in-input", count=3)`. Its placeholders are
`str.format` fields; a number given to one is written by Babel in the language's locale
(`1 234,5` in French, `1.234,5` in Spanish); `{year!s}` writes a number as is (years, codes).
Domains whose English lives in data elsewhere (problem hints in core/problems.yaml, the codebook
in the schemas) have French and Spanish files only; `translated(domain, key, english)` reads them.

The language is a context variable: the CLI sets it once per command (`--lang`, else
$IPPMD_LANG, else the country's default in its country.yaml, else English); a server sets it per
request. Data files keep machine formats whatever the language.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

from babel.numbers import format_decimal, format_percent

from ippmd.core.errors import UsageError
from ippmd.core.home import package_data

Language = Literal["en", "fr", "es"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "fr": "Français", "es": "Español"}
# Babel (CLDR) locales: `es` groups thousands with '.', as Spain and the example do.
LOCALES: dict[Language, str] = {"en": "en", "fr": "fr", "es": "es"}
SOURCE: Language = "en"

_current: ContextVar[Language] = ContextVar("ippmd_language", default=SOURCE)


def language() -> Language:
    """The language of what is written for people now."""
    return _current.get()


def language_named(name: str, where: str = "--lang") -> Language:
    """`name` as a language code (any case, spaces around allowed): a usage error otherwise (exit 2)."""
    cleaned = name.strip().lower()
    for code in LANGUAGES:
        if code == cleaned:
            return code
    raise UsageError(f"{where} {name!r}: use {', '.join(LANGUAGES)} (English, French, Spanish)")


def set_language(code: Language) -> None:
    """Write in `code` from now on, in this context (the CLI, once per command)."""
    _current.set(code)


@contextmanager
def using(code: Language) -> Iterator[None]:
    """Write in `code` inside the block (a page of the portal, one test)."""
    token = _current.set(code)
    try:
        yield
    finally:
        _current.reset(token)


def translations_dir(code: Language) -> Path:
    return package_data("ippmd.core", "translations", code)


@cache
def catalogue(code: Language, domain: str) -> Mapping[str, str]:
    """One domain's entries in one language ({} when the language has no file for it), checked
    when loaded against schemas/config/translations.schema.json (a broken file is a broken
    install, exit 2, naming file and key)."""
    from ippmd.core.config import install_error, load_checked
    from ippmd.core.errors import InputError

    path = translations_dir(code) / f"{domain}.yaml"
    if not path.is_file():
        return {}
    try:
        entries = load_checked(path, "translations")
    except InputError as exc:
        raise install_error(exc) from None
    return dict(entries or {})


def domains(code: Language) -> list[str]:
    """The domains one language has a file for."""
    return sorted(p.stem for p in translations_dir(code).glob("*.yaml"))


class _LocaleFormatter(string.Formatter):
    """str.format with numbers written in a locale (`{n}`, `{share:.1f}`), `{x!s}` as is."""

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return super().format_field(value, format_spec)
        return number(value, format_spec, self.locale)


def number(value: float, format_spec: str = "", locale: str | None = None) -> str:
    """A number for people in the current language (or `locale`): grouped thousands and the
    locale's decimal mark; `format_spec` '.Nf' fixes N decimals, '.N%' writes a percentage."""
    where = locale or LOCALES[language()]
    if format_spec.endswith("%") and format_spec.startswith("."):
        decimals = int(format_spec[1:-1] or 0)
        return format_percent(round(value, decimals + 2), locale=where, decimal_quantization=False)
    if format_spec.endswith("f") and format_spec.startswith("."):
        decimals = int(format_spec[1:-1] or 0)
        return format_decimal(value, "#,##0" + ("." + "0" * decimals if decimals else ""), where)
    if format_spec:
        raise ValueError(f"format {format_spec!r}: use '', '.Nf' or '.N%' (numbers follow the language)")
    return format_decimal(value, locale=where)


def t(key: str, /, **params: Any) -> str:
    """The text `domain.key` in the current language, its placeholders filled (English when the
    language lacks it: tests/test_i18n.py keeps every catalogue complete)."""
    domain, _, name = key.partition(".")
    code = language()
    text = catalogue(code, domain).get(name)
    if text is None:
        code = SOURCE
        text = catalogue(SOURCE, domain)[name]  # a KeyError here is a bug: the key is in no catalogue
    return _LocaleFormatter(LOCALES[code]).format(text, **params)


def fill(text: str, /, **params: Any) -> str:
    """A text already in the current language (from `translated`: English in data) with its
    placeholders filled as `t` fills them, numbers in the locale."""
    return _LocaleFormatter(LOCALES[language()]).format(text, **params)


def significant(value: float, digits: int) -> str:
    """A number rounded to `digits` significant digits (as `{:.4g}` would, without its exponent),
    written in the current language with grouped thousands."""
    return format_decimal(
        float(f"{value:.{digits}g}"), locale=LOCALES[language()], decimal_quantization=False
    )


def translated(domain: str, key: str, english: str, code: Language | None = None) -> str:
    """A text whose English lives in data (a variable's label in the schemas, a problem's hint in
    core/problems.yaml), in the current language (or `code`): `english` itself in English."""
    chosen = code or language()
    if chosen == SOURCE:
        return english
    return catalogue(chosen, domain).get(key, english)


def placeholders(text: str) -> set[str]:
    """The fields a text fills (tests: every translation fills the same ones as the English)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def country_language(iso3: str | None) -> Language | None:
    """The default language of a country's team (`language` in countries/<ISO3>/country.yaml);
    None for a country ippmd ships no metadata for."""
    from ippmd.core.metadata import country_codes, load_country

    if not iso3 or iso3 not in country_codes():
        return None
    value = load_country(iso3).get("language")
    return None if value is None else language_named(str(value), f"countries/{iso3}/country.yaml: language")


def choose_language(given: str | None, country: str | None = None) -> Language:
    """The language of one command, set for it: `--lang`, else $IPPMD_LANG, else the country's
    default, else English (a bad --lang or $IPPMD_LANG is a usage error, exit 2)."""
    from ippmd.core.env import env_word

    if given is not None:
        chosen = language_named(given)
    else:
        from_env = env_word("IPPMD_LANG")
        chosen = (
            language_named(from_env, "$IPPMD_LANG")
            if from_env is not None
            else country_language(country) or SOURCE
        )
    set_language(chosen)
    return chosen

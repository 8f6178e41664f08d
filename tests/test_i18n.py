"""Translations are data and complete: every text exists in English, French and Spanish, with the
same placeholders, and no catalogue holds an entry nothing uses.

Two kinds of domain (core/translations/<lang>/<domain>.yaml):
- code domains have an English file; the code asks for `t("domain.key")` with the key written
  out, so a scan of the source finds every key used;
- data domains have no English file: their English lives in data (DATA_DOMAINS below says where
  and lists the keys), French and Spanish translate exactly those keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.numbers import format_decimal

import ippmd
from ippmd.core.env import BY_NAME
from ippmd.core.errors import UsageError, problem_catalogue
from ippmd.core.i18n import (
    LANGUAGES,
    SOURCE,
    catalogue,
    choose_language,
    domains,
    language,
    placeholders,
    t,
    using,
)
from ippmd.core.metadata import allowed_english
from ippmd.package.translate import codebook_english
from ippmd.quality.suites import suites_english
from ippmd.submission_text import submission_english

ROOT = Path(__file__).resolve().parents[1]
CODE_FOLDERS = (
    "core",
    "countries",
    "harmonize",
    "package",
    "quality",
    "models",
    "extract",
    "explore",
    "reporting",
    "synth",
    "indicators",
    "ippmd",
    "portal",
)
KEY_USE = re.compile(r"""\bt\(\s*["']([a-z][a-z0-9_-]*\.[A-Za-z0-9_.:-]+)["']""")


def _hints() -> dict[str, str]:
    """Problem hints: English in core/problems.yaml, keyed by problem code."""
    return dict(problem_catalogue())


# Data domain -> its English texts by key (the translated files hold exactly these keys).
DATA_DOMAINS: dict[str, Callable[[], dict[str, str]]] = {
    "hints": _hints,
    "codebook": codebook_english,
    "submission": submission_english,
    "metadata-allowed": allowed_english,  # schemas/submission/metadata.schema.json x-allowed
    "suites": suites_english,  # quality/suites/*.yaml rules and hints
}


def _used_keys() -> set[str]:
    used: set[str] = set()
    for folder in CODE_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            used.update(KEY_USE.findall(path.read_text(encoding="utf-8")))
    return used


def _english(domain: str) -> dict[str, str]:
    if domain in DATA_DOMAINS:
        return DATA_DOMAINS[domain]()
    return dict(catalogue(SOURCE, domain))


def test_every_domain_is_code_or_data() -> None:
    """A French or Spanish file translates an English file or a declared data domain."""
    english_files = set(domains(SOURCE))
    assert not english_files & set(DATA_DOMAINS), "a data domain has no English file"
    for code in LANGUAGES:
        assert set(domains(code)) <= english_files | set(DATA_DOMAINS), code


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != SOURCE])
def test_every_text_is_translated_with_the_same_placeholders(code: str) -> None:
    for domain in sorted(set(domains(SOURCE)) | set(DATA_DOMAINS)):
        english = _english(domain)
        translated = dict(catalogue(code, domain))
        assert sorted(set(english) - set(translated)) == [], f"{code}/{domain}.yaml lacks these keys"
        assert sorted(set(translated) - set(english)) == [], f"{code}/{domain}.yaml: keys nothing uses"
        for key, text in translated.items():
            assert placeholders(text) == placeholders(english[key]), f"{code}/{domain}.yaml: {key}"


def test_every_key_the_code_asks_for_exists_and_every_entry_is_used() -> None:
    used = _used_keys()
    english = {f"{d}.{k}" for d in domains(SOURCE) for k in catalogue(SOURCE, d)}
    assert sorted(used - english) == [], "asked for by the code, in no English catalogue"
    assert sorted(english - used) == [], "in the English catalogue, asked for by no code"


def test_the_scan_sees_keys() -> None:
    """The scan above is not vacuous: it finds the CLI's own key."""
    assert "common.problems-in-input" in _used_keys()


def test_numbers_follow_the_language_through_babel() -> None:
    for code, locale in (("en", "en"), ("fr", "fr"), ("es", "es")):
        with using(code):  # type: ignore[arg-type]
            shown = t("common.problems-in-input", count=1234567)
        assert shown.startswith(format_decimal(1234567, locale=locale))
    with using("fr"):
        assert t("common.synthetic-countries", countries="CIV") == "Pays synthétiques : CIV."
    assert language() == SOURCE  # the block restored the language


def test_the_english_notice_is_the_package_constant() -> None:
    assert catalogue(SOURCE, "common")["synthetic-notice"] == ippmd.SYNTHETIC_NOTICE
    with using("es"):
        assert ippmd.synthetic_notice(["DOM"]).startswith("DATOS SINTÉTICOS")


def test_language_is_chosen_option_then_environment_then_country(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPPMD_LANG", raising=False)
    with using("en"):
        assert choose_language(None, "CIV") == "fr"
        assert choose_language(None, "DOM") == "es"
        assert choose_language(None, "KHM") == "en"
        assert choose_language(None, "ZZZ") == "en"
        assert choose_language("ES", "CIV") == "es"
        monkeypatch.setenv("IPPMD_LANG", "en")
        assert choose_language(None, "CIV") == "en"
        monkeypatch.setenv("IPPMD_LANG", "de")
        with pytest.raises(UsageError, match="IPPMD_LANG"):
            choose_language(None)
        with pytest.raises(UsageError, match="--lang 'xx'"):
            choose_language("xx")


def test_the_environment_table_offers_the_languages() -> None:
    assert BY_NAME["IPPMD_LANG"].choices == LANGUAGES

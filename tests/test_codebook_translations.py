"""The French and Spanish codebook (data domain `codebook`) says what the English says: identifiers,
codes and numbers kept, universes keep their expression, the honesty words ("assumed", "synthetic")
survive, and one English text has one translation. tests/test_i18n.py holds the keys complete."""

from __future__ import annotations

import re

import pytest

from ippmd.core.i18n import Language, catalogue
from ippmd.package.translate import DOMAIN, codebook_english

TRANSLATED: tuple[Language, ...] = ("fr", "es")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # variable, table and indicator names
CODE = re.compile(r"\b[A-Z][A-Z0-9]+(?:[.-][A-Z0-9]+)*\b")  # ISO, USD, WLD, WDI series, SHA-256...
QUOTED = re.compile(r"`[^`]+`|'[^']*'")  # `method`, 'C', 'assumed: ...'
NUMBER = re.compile(r"\b\d+\b")
# Names with an official translation (ISCED 2011 is CITE 2011 in French, CINE 2011 in Spanish).
RENAMED = {
    "ISCED": {"fr": "CITE", "es": "CINE"},
    "GDP": {"fr": "PIB", "es": "PIB"},
    "OECD": {"fr": "OCDE", "es": "OCDE"},
    # the capitalised warnings of the package and table descriptions, translated
    "SYNTHETIC": {"fr": "SYNTHÉTIQUES", "es": "SINTÉTICOS"},
    "REAL": {"fr": "RÉELS", "es": "REALES"},
}
NUMBER_WORDS = {"1000": {"fr": "mille", "es": "mil"}}  # "times 1000" in words
HONESTY = {
    "assumed": {"fr": "hypothèse", "es": "supuesto"},
    "synthetic": {"fr": "synthéti", "es": "sintétic"},
}


def _texts(code: Language) -> dict[str, tuple[str, str]]:
    """Key -> (English, translation)."""
    translated = dict(catalogue(code, DOMAIN))
    return {key: (english, translated[key]) for key, english in codebook_english().items()}


def _kept(pattern: re.Pattern[str], english: str) -> set[str]:
    return set(pattern.findall(english))


@pytest.mark.parametrize("code", TRANSLATED)
def test_identifiers_codes_and_numbers_are_kept(code: Language) -> None:
    lost: list[str] = []
    for key, (english, text) in _texts(code).items():
        for token in _kept(SNAKE, english) | _kept(QUOTED, english) | _kept(CODE, english):
            if RENAMED.get(token, {}).get(code, token) not in text:
                lost.append(f"{key}: {token}")
        for number in _kept(NUMBER, english):
            if number not in NUMBER_WORDS and not re.search(rf"\b{number}\b", text):
                lost.append(f"{key}: {number}")
            if number in NUMBER_WORDS and NUMBER_WORDS[number][code] not in text:
                lost.append(f"{key}: {number} (in words)")
    assert lost == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_a_universe_is_worded_with_its_expression_in_parentheses(code: Language) -> None:
    universes = {k: v for k, v in _texts(code).items() if k.endswith(".universe")}
    assert len(universes) > 10
    for key, (expression, text) in universes.items():
        assert text.endswith(f"({expression})") and len(text) > len(expression) + 3, key


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_honesty_words_survive(code: Language) -> None:
    checked = 0
    for key, (english, text) in _texts(code).items():
        for word, translations in HONESTY.items():
            if word in english.lower():
                checked += 1
                assert translations[code] in text.lower(), f"{key}: '{word}' lost"
    assert checked >= 8  # the strata, community weight, sample size, exchange rate, origin texts


@pytest.mark.parametrize("code", TRANSLATED)
def test_one_english_text_has_one_translation(code: Language) -> None:
    seen: dict[str, set[str]] = {}
    for english, text in _texts(code).values():
        seen.setdefault(english, set()).add(text)
    assert {e: t for e, t in seen.items() if len(t) > 1} == {}
    assert seen["Yes"] != seen["No"]

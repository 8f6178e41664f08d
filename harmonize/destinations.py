"""Destination country names (French, Spanish, English, local spellings) to ISO3 codes."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache

from ippmd.core.home import package_data
from ippmd.core.io import load_yaml

NAMES_FILE = package_data(__package__, "destination_names.yaml")
NOT_FOUND = "__not_found__"


class UnknownCountryName(ValueError):
    """A name that no correspondence table nor country_converter can place."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"unknown country name(s): {', '.join(map(repr, names))}")


def fold(name: str) -> str:
    """Lower-case, accents removed, spaces collapsed: 'États-Unis ' -> 'etats-unis'."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.replace("’", "'").lower().split())


@cache
def _shared_names() -> dict[str, str]:
    return {fold(k): v for k, v in load_yaml(NAMES_FILE.read_text(encoding="utf-8"))["ALL"].items()}


@cache
def _converter():  # country_converter is slow to import and to build; do it once
    import country_converter as coco

    logging.getLogger("country_converter").setLevel(logging.CRITICAL)
    return coco.CountryConverter()


def to_iso3(names: Iterable[str], local: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each distinct name to ISO3; raise UnknownCountryName listing every name not placed.

    Order: the country's own spellings (`local`), the shared table, then country_converter on
    the accent-folded name. Nothing unknown silently becomes null.
    """
    local_folded = {fold(k): v for k, v in (local or {}).items()}
    result: dict[str, str] = {}
    pending: list[str] = []
    for name in sorted(set(names)):
        key = fold(name)
        code = local_folded.get(key) or _shared_names().get(key)
        if code:
            result[name] = code
        else:
            pending.append(name)
    if pending:
        converted = _converter().convert([fold(n) for n in pending], to="ISO3", not_found=NOT_FOUND)
        if isinstance(converted, str):
            converted = [converted]
        for name, code in zip(pending, converted, strict=True):
            if isinstance(code, str) and code != NOT_FOUND and len(code) == 3:
                result[name] = code
    unknown = [n for n in sorted(set(names)) if n not in result]
    if unknown:
        raise UnknownCountryName(unknown)
    return result

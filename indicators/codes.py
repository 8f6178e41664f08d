"""Country codes: UN M49 numbers and names to ISO3, with the exceptions kept in country_codes.yaml.

Codes are matched before names because the originals spell countries differently ("Côte d'Ivoire",
"Cote d'Ivoire", "Ivory Coast"); a name-only match is the fallback for files without codes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from ippmd.core.home import package_data
from ippmd.core.io import load_yaml

CODES_FILE = package_data(__package__, "country_codes.yaml")
_FOOTNOTE_MARKERS = re.compile(r"[\s*]+$")


@cache
def _config() -> dict[str, Any]:
    return load_yaml(CODES_FILE.read_text(encoding="utf-8"))


def ippmd_countries() -> dict[str, str]:
    """ISO3 -> English short name of the ten IPPMD countries, in the order of the YAML file."""
    return dict(_config()["ippmd_countries"])


def clean_label(value: object) -> str:
    """A name as written in a file, without surrounding space (incl. non-breaking) or `*` markers."""
    text = str(value).replace("\u00a0", " ").strip()
    return _FOOTNOTE_MARKERS.sub("", text).strip()


def is_aggregate_label(name: str) -> bool:
    """True for the declared labels of sums over countries (World, Total, ...)."""
    return clean_label(name) in set(_config()["aggregates"])


def is_aggregate_code(code: str) -> bool:
    """True for the declared World Bank codes that stand for no country (e.g. INX, "Not classified")."""
    return code.strip() in set(_config().get("aggregate_codes", []))


@cache
def _converter() -> Any:
    import country_converter as coco  # imported lazily: it takes a quarter of a second

    return coco.CountryConverter()


@contextmanager
def _quiet_converter() -> Iterator[None]:
    """country_converter logs every miss; misses are reported by the callers with their context."""
    logger = logging.getLogger("country_converter")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@cache
def _iso3_by_m49() -> dict[int, str]:
    """country_converter's own UNcode -> ISO3 table (one lookup table instead of a search per code)."""
    data = _converter().data[["UNcode", "ISO3"]].dropna()
    return {int(code): str(iso3) for code, iso3 in data.itertuples(index=False)}


_BY_NAME: dict[str, str | None] = {}  # names already searched (the files share most spellings)


def _convert_names(names: list[str]) -> None:
    todo = [n for n in names if n not in _BY_NAME]
    if not todo:
        return
    with _quiet_converter():
        result = _converter().convert(todo, to="ISO3", not_found="__nf__")
    if isinstance(result, str):  # country_converter unwraps a one-element answer
        result = [result]
    for name, iso3 in zip(todo, result, strict=True):
        # A list in the answer means an ambiguous name: unmapped, never a guess.
        _BY_NAME[name] = iso3 if isinstance(iso3, str) and re.fullmatch(r"[A-Z]{3}", iso3) else None


def m49_to_iso3(codes: Iterable[int]) -> dict[int, str]:
    """Map UN M49 numeric codes to ISO3; codes that map to nothing are absent from the answer."""
    extra = {int(e["m49"]): e["code"] for e in _config()["not_in_iso3166"] if "m49" in e}
    table = _iso3_by_m49()
    found = {c: extra.get(c, table.get(c)) for c in set(codes)}
    return {c: iso3 for c, iso3 in found.items() if iso3 is not None}


def names_to_iso3(names: Iterable[str]) -> dict[str, str]:
    """Map country names (cleaned) to ISO3; names that map to nothing are absent from the answer."""
    wanted = sorted({clean_label(n) for n in names})
    extra = {name: e["code"] for e in _config()["not_in_iso3166"] for name in e.get("names", [])}
    _convert_names([n for n in wanted if n not in extra])
    found = {n: extra[n] if n in extra else _BY_NAME[n] for n in wanted}
    return {n: iso3 for n, iso3 in found.items() if iso3 is not None}

"""Destination country names (French, Spanish, English, local spellings) to ISO3 codes.

A name is accepted only when it equals a known spelling after `fold` (case, accents, spaces):
the country's own spellings (metadata.yaml `destinations`), the shared table
(`destination_names.yaml`), or an exact name of country_converter's data table (its short and
official names). ISO 3166 codes (ISO2, ISO3) are accepted written as codes, in capitals. Nothing
is matched by substring or regular expression, so free text around a country name ("Thailand tel
12 345 678", "France (Jean Dupont)", "France or Niger") is unknown, never published.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

from ippmd.core.home import package_data
from ippmd.core.io import load_yaml
from ippmd.core.metadata import iso3166

NAMES_FILE = package_data(__package__, "destination_names.yaml")
# country_converter's own data table (read as data: its regular expressions are never used).
CONVERTER_TABLE = ("country_converter", "country_data.tsv")
# ISO2 codes not accepted as a destination: "NA" (Namibia) is far more often "not available".
NOT_CODES = frozenset({"NA"})


class UnknownCountryName(ValueError):
    """Names that are not a known spelling of a country."""

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
def _converter_table() -> tuple[dict[str, str], dict[str, str]]:
    """(folded short/official name -> ISO3, ISO2/ISO3 code -> ISO3) from country_converter's table,
    read once; only countries of the ISO 3166 table (core/iso3166.json) are kept."""
    package, file = CONVERTER_TABLE
    text = resources.files(package).joinpath(file).read_text(encoding="utf-8")
    known = iso3166()
    names: dict[str, str] = {}
    codes: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        iso3 = row.get("ISO3") or ""
        if iso3 not in known:
            continue
        for column in ("name_short", "name_official"):
            if row.get(column):
                names.setdefault(fold(row[column]), iso3)
        for column in ("ISO2", "ISO3"):
            code = (row.get(column) or "").strip()
            if code and code not in NOT_CODES:
                codes.setdefault(code, iso3)
    return names, codes


def match_destinations(
    names: Iterable[str], local: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """(name -> ISO3 for every distinct name that is a known spelling, the sorted unknown names).

    Order: the country's own spellings (`local`), the shared table, country_converter's names,
    then an ISO2/ISO3 code in capitals. Exact comparisons only."""
    local_folded = {fold(str(k)): v for k, v in (local or {}).items()}
    shared = _shared_names()
    converter_names, codes = _converter_table()
    result: dict[str, str] = {}
    unknown: list[str] = []
    for name in sorted(set(names)):
        key = fold(name)
        code = (
            local_folded.get(key)
            or shared.get(key)
            or converter_names.get(key)
            or codes.get(" ".join(name.split()))
        )
        if code:
            result[name] = code
        else:
            unknown.append(name)
    return result, unknown


def to_iso3(names: Iterable[str], local: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each distinct name to ISO3; raise UnknownCountryName listing every name not placed.

    Nothing unknown silently becomes null, and nothing is matched by substring."""
    result, unknown = match_destinations(names, local)
    if unknown:
        raise UnknownCountryName(unknown)
    return result

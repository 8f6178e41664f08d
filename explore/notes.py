"""Comparability notes per country, written from the country metadata (countries/<ISO3>/country.yaml).

What makes a variable's values comparable or not across the ten countries is recorded in each
country's metadata: the exchange rate money was converted at, how national education levels
were mapped to ISCED, which regions were assumed, how destination names were coded, when the
fieldwork ran and which calibration targets of the synthetic data were published or assumed.
Each note names its source (or says "assumed"), as the metadata do.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import polars as pl

from ippmd.core.calibration import target_measures
from ippmd.core.metadata import load_country, region_list, source_citation

EDUCATION_FIELDS = frozenset({"education_level", "education_years", "src_education_code"})
REGION_FIELDS = frozenset({"region_code", "region_name"})
DESTINATION_FIELDS = frozenset({"destination", "src_destination_name"})


@cache
def target_variables() -> dict[str, tuple[str, frozenset[str]]]:
    """Calibration target -> (table, columns its measure names), from target_measures.yaml."""
    found = {}
    for target, measure in target_measures().items():
        names = set(pl.sql_expr(measure["value"]).meta.root_names())
        found[target] = (measure["table"], frozenset(names))
    return found


def _fieldwork(meta: dict[str, Any], country: dict[str, Any]) -> str:
    work = meta.get("fieldwork") or {}
    when = (
        f"fieldwork {work['start']} to {work['end']}" if work.get("start") else "fieldwork dates not recorded"
    )
    cited = (
        f" ({source_citation(country, work)})" if work and ("source" in work or work.get("assumed")) else ""
    )
    return f"Survey year {meta['survey_year']}; {when}{cited}."


def _money(meta: dict[str, Any], country: dict[str, Any], unit: str) -> str | None:
    rate = meta["exchange_rate"]
    currency = meta["currency"]
    cited = source_citation(country, rate)
    extra = f" Note: {rate['note']}" if rate.get("note") else ""
    if "USD" in unit:
        return (
            f"Converted from {currency} at {rate['lcu_per_usd']:,} {currency} per USD ({rate['year']}); "
            f"rate source: {cited}.{extra}"
        )
    if "local currency" in unit:
        return (
            f"In {currency} as reported, not comparable across countries; the USD version uses "
            f"{rate['lcu_per_usd']:,} {currency} per USD ({rate['year']}; {cited})."
        )
    return None


def _education(meta: dict[str, Any]) -> str:
    levels = meta["education_levels"]
    mapped = "; ".join(
        f"{lv['code']} {lv['label']} -> ISCED {lv['isced']}, {lv['years']} years" for lv in levels
    )
    return f"{len(levels)} national levels mapped to ISCED 2011 (code label -> level, years): {mapped}."


def _regions(meta: dict[str, Any]) -> str:
    regions = region_list(meta)
    assumed = isinstance(meta["regions"], dict) and meta["regions"].get("assumed")
    which = (
        "which regions were sampled is not published: this list is assumed"
        if assumed
        else "the sampled regions as published"
    )
    names = ", ".join(f"{r['name']} ({r['iso_3166_2']})" for r in regions)
    return f"{len(regions)} regions coded in ISO 3166-2; {which}: {names}."


def _destinations(meta: dict[str, Any]) -> str:
    spellings = meta["destinations"]
    shown = "; ".join(f"'{name}' -> {code}" for name, code in list(spellings.items())[:8])
    more = f" and {len(spellings) - 8} more" if len(spellings) > 8 else ""
    return (
        f"{len(spellings)} local spellings of destinations mapped to ISO 3166-1 alpha-3 "
        f"({shown}{more}); other names must match a country name."
    )


def _targets(country: dict[str, Any], table: str, name: str) -> list[str]:
    notes = []
    for target, (where, columns) in target_variables().items():
        entry = country.get("targets", {}).get(target)
        if where != table or name not in columns or not isinstance(entry, dict) or "value" not in entry:
            continue
        universe = f" of {entry['universe']}" if entry.get("universe") else ""
        notes.append(
            f"Synthetic data calibrated to the sample share {target} = {entry['value']:.0%}{universe} "
            f"({source_citation(country, entry)})."
        )
    return notes


def comparability_notes(iso3: str, table: str, field: dict[str, Any], data_origin: str) -> list[str]:
    """The notes that bear on one variable in one country, most specific first."""
    country = load_country(iso3)
    meta = country["submission"]
    name = field["name"]
    notes: list[str] = []
    money = _money(meta, country, field.get("unit", "")) if field.get("unit") else None
    if money:
        notes.append(money)
    if name in EDUCATION_FIELDS:
        notes.append(_education(meta))
    if name in REGION_FIELDS:
        notes.append(_regions(meta))
    if name in DESTINATION_FIELDS:
        notes.append(_destinations(meta))
    notes += _targets(country, table, name)
    origin = (
        "SYNTHETIC microdata (generated, calibrated to published sample shares)"
        if data_origin != "survey"
        else "IPPMD survey microdata (licensed raw files)"
    )
    notes.append(f"{origin}. {_fieldwork(meta, country)}")
    return notes

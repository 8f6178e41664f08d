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
from ippmd.core.i18n import significant, t
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
        t("cli.note-fieldwork", start=str(work["start"]), end=str(work["end"]))
        if work.get("start")
        else t("cli.note-fieldwork-unknown")
    )
    cited = (
        f" ({source_citation(country, work)})" if work and ("source" in work or work.get("assumed")) else ""
    )
    return t("cli.note-survey-year", year=meta["survey_year"], when=when, cited=cited)


def _money(meta: dict[str, Any], country: dict[str, Any], unit: str) -> str | None:
    rate = meta["exchange_rate"]
    currency = meta["currency"]
    cited = source_citation(country, rate)
    extra = t("cli.note-note", note=rate["note"]) if rate.get("note") else ""
    per_usd = significant(rate["lcu_per_usd"], 15)  # every digit of the rate, grouped the local way
    if "USD" in unit:
        return t(
            "cli.note-converted", currency=currency, rate=per_usd, year=rate["year"], cited=cited, extra=extra
        )
    if "local currency" in unit:
        return t("cli.note-local-currency", currency=currency, rate=per_usd, year=rate["year"], cited=cited)
    return None


def _education(meta: dict[str, Any]) -> str:
    levels = meta["education_levels"]
    mapped = "; ".join(
        t(
            "cli.note-education-level",
            code=lv["code"],
            label=lv["label"],
            isced=lv["isced"],
            years=lv["years"],
        )
        for lv in levels
    )
    return t("cli.note-education", count=len(levels), mapped=mapped)


def _regions(meta: dict[str, Any]) -> str:
    regions = region_list(meta)
    assumed = isinstance(meta["regions"], dict) and meta["regions"].get("assumed")
    which = t("cli.note-regions-assumed") if assumed else t("cli.note-regions-published")
    names = ", ".join(f"{r['name']} ({r['iso_3166_2']})" for r in regions)
    return t("cli.note-regions", count=len(regions), which=which, names=names)


def _destinations(meta: dict[str, Any]) -> str:
    spellings = meta["destinations"]
    shown = "; ".join(f"'{name}' -> {code}" for name, code in list(spellings.items())[:8])
    more = t("cli.note-more", count=len(spellings) - 8) if len(spellings) > 8 else ""
    return t("cli.note-destinations", count=len(spellings), shown=shown, more=more)


def _targets(country: dict[str, Any], table: str, name: str) -> list[str]:
    notes = []
    for target, (where, columns) in target_variables().items():
        entry = country.get("targets", {}).get(target)
        if where != table or name not in columns or not isinstance(entry, dict) or "value" not in entry:
            continue
        universe = t("cli.note-universe", universe=entry["universe"]) if entry.get("universe") else ""
        cited = source_citation(country, entry)
        notes.append(
            t("cli.note-target", target=target, share=entry["value"], universe=universe, cited=cited)
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
    origin = t("cli.note-synthetic") if data_origin != "survey" else t("cli.note-survey")
    notes.append(f"{origin}. {_fieldwork(meta, country)}")
    return notes

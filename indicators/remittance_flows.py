"""Remittance inflows and their share of GDP, from KNOMAD and WDI releases, each with its vintage.

The same year's inflow differs between releases (Cambodia 2015: US$ 400 million in KNOMAD Dec 2018,
about US$ 1,185 million in the 2023 releases), so every release becomes its own set of rows, tagged
with its vintage; nothing here picks one release over another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ippmd.core.errors import InputError, Problem
from ippmd.indicators.codes import clean_label, is_aggregate_code, is_aggregate_label, names_to_iso3
from ippmd.indicators.provenance import Source
from ippmd.indicators.sheets import (
    Sheet,
    Value,
    find_row,
    header_text,
    is_blank,
    number_or_problem,
    read_sheets,
    year_of,
)
from ippmd.indicators.table import Row

_WB_CODE = re.compile(r"^[A-Z0-9]{3}$")


def _year_columns(row: tuple) -> list[tuple[int, int]]:
    return [(c, y) for c, v in enumerate(row) if (y := year_of(v)) is not None]


def read_by_name(sheet: Sheet, *, zero_is_missing: bool = True) -> list[Value]:
    """A KNOMAD layout: names in column A, years across; the data end at the first blank name.

    Everything below that blank row is footer notes. Names are mapped with country_converter;
    declared aggregates (World, ...) are left out and any other unmapped name is an error.
    """
    h = find_row(sheet, lambda row: len(_year_columns(row)) >= 3, "header row with years")
    year_cols = _year_columns(sheet.rows[h])
    names: dict[int, str] = {}
    for r in range(h + 1, len(sheet.rows)):
        if is_blank(sheet.cell(r, 0)):
            break
        names[r] = clean_label(sheet.cell(r, 0))
    countries = {r: name for r, name in names.items() if not is_aggregate_label(name)}
    mapped = names_to_iso3(countries.values())
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    for r, name in countries.items():
        iso3 = mapped.get(name)
        if iso3 is None:
            problems.append(sheet.problem("country name maps to no ISO3 code", r, 0, name))
        elif iso3 in first_row:
            first = first_row[iso3]
            problems.append(
                sheet.problem(
                    f"second row for {iso3} (first: row {first + 1}, {countries[first]!r})",
                    r,
                    0,
                    name,
                )
            )
        else:
            first_row[iso3] = r
    if problems:
        raise InputError(problems)
    values = []
    for iso3, r in first_row.items():
        for c, year in year_cols:
            number = number_or_problem(sheet, r, c, problems, zero_is_missing=zero_is_missing)
            if number is not None:
                values.append(Value(iso3, year, number, sheet.at(r, c)))
    if problems:
        raise InputError(problems)
    return values


def _wdi_aggregates(meta: Sheet) -> tuple[set[str], set[str]]:
    """(all codes, aggregate codes) from 'Metadata - Countries': aggregates have no Region."""
    h = find_row(meta, lambda row: "country code" in [header_text(v) for v in row], "'Country Code' header")
    header = [header_text(v) for v in meta.rows[h]]
    if "region" not in header:
        raise InputError([meta.problem("no 'Region' column", h)])
    code_col, region_col = header.index("country code"), header.index("region")
    codes, aggregates = set(), set()
    for r in range(h + 1, len(meta.rows)):
        code = meta.cell(r, code_col)
        if is_blank(code):
            continue
        codes.add(str(code).strip())
        if is_blank(meta.cell(r, region_col)):
            aggregates.add(str(code).strip())
    return codes, aggregates


def read_wdi(data: Sheet, meta: Sheet, indicator_code: str) -> list[Value]:
    """A WDI export's Data sheet (codes down, years across); aggregates dropped via the metadata."""
    h = find_row(
        data, lambda row: header_text(row[0] if row else None) == "country name", "'Country Name' header"
    )
    header = [header_text(v) for v in data.rows[h]]
    for wanted in ("country code", "indicator code"):
        if wanted not in header:
            raise InputError([data.problem(f"no '{wanted}' column", h)])
    code_col, indicator_col = header.index("country code"), header.index("indicator code")
    year_cols = _year_columns(data.rows[h])
    known, aggregates = _wdi_aggregates(meta)
    values: list[Value] = []
    problems: list[Problem] = []
    for r in range(h + 1, len(data.rows)):
        code = data.cell(r, code_col)
        if is_blank(code):
            continue
        code = str(code).strip()
        indicator = str(data.cell(r, indicator_col) or "").strip()
        if is_aggregate_code(code):
            continue
        if not _WB_CODE.match(code) or code not in known:
            problems.append(data.problem("country code not in 'Metadata - Countries'", r, code_col, code))
            continue
        if indicator != indicator_code:
            problems.append(data.problem(f"expected indicator {indicator_code}", r, indicator_col, indicator))
            continue
        if code in aggregates:
            continue  # regions and income groups (no Region in the metadata)
        for c, year in year_cols:
            number = number_or_problem(data, r, c, problems)
            if number is not None:
                values.append(Value(code, year, number, data.at(r, c)))
    if problems:
        raise InputError(problems)
    return values


def knomad_rows(path: Path, source: Source, countries: Iterable[str], years: range) -> list[Row]:
    """remittance_inflows (US$ million) from a KNOMAD workbook's first sheet (later sheets are not data)."""
    keep = set(countries)
    sheet = read_sheets(path, [0], source.file)[0]
    return [
        Row(
            v.iso3,
            "remittance_inflows",
            str(v.year),
            v.value,
            source,
            f"{v.where} (US$ million; 0 or blank = missing)",
        )
        for v in read_by_name(sheet, zero_is_missing=True)
        if v.iso3 in keep and v.year in years
    ]


# WDI series -> (indicator, divisor to the indicator's unit, note for `method`)
WDI_SERIES = {
    "BX.TRF.PWKR.CD.DT": ("remittance_inflows", 1e6, "current US$ / 1e6"),
    "BX.TRF.PWKR.DT.GD.ZS": ("remittances_pct_gdp", 1.0, "as published"),
    "SI.RMT.COST.IB.ZS": ("remittance_cost_usd200_wdi", 1.0, "as published"),
}


def wdi_rows(path: Path, source: Source, series: str, countries: Iterable[str], years: range) -> list[Row]:
    """One WDI series for `countries` and `years`, converted to the indicator's unit."""
    keep = set(countries)
    indicator, divisor, note = WDI_SERIES[series]
    book = read_sheets(path, ["Data", "Metadata - Countries"], source.file)
    return [
        Row(v.iso3, indicator, str(v.year), v.value / divisor, source, f"{v.where} ({series}, {note})")
        for v in read_wdi(book["Data"], book["Metadata - Countries"], series)
        if v.iso3 in keep and v.year in years
    ]

"""UN DESA International Migrant Stock workbooks (2015 and 2017 revisions; Table 16 by origin).

Regions and groups are interleaved with countries and names carry notes, so rows are kept by their
numeric M49 code: a code in the workbook's ANNEX is a country, a code of 900 and above is an
aggregate, and anything else stops the ingest rather than silently losing a country.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ippmd.core.errors import InputError, Problem
from ippmd.indicators.codes import clean_label, is_aggregate_label, m49_to_iso3, names_to_iso3
from ippmd.indicators.provenance import Source
from ippmd.indicators.sheets import (
    Cell,
    Sheet,
    Value,
    find_row,
    header_text,
    is_blank,
    number_or_problem,
    read_sheets,
    year_of,
)
from ippmd.indicators.table import Row, top_partners

CODE_HEADERS = frozenset({"country code", "code"})
FIRST_AGGREGATE_CODE = 900  # UN DESA numbers its regions and groups 900 and above (M49 "9xx", 15xx)
WORLD_CODE = 900
NOT_CLASSIFICATION = frozenset({"notes", "sort order", "index"})


@dataclass(frozen=True)
class Annex:
    """The countries of a workbook: M49 code -> ISO3, and cleaned name -> M49 code."""

    iso3_by_code: dict[int, str]
    code_by_name: dict[str, int]


def _code(value: Cell) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _is_code_header(row: tuple[Cell, ...]) -> bool:
    return any(header_text(v) in CODE_HEADERS for v in row)


def _code_col(header: tuple[Cell, ...]) -> int:
    return next(i for i, v in enumerate(header) if header_text(v) in CODE_HEADERS)


def read_annex(sheet: Sheet) -> Annex:
    """Countries listed in the ANNEX sheet: rows with a code and at least one classification cell.

    The 2015 ANNEX lists countries only; the 2017 one also lists aggregates, which have no
    classification (major area, development group, ...) filled in.
    """
    h = find_row(sheet, _is_code_header, "ANNEX header row with 'Country code' or 'Code'")
    header = sheet.rows[h]
    code_col = _code_col(header)
    name_col = next((i for i, v in enumerate(header) if "country or area" in header_text(v)), None)
    if name_col is None:
        raise InputError([sheet.problem("ANNEX header has no 'country or area' column", h)])
    classification = [
        i
        for i, v in enumerate(header)
        if i not in (code_col, name_col) and header_text(v) and header_text(v) not in NOT_CLASSIFICATION
    ]
    codes: dict[int, int] = {}  # code -> row
    names: dict[str, int] = {}
    for r in range(h + 1, len(sheet.rows)):
        code = _code(sheet.cell(r, code_col))
        if code is None or not any(not is_blank(sheet.cell(r, c)) for c in classification):
            continue
        codes[code] = r
        names[clean_label(sheet.cell(r, name_col))] = code
    mapped = m49_to_iso3(codes)
    problems = [
        sheet.problem(
            "M49 country code maps to no ISO3 code (add it to country_codes.yaml)", r, code_col, code
        )
        for code, r in codes.items()
        if code not in mapped
    ]
    if problems:
        raise InputError(problems)
    return Annex(iso3_by_code=mapped, code_by_name=names)


def _country_rows(sheet: Sheet, header_row: int, annex: Annex) -> Iterable[tuple[int, str]]:
    """(row, ISO3) of every country row below the two header rows; aggregates skipped on purpose."""
    code_col = _code_col(sheet.rows[header_row])
    problems = []
    for r in range(header_row + 2, len(sheet.rows)):
        raw = sheet.cell(r, code_col)
        if is_blank(raw):
            continue  # blank separator or a footnote line
        code = _code(raw)
        if code is None:
            problems.append(sheet.problem("country code is not a number", r, code_col, raw))
        elif code in annex.iso3_by_code:
            yield r, annex.iso3_by_code[code]
        elif code < FIRST_AGGREGATE_CODE:
            problems.append(
                sheet.problem(
                    "M49 code is neither a country of the ANNEX nor an aggregate", r, code_col, code
                )
            )
    if problems:
        raise InputError(problems)


def read_by_country(sheet: Sheet, annex: Annex, block: str = "both sexes") -> list[Value]:
    """The `block` measure (e.g. "both sexes") of a Table 1/2/3 layout, one Value per country-year."""
    h = find_row(sheet, _is_code_header, "header row with 'Country code' or 'Code'")
    header, years = sheet.rows[h], h + 1
    start = next((i for i, v in enumerate(header) if block in header_text(v)), None)
    if start is None:
        raise InputError([sheet.problem(f"no '{block}' column block in the header", h)])
    end = next((i for i in range(start + 1, len(header)) if not is_blank(header[i])), len(header))
    year_cols = [(c, y) for c in range(start, end) if (y := year_of(sheet.cell(years, c))) is not None]
    if not year_cols:
        raise InputError([sheet.problem(f"no year under the '{block}' block", years)])
    values: list[Value] = []
    problems: list[Problem] = []
    for r, iso3 in _country_rows(sheet, h, annex):
        for c, year in year_cols:
            number = number_or_problem(sheet, r, c, problems)
            if number is not None:
                values.append(Value(iso3, year, number, sheet.at(r, c)))
    if problems:
        raise InputError(problems)
    return values


@dataclass(frozen=True)
class OriginDestination:
    """Table 16: each origin's emigrant total (WORLD row) and its stock in every destination country."""

    emigrants: dict[str, Value]
    by_destination: dict[str, list[tuple[str, float, str]]]


def read_origin_destination(sheet: Sheet, annex: Annex) -> OriginDestination:
    """Destinations down (with codes), origins across (names in the second header row)."""
    h = find_row(sheet, _is_code_header, "header row with 'Country code' or 'Code'")
    first = next((i for i, v in enumerate(sheet.rows[h]) if "origin" in header_text(v)), None)
    if first is None:
        raise InputError([sheet.problem("no 'Country of origin' header", h)])
    labels = {c: clean_label(v) for c, v in enumerate(sheet.rows[h + 1]) if c >= first and not is_blank(v)}
    countries = {c: name for c, name in labels.items() if not is_aggregate_label(name)}
    unknown = [name for name in countries.values() if name not in annex.code_by_name]
    by_name = names_to_iso3(unknown)  # fallback for spellings the ANNEX does not use
    origins: dict[int, str] = {}
    problems: list[Problem] = []
    for c, name in countries.items():
        if name in annex.code_by_name:
            origins[c] = annex.iso3_by_code[annex.code_by_name[name]]
        elif name in by_name:
            origins[c] = by_name[name]
        else:
            problems.append(sheet.problem("origin country name maps to no ISO3 code", h + 1, c, name))
    if problems:
        raise InputError(problems)
    code_col = _code_col(sheet.rows[h])
    world = next(
        (r for r in range(h + 2, len(sheet.rows)) if _code(sheet.cell(r, code_col)) == WORLD_CODE), None
    )
    if world is None:
        raise InputError([sheet.problem(f"no WORLD row (code {WORLD_CODE})")])
    emigrants = {}
    by_destination: dict[str, list[tuple[str, float, str]]] = {iso3: [] for iso3 in origins.values()}
    for c, iso3 in origins.items():
        number = number_or_problem(sheet, world, c, problems, zero_is_missing=True)
        if number is not None:
            emigrants[iso3] = Value(iso3, 2015, number, sheet.at(world, c))
    for r, destination in _country_rows(sheet, h, annex):
        for c, iso3 in origins.items():
            number = number_or_problem(sheet, r, c, problems, zero_is_missing=True)
            if number is not None:
                by_destination[iso3].append((destination, number, sheet.at(r, c)))
    if problems:
        raise InputError(problems)
    return OriginDestination(emigrants, by_destination)


def stock_rows(path: Path, source: Source, countries: Iterable[str]) -> tuple[list[Row], dict[str, Value]]:
    """population, immigrant_stock, immigrant_stock_share for `countries` from a MigrantStockTotal workbook.

    Also returns each country's 2015 population (in persons), the denominator of the emigrant shares.
    """
    keep = set(countries)
    book = read_sheets(path, ["Table 1", "Table 2", "Table 3", "ANNEX"], source.file)
    annex = read_annex(book["ANNEX"])
    rows: list[Row] = []
    population: dict[tuple[str, int], Value] = {}
    for v in read_by_country(book["Table 2"], annex, "both sexes"):
        if v.iso3 in keep:
            persons = float(round(v.value * 1000))
            population[(v.iso3, v.year)] = Value(v.iso3, v.year, persons, v.where)
            rows.append(
                Row(v.iso3, "population", str(v.year), persons, source, f"{v.where} (thousands) x 1000")
            )
    for indicator, table in (("immigrant_stock", "Table 1"), ("immigrant_stock_share", "Table 3")):
        for v in read_by_country(book[table], annex, "both sexes"):
            if v.iso3 in keep:
                rows.append(Row(v.iso3, indicator, str(v.year), v.value, source, f"{v.where} (both sexes)"))
    return rows, {iso3: value for (iso3, year), value in population.items() if year == 2015}


def origin_destination_rows(
    path: Path, source: Source, countries: Iterable[str], population: dict[str, Value], population_file: str
) -> list[Row]:
    """emigrant_stock, emigrant_stock_share (with the same revision's population) and top-10 destinations."""
    keep = set(countries)
    book = read_sheets(path, ["Table 16", "ANNEX"], source.file)
    table = read_origin_destination(book["Table 16"], read_annex(book["ANNEX"]))
    rows: list[Row] = []
    for iso3 in sorted(keep & table.emigrants.keys()):
        stock = table.emigrants[iso3]
        rows.append(Row(iso3, "emigrant_stock", "2015", stock.value, source, f"{stock.where} (WORLD row)"))
        if iso3 in population:
            pop = population[iso3]
            rows.append(
                Row(
                    iso3,
                    "emigrant_stock_share",
                    "2015",
                    stock.value / pop.value * 100,
                    source,
                    f"emigrant_stock ({stock.where}) / population ({population_file} {pop.where}, "
                    "thousands x 1000) x 100",
                )
            )
        for partner, value, where in sorted(table.by_destination[iso3]):
            rows.append(
                Row(iso3, "corridor_migrant_stock", "2015", value, source, where, partner_iso3=partner)
            )
        ranked = top_partners(table.by_destination[iso3], 10)
        for rank, (partner, value, where) in enumerate(ranked, start=1):
            rows.append(
                Row(
                    iso3,
                    "emigrants_by_destination",
                    "2015",
                    value,
                    source,
                    f"{where}; destination rank {rank} of the country's emigrants",
                    partner_iso3=partner,
                )
            )
    return rows

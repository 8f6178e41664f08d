"""World Bank bilateral matrices 2017 (April 2018): migrant stocks and remittances between countries.

Both matrices name countries on both axes (no codes) and end with notes under a blank row; a note
such as "... the Australian Bureau of Statistics ..." would map to Australia, so the data block is
cut at the first blank name and every name must map to exactly one country.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ippmd.core.errors import InputError, Problem
from ippmd.indicators.codes import clean_label, is_aggregate_label, names_to_iso3
from ippmd.indicators.provenance import Source
from ippmd.indicators.sheets import Sheet, find_row, is_blank, number_or_problem, read_sheets
from ippmd.indicators.table import Row, top_partners

TOTAL_LABELS = frozenset({"world"})


@dataclass(frozen=True)
class Matrix:
    """Country -> row and column indices of a bilateral matrix, and its World total row/column."""

    sheet: Sheet
    rows: dict[str, int]
    cols: dict[str, int]
    total_row: int | None
    total_col: int | None


def _map(sheet: Sheet, labels: dict[tuple[int, int], str], axis: str) -> tuple[dict[str, int], int | None]:
    """Map one axis's labels (keyed by cell) to ISO3; returns (iso3 -> index, index of World)."""
    countries = {cell: name for cell, name in labels.items() if not is_aggregate_label(name)}
    mapped = names_to_iso3(countries.values())
    total = next((cell for cell, name in labels.items() if name.lower() in TOTAL_LABELS), None)
    index = 0 if axis == "row" else 1
    out: dict[str, int] = {}
    problems: list[Problem] = []
    for (r, c), name in countries.items():
        iso3 = mapped.get(name)
        if iso3 is None:
            problems.append(sheet.problem(f"{axis} country name maps to no ISO3 code", r, c, name))
        elif iso3 in out:
            problems.append(sheet.problem(f"second {axis} for {iso3}", r, c, name))
        else:
            out[iso3] = (r, c)[index]
    if problems:
        raise InputError(problems)
    return out, None if total is None else total[index]


def read_matrix(sheet: Sheet) -> Matrix:
    """A title row, then a header row of names across, then names down until the first blank row."""
    # The title row has text in column A only; the header row has names across.
    h = find_row(
        sheet, lambda row: sum(isinstance(v, str) and bool(v.strip()) for v in row[1:]) >= 2, "header row"
    )
    across = {(h, c): clean_label(v) for c, v in enumerate(sheet.rows[h]) if c >= 1 and not is_blank(v)}
    down: dict[tuple[int, int], str] = {}
    for r in range(h + 1, len(sheet.rows)):
        if is_blank(sheet.cell(r, 0)):
            break  # notes follow
        down[(r, 0)] = clean_label(sheet.cell(r, 0))
    cols, total_col = _map(sheet, across, "column")
    rows, total_row = _map(sheet, down, "row")
    return Matrix(sheet, rows, cols, total_row, total_col)


def migration_rows(path: Path, source: Source, countries: Iterable[str]) -> list[Row]:
    """Origins down, destinations across: emigrant_stock (World column) and the ten largest destinations."""
    matrix = read_matrix(read_sheets(path, [0], source.file)[0])
    sheet = matrix.sheet
    problems: list[Problem] = []
    out: list[Row] = []
    if matrix.total_col is None:
        raise InputError([sheet.problem("no World column")])
    for iso3 in sorted(set(countries) & matrix.rows.keys()):
        r = matrix.rows[iso3]
        total = number_or_problem(sheet, r, matrix.total_col, problems, zero_is_missing=True)
        if total is not None:
            where = sheet.at(r, matrix.total_col)
            out.append(Row(iso3, "emigrant_stock", "2017", total, source, f"{where} (World column)"))
        cells = [
            (partner, v, sheet.at(r, c))
            for partner, c in matrix.cols.items()
            if (v := number_or_problem(sheet, r, c, problems, zero_is_missing=True)) is not None
        ]
        for rank, (partner, value, where) in enumerate(top_partners(cells, 10), start=1):
            method = f"{where}; destination rank {rank} of the country's emigrants"
            out.append(
                Row(iso3, "emigrants_by_destination", "2017", value, source, method, partner_iso3=partner)
            )
    if problems:
        raise InputError(problems)
    return out


def remittance_rows(path: Path, source: Source, countries: Iterable[str]) -> list[Row]:
    """Senders down, receivers across: remittance_inflows (WORLD row) and the ten largest senders."""
    matrix = read_matrix(read_sheets(path, [0], source.file)[0])
    sheet = matrix.sheet
    problems: list[Problem] = []
    out: list[Row] = []
    if matrix.total_row is None:
        raise InputError([sheet.problem("no WORLD row")])
    for iso3 in sorted(set(countries) & matrix.cols.keys()):
        c = matrix.cols[iso3]
        total = number_or_problem(sheet, matrix.total_row, c, problems, zero_is_missing=True)
        if total is not None:
            where = sheet.at(matrix.total_row, c)
            method = f"{where} (WORLD row; analytical estimate, US$ million)"
            out.append(Row(iso3, "remittance_inflows", "2017", total, source, method))
        cells = [
            (partner, v, sheet.at(r, c))
            for partner, r in matrix.rows.items()
            if (v := number_or_problem(sheet, r, c, problems, zero_is_missing=True)) is not None
        ]
        for partner, value, where in sorted(cells):
            method = f"{where} (analytical estimate, US$ million)"
            out.append(
                Row(iso3, "corridor_remittance_flow", "2017", value, source, method, partner_iso3=partner)
            )
        for rank, (partner, value, where) in enumerate(top_partners(cells, 10), start=1):
            method = f"{where}; sender rank {rank} (analytical estimate, US$ million)"
            out.append(
                Row(iso3, "remittances_by_sender", "2017", value, source, method, partner_iso3=partner)
            )
    if problems:
        raise InputError(problems)
    return out

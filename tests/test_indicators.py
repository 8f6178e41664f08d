"""Country indicators: the parsers on small generated files in the originals' layouts (no originals needed).

Each file reproduces the quirks of its original (banner rows, two header rows, `..`, footers, BOM,
`*` markers, aggregates interleaved with countries) so that a parser change that mishandles one
fails here, not silently in the committed table.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import polars as pl
import pytest
import yaml
from frictionless import Schema
from openpyxl.worksheet.worksheet import Worksheet

from ippmd.core.errors import InputError
from ippmd.core.home import schemas_dir
from ippmd.indicators import bilateral, codes, remittance_flows, rpw, un_desa
from ippmd.indicators.figures import figure_1_3, figure_1_3_table
from ippmd.indicators.provenance import SOURCES_FILE, Source, check_originals, sources, targets
from ippmd.indicators.sheets import Sheet, column_letter, read_sheets, to_number, year_of
from ippmd.indicators.table import INDICATORS, SCHEMA_FILE, Row, to_frame, top_partners, write_csv

SOURCE = Source(
    id="test", file="test-dir/test.xlsx", vintage="Test vintage", sha256="0" * 64, producer="P", title="T"
)
OTHER = Source(
    id="other", file="test-dir/other.xlsx", vintage="Other vintage", sha256="1" * 64, producer="P", title="T"
)
BANNER = ["United Nations", "Population Division", None, "Trends in International Migrant Stock", "Table"]


# ---------------------------------------------------------------- generated originals


def _first_sheet(book: openpyxl.Workbook) -> Worksheet:
    """A new workbook's one sheet (openpyxl's stubs type `active` as optional and any kind of sheet)."""
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    return sheet


def _banner(ws: Worksheet, rows: int = 14) -> None:
    """Banner rows like the UN workbooks: a few titles in column E, blank rows around."""
    for i in range(rows):
        text = BANNER[i - 4] if 4 <= i < 4 + len(BANNER) else None
        ws.append([None, None, None, None, text])


def _annex(ws: Worksheet, countries: list[tuple[int, str]]) -> None:
    _banner(ws)
    ws.append(["Country code", "Country or area", "Sort order", "Major area", "Code", "Sort order", "Region"])
    for code, name in countries:
        ws.append([code, name, 1, "Asia", 935, 2, "South-Eastern Asia"])


ANNEX = [
    (116, "Cambodia"),
    (268, "Georgia"),
    (384, "Côte d'Ivoire"),
    (51, "Armenia"),
    (764, "Thailand"),
    (840, "United States of America"),
    (830, "Channel Islands"),
]


def _un_table(ws: Worksheet, measure: str, rows: list[list[Any]]) -> None:
    """Table 1/2/3 layout: banner, measure row (both sexes, then male), years row, data rows."""
    _banner(ws)
    ws.append(
        [
            "Sort\norder",
            "Major area, region, country or area of destination",
            "Notes",
            "Country code",
            "Type of data (a)",
            f"{measure} (both sexes)",
            None,
            f"{measure} (male)",
            None,
        ]
    )
    ws.append([None, None, None, None, None, 2000, 2015, 2000, 2015])
    for row in rows:
        ws.append(row)


def stock_workbook(path: Path, extra_rows: list[list[Any]] | None = None) -> Path:
    book = openpyxl.Workbook()
    _first_sheet(book).title = "CONTENTS"
    data = {  # code -> (name, notes, Table 1 2000, 2015, Table 2 2000, 2015, Table 3 2000, 2015)
        900: ("WORLD", None, 172703309, 243700236, 6126622.121, 7349472.099, 2.8, 3.3),
        901: ("Developed regions", "(b)", 103375363, 140481955, 1188811.731, 1251351.086, 8.7, 11.2),
        935: ("Asia", None, 50000000, 75000000, 3700000.0, 4400000.0, 1.4, 1.7),
        116: ("Cambodia", None, 146085, 73963, 12197.905, 15577.899, 1.1976, 0.4747944507792739),
        268: ("Georgia", "(11)", 218600, 168802, 4743.591, 3999.812, 4.6, 4.220248351672529),
        51: ("Armenia", None, "..", 191199, 3076.098, 3017.712, "..", 6.335892888386963),
    }
    for title, measure, offset in (
        ("Table 1", "International migrant stock at mid-year", 0),
        ("Table 2", "Total population at mid-year (thousands)", 2),
        ("Table 3", "International migrant stock as a percentage of the total population", 4),
    ):
        rows = [
            [i, name, notes, code, "B", values[offset], values[offset + 1], 1, 1]
            for i, (code, (name, notes, *values)) in enumerate(data.items(), start=1)
        ]
        _un_table(book.create_sheet(title), measure, rows + (extra_rows or []))
    _annex(book.create_sheet("ANNEX"), ANNEX)
    book.save(path)
    return path


def origin_destination_workbook(path: Path, origins: list[str]) -> Path:
    """Table 16 layout: destinations down (with codes), origin names across in the second header row."""
    book = openpyxl.Workbook()
    ws = _first_sheet(book)
    ws.title = "Table 16"
    _banner(ws)
    ws.append(
        [
            "Sort\norder",
            "Major area, region, country or area of destination",
            "Notes",
            "Country code",
            "Type of data (a)",
            "Country of origin",
        ]
    )
    ws.append([None, None, None, None, None, "Total", "Other North", "Other South", *origins])
    values = {  # destination code -> value per origin (Cambodia, Côte d'Ivoire, Georgia)
        900: (1187142, 1100000, 853000),
        935: (900000, 5000, 300000),  # Asia: an aggregate, must never become a destination
        764: (805272, None, 0),  # 0 = no estimate
        840: (167039, 40000, 30000),
        268: (5, None, None),
        830: (12, 7, 3),
    }
    names = {
        900: "WORLD",
        935: "Asia",
        764: "Thailand",
        840: "United States of America",
        268: "Georgia",
        830: "Channel Islands",
    }
    for i, (code, row) in enumerate(values.items(), start=1):
        ws.append([i, names[code], None, code, "B", sum(v or 0 for v in row), 0, 0, *row])
    _annex(book.create_sheet("ANNEX"), ANNEX)
    book.save(path)
    return path


def knomad_workbook(path: Path, rows: list[list[Any]]) -> Path:
    """KNOMAD layout: title + years on row 1 (with an estimate column), names down, footer notes."""
    book = openpyxl.Workbook()
    ws = _first_sheet(book)
    ws.title = "Remittance inflows"
    ws.append(
        ["Migrant remittance inflows (US$ million)", 2014, 2015, 2016, 2017, "2018e", None, "Share of GDP"]
    )
    for row in rows:
        ws.append(row)
    ws.append([None])
    ws.append(["Source: World Bank staff calculation; see the Australian Bureau of Statistics and others."])
    ws.append(["Date: December 2018"])
    junk = book.create_sheet("Percentage Remmitance")  # a later user's sheet: not data
    junk.append(["Year", "Nepal- Remittance"])
    junk.append([1993, 54.8])
    book.save(path)
    return path


KNOMAD_ROWS: list[list[Any]] = [
    ["Cambodia", 376.75, 400.019008, 370.59, 386.29, 413.5, None, 0.017],
    ["Cote d'Ivoire*", 0, 336.2, " ", 341.6, 380.6, None, 0.008],  # 0 and " " = missing
    ["Georgia", None, 1458.7, 1520.8, 1793.9, 2140.2, None, 0.13],
    ["World", 1e6, 1e6, 1e6, 1e6, 1e6, None, None],
]


def rpw_csv(path: Path, rows: list[str]) -> Path:
    """DataBank corridor export: BOM, two spaces in 'Receiving Countries  Code', `..`, footer rows."""
    header = (
        "Sending Countries Name,Sending Countries Code,Series Name,Series Code,Receiving Countries  Name,"
        "Receiving Countries  Code,2015Q3 [YR2015Q3],2015Q4 [YR2015Q4],2016Q1 [YR2016Q1],2016Q2 [YR2016Q2]"
    )
    footer = [
        ",,,,,,,,,",
        "Data from database: Remittance Prices Worldwide (Corridors),,,,,,,,,",
        "Last Updated: 12/07/2020,,,,,,,,,",
    ]
    path.write_bytes(("\ufeff" + "\n".join([header, *rows, *footer]) + "\n").encode("utf-8"))
    return path


def corridor(sender: str, receiver: str, values: str, series: str = "ATCR.CORR") -> str:
    names = {
        "THA": "Thailand",
        "KOR": '"Korea, Rep."',
        "USA": "United States",
        "KHM": "Cambodia",
        "PHL": "Philippines",
    }
    cells = [
        names.get(sender, sender),
        sender,
        "Average Total Cost",
        series,
        names.get(receiver, receiver),
        receiver,
    ]
    return ",".join([*cells, values])


RPW_ROWS = [
    corridor("THA", "KHM", "..,12.2,14.0,.."),
    corridor("KOR", "PHL", "5,4,..,.."),
    corridor("USA", "PHL", "..,8,6,2"),
    corridor("USA", "KHM", "..,..,..,.."),  # a corridor without any price
]


# ---------------------------------------------------------------- cell rules


def test_missing_markers_and_numbers() -> None:
    assert (
        to_number("..") is None
        and to_number("") is None
        and to_number(" ") is None
        and to_number("-") is None
    )
    assert to_number(None) is None
    assert to_number(0) == 0.0  # zero is a value by default...
    assert to_number(0, zero_is_missing=True) is None  # ...and "no data" in KNOMAD/bilateral files
    assert to_number("1,234.5") == 1234.5 and to_number(7) == 7.0
    with pytest.raises(ValueError):
        to_number("n/a")


def test_year_headers_exclude_estimates() -> None:
    assert [year_of(v) for v in (2015, 2015.0, "2015", "2018e", "Total", None, 12)] == [
        2015,
        2015,
        2015,
        None,
        None,
        None,
        None,
    ]
    assert [column_letter(i) for i in (0, 25, 26, 217)] == ["A", "Z", "AA", "HJ"]


def test_names_are_cleaned_and_matched_whatever_the_spelling() -> None:
    assert codes.clean_label("Cambodia* ") == "Cambodia"
    assert codes.clean_label("\u00a0Georgia *") == "Georgia"
    mapped = codes.names_to_iso3(["Côte d'Ivoire", "Cote d'Ivoire", "Ivory Coast", "Cambodia*"])
    assert mapped == {"Côte d'Ivoire": "CIV", "Cote d'Ivoire": "CIV", "Ivory Coast": "CIV", "Cambodia": "KHM"}
    assert codes.names_to_iso3(["Atlantis"]) == {}
    assert codes.m49_to_iso3([116, 384, 830, 999]) == {116: "KHM", 384: "CIV", 830: "CHI"}
    assert codes.is_aggregate_label("World") and codes.is_aggregate_label("Other South")
    assert not codes.is_aggregate_label("Cambodia")
    assert list(codes.ippmd_countries()) == [
        "ARM",
        "BFA",
        "KHM",
        "CRI",
        "CIV",
        "DOM",
        "GEO",
        "HTI",
        "MAR",
        "PHL",
    ]


# ---------------------------------------------------------------- UN DESA


def test_un_table_keeps_countries_by_code(tmp_path: Path) -> None:
    book = read_sheets(stock_workbook(tmp_path / "stock.xlsx"), ["Table 1", "ANNEX"])
    annex = un_desa.read_annex(book["ANNEX"])
    values = {(v.iso3, v.year): v for v in un_desa.read_by_country(book["Table 1"], annex)}
    # WORLD (900), a development group (901) and a region (935) are aggregates, left out on purpose
    assert {iso3 for iso3, _ in values} == {"KHM", "GEO", "ARM"}
    assert values[("GEO", 2015)].value == 168802
    assert ("ARM", 2000) not in values  # `..` = missing: no value, never a zero
    assert values[("KHM", 2015)].where == "sheet 'Table 1' row 20 col G"  # both-sexes block, 2015 column


def test_un_stock_rows_scale_population(tmp_path: Path) -> None:
    rows, population = un_desa.stock_rows(
        stock_workbook(tmp_path / "stock.xlsx"), SOURCE, ["KHM", "GEO", "BFA"]
    )
    got = {(r.iso3, r.indicator, r.period): r for r in rows}
    assert got[("KHM", "population", "2015")].value == 15_577_899  # thousands x 1000, whole persons
    assert got[("KHM", "immigrant_stock_share", "2015")].value == 0.4747944507792739  # as published
    assert {r.iso3 for r in rows} == {"KHM", "GEO"}  # BFA asked for but not in the file: no row
    assert population["GEO"].value == 3_999_812


def test_un_country_code_outside_annex_raises(tmp_path: Path) -> None:
    stray = [[99, "Atlantis", None, 123, "B", 1, 2, 1, 1]]  # code below 900, not in the ANNEX
    book = read_sheets(stock_workbook(tmp_path / "stock.xlsx", stray), ["Table 1", "ANNEX"])
    with pytest.raises(InputError) as caught:
        un_desa.read_by_country(book["Table 1"], un_desa.read_annex(book["ANNEX"]))
    problem = caught.value.problems[0]
    assert (problem.row, problem.field, problem.value) == (23, "D", "123")
    assert "Table 1" in problem.file and "ANNEX" in problem.message


def test_un_text_in_a_number_cell_raises(tmp_path: Path) -> None:
    bad = [[99, "Georgia again", None, 268, "B", "n/a", 2, 1, 1]]
    book = read_sheets(stock_workbook(tmp_path / "stock.xlsx", bad), ["Table 1", "ANNEX"])
    with pytest.raises(InputError) as caught:
        un_desa.read_by_country(book["Table 1"], un_desa.read_annex(book["ANNEX"]))
    assert (caught.value.problems[0].row, caught.value.problems[0].value) == (23, "n/a")


def test_origin_destination_totals_and_destinations(tmp_path: Path) -> None:
    path = origin_destination_workbook(tmp_path / "od.xlsx", ["Cambodia*", "Côte d'Ivoire", "Georgia"])
    book = read_sheets(path, ["Table 16", "ANNEX"])
    table = un_desa.read_origin_destination(book["Table 16"], un_desa.read_annex(book["ANNEX"]))
    assert table.emigrants["KHM"].value == 1187142  # the WORLD row, `*` marker stripped from the name
    destinations = {iso3: {p for p, _, _ in values} for iso3, values in table.by_destination.items()}
    assert destinations["KHM"] == {"THA", "USA", "GEO", "CHI"}  # Asia (an aggregate) never a partner
    assert destinations["GEO"] == {"USA", "CHI"}  # 0 in Thailand = no estimate
    population = {"KHM": un_desa.Value("KHM", 2015, 15_577_899.0, "sheet 'Table 2' row 104 col J")}
    rows = un_desa.origin_destination_rows(path, SOURCE, ["KHM"], population, "stock.xlsx")
    share = next(r for r in rows if r.indicator == "emigrant_stock_share")
    assert round(share.value, 2) == 7.62
    ranked = [(r.partner_iso3, r.value) for r in rows if r.indicator == "emigrants_by_destination"]
    assert ranked == [("THA", 805272), ("USA", 167039), ("CHI", 12), ("GEO", 5)]


def test_origin_destination_unknown_origin_name_raises(tmp_path: Path) -> None:
    path = origin_destination_workbook(tmp_path / "od.xlsx", ["Cambodia", "Atlantis", "Georgia"])
    book = read_sheets(path, ["Table 16", "ANNEX"])
    with pytest.raises(InputError) as caught:
        un_desa.read_origin_destination(book["Table 16"], un_desa.read_annex(book["ANNEX"]))
    problem = caught.value.problems[0]
    assert (problem.row, problem.field, problem.value) == (16, "J", "Atlantis")
    assert "Table 16" in str(caught.value)


def test_origin_names_not_in_annex_fall_back_to_country_converter(tmp_path: Path) -> None:
    path = origin_destination_workbook(tmp_path / "od.xlsx", ["Cambodia", "Ivory Coast", "Georgia"])
    book = read_sheets(path, ["Table 16", "ANNEX"])
    table = un_desa.read_origin_destination(book["Table 16"], un_desa.read_annex(book["ANNEX"]))
    assert table.emigrants["CIV"].value == 1100000


# ---------------------------------------------------------------- KNOMAD / WDI


def test_knomad_first_sheet_names_zeros_and_footer(tmp_path: Path) -> None:
    path = knomad_workbook(tmp_path / "knomad.xlsx", KNOMAD_ROWS)
    rows = remittance_flows.knomad_rows(path, SOURCE, ["KHM", "CIV", "GEO"], range(2010, 2018))
    got = {(r.iso3, r.period): r.value for r in rows}
    assert got[("KHM", "2015")] == 400.019008
    assert ("CIV", "2014") not in got and ("CIV", "2016") not in got  # 0 and " " = missing
    assert ("CIV", "2015") in got  # "Cote d'Ivoire*" matched despite spelling and marker
    assert not any(p == "2018" for _, p in got)  # "2018e" is an estimate, not read
    assert {r.indicator for r in rows} == {"remittance_inflows"}


def test_knomad_unknown_name_raises_with_row(tmp_path: Path) -> None:
    path = knomad_workbook(tmp_path / "knomad.xlsx", [*KNOMAD_ROWS[:2], ["Atlantis", 1, 2, 3, 4, 5]])
    with pytest.raises(InputError) as caught:
        remittance_flows.knomad_rows(path, SOURCE, ["KHM"], range(2010, 2018))
    problem = caught.value.problems[0]
    assert (problem.row, problem.field, problem.value) == (4, "A", "Atlantis")


def test_a_date_where_a_number_belongs_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """openpyxl reads a date-formatted cell as a datetime; it is reported like any other non-number."""
    rows = [*KNOMAD_ROWS[:2], ["Georgia", datetime.datetime(2015, 1, 1), 1, 2, 3, 4]]
    path = knomad_workbook(tmp_path / "knomad.xlsx", rows)
    with pytest.raises(InputError, match="expected a number") as caught:
        remittance_flows.knomad_rows(path, SOURCE, ["GEO"], range(2010, 2018))
    problem = caught.value.problems[0]
    assert (problem.row, problem.field, problem.value) == (4, "B", "2015-01-01 00:00:00")


def test_knomad_two_rows_for_one_country_raise(tmp_path: Path) -> None:
    path = knomad_workbook(tmp_path / "knomad.xlsx", [*KNOMAD_ROWS[:2], ["Kampuchea, Cambodia", 1, 2, 3, 4]])
    with pytest.raises(InputError, match="second row for KHM"):
        remittance_flows.knomad_rows(path, SOURCE, ["KHM"], range(2010, 2018))


def wdi_workbook(path: Path, series: str, rows: list[list[Any]]) -> Path:
    """WDI export layout: two banner rows, a blank row, header on row 4, and the metadata sheet."""
    book = openpyxl.Workbook()
    data = _first_sheet(book)
    data.title = "Data"
    data.append(["Data Source", "World Development Indicators"])
    data.append(["Last Updated Date", 45056])
    data.append([])
    data.append(["Country Name", "Country Code", "Indicator Name", "Indicator Code", "2014", "2015", "2016"])
    for row in rows:
        data.append([*row[:2], "Some indicator", series, *row[2:]])
    meta = book.create_sheet("Metadata - Countries")
    meta.append(["Country Code", "Region", "IncomeGroup", "SpecialNotes", "TableName"])
    for code, region in (
        ("KHM", "East Asia & Pacific"),
        ("CIV", "Sub-Saharan Africa"),
        ("EAS", None),
        ("WLD", None),
    ):
        meta.append([code, region, "x" if region else None, None, code])
    book.save(path)
    return path


def test_wdi_drops_aggregates_and_converts_units(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["Cambodia", "KHM", 1103123111.7, 1185470632.9, None],
        ["East Asia & Pacific", "EAS", 1e11, 1e11, 1e11],
        ["Not classified", "INX", None, None, None],  # no metadata: a declared non-country code
        ["World", "WLD", 1e12, 1e12, 1e12],
        ["Cote d'Ivoire", "CIV", None, 387214302.3, 336382061.9],
    ]
    path = wdi_workbook(tmp_path / "wdi.xlsx", "BX.TRF.PWKR.CD.DT", rows)
    got = {
        (r.iso3, r.period): r
        for r in remittance_flows.wdi_rows(
            path, SOURCE, "BX.TRF.PWKR.CD.DT", ["KHM", "CIV"], range(2010, 2023)
        )
    }
    assert set(got) == {("KHM", "2014"), ("KHM", "2015"), ("CIV", "2015"), ("CIV", "2016")}
    assert math.isclose(got[("KHM", "2015")].value, 1185.4706329)  # current US$ -> US$ million
    assert got[("KHM", "2015")].indicator == "remittance_inflows"


def test_wdi_code_without_metadata_raises(tmp_path: Path) -> None:
    path = wdi_workbook(tmp_path / "wdi.xlsx", "SI.RMT.COST.IB.ZS", [["Atlantis", "ATL", 1, 2, 3]])
    with pytest.raises(InputError) as caught:
        remittance_flows.wdi_rows(path, SOURCE, "SI.RMT.COST.IB.ZS", ["KHM"], range(2010, 2023))
    assert (caught.value.problems[0].row, caught.value.problems[0].value) == (5, "ATL")


# ---------------------------------------------------------------- RPW corridors


def test_rpw_bom_quoted_names_and_footer(tmp_path: Path) -> None:
    costs = rpw.read_corridors(rpw_csv(tmp_path / "rpw.csv", RPW_ROWS))
    assert {(c.sender, c.receiver, c.period): c.value for c in costs} == {
        ("THA", "KHM", "2015Q4"): 12.2,
        ("THA", "KHM", "2016Q1"): 14.0,
        ("KOR", "PHL", "2015Q3"): 5.0,
        ("KOR", "PHL", "2015Q4"): 4.0,
        ("USA", "PHL", "2015Q4"): 8.0,
        ("USA", "PHL", "2016Q1"): 6.0,
        ("USA", "PHL", "2016Q2"): 2.0,
    }


def test_rpw_country_cost_is_mean_over_corridors_then_quarters(tmp_path: Path) -> None:
    costs = rpw.read_corridors(rpw_csv(tmp_path / "rpw.csv", RPW_ROWS))
    rows = rpw.cost_rows(costs, SOURCE, ["KHM", "PHL", "BFA"])
    got = {(r.iso3, r.period): (r.value, r.n_corridors) for r in rows}
    assert got[("PHL", "2015Q4")] == (6.0, 2)  # mean of KOR 4 and USA 8
    assert got[("PHL", "2015Q3")] == (5.0, 1)
    # 2015 = mean of the quarterly country values (5 and 6) = 5.5, not the corridor-quarter mean 17/3
    assert got[("PHL", "2015")] == (5.5, 2)
    assert got[("PHL", "2016")] == (4.0, 1)
    assert got[("KHM", "2015Q4")] == (12.2, 1)
    assert not any(iso3 == "BFA" for iso3, _ in got)  # no priced corridor: no row, never a zero
    assert "senders KOR, USA" in next(r.method for r in rows if (r.iso3, r.period) == ("PHL", "2015Q4"))


def test_rpw_bad_code_and_bad_value_raise_with_line(tmp_path: Path) -> None:
    bad = [RPW_ROWS[0], corridor("THA", "Cambodia", "..,1,2,3"), corridor("USA", "PHL", "..,n/a,1,2")]
    with pytest.raises(InputError) as caught:
        rpw.read_corridors(rpw_csv(tmp_path / "rpw.csv", bad))
    found = {(p.row, p.value) for p in caught.value.problems}
    assert found == {(3, "Cambodia"), (4, "n/a")}


# ---------------------------------------------------------------- World Bank bilateral matrices


def bilateral_workbook(path: Path, title: str, total: str) -> Path:
    book = openpyxl.Workbook()
    ws = _first_sheet(book)
    ws.title = "Bilateral"
    ws.append([title])
    ws.append([None, "Cambodia", "Thailand", "United States", "Korea, Rep.", total])
    ws.append(["Cambodia", 0, 750109, 160000, 30000, 940109])
    ws.append(["Thailand", 184.7, 0, "-", 5, 190])
    ws.append(["United States", 120.5, 10, 0, 8, 138.5])
    ws.append(["Korea, Rep.", 30.1, 2, 0, 0, 32.1])
    ws.append([total, 335.3, 750121, 160000, 30013, 1e6])
    ws.append([None])
    ws.append(["Notes:"])
    ws.append(["Estimates based on the Australian Bureau Statistics and the US Census Bureau."])
    book.create_sheet("countries-comparison").append(["a later user's sheet"])
    book.save(path)
    return path


def test_bilateral_matrices_totals_and_partners(tmp_path: Path) -> None:
    migration = bilateral_workbook(
        tmp_path / "mig.xlsx", "Bilateral Estimates of Migrant Stocks in 2017", "World"
    )
    rows = bilateral.migration_rows(migration, SOURCE, ["KHM"])
    assert [(r.indicator, r.partner_iso3, r.value) for r in rows] == [
        ("emigrant_stock", "WLD", 940109),
        ("emigrants_by_destination", "THA", 750109),
        ("emigrants_by_destination", "USA", 160000),
        ("emigrants_by_destination", "KOR", 30000),
    ]
    money = bilateral_workbook(tmp_path / "rem.xlsx", "Bilateral Remittance Estimates for 2017", "WORLD")
    rows = bilateral.remittance_rows(money, SOURCE, ["KHM"])
    assert [(r.indicator, r.partner_iso3, r.value) for r in rows] == [
        ("remittance_inflows", "WLD", 335.3),
        ("corridor_remittance_flow", "KOR", 30.1),  # every sender, in code order
        ("corridor_remittance_flow", "THA", 184.7),
        ("corridor_remittance_flow", "USA", 120.5),
        ("remittances_by_sender", "THA", 184.7),
        ("remittances_by_sender", "USA", 120.5),
        ("remittances_by_sender", "KOR", 30.1),
    ]


# ---------------------------------------------------------------- the table and its CSV


def test_vintages_are_separate_rows_and_a_repeated_key_is_refused() -> None:
    rows = [
        Row("KHM", "remittance_inflows", "2015", 400.019008, SOURCE, "m"),
        Row("KHM", "remittance_inflows", "2015", 1185.47, OTHER, "m"),
    ]
    frame = to_frame(rows)
    assert frame.filter(pl.col("iso3") == "KHM").select("vintage", "value").rows() == [
        ("Other vintage", 1185.47),
        ("Test vintage", 400.019008),
    ]
    with pytest.raises(ValueError, match="duplicate"):
        to_frame([rows[0], rows[0]])


def test_write_csv_is_byte_stable_and_atomic(tmp_path: Path) -> None:
    rows = [
        Row("KHM", "emigrant_stock", "2015", 1187142.0, SOURCE, "WORLD row, col AR"),
        Row("KHM", "remittance_cost_usd200", "2015Q4", 12.2075004577637, SOURCE, "m", n_corridors=1),
    ]
    frame = to_frame(reversed(rows))
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(frame, first)
    write_csv(to_frame(rows), second)
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith(
        "KHM,emigrant_stock,WLD,2015,2015,1187142,persons,,test,"
    )  # no ".0", empty = null
    assert '"WORLD row, col AR"' in lines[1]
    assert ",12.2075004577637,% of amount sent,1," in lines[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]  # no temp file left behind


def test_top_partners_ranks_and_ties() -> None:
    values = [("USA", 5.0, ""), ("CAN", 5.0, ""), ("THA", 9.0, ""), ("FRA", 0.0, "")]
    assert [p for p, _, _ in top_partners(values, 2)] == ["THA", "CAN"]
    assert [p for p, _, _ in top_partners(values)] == ["THA", "CAN", "USA"]  # zero is no estimate


# ---------------------------------------------------------------- schema, provenance, targets


def test_schema_is_a_valid_table_schema_with_the_agreed_columns() -> None:
    descriptor = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.validate(
        descriptor,
        json.loads(
            (schemas_dir("profiles", "datapackage-2.0") / "tableschema.json").read_text(encoding="utf-8")
        ),
    )
    Schema.from_descriptor(descriptor)
    fields = {f["name"]: f for f in descriptor["fields"]}
    assert " ".join(fields) == (
        "iso3 indicator partner_iso3 period year value unit n_corridors source vintage source_file method"
    )
    assert descriptor["primaryKey"] == ["iso3", "indicator", "period", "vintage", "partner_iso3"]
    assert fields["indicator"]["constraints"]["enum"] == list(INDICATORS)
    assert [c["value"] for c in fields["indicator"]["categories"]] == list(INDICATORS)
    assert set(fields["unit"]["constraints"]["enum"]) == set(INDICATORS.values())
    assert fields["source"]["constraints"]["enum"] == list(sources())
    assert "WLD" in fields["partner_iso3"]["description"]


def test_sources_yaml_has_full_provenance() -> None:
    blocks = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    for key, block in blocks.items():
        missing = {
            "file",
            "producer",
            "title",
            "citation",
            "url",
            "license",
            "vintage",
            "sha256",
            "bytes",
            "parse",
        }
        assert not missing - block.keys(), (key, missing - block.keys())
        assert len(block["sha256"]) == 64 and int(block["sha256"], 16) >= 0
        assert block["url"].startswith("https://")
        assert block["parse"].get("method")


def test_sdg_target_is_data_with_its_source() -> None:
    target = targets()["sdg_10c_average_cost"]
    assert (target["value"], target["unit"], target["comparison"]) == (3, "% of amount sent", "<")
    citations = " ".join(s["citation"] for s in target["sources"])
    assert "target 10.c" in citations and "Addis Ababa Action Agenda" in citations


def test_a_changed_or_missing_original_is_refused(tmp_path: Path) -> None:
    key = "wb_rpw_corridors"
    with pytest.raises(InputError, match="missing"):
        check_originals(tmp_path, [key])
    original = tmp_path / sources()[key].file
    original.parent.mkdir(parents=True)
    rpw_csv(original, RPW_ROWS)  # right place, wrong content
    with pytest.raises(InputError, match="SHA-256 differs"):
        check_originals(tmp_path, [key])


# ---------------------------------------------------------------- figure 1.3 without the originals


def _cost_frame() -> pl.DataFrame:
    rpw_source = sources()["wb_rpw_corridors"]
    rows = [
        Row(iso3, "remittance_cost_usd200", "2016", value, rpw_source, "m", n_corridors=1)
        for iso3, value in (("KHM", 13.7), ("PHL", 5.3), ("GEO", 1.3))
    ]
    return to_frame(rows)


def test_figure_1_3_shows_missing_as_no_data_and_reads_the_target(tmp_path: Path) -> None:
    table = figure_1_3_table(_cost_frame(), ["KHM", "GEO"], "2016")
    assert table.height == 10
    bfa = table.filter(pl.col("iso3") == "BFA").row(0, named=True)
    assert bfa["value"] is None and bfa["note"] == "no data"
    assert table["iso3"][0] == "KHM" and table.filter("highlighted")["iso3"].sort().to_list() == [
        "GEO",
        "KHM",
    ]
    chart = figure_1_3(_cost_frame(), "KHM", out_dir=tmp_path)
    spec = json.dumps(chart.to_dict())
    assert '"target": 3.0' in spec and targets()["sdg_10c_average_cost"]["label"] in spec
    assert "RPW Dec 2020" in spec  # the source line names the vintage
    csv_rows = (tmp_path / "figure_1_3.csv").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("BFA,Burkina Faso,2016,,") for line in csv_rows)
    assert (tmp_path / "figure_1_3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "figure_1_3.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")


def test_figure_highlight_must_be_an_ippmd_country(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="IPPMD countries"):
        figure_1_3(_cost_frame(), "FRA", out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_sheet_problem_locations_are_one_based() -> None:
    sheet = Sheet("f.xlsx", "Data", [("a", "b"), ("c", "d")])
    problem = sheet.problem("bad", 1, 1, "d")
    assert (problem.row, problem.field, problem.file) == (2, "B", "f.xlsx [sheet Data]")
    assert sheet.cell(5, 5) is None

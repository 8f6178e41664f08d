"""All originals -> one deterministic indicator table for the ten IPPMD countries, and its CSV.

The committed indicators/country_indicators.csv must be reproducible byte for byte from the
originals, so rows are sorted by the primary key and numbers are written in one fixed format.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ippmd.core.home import package_data
from ippmd.indicators import bilateral, remittance_flows, rpw, un_desa
from ippmd.indicators.codes import ippmd_countries
from ippmd.indicators.provenance import check_originals, sources
from ippmd.indicators.table import Row, schema, to_frame, write_csv


def committed_csv() -> Path:
    """The committed real indicators (package data), rewritten by `ippmd sources`."""
    return package_data(__package__, "country_indicators.csv")


# Years kept from the annual remittance files (migrant stocks: every year the table has).
YEARS_KNOMAD_2018 = range(2010, 2018)  # 2018e is an estimate and is not read
YEARS_2023 = range(2010, 2023)


def ingest(source_dir: Path, *, check_sha256: bool = True) -> pl.DataFrame:
    """Parse every original in `source_dir` (../shared/data/external) into the indicator table.

    Raises ippmd.core.errors.InputError naming file, row and value for anything it cannot read, and
    (with check_sha256) for an original that is not the release recorded in sources.yaml.
    """
    source_dir = Path(source_dir)
    if check_sha256:
        check_originals(source_dir)
    src = sources()
    countries = list(ippmd_countries())

    def path(key: str) -> Path:
        return source_dir / src[key].file

    rows: list[Row] = []
    stock_2015, population_2015 = un_desa.stock_rows(
        path("un_desa_stock_2015"), src["un_desa_stock_2015"], countries
    )
    rows += stock_2015
    rows += un_desa.origin_destination_rows(
        path("un_desa_origin_destination_2015"),
        src["un_desa_origin_destination_2015"],
        countries,
        population_2015,
        src["un_desa_stock_2015"].file,
    )
    rows += un_desa.stock_rows(path("un_desa_stock_2017"), src["un_desa_stock_2017"], countries)[0]
    corridors = rpw.read_corridors(path("wb_rpw_corridors"), src["wb_rpw_corridors"].file)
    rows += rpw.cost_rows(corridors, src["wb_rpw_corridors"], countries)
    rows += rpw.corridor_rows(corridors, src["wb_rpw_corridors"], countries)
    rows += remittance_flows.knomad_rows(
        path("knomad_inflows_2018"), src["knomad_inflows_2018"], countries, YEARS_KNOMAD_2018
    )
    rows += remittance_flows.knomad_rows(
        path("knomad_inflows_2023"), src["knomad_inflows_2023"], countries, YEARS_2023
    )
    for key, series in (
        ("wdi_remittances_received", "BX.TRF.PWKR.CD.DT"),
        ("wdi_remittances_pct_gdp", "BX.TRF.PWKR.DT.GD.ZS"),
        ("wdi_remittance_cost", "SI.RMT.COST.IB.ZS"),
    ):
        rows += remittance_flows.wdi_rows(path(key), src[key], series, countries, YEARS_2023)
    rows += bilateral.migration_rows(
        path("wb_bilateral_migration_2017"), src["wb_bilateral_migration_2017"], countries
    )
    rows += bilateral.remittance_rows(
        path("wb_bilateral_remittances_2017"), src["wb_bilateral_remittances_2017"], countries
    )
    return to_frame(rows)


def write_indicators(frame: pl.DataFrame, path: Path) -> None:
    """Write the indicator table in schema column order (see table.write_csv for the format)."""
    write_csv(frame.select([f["name"] for f in schema()["fields"]]), path)

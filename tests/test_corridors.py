"""`--attach corridor.*`: each emigrant's corridor from the real indicators, held to DuckDB over the
original World Bank RPW file and over the package's own indicator table."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

import ippmd
from ippmd.core.errors import InputError
from ippmd.core.home import shared_dir
from ippmd.extract import make_extract
from tests.conftest import frictionless_validate

RPW = shared_dir() / "data" / "external" / "wb-rpw-corridors" / "rpw_corridors_databank.csv"
MEASURES = ["corridor.remittance_cost", "corridor.migrant_stock", "corridor.remittance_flow"]


@pytest.fixture(scope="module")
def extract(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corridors") / "corridors.zip"
    summary = make_extract(package_dir, out, tables=["emigrants"], attach=MEASURES)
    assert set(summary.corridor_matches) == {"remittance_cost", "migrant_stock", "remittance_flow"}
    with zipfile.ZipFile(out) as bundle:
        bundle.extractall(out.parent)
    return out.parent / "corridors"


def _rows(extract: Path) -> pl.DataFrame:
    return pl.read_csv(extract / "data" / "emigrants.csv", infer_schema_length=None)


@pytest.mark.external
@pytest.mark.skipif(not RPW.is_file(), reason="needs ../shared/data/external")
def test_cost_equals_duckdb_over_the_original_rpw_file(extract: Path, package_dir: Path) -> None:
    years = pl.read_parquet(package_dir / "data" / "countries.parquet").select("iso3", "survey_year")
    with duckdb.connect() as con:
        con.register("years", years.to_arrow())
        expected = con.sql(
            f"""
            WITH raw AS (SELECT * FROM read_csv('{RPW}', all_varchar = true, header = true)),
            long AS (
              UNPIVOT raw ON COLUMNS('^[0-9]{{4}}Q') INTO NAME quarter VALUE cost
            ),
            yearly AS (
              SELECT "Receiving Countries  Code" AS origin, "Sending Countries Code" AS destination,
                     CAST(substr(quarter, 1, 4) AS INTEGER) AS year, avg(CAST(cost AS DOUBLE)) AS cost
              FROM long WHERE "Series Code" = 'ATCR.CORR' AND cost <> '..'
              GROUP BY ALL
            )
            SELECT origin, destination, arg_min(cost, abs(year - survey_year) * 10000 + year) AS cost,
                   arg_min(year, abs(year - survey_year) * 10000 + year) AS year
            FROM yearly JOIN years ON origin = iso3 GROUP BY origin, destination
            """
        ).pl()
    rows = _rows(extract)
    joined = rows.join(
        expected, left_on=["country", "destination"], right_on=["origin", "destination"], how="left"
    )
    matched = joined.filter(pl.col("remittance_cost_match") == "matched")
    assert matched.height > 1000
    assert (matched["remittance_cost"] - matched["cost"]).abs().max() < 1e-9  # type: ignore[operator]
    assert (matched["remittance_cost_year"] == matched["year"]).all()
    unmatched = joined.filter(pl.col("remittance_cost_match") != "matched")
    assert unmatched["cost"].null_count() == unmatched.height > 0
    assert unmatched["remittance_cost"].null_count() == unmatched.height


def test_stock_and_flow_equal_the_package_indicators(extract: Path, package_dir: Path) -> None:
    rows = _rows(extract)
    indicators = package_dir / "data" / "country_indicators.parquet"
    for measure, indicator in (
        ("migrant_stock", "corridor_migrant_stock"),
        ("remittance_flow", "corridor_remittance_flow"),
    ):
        with duckdb.connect() as con:
            con.register("emigrants", rows.to_arrow())
            check = con.sql(
                f"""
                SELECT e.{measure} AS ours, e.{measure}_match AS match, i.value AS theirs
                FROM emigrants e LEFT JOIN read_parquet('{indicators}') i
                  ON i.iso3 = e.country AND i.partner_iso3 = e.destination AND i.indicator = '{indicator}'
                """
            ).pl()
        assert check.height == rows.height
        assert (check["match"] == "matched").sum() > rows.height / 2
        assert (
            check.filter(pl.col("match") == "matched")
            .select((pl.col("ours") - pl.col("theirs")).abs().max())
            .item()
            == 0
        )
        assert (
            check.filter(pl.col("match") != "matched")["theirs"].null_count()
            == check.filter(pl.col("match") != "matched").height
        )


def test_the_extract_is_valid_and_names_sources(extract: Path) -> None:
    report = frictionless_validate(extract)
    assert report["valid"], json.dumps(report)[:2000]
    descriptor = json.loads((extract / "datapackage.json").read_text())
    fields = {f["name"]: f for f in descriptor["resources"][0]["schema"]["fields"]}
    assert "RPW Dec 2020" in fields["remittance_cost"]["description"]
    assert "UN DESA 2015 revision" in fields["migrant_stock"]["description"]
    assert "WB bilateral 2017" in fields["remittance_flow"]["description"]
    manifest = json.loads((extract / "manifest.json").read_text())
    assert 0 < manifest["corridor_matches"]["migrant_stock"]["KHM"] <= 1


def test_load_attaches_the_same_and_bad_requests_are_named(extract: Path, package_dir: Path) -> None:
    frame = ippmd.load("emigrants", attach=["corridor.migrant_stock"], package=package_dir, labels=False)
    rows = _rows(extract)
    assert frame["migrant_stock"].to_list() == rows["migrant_stock"].cast(pl.Float64).to_list()
    with pytest.raises(InputError, match="goes on the emigrants table"):
        ippmd.load("persons", attach=["corridor.remittance_cost"], package=package_dir)
    with pytest.raises(InputError, match="did you mean 'migrant_stock'"):
        ippmd.load("emigrants", attach=["corridor.migrant_stocks"], package=package_dir)

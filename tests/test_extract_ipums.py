"""`--format ipums`: IPUMS's own client, ipumspy, reads the extract as it reads IPUMS's extracts
(fixed-width .dat + one DDI per file), and gets the values of the CSV extract of the same request."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from ipumspy import readers

from ippmd.extract import make_extract
from ippmd.package.ddi import NAMESPACE
from ippmd.package.missing import SPSS_NIU, SPSS_UNKNOWN, spss_codes_fit
from tests.test_ddi import ddi_schema

TABLES = ["households", "persons", "emigrants"]
NS = {"d": NAMESPACE}


def _unzip(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(into)
    return into / archive.stem


@pytest.fixture(scope="module")
def extracts(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("ipums")
    folders = {}
    for fmt in ("ipums", "csv"):
        make_extract(package_dir, tmp / f"{fmt}.zip", countries=["KHM", "HTI"], tables=TABLES, fmt=fmt)
        folders[fmt] = _unzip(tmp / f"{fmt}.zip", tmp / fmt)
    return folders


def _read_ipums(folder: Path, table: str) -> tuple[Any, pd.DataFrame]:
    with warnings.catch_warnings():  # ipumspy's reminder to cite IPUMS
        warnings.simplefilter("ignore")
        ddi = readers.read_ipums_ddi(folder / "data" / f"{table}.xml")
        return ddi, readers.read_microdata(ddi, folder / "data" / ddi.file_description.filename)


def _expected(text: str | None, field: dict[str, Any]) -> Any:
    """What a CSV cell is in the fixed-width file, as ipumspy returns it."""
    numeric = field["type"] in ("integer", "number")
    if text is None:
        return SPSS_UNKNOWN if numeric and spss_codes_fit(field) else None
    if text == "NIU" and numeric:
        return SPSS_NIU if spss_codes_fit(field) else None
    if field["type"] == "integer":
        return int(text)
    return float(text) if numeric else text


@pytest.mark.parametrize("table", TABLES)
def test_ipumspy_reads_every_value_of_the_csv_extract(extracts: dict[str, Path], table: str) -> None:
    ddi, frame = _read_ipums(extracts["ipums"], table)
    csv = pl.read_csv(extracts["csv"] / "data" / f"{table}.csv", infer_schema=False)
    fields = {f["name"]: f for f in _resource(extracts["csv"], table)["schema"]["fields"]}
    assert ddi.file_description.structure == "rectangular"
    assert list(frame.columns) == csv.columns
    assert len(frame) == csv.height > 0
    for name in csv.columns:
        expected = [_expected(v, fields[name]) for v in csv[name].to_list()]
        got = [None if pd.isna(v) else v for v in frame[name].tolist()]
        assert got == expected, name


def _resource(folder: Path, table: str) -> dict[str, Any]:
    import json

    descriptor = json.loads((folder / "datapackage.json").read_text())
    return next(r for r in descriptor["resources"] if r["name"] == table)


def test_each_ddi_is_valid_and_describes_only_its_file(extracts: dict[str, Path]) -> None:
    schema = ddi_schema()
    folder = extracts["ipums"]
    for table in TABLES:
        path = folder / "data" / f"{table}.xml"
        schema.validate(str(path))
        root = ET.parse(path).getroot()
        assert [e.text for e in root.findall(".//d:sumDscr/d:anlyUnit", NS)] == [table]
        assert [e.text for e in root.findall(".//d:fileTxt/d:fileName", NS)] == [f"{table}.dat"]
        assert root.find(".//d:citation/d:serStmt/d:serName", NS) is not None
        notes = " ".join(e.text or "" for e in root.iter(f"{{{NAMESPACE}}}notes"))
        assert "SYNTHETIC" in notes.upper()
    combined = folder / "ddi.xml"
    schema.validate(str(combined))
    units = [e.text for e in ET.parse(combined).getroot().findall(".//d:sumDscr/d:anlyUnit", NS)]
    assert units == TABLES  # no communities: the extract holds none


def test_the_same_request_gives_the_same_bytes(package_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.zip", tmp_path / "b" / "a.zip"
    for out in (first, second):
        make_extract(package_dir, out, countries=["ARM"], tables=["persons"], fmt="ipums")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_rectangular_puts_each_household_and_community_on_its_person_rows(
    extracts: dict[str, Path], package_dir: Path, tmp_path: Path
) -> None:
    make_extract(
        package_dir,
        tmp_path / "rect.zip",
        countries=["KHM", "HTI"],
        tables=["communities", "households", "persons"],
        fmt="ipums",
        rectangular=True,
    )
    folder = _unzip(tmp_path / "rect.zip", tmp_path)
    assert sorted(p.name for p in (folder / "data").iterdir()) == ["persons.dat", "persons.xml"]
    _, persons = _read_ipums(folder, "persons")
    _, households = _read_ipums(extracts["ipums"], "households")
    _, alone = _read_ipums(extracts["ipums"], "persons")
    assert len(persons) == len(alone)
    assert list(persons.columns[: len(alone.columns)]) == list(alone.columns)
    joined = alone[["household_id"]].merge(households, on="household_id", how="left", validate="many_to_one")
    for name in households.columns:  # added ones equal the household's; repeated ones already did
        pd.testing.assert_series_equal(persons[name], joined[name], check_names=False)
    community = [c for c in persons.columns if c not in alone.columns and c not in households.columns]
    assert community, "no community variable was put on the person rows"

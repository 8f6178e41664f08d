"""The built package: valid Frictionless (the real CLI), v2 profile, sizes, labels, determinism."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import duckdb
import jsonschema
import polars as pl
import pytest

from ippmd.build import build
from ippmd.core.home import schemas_dir
from ippmd.core.io import load_yaml
from ippmd.core.metadata import country_codes
from ippmd.core.schema import PACKAGE_RESOURCES, harmonized_schema
from ippmd.package.write import SORT_KEYS, PackageWriter, _csv_view, partition_column
from tests.conftest import ROOT, frictionless_validate


@pytest.mark.slow
def test_frictionless_cli_validates_the_package(package_dir: Path) -> None:
    report = frictionless_validate(package_dir)
    errors = [e["message"] for task in report["tasks"] for e in task["errors"]][:5]
    assert report["valid"], errors
    assert {t["name"] for t in report["tasks"]} == {
        "countries",
        "communities",
        "households",
        "persons",
        "emigrants",
        "country_indicators",
    }


@pytest.mark.slow
def test_frictionless_cli_catches_a_corrupted_file(package_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(package_dir, copy)
    persons = copy / "data" / "persons.csv"
    lines = persons.read_text(encoding="utf-8").splitlines(keepends=True)[:1001]  # a smaller file, faster
    first = lines[1].split(",")
    first[1] = "KHM-H99999"  # a household that does not exist
    lines[1] = ",".join(first)
    persons.write_text("".join(lines), encoding="utf-8")
    report = frictionless_validate(copy)
    types = {e["type"] for task in report["tasks"] for e in task["errors"]}
    assert not report["valid"]
    assert "foreign-key" in types


def test_descriptor_follows_the_data_package_v2_profile(descriptor: dict) -> None:
    profile = json.loads(
        (schemas_dir("profiles", "datapackage-2.0") / "datapackage.json").read_text(encoding="utf-8")
    )
    jsonschema.validate(descriptor, profile)
    assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert descriptor["licenses"] and descriptor["sources"]


def test_every_file_has_bytes_and_sha256(descriptor: dict, package_dir: Path) -> None:
    for resource in descriptor["resources"]:
        for entry in (resource, resource["parquet"], *resource["partitions"]["files"]):
            data = (package_dir / entry["path"]).read_bytes()
            assert entry["bytes"] == len(data)
            assert entry["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_microdata_resources_are_labelled_synthetic(descriptor: dict) -> None:
    assert descriptor["synthetic"] is True
    assert "SYNTHETIC" in descriptor["description"]
    for resource in descriptor["resources"]:
        if resource["name"] == "country_indicators":  # real data, with its sources
            assert resource["synthetic"] is False and "notice" not in resource
            assert resource["sources"] and all(s["path"].startswith("http") for s in resource["sources"])
            continue
        if resource["name"] == "countries":
            continue
        assert resource["synthetic"] is True, resource["name"]
        assert resource["notice"].startswith("SYNTHETIC DATA"), resource["name"]


def test_package_holds_ten_countries_at_published_sizes(tables: dict[str, pl.DataFrame]) -> None:
    countries = tables["countries"]
    assert countries["iso3"].to_list() == country_codes()
    assert len(country_codes()) == 10
    assert set(countries["data_origin"]) == {"synthetic"}
    # Seed, Box 1.1: more than 20,500 households, about 100,000 individuals, 590 communities.
    assert 20_500 <= tables["households"].height <= 21_000
    assert 95_000 <= tables["persons"].height <= 105_000
    assert tables["communities"].height == 590
    khm = countries.filter(pl.col("iso3") == "KHM").row(0, named=True)
    assert (khm["households"], khm["communities"]) == (2000, 100)
    assert abs(khm["persons"] - khm["persons_published"]) / khm["persons_published"] < 0.05


def test_keys_are_unique_and_references_resolve(tables: dict[str, pl.DataFrame]) -> None:
    for name, key in [
        ("communities", "community_id"),
        ("households", "household_id"),
        ("persons", "person_id"),
        ("emigrants", "emigrant_id"),
    ]:
        assert tables[name][key].is_unique().all(), name
    assert tables["persons"]["household_id"].is_in(tables["households"]["household_id"].implode()).all()
    assert tables["emigrants"]["household_id"].is_in(tables["households"]["household_id"].implode()).all()
    assert tables["households"]["community_id"].is_in(tables["communities"]["community_id"].implode()).all()


def test_household_size_equals_members_listed(tables: dict[str, pl.DataFrame]) -> None:
    listed = tables["persons"].group_by("household_id").len()
    joined = tables["households"].join(listed, on="household_id")
    assert joined.height == tables["households"].height
    assert (joined["household_size"] == joined["len"]).all()


def test_money_is_local_currency_over_the_rate(tables: dict[str, pl.DataFrame]) -> None:
    rates = tables["countries"].select("iso3", "exchange_rate_lcu_per_usd")
    hh = tables["households"].join(rates, left_on="country", right_on="iso3").drop_nulls("remittances_lcu")
    expected = (hh["remittances_lcu"] / hh["exchange_rate_lcu_per_usd"]).round(2)
    assert ((hh["remittances_usd"] - expected).abs() <= 0.0101).all()  # one cent: rounding of x/rate


def test_not_in_universe_is_marked_in_csv(package_dir: Path) -> None:
    persons = pl.read_csv(package_dir / "data" / "persons.csv", infer_schema=False)
    children = persons.filter(pl.col("age").cast(pl.Int64) < 15)
    assert set(children["plans_to_emigrate"].to_list()) == {"NIU"}
    adults = persons.filter(pl.col("age").cast(pl.Int64) >= 15)
    assert set(adults["plans_to_emigrate"].to_list()) <= {"0", "1"}


@pytest.mark.slow
def test_two_builds_are_byte_identical(package_dir: Path, tmp_path: Path) -> None:
    build(tmp_path, expectations=False)  # the bytes do not depend on the suites
    ours = sorted(p.relative_to(package_dir) for p in (package_dir / "data").rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(tmp_path) for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert ours == theirs
    assert any(p.parts[1] == "parquet" for p in ours)  # the country partitions too
    for path in ours:
        assert (tmp_path / path).read_bytes() == (package_dir / path).read_bytes(), path
    assert (tmp_path / "datapackage.json").read_bytes() == (package_dir / "datapackage.json").read_bytes()


def test_csv_appended_by_country_is_the_whole_table_written_at_once(
    package_dir: Path, tables: dict[str, pl.DataFrame]
) -> None:
    """The build appends country by country: the files are still in the global sort order."""
    for name in PACKAGE_RESOURCES:
        frame = pl.read_parquet(package_dir / "data" / f"{name}.parquet")
        if name in tables:
            assert frame.equals(frame.sort(SORT_KEYS[name])), name
        assert frame[partition_column(name)].is_sorted(), name
        whole = _csv_view(frame, harmonized_schema(name)).write_csv(null_value="", line_terminator="\n")
        assert (package_dir / "data" / f"{name}.csv").read_text(encoding="utf-8") == whole, name


def test_partitions_list_one_file_per_country(descriptor: dict, package_dir: Path) -> None:
    for resource in descriptor["resources"]:
        name, partitions = resource["name"], resource["partitions"]
        column = "iso3" if name in ("countries", "country_indicators") else "country"
        assert (partitions["layout"], partitions["field"], partitions["fieldInFiles"]) == (
            "hive",
            column,
            False,
        )
        assert partitions["path"] == f"data/parquet/{name}"
        files = partitions["files"]
        assert [f["country"] for f in files] == descriptor["countries"]
        assert [f["path"] for f in files] == [
            f"data/parquet/{name}/{column}={iso3}/part-0.parquet" for iso3 in descriptor["countries"]
        ]
        on_disk = sorted(
            p.relative_to(package_dir).as_posix()
            for p in (package_dir / partitions["path"]).rglob("*.parquet")
        )
        assert on_disk == sorted(f["path"] for f in files), name
        assert sum(f["rows"] for f in files) == resource["rows"], name
        for entry in files:
            part = pl.read_parquet(package_dir / entry["path"], hive_partitioning=False)
            assert part.height == entry["rows"]
            assert column not in part.columns, f"{name}: the partition column comes from the path"


@pytest.mark.parametrize("name", ["persons", "countries", "country_indicators"])
def test_polars_reads_one_country_from_its_partition_only(
    package_dir: Path, tmp_path: Path, name: str
) -> None:
    """Filtered to KHM, a hive scan equals the full table filtered, and never opens another file."""
    column = "iso3" if name in ("countries", "country_indicators") else "country"
    full = pl.read_parquet(package_dir / "data" / f"{name}.parquet")
    expected = full.filter(pl.col(column) == "KHM")
    assert expected.height > 0
    copy = Path(shutil.copytree(package_dir / "data" / "parquet" / name, tmp_path / name))
    schema = pl.read_parquet_schema(copy / f"{column}=KHM" / "part-0.parquet")  # else read from the first
    for part in copy.glob("*/part-0.parquet"):
        if part.parent.name != f"{column}=KHM":
            part.write_bytes(b"not parquet")  # reading it would fail
    khm = pl.scan_parquet(copy, hive_partitioning=True, schema=schema).filter(pl.col(column) == "KHM")
    assert khm.collect().select(full.columns).equals(expected)
    with pytest.raises(pl.exceptions.ComputeError):
        pl.scan_parquet(copy, hive_partitioning=True).collect()
    whole = pl.scan_parquet(package_dir / "data" / "parquet" / name, hive_partitioning=True).collect()
    assert whole.select(full.columns).equals(full)


def test_readme_duckdb_query_over_the_partitions(package_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DuckDB query shown in README.md, run as written, agrees with polars on data/persons.parquet."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    queries = [q for q in re.findall(r"```sql\n(.*?)```", readme, re.DOTALL) if "read_parquet" in q]
    assert len(queries) == 1, "README.md shows one DuckDB query over data/parquet/"
    monkeypatch.chdir(package_dir)  # the README runs it from the package folder
    relation = duckdb.sql(queries[0])
    assert relation is not None, "the README's query returns rows"
    got = relation.pl()
    assert got.columns == ["sex", "persons"]
    expected = (
        pl.read_parquet(package_dir / "data" / "persons.parquet")
        .filter(pl.col("country") == "KHM")
        .group_by("sex")
        .agg(persons=pl.len())
        .sort("sex")
    )
    assert got["sex"].to_list() == expected["sex"].to_list()
    assert got["persons"].to_list() == expected["persons"].to_list()
    assert sum(got["persons"]) > 1000


def test_writer_refuses_countries_out_of_order(tmp_path: Path, tables: dict[str, pl.DataFrame]) -> None:
    """Appending keeps the global order only if countries come sorted: the writer checks it."""
    communities = tables["communities"]
    with PackageWriter(tmp_path) as writer:
        writer.write("communities", "KHM", communities.filter(pl.col("country") == "KHM"))
        with pytest.raises(ValueError, match="sorted"):
            writer.write("communities", "ARM", communities.filter(pl.col("country") == "ARM"))
        with pytest.raises(ValueError, match="another country"):
            writer.write("communities", "PHL", communities.filter(pl.col("country") == "MAR"))


def test_committed_descriptor_matches_the_build(package_dir: Path) -> None:
    """datapackage.json at the root is committed; it must be what `make` builds."""
    committed = ROOT / "datapackage.json"
    assert committed.read_text(encoding="utf-8") == (package_dir / "datapackage.json").read_text(
        encoding="utf-8"
    ), "datapackage.json is stale: run `make data` and commit it"


def test_committed_codebook_matches_the_build(package_dir: Path, descriptor: dict) -> None:
    from ippmd.package.codebook import render

    assert (ROOT / "codebook.md").read_text(encoding="utf-8") == render(descriptor, package_dir), (
        "codebook.md is stale: run `make` and commit it"
    )


def test_survey_design_names_fields_of_each_microdata_table(
    descriptor: dict, tables: dict[str, pl.DataFrame]
) -> None:
    """The contract `ippmd tabulate` reads: weight, psu and strata are columns of the table itself."""
    microdata = ["communities", "households", "persons", "emigrants"]
    for resource in descriptor["resources"]:
        if resource["name"] not in microdata:
            assert "surveyDesign" not in resource
            continue
        design = resource["surveyDesign"]
        assert design == {"weight": "weight", "psu": "community_id", "strata": "region_code"}
        names = [f["name"] for f in resource["schema"]["fields"]]
        assert set(design.values()) <= set(names)
        frame = tables[resource["name"]]
        assert frame.select(list(design.values())).null_count().sum_horizontal().item() == 0
    households = tables["households"].select("household_id", hw="weight", hc="community_id", hr="region_code")
    for name in ("persons", "emigrants"):  # every member carries its household's design
        joined = tables[name].join(households, on="household_id")
        assert joined.height == tables[name].height
        assert (joined["weight"] == joined["hw"]).all() and (joined["community_id"] == joined["hc"]).all()
        assert (joined["region_code"] == joined["hr"]).all()
    assert (tables["communities"]["weight"] == 1.0).all()


def test_descriptor_carries_version_data_hash_and_citation(descriptor: dict) -> None:
    from ippmd.package.write import data_hash

    assert re.fullmatch(r"\d+\.\d+\.\d+", descriptor["version"])
    assert descriptor["dataHash"] == data_hash(descriptor["resources"])
    assert (
        descriptor["version"] in descriptor["citation"] and descriptor["dataHash"] in descriptor["citation"]
    )
    assert "not published or endorsed by the OECD" in descriptor["citation"]
    assert f"## {descriptor['version']}" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f'version: "{descriptor["version"]}"' in (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    indicators = next(r for r in descriptor["resources"] if r["name"] == "country_indicators")
    assert {lic["name"] for lic in indicators["licenses"]} == {"UN-DESA-all-rights-reserved", "CC-BY-4.0"}
    # the licence claimed for UN DESA is the one its files state (indicators/sources.yaml)
    desa = [
        s for name, s in load_yaml((ROOT / "indicators/sources.yaml").read_text()).items() if "desa" in name
    ]
    assert desa and all("all rights reserved" in s["license"].lower() for s in desa)
    assert not any("IGO" in lic.get("title", "") for lic in indicators["licenses"])
    assert "homepage" not in descriptor  # the package is not the OECD's


def test_parquet_files_carry_labels_and_synthetic_flag_not_the_version(
    package_dir: Path, descriptor: dict
) -> None:
    """The version is derived from the dataHash over these files (ippmd.package.release), so they
    do not carry it: datapackage.json does."""
    import pyarrow.parquet as pq

    for resource in descriptor["resources"]:
        for entry in (resource["parquet"], resource["partitions"]["files"][0]):
            info = json.loads(pq.read_metadata(package_dir / entry["path"]).metadata[b"ippmd"])
            assert "version" not in info and info["resource"] == resource["name"]
            assert info["synthetic"] is (resource["name"] not in ("countries", "country_indicators"))
    persons = pq.read_schema(package_dir / "data" / "persons.parquet")
    assert persons.field("plans_to_emigrate").metadata[b"universe"] == b"age >= 15"
    assert json.loads(persons.field("sex").metadata[b"categories"]) == {"1": "Male", "2": "Female"}


def test_exchange_rates_are_the_world_bank_official_rates(tables: dict[str, pl.DataFrame]) -> None:
    """Survey-year WDI PA.NUS.FCRF values (SOURCES.md of wdi-exchange-rates-2025 lists them)."""
    expected = {"ARM": 477.918, "BFA": 493.757, "CIV": 493.757, "CRI": 534.566, "DOM": 43.550,
                "GEO": 1.766, "HTI": 45.216, "KHM": 4037.5, "MAR": 8.406, "PHL": 44.395}  # fmt: skip
    countries = tables["countries"]
    for iso3, rate, source in countries.select(
        "iso3", "exchange_rate_lcu_per_usd", "exchange_rate_source"
    ).rows():
        assert abs(rate - expected[iso3]) < 0.001, iso3
        assert "PA.NUS.FCRF" in source and "assumed" not in source, iso3


def test_reports_are_cited_by_doi_not_mirrors() -> None:
    from ippmd.core.metadata import country_codes, load_country

    for iso3 in country_codes():
        for key, source in load_country(iso3)["sources"].items():
            url = source["url"]
            assert not any(m in url for m in ("ebrary.net", "docslib.org", "slideshare.net")), (iso3, key)
            if "doi" in source:
                assert source["doi"].startswith("10.1787/"), (iso3, key)

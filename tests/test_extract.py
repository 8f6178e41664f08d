"""`ippmd extract`: valid, faithful, labelled, filtered and byte-reproducible zips."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import polars as pl
import pyreadstat
import pytest

from ippmd.core.errors import InputError
from ippmd.core.home import schemas_dir
from ippmd.core.scalars import as_number
from ippmd.extract import list_variables, make_extract, variable_catalog
from ippmd.extract.names import stat_names
from ippmd.extract.statfiles import clip, write_stat_file
from ippmd.package.labels import coded_field, integer_codes
from tests.conftest import frictionless_validate

TABLES = ["countries", "communities", "households", "persons", "emigrants", "country_indicators"]


def _unzip(archive: Path, into: Path) -> Path:
    """Unpack an extract; returns its one top folder (named after the zip)."""
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(into)
        assert {n.split("/")[0] for n in zf.namelist()} == {archive.stem}
    return into / archive.stem


def _descriptor(folder: Path) -> dict:
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


def _package_rows(package_dir: Path, table: str, countries: list[str] | None = None) -> pl.DataFrame:
    frame = pl.read_parquet(package_dir / "data" / f"{table}.parquet")
    if countries:
        column = "country" if "country" in frame.columns else "iso3"
        frame = frame.filter(pl.col(column).is_in(countries))
    return frame


@pytest.fixture(scope="module")
def full_csv(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default extract: every country, table and variable, as CSV."""
    out = tmp_path_factory.mktemp("extract") / "full.zip"
    make_extract(package_dir, out, command_line="ippmd extract --out full.zip")
    return out


@pytest.fixture(scope="module")
def khm_stat(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Cambodia, every table, as Stata and SPSS (unzipped folders)."""
    base = tmp_path_factory.mktemp("stat")
    folders = {}
    for fmt in ("dta", "sav"):
        make_extract(package_dir, base / f"khm-{fmt}.zip", countries=["KHM"], fmt=fmt)
        folders[fmt] = _unzip(base / f"khm-{fmt}.zip", base / fmt)
    return folders


def test_list_variables_shows_tables_variables_keys_and_countries(package_dir: Path) -> None:
    text = list_variables(package_dir)
    for table in TABLES:
        assert f"## {table}:" in text
    assert "`person_id` *key*" in text and "`household_id` *key*" in text
    assert "| `sex` | Sex | integer |  | 1 = Male; 2 = Female |" in text
    assert "KHM (Cambodia)" in text
    catalog = variable_catalog(package_dir)
    assert {v.table for v in catalog} == set(TABLES)
    age = next(v for v in catalog if v.table == "persons" and v.name == "age")
    assert (age.label, age.type, age.unit, age.key) == ("Age in completed years", "integer", "years", False)


@pytest.mark.slow
def test_full_csv_extract_is_valid_and_identical_to_the_package(
    full_csv: Path, package_dir: Path, tmp_path: Path
) -> None:
    folder = _unzip(full_csv, tmp_path / "x")
    names = zipfile.ZipFile(full_csv).namelist()
    assert names == [
        f"full/{name}"
        for name in [
            "datapackage.json",
            "NOTICE.md",
            "LICENSE.md",
            "CITATION.cff",
            "codebook.md",
            "ddi.xml",
            "load.R",
            "manifest.json",
            *[f"data/{t}.csv" for t in TABLES],
            "SHA256SUMS",
        ]
    ]
    # the default extract is the package itself: CSV files byte for byte
    for table in TABLES:
        assert (folder / "data" / f"{table}.csv").read_bytes() == (
            package_dir / "data" / f"{table}.csv"
        ).read_bytes()
    # Its CSVs are the package's bytes, which test_package holds to the frictionless CLI; the
    # extract descriptors are held to it below (a cut, and the Stata/SPSS selection), and this
    # one to the Data Package v2 profile in the next test.
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert {r["name"] for r in descriptor["resources"]} == set(TABLES)


def test_extract_documents_checksums_and_manifest(full_csv: Path, package_dir: Path, tmp_path: Path) -> None:
    folder = _unzip(full_csv, tmp_path / "x")
    profile = json.loads(
        (schemas_dir("profiles", "datapackage-2.0") / "datapackage.json").read_text(encoding="utf-8")
    )
    descriptor = _descriptor(folder)
    jsonschema.validate(descriptor, profile)
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    for resource in descriptor["resources"]:
        data = (folder / resource["path"]).read_bytes()
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    source = _descriptor(package_dir)
    assert manifest["request"]["command_line"] == "ippmd extract --out full.zip"
    assert manifest["package"]["version"] == source["version"]
    assert manifest["package"]["data_hash"].startswith("sha256:")
    persons = next(f for f in manifest["files"] if f["path"] == "data/persons.csv")
    assert persons["rows"] == next(r["rows"] for r in source["resources"] if r["name"] == "persons")
    notice = (folder / "NOTICE.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in notice and "KHM (Cambodia)" in notice
    assert "`country_indicators` is REAL data" in notice and "UN DESA" in notice
    assert "creativecommons.org/licenses/by/4.0" in (folder / "LICENSE.md").read_text(encoding="utf-8")
    codebook = (folder / "codebook.md").read_text(encoding="utf-8")
    assert "## persons: Persons" in codebook and "`NIU` is *not in universe*" in codebook
    text = b"".join((folder / n).read_bytes() for n in ("manifest.json", "codebook.md", "datapackage.json"))
    assert time.strftime("%Y-%m-%d").encode() not in text  # no wall-clock date in the content


def test_same_request_gives_a_byte_identical_zip(full_csv: Path, package_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "full.zip"  # the zip's name is its top folder: the same name, the same bytes
    make_extract(package_dir, again, command_line="ippmd extract --out full.zip")
    assert again.read_bytes() == full_csv.read_bytes()
    for fmt in ("dta", "sav"):  # readstat stamps the clock into both headers: pinned
        first, second = tmp_path / "a" / f"x.{fmt}.zip", tmp_path / "b" / f"x.{fmt}.zip"
        for out in (first, second):
            make_extract(package_dir, out, countries=["ARM"], tables=["communities"], fmt=fmt)
        assert first.read_bytes() == second.read_bytes()
        data = zipfile.ZipFile(first).read(f"{first.stem}/data/communities.{fmt}")
        assert time.strftime("%d %b").encode() not in data
    with zipfile.ZipFile(full_csv) as zf:
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
    assert not [p for p in full_csv.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_one_country_gives_only_that_country_everywhere(package_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "khm.zip"
    summary = make_extract(package_dir, out, countries=["khm"], fmt="parquet")
    folder = _unzip(out, tmp_path / "x")
    descriptor = _descriptor(folder)
    assert descriptor["countries"] == ["KHM"] and summary.countries == ("KHM",)
    assert [r["name"] for r in descriptor["resources"]] == TABLES
    for resource in descriptor["resources"]:
        frame = pl.read_parquet(folder / resource["path"])
        column = "country" if "country" in frame.columns else "iso3"
        assert frame[column].unique().to_list() == ["KHM"], resource["name"]
        assert resource["rows"] == frame.height > 0
        assert resource["format"] == "parquet" and resource["mediatype"] == "application/vnd.apache.parquet"
        # parquet round trip: exactly the package's rows for KHM
        assert frame.equals(_package_rows(package_dir, resource["name"], ["KHM"])), resource["name"]
    microdata = next(r for r in descriptor["resources"] if r["name"] == "persons")
    assert microdata["synthetic"] and microdata["notice"].endswith("Synthetic countries: KHM.")
    jsonschema.validate(
        descriptor,
        json.loads(
            (schemas_dir("profiles", "datapackage-2.0") / "datapackage.json").read_text(encoding="utf-8")
        ),
    )


def test_variable_subset_keeps_keys_and_drops_dangling_foreign_keys(
    package_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "age.zip"
    summary = make_extract(package_dir, out, variables=["age", "sex"], countries=["ARM", "PHL"])
    folder = _unzip(out, tmp_path / "x")
    descriptor = _descriptor(folder)
    resources = {r["name"]: r for r in descriptor["resources"]}
    assert list(resources) == ["persons", "emigrants"]  # the tables that have the variables
    assert [f["name"] for f in resources["persons"]["schema"]["fields"]] == [
        "person_id",
        "household_id",
        "country",  # the country and the survey design always come with a microdata table
        "community_id",
        "region_code",
        "weight",
        "sex",
        "age",
    ]
    assert "foreignKeys" not in resources["persons"]["schema"]  # households is not in the extract
    assert summary.dropped_foreign_keys == (
        "persons.household_id -> households.household_id",
        "emigrants.household_id -> households.household_id",
    )
    header = (folder / "data" / "emigrants.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "emigrant_id,household_id,country,community_id,region_code,weight,sex,age"

    out = tmp_path / "linked.zip"
    make_extract(package_dir, out, tables=["households", "persons"], variables=["age"], countries=["GEO"])
    folder = _unzip(out, tmp_path / "y")
    resources = {r["name"]: r for r in _descriptor(folder)["resources"]}
    assert [f["name"] for f in resources["households"]["schema"]["fields"]] == [
        "household_id",
        "community_id",
        "country",
        "region_code",
        "weight",
    ]
    assert "foreignKeys" not in resources["households"]["schema"]  # communities absent
    assert resources["persons"]["schema"]["foreignKeys"] == [
        {"fields": ["household_id"], "reference": {"resource": "households", "fields": ["household_id"]}}
    ]
    assert frictionless_validate(folder)["valid"]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"variables": ["agee"]}, "'age'"),
        ({"tables": ["person"]}, "'persons'"),
        ({"countries": ["KHN"]}, "'KHM'"),
        ({"countries": ["Cambodja"]}, "'KHM' (Cambodia)"),
        ({"tables": ["countries"], "variables": ["age"]}, "it is in persons, emigrants"),
        ({"fmt": "parket"}, "'parquet'"),
    ],
)
def test_unknown_names_raise_with_close_matches(
    package_dir: Path, tmp_path: Path, request_: dict, expected: str
) -> None:
    out = tmp_path / "bad.zip"
    with pytest.raises(InputError) as caught:
        make_extract(package_dir, out, **request_)
    assert expected in str(caught.value)
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def _same(read: pd.Series, expected: pl.Series, field: dict) -> None:
    values = expected.to_list()
    codes = integer_codes(field)
    if codes:  # a string category: its integer code in Stata and SPSS
        values = [None if v is None else codes[v] for v in values]
        field = coded_field(field)
    if field["type"] == "string":  # empty, or NaN for the SPSS user-missing string NIU
        got = [None if (isinstance(v, float) and pd.isna(v)) or v == "" else v for v in read.tolist()]
        assert got == values, field["name"]
        return
    got = [None if pd.isna(v) else v for v in read.tolist()]
    assert got == values, field["name"]
    if field["type"] == "integer":
        assert all(v is None or float(v).is_integer() for v in got), field["name"]


def test_stata_files_read_back_with_values_and_labels(khm_stat: dict[str, Path], package_dir: Path) -> None:
    folder = khm_stat["dta"]
    descriptor = _descriptor(folder)
    for resource in descriptor["resources"]:
        expected = _package_rows(package_dir, resource["name"], ["KHM"])
        path = folder / resource["path"]
        assert resource["mediatype"] == "application/x-stata-dta"
        with pd.io.stata.StataReader(path) as reader:
            frame = reader.read(convert_categoricals=False)  # type: ignore[attr-defined]  # pandas-stubs lack StataReader.read and .time_stamp
            variable_labels, value_labels = reader.variable_labels(), reader.value_labels()
            assert reader.time_stamp == "01 Jan 1980 00:00"  # type: ignore[attr-defined]  # pandas-stubs lack StataReader.read and .time_stamp
        _, meta = pyreadstat.read_dta(str(path), metadataonly=True)
        labelled = {}
        for field in resource["schema"]["fields"]:
            name = field["name"]  # as in the file (a name longer than Stata allows is shortened)
            _same(frame[name], expected[field.get("originalName", name)], field)
            assert variable_labels[name] == field["title"]
            if coded_field(field)["type"] == "integer":  # string categories are coded integers
                assert meta.readstat_variable_types[name] == "int32", name  # Stata long, not double
                if expected[field.get("originalName", name)].null_count() == 0:
                    assert frame[name].dtype == "int32", name
            if field.get("categories"):  # string categories too, by their integer codes
                labelled[name] = {c["value"]: c["label"] for c in coded_field(field)["categories"]}
        coded = {  # the value labels, without the labels of .n and .u
            k: {v: t for v, t in d.items() if not isinstance(v, str)}
            for k, d in meta.variable_value_labels.items()
        }
        assert {k: d for k, d in coded.items() if d} == labelled
        # shared label sets: one `yesno` for every yes/no variable
        sets = {meta.variable_to_label[k] for k in labelled}
        assert len(value_labels) == len(sets | {meta.variable_to_label[k] for k in coded if not coded[k]})
        yes_no = [k for k, d in labelled.items() if d == {0: "No", 1: "Yes"}]
        assert {meta.variable_to_label[k] for k in yes_no} <= {"yesno"}


def test_spss_files_read_back_with_values_and_labels(khm_stat: dict[str, Path], package_dir: Path) -> None:
    folder = khm_stat["sav"]
    for resource in _descriptor(folder)["resources"]:
        expected = _package_rows(package_dir, resource["name"], ["KHM"])
        frame, meta = pyreadstat.read_sav(str(folder / resource["path"]))
        assert resource["mediatype"] == "application/x-spss-sav"
        for field in resource["schema"]["fields"]:
            name = field["name"]
            _same(frame[name], expected[field.get("originalName", name)], field)
            assert meta.column_names_to_labels[name] == field["title"]
            if field["type"] == "integer":
                assert str(meta.original_variable_types[name]).endswith(".0"), name  # F<w>.0: an integer
            cats = {c["value"]: clip(c["label"], 120) for c in coded_field(field).get("categories", [])}
            got = {
                v: t for v, t in meta.variable_value_labels.get(name, {}).items() if v not in (-9, -8, "NIU")
            }
            assert got == cats, name  # SPSS: 120 bytes a label


def test_long_labels_are_cut_visibly_within_the_byte_limit() -> None:
    assert clip("short", 120) == "short"
    cut = clip("Côte d'Ivoire " * 20, 120)
    assert len(cut.encode("utf-8")) <= 120 and cut.endswith("…") and cut.startswith("Côte d'Ivoire")


def test_stat_names_are_valid_and_deterministic() -> None:
    long = "share_of_households_receiving_remittances_from_abroad_by_channel_and_year"
    names = ["household_id", long, long + "_2", "if", "in", "2nd"]
    dta = stat_names(names, "dta", labelled=[long])
    assert dta == stat_names(names, "dta", labelled=[long])
    assert dta["household_id"] == "household_id"
    assert all(len(v) <= 32 for v in dta.values()) and len(set(dta.values())) == len(names)
    assert len(dta[long]) <= 31  # room for pyreadstat's label-set number
    assert dta["if"] != "if" and dta["2nd"][0].isalpha()
    sav = stat_names(names, "sav")
    assert all(len(v) <= 64 for v in sav.values()) and sav["if"] == "if" and sav["in"] == "in"
    assert stat_names(["to", "with"], "sav") != {"to": "to", "with": "with"}


def test_long_names_are_shortened_by_one_readable_rule(khm_stat: dict[str, Path]) -> None:
    """Words of extract/abbreviations.yaml are shortened, longest first, until the name fits;
    only a name of other words falls back to a cut with a hash. The DDI and codebook list it."""
    long = "education_expenditure_nonresponse"  # 33 characters: over Stata's 32
    short = stat_names([long], "dta", labelled=[long])[long]
    assert short == "education_expenditure_nonresp"  # nonresponse -> nonresp (the longest, last word)
    assert stat_names([long], "sav")[long] == long  # SPSS takes 64 bytes
    opaque = "q" * 20 + "_" + "z" * 20
    cut = stat_names([opaque], "dta")[opaque]
    assert len(cut) <= 32 and cut.startswith("q" * 20) and cut != opaque
    _, meta = pyreadstat.read_dta(str(khm_stat["dta"] / "data" / "households.dta"), metadataonly=True)
    assert short in meta.column_names
    ddi = (khm_stat["dta"] / "ddi.xml").read_text(encoding="utf-8")
    assert f"Name in the Stata .dta file: {short}" in ddi
    assert f"`{short}`" in (khm_stat["dta"] / "codebook.md").read_text(encoding="utf-8")


def test_a_long_name_is_shortened_in_the_file_with_its_labels(tmp_path: Path) -> None:
    long = "has_member_planning_to_emigrate_within_twelve_months"
    fields: list[dict[str, Any]] = [
        {"name": "household_id", "type": "string", "title": "Household identifier"},
        {"name": long, "type": "integer", "title": "Plans", "categories": [{"value": 0, "label": "No"}]},
    ]
    frame = pl.DataFrame({"household_id": ["A", "B"], long: [0, None]})
    renamed = write_stat_file(frame, fields, tmp_path / "x.dta", "dta", "test")
    assert list(renamed) == [long] and len(renamed[long]) <= 31
    back, meta = pyreadstat.read_dta(str(tmp_path / "x.dta"))
    assert list(back.columns) == ["household_id", renamed[long]]
    assert meta.column_names_to_labels[renamed[long]] == "Plans"
    labels = meta.variable_value_labels[renamed[long]]
    assert {k: v for k, v in labels.items() if not isinstance(k, str)} == {0: "No"}
    assert labels["u"].startswith("Unknown")  # type: ignore[index]  # pyreadstat's stubs: numeric keys only and back[renamed[long]].isna().tolist() == [False, True]


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_cli_extract_exit_codes(package_dir: Path, tmp_path: Path) -> None:
    ippmd = Path(sys.executable).with_name("ippmd")
    ok = subprocess.run(
        [
            str(ippmd),
            "extract",
            "--package",
            str(package_dir),
            "--countries",
            "KHM",
            "--variables",
            "age,sex",
            "--format",
            "sav",
            "--out",
            str(tmp_path / "x.zip"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "SYNTHETIC DATA" in ok.stderr
    with zipfile.ZipFile(tmp_path / "x.zip") as zf:
        manifest = json.loads(zf.read("x/manifest.json"))
    assert "--countries KHM" in json.dumps(manifest) and str(tmp_path) not in json.dumps(manifest)
    bad = subprocess.run(
        [
            str(ippmd),
            "extract",
            "--package",
            str(package_dir),
            "--variables",
            "agee",
            "--out",
            str(tmp_path / "y.zip"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2  # an unknown variable is a usage error
    assert "did you mean 'age'" in bad.stderr.replace("\n", " ")
    assert not (tmp_path / "y.zip").exists()


# --- issue 13: attach, where, missing codes, notes, DDI, citation -------------------------------


def test_persons_extract_with_attach_and_where(package_dir: Path, tmp_path: Path) -> None:
    """IPUMS-style: household variables on person rows, and only the cases asked for."""
    out = tmp_path / "adults.zip"
    summary = make_extract(
        package_dir,
        out,
        countries=["KHM"],
        tables=["persons"],
        variables=["age", "sex"],
        attach=["households.urban", "households.remittances_received"],
        where="age >= 15 AND urban = 1",
    )
    folder = _unzip(out, tmp_path / "x")
    persons = pl.read_csv(folder / "data" / "persons.csv", infer_schema=False)
    assert persons.columns == [
        "person_id",
        "household_id",
        "country",
        "community_id",
        "region_code",
        "weight",
        "sex",
        "age",
        "urban",
        "remittances_received",
    ]
    households = _package_rows(package_dir, "households", ["KHM"]).select(
        "household_id", "urban", "remittances_received"
    )
    expected = (
        _package_rows(package_dir, "persons", ["KHM"])
        .join(households, on="household_id", how="left", maintain_order="left")
        .filter((pl.col("age") >= 15) & (pl.col("urban") == 1))
    )
    assert persons.height == expected.height == summary.rows["persons"] > 0
    assert persons["person_id"].to_list() == expected["person_id"].to_list()
    assert persons["remittances_received"].to_list() == [str(v) for v in expected["remittances_received"]]
    assert set(persons["country"]) == {"KHM"}
    resource = _descriptor(folder)["resources"][0]
    attached = next(f for f in resource["schema"]["fields"] if f["name"] == "urban")
    assert "Attached from households.urban by household_id" in attached["description"]
    assert resource["surveyDesign"] == {"weight": "weight", "psu": "community_id", "strata": "region_code"}
    assert frictionless_validate(folder)["valid"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["selection"]["where_tables"] == ["persons"]


def test_a_name_already_on_the_table_is_attached_with_a_prefix(package_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.zip"
    summary = make_extract(
        package_dir, out, countries=["ARM"], tables=["emigrants"], attach=["households.weight"], fmt="parquet"
    )
    assert summary.columns["emigrants"][-1] == "households_weight"
    frame = pl.read_parquet(_unzip(out, tmp_path / "x") / "data" / "emigrants.parquet")
    assert (frame["weight"] == frame["households_weight"]).all()  # a member has the household's weight


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"where": "agee >= 15", "tables": ["persons"]}, "did you mean 'age'"),
        ({"where": "age >= ", "tables": ["persons"]}, "not a valid SQL condition"),
        ({"out_name": "x.tar"}, "must end in .zip"),
    ],
)
def test_bad_where_and_out_are_usage_errors(
    package_dir: Path, tmp_path: Path, request_: dict, expected: str
) -> None:
    from ippmd.core.errors import UsageError

    out = tmp_path / request_.pop("out_name", "x.zip")
    with pytest.raises(UsageError, match=expected):
        make_extract(package_dir, out, **request_)
    assert not out.exists()


def test_bad_attach_names_the_close_match(package_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="did you mean 'urban'"):
        make_extract(package_dir, tmp_path / "x.zip", tables=["persons"], attach=["households.urbn"])


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_cli_refuses_tar_and_bad_where_with_exit_2(package_dir: Path, tmp_path: Path) -> None:
    ippmd = str(Path(sys.executable).with_name("ippmd"))
    base = [ippmd, "extract", "--package", str(package_dir)]
    tar = subprocess.run(
        [*base, "--out", str(tmp_path / "x.tar")], capture_output=True, text=True, timeout=120
    )
    assert tar.returncode == 2 and ".zip" in tar.stderr
    where = subprocess.run(
        [*base, "--tables", "persons", "--where", "agee >= 15", "--out", str(tmp_path / "y.zip")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 2 and "did you mean 'age'" in where.stderr.replace("\n", " ")
    assert not list(tmp_path.iterdir())


def _niu_and_unknown(package_dir: Path, table: str, column: str) -> tuple[pl.Series, pl.Series]:
    """Per row of the KHM table: not in universe, unknown (from the package CSV's coding)."""
    text = pl.read_csv(package_dir / "data" / f"{table}.csv", infer_schema=False).filter(
        pl.col("country") == "KHM"
    )
    return (text[column] == "NIU").fill_null(False), text[column].is_null()


def test_stata_and_spss_keep_not_in_universe_and_unknown_apart(
    khm_stat: dict[str, Path], package_dir: Path
) -> None:
    """Read back by an independent reader (pyreadstat/readstat): .n vs .u, -9 vs -8, labels, notes."""
    for table, column in (("households", "remittances_lcu"), ("persons", "years_abroad")):
        niu, unknown = _niu_and_unknown(package_dir, table, column)
        assert niu.sum() > 0 and unknown.sum() > 0, (table, column)  # planted: both kinds occur
        frame, meta = pyreadstat.read_dta(str(khm_stat["dta"] / "data" / f"{table}.dta"), user_missing=True)
        values = pl.Series(frame[column].astype(str).tolist())
        assert ((values == "n") == niu).all() and ((values == "u") == unknown).all(), column
        assert meta.missing_user_values[column] == ["n", "u"]
        assert meta.notes[0].startswith("SYNTHETIC DATA") and "Synthetic countries: KHM" in meta.notes[0]
        assert ".n = not in universe" in meta.notes[1]
        assert str(meta.file_label).startswith("SYNTHETIC ")
        frame, meta = pyreadstat.read_sav(str(khm_stat["sav"] / "data" / f"{table}.sav"), user_missing=True)
        values = pl.Series(frame[column].tolist())
        assert ((values == -9) == niu).all() and ((values == -8) == unknown).all(), column
        assert meta.missing_ranges[column] == [{"lo": -9.0, "hi": -9.0}, {"lo": -8.0, "hi": -8.0}]
        assert meta.variable_value_labels[column] == {
            -9.0: "Not in universe",
            -8.0: "Unknown (don't know, refused or not reported)",
        }
        assert meta.notes[0].startswith("SYNTHETIC DATA") and str(meta.file_label).startswith("SYNTHETIC")
    _, meta = pyreadstat.read_dta(str(khm_stat["dta"] / "data" / "persons.dta"), metadataonly=True)
    assert meta.variable_to_label["working"] == meta.variable_to_label["born_abroad"] == "yesno"
    yesno = meta.value_labels["yesno"]
    assert yesno[0] == "No" and yesno["n"] == "Not in universe"  # type: ignore[index]  # pyreadstat's stubs: numeric keys only


def test_every_extract_has_a_valid_ddi_and_a_citation(khm_stat: dict[str, Path]) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    from tests.test_ddi import ddi_schema

    for fmt, folder in khm_stat.items():
        ddi_schema().validate(str(folder / "ddi.xml"))
        text = (folder / "ddi.xml").read_text(encoding="utf-8")
        code = ".n" if fmt == "dta" else "-9"
        assert f"<catValu>{code}</catValu>" in text and 'missing="Y"' in text
        cff = (folder / "CITATION.cff").read_text(encoding="utf-8")
        assert "version: " in cff and "not published or endorsed by the OECD" in cff
        assert "## How to cite" in (folder / "NOTICE.md").read_text(encoding="utf-8")
        licence = (folder / "LICENSE.md").read_text(encoding="utf-8")
        assert "all rights reserved" in licence and "3.0 IGO" not in licence
        assert "oecd.org" not in (folder / "LICENSE.md").read_text(encoding="utf-8").split("How to cite")[0]
    del xmlschema


def test_parquet_extract_carries_labels_and_the_synthetic_flag(package_dir: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "p.zip"
    make_extract(package_dir, out, countries=["PHL"], tables=["persons"], fmt="parquet")
    path = _unzip(out, tmp_path / "x") / "data" / "persons.parquet"
    schema = pq.read_schema(path)
    info = json.loads(pq.read_metadata(path).metadata[b"ippmd"])
    assert info["synthetic"] is True and info["notice"].startswith("SYNTHETIC DATA")
    assert schema.field("sex").metadata[b"label"] == b"Sex"
    assert json.loads(schema.field("sex").metadata[b"categories"]) == {"1": "Male", "2": "Female"}
    assert schema.field("working").metadata[b"universe"] == b"age >= 15"


def test_load_returns_a_labelled_frame(package_dir: Path) -> None:
    import ippmd

    frame = ippmd.load(
        "persons", countries=["KHM"], attach=["households.urban"], where="age >= 15", package=package_dir
    )
    assert isinstance(frame, pl.DataFrame) and as_number(frame["age"].min()) >= 15
    assert frame.schema["sex"] == pl.Enum(["Male", "Female"]) and "urban" in frame.columns
    meta = ippmd.labels_of(frame)
    assert meta["variable_labels"]["age"] == "Age in completed years"
    assert meta["surveyDesign"]["weight"] == "weight" and meta["synthetic"]
    coded = ippmd.load("households", countries=["KHM"], package=package_dir, labels=False, as_pandas=True)
    assert coded["remittances_received"].isin([0, 1]).all()
    assert coded.attrs["ippmd"]["niu"]["remittances_lcu"]  # rows not in universe, by position
    one = ippmd.load("persons", countries="KHM", variables="age", package=package_dir)  # a name, not letters
    assert one["country"].unique().to_list() == ["KHM"] and "age" in one.columns


def test_r_haven_reads_the_stata_and_spss_missing_codes(khm_stat: dict[str, Path]) -> None:
    """An independent reader in another language, when R and haven are installed."""
    import shutil

    rscript = shutil.which("Rscript")
    if not rscript or subprocess.run([rscript, "-e", "library(haven)"], capture_output=True).returncode:
        pytest.skip("R with the haven package is not installed (Debian: r-base-core r-cran-haven)")
    code = (
        "library(haven);"
        f"d <- read_dta('{khm_stat['dta'] / 'data' / 'households.dta'}');"
        "t <- na_tag(d$remittances_lcu); cat(sum(t == 'n', na.rm=TRUE), sum(t == 'u', na.rm=TRUE), '\\n');"
        f"s <- read_sav('{khm_stat['sav'] / 'data' / 'households.sav'}', user_na=TRUE);"
        "v <- unclass(s$remittances_lcu); cat(sum(v == -9, na.rm=TRUE), sum(v == -8, na.rm=TRUE), '\\n')"
    )
    result = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    dta, sav = (list(map(int, line.split())) for line in result.stdout.strip().splitlines())
    assert dta == sav and dta[0] > 0 and dta[1] > 0

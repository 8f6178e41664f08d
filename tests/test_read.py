"""The one reader of a built package (ippmd.package.read): typed objects, one error policy, one
data hash, one origin rule; the stages that read a package go through it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from ippmd.core.errors import InputError, UsageError
from ippmd.explore.design import Package
from ippmd.extract.source import open_package
from ippmd.models.data import PackageData
from ippmd.package.read import SURVEY, SYNTHETIC, combined_origin, origin_of, read_package
from ippmd.package.write import data_hash
from tests.conftest import ROOT, copy_package

IPPMD = str(Path(sys.executable).with_name("ippmd"))


def test_the_typed_package_matches_its_descriptor(package_dir: Path, descriptor: dict) -> None:
    package = read_package(package_dir)
    assert package.version == descriptor["version"] and package.name == descriptor["name"]
    assert list(package.resources) == [r["name"] for r in descriptor["resources"]]
    assert package.countries == tuple(descriptor["countries"])
    for raw in descriptor["resources"]:
        resource = package.resources[raw["name"]]
        assert resource.field_names == [f["name"] for f in raw["schema"]["fields"]]
        assert resource.primary_key == tuple(raw["schema"].get("primaryKey", []))
        assert resource.rows == raw.get("rows")
        files = raw.get("partitions", {}).get("files", [])
        assert [p.country for p in resource.partitions] == [f["country"] for f in files]
        if files:
            assert sum(p.rows or 0 for p in resource.partitions) == raw["rows"]
    sex = package.resources["persons"].field("sex")
    assert sex is not None and dict(sex.value_labels) == {1: "Male", 2: "Female"}
    households = package.resources["households"]
    assert households.design is not None and households.design.fields() == [
        "weight",
        "community_id",
        "region_code",
    ]
    assert package.resources["country_indicators"].design is None


def test_the_data_hash_is_the_descriptors_and_follows_its_documented_method(
    package_dir: Path, descriptor: dict
) -> None:
    """Recomputed here from the method the descriptor states, not by the package's own code."""
    lines = []
    for r in descriptor["resources"]:
        lines.append(f"{r['name']} {r['path']} {r['hash']}")
        if "parquet" in r:
            lines.append(f"{r['name']} {r['parquet']['path']} {r['parquet']['hash']}")
    expected = "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert read_package(package_dir).data_hash == descriptor["dataHash"] == expected


def test_origins_come_from_the_countries_table_and_only_survey_is_survey(
    package_dir: Path, tmp_path: Path
) -> None:
    folder = copy_package(package_dir, tmp_path / "pkg")
    path = folder / "data" / "countries.parquet"
    table = pl.read_parquet(path)
    marks = {"KHM": "survey", "PHL": "Survey", "GEO": ""}
    table = table.with_columns(
        pl.col("iso3").replace_strict(marks, default=pl.col("data_origin")).alias("data_origin")
    )
    table.write_parquet(path)
    meta = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    entry = next(r for r in meta["resources"] if r["name"] == "countries")["parquet"]
    entry["hash"] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    meta["dataHash"] = data_hash(meta["resources"])
    (folder / "datapackage.json").write_text(json.dumps(meta), encoding="utf-8")
    package = read_package(folder)
    assert package.origin("KHM") == SURVEY
    assert {package.origin(c) for c in ("PHL", "GEO", "ARM")} == {SYNTHETIC}
    assert package.origin("XYZ") == SYNTHETIC
    # every reader sees the same origins
    assert dict(open_package(folder).data_origins) == dict(package.origins)
    assert dict(Package(folder).built.origins) == dict(package.origins)


def test_the_origin_rule() -> None:
    assert [origin_of(v) for v in ("survey", "Survey", "", None, "real", 1)] == [SURVEY] + [SYNTHETIC] * 5
    assert combined_origin(["A", "B"], {"A": "survey", "B": "survey"}) == SURVEY
    assert combined_origin(["A", "B"], {"A": "survey"}) == SYNTHETIC
    assert combined_origin([], {}) == SYNTHETIC


def _write(text: str | bytes) -> Callable[[Path], None]:
    def plant(folder: Path) -> None:
        target = folder / "datapackage.json"
        target.write_bytes(text.encode() if isinstance(text, str) else text)

    return plant


def _edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def plant(folder: Path) -> None:
        meta = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
        change(meta)
        (folder / "datapackage.json").write_text(json.dumps(meta), encoding="utf-8")

    return plant


def _nest(depth: int) -> str:
    return '{"resources": ' + "[" * depth + "]" * depth + "}"


def _households(change: Callable[[dict], None]) -> Callable[[Path], None]:
    return _edit(lambda m: change(next(r for r in m["resources"] if r["name"] == "households")))


def _rename_field(resource: dict) -> None:
    next(f for f in resource["schema"]["fields"] if f["name"] == "agricultural")["name"] = "farming"


HOSTILE: dict[str, tuple[Callable[[Path], None], str, str | None]] = {
    "not json": (_write("{resources: ["), "not readable JSON", None),
    "not utf-8": (_write(b'{"name": "\xff"}'), "not UTF-8", None),
    "a list": (_write("[1, 2]"), "a JSON list", None),
    "a key given twice": (
        _write('{"resources": 5, "name": "x", "resources": []}'),
        "'resources' is given twice",
        None,
    ),
    "a NaN literal": (_write('{"version": NaN, "resources": []}'), "NaN is not a JSON number", None),
    "deeper than the parser": (_write(_nest(200_000)), "nested deeper than", None),
    "deep but parseable": (_write(_nest(40)), "nested deeper than", None),
    "no resources": (_edit(lambda m: m.pop("resources")), "no resources list", "resources"),
    "a resource that is a number": (
        _edit(lambda m: m["resources"].append(7)),
        "not of type 'object'",
        "resources[6]",
    ),
    "a nameless resource": (
        _edit(lambda m: m["resources"][0].pop("name")),
        "missing required key",
        "resources[0].name",
    ),
    "a field name that is a list": (
        _households(lambda r: r["schema"]["fields"][0].update(name=["x"])),
        "must be a field name",
        "resources.households.schema.fields[0].name",
    ),
    "a resource listed twice": (
        _edit(lambda m: m["resources"].append(m["resources"][1])),
        "listed twice",
        "resources",
    ),
    "a malformed data hash": (_edit(lambda m: m.update(dataHash="md5:1")), "must be 'sha256:'", "dataHash"),
    "a data hash that is not its files'": (
        _edit(lambda m: m.update(dataHash="sha256:" + "0" * 64)),
        "does not match the hashes",
        "dataHash",
    ),
    "a file hash of no known method": (
        _households(lambda r: r["parquet"].update(hash="none")),
        "must be 'sha256:'",
        "resources.households.parquet.hash",
    ),
    "rows that are text": (
        _households(lambda r: r.update(rows="many")),
        "must be a whole number >= 0",
        "resources.households.rows",
    ),
    "partitions without files": (
        _households(lambda r: r.update(partitions={"layout": "hive"})),
        "missing required key",
        "resources.households.partitions.files",
    ),
    "a category value that is a list": (
        _households(
            lambda r: next(f for f in r["schema"]["fields"] if "categories" in f)["categories"][0].update(
                value=[1]
            )
        ),
        "must be a text, number or true/false",
        None,
    ),
    "a path with a NUL": (
        _households(lambda r: r["parquet"].update(path="data/x\x00")),
        "relative path inside the package",
        "resources.households.parquet.path",
    ),
    "countries that are numbers": (
        _edit(lambda m: m.update(countries=[1, 2])),
        "must be an ISO3 code",
        "countries[0]",
    ),
    "a country code with a newline after it": (
        _edit(lambda m: m.update(countries=["KHM\n", *m["countries"][1:]])),
        "must be an ISO3 code",
        "countries[0]",
    ),
    "a build that is a list": (_edit(lambda m: m.update(build=[1])), "not of type 'object'", "build"),
    "a control character in a title": (
        _households(lambda r: r.update(title="\x1b[2JFAKE VALID")),
        "control character",
        "resources[2].title",
    ),
    "a lone surrogate in a description": (
        _edit(lambda m: m.update(description="\ud800")),
        "lone surrogate",
        "description",
    ),
    "a design naming a missing field": (
        _households(lambda r: r.update(surveyDesign={"weight": "weight", "psu": "nope", "strata": None})),
        "names field 'nope'",
        "resources.households.surveyDesign.psu",
    ),
    "a partial design": (
        _households(lambda r: r.update(surveyDesign={"weight": "weight", "psu": "community_id"})),
        "missing required key",
        "resources.households.surveyDesign.strata",
    ),
    "a link to a table not listed": (
        _households(lambda r: r["schema"]["foreignKeys"][0]["reference"].update(resource="villages")),
        "refers to resource 'villages'",
        "resources.households.schema.foreignKeys[0]",
    ),
    "a table dropped": (
        _edit(lambda m: m.update(resources=[r for r in m["resources"] if r["name"] != "persons"])),
        "lists no persons table",
        "resources",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_pathological_descriptor_is_a_named_problem(package_dir: Path, tmp_path: Path, case: str) -> None:
    plant, message, field = HOSTILE[case]
    folder = copy_package(package_dir, tmp_path / "pkg")
    plant(folder)
    with pytest.raises(InputError) as caught:
        read_package(folder)
    problem = caught.value.problems[0]
    assert problem.file == str(folder / "datapackage.json")
    assert message in problem.message, problem
    assert field is None or problem.field == field, problem


def test_no_descriptor_is_not_built_yet_for_every_reader(tmp_path: Path) -> None:
    """The three stage readers fail the same way (they were FileNotFoundError, InputError and
    UsageError)."""
    for reader in (read_package, PackageData.load, open_package, Package):
        with pytest.raises(UsageError, match="not built yet"):
            reader(tmp_path)


def test_the_stage_readers_do_not_read_the_descriptor_themselves() -> None:
    for name in ("models/data.py", "extract/source.py", "explore/design.py", "package/diff.py"):
        source = (ROOT / name).read_text(encoding="utf-8")
        for reading in ("json.load", "read_descriptor", "read_parquet(self.root", '"datapackage.json"'):
            assert reading not in source, (name, reading)


@pytest.mark.slow
def test_a_deep_descriptor_never_reaches_a_traceback_from_the_cli(package_dir: Path, tmp_path: Path) -> None:
    """check, extract, tabulate, diff and benchmark name the file (exit 1; diff's trouble is 2)."""
    folder = copy_package(package_dir, tmp_path / "pkg")
    _write(_nest(100_000))(folder)
    runs = {
        ("check", "--package", str(folder)): 1,
        ("extract", "--package", str(folder), "--out", str(tmp_path / "x.zip")): 1,
        ("tabulate", "weight", "--table", "households", "--package", str(folder)): 1,
        ("diff", str(package_dir), str(folder)): 2,
        ("benchmark", "--package", str(folder), "--out", str(tmp_path / "b")): 1,
    }
    for args, code in runs.items():
        result = subprocess.run([IPPMD, *args], capture_output=True, text=True, timeout=120)
        output = result.stdout + result.stderr
        assert result.returncode == code, (args, output)
        assert "nested deeper than" in output and "bug" not in output, (args, output)
        assert "Traceback" not in output


def test_rows_that_differ_from_the_file_are_named_when_it_is_read(package_dir: Path, tmp_path: Path) -> None:
    folder = copy_package(package_dir, tmp_path / "pkg")
    _households(lambda r: r.update(rows=12))(folder)
    package = read_package(folder)  # the descriptor alone is consistent
    with pytest.raises(InputError) as caught:
        package.file("households", "parquet")
    (problem,) = caught.value.problems
    assert problem.field == "resources.households.rows" and "says 12 rows" in problem.message
    with pytest.raises(InputError):
        PackageData.load(folder)


def test_fields_renamed_in_the_descriptor_are_named_when_the_file_is_read(
    package_dir: Path, tmp_path: Path
) -> None:
    folder = copy_package(package_dir, tmp_path / "pkg")
    _households(_rename_field)(folder)
    with pytest.raises(InputError) as caught:
        read_package(folder).file("households", "parquet")
    (problem,) = caught.value.problems
    assert problem.field == "resources.households.schema.fields" and "'farming'" in problem.message


def test_a_damaged_page_with_a_matching_hash_is_named(package_dir: Path, tmp_path: Path) -> None:
    """Bytes in the middle of a Parquet file overwritten and its hash updated: the footer still
    reads, the pages do not; the reader names the file instead of crashing later."""
    folder = copy_package(package_dir, tmp_path / "pkg")
    path = folder / "data" / "households.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = bytes(2000)
    path.write_bytes(bytes(data))
    meta = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    resource = next(r for r in meta["resources"] if r["name"] == "households")
    resource["parquet"]["hash"] = "sha256:" + hashlib.sha256(bytes(data)).hexdigest()
    meta["dataHash"] = data_hash(meta["resources"])
    (folder / "datapackage.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_package(folder).read_table("households")
    assert caught.value.problems[0].file == str(path)


@pytest.mark.parametrize(
    "where",
    [
        "1=1 OR (SELECT 1 FROM read_parquet('/etc/passwd'))",
        "read_csv('/etc/passwd') IS NULL",
        "age IN (SELECT age FROM persons)",
        "scan_parquet('x') IS NULL",
    ],
)
def test_a_condition_holding_a_query_is_refused(where: str) -> None:
    from ippmd.core.schema import check_condition

    with pytest.raises(UsageError, match="holds a query"):
        check_condition(where)


def test_query_words_inside_quotes_are_values() -> None:
    from ippmd.core.schema import check_condition

    check_condition("region_name = 'select from read_csv(x)' AND age >= 15")

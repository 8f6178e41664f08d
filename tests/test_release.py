"""Versions move with the data (issue 23 item 3): a build compared with the package it replaces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ippmd.build import build
from ippmd.package.hashes import data_hash
from ippmd.package.release import bumped, parse_version
from ippmd.package.write import data_version


def _descriptor(folder: Path) -> dict:
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def haiti(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hti")
    build(out, ["HTI"], expectations=False)  # only the data matter here
    return out


def test_semantic_bumps() -> None:
    assert [bumped("0.3.2", kind) for kind in ("patch", "minor", "major")] == ["0.3.3", "0.4.0", "1.0.0"]
    assert parse_version("0.10.0") > parse_version("0.9.9")


def test_identical_rebuild_keeps_the_version_and_every_byte(haiti: Path, tmp_path: Path) -> None:
    again = Path(shutil.copytree(haiti, tmp_path / "again"))
    build(again, ["HTI"], expectations=False)
    assert (again / "datapackage.json").read_bytes() == (haiti / "datapackage.json").read_bytes()
    descriptor = _descriptor(again)
    assert descriptor["version"] == data_version() and "changes" not in descriptor


def test_the_data_hash_covers_the_data_files_not_the_version(haiti: Path) -> None:
    """No data file names the version, so the hash of the same data is the same in any version."""
    import pyarrow.parquet as pq

    descriptor = _descriptor(haiti)
    assert descriptor["dataHash"] == data_hash(descriptor["resources"])
    for resource in descriptor["resources"]:
        for entry in (resource["parquet"], *resource["partitions"]["files"]):
            info = json.loads(pq.read_metadata(haiti / entry["path"]).metadata[b"ippmd"])
            assert "version" not in info and info["resource"] == resource["name"]


def test_changed_rows_are_a_patch_a_new_country_minor_a_removed_one_major(
    haiti: Path, tmp_path: Path
) -> None:
    package = Path(shutil.copytree(haiti, tmp_path / "pkg"))
    base = _descriptor(package)
    build(package, ["HTI"], seed=7, expectations=False)  # other synthetic rows: corrected values
    patch = _descriptor(package)
    assert patch["version"] == bumped(base["version"], "patch")
    assert [c["change"] for c in patch["changes"]] == ["patch"]
    assert patch["changes"][0]["previous"]["dataHash"] == base["dataHash"] != patch["dataHash"]
    build(package, ["HTI"], seed=7, expectations=False)  # the same data again: nothing moves
    assert _descriptor(package) == patch
    build(package, ["DOM", "HTI"], seed=7, expectations=False)
    minor = _descriptor(package)
    assert minor["version"] == bumped(patch["version"], "minor")
    assert minor["changes"][-1]["countriesAdded"] == ["DOM"] and minor["changes"][:-1] == patch["changes"]
    build(package, ["DOM"], seed=7, expectations=False)
    major = _descriptor(package)
    assert major["version"] == bumped(minor["version"], "major")
    assert major["changes"][-1]["countriesRemoved"] == ["HTI"] and major["changes"][-1]["change"] == "major"
    versions = [c["version"] for c in major["changes"]]
    assert len(set(versions)) == len(versions)  # two releases never share a version


def test_a_redefined_field_is_major_and_a_reworded_one_patch() -> None:
    from ippmd.package.diff import PackageDiff, TableDiff
    from ippmd.package.release import change_kind

    class Package:  # what change_kind reads of a BuiltPackage
        countries = ("HTI",)

    def kind(**schema: object) -> str:
        table = TableDiff("persons", **schema)  # type: ignore[arg-type]
        return change_kind(PackageDiff("0.3.0", "0.3.0", None, None, [table]), Package(), Package())  # type: ignore[arg-type]

    assert kind(fields_changed={"born_abroad": ["title"]}) == "patch"
    assert kind(fields_changed={"born_abroad": ["constraints", "title"]}) == "major"
    assert kind(fields_removed=["born_abroad"]) == "major"
    assert kind(fields_added=["new_field"]) == "minor"


def test_a_release_build_takes_the_code_version_whatever_the_folder_held(haiti: Path, tmp_path: Path) -> None:
    """`make data` (`ippmd build --release`): the repository's committed descriptor is what a clean
    clone builds, even over an older build whose data differ."""
    package = Path(shutil.copytree(haiti, tmp_path / "pkg"))
    build(package, ["HTI"], seed=7, expectations=False)
    assert _descriptor(package)["version"] != data_version()
    build(package, ["HTI"], expectations=False, release=True)
    assert (package / "datapackage.json").read_bytes() == (haiti / "datapackage.json").read_bytes()


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_data_returned_to_are_their_release_again(haiti: Path, tmp_path: Path) -> None:
    """A build undone by rebuilding with the old options is the old release, byte for byte."""
    package = Path(shutil.copytree(haiti, tmp_path / "pkg"))
    build(package, ["HTI"], seed=7, expectations=False)
    build(package, ["DOM", "HTI"], seed=7, expectations=False)
    minor = (package / "datapackage.json").read_bytes()
    build(package, ["HTI"], seed=7, expectations=False)
    assert [c["change"] for c in _descriptor(package)["changes"]] == ["patch"]
    build(package, ["HTI"], expectations=False)
    assert (package / "datapackage.json").read_bytes() == (haiti / "datapackage.json").read_bytes()
    build(package, ["DOM", "HTI"], seed=7, expectations=False)
    assert _descriptor(package)["version"] == bumped(bumped(data_version(), "patch"), "minor")
    assert (package / "datapackage.json").read_bytes() != minor  # other history: HTI's rows came back first

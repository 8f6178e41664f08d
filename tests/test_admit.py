"""`ippmd admit` is all or nothing; `ippmd template` and `ippmd check` work on real files."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ippmd.build import build
from ippmd.core.errors import InputError
from ippmd.quality.validate import check_package, validate_submission
from ippmd.synth.generator import write_submission
from ippmd.template import write_template
from tests.conftest import frictionless_validate, set_cell

IPPMD = Path(sys.executable).with_name("ippmd")


def _hashes(folder: Path) -> dict[str, str]:
    files = [folder / "datapackage.json", *sorted(p for p in (folder / "data").rglob("*") if p.is_file())]
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def small_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pkg")
    build(out, ["KHM", "PHL"], expectations=False)  # the suites are not what this module tests
    return out


def _env(raw_root: Path) -> dict[str, str]:
    import os

    return {**os.environ, "IPPMD_RAW_ROOT": str(raw_root)}


def test_failed_admit_changes_no_byte(small_package: Path, tmp_path: Path) -> None:
    before = _hashes(small_package)
    bad = write_submission("KHM", tmp_path / "bad", seed=5)
    set_cell(bad, "persons", 4, "sex", "7")  # not a sex code
    result = subprocess.run(
        [str(IPPMD), "admit", str(bad), "--out", str(small_package), "--engine", "polars"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(tmp_path / "raw"),
    )
    assert result.returncode == 1
    assert "package is unchanged" in result.stdout + result.stderr
    assert _hashes(small_package) == before
    assert not (tmp_path / "raw" / "KHM" / "raw").exists()


@pytest.mark.slow
def test_expectation_failure_fails_the_build_and_leaves_package(small_package: Path, tmp_path: Path) -> None:
    """Structurally valid, but a household head aged 8: the suites stop the build."""
    before = _hashes(small_package)
    sub = write_submission("KHM", tmp_path / "sub", seed=5)
    assert set_cell(sub, "persons", 2, "age", "8")["relation_to_head"] == "1"
    with pytest.raises(InputError) as info:
        build(small_package, ["KHM", "PHL"], submissions={"KHM": sub})
    assert any(p.code == "expectation-failed" and p.field == "age" for p in info.value.problems)
    assert _hashes(small_package) == before


def _senegal(tmp_path: Path, name: str = "sen") -> Path:
    """A survey submission for an eleventh country (KHM's synthetic tables, Senegal's metadata)."""
    sub = write_submission("KHM", tmp_path / name, seed=3)
    meta = yaml.safe_load((sub / "metadata.yaml").read_text(encoding="utf-8"))
    meta.update(country_iso3="SEN", country_name="Senegal", currency="XOF", data_origin="survey")
    # WDI PA.NUS.FCRF, Senegal 2015: 591.2 CFA francs per US dollar (World Bank, WDI 2025 vintage)
    meta["exchange_rate"].update(lcu_per_usd=591.2)
    meta.pop("synthetic")
    for i, region in enumerate(meta["regions"]["list"]):
        region["iso_3166_2"] = f"SN-D{i}"
    (sub / "metadata.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    return sub


def test_admit_needs_a_package_to_admit_into(tmp_path: Path) -> None:
    sub = write_submission("KHM", tmp_path / "sub", seed=5)
    (tmp_path / "not-a-package").mkdir()
    result = subprocess.run(
        [str(IPPMD), "admit", str(sub), "--out", str(tmp_path / "not-a-package")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "holds no ippmd package" in result.stdout + result.stderr
    assert list((tmp_path / "not-a-package").iterdir()) == []  # no ten-country package built there


@pytest.mark.slow
def test_two_admits_at_once_lose_no_country_and_keep_what_they_admitted(
    small_package: Path, tmp_path: Path
) -> None:
    """Georgia (synthetic) and Senegal (survey) admitted at the same time into KHM + PHL: both land,
    nothing is written outside the package, and the package keeps the bytes it validated."""
    package = Path(shutil.copytree(small_package, tmp_path / "pkg"))
    georgia = write_submission("GEO", tmp_path / "geo", seed=4)
    senegal = _senegal(tmp_path)
    home = tmp_path / "home"  # the project home (a checkout): admitting elsewhere must not touch it
    home.mkdir()
    runs = [
        subprocess.Popen(
            # polars: the suites' verdicts are GX's (test_parallel, test_expectations), 4 s less each
            [str(IPPMD), "--home", str(home), "admit", str(sub), "--out", str(package), "--engine", "polars"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(tmp_path / "raw"),
        )
        for sub in (georgia, senegal)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert not (tmp_path / "raw").exists() and list(home.iterdir()) == []  # nothing written outside
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["countries"] == ["GEO", "KHM", "PHL", "SEN"]  # the others kept, none lost
    assert frictionless_validate(package)["valid"]
    assert check_package(package, engine="polars").valid
    # The descriptor describes the package as it now is, country by country.
    origins = {"GEO": "synthetic", "KHM": "synthetic", "PHL": "synthetic", "SEN": "survey"}
    assert descriptor["dataOrigin"] == origins
    assert "Senegal" in descriptor["description"] and "ten countries" not in descriptor["description"]
    countries = (package / "data" / "countries.csv").read_text(encoding="utf-8")
    assert "\nSEN,Senegal,survey," in countries
    # The package keeps what it was built from: the bytes validated, with their checksums.
    kept = package / "admitted" / "SEN"
    assert sorted(p.name for p in (package / "admitted").iterdir()) == ["GEO", "SEN"]
    listed = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=kept, capture_output=True, text=True)
    assert listed.returncode == 0 and listed.stdout.count(": OK") == 5
    for name in ("metadata.yaml", "persons.csv"):
        assert (kept / name).read_bytes() == (senegal / name).read_bytes()
    # Rebuilding it reproduces it byte for byte.
    before = _hashes(package)
    build(package, descriptor["countries"], expectations=False)
    assert _hashes(package) == before
    # A kept file that changed is refused (exit 1 in the CLI), and the package is left alone.
    (kept / "persons.csv").write_bytes((kept / "persons.csv").read_bytes() + b"\n")
    with pytest.raises(InputError) as info:
        build(package, descriptor["countries"], expectations=False)
    assert [p.file for p in info.value.problems] == [str(kept / "persons.csv")]
    assert _hashes(package) == before


@pytest.mark.slow
def test_a_writer_killed_mid_swap_is_finished_by_the_next_one(small_package: Path, tmp_path: Path) -> None:
    """Killed between publishing the data and the descriptor (the window a journal must cover):
    the next writer, even an admit that is then refused, rolls the publish forward first."""
    import os
    import signal

    package = Path(shutil.copytree(small_package, tmp_path / "pkg"))
    shutil.rmtree(package / "admitted", ignore_errors=True)  # the KHM + PHL package, whatever ran before
    build_options = ["--countries", "KHM", "--out", str(package), "--quiet", "--engine", "polars"]
    killed = subprocess.run(
        [str(IPPMD), "build", *build_options],
        capture_output=True,
        timeout=300,
        env={**os.environ, "IPPMD_KILL_AT": "moved:1"},  # data/ moved, datapackage.json not yet
    )
    assert killed.returncode == -signal.SIGKILL
    assert list(package.glob(".ippmd-build-*"))  # the journal of the interrupted publish
    assert not check_package(package, engine="polars").valid  # the window: old descriptor, new data
    bad = write_submission("KHM", tmp_path / "bad", seed=5)
    set_cell(bad, "persons", 4, "sex", "7")
    nxt = subprocess.run(
        [str(IPPMD), "admit", str(bad), "--out", str(package), "--engine", "polars"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert nxt.returncode == 1  # refused, but it first finished the killed build
    assert not list(package.glob(".ippmd-*")), list(package.iterdir())  # no staging, no GX leftovers
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["countries"] == ["KHM"]
    assert frictionless_validate(package)["valid"]
    assert check_package(package, engine="polars").valid  # every hash matches


def test_template_is_a_valid_empty_kit(tmp_path: Path) -> None:
    paths = write_template("KHM", tmp_path / "kit")
    assert {p.name for p in paths} >= {"persons.csv", "metadata.yaml", "GUIDE.md"}
    guide = (tmp_path / "kit" / "GUIDE.md").read_text(encoding="utf-8")
    assert "education_code" in guide and "2 = Female" in guide
    report = validate_submission(tmp_path / "kit")
    # Headers and metadata are right; only the empty tables are reported.
    assert {p.code for p in report.errors} == {"no-rows"}
    write_template("SEN", tmp_path / "sen")
    skeleton = yaml.safe_load((tmp_path / "sen" / "metadata.yaml").read_text(encoding="utf-8"))
    assert skeleton["country_iso3"] == "SEN" and "TODO" in skeleton["country_name"]


def test_check_finds_a_corrupted_package(small_package: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(small_package, tmp_path / "copy"))
    path = copy / "data" / "emigrants.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    row = next(i for i, line in enumerate(lines) if ",THA," in line)
    lines[row] = lines[row].replace(",THA,", ",Thailand,")
    path.write_text("\n".join(lines), encoding="utf-8")
    report = check_package(copy, engine="polars")
    assert not report.valid
    assert any(p.field == "destination" and p.row == row + 1 for p in report.errors)
    assert {"byte-count", "hash-count"} <= {p.code for p in report.errors}


@pytest.mark.slow
def test_large_builds_check_country_by_country_with_the_same_verdict(
    small_package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ippmd.build as package

    monkeypatch.setattr(package, "GX_CHUNK_ROWS", 0)  # as if the build were large
    sub = write_submission("PHL", tmp_path / "sub", seed=5)
    assert set_cell(sub, "persons", 2, "age", "8")["relation_to_head"] == "1"  # a household head aged 8
    with pytest.raises(InputError) as info:
        build(tmp_path / "out", ["KHM", "PHL"], submissions={"PHL": sub})
    failed = [p for p in info.value.problems if p.code == "expectation-failed"]
    assert failed and all("PHL" in (p.message + (p.value or "")) for p in failed)


@pytest.mark.slow  # several CLI processes: make test keeps under 3 minutes; CI runs it
def test_an_admit_bumps_the_version_and_records_the_change(small_package: Path, tmp_path: Path) -> None:
    """A new country is a minor release, a replaced one a patch; each appends to `changes` what
    `ippmd diff` finds, the dataHash stays the data's, and `ippmd diff` names both versions."""
    from ippmd.admit import admit
    from ippmd.package.release import bumped
    from ippmd.package.write import data_version

    package = Path(shutil.copytree(small_package, tmp_path / "pkg"))
    before = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert before["version"] == data_version() and "changes" not in before  # a fresh build: the base
    first = Path(shutil.copytree(package, tmp_path / "first"))
    assert admit(_senegal(tmp_path), package, engine="polars").valid
    minor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert minor["version"] == bumped(before["version"], "minor") != before["version"]
    [entry] = minor["changes"]
    assert entry["change"] == "minor" and entry["countriesAdded"] == ["SEN"]
    assert entry["previous"] == {"version": before["version"], "dataHash": before["dataHash"]}
    assert entry["dataHash"] == minor["dataHash"] != before["dataHash"]
    assert {(r["table"], r["country"]) for r in entry["rows"]} >= {("persons", "SEN"), ("countries", "SEN")}
    assert all(r["country"] == "SEN" and r["removed"] == r["changed"] == 0 for r in entry["rows"])
    assert minor["version"] in minor["citation"] and minor["dataHash"] in minor["citation"]
    second = Path(shutil.copytree(package, tmp_path / "second"))
    assert admit(write_submission("KHM", tmp_path / "khm", seed=5), package, engine="polars").valid
    patch = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert patch["version"] == bumped(minor["version"], "patch")
    assert [c["version"] for c in patch["changes"]] == [minor["version"], patch["version"]]
    replaced = patch["changes"][-1]
    assert replaced["change"] == "patch" and replaced["countriesAdded"] == replaced["countriesRemoved"] == []
    households = [r for r in replaced["rows"] if r["table"] == "households"]
    assert [r["country"] for r in households] == ["KHM"] and households[0]["changed"] > 0
    for older, older_descriptor in ((first, before), (second, minor)):
        shown = subprocess.run(
            [str(IPPMD), "diff", str(older), str(package)], capture_output=True, text=True, timeout=120
        )
        assert shown.returncode == 1, shown.stderr
        printed = " ".join(shown.stdout.split())  # as the terminal wrapped it
        assert f"Changes from {older_descriptor['version']} ({older_descriptor['dataHash']})" in printed
        assert f"to {patch['version']} ({patch['dataHash']})" in printed
    assert frictionless_validate(package)["valid"]
    assert check_package(package, engine="polars").valid
    # The same submission admitted again changes no data: the same version, the same bytes.
    kept = _hashes(package)
    assert admit(write_submission("KHM", tmp_path / "again", seed=5), package, engine="polars").valid
    assert _hashes(package) == kept

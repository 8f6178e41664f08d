"""`ippmd diff OLD NEW`: rows added, removed and changed per table and country, schema changes."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ippmd.build import build
from ippmd.package.diff import TableDiff, _compare_schema, diff_packages


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small builds of one country with different seeds (no GX: only the data matter)."""
    old, new = tmp_path_factory.mktemp("old"), tmp_path_factory.mktemp("new")
    build(old, ["HTI"], expectations=False)
    build(new, ["HTI"], seed=7, expectations=False)
    return old, new


def test_different_seeds_report_changed_rows(two_builds: tuple[Path, Path]) -> None:
    old, new = two_builds
    result = diff_packages(old, new)
    assert not result.identical and result.old_hash != result.new_hash
    tables = {t.name: t for t in result.tables}
    households = tables["households"].by_country
    assert [c["country"] for c in households] == ["HTI"]
    assert households[0]["changed"] > 1000 and households[0]["added"] == households[0]["removed"] == 0
    assert tables["households"].changed_columns["weight"] > 1000
    persons = tables["persons"].by_country[0]
    assert persons["added"] + persons["removed"] > 0  # household sizes differ between seeds
    assert tables["country_indicators"].changes == 0  # real data: the same whatever the seed
    assert "## households" in result.describe() and "| HTI |" in result.describe()


def test_same_build_is_identical_and_schema_changes_are_named(
    two_builds: tuple[Path, Path], tmp_path: Path
) -> None:
    old, _ = two_builds
    assert diff_packages(old, old).identical
    changed = tmp_path / "changed"
    changed.mkdir()
    descriptor = json.loads((old / "datapackage.json").read_text(encoding="utf-8"))
    persons = next(r for r in descriptor["resources"] if r["name"] == "persons")
    persons["schema"]["fields"][-1]["title"] = "Born abroad (relabelled)"
    (changed / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    shutil.copytree(old / "data", changed / "data", copy_function=os.link)  # inside the package
    tables = {t.name: t for t in diff_packages(old, changed).tables}
    assert tables["persons"].fields_changed == {"born_abroad": ["title"]}
    assert tables["persons"].fields_added == [] and tables["persons"].by_country[0]["changed"] == 0
    # a field added or removed (a package of another schema version: its data have the column too)
    added = copy.deepcopy(persons)
    added["schema"]["fields"].append({"name": "new_field", "type": "integer"})
    schema_diff = TableDiff("persons")
    _compare_schema(persons, added, schema_diff)
    assert schema_diff.fields_added == ["new_field"] and schema_diff.fields_removed == []


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_cli_diff_exit_codes(two_builds: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = two_builds
    ippmd = str(Path(sys.executable).with_name("ippmd"))
    same = subprocess.run([ippmd, "diff", str(old), str(old)], capture_output=True, text=True, timeout=120)
    assert same.returncode == 0 and "No change" in same.stdout
    report = tmp_path / "d.json"
    differ = subprocess.run(
        [ippmd, "diff", str(old), str(new), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert differ.returncode == 1 and "households" in differ.stdout
    assert json.loads(report.read_text())["identical"] is False
    missing = subprocess.run(
        [ippmd, "diff", str(old), str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2

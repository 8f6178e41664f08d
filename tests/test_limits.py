"""Bounded resources: every limit is checked before the input is read or parsed, and a file over
it is a named problem (exit 1), never a crash, a hang or gigabytes of memory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ippmd.core.io import MAX_YAML_BYTES, MAX_YAML_DEPTH
from ippmd.quality.archive import MAX_ENTRIES, MAX_UNPACKED_BYTES
from ippmd.quality.structural import MAX_ROWS
from ippmd.quality.validate import validate_submission


def _copy(submission: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(submission, tmp_path / "sub"))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("country_iso3: " + "[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1) + "\n", "nested deeper"),
        ("survey_year: " + "9" * 5000 + "\n", "cannot be read"),  # over Python's int-from-str limit
        ("a: &x [1, 2]\nb: [*x, *x]\n", "anchors and aliases"),
        ("country_name: '" + "x" * (MAX_YAML_BYTES + 1) + "'\n", "over the limit"),
        ("country_name: [unclosed\n", "not valid YAML"),
        ("country_iso3: KHM\nsurvey_year: 2015\ncountry_iso3: PHL\n", "given twice (lines 1 and 3)"),
    ],
    ids=["deep", "5000-digit-integer", "alias", "oversized", "broken", "duplicate-key"],
)
def test_a_hostile_metadata_file_is_a_named_problem(
    submission: Path, tmp_path: Path, text: str, says: str
) -> None:
    sub = _copy(submission, tmp_path)
    (sub / "metadata.yaml").write_text(text, encoding="utf-8")
    report = validate_submission(sub)
    problems = [p for p in report.errors if p.file == "metadata.yaml"]
    assert problems and says in problems[0].message, report.errors
    assert not any(p.code == "internal-error" for p in report.problems)


def test_a_lone_surrogate_in_metadata_is_refused(submission: Path, tmp_path: Path) -> None:
    sub = _copy(submission, tmp_path)
    text = (sub / "metadata.yaml").read_text(encoding="utf-8")
    (sub / "metadata.yaml").write_text(text + 'note: "\\ud800"\n', encoding="utf-8")
    report = validate_submission(sub)
    assert [p.file for p in report.errors] == ["metadata.yaml"]
    assert not any(p.code == "internal-error" for p in report.problems)


def test_a_table_over_the_row_limit_is_refused_before_it_is_parsed(submission: Path, tmp_path: Path) -> None:
    sub = _copy(submission, tmp_path)
    header = (sub / "communities.csv").read_bytes().split(b"\n", 1)[0]
    (sub / "communities.csv").write_bytes(header + b"\n" + b"1\n" * (MAX_ROWS + 1))  # 2 MB, far under bytes
    report = validate_submission(sub)
    assert [(p.code, p.file) for p in report.errors if p.code == "too-many-rows"] == [
        ("too-many-rows", "communities.csv")
    ]


def test_a_folder_over_the_size_or_entry_limit_is_refused_from_its_listing(
    submission: Path, tmp_path: Path
) -> None:
    sub = _copy(submission, tmp_path)
    with (sub / "persons.csv").open("r+b") as handle:  # sparse: no disk used, nothing to read
        handle.truncate(MAX_UNPACKED_BYTES + 1)
    report = validate_submission(sub)
    assert [(p.code, p.file) for p in report.errors] == [("submission-too-large", "persons.csv")]
    crowded = Path(shutil.copytree(submission, tmp_path / "crowded"))
    for i in range(MAX_ENTRIES):
        (crowded / f"extra-{i}.txt").write_text("x", encoding="utf-8")
    report = validate_submission(crowded)
    assert [p.code for p in report.errors] == ["unsafe-archive"]
    assert f"more than {MAX_ENTRIES}" in report.errors[0].message


def test_limits_are_stated_once_and_checked_when_loaded(tmp_path: Path) -> None:
    """limits.yaml is the one place of every limit; a bad entry names the file and the key."""
    import yaml

    from ippmd.core.errors import UsageError
    from ippmd.core.home import package_data
    from ippmd.core.limits import load_limits
    from ippmd.harmonize import submission

    shipped = package_data("ippmd.core", "limits.yaml")
    good = load_limits(shipped)
    assert (
        (submission.MAX_ROWS, submission.MAX_COLUMNS)
        == (MAX_ROWS, good["columns"])
        == (
            good["rows"],
            good["columns"],
        )
    )  # a Stata table is held to the CSV table's limits
    entries = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    for edit, says in [
        (lambda e: e["rows"].update(value=-1), "rows.value: must be a positive integer"),
        (lambda e: e["columns"].update(value=True), "columns.value: must be a positive integer"),
        (lambda e: e.pop("entries"), "entries: missing"),
        (lambda e: e["cell_bytes"].update(reason=" "), "cell_bytes.reason: must be the reason"),
        (lambda e: e["yaml_depth"].pop("assumed"), "yaml_depth: must be an entry with its source"),
        (lambda e: e.update(max_rows={"value": 1}), "max_rows: unknown key"),
    ]:
        broken = yaml.safe_load(yaml.safe_dump(entries))
        edit(broken)
        path = tmp_path / "limits.yaml"
        path.write_text(yaml.safe_dump(broken), encoding="utf-8")
        with pytest.raises(UsageError, match=f"{path}: {says}"):
            load_limits(path)

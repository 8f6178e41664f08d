"""Every submission format is first-class (issue 20, classes 1 and 5): a table sent as CSV, Stata
(.dta) or SPSS (.sav) is held to the same rules, and every problem names the file as submitted, the
row as the submitter's software shows it (a CSV line, header = line 1; a Stata observation or an
SPSS case number) and the variable. Two files for one table are an ambiguity; value labels that
contradict the schema's are named; numbers of any size are named problems; and integers beyond
2^53 - 1, which a double cannot hold exactly, are refused at validation and by the extract writers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyreadstat
import pytest

from ippmd.core.errors import InputError
from ippmd.core.limits import limit
from ippmd.extract.statfiles import write_stat_file
from ippmd.harmonize.submission import read_submission
from ippmd.quality.validate import validate_submission
from tests.conftest import set_cell

IPPMD = Path(sys.executable).with_name("ippmd")
EXACT = 2**53 - 1  # the largest n with n and n + 1 both exact as IEEE 754 doubles
STAT = ("dta", "sav")


def _frame(folder: Path, table: str) -> pd.DataFrame:
    frame = pl.read_csv(folder / f"{table}.csv", schema_overrides={"education_code": pl.String})
    return frame.to_pandas()


def as_stat(
    folder: Path,
    table: str,
    fmt: str,
    edit: Callable[[pd.DataFrame], None] | None = None,
    labels: dict[str, dict[Any, str]] | None = None,
) -> Path:
    """Replace folder/<table>.csv by <table>.<fmt>, written by pyreadstat after `edit` (row i of
    the frame = record i + 1 of the file); a .dta names a variable with its first 32 characters."""
    frame = _frame(folder, table)
    if edit:
        edit(frame)
    if fmt == "dta":  # Stata names hold 32 characters
        frame.columns = [name[:32] for name in frame.columns]
    (folder / f"{table}.csv").unlink()
    path = folder / f"{table}.{fmt}"
    writer = pyreadstat.write_dta if fmt == "dta" else pyreadstat.write_sav
    writer(frame, str(path), variable_value_labels=labels or {})
    return path


def _errors(folder: Path) -> set[tuple[str, int | None, str | None, str]]:
    report = validate_submission(folder)
    return {(p.file, p.row, p.field, p.code) for p in report.errors}


def _set(frame: pd.DataFrame, record: int, column: str, value: float | str) -> None:
    if not isinstance(value, str) and frame[column].dtype != float:
        frame[column] = frame[column].astype(float)
    frame.loc[record - 1, column] = value


# Defects by record (1-based): a code outside the schema's, numbers no integer holds, a fraction.
DEFECTS = [(4, "sex", 7, "constraint-error"), (6, "line_number", 1e300, "type-error")]
DEFECTS += [(8, "line_number", -1e300, "type-error"), (10, "line_number", 2.5, "type-error")]


@pytest.mark.parametrize("fmt", ["csv", *STAT])
def test_problems_name_the_file_record_and_variable_as_submitted(copy: Path, fmt: str) -> None:
    """Record 2 holds a line break in a cell: a CSV record then spans two lines, a Stata or SPSS
    record stays one observation (the CSV the validator reads internally must not shift it)."""
    if fmt == "csv":
        for record, column, value, _ in DEFECTS:
            set_cell(
                copy, "persons", record + 1, column, repr(value) if isinstance(value, float) else str(value)
            )
        set_cell(copy, "persons", 3, "education_code", '"a\nb"')
        row = {2: 4} | {record: record + 2 for record, *_ in DEFECTS}  # header + the extra line
    else:

        def edit(frame: pd.DataFrame) -> None:
            for record, column, value, _ in DEFECTS:
                _set(frame, record, column, value)
            _set(frame, 2, "education_code", "a\nb")

        as_stat(copy, "persons", fmt, edit)
        row = {record: record for record in (2, *(r for r, *_ in DEFECTS))}
    name = f"persons.{fmt}"
    expected = {(name, row[record], column, code) for record, column, _, code in DEFECTS}
    expected.add((name, row[2], "education_code", "control-character"))
    assert _errors(copy) == expected
    messages = {p.row: p.message for p in validate_submission(copy).errors}
    assert "64-bit integer" in messages[row[6]] and messages[row[10]] == "not a valid integer"


@pytest.mark.parametrize("fmt", STAT)
def test_a_missing_variable_names_the_submitted_file(copy: Path, fmt: str) -> None:
    as_stat(copy, "persons", fmt, lambda f: f.drop(columns=["sex"], inplace=True))
    report = validate_submission(copy)
    assert {(p.file, p.row, p.field, p.code) for p in report.errors} == {
        (f"persons.{fmt}", None, "sex", "missing-label")
    }
    assert "persons.csv" not in json.dumps(report.as_dict())  # nor in the skipped layers' reasons
    assert f"persons.{fmt} lacks the column(s) sex" in report.skipped["harmonization"]


@pytest.mark.parametrize("fmt", STAT)
def test_a_bad_reference_names_both_submitted_files(copy: Path, fmt: str) -> None:
    as_stat(copy, "households", fmt)
    as_stat(copy, "emigrants", fmt, lambda f: _set(f, 3, "household_number", 99_999))
    found = [p for p in validate_submission(copy).errors if p.code == "foreign-key"]
    assert [(p.file, p.row, p.field) for p in found] == [(f"emigrants.{fmt}", 3, "household_number")]
    assert found[0].message.endswith(f"in households.{fmt}")


@pytest.mark.slow  # several CLI processes: make test keeps under 3 minutes; CI runs it
def test_the_terminal_report_speaks_of_observations_cases_and_lines(copy: Path, tmp_path: Path) -> None:
    as_stat(copy, "persons", "dta", lambda f: _set(f, 4, "sex", 7))
    as_stat(copy, "emigrants", "sav", lambda f: _set(f, 2, "sex", 9))
    set_cell(copy, "households", 5, "household_size", "x")
    out = tmp_path / "report.json"
    result = subprocess.run(
        [str(IPPMD), "validate", str(copy), "--json", str(out)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "observation 4, variable sex = '7'" in text
    assert "case 2, variable sex = '9'" in text
    assert "line 5, column household_size = 'x'" in text
    records = {(r["file"], r["row"], r["field"]) for r in json.loads(out.read_text())["problems"]}
    assert {
        ("persons.dta", 4, "sex"),
        ("emigrants.sav", 2, "sex"),
        ("households.csv", 5, "household_size"),
    } <= records


@pytest.mark.parametrize(
    "names",
    [
        ("persons.csv", "persons.dta"),
        ("persons.dta", "persons.sav"),
        ("persons.csv", "Persons.CSV"),
        ("Persons.dta", "persons.csv"),
    ],
)
def test_two_files_for_one_table_are_an_ambiguity(copy: Path, tmp_path: Path, names: tuple[str, ...]) -> None:
    source = copy / "persons.csv"
    frame = _frame(copy, "persons")
    staged = tmp_path / "staged"
    staged.mkdir()
    for name in names:
        suffix = name.rsplit(".", 1)[1].lower()
        if suffix == "csv":
            shutil.copy(source, staged / name)
        else:
            (pyreadstat.write_dta if suffix == "dta" else pyreadstat.write_sav)(frame, str(staged / name))
    source.unlink()
    for path in staged.iterdir():
        shutil.move(path, copy / path.name)
    zipped = tmp_path / "sub.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for path in sorted(copy.iterdir()):
            zf.write(path, path.name)
    for target in (copy, zipped):
        report = validate_submission(target)
        assert [p.code for p in report.errors] == ["ambiguous-table"], [str(p) for p in report.errors]
        problem = report.errors[0]
        assert problem.file == " and ".join(sorted(names)) and "persons table" in problem.message
        assert problem.hint
    with pytest.raises(InputError) as info:  # a build reading the folder makes no choice either
        read_submission(copy)
    assert [p.code for p in info.value.problems] == ["ambiguous-table"]


@pytest.mark.parametrize("fmt", STAT)
def test_value_labels_that_contradict_the_schema_are_named(copy: Path, fmt: str) -> None:
    swapped = {"sex": {1: "Female", 2: "Male"}, "working": {0: "no", 1: " YES "}}
    as_stat(copy, "persons", fmt, labels=swapped)
    report = validate_submission(copy)
    found = [(p.file, p.row, p.field, p.value, p.code) for p in report.errors]
    assert found == [
        (f"persons.{fmt}", None, "sex", "1", "value-label-conflict"),
        (f"persons.{fmt}", None, "sex", "2", "value-label-conflict"),
    ]
    first = report.errors[0]
    assert "'Female'" in first.message and "'Male'" in first.message and first.hint
    with pytest.raises(InputError) as info:  # and a build reading the folder refuses it too
        read_submission(copy)
    assert {p.code for p in info.value.problems} == {"value-label-conflict"}


@pytest.mark.parametrize("fmt", STAT)
def test_value_labels_that_agree_or_are_in_another_language_pass(copy: Path, fmt: str) -> None:
    agree = {"sex": {1: "Male", 2: "female"}, "relation_to_head": {1: "Head", 2: "Spouse or partner"}}
    as_stat(copy, "persons", fmt, labels=agree)
    french = {"sex": {1: "Masculin", 2: "Féminin"}, "working": {0: "Non", 1: "Oui", -9: "Yes"}}
    as_stat(copy, "emigrants", fmt, labels={"sex": french["sex"]})
    as_stat(copy, "households", fmt)  # no labels at all
    report = validate_submission(copy)
    assert report.valid, [str(p) for p in report.errors[:5]]


@pytest.mark.parametrize(
    ("fmt", "values"),
    [
        ("dta", [1e300, -1e300, 2.0**63, np.nan]),  # Stata holds no infinity (readstat refuses to write it)
        ("sav", [1e300, np.inf, -np.inf, np.nan]),
        ("csv", ["1e300", "inf", "nan", "99999999999999999999", "-1e300"]),
    ],
)
def test_numeric_extremes_in_an_id_column_are_named_problems(copy: Path, fmt: str, values: list) -> None:
    """Every extreme in an id (household_number: a key, with its children) gives a named problem
    at its record, never an internal error; a missing id (NaN, Stata's '.') is a required value."""
    households = [20, 40, 60, 80, 100][: len(values)]
    if fmt == "csv":
        for record, value in zip(households, values, strict=True):
            set_cell(copy, "households", record + 1, "household_number", value)
        rows = [record + 1 for record in households]
    else:

        def edit(frame: pd.DataFrame) -> None:
            for record, value in zip(households, values, strict=True):
                _set(frame, record, "household_number", value)

        as_stat(copy, "households", fmt, edit)
        rows = households
    report = validate_submission(copy)
    assert "internal-error" not in {p.code for p in report.problems}
    at = {
        (p.row, p.code)
        for p in report.errors
        if p.file == f"households.{fmt}" and p.field == "household_number"
    }
    for row, value in zip(rows, values, strict=True):
        missing = isinstance(value, float) and np.isnan(value) and fmt != "csv"
        assert (row, "constraint-error" if missing else "type-error") in at, (row, value, sorted(at))


def test_a_number_column_holds_finite_numbers_in_every_format(copy: Path) -> None:
    set_cell(copy, "persons", 3, "years_abroad", "1e400")  # overflows to infinity
    as_stat(copy, "households", "sav", lambda f: _set(f, 7, "education_expenditure", -np.inf))
    found = {(p.file, p.row, p.field, p.code, p.message) for p in validate_submission(copy).errors}
    assert ("persons.csv", 3, "years_abroad", "type-error", "not a finite number") in found
    assert ("households.sav", 7, "education_expenditure", "type-error", "not a finite number") in found


def test_a_field_longer_than_a_stata_name_is_read_from_its_first_32_characters(
    copy: Path, tmp_path: Path
) -> None:
    """households.education_expenditure_nonresponse has 33 characters, one more than Stata allows."""
    long = "education_expenditure_nonresponse"
    clean = Path(shutil.copytree(copy, tmp_path / "clean"))
    as_stat(clean, "households", "dta")
    report = validate_submission(clean)
    assert report.valid, [str(p) for p in report.errors[:5]]
    as_stat(copy, "households", "dta", lambda f: _set(f, 5, long, 7))
    found = [(p.file, p.row, p.field, p.code) for p in validate_submission(copy).errors]
    assert found == [("households.dta", 5, long[:32], "constraint-error")]


@pytest.mark.parametrize("fmt", ["csv", *STAT])
def test_ids_beyond_2_53_are_refused_with_the_reason(copy: Path, fmt: str) -> None:
    """9007199254740993 in a CSV is an exact int64 but no double: refused wherever it comes from."""
    big = EXACT + 2  # a .dta or .sav stores it as 9007199254740992 already: still refused
    if fmt == "csv":
        set_cell(copy, "communities", 4, "community_number", str(big))
        row = 4
    else:
        as_stat(copy, "communities", fmt, lambda f: _set(f, 3, "community_number", float(big)))
        row = 3
    report = validate_submission(copy)
    found = [p for p in report.errors if p.code == "inexact-integer"]
    assert [(p.file, p.row, p.field) for p in found] == [(f"communities.{fmt}", row, "community_number")]
    assert "Stata and SPSS" in found[0].message and "doubles" in found[0].message and found[0].hint
    assert limit("exact_integer") == EXACT


def test_ids_up_to_2_53_minus_1_pass_validation(copy: Path) -> None:
    """The largest household numbers a double holds exactly, in every table that names them."""
    numbers = _frame(copy, "households")["household_number"].tolist()
    renumber = {n: EXACT - i for i, n in enumerate(numbers)}  # EXACT, EXACT - 1, ...
    for table in ("households", "persons", "emigrants"):
        frame = pl.read_csv(copy / f"{table}.csv", infer_schema=False)
        frame = frame.with_columns(pl.col("household_number").cast(pl.Int64).replace_strict(renumber))
        frame.write_csv(copy / f"{table}.csv")
    report = validate_submission(copy)
    assert report.valid, [str(p) for p in report.errors[:5]]


# The extract writers: a double holds ±(2^53 - 1) and every integer below exactly, read back by
# pyreadstat (readstat) and R's haven; beyond, the writer refuses rather than collapse.
FIELDS = [{"name": "household_number", "type": "integer", "title": "Household number"}]


@pytest.mark.parametrize("fmt", STAT)
def test_extract_writers_keep_ids_up_to_2_53_minus_1_exact(tmp_path: Path, fmt: str) -> None:
    ids = [EXACT, EXACT - 1, EXACT - 2, 1, -EXACT]
    path = tmp_path / f"households.{fmt}"
    write_stat_file(pl.DataFrame({"household_number": ids}), FIELDS, path, fmt, "test")  # type: ignore[arg-type]
    back, _ = (pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav)(str(path))
    assert [int(v) for v in back["household_number"]] == ids
    if shutil.which("Rscript"):
        reader = "read_dta" if fmt == "dta" else "read_sav"
        script = f"x <- haven::{reader}('{path}')$household_number; cat(sprintf('%.0f', x), sep = ' ')"
        result = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert [int(v) for v in result.stdout.split()] == ids


@pytest.mark.parametrize("fmt", STAT)
def test_extract_writers_refuse_ids_a_double_would_collapse(tmp_path: Path, fmt: str) -> None:
    ids = [1, EXACT + 1, EXACT + 2, -(EXACT + 1)]  # 2^53 and 2^53 + 1 would both read 2^53
    path = tmp_path / f"households.{fmt}"
    with pytest.raises(InputError) as info:
        write_stat_file(pl.DataFrame({"household_number": ids}), FIELDS, path, fmt, "test")  # type: ignore[arg-type]
    assert [(p.file, p.row, p.field, p.value) for p in info.value.problems] == [
        (f"households.{fmt}", row, "household_number", str(ids[row - 1])) for row in (2, 3, 4)
    ]
    assert "doubles" in info.value.problems[0].message
    assert not path.exists()


def test_the_stata_writer_refuses_numbers_beyond_its_largest_double(tmp_path: Path) -> None:
    """Stata codes missing values above maxdouble() (8.9884656743e307): readstat refused to write
    1e308 with an error of its own; SPSS holds every double."""
    fields = [{"name": "weight", "type": "number", "title": "Weight"}]
    frame = pl.DataFrame({"weight": [1.5, 1e308, -8.9884656743e307]})
    with pytest.raises(InputError) as info:
        write_stat_file(frame, fields, tmp_path / "households.dta", "dta", "test")
    assert [(p.file, p.row, p.field, p.code) for p in info.value.problems] == [
        ("households.dta", 2, "weight", "number-out-of-range")
    ]
    write_stat_file(frame, fields, tmp_path / "households.sav", "sav", "test")
    back, _ = pyreadstat.read_sav(str(tmp_path / "households.sav"))
    assert back["weight"].tolist() == frame["weight"].to_list()
    edge = frame.filter(pl.col("weight") != 1e308)  # Stata's largest double itself is written
    write_stat_file(edge, fields, tmp_path / "edge.dta", "dta", "test")
    assert pyreadstat.read_dta(str(tmp_path / "edge.dta"))[0]["weight"].tolist() == edge["weight"].to_list()


def _renumbered(submission: Path, folder: Path, first: int) -> Path:
    """A copy of the submission whose household numbers count down from `first`."""
    shutil.copytree(submission, folder)
    numbers = _frame(folder, "households")["household_number"].tolist()
    renumber = {n: first - i for i, n in enumerate(numbers)}
    for table in ("households", "persons", "emigrants"):
        frame = pl.read_csv(folder / f"{table}.csv", infer_schema=False)
        frame = frame.with_columns(pl.col("household_number").cast(pl.Int64).replace_strict(renumber))
        frame.write_csv(folder / f"{table}.csv")
    return folder


@pytest.mark.slow
def test_ids_up_to_2_53_minus_1_stay_exact_from_submission_to_stata_and_spss(
    submission: Path, tmp_path: Path
) -> None:
    """validate -> build -> extract --format dta/sav -> read back by pyreadstat and R's haven."""
    from ippmd.build import build
    from ippmd.extract import make_extract

    renumbered = _renumbered(submission, tmp_path / "sub", EXACT)
    build(tmp_path / "pkg", ["KHM"], submissions={"KHM": renumbered}, expectations=False)
    package = pl.read_parquet(tmp_path / "pkg" / "data" / "households.parquet")
    expected = package.sort("household_id")["household_number"].to_list()
    assert max(expected) == EXACT and len(set(expected)) == len(expected)
    for fmt in STAT:
        out = tmp_path / f"khm-{fmt}.zip"
        make_extract(tmp_path / "pkg", out, countries=["KHM"], tables=["households"], fmt=fmt)  # type: ignore[arg-type]
        with zipfile.ZipFile(out) as zf:
            zf.extractall(tmp_path / fmt)
        path = tmp_path / fmt / out.stem / "data" / f"households.{fmt}"
        back, _ = (pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav)(str(path))
        read = dict(zip(back["household_id"], (int(v) for v in back["household_number"]), strict=True))
        assert [read[k] for k in sorted(read)] == expected
        if shutil.which("Rscript"):
            reader = "read_dta" if fmt == "dta" else "read_sav"
            script = (
                f"d <- haven::{reader}('{path}'); d <- d[order(d$household_id), ];"
                "cat(sprintf('%.0f', d$household_number), sep = ' ')"
            )
            result = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            assert [int(v) for v in result.stdout.split()] == expected


@pytest.mark.slow
def test_a_package_holding_ids_beyond_2_53_is_checked_and_never_collapsed(
    submission: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package built before the rule (the validation limit lifted here) holds 2^53 + 1: `ippmd
    check` names it, and the Stata and SPSS extracts are refused (exit 1), not written with two
    households both reading 9007199254740992."""
    import ippmd.quality.structural as structural
    from ippmd.build import build

    renumbered = _renumbered(submission, tmp_path / "sub", EXACT + 2)  # EXACT + 2, EXACT + 1, EXACT, ...
    with monkeypatch.context() as patch:
        patch.setattr(structural, "EXACT_INTEGER", 2**62)
        build(tmp_path / "pkg", ["KHM"], submissions={"KHM": renumbered}, expectations=False)
    check = subprocess.run(
        [str(IPPMD), "check", "--package", str(tmp_path / "pkg"), "--json", str(tmp_path / "check.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 1, check.stdout + check.stderr
    flagged = [
        r
        for r in json.loads((tmp_path / "check.json").read_text())["problems"]
        if r["code"] == "inexact-integer"
    ]
    assert {(r["file"], r["field"], r["value"]) for r in flagged} == {
        ("data/households.csv", "household_number", str(EXACT + 2)),
        ("data/households.csv", "household_number", str(EXACT + 1)),
    }
    for fmt in STAT:
        out = tmp_path / f"x-{fmt}.zip"
        args = ["extract", "--package", str(tmp_path / "pkg"), "--tables", "households", "--format", fmt]
        result = subprocess.run(
            [str(IPPMD), *args, "--out", str(out)], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 1, result.stdout + result.stderr
        said = " ".join((result.stdout + result.stderr).split())
        assert f"households.{fmt}" in said and "household_number" in said and str(EXACT + 2) in said
        assert "Traceback" not in said and not out.exists()
    parquet = tmp_path / "x.zip"
    args = ["extract", "--package", str(tmp_path / "pkg"), "--tables", "households", "--format", "parquet"]
    assert subprocess.run([str(IPPMD), *args, "--out", str(parquet)], timeout=300).returncode == 0


def test_admit_names_the_submitted_files_and_refuses_contradicting_labels(
    copy: Path, package_dir: Path, tmp_path: Path
) -> None:
    """admit validates a copy of the converted tables: its report still names persons.dta."""
    from ippmd.admit import admit
    from tests.conftest import copy_package

    out = copy_package(package_dir, tmp_path / "pkg")
    before = (out / "datapackage.json").read_bytes()
    as_stat(copy, "persons", "dta", lambda f: _set(f, 4, "sex", 7), labels={"sex": {1: "Female", 2: "Male"}})
    report = admit(copy, out, engine="polars")
    assert {(p.file, p.row, p.field, p.code) for p in report.errors} == {
        ("persons.dta", None, "sex", "value-label-conflict"),
        ("persons.dta", 4, "sex", "constraint-error"),
    }
    assert (out / "datapackage.json").read_bytes() == before

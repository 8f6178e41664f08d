"""Regressions from a hostile try of the command line: odd paths, odd SQL, odd arguments."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import copy_package

IPPMD = Path(sys.executable).with_name("ippmd")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(IPPMD), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def odd_package(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session package in a folder whose name polars would read as a glob."""
    return copy_package(package_dir, tmp_path_factory.mktemp("odd") / "pkg [v1]")


@pytest.mark.slow  # several CLI processes: make test keeps under 3 minutes; CI runs it
def test_a_bracket_in_the_package_path_is_a_path_not_a_pattern(odd_package: Path, tmp_path: Path) -> None:
    tabulated = _run("tabulate", "sex", "--table", "persons", "--package", str(odd_package), cwd=tmp_path)
    assert tabulated.returncode == 0, tabulated.stderr
    extracted = _run("extract", "--package", str(odd_package), "--out", str(tmp_path / "x.zip"), cwd=tmp_path)
    assert extracted.returncode == 0, extracted.stderr
    for done in (tabulated, extracted):
        assert "internal error" not in done.stderr


def test_codebook_takes_the_package_folder_and_refuses_a_folder_without_one(
    odd_package: Path, tmp_path: Path
) -> None:
    ddi = _run("codebook", "--format", "ddi", "--package", str(odd_package), "--out", "c.xml", cwd=tmp_path)
    assert ddi.returncode == 0, ddi.stderr
    assert "PHL" in (tmp_path / "c.xml").read_text(encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = _run("codebook", "--package", str(empty), "--out", "c.md", cwd=tmp_path)
    assert refused.returncode == 2 and not (tmp_path / "c.md").exists()


@pytest.mark.parametrize(("where", "code"), [("age > 300", 0), ("age", 2), ("sex = 'x'", 2), ("NULL", 2)])
def test_extract_where_no_rows_or_not_a_condition(
    odd_package: Path, tmp_path: Path, where: str, code: int
) -> None:
    done = _run(
        "extract", "--package", str(odd_package), "--tables", "persons", "--where", where,
        "--out", str(tmp_path / "w.zip"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_extract_where_on_households_keeps_the_foreign_keys(odd_package: Path, tmp_path: Path) -> None:
    """Cutting households cuts their persons and emigrants too: no row points to a dropped household."""
    out = tmp_path / "urban.zip"
    done = _run(
        "extract", "--package", str(odd_package), "--where", "urban = 1", "--out", str(out), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as archive:
        archive.extractall(tmp_path / "x")
    (top,) = (tmp_path / "x").iterdir()
    households = pl.read_csv(top / "data" / "households.csv", infer_schema=False)
    assert set(households["urban"].to_list()) == {"1"}
    for child in ("persons", "emigrants"):
        rows = pl.read_csv(top / "data" / f"{child}.csv", infer_schema=False)
        assert rows.height > 0
        assert rows["household_id"].is_in(households["household_id"].implode()).all(), child


def test_build_checks_its_arguments_before_writing(tmp_path: Path) -> None:
    for args in (["--countries", "xyz"], ["--scale", "101"]):
        done = _run("build", *args, "--out", str(tmp_path / "out"), "--quiet", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert not (tmp_path / "out").exists()


def test_tabulate_repeated_by_column_is_one_column(odd_package: Path, tmp_path: Path) -> None:
    done = _run(
        "tabulate", "sex", "--table", "persons", "--by", "country,country", "--format", "csv",
        "--package", str(odd_package), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split(",").count("country") == 1


def _package_bytes(folder: Path) -> dict[Path, bytes]:
    files = [folder / "datapackage.json", *(folder / "data").rglob("*")]
    return {p: p.read_bytes() for p in files if p.is_file()}


@pytest.mark.parametrize(
    "args",
    [
        ["codebook", "--package", "{pkg}", "--out", "{pkg}/datapackage.json"],
        ["check", "--package", "{pkg}", "--json", "{pkg}/data/report.json"],
        ["tabulate", "sex", "--table", "persons", "--package", "{pkg}", "--out", "{pkg}/data/persons.csv"],
        ["site", "--package", "{pkg}", "--out", "{pkg}/data/site"],
    ],
)
def test_no_output_over_the_package_it_reads(odd_package: Path, tmp_path: Path, args: list[str]) -> None:
    before = _package_bytes(odd_package)
    done = _run(*[a.replace("{pkg}", str(odd_package)) for a in args], cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "which this command reads" in " ".join(done.stderr.split())
    assert _package_bytes(odd_package) == before


def test_validate_never_writes_its_report_over_the_submission(tmp_path: Path) -> None:
    assert _run("synth", "KHM", "sub", cwd=tmp_path).returncode == 0
    original = (tmp_path / "sub" / "persons.csv").read_bytes()
    done = _run("validate", "sub", "--json", "sub/persons.csv", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert (tmp_path / "sub" / "persons.csv").read_bytes() == original


def test_a_file_far_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A sparse 3 GiB persons.csv: refused from the folder listing, with the file named (exit 1)."""
    assert _run("synth", "KHM", "sub", cwd=tmp_path).returncode == 0
    with (tmp_path / "sub" / "persons.csv").open("r+b") as handle:
        handle.truncate(3 * 1024**3)
    done = _run("validate", "sub", "--json", "report.json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    import json

    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    records = report["problems"] if isinstance(report, dict) else report
    too_large = [r for r in records if r["code"] == "submission-too-large"]
    assert [r["file"] for r in too_large] == ["persons.csv"], records


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
@pytest.mark.parametrize(
    "command",
    [("benchmark", "--focus", "KHM"), ("figures",), ("build", "--countries", "KHM")],
    ids=["benchmark", "figures", "build"],
)
def test_a_folder_of_the_users_files_is_never_written_into(
    package_dir: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    mine = tmp_path / "mine"
    (mine / "data").mkdir(parents=True)
    (mine / "notes.txt").write_text("precious", encoding="utf-8")
    (mine / "data" / "survey.csv").write_text("precious", encoding="utf-8")
    options = ("--package", str(package_dir)) if command[0] == "benchmark" else ()
    done = _run(*command, *options, "--out", str(mine), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "internal error" not in done.stdout + done.stderr
    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*")) == [
        "data",
        "data/survey.csv",
        "notes.txt",
    ]


@pytest.fixture(scope="module")
def corrupt_package(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session package whose persons.parquet is garbage."""
    folder = copy_package(package_dir, tmp_path_factory.mktemp("corrupt") / "pkg")
    (folder / "data" / "persons.parquet").write_bytes(b"garbage")
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ("tabulate", "sex", "--table", "persons"),
        ("codebook", "--out", "cb.md"),
        ("benchmark", "--out", "report"),
        ("extract", "--out", "x.zip"),
    ],
    ids=lambda c: c[0],
)
def test_a_corrupt_package_file_is_a_data_problem_not_a_bug(
    corrupt_package: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = _run(*command, "--package", str(corrupt_package), cwd=tmp_path)
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert "persons.parquet" in said and "SHA-256" in said and "bug" not in said
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_diff_says_trouble_with_exit_2_not_different(
    package_dir: Path, corrupt_package: Path, tmp_path: Path
) -> None:
    done = _run("diff", str(package_dir), str(corrupt_package), cwd=tmp_path)
    assert done.returncode == 2 and "persons.parquet" in done.stdout + done.stderr
    assert _run("diff", str(package_dir), str(package_dir), cwd=tmp_path).returncode == 0


def test_check_never_reads_outside_the_package(corrupt_package: Path, tmp_path: Path) -> None:
    import json

    folder = Path(shutil.copytree(corrupt_package, tmp_path / "pkg"))
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"][1]["partitions"]["files"][0]["path"] = "../../../../etc/passwd"
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    done = _run("check", "--package", str(folder), "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    assert done.returncode == 1
    records = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    records = records["problems"] if isinstance(records, dict) else records
    assert any("leads out of the package" in r["message"] for r in records)


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_an_aggregate_is_not_a_row_condition(package_dir: Path, tmp_path: Path) -> None:
    """It would compare each row with the whole table: refused as a usage error, in one line."""
    from ippmd.core.errors import UsageError
    from ippmd.core.schema import row_mask

    frame = pl.DataFrame({"age": [10, 20, 30]})
    for where in ("age > AVG(age)", "age = max (age)", "row_number() OVER (ORDER BY age) < 3"):
        with pytest.raises(UsageError, match="aggregate"):
            row_mask(frame, where)
    assert row_mask(frame, "age > 15 AND 'avg(x)' <> ''").to_list() == [False, True, True]
    for command in (
        ("tabulate", "sex", "--table", "persons", "--where", "age > AVG(age)"),
        ("extract", "--tables", "persons", "--where", "age > AVG(age)", "--out", "x.zip"),
    ):
        done = _run(*command, "--package", str(package_dir), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "aggregate" in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


def _edit_parquet_and_its_hash(
    package: Path, table: str, edit: Callable[[pl.DataFrame], pl.DataFrame]
) -> None:
    """Change a table's Parquet file and write its new hash into the descriptor, as someone
    hand-editing a package would: the hash check alone then passes."""
    import hashlib
    import json

    from ippmd.package.write import data_hash

    path = package / "data" / f"{table}.parquet"
    edit(pl.read_parquet(path)).write_parquet(path)
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    resource = next(r for r in descriptor["resources"] if r["name"] == table)
    resource["parquet"]["bytes"] = path.stat().st_size
    resource["parquet"]["hash"] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    descriptor["dataHash"] = data_hash(descriptor["resources"])  # resealed, as a careful forger would
    (package / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
@pytest.mark.parametrize(
    ("edit", "field", "says"),
    [
        (lambda df: df.drop("weight"), "weight", "column missing"),
        (lambda df: df.with_columns(pl.col("weight").cast(pl.String)), "weight", "column of type String"),
        (lambda df: df.with_columns(weight=pl.lit(float("nan"))), "weight", "not a finite number (row 1 "),
        (lambda df: df.with_columns(region_code=pl.lit(None, pl.String)), "region_code", "requires a value"),
        (lambda df: df.head(0), None, "the table has no rows"),
    ],
)
def test_a_hand_edited_table_with_a_matching_hash_is_named_not_a_crash(
    package_dir: Path,
    tmp_path: Path,
    edit: Callable[[pl.DataFrame], pl.DataFrame],
    field: str | None,
    says: str,
) -> None:
    from ippmd.core.errors import InputError
    from ippmd.core.io import verify_parquet_files

    package = copy_package(package_dir, tmp_path / "pkg")
    _edit_parquet_and_its_hash(package, "households", edit)
    with pytest.raises(InputError) as caught:
        verify_parquet_files(package)
    (problem,) = caught.value.problems
    assert problem.file.endswith("households.parquet") and problem.field == field and says in problem.message
    if field == "weight" and "finite" in says:  # the case that made pyfixest panic (SIGABRT)
        for args in (
            ["benchmark", "--package", str(package), "--out", str(tmp_path / "report"), "--quiet"],
            ["extract", "--package", str(package), "--out", str(tmp_path / "x.zip")],
        ):
            done = subprocess.run([str(IPPMD), *args], capture_output=True, text=True, timeout=120)
            said = done.stdout + done.stderr
            assert done.returncode == 1 and "households.parquet" in said and "weight" in said, said
            assert "internal error" not in said and "panicked" not in said


@pytest.mark.parametrize(
    "args",
    [
        ["synth", "KH\x1b[2JM", "x"],
        ["codebook", "--format", "m\x9bd"],
        ["figures", "--highlight", "K\x1b[31mHM"],
    ],
)
def test_an_escape_in_an_argument_is_written_out_not_sent_to_the_terminal(
    tmp_path: Path, args: list[str]
) -> None:
    done = subprocess.run([str(IPPMD), *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "\x1b" not in said and "\x9b" not in said
    assert "\\x1b" in said or "\\x9b" in said


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("countries"), "countries"),
        (lambda d: d.update(countries="KHM"), "countries"),
        (lambda d: d.update(countries=["KHM", ["x"]]), "countries"),
        (lambda d: d.update(countries=["KHM", "KHM"]), "countries"),
        (lambda d: d.update(build={"seed": "abc"}), "build.seed"),
    ],
)
def test_a_hand_edited_descriptor_field_is_named(
    package_dir: Path, edit: Callable[[dict[str, Any]], object], field: str
) -> None:
    """What admit and benchmark read of the descriptor is checked, naming the field (exit 1)."""
    import json

    from ippmd.core.errors import InputError
    from ippmd.core.io import descriptor_build_options, descriptor_countries

    descriptor = json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor_countries(package_dir, descriptor) == descriptor["countries"]
    edit(descriptor)
    with pytest.raises(InputError) as caught:
        descriptor_countries(package_dir, descriptor)
        descriptor_build_options(package_dir, descriptor)
    assert [p.field for p in caught.value.problems] == [field]


def test_check_holds_the_listed_countries_to_the_countries_table(package_dir: Path, tmp_path: Path) -> None:
    import json

    from ippmd.quality.validate import _listed_countries_problems

    package = copy_package(package_dir, tmp_path / "pkg")
    codes = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))["countries"]
    assert _listed_countries_problems(package, codes) == []
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["countries"] = [*codes, "XYZ"]
    (package / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    (problem,) = _listed_countries_problems(package, codes)
    assert problem.field == "countries" and "XYZ" in problem.message and problem.code == "descriptor-error"
    descriptor["countries"] = "KHM"
    (package / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    assert [p.field for p in _listed_countries_problems(package, codes)] == ["countries"]

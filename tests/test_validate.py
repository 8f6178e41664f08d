"""`ippmd validate`: a corpus of broken submissions, one defect each, made from a valid one."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from ippmd.core.errors import UsageError
from ippmd.quality.report import Report
from ippmd.quality.validate import ENGINES, engine_named, validate_submission
from ippmd.synth.generator import write_submission
from tests.conftest import set_cell

IPPMD = Path(sys.executable).with_name("ippmd")


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid synthetic submission (Burkina Faso: French spellings, accents in names)."""
    return write_submission("BFA", tmp_path_factory.mktemp("bfa"), seed=11)


@pytest.fixture
def copy(valid: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(valid, tmp_path / "submission"))


def _edit_csv(folder: Path, table: str, edit: Callable[[list[str]], list[str]]) -> None:
    path = folder / f"{table}.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    path.write_text("\n".join(edit(lines)), encoding="utf-8")


def _edit_meta(folder: Path, edit: Callable[[dict], None]) -> None:
    meta = yaml.safe_load((folder / "metadata.yaml").read_text(encoding="utf-8"))
    edit(meta)
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")


def _codes(report: Report) -> set[str]:
    return {p.code for p in report.errors}


def test_engine_names_come_from_the_literal() -> None:
    assert ENGINES == ("polars", "gx")
    assert engine_named(" GX ") == "gx" and engine_named("polars") == "polars"
    with pytest.raises(UsageError, match=r"--engine 'spark': use polars or gx"):
        engine_named("spark")


def test_valid_submission_passes(valid: Path) -> None:
    report = validate_submission(valid)
    assert report.valid, [str(p) for p in report.problems[:5]]
    assert report.country == "BFA"
    assert "harmonization" in report.layers


@pytest.mark.parametrize(
    "variant",
    ["bom", "crlf", "reordered"],
)
def test_valid_variants_are_accepted(copy: Path, variant: str) -> None:
    for table in ("persons", "emigrants"):
        path = copy / f"{table}.csv"
        data = path.read_bytes()
        if variant == "bom":
            data = b"\xef\xbb\xbf" + data
        elif variant == "crlf":
            data = data.replace(b"\n", b"\r\n")
        else:
            frame = pl.read_csv(path, infer_schema=False)
            frame.select(list(reversed(frame.columns))).write_csv(path)
            continue
        path.write_bytes(data)
    report = validate_submission(copy)
    assert report.valid, [str(p) for p in report.problems[:5]]


# (defect name, how to plant it (its return value unused), expected code, file, field)
DEFECTS: list[tuple[str, Callable[[Path], object], str, str, str | None]] = [
    (
        "latin-1",
        lambda f: (f / "emigrants.csv").write_bytes(
            (f / "emigrants.csv").read_text(encoding="utf-8").encode("cp1252")
        ),
        "encoding-error",
        "emigrants.csv",
        None,
    ),
    (
        "semicolons",
        lambda f: (f / "persons.csv").write_text(
            (f / "persons.csv").read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8"
        ),
        "delimiter-error",
        "persons.csv",
        None,
    ),
    (
        "missing column",
        lambda f: pl.read_csv(f / "persons.csv", infer_schema=False).drop("age").write_csv(f / "persons.csv"),
        "missing-label",
        "persons.csv",
        "age",
    ),
    (
        "extra column",
        lambda f: (
            pl.read_csv(f / "households.csv", infer_schema=False)
            .with_columns(notes=pl.lit("x"))
            .write_csv(f / "households.csv")
        ),
        "extra-label",
        "households.csv",
        "notes",
    ),
    (
        "duplicated column",
        lambda f: _edit_csv(
            f, "communities", lambda ls: [ls[0] + ",urban"] + [x + ",0" if x else x for x in ls[1:]]
        ),
        "duplicate-label",
        "communities.csv",
        "urban",
    ),
    ("type", lambda f: set_cell(f, "persons", 5, "age", "vingt"), "type-error", "persons.csv", "age"),
    (
        "category code",
        lambda f: set_cell(f, "persons", 5, "sex", "3"),
        "constraint-error",
        "persons.csv",
        "sex",
    ),
    ("range", lambda f: set_cell(f, "persons", 5, "age", "130"), "constraint-error", "persons.csv", "age"),
    (
        "weight not positive",
        lambda f: set_cell(f, "households", 4, "weight", "0"),
        "constraint-error",
        "households.csv",
        "weight",
    ),
    (
        "required",
        lambda f: set_cell(f, "households", 4, "agricultural", ""),
        "constraint-error",
        "households.csv",
        "agricultural",
    ),
    (
        "primary key",
        lambda f: _edit_csv(f, "persons", lambda ls: [*ls[:3], ls[2], *ls[3:]]),
        "primary-key",
        "persons.csv",
        "household_number+line_number",
    ),
    (
        "foreign key",
        lambda f: set_cell(f, "emigrants", 3, "household_number", "999999"),
        "foreign-key",
        "emigrants.csv",
        "household_number",
    ),
    (
        "ragged long",
        lambda f: _edit_csv(f, "persons", lambda ls: [*ls[:4], ls[4] + ",1", *ls[5:]]),
        "extra-cell",
        "persons.csv",
        None,
    ),
    (
        "ragged short",
        lambda f: _edit_csv(f, "persons", lambda ls: [*ls[:4], ls[4].rsplit(",", 2)[0], *ls[5:]]),
        "missing-cell",
        "persons.csv",
        None,
    ),
    (
        "blank row",
        lambda f: _edit_csv(f, "persons", lambda ls: [*ls[:4], "", *ls[4:]]),
        "blank-row",
        "persons.csv",
        None,
    ),
    ("empty file", lambda f: (f / "emigrants.csv").write_bytes(b""), "empty-file", "emigrants.csv", None),
    (
        "binary file",
        lambda f: (f / "households.csv").write_bytes(b"PK\x03\x04\x00\x00binary" * 50),
        "binary-file",
        "households.csv",
        None,
    ),
    ("missing file", lambda f: (f / "communities.csv").unlink(), "missing-file", "communities.csv", None),
    (
        "gigantic field",
        lambda f: set_cell(f, "emigrants", 3, "destination", "x" * 200_000),
        "field-too-large",
        "emigrants.csv",
        "destination",
    ),
    (
        "name column",
        lambda f: (
            pl.read_csv(f / "persons.csv", infer_schema=False)
            .with_columns(nom_prenom=pl.lit("Ouedraogo Awa"))
            .write_csv(f / "persons.csv")
        ),
        "direct-identifier",
        "persons.csv",
        "nom_prenom",
    ),
    (
        "e-mail value",
        lambda f: set_cell(f, "emigrants", 4, "destination", "awa.ouedraogo@example.com"),
        "direct-identifier",
        "emigrants.csv",
        "destination",
    ),
    (
        "GPS value",
        lambda f: (
            pl.read_csv(f / "communities.csv", infer_schema=False)
            .with_columns(gps=pl.lit("12.3714; -1.5197"))
            .write_csv(f / "communities.csv")
        ),
        "direct-identifier",
        "communities.csv",
        "gps",
    ),
    (
        "unknown currency",
        lambda f: _edit_meta(f, lambda m: m.update(currency="FCFA")),
        "metadata-error",
        "metadata.yaml",
        "currency",
    ),
    (
        "no exchange rate",
        lambda f: _edit_meta(f, lambda m: m.pop("exchange_rate")),
        "metadata-error",
        "metadata.yaml",
        "exchange_rate",
    ),
    (
        "unmapped education code",
        lambda f: _edit_meta(f, lambda m: m.update(education_levels=m["education_levels"][:-3])),
        "unknown-code",
        "persons.csv",  # at the row that uses it, not in metadata.yaml
        "education_code",
    ),
    (
        "unknown destination",
        lambda f: set_cell(f, "emigrants", 3, "destination", "Atlantide"),
        "unknown-code",
        "emigrants.csv",
        "destination",
    ),
]


@pytest.mark.parametrize(("name", "plant", "code", "file", "field"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_defect_is_reported_with_file_and_field(
    copy: Path, name: str, plant: Callable[[Path], object], code: str, file: str, field: str | None
) -> None:
    plant(copy)
    report = validate_submission(copy)
    assert not report.valid, name
    matching = [p for p in report.errors if p.code == code]
    assert matching, f"{name}: expected {code}, got {sorted(_codes(report))}"
    problem = matching[0]
    assert Path(problem.file).name == file
    if field is not None:
        assert problem.field == field
    assert problem.hint, f"{code} has no hint"


def test_row_numbers_are_file_lines(copy: Path) -> None:
    set_cell(copy, "persons", 7, "sex", "9")
    (problem,) = validate_submission(copy).errors
    assert (problem.file, problem.row, problem.field, problem.value) == ("persons.csv", 7, "sex", "9")


def _zip(folder: Path, target: Path, extra: Callable[[zipfile.ZipFile], None] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"submission/{path.name}")
        if extra:
            extra(zf)
    return target


def test_zip_submission_is_accepted(valid: Path, tmp_path: Path) -> None:
    assert validate_submission(_zip(valid, tmp_path / "ok.zip")).valid


def _symlink_entry(zf: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo("submission/link.csv")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, "/etc/passwd")


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("dotdot", lambda zf: zf.writestr("../../escape.csv", "a,b\n")),
        ("absolute", lambda zf: zf.writestr("/tmp/ippmd-absolute.csv", "a,b\n")),
        ("symlink", _symlink_entry),
        ("bomb", lambda zf: zf.writestr("submission/bomb.csv", b"0" * 50_000_000)),
        ("nested", lambda zf: zf.writestr("submission/inner.zip", b"PK")),
    ],
)
def test_hostile_archives_are_refused(
    valid: Path, tmp_path: Path, name: str, extra: Callable[[zipfile.ZipFile], None]
) -> None:
    before = set(tmp_path.parent.iterdir())
    report = validate_submission(_zip(valid, tmp_path / f"{name}.zip", extra))
    assert not report.valid
    assert _codes(report) == {"unsafe-archive"}, name
    assert not Path("/tmp/ippmd-absolute.csv").exists()
    assert not (tmp_path.parent / "escape.csv").exists()
    assert set(tmp_path.parent.iterdir()) == before


def test_symlink_in_folder_is_refused(copy: Path) -> None:
    os.symlink("/etc/hostname", copy / "extra.csv")
    assert _codes(validate_submission(copy)) == {"unsafe-archive"}


def test_eleventh_country_with_complete_metadata_is_accepted(copy: Path) -> None:
    def senegal(meta: dict) -> None:
        meta.update(country_iso3="SEN", country_name="Senegal", currency="XOF")
        for i, region in enumerate(meta["regions"]["list"]):
            region["iso_3166_2"] = f"SN-D{i}"

    _edit_meta(copy, senegal)
    report = validate_submission(copy)
    assert report.valid, [str(p) for p in report.problems[:5]]
    assert report.country == "SEN"


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_cli_exit_codes_json_and_offline_html(valid: Path, copy: Path, tmp_path: Path) -> None:
    ok = subprocess.run([str(IPPMD), "validate", str(valid)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    set_cell(copy, "persons", 5, "sex", "3")
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    bad = subprocess.run(
        [str(IPPMD), "validate", str(copy), "--json", str(out_json), "--html", str(out_html)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stdout + bad.stderr
    records = json.loads(out_json.read_text())["problems"]
    assert {(r["file"], r["row"], r["field"], r["code"]) for r in records} == {
        ("persons.csv", 5, "sex", "constraint-error")
    }
    page = out_html.read_text()
    assert "persons.csv" in page and "<script" not in page and "http" not in page.split("</style>")[0]
    missing = subprocess.run([str(IPPMD), "validate", str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2


@pytest.mark.parametrize(
    ("kind", "value"),
    [("phone", "+226 70 12 34 56"), ("national ID", "1234567890123")],
)
def test_identifier_values_in_extra_columns(copy: Path, kind: str, value: str) -> None:
    pl.read_csv(copy / "households.csv", infer_schema=False).with_columns(contact=pl.lit(value)).write_csv(
        copy / "households.csv"
    )
    found = [p for p in validate_submission(copy).errors if p.code == "direct-identifier"]
    assert any(kind in p.message and p.field == "contact" and p.row == 2 for p in found)


def test_structural_layer_catches_what_frictionless_catches(tmp_path: Path) -> None:
    """Same defective package files: every cell frictionless flags, the polars layer flags too."""
    from frictionless import validate as frictionless_validate

    from ippmd.build import build
    from ippmd.quality.validate import check_package

    package = tmp_path / "pkg"
    build(package, ["KHM"], expectations=False)
    edits = {  # (resource, line, field) -> bad value
        ("persons", 3, "age"): "abc",  # type
        ("persons", 4, "sex"): "5",  # enum
        ("persons", 5, "age"): "300",  # maximum
        ("persons", 6, "household_id"): "KHM-H99999",  # foreign key (and pattern ok)
        ("households", 3, "weight"): "",  # required
        ("households", 4, "household_id"): "KHM-H00002",  # primary key / unique duplicate of line 3
        ("emigrants", 3, "destination"): "thailand",  # pattern
    }
    for (resource, line, field), value in edits.items():
        path = package / "data" / f"{resource}.csv"
        lines = path.read_text(encoding="utf-8").split("\n")
        header = lines[0].split(",")
        cells = lines[line - 1].split(",")
        cells[header.index(field)] = value
        lines[line - 1] = ",".join(cells)
        path.write_text("\n".join(lines), encoding="utf-8")
    path = package / "data" / "communities.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines.insert(3, "")  # blank row
    lines[5] += ",extra"  # extra cell
    lines[6] = lines[6].rsplit(",", 1)[0]  # missing cell
    path.write_text("\n".join(lines), encoding="utf-8")

    theirs = frictionless_validate(str(package / "datapackage.json"))
    flagged = {
        (task.name, error.row_number)
        for task in theirs.tasks
        for error in task.errors
        if getattr(error, "row_number", None)
    }
    kinds = {error.type for task in theirs.tasks for error in task.errors}
    assert len(flagged) >= 9 and {"type-error", "constraint-error", "foreign-key", "blank-row"} <= kinds
    ours = check_package(package, engine="polars")
    found = {(Path(p.file).stem, p.row) for p in ours.errors if p.row}
    assert flagged <= found, f"missed: {sorted(flagged - found)}"
    assert {"hash-count", "byte-count"} <= {p.code for p in ours.errors}


# --- regression tests from the review of the first version -----------------------------------


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda m: m.update(education_levels=["x"]), "education_levels.0"),
        (lambda m: m.update(education_levels=[5]), "education_levels.0"),
        (lambda m: m["education_levels"][0].update(years="many"), "education_levels.0.years"),
        (lambda m: m.update(destinations=["Thai"]), "destinations"),
        (lambda m: m.update(currency=["XOF"]), "currency"),
        (lambda m: m["exchange_rate"].update(lcu_per_usd=float("nan")), "exchange_rate.lcu_per_usd"),
        (lambda m: m["exchange_rate"].update(lcu_per_usd=float("inf")), "exchange_rate.lcu_per_usd"),
        (lambda m: m["exchange_rate"].update(lcu_per_usd=True), "exchange_rate.lcu_per_usd"),
        (lambda m: m["exchange_rate"].update(lcu_per_usd="500"), "exchange_rate.lcu_per_usd"),
        (lambda m: m.update(survey_year="abc"), "survey_year"),
        (lambda m: m.update(fieldwork="April"), "fieldwork"),
        (lambda m: m.update(synthetic="yes"), "synthetic"),
        (lambda m: m["destinations"].update({"Mars": "XXX"}), "destinations.Mars"),
        (lambda m: m["regions"]["list"][0].update(iso_3166_2="FR-75"), "regions.iso_3166_2"),
        (lambda m: m["education_levels"].append(dict(m["education_levels"][0])), "education_levels"),
    ],
)
def test_hostile_metadata_is_reported_not_crashed(
    copy: Path, edit: Callable[[dict], None], field: str
) -> None:
    _edit_meta(copy, edit)
    report = validate_submission(copy)
    assert not report.valid
    assert {p.code for p in report.errors} == {"metadata-error"}, [str(p) for p in report.errors]
    assert any(p.field == field and p.file == "metadata.yaml" for p in report.errors), [
        str(p) for p in report.errors
    ]


@pytest.mark.parametrize("value", ["inf", "NaN", "-inf"])
def test_non_finite_numbers_are_type_errors(copy: Path, value: str) -> None:
    set_cell(copy, "households", 3, "education_expenditure", value)
    errors = validate_submission(copy).errors
    assert ("type-error", 3, "education_expenditure") in {(p.code, p.row, p.field) for p in errors}
    assert {p.field for p in errors} == {"education_expenditure"}


def test_markup_characters_and_cr_only_files_do_not_crash_the_cli(copy: Path, tmp_path: Path) -> None:
    set_cell(copy, "persons", 5, "sex", "[/]")
    path = copy / "emigrants.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    out = tmp_path / "r.json"
    result = subprocess.run(
        [str(IPPMD), "validate", str(copy), "--json", str(out)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    codes = {(r["file"], r["code"]) for r in json.loads(out.read_text())["problems"]}
    assert ("persons.csv", "type-error") in codes and ("emigrants.csv", "format-error") in codes


def test_stata_submission_is_validated(copy: Path) -> None:
    import pyreadstat

    persons = pl.read_csv(copy / "persons.csv", schema_overrides={"education_code": pl.String})
    (copy / "persons.csv").unlink()
    pyreadstat.write_dta(persons.to_pandas(), str(copy / "persons.dta"))
    report = validate_submission(copy)
    assert report.valid, [str(p) for p in report.problems[:5]]
    assert report.rows["persons"] == persons.height


def test_odd_files_and_archives_give_verdicts(copy: Path, tmp_path: Path) -> None:
    (copy / "emigrants.csv").write_bytes(b"\xef\xbb\xbf")  # a BOM and nothing else
    (copy / "persons.csv").unlink()
    (copy / "persons.csv").mkdir()  # a folder named like a table
    codes = {(p.file, p.code) for p in validate_submission(copy).errors}
    assert {("emigrants.csv", "empty-file"), ("persons.csv", "missing-file")} <= codes
    clash = tmp_path / "clash.zip"
    with zipfile.ZipFile(clash, "w") as zf:
        zf.writestr("a", "x")
        zf.writestr("a/b", "y")
    assert _codes(validate_submission(clash)) == {"unsafe-archive"}
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    assert _codes(validate_submission(empty)) >= {"metadata-error"}


@pytest.mark.parametrize(
    "args",
    [
        ["synth", "KHM,PHL", "/tmp/ippmd-never"],
        ["build", "--seed", "-1", "--out", "/tmp/ippmd-never"],
        ["benchmark", "--focus", "XYZ"],
    ],
)
def test_cli_usage_errors_exit_2(args: list[str]) -> None:
    result = subprocess.run([str(IPPMD), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_benchmark_focus_and_unbuilt_package_are_usage_errors(package_dir: Path, tmp_path: Path) -> None:
    """An unknown focus is refused against the package's own country list, before any data is read;
    a descriptor without its data (a fresh checkout) asks for a build (exit 2), not 'corrupt' (1)."""
    unknown = subprocess.run(
        [
            str(IPPMD),
            "benchmark",
            "--focus",
            "SEN",
            "--package",
            str(package_dir),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    said = unknown.stdout + unknown.stderr
    assert "'SEN' is not in the package" in said and "KHM" in said
    unbuilt = tmp_path / "unbuilt"
    unbuilt.mkdir()
    (unbuilt / "datapackage.json").write_bytes((package_dir / "datapackage.json").read_bytes())
    result = subprocess.run(
        [str(IPPMD), "benchmark", "--package", str(unbuilt), "--out", str(tmp_path / "r2")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not built yet" in result.stdout + result.stderr and not (tmp_path / "r2").exists()


@pytest.mark.slow  # validates several submissions in a subprocess (about 5 s)
def test_cli_validates_several_submissions_in_one_call(valid: Path, copy: Path) -> None:
    both_valid = subprocess.run(
        [str(IPPMD), "validate", str(valid), str(copy), "--lang", "en"],  # BFA's default is French
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert both_valid.returncode == 0, both_valid.stdout
    set_cell(copy, "persons", 5, "age", "-4")
    one_bad = subprocess.run(
        [str(IPPMD), "validate", str(valid), str(copy), "--lang", "en"],  # BFA's default is French
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert one_bad.returncode == 1
    assert one_bad.stdout.count("VALID") == 2 and "INVALID" in one_bad.stdout

"""Synthetic submissions and reading submissions: determinism, format, and bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from ippmd.core.errors import InputError
from ippmd.core.scalars import as_number
from ippmd.harmonize.pipeline import harmonize
from ippmd.harmonize.submission import read_submission
from ippmd.synth.generator import generate, planted_effect, write_submission
from tests.conftest import copy_package, set_cell

IPPMD = Path(sys.executable).with_name("ippmd")


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


@pytest.fixture(scope="module")
def khm_submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_submission("KHM", tmp_path_factory.mktemp("khm"), seed=7)


def test_synth_is_deterministic_for_a_seed(khm_submission: Path, tmp_path: Path) -> None:
    again = write_submission("KHM", tmp_path / "again", seed=7)
    other = write_submission("KHM", tmp_path / "other", seed=8)
    assert _digest(again) == _digest(khm_submission)
    assert _digest(other)["persons.csv"] != _digest(khm_submission)["persons.csv"]


def test_submission_is_in_local_formats(khm_submission: Path) -> None:
    meta = yaml.safe_load((khm_submission / "metadata.yaml").read_text(encoding="utf-8"))
    assert meta["data_origin"] == "synthetic" and "SYNTHETIC" in meta["synthetic"]["notice"]
    assert meta["currency"] == "KHR"
    emigrants = pl.read_csv(khm_submission / "emigrants.csv")
    assert set(emigrants["destination"]) <= set(meta["destinations"])  # local spellings
    households = pl.read_csv(khm_submission / "households.csv")
    # Riel amounts: thousands of KHR, not dollars.
    assert as_number(households["remittances_amount"].median()) > 100_000
    codes = {str(level["code"]) for level in meta["education_levels"]}
    assert (
        set(pl.read_csv(khm_submission / "persons.csv", infer_schema=False)["education_code"].drop_nulls())
        <= codes
    )


def test_scale_multiplies_the_sample() -> None:
    one, ten = generate("KHM", scale=1), generate("KHM", scale=10)
    assert ten["households"].height == 10 * one["households"].height
    assert ten["communities"].height == 10 * one["communities"].height
    assert 9 < ten["persons"].height / one["persons"].height < 11


def test_planted_effects_follow_the_seed(khm_submission: Path) -> None:
    """Vocational training: no link in Cambodia, positive elsewhere (seed, ch. 1)."""
    assert planted_effect("vocational_training_on_plans", "KHM") == 0.0
    assert planted_effect("vocational_training_on_plans", "PHL") > 0
    assert planted_effect("subsidy_on_emigrant", "KHM") > 0
    assert (
        planted_effect("remittances_on_working_women", "KHM")
        < planted_effect("remittances_on_working_men", "KHM")
        < 0
    )


def _broken_copy(src: Path, dst: Path, table: str, row: int, column: str, value: str) -> Path:
    shutil.copytree(src, dst)
    frame = pl.read_csv(dst / f"{table}.csv", infer_schema=False)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row - 2).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    frame.write_csv(dst / f"{table}.csv")
    return dst


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("persons", "age", "forty", "not a valid integer"),
        ("persons", "education_code", "99", "national education code"),
        ("emigrants", "destination", "Atlantis", "unknown destination"),
        ("communities", "region_code", "77", "region code"),
        ("households", "community_number", "999", "no such community_number"),
    ],
)
def test_bad_cells_are_named_by_file_row_and_field(
    khm_submission: Path, tmp_path: Path, table: str, column: str, value: str, message: str
) -> None:
    broken = _broken_copy(khm_submission, tmp_path / "broken", table, 5, column, value)
    with pytest.raises(InputError) as info:
        harmonize(read_submission(broken))
    problem = info.value.problems[0]
    assert problem.file.endswith(f"{table}.csv")
    assert (problem.row, problem.field, problem.value) == (5, column, value)
    assert message in problem.message


def test_missing_column_and_missing_metadata_are_reported(khm_submission: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(khm_submission, broken)
    pl.read_csv(broken / "persons.csv").drop("sex").write_csv(broken / "persons.csv")
    with pytest.raises(InputError, match="required column is missing") as info:
        read_submission(broken)
    assert info.value.problems[0].field == "sex"
    meta = yaml.safe_load((broken / "metadata.yaml").read_text(encoding="utf-8"))
    del meta["exchange_rate"]
    (broken / "metadata.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_submission(broken)
    assert [p.field for p in info.value.problems] == ["exchange_rate"]


def test_stata_tables_are_read_like_csv(khm_submission: Path, tmp_path: Path) -> None:
    import pyreadstat

    folder = tmp_path / "stata"
    shutil.copytree(khm_submission, folder)
    persons = pl.read_csv(folder / "persons.csv", schema_overrides={"education_code": pl.String})
    (folder / "persons.csv").unlink()
    pyreadstat.write_dta(persons.to_pandas(), str(folder / "persons.dta"))
    from_dta = harmonize(read_submission(folder))["persons"]
    from_csv = harmonize(read_submission(khm_submission))["persons"]
    assert from_dta.equals(from_csv)


@pytest.mark.slow
def test_raw_files_take_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import ippmd.build as package

    countries = tmp_path / "countries"
    write_submission("KHM", countries / "KHM" / "raw", seed=99)
    meta_path = countries / "KHM" / "raw" / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    meta["data_origin"] = "survey"  # as a licensee's real files would say (with no generator's block:
    meta.pop("synthetic")  # survey records with a synthetic: block are an origin-contradiction)
    meta_path.write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("IPPMD_HOME", str(tmp_path))  # the project home holds countries/<ISO3>/raw/
    descriptor = package.build(tmp_path / "out", ["KHM"], expectations=False)  # about the sources
    countries_row = pl.read_csv(tmp_path / "out" / "data" / "countries.csv").row(0, named=True)
    assert countries_row["data_origin"] == "survey"
    assert descriptor["synthetic"] is False
    assert "notice" not in descriptor["resources"][2]


@pytest.mark.slow
def test_cli_build_with_bad_raw_input_exits_1_and_leaves_package_untouched(
    package_dir: Path, tmp_path: Path
) -> None:
    out = copy_package(package_dir, tmp_path / "pkg")
    before = _digest(out / "data") | {"datapackage.json": _digest(out)["datapackage.json"]}

    # A broken licensed raw submission in a project home of its own (--home).
    home = tmp_path / "home"
    raw = write_submission("KHM", home / "countries" / "KHM" / "raw")
    _broken_copy(raw, tmp_path / "b", "persons", 7, "sex", "x")
    shutil.copy(tmp_path / "b" / "persons.csv", raw / "persons.csv")
    set_cell(raw, "emigrants", 3, "destination", "Atlantis")  # a defect of another layer, found too
    bad = subprocess.run(
        [
            str(IPPMD),
            "--home",
            str(home),
            "build",
            "--countries",
            "KHM",
            "--out",
            str(out),
            "--quiet",
            "--engine",
            "polars",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1
    said = bad.stderr.replace("\n", " ")
    assert "persons.csv, row 7, field 'sex'" in said  # every problem, as `ippmd validate` words it
    assert "emigrants.csv, row 3, field 'destination'" in said and "Atlantis" in said
    assert "Traceback" not in bad.stderr
    after = _digest(out / "data") | {"datapackage.json": _digest(out)["datapackage.json"]}
    assert after == before
    assert json.loads((out / "datapackage.json").read_text())["resources"][0]["name"] == "countries"
    assert not [p for p in out.iterdir() if p.name.startswith(".ippmd-build-")]


def test_cli_synth_and_unknown_country(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(IPPMD), "synth", "KHM", str(tmp_path / "s"), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "s" / "metadata.yaml").exists()
    unknown = subprocess.run(
        [str(IPPMD), "synth", "XYZ", str(tmp_path / "x")], capture_output=True, text=True, timeout=120
    )
    assert unknown.returncode == 2
    assert "unknown country code" in unknown.stderr


@pytest.mark.slow
def test_ids_sort_in_number_order_at_large_scale(tmp_path: Path) -> None:
    """At --scale 60 Cambodia has 120,000 households: ids widen to 6 digits and still sort by number."""
    from ippmd.build import build

    build(tmp_path, ["KHM"], scale=60, expectations=False)
    households = pl.read_parquet(tmp_path / "data" / "households.parquet")
    assert households.height == 120_000
    assert households["household_id"][-1] == "KHM-H120000"
    assert households["household_number"].is_sorted()
    assert households["household_id"].str.len_chars().n_unique() == 1

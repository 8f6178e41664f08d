"""`load.R` in every CSV, Stata and SPSS extract, run by R: labels, the two kinds of missing value
as haven's tagged NA, the survey design, and one tabulation equal to `ippmd tabulate`."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import polars as pl
import pytest

from ippmd.explore.tabulate import Query, tabulate
from ippmd.extract import make_extract


def _has_r() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "library(survey); library(haven)"], capture_output=True, timeout=60
    )
    return probe.returncode == 0


pytestmark = [
    pytest.mark.slow,  # starts R
    pytest.mark.skipif(
        not _has_r(), reason="needs Rscript with survey and haven (r-cran-survey r-cran-haven)"
    ),
]
COUNTRIES = ["KHM", "HTI"]


def _extract(package_dir: Path, tmp: Path, fmt: str) -> Path:
    out = tmp / f"{fmt}.zip"
    make_extract(package_dir, out, countries=COUNTRIES, tables=["households", "persons"], fmt=fmt)  # type: ignore[arg-type]
    with zipfile.ZipFile(out) as bundle:
        bundle.extractall(tmp)
    return tmp / fmt


@pytest.mark.parametrize("fmt", ["csv", "dta", "sav"])
def test_load_r_reproduces_ippmd_tabulate(package_dir: Path, tmp_path: Path, fmt: str) -> None:
    folder = _extract(package_dir, tmp_path, fmt)
    script = (folder / "load.R").read_text(encoding="utf-8")
    assert "SYNTHETIC" in script
    variable, table = re.search(r"ippmd tabulate (\w+) --table (\w+)", script).groups()  # type: ignore[union-attr]
    run = subprocess.run(["Rscript", "load.R"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 or not run.stdout  # from another folder it must name where it is
    run = subprocess.run(
        ["Rscript", str(folder / "load.R")], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    theirs = pl.read_csv(io.StringIO(run.stdout), schema_overrides={"category": pl.String})
    ours = tabulate(package_dir, Query(variable, table, by=("country",), countries=tuple(COUNTRIES))).frame
    if "category" not in ours.columns:  # a yes/no variable: the share of 1
        ours = ours.with_columns(category=pl.lit("1"))
    ours = ours.with_columns(pl.col("category").cast(pl.String))
    joined = ours.join(theirs, on=["country", "category"], how="full", suffix="_r", coalesce=True)
    assert joined.height == theirs.height >= 2 * len(COUNTRIES), joined
    for column in ("estimate", "std_error"):
        worst = float(str((joined[column] - joined[f"{column}_r"]).abs().max()))
        assert worst < 1e-9, (column, worst)


def test_load_r_keeps_labels_and_both_kinds_of_missing(package_dir: Path, tmp_path: Path) -> None:
    for fmt in ("csv", "dta", "sav"):
        folder = _extract(package_dir, tmp_path / fmt, fmt)
        probe = (
            'source("load.R"); x <- households$agricultural_subsidy; '
            'cat(sum(na_tag(x) %in% "n"), sum(na_tag(x) %in% "u"), sum(!is.na(x)), '
            'names(attr(households$urban, "labels")), attr(households$urban, "label"), sep = "|")'
        )
        run = subprocess.run(
            ["Rscript", "-e", probe], cwd=folder, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr
        niu, unknown, valid, *rest = run.stdout.split("|")
        text = pl.read_csv(package_dir / "data" / "households.csv", infer_schema=False).fill_null("")
        column = text.filter(pl.col("country").is_in(COUNTRIES))["agricultural_subsidy"]
        assert int(niu) == int((column == "NIU").sum()) > 0, fmt
        assert int(unknown) == int((column == "").sum()), fmt
        assert int(valid) == int((~column.is_in(["NIU", ""])).sum()) > 0, fmt
        assert rest[:2] == ["No", "Yes"] and rest[-1] == "Urban household", fmt  # Stata adds missing labels

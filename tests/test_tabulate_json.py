"""`ippmd tabulate --format json`: the CSV's columns and numbers, with the package's dataHash."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from ippmd.cli import app
from ippmd.package.read import read_package


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_rows_are_the_csv_rows(package_dir: Path) -> None:
    query = [
        "tabulate",
        "education_level",
        "--table",
        "persons",
        "--by",
        "country,sex",
        "--where",
        "age >= 25",
    ]
    query += ["--countries", "KHM,HTI", "--package", str(package_dir)]
    document = json.loads(_run(*query, "--format", "json"))
    csv = pl.read_csv(io.StringIO(_run(*query, "--format", "csv")), infer_schema_length=None)
    assert document["dataHash"] == read_package(package_dir).data_hash
    assert document["columns"] == csv.columns
    assert document["synthetic"] is True and "SYNTHETIC" in document["notice"]
    assert document["query"]["countries"] == ["KHM", "HTI"] and document["query"]["where"] == "age >= 25"
    assert len(document["rows"]) == csv.height > 0
    for ours, theirs in zip(document["rows"], csv.iter_rows(named=True), strict=True):
        for name, value in theirs.items():
            got = ours[name]
            if isinstance(value, float) and not math.isnan(value):
                assert math.isclose(got, value, rel_tol=0, abs_tol=0), name  # same shortest repr
            else:
                assert got == (None if isinstance(value, float) else value), name

"""Missing values end to end: planted item nonresponse, NIU vs unknown kept apart, and the flags."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ippmd.core.schema import harmonized_schema
from ippmd.package.missing import missing_kinds
from ippmd.synth.generator import generate, item_nonresponse

FLAGGED = [  # (table, value column, its flag)
    ("households", "remittances_lcu", "remittances_nonresponse"),
    ("households", "agricultural_assets_lcu", "agricultural_assets_nonresponse"),
    ("households", "education_expenditure_lcu", "education_expenditure_nonresponse"),
    ("persons", "years_abroad", "years_abroad_nonresponse"),
    ("emigrants", "age", "age_nonresponse"),
    ("emigrants", "year_left", "year_left_nonresponse"),
]


def test_rates_are_declared_and_marked_assumed() -> None:
    items = item_nonresponse()
    assert len(items) == 6
    for spec in items.values():
        assert 0 < spec["dont_know"] < 0.1 and 0 < spec["refused"] < 0.1


def test_synthetic_submission_plants_dont_know_and_refused() -> None:
    tables = generate("KHM")
    households = tables["households"]
    flags = households["remittances_amount_nonresponse"].value_counts().sort("remittances_amount_nonresponse")
    assert flags["remittances_amount_nonresponse"].to_list() == [None, 1, 2]
    flagged = households.filter(pl.col("remittances_amount_nonresponse").is_not_null())
    assert flagged["remittances_amount"].null_count() == flagged.height  # a reason only for a blank
    assert generate("KHM")["emigrants"].equals(tables["emigrants"])  # deterministic


@pytest.mark.parametrize(("table", "column", "flag"), FLAGGED)
def test_flags_agree_with_values_and_universes(
    tables: dict[str, pl.DataFrame], table: str, column: str, flag: str
) -> None:
    frame = tables[table]
    field = next(f for f in harmonized_schema(table)["fields"] if f["name"] == column)
    niu, unknown = missing_kinds(frame, field)
    status = frame[flag]
    assert int(unknown.sum()) > 0, "unknown values are planted"
    assert status.filter(unknown).is_in([1, 2]).all()  # every unknown has its reason
    assert (status.filter(frame[column].is_not_null()) == 0).all()  # answered
    assert status.filter(niu).is_null().all()  # outside the universe the flag is NIU too
    share = float(unknown.sum()) / float((~niu).sum())
    assert 0.005 < share < 0.08  # about the declared (assumed) rate


def test_csv_keeps_niu_and_unknown_apart(package_dir: Path, tables: dict[str, pl.DataFrame]) -> None:
    text = pl.read_csv(package_dir / "data" / "households.csv", infer_schema=False)
    typed = tables["households"]
    field = next(f for f in harmonized_schema("households")["fields"] if f["name"] == "remittances_lcu")
    niu, unknown = missing_kinds(typed, field)
    assert (text["remittances_lcu"] == "NIU").fill_null(False).to_list() == niu.to_list()
    assert text["remittances_lcu"].is_null().to_list() == unknown.to_list()
    assert int(niu.sum()) > 0 and int(unknown.sum()) > 0


def test_readme_loading_snippets_run(package_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pandas, polars and DuckDB snippets of README 'Load the data', from the package folder."""
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Load the data", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) >= 2
    monkeypatch.chdir(package_dir)
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)  # the README's own code
    persons = namespace.get("persons")
    assert persons is not None and len(persons) > 90_000

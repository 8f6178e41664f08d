"""Issue 15: one `ippmd validate` run reports every problem at its submitted file, line and column,
each with its own hint; and one grammar for the command line. All in-process (typer's CliRunner)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from ippmd.cli import app
from ippmd.package.write import describe_countries
from ippmd.quality.report import Report, render_html
from ippmd.quality.validate import validate_submission
from ippmd.synth.generator import write_submission
from ippmd.template import guide, write_template
from tests.conftest import set_cell

runner = CliRunner()


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four tables of a valid synthetic Cambodian submission, to fill a template kit with."""
    return write_submission("KHM", tmp_path_factory.mktemp("khm"), seed=3)


@pytest.fixture
def kit(tables: Path, tmp_path: Path) -> Path:
    """A kit made by `ippmd template KHM`, its tables filled in."""
    folder = tmp_path / "kit"
    write_template("KHM", folder)
    for csv in tables.glob("*.csv"):
        shutil.copy(csv, folder / csv.name)
    return folder


def _line_where(folder: Path, table: str, condition: pl.Expr, after: int = 10) -> int:
    frame = pl.read_csv(folder / f"{table}.csv", infer_schema=False).with_row_index("line", offset=2)
    return int(frame.filter(condition & (pl.col("line") > after))["line"][0])


def test_one_run_reports_a_defect_of_every_layer_at_its_line_and_column(kit: Path) -> None:
    assert validate_submission(kit).valid  # the filled-in kit is valid as made
    households = (kit / "households.csv").read_text(encoding="utf-8").split("\n")
    households.insert(3, households[2])  # structure: household on line 3 repeated on line 4
    (kit / "households.csv").write_text("\n".join(households), encoding="utf-8")
    set_cell(kit, "persons", 5, "sex", "3")  # structure: a code not allowed
    set_cell(kit, "emigrants", 3, "destination", "+855 12 345 678")  # identifiers: a phone number
    meta = (kit / "metadata.yaml").read_text(encoding="utf-8")
    (kit / "metadata.yaml").write_text(meta.replace("currency: KHR", "currency: KHX"), encoding="utf-8")
    education = _line_where(kit, "persons", pl.col("household_number") == "40")
    set_cell(kit, "persons", education, "education_code", "99")  # harmonization: unmapped code
    set_cell(kit, "emigrants", 5, "destination", "Atlantis")  # harmonization: unknown country
    parent = _line_where(kit, "persons", pl.col("relation_to_head") == "5", after=100)
    set_cell(kit, "persons", parent, "age", "20")  # expectations: a parent of the head aged 20

    report = validate_submission(kit)
    assert report.layers == [
        "structure",
        "identifiers",
        "metadata",
        "plausibility",
        "harmonization",
        "package rules",
        "expectations (polars)",
    ]
    assert report.skipped == {}
    found = {(p.file, p.row, p.field, p.code): p for p in report.errors}
    planted = {
        ("households.csv", 4, "household_number", "primary-key"),
        ("persons.csv", 5, "sex", "constraint-error"),
        ("emigrants.csv", 3, "destination", "direct-identifier"),
        ("metadata.yaml", None, "currency", "metadata-error"),
        ("persons.csv", education, "education_code", "unknown-code"),
        ("emigrants.csv", 5, "destination", "unknown-code"),
        ("persons.csv", parent, "age", "expectation-failed"),
    }
    assert planted == set(found), [str(p) for p in report.errors]  # every defect once, nothing else
    hints = [found[key].hint for key in sorted(planted, key=str)]
    assert all(hints) and len(set(hints)) == len(hints), hints  # each its own hint
    age = found[("persons.csv", parent, "age", "expectation-failed")]
    assert "parent" in age.message.lower()
    assert age.context is not None and age.context.startswith("harmonized persons.age, KHM-H"), age.context
    assert "lines 3, 4" in found[("households.csv", 4, "household_number", "primary-key")].message
    currency_hint = found[("metadata.yaml", None, "currency", "metadata-error")].hint
    assert currency_hint is not None and "synth" in currency_hint, currency_hint


def test_a_table_problem_skips_only_what_cannot_run(kit: Path) -> None:
    (kit / "emigrants.csv").unlink()
    set_cell(kit, "persons", 5, "sex", "3")
    report = validate_submission(kit)
    assert report.layers == ["structure", "identifiers", "metadata", "plausibility"]
    assert report.skipped == {
        "harmonization": "emigrants.csv could not be read",
        "package rules": "harmonization did not run",
        "expectations (polars)": "harmonization did not run",
    }
    assert {(p.file, p.code) for p in report.errors} == {
        ("emigrants.csv", "missing-file"),
        ("persons.csv", "constraint-error"),
    }


def test_metadata_problems_name_the_key_and_the_allowed_values(tmp_path: Path, tables: Path) -> None:
    write_template("SEN", tmp_path)
    for csv in tables.glob("*.csv"):
        shutil.copy(csv, tmp_path / csv.name)
    report = validate_submission(tmp_path)
    meta = {p.field: p for p in report.errors if p.file == "metadata.yaml"}
    assert {"currency", "exchange_rate.lcu_per_usd", "fieldwork.start"} <= set(meta)
    # What the template left to fill in is one entry per key: a placeholder, with its line.
    assert {meta[k].code for k in ("currency", "exchange_rate.lcu_per_usd", "fieldwork.start")} == {
        "placeholder"
    }
    assert len([p for p in report.errors if p.field == "currency"]) == 1 and meta["currency"].row
    text = (tmp_path / "metadata.yaml").read_text(encoding="utf-8")
    filled = re.sub(r"(?m)^currency: .*$", "currency: xof", text)
    filled = re.sub(r"(?m)^(\s+lcu_per_usd:) .*$", r"\1 -5", filled)
    (tmp_path / "metadata.yaml").write_text(filled, encoding="utf-8")
    meta = {p.field: p for p in validate_submission(tmp_path).errors if p.file == "metadata.yaml"}
    assert "ISO 4217" in meta["currency"].message, meta["currency"]
    assert "greater than 0" in meta["exchange_rate.lcu_per_usd"].message
    for p in report.errors:  # never the validator's own text
        assert "does not match" not in p.message and "minimum of" not in p.message, p.message


def test_guide_documents_every_metadata_key_and_no_open_range() -> None:
    text = guide("SEN")
    assert " to |" not in text and "| 1 to  |" not in text
    for key in (
        "currency",
        "exchange_rate.lcu_per_usd",
        "regions.list[].iso_3166_2",
        "education_levels[].isced",
    ):
        assert f"`{key}`" in text, key
    assert "a year from 1990 to the current year" in text


def test_template_and_synth_write_the_same_metadata_shape(tmp_path: Path, tables: Path) -> None:
    write_template("SEN", tmp_path / "new")
    made = yaml.safe_load((tmp_path / "new" / "metadata.yaml").read_text(encoding="utf-8"))
    synth = yaml.safe_load((tables / "metadata.yaml").read_text(encoding="utf-8"))
    assert isinstance(made["regions"], dict) and set(made["regions"]) == set(synth["regions"])
    assert isinstance(made["destinations"], dict)


def test_validate_json_and_html_hold_several_submissions(kit: Path, tables: Path, tmp_path: Path) -> None:
    set_cell(kit, "persons", 5, "sex", "3")
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    result = runner.invoke(
        app, ["validate", str(tables), str(kit), "--json", str(out_json), "--html", str(out_html)]
    )
    assert result.exit_code == 1, result.output
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert [r["valid"] for r in data["reports"]] == [True, False]
    assert [(r["target"], r["file"], r["row"], r["code"]) for r in data["problems"]] == [
        (str(kit), "persons.csv", 5, "constraint-error")
    ]
    assert [(g["target"], g["file"], g["count"]) for g in data["groups"]] == [(str(kit), "persons.csv", 1)]
    page = out_html.read_text(encoding="utf-8")
    assert page.count("<section>") == 2 and "<script" not in page


def test_terminal_report_fits_80_columns(kit: Path) -> None:
    set_cell(kit, "persons", 5, "sex", "3")
    result = runner.invoke(app, ["validate", str(kit)], terminal_width=80)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("INVALID ") and str(kit) in lines[0]  # the path is never folded
    assert max(len(line) for line in lines[1:]) <= 80
    assert any("line 5, column sex" in line for line in lines)


def test_check_speaks_of_packages() -> None:
    page = render_html(Report(target="pkg/datapackage.json", kind="package", country="10 countries"))
    assert "ippmd check" in page and "ippmd validate" not in page and "none read" not in page


def test_description_names_the_countries_after_admit() -> None:
    ten = pl.DataFrame(
        {"iso3": [f"C{i:02d}" for i in range(10)], "name": ["x"] * 10, "data_origin": ["synthetic"] * 10}
    )
    written = "Tables for the ten countries of the OECD Development Centre project X. The IPPMD microdata..."
    assert describe_countries(written, ten) == written
    eleven = pl.concat([ten, pl.DataFrame({"iso3": ["SEN"], "name": ["Senegal"], "data_origin": ["survey"]})])
    text = describe_countries(written, eleven)
    assert "11 countries" in text and "Senegal (SEN)" in text and "Survey microdata: SEN." in text
    assert "ten countries" not in text


# --- one grammar for the command line --------------------------------------------------------------


def test_version_prints_code_and_data_versions() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "ippmd " in result.output and "data package " in result.output


def test_help_shows_no_type_for_flags() -> None:
    result = runner.invoke(app, ["validate", "--help"], terminal_width=100)
    assert result.exit_code == 0 and "<bool>" not in result.output and "--help" in result.output


def test_a_csv_file_given_to_validate_is_a_usage_error(kit: Path) -> None:
    result = runner.invoke(app, ["validate", str(kit / "persons.csv")])
    assert result.exit_code == 2 and "submission folder" in result.output


@pytest.mark.parametrize("command", ["template", "synth"])
def test_template_and_synth_refuse_a_filled_folder(kit: Path, command: str) -> None:
    before = (kit / "persons.csv").read_bytes()
    result = runner.invoke(app, [command, "KHM", str(kit)])
    assert result.exit_code == 2 and "--force" in result.output
    assert (kit / "persons.csv").read_bytes() == before
    if command == "template":
        assert runner.invoke(app, [command, "KHM", str(kit), "--force"]).exit_code == 0
        assert (kit / "persons.csv").read_bytes() != before


def test_unknown_period_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    result = runner.invoke(app, ["figures", "--period", "abc", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "2016Q4" in result.output
    assert not any(tmp_path.iterdir())


def test_extract_codes_and_formats_case_insensitive_and_usage_errors_exit_2(
    package_dir: Path, tmp_path: Path
) -> None:
    base = ["extract", "--package", str(package_dir), "--countries", "khm", "--tables", "countries"]
    ok = runner.invoke(app, [*base, "--format", "CSV", "--out", str(tmp_path / "a.zip")])
    assert ok.exit_code == 0, ok.output
    for wrong in (["--tables", "nope"], ["--variables", "nope"], ["--format", "xls"]):
        result = runner.invoke(app, [*base, *wrong, "--out", str(tmp_path / "b.zip")])
        assert result.exit_code == 2, (wrong, result.output)
    assert (
        runner.invoke(
            app,
            ["codebook", "--package", str(package_dir), "--format", "DDI", "--out", str(tmp_path / "c.xml")],
        ).exit_code
        == 0
    )


# --- reports grouped as the terminal (issue 22) -----------------------------------------------------


def test_many_rows_breaking_one_rule_are_one_group_in_json_html_and_terminal(
    kit: Path, tmp_path: Path
) -> None:
    """30 rows with sex = 3: one group (file, field, rule) with its count and hint once; every row
    once in the JSON group and in the HTML's <details>; the terminal lists the first 12."""
    frame = pl.read_csv(kit / "persons.csv", infer_schema=False)
    planted = [line for line in range(2, frame.height + 2) if line % 7 == 0][:30]
    for line in planted:
        set_cell(kit, "persons", line, "sex", "3")
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    result = runner.invoke(
        app, ["validate", str(kit), "--json", str(out_json), "--html", str(out_html)], terminal_width=100
    )
    assert result.exit_code == 1, result.output
    data = json.loads(out_json.read_text(encoding="utf-8"))
    flat = [r for r in data["problems"] if (r["file"], r["field"]) == ("persons.csv", "sex")]
    assert sorted(r["row"] for r in flat) == planted and {r["code"] for r in flat} == {"constraint-error"}
    (persons,) = [g for g in data["groups"] if g["file"] == "persons.csv"]
    (sex,) = [f for f in persons["fields"] if f["field"] == "sex"]
    (rule,) = sex["rules"]
    assert (rule["code"], rule["count"], sex["count"]) == ("constraint-error", 30, 30)
    assert [r["row"] for r in rule["rows"]] == planted and {r["value"] for r in rule["rows"]} == {"3"}
    assert rule["hint"] == flat[0]["hint"] and rule["message"] == flat[0]["message"]
    assert sum(g["count"] for g in data["groups"]) == len(data["problems"])  # each problem in one group

    page = out_html.read_text(encoding="utf-8")
    assert page.count(html.escape(rule["hint"])) == 1  # the hint once, not once a row
    assert page.count("<details>") == 1 and "<script" not in page and "http" not in page
    details = page[page.index("<details>") : page.index("</details>")]
    summary = details[: details.index("</summary>")]
    assert f"lines {', '.join(map(str, planted[:5]))} and 25 more" in summary and "show all 30" in summary
    shown = [int(n) for n in re.findall(r"<td class=n>(\d+)</td>", details)]
    assert shown == planted  # every row on demand, each once

    said = " ".join(result.output.split())
    rows = ", ".join(map(str, planted[:12]))
    assert f"lines {rows} and 18 more, column sex: " in said
    assert said.count(rule["hint"]) == 1

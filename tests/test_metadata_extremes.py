"""Metadata numbers and strings of any size (issue 20, class 2): each a named problem at its key and
line of metadata.yaml, exit 1, through `ippmd validate` (never Python's own message or "internal
error")."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ippmd.cli import app
from ippmd.core.limits import limit
from ippmd.synth.generator import write_submission


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid synthetic submission (Burkina Faso, survey year 2014)."""
    return write_submission("BFA", tmp_path_factory.mktemp("bfa"), seed=11)


def planted(valid: Path, folder: Path, line_start: str, new_value: str) -> tuple[Path, int]:
    """A copy of `valid` whose first metadata.yaml line starting with `line_start` (after the
    indentation) has its value replaced by `new_value`, written as text so that any YAML scalar
    (5,000 digits, .inf) can be planted; returns the folder and the (1-based) line."""
    copy = Path(shutil.copytree(valid, folder / "submission"))
    path = copy / "metadata.yaml"
    lines = path.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.strip().startswith(line_start))
    key = lines[number].split(":")[0]
    lines[number] = f"{key}: {new_value}"
    path.write_text("\n".join(lines), encoding="utf-8")
    return copy, number + 1


def validate(folder: Path) -> tuple[int, str]:
    # English whatever the country's default (BFA: French): the assertions read English words.
    result = CliRunner().invoke(app, ["validate", str(folder), "--lang", "en"], env={"COLUMNS": "400"})
    return result.exit_code, result.output


DIGITS_5000 = "2" * 5000
CASES = [
    # (line starting with, planted value, key path shown)
    ("survey_year:", DIGITS_5000, "survey_year"),
    ("survey_year:", "100000000000000000000000", "survey_year"),
    ("survey_year:", "-2014", "survey_year"),
    ("survey_year:", "2014.0", "survey_year"),
    ("survey_year:", ".inf", "survey_year"),
    ("seed:", "12345678901234567890123", "synthetic.seed"),
    ("seed:", "-1", "synthetic.seed"),
    ("seed:", DIGITS_5000, "synthetic.seed"),
    ("scale:", "1.5", "synthetic.scale"),
    ("scale:", "100000000000000000000000", "synthetic.scale"),
    ("lcu_per_usd:", ".inf", "exchange_rate.lcu_per_usd"),
    ("lcu_per_usd:", ".nan", "exchange_rate.lcu_per_usd"),
    ("lcu_per_usd:", "-493.7573", "exchange_rate.lcu_per_usd"),
    ("lcu_per_usd:", "9" * 400, "exchange_rate.lcu_per_usd"),
    ("lcu_per_usd:", DIGITS_5000, "exchange_rate.lcu_per_usd"),
    ("year:", "99999999999999999999", "exchange_rate.year"),
    ("year:", "2014.5", "exchange_rate.year"),
    ("isced:", "-1", "education_levels.0.isced"),
    ("years:", "1.0e+400", "education_levels.0.years"),
    ("- code: '0'", DIGITS_5000, "education_levels.0.code"),
]


@pytest.mark.parametrize(("line_start", "value", "key"), CASES, ids=[f"{c[2]}={c[1][:12]}" for c in CASES])
def test_a_metadata_number_of_any_size_is_named_at_its_key_and_line(
    valid: Path, tmp_path: Path, line_start: str, value: str, key: str
) -> None:
    folder, line = planted(valid, tmp_path, line_start, value)
    code, output = validate(folder)
    assert code == 1, output
    assert "internal error" not in output.lower() and "This is a bug" not in output
    assert "int_max_str_digits" not in output and "Exceeds the limit" not in output  # Python's words
    assert re.search(rf"line {line}, key {re.escape(key)} = ", output), output


def test_a_5000_digit_number_says_how_long_it_is(valid: Path, tmp_path: Path) -> None:
    folder, line = planted(valid, tmp_path, "survey_year:", DIGITS_5000)
    code, output = validate(folder)
    assert code == 1 and f"line {line}, key survey_year" in output and "5,000 digits" in output


@pytest.mark.parametrize(
    ("line_start", "key"),
    [
        ("country_name:", "country_name"),
        ("name: Centre-Est", "regions.list.2.name"),
        ("source:", "exchange_rate.source"),
    ],
)
def test_a_metadata_string_longer_than_a_cell_is_named_at_its_key_and_line(
    valid: Path, tmp_path: Path, line_start: str, key: str
) -> None:
    cell_bytes = limit("cell_bytes")
    folder, line = planted(valid, tmp_path, line_start, "é" * (cell_bytes // 2 + 1))  # 2 bytes each
    code, output = validate(folder)
    assert code == 1, output
    assert "internal error" not in output.lower()
    assert re.search(rf"line {line}, key {re.escape(key)} = ", output), output
    assert f"{cell_bytes + 2:,} bytes long, over the limit of {cell_bytes:,} bytes" in output


def test_a_metadata_string_of_exactly_the_cell_limit_passes(valid: Path, tmp_path: Path) -> None:
    folder, _ = planted(valid, tmp_path, "country_name:", "B" * limit("cell_bytes"))
    code, output = validate(folder)
    assert code == 0, output

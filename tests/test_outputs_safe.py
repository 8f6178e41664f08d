"""Nothing written for spreadsheet users starts with a formula, and no control character of an
input reaches the terminal: checked on the built package and on the writers themselves."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from ippmd.core.errors import InputError, Problem
from ippmd.core.text import first_formula_cell
from ippmd.extract.formats import write_csv
from ippmd.package.write import PackageWriter
from ippmd.synth.generator import write_submission
from tests.conftest import set_cell

IPPMD = Path(sys.executable).with_name("ippmd")
FORMULAS = ('=HYPERLINK("http://x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1")


def _is_formula(cell: str) -> bool:
    if not cell or cell[0] not in "=+-@\t\r":
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def test_no_cell_of_the_package_csvs_or_the_codebook_is_a_formula(package_dir: Path) -> None:
    cells = 0
    for path in sorted((package_dir / "data").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                cells += len(row)
                assert not [c for c in row if _is_formula(c)], path
    assert cells > 1_000_000  # the whole package was read
    codebook = Path(__file__).resolve().parent.parent / "codebook.md"
    table_cells = [
        cell.strip()
        for line in codebook.read_text(encoding="utf-8").splitlines()
        if line.startswith("|") and not line.startswith("|---")
        for cell in line.strip("|").split("|")
    ]
    assert table_cells and not [c for c in table_cells if _is_formula(c)]


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_formula_check_knows_formulas_from_numbers(formula: str) -> None:
    frame = pl.DataFrame({"text": ["Cambodia", "-1.5", None, formula], "n": [1, 2, 3, 4]})
    assert first_formula_cell(frame) == ("text", 4, formula)
    assert first_formula_cell(frame.head(3)) is None  # -1.5 is a number, not a formula


def test_the_package_writer_refuses_a_formula_that_skipped_validation(
    tables: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    communities = tables["communities"].filter(pl.col("country") == "KHM")
    planted = communities.with_columns(
        region_name=pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("=1+1")).otherwise(pl.col("region_name"))
    )
    with PackageWriter(tmp_path / "data") as writer:
        with pytest.raises(InputError) as info:
            writer.write("communities", "KHM", planted)
        writer.write("communities", "KHM", communities)  # the clean rows still go through
    (problem,) = info.value.problems
    assert (problem.code, problem.row, problem.field, problem.value) == (
        "formula-cell",
        3,
        "region_name",
        "=1+1",
    )


def test_a_csv_extract_refuses_a_formula_cell(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        write_csv(pl.DataFrame({"id": ["1", "2"], "name": ["ok", "@SUM(A1)"]}), tmp_path / "t.csv")
    assert [(p.code, p.row, p.field) for p in info.value.problems] == [("formula-cell", 3, "name")]
    assert not (tmp_path / "t.csv").exists()


def test_control_characters_never_reach_a_report() -> None:
    problem = Problem(
        "pers\x1bons.csv", "bad\x9b2J value", field="desti\x07nation", value="\x1b[2J\x1b[HVALID"
    )
    record = problem.as_record()
    assert all(
        "\x1b" not in str(v) and "\x9b" not in str(v) and "\x07" not in str(v) for v in record.values()
    )
    assert record["value"] == "[2J[HVALID"


def test_a_cell_that_clears_the_screen_is_printed_harmlessly(tmp_path: Path) -> None:
    sub = write_submission("KHM", tmp_path / "sub", seed=5)
    set_cell(sub, "emigrants", 2, "destination", "\x1b[2J\x1b[HVALID")
    done = subprocess.run(
        [str(IPPMD), "validate", str(sub), "--json", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    for text in (done.stdout, done.stderr, (tmp_path / "r.json").read_text(encoding="utf-8")):
        assert "\x1b" not in text and "\\u001b" not in text


def test_the_three_control_character_checks_agree() -> None:
    """`printable` (Python re), the cell check (polars, Rust regex) and `visible` are built from
    one list of code points: they agree on every character of the Basic Multilingual Plane."""
    import polars as pl

    from ippmd.core.text import CONTROL_CHARS, CONTROL_PATTERN, printable
    from ippmd.quality.submission_checks import visible

    chars = [chr(c) for c in range(0x3000) if not 0xD800 <= c <= 0xDFFF]
    in_cells = pl.Series(chars).str.contains(CONTROL_PATTERN).to_list()
    for char, refused in zip(chars, in_cells, strict=True):
        removed = printable(char, one_line=False) != char
        escaped = visible(char) != char
        assert refused == escaped == (char in CONTROL_CHARS), hex(ord(char))
        assert removed == (refused and char not in "\t\n"), hex(ord(char))
    assert sum(in_cells) == 32 + 33 + 2 + 5 + 4 + 2


@pytest.mark.parametrize(
    "args",
    [
        ["synth", "KHM", "{pkg}/data/new", "--force"],
        ["template", "KHM", "{pkg}/admitted/KHM", "--force"],
        ["figures", "--out", "{pkg}/data", "--force"],
        ["validate", "{pkg}/admitted", "--html", "{pkg}/datapackage.json"],
        ["sources", "--out", "{pkg}/data/persons.csv"],
        ["build", "--out", "{pkg}/admitted/NEW", "--countries", "KHM"],
        ["admit", "{pkg}", "--out", "{pkg}/admitted/KHM"],
        ["extract", "--package", "{pkg}", "--out", "{pkg}/admitted/x.zip"],
    ],
)
def test_no_command_writes_into_a_package_even_with_force(
    package_dir: Path, tmp_path: Path, args: list[str]
) -> None:
    """A package's data/ and admitted/ are written by build and admit only (under the lock):
    any other command asked to write there is refused with exit 2, --force or not."""
    pkg = tmp_path / "pkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "admitted").mkdir()
    (pkg / "datapackage.json").write_bytes((package_dir / "datapackage.json").read_bytes())
    before = sorted(p.relative_to(pkg) for p in pkg.rglob("*"))
    ippmd = Path(sys.executable).with_name("ippmd")
    result = subprocess.run(
        [str(ippmd), *(a.format(pkg=pkg) for a in args)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is inside the package" in result.stdout + result.stderr
    assert sorted(p.relative_to(pkg) for p in pkg.rglob("*")) == before

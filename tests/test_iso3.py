"""An ISO3 code is three ASCII capitals, decided once (ippmd.core.iso3): look-alikes that Python's
Unicode-wide `isalpha` and `upper` let through are refused, exit 2 for a command option, a named
problem (exit 1) for a submission's metadata."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ippmd.cli import app
from ippmd.core.errors import UsageError
from ippmd.core.iso3 import is_iso3, iso3_fault, iso3_option, iso3_options
from ippmd.quality.validate import validate_submission
from ippmd.synth.generator import write_submission

# Not ISO3 codes, each for its own reason; `upper()` would have made the last two codes we know.
NOT_ISO3 = {
    "non-ASCII letter": "ÀBC",
    "lower case": "khm",  # on a command line: taken as KHM (ASCII_CASE)
    "mixed case": "Khm",
    "fullwidth letters": "ＫＨＭ",
    "two letters": "KH",
    "four letters": "KHMM",
    "digit": "KH1",
    "trailing line break": "KHM\n",
    "Cyrillic look-alike": "КНМ",
    "long s (upper() makes SEN)": "ſen",
    "dotless i (upper() makes IDN)": "ıdn",
}


def test_three_ascii_capitals_and_nothing_else() -> None:
    assert is_iso3("KHM") and iso3_fault("KHM") is None
    for why, value in NOT_ISO3.items():
        assert not is_iso3(value), why
        assert "three capital letters A-Z" in str(iso3_fault(value)), why
    assert not is_iso3(None) and not is_iso3(123) and not is_iso3(b"KHM")
    assert str(iso3_fault("khm")).endswith("did you mean KHM?")  # only ASCII gets a suggestion
    assert "did you mean" not in str(iso3_fault("ſen"))


# Typed on a command line, ASCII letters in either case are taken as capitals (extract's
# `--countries khm` is held to that in test_validation_report.py); in a file, never.
ASCII_CASE = {"lower case", "mixed case"}


def test_options_take_ascii_letters_in_either_case_and_refuse_the_rest() -> None:
    assert iso3_option(" KHM ", "--focus") == "KHM"
    assert iso3_option("khm", "--focus") == iso3_option("Khm", "--focus") == "KHM"
    assert iso3_options("KHM, SEN,KHM,", "--countries") == ["KHM", "SEN"]
    assert iso3_options(" , ", "--countries") == []
    with pytest.raises(UsageError, match=r"--countries 'ſen' is not an ISO3 code"):
        iso3_options("KHM,ſen", "--countries")


# Every option and argument that takes a country code, with a folder that must stay unwritten.
def _commands(code: str, tmp: Path) -> dict[str, list[str]]:
    return {
        "template": ["template", code, str(tmp / "kit")],
        "synth": ["synth", code, str(tmp / "sub")],
        "build --countries": ["build", "--countries", f"KHM,{code}", "--out", str(tmp / "pkg")],
        "tabulate --countries": [
            "tabulate", "age", "--table", "persons", "--countries", code, "--package", str(tmp / "none")
        ],
        "extract --countries": ["extract", "--countries", code, "--out", str(tmp / "x.zip"), "--package",
                                str(tmp / "none")],
        "benchmark --focus": ["benchmark", "--focus", code, "--package", str(tmp / "none")],
        "figures --highlight": ["figures", "--highlight", code, "--out", str(tmp / "figures")],
    }  # fmt: skip


@pytest.mark.parametrize("why", sorted(set(NOT_ISO3) - ASCII_CASE))
def test_every_option_taking_a_country_code_refuses_a_look_alike(why: str, tmp_path: Path) -> None:
    for command, args in _commands(NOT_ISO3[why], tmp_path).items():
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (command, result.output)
        assert "is not an ISO3 code: three capital letters A-Z" in result.output, (command, result.output)
        assert list(tmp_path.iterdir()) == [], command  # refused before anything is written


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_submission("KHM", tmp_path_factory.mktemp("iso3") / "sub", seed=3)


@pytest.mark.parametrize("why", NOT_ISO3)
def test_metadata_country_iso3_is_three_ascii_capitals(why: str, submission: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(submission, tmp_path / "sub"))
    metadata = copy / "metadata.yaml"
    value = NOT_ISO3[why].replace("\n", "\\n")
    text = re.sub(r"(?m)^country_iso3: .*$", f'country_iso3: "{value}"', metadata.read_text(encoding="utf-8"))
    metadata.write_text(text, encoding="utf-8")
    report = validate_submission(copy)
    assert not report.valid
    fields = {p.field for p in report.errors}
    assert "country_iso3" in fields, [str(p) for p in report.errors]


def test_the_template_library_refuses_a_look_alike_too(tmp_path: Path) -> None:
    from ippmd.template import write_template

    with pytest.raises(UsageError, match="not an ISO3 code"):
        write_template("ÀBC", tmp_path / "kit")
    assert not (tmp_path / "kit").exists()


def test_an_option_in_ascii_lower_case_is_taken_as_capitals(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["template", "khm", str(tmp_path / "kit")])
    assert result.exit_code == 0, result.output
    assert "country_iso3: KHM" in (tmp_path / "kit" / "metadata.yaml").read_text(encoding="utf-8")

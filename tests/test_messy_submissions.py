"""Every planted defect of a messy submission is reported in the first round, once (issue 22).

The corpus (tests/messy.py) plants defects in valid synthetic submissions as a statistics
office's spreadsheet would: semicolons and decimal commas, `29 ans` in an integer column, a
renamed column, codes that lost their leading zeros, a table left out. Each planted defect must
be reported by one `validate` run (matched on file, field, code and, when it has one, line), by
exactly one problem; and every error reported must be a planted defect (no defect reported
twice in two wordings, nothing made up by the plants' side effects).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ippmd.core.errors import InputError
from ippmd.core.i18n import LANGUAGES, Language, using
from ippmd.harmonize.pipeline import harmonize
from ippmd.harmonize.regions import lost_zeros
from ippmd.harmonize.submission import read_submission
from ippmd.quality.structural import MAX_EXAMPLES, near_misses
from ippmd.quality.validate import validate_submission
from ippmd.synth.generator import write_submission
from tests.messy import CASES, Defect, read_rows, write_rows

SEED = 5


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One valid synthetic submission per country the corpus starts from."""
    countries = sorted({country for country, _ in CASES.values()})
    root = tmp_path_factory.mktemp("valid")
    return {iso3: write_submission(iso3, root / iso3, seed=SEED) for iso3 in countries}


def planted(case: str, valid: dict[str, Path], folder: Path) -> list[Defect]:
    country, plant = CASES[case]
    shutil.copytree(valid[country], folder)
    return plant(folder)


def test_the_valid_submissions_pass(valid: dict[str, Path]) -> None:
    """The corpus starts from submissions with no problem: what it finds, it planted."""
    for iso3, folder in valid.items():
        report = validate_submission(folder)
        assert report.valid, (iso3, [str(p) for p in report.problems[:5]])


def test_the_corpus_has_the_issue_scenario_and_eight_cases() -> None:
    assert len(CASES) >= 8
    assert "issue-22-scenario" in CASES


# English in `make test`; French and Spanish (the dedup in other wordings) in CI's slow run.
@pytest.mark.parametrize(
    "lang", [pytest.param(code, marks=[pytest.mark.slow] if code != "en" else []) for code in LANGUAGES]
)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_planted_defect_is_reported_once_in_round_one(
    case: str, lang: Language, valid: dict[str, Path], tmp_path: Path
) -> None:
    """In every language: a dedup that compared English wordings would double a defect in another."""
    defects = planted(case, valid, tmp_path / "sub")
    assert defects, "a case plants at least one defect"
    with using(lang):
        problems = [p for p in validate_submission(tmp_path / "sub").problems if p.severity == "error"]
    counts = {d: sum(d.matches(p) for p in problems) for d in defects}
    reported = sum(1 for n in counts.values() if n)
    print(f"{case} ({lang}): defects reported in round 1 / planted = {reported}/{len(defects)}")
    assert [d for d, n in counts.items() if n == 0] == [], "planted, not reported in round 1"
    assert {d: n for d, n in counts.items() if n > 1} == {}, "reported more than once"
    unplanted = [str(p) for p in problems if not any(d.matches(p) for d in defects)]
    assert unplanted == [], "reported, not planted (a double in another wording?)"


def test_the_issue_scenario_reads_each_defect_as_meant(valid: dict[str, Path], tmp_path: Path) -> None:
    """The file with semicolons is read with them; the renamed column under its name; the
    decimal commas as one problem per column with its count; `5` as region `05`; and the later
    layers run on the rows that parse."""
    defects = planted("issue-22-scenario", valid, tmp_path / "sub")
    report = validate_submission(tmp_path / "sub")
    assert {"harmonization", "package rules", "expectations (polars)"} <= set(report.layers)
    assert report.skipped == {}
    by_code = {p.code: p for p in report.problems}
    assert "`Remittances amount` looks like `remittances_amount`" in by_code["near-miss-label"].message
    assert "missing-label" not in by_code and "extra-label" not in by_code
    weight = next(p for p in report.problems if p.code == "decimal-comma" and p.field == "weight")
    assert weight.message.startswith(f"{report.rows['households']:,} number(s) written with a decimal comma")
    zeros = next(p for p in report.problems if p.code == "leading-zeros" and p.value == "5")
    assert "`5`: leading zeros were lost, the region is `05`" in zeros.message
    assert len([d for d in defects if d.code == "leading-zeros"]) == 8  # CIV's eight regions, 01 to 08
    assert report.rows["households"] == 1800  # the file with semicolons was read, every row


def test_the_issue_scenario_in_french_and_spanish(valid: dict[str, Path], tmp_path: Path) -> None:
    planted("issue-22-scenario", valid, tmp_path / "sub")
    with using("fr"):
        french = validate_submission(tmp_path / "sub").problems
    with using("es"):
        spanish = validate_submission(tmp_path / "sub").problems
    english = validate_submission(tmp_path / "sub").problems
    assert [(p.file, p.code, p.field, p.row, p.value) for p in french] == [
        (p.file, p.code, p.field, p.row, p.value) for p in english
    ]
    fr = {p.code: p.message for p in french}
    es = {p.code: p.message for p in spanish}
    assert "`Remittances amount` ressemble à `remittances_amount`" in fr["near-miss-label"]
    assert "`Remittances amount` se parece a `remittances_amount`" in es["near-miss-label"]
    assert fr["delimiter-error"].startswith("le séparateur est « ; »")
    assert "la région est `05`" in next(p.message for p in french if p.value == "5")
    assert "1\u202f800 nombre(s) écrit(s) avec une virgule décimale" in next(
        p.message for p in french if p.code == "decimal-comma" and p.field == "weight"
    )
    assert "1.800 número(s)" in next(
        p.message for p in spanish if p.code == "decimal-comma" and p.field == "weight"
    )


def test_a_date_and_a_number_with_a_word_are_said_so(valid: dict[str, Path], tmp_path: Path) -> None:
    planted("issue-22-scenario", valid, tmp_path / "sub")
    messages = {p.value: p.message for p in validate_submission(tmp_path / "sub").problems}
    assert messages["29 ans"] == "a number followed by text: write the number alone, without a unit or word"
    assert messages["15/03/2000"].startswith("a date, not a number")


def test_near_misses_pair_each_missing_column_once() -> None:
    expected = ["remittances_amount", "household_size", "weight"]
    header = ["Remittances amount", "household_sise", "Weight", "weight_2", "notes"]
    assert near_misses(header, expected) == {
        "Remittances amount": "remittances_amount",
        "household_sise": "household_size",  # a close spelling (difflib)
        "Weight": "weight",  # taken once: weight_2 and notes stay extra columns
    }
    assert near_misses(["age", "Age"], ["age"]) == {}  # nothing is missing


def test_lost_zeros_are_matched_only_when_one_code_fits() -> None:
    assert lost_zeros(["5", "12", "9"], ["05", "12", "009"]) == {"5": "05", "9": "009"}
    assert lost_zeros(["1"], ["01", "001"]) == {}  # two codes fit: an unknown code, not a guess
    assert lost_zeros(["1"], ["1", "01"]) == {}  # a known code as written


def test_a_code_unknown_on_every_row_is_said_in_one_wording(valid: dict[str, Path], tmp_path: Path) -> None:
    """More rows than are listed (58 communities, 50 listed): the rows not listed are left out
    too, so harmonization does not report them again in its own words; and the tables left
    empty by it are not reported as tables without rows."""
    folder = Path(shutil.copytree(valid["CIV"], tmp_path / "sub"))
    header, rows = read_rows(folder, "communities")
    for row in rows:
        row[header.index("region_code")] = "99"
    write_rows(folder, "communities", header, rows)
    report = validate_submission(folder)
    assert report.skipped == {}
    assert {(p.file, p.code, p.field) for p in report.problems} == {
        ("communities.csv", "unknown-code", "region_code")
    }
    listed = [p for p in report.problems if p.row is not None]
    assert len(listed) == MAX_EXAMPLES and len({p.message for p in listed}) == 1
    assert [p.row for p in listed] == list(range(2, 2 + MAX_EXAMPLES))


def test_build_says_which_codes_lost_their_zeros(valid: dict[str, Path], tmp_path: Path) -> None:
    """`ippmd build` reads a submission without validate's layers: its recoding says it too."""
    planted("region-zeros", valid, tmp_path / "sub")
    with pytest.raises(InputError) as caught:
        harmonize(read_submission(tmp_path / "sub"))
    zeros = [p for p in caught.value.problems if p.code == "leading-zeros"]
    assert zeros and {p.code for p in caught.value.problems if p.value is not None} == {"leading-zeros"}
    five = next(p for p in zeros if p.value == "5")
    assert five.message == "`5`: leading zeros were lost, the code is `05`"


def _texts(report: dict) -> list[tuple[str, str | None, str | None]]:
    return [(p["code"], p["message"], p["hint"]) for p in report["problems"]]


def test_validate_lang_fr_gives_every_problem_in_french(valid: dict[str, Path], tmp_path: Path) -> None:
    """`ippmd validate SUB --lang fr` (the issue's done-when) on the messy scenario: every message,
    hint, note and skip reason differs from the English run's (nothing left in English), the
    problems are the same ones, and the exit code is 1."""
    import json
    import subprocess
    import sys

    planted("issue-22-scenario", valid, tmp_path / "sub")
    runs = {}
    for lang in ("en", "fr"):
        out = tmp_path / f"{lang}.json"
        command = ["validate", str(tmp_path / "sub"), "--lang", lang, "--json", str(out)]
        done = subprocess.run([sys.executable, "-m", "ippmd.cli", *command], capture_output=True, text=True)
        assert done.returncode == 1, done.stderr
        runs[lang] = json.loads(out.read_text(encoding="utf-8"))
    english, french = runs["en"], runs["fr"]
    assert [(p["file"], p["code"], p["field"], p["row"]) for p in french["problems"]] == [
        (p["file"], p["code"], p["field"], p["row"]) for p in english["problems"]
    ]
    for (code, en_message, en_hint), (_, fr_message, fr_hint) in zip(
        _texts(english), _texts(french), strict=True
    ):
        assert fr_message != en_message, (code, fr_message)
        assert (fr_hint is None) == (en_hint is None) and (en_hint is None or fr_hint != en_hint), code
    for en_note, fr_note in zip(english["notes"], french["notes"], strict=True):
        assert fr_note != en_note, fr_note
    for layer, reason in english["skipped"].items():
        assert french["skipped"][layer] != reason, reason

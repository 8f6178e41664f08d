"""Validation messages in French and Spanish (issue 22 item 2): a representative problem of each
layer (metadata, identifiers and cells, plausibility, an expectation, the archive) made in each
language is the catalogue's text, not the English, with its numbers in the locale.

The expected texts are the catalogue entries filled here with plain `str.format`, and the numbers
written by Babel directly (`format_decimal`), not through ippmd.core.i18n; the French and Spanish
group separators are also spelled out (`1 234` with a narrow no-break space, `1.234`).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest
from babel.numbers import format_decimal

from ippmd.core.errors import InputError
from ippmd.core.i18n import catalogue, using
from ippmd.core.metadata import read_submission_metadata
from ippmd.quality.archive import MAX_ENTRIES, open_submission_files
from ippmd.quality.engine_polars import run_suites_polars
from ippmd.quality.plausibility import metadata_rules
from ippmd.quality.structural import MAX_EXAMPLES, Table
from ippmd.quality.submission_checks import cell_text_problems, identifier_columns
from ippmd.quality.validate import validate_submission
from ippmd.synth.generator import write_submission
from tests.conftest import edit_meta

LANGUAGES = ("en", "fr", "es")
GROUPED_1234 = {"en": "1,234", "fr": "1\u202f234", "es": "1.234"}


def entry(code: str, domain: str, key: str) -> str:
    return catalogue(code, domain)[key]


def written(value: float, code: str) -> str:
    """A number as Babel writes it in the language's locale."""
    return format_decimal(value, locale=code)


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid synthetic submission of Burkina Faso (seed 11)."""
    return write_submission("BFA", tmp_path_factory.mktemp("bfa"), seed=11)


def test_the_french_and_spanish_texts_differ_from_the_english() -> None:
    """The catalogues are translations, not copies: a sample of entries of every domain."""
    for domain, key in (
        ("metadata", "key-missing"),
        ("io", "yaml-too-large"),
        ("checks", "identifier-column"),
        ("archive", "not-a-submission"),
        ("plausibility", "exchange-rate"),
        ("package", "data-hash"),
    ):
        english = entry("en", domain, key)
        assert entry("fr", domain, key) != english and entry("es", domain, key) != english, key


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_metadata_problem_is_worded_in_the_language(valid: Path, tmp_path: Path, code: str) -> None:
    folder = Path(shutil.copytree(valid, tmp_path / "submission"))
    edit_meta(folder, lambda meta: meta.pop("currency"))
    with using(code), pytest.raises(InputError) as caught:  # type: ignore[arg-type]
        read_submission_metadata(folder / "metadata.yaml", "metadata.yaml")
    missing = [p for p in caught.value.problems if p.field == "currency"]
    assert len(missing) == 1
    english_allowed = "an ISO 4217 currency code: three capital letters (e.g. KHR)"
    allowed = english_allowed if code == "en" else entry(code, "metadata-allowed", "currency")
    assert missing[0].message == entry(code, "metadata", "key-missing").format(wanted=allowed)
    if code != "en":
        assert "missing" not in missing[0].message and "KHR" in missing[0].message


@pytest.mark.parametrize("code", LANGUAGES)
def test_an_identifier_column_and_a_count_of_cells(code: str) -> None:
    with using(code):  # type: ignore[arg-type]
        column = identifier_columns(["household_id", "telephone"], "households.csv")
    kind = entry(code, "checks", "kind-phone")
    assert [p.message for p in column] == [entry(code, "checks", "identifier-column").format(kind=kind)]
    assert column[0].field == "telephone" and column[0].row == 1  # file, row, field unchanged

    cells = 1234 + MAX_EXAMPLES  # 1,234 more cells than the examples shown
    frame = pl.DataFrame({"note": ["TODO"] * cells})
    table = Table("persons.csv", ["note"], frame, pl.Series("line", range(2, cells + 2)))
    with using(code):  # type: ignore[arg-type]
        problems = cell_text_problems(table)
    more = problems[-1].message
    assert more == entry(code, "checks", "more-cells").format(count=written(1234, code))
    assert GROUPED_1234[code] in more
    assert problems[0].message == entry(code, "checks", "todo-in-cell")


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_plausibility_problem_writes_its_numbers_in_the_locale(valid: Path, code: str) -> None:
    from ippmd.core.io import load_user_yaml

    meta = load_user_yaml(valid / "metadata.yaml", "metadata.yaml")
    meta["exchange_rate"]["lcu_per_usd"] = 12345.6  # the XOF was about 494 per US$ in 2014
    meta["survey_year"] = 1985
    with using(code):  # type: ignore[arg-type]
        problems = {p.code: p for p in metadata_rules(meta, {})}
    year = problems["survey-year"].message
    assert "1985" not in year and "1990" in year  # a year is written as is, never grouped
    assert year.startswith(entry(code, "plausibility", "survey-year").split("{")[0])
    rate = problems["exchange-rate"].message
    given = format_decimal(12350, locale=code)  # 4 significant digits, grouped
    assert rate.startswith(f"{given} XOF "), rate
    assert {"en": "12,350", "fr": "12\u202f350", "es": "12.350"}[code] in rate


@pytest.mark.parametrize("code", ["fr", "es"])
def test_an_expectation_failure_is_worded_in_the_language(tables: dict[str, pl.DataFrame], code: str) -> None:
    person = tables["persons"].filter(pl.col("country") == "BFA")["person_id"][0]
    household = tables["households"].filter(pl.col("country") == "BFA")["household_id"][0]
    planted = {
        **tables,
        "persons": tables["persons"].with_columns(
            pl.when(pl.col("person_id") == person).then(200).otherwise(pl.col("age")).alias("age")
        ),
        "households": tables["households"].with_columns(
            pl.when(pl.col("household_id") == household)
            .then(pl.col("household_size") + 1)
            .otherwise(pl.col("household_size"))
            .alias("household_size")
        ),
    }
    with using(code):  # type: ignore[arg-type]
        failures = run_suites_polars(planted, ["BFA"])
    suites = catalogue(code, "suites")
    bounds = suites["schema.words.between"].replace("{low!s}", "0").replace("{high!s}", "110")
    age = [f for f in failures if f.column == "age" and f.expectation_type.endswith("between")]
    assert [f.rule for f in age] == [suites["schema.range.rule"].format(field="age", bounds=bounds)]
    assert age[0].unexpected_keys == (person,)
    size_key = "households.household-size-equals-members-listed-persons"
    size = [f for f in failures if f.rule == suites[f"{size_key}.rule"]]
    assert len(size) == 1 and size[0].hint == suites[f"{size_key}.hint"]
    assert household in size[0].unexpected_keys


@pytest.mark.parametrize("code", LANGUAGES)
def test_an_archive_problem_counts_in_the_locale(tmp_path: Path, code: str) -> None:
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(1234):
            zf.writestr(f"file{i}.txt", "")
    with using(code), pytest.raises(InputError) as caught, open_submission_files(archive):  # type: ignore[arg-type]
        pass
    expected = entry(code, "archive", "too-many-entries").format(
        count=written(1234, code), limit=written(MAX_ENTRIES, code)
    )
    assert [p.message for p in caught.value.problems] == [expected]
    assert GROUPED_1234[code] in expected
    with using(code), pytest.raises(InputError) as caught, open_submission_files(tmp_path / "x.txt"):  # type: ignore[arg-type]
        pass
    assert caught.value.problems[0].message == entry(code, "archive", "not-a-submission")


@pytest.mark.parametrize("code", ["fr", "es"])
def test_validate_words_a_broken_submission_in_the_language(valid: Path, tmp_path: Path, code: str) -> None:
    """One validation run: the problems of these layers are the catalogue's, none in English."""
    folder = Path(shutil.copytree(valid, tmp_path / "submission"))
    edit_meta(folder, lambda meta: meta["exchange_rate"].__setitem__("lcu_per_usd", 0))
    (folder / "contacts.csv").write_text("name,telephone\nA,+226 70 12 34 56\n", encoding="utf-8")
    with using("en"):
        english = {(p.code, p.field, p.row): p.message for p in validate_submission(folder).problems}
    with using(code):  # type: ignore[arg-type]
        report = validate_submission(folder)
    translated = {(p.code, p.field, p.row): p.message for p in report.problems}
    assert translated.keys() == english.keys()  # the same problems, at the same places
    placeholder = [m for (c, _, _), m in translated.items() if c == "placeholder"]
    assert placeholder == [entry(code, "checks", "placeholder").format(what="0")]
    unexpected = {m for (c, _, _), m in translated.items() if c == "unexpected-file"}
    assert (
        entry(code, "checks", "unexpected-identifier").format(kind=entry(code, "checks", "kind-phone"))
        in unexpected
    )
    for place, message in translated.items():
        if place[0] in {"placeholder", "unexpected-file", "direct-identifier"}:
            assert message != english[place], place

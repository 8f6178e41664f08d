"""Issue 22: `ippmd template` writes its kit in the team's language (GUIDE.md and the comments of
metadata.yaml), while every identifier (column names, keys, codes, file names) stays the same, so a
French kit filled in validates exactly as an English one."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from babel import Locale
from babel.numbers import format_decimal
from typer.testing import CliRunner

from ippmd.cli import app
from ippmd.core.i18n import LANGUAGES, SOURCE, Language, catalogue, using
from ippmd.core.metadata import load_country
from ippmd.core.schema import SUBMISSION_TABLES, field_names, submission_schema
from ippmd.quality.validate import validate_submission
from ippmd.submission_text import metadata_keys, submission_english
from ippmd.synth.generator import write_submission
from ippmd.template import guide, write_template
from tests.conftest import set_cell

runner = CliRunner()
TITLES = {"en": "# IPPMD submission kit", "fr": "# Kit de soumission IPPMD", "es": "# Kit de envío IPPMD"}
# The maintainers' note on the translations, as each language words it.
TRANSLATORS = {
    "en": "maintainers' translations",
    "fr": "traductions des mainteneurs",
    "es": "traducciones de los mantenedores",
}


@pytest.fixture(autouse=True)
def _english_after_each_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A command sets the language for the rest of the process: give it back; and no $IPPMD_LANG
    from the caller's shell decides a test's language."""
    monkeypatch.delenv("IPPMD_LANG", raising=False)
    with using(SOURCE):
        yield


def _kit(folder: Path, *args: str) -> str:
    """Run `ippmd template ARGS FOLDER` (the country first); its GUIDE.md."""
    result = runner.invoke(app, ["template", args[0], str(folder), *args[1:]])
    assert result.exit_code == 0, result.output
    return (folder / "GUIDE.md").read_text(encoding="utf-8")


def _language_of(text: str) -> str:
    (found,) = [code for code, title in TITLES.items() if text.startswith(title)]
    return found


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("CIV",), "fr"),  # the country's default language
        (("CIV", "--lang", "en"), "en"),
        (("DOM",), "es"),
        (("KHM",), "en"),
        (("KHM", "--lang", "es"), "es"),
        (("KHM", "--lang", " FR "), "fr"),
        (("SEN",), "en"),  # a country ippmd has no metadata for: English
    ],
)
def test_the_guide_is_in_the_chosen_language(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    text = _kit(tmp_path / "kit", *args)
    assert _language_of(text) == expected
    assert TRANSLATORS[expected] in text  # the note that the translations are the maintainers'
    meta = (tmp_path / "kit" / "metadata.yaml").read_text(encoding="utf-8")
    assert meta.startswith("# " + catalogue(expected, "template")["metadata-head"][:40])


def test_ippmd_lang_chooses_when_no_option_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPPMD_LANG", "es")
    assert _language_of(_kit(tmp_path / "a", "CIV")) == "es"
    assert _language_of(_kit(tmp_path / "b", "CIV", "--lang", "en")) == "en"  # the option first


@pytest.mark.parametrize("wrong", ["de", "french", ""])
def test_a_bad_language_is_a_usage_error_and_writes_nothing(tmp_path: Path, wrong: str) -> None:
    result = runner.invoke(app, ["template", "CIV", str(tmp_path / "kit"), "--lang", wrong])
    assert result.exit_code == 2, result.output
    assert "--lang" in result.output and "en, fr, es" in result.output
    assert not (tmp_path / "kit").exists()


def test_messages_are_in_the_language(tmp_path: Path) -> None:
    result = runner.invoke(app, ["template", "CIV", str(tmp_path / "kit")])
    said = result.output.replace("\n", "")  # folded at the terminal's width
    assert result.exit_code == 0 and f"écrit : {tmp_path / 'kit' / 'GUIDE.md'}" in said, said
    again = runner.invoke(app, ["template", "DOM", str(tmp_path / "kit")])
    said = " ".join(again.output.split())
    assert again.exit_code == 2 and "no está vacía" in said and "--force" in said, said


def test_every_identifier_is_the_same_in_every_language(tmp_path: Path) -> None:
    """CSV headers byte for byte; metadata.yaml the same document (only its comments differ);
    every column and key named in the guide as it is in the schemas."""
    kits = {code: tmp_path / code for code in LANGUAGES}
    for code, folder in kits.items():
        _kit(folder, "CIV", "--lang", code)
    for table in SUBMISSION_TABLES:
        headers = {(folder / f"{table}.csv").read_bytes() for folder in kits.values()}
        assert headers == {(",".join(field_names(submission_schema(table))) + "\n").encode()}, table
    documents = [(folder / "metadata.yaml").read_text(encoding="utf-8") for folder in kits.values()]
    assert len({_without_comments(text) for text in documents}) == 1
    assert yaml.safe_load(documents[0]) == load_country("CIV")["submission"]
    for folder in kits.values():
        text = (folder / "GUIDE.md").read_text(encoding="utf-8")
        for table in SUBMISSION_TABLES:
            assert f"## {table}.csv" in text
            for column in field_names(submission_schema(table)):
                assert f"| `{column}` |" in text, (folder.name, table, column)
        for key in metadata_keys():
            assert f"`{key.path}`" in text, (folder.name, key.path)


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def test_assumed_markers_and_source_citations_survive_every_language(tmp_path: Path) -> None:
    country = load_country("CIV")
    citation = country["sources"][country["submission"]["exchange_rate"]["source"]]["citation"]
    for code in LANGUAGES:
        _kit(tmp_path / code, "CIV", "--lang", code)
        meta = (tmp_path / code / "metadata.yaml").read_text(encoding="utf-8")
        assert citation in meta, code  # verbatim, on one comment line
        assert yaml.safe_load(meta)["regions"]["assumed"] is True
        assert "`assumed: true`" in meta.split("\ncountry_iso3:")[0], code  # the comment explains it


def test_the_country_is_named_in_the_language_by_babel(tmp_path: Path) -> None:
    for code in LANGUAGES:
        _kit(tmp_path / code, "DOM", "--lang", code)
        head = (tmp_path / code / "metadata.yaml").read_text(encoding="utf-8").split("\ncountry_iso3:")[0]
        assert Locale.parse(code).territories["DO"] in " ".join(head.replace("# ", "").split()), head


# What must appear unchanged in a translation: text in backticks (commands too), snake_case names,
# codes in capitals, numbers, file names, options and the values `true`, `false` and `assumed`;
# in a text of allowed values (`.allowed`), the values `survey` and `synthetic` as well.
IDENTIFIER = re.compile(
    r"`[^`]+`|\b[a-z0-9]+(?:_[a-z0-9]+)+\b|\b[A-Z]{3,}[A-Z0-9]*\b|[\w.-]+\.(?:csv|yaml|zip|md)\b|"
    r"\d+(?:[.^-]\d+)*|\b(?:true|false|assumed)\b|\{\}|--\w+"
)
VALUE_WORDS = re.compile(r"\b(?:survey|synthetic)\b(?!')")  # not the word in "the survey's own"


def _identifiers(text: str, key: str = "") -> list[str]:
    return IDENTIFIER.findall(text) + (VALUE_WORDS.findall(text) if key.endswith(".allowed") else [])


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != SOURCE])
def test_translations_keep_every_identifier(code: Language) -> None:
    english = {**submission_english(), **_template_texts(SOURCE)}
    translated = {**catalogue(code, "submission"), **_template_texts(code)}
    assert len(english) > 200
    lost = {
        key: missing
        for key, text in english.items()
        if (missing := [w for w in _identifiers(text, key) if w.strip("`") not in translated[key]])
    }
    assert lost == {}


def _template_texts(code: Language) -> dict[str, str]:
    return {f"template.{key}": text for key, text in catalogue(code, "template").items()}


def test_identifier_scan_sees_identifiers() -> None:
    """The scan above is not vacuous."""
    assert _identifiers("a year from 1960 to 9999 in `survey_year` of metadata.yaml (ISO 4217), true") == [
        "1960", "9999", "`survey_year`", "metadata.yaml", "ISO", "4217", "true",
    ]  # fmt: skip


def test_numbers_in_the_guide_follow_the_language_and_years_stay_as_written() -> None:
    for code in LANGUAGES:
        with using(code):
            text = guide("KHM")
        weight = next(line for line in text.splitlines() if line.startswith("| `weight` |"))
        assert format_decimal(Decimal("0.0001"), locale=code) in weight, weight
        assert code == "en" or "0.0001" not in weight  # French and Spanish write a decimal comma
        year_left = next(line for line in text.splitlines() if line.startswith("| `year_left` |"))
        assert "1950" in year_left and format_decimal(1950, locale=code) not in year_left.replace("1950", "")


@pytest.fixture(scope="module")
def civ_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid synthetic Ivorian submission, to fill each language's kit with."""
    return write_submission("CIV", tmp_path_factory.mktemp("civ"), seed=5)


def _filled(kit: Path, tables: Path) -> Path:
    for csv in tables.glob("*.csv"):
        shutil.copy(csv, kit / csv.name)
    return kit


def _problems(folder: Path) -> list[tuple[str, int | str | None, str | None, str]]:
    """Every problem at its place: a metadata.yaml line is given by its text (the comments above
    it differ from one language to another), a table's by its number."""
    meta = (folder / "metadata.yaml").read_text(encoding="utf-8").splitlines()

    def place(file: str, row: int | None) -> int | str | None:
        return meta[row - 1] if file == "metadata.yaml" and row is not None else row

    return sorted(
        ((p.file, place(p.file, p.row), p.field, p.code) for p in validate_submission(folder).errors), key=str
    )


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_a_french_kit_filled_in_validates_as_the_english_one(tmp_path: Path, civ_tables: Path) -> None:
    kits = {code: tmp_path / code for code in ("en", "fr")}
    for code, folder in kits.items():
        _kit(folder, "CIV", "--lang", code)
    empty = {code: _problems(folder) for code, folder in kits.items()}
    assert empty["fr"] == empty["en"] and {p[3] for p in empty["en"]} == {"no-rows"}
    for folder in kits.values():
        _filled(folder, civ_tables)
        assert validate_submission(folder).valid
        set_cell(folder, "persons", 5, "sex", "3")
        meta = folder / "metadata.yaml"
        text = meta.read_text(encoding="utf-8")
        meta.write_text(text.replace("currency: XOF", "currency: XOX"), encoding="utf-8")
    broken = {code: _problems(folder) for code, folder in kits.items()}
    assert broken["fr"] == broken["en"]
    assert {(p[0], p[2]) for p in broken["en"]} >= {("persons.csv", "sex"), ("metadata.yaml", "currency")}


def test_write_template_keeps_english_by_default(tmp_path: Path) -> None:
    """The library writes in the current language: English unless a command chose another."""
    write_template("CIV", tmp_path / "kit")
    assert _language_of((tmp_path / "kit" / "GUIDE.md").read_text(encoding="utf-8")) == "en"


def test_a_code_that_is_no_country_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """`validate` refuses a kit whose country_iso3 is no ISO 3166-1 code: template says so first
    (exit 2, nothing written); a real country ippmd has no metadata for still gets its kit."""
    refused = CliRunner().invoke(app, ["template", "ZZZ", str(tmp_path / "kit")])
    assert refused.exit_code == 2 and "ZZZ is not an ISO 3166-1 alpha-3 country code" in refused.output
    assert not (tmp_path / "kit").exists()
    made = CliRunner().invoke(app, ["template", "SEN", str(tmp_path / "sen")])
    assert made.exit_code == 0 and (tmp_path / "sen" / "metadata.yaml").is_file()

"""Issue 22: `ippmd validate`, `admit` and `check` report in English, French or Spanish (--lang,
else $IPPMD_LANG, else the submission's country, else English): the terminal, the JSON's texts
and the HTML, with numbers written by Babel. A bad language is a usage error (exit 2).

Expected words are read from the catalogues and numbers from Babel, not typed here: the tests
hold that the report uses them, in the language asked for."""

from __future__ import annotations

import html
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.numbers import format_decimal
from typer.testing import CliRunner

from ippmd.cli import app
from ippmd.commands.validate import submission_country
from ippmd.core.errors import problem_catalogue
from ippmd.core.i18n import catalogue, language, using
from ippmd.quality.validate import validate_submission
from ippmd.synth.generator import write_submission
from tests.conftest import copy_package, set_cell

runner = CliRunner()


@pytest.fixture(autouse=True)
def english_after(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No $IPPMD_LANG from the caller; the language a command set does not outlive the test
    (CliRunner runs the command in this process, and the language is a context variable)."""
    monkeypatch.delenv("IPPMD_LANG", raising=False)
    with using(language()):
        yield


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_submission("KHM", tmp_path_factory.mktemp("khm") / "sub", seed=3)


@pytest.fixture(scope="module")
def civ(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_submission("CIV", tmp_path_factory.mktemp("civ") / "sub", seed=3)


@pytest.fixture
def broken(khm: Path, tmp_path: Path) -> Path:
    """The Cambodian submission with sex = 3 on line 5 (hint: constraint-error.sex)."""
    folder = Path(shutil.copytree(khm, tmp_path / "broken"))
    set_cell(folder, "persons", 5, "sex", "3")
    return folder


def words(text: str) -> str:
    """Text as words (terminal folding, HTML line breaks and no-break spaces aside)."""
    return " ".join(text.split())


def report_words(code: str) -> dict[str, str]:
    return {key: words(text) for key, text in catalogue(code, "report").items()}


def hint(code: str, key: str = "constraint-error.sex") -> str:
    """A problem's hint: English in core/problems.yaml, French and Spanish in the catalogues."""
    text = problem_catalogue()[key] if code == "en" else catalogue(code, "hints")[key]
    return words(text)


def _validate(folder: Path, tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> tuple:
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    result = runner.invoke(
        app,
        ["validate", str(folder), "--json", str(out_json), "--html", str(out_html), *options],
        env=env,
        terminal_width=100,
    )
    assert result.exit_code == 1, result.output
    data = json.loads(out_json.read_text(encoding="utf-8"))
    return words(result.output), data, out_html.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("code", "options", "env"),
    [("fr", ["--lang", "fr"], None), ("es", [], {"IPPMD_LANG": "es"}), ("en", [], None)],
    ids=["--lang fr", "IPPMD_LANG=es", "KHM: English"],
)
def test_the_report_speaks_the_language_in_terminal_json_and_html(
    broken: Path, tmp_path: Path, code: str, options: list[str], env: dict[str, str] | None
) -> None:
    said, data, page = _validate(broken, tmp_path, *options, env=env)
    word = report_words(code)
    assert said.startswith(f"{word['invalid']} {broken} (KHM)"), said[:200]
    assert word["checked"].split("{")[0] in said and word["layer-harmonization"] in said
    assert f"{word['line']} 5, {word['column']} sex = '3'" in said
    assert f"{word['fix']} {hint(code)}" in said
    rows = data["rows"]["persons"]  # counts grouped by Babel in the language's locale
    assert f"persons {words(format_decimal(rows, locale=code))}" in said

    assert data["language"] == code
    (problem,) = [p for p in data["problems"] if p["field"] == "sex"]
    assert words(problem["hint"]) == hint(code) and problem["code"] == "constraint-error"
    assert data["groups"][0]["fields"][0]["rules"][0]["hint"] == problem["hint"]
    assert data["layers"][0] == "structure"  # identifiers stay as they are

    assert f'<html lang="{code}">' in page
    text = words(html.unescape(page))
    assert f'<span class="bad">{word["invalid"]}</span>' in page
    assert word["html-checked"].split("{")[0] in text and f"{word['how-to-fix']} {hint(code)}" in text
    assert word["generated-by"].split("{")[0] in text
    if code != "en":  # nothing left in English of the report's own words
        english = report_words("en")
        assert english["how-to-fix"] not in text and english["html-checked"].split("{")[0] not in text


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_a_country_whose_language_is_french_validates_in_french(civ: Path, khm: Path, tmp_path: Path) -> None:
    french, english = report_words("fr"), report_words("en")
    for folder, word in ((civ, french), (khm, english)):
        result = runner.invoke(app, ["validate", str(folder)], terminal_width=100)
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"{word['valid']} {folder}"), result.output[:200]
    result = runner.invoke(app, ["validate", str(civ), "--lang", "en"], terminal_width=100)
    assert result.output.startswith(f"{english['valid']} {civ} (CIV)")
    assert runner.invoke(app, ["validate", str(civ)], env={"IPPMD_LANG": "es"}).output.startswith(
        report_words("es")["valid"]
    )
    archive = tmp_path / "civ.zip"  # a zip's metadata.yaml too, in its one top folder
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(civ.iterdir()):
            zf.write(path, f"civ/{path.name}")
    assert submission_country(archive) == "CIV"
    assert runner.invoke(app, ["validate", str(archive)]).output.startswith(f"{french['valid']} ")


@pytest.mark.parametrize(
    "metadata",
    [
        None,  # no metadata.yaml
        b"\x00\xff\xfe garbage \x00",
        b"country_iso3: [CIV\n  - : :\n",  # broken YAML
        b"regions:\n  country_iso3: CIV\n",  # not the top-level key
        b"country_iso3: CIV\ncountry_iso3: DOM\n",  # two answers: none
    ],
    ids=["missing", "binary", "broken yaml", "nested", "twice"],
)
def test_a_missing_or_broken_metadata_file_chooses_no_language_and_changes_no_problem(
    civ: Path, tmp_path: Path, metadata: bytes | None
) -> None:
    folder = Path(shutil.copytree(civ, tmp_path / "sub"))
    if metadata is None:
        (folder / "metadata.yaml").unlink()
    else:
        (folder / "metadata.yaml").write_bytes(metadata)
    assert submission_country(folder) is None
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["validate", str(folder), "--json", str(out)])
    assert result.exit_code == 1 and result.output.startswith(report_words("en")["invalid"]), result.output
    with using("en"):  # in-process: the same problems, nothing added or lost
        expected = validate_submission(folder)
    found = json.loads(out.read_text(encoding="utf-8"))["problems"]
    assert [(p["file"], p["row"], p["field"], p["code"]) for p in found] == [
        (p.file, p.row, p.field, p.code) for p in expected.problems
    ]


def test_a_metadata_file_that_is_no_regular_file_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "metadata.yaml").mkdir()
    assert submission_country(tmp_path / "sub") is None
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not a zip")
    assert submission_country(tmp_path / "bad.zip") is None
    assert submission_country(tmp_path / "nowhere") is None


@pytest.mark.parametrize("command", ["validate", "admit", "check"])
def test_a_bad_language_is_a_usage_error_naming_it(command: str, khm: Path, tmp_path: Path) -> None:
    args = {"validate": [str(khm)], "admit": [str(khm), "--out", str(tmp_path)], "check": []}[command]
    given = runner.invoke(app, [command, *args, "--lang", "xx"])
    assert given.exit_code == 2 and "--lang 'xx'" in given.output, given.output
    from_env = runner.invoke(app, [command, *args], env={"IPPMD_LANG": "de"})
    assert from_env.exit_code == 2 and "IPPMD_LANG" in from_env.output and "de" in from_env.output
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_a_usage_error_of_validate_is_in_the_language(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope"), "--lang", "es"], terminal_width=300)
    expected = catalogue("es", "commands")["does-not-exist"].format(path=tmp_path / "nope")
    assert result.exit_code == 2 and words(expected) in words(result.output), result.output


@pytest.mark.slow  # copies the session package twice (about 10 s)
def test_check_and_admit_report_in_the_language_asked_for(
    package_dir: Path, broken: Path, tmp_path: Path
) -> None:
    """check: --lang fr, else English (a package has no country); admit: --lang es."""
    package = copy_package(package_dir, tmp_path / "pkg")
    path = package / "data" / "persons.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[1] = "," + lines[1].split(",", 1)[1]  # the first person without an ID: the structure breaks
    path.write_text("\n".join(lines), encoding="utf-8")
    french = runner.invoke(app, ["check", "--package", str(package), "--lang", "fr"], terminal_width=100)
    said = words(french.output)
    assert french.exit_code == 1 and said.startswith(report_words("fr")["invalid"]), said[:300]
    assert hint("fr", "package") in said  # the package's own hint, in French
    english = runner.invoke(app, ["check", "--package", str(package)], terminal_width=100)
    assert words(english.output).startswith(report_words("en")["invalid"] + " ")

    home = copy_package(package_dir, tmp_path / "home")
    admitted = runner.invoke(
        app, ["admit", str(broken), "--out", str(home), "--lang", "es", "--engine", "polars"]
    )
    said = words(admitted.output)
    assert admitted.exit_code == 1 and said.startswith(report_words("es")["invalid"]), said[:300]
    commands = catalogue("es", "commands")
    assert f"{commands['not-admitted']} {commands['package-unchanged']}" in said
    assert hint("es") in said

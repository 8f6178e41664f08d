"""Privacy and hostile cells (issue 11, class 5 and the input half of class 6).

Free text is accepted only when it equals a known spelling after folding (never by substring);
identifiers are looked for in every file of a submission, expected or not; cells that start with
a spreadsheet formula character or hold control characters are refused, in the tables and in
metadata.yaml.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest

from ippmd.core.errors import InputError
from ippmd.core.metadata import load_country
from ippmd.harmonize.destinations import UnknownCountryName, match_destinations, to_iso3
from ippmd.harmonize.pipeline import harmonize
from ippmd.harmonize.submission import read_submission
from ippmd.quality.validate import validate_submission
from ippmd.synth.generator import write_submission
from tests.conftest import edit_meta, set_cell

HOSTILE_DESTINATIONS = ["Thailand tel 12 345 678", "France (Jean Dupont)", "France or Niger"]


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_submission("BFA", tmp_path_factory.mktemp("bfa"), seed=11)


@pytest.fixture
def copy(valid: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(valid, tmp_path / "submission"))


def where(folder: Path, code: str) -> list[tuple[str, int | None, str | None]]:
    return [(p.file, p.row, p.field) for p in validate_submission(folder).problems if p.code == code]


# --- destinations: exact known spellings only ---------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_DESTINATIONS)
def test_free_text_around_a_country_name_is_not_a_country(name: str) -> None:
    assert match_destinations([name, "France"]) == ({"France": "FRA"}, [name])
    with pytest.raises(UnknownCountryName) as info:
        to_iso3([name])
    assert info.value.names == [name]


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("French Republic", "FRA"),  # country_converter's official name
        ("  SOUTH  korea ", "KOR"),  # ... its short name, folded
        ("FRA", "FRA"),  # a code, in capitals
        ("CI", "CIV"),
    ],
)
def test_exact_names_and_codes_of_the_converter_table_are_known(name: str, iso3: str) -> None:
    assert to_iso3([name]) == {name: iso3}


@pytest.mark.parametrize("name", ["fra", "NA", "No", "Fr ance"])
def test_lowercase_codes_and_not_available_are_not_countries(name: str) -> None:
    assert match_destinations([name]) == ({}, [name])


def test_every_synthetic_countrys_spellings_are_known() -> None:
    """The ten countries' own spellings (what the synthetic emigrants are written with) all map."""
    from ippmd.core.metadata import country_codes

    for iso3 in country_codes():
        local = load_country(iso3)["submission"]["destinations"]
        mapped, unknown = match_destinations(local, local)
        assert unknown == [] and mapped == local, iso3


@pytest.mark.parametrize("name", HOSTILE_DESTINATIONS)
def test_free_text_destination_is_refused_with_its_row(copy: Path, name: str) -> None:
    set_cell(copy, "emigrants", 5, "destination", f'"{name}"' if "," in name else name)
    report = validate_submission(copy)
    assert not report.valid
    # One entry for the cell: unknown, or (when it also holds a phone number) an identifier.
    cell = [p for p in report.errors if (p.file, p.row, p.field) == ("emigrants.csv", 5, "destination")]
    assert [(p.code in ("unknown-code", "direct-identifier"), p.value) for p in cell] == [(True, name)]
    assert "internal-error" not in {p.code for p in report.problems}


def test_a_phone_number_in_a_destination_is_also_an_identifier(copy: Path) -> None:
    set_cell(copy, "emigrants", 5, "destination", "Thailand tel 12 345 678")
    hits = [p for p in validate_submission(copy).errors if p.code == "direct-identifier"]
    assert [(p.file, p.row, p.field) for p in hits] == [("emigrants.csv", 5, "destination")]
    assert "phone" in hits[0].message


def test_harmonization_refuses_unmatched_free_text_never_publishes_it(copy: Path) -> None:
    """Even past validation (a build from raw files), an unmatched destination stops harmonization
    with its row: it never reaches src_destination_name."""
    set_cell(copy, "emigrants", 6, "destination", "France or Niger")
    with pytest.raises(InputError) as info:
        harmonize(read_submission(copy))
    ((file, row, field, code),) = {(Path(p.file).name, p.row, p.field, p.code) for p in info.value.problems}
    assert (file, row, field, code) == ("emigrants.csv", 6, "destination", "unknown-code")


def test_a_known_spelling_is_published_as_written(valid: Path) -> None:
    emigrants = harmonize(read_submission(valid))["emigrants"]
    spellings = set(emigrants["src_destination_name"].unique().to_list())
    local = load_country("BFA")["submission"]["destinations"]
    assert spellings <= set(local)
    assert emigrants["destination"].null_count() == 0


# --- files that are not part of the submission format --------------------------------------------


def test_an_extra_file_of_names_and_phone_numbers_is_refused(copy: Path) -> None:
    (copy / "names.csv").write_text(
        "household_number,name,phone\n1,Awa Ouedraogo,+226 70 12 34 56\n2,Jean Dupont,06 12 34 56 78\n",
        encoding="utf-8",
    )
    report = validate_submission(copy)
    assert not report.valid
    hits = {(p.file, p.row, p.field) for p in report.errors if p.code == "unexpected-file"}
    assert {
        ("names.csv", 1, "name"),
        ("names.csv", 1, "phone"),
        ("names.csv", 2, None),
        ("names.csv", 3, None),
    } <= hits
    assert all(p.file == "names.csv" for p in report.errors)


def test_an_extra_file_in_a_zip_or_a_subfolder_is_scanned(copy: Path, tmp_path: Path) -> None:
    (copy / "notes").mkdir()
    (copy / "notes" / "contacts.txt").write_text("call the chief: tel 70 12 34 56\n", encoding="utf-8")
    assert where(copy, "unexpected-file") == [("notes/contacts.txt", 1, None)]
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(p for p in copy.rglob("*") if p.is_file()):
            zf.write(path, f"sub/{path.relative_to(copy).as_posix()}")
    assert where(archive, "unexpected-file") == [("notes/contacts.txt", 1, None)]


def test_a_harmless_extra_file_is_a_warning_that_it_is_not_admitted(copy: Path) -> None:
    (copy / "notes.txt").write_text("Fieldwork went well in every region.\n", encoding="utf-8")
    (copy / "photo.jpg").write_bytes(b"\xff\xd8\xff\x00\x10JFIF")
    (copy / "GUIDE.md").write_text("# the kit's guide\n", encoding="utf-8")
    report = validate_submission(copy)
    assert report.valid
    warnings = {(p.file, p.severity) for p in report.problems if p.code == "unexpected-file"}
    assert warnings == {("notes.txt", "warning"), ("photo.jpg", "warning")}
    assert all("not admitted" in p.message for p in report.problems)


def test_identifiers_in_metadata_are_refused(copy: Path) -> None:
    edit_meta(copy, lambda m: m["exchange_rate"].update(note="ask awa.ouedraogo@example.com"))
    assert ("metadata.yaml", "exchange_rate.note") in {
        (file, field) for file, _, field in where(copy, "direct-identifier")
    }


def test_a_doi_or_isbn_in_a_citation_is_not_an_identifier(copy: Path) -> None:
    edit_meta(
        copy,
        lambda m: m["exchange_rate"].update(
            source="OECD (2017), https://doi.org/10.1787/9789264265615-en, ISBN 9789264265615"
        ),
    )
    assert where(copy, "direct-identifier") == []


# --- formulas and control characters -------------------------------------------------------------


def test_a_formula_cell_is_refused(copy: Path) -> None:
    set_cell(copy, "emigrants", 7, "destination", '"=HYPERLINK(""http://evil.example"",""France"")"')
    assert where(copy, "formula-cell") == [("emigrants.csv", 7, "destination")]


@pytest.mark.parametrize("value", ["+cmd", "-2+3", "@SUM(A1)"])
def test_every_formula_character_is_refused_in_a_text_cell(copy: Path, value: str) -> None:
    set_cell(copy, "communities", 3, "region_code", value)
    assert where(copy, "formula-cell") == [("communities.csv", 3, "region_code")]


def test_plain_negative_and_signed_numbers_are_not_formulas(copy: Path) -> None:
    pl.read_csv(copy / "households.csv", infer_schema=False).with_columns(
        offset=pl.lit("-1.5"), gain=pl.lit("+2")
    ).write_csv(copy / "households.csv")
    assert where(copy, "formula-cell") == []


def test_a_terminal_escape_in_a_cell_is_refused_and_never_echoed(copy: Path) -> None:
    set_cell(copy, "emigrants", 8, "destination", "\x1b[2J\x1b[HVALID")
    report = validate_submission(copy)
    hits = [p for p in report.errors if p.code == "control-character"]
    assert [(p.file, p.row, p.field) for p in hits] == [("emigrants.csv", 8, "destination")]
    assert all("\x1b" not in str(p) for p in report.problems)
    assert hits[0].value is not None and hits[0].value.startswith("\\x1b[2J")


def test_a_line_break_inside_a_quoted_cell_is_refused(copy: Path) -> None:
    set_cell(copy, "emigrants", 9, "destination", '"France\nFrance"')
    # A record over two lines is numbered by its last line, as the structural layer numbers it.
    assert where(copy, "control-character") == [("emigrants.csv", 10, "destination")]


def test_a_control_character_in_a_column_name_is_refused(copy: Path) -> None:
    pl.read_csv(copy / "persons.csv", infer_schema=False).with_columns(
        pl.lit("1").alias("x\x1b[31m")
    ).write_csv(copy / "persons.csv")
    assert ("persons.csv", 1, "x\\x1b[31m") in where(copy, "control-character")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ('=HYPERLINK("http://evil.example","Burkina Faso")', "formula-cell"),
        ("\x1b[2JBurkina Faso", "control-character"),
    ],
)
def test_formulas_and_control_characters_in_metadata_are_refused(copy: Path, value: str, code: str) -> None:
    edit_meta(copy, lambda m: m.update(country_name=value))
    hits = [(p.file, p.field) for p in validate_submission(copy).errors if p.code == code]
    assert hits == [("metadata.yaml", "country_name")]

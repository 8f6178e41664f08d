"""The codebook in three languages (issue 22): the Markdown in the chosen language, one DDI file
holding all three with `xml:lang`, and ipumspy still taking the English label.

Each translated text is held to the lookups (ippmd.package.translate under `using(code)`), so the
tests hold whatever the `codebook` catalogue says; numbers are held to Babel called directly.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_decimal

from ippmd import synthetic_notice
from ippmd.core.i18n import LANGUAGES, Language, catalogue, t, using
from ippmd.package.codebook import render
from ippmd.package.ddi import NAMESPACE, Location, render_ddi
from ippmd.package.missing import NIU_LABEL, UNKNOWN_LABEL
from ippmd.package.translate import category_label, field_text, heading_text, translated_field
from tests.test_ddi import ddi_schema

NS = {"d": NAMESPACE}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# A sample: a yes/no with a universe, a coded variable, a number with a unit, a string key.
SAMPLE = [
    ("persons", "plans_to_emigrate"),
    ("households", "remittance_channel"),
    ("households", "remittances_usd"),
    ("persons", "education_level"),
    ("emigrants", "destination"),
    ("communities", "community_id"),
]
IPPMD = str(Path(sys.executable).with_name("ippmd"))


def _field(descriptor: dict[str, Any], table: str, name: str) -> dict[str, Any]:
    resource = next(r for r in descriptor["resources"] if r["name"] == table)
    return next(f for f in resource["schema"]["fields"] if f["name"] == name)


@pytest.fixture(scope="module")
def markdown(package_dir: Path, descriptor: dict) -> dict[Language, str]:
    books = {}
    for code in LANGUAGES:
        with using(code):
            books[code] = render(descriptor, package_dir)
    return books


@pytest.fixture(scope="module")
def ddi(package_dir: Path, descriptor: dict) -> ET.Element:
    return ET.fromstring(render_ddi(descriptor, package_dir))


@pytest.mark.parametrize("code", ["fr", "es"])
def test_markdown_codebook_is_written_in_the_language(
    markdown: dict[Language, str], descriptor: dict, code: Language
) -> None:
    book = markdown[code]
    with using(code):
        title = heading_text("package", "title", descriptor["title"])  # the package's title translated
        assert book.startswith(f"# {t('docs.codebook-title', title=title)}\n")
        assert title == catalogue(code, "codebook")["package.title"]
        synthetic = [c for c, origin in descriptor["dataOrigin"].items() if origin == "synthetic"]
        assert f"> **{synthetic_notice(synthetic)}**" in book
        assert t("docs.codebook-missing") in book and t("docs.codebook-design") in book
        header = f"| {t('docs.column-variable')} | {t('docs.column-label')} | {t('docs.column-type')} |"
        assert book.count(header) == len(descriptor["resources"])
        for table, name in SAMPLE:
            field = _field(descriptor, table, name)
            row = next(line for line in book.splitlines() if line.startswith(f"| `{name}` |"))
            cells = [c.strip() for c in row.strip("|").split(" | ")]
            title = field_text(table, field, "title") or ""
            description = field_text(table, field, "description")
            assert cells[1] == (title + (f". {description}" if description else "")).replace("|", "/")
            assert cells[2] == field["type"]  # identifiers stay English
            assert cells[3] == (field_text(table, field, "unit") or "")
            for category in field.get("categories", []):
                label = category_label(table, field, category["value"], category["label"])
                assert f"{category['value']} = {label}".replace("|", "/") in cells[4]
            assert cells[5] == (field_text(table, field, "universe") or t("docs.universe-all"))
        persons = next(r for r in descriptor["resources"] if r["name"] == "persons")
        line = t("docs.codebook-rows", rows=persons["rows"], key=", ".join(persons["schema"]["primaryKey"]))
        assert line in book
        assert (
            persons["rows"] >= 1000 and format_decimal(persons["rows"], locale=code) in line
        )  # Babel itself
        assert f"{persons['rows']:,}" not in line  # grouped the local way, not the English one


def test_markdown_keeps_codes_and_names_in_every_language(markdown: dict[Language, str]) -> None:
    """Only the texts change: every variable row, code and type is the same in the three."""

    def skeleton(book: str) -> list[tuple[str, str]]:
        rows = [line.strip("|").split(" | ") for line in book.splitlines() if line.startswith("| `")]
        return [(row[0].strip(), row[2]) for row in rows]

    assert skeleton(markdown["en"]) == skeleton(markdown["fr"]) == skeleton(markdown["es"])
    assert len(skeleton(markdown["en"])) > 100


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_cli_writes_the_codebook_in_the_chosen_language(
    package_dir: Path, descriptor: dict, markdown: dict[Language, str], tmp_path: Path
) -> None:
    out = tmp_path / "fr.md"
    done = subprocess.run(
        [IPPMD, "codebook", "--package", str(package_dir), "--lang", "fr", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") == markdown["fr"]
    # $IPPMD_LANG when no --lang; the codebook ignores a country's default (it has none to take)
    env = {**__import__("os").environ, "IPPMD_LANG": "es"}
    out = tmp_path / "es.md"
    subprocess.run(
        [IPPMD, "codebook", "--package", str(package_dir), "--out", str(out)],
        env=env,
        check=True,
        timeout=180,
    )
    assert out.read_text(encoding="utf-8") == markdown["es"]
    bad = subprocess.run(
        [IPPMD, "codebook", "--package", str(package_dir), "--lang", "de", "--out", str(tmp_path / "x.md")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert bad.returncode == 2 and "--lang 'de'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.md").exists()


def _texts(node: ET.Element, tag: str) -> list[tuple[str | None, str]]:
    return [(e.get(XML_LANG), e.text or "") for e in node.findall(f"d:{tag}", NS)]


def test_ddi_holds_three_languages_english_first(ddi: ET.Element, descriptor: dict, tmp_path: Path) -> None:
    path = tmp_path / "codebook.xml"
    path.write_bytes(ET.tostring(ddi, encoding="utf-8", xml_declaration=True))
    ddi_schema().validate(str(path))
    variables = {v.get("ID"): v for v in ddi.findall("d:dataDscr/d:var", NS)}
    for table, name in SAMPLE:
        field = _field(descriptor, table, name)
        var = variables[f"V_{table}_{name}"]
        assert _texts(var, "labl") == [(c, field_text(table, field, "title", c)) for c in LANGUAGES]
        text = [
            (c, field_text(table, field, "description", c) or field_text(table, field, "title", c))
            for c in LANGUAGES
        ]
        assert _texts(var, "txt") == text
        if field.get("universe"):
            assert _texts(var, "universe") == [
                (c, field_text(table, field, "universe", c)) for c in LANGUAGES
            ]
        categories = {c.findtext("d:catValu", namespaces=NS): c for c in var.findall("d:catgry", NS)}
        for category in field.get("categories", []):
            expected = [
                (c, category_label(table, field, category["value"], category["label"], c)) for c in LANGUAGES
            ]
            assert _texts(categories[str(category["value"])], "labl") == expected
        if field.get("universe"):
            niu = next(c for c in var.findall("d:catgry", NS) if c.get("missType") == "not in universe")
            with_labels = []
            for code in LANGUAGES:
                with using(code):
                    with_labels.append((code, t("docs.missing-niu")))
            assert _texts(niu, "labl") == with_labels
    # the study's notes: the synthetic label in each language
    notes = _texts(ddi.find("d:stdyDscr/d:stdyInfo", NS), "notes")  # type: ignore[arg-type]
    for code in LANGUAGES:
        with using(code):
            assert (code, t("common.synthetic-notice")) in notes


def test_the_english_missing_labels_are_the_extracts_labels() -> None:
    """The DDI's missing-category labels (docs catalogue) say in English what Stata/SPSS extracts
    label the codes (package/missing.py): one wording."""
    with using("en"):
        assert t("docs.missing-niu") == NIU_LABEL and t("docs.missing-unknown") == UNKNOWN_LABEL


def test_the_french_labels_in_the_ddi_are_the_french_codebook(ddi: ET.Element, descriptor: dict) -> None:
    """One source for both: a French field as the codebook renders it is the DDI's `fr` label."""
    field = _field(descriptor, "households", "remittance_channel")
    french = translated_field("households", field, "fr")
    var = next(
        v for v in ddi.findall("d:dataDscr/d:var", NS) if v.get("ID") == "V_households_remittance_channel"
    )
    assert dict(_texts(var, "labl"))["fr"] == french["title"]
    labels = [dict(_texts(c, "labl"))["fr"] for c in var.findall("d:catgry", NS) if c.get("missing") != "Y"]
    assert labels == [c["label"] for c in french["categories"]]


def test_ipumspy_takes_the_english_label(package_dir: Path, descriptor: dict, tmp_path: Path) -> None:
    """ipumspy reads one file's DDI (as an extract writes it) and keeps the first label: English."""
    readers = pytest.importorskip("ipumspy.readers")
    persons = next(r for r in descriptor["resources"] if r["name"] == "persons")
    path = tmp_path / "persons.xml"
    places = {f["name"]: Location(1 + 20 * i, 20) for i, f in enumerate(persons["schema"]["fields"])}
    path.write_bytes(
        render_ddi({**descriptor, "resources": [persons]}, package_dir, "ipums", {"persons": places})
    )
    with warnings.catch_warnings():  # ipumspy's reminder to cite IPUMS
        warnings.simplefilter("ignore")
        read = readers.read_ipums_ddi(path)
    variables = {v.name: v for v in read.data_description}
    field = _field(descriptor, "persons", "plans_to_emigrate")
    assert variables["plans_to_emigrate"].label == field["title"]
    assert variables["plans_to_emigrate"].description == field["description"]
    codes = variables["plans_to_emigrate"].codes
    with using("en"):
        english = {c["label"] for c in field["categories"]} | {
            t("docs.missing-niu"),
            t("docs.missing-unknown"),
        }
    assert codes["Yes"] == 1 and codes["No"] == 0
    assert set(codes) <= english  # the English value labels, none of the others

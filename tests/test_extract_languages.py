"""`ippmd extract --lang`: Stata and SPSS labels, notes, codebook, notice and load.R in English,
French or Spanish; data, names, CSV, Parquet, descriptor and DDI the same in every language.

The French labels expected are the catalogue lookups (ippmd.package.translate under
`using("fr")`, cut by statfiles.clip), so these tests hold whatever the `codebook` catalogue
says; the planted-catalogue tests put known accented labels in it to follow them into the files.
R's haven (an independent reader) reads them back in the slow tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyreadstat
import pytest

import ippmd.core.i18n as i18n
from ippmd.core.i18n import t, using
from ippmd.core.schema import harmonized_schema
from ippmd.extract import make_extract
from ippmd.extract.rscript import r_string
from ippmd.extract.statfiles import LABEL_LIMIT, VALUE_LABEL_LIMIT, clip
from ippmd.package.labels import integer_codes
from ippmd.package.translate import category_label, field_text

COUNTRIES = ["CIV"]
TABLE = "households"
# Known French labels planted in the catalogue: longer than Stata's 80 bytes, accented, and a
# yes/no wording no other field has (so `urban` leaves the shared `yesno` set).
PLANTED_TITLE = "Ménage situé en zone urbaine, définition nationale (unité déclarée à l’été)"
PLANTED = {
    "households.urban.title": PLANTED_TITLE,
    "households.urban.category.0": "Non (ménage rural)",
    "households.urban.category.1": "Oui (ménage urbain)",
}


def _extract(package_dir: Path, out: Path, fmt: str, lang: str, tables: tuple[str, ...] = (TABLE,)) -> Path:
    make_extract(package_dir, out, countries=COUNTRIES, tables=list(tables), fmt=fmt, lang=lang)  # type: ignore[arg-type]
    with zipfile.ZipFile(out) as bundle:
        bundle.extractall(out.parent)
    return out.parent / out.stem


@pytest.fixture(scope="module")
def civ(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Côte d'Ivoire's households as Stata and SPSS, in English and French (unzipped folders)."""
    base = tmp_path_factory.mktemp("languages")
    return {
        (fmt, lang): _extract(package_dir, base / f"{fmt}-{lang}" / "civ.zip", fmt, lang)
        for fmt in ("dta", "sav")
        for lang in ("en", "fr")
    }


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The French codebook catalogue with PLANTED added."""
    real = i18n.catalogue

    def with_planted(code: i18n.Language, domain: str) -> dict[str, str]:
        entries = dict(real(code, domain))
        return entries | PLANTED if (code, domain) == ("fr", "codebook") else entries

    monkeypatch.setattr(i18n, "catalogue", with_planted)
    yield


def _fields(folder: Path) -> list[dict[str, Any]]:
    """The extract's fields as named in its files (datapackage.json keeps the package's English)."""
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    return next(r for r in descriptor["resources"] if r["name"] == TABLE)["schema"]["fields"]


def _expected(folder: Path, fmt: str, lang: i18n.Language) -> dict[str, tuple[str, dict[Any, str]]]:
    """Per variable in the file: the variable label and value labels the catalogue gives in `lang`."""
    schema = {f["name"]: f for f in harmonized_schema(TABLE)["fields"]}
    expected = {}
    with using(lang):
        for field in _fields(folder):
            spec = schema[field.get("originalName", field["name"])]
            title = clip(field_text(TABLE, spec, "title") or "", LABEL_LIMIT[fmt])
            codes = integer_codes(spec)  # string categories are labelled integers in the file
            labelled = spec["type"] == "integer" or bool(codes)
            values = {
                codes.get(str(c["value"]), c["value"]): clip(
                    category_label(TABLE, spec, c["value"], c["label"]), VALUE_LABEL_LIMIT[fmt]
                )
                for c in spec.get("categories", [])
                if labelled
            }
            expected[field["name"]] = (title, values)
    return expected


def _read_meta(folder: Path, fmt: str) -> Any:
    path = folder / "data" / f"{TABLE}.{fmt}"
    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    return reader(str(path), metadataonly=True)[1]


def _without_missing(labels: dict[Any, str], fmt: str) -> dict[Any, str]:
    if fmt == "dta":
        return {v: text for v, text in labels.items() if not isinstance(v, str)}
    return {v: text for v, text in labels.items() if v not in (-9, -8, "NIU")}


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_labels_in_the_file_are_the_catalogue_lookups(civ: dict[tuple[str, str], Path], fmt: str) -> None:
    for lang in ("en", "fr"):
        folder = civ[(fmt, lang)]
        meta = _read_meta(folder, fmt)
        expected = _expected(folder, fmt, lang)
        assert set(meta.column_names) == set(expected)
        for name, (title, values) in expected.items():
            assert meta.column_names_to_labels[name] == title, (lang, name)
            assert _without_missing(meta.variable_value_labels.get(name, {}), fmt) == values, (lang, name)
        with using(lang):
            missing = {t("extract.not-in-universe"), t("extract.unknown")}
        declared = {
            text
            for labels in meta.variable_value_labels.values()
            for value, text in labels.items()
            if value not in _without_missing(labels, fmt)
        }
        assert declared and declared <= missing, lang
    with using("fr"):
        assert "déclaré" in t("extract.unknown")  # accents, so the checks above hold them


def test_french_files_share_label_sets_as_the_english_do(civ: dict[tuple[str, str], Path]) -> None:
    """Two variables share a Stata label set in French exactly when they share one in English and
    their French labels are equal; the set keeps its English name (`yesno`)."""
    english, french = _read_meta(civ[("dta", "en")], "dta"), _read_meta(civ[("dta", "fr")], "dta")
    sets_en, sets_fr = english.variable_to_label, french.variable_to_label
    labels_fr = french.variable_value_labels
    names = sorted(sets_en)
    assert sorted(sets_fr) == names and "yesno" in sets_en.values()
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            together = sets_en[a] == sets_en[b] and labels_fr[a] == labels_fr[b]
            assert (sets_fr[a] == sets_fr[b]) == together, (a, b)
    assert {sets_fr[n] for n in names if sets_en[n] == "yesno" and labels_fr[n] == labels_fr[names[0]]} <= {
        "yesno",
        sets_fr[names[0]],
    }


def test_data_names_and_machine_files_do_not_change_with_the_language(
    civ: dict[tuple[str, str], Path], package_dir: Path, tmp_path: Path
) -> None:
    for fmt in ("dta", "sav"):
        reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
        frames = [
            reader(str(civ[(fmt, lang)] / "data" / f"{TABLE}.{fmt}"), user_missing=True)[0]
            for lang in ("en", "fr")
        ]
        assert frames[0].equals(frames[1]) and list(frames[0].columns) == list(frames[1].columns), fmt
        # the DDI and descriptor give the data file's size and hash, which differ (its labels do)
        assert (civ[(fmt, "en")] / "CITATION.cff").read_bytes() == (
            civ[(fmt, "fr")] / "CITATION.cff"
        ).read_bytes()
        descriptors = [
            json.loads((civ[(fmt, lang)] / "datapackage.json").read_text()) for lang in ("en", "fr")
        ]
        for descriptor in descriptors:
            for resource in descriptor["resources"]:
                assert resource.pop("bytes") > 0 and resource.pop("hash").startswith("sha256:")
        assert descriptors[0] == descriptors[1], fmt
        manifests = [json.loads((civ[(fmt, lang)] / "manifest.json").read_text()) for lang in ("en", "fr")]
        assert [m["request"]["language"] for m in manifests] == ["en", "fr"]
        assert manifests[0]["selection"] == manifests[1]["selection"]
    for fmt in ("csv", "parquet"):
        folders = {
            lang: _extract(package_dir, tmp_path / f"{fmt}-{lang}" / "x.zip", fmt, lang)
            for lang in ("en", "fr")
        }
        for name in (f"data/{TABLE}.{fmt}", "datapackage.json", "ddi.xml"):
            assert (folders["en"] / name).read_bytes() == (folders["fr"] / name).read_bytes(), (fmt, name)
        assert (folders["en"] / "codebook.md").read_bytes() != (folders["fr"] / "codebook.md").read_bytes()
    with using("fr"):
        french_notice = t("common.synthetic-notice")
    codebook = (folders["fr"] / "codebook.md").read_text(encoding="utf-8")
    notice = (folders["fr"] / "NOTICE.md").read_text(encoding="utf-8")
    assert french_notice in codebook and french_notice in notice  # the synthetic label, in French
    assert notice.startswith("# Avertissement") and "SYNTHETIC DATA" not in notice


def test_the_same_extract_and_language_give_the_same_bytes(package_dir: Path, tmp_path: Path) -> None:
    for fmt in ("dta", "sav"):
        first, second = tmp_path / "a" / f"x-{fmt}.zip", tmp_path / "b" / f"x-{fmt}.zip"
        for out in (first, second):
            make_extract(package_dir, out, countries=COUNTRIES, tables=[TABLE], fmt=fmt, lang="fr")
        assert first.read_bytes() == second.read_bytes(), fmt
        spanish = tmp_path / "c" / f"x-{fmt}.zip"
        make_extract(package_dir, spanish, countries=COUNTRIES, tables=[TABLE], fmt=fmt, lang="es")
        assert spanish.read_bytes() != first.read_bytes()


def test_planted_french_labels_reach_the_files_cut_whole_in_the_codebook(
    package_dir: Path, tmp_path: Path, planted: None
) -> None:
    assert len(PLANTED_TITLE.encode("utf-8")) > LABEL_LIMIT["dta"] >= len(PLANTED_TITLE)  # bytes, not letters
    for fmt in ("dta", "sav"):
        folder = _extract(package_dir, tmp_path / fmt / "civ.zip", fmt, "fr")
        meta = _read_meta(folder, fmt)
        label = meta.column_names_to_labels["urban"]
        assert label == clip(PLANTED_TITLE, LABEL_LIMIT[fmt])
        assert len(label.encode("utf-8")) <= LABEL_LIMIT[fmt]
        assert label.endswith("…") == (fmt == "dta") and PLANTED_TITLE.startswith(label.rstrip("…"))
        values = _without_missing(meta.variable_value_labels["urban"], fmt)
        assert values == {0: "Non (ménage rural)", 1: "Oui (ménage urbain)"}
        codebook = (folder / "codebook.md").read_text(encoding="utf-8")
        assert PLANTED_TITLE in codebook  # whole
        if fmt == "dta":
            with using("fr"):
                listed = t("extract.label-cut-variable", table=TABLE, variable="urban", label=PLANTED_TITLE)
            assert f"- {listed}\n" in codebook  # listed among the cut labels
            assert meta.variable_to_label["urban"] == "urban"  # its own set: no other field says it so
            others = [n for n, s in meta.variable_to_label.items() if s == "yesno"]
            assert others and all(
                meta.variable_value_labels[n] != meta.variable_value_labels["urban"] for n in others
            )
    csv = _extract(package_dir, tmp_path / "csv" / "civ.zip", "csv", "fr")
    script = (csv / "load.R").read_text(encoding="utf-8")
    assert r_string(PLANTED_TITLE) in script and r_string("Oui (ménage urbain)") in script
    assert script.isascii() is False and "\\u{e9}" in r_string("é")  # comments in French, strings escaped


def _ippmd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("ippmd")), "extract", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)


def _request(archive: Path) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as bundle:
        return json.loads(bundle.read(f"{archive.stem}/manifest.json"))["request"]


@pytest.mark.slow  # several CLI processes: make test keeps under 3 minutes; CI runs it
def test_cli_lang_option_environment_and_default(package_dir: Path, tmp_path: Path) -> None:
    common = ["--package", str(package_dir), "--countries", "CIV", "--tables", TABLE, "--format", "dta"]
    environment = {k: v for k, v in os.environ.items() if k != "IPPMD_LANG"}
    french = _ippmd(*common, "--lang", "fr", "--out", str(tmp_path / "fr.zip"), env=environment)
    assert french.returncode == 0, french.stderr
    request = _request(tmp_path / "fr.zip")
    assert request["language"] == "fr" and request["command_line"].endswith("--lang fr")
    assert "lignes x" in french.stderr + french.stdout  # the summary in French
    spanish = _ippmd(*common, "--out", str(tmp_path / "es.zip"), env=environment | {"IPPMD_LANG": "es"})
    assert spanish.returncode == 0, spanish.stderr
    assert _request(tmp_path / "es.zip")["language"] == "es"
    # no --lang, no $IPPMD_LANG: English, not Côte d'Ivoire's French (an extract is for every reader)
    default = _ippmd(*common, "--out", str(tmp_path / "en.zip"), env=environment)
    assert default.returncode == 0, default.stderr
    request = _request(tmp_path / "en.zip")
    assert request["language"] == "en" and "--lang" not in request["command_line"]
    bad = _ippmd(*common, "--lang", "de", "--out", str(tmp_path / "de.zip"), env=environment)
    assert bad.returncode == 2 and "--lang 'de'" in bad.stderr and not (tmp_path / "de.zip").exists()


# --- R's haven reads the French files ------------------------------------------------------------


def _has_r() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "library(haven); library(jsonlite)"], capture_output=True, timeout=60
    )
    return probe.returncode == 0


needs_r = pytest.mark.skipif(not _has_r(), reason="needs Rscript with haven and jsonlite")

R_LABELS = """
library(haven); library(jsonlite)
args <- commandArgs(trailingOnly = TRUE)
d <- if (grepl("[.]dta$", args[1])) read_dta(args[1]) else read_sav(args[1], user_na = TRUE)
labels_of <- function(x) {
  v <- attr(x, "labels")
  if (is.null(v)) return(list())
  code <- ifelse(is_tagged_na(v), paste0(".", na_tag(v)), as.character(unclass(v)))
  as.list(setNames(names(v), code))
}
columns <- lapply(d, function(x) list(label = attr(x, "label"), labels = labels_of(x)))
write_json(list(file = attr(d, "label"), columns = columns), args[2], auto_unbox = TRUE)
"""


def _read_by_r(path: Path, tmp: Path) -> dict[str, Any]:
    script, out = tmp / "labels.R", tmp / f"{path.name}.json"
    script.write_text(R_LABELS, encoding="utf-8")
    run = subprocess.run(
        ["Rscript", str(script), str(path), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C"},  # not a UTF-8 locale: the labels must still arrive whole
    )
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def _as_r_codes(values: dict[Any, str], fmt: str) -> dict[str, str]:
    """Value labels keyed as R prints the codes (1, not 1.0)."""
    return {str(int(v)) if isinstance(v, float | int) else str(v): text for v, text in values.items()}


@pytest.mark.slow  # starts R four times
@needs_r
def test_r_haven_reads_the_french_labels_of_ippmd_extract(package_dir: Path, tmp_path: Path) -> None:
    """`ippmd extract --countries CIV --tables households --format dta --lang fr` (and sav): R's
    haven gets the French variable and value labels the catalogue gives, accents intact."""
    for fmt in ("dta", "sav"):
        archive = tmp_path / fmt / "civ.zip"
        archive.parent.mkdir()
        common = ["--package", str(package_dir), "--countries", "CIV", "--tables", TABLE]
        run = _ippmd(*common, "--format", fmt, "--lang", "fr", "--out", str(archive))
        assert run.returncode == 0, run.stderr
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(archive.parent)
        folder = archive.parent / "civ"
        read = _read_by_r(folder / "data" / f"{TABLE}.{fmt}", tmp_path)
        assert read["file"].startswith("SYNTHÉTIQUE ")
        with using("fr"):
            niu, unknown = t("extract.not-in-universe"), t("extract.unknown")
        for name, (title, values) in _expected(folder, fmt, "fr").items():
            column = read["columns"][name]
            assert column.get("label", "") == title, (fmt, name)
            labels = column["labels"] or {}  # jsonlite writes an empty list as []
            coded = {k: v for k, v in labels.items() if k not in (".n", ".u", "-9", "-8", "NIU")}
            assert coded == _as_r_codes(values, fmt), (fmt, name)
            missing = {v for k, v in labels.items() if k in (".n", ".u", "-9", "-8", "NIU")}
            assert missing <= {niu, unknown}, (fmt, name)
        assert unknown in {v for c in read["columns"].values() for v in (c["labels"] or {}).values()}


@pytest.mark.slow  # starts R
@needs_r
def test_r_haven_reads_planted_accented_labels_whole(
    package_dir: Path, tmp_path: Path, planted: None
) -> None:
    for fmt in ("dta", "sav"):
        folder = _extract(package_dir, tmp_path / fmt / "civ.zip", fmt, "fr")
        urban = _read_by_r(folder / "data" / f"{TABLE}.{fmt}", tmp_path)["columns"]["urban"]
        assert urban["label"] == clip(PLANTED_TITLE, LABEL_LIMIT[fmt])
        assert {k: v for k, v in urban["labels"].items() if k in ("0", "1")} == {
            "0": "Non (ménage rural)",
            "1": "Oui (ménage urbain)",
        }


@pytest.mark.slow  # starts R
@needs_r
def test_french_load_r_gives_french_labels_in_any_locale(package_dir: Path, tmp_path: Path) -> None:
    """load.R of a French CSV extract labels the columns as the French Stata file does, its
    accented strings written as R escapes (read whole in the C locale)."""
    folder = _extract(package_dir, tmp_path / "csv" / "civ.zip", "csv", "fr")
    probe = (
        'suppressMessages(source("load.R")); library(jsonlite); x <- households$urban; '
        'write_json(list(label = attr(x, "label"), labels = names(attr(x, "labels"))), "urban.json", '
        "auto_unbox = TRUE)"
    )
    run = subprocess.run(
        ["Rscript", "-e", probe],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert run.returncode == 0, run.stderr
    read = json.loads((folder / "urban.json").read_text(encoding="utf-8"))
    spec = next(f for f in harmonized_schema(TABLE)["fields"] if f["name"] == "urban")
    with using("fr"):
        assert read["label"] == field_text(TABLE, spec, "title")
        assert read["labels"] == [
            category_label(TABLE, spec, c["value"], c["label"]) for c in spec["categories"]
        ]
    assert (folder / "load.R").read_bytes().isascii() is False  # French comments; strings escaped

"""String categories in Stata and SPSS extracts: labelled integers (1..k in the schema's order)
with the shared labels, not in universe and unknown as `.n`/`.u` (SPSS -9/-8) as for numbers;
the CSV keeps the text. Held to the CSV extract read independently (DuckDB), and to R's haven."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import pyreadstat
import pytest

from ippmd.core.errors import InputError
from ippmd.core.i18n import t, using
from ippmd.core.schema import harmonized_schema
from ippmd.extract import make_extract
from ippmd.extract.statfiles import write_stat_file
from ippmd.package.labels import coded_field, integer_codes
from ippmd.package.translate import category_label

TABLE, COLUMN = "households", "remittance_channel"
COUNTRIES = ["KHM", "CIV"]
DDI = "{ddi:codebook:2_5}"


def _field() -> dict[str, Any]:
    return next(f for f in harmonized_schema(TABLE)["fields"] if f["name"] == COLUMN)


@pytest.fixture(scope="module")
def extracts(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Households of two countries as CSV, Stata and SPSS (English), and Stata in French."""
    base = tmp_path_factory.mktemp("strcat")
    folders = {}
    for key, fmt, lang in (
        ("csv", "csv", "en"),
        ("dta", "dta", "en"),
        ("sav", "sav", "en"),
        ("dta-fr", "dta", "fr"),
    ):
        out = base / f"{key}.zip"
        make_extract(package_dir, out, countries=COUNTRIES, tables=[TABLE], fmt=fmt, lang=lang)  # type: ignore[arg-type]
        with zipfile.ZipFile(out) as bundle:
            bundle.extractall(base)
        folders[key] = base / key
    return folders


def _csv_counts(folder: Path) -> dict[str, int]:
    """Rows per text of the CSV extract (NIU and the empty cell included), read by DuckDB."""
    duckdb = pytest.importorskip("duckdb")
    path = folder / "data" / f"{TABLE}.csv"
    with duckdb.connect() as connection:  # its own: the default one is shared with other tests
        rows = connection.sql(
            f"SELECT coalesce({COLUMN}, '') AS v, count(*) "
            f"FROM read_csv('{path}', all_varchar = true) GROUP BY v"
        ).fetchall()
    return {value: count for value, count in rows}


def test_codes_are_the_schema_order_one_to_k() -> None:
    field = _field()
    texts = [c["value"] for c in field["categories"]]
    assert integer_codes(field) == {text: i + 1 for i, text in enumerate(texts)}
    coded = coded_field(field)
    assert coded["type"] == "integer" and "enum" not in coded.get("constraints", {})
    assert [(c["value"], c["originalValue"], c["label"]) for c in coded["categories"]] == [
        (i + 1, c["value"], c["label"]) for i, c in enumerate(field["categories"])
    ]
    age = next(f for f in harmonized_schema("persons")["fields"] if f["name"] == "age")
    assert integer_codes(age) == {} and coded_field(age) is age


def test_csv_keeps_the_text_and_both_missing_kinds_occur(extracts: dict[str, Path]) -> None:
    counts = _csv_counts(extracts["csv"])
    assert counts.get("NIU", 0) > 0  # households without remittances (unknown: see _small_files)
    assert set(counts) - {"NIU", ""} <= set(integer_codes(_field()))


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_file_holds_labelled_codes_with_counts_of_the_csv(extracts: dict[str, Path], fmt: str) -> None:
    """pyreadstat (readstat) reads the codes, labels and missing codes; counts per category
    equal the CSV's texts."""
    counts = _csv_counts(extracts["csv"])
    codes = integer_codes(_field())
    path = extracts[fmt] / "data" / f"{TABLE}.{fmt}"
    read = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    frame, meta = read(str(path), user_missing=True)
    niu, unknown = ("n", "u") if fmt == "dta" else (-9, -8)
    values = [v if isinstance(v, str) else int(v) for v in frame[COLUMN].tolist()]
    got = {value: values.count(value) for value in set(values)}
    expected: dict[str | int, int] = {codes[text]: n for text, n in counts.items() if text in codes}
    expected |= {niu: counts["NIU"], unknown: counts.get("", 0)}
    expected = {value: n for value, n in expected.items() if n}
    assert got == expected
    labels = {c["value"]: c["label"] for c in coded_field(_field())["categories"]}
    with using("en"):
        missing = {niu: t("extract.not-in-universe"), unknown: t("extract.unknown")}
    assert meta.variable_value_labels[COLUMN] == labels | missing
    if fmt == "sav":
        assert meta.variable_measure[COLUMN] == "nominal"
        assert meta.missing_ranges[COLUMN] == [{"lo": -9.0, "hi": -9.0}, {"lo": -8.0, "hi": -8.0}]
    else:
        assert set(meta.missing_user_values[COLUMN]) <= {"n", "u"}  # the letters met in the data
        assert meta.variable_to_label[COLUMN] == COLUMN  # its own set (no other field shares it)


def test_labels_follow_the_language(extracts: dict[str, Path]) -> None:
    field = _field()
    _, meta = pyreadstat.read_dta(str(extracts["dta-fr"] / "data" / f"{TABLE}.dta"), metadataonly=True)
    with using("fr"):
        expected = {
            code: category_label(
                TABLE, field, text, next(c["label"] for c in field["categories"] if c["value"] == text)
            )
            for text, code in integer_codes(field).items()
        }
    got = {v: label for v, label in meta.variable_value_labels[COLUMN].items() if not isinstance(v, str)}
    assert got == expected and got != {c["value"]: c["label"] for c in coded_field(field)["categories"]}


def _ddi_variable(folder: Path) -> ET.Element:
    root = ET.parse(folder / "ddi.xml").getroot()
    return next(v for v in root.iter(f"{DDI}var") if v.get("name") == COLUMN)


def test_ddi_lists_the_codes_with_their_text_and_validates(extracts: dict[str, Path]) -> None:
    from tests.test_ddi import ddi_schema

    counts = _csv_counts(extracts["csv"])
    codes = integer_codes(_field())
    ddi_schema().validate(str(extracts["dta"] / "ddi.xml"))
    for fmt, (niu, unknown) in (("dta", (".n", ".u")), ("sav", ("-9", "-8"))):
        var = _ddi_variable(extracts[fmt])
        valid = [
            (c.findtext(f"{DDI}catValu"), c.findtext(f"{DDI}txt"), c.findtext(f"{DDI}catStat"))
            for c in var.findall(f"{DDI}catgry")
            if c.get("missing") != "Y"
        ]
        assert valid == [(str(code), text, str(counts.get(text, 0))) for text, code in codes.items()], fmt
        missing = {
            c.findtext(f"{DDI}catValu"): c.findtext(f"{DDI}catStat")
            for c in var.findall(f"{DDI}catgry[@missing='Y']")
        }
        assert missing == {niu: str(counts["NIU"]), unknown: str(counts.get("", 0))}, fmt
        assert var.find(f"{DDI}varFormat").get("type") == "numeric"  # type: ignore[union-attr]
    csv = _ddi_variable(extracts["csv"])
    assert [
        c.findtext(f"{DDI}catValu") for c in csv.findall(f"{DDI}catgry") if c.get("missing") != "Y"
    ] == list(codes)
    assert csv.find(f"{DDI}catgry/{DDI}txt") is None


def test_codebook_and_manifest_state_the_codes(extracts: dict[str, Path]) -> None:
    codes = integer_codes(_field())
    labels = {c["value"]: c["label"] for c in _field()["categories"]}
    for key in ("dta", "sav"):
        manifest = json.loads((extracts[key] / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["coded_categories"] == {TABLE: {COLUMN: codes}}
        codebook = (extracts[key] / "codebook.md").read_text(encoding="utf-8")
        for text, code in codes.items():
            assert f"| {TABLE} | `{COLUMN}` | {code} | `{text}` | {labels[text]} |" in codebook
    assert (
        json.loads((extracts["csv"] / "manifest.json").read_text(encoding="utf-8"))["coded_categories"] == {}
    )
    french = (extracts["dta-fr"] / "codebook.md").read_text(encoding="utf-8")
    with using("fr"):
        assert t("extract.column-text") in french and category_label(TABLE, _field(), "bank", "") in french


SMALL = ["bank", None, None, "carried", None, "informal"]  # second not in universe, third and fifth unknown
SMALL_NIU = [False, True, False, False, False, False]


def _small_files(folder: Path) -> dict[str, Path]:
    """A few households written straight to .dta and .sav: every kind of cell, unknown included
    (the package has no unknown channel: the suite requires it wherever it is asked)."""
    frame = pl.DataFrame({COLUMN: SMALL})
    niu = {COLUMN: pl.Series(COLUMN, SMALL_NIU)}
    paths = {fmt: folder / f"small.{fmt}" for fmt in ("dta", "sav")}
    for fmt, path in paths.items():
        write_stat_file(frame, [_field()], path, fmt, "test", niu=niu)  # type: ignore[arg-type]
    return paths


def test_unknown_and_not_in_universe_are_coded_apart(tmp_path: Path) -> None:
    codes = integer_codes(_field())
    for fmt, path in _small_files(tmp_path).items():
        read = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
        frame, _ = read(str(path), user_missing=True)
        niu, unknown = ("n", "u") if fmt == "dta" else (-9, -8)
        expected = [codes[v] if v else (niu if o else unknown) for v, o in zip(SMALL, SMALL_NIU, strict=True)]
        got = [v if isinstance(v, str) else int(v) for v in frame[COLUMN].tolist()]
        assert got == expected, fmt


def test_a_text_outside_the_categories_is_refused_by_record(tmp_path: Path) -> None:
    field = _field()
    frame = pl.DataFrame({COLUMN: ["bank", None, "pigeon"]})
    with pytest.raises(InputError) as caught:
        write_stat_file(frame, [field], tmp_path / "h.dta", "dta", "test")
    (problem,) = caught.value.problems
    assert (problem.row, problem.field, problem.value, problem.code) == (
        3,
        COLUMN,
        "pigeon",
        "constraint-error",
    )
    assert "not a category" in problem.message


R_READ = """
library(haven)
args <- commandArgs(trailingOnly = TRUE)
d <- read_dta(args[1]); s <- read_sav(args[2], user_na = TRUE)
x <- d$remittance_channel; y <- s$remittance_channel
out <- function(...) cat(paste(c(...), collapse = "\\t"), "\\n", sep = "")
out("class", class(x)[1], class(y)[1])
small <- read_dta(args[3])$remittance_channel
small_sav <- read_sav(args[4], user_na = TRUE)$remittance_channel
out("small", ifelse(is.na(small), paste0(".", na_tag(small)), unclass(small)))
out("small_sav", unclass(small_sav))
lx <- attr(x, "labels"); ly <- attr(y, "labels")
out("dta", unclass(lx[!is.na(lx)]), names(lx[!is.na(lx)]))
out("sav", unclass(ly[ly > 0]), names(ly[ly > 0]))
out("tags", sum(na_tag(x) == "n", na.rm = TRUE), sum(na_tag(x) == "u", na.rm = TRUE))
out("spss", sum(unclass(y) == -9, na.rm = TRUE), sum(unclass(y) == -8, na.rm = TRUE),
    paste(attr(y, "na_values"), collapse = ","))
for (v in unclass(lx[!is.na(lx)]))
  out("count", v, sum(unclass(x) == v, na.rm = TRUE), sum(unclass(y) == v, na.rm = TRUE))
"""


def _has_haven() -> bool:
    rscript = shutil.which("Rscript")
    return (
        rscript is not None
        and not subprocess.run([rscript, "-e", "library(haven)"], capture_output=True).returncode
    )


@pytest.mark.slow  # starts R
@pytest.mark.skipif(not _has_haven(), reason="needs Rscript with haven")
def test_r_haven_reads_labelled_integers_with_both_missing_kinds(
    extracts: dict[str, Path], tmp_path: Path
) -> None:
    script = tmp_path / "read.R"
    script.write_text(R_READ, encoding="utf-8")
    files = [str(extracts[fmt] / "data" / f"{TABLE}.{fmt}") for fmt in ("dta", "sav")]
    files += [str(path) for path in _small_files(tmp_path).values()]
    run = subprocess.run(["Rscript", str(script), *files], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = {line.split("\t")[0]: line.split("\t")[1:] for line in run.stdout.splitlines() if line}
    counts = _csv_counts(extracts["csv"])
    codes = integer_codes(_field())
    assert lines["class"] == ["haven_labelled", "haven_labelled_spss"]
    for fmt in ("dta", "sav"):  # one line: the k codes, then the k labels
        k = len(lines[fmt]) // 2
        got = list(zip(map(float, lines[fmt][:k]), lines[fmt][k:], strict=True))
        assert got == [(c["value"], c["label"]) for c in coded_field(_field())["categories"]], fmt
    assert lines["tags"] == [str(counts["NIU"]), str(counts.get("", 0))]
    assert lines["spss"] == [str(counts["NIU"]), str(counts.get("", 0)), "-9,-8"]
    assert lines["small"] == ["1", ".n", ".u", "5", ".u", "4"]  # bank, NIU, unknown, carried, ., informal
    assert lines["small_sav"] == ["1", "-9", "-8", "5", "-8", "4"]
    per_code = {
        int(line.split("\t")[1]): tuple(map(int, line.split("\t")[2:]))
        for line in run.stdout.splitlines()
        if line.startswith("count")
    }
    assert per_code == {code: (counts.get(text, 0),) * 2 for text, code in codes.items()}

"""A DDI Codebook 2.5 document of a built package or extract (`ippmd codebook --format ddi`).

Why DDI: it is the metadata standard that survey archives (IHSN NADA, the World Bank Microdata
Library, IPUMS, ICPSR) ingest. The document says what the study is (citation with version and
data hash, producer, the synthetic notice, sampling and weighting), one `fileDscr` per table with
its case and variable counts, and one `var` per field: label, universe, summary statistics,
value labels as `catgry` with frequencies, the not-in-universe and unknown codes as missing
categories (`missing="Y"`), and the weight flagged (`wgt="wgt"`, other variables link to it by
`wgt-var`). Generated from the descriptor and the data, so it never drifts from them; no clock
time is written, so the same package gives the same bytes.

One file holds the three languages: each variable's `labl`, `universe`, `txt` and unit note, each
`catgry/labl`, and the study's sampling, weighting, missing-value and synthetic notes are repeated
per language with `xml:lang` (English first, so a reader that takes the first label, as ipumspy
does, gets the English one). Variable texts come from ippmd.package.translate, fixed texts from the
`docs` catalogue. Elements the schema allows once (`disclaimer`) stay in English.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from ippmd import SYNTHETIC_NOTICE, __version__
from ippmd.core.i18n import LANGUAGES, t, using
from ippmd.core.io import write_atomic
from ippmd.core.scalars import as_number
from ippmd.package.labels import INTEGER_CODED_FORMATS, coded_field
from ippmd.package.missing import (
    CODES,
    SPSS_NIU,
    SPSS_UNKNOWN,
    can_be_missing,
    missing_kinds,
    spss_codes_fit,
)
from ippmd.package.translate import category_label, field_text

NAMESPACE = "ddi:codebook:2_5"
SCHEMA_LOCATION = (
    "ddi:codebook:2_5 http://www.ddialliance.org/Specification/DDI-Codebook/2.5/XMLSchema/codebook.xsd"
)
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PRODUCER = "ippmd maintainers"
CODED_NOTE = (
    "In the {format} file the categories are integers 1..k in the order of the package's list "
    "(catValu), each category's text as in the CSV and Parquet files in its txt."
)
SERIES = "IPPMD"  # serStmt/serName abbr: the collection, as IPUMS names its own (IPUMS-INTL, ...)
SERIES_INFO = (
    "Interrelations between Public Policies, Migration and Development (IPPMD), OECD Development "
    "Centre, 2013-2017: household, community and stakeholder surveys in ten countries."
)
# How each format's data file is laid out (fileTxt/format).
FILE_FORMATS = {
    "csv": "comma-delimited",
    "parquet": "Apache Parquet",
    "dta": "Stata .dta",
    "sav": "SPSS .sav",
    "ipums": "fixed length fields",
}
UNITS = ("communities", "households", "persons", "emigrants")


@dataclass(frozen=True)
class Location:
    """Where a variable sits in a fixed-width record: 1-based columns, inclusive, and the
    implied decimal places (IPUMS's `dcml`: the file holds the value times 10**decimals)."""

    start: int
    width: int
    decimals: int = 0

    @property
    def end(self) -> int:
        return self.start + self.width - 1


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _in_each_language(parent: ET.Element, tag: str, text: Callable[[], str], **attrs: str) -> None:
    """One element per language, English first, each with its `xml:lang`: `text` is called in
    each language (ippmd.core.i18n.using)."""
    for code in LANGUAGES:
        with using(code):
            _el(parent, tag, text(), **attrs).set(XML_LANG, code)


def _var_id(resource: str, field: str) -> str:
    return f"V_{resource}_{field}"


def _number(value: object) -> str:
    """A statistic of a numeric column: 6 significant digits, or a whole number as an integer."""
    value = as_number(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.6g}"
    return str(int(value))


def _study(package: dict[str, Any], fmt: str) -> ET.Element:
    study = ET.Element("stdyDscr")
    citation = _el(study, "citation")
    titles = _el(citation, "titlStmt")
    _el(titles, "titl", package.get("title", package.get("name", "")))
    _el(titles, "IDNo", f"{package.get('name')}-{package.get('version')}", agency="ippmd")
    responsibility = _el(citation, "rspStmt")
    _el(responsibility, "AuthEnty", PRODUCER)
    production = _el(citation, "prodStmt")
    _el(production, "producer", PRODUCER, role="compiled the harmonized package")
    _el(production, "software", "ippmd", version=__version__)
    series = _el(citation, "serStmt")
    _el(series, "serName", "Interrelations between Public Policies, Migration and Development", abbr=SERIES)
    _el(series, "serInfo", SERIES_INFO)
    version = _el(citation, "verStmt")
    _el(version, "version", str(package.get("version", "")), type="data package")
    _el(version, "notes", f"Data hash {package.get('dataHash', package.get('sourceDataHash', ''))}")
    if package.get("citation"):
        _el(citation, "biblCit", package["citation"])
    _in_each_language(citation, "notes", lambda: t("docs.ddi-not-endorsed"))

    info = _el(study, "stdyInfo")
    subject = _el(info, "subject")
    for word in package.get("keywords", []):
        _el(subject, "keyword", word)
    _el(info, "abstract", package.get("description", ""))
    summary = _el(info, "sumDscr")
    for iso3 in package.get("countries", []):
        _el(summary, "nation", iso3, abbr=iso3)
    held = {resource["name"] for resource in package.get("resources", [])}
    for unit in UNITS:  # only the units this document's files hold
        if unit in held:
            _el(summary, "anlyUnit", unit)
    kind = "synthetic microdata" if package.get("synthetic") else "survey microdata"
    _el(summary, "dataKind", f"{kind}; real country-level indicators")
    if package.get("synthetic"):
        _in_each_language(info, "notes", lambda: t("common.synthetic-notice"))

    method = _el(study, "method")
    collection = _el(method, "dataColl")
    _in_each_language(collection, "sampProc", lambda: t("docs.ddi-sampling", low=1000, high=2300))
    _in_each_language(collection, "weight", lambda: t("docs.ddi-weighting"))
    codes = CODES[fmt]
    _in_each_language(
        method, "notes", lambda: t("docs.ddi-missing-values", niu=codes.niu, unknown=codes.unknown)
    )

    access = _el(study, "dataAccs")
    use = _el(access, "useStmt")
    _el(
        use,
        "citReq",
        package.get("citation") or f"{package.get('title', 'ippmd')}, version {package.get('version')}.",
    )
    licences = "; ".join(
        f"{lic.get('title', lic.get('name'))} ({lic.get('path', '')})" for lic in package.get("licenses", [])
    )
    _el(
        use,
        "conditions",
        f"Licences: {licences}. Per-table licences are in datapackage.json; see DATA-LICENSE.md.",
    )
    if package.get("synthetic"):
        _el(use, "disclaimer", SYNTHETIC_NOTICE)
    return study


def _file(resource: dict[str, Any], frame: pl.DataFrame, file_id: str, fmt: str) -> ET.Element:
    element = ET.Element("fileDscr", ID=file_id)
    text = _el(element, "fileTxt")
    _el(text, "fileName", resource["path"])
    _el(text, "fileCont", f"{resource.get('title', resource['name'])}: {resource.get('description', '')}")
    _el(text, "fileStrc", type="rectangular")  # one record type per file
    dimensions = _el(text, "dimensns")
    _el(dimensions, "caseQnty", str(frame.height))
    _el(dimensions, "varQnty", str(len(resource["schema"]["fields"])))
    _el(text, "fileType", resource.get("mediatype", ""), charset="UTF-8")
    _el(text, "format", FILE_FORMATS.get(fmt, fmt))
    _el(text, "filePlac", "ippmd data package")
    notes = (
        [f"SHA-256 of the file: {resource['hash'].removeprefix('sha256:')}"] if resource.get("hash") else []
    )
    design = resource.get("surveyDesign")
    if design:
        notes.append(
            f"Survey design: weight {design['weight']}, PSU {design['psu']}, strata {design['strata']} "
            "(strata assumed)."
        )
    if resource.get("synthetic"):
        notes.append(resource.get("notice", SYNTHETIC_NOTICE))
    elif resource.get("synthetic") is False:
        notes.append("REAL data from public files; every row names its source.")
    for note in notes:
        _el(element, "notes", note)
    return element


def missing_codes(field: dict[str, Any], fmt: str) -> tuple[str | None, str | None]:
    """The (not in universe, unknown) codes a data file of `fmt` writes for this field; None
    where the file has no code and leaves the cell system-missing or blank."""
    codes = CODES[fmt]
    if fmt not in ("sav", "ipums"):
        return codes.niu, codes.unknown
    if field["type"] == "string":
        return "NIU", ""
    if spss_codes_fit(field):
        return str(SPSS_NIU), str(SPSS_UNKNOWN)
    return None, None


def _variable(
    resource: dict[str, Any],
    field: dict[str, Any],
    frame: pl.DataFrame,
    file_id: str,
    weight_id: str | None,
    fmt: str,
    location: Location | None = None,
) -> ET.Element:
    name = field["name"]
    coded = fmt in INTEGER_CODED_FORMATS and field["type"] == "string" and bool(field.get("categories"))
    if coded:  # a labelled integer in the file; each category keeps its text (txt) for the CSV's
        field = coded_field(field)
    numeric = field["type"] in ("integer", "number")
    categories = field.get("categories", [])
    attrs = {"ID": _var_id(resource["name"], name), "name": name, "files": file_id}
    attrs["intrvl"] = "contin" if numeric and not categories else "discrete"
    if weight_id and attrs["ID"] == weight_id:
        attrs["wgt"] = "wgt"
    elif weight_id:
        attrs["wgt-var"] = weight_id
    if location is not None and numeric:
        attrs["dcml"] = str(location.decimals)
    elif numeric and field["type"] == "number":
        attrs["dcml"] = "6"
    var = ET.Element("var", attrs)
    if location is not None:
        _el(
            var, "location", StartPos=str(location.start), EndPos=str(location.end), width=str(location.width)
        )
    table = resource["name"]
    _in_each_language(var, "labl", lambda: field_text(table, field, "title") or name)
    if field.get("universe"):
        _in_each_language(var, "universe", lambda: field_text(table, field, "universe") or "", clusion="I")
    column = frame[name] if name in frame.columns else pl.Series(name, [], dtype=pl.String)
    valid = column.drop_nulls()
    _el(var, "sumStat", str(valid.len()), type="vald")
    _el(var, "sumStat", str(column.null_count()), type="invd")
    if numeric and not categories and valid.len():
        _el(var, "sumStat", _number(valid.min()), type="min")
        _el(var, "sumStat", _number(valid.max()), type="max")
        mean, std = valid.cast(pl.Float64).mean(), valid.cast(pl.Float64).std()
        _el(var, "sumStat", f"{as_number(mean):.6g}", type="mean")
        _el(var, "sumStat", f"{as_number(std):.6g}" if valid.len() > 1 else "0", type="stdev")
    _in_each_language(
        var,
        "txt",
        lambda: field_text(table, field, "description") or field_text(table, field, "title") or name,
    )
    if categories:
        counts = dict(valid.value_counts().iter_rows()) if valid.len() else {}
        for category in categories:
            value = category.get("originalValue", category["value"])  # as in the package's data
            catgry = _el(var, "catgry")
            _el(catgry, "catValu", str(category["value"]))
            label = partial(category_label, table, field, value, category["label"])
            _in_each_language(catgry, "labl", label)
            if coded:
                _el(catgry, "txt", str(value))
            _el(catgry, "catStat", str(counts.get(value, 0)), type="freq")
    if can_be_missing(field) and name in frame.columns:
        _missing_categories(var, field, frame, fmt)
    if field.get("sourceVariable"):
        source = field["sourceVariable"]
        _in_each_language(var, "codInstr", lambda: t("docs.ddi-source-variable", variable=source))
    _el(var, "concept", resource.get("title", resource["name"]))
    _el(var, "varFormat", type="numeric" if numeric else "character", schema="other")
    if field.get("unit"):
        _in_each_language(var, "notes", lambda: t("docs.ddi-unit", unit=field_text(table, field, "unit")))
    if coded:
        _el(var, "notes", CODED_NOTE.format(format=FILE_FORMATS.get(fmt, fmt)))
    if field.get("nameInFile"):  # too long for the format: shortened by one rule (extract/names.py)
        _el(var, "notes", f"Name in the {FILE_FORMATS.get(fmt, fmt)} file: {field['nameInFile']}")
    return var


def _missing_categories(var: ET.Element, field: dict[str, Any], frame: pl.DataFrame, fmt: str) -> None:
    """The not-in-universe and unknown codes of a field as missing categories with their counts."""
    niu, unknown = missing_kinds(frame, field)
    niu_code, unknown_code = missing_codes(field, fmt)
    kinds: list[tuple[str | None, Callable[[], str], int, str]] = [
        (unknown_code, lambda: t("docs.missing-unknown"), int(unknown.sum()), "unknown")
    ]
    if field.get("universe"):
        kinds.insert(0, (niu_code, lambda: t("docs.missing-niu"), int(niu.sum()), "not in universe"))
    for value, label, count, kind in kinds:
        if value is None:  # no code in this format: the cell is left system-missing
            continue
        catgry = _el(var, "catgry", missing="Y", missType=kind)
        _el(catgry, "catValu", value)
        _in_each_language(catgry, "labl", label)
        _el(catgry, "catStat", str(count), type="freq")


def render_ddi(
    package: dict[str, Any],
    root: Path,
    fmt: str = "csv",
    locations: Mapping[str, Mapping[str, Location]] | None = None,
) -> bytes:
    """The DDI Codebook 2.5 XML of a package (or extract) whose data are under `root`.

    Each resource's `parquet.path` (under `root`) is read for counts and frequencies; `fmt`
    says which missing-value codes the documented files use (csv, parquet, dta, sav or ipums);
    `locations` (per resource, per field) places each variable in a fixed-width file.
    """
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", XSI)
    book = ET.Element(
        "codeBook",
        {
            "version": "2.5",
            "ID": f"{package.get('name', 'ippmd')}-{package.get('version', '')}".replace(" ", "-"),
            f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION,
        },
    )
    book.append(_study(package, fmt))
    frames = {}
    for resource in package["resources"]:
        frames[resource["name"]] = pl.read_parquet(root / resource["parquet"]["path"], glob=False)
        book.append(_file(resource, frames[resource["name"]], f"F_{resource['name']}", fmt))
    data = _el(book, "dataDscr")
    for resource in package["resources"]:
        design = resource.get("surveyDesign")
        weight_id = _var_id(resource["name"], design["weight"]) if design else None
        names = {f["name"] for f in resource["schema"]["fields"]}
        if design and design["weight"] not in names:  # an extract without the weight column
            weight_id = None
        placed = (locations or {}).get(resource["name"], {})
        for field in resource["schema"]["fields"]:
            file_id = f"F_{resource['name']}"
            location = placed.get(field["name"])
            data.append(
                _variable(resource, field, frames[resource["name"]], file_id, weight_id, fmt, location)
            )
    # ElementTree puts each element's namespace on it: qualify every tag with the DDI namespace.
    for element in book.iter():
        if not element.tag.startswith("{"):
            element.tag = f"{{{NAMESPACE}}}{element.tag}"
    ET.indent(book)
    return ET.tostring(book, encoding="utf-8", xml_declaration=True) + b"\n"


def write_ddi(package: dict[str, Any], root: Path, out: Path, fmt: str = "csv") -> None:
    write_atomic(out, render_ddi(package, root, fmt))

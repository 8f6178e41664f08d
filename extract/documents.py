"""The texts that travel with an extract: notice, licence, codebook, manifest, checksums.

An extract is meant to be taken anywhere, so it says on its own what is synthetic and what
is real, under which licence, what each variable means and exactly what was asked of which
package. None of it contains a clock time, so the same request gives the same bytes. The
notice, licence, codebook and the notes of Stata and SPSS files are in the current language
(the `extract` catalogue, ippmd.core.i18n); CITATION.cff and the checksums are for machines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ippmd import synthetic_notice
from ippmd.core.i18n import SOURCE, language, t
from ippmd.extract.formats import FORMATS, FormatName
from ippmd.extract.names import StatFormat
from ippmd.extract.selection import Selection, country_column
from ippmd.extract.source import Source
from ippmd.extract.statfiles import LABEL_LIMIT, VALUE_LABEL_LIMIT, cut_labels
from ippmd.package.codebook import render
from ippmd.package.labels import integer_codes
from ippmd.package.missing import CODES


def microdata_note(fmt: FormatName) -> str:
    """How the format writes the two kinds of missing value, for the codebook."""
    notes = {
        "csv": t("extract.microdata-note-csv"),
        "parquet": t("extract.microdata-note-parquet"),
        "dta": t("extract.microdata-note-dta"),
        "sav": t("extract.microdata-note-sav"),
        "ipums": t("extract.microdata-note-ipums"),
    }
    return notes[fmt]


def how_to_cite(source: Source) -> str:
    """The citation of the package this extract comes from (never implying an OECD product)."""
    package = source.descriptor
    return package.get("citation") or (
        f"{package.get('title', package.get('name'))}, data version {package.get('version')}, "
        f"data hash {source.data_hash()}."
    )


def _yaml_text(value: object) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's): quotes and line breaks in a
    descriptor's text stay inside the value instead of adding keys to CITATION.cff."""
    return json.dumps(str(value), ensure_ascii=False)


def citation_cff(source: Source) -> str:
    """CITATION.cff (Citation File Format 1.2.0) of the source package, version and data hash."""
    package = source.descriptor
    lines = [
        "cff-version: 1.2.0",
        'message: "If you use these data, cite them as below. The microdata are SYNTHETIC; '
        'the package is not published or endorsed by the OECD."',
        "type: dataset",
        f"title: {_yaml_text(package.get('title', package.get('name')))}",
        f"version: {_yaml_text(package.get('version'))}",
        "authors:",
        '  - name: "ippmd maintainers"',
        'license: "CC-BY-4.0"',
        f"abstract: {_yaml_text(how_to_cite(source))}",
        "identifiers:",
        "  - type: other",
        f"    value: {_yaml_text(source.data_hash())}",
        '    description: "SHA-256 data hash of the package (datapackage.json dataHash)"',
        "references:",
        "  - type: report",
        '    title: "Interrelations between Public Policies, Migration and Development"',
        "    authors:",
        '      - name: "OECD"',
        "    year: 2017",
        '    doi: "10.1787/9789264265615-en"',
        '    publisher: {name: "OECD Publishing, Paris"}',
    ]
    return "\n".join(lines) + "\n"


def file_notes(source: Source, table: str, synthetic: list[str], fmt: FormatName) -> list[str]:
    """Notes stored in a Stata or SPSS file: what it is, the missing codes, how to cite."""
    notes = []
    if synthetic:
        notes.append(synthetic_notice(synthetic))
    elif source.resources[table].get("synthetic") is False:
        notes.append(t("extract.note-real-data"))
    codes = CODES.get(fmt, CODES["csv"])
    notes.append(t("extract.note-missing", niu=codes.niu, unknown=codes.unknown))
    version = str(source.descriptor.get("version"))
    citation = how_to_cite(source)
    notes.append(
        t("extract.note-table", table=table, version=version, hash=source.data_hash(), citation=citation)
    )
    return notes


def json_bytes(value: Any) -> bytes:
    """Stable JSON: fixed indentation and a final newline (keys keep their insertion order)."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _country_list(source: Source, codes: Sequence[str]) -> str:
    return ", ".join(f"{c} ({source.country_names.get(c, c)})" for c in codes) or t("extract.countries-none")


def synthetic_countries(source: Source, selection: Selection) -> list[str]:
    return [c for c in selection.countries if source.data_origins.get(c, "synthetic") != "survey"]


def notice(source: Source, selection: Selection) -> str:
    """NOTICE.md: which microdata are synthetic, and which tables are real with their sources."""
    microdata = [name for name in selection.tables if _is_microdata(source, name)]
    synthetic = synthetic_countries(source, selection)
    survey = [c for c in selection.countries if c not in synthetic]
    lines = [f"# {t('extract.notice-title')}", ""]
    if microdata and synthetic:
        lines += [f"> **{synthetic_notice(synthetic)}**", ""]
    if microdata:
        tables = ", ".join(f"`{name}`" for name in microdata)
        lines += [
            t("extract.notice-microdata-tables", tables=tables),
            "",
            "- " + t("extract.notice-synthetic-countries", countries=_country_list(source, synthetic)),
            "- " + t("extract.notice-survey-countries", countries=_country_list(source, survey)),
            "",
        ]
    else:
        lines += [t("extract.notice-no-microdata"), ""]
    real = [
        name
        for name in selection.tables
        if source.resources[name].get("synthetic") is False and not _is_microdata(source, name)
    ]
    for table in real:
        resource = source.resources[table]
        title = resource.get("title", table)
        lines += [
            f"## {t('extract.notice-real-heading', table=table)}",
            "",
            t("extract.notice-real-text", title=title),
            "",
        ]
        for src in resource.get("sources", []):
            file = (
                t("extract.notice-source-file", file=src["file"], sha256=src["sha256"])
                if "file" in src
                else ""
            )
            lines.append(f"- {src['title']}: {src.get('path', '')}" + (f" ({file})" if file else ""))
        lines.append("")
    lines += [f"## {t('extract.cite-heading')}", "", how_to_cite(source), "", t("extract.cite-note"), ""]
    return "\n".join(lines)


def _is_microdata(source: Source, table: str) -> bool:
    """Survey tables have a `country` column (country-level tables are keyed by `iso3`)."""
    return country_column(source.resources[table]["schema"]) == "country"


def license_text(source: Source, selection: Selection | None = None) -> str:
    """LICENSE.md: the licence of each table in this extract (links, not invented licence text)."""
    package = source.descriptor
    tables = selection.tables if selection else tuple(source.resources)
    lines = [f"# {t('extract.licence-title')}", ""]
    default = package.get("licenses", [])
    for table in tables:
        licences = source.resources[table].get("licenses") or default
        kind = (
            t("extract.licence-kind-synthetic")
            if _is_microdata(source, table)
            else t("extract.licence-kind-data")
        )
        if source.resources[table].get("synthetic") is False:
            kind = t("extract.licence-kind-real")
        lines.append(f"- `{table}` ({kind}):")
        lines += [f"  - {lic.get('title', lic.get('name', ''))}: {lic.get('path', '')}" for lic in licences]
        if not licences:
            lines.append("  - " + t("extract.licence-none"))
    lines += [
        "",
        t("extract.licence-upstream"),
        "",
        t("extract.licence-cite", citation=how_to_cite(source)),
        "",
    ]
    return "\n".join(lines)


def codebook(
    descriptor: dict[str, Any],
    root: Path,
    source: Source,
    selection: Selection,
    fmt: FormatName,
    renamed: dict[str, dict[str, str]],
) -> str:
    """codebook.md: the package codebook's per-table sections (ippmd.package.codebook.render) for the
    chosen variables, under a header that says what this extract holds and how missing is coded.

    `descriptor` is the extract's descriptor with each resource's `parquet.path` pointing (under
    `root`) at its filtered data incl. `country`, which render reads for per-country availability.
    """
    body = render(descriptor, root)
    start = body.find("\n## ")
    body = body[start + 1 :] if start >= 0 else body
    title = t("extract.codebook-title", title=source.descriptor.get("title", "extract"))
    intro = t(
        "extract.codebook-intro",
        name=str(source.descriptor.get("name")),
        version=str(source.descriptor.get("version")),
        hash=source.data_hash(),
        format=FORMATS[fmt].title,
        countries=_country_list(source, selection.countries),
    )
    lines = [f"# {title}", "", intro, ""]
    if language() != SOURCE:
        lines += [f"*{t('extract.maintainers-translation')}*", ""]
    synthetic = synthetic_countries(source, selection)
    if synthetic and any(_is_microdata(source, name) for name in selection.tables):
        lines += [f"> **{synthetic_notice(synthetic)}**", ""]
    lines += [f"{microdata_note(fmt)} {t('extract.yes-no-coding')}", ""]
    if selection.dropped_foreign_keys:
        links = "; ".join(f"`{fk}`" for fk in selection.dropped_foreign_keys)
        lines += [t("extract.codebook-links", links=links), ""]
    if any(renamed.values()):
        header = [t("extract.column-table"), t("extract.column-variable"), t("extract.column-name-in-file")]
        lines += [t("extract.codebook-renamed"), "", "| " + " | ".join(header) + " |", "|---|---|---|"]
        for table, mapping in renamed.items():
            lines += [f"| {table} | `{old}` | `{new}` |" for old, new in mapping.items()]
        lines.append("")
    if fmt in ("dta", "sav"):  # INTEGER_CODED_FORMATS
        lines += _coded_categories(descriptor, fmt)
        lines += _cut_labels(descriptor, fmt)
    return "\n".join(lines) + "\n" + body.rstrip("\n") + "\n"


def coded_categories(descriptor: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """Table -> variable -> {text: integer code} of the string categoricals a Stata or SPSS
    extract writes as labelled integers (ippmd.package.labels.integer_codes)."""
    coded = {
        resource["name"]: {
            f["name"]: integer_codes(f) for f in resource["schema"]["fields"] if integer_codes(f)
        }
        for resource in descriptor["resources"]
    }
    return {table: fields for table, fields in coded.items() if fields}


def _coded_categories(descriptor: dict[str, Any], fmt: StatFormat) -> list[str]:
    """The codebook's table of string categories and their integer codes in the file."""
    coded = coded_categories(descriptor)
    if not coded:
        return []
    codes = CODES[fmt]
    header = [
        t("extract.column-table"),
        t("extract.column-variable"),
        t("extract.column-code"),
        t("extract.column-text"),
        t("extract.column-label"),
    ]
    intro = t("extract.codebook-coded", format=FORMATS[fmt].title, niu=codes.niu, unknown=codes.unknown)
    lines = [intro, "", "| " + " | ".join(header) + " |", "|---|---|---|---|---|"]
    for resource in descriptor["resources"]:
        for field in resource["schema"]["fields"]:
            labels = {str(c["value"]): c["label"] for c in field.get("categories", [])}
            lines += [
                f"| {resource['name']} | `{field['name']}` | {code} | `{text}` | {labels[text]} |"
                for text, code in coded.get(resource["name"], {}).get(field["name"], {}).items()
            ]
    return [*lines, ""]


def _cut_labels(descriptor: dict[str, Any], fmt: StatFormat) -> list[str]:
    """The labels the Stata or SPSS files hold cut (statfiles.clip), each whole (none: no lines)."""
    cut = [
        (resource["name"], *entry)
        for resource in descriptor["resources"]
        for entry in cut_labels(resource["schema"]["fields"], fmt)
    ]
    if not cut:
        return []
    limits = {"format": FORMATS[fmt].title, "variable": LABEL_LIMIT[fmt], "value": VALUE_LABEL_LIMIT[fmt]}
    lines = [t("extract.labels-cut", **limits), ""]
    for table, variable, value, label in cut:
        lines.append(
            "- "
            + (
                t("extract.label-cut-variable", table=table, variable=variable, label=label)
                if value is None
                else t(
                    "extract.label-cut-value", table=table, variable=variable, value=str(value), label=label
                )
            )
        )
    return [*lines, ""]


def sha256sums(entries: Sequence[tuple[str, str]]) -> str:
    """SHA256SUMS in `sha256sum -c` format: `<hex>  <path>` per line."""
    return "".join(f"{digest}  {path}\n" for path, digest in entries)

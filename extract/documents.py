"""The texts that travel with an extract: notice, licence, codebook, manifest, checksums.

An extract is meant to be taken anywhere, so it says on its own what is synthetic and what
is real, under which licence, what each variable means and exactly what was asked of which
package. None of it contains a clock time, so the same request gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ippmd import SYNTHETIC_NOTICE, synthetic_notice
from ippmd.extract.formats import FORMATS, FormatName
from ippmd.extract.selection import Selection, country_column
from ippmd.extract.source import Source
from ippmd.package.codebook import render
from ippmd.package.missing import CODES

MICRODATA_NOTE = {
    "csv": "In the CSV files an empty cell is *unknown* (asked, not answered: don't know, refused or "
    "not reported) and `NIU` is *not in universe* (the question was not asked of this unit; the "
    "universe column says who was asked).",
    "parquet": "In the Parquet files both *unknown* and *not in universe* are null: a null is *not "
    "in universe* where the field's universe (a SQL expression, in the universe column and in "
    "each Parquet field's metadata) is false for the row, *unknown* where it is true. Each file's "
    "footer key `ippmd` holds the version, the synthetic flag and notice.",
    "dta": "In the Stata files *not in universe* is the extended missing value `.n` and *unknown* "
    "is `.u` (both labelled); a missing string is empty. Value labels are shared sets (`yesno`, "
    "`sex`, ...); Stata labels only integer values: the labels of string codes are in this "
    "codebook. `notes` shows the synthetic notice and these codes.",
    "sav": "In the SPSS files *not in universe* is the user-missing code -9 and *unknown* -8 "
    "(declared as missing values in the file and labelled; string variables: `NIU`, and an empty "
    "string for unknown). The file's documents (DISPLAY DOCUMENTS) hold the synthetic notice.",
    "ipums": "The `.dat` files are fixed-width text as IPUMS ships its extracts: each has a DDI "
    "beside it (`data/<table>.xml`) giving every variable's columns (`location`) and implied "
    "decimals (`dcml`: the file holds the value times 10 to that power), read by `ipumspy` "
    "(`read_ipums_ddi`, `read_microdata`) and `ipumsr`. *Not in universe* is -9 and *unknown* -8 "
    "in numeric variables that cannot be negative (listed as missing categories in the DDI), "
    "`NIU` and blank in text; other numeric variables leave a missing cell blank.",
}


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
        notes.append("REAL data from public files; every row names its source (see NOTICE.md).")
    codes = CODES.get(fmt, CODES["csv"])
    notes.append(
        f"Missing values: {codes.niu} = not in universe (not asked of this unit), "
        f"{codes.unknown} = unknown (don't know, refused or not reported)."
    )
    notes.append(
        f"Table {table} of ippmd data package version {source.descriptor.get('version')}, data hash "
        f"{source.data_hash()}. Cite: {how_to_cite(source)}"
    )
    return notes


def json_bytes(value: Any) -> bytes:
    """Stable JSON: fixed indentation and a final newline (keys keep their insertion order)."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _country_list(source: Source, codes: Sequence[str]) -> str:
    return ", ".join(f"{c} ({source.country_names.get(c, c)})" for c in codes) or "none"


def synthetic_countries(source: Source, selection: Selection) -> list[str]:
    return [c for c in selection.countries if source.data_origins.get(c, "synthetic") != "survey"]


def notice(source: Source, selection: Selection) -> str:
    """NOTICE.md: which microdata are synthetic, and which tables are real with their sources."""
    microdata = [t for t in selection.tables if _is_microdata(source, t)]
    synthetic = synthetic_countries(source, selection)
    survey = [c for c in selection.countries if c not in synthetic]
    lines = ["# Notice: what is synthetic and what is real in this extract", ""]
    if microdata and synthetic:
        lines += [f"> **{SYNTHETIC_NOTICE}**", ""]
    if microdata:
        lines += [
            f"Microdata tables in this extract: {', '.join(f'`{t}`' for t in microdata)}.",
            "",
            f"- SYNTHETIC microdata (`data_origin = synthetic`): {_country_list(source, synthetic)}.",
            f"- Survey microdata (`data_origin = survey`): {_country_list(source, survey)}.",
            "",
        ]
    else:
        lines += ["This extract holds no microdata table.", ""]
    real = [
        t
        for t in selection.tables
        if source.resources[t].get("synthetic") is False and not _is_microdata(source, t)
    ]
    for table in real:
        resource = source.resources[table]
        lines += [
            f"## `{table}` is REAL data",
            "",
            f"{resource.get('title', table)}: read from public files; every row names its source, "
            "vintage, original file and method. Sources:",
            "",
        ]
        for src in resource.get("sources", []):
            extra = f" (file `{src['file']}`, sha256 `{src['sha256']}`)" if "file" in src else ""
            lines.append(f"- {src['title']}: {src.get('path', '')}{extra}")
        lines.append("")
    lines += [
        "## How to cite",
        "",
        how_to_cite(source),
        "",
        "`CITATION.cff` says the same for reference managers. This package is not published or "
        "endorsed by the OECD; cite the IPPMD reports (DOIs in `ddi.xml` and the country sources) "
        "for any real figure.",
        "",
    ]
    return "\n".join(lines)


def _is_microdata(source: Source, table: str) -> bool:
    """Survey tables have a `country` column (country-level tables are keyed by `iso3`)."""
    return country_column(source.resources[table]["schema"]) == "country"


def license_text(source: Source, selection: Selection | None = None) -> str:
    """LICENSE.md: the licence of each table in this extract (links, not invented licence text)."""
    package = source.descriptor
    tables = selection.tables if selection else tuple(source.resources)
    lines = ["# Licence", ""]
    default = package.get("licenses", [])
    for table in tables:
        licences = source.resources[table].get("licenses") or default
        kind = "synthetic microdata" if _is_microdata(source, table) else "data"
        if source.resources[table].get("synthetic") is False:
            kind = "REAL data"
        lines.append(f"- `{table}` ({kind}):")
        lines += [f"  - {lic.get('title', lic.get('name', ''))}: {lic.get('path', '')}" for lic in licences]
        if not licences:
            lines.append("  - no licence declared by the source package")
    lines += [
        "",
        "Real upstream data keep their own terms: the UN DESA migrant stocks are Copyright © United "
        "Nations, all rights reserved (no open licence is stated; only derived country values are "
        "quoted, with their citation), World Bank data (Remittance Prices Worldwide, KNOMAD/WDI, "
        "bilateral matrices, WDI exchange rates) under CC BY 4.0. The ippmd code is MIT-licensed "
        "(not part of this extract).",
        "",
        f"How to cite: {how_to_cite(source)}",
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
    lines = [
        f"# Codebook: {source.descriptor.get('title', 'extract')} (extract)",
        "",
        f"Extract of package `{source.descriptor.get('name')}` version {source.descriptor.get('version')} "
        f"(data hash `{source.data_hash()}`), format {FORMATS[fmt].title}. Countries: "
        f"{_country_list(source, selection.countries)}. Generated by `ippmd extract`; "
        "`manifest.json` records the request.",
        "",
    ]
    synthetic = synthetic_countries(source, selection)
    if synthetic and any(_is_microdata(source, t) for t in selection.tables):
        lines += [f"> **{synthetic_notice(synthetic)}**", ""]
    lines += [MICRODATA_NOTE[fmt] + " Yes/no variables are coded 0 = No, 1 = Yes.", ""]
    if selection.dropped_foreign_keys:
        lines += [
            "Links to tables not in this extract (kept as columns, not declared as foreign keys): "
            + "; ".join(f"`{fk}`" for fk in selection.dropped_foreign_keys)
            + ".",
            "",
        ]
    if any(renamed.values()):
        lines += ["Variables renamed to fit the file format:", "", "| table | variable | name in file |"]
        lines.append("|---|---|---|")
        for table, mapping in renamed.items():
            lines += [f"| {table} | `{old}` | `{new}` |" for old, new in mapping.items()]
        lines.append("")
    return "\n".join(lines) + "\n" + body.rstrip("\n") + "\n"


def sha256sums(entries: Sequence[tuple[str, str]]) -> str:
    """SHA256SUMS in `sha256sum -c` format: `<hex>  <path>` per line."""
    return "".join(f"{digest}  {path}\n" for path, digest in entries)

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

from ippmd.extract.formats import FORMATS
from ippmd.extract.selection import Selection, country_column
from ippmd.extract.source import Source
from ippmd.package.codebook import render

from ippmd import SYNTHETIC_NOTICE

MICRODATA_NOTE = {
    "csv": "In the CSV files an empty cell is *unknown or not reported* and `NIU` is *not in universe* "
    "(the question was not asked of this unit; the universe column says who was asked).",
    "parquet": "In the Parquet files both *unknown* and *not in universe* are null; the universe "
    "column says who was asked, which tells them apart.",
    "dta": "In the Stata files both *unknown* and *not in universe* are system missing (`.`) and a "
    "missing string is empty; the universe column says who was asked. Stata labels only "
    "integer values: the labels of string codes are in this codebook.",
    "sav": "In the SPSS files both *unknown* and *not in universe* are system missing and a missing "
    "string is empty; the universe column says who was asked.",
}


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
    return "\n".join(lines)


def _is_microdata(source: Source, table: str) -> bool:
    """Survey tables have a `country` column (country-level tables are keyed by `iso3`)."""
    return country_column(source.resources[table]["schema"]) == "country"


def license_text(source: Source) -> str:
    """LICENSE.md from the descriptor's licenses and sources (links, not invented licence text)."""
    package = source.descriptor
    lines = ["# Licence", ""]
    licenses = package.get("licenses", [])
    if licenses:
        lines += ["The data in this extract are licensed under:", ""]
        for lic in licenses:
            title = lic.get("title", lic.get("name", ""))
            name = f" (`{lic['name']}`)" if "name" in lic and lic.get("title") else ""
            lines.append(f"- {title}{name}: {lic.get('path', '')}")
        lines.append("")
    else:
        lines += ["The source package declares no licence.", ""]
    lines += [
        f"Cite the package: {package.get('title', package.get('name'))}, version {package.get('version')}"
        + (f", {package['homepage']}" if package.get("homepage") else "")
        + ". Its sources:",
        "",
    ]
    lines += [f"- {src['title']}: {src.get('path', '')}" for src in package.get("sources", [])]
    lines.append("")
    return "\n".join(lines)


def codebook(
    descriptor: dict[str, Any],
    root: Path,
    source: Source,
    selection: Selection,
    fmt: str,
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
        lines += [f"> **{SYNTHETIC_NOTICE} Synthetic countries: {', '.join(synthetic)}.**", ""]
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

"""`make_extract`: one self-contained, reproducible zip cut from a built package (like IPUMS).

The zip holds its own valid Data Package (only the chosen rows, tables and variables, with
sizes and hashes), the data files, a codebook, the licence, the synthetic-data notice, a
manifest of what was asked of which package, and SHA256SUMS. The same request on the same
package gives a byte-identical zip, so its checksum can be cited.

Language (ippmd.core.i18n; `--lang`, else $IPPMD_LANG, else English): what people read follows
it: the Stata and SPSS variable and value labels, notes and file label, codebook.md, NOTICE.md,
LICENSE.md and the labels and comments of load.R. What machines read does not: data values,
variable names, the CSV and Parquet files (their footers too), datapackage.json, the DDI (its
own languages), CITATION.cff and manifest.json, which records the language. The same request in
the same language gives the same bytes.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ippmd import synthetic_notice
from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.i18n import SOURCE, Language, language, number, t, using
from ippmd.core.io import refuse_inside_a_package, sha256_file
from ippmd.core.schema import row_mask
from ippmd.extract import corridors
from ippmd.extract.archive import write_zip
from ippmd.extract.corridors import TARGET
from ippmd.extract.documents import (
    citation_cff,
    codebook,
    coded_categories,
    file_notes,
    json_bytes,
    license_text,
    notice,
    sha256sums,
    synthetic_countries,
)
from ippmd.extract.fixedwidth import write_fixed_width
from ippmd.extract.formats import FORMATS, FormatName, csv_rows, typed_rows, write_csv, write_typed
from ippmd.extract.rscript import load_r
from ippmd.extract.selection import Selection, country_column, kept_foreign_keys, link_key, resolve
from ippmd.extract.source import Source, open_package
from ippmd.package.ddi import Location, render_ddi
from ippmd.package.labels import INTEGER_CODED_FORMATS
from ippmd.package.missing import can_be_missing, missing_kinds
from ippmd.package.translate import translated_field
from ippmd.package.write import parquet_file_metadata

MANIFEST_VERSION = 1
# Resource properties that describe the package's own files, replaced for the extract's.
_FILE_KEYS = {
    "partitions",  # the package's country-partitioned Parquet: not in an extract
    "path",
    "scheme",
    "format",
    "mediatype",
    "encoding",
    "bytes",
    "hash",
    "rows",
    "parquet",
    "schema",
}


@dataclass(frozen=True)
class ExtractSummary:
    """What `make_extract` wrote (for the CLI to print and for tests)."""

    path: Path
    format: str
    bytes: int
    sha256: str
    countries: tuple[str, ...]
    rows: dict[str, int]
    columns: dict[str, tuple[str, ...]]
    dropped_foreign_keys: tuple[str, ...] = ()
    renamed: dict[str, dict[str, str]] = field(default_factory=dict)
    corridor_matches: dict[str, dict[str, float]] = field(default_factory=dict)  # measure -> country -> share
    language: Language = SOURCE

    def describe(self) -> str:
        """A few lines for the terminal, in the current language."""
        lines = [
            t("extract.summary-file", path=str(self.path), bytes=self.bytes, sha256=self.sha256),
            t("extract.summary-format", format=self.format, countries=", ".join(self.countries)),
        ]
        lines += [
            "  "
            + t("extract.summary-table", table=name, rows=self.rows[name], columns=len(self.columns[name]))
            for name in self.rows
        ]
        if self.dropped_foreign_keys:
            lines.append("  " + t("extract.summary-links", links="; ".join(self.dropped_foreign_keys)))
        for table, mapping in self.renamed.items():
            lines += [
                "  " + t("extract.summary-renamed", table=table, old=old, new=new)
                for old, new in mapping.items()
            ]
        for measure, shares in self.corridor_matches.items():
            matched = ", ".join(f"{country} {number(share, '.0%')}" for country, share in shares.items())
            lines.append("  " + t("extract.summary-corridor", measure=measure, matched=matched))
        return "\n".join(lines)


@dataclass
class _Table:
    name: str
    path: Path  # the written data file
    rows: int
    renamed: dict[str, str]
    sha256: str = ""
    locations: dict[str, Location] = field(default_factory=dict)  # fixed-width files only
    matched: dict[str, dict[str, float]] = field(default_factory=dict)  # corridor measure -> country -> share

    @property
    def entry(self) -> str:
        return f"data/{self.path.name}"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_format(fmt: str, source: Source) -> None:
    if fmt not in FORMATS:
        close = difflib.get_close_matches(fmt, list(FORMATS), n=1)
        hint = t("cli.did-you-mean", names=repr(close[0])) if close else "."
        raise InputError(
            [
                Problem(
                    file=str(source.descriptor_path),
                    message=t("cli.no-format", format=repr(fmt), suggestion=hint, formats=", ".join(FORMATS)),
                    value=fmt,
                    code="unknown-format",
                )
            ]
        )


def attached_field(source: Source, table: str, column: str, name: str, shown: bool = False) -> dict[str, Any]:
    """The schema of a column attached from another table: its field, renamed, not unique, and
    its universe turned into text (it names the other table's columns); in English for the
    descriptor, in the current language where `shown`."""
    spec = copy.deepcopy(next(f for f in source.resources[table]["schema"]["fields"] if f["name"] == column))
    if shown:
        spec = translated_field(table, spec)
    key = link_key(source.resources[table])
    with using(language() if shown else SOURCE):
        note = t("extract.attached-from", table=table, column=column, key=key)
        if "universe" in spec:
            note += " " + t("extract.attached-universe", table=table, universe=spec.pop("universe"))
    spec["description"] = f"{spec['description']} {note}" if spec.get("description") else note
    spec["name"] = name
    spec.get("constraints", {}).pop("unique", None)
    spec["sourceVariable"] = f"{table}.{column}"
    return spec


def table_fields(
    source: Source, selection: Selection, table: str, shown: bool = False
) -> list[dict[str, Any]]:
    """The fields of one extracted table: its own chosen ones, then the attached ones; as in the
    package (English), or `shown` to people: titles, descriptions, units, universes and value
    labels in the current language (the corridor measures' fields stay English)."""
    chosen = set(selection.columns[table])
    own = [
        translated_field(table, copy.deepcopy(f)) if shown else copy.deepcopy(f)
        for f in source.resources[table]["schema"]["fields"]
        if f["name"] in chosen
    ]
    corridor = (
        [f for m in selection.corridors for f in corridors.fields(source.package, m)]
        if table == TARGET
        else []
    )
    attached = [attached_field(source, *link, shown) for link in selection.attachments.get(table, ())]
    return own + attached + corridor


def _resource(
    source: Source,
    selection: Selection,
    table: str,
    fmt: FormatName,
    path: str,
    rows: pl.DataFrame,
    csv: bool,
) -> dict[str, Any]:
    """The extract's resource: the package's, narrowed to the chosen rows and fields."""
    original = source.resources[table]
    schema = copy.deepcopy(original["schema"])
    schema["fields"] = table_fields(source, selection, table)
    foreign = kept_foreign_keys(schema, selection.tables)
    if foreign:
        schema["foreignKeys"] = foreign
    else:
        schema.pop("foreignKeys", None)
    if not csv:
        schema.pop("missingValues", None)  # NIU and unknown are both native nulls outside CSV
    resource: dict[str, Any] = {
        k: original[k] for k in ("name", "type", "title", "description") if k in original
    }
    resource.update(
        {
            "path": path,
            "scheme": "file",
            "format": FORMATS[fmt].extension,
            "mediatype": FORMATS[fmt].mediatype,
        }
    )
    if csv:
        resource["encoding"] = "utf-8"
    resource.update({"bytes": 0, "hash": "", "rows": rows.height})  # bytes and hash once written
    resource.update({k: v for k, v in original.items() if k not in _FILE_KEYS and k not in resource})
    if country_column(original["schema"]) == "country":  # microdata: synthetic per chosen country
        synthetic = [c for c in synthetic_countries(source, selection) if c in set(rows["country"].to_list())]
        resource["synthetic"] = bool(synthetic)
        resource.pop("notice", None)
        if synthetic:
            with using(SOURCE):  # the descriptor is the package's English whatever the language
                resource["notice"] = synthetic_notice(synthetic)
    if "sources" in resource and "source_file" in rows.columns:  # only the files these rows came from
        used = set(rows["source_file"].to_list())
        resource["sources"] = [s for s in resource["sources"] if "file" not in s or s["file"] in used]
    resource["schema"] = schema
    return resource


def _rename(descriptor: dict[str, Any], renamed: dict[str, dict[str, str]]) -> None:
    """Apply Stata/SPSS renames to fields and keys, keeping the package name as `originalName`."""
    for resource in descriptor["resources"]:
        mapping = renamed.get(resource["name"], {})
        schema = resource["schema"]
        for fld in schema["fields"]:
            if fld["name"] in mapping:
                fld["originalName"], fld["name"] = fld["name"], mapping[fld["name"]]
        schema["primaryKey"] = [mapping.get(n, n) for n in schema.get("primaryKey", [])]
        for fk in schema.get("foreignKeys", []):
            ref = fk["reference"]
            ref_map = renamed.get(ref["resource"], {})
            fk["fields"] = [mapping.get(n, n) for n in fk["fields"]]
            ref["fields"] = [ref_map.get(n, n) for n in ref["fields"]]


def _package(source: Source, selection: Selection, resources: list[dict[str, Any]]) -> dict[str, Any]:
    meta = source.descriptor
    package: dict[str, Any] = {
        k: v
        for k, v in meta.items()
        if k not in ("resources", "countries", "synthetic", "dataHash", "dataHashMethod")
    }
    package["sourceDataHash"] = source.data_hash()  # of the package it was cut from
    package["name"] = f"{meta.get('name', 'package')}-extract"
    package["title"] = f"{meta.get('title', meta.get('name', 'package'))} (extract)"
    package["countries"] = list(selection.countries)
    package["synthetic"] = any(r.get("synthetic") for r in resources)
    package["resources"] = resources
    return package


def _manifest(
    source: Source,
    selection: Selection,
    written: list[_Table],
    docs: dict[str, bytes],
    fmt: FormatName,
    command_line: str | None,
    countries: list[str] | None,
    tables: list[str] | None,
    variables: list[str] | None,
    attach: list[str] | None = None,
    where: str | None = None,
    rectangular: bool = False,
    coded: dict[str, dict[str, dict[str, int]]] | None = None,
) -> dict[str, Any]:
    """manifest.json: what was asked (verbatim and resolved) of which package, and what came out."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": "ippmd extract",
        "package": {
            "name": source.descriptor.get("name"),
            "title": source.descriptor.get("title"),
            "version": source.descriptor.get("version"),
            "data_hash": source.data_hash(),
            "data_hash_method": "sha256 over lines '<resource> <path> <hash>' (CSV and Parquet "
            "of every resource, package order, newline-joined) of the source datapackage.json",
        },
        "request": {
            "command_line": command_line,
            "countries": countries or None,
            "tables": tables or None,
            "variables": variables or None,
            "attach": attach or None,
            "where": where or None,
            "rectangular": rectangular,
            "format": fmt,
            "language": language(),
        },
        "selection": {
            "countries": list(selection.countries),
            "tables": {t: list(selection.output_columns(t)) for t in selection.columns},
            "attached": {
                t: [{"from": f"{s}.{c}", "as": n} for s, c, n in a] for t, a in selection.attachments.items()
            },
            "where": selection.where,
            "where_tables": list(selection.where_tables),
            "foreign_keys_not_declared": list(selection.dropped_foreign_keys),
        },
        "renamed_variables": {t.name: t.renamed for t in written if t.renamed},
        # string categories written as labelled integers: table -> variable -> {text: code}
        "coded_categories": (coded or {}) if fmt in INTEGER_CODED_FORMATS else {},
        "corridor_matches": {m: v for t in written for m, v in t.matched.items()},
        "files": [
            {
                "path": t.entry,
                "bytes": t.path.stat().st_size,
                "sha256": t.sha256,
                "rows": t.rows,
                "columns": len(selection.output_columns(t.name)),
            }
            for t in written
        ]
        + [
            {"path": name, "bytes": len(content), "sha256": _sha256_bytes(content)}
            for name, content in docs.items()
        ],
    }


def _check_out(out: Path) -> None:
    """An extract is one zip: any other name (.tar, .tgz, none) would promise what it is not;
    and never inside a package's own places (it reads them)."""
    refuse_inside_a_package(out, "--out")
    if out.suffix.lower() != ".zip":
        raise UsageError(
            f"--out {out}: an extract is a zip file, so its name must end in .zip "
            f"(got {out.suffix or 'no extension'!r}; tar and other archives are not written)"
        )


def _typed_table(
    source: Source, selection: Selection, table: str, kept_parents: dict[str, pl.Series]
) -> tuple[pl.DataFrame, dict[str, pl.Series], pl.Series | None]:
    """The table's chosen rows typed, with attached columns, the not-in-universe mask of every
    column, and the row mask of the case selection (None: every row).

    `kept_parents`: the keys kept of tables already cut by the selection; a row whose foreign key
    points to a dropped parent row is dropped too, so the extract's foreign keys still hold
    (`--where "urban = 1"` on households keeps only those households' persons)."""
    resource = source.resources[table]
    typed = typed_rows(source.file(table, "parquet"), country_column(resource["schema"]), selection.countries)
    niu = {
        f["name"]: missing_kinds(typed, f)[0]
        for f in resource["schema"]["fields"]
        if can_be_missing(f) and f["name"] in selection.columns[table]
    }
    parents: dict[str, pl.DataFrame] = {}  # each linked table read once
    for other, column, name in selection.attachments.get(table, ()):
        spec = next(f for f in source.resources[other]["schema"]["fields"] if f["name"] == column)
        key = link_key(source.resources[other])
        if other not in parents:
            parents[other] = typed_rows(
                source.file(other, "parquet"),
                country_column(source.resources[other]["schema"]),
                selection.countries,
            )
        parent = parents[other].select(
            key, pl.col(column).alias(name), missing_kinds(parents[other], spec)[0].alias("__niu")
        )
        joined = typed.select(key).join(parent, on=key, how="left", maintain_order="left")
        typed = typed.with_columns(joined[name])
        niu[name] = joined["__niu"].fill_null(False).alias(name)
    if table == TARGET and selection.corridors:
        added = corridors.attach(
            source.package, typed.select("country", "destination"), list(selection.corridors)
        )
        typed = typed.with_columns(added)
        niu |= {name: pl.Series(name, [False] * typed.height) for name in added.columns}
    keep = None
    if table in selection.where_tables and selection.where:
        keep = row_mask(typed, selection.where)
    for key in resource["schema"].get("foreignKeys", []):
        parent = key["reference"]["resource"]
        if parent in kept_parents and len(key["fields"]) == 1 and key["fields"][0] in typed.columns:
            inside = typed[key["fields"][0]].is_in(kept_parents[parent].implode())
            keep = inside if keep is None else keep & inside
    if keep is not None:
        typed = typed.filter(keep)
        niu = {name: mask.filter(keep) for name, mask in niu.items()}
    return typed, niu, keep


def _csv_table(source: Source, selection: Selection, table: str, keep: pl.Series | None) -> pl.DataFrame:
    """The same rows as text from the package CSVs (NIU kept), attached columns joined on."""
    column = country_column(source.resources[table]["schema"])
    text = csv_rows(source.file(table, "csv"), column, selection.countries)
    parents: dict[str, pl.DataFrame] = {}  # each linked table read once
    for other, source_column, name in selection.attachments.get(table, ()):
        key = link_key(source.resources[other])
        if other not in parents:
            parents[other] = csv_rows(
                source.file(other, "csv"),
                country_column(source.resources[other]["schema"]),
                selection.countries,
            )
        parent = parents[other].select(key, pl.col(source_column).alias(name))
        text = text.join(parent, on=key, how="left", maintain_order="left")
    if table == TARGET and selection.corridors:
        added = corridors.attach(
            source.package, text.select("country", "destination"), list(selection.corridors)
        )
        text = text.with_columns(added.select(pl.all().cast(pl.String)))  # nulls: empty cells
    if keep is not None:  # the package CSV and Parquet hold the same rows in the same order
        text = text.filter(keep)
    return text.select(selection.output_columns(table))


def make_extract(
    package_dir: Path,
    out: Path,
    *,
    countries: list[str] | None = None,
    tables: list[str] | None = None,
    variables: list[str] | None = None,
    fmt: FormatName = "csv",
    command_line: str | None = None,
    attach: list[str] | None = None,
    where: str | None = None,
    rectangular: bool = False,
    lang: Language | None = None,
) -> ExtractSummary:
    """Write one zip at `out` with the chosen countries, tables and variables in `fmt`.

    None (or empty) means all countries, all tables, all variables. Key variables, the survey
    design variables and the country always come with their table. `attach` puts variables of
    a linked table on each row (`households.urban` on persons and emigrants); `where` selects
    cases (polars SQL) in every chosen table that has all the columns it names; `rectangular`
    puts every chosen household and community variable on each person (and emigrant) row
    instead of writing those tables, as IPUMS's rectangular extracts do. Unknown names
    raise InputError naming close matches (a bad `--out` or `--where`: UsageError, exit 2).
    `command_line` is recorded verbatim in manifest.json (pass the same text to get the same
    bytes). Every entry of the zip is inside one folder named after the zip. `lang`: the
    language of the labels and documents (default: the current one, ippmd.core.i18n).
    """
    with using(lang or language()):
        return _make_extract(
            Path(out),
            package_dir,
            countries,
            tables,
            variables,
            fmt,
            command_line,
            attach,
            where,
            rectangular,
        )


def _make_extract(
    out: Path,
    package_dir: Path,
    countries: list[str] | None,
    tables: list[str] | None,
    variables: list[str] | None,
    fmt: FormatName,
    command_line: str | None,
    attach: list[str] | None,
    where: str | None,
    rectangular: bool,
) -> ExtractSummary:
    _check_out(out)
    source = open_package(package_dir)
    _check_format(fmt, source)
    selection = resolve(source, countries, tables, variables, attach, where, rectangular)
    if out.is_dir():
        raise InputError(
            [Problem(str(out), "the extract must be a file path (e.g. extract.zip), not a folder")]
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ippmd-extract-", dir=out.parent))
    try:
        (staging / "data").mkdir()
        (staging / "codebook").mkdir()
        written, resources, logical = _write_tables(source, selection, fmt, staging)
        coded = coded_categories(_package(source, selection, logical))  # package names, before renames
        renames = {t.name: t.renamed for t in written if t.renamed}
        locations = {t.name: t.locations for t in written if t.locations}
        docs = _documents(source, selection, fmt, staging, resources, logical, renames, locations)
        manifest = _manifest(
            source,
            selection,
            written,
            docs,
            fmt,
            command_line,
            countries,
            tables,
            variables,
            attach,
            where,
            rectangular,
            coded,
        )
        docs["manifest.json"] = json_bytes(manifest)
        write_zip(_zip_entries(out.stem, docs, written, FORMATS[fmt].deflate), out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExtractSummary(
        path=out,
        format=fmt,
        bytes=out.stat().st_size,
        sha256=sha256_file(out),
        countries=selection.countries,
        rows={t.name: t.rows for t in written},
        columns={t: selection.output_columns(t) for t in selection.tables},
        dropped_foreign_keys=selection.dropped_foreign_keys,
        renamed=renames,
        corridor_matches={m: v for t in written for m, v in t.matched.items()},
        language=language(),
    )


def _write_tables(
    source: Source, selection: Selection, fmt: FormatName, staging: Path
) -> tuple[list[_Table], list[dict[str, Any]], list[dict[str, Any]]]:
    """Each chosen table's data file, its Parquet copy for the codebook, and its two descriptor
    entries (as shipped, and pointing at the codebook copy), in the selection's order."""
    written: list[_Table] = []
    resources: list[dict[str, Any]] = []
    logical: list[dict[str, Any]] = []
    kept_parents: dict[str, pl.Series] = {}  # keys kept of tables the selection cut
    for table in selection.tables:
        typed, niu, keep = _typed_table(source, selection, table, kept_parents)
        primary = source.resources[table]["schema"].get("primaryKey", [])
        if keep is not None and len(primary) == 1 and primary[0] in typed.columns:
            kept_parents[table] = typed[primary[0]]
        written.append(_write_table(source, selection, table, fmt, staging, typed, niu, keep))
        written[-1].matched = corridors.matched_shares(typed, selection.corridors) if table == TARGET else {}
        resource = _resource(source, selection, table, fmt, written[-1].entry, typed, fmt == "csv")
        resource["bytes"] = written[-1].path.stat().st_size
        resource["hash"] = f"sha256:{written[-1].sha256}"
        logical.append(copy.deepcopy(resource) | {"parquet": {"path": f"codebook/{table}.parquet"}})
        resources.append(resource)
    return written, resources, logical


def _write_table(
    source: Source,
    selection: Selection,
    table: str,
    fmt: FormatName,
    staging: Path,
    typed: pl.DataFrame,
    niu: dict[str, pl.Series],
    keep: pl.Series | None,
) -> _Table:
    """One table's data file in `fmt` (the package's CSV bytes, or a typed Stata/SPSS/Parquet
    file with labels and notes), and its Parquet copy that the codebook reads."""
    columns = selection.output_columns(table)
    dest = staging / "data" / f"{table}.{FORMATS[fmt].extension}"
    renamed: dict[str, str] = {}
    microdata = country_column(source.resources[table]["schema"]) == "country"
    synthetic = [c for c in synthetic_countries(source, selection) if microdata]
    locations: dict[str, Location] = {}
    if fmt in ("csv", "ipums"):
        text = _csv_table(source, selection, table, keep)
        if fmt == "csv":
            write_csv(text, dest)
        else:
            locations = write_fixed_width(text, table_fields(source, selection, table), dest)
        if text.height != typed.height:
            raise InputError([Problem(str(source.file(table, "csv")), "CSV and Parquet rows differ")])
    else:
        title, version = source.resources[table].get("title", table), str(source.descriptor.get("version"))
        file_label = (
            t("extract.file-label-synthetic", title=title, version=version)
            if synthetic
            else t("extract.file-label", title=title, version=version)
        )
        with using(SOURCE):  # a Parquet footer is the package's, in English
            footer = parquet_file_metadata(table, list(selection.countries), synthetic, version=version)
        renamed = write_typed(
            typed.select(columns),
            table_fields(source, selection, table),
            fmt,
            dest,
            file_label,
            niu=niu,
            notes=file_notes(source, table, synthetic, fmt),
            file_metadata=footer,
            shown=table_fields(source, selection, table, shown=True),
        )
    # render() reads per-country availability from Parquet, so it gets `country` as well
    extra = ["country"] if "country" in typed.columns and "country" not in columns else []
    typed.select([*columns, *extra]).write_parquet(staging / "codebook" / f"{table}.parquet")
    return _Table(table, dest, typed.height, renamed, sha256_file(dest), locations)


def _documents(
    source: Source,
    selection: Selection,
    fmt: FormatName,
    staging: Path,
    resources: list[dict[str, Any]],
    logical: list[dict[str, Any]],
    renames: dict[str, dict[str, str]],
    locations: dict[str, dict[str, Location]],
) -> dict[str, bytes]:
    """The texts that travel with the data: descriptor, notice, licence, citation, codebook, DDI
    (and, for fixed-width files, one DDI per file beside it, as IPUMS ships them). The codebook,
    notice, licence and load.R are in the current language, read from the fields as `shown`."""
    descriptor = _package(source, selection, resources)
    _rename(descriptor, renames)
    logical_package = _package(source, selection, logical)
    shown = _package(
        source,
        selection,
        [
            r | {"schema": r["schema"] | {"fields": table_fields(source, selection, r["name"], shown=True)}}
            for r in logical
        ],
    )
    with using(SOURCE):  # the DDI writes its own languages: the same file whatever the reader's
        ddi = render_ddi(_named_in_file(logical_package, renames), staging, fmt, locations)
    docs = {
        "datapackage.json": json_bytes(descriptor),
        "NOTICE.md": notice(source, selection).encode("utf-8"),
        "LICENSE.md": license_text(source, selection).encode("utf-8"),
        "CITATION.cff": citation_cff(source).encode("utf-8"),
        "codebook.md": codebook(shown, staging, source, selection, fmt, renames).encode("utf-8"),
        "ddi.xml": ddi,
    }
    synthetic = synthetic_countries(source, selection)
    shown_in_files = copy.deepcopy(shown)
    _rename(shown_in_files, renames)
    script = load_r(shown_in_files, fmt, synthetic_notice(synthetic) if synthetic else None, selection.where)
    if script is not None:
        docs["load.R"] = script.encode("utf-8")
    if locations:
        for resource in logical_package["resources"]:
            one = logical_package | {"resources": [resource | {"path": Path(resource["path"]).name}]}
            with using(SOURCE):
                docs[f"data/{resource['name']}.xml"] = render_ddi(one, staging, fmt, locations)
    return docs


def _named_in_file(package: dict[str, Any], renames: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A copy of the logical descriptor whose fields say the name they have in the data file,
    where the format made it shorter (the DDI lists it beside the variable)."""
    named = copy.deepcopy(package)
    for resource in named["resources"]:
        for fld in resource["schema"]["fields"]:
            short = renames.get(resource["name"], {}).get(fld["name"])
            if short:
                fld["nameInFile"] = short
    return named


def _zip_entries(
    top: str, docs: dict[str, bytes], written: list[_Table], deflate: bool
) -> list[tuple[str, Path | bytes, bool]]:
    """The zip's entries, all in one folder `top`: documents, data files, then SHA256SUMS."""
    sums = [(name, _sha256_bytes(content)) for name, content in docs.items()]
    sums += [(t.entry, t.sha256) for t in written]
    entries: list[tuple[str, Path | bytes, bool]] = [
        (f"{top}/{name}", content, True) for name, content in docs.items()
    ]
    entries += [(f"{top}/{t.entry}", t.path, deflate) for t in written]
    entries.append((f"{top}/SHA256SUMS", sha256sums(sums).encode("utf-8"), True))
    return entries

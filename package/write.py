"""Write harmonized tables as a Frictionless data package: data/*.csv, data/*.parquet, datapackage.json.

Every table is also written partitioned by country (hive layout, data/parquet/<table>/<column>=<ISO3>/),
so a reader of one country touches only that country's file.

The orchestration (which submissions, the expectation suites, staging and the swap) is the app's:
`ippmd.build`. This stage only turns tables into files and the descriptor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ippmd import __version__, synthetic_notice
from ippmd.core.errors import InputError, Problem, problem_hint
from ippmd.core.home import schemas_dir
from ippmd.core.i18n import t
from ippmd.core.io import load_yaml, sha256_file
from ippmd.core.metadata import load_country, source_citation
from ippmd.core.schema import (
    INDICATORS,
    PACKAGE_RESOURCES,
    conform,
    harmonized_schema,
    polars_schema,
    universe_mask,
)
from ippmd.core.text import first_formula_cell
from ippmd.indicators.ingest import committed_csv
from ippmd.package.hashes import DATA_HASH_METHOD, data_hash

DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
NIU = "NIU"
PARQUET_METADATA_KEY = "ippmd"  # file-level key-value metadata of every Parquet file (JSON)
MISSING_RULE = (
    "null is unknown or not in universe: NIU where the field's universe (a SQL expression) is "
    "false or null for the row, unknown where it is true; <stem>_nonresponse flags say don't "
    "know (1) or refused (2)"
)
SORT_KEYS = {
    "countries": ["iso3"],
    "communities": ["community_id"],
    "households": ["household_id"],
    "persons": ["person_id"],
    "emigrants": ["emigrant_id"],
    INDICATORS: ["iso3", "indicator", "period", "vintage", "partner_iso3"],
}


def published_sizes(iso3: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        country = load_country(iso3)
    except Exception:  # an eleventh country admitted without a country.yaml
        return None, None
    cited: dict[str, list[str]] = {}  # citation -> the sizes it gives
    for key in ("households", "persons", "communities"):
        entry = country["published"].get(key)
        if entry and not entry.get("assumed"):
            cited.setdefault(source_citation(country, entry), []).append(key)
    source = "; ".join(f"{', '.join(keys)}: {citation}" for citation, keys in cited.items()) or None
    return country["published"], source


def _csv_view(frame: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    """Mark 'not in universe' cells NIU and leave unknown ones empty (the schema's missingValues)."""
    columns = []
    for field in schema["fields"]:
        name = field["name"]
        if "universe" not in field:
            columns.append(frame[name])
            continue
        in_universe = universe_mask(frame, field)
        text = frame[name].cast(pl.String)
        columns.append(
            pl.select(pl.when(text.is_null() & ~in_universe).then(pl.lit(NIU)).otherwise(text))
            .to_series()
            .alias(name)
        )
    return pl.DataFrame(columns)


def write_csv_rows(name: str, frame: pl.DataFrame, handle: BinaryIO, *, header: bool) -> None:
    """Rows of table `name` as data/<name>.csv holds them: the one writer of the package's CSV,
    also used by `ippmd validate` to check a submission's tables as they would be published."""
    _csv_view(frame, harmonized_schema(name)).write_csv(
        handle, include_header=header, null_value="", line_terminator="\n"
    )


def country_indicators(countries: Sequence[str]) -> pl.DataFrame:
    """The committed real indicators (indicators/country_indicators.csv) for the packaged countries."""
    schema = harmonized_schema(INDICATORS)
    frame = pl.read_csv(committed_csv(), schema_overrides=dict(polars_schema(schema)), infer_schema=False)
    return conform(frame, schema).filter(pl.col("iso3").is_in(list(countries)))


def _indicator_sources(frame: pl.DataFrame) -> list[dict[str, str]]:
    """Data Package `sources` of the indicators resource: each original file actually used."""
    provenance = load_yaml(committed_csv().with_name("sources.yaml").read_text(encoding="utf-8"))
    used = set(frame["source"].to_list())
    return [
        {
            "title": f"{entry['title']} ({entry['vintage']})",
            "path": entry["url"],
            "version": entry["vintage"],
            "file": entry["file"],
            "sha256": entry["sha256"],
        }
        for key, entry in provenance.items()
        if key in used
    ]


PARTITIONS_DIR = "parquet"  # data/parquet/<table>/<column>=<ISO3>/part-0.parquet
PARQUET_MEDIATYPE = "application/vnd.apache.parquet"
# Rows of a Parquet row group (polars' default). Small countries share one; a row group ends at
# a country boundary once it holds this many rows, so at --scale 100 each country has its own.
ROW_GROUP_ROWS = 262_144


def partition_column(name: str) -> str:
    """The column a table is partitioned by: its country (`iso3` in the country-level tables)."""
    return "iso3" if name in ("countries", INDICATORS) else "country"


def _parquet_options(name: str, table: pa.Table) -> dict[str, Any]:
    """pyarrow writer options: zstd, statistics, dictionaries but for a one-column key and floats.

    A unique key or a continuous value gains nothing from a dictionary (about one entry a row);
    without them the files are about as small as polars writes them.
    """
    keys = SORT_KEYS[name] if len(SORT_KEYS[name]) == 1 else []
    coded = [f.name for f in table.schema if f.name not in keys and not pa.types.is_floating(f.type)]
    return {"compression": "zstd", "compression_level": 3, "write_statistics": True, "use_dictionary": coded}


@cache
def package_meta() -> dict[str, Any]:
    """schemas/package.yaml: package-level metadata, the data version and per-resource entries."""
    return load_yaml(schemas_dir("package.yaml").read_text(encoding="utf-8"))


def data_version() -> str:
    """The semantic version of the data package (CHANGELOG.md), not of the code."""
    return str(package_meta()["version"])


def labelled_schema(fields: list[dict[str, Any]], schema: pa.Schema) -> pa.Schema:
    """Arrow field metadata from Table Schema fields: label, unit, universe, value labels (JSON),
    so a Parquet reader (pyarrow, DuckDB's parquet_kv_metadata) sees what the codebook says."""
    fields_by_name = {f["name"]: f for f in fields}
    labelled = []
    for arrow_field in schema:
        spec = fields_by_name.get(arrow_field.name, {})
        meta = {
            "label": spec.get("title"),
            "unit": spec.get("unit"),
            "universe": spec.get("universe"),
            "categories": json.dumps(
                {str(c["value"]): c["label"] for c in spec["categories"]}, ensure_ascii=False
            )
            if spec.get("categories")
            else None,
        }
        labelled.append(arrow_field.with_metadata({k: v for k, v in meta.items() if v is not None}))
    return pa.schema(labelled)


def parquet_file_metadata(
    name: str, countries: list[str], synthetic: list[str], version: str | None = None
) -> dict[str, str]:
    """The `ippmd` key of a Parquet file: synthetic flag and notice, the missing rule.

    A package's own files carry no version: the `dataHash` covers their bytes, and the version
    is derived from it (ippmd.package.release), so it lives in datapackage.json only. A file
    that leaves the package (an extract) may name the `version` it came from.
    """
    info: dict[str, Any] = {"resource": name}
    if version is not None:
        info["version"] = version
    info |= {"countries": countries, "synthetic": bool(synthetic), "missing": MISSING_RULE}
    if synthetic:
        info["notice"] = synthetic_notice(synthetic)
    return {PARQUET_METADATA_KEY: json.dumps(info, ensure_ascii=False)}


@dataclass
class TableFiles:
    """What was written for one table: its CSV, its Parquet and one Parquet file per country."""

    csv: Path
    parquet: Path
    folder: Path  # of the partitions: data/parquet/<table>
    partitions: list[tuple[str, Path, int]]  # (ISO3, file, rows), in country order
    rows: int = 0


class PackageWriter:
    """Write the tables country by country, so a build need not hold more than one country.

    Each call appends one country's rows to data/<table>.csv and data/<table>.parquet and writes
    data/parquet/<table>/<column>=<ISO3>/part-0.parquet. Ids start with the ISO3 code, so
    appending countries in sorted order (each sorted by SORT_KEYS) keeps every file in its
    global order (`write` checks the countries). The partition column is not stored in the
    partition files: hive readers (polars, DuckDB, Spark, pyarrow) take it from the path, and a
    column both in the path and in the file could disagree.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, TableFiles] = {}
        self._csv: dict[str, BinaryIO] = {}
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._pending: dict[str, list[pa.Table]] = {}  # rows of the row group being filled
        self._origins: dict[str, str] = {}  # ISO3 -> data_origin, from the countries rows

    def write(self, name: str, iso3: str, frame: pl.DataFrame) -> None:
        """Append one country's rows of table `name`, as ordered (countries in sorted order)."""
        column = partition_column(name)
        if not (frame[column] == iso3).all() or not frame[SORT_KEYS[name][0]].str.starts_with(iso3).all():
            raise ValueError(f"{name}: rows of another country than {iso3}, or keys not led by {iso3}")
        formula = first_formula_cell(frame)
        if formula is not None:  # refused at validation; raw files that skipped it stop here
            column, row, value = formula
            raise InputError(
                [
                    Problem(
                        f"{name} of {iso3}",
                        t("package.formula-cell"),
                        row=row,
                        field=column,
                        value=value[:40],
                        code="formula-cell",
                        hint=problem_hint("formula-cell"),
                    )
                ]
            )
        files = self.files.get(name)
        if files is None:
            files = self.files[name] = TableFiles(
                self.data_dir / f"{name}.csv",
                self.data_dir / f"{name}.parquet",
                self.data_dir / PARTITIONS_DIR / name,
                [],
            )
            self._csv[name] = files.csv.open("wb")
            self._pending[name] = []
        elif files.partitions[-1][0] >= iso3:
            raise ValueError(f"{name}: {iso3} after {files.partitions[-1][0]}: countries must be sorted")
        write_csv_rows(name, frame, self._csv[name], header=not files.partitions)
        if name == "countries":
            self._origins.update(frame.select("iso3", "data_origin").iter_rows())
        table = frame.to_arrow()
        table = table.cast(labelled_schema(harmonized_schema(name)["fields"], table.schema))
        self._pending[name].append(table)
        if sum(t.num_rows for t in self._pending[name]) >= ROW_GROUP_ROWS:
            self._write_row_groups(name)
        part = files.folder / f"{column}={iso3}" / "part-0.parquet"
        part.parent.mkdir(parents=True, exist_ok=True)
        rest = table.drop_columns([column]).replace_schema_metadata(
            parquet_file_metadata(name, [iso3], self._synthetic(name, [iso3]))
        )
        pq.write_table(rest, part, row_group_size=ROW_GROUP_ROWS, **_parquet_options(name, rest))
        files.partitions.append((iso3, part, frame.height))
        files.rows += frame.height

    def _synthetic(self, name: str, countries: list[str]) -> list[str]:
        """The countries whose rows of a microdata table are synthetic (country tables: none)."""
        if not package_meta()["resources"][name]["microdata"]:
            return []
        return [c for c in countries if self._origins.get(c, "synthetic") == "synthetic"]

    def _write_row_groups(self, name: str) -> None:
        """Write the pending rows of `name` to its Parquet file (the writer opens on first use)."""
        pending, self._pending[name] = self._pending[name], []
        if not pending:
            return
        table = pa.concat_tables(pending)
        if name not in self._parquet:
            options = _parquet_options(name, table)
            self._parquet[name] = pq.ParquetWriter(self.files[name].parquet, table.schema, **options)
        if table.num_rows:
            self._parquet[name].write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> dict[str, TableFiles]:
        """Write what is pending and close every file; returns what was written, by table."""
        for name in self._pending:
            self._write_row_groups(name)
            countries = [iso3 for iso3, _, _ in self.files[name].partitions]
            if name in self._parquet:  # the footer is written at close: the whole file's countries
                self._parquet[name].add_key_value_metadata(
                    parquet_file_metadata(name, countries, self._synthetic(name, countries))
                )
        self._abandon()
        return self.files

    def _abandon(self) -> None:
        """Close the files without writing what is pending."""
        for handle in self._csv.values():
            handle.close()
        for writer in self._parquet.values():
            writer.close()
        self._csv.clear()
        self._parquet.clear()
        self._pending.clear()

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        """Complete the files, or after an error only close them (the staging folder is dropped)."""
        if exc_type is None:
            self.close()
        else:
            self._abandon()


def _file_entry(path: Path, root: Path, **extra: Any) -> dict[str, Any]:
    """A file's path (relative to the package root), extra properties, then its bytes and SHA-256."""
    return {
        "path": path.relative_to(root).as_posix(),
        **extra,
        "bytes": path.stat().st_size,
        "hash": f"sha256:{sha256_file(path)}",
    }


def _partitions(name: str, files: TableFiles, root: Path) -> dict[str, Any]:
    """The `partitions` property: the hive layout and each country's file with rows and hash."""
    return {
        "layout": "hive",
        "path": files.folder.relative_to(root).as_posix(),
        "mediatype": PARQUET_MEDIATYPE,
        "field": partition_column(name),
        "fieldInFiles": False,  # hive convention: the value is in the path, not in the file
        "files": [_file_entry(path, root, country=iso3, rows=rows) for iso3, path, rows in files.partitions],
    }


IPPMD_TEN = "the ten countries of the OECD Development Centre project"


def _title(title: str, origins: list[tuple[str, str]]) -> str:
    kinds = {origin for _, origin in origins}
    words = "survey microdata" if kinds == {"survey"} else "survey and synthetic microdata"
    return title.replace("(synthetic microdata)", f"({words})")


def describe_countries(description: str, countries: pl.DataFrame) -> str:
    """The package description for the countries it now holds: the ten synthetic IPPMD countries
    keep the written description; any other set (after `ippmd admit`) is named country by
    country, with each one's data origin."""
    rows = countries.select("iso3", "name", "data_origin").rows()
    default = {iso3 for iso3, _, origin in rows if origin == "synthetic"}
    if len(rows) == 10 and len(default) == 10 and IPPMD_TEN in description:
        return description
    names = [f"{name} ({iso3})" for iso3, name, _ in rows]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    head = (
        f"Harmonized household, person, emigrant and community tables for {len(rows)} "
        f"{'country' if len(rows) == 1 else 'countries'}: {listed}."
    )
    by_origin = []
    for origin, word in (("survey", "Survey microdata"), ("synthetic", "SYNTHETIC microdata")):
        codes = [iso3 for iso3, _, o in rows if o == origin]
        if codes:
            by_origin.append(f"{word}: {', '.join(codes)}.")
    notice = (
        description[description.index("The IPPMD microdata") :]
        if "The IPPMD microdata" in description
        else ""
    )
    return " ".join([head, *by_origin, notice]).strip()


def descriptor(
    countries: pl.DataFrame,
    indicators: pl.DataFrame,
    files: dict[str, TableFiles],
    root: Path,
    build_options: dict[str, int],
) -> dict[str, Any]:
    """The Data Package v2 descriptor, with bytes and hashes of every file.

    `countries` and `indicators` are the two small tables (origins and sources come from them);
    the microdata are known only by their files and row counts, so they need not be in memory.
    """
    meta = package_meta()
    origins = countries.select("iso3", "data_origin").rows()
    synthetic_countries = [iso3 for iso3, origin in origins if origin == "synthetic"]
    resources = []
    for name in (n for n in PACKAGE_RESOURCES if n in files):
        info = meta["resources"][name]
        written = files[name]
        csv = _file_entry(written.csv, root)  # the CSV is the resource's own path
        resource: dict[str, Any] = {
            "name": name,
            "type": "table",
            "title": info["title"],
            "description": info["description"],
            "path": csv["path"],
            "scheme": "file",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": csv["bytes"],
            "hash": csv["hash"],
        }
        if name == INDICATORS:
            resource["synthetic"] = False
            resource["sources"] = _indicator_sources(indicators)
        if info.get("licenses"):
            resource["licenses"] = info["licenses"]
        if info.get("surveyDesign"):
            resource["surveyDesign"] = dict(info["surveyDesign"])
        if info["microdata"]:
            resource["synthetic"] = bool(synthetic_countries)
            if synthetic_countries:
                resource["notice"] = synthetic_notice(synthetic_countries)
        resource["rows"] = written.rows
        resource["parquet"] = _file_entry(written.parquet, root, mediatype=PARQUET_MEDIATYPE)
        resource["partitions"] = _partitions(name, written, root)
        schema = dict(harmonized_schema(name))
        schema.pop("$schema", None)
        resource["schema"] = schema
        absent = set(resource.get("surveyDesign", {}).values()) - {f["name"] for f in schema["fields"]}
        if absent:  # the contract: design variables are columns of the resource's own table
            raise ValueError(f"{name}: surveyDesign names fields not in its table: {sorted(absent)}")
        resources.append(resource)
    digest = data_hash(resources)
    version = str(meta["version"])
    package = {
        "$schema": DATAPACKAGE_PROFILE,
        "name": meta["name"],
        "title": meta["title"]
        if len(synthetic_countries) == len(origins)
        else _title(meta["title"], origins),
        "description": describe_countries(meta["description"], countries),
        "version": version,
        "dataHash": digest,
        "dataHashMethod": DATA_HASH_METHOD,
        "generator": f"ippmd {__version__}",
        "citation": citation(version, digest),
        "keywords": meta["keywords"],
        "licenses": meta["licenses"],
        "sources": meta["sources"],
        "contributors": meta["contributors"],
        "synthetic": bool(synthetic_countries),  # true when any country's microdata are synthetic
        "countries": [iso3 for iso3, _ in origins],
        "dataOrigin": dict(origins),  # each country's microdata: "survey" or "synthetic"
        "build": build_options,  # seed and scale of the synthetic generator: `ippmd admit` rebuilds with them
        "resources": resources,
    }
    return package


def citation(version: str, digest: str) -> str:
    """The package's citation (schemas/package.yaml) naming its data version and data hash."""
    meta = package_meta()
    text = meta["citation"].format(year=meta["citation_year"], version=version, data_hash=digest)
    return " ".join(text.split())


def released(package: dict[str, Any], version: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The descriptor at `version` (ippmd.package.release decides it), its citation naming that
    version, and its `changes` since the first build (none: no key, as a fresh build writes it)."""
    out = {key: value for key, value in package.items() if key not in ("changes", "resources")}
    out |= {"version": version, "citation": citation(version, package["dataHash"])}  # in place
    if changes:
        out["changes"] = changes
    out["resources"] = package["resources"]
    return out

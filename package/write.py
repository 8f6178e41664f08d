"""Write harmonized tables as a Frictionless data package: data/*.csv, data/*.parquet, datapackage.json.

Every table is also written partitioned by country (hive layout, data/parquet/<table>/<column>=<ISO3>/),
so a reader of one country touches only that country's file.

The orchestration (which submissions, the expectation suites, staging and the swap) is the app's:
`ippmd.build`. This stage only turns tables into files and the descriptor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from ippmd.core.home import schemas_dir
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
from ippmd.indicators.ingest import committed_csv

from ippmd import SYNTHETIC_NOTICE, __version__

DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
NIU = "NIU"
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
    cited = {}  # citation -> the sizes it gives
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

    def write(self, name: str, iso3: str, frame: pl.DataFrame) -> None:
        """Append one country's rows of table `name`, as ordered (countries in sorted order)."""
        column = partition_column(name)
        if not (frame[column] == iso3).all() or not frame[SORT_KEYS[name][0]].str.starts_with(iso3).all():
            raise ValueError(f"{name}: rows of another country than {iso3}, or keys not led by {iso3}")
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
        _csv_view(frame, harmonized_schema(name)).write_csv(
            self._csv[name], include_header=not files.partitions, null_value="", line_terminator="\n"
        )
        table = frame.to_arrow()
        self._pending[name].append(table)
        if sum(t.num_rows for t in self._pending[name]) >= ROW_GROUP_ROWS:
            self._write_row_groups(name)
        part = files.folder / f"{column}={iso3}" / "part-0.parquet"
        part.parent.mkdir(parents=True, exist_ok=True)
        rest = table.drop_columns([column])
        pq.write_table(rest, part, row_group_size=ROW_GROUP_ROWS, **_parquet_options(name, rest))
        files.partitions.append((iso3, part, frame.height))
        files.rows += frame.height

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
    meta = load_yaml(schemas_dir("package.yaml").read_text(encoding="utf-8"))
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
        if info["microdata"]:
            resource["synthetic"] = bool(synthetic_countries)
            if synthetic_countries:
                resource["notice"] = (
                    f"{SYNTHETIC_NOTICE} Synthetic countries: {', '.join(synthetic_countries)}."
                )
        resource["rows"] = written.rows
        resource["parquet"] = _file_entry(written.parquet, root, mediatype=PARQUET_MEDIATYPE)
        resource["partitions"] = _partitions(name, written, root)
        schema = dict(harmonized_schema(name))
        schema.pop("$schema", None)
        resource["schema"] = schema
        resources.append(resource)
    package = {
        "$schema": DATAPACKAGE_PROFILE,
        "name": meta["name"],
        "title": meta["title"],
        "description": meta["description"],
        "version": __version__,
        "homepage": meta["homepage"],
        "keywords": meta["keywords"],
        "licenses": meta["licenses"],
        "sources": meta["sources"],
        "contributors": meta["contributors"],
        "synthetic": bool(synthetic_countries),
        "countries": [iso3 for iso3, _ in origins],
        "build": build_options,  # seed and scale of the synthetic generator: `ippmd admit` rebuilds with them
        "resources": resources,
    }
    return package

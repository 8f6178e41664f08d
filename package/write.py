"""Write harmonized tables as a Frictionless data package: data/*.csv, data/*.parquet, datapackage.json.

The orchestration (which submissions, the expectation suites, staging and the swap) is the app's:
`ippmd.build`. This stage only turns tables into files and the descriptor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from ippmd.core.home import schemas_dir
from ippmd.core.io import sha256_file
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
    provenance = yaml.safe_load(committed_csv().with_name("sources.yaml").read_text(encoding="utf-8"))
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


def write_tables(tables: dict[str, pl.DataFrame], data_dir: Path) -> dict[str, dict[str, Path]]:
    data_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Path]] = {}
    for name in tables:
        frame = tables[name]
        csv_path, parquet_path = data_dir / f"{name}.csv", data_dir / f"{name}.parquet"
        _csv_view(frame, harmonized_schema(name)).write_csv(csv_path, null_value="", line_terminator="\n")
        frame.write_parquet(parquet_path, compression="zstd", statistics=True)
        files[name] = {"csv": csv_path, "parquet": parquet_path}
    return files


def descriptor(
    tables: dict[str, pl.DataFrame],
    files: dict[str, dict[str, Path]],
    root: Path,
    build_options: dict[str, int],
) -> dict[str, Any]:
    """The Data Package v2 descriptor, with bytes and hashes of every file."""
    meta = yaml.safe_load(schemas_dir("package.yaml").read_text(encoding="utf-8"))
    origins = tables["countries"].select("iso3", "data_origin").rows()
    synthetic_countries = [iso3 for iso3, origin in origins if origin == "synthetic"]
    resources = []
    for name in (n for n in PACKAGE_RESOURCES if n in tables):
        info = meta["resources"][name]
        csv_path, parquet_path = files[name]["csv"], files[name]["parquet"]
        resource: dict[str, Any] = {
            "name": name,
            "type": "table",
            "title": info["title"],
            "description": info["description"],
            "path": csv_path.relative_to(root).as_posix(),
            "scheme": "file",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": csv_path.stat().st_size,
            "hash": f"sha256:{sha256_file(csv_path)}",
        }
        if name == INDICATORS:
            resource["synthetic"] = False
            resource["sources"] = _indicator_sources(tables[name])
        if info["microdata"]:
            resource["synthetic"] = bool(synthetic_countries)
            if synthetic_countries:
                resource["notice"] = (
                    f"{SYNTHETIC_NOTICE} Synthetic countries: {', '.join(synthetic_countries)}."
                )
        resource["rows"] = tables[name].height
        resource["parquet"] = {
            "path": parquet_path.relative_to(root).as_posix(),
            "mediatype": "application/vnd.apache.parquet",
            "bytes": parquet_path.stat().st_size,
            "hash": f"sha256:{sha256_file(parquet_path)}",
        }
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

"""Build the Frictionless data package: submissions -> harmonized tables -> data/ + datapackage.json.

Everything is written into a staging folder next to the target and swapped in by renames, so
a failed build leaves the previous package untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from harmonize.pipeline import country_row, harmonize
from harmonize.submission import METADATA_FILE, Submission, read_submission
from ippmd import SYNTHETIC_NOTICE, __version__
from ippmd.errors import InputError
from ippmd.hashing import sha256_file
from ippmd.metadata import country_codes, load_country, source_citation
from ippmd.paths import PACKAGE_META, RAW_ROOT
from ippmd.schema import (
    INDICATORS,
    PACKAGE_RESOURCES,
    RESOURCES,
    conform,
    harmonized_schema,
    polars_schema,
    universe_mask,
)

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

Progress = Callable[[str], None]


def raw_submission_dir(iso3: str) -> Path | None:
    """A licensee's raw files (countries/<ISO3>/raw/), which take precedence over synthetic ones."""
    raw = RAW_ROOT / iso3 / "raw"
    return raw if (raw / METADATA_FILE).exists() else None


def package_countries() -> list[str]:
    """Countries with metadata, plus any admitted with raw files only (an eleventh country)."""
    admitted = {p.parent.parent.name for p in RAW_ROOT.glob(f"*/raw/{METADATA_FILE}")}
    return sorted(set(country_codes()) | admitted)


def load_submission(
    iso3: str, workdir: Path, seed: int, scale: int, folder: Path | None = None
) -> Submission:
    raw = folder or raw_submission_dir(iso3)
    if raw is not None:
        return read_submission(raw)
    from synth.generator import write_submission

    return read_submission(write_submission(iso3, workdir / "submissions" / iso3, seed=seed, scale=scale))


def _published(iso3: str) -> tuple[dict[str, Any] | None, str | None]:
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
    from indicators.ingest import COMMITTED_CSV

    schema = harmonized_schema(INDICATORS)
    frame = pl.read_csv(COMMITTED_CSV, schema_overrides=dict(polars_schema(schema)), infer_schema=False)
    return conform(frame, schema).filter(pl.col("iso3").is_in(list(countries)))


def _indicator_sources(frame: pl.DataFrame) -> list[dict[str, str]]:
    """Data Package `sources` of the indicators resource: each original file actually used."""
    from indicators.ingest import COMMITTED_CSV

    provenance = yaml.safe_load(COMMITTED_CSV.with_name("sources.yaml").read_text(encoding="utf-8"))
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
    meta = yaml.safe_load(PACKAGE_META.read_text(encoding="utf-8"))
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


GX_CHUNK_ROWS = 1_000_000  # above this, GX (pandas) runs country by country to bound memory


def check_expectations(tables: dict[str, pl.DataFrame]) -> None:
    """Run the expectation suites (Great Expectations); any failure stops the build.

    Every rule is within one country (ids carry the country), so large builds are checked
    country by country: same verdict, a tenth of the memory.
    """
    from quality.validate import expectation_problems

    if tables["persons"].height <= GX_CHUNK_ROWS:
        chunks = [tables]
    else:
        chunks = [
            {
                name: frame.filter(pl.col("iso3" if name == "countries" else "country") == iso3)
                for name, frame in tables.items()
            }
            for iso3 in tables["countries"]["iso3"].to_list()
        ]
    problems = [p for chunk in chunks for p in expectation_problems(chunk, "gx", label="harmonized ")]
    if problems:
        raise InputError(problems)


def _swap_into(staging: Path, out: Path) -> None:
    """Replace out/data and out/datapackage.json by the staged ones, by renames."""
    target_data = out / "data"
    old = staging / "previous-data"
    if target_data.exists():
        os.replace(target_data, old)
    try:
        os.replace(staging / "data", target_data)
    except OSError:
        if old.exists():
            os.replace(old, target_data)
        raise
    os.replace(staging / "datapackage.json", out / "datapackage.json")


def build(
    out: Path,
    countries: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    scale: int = 1,
    progress: Progress | None = None,
    submissions: dict[str, Path] | None = None,
    expectations: bool = True,
) -> dict[str, Any]:
    """Build the package into `out` (data/ and datapackage.json); returns the descriptor.

    `submissions` overrides where a country's submission is read from (used by `ippmd admit`).
    The expectation suites run on the harmonized tables; a failure stops the build (InputError).
    """
    from synth.generator import DEFAULT_SEED

    seed = DEFAULT_SEED if seed is None else seed
    submissions = submissions or {}
    countries = sorted(set(countries or package_countries()) | set(submissions))
    report = progress or (lambda _step: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ippmd-build-", dir=out))
    try:
        parts: dict[str, list[pl.DataFrame]] = {name: [] for name in RESOURCES}
        for iso3 in countries:
            report(f"{iso3}: reading submission")
            sub = load_submission(iso3, staging, seed, scale, submissions.get(iso3))
            report(f"{iso3}: harmonizing")
            tables = harmonize(sub)
            published, published_source = _published(iso3)
            parts["countries"].append(country_row(sub, tables, published, published_source))
            for name, frame in tables.items():
                parts[name].append(frame)
        tables = {
            name: pl.concat(frames, how="vertical").sort(SORT_KEYS[name]) for name, frames in parts.items()
        }
        if expectations:
            report("checking expectation suites")
            check_expectations(tables)
        tables[INDICATORS] = country_indicators(countries)
        report("writing tables")
        files = write_tables(tables, staging / "data")
        package = descriptor(tables, files, staging, {"seed": seed, "scale": scale})
        (staging / "datapackage.json").write_text(
            json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        report("replacing the package")
        _swap_into(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return package

"""Build orchestration (app floor): submissions -> harmonize -> quality suites -> package files.

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

from ippmd.core.errors import InputError
from ippmd.core.home import raw_root
from ippmd.core.metadata import country_codes
from ippmd.core.schema import INDICATORS, RESOURCES
from ippmd.harmonize.pipeline import country_row, harmonize
from ippmd.harmonize.submission import METADATA_FILE, Submission, read_submission
from ippmd.package.write import SORT_KEYS, country_indicators, descriptor, published_sizes, write_tables
from ippmd.quality.validate import expectation_problems
from ippmd.synth.generator import DEFAULT_SEED, write_submission

Progress = Callable[[str], None]


def raw_submission_dir(iso3: str) -> Path | None:
    """A licensee's raw files (countries/<ISO3>/raw/), which take precedence over synthetic ones."""
    raw = raw_root() / iso3 / "raw"
    return raw if (raw / METADATA_FILE).exists() else None


def package_countries() -> list[str]:
    """Countries with metadata, plus any admitted with raw files only (an eleventh country)."""
    admitted = {p.parent.parent.name for p in raw_root().glob(f"*/raw/{METADATA_FILE}")}
    return sorted(set(country_codes()) | admitted)


def load_submission(
    iso3: str, workdir: Path, seed: int, scale: int, folder: Path | None = None
) -> Submission:
    raw = folder or raw_submission_dir(iso3)
    if raw is not None:
        return read_submission(raw)
    return read_submission(write_submission(iso3, workdir / "submissions" / iso3, seed=seed, scale=scale))


GX_CHUNK_ROWS = 1_000_000  # above this, GX (pandas) runs country by country to bound memory


def check_expectations(tables: dict[str, pl.DataFrame]) -> None:
    """Run the expectation suites (Great Expectations); any failure stops the build.

    Every rule is within one country (ids carry the country), so large builds are checked
    country by country: same verdict, a tenth of the memory.
    """
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
            published, published_source = published_sizes(iso3)
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

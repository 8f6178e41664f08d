"""Admit a valid submission into the package: validate, rebuild with it, keep its files.

The package is rebuilt in a staging folder and swapped in by renames (ippmd.build), and
the submission's files are copied under countries/<ISO3>/raw/ only after the build succeeded, so
an interrupted or failed admit leaves the previous package and raw files exactly as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ippmd.build import build
from ippmd.core.errors import InputError
from ippmd.core.home import raw_root
from ippmd.core.schema import SUBMISSION_TABLES
from ippmd.quality.archive import open_submission
from ippmd.quality.report import Report
from ippmd.quality.validate import validate_submission

SUBMISSION_FILES = ("metadata.yaml", *(f"{t}.csv" for t in SUBMISSION_TABLES))


def _current_package(out: Path) -> tuple[list[str] | None, dict[str, int]]:
    """The countries, seed and scale of the package at `out`, so admitting one country keeps the rest."""
    try:
        descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
        build = descriptor.get("build", {})
        return list(descriptor["countries"]), {k: int(build[k]) for k in ("seed", "scale") if k in build}
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


def admit(path: Path, out: Path) -> Report:
    """Validate `path`; if valid, add (or replace) its country in the package at `out`."""
    report = validate_submission(path)
    if not report.valid:
        return report
    iso3 = str(report.country)
    country_dir = raw_root() / iso3
    country_dir.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".raw-incoming-", dir=country_dir))
    try:
        with open_submission(path) as folder:
            for name in SUBMISSION_FILES:
                shutil.copy2(folder / name, incoming / name)
        countries, options = _current_package(out)
        try:
            build(out, countries and [*countries, iso3], submissions={iso3: incoming}, **options)
        except InputError as exc:
            report.problems += exc.problems
            return report
        raw = country_dir / "raw"
        previous = country_dir / f".raw-previous-{os.getpid()}"
        if raw.exists():
            os.replace(raw, previous)
        os.replace(incoming, raw)
        shutil.rmtree(previous, ignore_errors=True)
        report.layers.append("admitted")
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return report

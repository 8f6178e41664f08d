"""Validate a submission (folder or .zip) or the built package, layer by layer.

Layers: (1) structural, in polars (bytes, encoding, header, cells, types, constraints, keys);
(2) submission checks (direct identifiers, metadata completeness and codes); (3) harmonization
of the submission (every code mapped); (4) the expectation suites on the harmonized tables.
A layer runs when the one before found no errors, so one defect is not reported five times.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import polars as pl
from ippmd.core.errors import InputError, Problem
from ippmd.core.home import schemas_dir
from ippmd.core.metadata import read_submission_metadata
from ippmd.core.schema import (
    PACKAGE_RESOURCES,
    RESOURCES,
    SUBMISSION_TABLES,
    harmonized_schema,
    submission_schema,
)
from ippmd.harmonize.pipeline import country_row, harmonize
from ippmd.harmonize.submission import read_submission
from ippmd.quality.archive import open_submission
from ippmd.quality.expectations import run_suites as gx_run_suites
from ippmd.quality.expectations_polars import run_suites_polars
from ippmd.quality.plausibility import submission_rules
from ippmd.quality.report import Report
from ippmd.quality.structural import check_tables, problem
from ippmd.quality.submission_checks import identifier_columns, identifier_values, metadata_problems

Engine = Literal["polars", "gx"]
TEXT_COLUMNS = {
    "communities": ["region_code"],
    "persons": ["education_code"],
    "emigrants": ["education_code", "destination"],
    "households": ["remittance_channel"],
}


def expectation_problems(
    tables: dict[str, pl.DataFrame], engine: Engine, label: str, resources: Sequence[str] | None = None
) -> list[Problem]:
    """Run the expectation suites (polars engine, or GX) and turn failures into problems.

    `resources`: judge only the suites of these resources (the others' tables still feed
    cross-table rules); default all."""
    failures = (
        gx_run_suites(tables, resources=resources)
        if engine == "gx"
        else [f for f in run_suites_polars(tables) if resources is None or f.resource in resources]
    )
    problems = []
    for failure in failures:
        column = failure.column if isinstance(failure.column, str) else "+".join(failure.column or [])
        examples = ", ".join(
            str(v) for v in (failure.unexpected_keys or failure.unexpected_values or [])[:10]
        )
        where = f" in {failure.country}" if failure.country else ""
        observed = f"; observed {failure.observed}" if failure.observed is not None else ""
        problems.append(
            Problem(
                file=f"{label}{failure.resource}",
                message=f"{failure.rule}{where} ({failure.unexpected_count} rows{observed})",
                field=column,
                value=examples or None,
                code="expectation-failed",
                hint=failure.hint,
            )
        )
    return problems


def _metadata(folder: Path) -> tuple[dict | None, list[Problem]]:
    path = folder / "metadata.yaml"
    if not path.is_file():
        found = sorted(str(p.relative_to(folder)) for p in folder.glob("*/metadata.yaml"))
        where = (
            f" (found {', '.join(found)}: send one submission, with metadata.yaml at the top)"
            if found
            else ""
        )
        return None, [problem("metadata-error", "metadata.yaml", f"metadata.yaml is missing{where}")]
    try:
        return read_submission_metadata(path, "metadata.yaml"), []
    except InputError as exc:  # every metadata problem gets the metadata hint
        hint = problem("metadata-error", "", "").hint
        return None, [replace(p, code="metadata-error", hint=hint) for p in exc.problems]


def validate_submission(path: Path, engine: Engine = "polars") -> Report:
    """Every problem in a country submission, or a clean pass."""
    started = time.perf_counter()
    report = Report(target=str(path))
    try:
        with open_submission(Path(path)) as folder:
            _validate_folder(folder, report, engine)
    except InputError as exc:
        report.problems += exc.problems
    except OSError:  # the environment (unreadable, disk full, wrong path): exit 2, not a bug
        raise
    except Exception as exc:  # a safety net: bad input must give a verdict, never a traceback
        report.problems.append(
            problem("internal-error", str(path), f"unexpected {exc.__class__.__name__}: {exc}")
        )
    report.seconds = time.perf_counter() - started
    return report


def _validate_folder(folder: Path, report: Report, engine: Engine) -> None:
    meta, problems = _metadata(folder)
    report.problems += problems
    report.country = str(meta.get("country_iso3")) if meta else None
    files = {name: folder / f"{name}.csv" for name in SUBMISSION_TABLES}
    schemas = {name: submission_schema(name) for name in SUBMISSION_TABLES}
    report.layers.append("structure")
    structure = check_tables(files, schemas, {n: f"{n}.csv" for n in SUBMISSION_TABLES})
    frames = structure.frames
    report.problems += structure.problems
    report.rows = {name: frame.height for name, frame in frames.items()}
    report.layers.append("identifiers")
    for name, table in structure.texts.items():
        known = {f["name"] for f in schemas[name]["fields"]}
        extra = [c for c in table.frame.columns if c not in known]
        report.problems += identifier_columns(table.header, table.file)
        report.problems += identifier_values(table, TEXT_COLUMNS.get(name, []) + extra)
    if meta is not None:
        used = {
            "education_code": {
                c
                for n in ("persons", "emigrants")
                if n in frames and "education_code" in frames[n]
                for c in frames[n]["education_code"].drop_nulls().to_list()
            },
            "region_code": set(frames["communities"]["region_code"].drop_nulls().to_list())
            if "communities" in frames and "region_code" in frames["communities"]
            else set(),
        }
        report.problems += metadata_problems(meta, "metadata.yaml", used)
    report.layers.append("plausibility")  # placeholders, formulas, control characters, extra files
    report.problems += submission_rules(folder, meta, structure)
    if not report.valid or meta is None:
        return
    report.layers.append("harmonization")
    try:
        submission = read_submission(folder)
        tables = harmonize(submission)
        country_row(submission, tables, None, None)
    except InputError as exc:
        report.problems += [
            Problem(
                Path(p.file).name,
                p.message,
                p.row,
                p.field,
                p.value,
                p.code,
                p.hint or problem(p.code, "", "").hint,
            )
            for p in exc.problems
        ]
        return
    report.layers.append(f"expectations ({engine})")
    report.problems += expectation_problems(tables, engine, label="harmonized ")


def descriptor_problems(package_dir: Path) -> list[Problem]:
    """The descriptor against the Data Package v2 profile, and every file's bytes and SHA-256."""
    import hashlib
    import json

    import jsonschema

    label = "datapackage.json"
    try:
        descriptor = json.loads((package_dir / label).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [problem("descriptor-error", label, f"cannot read the descriptor: {exc}")]
    if not isinstance(descriptor, dict):
        return [problem("descriptor-error", label, "the descriptor must be a JSON object")]
    profile = json.loads(
        schemas_dir("profiles", "datapackage-2.0", "datapackage.json").read_text(encoding="utf-8")
    )
    problems = [
        problem(
            "descriptor-error",
            label,
            f"not a valid Data Package v2: {error.message}",
            field="/".join(str(p) for p in error.absolute_path) or None,
        )
        for error in jsonschema.Draft7Validator(profile).iter_errors(descriptor)
    ]
    if problems:  # the structure is wrong: paths and hashes cannot be trusted
        return problems
    for resource in descriptor.get("resources", []):
        partitions = (resource.get("partitions") or {}).get("files") or []
        for entry in (resource, resource.get("parquet") or {}, *partitions):
            if "path" not in entry:
                continue
            path = package_dir / entry["path"]
            if Path(entry["path"]).is_absolute() or not path.resolve().is_relative_to(package_dir.resolve()):
                problems.append(
                    problem("descriptor-error", label, f"path {entry['path']!r} leads out of the package")
                )
                continue
            if not path.exists():
                problems.append(
                    problem("missing-file", entry["path"], "file listed in the descriptor is missing")
                )
                continue
            data = path.read_bytes()
            if entry.get("bytes") != len(data):
                problems.append(
                    problem(
                        "byte-count",
                        entry["path"],
                        f"file has {len(data)} bytes, the descriptor says {entry.get('bytes')}",
                    )
                )
            if entry.get("hash") != "sha256:" + hashlib.sha256(data).hexdigest():
                problems.append(
                    problem("hash-count", entry["path"], "file does not match its SHA-256 in the descriptor")
                )
    return problems


def check_package(package_dir: Path, engine: Engine = "gx") -> Report:
    """The same layers on a built package: its CSVs against the harmonized schemas, then the suites."""
    started = time.perf_counter()
    report = Report(target=str(package_dir / "datapackage.json"), layers=["descriptor", "structure"])
    report.problems += descriptor_problems(package_dir)
    files = {name: package_dir / "data" / f"{name}.csv" for name in PACKAGE_RESOURCES}
    schemas = {name: harmonized_schema(name) for name in PACKAGE_RESOURCES}
    display = {n: f"data/{n}.csv" for n in PACKAGE_RESOURCES}
    report.problems += check_tables(files, schemas, display, max_rows=None).problems
    if report.valid:
        tables = {
            name: pl.read_parquet(package_dir / "data" / f"{name}.parquet", glob=False) for name in RESOURCES
        }
        report.rows = {name: frame.height for name, frame in tables.items()}
        report.layers.append(f"expectations ({engine})")
        report.problems += expectation_problems(tables, engine, label="")
    report.seconds = time.perf_counter() - started
    return report

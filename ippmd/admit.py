"""Admit a valid submission into a package: validate, rebuild with it, keep it, as one transaction.

The submission is read once, into the package's staging folder; those bytes are validated, built
from, and kept in the package as <package>/admitted/<ISO3>/ with their checksums, so rebuilding
the package reproduces it and nothing outside the package changes. The package lock is held
from reading the current package to publishing, so two admits never lose a country; a failed or
killed admit leaves the previous package as it was (ippmd.core.publish).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ippmd.build import (
    Progress,
    admitted_submissions,
    checksum_problems,
    discard_staging,
    release_staged,
    stage_package,
    write_checksums,
)
from ippmd.core.errors import InputError, UsageError
from ippmd.core.i18n import t
from ippmd.core.io import descriptor_build_options, descriptor_countries, read_descriptor
from ippmd.core.publish import (
    ADMITTED,
    PACKAGE_ENTRIES,
    is_package_folder,
    new_staging,
    package_lock,
    publish,
    recover,
    recover_leftovers,
)
from ippmd.core.schema import SUBMISSION_TABLES
from ippmd.quality.archive import OpenSubmission, open_submission_files
from ippmd.quality.parallel import PARALLEL_MAX_SCALE, SuiteRunner
from ippmd.quality.report import Report
from ippmd.quality.validate import Engine, as_submitted, validate_submission
from ippmd.synth.generator import DEFAULT_SEED

SUBMISSION_FILES = ("metadata.yaml", *(f"{t}.csv" for t in SUBMISSION_TABLES))


def _current_package(out: Path) -> tuple[list[str], dict[str, int]]:
    """The countries, seed and scale of the package at `out`, so admitting one country keeps the rest."""
    descriptor = read_descriptor(out)
    return descriptor_countries(out, descriptor), descriptor_build_options(out, descriptor)


def _take_copy(path: Path, incoming: Path) -> OpenSubmission:
    """Copy the submission's files (CSV, after any Stata/SPSS conversion) once, to validate and keep;
    returns how to name the files as submitted (and what their value labels contradict).

    Only regular files at the submission's top level are copied (open_submission_files refuses links);
    every one of them is validated, so an unexpected file is reported, never ignored."""
    incoming.mkdir()
    with open_submission_files(path) as opened:
        for item in sorted(opened.folder.iterdir()):
            if item.is_file():
                shutil.copyfile(item, incoming / item.name)
    return opened


def admit(path: Path, out: Path, progress: Progress | None = None, engine: Engine = "gx") -> Report:
    """Validate `path`; if valid, add (or replace) its country in the package at `out`
    (`engine` of the package's expectation suites, as in `ippmd.build.build`)."""
    out = Path(out)
    recover_leftovers(out)  # a build killed mid-swap leaves no descriptor until it is rolled forward
    if not is_package_folder(out):
        raise UsageError(t("cli.no-package-to-admit", out=str(out)))
    report_step = progress or (lambda _step: None)
    with package_lock(out):
        recover(out)
        staging = new_staging(out)
        try:
            incoming = staging / "incoming"
            try:
                opened = _take_copy(path, incoming)
            except InputError as exc:
                return Report(target=str(path), problems=exc.problems)
            report_step(t("cli.step-validating"))
            report = validate_submission(incoming)
            report.problems[:0] = opened.problems
            as_submitted(report, opened)  # persons.dta, its observation and variable, not persons.csv
            report.target = str(path)
            if not report.valid:
                return report
            iso3 = str(report.country)
            for item in incoming.iterdir():  # keep what the package is built from, nothing else
                if item.name not in SUBMISSION_FILES:
                    item.unlink()
            write_checksums(incoming)
            countries, options = _current_package(out)
            admitted = admitted_submissions(out)
            stale = [p for folder in admitted.values() for p in checksum_problems(folder)]
            if stale:
                report.problems += stale
                return report
            scale = options.get("scale", 1)
            runner = SuiteRunner(staging) if scale <= PARALLEL_MAX_SCALE and engine == "gx" else None
            try:
                package = stage_package(
                    staging,
                    sorted({*countries, iso3}),
                    seed=options.get("seed", DEFAULT_SEED),
                    scale=scale,
                    report=report_step,
                    submissions={**admitted, iso3: incoming},
                    runner=runner,
                    expectations=True,
                    validated=frozenset({iso3}),
                    engine=engine,
                )
            except InputError as exc:
                report.problems += exc.problems
                return report
            finally:
                if runner is not None:
                    runner.close()
            release_staged(out, staging, package, report_step)
            (staging / ADMITTED).mkdir()
            os.replace(incoming, staging / ADMITTED / iso3)
            report_step(t("cli.step-replacing"))
            publish(staging, out, [f"{ADMITTED}/{iso3}", *PACKAGE_ENTRIES])
            report.layers.append("admitted")
        finally:
            discard_staging(staging)
    return report

"""Build orchestration (app floor): submissions -> harmonize -> quality suites -> package files.

The build streams country by country (read or synthesize, harmonize, check, append to the
files, free), so its memory is that of the largest country, not of the package. Everything is
written into a staging folder next to the target and swapped in by renames, so a failed build
leaves the previous package untouched.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.home import raw_root
from ippmd.core.i18n import t
from ippmd.core.io import DESCRIPTOR, sha256_file
from ippmd.core.metadata import country_codes
from ippmd.core.publish import (
    ADMITTED,
    JOURNAL,
    PACKAGE_ENTRIES,
    new_staging,
    package_lock,
    publish,
    recover,
)
from ippmd.core.schema import INDICATORS
from ippmd.harmonize.pipeline import country_row, harmonize
from ippmd.harmonize.submission import METADATA_FILE, Submission, read_submission
from ippmd.package.release import next_release
from ippmd.package.write import (
    SORT_KEYS,
    PackageWriter,
    country_indicators,
    descriptor,
    partition_column,
    published_sizes,
    released,
)
from ippmd.quality.parallel import PARALLEL_MAX_SCALE, Pending, SuiteRunner
from ippmd.quality.validate import Engine, expectation_problems, validate_submission
from ippmd.synth.generator import DEFAULT_SEED, write_submission

Progress = Callable[[str], None]


CHECKSUMS = "SHA256SUMS"  # in each admitted folder: the files as validated, `sha256sum -c` format


def raw_submission_dir(iso3: str) -> Path | None:
    """A licensee's raw files (countries/<ISO3>/raw/), which take precedence over synthetic ones."""
    raw = raw_root() / iso3 / "raw"
    return raw if (raw / METADATA_FILE).exists() else None


def admitted_submissions(out: Path) -> dict[str, Path]:
    """The submissions admitted into the package at `out`, by ISO3: what rebuilding it reads."""
    return {p.parent.name: p.parent for p in sorted((Path(out) / ADMITTED).glob(f"*/{METADATA_FILE}"))}


def write_checksums(folder: Path) -> None:
    """Record the SHA-256 of every file of an admitted submission (sha256sum format)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS)
    lines = [f"{sha256_file(p)}  {p.name}" for p in files]
    (folder / CHECKSUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def checksum_problems(folder: Path) -> list[Problem]:
    """Files of an admitted submission that changed, vanished or appeared since it was admitted."""
    listing = folder / CHECKSUMS
    if not listing.is_file():
        return [Problem(str(listing), t("package.admitted-no-checksums"), code="hash-count")]
    expected = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        expected[name] = digest
    problems = []
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS}
    for name in sorted(present | set(expected)):
        path = folder / name
        if name not in expected:
            problems.append(Problem(str(path), t("package.admitted-extra-file"), code="hash-count"))
        elif name not in present:
            problems.append(Problem(str(path), t("package.admitted-file-missing"), code="missing-file"))
        elif sha256_file(path) != expected[name]:
            problems.append(Problem(str(path), t("package.admitted-file-changed"), code="hash-count"))
    return problems


def package_countries(out: Path | None = None) -> list[str]:
    """Countries with metadata, plus any with raw files or admitted into the package at `out`."""
    raw = {p.parent.parent.name for p in raw_root().glob(f"*/raw/{METADATA_FILE}")}
    admitted = set(admitted_submissions(out)) if out is not None else set()
    return sorted(set(country_codes()) | raw | admitted)


def load_submission(
    iso3: str, workdir: Path, seed: int, scale: int, folder: Path | None = None
) -> Submission:
    raw = folder or raw_submission_dir(iso3)
    if raw is not None:
        return read_submission(raw)
    return read_submission(write_submission(iso3, workdir / "submissions" / iso3, seed=seed, scale=scale))


# Countries are checked together in one GX call until they hold this many persons: a GX call
# costs about 2 s whatever its rows (metric graphs per expectation), so the ten countries of a
# default build share one; a country at --scale 100 (about a million persons, as pandas) is
# checked alone. Tables above it are split country by country.
GX_CHUNK_ROWS = 250_000


def expectation_failures(tables: dict[str, pl.DataFrame], engine: Engine = "gx") -> list[Problem]:
    """The expectation suites (Great Expectations) on harmonized tables, as problems.

    Every rule is within one country (ids carry the country), so tables of several large
    countries are checked country by country: same verdict, a fraction of the memory. One
    country is never split (a filter would copy it whole).
    """
    countries = tables["countries"]["iso3"].to_list()
    if tables["persons"].height <= GX_CHUNK_ROWS or len(countries) == 1:
        chunks = [tables]
    else:
        chunks = [
            {name: frame.filter(pl.col(partition_column(name)) == iso3) for name, frame in tables.items()}
            for iso3 in countries
        ]
    return [p for chunk in chunks for p in expectation_problems(chunk, engine, label="harmonized ")]


def _country_tables(
    iso3: str, staging: Path, seed: int, scale: int, folder: Path | None
) -> dict[str, pl.DataFrame]:
    """One country's `countries` row and harmonized tables; its synthetic files are deleted once read."""
    sub = load_submission(iso3, staging, seed, scale, folder)
    shutil.rmtree(staging / "submissions" / iso3, ignore_errors=True)  # only synthetic ones live there
    if sub.iso3 != iso3:  # its rows would land in another country's partition
        raise InputError(
            [
                Problem(
                    str(sub.folder / METADATA_FILE),
                    t("package.submission-other-country", found=sub.iso3, given=iso3),
                    field="country_iso3",
                    value=sub.iso3,
                )
            ]
        )
    tables = harmonize(sub)
    published, published_source = published_sizes(iso3)
    return {"countries": country_row(sub, tables, published, published_source), **tables}


Batch = list[tuple[str, dict[str, pl.DataFrame]]]  # (ISO3, its tables), in country order


class Checks:
    """Where the expectation suites run for one build: a worker process, or this one."""

    def __init__(self, runner: SuiteRunner | None, engine: Engine = "gx") -> None:
        self.runner = runner if engine == "gx" else None
        self.engine = engine
        self.problems: list[Problem] = []
        self.pending: list[Pending] = []  # answers still to come from the worker

    def check(self, tables: dict[str, pl.DataFrame]) -> None:
        if self.runner is None:
            self.problems += expectation_failures(tables, self.engine)
        else:
            self.pending.append(self.runner.submit(tables))

    def verdict(self) -> list[Problem]:
        """Every problem found, once the worker has judged every batch."""
        for future in self.pending:
            self.problems += future.result()
        self.pending.clear()
        return self.problems


def _check_and_write(batch: Batch, writer: PackageWriter, checks: Checks | None, report: Progress) -> None:
    """Check a batch of countries in one GX call, append each to the files, and free the batch.

    The files are staged, so they may be written before the verdict (the worker judges them
    meanwhile); after a failure found in this process nothing more is written, but the remaining
    countries are still checked, so one build reports the problems of every country.
    """
    if checks is not None:
        report(f"{', '.join(iso3 for iso3, _ in batch)}: checking expectation suites")
        names = batch[0][1].keys()
        checks.check({n: pl.concat([t[n] for _, t in batch]) for n in names})
    if checks is None or not checks.problems:
        for iso3, tables in batch:
            report(f"{iso3}: writing")
            for name, frame in tables.items():
                writer.write(name, iso3, frame.sort(SORT_KEYS[name]))
    batch.clear()


def stage_package(
    staging: Path,
    countries: Sequence[str],
    *,
    seed: int,
    scale: int,
    report: Progress,
    submissions: dict[str, Path],
    runner: SuiteRunner | None,
    expectations: bool,
    validated: frozenset[str] = frozenset(),
    engine: Engine = "gx",
) -> dict[str, Any]:
    """Write a whole package (data/ and datapackage.json) into the staging folder; its descriptor.

    The expectation suites run on the harmonized tables (small countries batched into one GX
    call, large ones alone); a failure stops the build (InputError, with the problems of every
    country). Countries are processed in sorted order and freed once written: ids start with
    the ISO3 code, so appending them keeps every file in its global order.
    """
    rows: list[pl.DataFrame] = []  # the countries table, one row per country
    checks = Checks(runner, engine) if expectations else None  # problems of every country, at once
    batch: Batch = []  # countries read, not yet checked and written
    raw_problems = _raw_submission_problems(countries, submissions, validated, report)
    if raw_problems:
        raise InputError(raw_problems)
    with PackageWriter(staging / "data") as writer:
        for iso3 in countries:
            report(f"{iso3}: reading submission and harmonizing")
            tables = _country_tables(iso3, staging, seed, scale, submissions.get(iso3))
            rows.append(tables["countries"])
            batch.append((iso3, tables))
            del tables  # the batch holds the only reference: freed once written
            if not expectations or sum(t["persons"].height for _, t in batch) >= GX_CHUNK_ROWS:
                _check_and_write(batch, writer, checks, report)
        if batch:
            _check_and_write(batch, writer, checks, report)
        if checks is not None:
            report("waiting for the expectation suites")
            if checks.verdict():
                raise InputError(checks.problems)
        report("writing indicators")
        indicators = country_indicators(countries)  # in the committed file's order (iso3 first)
        for iso3 in countries:
            writer.write(INDICATORS, iso3, indicators.filter(pl.col("iso3") == iso3))
    package = descriptor(
        pl.concat(rows, how="vertical"), indicators, writer.files, staging, {"seed": seed, "scale": scale}
    )
    write_descriptor(staging, package)
    return package


def write_descriptor(folder: Path, package: dict[str, Any]) -> None:
    (folder / DESCRIPTOR).write_text(
        json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def release_staged(out: Path, staging: Path, package: dict[str, Any], report: Progress) -> dict[str, Any]:
    """Give the staged package its version and `changes` from the package at `out` it replaces
    (ippmd.package.release): same data keep the version, changed data bump it. A previous package
    that cannot be read (a damaged file) has no version to continue: the staged one keeps the
    base version, and the progress says so."""
    previous = out if (out / DESCRIPTOR).is_file() else None
    try:
        version, changes = next_release(previous, staging)
    except InputError as exc:
        unreadable = exc.problems[0].message
        report(f"the package being replaced cannot be read ({unreadable}): version {package['version']}")
        version, changes = next_release(None, staging)
    package = released(package, version, changes)
    write_descriptor(staging, package)
    return package


def _raw_submission_problems(
    countries: Sequence[str], submissions: dict[str, Path], validated: frozenset[str], report: Progress
) -> list[Problem]:
    """Every problem of the submissions a build reads (admitted into the package, or a licensee's
    raw files in countries/<ISO3>/raw/), by the same layers as `ippmd validate`, each named by its
    file path: a kept file edited with its checksum is caught too. `validated` ones (an admit's,
    just validated) and synthetic ones (generated valid) are not validated again."""
    problems: list[Problem] = []
    for iso3 in countries:
        raw = None if iso3 in validated else submissions.get(iso3) or raw_submission_dir(iso3)
        if raw is None:
            continue
        report(f"{iso3}: validating the raw submission")
        found = validate_submission(raw)
        problems += [replace(p, file=str(raw / p.file)) for p in found.problems if p.severity == "error"]
    return problems


def discard_staging(staging: Path) -> None:
    """Remove a staging folder, unless it passed the commit point: then the next writer rolls it
    forward (removing it could lose the package's previous data, already moved aside)."""
    if not (staging / JOURNAL).exists():
        shutil.rmtree(staging, ignore_errors=True)


def build(
    out: Path,
    countries: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    scale: int = 1,
    progress: Progress | None = None,
    submissions: dict[str, Path] | None = None,
    expectations: bool = True,
    suite_runner: SuiteRunner | None = None,
    engine: Engine = "gx",
    extra_entries: Callable[[Path], Sequence[str]] | None = None,
    release: bool = False,
) -> dict[str, Any]:
    """Build the package into `out` (data/ and datapackage.json), as one transaction; returns the
    descriptor.

    Holds the package lock from reading what is there to publishing, so concurrent writers are
    serialised; finishes or removes what killed writers left first. `submissions` overrides
    where a country's submission is read from (by default: those admitted into `out`, then raw
    files, then synthetic). `suite_runner`: a GX worker the caller started earlier (the CLI starts
    it before its imports); by default the build starts one itself up to PARALLEL_MAX_SCALE.
    `extra_entries(staging)` stages more entries to publish with the package (used by admit).
    `engine`: the expectation suites in Great Expectations ("gx", the reference) or translated
    to polars ("polars": the same suites, held to GX's verdicts by the tests, without GX's start).
    The version continues the package in `out` (ippmd.package.release); `release`: the code's own
    release instead, at schemas/package.yaml's version, as a fresh folder would get it.
    """
    seed = DEFAULT_SEED if seed is None else seed
    report = progress or (lambda _step: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with package_lock(out):
        recover(out)  # a killed writer's leftovers: finished or removed
        admitted = admitted_submissions(out)
        problems = [p for folder in admitted.values() for p in checksum_problems(folder)]
        if problems:
            raise InputError(problems)
        explicit = submissions or {}
        chosen = sorted(set(countries or package_countries(out)) | set(explicit))
        submissions = {**admitted, **explicit}
        staging = new_staging(out)
        own_runner = suite_runner is None and expectations and engine == "gx" and scale <= PARALLEL_MAX_SCALE
        runner = SuiteRunner(staging) if own_runner else suite_runner if expectations else None
        try:
            package = stage_package(
                staging,
                chosen,
                seed=seed,
                scale=scale,
                report=report,
                submissions=submissions,
                runner=runner,
                expectations=expectations,
                validated=frozenset(explicit),
                engine=engine,
            )
            if not release:
                package = release_staged(out, staging, package, report)
            entries = [*(extra_entries(staging) if extra_entries else ()), *PACKAGE_ENTRIES]
            report("replacing the package")
            publish(staging, out, entries)
        finally:
            if own_runner and runner is not None:
                runner.close()
            discard_staging(staging)
    return package

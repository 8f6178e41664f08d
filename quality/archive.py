"""Open a submission (folder or .zip) safely: nothing is written outside a temporary folder.

Refused: entries with absolute paths or '..', links, nested archives, more than MAX_ENTRIES
entries, and more than MAX_UNPACKED_BYTES unpacked (counted while reading, not trusted from the
zip header), so a decompression bomb stops early.
"""

from __future__ import annotations

import bisect
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import polars as pl

from ippmd.core.errors import InputError, Problem
from ippmd.core.i18n import t
from ippmd.core.limits import limit
from ippmd.harmonize.submission import STAT_SUFFIXES, read_stat_table, table_files
from ippmd.quality.structural import problem

# The limits of a submission as a whole, with their reasons, in core/limits.yaml.
MAX_UNPACKED_BYTES = limit("unpacked_bytes")
MAX_ENTRIES = limit("entries")
MAX_RATIO = limit("compression_ratio")


def _unsafe(file: str, message: str) -> InputError:
    return InputError([problem("unsafe-archive", file, message)])


def _check_folder(folder: Path) -> None:
    """Links, too many entries or too many bytes, from the folder listing (nothing is read)."""
    total = 0
    for count, path in enumerate(folder.rglob("*"), start=1):
        if path.is_symlink():
            raise _unsafe(str(path), t("archive.symlink"))
        if count > MAX_ENTRIES:
            raise _unsafe(str(folder), t("archive.too-many-files", limit=MAX_ENTRIES))
        if not path.is_dir() and not path.is_file():  # a FIFO, socket or device: reading would hang
            raise _unsafe(str(path), t("archive.not-regular"))
        if path.is_file():
            total += path.stat().st_size
            if total > MAX_UNPACKED_BYTES:
                raise InputError(
                    [
                        problem(
                            "submission-too-large",
                            str(path.relative_to(folder)),
                            t("archive.folder-too-large", size=total / 2**20, limit=MAX_UNPACKED_BYTES >> 20),
                        )
                    ]
                )


def _extract(archive: Path, target: Path) -> Path:
    label = archive.name
    target.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _unsafe(label, t("archive.not-zip", error=str(exc))) from exc
    with zf:
        entries = zf.infolist()
        if len(entries) > MAX_ENTRIES:
            raise _unsafe(label, t("archive.too-many-entries", count=len(entries), limit=MAX_ENTRIES))
        total = 0
        for entry in entries:
            name = entry.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
                raise _unsafe(f"{label}:{name}", t("archive.entry-outside"))
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise _unsafe(f"{label}:{name}", t("archive.entry-symlink"))
            if entry.is_dir():
                continue
            if name.lower().endswith((".zip", ".gz", ".tar", ".7z", ".rar")):
                raise _unsafe(f"{label}:{name}", t("archive.nested"))
            if entry.compress_size and entry.file_size / entry.compress_size > MAX_RATIO:
                raise _unsafe(f"{label}:{name}", t("archive.bomb"))
            destination = target.joinpath(*parts)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(entry) as source, destination.open("xb") as sink:
                    while block := source.read(1 << 20):
                        total += len(block)
                        if total > MAX_UNPACKED_BYTES:
                            raise InputError(
                                [
                                    problem(
                                        "submission-too-large",
                                        label,
                                        t("archive.zip-too-large", limit=MAX_UNPACKED_BYTES >> 20),
                                    )
                                ]
                            )
                        sink.write(block)
            except (OSError, zipfile.BadZipFile, RuntimeError) as exc:  # duplicates, file vs folder, corrupt
                raise _unsafe(
                    f"{label}:{name}", t("archive.entry-unreadable", error=exc.__class__.__name__)
                ) from exc
    return _submission_root(target)


def _submission_root(folder: Path) -> Path:
    """The folder holding metadata.yaml: the root or a single top-level folder."""
    if (folder / "metadata.yaml").exists():
        return folder
    children = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("__MACOSX", "."))]
    if len(children) == 1 and (children[0] / "metadata.yaml").exists():
        beside = sorted(p.name for p in folder.iterdir() if p != children[0] and p.name != "__MACOSX")
        if beside:  # not scanned with the submission, so never ignored in silence either
            raise InputError(
                [
                    problem(
                        "unexpected-file",
                        name,
                        t("archive.beside-folder", folder=children[0].name),
                    )
                    for name in beside
                ]
            )
        return children[0]
    return folder


@dataclass(frozen=True)
class Converted:
    """A Stata or SPSS table validated as `<table>.csv`: its name as submitted, and the last CSV
    line of each record (None when each record is one line: record n = line n + 1)."""

    name: str
    ends: list[int] | None = None
    variables: dict[str, str] = field(default_factory=dict)  # schema name -> the file's, where they differ

    def record(self, line: int | None) -> int | None:
        """The record number (Stata's observation, SPSS's case) of a CSV line; None for the header."""
        if line is None or line < 2:
            return None
        return line - 1 if self.ends is None else bisect.bisect_left(self.ends, line) + 1


@dataclass
class OpenSubmission:
    """A submission with every table as `<table>.csv`, and how to name its files as submitted."""

    folder: Path
    converted: dict[str, Converted] = field(default_factory=dict)  # by table
    problems: list[Problem] = field(default_factory=list)  # value labels that contradict the schema

    def as_submitted(self, p: Problem) -> Problem:
        """A problem found in a converted table, at the file, record and variable as submitted."""
        table = p.file.removesuffix(".csv")
        if table in self.converted and p.file == f"{table}.csv":
            converted = self.converted[table]
            names = converted.variables
            variable = "+".join(names.get(f, f) for f in p.field.split("+")) if p.field else p.field
            p = replace(p, file=converted.name, row=converted.record(p.row), field=variable)
        return replace(p, message=self.text_as_submitted(p.message))

    def text_as_submitted(self, text: str) -> str:
        for table, converted in self.converted.items():
            text = re.sub(rf"\b{table}\.csv\b", converted.name, text)
        return text


def _record_ends(frame: pl.DataFrame) -> list[int] | None:
    """The last CSV line of each record, when a cell holds a line break (the record spans lines)."""
    if not frame.columns:
        return None
    breaks = frame.select(
        pl.sum_horizontal(pl.all().str.count_matches(r"\r\n|\r|\n").fill_null(0))
    ).to_series()
    if not (breaks > 0).any():
        return None
    return ((breaks + 1).cum_sum() + 1).to_list()


def _as_csv(folder: Path, tables: dict[str, Path], target: Path) -> OpenSubmission:
    """A copy of the submission with its Stata/SPSS tables written as `<table>.csv`."""
    stat = {table: path for table, path in tables.items() if path.suffix in STAT_SUFFIXES}
    if not stat:
        return OpenSubmission(folder)
    converted = {path.name for path in stat.values()}

    def ignored(directory: str, names: list[str]) -> list[str]:
        return [name for name in names if Path(directory) == folder and name in converted]

    shutil.copytree(folder, target, ignore=ignored)  # other files too: they are checked as extra files
    opened = OpenSubmission(target)
    for table, path in stat.items():
        read = read_stat_table(path, table)
        read.frame.write_csv(target / f"{table}.csv", null_value="")
        opened.converted[table] = Converted(path.name, _record_ends(read.frame), read.variables)
        opened.problems += read.problems
    return opened


@contextmanager
def open_submission_files(path: Path) -> Iterator[OpenSubmission]:
    """The submission with its tables as CSV (a zip unpacked, Stata/SPSS tables converted, in a
    temporary folder), and the names of its files as submitted."""
    path = Path(path)
    if path.is_symlink():
        raise _unsafe(str(path), t("archive.submission-symlink"))
    tmp = Path(tempfile.mkdtemp(prefix="ippmd-submission-"))
    try:
        if path.is_dir():
            _check_folder(path)
            folder = _submission_root(path)
        elif path.is_file() and path.suffix.lower() == ".zip":
            folder = _extract(path, tmp / "unpacked")
        else:
            raise InputError([Problem(str(path), t("archive.not-a-submission"), code="unusable-input")])
        yield _as_csv(folder, table_files(folder), tmp / "csv")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

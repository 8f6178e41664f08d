"""Open a submission (folder or .zip) safely: nothing is written outside a temporary folder.

Refused: entries with absolute paths or '..', links, nested archives, more than MAX_ENTRIES
entries, and more than MAX_UNPACKED_BYTES unpacked (counted while reading, not trusted from the
zip header), so a decompression bomb stops early.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ippmd.core.errors import InputError, Problem
from ippmd.core.limits import limit
from ippmd.core.schema import SUBMISSION_TABLES
from ippmd.harmonize.submission import read_stat_table
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
            raise _unsafe(str(path), "symbolic links are not allowed in a submission")
        if count > MAX_ENTRIES:
            raise _unsafe(str(folder), f"more than {MAX_ENTRIES} files and folders; send only the submission")
        if not path.is_dir() and not path.is_file():  # a FIFO, socket or device: reading would hang
            raise _unsafe(str(path), "only regular files and folders are allowed in a submission")
        if path.is_file():
            total += path.stat().st_size
            if total > MAX_UNPACKED_BYTES:
                raise InputError(
                    [
                        problem(
                            "submission-too-large",
                            str(path.relative_to(folder)),
                            f"the submission's files reach {total / 2**20:,.0f} MiB here, over the "
                            f"limit of {MAX_UNPACKED_BYTES >> 20} MiB in all (nothing was read)",
                        )
                    ]
                )


def _extract(archive: Path, target: Path) -> Path:
    label = archive.name
    target.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _unsafe(label, f"not a readable zip file: {exc}") from exc
    with zf:
        entries = zf.infolist()
        if len(entries) > MAX_ENTRIES:
            raise _unsafe(label, f"{len(entries)} entries; at most {MAX_ENTRIES} allowed")
        total = 0
        for entry in entries:
            name = entry.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
                raise _unsafe(f"{label}:{name}", "entry path is absolute or leaves the archive ('..')")
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise _unsafe(f"{label}:{name}", "entry is a symbolic link")
            if entry.is_dir():
                continue
            if name.lower().endswith((".zip", ".gz", ".tar", ".7z", ".rar")):
                raise _unsafe(f"{label}:{name}", "nested archives are not allowed")
            if entry.compress_size and entry.file_size / entry.compress_size > MAX_RATIO:
                raise _unsafe(f"{label}:{name}", "compression ratio is that of a decompression bomb")
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
                                        f"unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB",
                                    )
                                ]
                            )
                        sink.write(block)
            except (OSError, zipfile.BadZipFile, RuntimeError) as exc:  # duplicates, file vs folder, corrupt
                raise _unsafe(
                    f"{label}:{name}", f"entry cannot be unpacked: {exc.__class__.__name__}"
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
                        f"lies beside the submission's folder {children[0].name}/: send one folder "
                        "(metadata.yaml and the four tables), nothing else",
                    )
                    for name in beside
                ]
            )
        return children[0]
    return folder


def _stat_tables(folder: Path) -> dict[str, Path]:
    """Tables given only as Stata (.dta) or SPSS (.sav) files."""
    found = {}
    for table in SUBMISSION_TABLES:
        if (folder / f"{table}.csv").exists():
            continue
        for suffix in (".dta", ".sav"):
            if (folder / f"{table}{suffix}").is_file():
                found[table] = folder / f"{table}{suffix}"
                break
    return found


def _as_csv(folder: Path, stat_files: dict[str, Path], target: Path) -> Path:
    """A copy of the submission with Stata/SPSS tables written as CSV (row n = record n - 1)."""
    for item in folder.iterdir():
        if item.is_file() and item.suffix.lower() not in (".dta", ".sav"):
            shutil.copy2(item, target / item.name)
    for table, path in stat_files.items():
        frame = read_stat_table(path)
        frame.write_csv(target / f"{table}.csv", null_value="")
    return target


@contextmanager
def open_submission(path: Path) -> Iterator[Path]:
    """Yield a folder with the submission's files as CSV; a zip is unpacked into a temporary folder."""
    path = Path(path)
    if path.is_symlink():
        raise _unsafe(str(path), "the submission itself is a symbolic link")
    tmp = Path(tempfile.mkdtemp(prefix="ippmd-submission-"))
    try:
        if path.is_dir():
            _check_folder(path)
            folder = _submission_root(path)
        elif path.is_file() and path.suffix.lower() == ".zip":
            folder = _extract(path, tmp / "unpacked")
        else:
            raise InputError(
                [Problem(str(path), "not a submission folder or .zip file", code="unusable-input")]
            )
        stat_files = _stat_tables(folder)
        if stat_files:
            (tmp / "csv").mkdir()
            folder = _as_csv(folder, stat_files, tmp / "csv")
        yield folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

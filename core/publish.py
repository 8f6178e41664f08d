"""Publishing into a package folder as a transaction: one writer at a time, all or nothing.

A writer takes the package's lock, stages everything it will publish in a hidden folder beside
the package, writes a journal (the commit point), then moves the staged entries into place, the
descriptor last. Killed before the journal, the staging folder is removed by the next writer and
the old package was never touched; killed after it, the next writer finishes the moves (roll
forward). Either way the next writer leaves one consistent package and no leftovers.

`IPPMD_KILL_AT=<step>` kills the process with SIGKILL at that step: a test hook, so the tests can
prove that every step is safe (see `STEPS`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ippmd.core.errors import UsageError
from ippmd.core.io import DESCRIPTOR, remove_stale_staging, staging_folder, write_atomic

LOCK_FILE = ".ippmd.lock"
STAGING_PREFIX = ".ippmd-build-"
GX_STAGING_PREFIX = ".ippmd-gx-"  # the expectation worker of a CLI build (quality/parallel.py)
JOURNAL = "journal.json"  # in the staging folder: present = committed, roll forward
PREVIOUS = "previous"  # in the staging folder: what the moves replaced, removed at the end
KILL_ENV = "IPPMD_KILL_AT"
LOCK_WAIT_ENV = "IPPMD_LOCK_WAIT"
LOCK_WAIT_SECONDS = 600.0  # how long a second writer waits for the first (assumed: a 100x build takes ~3 min)

# The steps of publishing, in order, where IPPMD_KILL_AT can kill the process.
STEPS = ("staged", "committed", "moved-previous", "moved", "published")

ADMITTED = "admitted"  # <package>/admitted/<ISO3>/: the submissions admitted into that package
PACKAGE_ENTRIES = ("data", DESCRIPTOR)  # what a build publishes, the descriptor last


_passed: dict[str, int] = {}


def kill_point(step: str) -> None:
    """The crash-injection hook: SIGKILL this process when IPPMD_KILL_AT names `step`, or
    `step:n` for its n-th pass (the moves pass "moved" once per entry)."""
    wanted = os.environ.get(KILL_ENV)
    if not wanted:
        return
    _passed[step] = _passed.get(step, 0) + 1
    if wanted in (step, f"{step}:{_passed[step]}"):
        os.kill(os.getpid(), signal.SIGKILL)


def _lock_holder(handle) -> str:
    handle.seek(0)
    pid = handle.read().strip()
    return f"process {pid}" if pid else "another process"


def _say(message: str) -> None:
    print(f"ippmd: {message}", file=sys.stderr, flush=True)


@contextmanager
def package_lock(folder: Path, notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Serialise the writers of one package folder (an advisory flock on <folder>/.ippmd.lock).

    A second writer waits (up to $IPPMD_LOCK_WAIT seconds, default 600) and then fails with exit 2,
    so two `admit`s never both read the old package and lose one country."""
    folder = Path(folder)
    wait = float(os.environ.get(LOCK_WAIT_ENV, LOCK_WAIT_SECONDS))
    path = folder / LOCK_FILE
    try:  # never through a link: a planted one would make us overwrite its target
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"{path} is a symbolic link, not the package's lock file: remove it") from None
        raise
    handle = os.fdopen(fd, "a+", encoding="utf-8")
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise UsageError(
                    f"{folder} is being written by {_lock_holder(handle)}; gave up after {wait:g} s "
                    f"(try again when it has finished, or set ${LOCK_WAIT_ENV})"
                )
            if not told:
                said = f"waiting for {_lock_holder(handle)}, which is writing to {folder}"
                (notify or _say)(said)
                told = True
            time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock


def new_staging(out: Path) -> Path:
    """A staging folder beside the package (same file system, so publishing is by renames)."""
    return staging_folder(Path(out), STAGING_PREFIX)


def publish(staging: Path, out: Path, entries: Sequence[str]) -> None:
    """Move staged `entries` (paths relative to the staging folder) into `out`, in order.

    Call it holding the package lock. Put the descriptor last: until it moves, readers see the
    old descriptor. The journal written first makes the moves survivable: see `recover`."""
    missing = [e for e in entries if not (staging / e).exists()]
    if missing:
        raise FileNotFoundError(errno.ENOENT, "staged entry missing", str(staging / missing[0]))
    kill_point("staged")
    write_atomic(staging / JOURNAL, json.dumps({"entries": list(entries)}))
    kill_point("committed")
    _roll_forward(staging, Path(out))
    kill_point("published")
    shutil.rmtree(staging, ignore_errors=True)


def _roll_forward(staging: Path, out: Path) -> None:
    """Do the journal's moves that are not done yet (idempotent: safe to repeat after a kill)."""
    entries = json.loads((staging / JOURNAL).read_text(encoding="utf-8"))["entries"]
    allowed = (ADMITTED, *PACKAGE_ENTRIES)
    for entry in entries:  # only the package's own places, whatever a planted journal says
        parts = Path(entry).parts
        if not parts or parts[0] not in allowed or ".." in parts or Path(entry).is_absolute():
            raise UsageError(f"{staging / JOURNAL} names {entry!r}, not a place of the package: remove it")
    for entry in entries:
        source = staging / entry
        if not source.exists():
            continue  # moved before the kill
        target = out / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            kept = staging / PREVIOUS / entry
            kept.parent.mkdir(parents=True, exist_ok=True)
            if kept.exists():  # cannot happen under the lock; never lose the staged entry
                raise FileExistsError(errno.EEXIST, "previous entry already kept", str(kept))
            os.replace(target, kept)
            kill_point("moved-previous")
        os.replace(source, target)
        kill_point("moved")
    _sync_folder(out)


def _sync_folder(folder: Path) -> None:
    """fsync a folder so its renames survive a power cut, not only a kill."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def recover(out: Path) -> list[Path]:
    """Finish or undo what killed writers left in `out`. Call it holding the lock: then no other
    writer is alive, so every staging folder is a leftover.

    A leftover that holds a journal passed the commit point and is rolled forward; every leftover
    is then removed. Returns the folders dealt with."""
    handled = []
    for folder in sorted(Path(out).glob(f"{STAGING_PREFIX}*")):
        if folder.is_symlink():  # never ours (ours are made by mkdtemp): remove the link only
            folder.unlink()
            continue
        if not folder.is_dir():
            continue
        if (folder / JOURNAL).is_file():
            _roll_forward(folder, Path(out))
        shutil.rmtree(folder)
        handled.append(folder)
    return handled + remove_stale_staging(Path(out), GX_STAGING_PREFIX)  # a killed build's GX worker


def is_package_folder(folder: Path) -> bool:
    """Whether `folder` holds a package this program built (its descriptor says so)."""
    try:
        descriptor = json.loads((Path(folder) / DESCRIPTOR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(descriptor, dict) and descriptor.get("name") == "ippmd" and "build" in descriptor


def check_target(out: Path, force: bool = False) -> None:
    """Refuse (exit 2) to build into a folder of other files: a build replaces data/ whole.

    Allowed: a new or empty folder, or one holding an ippmd package. `force` allows a folder with
    other files too, but never one whose data/ or datapackage.json are not an ippmd package's."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder")
    if not out.exists() or is_package_folder(out):
        return
    entries = sorted(p.name for p in out.iterdir() if not p.name.startswith(".ippmd"))
    if not entries:
        return
    ours = [name for name in (*PACKAGE_ENTRIES, ADMITTED) if name in entries]
    if ours:
        raise UsageError(
            f"{out} has a {ours[0]} that is not an ippmd package's; a build would replace it: "
            "move it away or choose another folder"
        )
    if not force:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise UsageError(
            f"{out} is not empty ({shown}) and holds no ippmd package: choose a new or empty folder, "
            "or pass --force to add data/ and datapackage.json beside those files"
        )

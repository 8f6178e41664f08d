"""Publishing into a package folder as a transaction: one writer at a time, all or nothing.

A writer takes the package's lock, stages everything it will publish in a hidden folder beside
the package, writes a journal (the commit point), then moves the staged entries into place, the
descriptor last. Killed before the journal, the staging folder is removed by the next writer and
the old package was never touched; killed after it, the next writer finishes the moves (roll
forward), unless the package no longer lets them finish: then they are undone (roll back). A
leftover whose journal is missing or cannot be trusted (empty, truncated, malformed, a staged
entry no publish stages) never moved anything, since the journal is written before any move:
what it kept only fills a place of the package that is empty, never replaces what is there.
Either way the next writer leaves no leftovers and says in one line what it did; so does the next
reader (`recover_before_reading`: a reader recovers the package it was told to read, and only it).

`IPPMD_KILL_AT=<step>` kills the process with SIGKILL at that step: a test hook, so the tests can
prove that every step is safe (see `STEPS`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ippmd.core.env import env_seconds, env_step
from ippmd.core.errors import UsageError
from ippmd.core.io import DESCRIPTOR, remove_stale_staging, staging_folder, write_atomic
from ippmd.core.text import printable

Notify = Callable[[str], None]

LOCK_FILE = ".ippmd.lock"
STAGING_PREFIX = ".ippmd-build-"
GX_STAGING_PREFIX = ".ippmd-gx-"  # the expectation worker of a CLI build (quality/parallel.py)
JOURNAL = "journal.json"  # in the staging folder: present and whole = committed, roll forward
JOURNAL_MAX_BYTES = 65536  # a journal lists a few entries: anything longer is not one
PREVIOUS = "previous"  # in the staging folder: what the moves replaced, removed at the end
KILL_ENV = "IPPMD_KILL_AT"
LOCK_WAIT_ENV = "IPPMD_LOCK_WAIT"
LOCK_WAIT_SECONDS = 600.0  # how long a second writer waits for the first (assumed: a 100x build takes ~3 min)

# The steps of publishing, in order, where IPPMD_KILL_AT can kill the process.
STEPS = ("staged", "committed", "moved-previous", "moved", "published")

ADMITTED = "admitted"  # <package>/admitted/<ISO3>/: the submissions admitted into that package
PACKAGE_ENTRIES = ("data", DESCRIPTOR)  # what a build publishes, the descriptor last
ADMITTED_NAME = re.compile(r"[A-Za-z0-9._-]+")  # admitted/<name>: one plain name, never a path


_passed: dict[str, int] = {}


def kill_point(step: str) -> None:
    """The crash-injection hook: SIGKILL this process when IPPMD_KILL_AT names `step`, or
    `step:n` for its n-th pass (the moves pass "moved" once per entry)."""
    wanted = env_step(KILL_ENV, STEPS)
    if wanted is None:
        return
    _passed[step] = _passed.get(step, 0) + 1
    if wanted[0] == step and wanted[1] in (None, _passed[step]):
        os.kill(os.getpid(), signal.SIGKILL)


def _lock_holder(handle: IO[str]) -> str:
    handle.seek(0)
    pid = handle.read().strip()
    return f"process {pid}" if pid else "another process"


def _say(message: str) -> None:
    print(f"ippmd: {message}", file=sys.stderr, flush=True)


@contextmanager
def package_lock(folder: Path, notify: Notify | None = None) -> Iterator[None]:
    """Serialise the writers of one package folder (an advisory flock on <folder>/.ippmd.lock).

    A second writer waits (up to $IPPMD_LOCK_WAIT seconds, default 600) and then fails with exit 2,
    so two `admit`s never both read the old package and lose one country."""
    folder = Path(folder)
    wait = env_seconds(LOCK_WAIT_ENV, LOCK_WAIT_SECONDS)
    env_step(KILL_ENV, STEPS)  # a wrong test hook fails now, before any work
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
    foreign = [e for e in entries if not is_package_place(e)]
    if foreign:
        raise ValueError(f"{foreign[0]!r} is not a place of the package")
    missing = [e for e in entries if not (staging / e).exists()]
    if missing:
        raise FileNotFoundError(errno.ENOENT, "staged entry missing", str(staging / missing[0]))
    blocked = [obstacle for e in entries if (obstacle := _obstacle_on_the_way(Path(out), e)) is not None]
    if blocked:  # refused before the journal: a move could not land there, nothing is touched
        raise UsageError(f"cannot publish into {out}: {blocked[0]}: move it away")
    kill_point("staged")
    write_atomic(staging / JOURNAL, json.dumps({"entries": list(entries)}))
    kill_point("committed")
    _roll_forward(staging, Path(out), entries)
    kill_point("published")
    shutil.rmtree(staging, ignore_errors=True)


def is_package_place(entry: str) -> bool:
    """Whether a journal's entry names a place a publish may replace: data/, the descriptor, or
    one admitted submission (admitted/<name>); never a path that climbs out or is absolute."""
    if entry in PACKAGE_ENTRIES:
        return True
    top, _, name = entry.partition("/")
    return top == ADMITTED and ADMITTED_NAME.fullmatch(name) is not None and name not in (".", "..")


def _roll_forward(staging: Path, out: Path, entries: Sequence[str]) -> None:
    """Do the journal's moves that are not done yet (idempotent: safe to repeat after a kill)."""
    for entry in entries:
        source = staging / entry
        if not source.exists():
            continue  # moved before the kill
        target = out / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if _lexists(target):
            kept = staging / PREVIOUS / entry
            kept.parent.mkdir(parents=True, exist_ok=True)
            if kept.exists():  # cannot happen under the lock; never lose the staged entry
                raise FileExistsError(errno.EEXIST, "previous entry already kept", str(kept))
            os.replace(target, kept)
            kill_point("moved-previous")
        os.replace(source, target)
        kill_point("moved")
    _sync_folder(out)


def _lexists(path: Path) -> bool:
    """Whether anything, a dangling link included, is at `path` (never following a link)."""
    return os.path.lexists(path)


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


_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def _kind(mode: int) -> str:
    """What a file mode says is there, for a message."""
    return next((name for test, name in _KINDS if test(mode)), "a socket")


def _read_regular(path: Path, limit: int = -1) -> bytes | None:
    """Up to `limit` bytes (-1: all) of `path` if it is a regular file, else None. A folder, FIFO,
    device or link is never opened through (a FIFO would block the reader for ever); OSError when
    nothing is there or it cannot be read."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        return None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)  # it may have been replaced since the lstat
    except OSError:
        os.close(fd)
        raise
    if not regular:
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit)


class _DuplicateKey(ValueError):
    """A JSON object naming a key twice: which value counts is the parser's guess, never trusted."""


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _value in pairs]
    twice = next((key for key in keys if keys.count(key) > 1), None)
    if twice is not None:
        raise _DuplicateKey(twice)
    return dict(pairs)


def read_journal(staging: Path) -> tuple[tuple[str, ...] | None, str]:
    """The entries of a staging folder's journal, or None and why it cannot be trusted.

    A journal is trusted only whole: a regular file (never through a link) of at most
    JOURNAL_MAX_BYTES holding {"entries": [...]} (no key twice), a non-empty list of distinct
    places of the package (`is_package_place`)."""
    path = staging / JOURNAL
    try:
        mode = os.lstat(path).st_mode
        data = _read_regular(path, JOURNAL_MAX_BYTES + 1)
    except FileNotFoundError:
        return None, "it has no journal"
    except OSError as exc:  # unreadable, or replaced while we looked
        return None, f"its journal cannot be read ({exc.strerror})"
    if stat.S_ISLNK(mode):
        return None, "its journal cannot be read (it is a symbolic link)"
    if data is None:
        return None, f"its journal is {_kind(mode)}, not a regular file"
    if len(data) > JOURNAL_MAX_BYTES:
        return None, f"its journal is larger than {JOURNAL_MAX_BYTES} bytes"
    if not data.strip():
        return None, "its journal is empty"
    try:
        journal = json.loads(data.decode("utf-8"), object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        return None, f"its journal names the key {printable(str(exc))!r} twice"
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "its journal is not JSON (truncated?)"
    entries = journal.get("entries") if isinstance(journal, dict) else None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
        return None, 'its journal is not {"entries": [...]} with a list of paths'
    foreign = [e for e in entries if not is_package_place(e)]
    if foreign:
        return None, f"its journal names {printable(foreign[0])!r}, not a place of the package"
    if len(set(entries)) != len(entries):
        return None, "its journal names an entry twice"
    return tuple(entries), "its journal is complete"


def _wrong_kind(path: Path, entry: str) -> str | None:
    """Why `path` is not what a publish stages or keeps for `entry`, if it is not: the descriptor
    is a regular file, data/ and admitted/<name> are real folders (never links, FIFOs, devices)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    wanted = (stat.S_ISREG, "a regular file") if entry == DESCRIPTOR else (stat.S_ISDIR, "a folder")
    return None if wanted[0](mode) else f"is {_kind(mode)}, not {wanted[1]}"


def _obstacle_on_the_way(root: Path, entry: str) -> str | None:
    """What stands between `root` and `root/entry` where a folder belongs, if anything: a
    symbolic link (a move through it would land outside the package) or what is not a folder (a
    move into it fails). A missing folder is no obstacle: it is made when needed."""
    place = root
    for part in Path(entry).parts[:-1]:
        place = place / part
        try:
            mode = os.lstat(place).st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"{place} cannot be read ({exc.strerror})"
        if not stat.S_ISDIR(mode):
            return f"{place} is {_kind(mode)}, not a folder"
    return None


def _untrusted(staging: Path, entries: Sequence[str]) -> str | None:
    """Why a staging folder with a complete journal was still not left by a publish, if it was
    not: a staged entry of the wrong kind (a publish stages only folders and a regular
    descriptor), or a link on the way to a staged or kept entry."""
    for entry in entries:
        for root, rel in ((staging, entry), (staging, f"{PREVIOUS}/{entry}")):
            if (obstacle := _obstacle_on_the_way(root, rel)) is not None:
                return obstacle
        source = staging / entry
        if _lexists(source) and (wrong := _wrong_kind(source, entry)) is not None:
            return f"its staged {entry} {wrong}"
    return None


def _unfinishable(staging: Path, out: Path, entries: Sequence[str]) -> str | None:
    """Why the journal's moves cannot be finished, if they cannot: the package is not in a state
    the moves can leave (an entry neither staged nor in the package, a link or a file where a
    folder of the package belongs)."""
    for entry in entries:
        source, target, kept = staging / entry, out / entry, staging / PREVIOUS / entry
        if (obstacle := _obstacle_on_the_way(out, entry)) is not None:
            return obstacle
        if not _lexists(source) and not _lexists(target):
            return f"{entry} is neither staged nor in the package"
        if _lexists(source) and _lexists(target) and _lexists(kept):
            return f"{entry} is staged, kept and in the package at once"
    staged = [_lexists(staging / entry) for entry in entries]
    if staged != sorted(staged):  # the moves go in order: the moved entries come first
        return "its entries were not moved in order"
    return None


def _kept_entries(staging: Path, entries: Sequence[str] | None = None) -> list[str]:
    """What a killed publish had moved aside (in staging/previous/) and may be put back, in
    publishing order: of the journal's `entries` if given, else any place of the package; only
    entries of the right kind (`_wrong_kind`: a link is never restored)."""
    kept = staging / PREVIOUS
    if kept.is_symlink() or not kept.is_dir():
        return []
    if entries is None:
        admitted = kept / ADMITTED
        real = admitted.is_dir() and not admitted.is_symlink()
        names = sorted(p.name for p in admitted.iterdir()) if real else []
        entries = [f"{ADMITTED}/{name}" for name in names] + list(PACKAGE_ENTRIES)
    return [
        e
        for e in entries
        if is_package_place(e)
        and _lexists(kept / e)
        and _obstacle_on_the_way(kept, e) is None
        and _wrong_kind(kept / e, e) is None
    ]


def _put_back(staging: Path, out: Path, entry: str) -> None:
    target = out / entry
    target.parent.mkdir(exist_ok=True)
    os.replace(staging / PREVIOUS / entry, target)


def _roll_back(staging: Path, out: Path, entries: Sequence[str]) -> list[str]:
    """Undo a publish whose journal is trusted: put back what it had moved aside, discarding what it
    had moved in over it; returns the entries put back. Whatever the publish added where nothing
    was before (a newly admitted country) stays: it cannot be told from what was there."""
    restored = []
    for entry in _kept_entries(staging, entries):
        obstacle = _obstacle_on_the_way(out, entry)
        if obstacle is not None:  # what was kept is the package's own: never lost, the user decides
            raise UsageError(f"cannot put back the previous {entry}: {obstacle}: move it away")
        target = out / entry
        if _lexists(target):  # what the killed writer moved in: removed with its staging folder
            os.replace(target, Path(tempfile.mkdtemp(prefix="discarded-", dir=staging)) / "entry")
        _put_back(staging, out, entry)
        restored.append(entry)
    if restored:
        _sync_folder(out)
    return restored


def _fill_empty_places(staging: Path, out: Path) -> tuple[list[str], list[str]]:
    """Undo a staging folder whose journal is missing or untrusted. A journal is written before any
    move, so such a folder moved nothing: what it keeps is put back only where the package's own
    place is empty, never over what is there. Returns the entries put back and those left."""
    restored, left = [], []
    for entry in _kept_entries(staging):
        if _lexists(out / entry) or _obstacle_on_the_way(out, entry) is not None:
            left.append(entry)
        else:
            _put_back(staging, out, entry)
            restored.append(entry)
    if restored:
        _sync_folder(out)
    return restored, left


def _recover_trusted(staging: Path, out: Path, entries: Sequence[str]) -> str:
    """Finish the moves of a trusted journal, or, when the package no longer lets them finish, undo
    them; what was done, said."""
    unfinishable = _unfinishable(staging, out, entries)
    if unfinishable is None:
        _roll_forward(staging, out, entries)
        shutil.rmtree(staging)
        moved = ", ".join(entries)
        return f"finished the publish a killed writer began in {out} ({staging.name}: {moved} in place)"
    restored = _roll_back(staging, out, entries)
    shutil.rmtree(staging)
    why = f"its journal cannot be finished ({unfinishable})"
    if restored:
        return f"rolled back {staging.name} in {out}: {why}; put back the previous {', '.join(restored)}"
    return f"removed {staging.name} from {out}: {why}, and it had not touched the package"


def _recover_untrusted(staging: Path, out: Path, why: str) -> str:
    """Remove a staging folder no trusted journal vouches for, having filled the package's empty
    places from what it kept (`_fill_empty_places`); what was done, said."""
    restored, left = _fill_empty_places(staging, out)
    shutil.rmtree(staging)
    own = f" (the package's own {', '.join(left)} left as it was)" if left else ""
    if restored:
        put = f"put back the previous {', '.join(restored)} where it was missing"
        return f"rolled back {staging.name} in {out}: {why}; {put}{own}"
    if left:
        return f"removed {staging.name} from {out}: {why}, so it had moved nothing{own}"
    return f"removed {staging.name} from {out}: {why}, and it had not touched the package"


def _recover_one(staging: Path, out: Path) -> str:
    """Finish or undo one killed writer's staging folder, then remove it; what was done, said.
    Only a complete journal over staged entries of the right kind is trusted (`_untrusted`)."""
    entries, why = read_journal(staging)
    if entries is None:
        return _recover_untrusted(staging, out, why)
    untrusted = _untrusted(staging, entries)
    if untrusted is not None:
        return _recover_untrusted(staging, out, untrusted)
    return _recover_trusted(staging, out, entries)


def recover(out: Path, notify: Notify | None = None) -> list[Path]:
    """Finish or undo what killed writers left in `out`, saying one line for each. Call it holding
    the lock: then no other writer is alive, so every staging folder is a leftover, whatever its
    owner.pid says.

    A leftover whose journal is complete (the commit point passed), whose staged entries are of the
    right kind and whose moves can still be finished is rolled forward; one whose moves cannot be
    finished is rolled back: what it had moved aside is put back. One with no journal, or one
    that cannot be trusted (empty, truncated, malformed, a key twice, a staged entry of the wrong
    kind), moved nothing: what it kept fills only the package's empty places, never replaces what
    is there. Every leftover is then removed; nothing outside the package's own places is touched
    and no link is followed. Returns the folders dealt with."""
    say = notify or _say
    out = Path(out)
    handled = []
    for folder in staging_leftovers(out):
        if folder.is_symlink():  # never ours (ours are made by mkdtemp): remove the link only
            folder.unlink()
            say(f"removed {folder.name} from {out}: a symbolic link where a staging folder belongs")
            continue
        if not folder.is_dir():
            continue  # a file of that name is not ours: left alone
        say(printable(_recover_one(folder, out)))
        handled.append(folder)
    workers = remove_stale_staging(out, GX_STAGING_PREFIX)  # a killed build's GX worker
    for folder in workers:
        say(f"removed {folder.name} from {out}: the expectation worker's folder of a killed build")
    return handled + workers


def staging_leftovers(out: Path) -> list[Path]:
    """The writers' staging folders in `out` (killed ones', or a live writer's), sorted."""
    return sorted(Path(out).glob(f"{STAGING_PREFIX}*")) if Path(out).is_dir() else []


def has_leftovers(out: Path) -> bool:
    """Whether a writer's staging folder is in `out` (a killed one's, or a live writer's)."""
    return bool(staging_leftovers(out))


def has_descriptor(out: Path) -> bool:
    """Whether `out` has a datapackage.json that is a regular file (not a link, folder or FIFO)."""
    try:
        return stat.S_ISREG(os.lstat(Path(out) / DESCRIPTOR).st_mode)
    except OSError:
        return False


def recover_leftovers(out: Path, notify: Notify | None = None) -> list[Path]:
    """Recover `out` under its lock before judging what it holds: a build killed mid-swap leaves
    data/ without a descriptor (or the reverse) until its journal is rolled forward, so `build`
    and `admit` call this before they look for a package (and every reader, through
    `recover_before_reading`). Takes no lock (and writes nothing) when there is nothing to
    recover."""
    if not has_leftovers(out):
        return []
    with package_lock(out, notify):
        return recover(out, notify)


def writer_is_running(out: Path) -> bool:
    """Whether a live process holds the package's lock (tried without waiting, never created,
    never through a link: a writer that was killed holds nothing, the kernel released its lock)."""
    try:
        fd = os.open(Path(out) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)  # releases the lock if we took it


_CANNOT_WRITE = (errno.EACCES, errno.EPERM, errno.EROFS)


def recover_before_reading(out: Path, notify: Notify | None = None) -> None:
    """A reader's recovery, before it looks at the package: what a killed writer left is finished
    or undone under the lock, as `build` and `admit` do (`recover_leftovers`).

    The one write a reader makes, and only in the package folder it was told to read: finishing
    that package's own committed transaction is reading it as it stands, not writing elsewhere.
    A live writer still staging is not waited for (the package is untouched until its journal is
    written: it is read as it is); one that has written its journal is publishing, which takes
    moments: waited for under the lock. A package the reader may not write (read-only, another
    owner's) is read as it is when its descriptor is in place, after a warning; without it, exit
    2 saying which command recovers it."""
    say = notify or _say
    out = Path(out)
    leftovers = staging_leftovers(out)
    if not leftovers:
        return
    if writer_is_running(out) and not any(_lexists(folder / JOURNAL) for folder in leftovers):
        say(printable(f"note: a build into {out} is running; reading the package as it is until it is done"))
        return
    try:
        recover_leftovers(out, notify)
    except OSError as exc:
        if exc.errno not in _CANNOT_WRITE:
            raise
        why = f"{leftovers[0].name} is left by an interrupted publish and {out} cannot be written here"
        if not has_descriptor(out):
            raise UsageError(
                f"{why} ({exc.strerror}): run `ippmd build --out {out}` as a user who may write there; "
                "it finishes or rolls back the publish"
            ) from None
        say(printable(f"warning: {why} ({exc.strerror}); reading the package as it is"))


def is_package_folder(folder: Path) -> bool:
    """Whether `folder` holds a package this program built (its descriptor, a regular file, says
    so; a FIFO or device there is never opened, a link never followed)."""
    try:
        data = _read_regular(Path(folder) / DESCRIPTOR)
        descriptor = json.loads(data.decode("utf-8")) if data is not None else None
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(descriptor, dict) and descriptor.get("name") == "ippmd" and "build" in descriptor


def check_target(out: Path, force: bool = False) -> None:
    """Refuse (exit 2) to build into a folder of other files: a build replaces data/ whole.

    Allowed: a new or empty folder, or one holding an ippmd package. `force` allows a folder with
    other files too, but never one whose data/ or datapackage.json are not an ippmd package's.
    What killed writers left is recovered first (a build killed mid-swap leaves data/ without
    its descriptor until then)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder")
    recover_leftovers(out)
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

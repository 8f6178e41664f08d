"""Recovery never jams and never destroys: whatever state a killed writer's staging folder is in (no
journal; an empty, truncated or malformed one; a stale owner.pid; a build killed mid-swap; a
planted one), the next `build`, `admit` or reader (`check`...) rolls it back or forward, says so
in one line, and leaves a valid package. A leftover no trusted journal vouches for never replaces
what the package holds; a reader that may not write reads the package as it is, or says who
recovers it."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ippmd.admit import admit
from ippmd.build import build
from ippmd.core import publish as publish_module
from ippmd.core.errors import UsageError
from ippmd.core.io import DESCRIPTOR, OWNER_FILE, staging_folder
from ippmd.core.publish import (
    GX_STAGING_PREFIX,
    JOURNAL,
    KILL_ENV,
    PREVIOUS,
    STAGING_PREFIX,
    is_package_folder,
    new_staging,
    package_lock,
    recover_before_reading,
    recover_leftovers,
)
from ippmd.quality.validate import check_package
from ippmd.synth.generator import write_submission

IPPMD = Path(sys.executable).with_name("ippmd")
BUILD = ["--countries", "KHM", "--quiet", "--engine", "polars"]


def _hashes(folder: Path) -> dict[str, str]:
    files = [folder / DESCRIPTOR, *sorted(p for p in (folder / "data").rglob("*") if p.is_file())]
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _tree(folder: Path) -> dict[str, str]:
    """Everything under `folder`, hidden entries included, by kind and content: what a read-only
    command must leave as it found."""
    tree = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        kind = "file " + hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(mode) else str(mode)
        tree[path.relative_to(folder).as_posix()] = kind
    return tree


def _places(folder: Path) -> dict[str, str]:
    """`_tree` without the lock and the writers' leftovers: the package and the user's files."""
    return {name: kind for name, kind in _tree(folder).items() if not name.startswith(".ippmd")}


@pytest.fixture(scope="module")
def khm_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("khm") / "pkg"
    build(out, ["KHM"], expectations=False)
    return out


@pytest.fixture
def package(khm_package: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(khm_package, tmp_path / "pkg"))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _plant(package: Path, journal: bytes | None, moved: bool, owner: int | None = None) -> Path:
    """A killed build's staging folder: the package staged again (its persons.csv damaged, so the
    staged data is not the package's); `moved`: the swap had begun, as a kill at "moved:1" leaves
    it (the old data/ kept in previous/, the staged data/ moved in over it)."""
    staging = new_staging(package)
    shutil.copytree(package / "data", staging / "data")
    shutil.copy(package / DESCRIPTOR, staging / DESCRIPTOR)
    with (staging / "data" / "persons.csv").open("a", encoding="utf-8") as persons:
        persons.write("not,a,row\n")
    if moved:
        (staging / PREVIOUS).mkdir()
        os.replace(package / "data", staging / PREVIOUS / "data")
        os.replace(staging / "data", package / "data")
    if journal is not None:
        (staging / JOURNAL).write_bytes(journal)
    if owner is not None:
        (staging / OWNER_FILE).write_text(str(owner), encoding="utf-8")
    return staging


def _entries(*names: str) -> bytes:
    return json.dumps({"entries": list(names)}).encode()


# (journal, swap begun, what the next writer says it did, why). A journal is written before any
# move, so a leftover without a trusted one moved nothing: what the package holds stays ("removed"),
# even where the planted swap put a staged data/ in (the rebuild then replaces it, as any build).
STATES = {
    "no journal": (None, False, "removed", "it has no journal"),
    "no journal, swap begun": (None, True, "removed", "it has no journal"),
    "empty journal": (b"", True, "removed", "its journal is empty"),
    "blank journal": (b" \n", False, "removed", "its journal is empty"),
    "truncated journal": (b'{"entries": ["data", "datap', True, "removed", "not JSON"),
    "journal nested too deep": (b"[" * 50_000, True, "removed", "not JSON"),
    "journal too large": (b" " * 70_000 + _entries("data", DESCRIPTOR), True, "removed", "larger than"),
    "journal not UTF-8": (b'{"entries": ["\xff"]}', True, "removed", "not JSON"),
    "journal a list": (b'["data", "datapackage.json"]', True, "removed", 'not {"entries"'),
    "journal a number": (b"42", True, "removed", 'not {"entries"'),
    "journal without entries": (b'{"moves": ["data"]}', True, "removed", 'not {"entries"'),
    "journal of no entries": (b'{"entries": []}', True, "removed", 'not {"entries"'),
    "journal entries not paths": (b'{"entries": [1, null]}', True, "removed", 'not {"entries"'),
    "journal entry with ..": (_entries("data/../../victim", DESCRIPTOR), True, "removed", "not a place"),
    "journal entry absolute": (_entries("/tmp/victim", DESCRIPTOR), True, "removed", "not a place"),
    "journal entry twice": (_entries("data", "data", DESCRIPTOR), True, "removed", "twice"),
    "journal naming a key twice": (
        b'{"entries": ["datapackage.json"], "entries": ["data", "datapackage.json"]}',
        True,
        "removed",
        "names the key 'entries' twice",
    ),
    "journal naming a missing file": (
        _entries("data", "admitted/KHM", DESCRIPTOR),
        True,
        "rolled back",
        "cannot be finished (admitted/KHM is neither staged nor in the package)",
    ),
    "journal moves out of order": (_entries(DESCRIPTOR, "data"), True, "rolled back", "not moved in order"),
    "complete journal": (_entries("data", DESCRIPTOR), True, "finished", "data, datapackage.json in place"),
}


@pytest.mark.parametrize("state", STATES)
def test_the_next_build_recovers_any_leftover_and_says_so(
    state: str, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal, moved, done, why = STATES[state]
    before = _hashes(package)
    victim = tmp_path / "victim"
    victim.write_text("precious", encoding="utf-8")
    staging = _plant(package, journal, moved)
    if moved:  # the jam: the package's data is the staged one, which is not the descriptor's
        assert _hashes(package) != before
    build(package, ["KHM"], expectations=False)
    said = [line for line in capsys.readouterr().err.splitlines() if staging.name in line]
    assert len(said) == 1 and said[0].startswith(f"ippmd: {done}") and why in said[0], said
    assert not list(package.glob(".ippmd-*build*")) and not staging.exists()
    assert check_package(package, engine="polars").valid
    assert _hashes(package) == before  # the same seed rebuilt: byte for byte the package it was
    assert victim.read_text(encoding="utf-8") == "precious"


@pytest.mark.parametrize(
    "state", ["truncated journal", "journal a list", "journal naming a missing file", "complete journal"]
)
def test_recovery_alone_leaves_the_old_package_or_the_new(
    state: str, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rolled back (a trusted journal whose moves cannot be finished): the package as it was before
    the killed build; rolled forward: the staged one; an untrusted journal: what the package
    holds, untouched."""
    journal, moved, done, _why = STATES[state]
    before = _hashes(package)
    staging = _plant(package, journal, moved)
    held = _hashes(package)
    staged = (package / "data" / "persons.csv").read_bytes()
    assert recover_leftovers(package) == [staging]
    assert f"ippmd: {done}" in capsys.readouterr().err
    if done == "rolled back":
        assert _hashes(package) == before
    elif done == "removed":
        assert _hashes(package) == held
    else:
        assert (package / "data" / "persons.csv").read_bytes() == staged
    assert recover_leftovers(package) == []  # nothing left: no lock taken, nothing said
    assert capsys.readouterr().err == ""


def test_stale_owners_are_leftovers_under_the_lock(
    package: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """owner.pid naming a dead process, garbage, or a live one (a reused pid): under the lock every
    staging folder is a leftover; the expectation worker's folder of a dead build goes too."""
    before = _hashes(package)
    dead = _dead_pid()
    plants = [
        _plant(package, None, False, owner=dead),
        _plant(package, b"", False, owner=os.getpid()),  # a live process: this one
    ]
    (plants[1] / OWNER_FILE).write_text("not a pid", encoding="utf-8")
    worker = staging_folder(package, GX_STAGING_PREFIX)
    (worker / OWNER_FILE).write_text(str(dead), encoding="utf-8")
    build(package, ["KHM"], expectations=False)
    said = capsys.readouterr().err
    for folder in (*plants, worker):
        assert sum(folder.name in line for line in said.splitlines()) == 1, said
        assert not folder.exists()
    assert check_package(package, engine="polars").valid and _hashes(package) == before


def test_links_in_a_leftover_are_never_followed(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journal that is a link (to a valid journal outside), a kept entry that is a link: neither
    is followed; the leftover is removed, the package's own data left, and what the links point
    to is untouched."""
    before = _hashes(package)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "journal.json").write_bytes(_entries("data", DESCRIPTOR))
    (outside / "keep.txt").write_text("precious", encoding="utf-8")
    staging = _plant(package, None, True)
    (staging / JOURNAL).symlink_to(outside / "journal.json")
    (staging / PREVIOUS / DESCRIPTOR).symlink_to(outside / "keep.txt")
    build(package, ["KHM"], expectations=False)
    said = capsys.readouterr().err
    assert "ippmd: removed" in said and "journal cannot be read" in said and "own data left" in said
    assert sorted(p.name for p in outside.iterdir()) == ["journal.json", "keep.txt"]
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "precious"
    assert check_package(package, engine="polars").valid and _hashes(package) == before


Planter = Callable[[Path, Path], None]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _plant_staged(journal: bytes, entry: str, make: Callable[[Path], object]) -> Planter:
    """A leftover whose journal names `entry`, staged by `make` (a file, folder or FIFO)."""

    def plant(staging: Path, package: Path) -> None:
        make(staging / entry)
        (staging / JOURNAL).write_bytes(journal)

    return plant


def _kept_data_only(staging: Path, package: Path) -> None:
    (staging / PREVIOUS / "data").mkdir(parents=True)  # an empty folder "kept", no journal


def _journal_a_folder(staging: Path, package: Path) -> None:
    (staging / JOURNAL).mkdir()
    _kept_data_only(staging, package)


def _journal_a_fifo(staging: Path, package: Path) -> None:
    os.mkfifo(staging / JOURNAL)  # opened for reading, it would block for ever


def _admitted_a_file(staging: Path, package: Path) -> None:
    (package / "admitted").write_text("mine\n", encoding="utf-8")  # the user's file
    (staging / "admitted" / "KHM").mkdir(parents=True)
    (staging / JOURNAL).write_bytes(_entries("admitted/KHM"))


def _kept_link_for_a_missing_descriptor(staging: Path, package: Path) -> None:
    (staging / PREVIOUS).mkdir()
    (package / DESCRIPTOR).rename(staging.parent.parent / "moved-away.json")
    (staging / PREVIOUS / DESCRIPTOR).symlink_to(staging.parent.parent / "moved-away.json")


# A hostile tester's leftovers: (how it is planted, why the next writer says it cannot trust it).
# None vouches for a move, so what the package holds must stay, byte for byte.
HOSTILE: dict[str, tuple[Planter, str]] = {
    "staged data a file": (
        _plant_staged(_entries("data"), "data", lambda p: p.write_text("junk\n")),
        "its staged data is a regular file, not a folder",
    ),
    "kept data, no journal": (_kept_data_only, "it has no journal, so it had moved nothing"),
    "journal naming a key twice": (
        _plant_staged(b'{"entries": ["datapackage.json"], "entries": ["data"]}', "data", Path.mkdir),
        "its journal names the key 'entries' twice",
    ),
    "staged descriptor a folder": (
        _plant_staged(_entries(DESCRIPTOR), DESCRIPTOR, Path.mkdir),
        "its staged datapackage.json is a folder, not a regular file",
    ),
    "staged descriptor a FIFO": (
        _plant_staged(_entries(DESCRIPTOR), DESCRIPTOR, _fifo),
        "its staged datapackage.json is a FIFO, not a regular file",
    ),
    "journal a folder": (_journal_a_folder, "its journal is a folder, not a regular file"),
    "journal a FIFO": (_journal_a_fifo, "its journal is a FIFO, not a regular file"),
    "admitted a file of the user's": (_admitted_a_file, "admitted is a regular file, not a folder"),
    "kept descriptor a link, none in the package": (_kept_link_for_a_missing_descriptor, "it has no journal"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_an_untrusted_leftover_never_replaces_what_the_package_holds(case: str, package: Path) -> None:
    """The hostile tester's leftovers each destroyed a good package (data/ replaced by a 5-byte
    file or an empty folder, a FIFO or folder moved in as the descriptor) or jammed every writer
    ("Is a directory", "File exists"): now each is removed in one line, the package untouched."""
    plant, why = HOSTILE[case]
    staging = new_staging(package)
    plant(staging, package)
    held = _places(package)
    outside = {p.name: p.read_bytes() for p in package.parent.glob("*.json")}
    told: list[str] = []
    assert recover_leftovers(package, told.append) == [staging]
    assert len(told) == 1 and told[0].startswith(f"removed {staging.name}") and why in told[0], told
    assert _places(package) == held and not staging.exists()
    assert {p.name: p.read_bytes() for p in package.parent.glob("*.json")} == outside


def test_an_untrusted_leftover_fills_only_an_empty_place(package: Path) -> None:
    """Its kept data/ goes back where the package has none; a kept entry of the wrong kind never."""
    before = _hashes(package)
    staging = new_staging(package)
    (staging / PREVIOUS).mkdir()
    os.replace(package / "data", staging / PREVIOUS / "data")
    os.mkfifo(staging / PREVIOUS / DESCRIPTOR)  # the package has its own: left as it is anyway
    told: list[str] = []
    assert recover_leftovers(package, told.append) == [staging]
    assert len(told) == 1 and "put back the previous data where it was missing" in told[0], told
    assert _hashes(package) == before and not staging.exists()


@pytest.mark.slow  # runs `ippmd check` (expectations) two or three times
def test_check_recovers_first_and_says_so(package: Path) -> None:
    """A reader recovers before it looks, as the writers do: `check` removes an untrusted leftover
    in one line (the package untouched, then checked valid); a second `check` finds nothing to
    say. Without a descriptor (a folder in its place, the package's own) the leftover is still
    dealt with, the package's places are left as they are, and the check exits 2, not built."""
    before = _hashes(package)
    staging = new_staging(package)
    HOSTILE["staged data a file"][0](staging, package)
    command = [str(IPPMD), "check", "--package", str(package)]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    said = [line for line in checked.stderr.splitlines() if staging.name in line]
    assert len(said) == 1 and "its staged data is a regular file" in said[0], checked.stderr
    assert not staging.exists() and _hashes(package) == before
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "ippmd:" not in again.stderr, again.stderr
    staging = new_staging(package)
    HOSTILE["staged data a file"][0](staging, package)
    (package / DESCRIPTOR).rename(package / "aside.json")
    (package / DESCRIPTOR).mkdir()  # not a regular file: no descriptor either
    held = _places(package)
    refused = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert [line for line in refused.stderr.splitlines() if staging.name in line], refused.stderr
    assert "error:" in refused.stderr and not staging.exists() and _places(package) == held


@pytest.mark.slow  # runs `ippmd check` (expectations) two or three times
def test_a_reader_never_waits_for_a_build_that_is_still_staging(package: Path) -> None:
    """A live writer holding the lock that has not written its journal has not touched the
    package: a reader reads it as it is after one note, leaving the writer's folder alone."""
    before = _hashes(package)
    staging = new_staging(package)
    with package_lock(package):  # this process is the live writer: the `check` child must not wait
        checked = subprocess.run(
            [str(IPPMD), "check", "--package", str(package)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "IPPMD_LOCK_WAIT": "1"},
        )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "a build into" in checked.stderr and "is running" in checked.stderr, checked.stderr
    assert staging.is_dir() and _hashes(package) == before


@pytest.mark.parametrize("descriptor_kept", [True, False])
def test_a_reader_that_may_not_write_reads_as_it_is_or_says_who_recovers(
    package: Path, descriptor_kept: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package the reader cannot write (read-only medium; the tests run as root, so the refusal
    of the lock is simulated): with its descriptor, read as it is after a warning; without,
    exit 2 naming the leftover and the command that recovers it. Nothing is changed."""
    staging = _plant(package, _entries("data", DESCRIPTOR), moved=True)
    if not descriptor_kept:
        os.replace(package / DESCRIPTOR, staging / PREVIOUS / DESCRIPTOR)
    held = _tree(package)

    def read_only(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(publish_module, "package_lock", read_only)
    told: list[str] = []
    if descriptor_kept:
        recover_before_reading(package, told.append)
        assert len(told) == 1 and told[0].startswith("warning:") and staging.name in told[0], told
    else:
        with pytest.raises(UsageError, match=f"{staging.name}.*ippmd build --out"):
            recover_before_reading(package, told.append)
    assert _tree(package) == held


def test_a_descriptor_that_is_a_fifo_never_hangs_a_writer(package: Path) -> None:
    """`build` and `admit` read the descriptor to see whether the folder holds a package: a FIFO
    there is never opened (reading one blocks until a writer comes), so they refuse at once."""
    (package / DESCRIPTOR).unlink()
    os.mkfifo(package / DESCRIPTOR)
    for command in (["build", "--out", str(package), *BUILD], ["admit", str(package), "--out", str(package)]):
        done = subprocess.run([str(IPPMD), *command], capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "not an ippmd package" in done.stderr or "holds no ippmd package" in done.stderr, done.stderr
    assert stat.S_ISFIFO((package / DESCRIPTOR).lstat().st_mode)


KILLED_BUILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ippmd.build import build

    build(Path(sys.argv[1]), ["KHM"], expectations=False)
    """
)


def _kill_build_mid_swap(package: Path) -> None:
    """A build killed after it moved the old descriptor aside, before it moved the new one in:
    data/ without datapackage.json, which build, admit and check refused before recovering."""
    env = {**os.environ, KILL_ENV: "moved-previous:2"}
    killed = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(package)], env=env, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert (package / "data").is_dir() and not (package / DESCRIPTOR).exists()
    assert not is_package_folder(package)


@pytest.mark.slow
def test_check_and_admit_roll_forward_a_build_killed_mid_swap(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _hashes(package)
    _kill_build_mid_swap(package)
    (leftover,) = package.glob(f"{STAGING_PREFIX}*")
    checked = subprocess.run([str(IPPMD), "check", "--package", str(package)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the reader recovered first
    said = [line for line in checked.stderr.splitlines() if leftover.name in line]
    assert len(said) == 1 and said[0].startswith("ippmd: finished the publish"), checked.stderr
    assert not leftover.exists() and _hashes(package) == before
    assert check_package(package, engine="polars").valid
    _kill_build_mid_swap(package)
    submission = write_submission("KHM", tmp_path / "sub", seed=5)
    report = admit(submission, package, engine="polars")
    assert report.valid, [str(p) for p in report.problems]
    assert "ippmd: finished the publish" in capsys.readouterr().err
    assert not list(package.glob(f"{STAGING_PREFIX}*"))
    assert (package / "admitted" / "KHM").is_dir() and check_package(package, engine="polars").valid


@pytest.mark.slow
def test_the_cli_build_recovers_a_killed_build_whose_journal_is_truncated(package: Path) -> None:
    """The CLI's own target check used to refuse the half-swapped folder ("has a data that is not
    an ippmd package's"); with the journal also truncated, nothing vouches for the moves: the
    kept descriptor fills its empty place, the data/ there stays, and the build goes on."""
    before = _hashes(package)
    killed = subprocess.run(
        [str(IPPMD), "build", "--out", str(package), *BUILD],
        env={**os.environ, KILL_ENV: "moved-previous:2"},
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL and not (package / DESCRIPTOR).exists()
    (leftover,) = package.glob(f"{STAGING_PREFIX}*")
    journal = leftover / JOURNAL
    journal.write_bytes(journal.read_bytes()[:-5])
    done = subprocess.run(
        [str(IPPMD), "build", "--out", str(package), *BUILD], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    said = [line for line in done.stderr.splitlines() if leftover.name in line]
    assert len(said) == 1 and "rolled back" in said[0] and "not JSON" in said[0], done.stderr
    assert "previous datapackage.json where it was missing" in said[0]  # its data/ (the killed build's) stays
    assert "own data left as it was" in said[0]
    assert not list(package.glob(".ippmd-*")), list(package.iterdir())
    assert _hashes(package) == before and check_package(package, engine="polars").valid


def _jam(package: Path) -> Path:
    """A build killed at "moved-previous:2", planted: data/ swapped in, the descriptor moved aside,
    the new one still staged (the package staged again, so rolling forward gives it back)."""
    staging = new_staging(package)
    shutil.copytree(package / "data", staging / "data")
    shutil.copy(package / DESCRIPTOR, staging / DESCRIPTOR)
    (staging / PREVIOUS).mkdir()
    os.replace(package / "data", staging / PREVIOUS / "data")
    os.replace(staging / "data", package / "data")
    os.replace(package / DESCRIPTOR, staging / PREVIOUS / DESCRIPTOR)
    (staging / JOURNAL).write_bytes(_entries("data", DESCRIPTOR))
    return staging


def _reader_commands(package: Path, tmp_path: Path) -> dict[str, tuple[list[str], int]]:
    """Every command that reads a package, with the exit code it ends with once recovered (the
    benchmark of a country the package lacks: refused, after recovering)."""
    folder = str(package)
    return {
        "tabulate": (["tabulate", "age", "--table", "persons", "--package", folder, "--format", "csv"], 0),
        "check": (["check", "--package", folder], 0),
        "extract": (["extract", "--package", folder, "--list"], 0),
        "codebook": (["codebook", "--package", folder, "--out", str(tmp_path / "codebook.md")], 0),
        "site": (["site", "--package", folder, "--out", str(tmp_path / "site")], 0),
        "diff": (["diff", folder, folder], 0),
        "benchmark": (["benchmark", "--focus", "ABW", "--package", folder], 2),
    }


@pytest.mark.parametrize(
    "reader",
    ["tabulate", *(pytest.param(r, marks=pytest.mark.slow) for r in ("check", "extract", "codebook", "site",
                                                                     "diff", "benchmark"))],
)  # fmt: skip
def test_every_reader_rolls_forward_a_build_killed_mid_swap(
    reader: str, package: Path, tmp_path: Path
) -> None:
    """Each reader, given the package a build jammed (no descriptor), finishes the publish in one
    line before it reads: it had said "no datapackage.json" or "not built"."""
    before = _hashes(package)
    staging = _jam(package)
    assert not (package / DESCRIPTOR).exists()
    args, code = _reader_commands(package, tmp_path)[reader]
    done = subprocess.run([str(IPPMD), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == code, done.stdout + done.stderr
    said = [line for line in done.stderr.splitlines() if staging.name in line]
    assert len(said) == 1 and said[0].startswith("ippmd: finished the publish"), done.stderr
    assert not staging.exists() and _hashes(package) == before

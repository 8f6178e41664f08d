"""Recovery never jams: whatever state a killed writer's staging folder is in (no journal; an empty,
truncated or malformed one; a stale owner.pid; a build killed mid-swap), the next `build` or
`admit` rolls it back or forward, says so in one line, and leaves a valid package."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ippmd.admit import admit
from ippmd.build import build
from ippmd.core.io import DESCRIPTOR, OWNER_FILE, staging_folder
from ippmd.core.publish import (
    GX_STAGING_PREFIX,
    JOURNAL,
    KILL_ENV,
    PREVIOUS,
    STAGING_PREFIX,
    is_package_folder,
    new_staging,
    recover_leftovers,
)
from ippmd.quality.validate import check_package
from ippmd.synth.generator import write_submission

IPPMD = Path(sys.executable).with_name("ippmd")
BUILD = ["--countries", "KHM", "--quiet", "--engine", "polars"]


def _hashes(folder: Path) -> dict[str, str]:
    files = [folder / DESCRIPTOR, *sorted(p for p in (folder / "data").rglob("*") if p.is_file())]
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


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


# (journal, swap begun, what the next writer says it did, why)
STATES = {
    "no journal": (None, False, "removed", "it has no journal"),
    "no journal, swap begun": (None, True, "rolled back", "it has no journal"),
    "empty journal": (b"", True, "rolled back", "its journal is empty"),
    "blank journal": (b" \n", False, "removed", "its journal is empty"),
    "truncated journal": (b'{"entries": ["data", "datap', True, "rolled back", "not JSON"),
    "journal nested too deep": (b"[" * 50_000, True, "rolled back", "not JSON"),
    "journal too large": (b" " * 70_000 + _entries("data", DESCRIPTOR), True, "rolled back", "larger than"),
    "journal not UTF-8": (b'{"entries": ["\xff"]}', True, "rolled back", "not JSON"),
    "journal a list": (b'["data", "datapackage.json"]', True, "rolled back", 'not {"entries"'),
    "journal a number": (b"42", True, "rolled back", 'not {"entries"'),
    "journal without entries": (b'{"moves": ["data"]}', True, "rolled back", 'not {"entries"'),
    "journal of no entries": (b'{"entries": []}', True, "rolled back", 'not {"entries"'),
    "journal entries not paths": (b'{"entries": [1, null]}', True, "rolled back", 'not {"entries"'),
    "journal entry with ..": (_entries("data/../../victim", DESCRIPTOR), True, "rolled back", "not a place"),
    "journal entry absolute": (_entries("/tmp/victim", DESCRIPTOR), True, "rolled back", "not a place"),
    "journal entry twice": (_entries("data", "data", DESCRIPTOR), True, "rolled back", "twice"),
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


@pytest.mark.parametrize("state", ["truncated journal", "journal a list", "complete journal"])
def test_recovery_alone_leaves_the_old_package_or_the_new(
    state: str, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rolled back: the package as it was before the killed build; rolled forward: the staged one."""
    journal, moved, done, _why = STATES[state]
    before = _hashes(package)
    staging = _plant(package, journal, moved)
    staged = (package / "data" / "persons.csv").read_bytes()
    assert recover_leftovers(package) == [staging]
    assert f"ippmd: {done}" in capsys.readouterr().err
    if done == "rolled back":
        assert _hashes(package) == before
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
    is followed; the leftover is rolled back and what the links point to is untouched."""
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
    assert "ippmd: rolled back" in said and "journal cannot be read" in said and "previous data" in said
    assert sorted(p.name for p in outside.iterdir()) == ["journal.json", "keep.txt"]
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "precious"
    assert check_package(package, engine="polars").valid and _hashes(package) == before


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
def test_check_and_admit_roll_a_build_killed_mid_swap_forward_first(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _hashes(package)
    _kill_build_mid_swap(package)
    assert len(recover_leftovers(package)) == 1  # what `check` runs before it looks
    assert "ippmd: finished the publish" in capsys.readouterr().err
    assert _hashes(package) == before and check_package(package, engine="polars").valid
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
    an ippmd package's"); with the journal also truncated, the only safe way is back."""
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
    assert "previous data, datapackage.json" in said[0]
    assert not list(package.glob(".ippmd-*")), list(package.iterdir())
    assert _hashes(package) == before and check_package(package, engine="polars").valid
